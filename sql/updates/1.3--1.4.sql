-- account 1.3 -> 1.4: the change journal (see THE CHANGE JOURNAL in
-- account.sql and src/journal.c).  New: accounts.events, events_seq,
-- journal_settings, events_since(), set_journal(), trim_events(), and the
-- internal journal_event() and redacted_detail(); the functions that change
-- accounts or the registries now write their events.  Existing accounts get
-- no account.created event: the journal starts now.
\echo Use "ALTER EXTENSION account UPDATE TO '1.4'" to load this file. \quit

/*
 * THE CHANGE JOURNAL (1.4)
 * ========================
 *
 * Every change the extension makes is an event in accounts.events, written
 * in the same transaction (src/journal.c): by the C code for account.created
 * and identifier.added, by the functions above through the internal
 * accounts.journal_event() for the rest.  Consumers read it with
 * accounts.events_since(), which returns every committed event exactly once
 * in seq order even though writers commit out of order (the protocol and
 * its proof: src/journal.c, THE JOURNAL).  seq comes from events_seq,
 * CACHE 1, so that its values increase in the order they are taken.
 *
 * The C code writes accounts.events through the table access method, like
 * the two tables above, so it has the same shape check (no triggers, added
 * columns, CHECK constraints, rules or row security).
 */
CREATE SEQUENCE accounts.events_seq AS bigint CACHE 1 NO CYCLE;

CREATE TABLE accounts.events (
    seq           bigint NOT NULL,
    occurred_at   timestamptz NOT NULL,
    account_id    uuid,
    account_type  text COLLATE "C" NOT NULL,
    kind          text COLLATE "C" NOT NULL,
    detail        jsonb NOT NULL,
    CONSTRAINT events_pkey PRIMARY KEY (seq)
);
ALTER SEQUENCE accounts.events_seq OWNED BY accounts.events.seq;
CREATE INDEX events_account_id_idx ON accounts.events (account_id);
COMMENT ON TABLE accounts.events IS
    'The change journal: one row per change, written in the changing transaction; read it with accounts.events_since()';

/* Redaction follows merges backwards (the events of merged sources). */
CREATE INDEX accounts_merged_into_idx ON accounts.accounts (merged_into)
    WHERE merged_into IS NOT NULL;

/* Account types whose journal was switched with set_journal(); absent: on. */
CREATE TABLE accounts.journal_settings (
    account_type  text COLLATE "C" NOT NULL,
    enabled       boolean NOT NULL,
    CONSTRAINT journal_settings_pkey PRIMARY KEY (account_type)
);
COMMENT ON TABLE accounts.journal_settings IS
    'Per account type: is the change journal on (accounts.set_journal())';
-- the C code caches the setting with the identifier types
CREATE TRIGGER journal_settings_changed
    AFTER INSERT OR UPDATE OR DELETE ON accounts.journal_settings
    FOR EACH ROW EXECUTE FUNCTION accounts.registry_changed();
CREATE TRIGGER journal_settings_truncated
    AFTER TRUNCATE ON accounts.journal_settings
    FOR EACH STATEMENT EXECUTE FUNCTION accounts.registry_changed();
ALTER TABLE accounts.journal_settings ENABLE ALWAYS TRIGGER journal_settings_changed;
ALTER TABLE accounts.journal_settings ENABLE ALWAYS TRIGGER journal_settings_truncated;

CREATE FUNCTION accounts.journal_event(account_id uuid, account_type text, kind text, detail jsonb)
    RETURNS void
    AS 'MODULE_PATHNAME', 'account_journal_event'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts.journal_event(uuid, text, text, jsonb) IS
    'Internal: append an event if the journal is on for account_type (the extension''s own functions call it)';

CREATE FUNCTION accounts.events_since(after bigint, max integer DEFAULT 1000)
    RETURNS SETOF accounts.events
    AS 'MODULE_PATHNAME', 'account_events_since'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE ROWS 1000;
COMMENT ON FUNCTION accounts.events_since(bigint, integer) IS
    'The committed events after seq "after", in seq order, at most max; call again with the last seq: each event is returned exactly once';

CREATE FUNCTION accounts.set_journal(account_type text, enabled boolean) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    PERFORM accounts.check_node();
    IF set_journal.account_type IS NULL THEN
        RAISE EXCEPTION 'argument "account_type" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF set_journal.enabled IS NULL THEN
        RAISE EXCEPTION 'argument "enabled" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass true to write events for the account type, false to stop.';
    END IF;
    -- as create_identifier_type(): drop_account_type() waits for us, or we
    -- find the type gone
    PERFORM 1 FROM accounts.account_types t
     WHERE t.name OPERATOR(pg_catalog.=) set_journal.account_type
       FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account type "%" does not exist', set_journal.account_type
            USING ERRCODE = 'undefined_object',
                  HINT = 'List account types with SELECT name FROM accounts.account_types.';
    END IF;
    INSERT INTO accounts.journal_settings AS s (account_type, enabled)
    VALUES (set_journal.account_type, set_journal.enabled)
    ON CONFLICT ON CONSTRAINT journal_settings_pkey DO UPDATE SET enabled = EXCLUDED.enabled;
END
$$;
COMMENT ON FUNCTION accounts.set_journal(text, boolean) IS
    'Switch the change journal on or off for an account type (on by default)';

CREATE FUNCTION accounts.trim_events(before timestamptz) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM accounts.check_node();
    IF trim_events.before IS NULL THEN
        RAISE EXCEPTION 'argument "before" must not be null' USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Pass the time before which events are deleted, e.g. now() - interval ''30 days''.';
    END IF;
    DELETE FROM accounts.events e WHERE e.occurred_at OPERATOR(pg_catalog.<) trim_events.before;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION accounts.trim_events(timestamptz) IS
    'Retention: delete the events that occurred before the given time; returns how many';

/*
 * An event's detail with the erased identifier values replaced by null and
 * "redacted": true (redact_account()): every identifier but reference ids.
 */
CREATE FUNCTION accounts.redacted_detail(detail jsonb) RETURNS jsonb
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
            ids := ids OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(accounts.redacted_detail(x));
        END LOOP;
        RETURN pg_catalog.jsonb_set(redacted_detail.detail, '{identifiers}', ids);
    END IF;
    IF (redacted_detail.detail OPERATOR(pg_catalog.->>) 'id_type') OPERATOR(pg_catalog.=) 'reference_id'
       OR pg_catalog.jsonb_typeof(redacted_detail.detail OPERATOR(pg_catalog.->) 'value')
          IS DISTINCT FROM 'string' THEN
        RETURN redacted_detail.detail;
    END IF;
    RETURN pg_catalog.jsonb_set(redacted_detail.detail, '{value}', 'null')
           OPERATOR(pg_catalog.||) '{"redacted": true}'::jsonb;
END
$$;
COMMENT ON FUNCTION accounts.redacted_detail(jsonb) IS
    'Internal (redact_account): an event detail without its erased identifier values';

/* The functions that now write events. */
CREATE OR REPLACE FUNCTION accounts.create_account_type(name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    PERFORM accounts.check_node();
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
    PERFORM accounts.journal_event(NULL::uuid, create_account_type.name::pg_catalog.text,
                                   'account_type.created'::pg_catalog.text,
                                   pg_catalog.jsonb_build_object('name', create_account_type.name));
    PERFORM accounts.journal_event(NULL::uuid, create_account_type.name::pg_catalog.text,
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
    PERFORM accounts.check_node();
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
    PERFORM accounts.journal_event(NULL::uuid, create_identifier_type.account_type::pg_catalog.text,
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
    PERFORM accounts.check_node();
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
        PERFORM accounts.journal_event(NULL::uuid, drop_identifier_type.account_type::pg_catalog.text,
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
    PERFORM accounts.check_node();
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
        PERFORM accounts.journal_event(NULL::uuid, drop_account_type.name::pg_catalog.text,
                                       'account_type.dropped'::pg_catalog.text,
                                       pg_catalog.jsonb_build_object('name', drop_account_type.name));
        DELETE FROM accounts.journal_settings s
         WHERE s.account_type OPERATOR(pg_catalog.=) drop_account_type.name;
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

CREATE OR REPLACE FUNCTION accounts.remove_identifier(account_id uuid, id_type text, value text)
    RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    acc_type text;
    norm text;
BEGIN
    PERFORM accounts.check_node();
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
    PERFORM accounts.journal_event(remove_identifier.account_id, acc_type,
                                   'identifier.removed'::pg_catalog.text,
                                   pg_catalog.jsonb_build_object('id_type', remove_identifier.id_type,
                                                                 'value', norm));
    RETURN true;
END
$$;
COMMENT ON FUNCTION accounts.remove_identifier(uuid, text, text) IS
    'Detach an identifier from its account: true if removed, false if the account did not have it';

CREATE OR REPLACE FUNCTION accounts.merge_accounts("into" uuid, sources uuid[]) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    srcs uuid[];
    ids uuid[];
    missing uuid;
    t record;
    into_type text;
    new_tags text[] COLLATE "C";
    moved integer;
BEGIN
    PERFORM accounts.check_node();
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
    ids := srcs OPERATOR(pg_catalog.||) merge_accounts."into";

    -- every row, in id order, in one statement (see THE ACCOUNT LIFECYCLE)
    PERFORM 1 FROM accounts.accounts a
     WHERE a.id OPERATOR(pg_catalog.=) ANY (ids)
     ORDER BY a.id
       FOR UPDATE;

    SELECT x INTO missing FROM pg_catalog.unnest(ids) x
     WHERE NOT EXISTS (SELECT 1 FROM accounts.accounts a WHERE a.id OPERATOR(pg_catalog.=) x)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'account % does not exist', missing
            USING ERRCODE = 'undefined_object', HINT = 'Look accounts up with accounts.find_account() or accounts.get_account().';
    END IF;
    SELECT a.account_type::text AS account_type, a.status, a.merged_into INTO t
      FROM accounts.accounts a WHERE a.id OPERATOR(pg_catalog.=) merge_accounts."into";
    into_type := t.account_type;
    IF t.status OPERATOR(pg_catalog.=) 'merged'::accounts.account_status THEN
        RAISE EXCEPTION 'cannot merge into account %: it was merged into account %', merge_accounts."into", t.merged_into
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = pg_catalog.format('Merge into the surviving account %s instead.', accounts.resolve_account(merge_accounts."into"));
    END IF;
    IF t.status OPERATOR(pg_catalog.=) 'redacted'::accounts.account_status THEN
        RAISE EXCEPTION 'cannot merge into account %: it is redacted', merge_accounts."into"
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'A redacted account takes no new identifiers; merge into another account.';
    END IF;
    FOR t IN SELECT a.id, a.account_type::text AS account_type, a.status, a.merged_into
               FROM accounts.accounts a WHERE a.id OPERATOR(pg_catalog.=) ANY (srcs) ORDER BY a.id
    LOOP
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
        IF t.account_type OPERATOR(pg_catalog.<>) into_type THEN
            RAISE EXCEPTION 'cannot merge account % of type "%" into account % of type "%"',
                            t.id, t.account_type, merge_accounts."into", into_type
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Only accounts of one account type can be merged.';
        END IF;
    END LOOP;
    SELECT ARRAY(SELECT DISTINCT tag FROM accounts.accounts a, pg_catalog.unnest(a.tags) tag
                  WHERE a.id OPERATOR(pg_catalog.=) ANY (ids) ORDER BY 1) INTO new_tags;
    IF pg_catalog.cardinality(new_tags) OPERATOR(pg_catalog.>) 64 THEN
        RAISE EXCEPTION 'the merged account would have % tags', pg_catalog.cardinality(new_tags)
            USING ERRCODE = 'program_limit_exceeded', HINT = 'An account has at most 64 tags; untag some first with accounts.untag_account().';
    END IF;

    PERFORM accounts.check_unseen_identifiers(srcs);
    UPDATE accounts.identifiers i SET account_id = merge_accounts."into"
     WHERE i.account_id OPERATOR(pg_catalog.=) ANY (srcs);
    GET DIAGNOSTICS moved = ROW_COUNT;
    UPDATE accounts.accounts a
       SET status = 'merged', merged_into = merge_accounts."into", updated_at = pg_catalog.now()
     WHERE a.id OPERATOR(pg_catalog.=) ANY (srcs);
    UPDATE accounts.accounts a SET tags = new_tags, updated_at = pg_catalog.now()
     WHERE a.id OPERATOR(pg_catalog.=) merge_accounts."into";
    PERFORM accounts.repoint_assigned(merge_accounts."into", srcs);
    FOR i IN 1..pg_catalog.cardinality(srcs) LOOP
        PERFORM accounts.journal_event(srcs[i], into_type, 'account.merged'::pg_catalog.text,
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
    t record;
    erased integer;
    acc_type text;
BEGIN
    PERFORM accounts.check_node();
    IF redact_account.id IS NULL THEN
        RAISE EXCEPTION 'argument "id" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass the id of the account to redact.';
    END IF;
    SELECT a.status, a.merged_into INTO t
      FROM accounts.accounts a WHERE a.id OPERATOR(pg_catalog.=) redact_account.id
       FOR UPDATE;
    IF NOT FOUND THEN
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
    PERFORM accounts.check_unseen_identifiers(ARRAY[redact_account.id]);
    DELETE FROM accounts.identifiers i
     WHERE i.account_id OPERATOR(pg_catalog.=) redact_account.id
       AND i.id_type OPERATOR(pg_catalog.<>) 'reference_id';
    GET DIAGNOSTICS erased = ROW_COUNT;
    UPDATE accounts.accounts a
       SET status = 'redacted', redacted_at = pg_catalog.now(), updated_at = pg_catalog.now()
     WHERE a.id OPERATOR(pg_catalog.=) redact_account.id
    RETURNING a.account_type INTO acc_type;
    -- the erased values in its earlier events, and in those of the
    -- accounts merged into it (whose identifiers it held)
    UPDATE accounts.events e SET detail = accounts.redacted_detail(e.detail)
     WHERE e.account_id OPERATOR(pg_catalog.=) ANY (ARRAY(
               WITH RECURSIVE m(id) AS (
                   SELECT redact_account.id
                   UNION
                   SELECT a.id FROM accounts.accounts a, m
                    WHERE a.merged_into OPERATOR(pg_catalog.=) m.id)
               SELECT m.id FROM m))
       AND e.kind OPERATOR(pg_catalog.=) ANY (ARRAY['account.created', 'identifier.added', 'identifier.removed'])
       AND accounts.redacted_detail(e.detail) OPERATOR(pg_catalog.<>) e.detail;
    PERFORM accounts.journal_event(redact_account.id, acc_type, 'account.redacted'::pg_catalog.text,
                                   pg_catalog.jsonb_build_object('identifiers_erased', erased));
    RETURN erased;
END
$$;
COMMENT ON FUNCTION accounts.redact_account(uuid) IS
    'Erase the account''s identifiers except its reference ids, irreversibly; it becomes redacted; returns the identifiers erased';

CREATE OR REPLACE FUNCTION accounts.set_account_status(id uuid, archived boolean) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t record;
    target accounts.account_status := CASE WHEN set_account_status.archived THEN 'archived' ELSE 'active' END;
    acc_type text;
BEGIN
    PERFORM accounts.check_node();
    IF set_account_status.id IS NULL THEN
        RAISE EXCEPTION 'argument "id" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass the id of the account.';
    END IF;
    SELECT a.status, a.merged_into INTO t
      FROM accounts.accounts a WHERE a.id OPERATOR(pg_catalog.=) set_account_status.id
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
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
    UPDATE accounts.accounts a SET status = target, updated_at = pg_catalog.now()
     WHERE a.id OPERATOR(pg_catalog.=) set_account_status.id
    RETURNING a.account_type INTO acc_type;
    PERFORM accounts.journal_event(set_account_status.id, acc_type,
                                   CASE WHEN set_account_status.archived THEN 'account.archived'
                                        ELSE 'account.restored' END::pg_catalog.text,
                                   '{}'::jsonb);
    RETURN true;
END
$$;
COMMENT ON FUNCTION accounts.set_account_status(uuid, boolean) IS
    'Internal: archive_account() and restore_account()';

CREATE OR REPLACE FUNCTION accounts.change_tags(id uuid, tags text[], add boolean) RETURNS text[]
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t record;
    norm text[] COLLATE "C";
    result text[] COLLATE "C";
BEGIN
    PERFORM accounts.check_node();
    IF change_tags.id IS NULL THEN
        RAISE EXCEPTION 'argument "id" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass the id of the account.';
    END IF;
    norm := accounts.normalize_tags(change_tags.tags);
    SELECT a.status, a.merged_into, a.tags, a.account_type::pg_catalog.text AS account_type INTO t
      FROM accounts.accounts a WHERE a.id OPERATOR(pg_catalog.=) change_tags.id
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account % does not exist', change_tags.id
            USING ERRCODE = 'undefined_object', HINT = 'Look accounts up with accounts.find_account() or accounts.get_account().';
    END IF;
    IF t.status OPERATOR(pg_catalog.=) 'merged'::accounts.account_status THEN
        RAISE EXCEPTION 'account % was merged into account %', change_tags.id, t.merged_into
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = pg_catalog.format('Tag the surviving account %s instead.', accounts.resolve_account(change_tags.id));
    END IF;
    IF change_tags.add THEN
        result := ARRAY(SELECT DISTINCT x FROM pg_catalog.unnest(t.tags OPERATOR(pg_catalog.||) norm) x ORDER BY 1);
    ELSE
        result := ARRAY(SELECT x FROM pg_catalog.unnest(t.tags) x
                         WHERE x OPERATOR(pg_catalog.<>) ALL (norm) ORDER BY 1);
    END IF;
    IF pg_catalog.cardinality(result) OPERATOR(pg_catalog.>) 64 THEN
        RAISE EXCEPTION 'account % would have % tags', change_tags.id, pg_catalog.cardinality(result)
            USING ERRCODE = 'program_limit_exceeded', HINT = 'An account has at most 64 tags; untag some first with accounts.untag_account().';
    END IF;
    IF result OPERATOR(pg_catalog.<>) t.tags THEN
        UPDATE accounts.accounts a SET tags = result, updated_at = pg_catalog.now()
         WHERE a.id OPERATOR(pg_catalog.=) change_tags.id;
        PERFORM accounts.journal_event(change_tags.id, t.account_type,
                                       CASE WHEN change_tags.add THEN 'account.tagged'
                                            ELSE 'account.untagged' END::pg_catalog.text,
                                       pg_catalog.jsonb_build_object('tags', ARRAY(
                                           SELECT x FROM pg_catalog.unnest(
                                               CASE WHEN change_tags.add THEN result ELSE t.tags END) x
                                            WHERE x OPERATOR(pg_catalog.<>) ALL (
                                               CASE WHEN change_tags.add THEN t.tags ELSE result END)
                                            ORDER BY 1)));
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION accounts.change_tags(uuid, text[], boolean) IS
    'Internal: tag_account() and untag_account()';

SELECT pg_catalog.pg_extension_config_dump('accounts.events', '');
SELECT pg_catalog.pg_extension_config_dump('accounts.events_seq', '');
SELECT pg_catalog.pg_extension_config_dump('accounts.journal_settings', '');

REVOKE ALL ON FUNCTION accounts.journal_event(uuid, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.events_since(bigint, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.set_journal(text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.trim_events(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.redacted_detail(jsonb) FROM PUBLIC;
