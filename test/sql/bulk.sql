-- find_or_create_accounts: many values in one call.
\pset null '(null)'
SELECT accounts.find_or_create_account('user', 'reference_id', 'bulk-existing') IS NOT NULL AS seeded;

-- one row per element, in input order, value as given; duplicates (after
-- normalization) map to one account and only the first reports created
CREATE TEMP TABLE b AS
SELECT row_number() OVER () AS n, *
  FROM accounts.find_or_create_accounts('user', 'reference_id',
       ARRAY['zeta', 'Alpha', 'bulk-existing', ' ALPHA ', 'mid', 'alpha', 'BULK-EXISTING']);
SELECT n, value, created,
       account_id = accounts.find_account('user', 'reference_id', value) AS stored_id
  FROM b ORDER BY n;
SELECT count(DISTINCT account_id) AS accounts FROM b;

-- calling again finds them all
SELECT bool_or(created) AS any_created,
       bool_and(account_id = (SELECT account_id FROM b WHERE b.value = f.value LIMIT 1)) AS same_ids
  FROM accounts.find_or_create_accounts('user', 'reference_id', ARRAY['zeta', 'Alpha', 'mid']) f;

-- an empty array gives no rows
SELECT count(*) FROM accounts.find_or_create_accounts('user', 'reference_id', '{}');

-- bad input anywhere writes nothing
CREATE TEMP TABLE before AS SELECT count(*) AS n FROM accounts.identifiers;
SELECT * FROM try($$SELECT accounts.find_or_create_accounts('user', 'reference_id', ARRAY['new-1', NULL, 'new-2'])$$);
SELECT * FROM try($$SELECT accounts.find_or_create_accounts('user', 'reference_id', ARRAY['new-1', '  ', 'new-2'])$$);
SELECT * FROM try($$SELECT accounts.find_or_create_accounts('user', 'reference_id', ARRAY['new-1', repeat('x', 3000)])$$);
SELECT * FROM try($$SELECT accounts.find_or_create_accounts('user', 'reference_id', NULL)$$);
SELECT * FROM try($$SELECT accounts.find_or_create_accounts(NULL, 'reference_id', ARRAY['x'])$$);
SELECT * FROM try($$SELECT accounts.find_or_create_accounts('user', 'nosuch', ARRAY['x'])$$);
SELECT * FROM try($$SELECT accounts.find_or_create_accounts('user', 'reference_id', ARRAY[['a', 'b'], ['c', 'd']])$$);
SELECT (SELECT count(*) FROM accounts.identifiers) - n AS written FROM before;

-- read-only: existing values are found, a new one raises 25006
BEGIN READ ONLY;
SELECT value, created FROM accounts.find_or_create_accounts('user', 'reference_id', ARRAY['zeta', 'mid']);
SELECT * FROM try($$SELECT accounts.find_or_create_accounts('user', 'reference_id', ARRAY['zeta', 'brand-new'])$$);
ROLLBACK;

-- many values in one transaction: more than the lock table could hold
BEGIN;
SELECT count(*) AS rows, count(*) FILTER (WHERE created) AS created
  FROM accounts.find_or_create_accounts('user', 'reference_id',
       ARRAY(SELECT 'many-' || n FROM generate_series(1, 30000) n));
SELECT count(*) AS advisory_locks_held FROM pg_locks
 WHERE locktype = 'advisory' AND pid = pg_backend_pid();
COMMIT;
SELECT count(*) AS orphan_accounts FROM accounts.accounts a
 WHERE NOT EXISTS (SELECT 1 FROM accounts.identifiers i WHERE i.account_id = a.id);
