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
                                a.updated_at, a.redacted_at, a.fields
                           FROM accounts.accounts a WHERE a.id OPERATOR(pg_catalog.=) ANY (sorted)
                          ORDER BY a.id FOR UPDATE;
        ELSIF strength OPERATOR(pg_catalog.=) 'no key update' THEN
            RETURN QUERY SELECT a.id, a.account_type::text, a.status, a.merged_into, a.tags::text[], a.created_at,
                                a.updated_at, a.redacted_at, a.fields
                           FROM accounts.accounts a WHERE a.id OPERATOR(pg_catalog.=) ANY (sorted)
                          ORDER BY a.id FOR NO KEY UPDATE;
        ELSE
            RETURN QUERY SELECT a.id, a.account_type::text, a.status, a.merged_into, a.tags::text[], a.created_at,
                                a.updated_at, a.redacted_at, a.fields
                           FROM accounts.accounts a WHERE a.id OPERATOR(pg_catalog.=) ANY (sorted)
                          ORDER BY a.id;
        END IF;
        RETURN;
    END IF;
    -- fields: 1.8's column, once distribute() finished the update
    q := 'SELECT a.id, a.account_type::pg_catalog.text, a.status, a.merged_into, a.tags::pg_catalog.text[],'
         ' a.created_at, a.updated_at, a.redacted_at, '
         OPERATOR(pg_catalog.||) CASE WHEN accounts_internal.is_record_distributed() THEN 'a.fields'
                                      ELSE 'NULL::jsonb' END
         OPERATOR(pg_catalog.||) ' FROM accounts.dist_accounts a'
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

/*
 * Mark the accounts srcs merged into into.  A merged account holds no
 * fields, as it holds no identifiers (the survivor took what it lacked).
 */
CREATE OR REPLACE FUNCTION accounts_internal.store_mark_merged(srcs uuid[], "into" uuid) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        UPDATE accounts.accounts a
           SET status = 'merged', merged_into = store_mark_merged."into", updated_at = pg_catalog.now(),
               fields = NULL
         WHERE a.id OPERATOR(pg_catalog.=) ANY (store_mark_merged.srcs);
        RETURN;
    END IF;
    FOR i IN 1 .. pg_catalog.cardinality(store_mark_merged.srcs) LOOP
        UPDATE accounts.dist_accounts a
           SET status = 'merged', merged_into = store_mark_merged."into", updated_at = pg_catalog.now()
         WHERE a.route OPERATOR(pg_catalog.=) accounts.account_route(store_mark_merged.srcs[i])
           AND a.id OPERATOR(pg_catalog.=) store_mark_merged.srcs[i];
        IF accounts_internal.is_record_distributed() THEN
            UPDATE accounts.dist_accounts a SET fields = NULL
             WHERE a.route OPERATOR(pg_catalog.=) accounts.account_route(store_mark_merged.srcs[i])
               AND a.id OPERATOR(pg_catalog.=) store_mark_merged.srcs[i]
               AND a.fields IS NOT NULL;
        END IF;
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

/* Set an account's fields (NULL: none). */
CREATE OR REPLACE FUNCTION accounts_internal.store_set_fields(id uuid, fields jsonb) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        UPDATE accounts.accounts a SET fields = store_set_fields.fields, updated_at = pg_catalog.now()
         WHERE a.id OPERATOR(pg_catalog.=) store_set_fields.id;
        RETURN;
    END IF;
    UPDATE accounts.dist_accounts a SET fields = store_set_fields.fields, updated_at = pg_catalog.now()
     WHERE a.route OPERATOR(pg_catalog.=) accounts.account_route(store_set_fields.id)
       AND a.id OPERATOR(pg_catalog.=) store_set_fields.id;
END
$$;

/*
 * Merges of an account type take turns: the caller holds the type's
 * registry row FOR NO KEY UPDATE until it ends (THE ACCOUNT LIFECYCLE,
 * 50_lifecycle.sql, says why).  On one node a row lock, which no creator
 * waits for (they hold identifier types FOR KEY SHARE, and account types
 * only FOR KEY SHARE); on Citus the row lock of a reference table, which
 * Citus serializes cluster-wide with a lock on the table's shard (on the
 * first worker), so there merges of every type take turns.
 */
CREATE OR REPLACE FUNCTION accounts_internal.store_merge_lock(account_type text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        PERFORM 1 FROM accounts.account_types t
         WHERE t.name OPERATOR(pg_catalog.=) store_merge_lock.account_type
           FOR NO KEY UPDATE;
        RETURN;
    END IF;
    PERFORM 1 FROM accounts.dist_account_types t
     WHERE t.name OPERATOR(pg_catalog.=) store_merge_lock.account_type
       FOR NO KEY UPDATE;
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
        -- the identifier types and fields go with ON DELETE CASCADE
        DELETE FROM accounts.account_types t WHERE t.name OPERATOR(pg_catalog.=) store_delete_account_type.name;
        RETURN FOUND;
    END IF;
    DELETE FROM accounts.dist_account_types t WHERE t.name OPERATOR(pg_catalog.=) store_delete_account_type.name;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    DELETE FROM accounts.dist_identifier_types t
     WHERE t.account_type OPERATOR(pg_catalog.=) store_delete_account_type.name;
    IF accounts_internal.is_record_distributed() THEN
        DELETE FROM accounts.dist_account_fields f
         WHERE f.account_type OPERATOR(pg_catalog.=) store_delete_account_type.name;
    END IF;
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
 * THE FIELDS' REGISTRY (1.8).  One node: accounts.account_fields.  Citus:
 * the reference table accounts.dist_account_fields.  A writer of field
 * values holds the declarations it writes FOR KEY SHARE in this node's
 * copy (lock_fields(), src/record.c); a drop deletes the row from every
 * copy, which waits for them, and then looks for values (Citus: after
 * settling every node).
 */
CREATE OR REPLACE FUNCTION accounts_internal.store_require_record() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF accounts_internal.is_distributed() AND NOT accounts_internal.is_record_distributed() THEN
        RAISE EXCEPTION 'fields and identifier limits are not distributed on this cluster yet'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The extension was updated from 1.7 on a distributed cluster.',
                  HINT = 'Run SELECT accounts.distribute() on the coordinator to finish the update.';
    END IF;
END
$$;

/* The fields declared for an account type (set_fields() locks those it writes: lock_fields()). */
CREATE OR REPLACE FUNCTION accounts_internal.store_fields(account_type text)
    RETURNS TABLE (name text, kind text, personal boolean)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        RETURN QUERY SELECT f.name::text, f.kind::text, f.personal FROM accounts.account_fields f
                      WHERE f.account_type OPERATOR(pg_catalog.=) store_fields.account_type ORDER BY 1;
    ELSIF accounts_internal.is_record_distributed() THEN
        RETURN QUERY SELECT f.name::text, f.kind::text, f.personal FROM accounts.dist_account_fields f
                      WHERE f.account_type OPERATOR(pg_catalog.=) store_fields.account_type ORDER BY 1;
    END IF;
END
$$;

/* Declare a field; false if it exists. */
CREATE OR REPLACE FUNCTION accounts_internal.store_insert_field(account_type text, name text, kind text,
        personal boolean) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        INSERT INTO accounts.account_fields AS f (account_type, name, kind, personal)
        VALUES (store_insert_field.account_type, store_insert_field.name, store_insert_field.kind,
                store_insert_field.personal)
        ON CONFLICT DO NOTHING;
        RETURN FOUND;
    END IF;
    INSERT INTO accounts.dist_account_fields AS f (account_type, name, kind, personal)
    VALUES (store_insert_field.account_type, store_insert_field.name, store_insert_field.kind,
            store_insert_field.personal)
    ON CONFLICT DO NOTHING;
    RETURN FOUND;
END
$$;

/* Delete a field's declaration, waiting for its writers in progress; false if there is none. */
CREATE OR REPLACE FUNCTION accounts_internal.store_delete_field(account_type text, name text) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        DELETE FROM accounts.account_fields f
         WHERE f.account_type OPERATOR(pg_catalog.=) store_delete_field.account_type
           AND f.name OPERATOR(pg_catalog.=) store_delete_field.name;
        RETURN FOUND;
    END IF;
    DELETE FROM accounts.dist_account_fields f
     WHERE f.account_type OPERATOR(pg_catalog.=) store_delete_field.account_type
       AND f.name OPERATOR(pg_catalog.=) store_delete_field.name;
    RETURN FOUND;
END
$$;

/* Does an account of the type hold a value of the field (Citus: after settling every node)? */
CREATE OR REPLACE FUNCTION accounts_internal.store_field_in_use(account_type text, name text) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        RETURN EXISTS (SELECT 1 FROM accounts.accounts a
                        WHERE a.account_type OPERATOR(pg_catalog.=) store_field_in_use.account_type
                          AND a.fields OPERATOR(pg_catalog.?) store_field_in_use.name);
    END IF;
    PERFORM accounts_internal.settle_nodes();
    PERFORM 1 FROM accounts.dist_accounts a
     WHERE a.account_type OPERATOR(pg_catalog.=) store_field_in_use.account_type
       AND a.fields OPERATOR(pg_catalog.?) store_field_in_use.name
     LIMIT 1;
    RETURN FOUND;
END
$$;

/*
 * THE IDENTIFIER LIMITS (1.8).  Set a type's limit: 'changed',
 * 'unchanged', or 'missing' when there is no such type.  max_per_account is a key column (10_tables.sql, THE LIMIT IS
 * A KEY; on Citus the same unique index on every copy), so this UPDATE
 * waits for every creator of the type in progress, on every node's copy,
 * and a creator that comes later waits for it and then reads the new
 * limit.
 */
CREATE OR REPLACE FUNCTION accounts_internal.store_set_identifier_limit(account_type text, id_type text,
        max_per_account integer) RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        UPDATE accounts.identifier_types t SET max_per_account = store_set_identifier_limit.max_per_account
         WHERE t.account_type OPERATOR(pg_catalog.=) store_set_identifier_limit.account_type
           AND t.name OPERATOR(pg_catalog.=) store_set_identifier_limit.id_type
           AND t.max_per_account IS DISTINCT FROM store_set_identifier_limit.max_per_account;
        IF FOUND THEN
            RETURN 'changed';
        END IF;
        PERFORM 1 FROM accounts.identifier_types t
         WHERE t.account_type OPERATOR(pg_catalog.=) store_set_identifier_limit.account_type
           AND t.name OPERATOR(pg_catalog.=) store_set_identifier_limit.id_type;
    ELSE
        UPDATE accounts.dist_identifier_types t SET max_per_account = store_set_identifier_limit.max_per_account
         WHERE t.account_type OPERATOR(pg_catalog.=) store_set_identifier_limit.account_type
           AND t.name OPERATOR(pg_catalog.=) store_set_identifier_limit.id_type
           AND t.max_per_account IS DISTINCT FROM store_set_identifier_limit.max_per_account;
        IF FOUND THEN
            RETURN 'changed';
        END IF;
        PERFORM 1 FROM accounts.dist_identifier_types t
         WHERE t.account_type OPERATOR(pg_catalog.=) store_set_identifier_limit.account_type
           AND t.name OPERATOR(pg_catalog.=) store_set_identifier_limit.id_type;
    END IF;
    RETURN CASE WHEN FOUND THEN 'unchanged' ELSE 'missing' END;
END
$$;

/* The limits of an account type's identifier types: (id_type, max_per_account), limited ones only. */
CREATE OR REPLACE FUNCTION accounts_internal.store_identifier_limits(account_type text)
    RETURNS TABLE (id_type text, max_per_account integer)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        RETURN QUERY SELECT t.name::text, t.max_per_account FROM accounts.identifier_types t
                      WHERE t.account_type OPERATOR(pg_catalog.=) store_identifier_limits.account_type
                        AND t.max_per_account IS NOT NULL ORDER BY 1;
        RETURN;
    END IF;
    IF accounts_internal.is_record_distributed() THEN
        RETURN QUERY SELECT t.name::text, t.max_per_account FROM accounts.dist_identifier_types t
                      WHERE t.account_type OPERATOR(pg_catalog.=) store_identifier_limits.account_type
                        AND t.max_per_account IS NOT NULL ORDER BY 1;
    END IF;
END
$$;

/*
 * An account that holds more than max identifiers of the type, or NULL
 * (Citus: after settling every node).
 */
CREATE OR REPLACE FUNCTION accounts_internal.store_limit_violator(account_type text, id_type text, max integer)
    RETURNS uuid
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    found_id uuid;
BEGIN
    IF NOT accounts_internal.is_distributed() THEN
        SELECT i.account_id INTO found_id FROM accounts.identifiers i
         WHERE i.account_type OPERATOR(pg_catalog.=) store_limit_violator.account_type
           AND i.id_type OPERATOR(pg_catalog.=) store_limit_violator.id_type
         GROUP BY i.account_id HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) store_limit_violator.max
         ORDER BY i.account_id LIMIT 1;
        RETURN found_id;
    END IF;
    PERFORM accounts_internal.settle_nodes();
    SELECT i.account_id INTO found_id FROM accounts.dist_identifiers i
     WHERE i.account_type OPERATOR(pg_catalog.=) store_limit_violator.account_type
       AND i.id_type OPERATOR(pg_catalog.=) store_limit_violator.id_type
     GROUP BY i.account_id HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) store_limit_violator.max
     ORDER BY i.account_id LIMIT 1;
    RETURN found_id;
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
 * journal; and the values of every field but those in kept from the
 * accounts' account.fields_updated events.  The accounts that held a value are found by its identifier.
 * removed events (accounts_internal.removal_holders(), on every node on
 * Citus).  Citus then writes a row of the reference table
 * accounts.dist_event_redactions, which Citus writes on every node, where
 * its trigger rewrites that node's journal in this transaction
 * (accounts_internal.dist_redact_events()).
 */
CREATE OR REPLACE FUNCTION accounts_internal.store_redact_events(ids uuid[], account_type text,
        erased accounts.identifier[], kept text[])
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
        PERFORM accounts_internal.redact_node_events(store_redact_events.ids, holders, store_redact_events.erased,
                                                     store_redact_events.kept);
    ELSIF accounts_internal.is_record_distributed() THEN
        INSERT INTO accounts.dist_event_redactions AS x (accounts, holders, erased, kept)
        VALUES (store_redact_events.ids, holders, store_redact_events.erased, store_redact_events.kept);
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
