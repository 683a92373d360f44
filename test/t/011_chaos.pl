# Chaos (issue #10): 16 clients mix every function (single, composite,
# bulk, multi-identifier, try, trigger, add/remove, deletes, registry
# changes) under all three isolation levels for CHAOS_SECONDS (6 s; 60 s with
# ACCOUNT_FULL=1, ./scripts/test.sh --full),
# while a saboteur runs REINDEX CONCURRENTLY, VACUUM FULL, type drops and
# cancels (test/clients/chaos.py).  Then: no client saw an error outside
# the documented ones (no XX000 in particular), amcheck finds every index
# consistent with its heap, and the foreign-key audit finds nothing.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Basename qw(dirname);

if (system('python3 -c "import psycopg" 2>/dev/null') != 0)
{
	plan skip_all => 'python3-psycopg is not installed';
}

my $node = PostgreSQL::Test::Cluster->new('chaos');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 40\nlog_min_messages = warning");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION account;
	CREATE EXTENSION amcheck;
	SELECT accounts.create_identifier_type('user', 'email', 'email');
	CREATE TABLE chaos_events (id bigserial PRIMARY KEY, reference text, account_id uuid);
	CREATE TRIGGER assign BEFORE INSERT ON chaos_events FOR EACH ROW EXECUTE FUNCTION
	    accounts.assign_account('user', 'reference_id', 'reference', 'account_id');
});

my $script = dirname(__FILE__) . '/../clients/chaos.py';
my ($out, $err);
my $conninfo = $node->connstr('postgres');
my $ok = IPC::Run::run([ 'python3', $script ], '>', \$out, '2>', \$err,
	init => sub {
		$ENV{CHAOS_CONNINFO} = $conninfo;
		$ENV{CHAOS_SECONDS} = $ENV{CHAOS_SECONDS} // ($ENV{ACCOUNT_FULL} ? 60 : 6);
		$ENV{CHAOS_MIN_TRANSACTIONS} = 1001;
	});
note($out);
diag($err) if $err;
like($out, qr/^count transactions (\d+)$/m, 'the clients ran');
my ($tx) = $out =~ /^count transactions (\d+)$/m;
cmp_ok($tx // 0, '>', 1000, 'thousands of transactions');
like($out, qr/^count saboteur \d+$/m, 'the saboteur ran');
like($out, qr/^failures 0$/m, 'no client saw an undocumented error (no XX000, no 23505 from find-or-create)');
ok($ok, 'chaos driver exited 0');

# amcheck: every btree of the schema, parent checks with heapallindexed
my $checked = $node->safe_psql('postgres', q{
	SELECT count(bt_index_parent_check(c.oid, true))
	  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	 WHERE c.relnamespace = 'accounts'::regnamespace AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'btree')});
cmp_ok($checked, '>=', 5, "amcheck: $checked indexes consistent");

my $audit = $node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM accounts.identifiers i WHERE NOT EXISTS (SELECT 1 FROM accounts.accounts a WHERE a.id = i.account_id))
	    || ' ' || (SELECT count(*) FROM accounts.identifiers i WHERE NOT EXISTS (SELECT 1 FROM accounts.identifier_types t WHERE t.account_type = i.account_type AND t.name = i.id_type))
	    || ' ' || (SELECT count(*) FROM accounts.accounts a WHERE NOT EXISTS (SELECT 1 FROM accounts.account_types t WHERE t.name = a.account_type))
	    || ' ' || (SELECT count(*) FROM accounts.accounts a WHERE NOT EXISTS (SELECT 1 FROM accounts.identifiers i WHERE i.account_id = a.id))
	    || ' ' || (SELECT count(*) FROM accounts.identifier_types t WHERE NOT EXISTS (SELECT 1 FROM accounts.account_types a WHERE a.name = t.account_type))});
is($audit, '0 0 0 0 0',
	'foreign-key audit: no dangling identifier, no row of a dropped type, no account without identifiers');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM chaos_events e
	 WHERE e.account_id IS NULL}), '0', 'every trigger row got an account');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM (SELECT value, id_type FROM accounts.identifiers GROUP BY value, id_type HAVING count(*) > 1) d}),
	'0', 'one account per identifier');

$node->stop;
done_testing();
