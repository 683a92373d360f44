-- find_or_create_account: creating, finding, matching rules, transactions.
\pset null '(null)'

-- first call creates, later calls find; all get the same id
CREATE TEMP TABLE got AS
SELECT 1 AS call, * FROM accounts.find_or_create_account('user', 'reference_id', 'usr_42');
INSERT INTO got SELECT 2, * FROM accounts.find_or_create_account('user', 'reference_id', 'usr_42');
-- named arguments
INSERT INTO got SELECT 3, * FROM accounts.find_or_create_account(type => 'user', id_type => 'reference_id', value => 'usr_42');
INSERT INTO got SELECT 4, * FROM accounts.find_or_create_account(value => 'usr_42', type => 'user', id_type => 'reference_id');
-- the composite form
INSERT INTO got SELECT 5, * FROM accounts.find_or_create_account('user', ROW('reference_id', 'usr_42')::accounts.identifier);
INSERT INTO got SELECT 6, * FROM accounts.find_or_create_account(type => 'user', identifier => ('reference_id', 'usr_42'));
-- reference ids are case-insensitive and ignore surrounding white space
INSERT INTO got SELECT 7, * FROM accounts.find_or_create_account('user', 'reference_id', 'USR_42');
INSERT INTO got SELECT 8, * FROM accounts.find_or_create_account('user', 'reference_id', E' \t Usr_42 \n');
SELECT call, created, account_id = (SELECT account_id FROM got WHERE call = 1) AS same_account
  FROM got ORDER BY call;

-- what is stored: one account, one identifier in normalized form
SELECT i.account_type, i.id_type, i.value, a.account_type AS acc_type,
       i.account_id = a.id AS linked, a.created_at = i.created_at AS same_time
  FROM accounts.identifiers i JOIN accounts.accounts a ON a.id = i.account_id;

-- find_account finds it under any spelling, and NULL for unknown values
SELECT accounts.find_account('user', 'reference_id', ' usr_42') = (SELECT account_id FROM got WHERE call = 1) AS found,
       accounts.find_account('user', 'reference_id', 'nobody') AS unknown;

-- the same value in another account type is another account
SELECT created FROM accounts.find_or_create_account('merchant', 'reference_id', 'usr_42');
SELECT count(DISTINCT account_id) AS accounts FROM accounts.identifiers WHERE value = 'usr_42';

-- account ids are UUIDv7: version 7, RFC 9562 variant, increasing
SELECT substr(account_id::text, 15, 1) AS version,
       substr(account_id::text, 20, 1) IN ('8', '9', 'a', 'b') AS rfc_variant
  FROM got WHERE call = 1;
CREATE TEMP TABLE seq AS
SELECT n, f.* FROM generate_series(1, 200) n,
       LATERAL accounts.find_or_create_account('user', 'reference_id', 'seq-' || n) f;
SELECT bool_and(created) AS all_created,
       count(*) FILTER (WHERE account_id <= prev) AS out_of_order
  FROM (SELECT created, account_id, lag(account_id) OVER (ORDER BY n) AS prev FROM seq) s;
-- the id's timestamp is the creation time, to the millisecond
SELECT abs(extract(epoch FROM a.created_at) * 1000
           - ('x' || substr(replace(a.id::text, '-', ''), 1, 12))::bit(48)::bigint) < 5000 AS time_ordered
  FROM accounts.accounts a JOIN got ON got.account_id = a.id WHERE got.call = 1;

-- one statement asking for the same new value several times: one creator
SELECT v, f.created
  FROM (VALUES (1, 'dup-a'), (2, 'DUP-A'), (3, ' dup-a'), (4, 'dup-b')) t(n, v),
       LATERAL accounts.find_or_create_account('user', 'reference_id', v) f ORDER BY n;

-- rolled-back work leaves nothing behind
BEGIN;
SELECT created FROM accounts.find_or_create_account('user', 'reference_id', 'rolled-back');
ROLLBACK;
SELECT accounts.find_account('user', 'reference_id', 'rolled-back') AS after_rollback;
BEGIN;
SAVEPOINT s;
SELECT created FROM accounts.find_or_create_account('user', 'reference_id', 'sp-rolled-back');
ROLLBACK TO SAVEPOINT s;
SELECT accounts.find_account('user', 'reference_id', 'sp-rolled-back') AS after_savepoint_rollback;
SELECT created FROM accounts.find_or_create_account('user', 'reference_id', 'sp-rolled-back');
COMMIT;
SELECT count(*) AS accounts FROM accounts.identifiers WHERE value = 'sp-rolled-back';

-- read-only transaction: finding works, creating raises 25006
BEGIN READ ONLY;
SELECT created FROM accounts.find_or_create_account('user', 'reference_id', 'usr_42');
SELECT accounts.find_account('user', 'reference_id', 'usr_42') IS NOT NULL AS found;
SELECT * FROM try($$SELECT accounts.find_or_create_account('user', 'reference_id', 'new-in-read-only')$$);
ROLLBACK;
-- a run of creates (one call site, here a PL/pgSQL loop, whose last call
-- created) in a transaction turned read-only since: the next call still
-- finds an existing key instead of raising 25006
BEGIN;
DO $$
DECLARE
    r record;
    v text;
BEGIN
    FOREACH v IN ARRAY ARRAY['run-then-read-only', 'usr_42'] LOOP
        IF v = 'usr_42' THEN
            SET LOCAL transaction_read_only = on;
        END IF;
        r := accounts.find_or_create_account('user', 'reference_id', v);
        RAISE NOTICE '%: created %', v, r.created;
    END LOOP;
END $$;
ROLLBACK;

-- long values: 1 KiB and up to the 2048-byte limit work
SELECT created FROM accounts.find_or_create_account('user', 'reference_id', repeat('k', 1024));
SELECT accounts.find_account('user', 'reference_id', upper(repeat('k', 1024))) IS NOT NULL AS found;
SELECT created FROM accounts.find_or_create_account('user', 'reference_id', repeat('l', 2048));
-- incompressible 2048-byte value (random hex) also fits the index
SELECT created FROM accounts.find_or_create_account('user', 'reference_id',
    (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 64) i));

-- one transaction creates more accounts than the lock table could hold
-- advisory locks for (max_locks_per_transaction = 64 fails at ~13,000)
SHOW max_locks_per_transaction;
BEGIN;
SELECT count(*) FILTER (WHERE created) AS created
  FROM generate_series(1, 20000) n,
       LATERAL accounts.find_or_create_account('user', 'reference_id', 'bulk-' || n);
-- no advisory lock outlives the call
SELECT count(*) AS advisory_locks_held FROM pg_locks
 WHERE locktype = 'advisory' AND pid = pg_backend_pid();
COMMIT;

-- every account has its identifier, every identifier its account
SELECT count(*) AS orphan_accounts FROM accounts.accounts a
 WHERE NOT EXISTS (SELECT 1 FROM accounts.identifiers i WHERE i.account_id = a.id);
SELECT count(*) AS dangling_identifiers FROM accounts.identifiers i
 WHERE NOT EXISTS (SELECT 1 FROM accounts.accounts a WHERE a.id = i.account_id);
