/*
 * FIND-OR-CREATE: the functions of the fast path, in C (src/find.c,
 * src/identifiers.c, src/bulk.c, src/try.c, src/trigger.c).  One node
 * runs the protocol of src/lookup.c, a distributed cluster that of
 * src/dist.c; the rules and errors are the same (src/rules.c).  They need
 * no SECURITY DEFINER: on one node they read and write the tables through
 * the table and index access methods, which check no table privileges; on
 * Citus they run their statements as the extension's owner.  EXECUTE on
 * the function is the whole permission (80_privileges.sql).
 */
CREATE OR REPLACE FUNCTION accounts.find_or_create_account(
        type text, id_type text, value text,
        OUT account_id uuid, OUT created boolean)
    AS 'MODULE_PATHNAME', 'account_find_or_create'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts.find_or_create_account(text, text, text) IS
    'Return the account holding this identifier, creating it if there is none; race-free';

CREATE OR REPLACE FUNCTION accounts.find_or_create_account(
        type text, identifier accounts.identifier,
        OUT account_id uuid, OUT created boolean)
    AS 'MODULE_PATHNAME', 'account_find_or_create_ident'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts.find_or_create_account(text, accounts.identifier) IS
    'Return the account holding this identifier, creating it if there is none; race-free';

CREATE OR REPLACE FUNCTION accounts.find_or_create_accounts(type text, id_type text, vals text[])
    RETURNS TABLE (value text, account_id uuid, created boolean)
    AS 'MODULE_PATHNAME', 'account_find_or_create_many'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE ROWS 1000;
COMMENT ON FUNCTION accounts.find_or_create_accounts(text, text, text[]) IS
    'find_or_create_account for every element of vals: one row per element, in input order';

CREATE OR REPLACE FUNCTION accounts.try_find_or_create_account(
        type text, id_type text, value text,
        OUT account_id uuid, OUT created boolean,
        OUT error_code text, OUT error_message text)
    AS 'MODULE_PATHNAME', 'account_try_find_or_create'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts.try_find_or_create_account(text, text, text) IS
    'find_or_create_account that returns errors as data instead of raising them ("continue on error")';

CREATE OR REPLACE FUNCTION accounts.try_find_or_create_account(
        type text, identifier accounts.identifier,
        OUT account_id uuid, OUT created boolean,
        OUT error_code text, OUT error_message text)
    AS 'MODULE_PATHNAME', 'account_try_find_or_create_ident'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts.try_find_or_create_account(text, accounts.identifier) IS
    'find_or_create_account that returns errors as data instead of raising them ("continue on error")';

CREATE OR REPLACE FUNCTION accounts.assign_account() RETURNS trigger
    AS 'MODULE_PATHNAME', 'account_assign_account'
    LANGUAGE C;
COMMENT ON FUNCTION accounts.assign_account() IS
    'BEFORE INSERT OR UPDATE row trigger: sets a uuid column to the account of a source column; arguments (account_type, id_type, source_column, target_column)';

CREATE OR REPLACE FUNCTION accounts.find_or_create_account(
        type text, identifiers accounts.identifier[], on_conflict text DEFAULT 'error',
        OUT account_id uuid, OUT created boolean)
    AS 'MODULE_PATHNAME', 'account_find_or_create_multi'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts.find_or_create_account(text, accounts.identifier[], text) IS
    'The account holding any of these identifiers (attaching the others), or a new one holding all; when they belong to different accounts: 21000 (on_conflict => error), or those accounts merged into the oldest (on_conflict => merge)';

CREATE OR REPLACE FUNCTION accounts.add_identifier(account_id uuid, id_type text, value text)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'account_add_identifier'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts.add_identifier(uuid, text, text) IS
    'Attach an identifier to an account: true if added, false if it already has it, 23505 if another account has it';

CREATE OR REPLACE FUNCTION accounts.find_account(type text, id_type text, value text)
    RETURNS uuid
    AS 'MODULE_PATHNAME', 'account_find'
    LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION accounts.find_account(text, text, text) IS
    'Return the account holding this identifier, or NULL; never writes';

CREATE OR REPLACE FUNCTION accounts.normalize_identifier(type text, id_type text, value text)
    RETURNS text
    AS 'MODULE_PATHNAME', 'account_normalize_identifier'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION accounts.normalize_identifier(text, text, text) IS
    'The normalized form in which an identifier value is stored and matched';

/*
 * Normalization changes between versions (1.7: every default-ignorable
 * code point dropped, any space or dash in phone numbers): count the
 * stored values of table tbl that the current rules normalize to another
 * form, and say so in a WARNING with the query that lists them.  Changes
 * nothing: the new form may belong to another account.  Only values with
 * a character outside printable ASCII can differ.  The update from 1.6
 * calls it for accounts.identifiers, distribute() for dist_identifiers.
 */
CREATE OR REPLACE FUNCTION accounts_internal.warn_renormalized(tbl regclass) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r record;
    changed bigint := 0;
BEGIN
    FOR r IN EXECUTE pg_catalog.format(
            'SELECT account_type, id_type, value FROM %s WHERE value OPERATOR(pg_catalog.!~) ''^[ -~]*$''', tbl) LOOP
        BEGIN
            IF accounts.normalize_identifier(r.account_type, r.id_type, r.value) OPERATOR(pg_catalog.<>) r.value THEN
                changed := changed OPERATOR(pg_catalog.+) 1;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            changed := changed OPERATOR(pg_catalog.+) 1;    -- empty or invalid now
        END;
    END LOOP;
    IF changed OPERATOR(pg_catalog.>) 0 THEN
        RAISE WARNING '% identifier values stored by an earlier version normalize differently in 1.7', changed
            USING DETAIL = 'They hold invisible (default-ignorable) code points or phone separators that 1.7 drops; a lookup of the value finds them no more.',
                  HINT = pg_catalog.format('List them with SELECT account_id, id_type, value, accounts.normalize_identifier(account_type, id_type, value) FROM %s WHERE value !~ ''^[ -~]*$'' (a call that fails is a value that is empty now), then remove and re-add them, or merge the accounts.', tbl);
    END IF;
    RETURN changed;
END
$$;
COMMENT ON FUNCTION accounts_internal.warn_renormalized(regclass) IS
    'Internal (updates): a WARNING counting stored identifier values the current rules normalize differently';
