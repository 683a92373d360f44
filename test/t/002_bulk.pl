# Bulk find-or-create: concurrent bulk calls whose arrays overlap in random
# orders never deadlock and never duplicate; one transaction creates a
# million accounts through the bulk function and a million more through
# per-row calls in one statement, with the default lock table (40,000
# each unless ACCOUNT_FULL=1, ./scripts/test.sh --full: still ten times
# what the lock table could hold if a create kept a lock).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $creates = $ENV{ACCOUNT_FULL} ? 1_000_000 : 40_000;
my $node = PostgreSQL::Test::Cluster->new('bulk');
$node->init;
# max_locks_per_transaction: the default of 15 to 18 (19 doubles it)
$node->append_conf('postgresql.conf', "max_connections = 60\nfsync = off\nmax_locks_per_transaction = 64");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION account;
	CREATE TABLE calls (client int, value text, account_id uuid, created boolean);
	-- a third of the pool exists beforehand
	SELECT count(*) FROM accounts.find_or_create_accounts('user', 'reference_id',
	       ARRAY(SELECT 'k-' || n FROM generate_series(1, 200, 3) n));
});

is( $node->safe_psql('postgres', 'SHOW max_locks_per_transaction'),
	'64', 'the lock table of 15 to 18');

# Each transaction is one bulk call of 60 keys from a pool of 200, in
# random order and random case.  Without the canonical order these
# deadlock within a few hundred transactions.  (Two calls in one
# transaction are two batches: like any unique-key inserts in opposite
# orders, they can deadlock; the README says so.)
my $clients = 16;
my $txns = 150;
$node->pgbench(
	"--no-vacuum --client=$clients --jobs=4 --transactions=$txns",
	0,
	[
		qr{processed: @{[ $clients * $txns ]}/@{[ $clients * $txns ]}},
		qr{number of failed transactions: 0 }
	],
	[qr{^$}],
	'overlapping bulk calls in random orders: no deadlock, no error',
	{
		'002_bulk' => q{
BEGIN;
INSERT INTO calls SELECT :client_id, value, account_id, created
  FROM accounts.find_or_create_accounts('user', 'reference_id',
       ARRAY(SELECT CASE WHEN random() < 0.5 THEN 'k-' ELSE ' K-' END || n
               FROM generate_series(1, 200) n ORDER BY random() LIMIT 60));
COMMIT;
}
	});

is( $node->safe_psql(
		'postgres', q{
	SELECT count(*) FROM (
	  SELECT lower(value) FROM calls GROUP BY 1
	  HAVING count(DISTINCT account_id) <> 1 OR count(*) FILTER (WHERE created) > 1) bad}),
	'0',
	'per identifier: one account id for every caller, created at most once');

is( $node->safe_psql(
		'postgres', q{
	SELECT count(*) FROM calls c
	 WHERE c.account_id IS DISTINCT FROM accounts.find_account('user', 'reference_id', c.value)}),
	'0',
	'every caller got the stored account id');

is( $node->safe_psql(
		'postgres', q{
	SELECT (SELECT count(*) FROM accounts.identifiers) = 200
	   AND (SELECT count(*) FROM accounts.accounts) = 200}),
	't',
	'exactly one account per identifier in the pool');

# $creates new accounts through the bulk function and as many through
# per-row calls, in one transaction, with max_locks_per_transaction = 64.
my ($ret, $out, $err) = $node->psql(
	'postgres', qq{
	BEGIN;
	SELECT count(*) FILTER (WHERE created) FROM accounts.find_or_create_accounts('user', 'reference_id',
	       ARRAY(SELECT 'million-' || n FROM generate_series(1, $creates) n));
	SELECT count(*) FILTER (WHERE f.created) FROM generate_series(1, $creates) n,
	       LATERAL accounts.find_or_create_account('user', 'reference_id', 'row-' || n) f;
	COMMIT;
	},
	on_error_stop => 1);
is($ret, 0, 'two times ' . $creates . ' creates in one transaction succeed');
is($out, "$creates\n$creates", "$creates created by each path");
is($err, '', 'no error or warning');

is( $node->safe_psql(
		'postgres', q{
	SELECT (SELECT count(*) FROM accounts.identifiers),
	       (SELECT count(*) FROM accounts.accounts),
	       (SELECT count(*) FROM accounts.accounts a
	         WHERE NOT EXISTS (SELECT 1 FROM accounts.identifiers i WHERE i.account_id = a.id))}),
	join('|', 2 * $creates + 200, 2 * $creates + 200, 0),
	'all committed, no orphan accounts');

# Memory: after a warm-up statement, a million more calls in one session
# leave the backend's memory contexts exactly where they were.  Both
# measurements are the same statement, so that its own footprint (its
# MessageContext, the planner's) is the same in both.
my $mem = $node->safe_psql(
	'postgres', q{
	SELECT count((f).account_id) FROM (SELECT accounts.find_or_create_account('user', 'reference_id', 'million-' || (n % 1000 + 1)) AS f
	  FROM generate_series(1, 200000) n) s;
	SELECT sum(total_bytes) AS start FROM pg_backend_memory_contexts \gset
	SELECT count((f).account_id) FROM (SELECT accounts.find_or_create_account('user', 'reference_id', 'million-' || (n % 1000 + 1)) AS f
	  FROM generate_series(1, 500000) n) s;
	SELECT count((f).account_id) FROM (SELECT accounts.find_or_create_account('user', 'reference_id', 'million-' || (n % 1000 + 1)) AS f
	  FROM generate_series(1, 500000) n) s;
	SELECT sum(total_bytes) AS finish FROM pg_backend_memory_contexts \gset
	SELECT :finish <= :start;
});
is((split /\n/, $mem)[-1], 't', 'a million calls do not grow the memory contexts');

# Memory within one statement: a million calls (hits and misses) keep the
# backend's private memory flat; the per-call context is reset on every
# call.  A leak of 64 bytes per call would add about 80 MiB.
my ($in, $out2, $err2) = ('', '', '');
my $h = IPC::Run::start(
	[ 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres') ],
	'<', \$in, '>', \$out2, '2>', \$err2);
$in .= "SELECT pg_backend_pid();\n";
$h->pump until $out2 =~ /^(\d+)\n/;
my $pid = $1;
sub rss_anon_kb
{
	open(my $fh, '<', "/proc/$pid/status") or return undef;
	while (<$fh>) { return $1 if /^RssAnon:\s+(\d+)/; }
	return undef;
}
# warm up: the plan, the caches, the first buffers
$in .= "SELECT count((f).account_id) FROM (SELECT accounts.find_or_create_account('user', 'reference_id', 'flat-' || (n % 5000)) AS f FROM generate_series(1, 20000) n) s;\n";
$h->pump until $out2 =~ /^20000\n/m;
my $base = rss_anon_kb();
my $peak = $base;
$in .= "SELECT count((f).account_id) FROM (SELECT accounts.find_or_create_account('user', 'reference_id', 'flat-' || (n % 50000)) AS f FROM generate_series(1, 1000000) n) s;\n";
while ($out2 !~ /^1000000\n/m)
{
	$h->pump_nb;
	my $now = rss_anon_kb();
	$peak = $now if defined $now && $now > $peak;
	select(undef, undef, undef, 0.01);
}
$in .= "\\q\n";
$h->finish;
ok(defined $base, "backend $pid private memory measured");
cmp_ok(($peak - $base) / 1024, '<', 32,
	sprintf('a million calls in one statement: private memory +%.1f MiB at the peak', ($peak - $base) / 1024));

$node->stop;
done_testing();
