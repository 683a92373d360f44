# pg_dump and restore keep every account, identifier, registry row and id,
# on every documented path: plain (psql), custom and directory formats,
# pg_restore with -j 1 and -j 4 (a parallel restore loads the four tables
# at the same time, in any order), into a fresh database and into one where
# CREATE EXTENSION account ran first.  The restored database finds the old
# accounts and creates new ones.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION account;
	SELECT accounts.create_account_type('merchant');
	SELECT accounts.create_identifier_type('user', 'email', 'email');
	SELECT accounts.create_identifier_type('merchant', 'tax_id', 'text', true);
	SELECT count(*) FROM accounts.find_or_create_accounts('user', 'reference_id',
	       ARRAY(SELECT 'usr-' || n FROM generate_series(1, 500) n));
	SELECT accounts.find_or_create_account('user',
	       ARRAY[('reference_id', 'multi'), ('email', 'Multi@Example.com')]::accounts.identifier[]);
	SELECT accounts.find_or_create_account('merchant', 'tax_id', 'DE-123');
	SELECT accounts.find_or_create_account('merchant', 'reference_id', 'm-1');
	SELECT accounts.set_journal('merchant', false);
	SELECT accounts.find_or_create_account('merchant', 'reference_id', 'm-quiet');
});

# Everything that must survive, as one comparable text.
my $snapshot_sql = q{
	SELECT string_agg(line, E'\n' ORDER BY line) FROM (
	  SELECT 'type ' || name AS line FROM accounts.account_types
	  UNION ALL SELECT 'idtype ' || account_type || '/' || name || '/' || kind || '/' || case_sensitive
	    FROM accounts.identifier_types
	  UNION ALL SELECT 'account ' || id || '/' || account_type || '/' || created_at FROM accounts.accounts
	  UNION ALL SELECT 'ident ' || account_type || '/' || id_type || '/' || value || '/' || account_id || '/' || created_at
	    FROM accounts.identifiers
	  UNION ALL SELECT 'event ' || seq || '/' || occurred_at || '/' || coalesce(account_id::text, '-') || '/'
	                   || account_type || '/' || kind || '/' || detail FROM accounts.events
	  UNION ALL SELECT 'journal ' || account_type || '/' || enabled FROM accounts.journal_settings) s};
my $before = $node->safe_psql('postgres', $snapshot_sql);
like($before, qr/ident user\/email\/multi\@example.com/, 'snapshot covers the data');
like($before, qr/event \d+\/.*account.created.*multi\@example.com/, 'snapshot covers the journal');
like($before, qr/journal merchant\/false/, 'snapshot covers the journal settings');

my $dir = $node->basedir;
my $connstr = $node->connstr('postgres');

# rows enough for the parallel loads to overlap: 50,000 with
# ACCOUNT_FULL=1, 3,000 in the short mode
my $bulk = $ENV{ACCOUNT_FULL} ? 50000 : 3000;
$node->safe_psql('postgres', qq{SELECT count(*) FROM accounts.find_or_create_accounts('user', 'reference_id',
	ARRAY(SELECT 'bulk-' || n FROM generate_series(1, $bulk) n))});
$before = $node->safe_psql('postgres', $snapshot_sql);

$node->command_ok([ 'pg_dump', '-Fc', '-f', "$dir/dump.custom", '-d', $connstr ],
	'pg_dump, custom format');
$node->command_ok([ 'pg_dump', '-Fd', '-f', "$dir/dump.dir", '-d', $connstr ],
	'pg_dump, directory format');
$node->command_ok([ 'pg_dump', '-Fp', '-f', "$dir/dump.sql", '-d', $connstr ],
	'pg_dump, plain format');

my @dbs;
for my $target ('fresh', 'precreated')
{
	for my $format ('custom', 'dir', 'plain')
	{
		for my $jobs ($format eq 'plain' ? (1) : (1, 4))
		{
			my $db = "r_${format}_j${jobs}_$target";
			$node->safe_psql('postgres', "CREATE DATABASE $db");
			$node->safe_psql($db, 'CREATE EXTENSION account') if $target eq 'precreated';
			my ($stdout, $stderr);
			if ($format eq 'plain')
			{
				# into a database that has the extension, CREATE SCHEMA and
				# CREATE EXTENSION fail as "already exists"; the rest loads
				IPC::Run::run([ 'psql', '-X', '-q', ($target eq 'fresh' ? ('-v', 'ON_ERROR_STOP=1') : ()),
						'-d', $node->connstr($db), '-f', "$dir/dump.sql" ],
					'>', \$stdout, '2>', \$stderr);
			}
			else
			{
				IPC::Run::run([ 'pg_restore', '-j', $jobs, '-d', $node->connstr($db), "$dir/dump.$format" ],
					'>', \$stdout, '2>', \$stderr);
			}
			my @errors = grep { /ERROR/ && !/already exists/ } split /\n/, $stderr;
			is(scalar(@errors), 0, "$db: no error but \"already exists\"")
			  or diag($stderr);
			push @dbs, $db;
		}
	}
}

for my $db (@dbs)
{
	is($node->safe_psql($db, $snapshot_sql), $before,
		"$db: every registry row, account, identifier and id is back, once");
	is( $node->safe_psql(
			$db, q{
		SELECT (f.created, f.account_id = (SELECT account_id FROM accounts.identifiers WHERE value = 'usr-7'))
		  FROM accounts.find_or_create_account('user', 'reference_id', 'USR-7') f}),
		'(f,t)',
		"$db: an old identifier is found, not created");
	is($node->safe_psql($db, q{
		SELECT (SELECT count(*) FROM accounts.identifiers i WHERE NOT EXISTS (SELECT 1 FROM accounts.accounts a WHERE a.id = i.account_id))
		     + (SELECT count(*) FROM accounts.identifiers i WHERE NOT EXISTS (SELECT 1 FROM accounts.identifier_types t WHERE t.account_type = i.account_type AND t.name = i.id_type))
		     + (SELECT count(*) FROM accounts.accounts a WHERE NOT EXISTS (SELECT 1 FROM accounts.account_types t WHERE t.name = a.account_type))}),
		'0', "$db: foreign-key audit finds nothing");
	my $last = $node->safe_psql($db, q{SELECT max(seq) FROM accounts.events});
	is( $node->safe_psql(
			$db, q{SELECT created FROM accounts.find_or_create_account('merchant', 'reference_id', 'm-new')}),
		't', "$db: a new identifier creates an account");
	is($node->safe_psql($db, q{SELECT count(*) FROM accounts.events WHERE account_type = 'merchant' AND kind = 'account.created'}),
		'2', "$db: the journal is still off for merchant");
	$node->safe_psql($db, q{SELECT accounts.find_or_create_account('user', 'reference_id', 'after-restore')});
	is($node->safe_psql($db, qq{SELECT array_agg(kind) FROM accounts.events_since($last)}), '{account.created}',
		"$db: new events continue after the restored ones");
	is( $node->safe_psql(
			$db, q{SELECT accounts.find_or_create_account('user', 'email', 'MULTI@example.com')
			       = accounts.find_or_create_account('user', 'reference_id', 'multi')}),
		't', "$db: an account with several identifiers is still one account");
}

$node->stop;
done_testing();
