# On a streaming hot standby: finding works, find_or_create_account for an
# existing identifier works, creating raises 25006 with a hint to call the
# primary; an account created on the primary is found once replay caught up.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION account;
	SELECT accounts.find_or_create_account('user', 'reference_id', 'existing');
});
$primary->backup('base');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);

my $id = $primary->safe_psql('postgres', q{SELECT accounts.find_account('user', 'reference_id', 'existing')});
is($standby->safe_psql('postgres', q{SELECT pg_is_in_recovery()}), 't', 'the standby is in recovery');
is($standby->safe_psql('postgres', q{SELECT accounts.find_account('user', 'reference_id', ' EXISTING ')}),
	$id, 'find_account works on the standby');
is($standby->safe_psql('postgres',
		q{SELECT account_id || ' ' || created FROM accounts.find_or_create_account('user', 'reference_id', 'existing')}),
	"$id false", 'find_or_create_account finds an existing identifier on the standby');
is($standby->safe_psql('postgres',
		q{SELECT count(*) FROM accounts.find_or_create_accounts('user', 'reference_id', ARRAY['existing', 'EXISTING'])}),
	'2', 'the bulk function finds existing identifiers on the standby');

my ($ret, $out, $err) = $standby->psql('postgres',
	q{SELECT accounts.find_or_create_account('user', 'reference_id', 'brand-new')});
isnt($ret, 0, 'creating on the standby fails');
like($err, qr/ERROR:  cannot create an account for reference_id "brand-new"/, 'with a clear message');
like($err, qr/HINT:  This server is a hot standby; call the primary to create accounts\./, 'and a hint to call the primary');
is($standby->safe_psql('postgres',
		q{SELECT error_code FROM accounts.try_find_or_create_account('user', 'reference_id', 'brand-new')}),
	'25006', 'the SQLSTATE is 25006');

$primary->safe_psql('postgres', q{SELECT accounts.find_or_create_account('user', 'reference_id', 'brand-new')});
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', q{SELECT accounts.find_account('user', 'reference_id', 'brand-new')}),
	$primary->safe_psql('postgres', q{SELECT accounts.find_account('user', 'reference_id', 'brand-new')}),
	'an account created on the primary is found on the standby after replay');


# the journal is read on the primary: a standby cannot see what is still
# being written there (src/journal.c), so it refuses instead of skipping
($ret, $out, $err) = $standby->psql('postgres', q{SELECT count(*) FROM accounts.events_since(0)});
isnt($ret, 0, 'events_since on the standby fails');
like($err, qr/ERROR:  accounts.events_since\(\) cannot run on a hot standby/, 'with a clear message');
like($err, qr/HINT:  Read the journal on the primary\./, 'and a hint');
is($primary->safe_psql('postgres', q{SELECT count(*) > 0 FROM accounts.events_since(0)}), 't',
	'the primary serves the journal');

$standby->stop;
$primary->stop;
done_testing();
