# Every kind of client at once: psql, a C program on libpq and Python with
# psycopg each run many connections on the same few new identifiers, all
# concurrently.  Afterwards: one account per identifier, every caller of
# every client got it, and exactly one call in all saw created = true.
use strict;
use warnings;

use File::Basename qw(dirname);
use IPC::Run qw(start finish);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $clients_dir = dirname(__FILE__) . '/../clients';
my $node = PostgreSQL::Test::Cluster->new('clients');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 60\nfsync = off");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION account');

my $connstr = $node->connstr('postgres');
my $bin = PostgreSQL::Test::Utils::tempdir;
my $includedir = `pg_config --includedir`;
chomp $includedir;
command_ok(
	[ 'cc', '-Wall', '-Wextra', '-Werror', "$clients_dir/client.c", "-I$includedir",
		'-lpq', '-lpthread', '-o', "$bin/client" ],
	'the C client builds');

my ($keys, $calls) = (6, 60);
my @runs;

# psql: 8 sessions, each a script of calls
for my $s (1 .. 8)
{
	my $script = join('',
		map { "SELECT 'hot-$_', account_id, created FROM accounts.find_or_create_account('user', 'reference_id', 'hot-$_');\n" }
		  map { ($_ + $s) % $keys + 1 } 0 .. $calls - 1);
	my ($out, $err) = ('', '');
	push @runs, [ "psql $s", start([ 'psql', '-X', '-At', '-F', ' ', '-v', 'ON_ERROR_STOP=1', '-d', $connstr ],
			'<', \$script, '>', \$out, '2>', \$err), \$out, \$err ];
}
# C: 8 connections
{
	my ($out, $err) = ('', '');
	push @runs, [ 'C', start([ "$bin/client", $connstr, 8, $calls, $keys, 'hot-' ], '>', \$out, '2>', \$err), \$out, \$err ];
}
# Python: 8 connections
{
	my ($out, $err) = ('', '');
	push @runs, [ 'Python', start([ '/usr/bin/python3', "$clients_dir/client.py", $connstr, 8, $calls, $keys, 'hot-' ],
			'>', \$out, '2>', \$err), \$out, \$err ];
}

my (%ids, %creators, $lines);
for my $run (@runs)
{
	my ($name, $h, $out, $err) = @$run;
	ok(finish($h), "$name client exited cleanly");
	is($$err, '', "$name client reported no error");
	for my $line (split /\n/, $$out)
	{
		my ($key, $id, $created) = split / /, $line;
		$ids{$key}{$id} = 1;
		$creators{$key}++ if $created eq 't';
		$lines++;
	}
}
is($lines, 8 * $calls * 3, 'every call of every client answered');
is(scalar(keys %ids), $keys, "all $keys identifiers were asked for");
is(scalar(grep { scalar(keys %{ $ids{$_} }) != 1 } keys %ids), 0,
	'per identifier, every caller of every client got the same account id');
is(scalar(grep { ($creators{$_} // 0) != 1 } keys %ids), 0,
	'per identifier, exactly one call saw created = true');

my $stored = $node->safe_psql('postgres',
	q{SELECT string_agg(value || ' ' || account_id, ',' ORDER BY value) FROM accounts.identifiers});
my $seen = join(',', map { "$_ " . (keys %{ $ids{$_} })[0] } sort keys %ids);
is($stored, $seen, 'the tables hold exactly the accounts the clients saw');
is($node->safe_psql('postgres', 'SELECT count(*) FROM accounts.accounts'), $keys, 'one account per identifier');

$node->stop;
done_testing();
