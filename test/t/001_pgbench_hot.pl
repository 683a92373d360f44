# Many clients on a few hot identifiers and many new ones, through pgbench.
#
# Every call records what it got.  Afterwards: one account per identifier,
# created = true exactly once per identifier, every caller got the stored
# account id, no orphan accounts, and no client error.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('hot');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 60\nfsync = off");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION account;
	CREATE TABLE calls (client int, key text, account_id uuid, created boolean);
});

my $clients = 16;
my $txns = 300;

# Each transaction asks for one hot identifier (40 of them, spelled in
# varying case and padding) and one from a larger pool of new ones, in two
# separate autocommit statements.
$node->pgbench(
	"--no-vacuum --client=$clients --jobs=4 --transactions=$txns",
	0,
	[
		qr{processed: @{[ $clients * $txns ]}/@{[ $clients * $txns ]}},
		qr{number of failed transactions: 0 }
	],
	[qr{^$}],
	'16 clients find-or-create hot and new identifiers without errors',
	{
		'001_hot' => q{
\set h random(1, 40)
\set n random(1, 1500)
\set upper random(0, 1)
INSERT INTO calls SELECT :client_id, 'hot-' || :h, account_id, created
  FROM accounts.find_or_create_account('user', 'reference_id',
       CASE WHEN :upper = 1 THEN ' HOT-' || :h ELSE 'hot-' || :h || E'\t' END);
INSERT INTO calls SELECT :client_id, 'new-' || :n, account_id, created
  FROM accounts.find_or_create_account('user', 'reference_id', 'new-' || :n);
}
	});

my $total = $clients * $txns * 2;
is($node->safe_psql('postgres', 'SELECT count(*) FROM calls'),
	$total, 'every call was recorded');

is( $node->safe_psql(
		'postgres', q{
	SELECT count(*) FROM (
	  SELECT key FROM calls GROUP BY key
	  HAVING count(DISTINCT account_id) <> 1
	      OR count(*) FILTER (WHERE created) <> 1) bad}),
	'0',
	'per identifier: one account id for every caller, created = true exactly once');

is( $node->safe_psql(
		'postgres', q{
	SELECT count(*) FROM calls c
	 WHERE c.account_id IS DISTINCT FROM
	       (SELECT i.account_id FROM accounts.identifiers i
	         WHERE i.account_type = 'user' AND i.id_type = 'reference_id'
	           AND i.value = c.key)}),
	'0',
	'every caller got the account id that is stored for its identifier');

is( $node->safe_psql(
		'postgres', q{
	SELECT (SELECT count(DISTINCT key) FROM calls)
	     = (SELECT count(*) FROM accounts.identifiers)
	   AND (SELECT count(*) FROM accounts.identifiers)
	     = (SELECT count(*) FROM accounts.accounts)}),
	't',
	'one account and one identifier row per distinct identifier');

is( $node->safe_psql(
		'postgres', q{
	SELECT count(*) FROM accounts.accounts a
	 WHERE NOT EXISTS (SELECT 1 FROM accounts.identifiers i WHERE i.account_id = a.id)}),
	'0',
	'no orphan accounts');

is( $node->safe_psql(
		'postgres',
		q{SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'}),
	'0',
	'no advisory lock outlives its transaction');

$node->stop;
done_testing();
