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

CREATE OR REPLACE FUNCTION accounts_internal.is_record_distributed() RETURNS boolean
    AS 'MODULE_PATHNAME', 'account_is_record_distributed'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION accounts_internal.is_record_distributed() IS
    'Internal: true once the distributed tables hold fields and identifier limits (distribute() of 1.8, or its second run after an update from 1.7)';

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
    -- 1.8: fields and identifier limits
    PERFORM accounts_internal.dist_record_setup();

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
    INSERT INTO accounts.dist_identifier_types (account_type, name, kind, case_sensitive, created_at, max_per_account)
        SELECT t.account_type, t.name, t.kind, t.case_sensitive, t.created_at, t.max_per_account
          FROM accounts.identifier_types t;
    INSERT INTO accounts.dist_account_fields (account_type, name, kind, personal, created_at)
        SELECT f.account_type, f.name, f.kind, f.personal, f.created_at FROM accounts.account_fields f;
    INSERT INTO accounts.dist_accounts (route, id, account_type, created_at, status, merged_into,
                                        tags, updated_at, redacted_at, fields)
        SELECT accounts.account_route(a.id), a.id, a.account_type, a.created_at, a.status,
               a.merged_into, a.tags, a.updated_at, a.redacted_at, a.fields
          FROM accounts.accounts a;
    INSERT INTO accounts.dist_identifiers
        SELECT accounts.identifier_route(i.account_type, i.id_type, i.value),
               i.account_type, i.id_type, i.value, i.account_id, i.created_at
          FROM accounts.identifiers i;
    GET DIAGNOSTICS moved = ROW_COUNT;
    DELETE FROM accounts.identifiers;
    DELETE FROM accounts.accounts;
    -- last: the trigger asks each node's metadata for the shard, which
    -- the other nodes' connections see only once this transaction commits
    -- (no move can reach shards that do not exist yet)
    PERFORM accounts_internal.dist_moves_setup();
    PERFORM accounts_internal.dist_create_setup();
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
        erased        accounts.identifier[],
        kept          text[]);
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
 * THE ACCOUNT RECORD ON CITUS (1.8): the fields' registry as the reference
 * table accounts.dist_account_fields, the fields of an account in
 * dist_accounts.fields (on its shard, with the row the lifecycle locks),
 * the identifier limits in dist_identifier_types.max_per_account (a key
 * column on every copy: 10_tables.sql, THE LIMIT IS A KEY), and the
 * fields a redaction keeps in dist_event_redactions.kept.  distribute(),
 * and its second run after an update from 1.7.
 */
CREATE OR REPLACE FUNCTION accounts_internal.dist_record_setup() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    -- distribute() calls it before it distributes the tables, the second
    -- run of distribute() after an update from 1.7 after
    distributed boolean := EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p
                                    WHERE p.logicalrelid OPERATOR(pg_catalog.=) 'accounts.dist_accounts'::pg_catalog.regclass);
    r record;
BEGIN
    -- dist_accounts.fields, with no per-value statistics (10_tables.sql,
    -- ERASURE).  Before distribution, on the table: its shards take it.
    -- After: Citus refuses SET STATISTICS on a distributed table, and a
    -- shard can be reached only through connections of their own, which
    -- would wait for this transaction's locks on the table; so first, and
    -- committed by those connections: every node's table (metadata
    -- included, without propagation), then every shard.  Repeating it
    -- (distribute() again after a failure) changes nothing.
    IF NOT distributed THEN
        ALTER TABLE accounts.dist_accounts ADD COLUMN IF NOT EXISTS fields jsonb;
        ALTER TABLE accounts.dist_accounts ALTER COLUMN fields SET STATISTICS 0;
    ELSE
        FOR r IN SELECT n.nodeid, n.success, n.result FROM pg_catalog.run_command_on_all_nodes(
                     'SET LOCAL citus.enable_ddl_propagation TO off; '
                     'ALTER TABLE accounts.dist_accounts ADD COLUMN IF NOT EXISTS fields jsonb; '
                     'ALTER TABLE accounts.dist_accounts ALTER COLUMN fields SET STATISTICS 0') n
                 UNION ALL
                 SELECT s.shardid, s.success, s.result FROM pg_catalog.run_command_on_shards('accounts.dist_accounts',
                     'ALTER TABLE %s ADD COLUMN IF NOT EXISTS fields jsonb') s
                 UNION ALL
                 SELECT s.shardid, s.success, s.result FROM pg_catalog.run_command_on_shards('accounts.dist_accounts',
                     'ALTER TABLE %s ALTER COLUMN fields SET STATISTICS 0') s LOOP
            IF NOT r.success THEN
                RAISE EXCEPTION 'could not add the fields of the accounts on node or shard %', r.nodeid
                    USING ERRCODE = 'connection_failure', DETAIL = r.result,
                          HINT = 'Run SELECT accounts.distribute() again once every node is reachable.';
            END IF;
        END LOOP;
    END IF;
    ALTER TABLE accounts.dist_identifier_types ADD COLUMN IF NOT EXISTS max_per_account integer;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c
                    WHERE c.conrelid OPERATOR(pg_catalog.=) 'accounts.dist_identifier_types'::pg_catalog.regclass
                      AND c.conname OPERATOR(pg_catalog.=) 'dist_identifier_types_max_check') THEN
        ALTER TABLE accounts.dist_identifier_types ADD CONSTRAINT dist_identifier_types_max_check
            CHECK (max_per_account IS NULL OR max_per_account OPERATOR(pg_catalog.>=) 1);
    END IF;
    CREATE UNIQUE INDEX IF NOT EXISTS dist_identifier_types_limit_key
        ON accounts.dist_identifier_types (account_type, name, max_per_account);
    IF pg_catalog.to_regclass('accounts.dist_account_fields') IS NULL THEN
        CREATE TABLE accounts.dist_account_fields (
            account_type  text COLLATE "C" NOT NULL,
            name          text COLLATE "C" NOT NULL,
            kind          text COLLATE "C" NOT NULL,
            personal      boolean NOT NULL,
            created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
            CONSTRAINT dist_account_fields_pkey PRIMARY KEY (account_type, name));
        PERFORM pg_catalog.create_reference_table('accounts.dist_account_fields');
    END IF;
    IF pg_catalog.to_regclass('accounts.dist_event_redactions') IS NOT NULL THEN
        ALTER TABLE accounts.dist_event_redactions ADD COLUMN IF NOT EXISTS kept text[];
    END IF;
END
$$;
COMMENT ON FUNCTION accounts_internal.dist_record_setup() IS
    'Internal (distribute()): the fields and identifier limits on the distributed tables';

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
    -- 1.7 -> 1.8: the account record (fields, identifier limits); first,
    -- before anything here locks dist_accounts (dist_record_setup())
    IF pg_catalog.to_regclass('accounts.dist_account_fields') IS NULL THEN
        PERFORM accounts_internal.dist_record_setup();
        done := true;
    END IF;
    -- 1.5 -> 1.6: the change journal (with the tables of 1.7 and 1.8)
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
    -- 1.8: writes hold their shard group on the shard's node
    IF accounts_internal.dist_moves_setup() THEN
        done := true;
    END IF;
    -- a create in one statement (src/dist_create.c)
    IF accounts_internal.dist_create_setup() THEN
        done := true;
    END IF;
    RETURN done;
END
$$;
COMMENT ON FUNCTION accounts_internal.dist_finish_update() IS
    'Internal (distribute() run again after an update): what the update could not change on the distributed tables';

/*
 * Every write to a shard of dist_accounts or dist_identifiers holds the
 * shard group's metadata lock on the shard's own node, through a prepare
 * (src/moves.c, A WRITE STILL PREPARED ON THE MOVE'S SOURCE): a shard move
 * waits for a part of a two-phase transaction that is still prepared on
 * its source.  Citus copies the triggers to the shards it makes later.
 */
CREATE OR REPLACE FUNCTION accounts_internal.dist_hold_shard() RETURNS trigger
    AS 'MODULE_PATHNAME', 'account_dist_hold_shard'
    LANGUAGE C;
COMMENT ON FUNCTION accounts_internal.dist_hold_shard() IS
    'Internal: on a shard, the shard group''s metadata lock in ShareLock for the statement''s transaction (shard moves under 2PC)';

/* The triggers, once (distribute(), and its run after an update): true if made. */
CREATE OR REPLACE FUNCTION accounts_internal.dist_moves_setup() RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    made boolean := false;
    t text;
BEGIN
    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
    FOREACH t IN ARRAY ARRAY['dist_accounts', 'dist_identifiers'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g
                        WHERE g.tgrelid OPERATOR(pg_catalog.=) pg_catalog.format('accounts.%I', t)::pg_catalog.regclass
                          AND g.tgname OPERATOR(pg_catalog.=) (t OPERATOR(pg_catalog.||) '_hold')) THEN
            EXECUTE pg_catalog.format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE OR DELETE ON accounts.%I
                FOR EACH STATEMENT EXECUTE FUNCTION accounts_internal.dist_hold_shard()', t OPERATOR(pg_catalog.||) '_hold', t);
            made := true;
        END IF;
    END LOOP;
    RETURN made;
END
$$;
COMMENT ON FUNCTION accounts_internal.dist_moves_setup() IS
    'Internal (distribute()): the triggers by which a write holds its shard group on the shard''s node';

/*
 * A new account with its one identifier in one router statement: the
 * account's row arrives without a status, and the trigger on its shard
 * inserts the identifier into the shard beside it first; if the
 * identifier is someone's already, the row is skipped (src/dist_create.c,
 * ONE STATEMENT FOR A CREATE).  Its name sorts before
 * dist_accounts_created, which journals the account.created the row
 * carries.
 */
CREATE OR REPLACE FUNCTION accounts_internal.dist_create_by_identifier() RETURNS trigger
    AS 'MODULE_PATHNAME', 'account_dist_create_by_identifier'
    LANGUAGE C;
COMMENT ON FUNCTION accounts_internal.dist_create_by_identifier() IS
    'Internal: on a shard of dist_accounts, insert a new account''s identifier beside it, or skip the account if the identifier is someone''s';

/* The trigger, once (distribute(), and its run after an update): true if made. */
CREATE OR REPLACE FUNCTION accounts_internal.dist_create_setup() RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g
                WHERE g.tgrelid OPERATOR(pg_catalog.=) 'accounts.dist_accounts'::pg_catalog.regclass
                  AND g.tgname OPERATOR(pg_catalog.=) 'dist_accounts_by_identifier') THEN
        RETURN false;
    END IF;
    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
    CREATE TRIGGER dist_accounts_by_identifier BEFORE INSERT ON accounts.dist_accounts
        FOR EACH ROW WHEN (NEW.status IS NULL)
        EXECUTE FUNCTION accounts_internal.dist_create_by_identifier();
    RETURN true;
END
$$;
COMMENT ON FUNCTION accounts_internal.dist_create_setup() IS
    'Internal (distribute()): the trigger by which a new account''s row brings its identifier';

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
    kept jsonb := row OPERATOR(pg_catalog.->) 'kept';
BEGIN
    PERFORM accounts_internal.redact_node_events(
        NEW.accounts,
        ARRAY(SELECT x::uuid FROM pg_catalog.jsonb_array_elements_text(holders) x),
        ARRAY(SELECT ROW(e OPERATOR(pg_catalog.->>) 'id_type', e OPERATOR(pg_catalog.->>) 'value')::accounts.identifier
                FROM pg_catalog.jsonb_array_elements(erased) e),
        CASE WHEN pg_catalog.jsonb_typeof(kept) OPERATOR(pg_catalog.=) 'array'
             THEN ARRAY(SELECT x FROM pg_catalog.jsonb_array_elements_text(kept) x) END);
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
