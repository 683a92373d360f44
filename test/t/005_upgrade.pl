# Upgrades: installing any earlier version (1.0 to the one before the
# current) and running ALTER EXTENSION account UPDATE gives exactly what a
# fresh install of the current version gives, compared through the
# catalogs of both of the extension's schemas (functions, tables, columns
# with their statistics targets, storage options, indexes, triggers,
# schema owners and privileges).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE upgraded');
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('upgraded', q{CREATE EXTENSION account VERSION '1.0'});
is($node->safe_psql('upgraded', q{SELECT extversion FROM pg_extension WHERE extname = 'account'}),
	'1.0', 'installed 1.0');

# rows made by 1.0 survive every update with their ids
$node->safe_psql('upgraded', q{
	SELECT accounts.create_account_type('customer');
	SELECT accounts.create_identifier_type('customer', 'email', 'email');
	SELECT accounts.find_or_create_account('user', 'reference_id', 'old-' || i) FROM generate_series(1, 500) i;
	SELECT accounts.find_or_create_account('customer', 'email', 'someone' || i || '@example.com') FROM generate_series(1, 50) i;
});
my $rows_sql = q{
	SELECT count(*) || ' ' || md5(string_agg(a.id::text || a.account_type || a.created_at
	                             || i.id_type || i.value || i.created_at, ',' ORDER BY i.value))
	  FROM accounts.accounts a JOIN accounts.identifiers i ON i.account_id = a.id};
my $rows_before = $node->safe_psql('upgraded', $rows_sql);
like($rows_before, qr/^550 /, '550 accounts made by 1.0');
my $id_before = $node->safe_psql('upgraded', q{SELECT accounts.find_account('user', 'reference_id', 'old-7')});

$node->safe_psql('upgraded', 'ALTER EXTENSION account UPDATE');
is($node->safe_psql('upgraded', $rows_sql), $rows_before, 'the update keeps every row and id');
is($node->safe_psql('upgraded', q{SELECT account_id || ' ' || created FROM accounts.find_or_create_account('user', 'reference_id', 'OLD-7')}),
	"$id_before false", 'an account made by 1.0 is found after the update');
$node->safe_psql('fresh', 'CREATE EXTENSION account');

# Every object of the extension and its definition, without OIDs.
my $catalog_sql = q{
	SELECT string_agg(line, E'\n' ORDER BY line) FROM (
	  SELECT 'extension ' || extversion || ' ' || extrelocatable || ' ' || extnamespace::regnamespace
	         || ' config ' || coalesce((SELECT string_agg(c::regclass::text, ',' ORDER BY c::regclass::text)
	                                      FROM unnest(extconfig) c), '')
	         || ' filters ' || coalesce(array_to_string(extcondition, ' | '), '') AS line
	    FROM pg_extension WHERE extname = 'account'
	  UNION ALL
	  SELECT 'member ' || pg_describe_object(classid, objid, objsubid)
	    FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
	     AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'account')
	  UNION ALL
	  SELECT 'function ' || p.oid::regprocedure || ' ' || pg_get_functiondef(p.oid)
	         || ' acl ' || coalesce(p.proacl::text, 'default')
	         || ' comment ' || coalesce(obj_description(p.oid, 'pg_proc'), '')
	    FROM pg_proc p WHERE p.pronamespace IN ('accounts'::regnamespace, 'accounts_internal'::regnamespace) AND p.prokind <> 'a'
	  UNION ALL
	  SELECT 'column ' || a.attrelid::regclass || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
	         || ' notnull ' || a.attnotnull || ' collation ' || coalesce(co.collname, '-')
	         || ' default ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
	         || ' statistics ' || coalesce(a.attstattarget::text, '-')
	    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
	    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	    LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 0
	   WHERE c.relnamespace IN ('accounts'::regnamespace, 'accounts_internal'::regnamespace) AND a.attnum > 0 AND NOT a.attisdropped
	  UNION ALL
	  SELECT 'schema ' || n.nspname || ' owner ' || n.nspowner::regrole || ' acl ' || coalesce(n.nspacl::text, 'default')
	    FROM pg_namespace n WHERE n.nspname IN ('accounts', 'accounts_internal')
	  UNION ALL
	  SELECT 'relation ' || c.oid::regclass || ' ' || c.relkind::text || ' acl ' || coalesce(c.relacl::text, 'default')
	         || ' options ' || coalesce(array_to_string(c.reloptions, ','), '-')
	         || ' comment ' || coalesce(obj_description(c.oid, 'pg_class'), '')
	    FROM pg_class c WHERE c.relnamespace IN ('accounts'::regnamespace, 'accounts_internal'::regnamespace)
	  UNION ALL
	  SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
	    FROM pg_constraint WHERE connamespace IN ('accounts'::regnamespace, 'accounts_internal'::regnamespace)
	  UNION ALL
	  SELECT 'index ' || pg_get_indexdef(indexrelid) FROM pg_index
	   WHERE indrelid IN (SELECT oid FROM pg_class WHERE relnamespace IN ('accounts'::regnamespace, 'accounts_internal'::regnamespace))
	  UNION ALL
	  SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t
	   WHERE t.tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace IN ('accounts'::regnamespace, 'accounts_internal'::regnamespace))
	     AND NOT t.tgisinternal  -- foreign-key triggers: named by OID, covered by the constraints
	  UNION ALL
	  SELECT 'trigger state ' || t.tgrelid::regclass || ' internal ' || t.tgisinternal || ' enabled ' || t.tgenabled::text
	         || ' x' || count(*) FROM pg_trigger t
	   WHERE t.tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace IN ('accounts'::regnamespace, 'accounts_internal'::regnamespace))
	   GROUP BY t.tgrelid, t.tgisinternal, t.tgenabled
	  UNION ALL
	  SELECT 'event trigger ' || e.evtname || ' ' || e.evtevent || ' ' || e.evtenabled::text || ' ' || e.evtfoid::regproc
	         || ' ' || coalesce(array_to_string(e.evttags, ','), '')
	    FROM pg_event_trigger e
	  UNION ALL
	  SELECT 'row ' || name FROM accounts.account_types WHERE name <> 'customer'
	  UNION ALL
	  SELECT 'row ' || account_type || '/' || name || '/' || kind || '/' || case_sensitive FROM accounts.identifier_types
	   WHERE account_type <> 'customer'
	) s};

my $upgraded = $node->safe_psql('upgraded', $catalog_sql);
my $fresh = $node->safe_psql('fresh', $catalog_sql);
like($fresh, qr/function accounts.find_or_create_account\(text,text,text\)/, 'the comparison covers the functions');
like($fresh, qr/index CREATE UNIQUE INDEX identifiers_pkey/, 'the comparison covers the indexes');
is($node->safe_psql('upgraded', q{SELECT extversion FROM pg_extension WHERE extname = 'account'}),
	$node->safe_psql('fresh', q{SELECT extversion FROM pg_extension WHERE extname = 'account'}),
	'same version after the update');
is($upgraded, $fresh, '1.0 + ALTER EXTENSION UPDATE matches a fresh install');

# every other start of the update chain
my $current = $node->safe_psql('fresh', q{SELECT extversion FROM pg_extension WHERE extname = 'account'});
my @starts = grep { $_ ne '1.0' && $_ ne $current } split /\n/, $node->safe_psql('fresh',
	q{SELECT version FROM pg_available_extension_versions WHERE name = 'account' ORDER BY string_to_array(version, '.')::int[]});
ok(scalar(@starts) >= 5, 'the other versions to update from: ' . join(' ', @starts));
for my $v (@starts)
{
	(my $db = "from_$v") =~ s/\./_/g;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, qq{CREATE EXTENSION account VERSION '$v';
		SELECT accounts.find_or_create_account('user', 'reference_id', 'made-by-$v');
		ALTER EXTENSION account UPDATE});
	is($node->safe_psql($db, $catalog_sql), $fresh, "$v + ALTER EXTENSION UPDATE matches a fresh install");
}

# and the updated extension works
is( $node->safe_psql(
		'upgraded', q{SELECT created FROM accounts.find_or_create_account('user', 'reference_id', 'after-update')}),
	't', 'find_or_create_account works after the update');
is($node->safe_psql('upgraded', q{SELECT string_agg(kind || ' ' || (detail -> 'identifiers' -> 0 ->> 'value'), ',')
                                   FROM accounts.events_since(0)}),
	'account.created after-update', 'the journal starts with the update: it has the new account only');

# values stored by 1.6 that 1.7 normalizes differently (a soft hyphen, an
# NBSP-separated phone number; written directly, as 1.6 would have kept
# them) are counted by the update, which changes nothing
$node->safe_psql('postgres', 'CREATE DATABASE renorm');
$node->safe_psql('renorm', q{CREATE EXTENSION account VERSION '1.6';
	SELECT accounts.create_identifier_type('user', 'phone', kind => 'phone');
	SELECT accounts.find_or_create_account('user', 'reference_id', 'holder');
	INSERT INTO accounts.identifiers (account_type, id_type, value, account_id)
	SELECT 'user', t, v, accounts.find_account('user', 'reference_id', 'holder')
	  FROM (VALUES ('reference_id', E'ad\u00ADmin'), ('phone', E'+33\u00A0123456789')) x(t, v)});
my ($uret, $uout, $uerr) = $node->psql('renorm', 'ALTER EXTENSION account UPDATE');
is($uret, 0, 'the update goes through with values that normalize differently');
like($uerr, qr/WARNING:  2 identifier values stored by an earlier version normalize differently in 1.7/,
	'and warns about both, with a hint to list them');
is($node->safe_psql('renorm', q{SELECT count(*) FROM accounts.identifiers WHERE value IN (E'ad\u00ADmin', E'+33\u00A0123456789')}), '2',
	'they are left as they were');

# the 1.4 library on a 1.3 schema (before ALTER EXTENSION UPDATE): no
# journal there, and everything works as in 1.3
$node->safe_psql('postgres', 'CREATE DATABASE v13');
$node->safe_psql('v13', q{CREATE EXTENSION account VERSION '1.3'});
is($node->safe_psql('v13', q{
	SELECT accounts.create_identifier_type('user', 'email', 'email');
	SELECT count(*) FROM accounts.find_or_create_accounts('user', 'reference_id', ARRAY['a', 'b']);
	SELECT accounts.add_identifier(accounts.find_account('user', 'reference_id', 'a'), 'email', 'a@example.com');
	SELECT accounts.merge_accounts(accounts.find_account('user', 'reference_id', 'a'),
	                               ARRAY[accounts.find_account('user', 'reference_id', 'b')]);
	SELECT (accounts.find_or_create_account('user', ARRAY[('reference_id', 'c'), ('email', 'c@example.com')]::accounts.identifier[])).created;
	SELECT to_regclass('accounts.events') IS NULL}), "\n2\nt\n1\nt\nt", 'the 1.4 library works on a 1.3 schema, without a journal');
$node->safe_psql('v13', 'ALTER EXTENSION account UPDATE');
$node->safe_psql('v13', q{SELECT accounts.find_or_create_account('user', 'reference_id', 'd')});
is($node->safe_psql('v13', q{SELECT string_agg(kind, ',') FROM accounts.events_since(0)}), 'account.created',
	'after the update to 1.4 the journal starts');

# 1.7 -> 1.8: the 1.8 library on a 1.7 schema works as 1.7 (no fields, no
# limits, the multi-identifier call without on_conflict); the update gives
# the functions whose signature changed the grants the old ones had
$node->safe_psql('postgres', 'CREATE DATABASE v17');
$node->safe_psql('v17', q{CREATE EXTENSION account VERSION '1.7';
	CREATE ROLE v17_app; CREATE ROLE v17_ops;
	SELECT accounts.grant_access('v17_app', 'application');
	SELECT accounts.grant_access('v17_ops', 'lifecycle')});
is($node->safe_psql('v17', q{
	SELECT accounts.create_identifier_type('user', 'email', 'email');
	SELECT (accounts.find_or_create_account('user', ARRAY[('reference_id', 'x'), ('email', 'x@example.com')]::accounts.identifier[])).created;
	SELECT cardinality(identifiers) FROM accounts.get_account(accounts.find_account('user', 'email', 'x@example.com'))}),
	"\nt\n2", 'the 1.8 library works on a 1.7 schema');
$node->safe_psql('v17', 'ALTER EXTENSION account UPDATE');
is($node->safe_psql('v17', q{SELECT string_agg(r || ' ' || f || ' ' || has_function_privilege(r, f, 'EXECUTE'), ', ' ORDER BY r, f)
	FROM unnest(ARRAY['v17_app', 'v17_ops']) r,
	     unnest(ARRAY['accounts.get_account(uuid)', 'accounts.find_or_create_account(text, accounts.identifier[], text)']) f}),
	'v17_app accounts.find_or_create_account(text, accounts.identifier[], text) true, v17_app accounts.get_account(uuid) true, '
	. 'v17_ops accounts.find_or_create_account(text, accounts.identifier[], text) false, v17_ops accounts.get_account(uuid) true',
	'the update keeps the grants of get_account() and of the multi-identifier call, whose signatures changed');
is($node->safe_psql('v17', q{SET ROLE v17_app;
	SELECT (accounts.find_or_create_account('user', ARRAY[('reference_id', 'x'), ('email', 'y@example.com')]::accounts.identifier[], on_conflict => 'merge')).created;
	SELECT fields FROM accounts.get_account(accounts.find_account('user', 'email', 'y@example.com'))}),
	"f\n{}", 'and the application role calls them');

$node->stop;
done_testing();
