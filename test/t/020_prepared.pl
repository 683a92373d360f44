# Prepared transactions (src/prepare.c, PREPARED TRANSACTIONS): a role with
# the application's grants cannot leave a prepared transaction that
# changed accounts behind, so it cannot hold back the readers of the
# change journal; what it may still prepare; the owner's prepared
# transaction and the operator's path (COMMIT PREPARED).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('prepared');
$node->init;
$node->append_conf('postgresql.conf', "max_prepared_transactions = 10\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION account;
	CREATE ROLE app LOGIN;
	SELECT accounts.grant_access('app', 'application');
	SELECT accounts.grant_access('app', 'journal');
	CREATE TABLE app_notes (n int);
	GRANT ALL ON app_notes TO app;
});
my $app = $node->connstr('postgres') . ' user=app';

sub as_app
{
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'psql', '-X', '-At', '-d', $app, '-f', '-' ], '<', \"\\set VERBOSITY verbose\n$sql;\n", '>', \$out, '2>', \$err);
	$err =~ s/^psql:[^:]*:\d+: //mg;
	chomp $out;
	return ($out, $err);
}
sub last_seq { return $node->safe_psql('postgres', 'SELECT coalesce(max(seq), 0) FROM accounts.events_since(0, 100000)'); }

# 1. the application role: a create, then PREPARE TRANSACTION
my ($out, $err) = as_app(q{BEGIN;
	SELECT created FROM accounts.find_or_create_account('user', 'reference_id', 'held_1');
	PREPARE TRANSACTION 'app_held'});
like($err, qr/ERROR:  42501: permission denied to prepare a transaction that changed accounts/,
	'the application role cannot prepare a transaction that created an account (42501)');
like($err, qr/HINT:  Use COMMIT instead/, 'and the hint says what to do');
is($node->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts'), '0', 'nothing is left prepared');
is($node->safe_psql('postgres', q{SELECT accounts.find_account('user', 'reference_id', 'held_1') IS NULL}), 't',
	'and the transaction was rolled back: no account');

# the same for every kind of write the application's grants allow
my $id = $node->safe_psql('postgres', q{SELECT account_id FROM accounts.find_or_create_account('user', 'reference_id', 'base')});
$node->safe_psql('postgres', q{SELECT accounts.create_identifier_type('user', 'email', 'email')});
for my $case ([ 'an attach', qq{SELECT accounts.add_identifier('$id', 'email', 'a\@example.com')} ],
	[ 'a bulk create', q{SELECT count(*) FROM accounts.find_or_create_accounts('user', 'reference_id', ARRAY['b1', 'b2'])} ],
	[ 'a multi-identifier create', q{SELECT created FROM accounts.find_or_create_account('user', ARRAY[ROW('reference_id', 'm1'), ROW('email', 'm1@example.com')]::accounts.identifier[])} ],
	[ 'try_find_or_create_account', q{SELECT created FROM accounts.try_find_or_create_account('user', 'reference_id', 't1')} ])
{
	($out, $err) = as_app("BEGIN; $case->[1]; PREPARE TRANSACTION 'app_case'");
	like($err, qr/42501: permission denied to prepare/, "$case->[0]: refused at PREPARE (42501)");
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts'), '0', 'none of them is left prepared');

# what the role may still prepare: reads of accounts, and its own tables
($out, $err) = as_app(q{BEGIN; SELECT accounts.find_account('user', 'reference_id', 'base') IS NOT NULL;
	INSERT INTO app_notes VALUES (1); PREPARE TRANSACTION 'app_reads'});
is($err, '', 'a transaction that only read accounts (and wrote its own table) can be prepared');
$node->safe_psql('postgres', q{COMMIT PREPARED 'app_reads'});

# 2. the journal is never held back by the application role
my $before = last_seq();
$node->safe_psql('postgres', q{SELECT accounts.find_or_create_account('user', 'reference_id', 'after_refusals')});
ok(last_seq() > $before, 'a consumer reads the events written after the refused transactions');

# 3. the owner may prepare (Citus does, for its parts): the reader stops
# at that event until the operator resolves it
$node->safe_psql('postgres', q{BEGIN;
	SELECT accounts.find_or_create_account('user', 'reference_id', 'owner_held');
	PREPARE TRANSACTION 'owner_held'});
my $held = last_seq();
$node->safe_psql('postgres', q{SELECT accounts.find_or_create_account('user', 'reference_id', 'behind_it')});
is(last_seq(), $held, 'the owner\'s prepared transaction holds the reader back');
is($node->safe_psql('postgres', q{SELECT gid FROM pg_prepared_xacts}), 'owner_held', 'and pg_prepared_xacts shows it');
$node->safe_psql('postgres', q{COMMIT PREPARED 'owner_held'});
ok(last_seq() > $held, 'after COMMIT PREPARED the reader goes on');
is($node->safe_psql('postgres', q{SELECT string_agg(kind, ',') FROM accounts.events_since(0, 100000)
	WHERE account_id IN (accounts.find_account('user', 'reference_id', 'owner_held'), accounts.find_account('user', 'reference_id', 'behind_it'))}),
	'account.created,account.created', 'with both events');

$node->stop;
done_testing();
