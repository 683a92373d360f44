# pg_dump and restore (custom format with pg_restore, plain with psql) into
# a new database keep every account, identifier, registry row and id; the
# restored database finds the old accounts and creates new ones.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION account;
	SELECT accounts.create_account_type('merchant');
	SELECT accounts.create_identifier_type('user', 'email', 'email');
	SELECT accounts.create_identifier_type('merchant', 'tax_id', 'text', true);
	SELECT count(*) FROM accounts.find_or_create_accounts('user', 'reference_id',
	       ARRAY(SELECT 'usr-' || n FROM generate_series(1, 500) n));
	SELECT accounts.find_or_create_account('user',
	       ARRAY[('reference_id', 'multi'), ('email', 'Multi@Example.com')]::accounts.identifier[]);
	SELECT accounts.find_or_create_account('merchant', 'tax_id', 'DE-123');
	SELECT accounts.find_or_create_account('merchant', 'reference_id', 'm-1');
});

# Everything that must survive, as one comparable text.
my $snapshot_sql = q{
	SELECT string_agg(line, E'\n' ORDER BY line) FROM (
	  SELECT 'type ' || name AS line FROM accounts.account_types
	  UNION ALL SELECT 'idtype ' || account_type || '/' || name || '/' || kind || '/' || case_sensitive
	    FROM accounts.identifier_types
	  UNION ALL SELECT 'account ' || id || '/' || account_type || '/' || created_at FROM accounts.accounts
	  UNION ALL SELECT 'ident ' || account_type || '/' || id_type || '/' || value || '/' || account_id || '/' || created_at
	    FROM accounts.identifiers) s};
my $before = $node->safe_psql('postgres', $snapshot_sql);
like($before, qr/ident user\/email\/multi\@example.com/, 'snapshot covers the data');

my $dir = $node->basedir;
my $connstr = $node->connstr('postgres');

$node->command_ok([ 'pg_dump', '-Fc', '-f', "$dir/dump.custom", '-d', $connstr ],
	'pg_dump, custom format');
$node->command_ok([ 'pg_dump', '-Fp', '-f', "$dir/dump.sql", '-d', $connstr ],
	'pg_dump, plain format');

$node->safe_psql('postgres', 'CREATE DATABASE restored_custom');
$node->safe_psql('postgres', 'CREATE DATABASE restored_plain');
$node->command_ok(
	[ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored_custom'), "$dir/dump.custom" ],
	'pg_restore of the custom dump');
$node->command_ok(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('restored_plain'), '-f', "$dir/dump.sql" ],
	'psql of the plain dump');

for my $db ('restored_custom', 'restored_plain')
{
	is($node->safe_psql($db, $snapshot_sql), $before,
		"$db: every registry row, account, identifier and id is back, once");
	is( $node->safe_psql(
			$db, q{
		SELECT (f.created, f.account_id = (SELECT account_id FROM accounts.identifiers WHERE value = 'usr-7'))
		  FROM accounts.find_or_create_account('user', 'reference_id', 'USR-7') f}),
		'(f,t)',
		"$db: an old identifier is found, not created");
	is( $node->safe_psql(
			$db, q{SELECT created FROM accounts.find_or_create_account('merchant', 'reference_id', 'm-new')}),
		't', "$db: a new identifier creates an account");
	is( $node->safe_psql(
			$db, q{SELECT accounts.find_or_create_account('user', 'email', 'MULTI@example.com')
			       = accounts.find_or_create_account('user', 'reference_id', 'multi')}),
		't', "$db: an account with several identifiers is still one account");
}

$node->stop;
done_testing();
