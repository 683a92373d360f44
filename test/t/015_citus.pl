# The Citus guard (issue #15, its first step): on a node of a Citus cluster
# the extension's tables hold only that node's rows (or are empty shells of
# distributed tables), so every C entry point refuses to run there with
# 0A000 instead of silently giving one identifier a different account on
# every node.  A coordinator and two workers, each its own cluster on a unix
# socket.  Skipped when Citus is not installed (scripts/matrix.sh builds it
# from ../shared/citus in the PostgreSQL 17 root).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $pkglibdir = `pg_config --pkglibdir`;
chomp $pkglibdir;
if (!-f "$pkglibdir/citus.so")
{
	plan skip_all => "Citus is not installed ($pkglibdir/citus.so); scripts/matrix.sh builds it from ../shared/citus on 17";
}

my @nodes;
for my $name ('coordinator', 'worker1', 'worker2')
{
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', "shared_preload_libraries = 'citus'\nmax_prepared_transactions = 20");
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION citus');
	push @nodes, $node;
}
my ($coord, @workers) = @nodes;
$coord->safe_psql('postgres', "SELECT citus_set_coordinator_host('" . $coord->host . "', " . $coord->port . ")");
for my $w (@workers)
{
	$coord->safe_psql('postgres', "SELECT citus_add_node('" . $w->host . "', " . $w->port . ")");
}
is($coord->safe_psql('postgres', 'SELECT count(*) FROM citus_get_active_worker_nodes()'), '2', 'a coordinator and two workers');

# Citus propagates CREATE EXTENSION from the coordinator to the workers
# (and refuses most DDL on a worker): set up on the coordinator
$coord->safe_psql('postgres', q{
	CREATE EXTENSION account;
	CREATE TABLE inquiries (id int, ref text, account_id uuid);
	CREATE TRIGGER assign BEFORE INSERT ON inquiries FOR EACH ROW EXECUTE FUNCTION
	    accounts.assign_account('user', 'reference_id', 'ref', 'account_id');
});
for my $w (@workers)
{
	is($w->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'account'}),
		$coord->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'account'}),
		$w->name . ': the extension is there');
}

my @calls = (
	[ 'find_or_create_account', q{SELECT * FROM accounts.find_or_create_account('user', 'reference_id', 'usr_1')} ],
	[ 'the composite form', q{SELECT * FROM accounts.find_or_create_account('user', ROW('reference_id', 'usr_1')::accounts.identifier)} ],
	[ 'find_or_create_accounts', q{SELECT * FROM accounts.find_or_create_accounts('user', 'reference_id', ARRAY['usr_1', 'usr_2'])} ],
	[ 'the multi-identifier form', q{SELECT * FROM accounts.find_or_create_account('user', ARRAY[ROW('reference_id', 'usr_1'), ROW('email', 'a@example.com')]::accounts.identifier[])} ],
	[ 'find_account', q{SELECT accounts.find_account('user', 'reference_id', 'usr_1')} ],
	[ 'add_identifier', q{SELECT accounts.add_identifier(gen_random_uuid(), 'email', 'a@example.com')} ],
	[ 'merge_accounts', q{SELECT accounts.merge_accounts(gen_random_uuid(), ARRAY[gen_random_uuid()])} ],
	[ 'redact_account', q{SELECT accounts.redact_account(gen_random_uuid())} ],
	[ 'tag_account', q{SELECT accounts.tag_account(gen_random_uuid(), ARRAY['vip'])} ],
	[ 'get_account', q{SELECT * FROM accounts.get_account(gen_random_uuid())} ],
	[ 'find_accounts', q{SELECT * FROM accounts.find_accounts('user', 'reference_id', ARRAY['usr_1'])} ],
	[ 'create_account_type', q{SELECT accounts.create_account_type('customer')} ],
	[ 'create_identifier_type', q{SELECT accounts.create_identifier_type('user', 'email', 'email')} ],
	[ 'drop_identifier_type', q{SELECT accounts.drop_identifier_type('user', 'email')} ],
	[ 'drop_account_type', q{SELECT accounts.drop_account_type('customer')} ],
	[ 'remove_identifier', q{SELECT accounts.remove_identifier(gen_random_uuid(), 'reference_id', 'usr_1')} ],
);
for my $node (@nodes)
{
	for my $c (@calls)
	{
		my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n" . $c->[1]);
		like($err, qr/0A000: extension "account" does not run on a Citus cluster yet/,
			$node->name . ": $c->[0] refuses with 0A000");
	}
	# try_ returns the refusal as a row
	is($node->safe_psql('postgres', q{SELECT error_code FROM accounts.try_find_or_create_account('user', 'reference_id', 'usr_1')}),
		'0A000', $node->name . ': try_find_or_create_account returns 0A000');
	is($node->safe_psql('postgres', q{SELECT (SELECT count(*) FROM accounts.accounts) + (SELECT count(*) FROM accounts.identifiers)
	                                           + (SELECT count(*) FROM accounts.account_types WHERE name <> 'user')
	                                           + (SELECT count(*) FROM accounts.identifier_types WHERE name <> 'reference_id')}),
		'0', $node->name . ': nothing written');
}
my ($ret, $out, $err) = $coord->psql('postgres', "\\set VERBOSITY verbose\nINSERT INTO inquiries VALUES (1, 'usr_1')");
like($err, qr/0A000: extension "account" does not run on a Citus cluster yet/, 'the trigger refuses with 0A000');
is($coord->safe_psql('postgres', 'SELECT count(*) FROM inquiries'), '0', 'and its row is not inserted');

# without the citus extension in the database nothing changes, even with
# Citus preloaded
$coord->safe_psql('postgres', 'CREATE DATABASE plain');
$coord->safe_psql('plain', 'CREATE EXTENSION account');
is($coord->safe_psql('plain', q{SELECT created FROM accounts.find_or_create_account('user', 'reference_id', 'usr_1')}),
	't', 'a database without the citus extension works as before');
is($coord->safe_psql('plain', q{SELECT created FROM accounts.find_or_create_account('user', 'reference_id', 'USR_1')}),
	'f', 'and finds');

$_->stop for @nodes;
done_testing();
