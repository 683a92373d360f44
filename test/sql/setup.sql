-- CREATE EXTENSION account: schema, registries, tables, functions.
CREATE EXTENSION account;

SELECT extname, extversion, extrelocatable, n.nspname AS schema
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE extname = 'account';

-- the objects it owns (from PostgreSQL 17 on, the row and array types of
-- its tables are members too: expected/setup_1.out)
SELECT pg_describe_object(classid, objid, 0) AS object
  FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'account')
   AND deptype = 'e'
 ORDER BY 1;

-- the documented interface
SELECT p.oid::regprocedure AS function,
       pg_get_function_arguments(p.oid) AS arguments,
       pg_get_function_result(p.oid) AS result
  FROM pg_proc p
 WHERE p.pronamespace = 'accounts'::regnamespace
   AND p.proname IN ('find_or_create_account', 'find_account', 'normalize_identifier')
 ORDER BY p.oid::regprocedure::text;

-- (\d would list the disabled foreign-key check triggers by OID-derived
-- names; show the columns, then those triggers by what they check)
SELECT attname, format_type(atttypid, atttypmod) AS type, attnotnull
  FROM pg_attribute WHERE attrelid = 'accounts.identifiers'::regclass AND attnum > 0 ORDER BY attnum;
SELECT attname, format_type(atttypid, atttypmod) AS type, attnotnull
  FROM pg_attribute WHERE attrelid = 'accounts.accounts'::regclass AND attnum > 0 ORDER BY attnum;
SELECT t.tgrelid::regclass AS on_table, c.conname, t.tgfoid::regproc AS checks, t.tgenabled AS enabled
  FROM pg_trigger t JOIN pg_constraint c ON c.oid = t.tgconstraint
 WHERE t.tgrelid = c.conrelid AND c.connamespace = 'accounts'::regnamespace
 ORDER BY t.tgrelid::regclass::text, c.conname, t.tgfoid::regproc::text COLLATE "C";
SELECT pg_get_indexdef(indexrelid) FROM pg_index
 WHERE indrelid IN ('accounts.identifiers'::regclass, 'accounts.accounts'::regclass) ORDER BY 1;

-- seeded registry
SELECT name FROM accounts.account_types ORDER BY name;
SELECT account_type, name, kind, case_sensitive FROM accounts.identifier_types ORDER BY 1, 2;

-- reference_id exists for every account type, including ones added later
INSERT INTO accounts.account_types (name) VALUES ('merchant');
SELECT account_type, name, kind, case_sensitive FROM accounts.identifier_types ORDER BY 1, 2;

-- a helper for the tests: run a statement, show its SQLSTATE, message,
-- detail and hint instead of failing
CREATE FUNCTION public.try(stmt text)
RETURNS TABLE (code text, message text, detail text, hint text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    code := '00000';
    RETURN NEXT;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    RETURN NEXT;
END
$$;
