-- account 1.2 -> 1.3: the account lifecycle (merge, redact, archive, tags, reading).
\echo Use "ALTER EXTENSION account UPDATE TO '1.3'" to load this file. \quit

/*
 * New columns of accounts.accounts, appended in the order a fresh install
 * has them.  Their defaults are constants, so no row is rewritten: every
 * existing account becomes active with no tags, and keeps its id.
 */
CREATE TYPE accounts.account_status AS ENUM ('active', 'archived', 'merged', 'redacted');
COMMENT ON TYPE accounts.account_status IS
    'Lifecycle state of an account: active, archived, merged (into merged_into) or redacted';
ALTER TABLE accounts.accounts
    ADD COLUMN status        accounts.account_status NOT NULL DEFAULT 'active',
    ADD COLUMN merged_into   uuid,
    ADD COLUMN tags          text[] COLLATE "C" NOT NULL DEFAULT '{}',
    ADD COLUMN updated_at    timestamptz,
    ADD COLUMN redacted_at   timestamptz;
CREATE INDEX accounts_tags_idx ON accounts.accounts USING gin (tags)
    WHERE tags OPERATOR(pg_catalog.<>) '{}'::text[];

/*
 * THE ACCOUNT LIFECYCLE (1.3)
 * ===========================
 *
 * status: active, archived, merged (merged_into names the account that
 * absorbed it), redacted (redacted_at).  updated_at is the time of the last
 * lifecycle change (NULL: none since created_at).
 *
 * Row locks, in one canonical order (account id), on accounts.accounts:
 *
 *   - attaching an identifier to an existing account (add_identifier, the
 *     multi-identifier call) holds the account's row FOR KEY SHARE, as a
 *     foreign-key check would, and refuses a merged or redacted account
 *     (src/lookup.c, ROW LOCKS);
 *   - merge_accounts() and redact_account() lock their rows FOR UPDATE,
 *     which conflicts with that: attaches in progress finish first and are
 *     then moved or erased with the rest; later attaches wait, then see the
 *     new status and fail with 55000 (READ COMMITTED) or 40001 (REPEATABLE
 *     READ).  Under REPEATABLE READ an attach that committed after the
 *     snapshot is invisible to the merge's statements, so
 *     accounts.check_unseen_identifiers() raises 40001 for it (src/lookup.c,
 *     lookup_check_unseen) instead of leaving it behind;
 *   - archive, restore, tag and untag lock the row FOR NO KEY UPDATE: they
 *     wait for a merge or redaction (and then see it), never for an attach.
 *
 * A merge locks all its accounts, into and sources, in id order in one
 * statement, so two merges over the same accounts (A into B while B into
 * A) never deadlock: the second waits, then finds a source or the target
 * merged (55000), or, under REPEATABLE READ, fails with 40001.  Merges
 * only go into accounts that are not merged, and a source is merged once,
 * so merged_into never forms a cycle.
 */

CREATE FUNCTION accounts.check_unseen_identifiers(account_ids uuid[]) RETURNS void
    AS 'MODULE_PATHNAME', 'account_check_unseen_identifiers'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts.check_unseen_identifiers(uuid[]) IS
    'Internal (merge_accounts, redact_account): 40001 under REPEATABLE READ if an identifier was attached to the accounts after the snapshot';

CREATE FUNCTION accounts.repoint_assigned("into" uuid, sources uuid[]) RETURNS bigint
    AS 'MODULE_PATHNAME', 'account_repoint_assigned'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts.repoint_assigned(uuid, uuid[]) IS
    'Internal (merge_accounts): re-point the columns assign_account() triggers manage from the merged sources to into, as each table''s owner';

CREATE FUNCTION accounts.check_node() RETURNS void
    AS 'MODULE_PATHNAME', 'account_check_node'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION accounts.check_node() IS
    'Internal: 0A000 on a node of a Citus cluster (src/catalog.c, THE CITUS GUARD); the lifecycle functions call it first';

CREATE FUNCTION accounts.resolve_account(id uuid) RETURNS uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    cur uuid := resolve_account.id;
    st accounts.account_status;
    nxt uuid;
BEGIN
    PERFORM accounts.check_node();
    IF cur IS NULL THEN
        RETURN NULL;
    END IF;
    -- a chain is at most as long as the number of merges; the bound only
    -- guards against rows written around the extension
    FOR hop IN 1..100000 LOOP
        SELECT a.status, a.merged_into INTO st, nxt
          FROM accounts.accounts a WHERE a.id OPERATOR(pg_catalog.=) cur;
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
        IF st OPERATOR(pg_catalog.<>) 'merged'::accounts.account_status OR nxt IS NULL THEN
            RETURN cur;
        END IF;
        cur := nxt;
    END LOOP;
    RAISE EXCEPTION 'the merges starting at account % form a cycle', resolve_account.id
        USING ERRCODE = 'data_corrupted',
              HINT = 'accounts.accounts was changed outside the extension; fix merged_into by hand.';
END
$$;
COMMENT ON FUNCTION accounts.resolve_account(uuid) IS
    'The account that id was merged into, following merges (id itself if not merged; NULL if unknown)';

CREATE FUNCTION accounts.merge_accounts("into" uuid, sources uuid[]) RETURNS integer
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
    RETURN moved;
END
$$;
COMMENT ON FUNCTION accounts.merge_accounts(uuid, uuid[]) IS
    'Move every identifier (and tag) of the source accounts to into, mark them merged, re-point assign_account() columns; returns the identifiers moved';

CREATE FUNCTION accounts.redact_account(id uuid) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t record;
    erased integer;
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
     WHERE a.id OPERATOR(pg_catalog.=) redact_account.id;
    RETURN erased;
END
$$;
COMMENT ON FUNCTION accounts.redact_account(uuid) IS
    'Erase the account''s identifiers except its reference ids, irreversibly; it becomes redacted; returns the identifiers erased';

/* archive_account(), restore_account(): the status change, FOR NO KEY UPDATE. */
CREATE FUNCTION accounts.set_account_status(id uuid, archived boolean) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t record;
    target accounts.account_status := CASE WHEN set_account_status.archived THEN 'archived' ELSE 'active' END;
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
     WHERE a.id OPERATOR(pg_catalog.=) set_account_status.id;
    RETURN true;
END
$$;
COMMENT ON FUNCTION accounts.set_account_status(uuid, boolean) IS
    'Internal: archive_account() and restore_account()';

CREATE FUNCTION accounts.archive_account(id uuid) RETURNS boolean
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT accounts.set_account_status(archive_account.id, true) $$;
COMMENT ON FUNCTION accounts.archive_account(uuid) IS
    'Archive an account (status archived); it is still found by its identifiers; true if the status changed';

CREATE FUNCTION accounts.restore_account(id uuid) RETURNS boolean
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT accounts.set_account_status(restore_account.id, false) $$;
COMMENT ON FUNCTION accounts.restore_account(uuid) IS
    'Restore an archived account (status active); true if the status changed';

/* Tags: lowercased and trimmed, then named like types (^[a-z][a-z0-9_]{0,62}$). */
CREATE FUNCTION accounts.normalize_tags(tags text[]) RETURNS text[]
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
COMMENT ON FUNCTION accounts.normalize_tags(text[]) IS
    'The stored form of tags (lowercase, trimmed); 22023 for an invalid tag';

CREATE FUNCTION accounts.change_tags(id uuid, tags text[], add boolean) RETURNS text[]
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
    SELECT a.status, a.merged_into, a.tags INTO t
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
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION accounts.change_tags(uuid, text[], boolean) IS
    'Internal: tag_account() and untag_account()';

CREATE FUNCTION accounts.tag_account(id uuid, tags text[]) RETURNS text[]
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT accounts.change_tags(tag_account.id, tag_account.tags, true) $$;
COMMENT ON FUNCTION accounts.tag_account(uuid, text[]) IS
    'Add tags to an account (at most 64); returns its tags';

CREATE FUNCTION accounts.untag_account(id uuid, tags text[]) RETURNS text[]
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT accounts.change_tags(untag_account.id, untag_account.tags, false) $$;
COMMENT ON FUNCTION accounts.untag_account(uuid, text[]) IS
    'Remove tags from an account; returns its tags';

CREATE FUNCTION accounts.accounts_with_tag(type text, tag text) RETURNS SETOF uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    norm text COLLATE "C";
BEGIN
    PERFORM accounts.check_node();
    IF accounts_with_tag.type IS NULL THEN
        RAISE EXCEPTION 'argument "type" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass an account type and a tag.';
    END IF;
    IF accounts_with_tag.tag IS NULL THEN
        RAISE EXCEPTION 'argument "tag" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass an account type and a tag.';
    END IF;
    norm := (accounts.normalize_tags(ARRAY[accounts_with_tag.tag]))[1];
    -- the partial GIN index accounts_tags_idx: its predicate is repeated
    RETURN QUERY
        SELECT a.id FROM accounts.accounts a
         WHERE a.tags OPERATOR(pg_catalog.@>) ARRAY[norm]
           AND a.tags OPERATOR(pg_catalog.<>) '{}'::text[]
           AND a.account_type OPERATOR(pg_catalog.=) accounts_with_tag.type
           AND a.status OPERATOR(pg_catalog.<>) 'merged'::accounts.account_status
         ORDER BY a.id;
END
$$;
COMMENT ON FUNCTION accounts.accounts_with_tag(text, text) IS
    'The accounts of a type that have a tag (merged accounts excluded), by id';

CREATE FUNCTION accounts.get_account(id uuid)
    RETURNS TABLE (account_id uuid, account_type text, status text, merged_into uuid,
                   tags text[], created_at timestamptz, updated_at timestamptz,
                   redacted_at timestamptz, identifiers accounts.identifier[])
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    PERFORM accounts.check_node();
    RETURN QUERY
    SELECT a.id, a.account_type::text, a.status::text, a.merged_into, a.tags::text[], a.created_at,
           COALESCE(a.updated_at, a.created_at), a.redacted_at,
           ARRAY(SELECT ROW(i.id_type::text, i.value::text)::accounts.identifier
                   FROM accounts.identifiers i
                  WHERE i.account_id OPERATOR(pg_catalog.=) a.id
                  ORDER BY i.id_type, i.value)
      FROM accounts.accounts a
     WHERE a.id OPERATOR(pg_catalog.=) get_account.id;
END
$$;
COMMENT ON FUNCTION accounts.get_account(uuid) IS
    'One row describing the account and its identifiers; no row for an unknown id';

CREATE FUNCTION accounts.find_accounts(type text, id_type text, vals text[])
    RETURNS TABLE (value text, account_id uuid)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    ROWS 1000
    AS $$
BEGIN
    PERFORM accounts.check_node();
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
 * The Citus guard (src/catalog.c) in the registry functions and
 * remove_identifier too: their bodies as in account.sql, with
 * PERFORM accounts.check_node() first.
 */
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
END
$$;

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
END
$$;

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
    RETURN true;
END
$$;

REVOKE ALL ON FUNCTION accounts.check_unseen_identifiers(uuid[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.check_node() FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.repoint_assigned(uuid, uuid[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.resolve_account(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.merge_accounts(uuid, uuid[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.redact_account(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.set_account_status(uuid, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.archive_account(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.restore_account(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.normalize_tags(text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.change_tags(uuid, text[], boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.tag_account(uuid, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.untag_account(uuid, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.accounts_with_tag(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.get_account(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.find_accounts(text, text, text[]) FROM PUBLIC;
