# pg_upgrade from an older PostgreSQL major with the extension installed:
# every row and id survives, the upgraded cluster finds the old accounts,
# creates new ones, and its indexes pass amcheck.
#
# Needs two installations side by side, both with the extension installed:
# ACCOUNT_UPGRADE_FROM names the older one's prefix; the running
# PostgreSQL's binaries are the newer one.  scripts/matrix.sh runs it in
# the Debian 13 root: from 16.2 built from source to Debian's 17.  (Not
# from the host's 15: Debian's 15.20 stores a column option, pg_attver,
# that 16.2 does not know, so pg_upgrade from 15.20 to 16.2 fails for any
# table, with or without this extension.)
use strict;
use warnings;

use Cwd;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $old_path = $ENV{ACCOUNT_UPGRADE_FROM};
plan skip_all => 'ACCOUNT_UPGRADE_FROM is not set (scripts/matrix.sh sets it on 17)'
  unless $old_path;

my $old = PostgreSQL::Test::Cluster->new('old', install_path => $old_path);
$old->init;
$old->start;
$old->safe_psql('postgres', q{
	CREATE EXTENSION account;
	CREATE EXTENSION amcheck;
	SELECT accounts.create_account_type('customer');
	SELECT accounts.create_identifier_type('customer', 'email', 'email');
	SELECT accounts.find_or_create_account('user', 'reference_id', 'U-' || i) FROM generate_series(1, 2000) i;
	SELECT accounts.find_or_create_account('customer', ARRAY[('email', 'p' || i || '@example.com')]::accounts.identifier[])
	  FROM generate_series(1, 200) i;
});
my $old_version = $old->safe_psql('postgres', 'SHOW server_version_num');
my $rows_sql = q{
	SELECT count(*) || ' ' || md5(string_agg(a.id::text || a.account_type || a.created_at
	                             || i.id_type || i.value || i.created_at, ',' ORDER BY i.value))
	  FROM accounts.accounts a JOIN accounts.identifiers i ON i.account_id = a.id};
my $events_sql = q{SELECT count(*) || ' ' || max(seq) || ' ' || md5(string_agg(e::text, ',' ORDER BY seq))
                     FROM accounts.events_since(0, 100000) e};
my $rows_before = $old->safe_psql('postgres', $rows_sql);
my $events_before = $old->safe_psql('postgres', $events_sql);
like($events_before, qr/^2203 /, 'the journal on the old cluster: 2200 accounts, a type and two identifier types');
like($rows_before, qr/^2200 /, '2200 accounts on the old cluster');
my $id = $old->safe_psql('postgres', q{SELECT accounts.find_account('user', 'reference_id', 'U-42')});
my $extversion = $old->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'account'});
$old->stop;

my $new = PostgreSQL::Test::Cluster->new('new');
$new->init;
my $bindir = $new->config_data('--bindir');

# pg_upgrade writes its logs into the current directory on older majors
my $cwd = getcwd();
chdir(PostgreSQL::Test::Utils::tempdir()) or die;
command_ok(
	[
		"$bindir/pg_upgrade", '--no-sync',
		'-d', $old->data_dir, '-D', $new->data_dir,
		'-b', "$old_path/bin", '-B', $bindir,
		'-p', $old->port, '-P', $new->port
	],
	"pg_upgrade from $old_version");
chdir($cwd) or die;

$new->start;
cmp_ok($new->safe_psql('postgres', 'SHOW server_version_num'), '>', $old_version, 'a newer major');
is($new->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'account'}),
	$extversion, 'the extension version is kept');
is($new->safe_psql('postgres', $rows_sql), $rows_before, 'every row and id is kept');
is($new->safe_psql('postgres', $events_sql), $events_before, 'every event is kept, with its seq');
is($new->safe_psql('postgres', q{SELECT account_id || ' ' || created FROM accounts.find_or_create_account('user', 'reference_id', 'u-42')}),
	"$id false", 'an old account is found');
is($new->safe_psql('postgres', q{SELECT created FROM accounts.find_or_create_account('user', 'reference_id', 'after-upgrade')}),
	't', 'a new account is created');
my ($n, $max) = split / /, $events_before;
is($new->safe_psql('postgres', qq{SELECT count(*) || ' ' || bool_and(seq > $max) FROM accounts.events_since($max)}),
	'1 true', 'its event follows the old ones');
is($new->safe_psql('postgres', q{SELECT created FROM accounts.find_or_create_account('customer', 'email', 'P7@EXAMPLE.COM')}),
	'f', 'the normalized identifiers still match');
is( $new->safe_psql(
		'postgres', q{
	SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	 CROSS JOIN LATERAL bt_index_parent_check(i.indexrelid, true)
	 WHERE c.relnamespace = 'accounts'::regnamespace AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'btree')}),
	$new->safe_psql('postgres', q{SELECT count(*) FROM pg_class c
	 WHERE c.relnamespace = 'accounts'::regnamespace AND c.relkind = 'i'
	   AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'btree')}),
	'amcheck: every btree index of the extension and its heap entries check out');
is( $new->safe_psql(
		'postgres', q{
	SELECT count(*) FROM accounts.identifiers i
	 WHERE NOT EXISTS (SELECT FROM accounts.accounts a WHERE a.id = i.account_id)}),
	'0', 'no identifier without its account');
$new->stop;
done_testing();
