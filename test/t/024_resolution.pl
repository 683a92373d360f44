# Identity resolution under load (issue #27): 16 clients link random pairs
# of identifiers with find_or_create_account(..., on_conflict => 'merge')
# and set fields (test/clients/resolution.py), once without limits and once
# with a limit of one reference id per account.  Afterwards every connected
# component of the committed links is exactly one live account, the merged
# ones resolve to it, the journal replayed gives the tables, no account
# holds two reference ids under the limit, amcheck finds nothing and the
# foreign-key audit neither.  No deadlock, no undocumented SQLSTATE.
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

my $node = PostgreSQL::Test::Cluster->new('resolution');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 40\nlog_min_messages = warning\ndeadlock_timeout = 100ms");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION account;
	CREATE EXTENSION amcheck;
	SELECT accounts.create_account_type('linked');
	SELECT accounts.create_identifier_type('linked', 'email', 'email');
	SELECT accounts.create_identifier_type('linked', 'device', 'text');
	SELECT accounts.create_field('linked', 'name');
	SELECT accounts.create_field('linked', 'city', personal => false);
	SELECT accounts.create_account_type('limited');
	SELECT accounts.create_identifier_type('limited', 'email', 'email');
	SELECT accounts.create_identifier_type('limited', 'device', 'text');
	SELECT accounts.create_field('limited', 'name');
	SELECT accounts.create_field('limited', 'city', personal => false);
	SELECT accounts.set_identifier_limit('limited', 'reference_id', 1);
});

my $script = dirname(__FILE__) . '/../clients/resolution.py';
my $conninfo = $node->connstr('postgres');
my $seconds = $ENV{ACCOUNT_FULL} ? 30 : 5;

for my $run (['linked', ''], ['limited', '1'])
{
	my ($type, $limit) = @$run;
	my ($out, $err);
	my $ok = IPC::Run::run([ 'python3', $script ], '>', \$out, '2>', \$err,
		init => sub {
			$ENV{RESOLUTION_NODES} = $conninfo;
			$ENV{RESOLUTION_TYPE} = $type;
			$ENV{RESOLUTION_LIMIT} = $limit;
			$ENV{RESOLUTION_SECONDS} = $seconds;
			$ENV{RESOLUTION_MIN_LINKS} = 501;
		});
	note($out);
	diag($err) if $err;
	my ($links) = $out =~ /^count links (\d+)$/m;
	cmp_ok($links // 0, '>', 500, "$type: hundreds of committed links");
	my ($comps) = $out =~ /^audit components (\d+)$/m;
	cmp_ok($comps // 0, '<', $links // 0, "$type: links joined identifiers into fewer components");
	like($out, qr/^failures 0$/m, "$type: every component is one live account, the journal gives the tables, no undocumented error")
	  or diag(join("\n", $out =~ /^((?:AUDIT|FAILURE) .*)$/mg));
	like($out, qr/^audit replayed accounts differing 0$/m, "$type: replaying the journal gives every account");
	ok($ok, "$type: driver exited 0");
	my $merged = $node->safe_psql('postgres', qq{SELECT count(*) FROM accounts.accounts WHERE account_type = '$type' AND status = 'merged'});
	cmp_ok($merged, '>', 10, "$type: $merged accounts were merged by calls");
	if ($limit)
	{
		like($out, qr/^count 23514 \d+$/m, 'limited: links that would join two reference ids were refused');
		like($out, qr/^audit over-limit 0$/m, 'limited: no account holds two reference ids');
	}
}

my $q = sub { $node->safe_psql('postgres', shift) };
is($q->(q{SELECT count(*) FROM accounts.identifiers i JOIN accounts.accounts a ON a.id = i.account_id
           WHERE a.status = 'merged'}), '0', 'no identifier on a merged account');
is($q->(q{SELECT count(*) FROM accounts.accounts WHERE status = 'merged' AND fields IS NOT NULL}), '0',
	'no fields on a merged account');
is($q->(q{SELECT count(*) FROM accounts.accounts a
           WHERE a.status <> 'merged' AND NOT EXISTS (SELECT 1 FROM accounts.identifiers i WHERE i.account_id = a.id)}), '0',
	'every live account has an identifier');
is($q->(q{SELECT count(*) FROM accounts.identifiers i
           WHERE NOT EXISTS (SELECT 1 FROM accounts.accounts a WHERE a.id = i.account_id)}), '0',
	'foreign-key audit: no dangling identifier');
is($q->(q{SELECT count(*) FROM accounts.accounts a, jsonb_object_keys(a.fields) k
           WHERE NOT EXISTS (SELECT 1 FROM accounts.account_fields f WHERE f.account_type = a.account_type AND f.name = k)}), '0',
	'no value of an undeclared field');
my $checked = $q->(q{
	SELECT count(bt_index_parent_check(c.oid, true))
	  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	 WHERE c.relnamespace = 'accounts'::regnamespace AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'btree')});
cmp_ok($checked, '>=', 5, "amcheck: $checked indexes consistent");

$node->stop;
done_testing();
