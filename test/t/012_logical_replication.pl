# Logical replication of the extension's four tables (issue #10): with the
# extension created on both sides, the initial copy no longer fails on the
# seeded rows (user, reference_id), later changes stream, and a
# subscriber's cache of identifier types follows registry changes applied
# by the apply worker (the registry triggers are ENABLE ALWAYS).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $pub = PostgreSQL::Test::Cluster->new('publisher');
$pub->init(allows_streaming => 'logical');
$pub->start;
my $sub = PostgreSQL::Test::Cluster->new('subscriber');
$sub->init;
$sub->start;

for my $n ($pub, $sub)
{
	$n->safe_psql('postgres', 'CREATE EXTENSION account');
}
$pub->safe_psql('postgres', q{
	SELECT accounts.create_account_type('merchant');
	SELECT accounts.create_identifier_type('user', 'email', 'email');
	SELECT count(*) FROM accounts.find_or_create_accounts('user', 'reference_id',
	       ARRAY(SELECT 'r-' || n FROM generate_series(1, 200) n));
	SELECT accounts.find_or_create_account('merchant', 'reference_id', 'm-1');
	CREATE PUBLICATION accounts_pub FOR TABLE accounts.account_types, accounts.identifier_types,
	       accounts.accounts, accounts.identifiers;
});

# the subscriber caches the registry before the subscription exists
is($sub->psql('postgres', q{SELECT accounts.find_account('user', 'email', 'x@example.com')}),
	3, 'subscriber: email is unknown before replication (42704)');

my $connstr = $pub->connstr . ' dbname=postgres';
$sub->safe_psql('postgres',
	"CREATE SUBSCRIPTION accounts_sub CONNECTION '$connstr' PUBLICATION accounts_pub");
$sub->wait_for_subscription_sync($pub, 'accounts_sub');

my $snapshot_sql = q{
	SELECT string_agg(line, E'\n' ORDER BY line) FROM (
	  SELECT 'type ' || name AS line FROM accounts.account_types
	  UNION ALL SELECT 'idtype ' || account_type || '/' || name FROM accounts.identifier_types
	  UNION ALL SELECT 'account ' || id || '/' || account_type FROM accounts.accounts
	  UNION ALL SELECT 'ident ' || account_type || '/' || id_type || '/' || value || '/' || account_id
	    FROM accounts.identifiers) s};
is($sub->safe_psql('postgres', $snapshot_sql), $pub->safe_psql('postgres', $snapshot_sql),
	'initial copy: every row, including the seeded registry rows, is on the subscriber once');
# wait_for_subscription_sync() returns once every table is synced ('s') or
# ready ('r'); the apply worker moves 's' to 'r' a moment later
ok( $sub->poll_query_until(
		'postgres', q{SELECT count(*) = 0 FROM pg_subscription_rel WHERE srsubstate <> 'r'}),
	'every table is synchronized');

# the subscriber's cache of identifier types follows the replicated registry
is($sub->safe_psql('postgres', q{SELECT accounts.find_account('user', 'email', 'x@example.com') IS NULL}),
	't', 'subscriber: the replicated email type is known (the cache was invalidated)');

# changes made later stream, including a new type and its use
$pub->safe_psql('postgres', q{
	SELECT accounts.create_identifier_type('user', 'phone', 'phone');
	SELECT accounts.find_or_create_account('user', 'phone', '+1 415 555 0100');
	SELECT accounts.create_account_type('shop');
	SELECT accounts.find_or_create_account('shop', 'reference_id', 's-1');
});
$pub->wait_for_catchup('accounts_sub');
is($sub->safe_psql('postgres', $snapshot_sql), $pub->safe_psql('postgres', $snapshot_sql),
	'later changes are on the subscriber');
is($sub->safe_psql('postgres', q{SELECT accounts.find_account('user', 'phone', '+1 (415) 555-0100') IS NULL}),
	'f', 'subscriber: a type created after the sync is usable at once');
is($sub->safe_psql('postgres', q{
	SELECT accounts.find_account('shop', 'reference_id', 'S-1') = accounts.find_account('shop', 'reference_id', 's-1')}),
	't', 'subscriber: the new account type and its reference_id type arrived');

$pub->safe_psql('postgres', q{DELETE FROM accounts.identifiers WHERE id_type = 'phone'; SELECT accounts.drop_identifier_type('user', 'phone')});
$pub->wait_for_catchup('accounts_sub');
is($sub->psql('postgres', q{SELECT accounts.find_account('user', 'phone', '+14155550100')}),
	3, 'subscriber: a dropped type is unknown at once (42704)');

# the journal replicated too: a reader on the subscriber could skip events
# (the apply worker inserts them in commit order, not seq order), so
# events_since() refuses there, as on a standby
is($sub->safe_psql('postgres', 'SELECT count(*) >= 0 FROM accounts.events_since(0)'), 't',
	'subscriber: its own journal is readable while accounts.events is not subscribed');
$pub->safe_psql('postgres', 'ALTER PUBLICATION accounts_pub ADD TABLE accounts.events');
$sub->safe_psql('postgres', 'ALTER SUBSCRIPTION accounts_sub REFRESH PUBLICATION');
$sub->wait_for_subscription_sync($pub, 'accounts_sub');
my ($ret, $out, $err) = $sub->psql('postgres', "\\set VERBOSITY verbose\nSELECT * FROM accounts.events_since(0)");
like($err, qr/0A000: accounts.events_since\(\) cannot run on a logical-replication subscriber of accounts.events/,
	'subscriber of accounts.events: events_since() refuses with 0A000');
like($err, qr/HINT:  Read the journal on the publisher/, 'and says where to read');
ok($pub->safe_psql('postgres', 'SELECT count(*) FROM accounts.events_since(0)') > 0, 'the publisher reads its journal');

$sub->stop;
$pub->stop;
done_testing();
