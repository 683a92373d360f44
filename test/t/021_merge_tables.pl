# Merges of unrelated accounts never deadlock, whatever tables
# assign_account() manages (src/lifecycle.c, repoint_assigned:
# CONCURRENCY).  Two trigger-managed tables; 8 clients, each merging its
# own pairs of accounts (no account shared between clients), all at once,
# at READ COMMITTED and REPEATABLE READ; every merge must succeed and
# every managed row end on its survivor.  With the tables locked IN SHARE
# MODE (1.6) two merges that both held the table before either updated it
# deadlocked; test/specs/merge_tables.spec makes that order certain.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $clients = 8;
my $pairs = $ENV{ACCOUNT_FULL} ? 100 : 20;
my $node = PostgreSQL::Test::Cluster->new('merge_tables');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 40\ndeadlock_timeout = 50ms");
$node->start;
$node->safe_psql('postgres', qq{
	CREATE EXTENSION account;
	CREATE TABLE inquiries (id bigserial PRIMARY KEY, ref text, account_id uuid);
	CREATE TABLE cases (id bigserial PRIMARY KEY, ref text, account_id uuid);
	CREATE INDEX ON inquiries (account_id);
	CREATE INDEX ON cases (account_id);
	CREATE TRIGGER assign BEFORE INSERT ON inquiries FOR EACH ROW EXECUTE FUNCTION
	    accounts.assign_account('user', 'reference_id', 'ref', 'account_id');
	CREATE TRIGGER assign BEFORE INSERT ON cases FOR EACH ROW EXECUTE FUNCTION
	    accounts.assign_account('user', 'reference_id', 'ref', 'account_id');
});

for my $level ('READ COMMITTED', 'REPEATABLE READ')
{
	my $tag = $level =~ /READ COMMITTED/ ? 'rc' : 'rr';
	# every client's pairs: a (kept) and b (merged into a), each with rows
	# in both tables
	$node->safe_psql('postgres', qq{
		INSERT INTO inquiries (ref) SELECT '$tag-' || c || '-' || p || '-' || s
		  FROM generate_series(1, $clients) c, generate_series(1, $pairs) p, unnest(ARRAY['a', 'b']) s;
		INSERT INTO cases (ref) SELECT '$tag-' || c || '-' || p || '-' || s
		  FROM generate_series(1, $clients) c, generate_series(1, $pairs) p, unnest(ARRAY['a', 'b']) s;
	});
	my @h;
	my @err = ('') x $clients;
	for my $c (1 .. $clients)
	{
		my $sql = join '', map {
			"BEGIN ISOLATION LEVEL $level;\n"
			  . "SELECT accounts.merge_accounts(accounts.find_account('user', 'reference_id', '$tag-$c-$_-a'),"
			  . " ARRAY[accounts.find_account('user', 'reference_id', '$tag-$c-$_-b')]);\nCOMMIT;\n"
		} 1 .. $pairs;
		push @h, IPC::Run::start([ 'psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=0', '-d', $node->connstr('postgres'), '-f', '-' ],
			'<', \$sql, '>', \my $out, '2>', \$err[ $c - 1 ]);
	}
	$_->finish for @h;
	my @errors = grep { $_ ne '' } @err;
	is(scalar(@errors), 0, "$level: $clients clients merging their own pairs over two managed tables: no error")
		or diag(join '', map { (split /\n/)[0] . "\n" } @errors[ 0 .. ($#errors < 4 ? $#errors : 4) ]);
	is($node->safe_psql('postgres', qq{SELECT count(*) FROM accounts.accounts a JOIN accounts.identifiers i ON i.account_id = a.id
		WHERE i.value LIKE '$tag-%-b' AND a.status = 'merged'}), '0', "$level: every merge moved its reference id");
	is($node->safe_psql('postgres', qq{SELECT count(*) FROM accounts.accounts WHERE status = 'merged' AND id IN
		(SELECT account_id FROM inquiries WHERE ref LIKE '$tag-%' UNION ALL SELECT account_id FROM cases WHERE ref LIKE '$tag-%')}),
		'0', "$level: no managed row points at a merged account");
	is($node->safe_psql('postgres', qq{SELECT count(DISTINCT account_id) FROM (SELECT account_id FROM inquiries WHERE ref LIKE '$tag-%'
		UNION ALL SELECT account_id FROM cases WHERE ref LIKE '$tag-%') r}), $clients * $pairs, "$level: one survivor per pair");
}

$node->stop;
done_testing();
