-- Folding is the same in every database: a database whose LC_CTYPE is 'C'
-- folds non-ASCII letters exactly as a UTF-8 locale does (ICU, not libc).
SELECT accounts.normalize_identifier('user', 'reference_id', 'ÉCOLE') AS in_utf8_locale;
CREATE DATABASE account_c_ctype TEMPLATE template0 ENCODING 'UTF8'
    LC_COLLATE 'C' LC_CTYPE 'C';
\c account_c_ctype
SELECT datctype AS lc_ctype FROM pg_database WHERE datname = current_database();
CREATE EXTENSION account;
SELECT lower('ÉCOLE') AS libc_lower_in_c_locale,
       accounts.normalize_identifier('user', 'reference_id', 'ÉCOLE') AS folded;
SELECT a.account_id = b.account_id AS same_account, a.created::int + b.created::int AS creators
  FROM accounts.find_or_create_account('user', 'reference_id', 'ÉCOLE') a,
       accounts.find_or_create_account('user', 'reference_id', 'école') b;
\c contrib_regression
DROP DATABASE account_c_ctype;
