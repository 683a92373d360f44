-- accounts.assign_account(): rows that associate themselves with accounts.
\pset null '(null)'
CREATE TABLE inquiries (
    id serial PRIMARY KEY,
    reference_id text,
    account_id uuid
);
CREATE TRIGGER assign BEFORE INSERT OR UPDATE OF reference_id ON inquiries
    FOR EACH ROW EXECUTE FUNCTION
    accounts.assign_account('user', 'reference_id', 'reference_id', 'account_id');

-- inquiries with the same reference id end up on the same account
INSERT INTO inquiries (reference_id) VALUES ('trg-1'), ('TRG-1'), (' trg-1 '), ('trg-2'), (NULL);
SELECT id, reference_id, account_id IS NOT NULL AS assigned,
       CASE WHEN reference_id IS NOT NULL
            THEN account_id = accounts.find_account('user', 'reference_id', reference_id) END AS right_account
  FROM inquiries ORDER BY id;
SELECT count(DISTINCT account_id) AS accounts FROM inquiries WHERE lower(btrim(reference_id)) = 'trg-1';

-- a value supplied for the target is replaced by the right account
INSERT INTO inquiries (reference_id, account_id) VALUES ('trg-2', '00000000-0000-0000-0000-000000000000');
SELECT account_id = accounts.find_account('user', 'reference_id', 'trg-2') AS corrected
  FROM inquiries WHERE id = 6;

-- UPDATE of the source moves the row; a NULL source clears the target
UPDATE inquiries SET reference_id = 'trg-3' WHERE id = 4;
UPDATE inquiries SET reference_id = NULL WHERE id = 1;
SELECT id, reference_id,
       CASE WHEN reference_id IS NOT NULL
            THEN account_id = accounts.find_account('user', 'reference_id', reference_id) END AS right_account,
       account_id IS NULL AS cleared
  FROM inquiries WHERE id IN (1, 4) ORDER BY id;

-- bad values fail the row with the function's errors, and write nothing
SELECT * FROM try($$INSERT INTO inquiries (reference_id) VALUES ('trg-ok'), ('   ')$$);
SELECT count(*) AS inserted FROM inquiries WHERE reference_id = 'trg-ok';
SELECT accounts.find_account('user', 'reference_id', 'trg-ok') AS no_account;

-- non-text sources are converted with their output function
CREATE TABLE orders (id int PRIMARY KEY, customer_no bigint, account_id uuid);
CREATE TRIGGER assign BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION
    accounts.assign_account('user', 'reference_id', 'customer_no', 'account_id');
INSERT INTO orders VALUES (1, 1001), (2, 1001), (3, 1002);
SELECT count(DISTINCT account_id) AS accounts, bool_and(account_id = accounts.find_account('user', 'reference_id', customer_no::text)) AS right
  FROM orders;

-- identifier values built from several parts: concat_ws or format
SELECT accounts.normalize_identifier('user', 'reference_id', concat_ws(':', 'Acme', 42)) AS composed,
       accounts.normalize_identifier('user', 'reference_id', format('%s/%s', 'Acme', 42)) AS formatted;
SELECT a.account_id = b.account_id AS same_account
  FROM accounts.find_or_create_account('user', 'reference_id', concat_ws(':', 'acme', 42)) a,
       accounts.find_or_create_account('user', 'reference_id', format('%s:%s', 'ACME', 42)) b;

-- misconfiguration: clear errors at the first row
CREATE TABLE bad (id int, ref text, acc uuid, acc_text text);
CREATE TRIGGER t BEFORE INSERT ON bad FOR EACH ROW EXECUTE FUNCTION
    accounts.assign_account('user', 'reference_id', 'nosuch', 'acc');
SELECT * FROM try($$INSERT INTO bad (ref) VALUES ('x')$$);
DROP TRIGGER t ON bad;
CREATE TRIGGER t BEFORE INSERT ON bad FOR EACH ROW EXECUTE FUNCTION
    accounts.assign_account('user', 'reference_id', 'ref', 'nosuch');
SELECT * FROM try($$INSERT INTO bad (ref) VALUES ('x')$$);
DROP TRIGGER t ON bad;
CREATE TRIGGER t BEFORE INSERT ON bad FOR EACH ROW EXECUTE FUNCTION
    accounts.assign_account('user', 'reference_id', 'ref', 'acc_text');
SELECT * FROM try($$INSERT INTO bad (ref) VALUES ('x')$$);
DROP TRIGGER t ON bad;
CREATE TRIGGER t BEFORE INSERT ON bad FOR EACH ROW EXECUTE FUNCTION
    accounts.assign_account('user', 'reference_id', 'ref');
SELECT * FROM try($$INSERT INTO bad (ref) VALUES ('x')$$);
DROP TRIGGER t ON bad;
CREATE TRIGGER t BEFORE INSERT ON bad FOR EACH ROW EXECUTE FUNCTION
    accounts.assign_account('nosuch', 'reference_id', 'ref', 'acc');
SELECT * FROM try($$INSERT INTO bad (ref) VALUES ('x')$$);
DROP TRIGGER t ON bad;
CREATE TRIGGER t BEFORE INSERT ON bad FOR EACH ROW EXECUTE FUNCTION
    accounts.assign_account('user', 'nosuch', 'ref', 'acc');
SELECT * FROM try($$INSERT INTO bad (ref) VALUES ('x')$$);
DROP TRIGGER t ON bad;
CREATE TRIGGER t AFTER INSERT ON bad FOR EACH ROW EXECUTE FUNCTION
    accounts.assign_account('user', 'reference_id', 'ref', 'acc');
SELECT * FROM try($$INSERT INTO bad (ref) VALUES ('x')$$);
DROP TRIGGER t ON bad;
SELECT * FROM try($$SELECT accounts.assign_account()$$);
SELECT count(*) AS rows_written FROM bad;

-- many rows in one statement: one account per distinct reference id
INSERT INTO inquiries (reference_id) SELECT 'bulk-trg-' || (n % 100) FROM generate_series(1, 5000) n;
SELECT count(DISTINCT account_id) AS accounts, count(*) AS rows
  FROM inquiries WHERE reference_id LIKE 'bulk-trg-%';
DROP TABLE inquiries, orders, bad;
