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
 * MERGES TAKE TURNS (1.8).  Every merge of an account type first locks
 * the tables assign_account() manages for it (lock_assigned(), in
 * src/lifecycle.c, says why first), then takes the type's merge lock
 * (store_merge_lock(): its registry row FOR NO KEY UPDATE, held to the end
 * of the transaction; on Citus one lock for every type), then locks all
 * its accounts, into and sources, in id order.  The
 * merging find-or-create (IDENTITY RESOLUTION, src/resolve.c) may merge
 * several times in one call, each time over the accounts its identifiers
 * are on then, which need not come in id order after the ones it holds;
 * with the merge lock no other merge holds any of them, and what else
 * holds an account's row (an attach, a tag, a redaction) never waits for
 * a merge lock, so no two merges wait for each other in a circle: merges
 * never deadlock with each other, whichever way they are called, as long
 * as each transaction merges in one call (a transaction that holds row
 * locks from earlier statements can always form a cycle; PostgreSQL then
 * reports 40P01).  Two merges over the same accounts (A into B while B
 * into A) run one after the other: the second finds a source or the
 * target merged (55000), or, under REPEATABLE READ, fails with 40001;
 * two merging calls over the same accounts both end with the oldest as
 * the survivor.  Merges only go into accounts that are not merged, and a
 * source is merged once, so merged_into never forms a cycle.  The rows
 * that assign_account() manages are re-pointed in the same transaction
 * (src/lifecycle.c).
 */

CREATE OR REPLACE FUNCTION accounts_internal.check_unseen_identifiers(account_ids uuid[]) RETURNS void
    AS 'MODULE_PATHNAME', 'account_check_unseen_identifiers'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts_internal.check_unseen_identifiers(uuid[]) IS
    'Internal (merge_accounts, redact_account): 40001 under REPEATABLE READ if an identifier was attached to the accounts after the snapshot';

CREATE OR REPLACE FUNCTION accounts_internal.check_identifier_limit(account_id uuid, account_type text, id_type text,
        held bigint, max integer) RETURNS void
    AS 'MODULE_PATHNAME', 'account_check_identifier_limit'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION accounts_internal.check_identifier_limit(uuid, text, text, bigint, integer) IS
    'Internal (merge_accounts): 23514 if the account would hold more identifiers of the type than its limit';

CREATE OR REPLACE FUNCTION accounts_internal.lock_assigned(account_type text) RETURNS void
    AS 'MODULE_PATHNAME', 'account_lock_assigned'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts_internal.lock_assigned(text) IS
    'Internal (merges): the tables assign_account() triggers of the account type manage, IN SHARE ROW EXCLUSIVE MODE, as each table''s owner';

/*
 * The first locks of every merge of an account type (MERGES TAKE TURNS):
 * the tables assign_account() manages for it, then the merge lock.
 */
CREATE OR REPLACE FUNCTION accounts_internal.merge_lock(account_type text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    PERFORM accounts_internal.lock_assigned(merge_lock.account_type);
    PERFORM accounts_internal.store_merge_lock(merge_lock.account_type);
END
$$;
COMMENT ON FUNCTION accounts_internal.merge_lock(text) IS
    'Internal (merges): the managed tables, then the account type''s merge lock';

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

/*
 * The merge (merge_accounts(), and the merging find-or-create through
 * merge_found()): every rule of merging, once.  The caller holds the
 * account type's merge lock (store_merge_lock()) and checked its
 * arguments: srcs distinct, sorted, without into, at most 100.
 */
CREATE OR REPLACE FUNCTION accounts_internal.merge_core("into" uuid, srcs uuid[]) RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    ids uuid[] := merge_core.srcs OPERATOR(pg_catalog.||) merge_core."into";
    rows accounts_internal.account_row[];
    t accounts_internal.account_row;
    target accounts_internal.account_row;
    new_tags text[] COLLATE "C";
    new_fields jsonb;
    filled jsonb := '{}';
    f record;
    lim record;
    held bigint;
    moved integer;
BEGIN
    -- every row, in id order (see THE ACCOUNT LIFECYCLE)
    rows := ARRAY(SELECT r FROM accounts_internal.store_lock_accounts(ids, 'update'::pg_catalog.text) r);
    FOR i IN 1 .. pg_catalog.cardinality(ids) LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(rows) r WHERE r.id OPERATOR(pg_catalog.=) ids[i]) THEN
            RAISE EXCEPTION 'account % does not exist', ids[i]
                USING ERRCODE = 'undefined_object', HINT = 'Look accounts up with accounts.find_account() or accounts.get_account().';
        END IF;
    END LOOP;
    SELECT * INTO target FROM pg_catalog.unnest(rows) r WHERE r.id OPERATOR(pg_catalog.=) merge_core."into";
    IF target.status OPERATOR(pg_catalog.=) 'merged'::accounts.account_status THEN
        RAISE EXCEPTION 'cannot merge into account %: it was merged into account %', merge_core."into", target.merged_into
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = pg_catalog.format('Merge into the surviving account %s instead.', accounts.resolve_account(merge_core."into"));
    END IF;
    IF target.status OPERATOR(pg_catalog.=) 'redacted'::accounts.account_status THEN
        RAISE EXCEPTION 'cannot merge into account %: it is redacted', merge_core."into"
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'A redacted account takes no new identifiers; merge into another account.';
    END IF;
    FOR t IN SELECT * FROM pg_catalog.unnest(rows) r WHERE r.id OPERATOR(pg_catalog.=) ANY (merge_core.srcs) ORDER BY r.id LOOP
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
                            t.id, t.account_type, merge_core."into", target.account_type
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Only accounts of one account type can be merged.';
        END IF;
    END LOOP;
    new_tags := ARRAY(SELECT DISTINCT tag FROM pg_catalog.unnest(rows) r, pg_catalog.unnest(r.tags) tag ORDER BY 1);
    IF pg_catalog.cardinality(new_tags) OPERATOR(pg_catalog.>) 64 THEN
        RAISE EXCEPTION 'the merged account would have % tags', pg_catalog.cardinality(new_tags)
            USING ERRCODE = 'program_limit_exceeded', HINT = 'An account has at most 64 tags; untag some first with accounts.untag_account().';
    END IF;

    -- every attach in progress to one of them has finished (src/settle.c)
    PERFORM accounts_internal.store_settle(ids);
    -- the identifier limits (1.8): the survivor takes every identifier
    FOR lim IN SELECT * FROM accounts_internal.store_identifier_limits(target.account_type::pg_catalog.text) LOOP
        SELECT pg_catalog.count(*) INTO held FROM accounts_internal.store_identifiers(ids) i
         WHERE i.id_type OPERATOR(pg_catalog.=) lim.id_type;
        PERFORM accounts_internal.check_identifier_limit(merge_core."into", target.account_type::pg_catalog.text,
                                                         lim.id_type::pg_catalog.text, held::pg_catalog.int8,
                                                         lim.max_per_account::pg_catalog.int4);
    END LOOP;
    -- the fields (1.8): the survivor's, then those it lacks, oldest source first
    new_fields := COALESCE(target.fields, '{}');
    FOR f IN SELECT e.key, e.value
               FROM pg_catalog.unnest(rows) r, pg_catalog.jsonb_each(COALESCE(r.fields, '{}')) e
              WHERE r.id OPERATOR(pg_catalog.=) ANY (merge_core.srcs)
              ORDER BY r.created_at, r.id, e.key LOOP
        IF NOT new_fields OPERATOR(pg_catalog.?) f.key THEN
            new_fields := new_fields OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(f.key, f.value);
            filled := filled OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(f.key, f.value);
        END IF;
    END LOOP;

    moved := accounts_internal.store_move_identifiers(merge_core.srcs, merge_core."into");
    PERFORM accounts_internal.store_mark_merged(merge_core.srcs, merge_core."into");
    PERFORM accounts_internal.store_set_tags(merge_core."into", new_tags::text[]);
    IF filled OPERATOR(pg_catalog.<>) '{}'::jsonb THEN
        PERFORM accounts_internal.store_set_fields(merge_core."into", new_fields);
    END IF;
    PERFORM accounts_internal.repoint_assigned(merge_core."into", merge_core.srcs);
    FOR i IN 1..pg_catalog.cardinality(merge_core.srcs) LOOP
        PERFORM accounts_internal.journal_event(merge_core.srcs[i], target.account_type, 'account.merged'::pg_catalog.text,
                                                pg_catalog.jsonb_build_object('into', merge_core."into"));
    END LOOP;
    IF filled OPERATOR(pg_catalog.<>) '{}'::jsonb THEN
        PERFORM accounts_internal.journal_event(merge_core."into", target.account_type,
                                                'account.fields_updated'::pg_catalog.text,
                                                pg_catalog.jsonb_build_object('fields', filled));
    END IF;
    RETURN moved;
END
$$;
COMMENT ON FUNCTION accounts_internal.merge_core(uuid, uuid[]) IS
    'Internal (merge_accounts, the merging find-or-create): every rule of a merge; the caller holds the merge lock';

CREATE OR REPLACE FUNCTION accounts.merge_accounts("into" uuid, sources uuid[]) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    srcs uuid[];
    acc_type text;
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
    -- the account type's merge lock first (THE ACCOUNT LIFECYCLE); an
    -- account's type never changes, so it is read without a lock
    SELECT r.account_type INTO acc_type
      FROM accounts_internal.store_lock_accounts(ARRAY[merge_accounts."into"]::uuid[], 'none'::pg_catalog.text) r;
    IF acc_type IS NULL THEN
        RAISE EXCEPTION 'account % does not exist', merge_accounts."into"
            USING ERRCODE = 'undefined_object', HINT = 'Look accounts up with accounts.find_account() or accounts.get_account().';
    END IF;
    PERFORM accounts_internal.merge_lock(acc_type::pg_catalog.text);
    RETURN accounts_internal.merge_core(merge_accounts."into", srcs);
END
$$;
COMMENT ON FUNCTION accounts.merge_accounts(uuid, uuid[]) IS
    'Move every identifier (and tag) of the source accounts to into, fill the fields it lacks, mark them merged, re-point assign_account() columns; returns the identifiers moved';

/*
 * IDENTITY RESOLUTION (1.8): find_or_create_account(type, identifiers,
 * on_conflict => 'merge') found its identifiers on the accounts ids
 * (src/resolve.c).  Under the account type's merge lock, merge those that
 * are still live into the oldest of them (created_at, then id), by the
 * rules of merge_core(); returns the survivor, or NULL when fewer than two
 * are left (a merge that committed meanwhile did it): the caller probes
 * again either way.
 */
CREATE OR REPLACE FUNCTION accounts_internal.merge_found(account_type text, ids uuid[]) RETURNS uuid
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    live accounts_internal.account_row[];
BEGIN
    PERFORM accounts_internal.store_require_read_committed(
        'find_or_create_account() with on_conflict => ''merge'''::pg_catalog.text);
    PERFORM accounts_internal.merge_lock(merge_found.account_type);
    -- only the live ones are locked: a merged account stays merged, and
    -- the call that reported it may hold it still (a lock of its own
    -- protocol, Citus: dist.c), which a lock here would wait for
    live := ARRAY(SELECT r FROM accounts_internal.store_lock_accounts(
                      ARRAY(SELECT r.id FROM accounts_internal.store_lock_accounts(merge_found.ids, 'none'::pg_catalog.text) r
                             WHERE r.status OPERATOR(pg_catalog.<>) 'merged'::accounts.account_status),
                      'update'::pg_catalog.text) r
                   WHERE r.status OPERATOR(pg_catalog.<>) 'merged'::accounts.account_status
                   ORDER BY r.created_at, r.id);
    IF COALESCE(pg_catalog.cardinality(live), 0) OPERATOR(pg_catalog.<) 2 THEN
        RETURN NULL;
    END IF;
    PERFORM accounts_internal.merge_core((live[1]).id,
                                         ARRAY(SELECT r.id FROM pg_catalog.unnest(live[2:]) r ORDER BY 1));
    RETURN (live[1]).id;
END
$$;
COMMENT ON FUNCTION accounts_internal.merge_found(text, uuid[]) IS
    'Internal (find_or_create_account with on_conflict => merge): merge the live accounts among ids into the oldest, under the merge lock';

/*
 * The row of an account that takes a write (redaction, archive, restore,
 * tags, fields), locked with strength ('update', 'no key update'): 42704
 * if there is none, 55000 if it was merged, with the hint "<verb> the
 * surviving account <id> instead." and, when given, detail.
 */
CREATE OR REPLACE FUNCTION accounts_internal.lock_live_account(id uuid, strength text, verb text,
        detail text DEFAULT NULL)
    RETURNS accounts_internal.account_row
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t accounts_internal.account_row;
BEGIN
    SELECT * INTO t FROM accounts_internal.store_lock_accounts(ARRAY[lock_live_account.id]::uuid[], lock_live_account.strength);
    IF t.id IS NULL THEN
        RAISE EXCEPTION 'account % does not exist', lock_live_account.id
            USING ERRCODE = 'undefined_object', HINT = 'Look accounts up with accounts.find_account() or accounts.get_account().';
    END IF;
    IF t.status OPERATOR(pg_catalog.=) 'merged'::accounts.account_status AND lock_live_account.detail IS NULL THEN
        RAISE EXCEPTION 'account % was merged into account %', lock_live_account.id, t.merged_into
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = pg_catalog.format('%s the surviving account %s instead.', lock_live_account.verb,
                                           accounts.resolve_account(lock_live_account.id));
    END IF;
    IF t.status OPERATOR(pg_catalog.=) 'merged'::accounts.account_status THEN
        RAISE EXCEPTION 'account % was merged into account %', lock_live_account.id, t.merged_into
            USING ERRCODE = 'object_not_in_prerequisite_state', DETAIL = lock_live_account.detail,
                  HINT = pg_catalog.format('%s the surviving account %s instead.', lock_live_account.verb,
                                           accounts.resolve_account(lock_live_account.id));
    END IF;
    RETURN t;
END
$$;
COMMENT ON FUNCTION accounts_internal.lock_live_account(uuid, text, text, text) IS
    'Internal (the lifecycle): an account''s row locked for a write; 42704 if there is none, 55000 if it was merged';

CREATE OR REPLACE FUNCTION accounts.redact_account(id uuid) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t accounts_internal.account_row;
    erased accounts.identifier[];
    kept text[];
    fields_kept jsonb;
    fields_erased integer := 0;
BEGIN
    IF redact_account.id IS NULL THEN
        RAISE EXCEPTION 'argument "id" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass the id of the account to redact.';
    END IF;
    PERFORM accounts_internal.store_require_read_committed('redact_account()'::pg_catalog.text);
    t := accounts_internal.lock_live_account(redact_account.id, 'update'::pg_catalog.text, 'Redact'::pg_catalog.text,
                                            'A merged account holds no identifiers.'::pg_catalog.text);
    IF t.status OPERATOR(pg_catalog.=) 'redacted'::accounts.account_status THEN
        RETURN 0;
    END IF;
    PERFORM accounts_internal.store_settle(ARRAY[redact_account.id]::uuid[]);
    erased := ARRAY(SELECT e FROM accounts_internal.store_erase_identifiers(redact_account.id) e);
    PERFORM accounts_internal.store_set_status(redact_account.id, 'redacted'::accounts.account_status);
    -- every field but those declared not personal (1.8)
    kept := ARRAY(SELECT f.name FROM accounts_internal.store_fields(t.account_type::pg_catalog.text) f
                   WHERE NOT f.personal ORDER BY 1);
    IF t.fields IS NOT NULL THEN
        fields_kept := (SELECT pg_catalog.jsonb_object_agg(e.key, e.value)
                          FROM pg_catalog.jsonb_each(t.fields) e WHERE e.key OPERATOR(pg_catalog.=) ANY (kept));
        fields_erased := (SELECT pg_catalog.count(*) FROM pg_catalog.jsonb_object_keys(t.fields) k
                           WHERE k OPERATOR(pg_catalog.<>) ALL (kept));
        IF fields_erased OPERATOR(pg_catalog.>) 0 THEN
            PERFORM accounts_internal.store_set_fields(redact_account.id, fields_kept);
        END IF;
    END IF;
    -- the erased values in the events of the account, of the accounts
    -- merged into it (whose identifiers and fields it took), and of any
    -- account the identifiers were removed from before (docs/privacy.md)
    PERFORM accounts_internal.store_redact_events(accounts_internal.store_merged_chain(redact_account.id),
                                                  t.account_type, erased, kept);
    PERFORM accounts_internal.journal_event(redact_account.id, t.account_type, 'account.redacted'::pg_catalog.text,
                                            pg_catalog.jsonb_build_object('identifiers_erased',
                                                                          pg_catalog.cardinality(erased),
                                                                          'fields_erased', fields_erased));
    RETURN pg_catalog.cardinality(erased);
END
$$;
COMMENT ON FUNCTION accounts.redact_account(uuid) IS
    'Erase the account''s identifiers except its reference ids, and its personal fields, irreversibly; it becomes redacted; returns the identifiers erased';

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
    t := accounts_internal.lock_live_account(set_account_status.id, 'no key update'::pg_catalog.text, 'Use'::pg_catalog.text);
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
    t := accounts_internal.lock_live_account(change_tags.id, 'no key update'::pg_catalog.text, 'Tag'::pg_catalog.text);
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
                   redacted_at timestamptz, identifiers accounts.identifier[], fields jsonb)
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
    fields := COALESCE(a.fields, '{}');
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION accounts.get_account(uuid) IS
    'One row describing the account, its identifiers and its fields; no row for an unknown id';
