# A Citus cluster that grows and shrinks under load (issue #23): a
# coordinator and two workers serve 16 clients (8 in the short mode;
# find-or-create, the lifecycle, identifier types that come and go, a
# journal consumer per node) while
#
#   1. a third worker joins (citus_add_node()): before accounts.sync_nodes()
#      it refuses clearly (no XX000, nothing written), after it it serves
#      like the others, for the owner and for a role given access with
#      accounts.grant_access(), and its clients and consumer join the run;
#   2. the shards are rebalanced onto it online (citus_rebalance_start(),
#      logical replication);
# then
#   3. the audit of every row, the results of every committed call, the
#      consumers against the journals, amcheck on the four nodes;
#   4. set_journal() and reading the accounts from the new worker;
#   5. the worker is drained (citus_rebalance_start(drain_only)) and removed, under load
#      again: every account is still there, found from every node.
#
# Skipped when Citus is not installed.  The clients run until the steps
# are done, then CITUS_SECONDS more (3 s; 30 s with ACCOUNT_FULL=1).
use strict;
use warnings;

use File::Basename;
use lib dirname(__FILE__);
use CitusTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

CitusTest::skip_unless_citus();

# shard moves copy online with logical replication
my @nodes = map { CitusTest::start_node($_, "wal_level = logical\nmax_replication_slots = 20\nmax_wal_senders = 20\n") }
	('coordinator', 'worker1', 'worker2', 'worker3');
CitusTest::use_nodes(@nodes);
my ($coord, $w1, $w2, $w3) = @nodes;
# the clients run until the steps under load are done, and at least this
# long after they are
my $seconds = $ENV{CITUS_SECONDS} // ($ENV{ACCOUNT_FULL} ? 30 : 3);
# enough clients that the shard moves overlap calls on every node
my $clients = CitusTest::clients();

$_->safe_psql('postgres', 'CREATE EXTENSION citus') for @nodes;
$coord->safe_psql('postgres', "SELECT citus_set_coordinator_host('" . $coord->host . "', " . $coord->port . ")");
$coord->safe_psql('postgres', "SELECT citus_add_node('" . $_->host . "', " . $_->port . ")") for ($w1, $w2);
$coord->safe_psql('postgres', q{
	CREATE EXTENSION account;
	SELECT accounts.distribute(8);
	SELECT accounts.create_identifier_type('user', 'email', 'email');
	CREATE ROLE app LOGIN;
	SELECT accounts.grant_access('app', 'application');
});
my $before = $w1->safe_psql('postgres', q{SELECT account_id FROM accounts.find_or_create_account('user', 'reference_id', 'before_growth')});

sub sqlstate { my ($err) = @_; return $err =~ /ERROR:  ([0-9A-Z]{5}):/ ? $1 : ''; }
sub count_all { my ($node) = @_; return $node->safe_psql('postgres', 'SELECT count(*) FROM accounts.dist_accounts'); }

# the clients: $clients over the nodes (the last joins during the run), the
# lifecycle and the registry mixed in, one journal consumer per node
my $client = dirname(__FILE__) . '/../clients/citus.py';
my $conninfos = join ';', map { 'host=' . $_->host . ' port=' . $_->port . ' dbname=postgres' } @nodes;
my $late = "$PostgreSQL::Test::Utils::tmp_check/worker3_joined";
my ($stdout, $stderr);
my $stop = "$PostgreSQL::Test::Utils::tmp_check/clients_stop";
# the steps under load are done: the clients go on for $seconds, then stop
sub stop_run
{
	my ($h) = @_;
	sleep $seconds;
	open my $fh, '>', $stop or die;
	close $fh;
	my $ok = $h->finish;
	unlink $stop;
	diag($stdout);
	diag($stderr) if $stderr;
	return $ok;
}
sub start_run
{
	my ($prefix, $outfile) = @_;
	return IPC::Run::start([ 'python3', $client ], '>', \$stdout, '2>', \$stderr,
		init => sub { $ENV{CITUS_CONNINFOS} = $conninfos; $ENV{CITUS_OUT} = $outfile; $ENV{CITUS_PREFIX} = $prefix;
					  $ENV{CITUS_SECONDS} = 600; $ENV{CITUS_STOP_FILE} = $stop; $ENV{CITUS_CLIENTS} = $clients; $ENV{CITUS_LIFECYCLE} = 1; $ENV{CITUS_POOL} = 200;
					  $ENV{CITUS_REGISTRY} = 1; $ENV{CITUS_LATE_FILE} = $late; $ENV{CITUS_EVENTS_OUT} = "$outfile.events";
					  $ENV{CITUS_RESTART_OK} = 1; $ENV{CITUS_MOVES} = 1; });
}

# 1. a worker joins during the run
my $outfile = "$PostgreSQL::Test::Utils::tmp_check/citus_grow.txt";
my $h = start_run('grow', $outfile);
sleep 2;
diag('adding worker3 at ' . localtime());
$coord->safe_psql('postgres', "SELECT citus_add_node('" . $w3->host . "', " . $w3->port . ")");
diag('added at ' . localtime());
is($coord->safe_psql('postgres', 'SELECT count(*) FROM citus_get_active_worker_nodes()'), '3', 'worker3 joined the cluster');
is($w3->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'account'}),
	$coord->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'account'}), 'Citus made the extension on it');
my ($ret, $out, $err) = $w3->psql('postgres', "\\set VERBOSITY verbose\nSELECT * FROM accounts.find_or_create_account('user', 'reference_id', 'on_w3_early')");
if ($ret == 0)
{
	pass('before sync_nodes(), worker3 already serves (Citus copied the reference tables)');
}
else
{
	is(sqlstate($err), '55000', 'before sync_nodes(), a call on worker3 is refused with 55000, not an internal error') or diag($err);
	like($err, qr/HINT:  On the coordinator, run SELECT accounts.sync_nodes\(\) after citus_add_node\(\)/, 'and the hint says what to do');
	is($coord->safe_psql('postgres', q{SELECT count(*) FROM accounts.dist_identifiers WHERE value = 'on_w3_early'}), '0', 'and it wrote nothing');
}
($ret, $out, $err) = $w3->psql('postgres', "\\set VERBOSITY verbose\nSET ROLE app;\nSELECT account_id FROM accounts.find_or_create_account('user', 'reference_id', 'app_on_w3')");
is(sqlstate($err), '42501', 'before sync_nodes(), a role given access has no grants on worker3 yet (42501)') or diag($err);
$coord->safe_psql('postgres', 'SELECT accounts.sync_nodes()');
my $early = $w3->safe_psql('postgres', q{SELECT account_id FROM accounts.find_or_create_account('user', 'reference_id', 'on_w3_early')});
like($early, qr/^[0-9a-f-]{36}$/, 'after sync_nodes(), worker3 serves find-or-create');
is($w1->safe_psql('postgres', q{SELECT accounts.find_account('user', 'reference_id', 'ON_W3_EARLY')}), $early, 'and the others find what it made');
is($w3->safe_psql('postgres', qq{SELECT accounts.find_account('user', 'reference_id', 'before_growth')}), $before, 'and it finds what they made');
my $app = $w3->safe_psql('postgres', q{SET ROLE app; SELECT account_id FROM accounts.find_or_create_account('user', 'reference_id', 'app_on_w3')});
like($app, qr/^[0-9a-f-]{36}$/, 'and the role given access calls it there');
($ret, $out, $err) = $w3->psql('postgres', "\\set VERBOSITY verbose\nSET ROLE app;\nSELECT accounts.merge_accounts('$app', ARRAY['$early']::uuid[])");
is(sqlstate($err), '42501', 'but only what it was given (no lifecycle)');
open my $fh, '>', $late or die;
close $fh;

# 2. the shards rebalanced onto it, online, while the clients run
diag('rebalancing at ' . localtime());
$coord->safe_psql('postgres', q{SELECT citus_rebalance_start()});
$coord->safe_psql('postgres', q{SELECT citus_rebalance_wait()});
diag('rebalanced at ' . localtime());
CitusTest::shards_moved();
my $on_w3 = $coord->safe_psql('postgres', qq{SELECT count(*) FROM citus_shards WHERE nodeport = } . $w3->port . q{ AND table_name = 'accounts.dist_accounts'::regclass});
ok($on_w3 > 0, "the rebalance moved $on_w3 of the 8 shard groups to worker3 while the clients ran");
is($coord->safe_psql('postgres', q{SELECT string_agg(DISTINCT state::text, ',') FROM pg_dist_background_job}), 'finished', 'the rebalance finished');
ok(stop_run($h), "$clients clients while worker3 joined and took shards: no error but 55000, 2BP01, 40P01, connection errors and 40001 for a shard that moved");
like($stdout, qr/transactions on the node that joined: [1-9]/, 'clients on worker3 ran transactions after it joined');
like($stdout, qr/identifier types dropped: [1-9]/, 'identifier types came and went meanwhile');

# 3. the audits
CitusTest::no_prepared('growth run');
check_lifecycle_results('growth run', $outfile);
check_consumed('growth run', "$outfile.events");
journal_audit('growth run');
CitusTest::amcheck('after the growth');
my $total = count_all($coord);
is(join(' ', map { count_all($_) } @nodes), join(' ', ($total) x 4), "every node reads all $total accounts");
# an account routed to worker3 now: its events are in worker3's journal
my $r3 = $coord->safe_psql('postgres', qq{SELECT accounts.account_route(id) FROM accounts.dist_accounts
	WHERE accounts.account_route(id) IN (SELECT r FROM generate_series(0, 65535, 97) r
		WHERE (SELECT nodeport FROM citus_shards WHERE shardid = get_shard_id_for_distribution_column('accounts.dist_accounts', r)) = } . $w3->port . q{)
	LIMIT 1});
my $w3_before = scalar @{ journal($w3) };
my $n3;
for my $i (1 .. 200)
{
	my $id = $w1->safe_psql('postgres', qq{SELECT account_id FROM accounts.find_or_create_account('user', 'reference_id', 'moved_$i')});
	if (account_node($id) == $w3) { $n3 = $id; last; }
}
ok(defined $n3, 'an account created on worker1 can live on worker3');
is(join(' ', map { $_->[0] . ' ' . $_->[1] } @{ events_of($n3) }), 'worker3 account.created', 'its account.created is in worker3\'s journal');

# 4. set_journal from the new worker, honoured on every node
$w3->safe_psql('postgres', q{SELECT accounts.set_journal('user', false)});
is(join(' ', map { $_->safe_psql('postgres', q{SELECT enabled FROM accounts.dist_journal_settings WHERE account_type = 'user'}) } @nodes),
	'f f f f', 'set_journal() on worker3 switches the journal on every node');
my $quiet = $w3->safe_psql('postgres', q{SELECT account_id FROM accounts.find_or_create_account('user', 'reference_id', 'quiet_on_w3')});
is(scalar @{ events_of($quiet) }, 0, 'and a create with the journal off writes no event on any node');
$w2->safe_psql('postgres', q{SELECT accounts.set_journal('user', true)});

# 5. drained and removed, under load again
unlink $late;
$outfile = "$PostgreSQL::Test::Utils::tmp_check/citus_shrink.txt";
$conninfos = join ';', map { 'host=' . $_->host . ' port=' . $_->port . ' dbname=postgres' } ($coord, $w1, $w2);
$h = IPC::Run::start([ 'python3', $client ], '>', \$stdout, '2>', \$stderr,
	init => sub { $ENV{CITUS_CONNINFOS} = $conninfos; $ENV{CITUS_OUT} = $outfile; $ENV{CITUS_PREFIX} = 'shrink';
				  $ENV{CITUS_SECONDS} = 600; $ENV{CITUS_STOP_FILE} = $stop; $ENV{CITUS_CLIENTS} = $clients; $ENV{CITUS_LIFECYCLE} = 1; $ENV{CITUS_POOL} = 200;
				  delete $ENV{CITUS_LATE_FILE}; delete $ENV{CITUS_REGISTRY}; $ENV{CITUS_RESTART_OK} = 1; $ENV{CITUS_MOVES} = 1; delete $ENV{CITUS_EVENTS_OUT}; });
sleep 2;
# the background rebalancer moves one shard group per transaction;
# citus_drain_node() moves all of them in one, holding each group it moved
# until it commits, and a client's transaction over two groups can
# deadlock with it (docs/citus.md, "A cluster that grows and shrinks")
$coord->safe_psql('postgres', "SELECT citus_set_node_property('" . $w3->host . "', " . $w3->port . ", 'shouldhaveshards', false)");
$coord->safe_psql('postgres', q{SELECT citus_rebalance_start(drain_only := true)});
$coord->safe_psql('postgres', q{SELECT citus_rebalance_wait()});
ok(stop_run($h), "$clients clients while worker3 was drained: no error but 55000, 2BP01, 40P01, connection errors and 40001 for a shard that moved");
is($coord->safe_psql('postgres', qq{SELECT count(*) FROM citus_shards WHERE citus_table_type = 'distributed' AND nodeport = } . $w3->port), '0',
	'worker3 holds no shard of a distributed table after the drain');
$coord->safe_psql('postgres', "SELECT citus_remove_node('" . $w3->host . "', " . $w3->port . ")");
CitusTest::no_prepared('shrink run');
# the journals of all four nodes, worker3's included: it keeps the events
# it wrote while it held shards
CitusTest::shards_moved();
journal_audit('shrink run', $quiet);
CitusTest::use_nodes($coord, $w1, $w2);
check_lifecycle_results('shrink run', $outfile);
check_lifecycle_results('growth run, after the drain', "$PostgreSQL::Test::Utils::tmp_check/citus_grow.txt");
is(join(' ', map { count_all($_) } ($coord, $w1, $w2)), join(' ', (count_all($coord)) x 3), 'every remaining node reads all the accounts');
ok(count_all($coord) >= $total, 'no account was lost with the node');
is(join(' ', map { $_->safe_psql('postgres', qq{SELECT accounts.find_account('user', 'reference_id', 'on_w3_early')}) } ($coord, $w1, $w2)),
	join(' ', ($early) x 3), 'what worker3 made is found from every node');
is($w1->safe_psql('postgres', qq{SELECT account_id FROM accounts.get_account('$n3')}), $n3, 'an account that lived on worker3 is read by id');
CitusTest::amcheck('after the drain');

$_->stop for @nodes;
done_testing();
