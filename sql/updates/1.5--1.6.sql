-- account 1.5 -> 1.6: the change journal on a distributed (Citus) cluster
-- (THE JOURNAL ON CITUS in account.sql).  Nothing changes on a database
-- without Citus.  A cluster distributed by 1.5 keeps working as before
-- after this update, without events; SELECT accounts.distribute() on its
-- coordinator then distributes the journal (ALTER EXTENSION cannot: Citus
-- updates the workers' functions after the coordinator's script has run,
-- and the journal's triggers need them).
\echo Use "ALTER EXTENSION account UPDATE TO '1.6'" to load this file. \quit

-- every function has a distributed form now: the guard of those that had
-- none goes
DROP FUNCTION accounts.check_node();

CREATE OR REPLACE FUNCTION accounts.create_account_type(name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    distributed boolean := accounts.is_distributed();
BEGIN
    IF create_account_type.name IS NULL THEN
        RAISE EXCEPTION 'argument "name" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF create_account_type.name OPERATOR(pg_catalog.!~) '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid account type name "%"', create_account_type.name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Names start with a lowercase letter, then up to 62 lowercase letters, digits or underscores.';
    END IF;
    IF distributed THEN
        -- registry changes one at a time, cluster-wide (Citus takes the lock
        -- on every node); a reference table: Citus writes every node's copy,
        -- in this transaction
        LOCK TABLE accounts.dist_account_types IN EXCLUSIVE MODE;
        INSERT INTO accounts.dist_account_types AS t (name) VALUES (create_account_type.name)
        ON CONFLICT DO NOTHING;
        IF FOUND THEN
            INSERT INTO accounts.dist_identifier_types AS t (account_type, name, kind, case_sensitive)
            VALUES (create_account_type.name, 'reference_id', 'text', false);
        END IF;
    ELSE
        INSERT INTO accounts.account_types AS t (name) VALUES (create_account_type.name)
        ON CONFLICT DO NOTHING;
    END IF;
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

CREATE OR REPLACE FUNCTION accounts.drop_identifier_type(account_type text, name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    distributed boolean;
BEGIN
    distributed := accounts.is_distributed();
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
    IF distributed THEN
        PERFORM accounts.dist_drop_identifier_type(drop_identifier_type.account_type, drop_identifier_type.name);
        PERFORM accounts.journal_event(NULL::uuid, drop_identifier_type.account_type::pg_catalog.text,
                                       'identifier_type.dropped'::pg_catalog.text,
                                       pg_catalog.jsonb_build_object('name', drop_identifier_type.name));
        RETURN;
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
DECLARE
    distributed boolean;
BEGIN
    distributed := accounts.is_distributed();
    IF drop_account_type.name IS NULL THEN
        RAISE EXCEPTION 'argument "name" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF drop_account_type.name OPERATOR(pg_catalog.=) 'user' THEN
        RAISE EXCEPTION 'account type "user" cannot be dropped'
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'It is the default account type.';
    END IF;
    IF distributed THEN
        PERFORM accounts.dist_drop_account_type(drop_account_type.name);
        PERFORM accounts.journal_event(NULL::uuid, drop_account_type.name::pg_catalog.text,
                                       'account_type.dropped'::pg_catalog.text,
                                       pg_catalog.jsonb_build_object('name', drop_account_type.name));
        IF accounts.is_journal_distributed() THEN
            DELETE FROM accounts.dist_journal_settings s
             WHERE s.account_type OPERATOR(pg_catalog.=) drop_account_type.name;
        END IF;
        RETURN;
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

CREATE OR REPLACE FUNCTION accounts.redact_account(id uuid) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    distributed boolean;
    t record;
    erased integer;
    acc_type text;
BEGIN
    distributed := accounts.is_distributed();
    IF redact_account.id IS NULL THEN
        RAISE EXCEPTION 'argument "id" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass the id of the account to redact.';
    END IF;
    IF distributed THEN
        RETURN accounts.dist_redact_account(redact_account.id);
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
    PERFORM accounts.redact_node_events(ARRAY(
        WITH RECURSIVE m(id) AS (
            SELECT redact_account.id
            UNION
            SELECT a.id FROM accounts.accounts a, m
             WHERE a.merged_into OPERATOR(pg_catalog.=) m.id)
        SELECT m.id FROM m));
    PERFORM accounts.journal_event(redact_account.id, acc_type, 'account.redacted'::pg_catalog.text,
                                   pg_catalog.jsonb_build_object('identifiers_erased', erased));
    RETURN erased;
END
$$;
COMMENT ON FUNCTION accounts.redact_account(uuid) IS
    'Erase the account''s identifiers except its reference ids, irreversibly; it becomes redacted; returns the identifiers erased';

CREATE OR REPLACE FUNCTION accounts.set_journal(account_type text, enabled boolean) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    distributed boolean := accounts.is_distributed();
BEGIN
    IF set_journal.account_type IS NULL THEN
        RAISE EXCEPTION 'argument "account_type" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF set_journal.enabled IS NULL THEN
        RAISE EXCEPTION 'argument "enabled" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass true to write events for the account type, false to stop.';
    END IF;
    IF distributed THEN
        PERFORM accounts.dist_set_journal(set_journal.account_type, set_journal.enabled);
        RETURN;
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

CREATE OR REPLACE FUNCTION accounts.trim_events(before timestamptz) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    n bigint;
    distributed boolean := accounts.is_distributed();
    r record;
BEGIN
    IF trim_events.before IS NULL THEN
        RAISE EXCEPTION 'argument "before" must not be null' USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Pass the time before which events are deleted, e.g. now() - interval ''30 days''.';
    END IF;
    IF distributed THEN
        -- every node's journal, each node in a transaction of its own
        -- (THE JOURNAL ON CITUS): a node that fails is reported, and a
        -- later call trims it
        n := 0;
        FOR r IN SELECT * FROM pg_catalog.run_command_on_all_nodes(
                     pg_catalog.format('SELECT accounts.trim_node_events(%L)', trim_events.before)) LOOP
            IF NOT r.success THEN
                RAISE EXCEPTION 'could not trim the journal of node %', r.nodeid
                    USING ERRCODE = 'connection_failure', DETAIL = r.result,
                          HINT = 'The other nodes were trimmed; call accounts.trim_events() again once the node is back.';
            END IF;
            n := n OPERATOR(pg_catalog.+) r.result::bigint;
        END LOOP;
        RETURN n;
    END IF;
    RETURN accounts.trim_node_events(trim_events.before);
END
$$;
COMMENT ON FUNCTION accounts.trim_events(timestamptz) IS
    'Retention: delete the events that occurred before the given time; returns how many';

CREATE FUNCTION accounts.redact_node_events(ids uuid[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    UPDATE accounts.events e SET detail = accounts.redacted_detail(e.detail)
     WHERE e.account_id OPERATOR(pg_catalog.=) ANY (redact_node_events.ids)
       AND e.kind OPERATOR(pg_catalog.=) ANY (ARRAY['account.created', 'identifier.added', 'identifier.removed'])
       AND accounts.redacted_detail(e.detail) OPERATOR(pg_catalog.<>) e.detail;
END
$$;
COMMENT ON FUNCTION accounts.redact_node_events(uuid[]) IS
    'Internal (redact_account): erase the identifier values from the accounts'' events in this node''s journal';

CREATE FUNCTION accounts.is_journal_distributed() RETURNS boolean
    AS 'MODULE_PATHNAME', 'account_is_journal_distributed'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION accounts.is_journal_distributed() IS
    'Internal: true once the change journal''s distributed tables exist (distribute() of 1.6, or its second run after an update from 1.5)';

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
    IF pg_catalog.to_regclass('accounts.dist_identifiers') IS NOT NULL
       AND pg_catalog.to_regclass('accounts.dist_events') IS NULL THEN
        -- distributed by 1.5: the update to 1.6 ends here (ALTER EXTENSION
        -- cannot do it: the workers get the new functions after the
        -- coordinator's script has run)
        PERFORM accounts.dist_journal_setup();
        RAISE NOTICE 'the change journal is distributed now';
        RETURN;
    END IF;
    IF pg_catalog.to_regclass('accounts.dist_identifiers') IS NOT NULL THEN
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


    PERFORM pg_catalog.create_reference_table('accounts.dist_account_types');
    PERFORM pg_catalog.create_reference_table('accounts.dist_identifier_types');
    PERFORM pg_catalog.create_distributed_table('accounts.dist_accounts', 'route',
                                                shard_count := distribute.shard_count,
                                                colocate_with := 'none');
    PERFORM pg_catalog.create_distributed_table('accounts.dist_identifiers', 'route',
                                                colocate_with := 'accounts.dist_accounts');
    PERFORM accounts.dist_journal_setup();
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

CREATE FUNCTION accounts.dist_journal_setup() RETURNS void
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
    CREATE TABLE accounts.dist_event_redactions (
        accounts      uuid[] NOT NULL);
    CREATE TABLE accounts.dist_journal_settings (
        account_type  text COLLATE "C" NOT NULL,
        enabled       boolean NOT NULL,
        CONSTRAINT dist_journal_settings_pkey PRIMARY KEY (account_type));
    PERFORM pg_catalog.create_distributed_table('accounts.dist_events', 'route',
                                                colocate_with := 'accounts.dist_accounts');
    PERFORM pg_catalog.create_reference_table('accounts.dist_event_redactions');
    PERFORM pg_catalog.create_reference_table('accounts.dist_journal_settings');
    CREATE TRIGGER dist_events_write BEFORE INSERT ON accounts.dist_events
        FOR EACH ROW EXECUTE FUNCTION accounts.dist_journal_write('event');
    CREATE TRIGGER dist_accounts_created BEFORE INSERT ON accounts.dist_accounts
        FOR EACH ROW WHEN (NEW.event_detail IS NOT NULL)
        EXECUTE FUNCTION accounts.dist_journal_write('created');
    CREATE TRIGGER dist_event_redactions_apply BEFORE INSERT ON accounts.dist_event_redactions
        FOR EACH ROW EXECUTE FUNCTION accounts.dist_redact_events();
    CREATE TRIGGER dist_journal_settings_mirror AFTER INSERT OR UPDATE OR DELETE ON accounts.dist_journal_settings
        FOR EACH ROW EXECUTE FUNCTION accounts.dist_mirror_journal_setting();
    INSERT INTO accounts.dist_journal_settings (account_type, enabled)
        SELECT s.account_type, s.enabled FROM accounts.journal_settings s;
END
$$;
COMMENT ON FUNCTION accounts.dist_journal_setup() IS
    'Internal (distribute()): the change journal''s distributed tables and triggers';

CREATE FUNCTION accounts.dist_journal_write() RETURNS trigger
    AS 'MODULE_PATHNAME', 'account_dist_journal_write'
    LANGUAGE C;
COMMENT ON FUNCTION accounts.dist_journal_write() IS
    'Internal: on a shard, append the event to this node''s journal and store nothing (THE JOURNAL ON CITUS)';

CREATE FUNCTION accounts.dist_redact_events() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    PERFORM accounts.redact_node_events(NEW.accounts);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION accounts.dist_redact_events() IS
    'Internal: on each node, erase the accounts'' identifier values from its journal (redact_account())';

CREATE FUNCTION accounts.dist_mirror_journal_setting() RETURNS trigger
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
COMMENT ON FUNCTION accounts.dist_mirror_journal_setting() IS
    'Internal: on each node, keep accounts.journal_settings equal to its copy of dist_journal_settings';

CREATE FUNCTION accounts.dist_journal_event(account_id uuid, account_type text, kind text, detail jsonb)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    INSERT INTO accounts.dist_events AS e (route, account_id, account_type, kind, detail)
    VALUES (COALESCE(accounts.account_route(dist_journal_event.account_id), 0), dist_journal_event.account_id,
            dist_journal_event.account_type, dist_journal_event.kind, dist_journal_event.detail);
END
$$;

CREATE FUNCTION accounts.dist_set_journal(account_type text, enabled boolean) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT accounts.is_journal_distributed() THEN
        RAISE EXCEPTION 'the change journal is not distributed on this cluster yet'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The extension was updated from 1.5 on a distributed cluster.',
                  HINT = 'Run SELECT accounts.distribute() on the coordinator to finish the update.';
    END IF;
    LOCK TABLE accounts.dist_account_types IN EXCLUSIVE MODE;
    PERFORM 1 FROM accounts.dist_account_types t
     WHERE t.name OPERATOR(pg_catalog.=) dist_set_journal.account_type;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account type "%" does not exist', dist_set_journal.account_type
            USING ERRCODE = 'undefined_object',
                  HINT = 'List account types with SELECT name FROM accounts.dist_account_types.';
    END IF;
    INSERT INTO accounts.dist_journal_settings AS s (account_type, enabled)
    VALUES (dist_set_journal.account_type, dist_set_journal.enabled)
    ON CONFLICT ON CONSTRAINT dist_journal_settings_pkey DO UPDATE SET enabled = EXCLUDED.enabled;
END
$$;

CREATE FUNCTION accounts.trim_node_events(before timestamptz) RETURNS bigint
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
COMMENT ON FUNCTION accounts.trim_node_events(timestamptz) IS
    'Internal (trim_events()): delete this node''s events before the given time';

CREATE OR REPLACE FUNCTION accounts.dist_find_or_create_key(type text, id_type text, route integer,
        value_norm text, OUT account_id uuid, OUT created boolean)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    new_id uuid;
    t record;
BEGIN
    created := false;
    IF NOT pg_catalog.current_setting('transaction_read_only')::boolean THEN
        new_id := accounts.new_account_id(dist_find_or_create_key.route);
        INSERT INTO accounts.dist_identifiers AS i (route, account_type, id_type, value, account_id)
        VALUES (dist_find_or_create_key.route, dist_find_or_create_key.type, dist_find_or_create_key.id_type,
                dist_find_or_create_key.value_norm, new_id)
        ON CONFLICT DO NOTHING;
        IF FOUND THEN
            -- now that this call writes: its type's registry row FOR KEY
            -- SHARE, as on one node (a drop in progress is waited for; one
            -- that committed since the type was read left no row: 42704,
            -- and the insert above goes with the statement).  A hit takes
            -- no lock, so it writes nothing on this node.
            t := accounts.dist_identifier_type(dist_find_or_create_key.type, dist_find_or_create_key.id_type, true);
            IF t.kind IS NULL THEN
                RAISE EXCEPTION 'identifier type "%" does not exist for account type "%"',
                                dist_find_or_create_key.id_type, dist_find_or_create_key.type
                    USING ERRCODE = 'undefined_object', DETAIL = 'It was dropped while this call was running.',
                          HINT = 'List identifier types with SELECT * FROM accounts.dist_identifier_types.';
            END IF;
            -- the account row carries its account.created event (THE
            -- JOURNAL ON CITUS): no round trip more
            IF accounts.is_journal_distributed() THEN
                INSERT INTO accounts.dist_accounts AS a (route, id, account_type, event_detail)
                VALUES (dist_find_or_create_key.route, new_id, dist_find_or_create_key.type,
                        pg_catalog.jsonb_build_object('identifiers', pg_catalog.jsonb_build_array(
                            pg_catalog.jsonb_build_object('id_type', dist_find_or_create_key.id_type,
                                                          'value', dist_find_or_create_key.value_norm))));
            ELSE
                INSERT INTO accounts.dist_accounts AS a (route, id, account_type)
                VALUES (dist_find_or_create_key.route, new_id, dist_find_or_create_key.type);
            END IF;
            account_id := new_id;
            created := true;
            RETURN;
        END IF;
    END IF;
    SELECT i.account_id INTO account_id FROM accounts.dist_identifiers i
     WHERE i.route OPERATOR(pg_catalog.=) dist_find_or_create_key.route
       AND i.value OPERATOR(pg_catalog.=) dist_find_or_create_key.value_norm
       AND i.id_type OPERATOR(pg_catalog.=) dist_find_or_create_key.id_type
       AND i.account_type OPERATOR(pg_catalog.=) dist_find_or_create_key.type;
    IF FOUND THEN
        RETURN;
    END IF;
    IF new_id IS NULL THEN
        RAISE EXCEPTION 'cannot create an account for % "%" of account type "%" in a read-only transaction',
                        dist_find_or_create_key.id_type, dist_find_or_create_key.value_norm, dist_find_or_create_key.type
            USING ERRCODE = 'read_only_sql_transaction', DETAIL = 'No account has this identifier yet.',
                  HINT = 'Run it in a read-write transaction, or use accounts.find_account() to only look.';
    END IF;
    RAISE EXCEPTION 'could not serialize access due to concurrent creation of account for % "%" of account type "%"',
                    dist_find_or_create_key.id_type, dist_find_or_create_key.value_norm, dist_find_or_create_key.type
        USING ERRCODE = 'serialization_failure',
              DETAIL = 'Another transaction created the account after this transaction''s snapshot was taken.',
              HINT = 'Retry the transaction; it will find the account.';
END
$$;

CREATE OR REPLACE FUNCTION accounts.dist_find_or_create_account(type text, identifiers accounts.identifier[],
        OUT account_id uuid, OUT created boolean)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    n integer;
    k record;
    ids_type text[] := '{}';
    ids_route integer[] := '{}';
    ids_norm text[] := '{}';
    owner uuid;
    target uuid;
    new_id uuid;
    mine_route integer[] := '{}';
    mine_type text[] := '{}';
    mine_norm text[] := '{}';
    owners uuid[];
    locked uuid[] := '{}';
    missing integer;
    settled boolean;
    e record;
    created_detail jsonb;
BEGIN
    IF dist_find_or_create_account.type IS NULL OR dist_find_or_create_account.identifiers IS NULL THEN
        RAISE EXCEPTION 'argument "%" must not be null',
                        CASE WHEN dist_find_or_create_account.type IS NULL THEN 'type' ELSE 'identifiers' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass an account type, an identifier type and a value; list the types with SELECT * FROM accounts.identifier_types.';
    END IF;
    IF pg_catalog.array_ndims(dist_find_or_create_account.identifiers) OPERATOR(pg_catalog.>) 1 THEN
        RAISE EXCEPTION 'argument "identifiers" has % dimensions', pg_catalog.array_ndims(dist_find_or_create_account.identifiers)
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass a one-dimensional accounts.identifier[].';
    END IF;
    n := COALESCE(pg_catalog.cardinality(dist_find_or_create_account.identifiers), 0);
    IF n OPERATOR(pg_catalog.=) 0 THEN
        RAISE EXCEPTION 'argument "identifiers" is empty'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass at least one identifier.';
    END IF;
    IF n OPERATOR(pg_catalog.>) 100 THEN
        RAISE EXCEPTION '% identifiers are more than one account can be found by at once', n
            USING ERRCODE = 'program_limit_exceeded', DETAIL = 'At most 100 identifiers are accepted in one call.',
                  HINT = 'Use accounts.add_identifier() to attach further identifiers.';
    END IF;
    -- check and normalize everything before writing anything
    FOR i IN 1 .. n LOOP
        IF dist_find_or_create_account.identifiers[i] IS NULL
           OR (dist_find_or_create_account.identifiers[i]).id_type IS NULL
           OR (dist_find_or_create_account.identifiers[i]).value IS NULL THEN
            RAISE EXCEPTION 'argument "%" must not be null', pg_catalog.format('identifiers[%s]', i)
                USING ERRCODE = 'null_value_not_allowed',
                      HINT = 'Pass an account type, an identifier type and a value; list the types with SELECT * FROM accounts.identifier_types.';
        END IF;
        k := accounts.dist_key(dist_find_or_create_account.type, (dist_find_or_create_account.identifiers[i]).id_type,
                               (dist_find_or_create_account.identifiers[i]).value, true);
        ids_type := ids_type OPERATOR(pg_catalog.||) (dist_find_or_create_account.identifiers[i]).id_type;
        ids_route := ids_route OPERATOR(pg_catalog.||) k.route;
        ids_norm := ids_norm OPERATOR(pg_catalog.||) k.value_norm;
    END LOOP;
    -- probe every key (one router query each), then lock the owners FOR
    -- KEY SHARE in id order and probe again: a locked account cannot be
    -- merged (a merge takes FOR UPDATE), so once every owner a probe finds
    -- is locked, what it found stays true.  An owner merged before we
    -- locked it has had its identifiers moved: the next probe finds the
    -- survivor, which gets locked in turn.
    settled := false;
    FOR attempt IN 1 .. 10 LOOP
        owners := '{}';
        missing := 0;
        FOR i IN 1 .. n LOOP
            SELECT i2.account_id INTO owner FROM accounts.dist_identifiers i2
             WHERE i2.route OPERATOR(pg_catalog.=) ids_route[i] AND i2.value OPERATOR(pg_catalog.=) ids_norm[i]
               AND i2.id_type OPERATOR(pg_catalog.=) ids_type[i]
               AND i2.account_type OPERATOR(pg_catalog.=) dist_find_or_create_account.type;
            IF NOT FOUND THEN
                missing := missing OPERATOR(pg_catalog.+) 1;
            ELSIF owner OPERATOR(pg_catalog.<>) ALL (owners) THEN
                owners := owners OPERATOR(pg_catalog.||) owner;
            END IF;
        END LOOP;
        owners := ARRAY(SELECT x FROM pg_catalog.unnest(owners) x ORDER BY 1);
        IF owners OPERATOR(pg_catalog.<@) locked THEN
            settled := true;
            EXIT;
        END IF;
        FOR i IN 1 .. pg_catalog.cardinality(owners) LOOP
            CONTINUE WHEN owners[i] OPERATOR(pg_catalog.=) ANY (locked);
            PERFORM 1 FROM accounts.dist_accounts a
             WHERE a.route OPERATOR(pg_catalog.=) accounts.account_route(owners[i])
               AND a.id OPERATOR(pg_catalog.=) owners[i]
               FOR KEY SHARE;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'an identifier belongs to account %, which does not exist', owners[i]
                    USING ERRCODE = 'foreign_key_violation',
                          HINT = 'accounts.dist_identifiers was changed outside the extension.';
            END IF;
            locked := locked OPERATOR(pg_catalog.||) owners[i];
        END LOOP;
    END LOOP;
    IF NOT settled THEN
        RAISE EXCEPTION 'could not serialize access due to concurrent merges of the accounts of these identifiers'
            USING ERRCODE = 'serialization_failure', HINT = 'Retry the transaction.';
    END IF;
    IF pg_catalog.cardinality(owners) OPERATOR(pg_catalog.>) 1 THEN
        PERFORM accounts.dist_split(dist_find_or_create_account.type, owners[1], owners[2]);
    END IF;
    IF pg_catalog.cardinality(owners) OPERATOR(pg_catalog.=) 1 THEN
        target := owners[1];
        IF missing OPERATOR(pg_catalog.=) 0 THEN
            account_id := target;
            created := false;
            RETURN;
        END IF;
        PERFORM accounts.dist_lock_attachable(target);
    ELSE
        new_id := accounts.new_account_id(ids_route[1]);
        target := new_id;
    END IF;
    -- insert what is missing, in (route, id_type, value) order
    FOR e IN SELECT t.r, t.it, t.v FROM ROWS FROM (pg_catalog.unnest(ids_route), pg_catalog.unnest(ids_type),
                                            pg_catalog.unnest(ids_norm)) AS t(r, it, v)
              GROUP BY t.r, t.it, t.v ORDER BY t.r, t.it, t.v LOOP
        INSERT INTO accounts.dist_identifiers AS i2 (route, account_type, id_type, value, account_id)
        VALUES (e.r, dist_find_or_create_account.type, e.it, e.v, target)
        ON CONFLICT DO NOTHING;
        IF FOUND THEN
            mine_route := mine_route OPERATOR(pg_catalog.||) e.r;
            mine_type := mine_type OPERATOR(pg_catalog.||) e.it;
            mine_norm := mine_norm OPERATOR(pg_catalog.||) e.v;
            CONTINUE;
        END IF;
        SELECT i2.account_id INTO owner FROM accounts.dist_identifiers i2
         WHERE i2.route OPERATOR(pg_catalog.=) e.r AND i2.value OPERATOR(pg_catalog.=) e.v
           AND i2.id_type OPERATOR(pg_catalog.=) e.it
           AND i2.account_type OPERATOR(pg_catalog.=) dist_find_or_create_account.type;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'could not serialize access due to concurrent creation of account for % "%" of account type "%"',
                            e.it, e.v, dist_find_or_create_account.type
                USING ERRCODE = 'serialization_failure',
                      DETAIL = 'Another transaction created the account after this transaction''s snapshot was taken.',
                      HINT = 'Retry the transaction; it will find the account.';
        END IF;
        IF owner OPERATOR(pg_catalog.=) target THEN
            CONTINUE;
        END IF;
        IF new_id IS NULL OR target OPERATOR(pg_catalog.<>) new_id THEN
            PERFORM accounts.dist_split(dist_find_or_create_account.type, target, owner);
        END IF;
        -- a concurrent caller created the account first: it is the target
        PERFORM accounts.dist_lock_attachable(owner);
        FOR j IN 1 .. COALESCE(pg_catalog.cardinality(mine_route), 0) LOOP
            UPDATE accounts.dist_identifiers AS i2 SET account_id = owner
             WHERE i2.route OPERATOR(pg_catalog.=) mine_route[j] AND i2.value OPERATOR(pg_catalog.=) mine_norm[j]
               AND i2.id_type OPERATOR(pg_catalog.=) mine_type[j]
               AND i2.account_type OPERATOR(pg_catalog.=) dist_find_or_create_account.type;
        END LOOP;
        target := owner;
        new_id := NULL;
    END LOOP;
    IF new_id IS NOT NULL THEN
        -- the account row carries its account.created event
        created_detail := pg_catalog.jsonb_build_object('identifiers', (
            SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('id_type', m.it, 'value', m.v) ORDER BY m.n)
              FROM ROWS FROM (pg_catalog.unnest(mine_type), pg_catalog.unnest(mine_norm))
                   WITH ORDINALITY AS m(it, v, n)));
        IF accounts.is_journal_distributed() THEN
            INSERT INTO accounts.dist_accounts AS a (route, id, account_type, event_detail)
            VALUES (accounts.account_route(new_id), new_id, dist_find_or_create_account.type, created_detail);
        ELSE
            INSERT INTO accounts.dist_accounts AS a (route, id, account_type)
            VALUES (accounts.account_route(new_id), new_id, dist_find_or_create_account.type);
        END IF;
    ELSE
        -- attached to an existing account: one identifier.added each
        FOR j IN 1 .. COALESCE(pg_catalog.cardinality(mine_route), 0) LOOP
            PERFORM accounts.journal_event(target, dist_find_or_create_account.type,
                                                'identifier.added'::pg_catalog.text,
                                                pg_catalog.jsonb_build_object('id_type', mine_type[j],
                                                                              'value', mine_norm[j]));
        END LOOP;
    END IF;
    account_id := target;
    created := new_id IS NOT NULL;
END
$$;

CREATE OR REPLACE FUNCTION accounts.dist_add_identifier(account_id uuid, id_type text, value text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t text;
    k record;
    owner uuid;
BEGIN
    IF dist_add_identifier.account_id IS NULL OR dist_add_identifier.id_type IS NULL OR dist_add_identifier.value IS NULL THEN
        RAISE EXCEPTION 'argument "%" must not be null',
                        CASE WHEN dist_add_identifier.account_id IS NULL THEN 'account_id'
                             WHEN dist_add_identifier.id_type IS NULL THEN 'id_type' ELSE 'value' END
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass an account id, an identifier type and a value.';
    END IF;
    IF pg_catalog.current_setting('transaction_read_only')::boolean THEN
        RAISE EXCEPTION 'cannot add an identifier to account % in a read-only transaction', dist_add_identifier.account_id
            USING ERRCODE = 'read_only_sql_transaction', HINT = 'Run it in a read-write transaction.';
    END IF;
    t := accounts.dist_lock_attachable(dist_add_identifier.account_id);
    k := accounts.dist_key(t, dist_add_identifier.id_type, dist_add_identifier.value, true);
    INSERT INTO accounts.dist_identifiers AS i (route, account_type, id_type, value, account_id)
    VALUES (k.route, t, dist_add_identifier.id_type, k.value_norm, dist_add_identifier.account_id)
    ON CONFLICT DO NOTHING;
    IF FOUND THEN
        PERFORM accounts.journal_event(dist_add_identifier.account_id, t, 'identifier.added'::pg_catalog.text,
                                            pg_catalog.jsonb_build_object('id_type', dist_add_identifier.id_type,
                                                                          'value', k.value_norm));
        RETURN true;
    END IF;
    SELECT i.account_id INTO owner FROM accounts.dist_identifiers i
     WHERE i.route OPERATOR(pg_catalog.=) k.route AND i.value OPERATOR(pg_catalog.=) k.value_norm
       AND i.id_type OPERATOR(pg_catalog.=) dist_add_identifier.id_type
       AND i.account_type OPERATOR(pg_catalog.=) t;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'could not serialize access due to concurrent creation of account for % "%" of account type "%"',
                        dist_add_identifier.id_type, k.value_norm, t
            USING ERRCODE = 'serialization_failure',
                  DETAIL = 'Another transaction created the account after this transaction''s snapshot was taken.',
                  HINT = 'Retry the transaction.';
    END IF;
    IF owner OPERATOR(pg_catalog.=) dist_add_identifier.account_id THEN
        RETURN false;
    END IF;
    RAISE EXCEPTION '% "%" belongs to another account', dist_add_identifier.id_type, k.value_norm
        USING ERRCODE = 'unique_violation', DETAIL = pg_catalog.format('It belongs to account %s.', owner),
              HINT = 'Merge the accounts, or remove the identifier from the other account first.';
END
$$;

CREATE OR REPLACE FUNCTION accounts.dist_set_account_status(id uuid, archived boolean) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t record;
    target accounts.account_status := CASE WHEN dist_set_account_status.archived THEN 'archived' ELSE 'active' END;
BEGIN
    t := accounts.dist_lock_account(dist_set_account_status.id, 'no key update');
    IF t.status OPERATOR(pg_catalog.=) 'merged'::accounts.account_status THEN
        RAISE EXCEPTION 'account % was merged into account %', dist_set_account_status.id, t.merged_into
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = pg_catalog.format('Use the surviving account %s instead.', accounts.dist_resolve_account(dist_set_account_status.id));
    END IF;
    IF t.status OPERATOR(pg_catalog.=) 'redacted'::accounts.account_status THEN
        RAISE EXCEPTION 'account % is redacted', dist_set_account_status.id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'A redacted account is neither archived nor restored.';
    END IF;
    IF t.status OPERATOR(pg_catalog.=) target THEN
        RETURN false;
    END IF;
    UPDATE accounts.dist_accounts a SET status = target, updated_at = pg_catalog.now()
     WHERE a.route OPERATOR(pg_catalog.=) accounts.account_route(dist_set_account_status.id)
       AND a.id OPERATOR(pg_catalog.=) dist_set_account_status.id;
    PERFORM accounts.journal_event(dist_set_account_status.id, t.account_type,
                                        CASE WHEN dist_set_account_status.archived THEN 'account.archived'
                                             ELSE 'account.restored' END::pg_catalog.text,
                                        '{}'::jsonb);
    RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION accounts.dist_change_tags(id uuid, norm text[], add boolean) RETURNS text[]
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t record;
    result text[] COLLATE "C";
BEGIN
    t := accounts.dist_lock_account(dist_change_tags.id, 'no key update');
    IF t.status OPERATOR(pg_catalog.=) 'merged'::accounts.account_status THEN
        RAISE EXCEPTION 'account % was merged into account %', dist_change_tags.id, t.merged_into
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = pg_catalog.format('Tag the surviving account %s instead.', accounts.dist_resolve_account(dist_change_tags.id));
    END IF;
    IF dist_change_tags.add THEN
        result := ARRAY(SELECT DISTINCT x FROM pg_catalog.unnest(t.tags OPERATOR(pg_catalog.||) dist_change_tags.norm) x ORDER BY 1);
    ELSE
        result := ARRAY(SELECT x FROM pg_catalog.unnest(t.tags) x
                         WHERE x OPERATOR(pg_catalog.<>) ALL (dist_change_tags.norm) ORDER BY 1);
    END IF;
    IF pg_catalog.cardinality(result) OPERATOR(pg_catalog.>) 64 THEN
        RAISE EXCEPTION 'account % would have % tags', dist_change_tags.id, pg_catalog.cardinality(result)
            USING ERRCODE = 'program_limit_exceeded', HINT = 'An account has at most 64 tags; untag some first with accounts.untag_account().';
    END IF;
    IF result OPERATOR(pg_catalog.<>) t.tags THEN
        UPDATE accounts.dist_accounts a SET tags = result, updated_at = pg_catalog.now()
         WHERE a.route OPERATOR(pg_catalog.=) accounts.account_route(dist_change_tags.id)
           AND a.id OPERATOR(pg_catalog.=) dist_change_tags.id;
        PERFORM accounts.journal_event(dist_change_tags.id, t.account_type,
                                            CASE WHEN dist_change_tags.add THEN 'account.tagged'
                                                 ELSE 'account.untagged' END::pg_catalog.text,
                                            pg_catalog.jsonb_build_object('tags', ARRAY(
                                                SELECT x FROM pg_catalog.unnest(
                                                    CASE WHEN dist_change_tags.add THEN result ELSE t.tags END) x
                                                 WHERE x OPERATOR(pg_catalog.<>) ALL (
                                                    CASE WHEN dist_change_tags.add THEN t.tags ELSE result END)
                                                 ORDER BY 1)));
    END IF;
    RETURN result;
END
$$;

CREATE OR REPLACE FUNCTION accounts.dist_remove_identifier(account_id uuid, id_type text, value text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t record;
    k record;
BEGIN
    t := accounts.dist_lock_account(dist_remove_identifier.account_id, 'no key update');
    k := accounts.dist_key(t.account_type, dist_remove_identifier.id_type, dist_remove_identifier.value, false);
    PERFORM 1 FROM accounts.dist_identifiers i
     WHERE i.route OPERATOR(pg_catalog.=) k.route AND i.value OPERATOR(pg_catalog.=) k.value_norm
       AND i.id_type OPERATOR(pg_catalog.=) dist_remove_identifier.id_type
       AND i.account_type OPERATOR(pg_catalog.=) t.account_type
       AND i.account_id OPERATOR(pg_catalog.=) dist_remove_identifier.account_id;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF (SELECT pg_catalog.count(*) FROM accounts.dist_identifiers i
         WHERE i.account_id OPERATOR(pg_catalog.=) dist_remove_identifier.account_id) OPERATOR(pg_catalog.<=) 1 THEN
        RAISE EXCEPTION 'cannot remove the last identifier of account %', dist_remove_identifier.account_id
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'An account always has at least one identifier.',
                  HINT = 'Keep the account, or merge it into another one.';
    END IF;
    DELETE FROM accounts.dist_identifiers i
     WHERE i.route OPERATOR(pg_catalog.=) k.route AND i.value OPERATOR(pg_catalog.=) k.value_norm
       AND i.id_type OPERATOR(pg_catalog.=) dist_remove_identifier.id_type
       AND i.account_type OPERATOR(pg_catalog.=) t.account_type;
    PERFORM accounts.journal_event(dist_remove_identifier.account_id, t.account_type,
                                        'identifier.removed'::pg_catalog.text,
                                        pg_catalog.jsonb_build_object('id_type', dist_remove_identifier.id_type,
                                                                      'value', k.value_norm));
    RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION accounts.dist_redact_account(id uuid) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t record;
    r record;
    erased integer := 0;
    chain uuid[];
    frontier uuid[];
BEGIN
    PERFORM accounts.dist_read_committed('redact_account()');
    t := accounts.dist_lock_account(dist_redact_account.id, 'update');
    IF t.status OPERATOR(pg_catalog.=) 'merged'::accounts.account_status THEN
        RAISE EXCEPTION 'account % was merged into account %', dist_redact_account.id, t.merged_into
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'A merged account holds no identifiers.',
                  HINT = pg_catalog.format('Redact the surviving account %s instead.', accounts.dist_resolve_account(dist_redact_account.id));
    END IF;
    IF t.status OPERATOR(pg_catalog.=) 'redacted'::accounts.account_status THEN
        RETURN 0;
    END IF;
    FOR r IN SELECT i.route, i.value, i.id_type, i.account_type FROM accounts.dist_identifiers i
              WHERE i.account_id OPERATOR(pg_catalog.=) dist_redact_account.id
                AND i.id_type OPERATOR(pg_catalog.<>) 'reference_id'
              ORDER BY i.route, i.value, i.id_type LOOP
        DELETE FROM accounts.dist_identifiers i
         WHERE i.route OPERATOR(pg_catalog.=) r.route AND i.value OPERATOR(pg_catalog.=) r.value
           AND i.id_type OPERATOR(pg_catalog.=) r.id_type AND i.account_type OPERATOR(pg_catalog.=) r.account_type;
        erased := erased OPERATOR(pg_catalog.+) 1;
    END LOOP;
    UPDATE accounts.dist_accounts a
       SET status = 'redacted', redacted_at = pg_catalog.now(), updated_at = pg_catalog.now()
     WHERE a.route OPERATOR(pg_catalog.=) accounts.account_route(dist_redact_account.id)
       AND a.id OPERATOR(pg_catalog.=) dist_redact_account.id;
    -- the erased values in the earlier events of the account and of the
    -- accounts merged into it, in every node's journal: a reference table
    -- row, which Citus writes on every node (the events from before
    -- distribute() are in the coordinator's; a shard move leaves an
    -- account's older events on the node it left).  A merged account
    -- never changes again: the chain found here is complete.
    chain := ARRAY[dist_redact_account.id];
    frontier := chain;
    WHILE pg_catalog.cardinality(frontier) OPERATOR(pg_catalog.>) 0 LOOP
        frontier := ARRAY(SELECT a.id FROM accounts.dist_accounts a
                           WHERE a.merged_into OPERATOR(pg_catalog.=) ANY (frontier)
                             AND a.id OPERATOR(pg_catalog.<>) ALL (chain));
        chain := chain OPERATOR(pg_catalog.||) frontier;
    END LOOP;
    IF accounts.is_journal_distributed() THEN
        INSERT INTO accounts.dist_event_redactions AS x (accounts) VALUES (chain);
    END IF;
    PERFORM accounts.journal_event(dist_redact_account.id, t.account_type, 'account.redacted'::pg_catalog.text,
                                        pg_catalog.jsonb_build_object('identifiers_erased', erased));
    RETURN erased;
END
$$;

CREATE OR REPLACE FUNCTION accounts.dist_merge_accounts("into" uuid, srcs uuid[]) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    ids uuid[];
    rows jsonb := '{}';
    t record;
    r record;
    into_type text;
    new_tags text[] COLLATE "C" := '{}';
    moved integer := 0;
BEGIN
    PERFORM accounts.dist_read_committed('merge_accounts()');
    ids := ARRAY(SELECT x FROM pg_catalog.unnest(dist_merge_accounts.srcs OPERATOR(pg_catalog.||) dist_merge_accounts."into") x ORDER BY 1);
    FOR i IN 1 .. pg_catalog.cardinality(ids) LOOP
        t := accounts.dist_lock_account(ids[i], 'update');
        rows := rows OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(ids[i]::text, pg_catalog.to_jsonb(t));
        new_tags := new_tags OPERATOR(pg_catalog.||) t.tags;
    END LOOP;
    SELECT * INTO t FROM pg_catalog.jsonb_to_record(rows OPERATOR(pg_catalog.->) dist_merge_accounts."into"::text)
        AS x(account_type text, status accounts.account_status, merged_into uuid);
    into_type := t.account_type;
    IF t.status OPERATOR(pg_catalog.=) 'merged'::accounts.account_status THEN
        RAISE EXCEPTION 'cannot merge into account %: it was merged into account %', dist_merge_accounts."into", t.merged_into
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = pg_catalog.format('Merge into the surviving account %s instead.', accounts.dist_resolve_account(dist_merge_accounts."into"));
    END IF;
    IF t.status OPERATOR(pg_catalog.=) 'redacted'::accounts.account_status THEN
        RAISE EXCEPTION 'cannot merge into account %: it is redacted', dist_merge_accounts."into"
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'A redacted account takes no new identifiers; merge into another account.';
    END IF;
    FOR i IN 1 .. pg_catalog.cardinality(dist_merge_accounts.srcs) LOOP
        SELECT * INTO t FROM pg_catalog.jsonb_to_record(rows OPERATOR(pg_catalog.->) dist_merge_accounts.srcs[i]::text)
            AS x(account_type text, status accounts.account_status, merged_into uuid);
        IF t.status OPERATOR(pg_catalog.=) 'merged'::accounts.account_status THEN
            RAISE EXCEPTION 'account % was already merged into account %', dist_merge_accounts.srcs[i], t.merged_into
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'An account is merged only once.',
                      HINT = pg_catalog.format('Its identifiers are on account %s now; leave it out of "sources".',
                                               accounts.dist_resolve_account(dist_merge_accounts.srcs[i]));
        END IF;
        IF t.status OPERATOR(pg_catalog.=) 'redacted'::accounts.account_status THEN
            RAISE EXCEPTION 'cannot merge account %: it is redacted', dist_merge_accounts.srcs[i]
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Leave redacted accounts out of "sources".';
        END IF;
        IF t.account_type OPERATOR(pg_catalog.<>) into_type THEN
            RAISE EXCEPTION 'cannot merge account % of type "%" into account % of type "%"',
                            dist_merge_accounts.srcs[i], t.account_type, dist_merge_accounts."into", into_type
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Only accounts of one account type can be merged.';
        END IF;
    END LOOP;
    new_tags := ARRAY(SELECT DISTINCT x FROM pg_catalog.unnest(new_tags) x ORDER BY 1);
    IF pg_catalog.cardinality(new_tags) OPERATOR(pg_catalog.>) 64 THEN
        RAISE EXCEPTION 'the merged account would have % tags', pg_catalog.cardinality(new_tags)
            USING ERRCODE = 'program_limit_exceeded', HINT = 'An account has at most 64 tags; untag some first with accounts.untag_account().';
    END IF;
    FOR r IN SELECT i.route, i.value, i.id_type, i.account_type FROM accounts.dist_identifiers i
              WHERE i.account_id OPERATOR(pg_catalog.=) ANY (dist_merge_accounts.srcs)
              ORDER BY i.route, i.value, i.id_type LOOP
        UPDATE accounts.dist_identifiers i SET account_id = dist_merge_accounts."into"
         WHERE i.route OPERATOR(pg_catalog.=) r.route AND i.value OPERATOR(pg_catalog.=) r.value
           AND i.id_type OPERATOR(pg_catalog.=) r.id_type AND i.account_type OPERATOR(pg_catalog.=) r.account_type;
        moved := moved OPERATOR(pg_catalog.+) 1;
    END LOOP;
    FOR i IN 1 .. pg_catalog.cardinality(dist_merge_accounts.srcs) LOOP
        UPDATE accounts.dist_accounts a
           SET status = 'merged', merged_into = dist_merge_accounts."into", updated_at = pg_catalog.now()
         WHERE a.route OPERATOR(pg_catalog.=) accounts.account_route(dist_merge_accounts.srcs[i])
           AND a.id OPERATOR(pg_catalog.=) dist_merge_accounts.srcs[i];
    END LOOP;
    UPDATE accounts.dist_accounts a SET tags = new_tags, updated_at = pg_catalog.now()
     WHERE a.route OPERATOR(pg_catalog.=) accounts.account_route(dist_merge_accounts."into")
       AND a.id OPERATOR(pg_catalog.=) dist_merge_accounts."into";
    PERFORM accounts.repoint_assigned(dist_merge_accounts."into", dist_merge_accounts.srcs);
    FOR i IN 1 .. pg_catalog.cardinality(dist_merge_accounts.srcs) LOOP
        PERFORM accounts.journal_event(dist_merge_accounts.srcs[i], into_type, 'account.merged'::pg_catalog.text,
                                            pg_catalog.jsonb_build_object('into', dist_merge_accounts."into"));
    END LOOP;
    RETURN moved;
END
$$;

REVOKE ALL ON FUNCTION accounts.is_journal_distributed() FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_journal_setup() FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_journal_write() FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_redact_events() FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_mirror_journal_setting() FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_journal_event(uuid, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_set_journal(text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.trim_node_events(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.redact_node_events(uuid[]) FROM PUBLIC;
