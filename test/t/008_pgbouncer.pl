# Behind PgBouncer in transaction pooling mode: 16 clients share 4 server
# connections, each transaction possibly on another one.  The protocol
# keeps nothing in the session (its locks are transaction-scoped), so the
# guarantees hold: one account per identifier, created = true exactly once,
# every caller got the stored id, no client error.
use strict;
use warnings;

use IPC::Run qw(start);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $pgbouncer = '/usr/sbin/pgbouncer';
plan skip_all => 'pgbouncer is not installed' unless -x $pgbouncer;

my $node = PostgreSQL::Test::Cluster->new('pooled');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 40\nfsync = off");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION account;
	CREATE TABLE calls (key text, account_id uuid, created boolean, backend int);
});

my $dir = PostgreSQL::Test::Utils::tempdir_short;
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $user = getpwuid($<);
open(my $fh, '>', "$dir/users.txt") or die;
print $fh qq{"$user" ""\n};
close $fh;
open($fh, '>', "$dir/pgbouncer.ini") or die;
print $fh <<"EOS";
[databases]
postgres = host=@{[ $node->host ]} port=@{[ $node->port ]} dbname=postgres
[pgbouncer]
listen_addr =
listen_port = $port
unix_socket_dir = $dir
auth_type = trust
auth_file = $dir/users.txt
pool_mode = transaction
default_pool_size = 4
max_client_conn = 100
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
EOS
close $fh;
my $bouncer = start([ $pgbouncer, "$dir/pgbouncer.ini" ]);
my $through = "host=$dir port=$port dbname=postgres";
my $up = 0;
for (1 .. 100)
{
	$up = 1, last if system('psql', '-X', '-Atq', '-d', $through, '-c', 'SELECT 1') == 0;
	select(undef, undef, undef, 0.1);
}
ok($up, 'PgBouncer is up in transaction pooling mode');

my $script = "$dir/load.sql";
open($fh, '>', $script) or die;
print $fh <<'EOS';
\set h random(1, 20)
\set n random(1, 600)
INSERT INTO calls SELECT 'hot-' || :h, account_id, created, pg_backend_pid()
  FROM accounts.find_or_create_account('user', 'reference_id', 'hot-' || :h);
BEGIN;
INSERT INTO calls SELECT 'new-' || :n, account_id, created, pg_backend_pid()
  FROM accounts.find_or_create_account('user', 'reference_id', 'new-' || :n);
INSERT INTO calls SELECT 'hot-' || :h, account_id, created, pg_backend_pid()
  FROM accounts.find_or_create_account('user', 'reference_id', 'HOT-' || :h);
COMMIT;
EOS
close $fh;

command_checks_all(
	[ 'pgbench', '-n', '-c', '16', '-j', '4', '-t', '150', '-f', $script, $through ],
	0,
	[ qr{processed: 2400/2400}, qr{number of failed transactions: 0 } ],
	[ qr{^$} ],
	'16 clients through PgBouncer: no errors');

is($node->safe_psql('postgres', 'SELECT count(DISTINCT backend) <= 4 FROM calls'), 't',
	'the 16 clients shared at most 4 server connections');
is( $node->safe_psql(
		'postgres', q{
	SELECT count(*) FROM (SELECT key FROM calls GROUP BY key
	  HAVING count(DISTINCT account_id) <> 1 OR count(*) FILTER (WHERE created) <> 1) bad}),
	'0', 'per identifier: one account id for every caller, created = true exactly once');
is( $node->safe_psql(
		'postgres', q{
	SELECT count(*) FROM calls c
	 WHERE c.account_id IS DISTINCT FROM accounts.find_account('user', 'reference_id', c.key)}),
	'0', 'every caller got the stored account id');
is( $node->safe_psql(
		'postgres', q{
	SELECT (SELECT count(*) FROM accounts.accounts a
	         WHERE NOT EXISTS (SELECT 1 FROM accounts.identifiers i WHERE i.account_id = a.id)),
	       (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory')}),
	'0|0', 'no orphan accounts, and no advisory lock left on the pooled connections');

$bouncer->kill_kill;
$node->stop;
done_testing();
