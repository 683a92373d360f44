# Redaction is erasure (docs/privacy.md): after redact_account(), where an
# erased value can still be read, and after which step it cannot.
#
#   1. statistics: ANALYZE keeps no identifier value or event detail in
#      pg_stats, before or after the redaction;
#   2. the journal: every event that carried the value is erased, also the
#      events of an account the value was removed from before the
#      redacted account got it, and of an account merged into it;
#   3. the index entries: after VACUUM (the tables have
#      vacuum_index_cleanup = on, so it never skips them), no index page of
#      accounts.identifiers or accounts.events has an entry with the value
#      (pageinspect);
#   4. the bytes: after VACUUM FULL and a CHECKPOINT, no page of those
#      tables and their indexes contains the value at all; before it, the
#      freed space of a page may (the documented gap).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('erasure');
$node->init;
$node->append_conf('postgresql.conf', "autovacuum = off\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION account;
	CREATE EXTENSION pageinspect;
	SELECT accounts.create_identifier_type('user', 'email', 'email');
	-- enough rows for statistics with most common values and histograms
	SELECT count(*) FROM generate_series(1, 3000) g, LATERAL accounts.find_or_create_account('user', ARRAY[ROW('reference_id', 'filler_' || g),
	       ROW('email', 'filler_' || (g % 50) || '_' || g || '@example.com')]::accounts.identifier[]) f;
});
my $secret = 'erase.me.please@example.com';
my $hex = unpack('H*', $secret);

# the value: first on account x, removed from it, then on account y; an
# account m merged into y carried another email; y is redacted
$node->safe_psql('postgres', qq{
	SELECT accounts.find_or_create_account('user', ARRAY[ROW('reference_id', 'x'), ROW('email', '$secret')]::accounts.identifier[]);
	SELECT accounts.add_identifier(accounts.find_account('user', 'reference_id', 'x'), 'email', 'x.keeps\@example.com');
	SELECT accounts.remove_identifier(accounts.find_account('user', 'reference_id', 'x'), 'email', '$secret');
	SELECT accounts.find_or_create_account('user', ARRAY[ROW('reference_id', 'y'), ROW('email', '$secret')]::accounts.identifier[]);
	SELECT accounts.find_or_create_account('user', ARRAY[ROW('reference_id', 'm'), ROW('email', 'merged.away\@example.com')]::accounts.identifier[]);
	SELECT accounts.merge_accounts(accounts.find_account('user', 'reference_id', 'y'), ARRAY[accounts.find_account('user', 'reference_id', 'm')]);
	ANALYZE accounts.identifiers, accounts.events;
});
# the journal and the index entries have the value before the redaction (the checks can fail)
ok($node->safe_psql('postgres', qq{SELECT count(*) FROM accounts.events WHERE detail::text LIKE '%$secret%'}) >= 3,
	'before: the events of x and y carry the value');

# 1. statistics
my $stats = q{SELECT count(*) FROM pg_stats WHERE schemaname = 'accounts'
	AND (tablename = 'identifiers' AND attname = 'value' OR tablename = 'events' AND attname = 'detail'
	     OR tablename = 'events_removed_value_idx')};
is($node->safe_psql('postgres', $stats), '0', 'ANALYZE keeps no statistics of identifier values or event details');
is($node->safe_psql('postgres', qq{SELECT count(*) FROM pg_stats WHERE schemaname = 'accounts'
	AND (most_common_vals::text LIKE '%example.com%' OR histogram_bounds::text LIKE '%example.com%')}), '0',
	'no value of an identifier is in pg_stats');

$node->safe_psql('postgres', q{SELECT accounts.redact_account(accounts.find_account('user', 'reference_id', 'y'))});

# 2. the journal
is($node->safe_psql('postgres', qq{SELECT count(*) FROM accounts.events WHERE detail::text LIKE '%$secret%'}), '0',
	'no event keeps the value: not the redacted account\'s, not those of the account it was removed from');
is($node->safe_psql('postgres', q{SELECT count(*) FROM accounts.events WHERE detail::text LIKE '%merged.away%'}), '0',
	'nor the events of the account merged into it');
is($node->safe_psql('postgres', q{SELECT count(*) FROM accounts.events WHERE detail::text LIKE '%x.keeps@example.com%'}), '1',
	'the other values of the earlier holder stay');
$node->safe_psql('postgres', q{ANALYZE accounts.identifiers, accounts.events});
is($node->safe_psql('postgres', $stats), '0', 'and ANALYZE after it keeps none either');

# 3. the index entries, after VACUUM
my $index_entries = qq{
	SELECT count(*) FROM pg_class c, pg_index i,
	       LATERAL generate_series(1, pg_relation_size(c.oid) / current_setting('block_size')::int - 1) b,
	       LATERAL bt_page_items(c.relname::text, b::int) p
	 WHERE c.relnamespace = 'accounts'::regnamespace AND c.relkind = 'i' AND i.indexrelid = c.oid
	   AND i.indrelid IN ('accounts.identifiers'::regclass, 'accounts.events'::regclass)
	   AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'btree')
	   AND p.data LIKE '%' || (SELECT string_agg(to_hex(get_byte(convert_to('$secret', 'UTF8'), n)), ' ' ORDER BY n)
	                              FROM generate_series(0, 9) n) || '%'};
# bt_page_items shows data as space-separated hex bytes (two digits each)
$index_entries =~ s/to_hex\(get_byte\(([^)]*\)), n\)\)/lpad(to_hex(get_byte($1, n)), 2, '0')/;
$node->safe_psql('postgres', 'SET search_path = accounts, public');
ok($node->safe_psql('postgres', "SET search_path = accounts, public; $index_entries") > 0,
	'before VACUUM: index entries with the value remain (so the check can fail)');
$node->safe_psql('postgres', 'VACUUM accounts.identifiers, accounts.events');
is($node->safe_psql('postgres', "SET search_path = accounts, public; $index_entries"), '0',
	'after VACUUM: no index entry of accounts.identifiers or accounts.events has the value');
is($node->safe_psql('postgres', q{SELECT count(*) FROM accounts.identifiers WHERE value LIKE 'erase.me%'}), '0',
	'and no row');

# 4. the bytes of every page
my $pages = qq{
	SELECT count(*) FROM pg_class c,
	       LATERAL generate_series(0, pg_relation_size(c.oid) / current_setting('block_size')::int - 1) b
	 WHERE c.relnamespace = 'accounts'::regnamespace AND c.relkind IN ('r', 'i', 't')
	   AND (c.oid IN ('accounts.identifiers'::regclass, 'accounts.events'::regclass)
	        OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid IN ('accounts.identifiers'::regclass, 'accounts.events'::regclass)))
	   AND position(convert_to('$secret', 'UTF8') IN get_raw_page(c.oid::regclass::text, b::int)) > 0};
$node->safe_psql('postgres', 'VACUUM FULL accounts.identifiers, accounts.events; CHECKPOINT');
is($node->safe_psql('postgres', $pages), '0', 'after VACUUM FULL: no page of the tables or their indexes holds the bytes');

$node->stop;
done_testing();
