-- REPEATABLE READ and SERIALIZABLE in a single session (the concurrent
-- cases are isolation specs under test/specs).
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT created FROM accounts.find_or_create_account('user', 'reference_id', 'rr-1');
SELECT created FROM accounts.find_or_create_account('user', 'reference_id', 'rr-1');
-- the same new value twice in one statement: ours, not a conflict
SELECT v, f.created
  FROM (VALUES (1, 'rr-2'), (2, 'RR-2')) t(n, v),
       LATERAL accounts.find_or_create_account('user', 'reference_id', v) f ORDER BY n;
COMMIT;

BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT created FROM accounts.find_or_create_account('user', 'reference_id', 'ser-1');
SELECT created FROM accounts.find_or_create_account('user', 'reference_id', 'ser-1');
SELECT accounts.find_account('user', 'reference_id', 'ser-1') IS NOT NULL AS found;
COMMIT;

SELECT value, count(*) FROM accounts.identifiers
 WHERE value IN ('rr-1', 'rr-2', 'ser-1') GROUP BY value ORDER BY value;
