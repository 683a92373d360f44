# The lifecycle under load (issue #13): 16 clients for LIFECYCLE_SECONDS
# (default 30) mix find-or-create on a small pool of identifiers with
# merges of random pairs, redactions, archives, tags and inserts into a
# trigger-managed table (test/clients/lifecycle.py).  Then every invariant
# of the README's lifecycle guarantees is checked on the tables, amcheck
# runs on every btree, and the foreign-key audit finds nothing.
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

my $node = PostgreSQL::Test::Cluster->new('lifecycle');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 40\nlog_min_messages = warning\ndeadlock_timeout = 100ms");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION account;
	CREATE EXTENSION amcheck;
	SELECT accounts.create_identifier_type('user', 'email', 'email');
	CREATE TABLE lifecycle_events (id bigserial PRIMARY KEY, reference text, level text, account_id uuid);
	CREATE INDEX ON lifecycle_events (account_id);
	CREATE TRIGGER assign BEFORE INSERT ON lifecycle_events FOR EACH ROW EXECUTE FUNCTION
	    accounts.assign_account('user', 'reference_id', 'reference', 'account_id');
});

my $script = dirname(__FILE__) . '/../clients/lifecycle.py';
my ($out, $err);
my $conninfo = $node->connstr('postgres');
my $ok = IPC::Run::run([ 'python3', $script ], '>', \$out, '2>', \$err,
	init => sub {
		$ENV{LIFECYCLE_CONNINFO} = $conninfo;
		$ENV{LIFECYCLE_SECONDS} = $ENV{LIFECYCLE_SECONDS} // ($ENV{ACCOUNT_FULL} ? 30 : 5);
		$ENV{LIFECYCLE_MIN_TRANSACTIONS} = 1001;
	});
note($out);
diag($err) if $err;
my ($tx) = $out =~ /^count transactions (\d+)$/m;
cmp_ok($tx // 0, '>', 1000, 'thousands of transactions');
like($out, qr/^failures 0$/m, 'no client saw an undocumented error');
like($out, qr/^created-twice 0 /m, 'no reference id was created twice');
ok($ok, 'driver exited 0');

my $q = sub { $node->safe_psql('postgres', shift) };

cmp_ok($q->(q{SELECT count(*) FROM accounts.accounts WHERE status = 'merged'}), '>', 10, 'merges committed');
cmp_ok($q->(q{SELECT count(*) FROM accounts.accounts WHERE status = 'redacted'}), '>', 0, 'redactions committed');
is($q->(q{SELECT count(*) FROM accounts.identifiers i JOIN accounts.accounts a ON a.id = i.account_id
           WHERE a.status = 'merged'}), '0', 'no identifier on a merged account')
  or diag($q->(q{SELECT i.id_type, i.value, i.created_at, i.xmin, i.ctid, a.id, a.created_at, a.updated_at, a.xmin, a.merged_into,
                        (SELECT status FROM accounts.accounts m WHERE m.id = a.merged_into)
                   FROM accounts.identifiers i JOIN accounts.accounts a ON a.id = i.account_id WHERE a.status = 'merged'}));
# on failure: the journal's history of the accounts involved
my $history = sub {
	my $ids = shift;
	return $q->(qq{WITH ids AS ($ids)
	               SELECT e.seq, e.xmin, e.occurred_at, e.kind, e.account_id, e.detail FROM accounts.events e
	                WHERE e.account_id IN (SELECT * FROM ids) OR (e.detail ->> 'into')::uuid IN (SELECT * FROM ids)
	                ORDER BY e.seq});
};
diag($history->(q{SELECT a.id FROM accounts.identifiers i JOIN accounts.accounts a ON a.id = i.account_id WHERE a.status = 'merged'
                  UNION SELECT a.merged_into FROM accounts.identifiers i JOIN accounts.accounts a ON a.id = i.account_id WHERE a.status = 'merged'}))
  if $q->(q{SELECT count(*) FROM accounts.identifiers i JOIN accounts.accounts a ON a.id = i.account_id WHERE a.status = 'merged'}) ne '0';
diag($history->(q{SELECT a.id FROM accounts.identifiers i JOIN accounts.accounts a ON a.id = i.account_id
                   WHERE a.status = 'redacted' AND i.id_type <> 'reference_id'}))
  if $q->(q{SELECT count(*) FROM accounts.identifiers i JOIN accounts.accounts a ON a.id = i.account_id
           WHERE a.status = 'redacted' AND i.id_type <> 'reference_id'}) ne '0';
is($q->(q{SELECT count(*) FROM accounts.identifiers i JOIN accounts.accounts a ON a.id = i.account_id
           WHERE a.status = 'redacted' AND i.id_type <> 'reference_id'}), '0',
	'a redacted account keeps only reference ids')
  or diag($q->(q{SELECT i.id_type, i.value, i.created_at, i.xmin, i.ctid, a.id, a.created_at, a.updated_at, a.redacted_at, a.xmin
                   FROM accounts.identifiers i JOIN accounts.accounts a ON a.id = i.account_id
                  WHERE a.status = 'redacted' AND i.id_type <> 'reference_id'}));
is($q->(q{SELECT count(*) FROM accounts.accounts WHERE (status = 'merged') <> (merged_into IS NOT NULL)}), '0',
	'merged exactly when merged_into is set');
# resolve_account raises on a cycle; every merged account resolves to a live one
is($q->(q{SELECT count(*) FROM accounts.accounts a
           WHERE a.status = 'merged'
             AND coalesce((SELECT s.status::text FROM accounts.accounts s WHERE s.id = accounts.resolve_account(a.id)),
                          'missing') NOT IN ('active', 'archived', 'redacted')}), '0', 'no cycle: every merged account resolves to a live account');
is($q->(q{SELECT count(*) FROM accounts.accounts a
           WHERE a.status IN ('active', 'archived')
             AND NOT EXISTS (SELECT 1 FROM accounts.identifiers i WHERE i.account_id = a.id)}), '0',
	'every live account has an identifier');
is($q->(q{SELECT count(*) FROM accounts.identifiers i
           WHERE NOT EXISTS (SELECT 1 FROM accounts.accounts a WHERE a.id = i.account_id)}), '0',
	'foreign-key audit: no dangling identifier');
is($q->(q{SELECT count(*) FROM (SELECT value, id_type FROM accounts.identifiers GROUP BY value, id_type HAVING count(*) > 1) d}),
	'0', 'one account per identifier');

# trigger-managed rows: READ COMMITTED writers always end on the current owner
# (merges re-point committed rows and make later writers wait); a
# REPEATABLE READ writer may keep the source of a merge that committed after
# its snapshot, which resolve_account() maps
my $rows = $q->(q{SELECT count(*) FROM lifecycle_events});
cmp_ok($rows, '>', 100, "$rows trigger-managed rows");
is($q->(q{SELECT count(*) FROM lifecycle_events e
           WHERE e.level = 'READ COMMITTED'
             AND e.account_id IS DISTINCT FROM accounts.find_account('user', 'reference_id', e.reference)}), '0',
	'every READ COMMITTED row points at the current owner of its reference id');
is($q->(q{SELECT count(*) FROM lifecycle_events e
           WHERE accounts.resolve_account(e.account_id) IS DISTINCT FROM accounts.find_account('user', 'reference_id', e.reference)}), '0',
	'every row resolves to the current owner of its reference id');
note('rows still naming a merged account (REPEATABLE READ writers): '
	. $q->(q{SELECT count(*) FROM lifecycle_events e JOIN accounts.accounts a ON a.id = e.account_id WHERE a.status = 'merged'}));

my $checked = $q->(q{
	SELECT count(bt_index_parent_check(c.oid, true))
	  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	 WHERE c.relnamespace = 'accounts'::regnamespace AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'btree')});
cmp_ok($checked, '>=', 5, "amcheck: $checked indexes consistent");
is($q->(q{SELECT count(*) FROM accounts.accounts a WHERE NOT EXISTS (SELECT 1 FROM accounts.account_types t WHERE t.name = a.account_type)})
	. ' ' . $q->(q{SELECT count(*) FROM accounts.identifiers i WHERE NOT EXISTS (SELECT 1 FROM accounts.identifier_types t WHERE t.account_type = i.account_type AND t.name = i.id_type)}),
	'0 0', 'foreign-key audit: no row of a missing type');

$node->stop;
done_testing();
