# Rows that associate themselves with accounts, under load: many clients
# insert inquiries carrying a few hot reference ids (in varying case and
# padding) through accounts.assign_account().  Afterwards there is one
# account per reference id, every row points at it, and no client erred.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('trigger');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 60\nfsync = off");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION account;
	CREATE TABLE inquiries (id bigserial PRIMARY KEY, reference_id text NOT NULL, account_id uuid);
	CREATE TRIGGER assign BEFORE INSERT OR UPDATE OF reference_id ON inquiries
	    FOR EACH ROW EXECUTE FUNCTION
	    accounts.assign_account('user', 'reference_id', 'reference_id', 'account_id');
});

my $clients = 20;
my $txns = 200;
$node->pgbench(
	"--no-vacuum --client=$clients --jobs=4 --transactions=$txns",
	0,
	[
		qr{processed: @{[ $clients * $txns ]}/@{[ $clients * $txns ]}},
		qr{number of failed transactions: 0 }
	],
	[qr{^$}],
	'20 clients insert inquiries with 8 hot reference ids, no errors',
	{
		'003_trigger' => q{
\set r random(1, 8)
\set style random(0, 2)
INSERT INTO inquiries (reference_id)
VALUES (CASE :style WHEN 0 THEN 'ref-' || :r WHEN 1 THEN 'REF-' || :r ELSE ' Ref-' || :r || ' ' END);
}
	});

is($node->safe_psql('postgres', 'SELECT count(*) FROM inquiries'),
	$clients * $txns, 'every row was inserted');
is( $node->safe_psql(
		'postgres', q{
	SELECT count(*) FROM (SELECT lower(btrim(reference_id)) FROM inquiries
	                       GROUP BY 1 HAVING count(DISTINCT account_id) <> 1) bad}),
	'0',
	'one account per reference id across all rows');
is( $node->safe_psql(
		'postgres', q{
	SELECT count(*) FROM inquiries
	 WHERE account_id IS DISTINCT FROM accounts.find_account('user', 'reference_id', reference_id)}),
	'0',
	'every row points at the stored account of its reference id');
is( $node->safe_psql(
		'postgres', q{
	SELECT (SELECT count(*) FROM accounts.accounts), (SELECT count(*) FROM accounts.identifiers)}),
	'8|8',
	'exactly 8 accounts and 8 identifiers');

$node->stop;
done_testing();
