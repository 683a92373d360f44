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
        type text, identifiers accounts.identifier[],
        OUT account_id uuid, OUT created boolean)
    AS 'MODULE_PATHNAME', 'account_find_or_create_multi'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts.find_or_create_account(text, accounts.identifier[]) IS
    'The account holding any of these identifiers (attaching the others), or a new one holding all; 21000 if they belong to different accounts';

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
