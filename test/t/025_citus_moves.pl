# Shard groups moved back and forth under load (issue #23; src/moves.c, A
# WRITE ON A COPY A MOVE LEFT BEHIND): a coordinator and three workers
# serve 16 clients (find-or-create in every form and the lifecycle, test/
# clients/citus.py, on a pool of 5,000 reference ids, so that creates go
# on all along) from the coordinator and two workers, while the third
# worker is drained and filled again MOVE_ROUNDS times (4).  Then the
# audit of every row and the results of every committed call: every
# reference id a caller was given an account for is on that account,
# followed along its merges.
#
# Before the old copy refused writes, about one run in four lost the
# identifiers of an account created just as a move switched its group.
# A load run: it runs with --full (ACCOUNT_FULL=1), about 4 minutes;
# test/t/018_citus_2pc.pl and 019_citus_grow.pl cover the moves in CI.
use strict;
use warnings;

use File::Basename;
use lib dirname(__FILE__);
use CitusTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

CitusTest::skip_unless_citus();
if (!$ENV{ACCOUNT_FULL})
{
	plan skip_all => 'a load run of repeated shard moves: ./scripts/test.sh --full runs it (ACCOUNT_FULL=1)';
}

my @nodes = map { CitusTest::start_node($_, "wal_level = logical\nmax_replication_slots = 20\nmax_wal_senders = 20\n") }
	('coordinator', 'worker1', 'worker2', 'worker3');
CitusTest::use_nodes(@nodes);
my ($coord, $w1, $w2, $w3) = @nodes;
$_->safe_psql('postgres', 'CREATE EXTENSION citus') for @nodes;
$coord->safe_psql('postgres', "SELECT citus_set_coordinator_host('" . $coord->host . "', " . $coord->port . ")");
$coord->safe_psql('postgres', "SELECT citus_add_node('" . $_->host . "', " . $_->port . ")") for ($w1, $w2, $w3);
$coord->safe_psql('postgres', q{
	CREATE EXTENSION account;
	SELECT accounts.distribute(8);
	SELECT accounts.create_identifier_type('user', 'email', 'email');
});

my $client = dirname(__FILE__) . '/../clients/citus.py';
my $conninfos = join ';', map { 'host=' . $_->host . ' port=' . $_->port . ' dbname=postgres' } ($coord, $w1, $w2);
my ($stdout, $stderr);
my $stop = "$PostgreSQL::Test::Utils::tmp_check/clients_stop";
my $outfile = "$PostgreSQL::Test::Utils::tmp_check/moves.txt";
my $h = IPC::Run::start([ 'python3', $client ], '>', \$stdout, '2>', \$stderr,
	init => sub { $ENV{CITUS_CONNINFOS} = $conninfos; $ENV{CITUS_OUT} = $outfile; $ENV{CITUS_PREFIX} = 'mv';
				  $ENV{CITUS_SECONDS} = 900; $ENV{CITUS_STOP_FILE} = $stop; $ENV{CITUS_CLIENTS} = CitusTest::clients();
				  $ENV{CITUS_LIFECYCLE} = 1; $ENV{CITUS_POOL} = 5000; $ENV{CITUS_RESTART_OK} = 1; $ENV{CITUS_MOVES} = 1; });
sleep 2;
my $rounds = $ENV{MOVE_ROUNDS} // 4;
for my $r (1 .. $rounds)
{
	$coord->safe_psql('postgres', "SELECT citus_set_node_property('" . $w3->host . "', " . $w3->port . ", 'shouldhaveshards', false)");
	$coord->safe_psql('postgres', q{SELECT citus_rebalance_start(drain_only := true)});
	$coord->safe_psql('postgres', q{SELECT citus_rebalance_wait()});
	$coord->safe_psql('postgres', "SELECT citus_set_node_property('" . $w3->host . "', " . $w3->port . ", 'shouldhaveshards', true)");
	$coord->safe_psql('postgres', q{SELECT citus_rebalance_start()});
	$coord->safe_psql('postgres', q{SELECT citus_rebalance_wait()});
	CitusTest::shards_moved();
	diag("round $r of $rounds: worker3 drained and filled again at " . localtime());
}
open my $fh, '>', $stop or die;
close $fh;
ok($h->finish, "clients while the shard groups moved $rounds times each way: no error but those a move explains (40001 for a moved shard)");
diag($stdout);
diag($stderr) if $stderr;
CitusTest::no_prepared('moves run');
check_lifecycle_results('moves run', $outfile);
CitusTest::amcheck('after the moves');

$_->stop for @nodes;
done_testing();
