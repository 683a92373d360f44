# The change journal under load, with a crash (issue #14): 16 writers for
# JOURNAL_SECONDS (5 s; 30 s with ACCOUNT_FULL=1) change accounts in every way the extension
# offers, some transactions rolled back, while two consumers read
# accounts.events_since() in a loop, recording what they got and their
# position in one transaction (test/clients/journal.py).  The server is
# crashed (-m immediate) and restarted during the run; everyone reconnects
# and the consumers continue from their stored position.  Then: each
# consumer got every committed event exactly once, in order, and replaying
# the events gives the tables.  amcheck runs on every btree.
use strict;
use warnings;

use IPC::Run qw(start finish);
use Time::HiRes qw(usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Basename qw(dirname);

if (system('python3 -c "import psycopg" 2>/dev/null') != 0)
{
	plan skip_all => 'python3-psycopg is not installed';
}

my $node = PostgreSQL::Test::Cluster->new('journal');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 40\nlog_min_messages = warning\ndeadlock_timeout = 100ms");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION account;
	CREATE EXTENSION amcheck;
	SELECT accounts.create_identifier_type('user', 'email', 'email');
	CREATE TABLE journal_consumers (name text PRIMARY KEY, last bigint NOT NULL);
	INSERT INTO journal_consumers VALUES ('c0', 0), ('c1', 0);
	CREATE TABLE journal_consumed (ord bigserial PRIMARY KEY, consumer text NOT NULL, seq bigint NOT NULL,
	                               kind text NOT NULL, account_id uuid, detail jsonb NOT NULL);
	CREATE INDEX ON journal_consumed (consumer, seq);
});

my $seconds = $ENV{JOURNAL_SECONDS} // ($ENV{ACCOUNT_FULL} ? 30 : 5);
my $script = dirname(__FILE__) . '/../clients/journal.py';
my ($out, $err) = ('', '');
my $conninfo = $node->connstr('postgres');
# the clients run until this file exists: the crash must come while they
# run, however slow the machine
my $stop = "$PostgreSQL::Test::Utils::tmp_check/journal_stop";
unlink $stop;
my $run = start([ 'python3', $script ], '>', \$out, '2>', \$err,
	init => sub {
		$ENV{JOURNAL_CONNINFO} = $conninfo;
		$ENV{JOURNAL_SECONDS} = $seconds;
		$ENV{JOURNAL_STOP_FILE} = $stop;
	});

# crash in the middle of the run, once the consumers are under way
my $consumed = 0;
for (1 .. 600)
{
	$consumed = $node->safe_psql('postgres', 'SELECT count(*) FROM journal_consumed');
	last if $consumed >= 2000;
	usleep(50_000);
}
sleep($seconds / 3);
my $before = $node->safe_psql('postgres', 'SELECT max(seq) FROM accounts.events');
$node->stop('immediate');
$node->start;
# the clients reconnect and write on: wait for events after the crash,
# let them run a while more, then stop them
for (1 .. 1200)
{
	last if $node->safe_psql('postgres', 'SELECT coalesce(max(seq), 0) FROM accounts.events') > ($before // 0);
	usleep(50_000);
}
sleep($seconds / 3);
open my $fh, '>', $stop or die "$stop: $!";
close $fh;
my $ok = finish($run);
note($out);
diag($err) if $err;

cmp_ok($consumed, '>=', 2000, "the consumers were reading before the crash ($consumed events)");
my ($tx) = $out =~ /^count transactions (\d+)$/m;
cmp_ok($tx // 0, '>', 1000, 'thousands of writing transactions');
my ($lost) = $out =~ /^count connection lost (\d+)$/m;
cmp_ok($lost // 0, '>=', 18, 'every client saw the crash and reconnected');
for my $op ('merge', 'redact', 'bulk', 'multi', 'tag/untag', 'remove_identifier')
{
	my ($n) = $out =~ /^count op \Q$op\E (\d+)$/m;
	cmp_ok($n // 0, '>', 0, "writers did $op");
}
my ($rolled) = $out =~ /^count rolled back (\d+)$/m;
cmp_ok($rolled // 0, '>', 50, 'some transactions rolled back');
my ($max_seq) = $out =~ /^max seq (\d+)$/m;
cmp_ok($max_seq // 0, '>', $before // 0, "events committed before and after the crash (seq $before, then up to $max_seq)");
like($out, qr/^failures 0$/m, 'no client error that is not documented, no failed check');
for my $c ('c0', 'c1')
{
	for my $what ('missing', 'extra', 'twice', 'order')
	{
		like($out, qr/^check $c-$what 0$/m, "consumer $c: no event $what");
	}
}
for my $what ('accounts-without-created-event', 'created-events-without-account', 'accounts-created-twice',
	'status-differs', 'tags-differ', 'identifiers-differ')
{
	like($out, qr/^check $what 0$/m, "replaying the events gives the tables: $what 0");
}
ok($ok, 'driver exited 0');

my $q = sub { $node->safe_psql('postgres', shift) };
is($q->(q{SELECT count(*) FROM accounts.identifiers i
           WHERE NOT EXISTS (SELECT 1 FROM accounts.accounts a WHERE a.id = i.account_id)}), '0',
	'foreign-key audit: no dangling identifier');
is($q->(q{SELECT count(*) FROM accounts.accounts a WHERE a.status IN ('active', 'archived')
           AND NOT EXISTS (SELECT 1 FROM accounts.identifiers i WHERE i.account_id = a.id)}), '0',
	'no live account without an identifier');
is($q->(q{SELECT count(*) FROM accounts.events e JOIN accounts.accounts a ON a.id = e.account_id
           WHERE e.detail::text ~ '@' AND a.status = 'redacted'}), '0',
	'no erased value is left in a redacted account\'s events');
my $checked = $q->(q{
	SELECT count(bt_index_parent_check(c.oid, true))
	  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	 WHERE c.relnamespace = 'accounts'::regnamespace AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'btree')});
cmp_ok($checked, '>=', 7, "amcheck: $checked indexes consistent");

# after recovery, new events continue above every committed one
my $max = $q->(q{SELECT max(seq) FROM accounts.events});
$q->(q{SELECT accounts.find_or_create_account('user', 'reference_id', 'after-the-run')});
cmp_ok($q->(q{SELECT max(seq) FROM accounts.events}), '>', $max, 'seq goes on increasing');

$node->stop;
done_testing();
