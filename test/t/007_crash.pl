# Crash recovery: under a concurrent create load (pgbench, 16 clients, hot
# and new identifiers) the server is stopped with -m immediate, then
# restarted.  Every create a client saw commit is present with the id the
# client received; no duplicate identifiers; no orphan accounts.
use strict;
use warnings;

use IPC::Run qw(start finish);
use Time::HiRes qw(usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 60");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION account');

my $logdir = PostgreSQL::Test::Utils::tempdir;
my $script = "$logdir/load.sql";
# Each client logs what it received, after the call returned (committed).
# (pgbench substitutes a variable only when it is a whole argument.)
open(my $fh, '>', $script) or die;
print $fh <<"EOS";
\\set k random(1, 400)
SELECT account_id AS acc, created AS cr FROM accounts.find_or_create_account('user', 'reference_id', 'crash-' || :k) \\gset
\\shell echo :k :acc :cr >> $logdir/seen.log
EOS
close $fh;

my ($out, $err) = ('', '');
my $load = start(
	[ 'pgbench', '-n', '-c', '16', '-j', '4', '-T', '600', '-f', $script, $node->connstr('postgres') ],
	'>', \$out, '2>', \$err);

# let the load run until clients have logged plenty, then crash.  The
# wait is bounded by time, not by a count of polls: on a loaded machine
# (CI runs every major at once) 1,500 calls can take well over 20 s, and
# the crash must still come while the clients run (pgbench -T outlasts
# the deadline; the crash ends it).
my $lines = 0;
my $deadline = time() + 240;
while (time() < $deadline)
{
	$lines = 0;
	for my $f (glob("$logdir/seen.*"))
	{
		open(my $in, '<', $f) or next;
		$lines++ while <$in>;
		close $in;
	}
	last if $lines >= 1500;
	last unless $load->pumpable;    # pgbench gave up: fail below, now
	usleep(100_000);
}
$node->stop('immediate');
finish($load);
ok($lines >= 1500, "clients logged $lines calls before the crash") or diag($err);
like($err, qr/server closed the connection|terminating connection|connection to server/,
	'the clients saw the crash');

$node->start;

my %seen;
my $bad_lines = 0;
for my $f (glob("$logdir/seen.*"))
{
	open(my $in, '<', $f) or die;
	while (my $line = <$in>)
	{
		chomp $line;
		my ($k, $acc, $created) = split / /, $line;
		if (!defined $created || $k !~ /^\d+$/ || $acc !~ /^[0-9a-f-]{36}$/) { $bad_lines++; next; }
		my $key = "crash-$k";
		$seen{$key}{$acc} = 1;
	}
	close $in;
}
is($bad_lines, 0, 'the clients\' logs are well formed');
is(scalar(grep { scalar(keys %{ $seen{$_} }) != 1 } keys %seen), 0,
	'before the crash, every client got one account id per identifier');

my %stored = map { split / / } split /\n/,
  $node->safe_psql('postgres', q{SELECT value || ' ' || account_id FROM accounts.identifiers});
my @missing = grep { !exists $stored{$_} || !$seen{$_}{ $stored{$_} } } keys %seen;
is(scalar(@missing), 0, 'every create a client saw commit survived the crash, with the id it got')
  or diag("missing: @missing[0 .. ($#missing < 9 ? $#missing : 9)]");

is( $node->safe_psql(
		'postgres', q{
	SELECT (SELECT count(*) - count(DISTINCT (account_type, id_type, value)) FROM accounts.identifiers),
	       (SELECT count(*) FROM accounts.accounts a
	         WHERE NOT EXISTS (SELECT 1 FROM accounts.identifiers i WHERE i.account_id = a.id))}),
	'0|0', 'no duplicate identifiers, no orphan accounts');
is( $node->safe_psql('postgres', q{SELECT count(*) FROM accounts.identifiers}),
	$node->safe_psql('postgres', q{SELECT count(*) FROM accounts.accounts}),
	'one account per identifier');

# and the recovered server goes on working
is($node->safe_psql('postgres',
		q{SELECT created FROM accounts.find_or_create_account('user', 'reference_id', 'after-crash')}),
	't', 'creates after recovery');
$node->stop;
done_testing();
