-- Bad input: a clear error with a SQLSTATE, and nothing written.
-- (try() is defined in setup.sql; it shows SQLSTATE, message, detail, hint)
\pset null '(null)'
CREATE TEMP TABLE before AS
SELECT (SELECT count(*) FROM accounts.accounts) AS accounts,
       (SELECT count(*) FROM accounts.identifiers) AS identifiers;

-- NULL in any argument: 22004
SELECT * FROM try($$SELECT accounts.find_or_create_account(NULL, 'reference_id', 'x')$$);
SELECT * FROM try($$SELECT accounts.find_or_create_account('user', NULL, 'x')$$);
SELECT * FROM try($$SELECT accounts.find_or_create_account('user', 'reference_id', NULL)$$);
SELECT * FROM try($$SELECT accounts.find_or_create_account('user', NULL::accounts.identifier)$$);
SELECT * FROM try($$SELECT accounts.find_or_create_account(NULL, ROW('reference_id', 'x')::accounts.identifier)$$);
SELECT * FROM try($$SELECT accounts.find_or_create_account('user', ROW(NULL, 'x')::accounts.identifier)$$);
SELECT * FROM try($$SELECT accounts.find_or_create_account('user', ROW('reference_id', NULL)::accounts.identifier)$$);
SELECT * FROM try($$SELECT accounts.find_account('user', 'reference_id', NULL)$$);
-- normalize_identifier is STRICT: NULL in, NULL out
SELECT accounts.normalize_identifier('user', 'reference_id', NULL) AS strict_null;

-- empty or white-space-only value: 22023
SELECT * FROM try($$SELECT accounts.find_or_create_account('user', 'reference_id', '')$$);
SELECT * FROM try($$SELECT accounts.find_or_create_account('user', 'reference_id', E' \t\n ')$$);
SELECT * FROM try($$SELECT accounts.find_or_create_account('user', 'reference_id', U&'\00A0\3000\2028')$$);
SELECT * FROM try($$SELECT accounts.find_account('user', 'reference_id', '  ')$$);

-- unknown account type or identifier type: 42704, with a hint
SELECT * FROM try($$SELECT accounts.find_or_create_account('nosuch', 'reference_id', 'x')$$);
SELECT * FROM try($$SELECT accounts.find_or_create_account('user', 'nosuch', 'x')$$);
SELECT * FROM try($$SELECT accounts.find_or_create_account('User', 'reference_id', 'x')$$);
SELECT * FROM try($$SELECT accounts.find_account('user', 'nosuch', 'x')$$);
SELECT * FROM try($$SELECT accounts.find_or_create_account(repeat('t', 100000), 'reference_id', 'x')$$);

-- over-long value: 22001 naming the limit, never a btree error
SELECT * FROM try($$SELECT accounts.find_or_create_account('user', 'reference_id', repeat('x', 2049))$$);
SELECT * FROM try($$SELECT accounts.find_or_create_account('user', 'reference_id', repeat('é', 1025))$$);
SELECT * FROM try($$SELECT accounts.find_or_create_account('user', 'reference_id', repeat('y', 3000000))$$);
-- ß folds to ss: 1500 of them are 3000 bytes once normalized
SELECT * FROM try($$SELECT accounts.find_or_create_account('user', 'reference_id', repeat('ß', 1500))$$);
-- padding does not count
SELECT created FROM accounts.find_or_create_account('user', 'reference_id', repeat(' ', 5000) || 'padded' || repeat(' ', 5000));

-- malformed email and phone values: 22P02 saying what is wrong
SELECT * FROM try($$SELECT accounts.find_or_create_account('user', 'email', 'no-at-sign')$$);
SELECT * FROM try($$SELECT accounts.find_or_create_account('user', 'email', 'a@b@c')$$);
SELECT * FROM try($$SELECT accounts.find_or_create_account('user', 'email', '@example.com')$$);
SELECT * FROM try($$SELECT accounts.find_or_create_account('user', 'email', 'alice@')$$);
SELECT * FROM try($$SELECT accounts.find_or_create_account('user', 'email', 'al ice@example.com')$$);
SELECT * FROM try($$SELECT accounts.find_or_create_account('user', 'phone', '12345')$$);
SELECT * FROM try($$SELECT accounts.find_or_create_account('user', 'phone', '1234567890123456')$$);
SELECT * FROM try($$SELECT accounts.find_or_create_account('user', 'phone', '555-CALL-NOW')$$);
SELECT * FROM try($$SELECT accounts.find_or_create_account('user', 'phone', '1+2345678')$$);

-- nothing was written by any of the failures above (only 'padded')
SELECT (SELECT count(*) FROM accounts.accounts) - accounts AS new_accounts,
       (SELECT count(*) FROM accounts.identifiers) - identifiers AS new_identifiers
  FROM before;
