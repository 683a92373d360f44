-- account 1.6 -> 1.7: one set of rules for one node and Citus (the
-- storage layer, 40_storage.sql), correct under two-phase commit
-- (src/settle.c), the internal functions in schema accounts_internal, and
-- erasure that leaves no values in statistics, index entries or other
-- accounts' events.  On a distributed cluster, SELECT accounts.distribute()
-- on the coordinator afterwards finishes the update of the distributed
-- tables (ALTER EXTENSION cannot: Citus updates the workers' functions
-- after the coordinator's script has run).
--
-- Frozen with the release of 1.7: below, the functions of 1.7's
-- sql/parts/ as they were then.  Only the newest update script takes the
-- current parts (-- @parts@); a later version's functions come from its
-- own script.
\echo Use "ALTER EXTENSION account UPDATE TO '1.7'" to load this file. \quit

CREATE SCHEMA accounts_internal;
COMMENT ON SCHEMA accounts_internal IS
    'Internal functions of extension account; applications are never granted anything here';

-- the internal functions that stay, to their schema (the parts below
-- replace their bodies)
ALTER FUNCTION accounts.registry_changed() SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.skip_existing_registry_row() SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.add_reference_id() SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.guard_tables() SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.check_unseen_identifiers(uuid[]) SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.repoint_assigned(uuid, uuid[]) SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.set_account_status(uuid, boolean) SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.normalize_tags(text[]) SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.change_tags(uuid, text[], boolean) SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.journal_event(uuid, text, text, jsonb) SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.trim_node_events(timestamptz) SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.new_account_id(integer) SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.is_distributed() SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.is_journal_distributed() SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.dist_journal_setup() SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.dist_journal_write() SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.dist_redact_events() SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.dist_mirror_journal_setting() SET SCHEMA accounts_internal;

-- the distributed twins: the rules are written once now, and the storage
-- layer reaches one node's tables or the distributed ones
DROP FUNCTION accounts.dist_key(text, text, text, boolean);
DROP FUNCTION accounts.dist_identifier_type(text, text, boolean);
DROP FUNCTION accounts.dist_find_or_create_key(text, text, integer, text);
DROP FUNCTION accounts.dist_find_or_create_account(text, text, text);
DROP FUNCTION accounts.dist_find_or_create_account(text, accounts.identifier);
DROP FUNCTION accounts.dist_find_or_create_account(text, accounts.identifier[]);
DROP FUNCTION accounts.dist_find_account(text, text, text);
DROP FUNCTION accounts.dist_normalize_identifier(text, text, text);
DROP FUNCTION accounts.dist_find_or_create_accounts(text, text, text[]);
DROP FUNCTION accounts.dist_split(text, uuid, uuid);
DROP FUNCTION accounts.dist_lock_attachable(uuid);
DROP FUNCTION accounts.dist_add_identifier(uuid, text, text);
DROP FUNCTION accounts.dist_try_find_or_create_account(text, text, text);
DROP FUNCTION accounts.dist_try_find_or_create_account(text, accounts.identifier);
DROP FUNCTION accounts.dist_get_account(uuid);
DROP FUNCTION accounts.dist_read_committed(text);
DROP FUNCTION accounts.dist_lock_account(uuid, text);
DROP FUNCTION accounts.dist_resolve_account(uuid);
DROP FUNCTION accounts.dist_set_account_status(uuid, boolean);
DROP FUNCTION accounts.dist_change_tags(uuid, text[], boolean);
DROP FUNCTION accounts.dist_accounts_with_tag(text, text);
DROP FUNCTION accounts.dist_remove_identifier(uuid, text, text);
DROP FUNCTION accounts.dist_redact_account(uuid);
DROP FUNCTION accounts.dist_merge_accounts(uuid, uuid[]);
DROP FUNCTION accounts.dist_drop_identifier_type(text, text);
DROP FUNCTION accounts.dist_drop_account_type(text);
DROP FUNCTION accounts.dist_journal_event(uuid, text, text, jsonb);
DROP FUNCTION accounts.dist_set_journal(text, boolean);
DROP FUNCTION accounts.normalize_value(text, text, text, boolean, text);
-- new signatures
DROP FUNCTION accounts.redacted_detail(jsonb);
DROP FUNCTION accounts.redact_node_events(uuid[]);

-- erasure (10_tables.sql, ERASURE): no per-value statistics of identifier
-- values or event details, and none of what ANALYZE kept so far
ALTER TABLE accounts.identifiers ALTER COLUMN value SET STATISTICS 0;
ALTER TABLE accounts.events ALTER COLUMN detail SET STATISTICS 0;
ALTER TABLE accounts.identifiers SET (vacuum_index_cleanup = on);
ALTER TABLE accounts.events SET (vacuum_index_cleanup = on);
DELETE FROM pg_catalog.pg_statistic s
 USING pg_catalog.pg_attribute a
 WHERE a.attrelid OPERATOR(pg_catalog.=) s.starelid AND a.attnum OPERATOR(pg_catalog.=) s.staattnum
   AND ((s.starelid OPERATOR(pg_catalog.=) 'accounts.identifiers'::pg_catalog.regclass
         AND a.attname OPERATOR(pg_catalog.=) 'value')
        OR (s.starelid OPERATOR(pg_catalog.=) 'accounts.events'::pg_catalog.regclass
            AND a.attname OPERATOR(pg_catalog.=) 'detail'));
CREATE INDEX events_removed_value_idx ON accounts.events ((detail OPERATOR(pg_catalog.->>) 'value'))
    WHERE kind OPERATOR(pg_catalog.=) 'identifier.removed';
ALTER INDEX accounts.events_removed_value_idx ALTER COLUMN 1 SET STATISTICS 0;

-- the storage layer's row type (40_storage.sql)
CREATE TYPE accounts_internal.account_row AS (
    id            uuid,
    account_type  text COLLATE "C",
    status        accounts.account_status,
    merged_into   uuid,
    tags          text[] COLLATE "C",
    created_at    timestamptz,
    updated_at    timestamptz,
    redacted_at   timestamptz
);

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

/*
 * THE REGISTRIES AND IDENTIFIERS: creating and dropping account types and
 * identifier types, removing an identifier, finding many (PL/pgSQL).  One
 * set of rules for one node and for Citus; where the rows are is the
 * storage layer's (40_storage.sql).
 *
 * They run SQL against the extension's tables, so they are SECURITY
 * DEFINER: a role granted EXECUTE needs no privilege on the tables.  Every
 * name is schema-qualified, operators are written OPERATOR(pg_catalog.x),
 * and search_path is pinned to pg_catalog, pg_temp (pg_temp last, so no
 * temporary object can shadow anything).  Their bodies call functions of
 * the extension's schemas only with arguments of their exact types (so no
 * overload another role might add could be chosen; no other role may
 * create objects there: 00_guard.sql), and nothing unqualified outside
 * pg_catalog.
 *
 * Dropping a type: creators hold the type's registry row FOR KEY SHARE
 * until they end (src/rowlock.c, ROW LOCKS; src/dist.c on Citus), as a
 * foreign-key check would.  A drop deletes the row, which waits for the
 * creators in progress and keeps new ones out (they find the type gone:
 * 42704), then looks for what uses it: on one node PostgreSQL's own check
 * of the DELETE (23503) finds the creators' rows, with a current snapshot
 * whatever the isolation level; on Citus the search settles every node
 * first (src/settle.c), and needs READ COMMITTED.  Either way it is 2BP01
 * and the DELETE rolls back with it.  No table lock is taken on one node,
 * so a drop waiting for a long transaction never blocks finding or
 * creating accounts of other types, and never blocks finding at all.
 */
CREATE OR REPLACE FUNCTION accounts.create_account_type(name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF create_account_type.name IS NULL THEN
        RAISE EXCEPTION 'argument "name" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF create_account_type.name OPERATOR(pg_catalog.!~) '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid account type name "%"', create_account_type.name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Names start with a lowercase letter, then up to 62 lowercase letters, digits or underscores.';
    END IF;
    PERFORM accounts_internal.store_registry_lock();
    IF NOT accounts_internal.store_insert_account_type(create_account_type.name::pg_catalog.text) THEN
        RAISE EXCEPTION 'account type "%" already exists', create_account_type.name
            USING ERRCODE = 'duplicate_object',
                  HINT = 'List account types with SELECT name FROM accounts.account_types.';
    END IF;
    PERFORM accounts_internal.journal_event(NULL::uuid, create_account_type.name::pg_catalog.text,
                                            'account_type.created'::pg_catalog.text,
                                            pg_catalog.jsonb_build_object('name', create_account_type.name));
    PERFORM accounts_internal.journal_event(NULL::uuid, create_account_type.name::pg_catalog.text,
                                            'identifier_type.created'::pg_catalog.text,
                                            pg_catalog.jsonb_build_object('name', 'reference_id', 'kind', 'text',
                                                                          'case_sensitive', false));
END
$$;
COMMENT ON FUNCTION accounts.create_account_type(text) IS
    'Register an account type; it gets a reference_id identifier type';

CREATE OR REPLACE FUNCTION accounts.create_identifier_type(account_type text, name text,
        kind text DEFAULT 'text', case_sensitive boolean DEFAULT false) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF create_identifier_type.account_type IS NULL THEN
        RAISE EXCEPTION 'argument "account_type" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF create_identifier_type.name IS NULL THEN
        RAISE EXCEPTION 'argument "name" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF create_identifier_type.kind IS NULL THEN
        RAISE EXCEPTION 'argument "kind" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF create_identifier_type.case_sensitive IS NULL THEN
        RAISE EXCEPTION 'argument "case_sensitive" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF create_identifier_type.kind OPERATOR(pg_catalog.<>) ALL (ARRAY['text', 'email', 'phone']) THEN
        RAISE EXCEPTION 'unknown identifier kind "%"', create_identifier_type.kind
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The kinds are text, email and phone.';
    END IF;
    IF create_identifier_type.case_sensitive
       AND create_identifier_type.kind OPERATOR(pg_catalog.<>) 'text' THEN
        RAISE EXCEPTION 'identifier kind "%" cannot be case-sensitive', create_identifier_type.kind
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Email addresses are always compared without case; phone numbers have no case.',
                  HINT = 'Omit case_sensitive, or use kind text for a case-sensitive identifier.';
    END IF;
    -- the account type held as the foreign key's check would hold it: a
    -- concurrent drop_account_type() has finished, or waits for this one
    PERFORM accounts_internal.store_registry_lock();
    IF NOT accounts_internal.store_lock_account_type(create_identifier_type.account_type::pg_catalog.text) THEN
        RAISE EXCEPTION 'account type "%" does not exist', create_identifier_type.account_type
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create it first with accounts.create_account_type().';
    END IF;
    IF create_identifier_type.name OPERATOR(pg_catalog.!~) '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid identifier type name "%"', create_identifier_type.name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Names start with a lowercase letter, then up to 62 lowercase letters, digits or underscores.';
    END IF;
    IF NOT accounts_internal.store_insert_identifier_type(create_identifier_type.account_type::pg_catalog.text,
                                                          create_identifier_type.name::pg_catalog.text,
                                                          create_identifier_type.kind::pg_catalog.text,
                                                          create_identifier_type.case_sensitive::pg_catalog.bool) THEN
        RAISE EXCEPTION 'identifier type "%" already exists for account type "%"',
                        create_identifier_type.name, create_identifier_type.account_type
            USING ERRCODE = 'duplicate_object',
                  HINT = 'List identifier types with SELECT * FROM accounts.identifier_types.';
    END IF;
    PERFORM accounts_internal.journal_event(NULL::uuid, create_identifier_type.account_type::pg_catalog.text,
                                            'identifier_type.created'::pg_catalog.text,
                                            pg_catalog.jsonb_build_object('name', create_identifier_type.name,
                                                                          'kind', create_identifier_type.kind,
                                                                          'case_sensitive', create_identifier_type.case_sensitive));
END
$$;
COMMENT ON FUNCTION accounts.create_identifier_type(text, text, text, boolean) IS
    'Register an identifier type (kind text, email or phone) for an account type';

CREATE OR REPLACE FUNCTION accounts.drop_identifier_type(account_type text, name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF drop_identifier_type.account_type IS NULL THEN
        RAISE EXCEPTION 'argument "account_type" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF drop_identifier_type.name IS NULL THEN
        RAISE EXCEPTION 'argument "name" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF drop_identifier_type.name OPERATOR(pg_catalog.=) 'reference_id' THEN
        RAISE EXCEPTION 'identifier type "reference_id" cannot be dropped'
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'reference_id exists for every account type.',
                  HINT = 'Drop the account type instead, with accounts.drop_account_type().';
    END IF;
    PERFORM accounts_internal.store_require_read_committed('drop_identifier_type()'::pg_catalog.text);
    PERFORM accounts_internal.store_registry_lock();
    BEGIN
        IF NOT accounts_internal.store_delete_identifier_type(drop_identifier_type.account_type::pg_catalog.text,
                                                              drop_identifier_type.name::pg_catalog.text) THEN
            RAISE EXCEPTION 'identifier type "%" does not exist for account type "%"',
                            drop_identifier_type.name, drop_identifier_type.account_type
                USING ERRCODE = 'undefined_object',
                      HINT = 'List identifier types with SELECT * FROM accounts.identifier_types.';
        END IF;
        IF accounts_internal.store_type_in_use(drop_identifier_type.account_type::pg_catalog.text,
                                               drop_identifier_type.name::pg_catalog.text) THEN
            RAISE foreign_key_violation;
        END IF;
        PERFORM accounts_internal.journal_event(NULL::uuid, drop_identifier_type.account_type::pg_catalog.text,
                                                'identifier_type.dropped'::pg_catalog.text,
                                                pg_catalog.jsonb_build_object('name', drop_identifier_type.name));
    EXCEPTION WHEN foreign_key_violation THEN
        RAISE EXCEPTION 'identifier type "%" of account type "%" is in use',
                        drop_identifier_type.name, drop_identifier_type.account_type
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'Identifiers of this type exist.',
                  HINT = 'Remove them first with accounts.remove_identifier().';
    END;
END
$$;
COMMENT ON FUNCTION accounts.drop_identifier_type(text, text) IS
    'Drop an identifier type that no identifier uses';

CREATE OR REPLACE FUNCTION accounts.drop_account_type(name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF drop_account_type.name IS NULL THEN
        RAISE EXCEPTION 'argument "name" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF drop_account_type.name OPERATOR(pg_catalog.=) 'user' THEN
        RAISE EXCEPTION 'account type "user" cannot be dropped'
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'It is the default account type.',
                  HINT = 'Create account types of your own with accounts.create_account_type().';
    END IF;
    PERFORM accounts_internal.store_require_read_committed('drop_account_type()'::pg_catalog.text);
    PERFORM accounts_internal.store_registry_lock();
    BEGIN
        IF NOT accounts_internal.store_delete_account_type(drop_account_type.name::pg_catalog.text) THEN
            RAISE EXCEPTION 'account type "%" does not exist', drop_account_type.name
                USING ERRCODE = 'undefined_object',
                      HINT = 'List account types with SELECT name FROM accounts.account_types.';
        END IF;
        IF accounts_internal.store_account_type_in_use(drop_account_type.name::pg_catalog.text) THEN
            RAISE foreign_key_violation;
        END IF;
        PERFORM accounts_internal.journal_event(NULL::uuid, drop_account_type.name::pg_catalog.text,
                                                'account_type.dropped'::pg_catalog.text,
                                                pg_catalog.jsonb_build_object('name', drop_account_type.name));
        PERFORM accounts_internal.store_drop_journal_setting(drop_account_type.name::pg_catalog.text);
    EXCEPTION WHEN foreign_key_violation THEN
        RAISE EXCEPTION 'account type "%" is in use', drop_account_type.name
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'Accounts of this type exist.',
                  HINT = 'Delete its accounts first.';
    END;
END
$$;
COMMENT ON FUNCTION accounts.drop_account_type(text) IS
    'Drop an account type (and its identifier types) that no account uses';

/*
 * Detach an identifier.  The account's row is updated to itself first: it
 * waits for a merge or redaction of the account, serializes removals from
 * it (an account never loses its last identifier), and makes a concurrent
 * removal under REPEATABLE READ fail with 40001 instead of counting with a
 * stale snapshot.
 */
CREATE OR REPLACE FUNCTION accounts.remove_identifier(account_id uuid, id_type text, value text)
    RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    acc_type text;
    norm text;
BEGIN
    IF remove_identifier.account_id IS NULL THEN
        RAISE EXCEPTION 'argument "account_id" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF remove_identifier.id_type IS NULL THEN
        RAISE EXCEPTION 'argument "id_type" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF remove_identifier.value IS NULL THEN
        RAISE EXCEPTION 'argument "value" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    acc_type := accounts_internal.store_touch_account(remove_identifier.account_id::pg_catalog.uuid);
    IF acc_type IS NULL THEN
        RAISE EXCEPTION 'account % does not exist', remove_identifier.account_id
            USING ERRCODE = 'undefined_object',
                  HINT = 'Look accounts up with accounts.find_account().';
    END IF;
    norm := accounts.normalize_identifier(acc_type::pg_catalog.text,
                                          remove_identifier.id_type::pg_catalog.text,
                                          remove_identifier.value::pg_catalog.text);
    IF accounts_internal.store_find_identifier(acc_type::pg_catalog.text, remove_identifier.id_type::pg_catalog.text,
                                               norm::pg_catalog.text)
       IS DISTINCT FROM remove_identifier.account_id THEN
        RETURN false;
    END IF;
    IF (SELECT pg_catalog.count(*) FROM accounts_internal.store_identifiers(ARRAY[remove_identifier.account_id]::uuid[]))
       OPERATOR(pg_catalog.<=) 1 THEN
        RAISE EXCEPTION 'cannot remove the last identifier of account %', remove_identifier.account_id
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'An account always has at least one identifier.',
                  HINT = pg_catalog.format('Delete the account instead: DELETE FROM accounts.accounts WHERE id = %L.',
                                           remove_identifier.account_id);
    END IF;
    PERFORM accounts_internal.store_delete_identifier(acc_type::pg_catalog.text,
                                                      remove_identifier.id_type::pg_catalog.text,
                                                      norm::pg_catalog.text);
    PERFORM accounts_internal.journal_event(remove_identifier.account_id, acc_type,
                                            'identifier.removed'::pg_catalog.text,
                                            pg_catalog.jsonb_build_object('id_type', remove_identifier.id_type,
                                                                          'value', norm));
    RETURN true;
END
$$;
COMMENT ON FUNCTION accounts.remove_identifier(uuid, text, text) IS
    'Detach an identifier from an account: true if removed, false if the account does not have it; never its last one';

CREATE OR REPLACE FUNCTION accounts.find_accounts(type text, id_type text, vals text[])
    RETURNS TABLE (value text, account_id uuid)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    ROWS 1000
    AS $$
BEGIN
    -- find_account() takes the distributed path itself
    PERFORM accounts_internal.is_distributed();
    IF find_accounts.type IS NULL THEN
        RAISE EXCEPTION 'argument "type" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass an account type, an identifier type and an array of values.';
    END IF;
    IF find_accounts.id_type IS NULL THEN
        RAISE EXCEPTION 'argument "id_type" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass an account type, an identifier type and an array of values.';
    END IF;
    IF find_accounts.vals IS NULL THEN
        RAISE EXCEPTION 'argument "vals" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass an account type, an identifier type and an array of values.';
    END IF;
    IF pg_catalog.array_ndims(find_accounts.vals) OPERATOR(pg_catalog.>) 1 THEN
        RAISE EXCEPTION 'argument "vals" must be a one-dimensional array' USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass a text[] like ARRAY[''a'', ''b''].';
    END IF;
    IF pg_catalog.array_position(find_accounts.vals, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'argument "vals[%]" must not be null', pg_catalog.array_position(find_accounts.vals, NULL)
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass values without NULLs.';
    END IF;
    RETURN QUERY
        SELECT v.v, accounts.find_account(find_accounts.type, find_accounts.id_type, v.v)
          FROM pg_catalog.unnest(find_accounts.vals) WITH ORDINALITY AS v(v, n)
         ORDER BY v.n;
END
$$;
COMMENT ON FUNCTION accounts.find_accounts(text, text, text[]) IS
    'find_account for every element of vals: (value, account_id or NULL), in input order; never writes';

/*
 * THE STORAGE LAYER (1.7)
 * =======================
 *
 * The lifecycle and the registries (50_lifecycle.sql, 30_registry.sql)
 * are written once, for one node and for Citus alike: every rule, limit,
 * error and event is there, and only there.  What differs is where the
 * rows are and how a statement reaches them, and that is this layer:
 * accounts_internal.store_*(), each a statement or two on one node's
 * tables (accounts.accounts, accounts.identifiers, the registries), and
 * their counterparts on a distributed cluster (accounts.dist_*, every
 * statement naming the route of its row, so that Citus sends it to one
 * shard, in the caller's transaction).  Nothing here raises a rule's
 * error; a caller gets rows, counts and booleans, and decides.
 *
 * What the distributed side adds is settling (src/settle.c, TWO-PHASE
 * COMMIT): before it reads what a transaction it waited for may still be
 * writing on another node, it waits for what that node has only prepared.
 *   - store_lock_accounts() and store_touch_account() settle the account's
 *     node when the row is not there: a create committed elsewhere and
 *     still prepared there;
 *   - store_settle() (merge, redaction) and store_identifiers() (removal,
 *     get_account()) settle every node before the identifiers of an
 *     account are read: an attach whose account row was released on its
 *     node and whose identifier is still prepared on another;
 *   - store_find_identifier() settles the identifier's node;
 *   - store_type_in_use() and store_account_type_in_use() settle every
 *     node after a drop deleted the registry row: a creator that released
 *     its lock on one node's copy and is still prepared where its
 *     identifiers are.
 * One node settles nothing: a lock there is released when everything the
 * transaction wrote is visible.  Under REPEATABLE READ store_settle()
 * checks for attaches the snapshot cannot see (40001, src/rowlock.c);
 * Citus has one snapshot per node and no such check, so merging,
 * redacting and dropping types refuse REPEATABLE READ there
 * (store_require_read_committed()).
 *
 * Locks: the same on both, in the same order (account id).  Citus takes
 * each row's lock on its own shard, one after the other, each after the
 * shard group's metadata lock (accounts_internal.hold_placement(), so that
 * a shard move waits for the lock's transaction: src/moves.c, SHARD
 * MOVES); one node takes them in one statement.
 *
 * These functions run as the extension's owner: only the SECURITY DEFINER
 * functions of the extension call them, and nobody else may (EXECUTE is
 * revoked from PUBLIC and nobody is granted USAGE on accounts_internal).
 */

/* Citus: merging, redacting and dropping types need READ COMMITTED. */
CREATE OR REPLACE FUNCTION accounts_internal.store_require_read_committed(what text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF accounts_internal.is_distributed()
       AND pg_catalog.current_setting('transaction_isolation') OPERATOR(pg_catalog.<>) 'read committed' THEN
        RAISE EXCEPTION '% runs under READ COMMITTED on a distributed cluster', store_require_read_committed.what
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'REPEATABLE READ holds per node on Citus, so identifiers attached concurrently on other nodes could be missed.',
                  HINT = 'Call it in a READ COMMITTED transaction.';
    END IF;
END
$$;

/*
 * The rows of the accounts ids, in id order, locked with strength
 * ('update', 'no key update'; 'none' reads without a lock).  Ids without a
 * row are left out.
 */
CREATE OR REPLACE FUNCTION accounts_internal.store_lock_accounts(ids uuid[], strength text)
    RETURNS SETOF accounts_internal.account_row
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    sorted uuid[] := ARRAY(SELECT DISTINCT x FROM pg_catalog.unnest(store_lock_accounts.ids) x ORDER BY 1);
    r accounts_internal.account_row;
    q text;
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        IF strength OPERATOR(pg_catalog.=) 'update' THEN
            RETURN QUERY SELECT a.id, a.account_type::text, a.status, a.merged_into, a.tags::text[], a.created_at,
                                a.updated_at, a.redacted_at
                           FROM accounts.accounts a WHERE a.id OPERATOR(pg_catalog.=) ANY (sorted)
                          ORDER BY a.id FOR UPDATE;
        ELSIF strength OPERATOR(pg_catalog.=) 'no key update' THEN
            RETURN QUERY SELECT a.id, a.account_type::text, a.status, a.merged_into, a.tags::text[], a.created_at,
                                a.updated_at, a.redacted_at
                           FROM accounts.accounts a WHERE a.id OPERATOR(pg_catalog.=) ANY (sorted)
                          ORDER BY a.id FOR NO KEY UPDATE;
        ELSE
            RETURN QUERY SELECT a.id, a.account_type::text, a.status, a.merged_into, a.tags::text[], a.created_at,
                                a.updated_at, a.redacted_at
                           FROM accounts.accounts a WHERE a.id OPERATOR(pg_catalog.=) ANY (sorted)
                          ORDER BY a.id;
        END IF;
        RETURN;
    END IF;
    q := 'SELECT a.id, a.account_type::pg_catalog.text, a.status, a.merged_into, a.tags::pg_catalog.text[],'
         ' a.created_at, a.updated_at, a.redacted_at FROM accounts.dist_accounts a'
         ' WHERE a.route OPERATOR(pg_catalog.=) $1 AND a.id OPERATOR(pg_catalog.=) $2'
         OPERATOR(pg_catalog.||) CASE strength WHEN 'update' THEN ' FOR UPDATE'
                                               WHEN 'no key update' THEN ' FOR NO KEY UPDATE' ELSE '' END;
    FOR i IN 1 .. COALESCE(pg_catalog.cardinality(sorted), 0) LOOP
        IF strength OPERATOR(pg_catalog.<>) 'none' THEN
            -- a row lock that a shard move cannot leave behind (src/moves.c, SHARD MOVES)
            PERFORM accounts_internal.hold_placement(accounts.account_route(sorted[i]));
        END IF;
        EXECUTE q INTO r USING accounts.account_route(sorted[i]), sorted[i];
        IF r.id IS NULL THEN
            -- a create committed on another node may still be prepared here
            PERFORM accounts_internal.settle_route(accounts.account_route(sorted[i]));
            EXECUTE q INTO r USING accounts.account_route(sorted[i]), sorted[i];
        END IF;
        IF r.id IS NOT NULL THEN
            RETURN NEXT r;
        END IF;
    END LOOP;
END
$$;

/*
 * Lock an account's row by updating it to itself, so that a transaction
 * whose snapshot predates this one's commit gets 40001 when it locks the
 * row too (remove_identifier(): two removals from one account under
 * REPEATABLE READ).  Its account type, or NULL if there is no such
 * account.
 */
CREATE OR REPLACE FUNCTION accounts_internal.store_touch_account(id uuid) RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t text;
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        UPDATE accounts.accounts a SET id = a.id WHERE a.id OPERATOR(pg_catalog.=) store_touch_account.id
        RETURNING a.account_type INTO t;
        RETURN t;
    END IF;
    FOR attempt IN 1 .. 2 LOOP
        UPDATE accounts.dist_accounts a SET id = a.id
         WHERE a.route OPERATOR(pg_catalog.=) accounts.account_route(store_touch_account.id)
           AND a.id OPERATOR(pg_catalog.=) store_touch_account.id
        RETURNING a.account_type INTO t;
        EXIT WHEN t IS NOT NULL OR attempt OPERATOR(pg_catalog.=) 2;
        PERFORM accounts_internal.settle_route(accounts.account_route(store_touch_account.id));
    END LOOP;
    RETURN t;
END
$$;

/*
 * Before a merge or redaction reads the identifiers of its accounts (which
 * it holds FOR UPDATE): Citus settles every node; one node, under
 * REPEATABLE READ, raises 40001 for an attach the snapshot cannot see.
 */
CREATE OR REPLACE FUNCTION accounts_internal.store_settle(ids uuid[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF accounts_internal.is_distributed() THEN
        PERFORM accounts_internal.settle_nodes();
    ELSE
        PERFORM accounts_internal.check_unseen_identifiers(store_settle.ids);
    END IF;
END
$$;

/* The identifiers of the accounts ids (Citus: after settling every node). */
CREATE OR REPLACE FUNCTION accounts_internal.store_identifiers(ids uuid[])
    RETURNS TABLE (account_id uuid, id_type text, value text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        RETURN QUERY SELECT i.account_id, i.id_type::text, i.value::text FROM accounts.identifiers i
                      WHERE i.account_id OPERATOR(pg_catalog.=) ANY (store_identifiers.ids);
        RETURN;
    END IF;
    PERFORM accounts_internal.settle_nodes();
    RETURN QUERY SELECT i.account_id, i.id_type::text, i.value::text FROM accounts.dist_identifiers i
                  WHERE i.account_id OPERATOR(pg_catalog.=) ANY (store_identifiers.ids);
END
$$;

/* Point every identifier of the accounts srcs at into; how many moved. */
CREATE OR REPLACE FUNCTION accounts_internal.store_move_identifiers(srcs uuid[], "into" uuid) RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    moved integer := 0;
    r record;
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        UPDATE accounts.identifiers i SET account_id = store_move_identifiers."into"
         WHERE i.account_id OPERATOR(pg_catalog.=) ANY (store_move_identifiers.srcs);
        GET DIAGNOSTICS moved = ROW_COUNT;
        RETURN moved;
    END IF;
    -- one by one on their own shards, in key order
    FOR r IN SELECT i.route, i.value, i.id_type, i.account_type FROM accounts.dist_identifiers i
              WHERE i.account_id OPERATOR(pg_catalog.=) ANY (store_move_identifiers.srcs)
              ORDER BY i.route, i.value, i.id_type LOOP
        UPDATE accounts.dist_identifiers i SET account_id = store_move_identifiers."into"
         WHERE i.route OPERATOR(pg_catalog.=) r.route AND i.value OPERATOR(pg_catalog.=) r.value
           AND i.id_type OPERATOR(pg_catalog.=) r.id_type AND i.account_type OPERATOR(pg_catalog.=) r.account_type;
        moved := moved OPERATOR(pg_catalog.+) 1;
    END LOOP;
    RETURN moved;
END
$$;

/* Delete every identifier of account id but its reference ids; the erased ones. */
CREATE OR REPLACE FUNCTION accounts_internal.store_erase_identifiers(id uuid)
    RETURNS SETOF accounts.identifier
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r record;
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        RETURN QUERY DELETE FROM accounts.identifiers i
                      WHERE i.account_id OPERATOR(pg_catalog.=) store_erase_identifiers.id
                        AND i.id_type OPERATOR(pg_catalog.<>) 'reference_id'
                     RETURNING i.id_type::text, i.value::text;
        RETURN;
    END IF;
    FOR r IN SELECT i.route, i.value, i.id_type, i.account_type FROM accounts.dist_identifiers i
              WHERE i.account_id OPERATOR(pg_catalog.=) store_erase_identifiers.id
                AND i.id_type OPERATOR(pg_catalog.<>) 'reference_id'
              ORDER BY i.route, i.value, i.id_type LOOP
        DELETE FROM accounts.dist_identifiers i
         WHERE i.route OPERATOR(pg_catalog.=) r.route AND i.value OPERATOR(pg_catalog.=) r.value
           AND i.id_type OPERATOR(pg_catalog.=) r.id_type AND i.account_type OPERATOR(pg_catalog.=) r.account_type;
        RETURN NEXT ROW(r.id_type::text, r.value::text)::accounts.identifier;
    END LOOP;
END
$$;

/* Mark the accounts srcs merged into into. */
CREATE OR REPLACE FUNCTION accounts_internal.store_mark_merged(srcs uuid[], "into" uuid) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        UPDATE accounts.accounts a
           SET status = 'merged', merged_into = store_mark_merged."into", updated_at = pg_catalog.now()
         WHERE a.id OPERATOR(pg_catalog.=) ANY (store_mark_merged.srcs);
        RETURN;
    END IF;
    FOR i IN 1 .. pg_catalog.cardinality(store_mark_merged.srcs) LOOP
        UPDATE accounts.dist_accounts a
           SET status = 'merged', merged_into = store_mark_merged."into", updated_at = pg_catalog.now()
         WHERE a.route OPERATOR(pg_catalog.=) accounts.account_route(store_mark_merged.srcs[i])
           AND a.id OPERATOR(pg_catalog.=) store_mark_merged.srcs[i];
    END LOOP;
END
$$;

/* Set an account's status (and redacted_at, for a redaction). */
CREATE OR REPLACE FUNCTION accounts_internal.store_set_status(id uuid, status accounts.account_status) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    redacted timestamptz := CASE WHEN store_set_status.status OPERATOR(pg_catalog.=) 'redacted'::accounts.account_status
                                 THEN pg_catalog.now() END;
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        UPDATE accounts.accounts a
           SET status = store_set_status.status, updated_at = pg_catalog.now(),
               redacted_at = COALESCE(redacted, a.redacted_at)
         WHERE a.id OPERATOR(pg_catalog.=) store_set_status.id;
        RETURN;
    END IF;
    UPDATE accounts.dist_accounts a
       SET status = store_set_status.status, updated_at = pg_catalog.now(),
           redacted_at = COALESCE(redacted, a.redacted_at)
     WHERE a.route OPERATOR(pg_catalog.=) accounts.account_route(store_set_status.id)
       AND a.id OPERATOR(pg_catalog.=) store_set_status.id;
END
$$;

/* Set an account's tags. */
CREATE OR REPLACE FUNCTION accounts_internal.store_set_tags(id uuid, tags text[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        UPDATE accounts.accounts a SET tags = store_set_tags.tags, updated_at = pg_catalog.now()
         WHERE a.id OPERATOR(pg_catalog.=) store_set_tags.id;
        RETURN;
    END IF;
    UPDATE accounts.dist_accounts a SET tags = store_set_tags.tags, updated_at = pg_catalog.now()
     WHERE a.route OPERATOR(pg_catalog.=) accounts.account_route(store_set_tags.id)
       AND a.id OPERATOR(pg_catalog.=) store_set_tags.id;
END
$$;

/* The account of an identifier (normalized value), or NULL. */
CREATE OR REPLACE FUNCTION accounts_internal.store_find_identifier(account_type text, id_type text, value text)
    RETURNS uuid
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    owner uuid;
    key_route integer;
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        SELECT i.account_id INTO owner FROM accounts.identifiers i
         WHERE i.value OPERATOR(pg_catalog.=) store_find_identifier.value
           AND i.id_type OPERATOR(pg_catalog.=) store_find_identifier.id_type
           AND i.account_type OPERATOR(pg_catalog.=) store_find_identifier.account_type;
        RETURN owner;
    END IF;
    key_route := accounts.identifier_route(store_find_identifier.account_type, store_find_identifier.id_type,
                                       store_find_identifier.value);
    PERFORM accounts_internal.settle_route(key_route);
    SELECT i.account_id INTO owner FROM accounts.dist_identifiers i
     WHERE i.route OPERATOR(pg_catalog.=) key_route
       AND i.value OPERATOR(pg_catalog.=) store_find_identifier.value
       AND i.id_type OPERATOR(pg_catalog.=) store_find_identifier.id_type
       AND i.account_type OPERATOR(pg_catalog.=) store_find_identifier.account_type;
    RETURN owner;
END
$$;

/* Delete an identifier (normalized value). */
CREATE OR REPLACE FUNCTION accounts_internal.store_delete_identifier(account_type text, id_type text, value text)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        DELETE FROM accounts.identifiers i
         WHERE i.value OPERATOR(pg_catalog.=) store_delete_identifier.value
           AND i.id_type OPERATOR(pg_catalog.=) store_delete_identifier.id_type
           AND i.account_type OPERATOR(pg_catalog.=) store_delete_identifier.account_type;
        RETURN;
    END IF;
    DELETE FROM accounts.dist_identifiers i
     WHERE i.route OPERATOR(pg_catalog.=) accounts.identifier_route(store_delete_identifier.account_type,
                                                                    store_delete_identifier.id_type,
                                                                    store_delete_identifier.value)
       AND i.value OPERATOR(pg_catalog.=) store_delete_identifier.value
       AND i.id_type OPERATOR(pg_catalog.=) store_delete_identifier.id_type
       AND i.account_type OPERATOR(pg_catalog.=) store_delete_identifier.account_type;
END
$$;

/* The accounts merged into id, and those merged into them, and so on. */
CREATE OR REPLACE FUNCTION accounts_internal.store_merged_chain(id uuid) RETURNS uuid[]
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    chain uuid[] := ARRAY[store_merged_chain.id];
    frontier uuid[] := ARRAY[store_merged_chain.id];
BEGIN
    -- a merged account never changes again: the chain found is complete
    WHILE pg_catalog.cardinality(frontier) OPERATOR(pg_catalog.>) 0 LOOP
        IF accounts_internal.is_distributed() THEN
            frontier := ARRAY(SELECT a.id FROM accounts.dist_accounts a
                               WHERE a.merged_into OPERATOR(pg_catalog.=) ANY (frontier)
                                 AND a.id OPERATOR(pg_catalog.<>) ALL (chain));
        ELSE
            frontier := ARRAY(SELECT a.id FROM accounts.accounts a
                               WHERE a.merged_into OPERATOR(pg_catalog.=) ANY (frontier)
                                 AND a.id OPERATOR(pg_catalog.<>) ALL (chain));
        END IF;
        chain := chain OPERATOR(pg_catalog.||) frontier;
    END LOOP;
    RETURN chain;
END
$$;

/* The accounts of a type that have a (normalized) tag, merged ones excluded, by id. */
CREATE OR REPLACE FUNCTION accounts_internal.store_tagged(type text, tag text) RETURNS SETOF uuid
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        -- the partial GIN index accounts_tags_idx: its predicate is repeated
        RETURN QUERY SELECT a.id FROM accounts.accounts a
                      WHERE a.tags OPERATOR(pg_catalog.@>) ARRAY[store_tagged.tag]
                        AND a.tags OPERATOR(pg_catalog.<>) '{}'::text[]
                        AND a.account_type OPERATOR(pg_catalog.=) store_tagged.type
                        AND a.status OPERATOR(pg_catalog.<>) 'merged'::accounts.account_status
                      ORDER BY a.id;
        RETURN;
    END IF;
    -- every shard: a scan per shard (no tag index on the distributed table)
    RETURN QUERY SELECT a.id FROM accounts.dist_accounts a
                  WHERE a.tags OPERATOR(pg_catalog.@>) ARRAY[store_tagged.tag]::text[]
                    AND a.account_type OPERATOR(pg_catalog.=) store_tagged.type
                    AND a.status OPERATOR(pg_catalog.<>) 'merged'::accounts.account_status
                  ORDER BY a.id;
END
$$;

/*
 * THE REGISTRIES.  One node: accounts.account_types and
 * accounts.identifier_types; a creator holds its type's row FOR KEY SHARE
 * (src/rowlock.c), a drop deletes it, which waits for the creators, and
 * PostgreSQL's own foreign-key check of the DELETE (23503) finds their
 * rows.  Citus: the reference tables accounts.dist_account_types and
 * dist_identifier_types, of which Citus writes every node's copy in the
 * caller's transaction; registry changes take turns cluster-wide (a LOCK
 * TABLE that Citus takes on every node); a drop's DELETE waits, on every
 * node, for the creators holding the row there, and the search that
 * follows it settles every node first.
 */
CREATE OR REPLACE FUNCTION accounts_internal.store_registry_lock() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF accounts_internal.is_distributed() THEN
        LOCK TABLE accounts.dist_account_types IN EXCLUSIVE MODE;
    END IF;
END
$$;

/* Register an account type and its reference_id; false if it exists. */
CREATE OR REPLACE FUNCTION accounts_internal.store_insert_account_type(name text) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        -- the trigger account_types_reference_id adds its reference_id
        INSERT INTO accounts.account_types AS t (name) VALUES (store_insert_account_type.name)
        ON CONFLICT DO NOTHING;
        RETURN FOUND;
    END IF;
    INSERT INTO accounts.dist_account_types AS t (name) VALUES (store_insert_account_type.name)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO accounts.dist_identifier_types AS t (account_type, name, kind, case_sensitive)
    VALUES (store_insert_account_type.name, 'reference_id', 'text', false);
    RETURN true;
END
$$;

/*
 * Does the account type exist?  One node: its row held FOR KEY SHARE (a
 * drop waits for this transaction, or this one finds the type gone), as
 * the foreign key's check would.  Citus: store_registry_lock() serializes.
 */
CREATE OR REPLACE FUNCTION accounts_internal.store_lock_account_type(name text) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        PERFORM 1 FROM accounts.account_types t
         WHERE t.name OPERATOR(pg_catalog.=) store_lock_account_type.name
           FOR KEY SHARE;
        RETURN FOUND;
    END IF;
    PERFORM 1 FROM accounts.dist_account_types t
     WHERE t.name OPERATOR(pg_catalog.=) store_lock_account_type.name;
    RETURN FOUND;
END
$$;

/* Register an identifier type; false if it exists. */
CREATE OR REPLACE FUNCTION accounts_internal.store_insert_identifier_type(account_type text, name text,
        kind text, case_sensitive boolean) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        INSERT INTO accounts.identifier_types AS t (account_type, name, kind, case_sensitive)
        VALUES (store_insert_identifier_type.account_type, store_insert_identifier_type.name,
                store_insert_identifier_type.kind, store_insert_identifier_type.case_sensitive)
        ON CONFLICT DO NOTHING;
        RETURN FOUND;
    END IF;
    INSERT INTO accounts.dist_identifier_types AS t (account_type, name, kind, case_sensitive)
    VALUES (store_insert_identifier_type.account_type, store_insert_identifier_type.name,
            store_insert_identifier_type.kind, store_insert_identifier_type.case_sensitive)
    ON CONFLICT DO NOTHING;
    RETURN FOUND;
END
$$;

/*
 * Delete an identifier type's registry row, waiting for its creators in
 * progress; false if there is none.  One node: raises 23503 if
 * identifiers of it exist (PostgreSQL's check of the foreign key).
 */
CREATE OR REPLACE FUNCTION accounts_internal.store_delete_identifier_type(account_type text, name text)
    RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        DELETE FROM accounts.identifier_types t
         WHERE t.account_type OPERATOR(pg_catalog.=) store_delete_identifier_type.account_type
           AND t.name OPERATOR(pg_catalog.=) store_delete_identifier_type.name;
        RETURN FOUND;
    END IF;
    DELETE FROM accounts.dist_identifier_types t
     WHERE t.account_type OPERATOR(pg_catalog.=) store_delete_identifier_type.account_type
       AND t.name OPERATOR(pg_catalog.=) store_delete_identifier_type.name;
    RETURN FOUND;
END
$$;

/*
 * Delete an account type's registry row and its identifier types, waiting
 * for their creators in progress; false if there is none.  One node:
 * raises 23503 if accounts of it exist.
 */
CREATE OR REPLACE FUNCTION accounts_internal.store_delete_account_type(name text) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        -- the identifier types go with ON DELETE CASCADE
        DELETE FROM accounts.account_types t WHERE t.name OPERATOR(pg_catalog.=) store_delete_account_type.name;
        RETURN FOUND;
    END IF;
    DELETE FROM accounts.dist_account_types t WHERE t.name OPERATOR(pg_catalog.=) store_delete_account_type.name;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    DELETE FROM accounts.dist_identifier_types t
     WHERE t.account_type OPERATOR(pg_catalog.=) store_delete_account_type.name;
    RETURN true;
END
$$;

/* Are there identifiers of this type (Citus: after settling every node)? */
CREATE OR REPLACE FUNCTION accounts_internal.store_type_in_use(account_type text, id_type text) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        RETURN EXISTS (SELECT 1 FROM accounts.identifiers i
                        WHERE i.account_type OPERATOR(pg_catalog.=) store_type_in_use.account_type
                          AND i.id_type OPERATOR(pg_catalog.=) store_type_in_use.id_type);
    END IF;
    PERFORM accounts_internal.settle_nodes();
    PERFORM 1 FROM accounts.dist_identifiers i
     WHERE i.account_type OPERATOR(pg_catalog.=) store_type_in_use.account_type
       AND i.id_type OPERATOR(pg_catalog.=) store_type_in_use.id_type
     LIMIT 1;
    RETURN FOUND;
END
$$;

/* Are there accounts of this type (Citus: after settling every node)? */
CREATE OR REPLACE FUNCTION accounts_internal.store_account_type_in_use(name text) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        RETURN EXISTS (SELECT 1 FROM accounts.accounts a
                        WHERE a.account_type OPERATOR(pg_catalog.=) store_account_type_in_use.name);
    END IF;
    PERFORM accounts_internal.settle_nodes();
    PERFORM 1 FROM accounts.dist_accounts a
     WHERE a.account_type OPERATOR(pg_catalog.=) store_account_type_in_use.name
     LIMIT 1;
    RETURN FOUND;
END
$$;

/*
 * THE JOURNAL'S SETTINGS AND RETENTION.  One node: accounts.journal_settings
 * and accounts.events.  Citus: the reference table
 * accounts.dist_journal_settings (every node reads its copy: src/types.c),
 * and every node's journal (THE JOURNAL ON CITUS, 70_citus.sql).
 */
CREATE OR REPLACE FUNCTION accounts_internal.store_set_journal(account_type text, enabled boolean) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        INSERT INTO accounts.journal_settings AS s (account_type, enabled)
        VALUES (store_set_journal.account_type, store_set_journal.enabled)
        ON CONFLICT ON CONSTRAINT journal_settings_pkey DO UPDATE SET enabled = EXCLUDED.enabled;
        RETURN;
    END IF;
    IF NOT accounts_internal.is_journal_distributed() THEN
        RAISE EXCEPTION 'the change journal is not distributed on this cluster yet'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The extension was updated from 1.5 on a distributed cluster.',
                  HINT = 'Run SELECT accounts.distribute() on the coordinator to finish the update.';
    END IF;
    INSERT INTO accounts.dist_journal_settings AS s (account_type, enabled)
    VALUES (store_set_journal.account_type, store_set_journal.enabled)
    ON CONFLICT ON CONSTRAINT dist_journal_settings_pkey DO UPDATE SET enabled = EXCLUDED.enabled;
END
$$;

CREATE OR REPLACE FUNCTION accounts_internal.store_drop_journal_setting(account_type text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        DELETE FROM accounts.journal_settings s
         WHERE s.account_type OPERATOR(pg_catalog.=) store_drop_journal_setting.account_type;
    ELSIF accounts_internal.is_journal_distributed() THEN
        DELETE FROM accounts.dist_journal_settings s
         WHERE s.account_type OPERATOR(pg_catalog.=) store_drop_journal_setting.account_type;
    END IF;
END
$$;

/*
 * Delete the events older than before from every journal; how many.  On
 * Citus each node in a transaction of its own (run_command_on_all_nodes()):
 * trimming by time can be repeated, and a node that fails is reported
 * (08006) after the others were trimmed.
 */
CREATE OR REPLACE FUNCTION accounts_internal.store_trim_events(before timestamptz) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    n bigint := 0;
    r record;
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        RETURN accounts_internal.trim_node_events(store_trim_events.before);
    END IF;
    FOR r IN SELECT * FROM pg_catalog.run_command_on_all_nodes(
                 pg_catalog.format('SELECT accounts_internal.trim_node_events(%L)', store_trim_events.before)) LOOP
        IF NOT r.success THEN
            RAISE EXCEPTION 'could not trim the journal of node %', r.nodeid
                USING ERRCODE = 'connection_failure', DETAIL = r.result,
                      HINT = 'The other nodes were trimmed; call accounts.trim_events() again once the node is back.';
        END IF;
        n := n OPERATOR(pg_catalog.+) r.result::bigint;
    END LOOP;
    RETURN n;
END
$$;

/*
 * Erase the identifier values of the accounts ids (a redacted account and
 * those merged into it) from their events, and the values erased from the
 * events of every account they were removed from before, and of the
 * accounts merged into those (redact_account(), docs/privacy.md), in every
 * journal.  The accounts that held a value are found by its identifier.
 * removed events (accounts_internal.removal_holders(), on every node on
 * Citus).  Citus then writes a row of the reference table
 * accounts.dist_event_redactions, which Citus writes on every node, where
 * its trigger rewrites that node's journal in this transaction
 * (accounts_internal.dist_redact_events()).
 */
CREATE OR REPLACE FUNCTION accounts_internal.store_redact_events(ids uuid[], account_type text,
        erased accounts.identifier[])
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    removed_from uuid[] := '{}';
    holders uuid[] := '{}';
    r integer;
BEGIN
    IF accounts_internal.is_distributed() AND NOT accounts_internal.is_journal_distributed() THEN
        RETURN;
    END IF;
    IF pg_catalog.cardinality(store_redact_events.erased) OPERATOR(pg_catalog.>) 0 THEN
        IF NOT accounts_internal.is_distributed() THEN
            removed_from := accounts_internal.removal_holders(store_redact_events.account_type, store_redact_events.erased);
        ELSE
            FOREACH r IN ARRAY accounts_internal.node_routes() LOOP
                removed_from := removed_from OPERATOR(pg_catalog.||) (
                    SELECT accounts_internal.node_removal_holders(pg_catalog.count(*), store_redact_events.account_type,
                                                                  store_redact_events.erased)
                      FROM accounts.dist_identifiers i
                     WHERE i.route OPERATOR(pg_catalog.=) r AND i.value OPERATOR(pg_catalog.=) ''::pg_catalog.text);
            END LOOP;
        END IF;
        FOR i IN 1 .. COALESCE(pg_catalog.cardinality(removed_from), 0) LOOP
            holders := holders OPERATOR(pg_catalog.||) accounts_internal.store_merged_chain(removed_from[i]);
        END LOOP;
    END IF;
    IF NOT accounts_internal.is_distributed() THEN
        PERFORM accounts_internal.redact_node_events(store_redact_events.ids, holders, store_redact_events.erased);
    ELSIF EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                   WHERE a.attrelid OPERATOR(pg_catalog.=) 'accounts.dist_event_redactions'::pg_catalog.regclass
                     AND a.attname OPERATOR(pg_catalog.=) 'erased' AND NOT a.attisdropped) THEN
        INSERT INTO accounts.dist_event_redactions AS x (accounts, holders, erased)
        VALUES (store_redact_events.ids, holders, store_redact_events.erased);
    ELSE
        -- distributed by 1.6, before distribute() ran again
        INSERT INTO accounts.dist_event_redactions AS x (accounts) VALUES (store_redact_events.ids);
    END IF;
END
$$;

/*
 * THE ACCOUNT LIFECYCLE (1.3; one set of rules for one node and Citus
 * from 1.7)
 * ===================================================================
 *
 * status: active, archived, merged (merged_into names the account that
 * absorbed it), redacted (redacted_at).  updated_at is the time of the last
 * lifecycle change (NULL: none since created_at).
 *
 * Every rule, limit, error and event of the lifecycle is written here, once;
 * the storage layer (40_storage.sql) reads, locks and writes the rows on
 * one node or on Citus.
 *
 * Row locks, in one canonical order (account id), on the accounts' rows:
 *
 *   - attaching an identifier to an existing account (add_identifier, the
 *     multi-identifier call) holds the account's row FOR KEY SHARE, as a
 *     foreign-key check would, and refuses a merged or redacted account
 *     (src/rowlock.c, ROW LOCKS; src/dist.c on Citus);
 *   - merge_accounts() and redact_account() lock their rows FOR UPDATE,
 *     which conflicts with that: attaches in progress finish first and are
 *     then moved or erased with the rest; later attaches wait, then see the
 *     new status and fail with 55000 (READ COMMITTED) or 40001 (REPEATABLE
 *     READ).  Under REPEATABLE READ an attach that committed after the
 *     snapshot is invisible to the merge's statements, so store_settle()
 *     raises 40001 for it (src/rowlock.c, rowlock_check_unseen) instead of
 *     leaving it behind.  On Citus an attach whose lock was released on
 *     the account's node may still be prepared on its identifier's node:
 *     store_settle() waits for it (src/settle.c, TWO-PHASE COMMIT), and
 *     REPEATABLE READ, which holds per node there, is refused;
 *   - archive, restore, tag and untag lock the row FOR NO KEY UPDATE: they
 *     wait for a merge or redaction (and then see it), never for an attach.
 *
 * A merge locks all its accounts, into and sources, in id order, so two
 * merges over the same accounts (A into B while B into A) never deadlock:
 * the second waits, then finds a source or the target merged (55000), or,
 * under REPEATABLE READ, fails with 40001.  Merges only go into accounts
 * that are not merged, and a source is merged once, so merged_into never
 * forms a cycle.  The rows that assign_account() manages are re-pointed
 * in the same transaction (src/lifecycle.c, which says why merges of
 * unrelated accounts never deadlock over those tables either).
 */

CREATE OR REPLACE FUNCTION accounts_internal.check_unseen_identifiers(account_ids uuid[]) RETURNS void
    AS 'MODULE_PATHNAME', 'account_check_unseen_identifiers'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts_internal.check_unseen_identifiers(uuid[]) IS
    'Internal (merge_accounts, redact_account): 40001 under REPEATABLE READ if an identifier was attached to the accounts after the snapshot';

CREATE OR REPLACE FUNCTION accounts_internal.repoint_assigned("into" uuid, sources uuid[]) RETURNS bigint
    AS 'MODULE_PATHNAME', 'account_repoint_assigned'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts_internal.repoint_assigned(uuid, uuid[]) IS
    'Internal (merge_accounts): re-point the columns assign_account() triggers manage from the merged sources to into, as each table''s owner';

CREATE OR REPLACE FUNCTION accounts.resolve_account(id uuid) RETURNS uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    cur uuid := resolve_account.id;
    r accounts_internal.account_row;
BEGIN
    IF cur IS NULL THEN
        RETURN NULL;
    END IF;
    -- a chain is at most as long as the number of merges; the bound only
    -- guards against rows written around the extension
    FOR hop IN 1..100000 LOOP
        SELECT * INTO r FROM accounts_internal.store_lock_accounts(ARRAY[cur]::uuid[], 'none'::pg_catalog.text);
        IF r.id IS NULL THEN
            RETURN NULL;
        END IF;
        IF r.status OPERATOR(pg_catalog.<>) 'merged'::accounts.account_status OR r.merged_into IS NULL THEN
            RETURN cur;
        END IF;
        cur := r.merged_into;
    END LOOP;
    RAISE EXCEPTION 'the merges starting at account % form a cycle', resolve_account.id
        USING ERRCODE = 'data_corrupted',
              HINT = 'The accounts were changed outside the extension; fix merged_into by hand.';
END
$$;
COMMENT ON FUNCTION accounts.resolve_account(uuid) IS
    'The account that id was merged into, following merges (id itself if not merged; NULL if unknown)';

CREATE OR REPLACE FUNCTION accounts.merge_accounts("into" uuid, sources uuid[]) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    srcs uuid[];
    ids uuid[];
    rows accounts_internal.account_row[];
    t accounts_internal.account_row;
    target accounts_internal.account_row;
    new_tags text[] COLLATE "C";
    moved integer;
BEGIN
    IF merge_accounts."into" IS NULL THEN
        RAISE EXCEPTION 'argument "into" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass the id of the account that survives.';
    END IF;
    IF merge_accounts.sources IS NULL THEN
        RAISE EXCEPTION 'argument "sources" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass the ids of the accounts to merge into it.';
    END IF;
    IF pg_catalog.cardinality(merge_accounts.sources) OPERATOR(pg_catalog.=) 0 THEN
        RAISE EXCEPTION 'argument "sources" is empty' USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass at least one account to merge.';
    END IF;
    IF pg_catalog.array_ndims(merge_accounts.sources) OPERATOR(pg_catalog.>) 1 THEN
        RAISE EXCEPTION 'argument "sources" must be a one-dimensional array' USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass a uuid[] like ARRAY[a, b].';
    END IF;
    IF pg_catalog.array_position(merge_accounts.sources, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'argument "sources[%]" must not be null', pg_catalog.array_position(merge_accounts.sources, NULL)
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass the ids of the accounts to merge, without NULLs.';
    END IF;
    srcs := ARRAY(SELECT DISTINCT s FROM pg_catalog.unnest(merge_accounts.sources) s ORDER BY 1);
    IF pg_catalog.cardinality(srcs) OPERATOR(pg_catalog.>) 100 THEN
        RAISE EXCEPTION '% source accounts are more than one merge takes', pg_catalog.cardinality(srcs)
            USING ERRCODE = 'program_limit_exceeded', HINT = 'Merge at most 100 accounts at once; merge the rest in further calls.';
    END IF;
    IF merge_accounts."into" OPERATOR(pg_catalog.=) ANY (srcs) THEN
        RAISE EXCEPTION 'cannot merge account % into itself', merge_accounts."into"
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Remove it from "sources".';
    END IF;
    PERFORM accounts_internal.store_require_read_committed('merge_accounts()'::pg_catalog.text);
    ids := srcs OPERATOR(pg_catalog.||) merge_accounts."into";

    -- every row, in id order (see THE ACCOUNT LIFECYCLE)
    rows := ARRAY(SELECT r FROM accounts_internal.store_lock_accounts(ids, 'update'::pg_catalog.text) r);
    FOR i IN 1 .. pg_catalog.cardinality(ids) LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(rows) r WHERE r.id OPERATOR(pg_catalog.=) ids[i]) THEN
            RAISE EXCEPTION 'account % does not exist', ids[i]
                USING ERRCODE = 'undefined_object', HINT = 'Look accounts up with accounts.find_account() or accounts.get_account().';
        END IF;
    END LOOP;
    SELECT * INTO target FROM pg_catalog.unnest(rows) r WHERE r.id OPERATOR(pg_catalog.=) merge_accounts."into";
    IF target.status OPERATOR(pg_catalog.=) 'merged'::accounts.account_status THEN
        RAISE EXCEPTION 'cannot merge into account %: it was merged into account %', merge_accounts."into", target.merged_into
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = pg_catalog.format('Merge into the surviving account %s instead.', accounts.resolve_account(merge_accounts."into"));
    END IF;
    IF target.status OPERATOR(pg_catalog.=) 'redacted'::accounts.account_status THEN
        RAISE EXCEPTION 'cannot merge into account %: it is redacted', merge_accounts."into"
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'A redacted account takes no new identifiers; merge into another account.';
    END IF;
    FOR t IN SELECT * FROM pg_catalog.unnest(rows) r WHERE r.id OPERATOR(pg_catalog.=) ANY (srcs) ORDER BY r.id LOOP
        IF t.status OPERATOR(pg_catalog.=) 'merged'::accounts.account_status THEN
            RAISE EXCEPTION 'account % was already merged into account %', t.id, t.merged_into
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'An account is merged only once.',
                      HINT = pg_catalog.format('Its identifiers are on account %s now; leave it out of "sources".',
                                               accounts.resolve_account(t.id));
        END IF;
        IF t.status OPERATOR(pg_catalog.=) 'redacted'::accounts.account_status THEN
            RAISE EXCEPTION 'cannot merge account %: it is redacted', t.id
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Leave redacted accounts out of "sources".';
        END IF;
        IF t.account_type OPERATOR(pg_catalog.<>) target.account_type THEN
            RAISE EXCEPTION 'cannot merge account % of type "%" into account % of type "%"',
                            t.id, t.account_type, merge_accounts."into", target.account_type
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Only accounts of one account type can be merged.';
        END IF;
    END LOOP;
    new_tags := ARRAY(SELECT DISTINCT tag FROM pg_catalog.unnest(rows) r, pg_catalog.unnest(r.tags) tag ORDER BY 1);
    IF pg_catalog.cardinality(new_tags) OPERATOR(pg_catalog.>) 64 THEN
        RAISE EXCEPTION 'the merged account would have % tags', pg_catalog.cardinality(new_tags)
            USING ERRCODE = 'program_limit_exceeded', HINT = 'An account has at most 64 tags; untag some first with accounts.untag_account().';
    END IF;

    PERFORM accounts_internal.store_settle(srcs);
    moved := accounts_internal.store_move_identifiers(srcs, merge_accounts."into");
    PERFORM accounts_internal.store_mark_merged(srcs, merge_accounts."into");
    PERFORM accounts_internal.store_set_tags(merge_accounts."into", new_tags::text[]);
    PERFORM accounts_internal.repoint_assigned(merge_accounts."into", srcs);
    FOR i IN 1..pg_catalog.cardinality(srcs) LOOP
        PERFORM accounts_internal.journal_event(srcs[i], target.account_type, 'account.merged'::pg_catalog.text,
                                                pg_catalog.jsonb_build_object('into', merge_accounts."into"));
    END LOOP;
    RETURN moved;
END
$$;
COMMENT ON FUNCTION accounts.merge_accounts(uuid, uuid[]) IS
    'Move every identifier (and tag) of the source accounts to into, mark them merged, re-point assign_account() columns; returns the identifiers moved';

CREATE OR REPLACE FUNCTION accounts.redact_account(id uuid) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t accounts_internal.account_row;
    erased accounts.identifier[];
BEGIN
    IF redact_account.id IS NULL THEN
        RAISE EXCEPTION 'argument "id" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass the id of the account to redact.';
    END IF;
    PERFORM accounts_internal.store_require_read_committed('redact_account()'::pg_catalog.text);
    SELECT * INTO t FROM accounts_internal.store_lock_accounts(ARRAY[redact_account.id]::uuid[], 'update'::pg_catalog.text);
    IF t.id IS NULL THEN
        RAISE EXCEPTION 'account % does not exist', redact_account.id
            USING ERRCODE = 'undefined_object', HINT = 'Look accounts up with accounts.find_account() or accounts.get_account().';
    END IF;
    IF t.status OPERATOR(pg_catalog.=) 'merged'::accounts.account_status THEN
        RAISE EXCEPTION 'account % was merged into account %', redact_account.id, t.merged_into
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'A merged account holds no identifiers.',
                  HINT = pg_catalog.format('Redact the surviving account %s instead.', accounts.resolve_account(redact_account.id));
    END IF;
    IF t.status OPERATOR(pg_catalog.=) 'redacted'::accounts.account_status THEN
        RETURN 0;
    END IF;
    PERFORM accounts_internal.store_settle(ARRAY[redact_account.id]::uuid[]);
    erased := ARRAY(SELECT e FROM accounts_internal.store_erase_identifiers(redact_account.id) e);
    PERFORM accounts_internal.store_set_status(redact_account.id, 'redacted'::accounts.account_status);
    -- the erased values in the events of the account, of the accounts
    -- merged into it (whose identifiers it held), and of any account they
    -- were removed from before (docs/privacy.md)
    PERFORM accounts_internal.store_redact_events(accounts_internal.store_merged_chain(redact_account.id),
                                                  t.account_type, erased);
    PERFORM accounts_internal.journal_event(redact_account.id, t.account_type, 'account.redacted'::pg_catalog.text,
                                            pg_catalog.jsonb_build_object('identifiers_erased',
                                                                          pg_catalog.cardinality(erased)));
    RETURN pg_catalog.cardinality(erased);
END
$$;
COMMENT ON FUNCTION accounts.redact_account(uuid) IS
    'Erase the account''s identifiers except its reference ids, irreversibly; it becomes redacted; returns the identifiers erased';

/* archive_account(), restore_account(): the status change, FOR NO KEY UPDATE. */
CREATE OR REPLACE FUNCTION accounts_internal.set_account_status(id uuid, archived boolean) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t accounts_internal.account_row;
    target accounts.account_status := CASE WHEN set_account_status.archived THEN 'archived' ELSE 'active' END;
BEGIN
    IF set_account_status.id IS NULL THEN
        RAISE EXCEPTION 'argument "id" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass the id of the account.';
    END IF;
    SELECT * INTO t FROM accounts_internal.store_lock_accounts(ARRAY[set_account_status.id]::uuid[], 'no key update'::pg_catalog.text);
    IF t.id IS NULL THEN
        RAISE EXCEPTION 'account % does not exist', set_account_status.id
            USING ERRCODE = 'undefined_object', HINT = 'Look accounts up with accounts.find_account() or accounts.get_account().';
    END IF;
    IF t.status OPERATOR(pg_catalog.=) 'merged'::accounts.account_status THEN
        RAISE EXCEPTION 'account % was merged into account %', set_account_status.id, t.merged_into
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = pg_catalog.format('Use the surviving account %s instead.', accounts.resolve_account(set_account_status.id));
    END IF;
    IF t.status OPERATOR(pg_catalog.=) 'redacted'::accounts.account_status THEN
        RAISE EXCEPTION 'account % is redacted', set_account_status.id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'A redacted account is neither archived nor restored.';
    END IF;
    IF t.status OPERATOR(pg_catalog.=) target THEN
        RETURN false;
    END IF;
    PERFORM accounts_internal.store_set_status(set_account_status.id, target);
    PERFORM accounts_internal.journal_event(set_account_status.id, t.account_type,
                                            CASE WHEN set_account_status.archived THEN 'account.archived'
                                                 ELSE 'account.restored' END::pg_catalog.text,
                                            '{}'::jsonb);
    RETURN true;
END
$$;
COMMENT ON FUNCTION accounts_internal.set_account_status(uuid, boolean) IS
    'Internal: archive_account() and restore_account()';

CREATE OR REPLACE FUNCTION accounts.archive_account(id uuid) RETURNS boolean
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT accounts_internal.set_account_status(archive_account.id, true) $$;
COMMENT ON FUNCTION accounts.archive_account(uuid) IS
    'Archive an account (status archived); it is still found by its identifiers; true if the status changed';

CREATE OR REPLACE FUNCTION accounts.restore_account(id uuid) RETURNS boolean
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT accounts_internal.set_account_status(restore_account.id, false) $$;
COMMENT ON FUNCTION accounts.restore_account(uuid) IS
    'Restore an archived account (status active); true if the status changed';

/* Tags: lowercased and trimmed, then named like types (^[a-z][a-z0-9_]{0,62}$). */
CREATE OR REPLACE FUNCTION accounts_internal.normalize_tags(tags text[]) RETURNS text[]
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    res text[] COLLATE "C" := '{}';
    norm text;
BEGIN
    IF normalize_tags.tags IS NULL THEN
        RAISE EXCEPTION 'argument "tags" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass an array of tags, e.g. ARRAY[''vip''].';
    END IF;
    IF pg_catalog.array_ndims(normalize_tags.tags) OPERATOR(pg_catalog.>) 1 THEN
        RAISE EXCEPTION 'argument "tags" must be a one-dimensional array' USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass an array of tags, e.g. ARRAY[''vip''].';
    END IF;
    FOR i IN 1..COALESCE(pg_catalog.array_length(normalize_tags.tags, 1), 0) LOOP
        IF normalize_tags.tags[i] IS NULL THEN
            RAISE EXCEPTION 'argument "tags[%]" must not be null', i USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass tags without NULLs.';
        END IF;
        norm := pg_catalog.lower(pg_catalog.btrim(normalize_tags.tags[i]));
        IF norm OPERATOR(pg_catalog.!~) '^[a-z][a-z0-9_]{0,62}$' THEN
            RAISE EXCEPTION 'invalid tag "%"', normalize_tags.tags[i]
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Tags start with a letter, then up to 62 letters, digits or underscores; they are stored in lowercase.';
        END IF;
        res := res OPERATOR(pg_catalog.||) norm;
    END LOOP;
    RETURN res;
END
$$;
COMMENT ON FUNCTION accounts_internal.normalize_tags(text[]) IS
    'Internal: the stored form of tags (lowercase, trimmed); 22023 for an invalid tag';

CREATE OR REPLACE FUNCTION accounts_internal.change_tags(id uuid, tags text[], add boolean) RETURNS text[]
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t accounts_internal.account_row;
    norm text[] COLLATE "C";
    old_tags text[] COLLATE "C";
    result text[] COLLATE "C";
BEGIN
    IF change_tags.id IS NULL THEN
        RAISE EXCEPTION 'argument "id" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass the id of the account.';
    END IF;
    norm := accounts_internal.normalize_tags(change_tags.tags);
    SELECT * INTO t FROM accounts_internal.store_lock_accounts(ARRAY[change_tags.id]::uuid[], 'no key update'::pg_catalog.text);
    IF t.id IS NULL THEN
        RAISE EXCEPTION 'account % does not exist', change_tags.id
            USING ERRCODE = 'undefined_object', HINT = 'Look accounts up with accounts.find_account() or accounts.get_account().';
    END IF;
    IF t.status OPERATOR(pg_catalog.=) 'merged'::accounts.account_status THEN
        RAISE EXCEPTION 'account % was merged into account %', change_tags.id, t.merged_into
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = pg_catalog.format('Tag the surviving account %s instead.', accounts.resolve_account(change_tags.id));
    END IF;
    old_tags := t.tags;
    IF change_tags.add THEN
        result := ARRAY(SELECT DISTINCT x FROM pg_catalog.unnest(old_tags OPERATOR(pg_catalog.||) norm) x ORDER BY 1);
    ELSE
        result := ARRAY(SELECT x FROM pg_catalog.unnest(old_tags) x
                         WHERE x OPERATOR(pg_catalog.<>) ALL (norm) ORDER BY 1);
    END IF;
    IF pg_catalog.cardinality(result) OPERATOR(pg_catalog.>) 64 THEN
        RAISE EXCEPTION 'account % would have % tags', change_tags.id, pg_catalog.cardinality(result)
            USING ERRCODE = 'program_limit_exceeded', HINT = 'An account has at most 64 tags; untag some first with accounts.untag_account().';
    END IF;
    IF result OPERATOR(pg_catalog.<>) old_tags THEN
        PERFORM accounts_internal.store_set_tags(change_tags.id, result::text[]);
        PERFORM accounts_internal.journal_event(change_tags.id, t.account_type,
                                                CASE WHEN change_tags.add THEN 'account.tagged'
                                                     ELSE 'account.untagged' END::pg_catalog.text,
                                                pg_catalog.jsonb_build_object('tags', ARRAY(
                                                    SELECT x FROM pg_catalog.unnest(
                                                        CASE WHEN change_tags.add THEN result ELSE old_tags END) x
                                                     WHERE x OPERATOR(pg_catalog.<>) ALL (
                                                        CASE WHEN change_tags.add THEN old_tags ELSE result END)
                                                     ORDER BY 1)));
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION accounts_internal.change_tags(uuid, text[], boolean) IS
    'Internal: tag_account() and untag_account()';

CREATE OR REPLACE FUNCTION accounts.tag_account(id uuid, tags text[]) RETURNS text[]
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT accounts_internal.change_tags(tag_account.id, tag_account.tags, true) $$;
COMMENT ON FUNCTION accounts.tag_account(uuid, text[]) IS
    'Add tags to an account (at most 64); returns its tags';

CREATE OR REPLACE FUNCTION accounts.untag_account(id uuid, tags text[]) RETURNS text[]
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT accounts_internal.change_tags(untag_account.id, untag_account.tags, false) $$;
COMMENT ON FUNCTION accounts.untag_account(uuid, text[]) IS
    'Remove tags from an account; returns its tags';

CREATE OR REPLACE FUNCTION accounts.accounts_with_tag(type text, tag text) RETURNS SETOF uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    PERFORM accounts_internal.is_distributed();
    IF accounts_with_tag.type IS NULL THEN
        RAISE EXCEPTION 'argument "type" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass an account type and a tag.';
    END IF;
    IF accounts_with_tag.tag IS NULL THEN
        RAISE EXCEPTION 'argument "tag" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass an account type and a tag.';
    END IF;
    RETURN QUERY SELECT * FROM accounts_internal.store_tagged(accounts_with_tag.type::pg_catalog.text,
        (accounts_internal.normalize_tags(ARRAY[accounts_with_tag.tag]::text[]))[1]);
END
$$;
COMMENT ON FUNCTION accounts.accounts_with_tag(text, text) IS
    'The accounts of a type that have a tag (merged accounts excluded), by id';

/*
 * One row describing the account and its identifiers.  On Citus the
 * identifiers are read after settling every node, so that an account
 * found by one of its identifiers shows all of them (src/settle.c).
 */
CREATE OR REPLACE FUNCTION accounts.get_account(id uuid)
    RETURNS TABLE (account_id uuid, account_type text, status text, merged_into uuid,
                   tags text[], created_at timestamptz, updated_at timestamptz,
                   redacted_at timestamptz, identifiers accounts.identifier[])
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    a accounts_internal.account_row;
BEGIN
    PERFORM accounts_internal.is_distributed();
    SELECT * INTO a FROM accounts_internal.store_lock_accounts(ARRAY[get_account.id]::uuid[], 'none'::pg_catalog.text);
    IF a.id IS NULL THEN
        RETURN;
    END IF;
    account_id := a.id;
    account_type := a.account_type;
    status := a.status::text;
    merged_into := a.merged_into;
    tags := a.tags;
    created_at := a.created_at;
    updated_at := COALESCE(a.updated_at, a.created_at);
    redacted_at := a.redacted_at;
    identifiers := ARRAY(SELECT ROW(i.id_type, i.value)::accounts.identifier
                           FROM accounts_internal.store_identifiers(ARRAY[a.id]::uuid[]) i
                          ORDER BY i.id_type COLLATE "C", i.value COLLATE "C");
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION accounts.get_account(uuid) IS
    'One row describing the account and its identifiers; no row for an unknown id';

/*
 * THE CHANGE JOURNAL (1.4): its functions.  The tables are in
 * 10_tables.sql; the writer and the exactly-once reader, with their proof,
 * in src/journal.c (THE JOURNAL); on Citus every node keeps its own
 * journal (THE JOURNAL ON CITUS, 70_citus.sql).
 */
CREATE OR REPLACE FUNCTION accounts_internal.journal_event(account_id uuid, account_type text, kind text, detail jsonb)
    RETURNS void
    AS 'MODULE_PATHNAME', 'account_journal_event'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts_internal.journal_event(uuid, text, text, jsonb) IS
    'Internal: append an event if the journal is on for account_type (the extension''s own functions call it)';

CREATE OR REPLACE FUNCTION accounts.events_since(after bigint, max integer DEFAULT 1000)
    RETURNS SETOF accounts.events
    AS 'MODULE_PATHNAME', 'account_events_since'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE ROWS 1000;
COMMENT ON FUNCTION accounts.events_since(bigint, integer) IS
    'The committed events after seq "after", in seq order, at most max; call again with the last seq: each event is returned exactly once';

CREATE OR REPLACE FUNCTION accounts.set_journal(account_type text, enabled boolean) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF set_journal.account_type IS NULL THEN
        RAISE EXCEPTION 'argument "account_type" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF set_journal.enabled IS NULL THEN
        RAISE EXCEPTION 'argument "enabled" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass true to write events for the account type, false to stop.';
    END IF;
    -- as create_identifier_type(): drop_account_type() waits for us, or we
    -- find the type gone
    PERFORM accounts_internal.store_registry_lock();
    IF NOT accounts_internal.store_lock_account_type(set_journal.account_type::pg_catalog.text) THEN
        RAISE EXCEPTION 'account type "%" does not exist', set_journal.account_type
            USING ERRCODE = 'undefined_object',
                  HINT = 'List account types with SELECT name FROM accounts.account_types.';
    END IF;
    PERFORM accounts_internal.store_set_journal(set_journal.account_type::pg_catalog.text,
                                                set_journal.enabled::pg_catalog.bool);
END
$$;
COMMENT ON FUNCTION accounts.set_journal(text, boolean) IS
    'Switch the change journal on or off for an account type (on by default)';

CREATE OR REPLACE FUNCTION accounts.trim_events(before timestamptz) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    PERFORM accounts_internal.is_distributed();
    IF trim_events.before IS NULL THEN
        RAISE EXCEPTION 'argument "before" must not be null' USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Pass the time before which events are deleted, e.g. now() - interval ''30 days''.';
    END IF;
    RETURN accounts_internal.store_trim_events(trim_events.before);
END
$$;
COMMENT ON FUNCTION accounts.trim_events(timestamptz) IS
    'Retention: delete the events that occurred before the given time; returns how many';

/* One node's part of trim_events(). */
CREATE OR REPLACE FUNCTION accounts_internal.trim_node_events(before timestamptz) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    n bigint;
BEGIN
    DELETE FROM accounts.events e WHERE e.occurred_at OPERATOR(pg_catalog.<) trim_node_events.before;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION accounts_internal.trim_node_events(timestamptz) IS
    'Internal (trim_events): delete the events of this node''s journal that occurred before the given time';

/*
 * An event's detail with identifier values replaced by null and
 * "redacted": true: every identifier but reference ids (only, when given,
 * those in erased).
 */
CREATE OR REPLACE FUNCTION accounts_internal.redacted_detail(detail jsonb, erased accounts.identifier[] DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    ids jsonb := '[]';
    x jsonb;
BEGIN
    IF redacted_detail.detail OPERATOR(pg_catalog.?) 'identifiers' THEN
        FOR x IN SELECT e FROM pg_catalog.jsonb_array_elements(
                     redacted_detail.detail OPERATOR(pg_catalog.->) 'identifiers') e
        LOOP
            ids := ids OPERATOR(pg_catalog.||)
                   pg_catalog.jsonb_build_array(accounts_internal.redacted_detail(x, redacted_detail.erased));
        END LOOP;
        RETURN pg_catalog.jsonb_set(redacted_detail.detail, '{identifiers}', ids);
    END IF;
    IF (redacted_detail.detail OPERATOR(pg_catalog.->>) 'id_type') OPERATOR(pg_catalog.=) 'reference_id'
       OR pg_catalog.jsonb_typeof(redacted_detail.detail OPERATOR(pg_catalog.->) 'value')
          IS DISTINCT FROM 'string' THEN
        RETURN redacted_detail.detail;
    END IF;
    IF redacted_detail.erased IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(redacted_detail.erased) e
                        WHERE e.id_type OPERATOR(pg_catalog.=) (redacted_detail.detail OPERATOR(pg_catalog.->>) 'id_type')
                          AND e.value OPERATOR(pg_catalog.=) (redacted_detail.detail OPERATOR(pg_catalog.->>) 'value')) THEN
        RETURN redacted_detail.detail;
    END IF;
    RETURN pg_catalog.jsonb_set(redacted_detail.detail, '{value}', 'null')
           OPERATOR(pg_catalog.||) '{"redacted": true}'::jsonb;
END
$$;
COMMENT ON FUNCTION accounts_internal.redacted_detail(jsonb, accounts.identifier[]) IS
    'Internal (redact_account): an event detail without its erased identifier values';

/*
 * The accounts of this node's journal that an erased identifier was
 * removed from (identifier.removed, found through events_removed_value_idx):
 * they held the value before the redacted account did, and their events
 * carry it (redact_account(), docs/privacy.md).
 */
CREATE OR REPLACE FUNCTION accounts_internal.removal_holders(account_type text, erased accounts.identifier[])
    RETURNS uuid[]
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT COALESCE(pg_catalog.array_agg(DISTINCT e.account_id), '{}')
      FROM accounts.events e, pg_catalog.unnest(removal_holders.erased) x
     WHERE e.kind OPERATOR(pg_catalog.=) 'identifier.removed'
       AND (e.detail OPERATOR(pg_catalog.->>) 'value') OPERATOR(pg_catalog.=) x.value
       AND (e.detail OPERATOR(pg_catalog.->>) 'id_type') OPERATOR(pg_catalog.=) x.id_type
       AND e.account_type OPERATOR(pg_catalog.=) removal_holders.account_type
       AND e.account_id IS NOT NULL
$$;
COMMENT ON FUNCTION accounts_internal.removal_holders(text, accounts.identifier[]) IS
    'Internal (redact_account): the accounts of this node''s journal an erased identifier was removed from';

/*
 * Erase in this node's journal (redact_account(); on Citus, on every node
 * through dist_redact_events()): every identifier value but reference ids
 * from the events of the accounts ids, and the values erased from the
 * events of the accounts holders (which held them before).  An UPDATE
 * keeps seq (src/journal.c, THE JOURNAL).
 */
CREATE OR REPLACE FUNCTION accounts_internal.redact_node_events(ids uuid[], holders uuid[] DEFAULT '{}',
        erased accounts.identifier[] DEFAULT '{}')
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    UPDATE accounts.events e SET detail = accounts_internal.redacted_detail(e.detail)
     WHERE e.account_id OPERATOR(pg_catalog.=) ANY (redact_node_events.ids)
       AND e.kind OPERATOR(pg_catalog.=) ANY (ARRAY['account.created', 'identifier.added', 'identifier.removed'])
       AND accounts_internal.redacted_detail(e.detail) OPERATOR(pg_catalog.<>) e.detail;
    IF pg_catalog.cardinality(redact_node_events.holders) OPERATOR(pg_catalog.>) 0
       AND pg_catalog.cardinality(redact_node_events.erased) OPERATOR(pg_catalog.>) 0 THEN
        UPDATE accounts.events e SET detail = accounts_internal.redacted_detail(e.detail, redact_node_events.erased)
         WHERE e.account_id OPERATOR(pg_catalog.=) ANY (redact_node_events.holders)
           AND e.kind OPERATOR(pg_catalog.=) ANY (ARRAY['account.created', 'identifier.added', 'identifier.removed'])
           AND accounts_internal.redacted_detail(e.detail, redact_node_events.erased) OPERATOR(pg_catalog.<>) e.detail;
    END IF;
END
$$;
COMMENT ON FUNCTION accounts_internal.redact_node_events(uuid[], uuid[], accounts.identifier[]) IS
    'Internal (redact_account): erase identifier values from the accounts'' events in this node''s journal';

/*
 * SCALING OUT ON CITUS (1.5; one set of rules with one node from 1.7)
 * ==================================================================
 *
 * accounts.distribute() turns a database with the citus extension into a
 * Citus-shaped copy of the schema, on the coordinator:
 *
 *   accounts.dist_account_types, dist_identifier_types   reference tables
 *   accounts.dist_accounts, dist_identifiers, dist_events   distributed by
 *                                                        "route", co-located
 *   accounts.dist_journal_settings, dist_event_redactions   reference tables
 *
 * The extension's own tables stay, empty, on every node: Citus cannot
 * distribute extension-owned tables whose copies CREATE EXTENSION already
 * made on the workers.  From then on, on every node, find-or-create runs
 * the protocol of src/dist.c in C, and the lifecycle and the registries
 * run their one set of rules over the distributed side of the storage
 * layer (40_storage.sql).  The route of an identifier and of an account:
 * src/route.c.  Waiting for what other nodes have only prepared:
 * src/settle.c (TWO-PHASE COMMIT).  Row locks that a shard move cannot
 * leave behind: src/moves.c (SHARD MOVES).
 *
 * Reading the accounts after distribute(): accounts.dist_accounts and
 * accounts.dist_identifiers have the columns of accounts.accounts and
 * accounts.identifiers, and route; accounts.get_account(),
 * find_account() and find_accounts() read them from any node.
 *
 * A GROWING CLUSTER.  Citus copies the reference tables to a node added
 * later only when it rebalances or is asked to, and copies no grants of
 * an extension's functions: accounts.sync_nodes() does both, once after
 * citus_add_node().  Every distributed table has a replica identity (a
 * primary key, or FULL for the two that never keep a row), so
 * citus_rebalance_start() and citus_drain_node() move shards online with
 * logical replication.  A shard move leaves an account's older events in
 * the journal of the node it left (THE JOURNAL ON CITUS).
 */
CREATE OR REPLACE FUNCTION accounts.identifier_route(type text, id_type text, value text)
    RETURNS integer
    AS 'MODULE_PATHNAME', 'account_identifier_route'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION accounts.identifier_route(text, text, text) IS
    'The routing key (0 to 65535) of a normalized identifier on a distributed cluster; persisted, never changes';

CREATE OR REPLACE FUNCTION accounts.account_route(id uuid) RETURNS integer
    AS 'MODULE_PATHNAME', 'account_account_route'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION accounts.account_route(uuid) IS
    'The routing key of an account on a distributed cluster: the last 16 bits of its id';

CREATE OR REPLACE FUNCTION accounts_internal.new_account_id(route integer) RETURNS uuid
    AS 'MODULE_PATHNAME', 'account_new_account_id'
    LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION accounts_internal.new_account_id(integer) IS
    'Internal: a UUIDv7 account id that carries a route';

CREATE OR REPLACE FUNCTION accounts_internal.is_distributed() RETURNS boolean
    AS 'MODULE_PATHNAME', 'account_is_distributed'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION accounts_internal.is_distributed() IS
    'Internal: true after accounts.distribute(); 0A000 on a Citus node before it';

CREATE OR REPLACE FUNCTION accounts_internal.is_journal_distributed() RETURNS boolean
    AS 'MODULE_PATHNAME', 'account_is_journal_distributed'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION accounts_internal.is_journal_distributed() IS
    'Internal: true once the change journal''s distributed tables exist (distribute() of 1.6, or its second run after an update from 1.5)';

/* Waiting for transactions prepared on other nodes (src/settle.c). */
CREATE OR REPLACE FUNCTION accounts_internal.settle(bigint) RETURNS integer
    AS 'MODULE_PATHNAME', 'account_settle'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts_internal.settle(bigint) IS
    'Internal: on this node, wait for the prepared transactions that hold a lock on the extension''s tables; how many';

CREATE OR REPLACE FUNCTION accounts_internal.settle_route(route integer) RETURNS void
    AS 'MODULE_PATHNAME', 'account_settle_route'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts_internal.settle_route(integer) IS
    'Internal: settle() on the node that holds the shard of route';

CREATE OR REPLACE FUNCTION accounts_internal.settle_nodes() RETURNS void
    AS 'MODULE_PATHNAME', 'account_settle_nodes'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts_internal.settle_nodes() IS
    'Internal: settle() on every node that holds shards';

CREATE OR REPLACE FUNCTION accounts_internal.hold_placement(route integer) RETURNS void
    AS 'MODULE_PATHNAME', 'account_hold_placement'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts_internal.hold_placement(integer) IS
    'Internal: before a row lock, the shard metadata lock of route''s shard group in ShareLock, as Citus''s writes take it (src/moves.c)';

CREATE OR REPLACE FUNCTION accounts_internal.node_routes() RETURNS integer[]
    AS 'MODULE_PATHNAME', 'account_node_routes'
    LANGUAGE C STABLE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts_internal.node_routes() IS
    'Internal: one route per node that holds shards, whose shard is on that node';

/* removal_holders() on the node a router statement reaches (store_redact_events()). */
CREATE OR REPLACE FUNCTION accounts_internal.node_removal_holders(bigint, account_type text,
        erased accounts.identifier[])
    RETURNS uuid[]
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT accounts_internal.removal_holders(node_removal_holders.account_type, node_removal_holders.erased) $$;
COMMENT ON FUNCTION accounts_internal.node_removal_holders(bigint, text, accounts.identifier[]) IS
    'Internal (redact_account): removal_holders() on the node of a router statement';

CREATE OR REPLACE FUNCTION accounts.distribute(shard_count integer DEFAULT 32) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    moved bigint;
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        RAISE EXCEPTION 'the citus extension is not installed in this database'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'On the coordinator of a Citus cluster: CREATE EXTENSION citus; CREATE EXTENSION account; SELECT accounts.distribute();';
    END IF;
    IF distribute.shard_count IS NULL OR distribute.shard_count OPERATOR(pg_catalog.<) 1
       OR distribute.shard_count OPERATOR(pg_catalog.>) 4096 THEN
        RAISE EXCEPTION 'shard_count must be between 1 and 4096, got %', distribute.shard_count
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The default, 32, suits clusters of up to about 16 workers.';
    END IF;
    IF NOT (SELECT pg_catalog.citus_is_coordinator()) THEN
        RAISE EXCEPTION 'accounts.distribute() runs on the coordinator'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Connect to the coordinator and run it there.';
    END IF;
    IF pg_catalog.to_regclass('accounts.dist_identifiers') IS NOT NULL THEN
        -- distributed by an older version: the update ends here (ALTER
        -- EXTENSION cannot do it: Citus updates the workers' functions
        -- after the coordinator's script has run)
        IF accounts_internal.dist_finish_update() THEN
            RAISE NOTICE 'the update of the distributed tables is finished';
            RETURN;
        END IF;
        RAISE EXCEPTION 'the accounts are distributed already'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Nothing to do; see SELECT * FROM citus_tables.';
    END IF;
    -- no writer of the single-node tables while their rows move
    LOCK TABLE accounts.account_types, accounts.identifier_types,
               accounts.accounts, accounts.identifiers IN EXCLUSIVE MODE;

    CREATE TABLE accounts.dist_account_types (
        name        text COLLATE "C" NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
        CONSTRAINT dist_account_types_pkey PRIMARY KEY (name));
    CREATE TABLE accounts.dist_identifier_types (
        account_type    text COLLATE "C" NOT NULL,
        name            text COLLATE "C" NOT NULL,
        kind            text COLLATE "C" NOT NULL,
        case_sensitive  boolean NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
        CONSTRAINT dist_identifier_types_pkey PRIMARY KEY (account_type, name));
    CREATE TABLE accounts.dist_accounts (
        route         integer NOT NULL,
        id            uuid NOT NULL,
        account_type  text COLLATE "C" NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
        status        accounts.account_status NOT NULL DEFAULT 'active',
        merged_into   uuid,
        tags          text[] COLLATE "C" NOT NULL DEFAULT '{}',
        updated_at    timestamptz,
        redacted_at   timestamptz,
        -- always NULL in the table: a new account row carries its
        -- account.created detail to its node's journal in it (THE JOURNAL
        -- ON CITUS); dist_journal_write() clears it
        event_detail  jsonb,
        CONSTRAINT dist_accounts_pkey PRIMARY KEY (route, id));
    CREATE TABLE accounts.dist_identifiers (
        route         integer NOT NULL,
        account_type  text COLLATE "C" NOT NULL,
        id_type       text COLLATE "C" NOT NULL,
        value         text COLLATE "C" NOT NULL,
        account_id    uuid NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
        CONSTRAINT dist_identifiers_pkey PRIMARY KEY (route, value, id_type, account_type));
    CREATE INDEX dist_identifiers_account_id_idx ON accounts.dist_identifiers (account_id);
    -- erasure, as on one node (10_tables.sql, ERASURE)
    ALTER TABLE accounts.dist_identifiers ALTER COLUMN value SET STATISTICS 0;
    ALTER TABLE accounts.dist_identifiers SET (vacuum_index_cleanup = on);

    PERFORM pg_catalog.create_reference_table('accounts.dist_account_types');
    PERFORM pg_catalog.create_reference_table('accounts.dist_identifier_types');
    PERFORM pg_catalog.create_distributed_table('accounts.dist_accounts', 'route',
                                                shard_count := distribute.shard_count,
                                                colocate_with := 'none');
    PERFORM pg_catalog.create_distributed_table('accounts.dist_identifiers', 'route',
                                                colocate_with := 'accounts.dist_accounts');
    PERFORM accounts_internal.dist_journal_setup();
    -- the existing rows, through Citus into the shards; the single-node
    -- tables are left empty (nothing reads them any more)
    INSERT INTO accounts.dist_account_types (name, created_at)
        SELECT t.name, t.created_at FROM accounts.account_types t;
    INSERT INTO accounts.dist_identifier_types (account_type, name, kind, case_sensitive, created_at)
        SELECT t.account_type, t.name, t.kind, t.case_sensitive, t.created_at FROM accounts.identifier_types t;
    INSERT INTO accounts.dist_accounts (route, id, account_type, created_at, status, merged_into,
                                        tags, updated_at, redacted_at)
        SELECT accounts.account_route(a.id), a.id, a.account_type, a.created_at, a.status,
               a.merged_into, a.tags, a.updated_at, a.redacted_at
          FROM accounts.accounts a;
    INSERT INTO accounts.dist_identifiers
        SELECT accounts.identifier_route(i.account_type, i.id_type, i.value),
               i.account_type, i.id_type, i.value, i.account_id, i.created_at
          FROM accounts.identifiers i;
    GET DIAGNOSTICS moved = ROW_COUNT;
    DELETE FROM accounts.identifiers;
    DELETE FROM accounts.accounts;
    RAISE NOTICE 'accounts distributed over % shards (% identifiers moved)', distribute.shard_count, moved;
END
$$;
COMMENT ON FUNCTION accounts.distribute(integer) IS
    'On the coordinator of a Citus cluster: move the accounts into distributed tables; every node then serves every call';

/*
 * THE JOURNAL ON CITUS (1.6)
 * ==========================
 *
 * Every node keeps its own journal: its accounts.events, written and read
 * exactly as on one node (src/journal.c, THE JOURNAL: the same writer
 * steps, the same reader and the same proof, with that node's lock and
 * that node's events_seq).  What a distributed cluster adds is where each
 * event is written:
 *
 *   - every event of an account goes to the journal of the node that holds
 *     the account's shard group (route accounts.account_route(id)), in the
 *     transaction that makes the change, on the connection Citus uses for
 *     that shard group, so it commits exactly when the change does (with
 *     that node's commit, or with Citus's two-phase commit when the
 *     transaction wrote several nodes);
 *   - registry events (account_id NULL) go to the node of route 0.
 *
 * How: accounts.dist_events is distributed and co-located with the
 * accounts.  accounts_internal.journal_event() (src/journal_api.c, and
 * src/dist.c for the C writers) inserts the event there, a router
 * statement to the account's shard; a BEFORE INSERT trigger on the shard,
 * dist_journal_write() (src/journal_api.c), appends it to that node's
 * accounts.events if the journal is on for its account type there, and
 * stores nothing in the shard.  A new account's account.created rides on
 * the INSERT of its account row (column event_detail, cleared by the same
 * trigger on dist_accounts), so creating costs no round trip more than
 * without the journal.
 *
 * Reading: accounts.events_since() on a node returns that node's events,
 * every committed one exactly once, in that node's seq order.  A consumer
 * reads every node that holds shards, with one position per node (and the
 * coordinator's journal for the events from before distribute()).  The
 * events of one account are all on one node, in order, as long as its
 * shard stays there; there is no order between nodes.  NOTIFY comes from
 * the node whose journal got the event, at a one-node commit (a prepared
 * transaction sends none; consumers poll too).
 *
 * set_journal() writes accounts.dist_journal_settings, a reference table:
 * Citus writes every node's copy in the caller's transaction, and the
 * writers read this node's copy (src/types.c).  redact_account() inserts
 * a row into accounts.dist_event_redactions; the trigger on each node's
 * copy rewrites that node's journal.  trim_events() deletes on every node
 * (run_command_on_all_nodes(), one transaction per node: trimming by time
 * can be repeated).
 */

/*
 * The journal's distributed tables and their triggers (distribute(), and
 * the update of a cluster distributed by 1.5).  Triggers on the shards of
 * a distributed table need citus.enable_unsafe_triggers: Citus cannot
 * know what they do.  These only write this node's journal, in the shard's
 * own transaction.  dist_events and dist_event_redactions never keep a
 * row: REPLICA IDENTITY FULL lets Citus move their shards online.
 */
CREATE OR REPLACE FUNCTION accounts_internal.dist_journal_setup() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute
                    WHERE attrelid OPERATOR(pg_catalog.=) 'accounts.dist_accounts'::pg_catalog.regclass
                      AND attname OPERATOR(pg_catalog.=) 'event_detail' AND NOT attisdropped) THEN
        ALTER TABLE accounts.dist_accounts ADD COLUMN event_detail jsonb;
    END IF;
    CREATE TABLE accounts.dist_events (
        route         integer NOT NULL,
        account_id    uuid,
        account_type  text COLLATE "C" NOT NULL,
        kind          text COLLATE "C" NOT NULL,
        detail        jsonb NOT NULL);
    ALTER TABLE accounts.dist_events REPLICA IDENTITY FULL;
    CREATE TABLE accounts.dist_event_redactions (
        accounts      uuid[] NOT NULL,
        holders       uuid[],
        erased        accounts.identifier[]);
    ALTER TABLE accounts.dist_event_redactions REPLICA IDENTITY FULL;
    CREATE TABLE accounts.dist_journal_settings (
        account_type  text COLLATE "C" NOT NULL,
        enabled       boolean NOT NULL,
        CONSTRAINT dist_journal_settings_pkey PRIMARY KEY (account_type));
    PERFORM pg_catalog.create_distributed_table('accounts.dist_events', 'route',
                                                colocate_with := 'accounts.dist_accounts');
    PERFORM pg_catalog.create_reference_table('accounts.dist_event_redactions');
    PERFORM pg_catalog.create_reference_table('accounts.dist_journal_settings');
    CREATE TRIGGER dist_events_write BEFORE INSERT ON accounts.dist_events
        FOR EACH ROW EXECUTE FUNCTION accounts_internal.dist_journal_write('event');
    CREATE TRIGGER dist_accounts_created BEFORE INSERT ON accounts.dist_accounts
        FOR EACH ROW WHEN (NEW.event_detail IS NOT NULL)
        EXECUTE FUNCTION accounts_internal.dist_journal_write('created');
    CREATE TRIGGER dist_event_redactions_apply BEFORE INSERT ON accounts.dist_event_redactions
        FOR EACH ROW EXECUTE FUNCTION accounts_internal.dist_redact_events();
    INSERT INTO accounts.dist_journal_settings (account_type, enabled)
        SELECT s.account_type, s.enabled FROM accounts.journal_settings s;
END
$$;
COMMENT ON FUNCTION accounts_internal.dist_journal_setup() IS
    'Internal (distribute()): the change journal''s distributed tables and triggers';

/*
 * The end of an update on a distributed cluster (distribute() run again):
 * what the update script cannot change on the distributed tables, because
 * Citus updates the workers' functions only after the coordinator's script
 * has run.  Returns false when there is nothing to do.
 */
CREATE OR REPLACE FUNCTION accounts_internal.dist_finish_update() RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    done boolean := false;
    r record;
BEGIN
    -- 1.5 -> 1.6: the change journal (with 1.7's tables)
    IF pg_catalog.to_regclass('accounts.dist_events') IS NULL THEN
        PERFORM accounts_internal.dist_journal_setup();
        done := true;
    END IF;
    -- 1.6 -> 1.7: redaction across accounts, online shard moves, erasure
    -- (in the same call after 1.5's step)
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid OPERATOR(pg_catalog.=) 'accounts.dist_event_redactions'::pg_catalog.regclass
                      AND a.attname OPERATOR(pg_catalog.=) 'erased' AND NOT a.attisdropped) THEN
        ALTER TABLE accounts.dist_event_redactions ADD COLUMN holders uuid[],
                                                   ADD COLUMN erased accounts.identifier[];
        ALTER TABLE accounts.dist_event_redactions REPLICA IDENTITY FULL;
        ALTER TABLE accounts.dist_events REPLICA IDENTITY FULL;
        done := true;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                    WHERE c.oid OPERATOR(pg_catalog.=) 'accounts.dist_identifiers'::pg_catalog.regclass
                      AND 'vacuum_index_cleanup=on' OPERATOR(pg_catalog.=) ANY (c.reloptions)) THEN
        -- Citus refuses ALTER COLUMN ... SET STATISTICS on a distributed
        -- table: the coordinator's table, then every shard (a shard made
        -- later, by a move or a split, takes the table's setting)
        PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'off', true);
        ALTER TABLE accounts.dist_identifiers ALTER COLUMN value SET STATISTICS 0;
        PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'on', true);
        FOR r IN SELECT * FROM pg_catalog.run_command_on_shards('accounts.dist_identifiers',
                                   'ALTER TABLE %s ALTER COLUMN value SET STATISTICS 0') LOOP
            IF NOT r.success THEN
                RAISE EXCEPTION 'could not set the statistics of shard %', r.shardid
                    USING ERRCODE = 'connection_failure', DETAIL = r.result,
                          HINT = 'Run SELECT accounts.distribute() again once every node is reachable.';
            END IF;
        END LOOP;
        ALTER TABLE accounts.dist_identifiers SET (vacuum_index_cleanup = on);
        -- the normalization of 1.7 (20_find_or_create.sql)
        PERFORM accounts_internal.warn_renormalized('accounts.dist_identifiers');
        done := true;
    END IF;
    RETURN done;
END
$$;
COMMENT ON FUNCTION accounts_internal.dist_finish_update() IS
    'Internal (distribute() run again after an update): what the update could not change on the distributed tables';

CREATE OR REPLACE FUNCTION accounts_internal.dist_journal_write() RETURNS trigger
    AS 'MODULE_PATHNAME', 'account_dist_journal_write'
    LANGUAGE C;
COMMENT ON FUNCTION accounts_internal.dist_journal_write() IS
    'Internal: on a shard, append the event to this node''s journal and store nothing (THE JOURNAL ON CITUS)';

/*
 * On each copy of dist_event_redactions: redact this node's events (the
 * columns holders and erased came with 1.7; a table distributed by 1.6
 * has them once distribute() ran again).
 */
CREATE OR REPLACE FUNCTION accounts_internal.dist_redact_events() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    row jsonb := pg_catalog.to_jsonb(NEW);
    holders jsonb := CASE WHEN pg_catalog.jsonb_typeof(row OPERATOR(pg_catalog.->) 'holders') OPERATOR(pg_catalog.=) 'array'
                          THEN row OPERATOR(pg_catalog.->) 'holders' ELSE '[]' END;
    erased jsonb := CASE WHEN pg_catalog.jsonb_typeof(row OPERATOR(pg_catalog.->) 'erased') OPERATOR(pg_catalog.=) 'array'
                         THEN row OPERATOR(pg_catalog.->) 'erased' ELSE '[]' END;
BEGIN
    PERFORM accounts_internal.redact_node_events(
        NEW.accounts,
        ARRAY(SELECT x::uuid FROM pg_catalog.jsonb_array_elements_text(holders) x),
        ARRAY(SELECT ROW(e OPERATOR(pg_catalog.->>) 'id_type', e OPERATOR(pg_catalog.->>) 'value')::accounts.identifier
                FROM pg_catalog.jsonb_array_elements(erased) e));
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION accounts_internal.dist_redact_events() IS
    'Internal: on each node, erase the accounts'' identifier values from its journal (redact_account())';

/*
 * On each copy of dist_journal_settings of a cluster distributed by 1.6:
 * the same row in this node's accounts.journal_settings (1.7 reads the
 * copy itself; a distribute() of 1.7 creates no such trigger).
 */
CREATE OR REPLACE FUNCTION accounts_internal.dist_mirror_journal_setting() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
        DELETE FROM accounts.journal_settings s
         WHERE s.account_type OPERATOR(pg_catalog.=) OLD.account_type;
        RETURN NULL;
    END IF;
    INSERT INTO accounts.journal_settings AS s (account_type, enabled)
    VALUES (NEW.account_type, NEW.enabled)
    ON CONFLICT ON CONSTRAINT journal_settings_pkey DO UPDATE SET enabled = EXCLUDED.enabled;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION accounts_internal.dist_mirror_journal_setting() IS
    'Internal: on each node of a cluster distributed by 1.6, keep accounts.journal_settings equal to its copy of dist_journal_settings';

/*
 * A node added to the cluster after distribute() (citus_add_node()), once,
 * on the coordinator: Citus's copies of the reference tables on it, and
 * the grants of the extension's functions and schemas as this node has
 * them, on every node.  Also after a grant made with plain GRANT on one
 * node.  Needs the rights of Citus's replicate_reference_tables() (a
 * superuser).
 */
CREATE OR REPLACE FUNCTION accounts.sync_nodes() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    grants text;
    r record;
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        RAISE EXCEPTION 'the accounts are not distributed'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'accounts.sync_nodes() is for a Citus cluster after accounts.distribute().';
    END IF;
    PERFORM pg_catalog.replicate_reference_tables();
    grants := accounts_internal.grant_statements();
    IF grants OPERATOR(pg_catalog.<>) '' THEN
        -- applied where each runs (as grant_access())
        FOR r IN SELECT * FROM pg_catalog.run_command_on_all_nodes(
                     'SET LOCAL citus.enable_ddl_propagation TO off; ' OPERATOR(pg_catalog.||) grants) LOOP
            IF NOT r.success THEN
                RAISE EXCEPTION 'could not apply the grants on node %', r.nodeid
                    USING ERRCODE = 'connection_failure', DETAIL = r.result,
                          HINT = 'Call accounts.sync_nodes() again once the node is reachable.';
            END IF;
        END LOOP;
    END IF;
END
$$;
COMMENT ON FUNCTION accounts.sync_nodes() IS
    'Citus, on the coordinator, after citus_add_node(): the reference tables and the grants of the extension''s functions on every node';

/*
 * PRIVILEGES, AND WHAT DUMPS KEEP
 *
 * Least privilege: no function of the extension is executable by PUBLIC,
 * no table has a privilege for anyone but its owner, and nobody is granted
 * anything on schema accounts_internal.  accounts.grant_access() gives a
 * role the functions of one kind of use, on every node of a Citus cluster
 * (docs/security.md has the recipe).
 */
CREATE OR REPLACE FUNCTION accounts.grant_access(role regrole, access text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    fns text[];
    stmt text;
    r record;
BEGIN
    IF grant_access.role IS NULL OR grant_access.access IS NULL THEN
        RAISE EXCEPTION 'argument "%" must not be null', CASE WHEN grant_access.role IS NULL THEN 'role' ELSE 'access' END
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a role and one of application, read, lifecycle, registry, journal, trigger.';
    END IF;
    fns := CASE grant_access.access
        WHEN 'application' THEN ARRAY[
            'accounts.find_or_create_account(text, text, text)',
            'accounts.find_or_create_account(text, accounts.identifier)',
            'accounts.find_or_create_account(text, accounts.identifier[])',
            'accounts.find_or_create_accounts(text, text, text[])',
            'accounts.try_find_or_create_account(text, text, text)',
            'accounts.try_find_or_create_account(text, accounts.identifier)',
            'accounts.add_identifier(uuid, text, text)',
            'accounts.remove_identifier(uuid, text, text)',
            'accounts.find_account(text, text, text)',
            'accounts.find_accounts(text, text, text[])',
            'accounts.get_account(uuid)',
            'accounts.resolve_account(uuid)',
            'accounts.normalize_identifier(text, text, text)']
        WHEN 'read' THEN ARRAY[
            'accounts.find_account(text, text, text)',
            'accounts.find_accounts(text, text, text[])',
            'accounts.get_account(uuid)',
            'accounts.resolve_account(uuid)',
            'accounts.accounts_with_tag(text, text)',
            'accounts.normalize_identifier(text, text, text)']
        WHEN 'lifecycle' THEN ARRAY[
            'accounts.merge_accounts(uuid, uuid[])',
            'accounts.redact_account(uuid)',
            'accounts.archive_account(uuid)',
            'accounts.restore_account(uuid)',
            'accounts.tag_account(uuid, text[])',
            'accounts.untag_account(uuid, text[])',
            'accounts.accounts_with_tag(text, text)',
            'accounts.get_account(uuid)',
            'accounts.resolve_account(uuid)']
        WHEN 'registry' THEN ARRAY[
            'accounts.create_account_type(text)',
            'accounts.create_identifier_type(text, text, text, boolean)',
            'accounts.drop_identifier_type(text, text)',
            'accounts.drop_account_type(text)',
            'accounts.set_journal(text, boolean)']
        WHEN 'journal' THEN ARRAY[
            'accounts.events_since(bigint, integer)']
        WHEN 'trigger' THEN ARRAY[
            'accounts.assign_account()']
        END;
    IF fns IS NULL THEN
        RAISE EXCEPTION 'unknown access "%"', grant_access.access
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The kinds of access are application, read, lifecycle, registry, journal and trigger.';
    END IF;
    stmt := pg_catalog.format('GRANT USAGE ON SCHEMA accounts TO %s; GRANT EXECUTE ON FUNCTION %s TO %s',
                              grant_access.role, pg_catalog.array_to_string(fns, ', '), grant_access.role);
    IF NOT accounts_internal.is_distributed() THEN
        EXECUTE stmt;
        RETURN;
    END IF;
    -- every node, this one included, each in a transaction of its own (a
    -- grant can be repeated), each applied where it runs: Citus refuses
    -- to propagate a grant on the schema from a worker
    FOR r IN SELECT * FROM pg_catalog.run_command_on_all_nodes(
                 'SET LOCAL citus.enable_ddl_propagation TO off; ' OPERATOR(pg_catalog.||) stmt) LOOP
        IF NOT r.success THEN
            RAISE EXCEPTION 'could not grant % access on node %', grant_access.access, r.nodeid
                USING ERRCODE = 'connection_failure', DETAIL = r.result,
                      HINT = 'The other nodes have it; call accounts.grant_access() again once the node is reachable.';
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION accounts.grant_access(regrole, text) IS
    'Give a role the functions of one kind of use (application, read, lifecycle, registry, journal, trigger), on every node of a Citus cluster';

/* The grants of this node's extension functions and schema, as statements (sync_nodes()). */
CREATE OR REPLACE FUNCTION accounts_internal.grant_statements() RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT COALESCE(pg_catalog.string_agg(g, '; '), '') FROM (
        SELECT pg_catalog.format('GRANT USAGE ON SCHEMA accounts TO %s', a.grantee::pg_catalog.regrole) AS g
          FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
         WHERE n.nspname OPERATOR(pg_catalog.=) 'accounts' AND a.privilege_type OPERATOR(pg_catalog.=) 'USAGE'
           AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner AND a.grantee OPERATOR(pg_catalog.<>) 0
        UNION ALL
        SELECT pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s', p.oid::pg_catalog.regprocedure,
                                 a.grantee::pg_catalog.regrole)
          FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
         WHERE p.pronamespace OPERATOR(pg_catalog.=) 'accounts'::pg_catalog.regnamespace
           AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
           AND a.grantee OPERATOR(pg_catalog.<>) p.proowner AND a.grantee OPERATOR(pg_catalog.<>) 0) s
$$;
COMMENT ON FUNCTION accounts_internal.grant_statements() IS
    'Internal (sync_nodes): the grants of this node''s extension functions and schema, as GRANT statements';

/* Keep user data in dumps; the seeded rows are recreated by CREATE EXTENSION. */
SELECT pg_catalog.pg_extension_config_dump('accounts.account_types',
    $$WHERE name OPERATOR(pg_catalog.<>) 'user'$$);
-- reference_id rows are recreated by the account_types trigger on restore.
SELECT pg_catalog.pg_extension_config_dump('accounts.identifier_types',
    $$WHERE name OPERATOR(pg_catalog.<>) 'reference_id'$$);
SELECT pg_catalog.pg_extension_config_dump('accounts.accounts', '');
SELECT pg_catalog.pg_extension_config_dump('accounts.identifiers', '');
SELECT pg_catalog.pg_extension_config_dump('accounts.events', '');
SELECT pg_catalog.pg_extension_config_dump('accounts.events_seq', '');
SELECT pg_catalog.pg_extension_config_dump('accounts.journal_settings', '');

/* Least privilege: nothing is executable by PUBLIC until granted. */
DO $revoke$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::pg_catalog.regprocedure
               FROM pg_catalog.pg_proc p
               JOIN pg_catalog.pg_depend d ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                                          AND d.objid OPERATOR(pg_catalog.=) p.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'
               JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
                                             AND e.extname OPERATOR(pg_catalog.=) 'account'
              ORDER BY p.oid
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$revoke$;

-- Normalization (src/normalize.c, 1.7): every default-ignorable code point
-- is dropped now (1.6 dropped five of them), and phone numbers take any
-- space or dash as a separator.  A value stored by 1.6 that held one of
-- the others (a soft hyphen, a variation selector ...) is found by its
-- exact stored form no more: a lookup normalizes to the form without it.
-- Nothing is changed here (the new form may belong to another account);
-- the WARNING says how many there are and how to list them.  On a
-- distributed cluster this node's tables are empty: distribute(), run
-- again on the coordinator to finish the update, counts the distributed
-- ones (70_citus.sql, dist_finish_update()).
SELECT accounts_internal.warn_renormalized('accounts.identifiers');
