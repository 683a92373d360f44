# Upgrades as safe as fresh installs (sql/parts/00_guard.sql, THE TRUST
# GUARD): versions before 1.6 let another role own schema accounts.  For
# every version the update chain starts from, in a database that role
# owns (so it may create schemas), with the schema given to it as the old
# versions allowed:
#
#   a. it renamed the schema and made a new accounts with its own function
#      in it: ALTER EXTENSION UPDATE refuses (42501) and changes nothing;
#   b. it planted a function in accounts: the update refuses (42501);
#   c. it made schema accounts_internal before the update to 1.7: the
#      update refuses (42P06);
#   d. it did nothing: the update gives both schemas to the extension's
#      owner and revokes CREATE from everyone else; afterwards the role can
#      neither rename the schema nor create anything in it, and is no
#      superuser.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade_trust');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE ROLE mallory LOGIN');
my $current = $node->safe_psql('postgres', q{SELECT default_version FROM pg_available_extensions WHERE name = 'account'});
my @starts = grep { $_ ne $current } split /\n/, $node->safe_psql('postgres',
	q{SELECT version FROM pg_available_extension_versions WHERE name = 'account' ORDER BY string_to_array(version, '.')::int[]});
ok(scalar(@starts) >= 6, 'versions to update from: ' . join(' ', @starts));

my $n = 0;
# a database owned by mallory with version $v installed by the superuser,
# schema accounts then given to mallory, with CREATE for everyone
sub old_install
{
	my ($v) = @_;
	my $db = 'trust_' . ++$n;
	$node->safe_psql('postgres', "CREATE DATABASE $db OWNER mallory");
	$node->safe_psql($db, qq{CREATE EXTENSION account VERSION '$v';
		ALTER SCHEMA accounts OWNER TO mallory; GRANT CREATE ON SCHEMA accounts TO PUBLIC});
	return $db;
}
sub version_of { return $node->safe_psql($_[0], q{SELECT extversion FROM pg_extension WHERE extname = 'account'}); }
sub as_mallory
{
	my ($db, $sql) = @_;
	my ($ret, $out, $err) = $node->psql($db, $sql, extra_params => [ '-U', 'mallory', '-v', 'VERBOSITY=verbose' ]);
	return ($ret, $err);
}
sub update
{
	my ($db) = @_;
	my ($ret, $out, $err) = $node->psql($db, 'ALTER EXTENSION account UPDATE', extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	return ($ret, $err);
}

for my $v (@starts)
{
	# a. renamed, and a new accounts in its place
	my $db = old_install($v);
	my ($ret, $err) = as_mallory($db, q{ALTER SCHEMA accounts RENAME TO accounts_old; CREATE SCHEMA accounts;
		CREATE FUNCTION accounts.planted() RETURNS void LANGUAGE sql AS 'SELECT 1'});
	is($ret, 0, "$v: the old owner renamed the schema") or diag($err);
	($ret, $err) = update($db);
	isnt($ret, 0, "$v, schema renamed: ALTER EXTENSION UPDATE refuses");
	like($err, qr/42501: the schema of extension "account" is named "accounts_old"/, "$v, schema renamed: with 42501 naming it");
	is(version_of($db), $v, "$v, schema renamed: nothing changed");

	# b. a function planted in accounts
	$db = old_install($v);
	($ret, $err) = as_mallory($db, q{CREATE FUNCTION accounts.change_tags(uuid, text[], boolean, int) RETURNS void LANGUAGE sql AS 'SELECT'});
	is($ret, 0, "$v: the old owner planted a function") or diag($err);
	($ret, $err) = update($db);
	like($err, qr/42501: schema "accounts" holds objects that are not the extension's.*function accounts.change_tags/s,
		"$v, planted function: the update refuses with 42501 naming it");
	is(version_of($db), $v, "$v, planted function: nothing changed");

	# c. accounts_internal made in advance
	if ($node->safe_psql('postgres', "SELECT string_to_array('$v', '.')::int[] < '{1,7}'") eq 't')
	{
		$db = old_install($v);
		($ret, $err) = as_mallory($db, q{CREATE SCHEMA accounts_internal});
		($ret, $err) = update($db);
		like($err, qr/42P06: schema "accounts_internal" exists already and is not the extension's/,
			"$v, accounts_internal made by the old owner: the update refuses with 42P06");
		is(version_of($db), $v, "$v, accounts_internal made in advance: nothing changed");
	}

	# d. nothing planted: the update takes the schemas back
	$db = old_install($v);
	($ret, $err) = update($db);
	is($ret, 0, "$v, schema owned by another role: the update goes through") or diag($err);
	like($err, qr/WARNING:  01000: schema "accounts" was owned by role mallory; it belongs to the extension's owner/, "$v: it says it took the schema");
	is(version_of($db), $current, "$v: updated to $current");
	is($node->safe_psql($db, q{SELECT string_agg(nspname || ' ' || (nspowner = (SELECT extowner FROM pg_extension WHERE extname = 'account'))
			|| ' ' || coalesce((SELECT string_agg(a.grantee::regrole::text, ',') FROM aclexplode(nspacl) a
			                     WHERE a.privilege_type = 'CREATE' AND a.grantee <> nspowner), '-'), '; ' ORDER BY nspname)
		FROM pg_namespace WHERE nspname IN ('accounts', 'accounts_internal')}),
		'accounts true -; accounts_internal true -', "$v: both schemas are the extension owner's, and nobody else may create in them");
	($ret, $err) = as_mallory($db, 'ALTER SCHEMA accounts RENAME TO accounts_old');
	like($err, qr/42501: must be owner of schema accounts/, "$v: the old owner cannot rename the schema any more");
	($ret, $err) = as_mallory($db, q{CREATE FUNCTION accounts.planted() RETURNS void LANGUAGE sql AS 'SELECT'});
	like($err, qr/42501: permission denied for schema accounts/, "$v: nor create in it");
	($ret, $err) = as_mallory($db, q{CREATE FUNCTION accounts_internal.planted() RETURNS void LANGUAGE sql AS 'SELECT'});
	like($err, qr/42501: permission denied for schema accounts_internal/, "$v: nor in accounts_internal");
}
is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}), 'f', 'mallory is no superuser');

$node->stop;
done_testing();
