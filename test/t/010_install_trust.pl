# Install-time trust (issue #10).  A role that is not the installing
# superuser must not be able to prepare schema "accounts" so that the
# extension's SECURITY DEFINER functions run its code: CREATE EXTENSION
# refuses a schema another role owns or may create objects in.  And even if
# an administrator later grants CREATE on the schema, no SECURITY DEFINER
# body resolves a function that role can overload: its look-alikes (which
# would make it superuser) never run.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('trust');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
	CREATE ROLE mallory LOGIN;
	CREATE DATABASE mallorys OWNER mallory;
});

# 1. the database owner creates schema "accounts" first
$node->safe_psql('mallorys', 'CREATE SCHEMA accounts', extra_params => [ '-U', 'mallory' ]);
my ($ret, $stdout, $stderr) = $node->psql('mallorys', 'CREATE EXTENSION account',
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
isnt($ret, 0, 'CREATE EXTENSION refuses a schema owned by another role');
like($stderr, qr/42501.*schema "accounts" is owned by role mallory/s, 'with 42501 naming the owner');
like($stderr, qr/HINT:.*Drop the schema/, 'and a hint');
is($node->safe_psql('mallorys', q{SELECT count(*) FROM pg_extension WHERE extname = 'account'}),
	'0', 'nothing was installed');

# 2. a superuser-owned schema in which another role may create objects
$node->safe_psql('mallorys', 'DROP SCHEMA accounts');
$node->safe_psql('mallorys', 'CREATE SCHEMA accounts AUTHORIZATION CURRENT_USER; GRANT CREATE ON SCHEMA accounts TO mallory');
($ret, $stdout, $stderr) = $node->psql('mallorys', 'CREATE EXTENSION account');
isnt($ret, 0, 'CREATE EXTENSION refuses a schema others may create objects in');
like($stderr, qr/other roles may create objects in schema "accounts": mallory/, 'naming them');

# 3. a non-empty schema
$node->safe_psql('mallorys', 'REVOKE CREATE ON SCHEMA accounts FROM mallory; CREATE TABLE accounts.stray (x int)');
($ret, $stdout, $stderr) = $node->psql('mallorys', 'CREATE EXTENSION account');
like($stderr, qr/schema "accounts" is not empty/, 'CREATE EXTENSION refuses a non-empty schema');
$node->safe_psql('mallorys', 'DROP SCHEMA accounts CASCADE');
$node->safe_psql('mallorys', 'CREATE EXTENSION account');
pass('CREATE EXTENSION works once the schema is gone');

# 4. later, an administrator grants CREATE on the schema and EXECUTE on the
#    management functions; mallory plants look-alikes of everything a
#    SECURITY DEFINER body could resolve by name
$node->safe_psql('mallorys', q{
	GRANT CREATE ON SCHEMA accounts TO mallory;
	GRANT USAGE ON SCHEMA accounts TO mallory;
	GRANT EXECUTE ON FUNCTION accounts.remove_identifier(uuid, text, text),
	      accounts.create_account_type(text), accounts.create_identifier_type(text, text, text, boolean),
	      accounts.drop_identifier_type(text, text), accounts.drop_account_type(text),
	      accounts.find_or_create_account(text, text, text), accounts.add_identifier(uuid, text, text)
	   TO mallory;
});
my $escalate = q{LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'ALTER ROLE mallory SUPERUSER'; END $$};
$node->safe_psql('mallorys', qq{
	CREATE FUNCTION accounts.raise_if_null(arg uuid, name text) RETURNS void $escalate;
	CREATE FUNCTION accounts.raise_if_null(arg text, name text) RETURNS void $escalate;
	CREATE FUNCTION accounts.raise_if_null(arg boolean, name text) RETURNS void $escalate;
	CREATE FUNCTION accounts.normalize_identifier(VARIADIC v text[]) RETURNS text
	  LANGUAGE plpgsql AS \$\$ BEGIN EXECUTE 'ALTER ROLE mallory SUPERUSER'; RETURN v[3]; END \$\$;
	CREATE FUNCTION accounts.normalize_identifier(a varchar, b varchar, c varchar) RETURNS text
	  LANGUAGE plpgsql AS \$\$ BEGIN EXECUTE 'ALTER ROLE mallory SUPERUSER'; RETURN c; END \$\$;
}, extra_params => [ '-U', 'mallory' ]);

my $id = $node->safe_psql('mallorys', q{
	SELECT account_id FROM accounts.find_or_create_account('user', 'reference_id', 'victim-1')},
	extra_params => [ '-U', 'mallory' ]);
for my $call (
	q{SELECT accounts.create_account_type('shop')},
	q{SELECT accounts.create_identifier_type('shop', 'email', 'email')},
	qq{SELECT accounts.add_identifier('$id', 'reference_id', 'victim-2')},
	qq{SELECT accounts.remove_identifier('$id', 'reference_id', 'victim-2')},
	q{SELECT accounts.drop_identifier_type('shop', 'email')},
	q{SELECT accounts.drop_account_type('shop')})
{
	my ($r, $o, $e) = $node->psql('mallorys', $call, extra_params => [ '-U', 'mallory' ]);
	is($r, 0, "mallory may call: $call") or diag($e);
}
is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}),
	'f', 'no SECURITY DEFINER function ran a look-alike: mallory is not superuser');

$node->stop;
done_testing();
