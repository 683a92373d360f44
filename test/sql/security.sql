-- Least privilege: nothing for PUBLIC, an application role does exactly
-- what it was granted.
\pset null '(null)'

-- no function of the extension, in either of its schemas, is executable
-- by PUBLIC
SELECT p.oid::regprocedure AS executable_by_public
  FROM pg_proc p
 WHERE p.pronamespace IN ('accounts'::regnamespace, 'accounts_internal'::regnamespace)
   AND (p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a
                                     WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'));
-- no table has privileges for anyone but its owner
SELECT c.relname, a.grantee::regrole, a.privilege_type
  FROM pg_class c, aclexplode(c.relacl) a
 WHERE c.relnamespace IN ('accounts'::regnamespace, 'accounts_internal'::regnamespace)
   AND a.grantee <> c.relowner;
-- nobody but the owner has a privilege on accounts_internal, and
-- accounts holds only the API: every function there is documented
SELECT n.nspname, a.grantee::regrole, a.privilege_type
  FROM pg_namespace n, aclexplode(n.nspacl) a
 WHERE n.nspname IN ('accounts', 'accounts_internal') AND a.grantee <> n.nspowner;
SELECT n.nspname, count(*) AS functions
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname IN ('accounts', 'accounts_internal')
 GROUP BY 1 ORDER BY 1;
-- which functions run as their owner: the PL/pgSQL ones that run SQL
SELECT p.oid::regprocedure AS security_definer,
       array_to_string(p.proconfig, ', ') AS config
  FROM pg_proc p
 WHERE p.pronamespace IN ('accounts'::regnamespace, 'accounts_internal'::regnamespace) AND p.prosecdef
 ORDER BY p.oid::regprocedure::text;
-- and every PL/pgSQL or SQL function of either schema pins search_path
SELECT p.oid::regprocedure AS unpinned
  FROM pg_proc p
 WHERE p.pronamespace IN ('accounts'::regnamespace, 'accounts_internal'::regnamespace)
   AND p.prolang <> (SELECT oid FROM pg_language WHERE lanname = 'c')
   AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false);

-- the recipe from the README
CREATE ROLE regress_account_app LOGIN;
CREATE ROLE regress_account_reader LOGIN;
CREATE ROLE regress_account_nobody LOGIN;
GRANT USAGE ON SCHEMA accounts TO regress_account_app, regress_account_reader;
GRANT EXECUTE ON FUNCTION
    accounts.find_or_create_account(text, text, text),
    accounts.find_or_create_account(text, accounts.identifier),
    accounts.find_or_create_account(text, accounts.identifier[], text),
    accounts.find_or_create_accounts(text, text, text[]),
    accounts.try_find_or_create_account(text, text, text),
    accounts.add_identifier(uuid, text, text),
    accounts.remove_identifier(uuid, text, text),
    accounts.find_account(text, text, text),
    accounts.normalize_identifier(text, text, text)
  TO regress_account_app;
GRANT EXECUTE ON FUNCTION
    accounts.find_account(text, text, text),
    accounts.normalize_identifier(text, text, text)
  TO regress_account_reader;

-- the application role finds and creates through the functions ...
SET ROLE regress_account_app;
SELECT created FROM accounts.find_or_create_account('user', 'reference_id', 'sec-1');
SELECT created FROM accounts.find_or_create_account('user', 'reference_id', 'SEC-1');
SELECT count(*) FROM accounts.find_or_create_accounts('user', 'reference_id', ARRAY['sec-2', 'sec-3']);
SELECT error_code FROM accounts.try_find_or_create_account('user', 'reference_id', 'sec-4');
SELECT accounts.add_identifier(accounts.find_account('user', 'reference_id', 'sec-1'), 'reference_id', 'sec-1b');
SELECT accounts.remove_identifier(accounts.find_account('user', 'reference_id', 'sec-1'), 'reference_id', 'sec-1b');
-- ... but cannot touch the tables or the registries directly: 42501
SELECT code, message FROM try($$SELECT * FROM accounts.accounts$$);
SELECT code, message FROM try($$INSERT INTO accounts.accounts (id, account_type) VALUES (gen_random_uuid(), 'user')$$);
SELECT code, message FROM try($$UPDATE accounts.identifiers SET value = 'x'$$);
SELECT code, message FROM try($$DELETE FROM accounts.identifiers$$);
SELECT code, message FROM try($$INSERT INTO accounts.account_types (name) VALUES ('mine')$$);
SELECT code, message FROM try($$SELECT accounts.create_account_type('mine')$$);
RESET ROLE;

-- a read-only role finds, and cannot create
SET ROLE regress_account_reader;
SELECT accounts.find_account('user', 'reference_id', 'sec-1') IS NOT NULL AS found;
SELECT code, message FROM try($$SELECT accounts.find_or_create_account('user', 'reference_id', 'sec-5')$$);
RESET ROLE;

-- a role given nothing gets 42501
SET ROLE regress_account_nobody;
SELECT code, message FROM try($$SELECT accounts.find_account('user', 'reference_id', 'sec-1')$$);
SELECT code, message FROM try($$SELECT accounts.find_or_create_account('user', 'reference_id', 'sec-6')$$);
RESET ROLE;

SELECT value FROM accounts.identifiers WHERE value LIKE 'sec-%' ORDER BY value;
DROP OWNED BY regress_account_app, regress_account_reader, regress_account_nobody;
DROP ROLE regress_account_app, regress_account_reader, regress_account_nobody;
