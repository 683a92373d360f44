/* account.sql: the current version of the extension (built into account--$(EXTVERSION).sql). */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION account" to load this file. \quit

-- The extension's schema "accounts" is created by CREATE EXTENSION
-- (schema = accounts in account.control).  Every object below is
-- schema-qualified, and every function pins search_path, so nothing here
-- depends on the caller's search_path.

/*
 * A schema "accounts" that exists already is used by CREATE EXTENSION as it
 * is.  If another role owns it, or may create objects in it, that role
 * could place functions there that the SECURITY DEFINER functions below
 * would run with the installing superuser's rights.  Refuse it.
 */
DO $guard$
DECLARE
    owner_ok boolean;
    creators text;
BEGIN
    SELECT n.nspowner OPERATOR(pg_catalog.=) r.oid INTO owner_ok
      FROM pg_catalog.pg_namespace n, pg_catalog.pg_roles r
     WHERE n.nspname OPERATOR(pg_catalog.=) 'accounts'
       AND r.rolname OPERATOR(pg_catalog.=) CURRENT_USER;
    IF NOT owner_ok THEN
        RAISE EXCEPTION 'schema "accounts" is owned by role %, not by %',
            (SELECT n.nspowner::pg_catalog.regrole FROM pg_catalog.pg_namespace n
              WHERE n.nspname OPERATOR(pg_catalog.=) 'accounts'), CURRENT_USER
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'The extension installs SECURITY DEFINER functions into it; its owner could change what they run.',
                  HINT = 'Drop the schema (or ALTER SCHEMA accounts OWNER TO the installing superuser) and run CREATE EXTENSION account again.';
    END IF;
    SELECT pg_catalog.string_agg(a.grantee::pg_catalog.regrole::text, ', ') INTO creators
      FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
     WHERE n.nspname OPERATOR(pg_catalog.=) 'accounts'
       AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
       AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner;
    IF creators IS NOT NULL THEN
        RAISE EXCEPTION 'other roles may create objects in schema "accounts": %', creators
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'REVOKE CREATE ON SCHEMA accounts FROM them, then run CREATE EXTENSION account again.';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_class c, pg_catalog.pg_namespace n
                WHERE c.relnamespace OPERATOR(pg_catalog.=) n.oid AND n.nspname OPERATOR(pg_catalog.=) 'accounts')
       OR EXISTS (SELECT 1 FROM pg_catalog.pg_proc p, pg_catalog.pg_namespace n
                   WHERE p.pronamespace OPERATOR(pg_catalog.=) n.oid AND n.nspname OPERATOR(pg_catalog.=) 'accounts')
       OR EXISTS (SELECT 1 FROM pg_catalog.pg_type t, pg_catalog.pg_namespace n
                   WHERE t.typnamespace OPERATOR(pg_catalog.=) n.oid AND n.nspname OPERATOR(pg_catalog.=) 'accounts')
       OR EXISTS (SELECT 1 FROM pg_catalog.pg_operator o, pg_catalog.pg_namespace n
                   WHERE o.oprnamespace OPERATOR(pg_catalog.=) n.oid AND n.nspname OPERATOR(pg_catalog.=) 'accounts') THEN
        RAISE EXCEPTION 'schema "accounts" is not empty'
            USING ERRCODE = 'duplicate_schema',
                  HINT = 'The extension needs a schema of its own: move those objects elsewhere, or drop the schema, and run CREATE EXTENSION account again.';
    END IF;
END
$guard$;

/*
 * Registries.
 *
 * Names are short lowercase identifiers, so that they fit comfortably in the
 * unique key of accounts.identifiers.  All key columns use COLLATE "C": the
 * stored values are already normalized, equality is byte equality, and the
 * index does not depend on the database's locale.
 */
CREATE TABLE accounts.account_types (
    name        text COLLATE "C" NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT account_types_pkey PRIMARY KEY (name),
    CONSTRAINT account_types_name_check
        CHECK (name OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,62}$')
);
COMMENT ON TABLE accounts.account_types IS
    'Kinds of account (e.g. user); identifiers are unique per account type';

CREATE TABLE accounts.identifier_types (
    account_type    text COLLATE "C" NOT NULL
                    REFERENCES accounts.account_types (name) ON DELETE CASCADE,
    name            text COLLATE "C" NOT NULL,
    kind            text COLLATE "C" NOT NULL DEFAULT 'text',
    case_sensitive  boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT identifier_types_pkey PRIMARY KEY (account_type, name),
    CONSTRAINT identifier_types_name_check
        CHECK (name OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,62}$'),
    CONSTRAINT identifier_types_kind_check
        CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['text', 'email', 'phone'])),
    CONSTRAINT identifier_types_case_check
        CHECK (NOT case_sensitive OR kind OPERATOR(pg_catalog.=) 'text')
);
COMMENT ON TABLE accounts.identifier_types IS
    'Kinds of identifier per account type; reference_id exists for every account type';

CREATE TABLE accounts.accounts (
    id            uuid NOT NULL,
    account_type  text COLLATE "C" NOT NULL
                  REFERENCES accounts.account_types (name),
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT accounts_pkey PRIMARY KEY (id)
);
COMMENT ON TABLE accounts.accounts IS
    'One row per account; ids are time-ordered UUIDv7 generated by the extension';

/*
 * value holds the normalized form (see accounts.normalize_identifier); the
 * primary key is the unique index that is the final guarantee of "one
 * account per identifier".  Its column order (value, id_type, account_type)
 * puts the selective column first, so a probe's btree comparisons almost
 * always stop at the first column instead of comparing the type names
 * (equal for every row of a type) first.  The foreign keys protect against direct DML by
 * the owner; the extension's C code inserts rows whose references it has
 * just checked or created itself, see src/lookup.c.
 */
CREATE TABLE accounts.identifiers (
    account_type  text COLLATE "C" NOT NULL,
    id_type       text COLLATE "C" NOT NULL,
    value         text COLLATE "C" NOT NULL,
    account_id    uuid NOT NULL
                  REFERENCES accounts.accounts (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT identifiers_pkey PRIMARY KEY (value, id_type, account_type),
    CONSTRAINT identifiers_id_type_fkey FOREIGN KEY (account_type, id_type)
        REFERENCES accounts.identifier_types (account_type, name)
);
CREATE INDEX identifiers_account_id_idx ON accounts.identifiers (account_id);
COMMENT ON TABLE accounts.identifiers IS
    'Identifiers (normalized) and the account each belongs to; unique per (account_type, id_type, value)';

/*
 * The referencing side of the foreign keys above is not checked by
 * PostgreSQL's triggers; their referenced side is (ON DELETE CASCADE, and
 * deleting a registry row that is in use fails).  Why: a parallel restore
 * (pg_restore -j) loads the four tables' data at the same time, in any
 * order, and a referencing-side check rejects whole tables whose
 * referenced rows are not loaded yet (pg_dump records no order between
 * them).  Every writer establishes the reference itself instead, with the
 * row lock the check would take: the C code (src/lookup.c, ROW LOCKS) and
 * accounts.create_identifier_type().  Direct INSERT or UPDATE of these
 * tables is not supported; the test suite audits the references after
 * every concurrent run.
 */
DO $fk$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT tg.tgname, tg.tgrelid::pg_catalog.regclass AS rel
               FROM pg_catalog.pg_trigger tg
               JOIN pg_catalog.pg_constraint c ON c.oid OPERATOR(pg_catalog.=) tg.tgconstraint
              WHERE c.contype OPERATOR(pg_catalog.=) 'f'
                AND c.connamespace OPERATOR(pg_catalog.=) 'accounts'::pg_catalog.regnamespace
                AND tg.tgrelid OPERATOR(pg_catalog.=) c.conrelid
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s DISABLE TRIGGER %I', t.rel, t.tgname);
    END LOOP;
END
$fk$;

/*
 * Registry changes must reach every backend's cache of identifier types
 * (src/catalog.c).  These triggers turn any change into a relcache
 * invalidation of the registry tables, delivered at commit.  They are row
 * triggers (plus one for TRUNCATE) set to ENABLE ALWAYS, because a
 * logical-replication apply worker fires only row triggers, and only
 * ALWAYS or REPLICA ones: a subscriber's caches must not go stale.
 */
CREATE FUNCTION accounts.registry_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'account_registry_changed'
    LANGUAGE C;

CREATE TRIGGER account_types_changed
    AFTER INSERT OR UPDATE OR DELETE ON accounts.account_types
    FOR EACH ROW EXECUTE FUNCTION accounts.registry_changed();
CREATE TRIGGER account_types_truncated
    AFTER TRUNCATE ON accounts.account_types
    FOR EACH STATEMENT EXECUTE FUNCTION accounts.registry_changed();
CREATE TRIGGER identifier_types_changed
    AFTER INSERT OR UPDATE OR DELETE ON accounts.identifier_types
    FOR EACH ROW EXECUTE FUNCTION accounts.registry_changed();
CREATE TRIGGER identifier_types_truncated
    AFTER TRUNCATE ON accounts.identifier_types
    FOR EACH STATEMENT EXECUTE FUNCTION accounts.registry_changed();
ALTER TABLE accounts.account_types ENABLE ALWAYS TRIGGER account_types_changed;
ALTER TABLE accounts.account_types ENABLE ALWAYS TRIGGER account_types_truncated;
ALTER TABLE accounts.identifier_types ENABLE ALWAYS TRIGGER identifier_types_changed;
ALTER TABLE accounts.identifier_types ENABLE ALWAYS TRIGGER identifier_types_truncated;

/*
 * Logical replication of the registries: every database that has the
 * extension already holds the seeded rows (account type "user" and the
 * reference_id type of each account type), so a subscriber's initial copy
 * and later inserts of those rows would fail on the primary key forever.
 * This REPLICA trigger, which fires only in replication workers, skips an
 * incoming row that is already there.
 */
CREATE FUNCTION accounts.skip_existing_registry_row() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF TG_TABLE_NAME OPERATOR(pg_catalog.=) 'account_types' THEN
        PERFORM 1 FROM accounts.account_types t WHERE t.name OPERATOR(pg_catalog.=) NEW.name;
    ELSE
        PERFORM 1 FROM accounts.identifier_types t
         WHERE t.account_type OPERATOR(pg_catalog.=) NEW.account_type
           AND t.name OPERATOR(pg_catalog.=) NEW.name;
    END IF;
    IF FOUND THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER account_types_replicated
    BEFORE INSERT ON accounts.account_types
    FOR EACH ROW EXECUTE FUNCTION accounts.skip_existing_registry_row();
CREATE TRIGGER identifier_types_replicated
    BEFORE INSERT ON accounts.identifier_types
    FOR EACH ROW EXECUTE FUNCTION accounts.skip_existing_registry_row();
ALTER TABLE accounts.account_types ENABLE REPLICA TRIGGER account_types_replicated;
ALTER TABLE accounts.identifier_types ENABLE REPLICA TRIGGER identifier_types_replicated;

/* reference_id exists for every account type, including ones added later. */
CREATE FUNCTION accounts.add_reference_id() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    INSERT INTO accounts.identifier_types (account_type, name)
    VALUES (NEW.name, 'reference_id')
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER account_types_reference_id
    AFTER INSERT ON accounts.account_types
    FOR EACH ROW EXECUTE FUNCTION accounts.add_reference_id();

INSERT INTO accounts.account_types (name) VALUES ('user');

/*
 * The composite identifier type: an identifier type name and a value.
 */
CREATE TYPE accounts.identifier AS (
    id_type  text,
    value    text
);

/*
 * The API.
 */
CREATE FUNCTION accounts.find_or_create_account(
        type text, id_type text, value text,
        OUT account_id uuid, OUT created boolean)
    AS 'MODULE_PATHNAME', 'account_find_or_create'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts.find_or_create_account(text, text, text) IS
    'Return the account holding this identifier, creating it if there is none; race-free';

CREATE FUNCTION accounts.find_or_create_account(
        type text, identifier accounts.identifier,
        OUT account_id uuid, OUT created boolean)
    AS 'MODULE_PATHNAME', 'account_find_or_create_ident'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts.find_or_create_account(text, accounts.identifier) IS
    'Return the account holding this identifier, creating it if there is none; race-free';

CREATE FUNCTION accounts.find_or_create_accounts(type text, id_type text, vals text[])
    RETURNS TABLE (value text, account_id uuid, created boolean)
    AS 'MODULE_PATHNAME', 'account_find_or_create_many'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE ROWS 1000;
COMMENT ON FUNCTION accounts.find_or_create_accounts(text, text, text[]) IS
    'find_or_create_account for every element of vals: one row per element, in input order';

CREATE FUNCTION accounts.try_find_or_create_account(
        type text, id_type text, value text,
        OUT account_id uuid, OUT created boolean,
        OUT error_code text, OUT error_message text)
    AS 'MODULE_PATHNAME', 'account_try_find_or_create'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts.try_find_or_create_account(text, text, text) IS
    'find_or_create_account that returns errors as data instead of raising them ("continue on error")';

CREATE FUNCTION accounts.try_find_or_create_account(
        type text, identifier accounts.identifier,
        OUT account_id uuid, OUT created boolean,
        OUT error_code text, OUT error_message text)
    AS 'MODULE_PATHNAME', 'account_try_find_or_create_ident'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts.try_find_or_create_account(text, accounts.identifier) IS
    'find_or_create_account that returns errors as data instead of raising them ("continue on error")';

CREATE FUNCTION accounts.assign_account() RETURNS trigger
    AS 'MODULE_PATHNAME', 'account_assign_account'
    LANGUAGE C;
COMMENT ON FUNCTION accounts.assign_account() IS
    'BEFORE INSERT OR UPDATE row trigger: sets a uuid column to the account of a source column; arguments (account_type, id_type, source_column, target_column)';

CREATE FUNCTION accounts.find_or_create_account(
        type text, identifiers accounts.identifier[],
        OUT account_id uuid, OUT created boolean)
    AS 'MODULE_PATHNAME', 'account_find_or_create_multi'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts.find_or_create_account(text, accounts.identifier[]) IS
    'The account holding any of these identifiers (attaching the others), or a new one holding all; 21000 if they belong to different accounts';

CREATE FUNCTION accounts.add_identifier(account_id uuid, id_type text, value text)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'account_add_identifier'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts.add_identifier(uuid, text, text) IS
    'Attach an identifier to an account: true if added, false if it already has it, 23505 if another account has it';

CREATE FUNCTION accounts.find_account(type text, id_type text, value text)
    RETURNS uuid
    AS 'MODULE_PATHNAME', 'account_find'
    LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION accounts.find_account(text, text, text) IS
    'Return the account holding this identifier, or NULL; never writes';

CREATE FUNCTION accounts.normalize_identifier(type text, id_type text, value text)
    RETURNS text
    AS 'MODULE_PATHNAME', 'account_normalize_identifier'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION accounts.normalize_identifier(text, text, text) IS
    'The normalized form in which an identifier value is stored and matched';

/*
 * Registry and identifier management (PL/pgSQL).  They run SQL against the
 * extension's tables, so they are SECURITY DEFINER: a role granted EXECUTE
 * needs no privilege on the tables.  Every name is schema-qualified,
 * operators are written OPERATOR(pg_catalog.x), and search_path is pinned
 * to pg_catalog, pg_temp (pg_temp last, so no temporary object can
 * shadow anything).  Their bodies call no function of schema "accounts"
 * (whose resolution another role with CREATE on the schema could steer
 * with an overload) except accounts.normalize_identifier with arguments of
 * its exact types, and nothing unqualified outside pg_catalog.
 *
 * The C functions need no SECURITY DEFINER: they read and write the tables
 * through the table and index access methods, which check no table
 * privileges, and resolve every object by OID.  EXECUTE on the function is
 * the whole permission, and it is revoked from PUBLIC below.
 */
CREATE FUNCTION accounts.create_account_type(name text) RETURNS void
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
    INSERT INTO accounts.account_types AS t (name) VALUES (create_account_type.name)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account type "%" already exists', create_account_type.name
            USING ERRCODE = 'duplicate_object',
                  HINT = 'List account types with SELECT name FROM accounts.account_types.';
    END IF;
END
$$;
COMMENT ON FUNCTION accounts.create_account_type(text) IS
    'Register an account type; it gets a reference_id identifier type';

CREATE FUNCTION accounts.create_identifier_type(account_type text, name text,
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
    -- FOR KEY SHARE, as the foreign key's check would: drop_account_type()
    -- waits for this transaction, or this one finds the type gone
    PERFORM 1 FROM accounts.account_types t
     WHERE t.name OPERATOR(pg_catalog.=) create_identifier_type.account_type
       FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account type "%" does not exist', create_identifier_type.account_type
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create it first with accounts.create_account_type().';
    END IF;
    IF create_identifier_type.name OPERATOR(pg_catalog.!~) '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid identifier type name "%"', create_identifier_type.name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Names start with a lowercase letter, then up to 62 lowercase letters, digits or underscores.';
    END IF;
    INSERT INTO accounts.identifier_types AS t (account_type, name, kind, case_sensitive)
    VALUES (create_identifier_type.account_type, create_identifier_type.name,
            create_identifier_type.kind, create_identifier_type.case_sensitive)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'identifier type "%" already exists for account type "%"',
                        create_identifier_type.name, create_identifier_type.account_type
            USING ERRCODE = 'duplicate_object',
                  HINT = 'List identifier types with SELECT * FROM accounts.identifier_types.';
    END IF;
END
$$;
COMMENT ON FUNCTION accounts.create_identifier_type(text, text, text, boolean) IS
    'Register an identifier type (kind text, email or phone) for an account type';

/*
 * Dropping a type: the protocol of src/lookup.c ("ROW LOCKS").  Every C
 * creator holds the identifier_types row of the type it creates FOR KEY
 * SHARE until it ends, as a foreign-key check would.  A drop locks the
 * row(s) FOR UPDATE, which waits for the creators in progress and keeps
 * new ones out, then looks for users and deletes.  No table lock is taken,
 * so a drop waiting for a long transaction never blocks finding or
 * creating accounts of other types, and never blocks finding at all.
 *
 * Under READ COMMITTED the search for users runs after the lock, with a
 * snapshot that sees every creator that committed before it.  Under
 * REPEATABLE READ it may not; the DELETE's own foreign-key check (which
 * PostgreSQL runs with a current snapshot) then finds them, and its
 * 23503 is reported as "in use" like the search's.  The search scans
 * accounts.identifiers: dropping is a rare administrative step.
 */
CREATE FUNCTION accounts.drop_identifier_type(account_type text, name text) RETURNS void
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
    PERFORM 1 FROM accounts.identifier_types t
     WHERE t.account_type OPERATOR(pg_catalog.=) drop_identifier_type.account_type
       AND t.name OPERATOR(pg_catalog.=) drop_identifier_type.name
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'identifier type "%" does not exist for account type "%"',
                        drop_identifier_type.name, drop_identifier_type.account_type
            USING ERRCODE = 'undefined_object',
                  HINT = 'List identifier types with SELECT * FROM accounts.identifier_types.';
    END IF;
    BEGIN
        IF EXISTS (SELECT 1 FROM accounts.identifiers i
                    WHERE i.account_type OPERATOR(pg_catalog.=) drop_identifier_type.account_type
                      AND i.id_type OPERATOR(pg_catalog.=) drop_identifier_type.name) THEN
            RAISE foreign_key_violation;
        END IF;
        DELETE FROM accounts.identifier_types t
         WHERE t.account_type OPERATOR(pg_catalog.=) drop_identifier_type.account_type
           AND t.name OPERATOR(pg_catalog.=) drop_identifier_type.name;
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

CREATE FUNCTION accounts.drop_account_type(name text) RETURNS void
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
                  DETAIL = 'It is the default account type.';
    END IF;
    -- the account type first (create_identifier_type's foreign-key check
    -- holds it FOR KEY SHARE), then every identifier type of it, which
    -- creators of its accounts hold
    PERFORM 1 FROM accounts.account_types t
     WHERE t.name OPERATOR(pg_catalog.=) drop_account_type.name
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account type "%" does not exist', drop_account_type.name
            USING ERRCODE = 'undefined_object',
                  HINT = 'List account types with SELECT name FROM accounts.account_types.';
    END IF;
    PERFORM 1 FROM accounts.identifier_types t
     WHERE t.account_type OPERATOR(pg_catalog.=) drop_account_type.name
       FOR UPDATE;
    BEGIN
        IF EXISTS (SELECT 1 FROM accounts.accounts a
                    WHERE a.account_type OPERATOR(pg_catalog.=) drop_account_type.name) THEN
            RAISE foreign_key_violation;
        END IF;
        DELETE FROM accounts.account_types t WHERE t.name OPERATOR(pg_catalog.=) drop_account_type.name;
    EXCEPTION WHEN foreign_key_violation THEN
        RAISE EXCEPTION 'account type "%" is in use', drop_account_type.name
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'Accounts of this type exist.',
                  HINT = 'Delete its accounts first.';
    END;
END
$$;
COMMENT ON FUNCTION accounts.drop_account_type(text) IS
    'Drop an account type that has no accounts (not user)';

/*
 * Removing writes the account's row (an UPDATE that changes nothing but
 * its row version, FOR NO KEY UPDATE strength, so attaching identifiers,
 * which holds FOR KEY SHARE, is not blocked).  Two removals on one account
 * are serialized by it: under READ COMMITTED the second waits and then
 * counts with a fresh snapshot; under REPEATABLE READ it fails with 40001
 * instead of counting with its old snapshot.  An account never loses its
 * last identifier.
 */
CREATE FUNCTION accounts.remove_identifier(account_id uuid, id_type text, value text)
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
    UPDATE accounts.accounts a SET id = a.id
     WHERE a.id OPERATOR(pg_catalog.=) remove_identifier.account_id
    RETURNING a.account_type INTO acc_type;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account % does not exist', remove_identifier.account_id
            USING ERRCODE = 'undefined_object',
                  HINT = 'Look accounts up with accounts.find_account().';
    END IF;
    norm := accounts.normalize_identifier(acc_type::pg_catalog.text,
                                          remove_identifier.id_type::pg_catalog.text,
                                          remove_identifier.value::pg_catalog.text);
    IF NOT EXISTS (SELECT 1 FROM accounts.identifiers i
                    WHERE i.value OPERATOR(pg_catalog.=) norm
                      AND i.id_type OPERATOR(pg_catalog.=) remove_identifier.id_type
                      AND i.account_type OPERATOR(pg_catalog.=) acc_type
                      AND i.account_id OPERATOR(pg_catalog.=) remove_identifier.account_id) THEN
        RETURN false;
    END IF;
    IF (SELECT pg_catalog.count(*) FROM accounts.identifiers i
         WHERE i.account_id OPERATOR(pg_catalog.=) remove_identifier.account_id) OPERATOR(pg_catalog.<=) 1 THEN
        RAISE EXCEPTION 'cannot remove the last identifier of account %', remove_identifier.account_id
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'An account always has at least one identifier.',
                  HINT = pg_catalog.format('Delete the account instead: DELETE FROM accounts.accounts WHERE id = %L.',
                                           remove_identifier.account_id);
    END IF;
    DELETE FROM accounts.identifiers i
     WHERE i.value OPERATOR(pg_catalog.=) norm
       AND i.id_type OPERATOR(pg_catalog.=) remove_identifier.id_type
       AND i.account_type OPERATOR(pg_catalog.=) acc_type;
    RETURN true;
END
$$;
COMMENT ON FUNCTION accounts.remove_identifier(uuid, text, text) IS
    'Detach an identifier from its account: true if removed, false if the account did not have it';

/*
 * The shape check of src/catalog.c, at the end of any DDL command that can
 * change a table: ALTER TABLE accounts.accounts ADD COLUMN ..., a trigger,
 * a CHECK or deferrable constraint, a rule or row security on the tables
 * the C code writes fail with 55000 instead of being silently bypassed.
 */
CREATE FUNCTION accounts.guard_tables() RETURNS event_trigger
    AS 'MODULE_PATHNAME', 'account_guard_tables'
    LANGUAGE C;
CREATE EVENT TRIGGER account_guard_tables ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'CREATE INDEX', 'ALTER INDEX', 'CREATE TRIGGER',
                 'CREATE RULE', 'CREATE POLICY', 'ALTER POLICY')
    EXECUTE FUNCTION accounts.guard_tables();

/* Keep user data in dumps; the seeded rows are recreated by CREATE EXTENSION. */
SELECT pg_catalog.pg_extension_config_dump('accounts.account_types',
    $$WHERE name OPERATOR(pg_catalog.<>) 'user'$$);
-- reference_id rows are recreated by the account_types trigger on restore.
SELECT pg_catalog.pg_extension_config_dump('accounts.identifier_types',
    $$WHERE name OPERATOR(pg_catalog.<>) 'reference_id'$$);
SELECT pg_catalog.pg_extension_config_dump('accounts.accounts', '');
SELECT pg_catalog.pg_extension_config_dump('accounts.identifiers', '');

/* Least privilege: nothing is executable by PUBLIC until granted. */
REVOKE ALL ON FUNCTION accounts.find_or_create_account(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.find_or_create_account(text, accounts.identifier) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.find_or_create_accounts(text, text, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.find_account(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.try_find_or_create_account(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.try_find_or_create_account(text, accounts.identifier) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.assign_account() FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.normalize_identifier(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.registry_changed() FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.find_or_create_account(text, accounts.identifier[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.add_identifier(uuid, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.remove_identifier(uuid, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.create_account_type(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.create_identifier_type(text, text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.drop_identifier_type(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.drop_account_type(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.skip_existing_registry_row() FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.guard_tables() FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.add_reference_id() FROM PUBLIC;
