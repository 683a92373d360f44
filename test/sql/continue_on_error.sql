-- try_find_or_create_account: errors come back as data; the caller's
-- transaction stays usable and keeps its earlier work.
\pset null '(null)'

-- success: what find_or_create_account returns, error columns NULL
SELECT account_id IS NOT NULL AS has_id, created, error_code, error_message
  FROM accounts.try_find_or_create_account('user', 'reference_id', 'try-1');
SELECT account_id = accounts.find_account('user', 'reference_id', 'try-1') AS same_id, created, error_code
  FROM accounts.try_find_or_create_account('user', 'reference_id', ' TRY-1 ');
SELECT created, error_code
  FROM accounts.try_find_or_create_account('user', ROW('reference_id', 'try-1')::accounts.identifier);

-- every kind of bad input: no exception, the SQLSTATE and the message
SELECT v.label, t.account_id, t.created, t.error_code, t.error_message
  FROM (VALUES
        ('null type', NULL, 'reference_id', 'x'),
        ('null id_type', 'user', NULL, 'x'),
        ('null value', 'user', 'reference_id', NULL),
        ('empty', 'user', 'reference_id', '   '),
        ('unknown account type', 'nosuch', 'reference_id', 'x'),
        ('unknown identifier type', 'user', 'nosuch', 'x'),
        ('too long', 'user', 'reference_id', repeat('x', 3000))) v(label, a, b, c),
       LATERAL accounts.try_find_or_create_account(v.a, v.b, v.c) t;
SELECT error_code, error_message FROM accounts.try_find_or_create_account('user', NULL::accounts.identifier);
SELECT error_code, error_message FROM accounts.try_find_or_create_account('user', ROW(NULL, 'x')::accounts.identifier);

-- in a transaction: earlier work survives failed attempts, later work goes on
BEGIN;
CREATE TEMP TABLE work (n int);
INSERT INTO work VALUES (1);
SELECT created FROM accounts.find_or_create_account('user', 'reference_id', 'try-before');
SELECT error_code FROM accounts.try_find_or_create_account('user', 'reference_id', '');
SELECT error_code FROM accounts.try_find_or_create_account('nosuch', 'reference_id', 'x');
INSERT INTO work VALUES (2);
SELECT created, error_code FROM accounts.try_find_or_create_account('user', 'reference_id', 'try-after');
COMMIT;
SELECT count(*) AS work_rows FROM work;
SELECT value FROM accounts.identifiers WHERE value LIKE 'try-%' ORDER BY value;

-- read-only: a new identifier is an error row (25006), the transaction goes on
BEGIN READ ONLY;
SELECT created, error_code, error_message FROM accounts.try_find_or_create_account('user', 'reference_id', 'try-ro');
SELECT created, error_code FROM accounts.try_find_or_create_account('user', 'reference_id', 'try-1');
COMMIT;

-- a failed attempt leaves nothing behind, even when it fails after writing
-- the account row: an operator's extra unique index rejects the identifier
-- row, after the account row was inserted
CREATE UNIQUE INDEX prefix_unique ON accounts.identifiers (left(value, 5)) WHERE value LIKE 'fail-%';
CREATE TEMP TABLE before AS SELECT count(*) AS n FROM accounts.accounts;
SELECT created, error_code FROM accounts.try_find_or_create_account('user', 'reference_id', 'fail-1');
SELECT created, error_code, error_message FROM accounts.try_find_or_create_account('user', 'reference_id', 'fail-2');
SELECT error_code FROM accounts.try_find_or_create_account('user', 'reference_id', repeat('y', 5000));
SELECT (SELECT count(*) FROM accounts.accounts) - n AS accounts_written FROM before;
DROP INDEX accounts.prefix_unique;
