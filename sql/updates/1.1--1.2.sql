-- account 1.1 -> 1.2: trust at the edges (issue #10).
\echo Use "ALTER EXTENSION account UPDATE TO '1.2'" to load this file. \quit

-- Registry rows: case_sensitive means something only for kind text.  It
-- was accepted and ignored for email and phone; it is refused now, and a
-- constraint keeps it so.  Clearing it changes no normalization.
UPDATE accounts.identifier_types SET case_sensitive = false
 WHERE case_sensitive AND kind OPERATOR(pg_catalog.<>) 'text';
ALTER TABLE accounts.identifier_types ADD CONSTRAINT identifier_types_case_check
    CHECK (NOT case_sensitive OR kind OPERATOR(pg_catalog.=) 'text');

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

-- Registry invalidation: row triggers that also fire in replication.
DROP TRIGGER account_types_changed ON accounts.account_types;
DROP TRIGGER identifier_types_changed ON accounts.identifier_types;
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


-- SECURITY DEFINER bodies no longer call accounts.raise_if_null().
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
    INSERT INTO accounts.account_types AS t (name) VALUES (create_account_type.name)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account type "%" already exists', create_account_type.name
            USING ERRCODE = 'duplicate_object',
                  HINT = 'List account types with SELECT name FROM accounts.account_types.';
    END IF;
END
$$;
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
DROP FUNCTION accounts.raise_if_null(anyelement, text);

-- Drops lock rows instead of tables; remove_identifier writes the account row.
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

REVOKE ALL ON FUNCTION accounts.skip_existing_registry_row() FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.guard_tables() FROM PUBLIC;

/*
 * Stored values were normalized by 1.1's rules.  1.2 also maps full-width
 * and half-width forms and drops invisible format characters, so a stored
 * value holding those would no longer be found.  Re-normalize them; if two
 * stored values now mean one identifier, or one means nothing, stop and
 * say which, since only a person can decide which account keeps it.
 */
DO $renormalize$
DECLARE
    r record;
    norm text;
    problems text := '';
BEGIN
    FOR r IN SELECT i.account_type, i.id_type, i.value, i.account_id
               FROM accounts.identifiers i
              WHERE i.value OPERATOR(pg_catalog.~) '[^\x01-\x7f]'
    LOOP
        BEGIN
            norm := accounts.normalize_identifier(r.account_type::pg_catalog.text,
                                                  r.id_type::pg_catalog.text,
                                                  r.value::pg_catalog.text);
        EXCEPTION WHEN OTHERS THEN
            problems := problems OPERATOR(pg_catalog.||) pg_catalog.format(E'\n%s %s %L of account %s: %s',
                r.account_type, r.id_type, r.value, r.account_id, SQLERRM);
            CONTINUE;
        END;
        CONTINUE WHEN norm OPERATOR(pg_catalog.=) r.value;
        IF EXISTS (SELECT 1 FROM accounts.identifiers i
                    WHERE i.value OPERATOR(pg_catalog.=) norm AND i.id_type OPERATOR(pg_catalog.=) r.id_type
                      AND i.account_type OPERATOR(pg_catalog.=) r.account_type) THEN
            problems := problems OPERATOR(pg_catalog.||) pg_catalog.format(E'\n%s %s %L of account %s is now the same identifier as %L',
                r.account_type, r.id_type, r.value, r.account_id, norm);
            CONTINUE;
        END IF;
        UPDATE accounts.identifiers i SET value = norm
         WHERE i.value OPERATOR(pg_catalog.=) r.value AND i.id_type OPERATOR(pg_catalog.=) r.id_type
           AND i.account_type OPERATOR(pg_catalog.=) r.account_type;
    END LOOP;
    IF problems OPERATOR(pg_catalog.<>) '' THEN
        RAISE EXCEPTION 'some stored identifiers cannot be carried over to the 1.2 normalization rules'
            USING ERRCODE = 'unique_violation',
                  DETAIL = problems,
                  HINT = 'Remove one identifier of each pair with accounts.remove_identifier() (or delete the account), then run ALTER EXTENSION account UPDATE again.';
    END IF;
END
$renormalize$;
