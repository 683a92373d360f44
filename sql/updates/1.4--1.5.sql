-- account 1.4 -> 1.5: scaling out on Citus (accounts.distribute() and the
-- distributed path).  Nothing changes on a database without Citus.
\echo Use "ALTER EXTENSION account UPDATE TO '1.5'" to load this file. \quit

-- the registry, lifecycle and reading functions learn the distributed path
-- (accounts.is_distributed(), below)
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
            RETURN;
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

CREATE OR REPLACE FUNCTION accounts.create_identifier_type(account_type text, name text,
        kind text DEFAULT 'text', case_sensitive boolean DEFAULT false) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    distributed boolean := accounts.is_distributed();
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
    IF distributed THEN
        -- registry changes one at a time, cluster-wide: a concurrent
        -- drop_account_type() has finished, or waits for this one
        LOCK TABLE accounts.dist_account_types IN EXCLUSIVE MODE;
        PERFORM 1 FROM accounts.dist_account_types t
         WHERE t.name OPERATOR(pg_catalog.=) create_identifier_type.account_type;
    ELSE
        PERFORM 1 FROM accounts.account_types t
         WHERE t.name OPERATOR(pg_catalog.=) create_identifier_type.account_type
           FOR KEY SHARE;
    END IF;
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
    IF distributed THEN
        INSERT INTO accounts.dist_identifier_types AS t (account_type, name, kind, case_sensitive)
        VALUES (create_identifier_type.account_type, create_identifier_type.name,
                create_identifier_type.kind, create_identifier_type.case_sensitive)
        ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO accounts.identifier_types AS t (account_type, name, kind, case_sensitive)
        VALUES (create_identifier_type.account_type, create_identifier_type.name,
                create_identifier_type.kind, create_identifier_type.case_sensitive)
        ON CONFLICT DO NOTHING;
    END IF;
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

CREATE OR REPLACE FUNCTION accounts.remove_identifier(account_id uuid, id_type text, value text)
    RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    distributed boolean;
    acc_type text;
    norm text;
BEGIN
    distributed := accounts.is_distributed();
    IF remove_identifier.account_id IS NULL THEN
        RAISE EXCEPTION 'argument "account_id" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF remove_identifier.id_type IS NULL THEN
        RAISE EXCEPTION 'argument "id_type" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF remove_identifier.value IS NULL THEN
        RAISE EXCEPTION 'argument "value" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF distributed THEN
        RETURN accounts.dist_remove_identifier(remove_identifier.account_id, remove_identifier.id_type,
                                               remove_identifier.value);
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

CREATE OR REPLACE FUNCTION accounts.resolve_account(id uuid) RETURNS uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    distributed boolean;
    cur uuid := resolve_account.id;
    st accounts.account_status;
    nxt uuid;
BEGIN
    distributed := accounts.is_distributed();
    IF cur IS NULL THEN
        RETURN NULL;
    END IF;
    IF distributed THEN
        RETURN accounts.dist_resolve_account(cur);
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

CREATE OR REPLACE FUNCTION accounts.merge_accounts("into" uuid, sources uuid[]) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    distributed boolean;
    srcs uuid[];
    ids uuid[];
    missing uuid;
    t record;
    into_type text;
    new_tags text[] COLLATE "C";
    moved integer;
BEGIN
    distributed := accounts.is_distributed();
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
    IF distributed THEN
        RETURN accounts.dist_merge_accounts(merge_accounts."into", srcs);
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

CREATE OR REPLACE FUNCTION accounts.set_account_status(id uuid, archived boolean) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    distributed boolean;
    t record;
    target accounts.account_status := CASE WHEN set_account_status.archived THEN 'archived' ELSE 'active' END;
    acc_type text;
BEGIN
    distributed := accounts.is_distributed();
    IF set_account_status.id IS NULL THEN
        RAISE EXCEPTION 'argument "id" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass the id of the account.';
    END IF;
    IF distributed THEN
        RETURN accounts.dist_set_account_status(set_account_status.id, set_account_status.archived);
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

CREATE OR REPLACE FUNCTION accounts.change_tags(id uuid, tags text[], add boolean) RETURNS text[]
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    distributed boolean;
    t record;
    norm text[] COLLATE "C";
    result text[] COLLATE "C";
BEGIN
    distributed := accounts.is_distributed();
    IF change_tags.id IS NULL THEN
        RAISE EXCEPTION 'argument "id" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass the id of the account.';
    END IF;
    norm := accounts.normalize_tags(change_tags.tags);
    IF distributed THEN
        RETURN accounts.dist_change_tags(change_tags.id, norm, change_tags.add);
    END IF;
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

CREATE OR REPLACE FUNCTION accounts.accounts_with_tag(type text, tag text) RETURNS SETOF uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    distributed boolean;
    norm text COLLATE "C";
BEGIN
    distributed := accounts.is_distributed();
    IF accounts_with_tag.type IS NULL THEN
        RAISE EXCEPTION 'argument "type" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass an account type and a tag.';
    END IF;
    IF accounts_with_tag.tag IS NULL THEN
        RAISE EXCEPTION 'argument "tag" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass an account type and a tag.';
    END IF;
    norm := (accounts.normalize_tags(ARRAY[accounts_with_tag.tag]))[1];
    IF distributed THEN
        RETURN QUERY SELECT * FROM accounts.dist_accounts_with_tag(accounts_with_tag.type, norm);
        RETURN;
    END IF;
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

CREATE OR REPLACE FUNCTION accounts.get_account(id uuid)
    RETURNS TABLE (account_id uuid, account_type text, status text, merged_into uuid,
                   tags text[], created_at timestamptz, updated_at timestamptz,
                   redacted_at timestamptz, identifiers accounts.identifier[])
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF accounts.is_distributed() THEN
        RETURN QUERY SELECT * FROM accounts.dist_get_account(get_account.id);
        RETURN;
    END IF;
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

CREATE OR REPLACE FUNCTION accounts.find_accounts(type text, id_type text, vals text[])
    RETURNS TABLE (value text, account_id uuid)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    ROWS 1000
    AS $$
BEGIN
    -- find_account() takes the distributed path itself
    PERFORM accounts.is_distributed();
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

/*
 * SCALING OUT ON CITUS (1.5)
 * ==========================
 *
 * accounts.distribute() turns a database with the citus extension into a
 * Citus-shaped copy of the schema, on the coordinator:
 *
 *   accounts.dist_account_types, dist_identifier_types   reference tables
 *   accounts.dist_accounts, dist_identifiers             distributed by "route",
 *                                                        co-located
 *
 * The extension's own tables stay, empty, on every node: Citus cannot
 * distribute extension-owned tables whose copies CREATE EXTENSION already
 * made on the workers.  From then on every C entry point, on every node,
 * forwards its call to the PL/pgSQL function dist_<its name> below
 * (src/citus.c, THE DISTRIBUTED PATH), and the PL/pgSQL functions that
 * have a distributed form branch on accounts.is_distributed().
 *
 * The route of an identifier is accounts.identifier_route() of its
 * normalized form; an account's is accounts.account_route() of its id, and
 * a new account's id carries the route of the identifier it is created
 * for, so the two rows share a shard group.  Every statement below names
 * the route, so Citus sends it to one shard (a "router" query), on the node
 * that owns it, in the caller's transaction: a single-identifier create
 * writes one shard group on one node and commits without two-phase commit;
 * a multi-identifier call whose identifiers live on several nodes commits
 * with Citus's two-phase commit, atomically.
 *
 * THE PROTOCOL (dist_find_or_create_account and the others).  There is no
 * foreign key between the distributed tables (Citus allows one only within
 * a shard group, and an account's identifiers may live anywhere); what the
 * keys would check is re-established by the writers:
 *
 *   - an identifier is written only with the account row of its account
 *     inserted in the same transaction, or after that row was locked FOR
 *     KEY SHARE in it (add_identifier, attaching in a multi call);
 *   - the account row is inserted only after all of its new identifiers
 *     were inserted, so a call that finds a concurrent winner never leaves
 *     an account behind: it re-points what it inserted to the winner
 *     (rows of its own transaction) or fails as a whole.
 *
 * Uniqueness is the shard's unique index: INSERT ... ON CONFLICT DO
 * NOTHING waits for a concurrent inserter of the same identifier and skips
 * the row if that one commits (a single-identifier call inserts first,
 * see dist_find_or_create_key).  Under READ COMMITTED the next statement
 * sees the winner.  Under REPEATABLE READ it does not (the snapshot is
 * older): 40001, as on one node.  REPEATABLE READ holds per node: each
 * worker's part of a distributed transaction has its own snapshot, taken
 * when Citus first reaches that worker.  Multi calls insert in (route,
 * id_type, value) order, so two of them never wait for each other in a
 * circle; Citus's distributed deadlock detector covers anything else.
 *
 * The lifecycle and dropping types have dist_ forms too (below, after the
 * find-or-create family).  Not yet on a distributed cluster (0A000
 * through accounts.check_node()): the journal (no events are written;
 * events_since(), set_journal() and trim_events() refuse).
 */
CREATE FUNCTION accounts.identifier_route(type text, id_type text, value text)
    RETURNS integer
    AS 'MODULE_PATHNAME', 'account_identifier_route'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION accounts.identifier_route(text, text, text) IS
    'The routing key (0 to 65535) of a normalized identifier on a distributed cluster; persisted, never changes';

CREATE FUNCTION accounts.account_route(id uuid) RETURNS integer
    AS 'MODULE_PATHNAME', 'account_account_route'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION accounts.account_route(uuid) IS
    'The routing key of an account on a distributed cluster: the last 16 bits of its id';

CREATE FUNCTION accounts.new_account_id(route integer) RETURNS uuid
    AS 'MODULE_PATHNAME', 'account_new_account_id'
    LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION accounts.new_account_id(integer) IS
    'Internal: a UUIDv7 account id that carries a route';

CREATE FUNCTION accounts.normalize_value(type text, id_type text, kind text,
        case_sensitive boolean, value text) RETURNS text
    AS 'MODULE_PATHNAME', 'account_normalize_value'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION accounts.normalize_value(text, text, text, boolean, text) IS
    'Internal: value normalized for an identifier type of the given kind';

CREATE FUNCTION accounts.is_distributed() RETURNS boolean
    AS 'MODULE_PATHNAME', 'account_is_distributed'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION accounts.is_distributed() IS
    'Internal: true after accounts.distribute(); 0A000 on a Citus node before it';

CREATE FUNCTION accounts.distribute(shard_count integer DEFAULT 32) RETURNS void
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
    -- the existing rows, through Citus into the shards; the single-node
    -- tables are left empty (nothing reads them any more)
    INSERT INTO accounts.dist_account_types (name, created_at)
        SELECT t.name, t.created_at FROM accounts.account_types t;
    INSERT INTO accounts.dist_identifier_types (account_type, name, kind, case_sensitive, created_at)
        SELECT t.account_type, t.name, t.kind, t.case_sensitive, t.created_at FROM accounts.identifier_types t;
    INSERT INTO accounts.dist_accounts
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
 * The registry's answer for (type, id_type), with the errors of one node,
 * from this node's copy (accounts.dist_identifier_type(), src/citus.c);
 * for_write: its row stays locked FOR KEY SHARE, as on one node, so that
 * a drop of the type waits for this transaction.
 */
CREATE FUNCTION accounts.dist_key(type text, id_type text, value text, for_write boolean,
        OUT route integer, OUT value_norm text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t record;
BEGIN
    t := accounts.dist_identifier_type(dist_key.type, dist_key.id_type,
                                       dist_key.for_write AND NOT pg_catalog.current_setting('transaction_read_only')::boolean);
    IF t.kind IS NULL THEN
        PERFORM 1 FROM accounts.dist_account_types a WHERE a.name OPERATOR(pg_catalog.=) dist_key.type;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'account type "%" does not exist', dist_key.type
                USING ERRCODE = 'undefined_object',
                      HINT = 'List account types with SELECT name FROM accounts.dist_account_types; add one with accounts.create_account_type().';
        END IF;
        RAISE EXCEPTION 'identifier type "%" does not exist for account type "%"', dist_key.id_type, dist_key.type
            USING ERRCODE = 'undefined_object',
                  HINT = pg_catalog.format('List identifier types with SELECT * FROM accounts.dist_identifier_types WHERE account_type = %L; add one with accounts.create_identifier_type().', dist_key.type);
    END IF;
    value_norm := accounts.normalize_value(dist_key.type, dist_key.id_type, t.kind, t.case_sensitive, dist_key.value);
    route := accounts.identifier_route(dist_key.type, dist_key.id_type, value_norm);
END
$$;

CREATE FUNCTION accounts.dist_identifier_type(type text, id_type text, for_write boolean,
        OUT kind text, OUT case_sensitive boolean)
    AS 'MODULE_PATHNAME', 'account_dist_identifier_type'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts.dist_identifier_type(text, text, boolean) IS
    'Internal: an identifier type from this node''s copy of the distributed registry, optionally locked FOR KEY SHARE';

/*
 * The core of every find-or-create on the distributed path, for one
 * identifier of an existing type: (account_id, created).  Insert first:
 * the identifier with a new id carrying its route, ON CONFLICT DO
 * NOTHING; if it went in, the account (same route, same shard group, one
 * node, no two-phase commit).  If it did not, the identifier exists (or a
 * concurrent creator committed it: the insert waited for that one), and
 * the SELECT that follows finds it: under READ COMMITTED it takes a new
 * snapshot; under REPEATABLE READ a winner that committed after the
 * snapshot is invisible: 40001, as on one node.  Inserting first costs a
 * hit one round trip to the worker more than a lookup would, and saves a
 * miss one: measured through a coordinator, lookup-first put the miss at
 * 1.4x to 1.7x the Citus floor, insert-first puts both paths near 1.1x
 * (README, "Scaling out on Citus").  A read-only transaction only looks.
 */
CREATE FUNCTION accounts.dist_find_or_create_key(type text, id_type text, route integer,
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
            INSERT INTO accounts.dist_accounts AS a (route, id, account_type)
            VALUES (dist_find_or_create_key.route, new_id, dist_find_or_create_key.type);
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

CREATE FUNCTION accounts.dist_find_or_create_account(type text, id_type text, value text,
        OUT account_id uuid, OUT created boolean)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    k record;
    r record;
BEGIN
    IF dist_find_or_create_account.type IS NULL OR dist_find_or_create_account.id_type IS NULL
       OR dist_find_or_create_account.value IS NULL THEN
        RAISE EXCEPTION 'argument "%" must not be null',
                        CASE WHEN dist_find_or_create_account.type IS NULL THEN 'type'
                             WHEN dist_find_or_create_account.id_type IS NULL THEN 'id_type' ELSE 'value' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass an account type, an identifier type and a value; list the types with SELECT * FROM accounts.identifier_types.';
    END IF;
    k := accounts.dist_key(dist_find_or_create_account.type, dist_find_or_create_account.id_type,
                           dist_find_or_create_account.value, false);
    r := accounts.dist_find_or_create_key(dist_find_or_create_account.type, dist_find_or_create_account.id_type,
                                          k.route, k.value_norm);
    account_id := r.account_id;
    created := r.created;
END
$$;

CREATE FUNCTION accounts.dist_find_or_create_account(type text, identifier accounts.identifier,
        OUT account_id uuid, OUT created boolean)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r record;
BEGIN
    IF dist_find_or_create_account.identifier IS NULL THEN
        RAISE EXCEPTION 'argument "identifier" must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass an account type, an identifier type and a value; list the types with SELECT * FROM accounts.identifier_types.';
    END IF;
    r := accounts.dist_find_or_create_account(dist_find_or_create_account.type,
                                              (dist_find_or_create_account.identifier).id_type,
                                              (dist_find_or_create_account.identifier).value);
    account_id := r.account_id;
    created := r.created;
END
$$;

CREATE FUNCTION accounts.dist_find_account(type text, id_type text, value text) RETURNS uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    k record;
    found_id uuid;
BEGIN
    IF dist_find_account.type IS NULL OR dist_find_account.id_type IS NULL OR dist_find_account.value IS NULL THEN
        RAISE EXCEPTION 'argument "%" must not be null',
                        CASE WHEN dist_find_account.type IS NULL THEN 'type'
                             WHEN dist_find_account.id_type IS NULL THEN 'id_type' ELSE 'value' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass an account type, an identifier type and a value; list the types with SELECT * FROM accounts.identifier_types.';
    END IF;
    k := accounts.dist_key(dist_find_account.type, dist_find_account.id_type, dist_find_account.value, false);
    SELECT i.account_id INTO found_id FROM accounts.dist_identifiers i
     WHERE i.route OPERATOR(pg_catalog.=) k.route
       AND i.value OPERATOR(pg_catalog.=) k.value_norm
       AND i.id_type OPERATOR(pg_catalog.=) dist_find_account.id_type
       AND i.account_type OPERATOR(pg_catalog.=) dist_find_account.type;
    RETURN found_id;
END
$$;

CREATE FUNCTION accounts.dist_normalize_identifier(type text, id_type text, value text) RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    RETURN (accounts.dist_key(dist_normalize_identifier.type, dist_normalize_identifier.id_type,
                              dist_normalize_identifier.value, false)).value_norm;
END
$$;

/*
 * Bulk: every value checked and normalized before anything is written;
 * one row per element, in input order.
 */
CREATE FUNCTION accounts.dist_find_or_create_accounts(type text, id_type text, vals text[])
    RETURNS TABLE (value text, account_id uuid, created boolean)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    routes integer[];
    norms text[];
    ids uuid[];
    made boolean[];
    k record;
    r record;
    e record;
    n integer;
BEGIN
    IF dist_find_or_create_accounts.type IS NULL OR dist_find_or_create_accounts.id_type IS NULL
       OR dist_find_or_create_accounts.vals IS NULL THEN
        RAISE EXCEPTION 'argument "%" must not be null',
                        CASE WHEN dist_find_or_create_accounts.type IS NULL THEN 'type'
                             WHEN dist_find_or_create_accounts.id_type IS NULL THEN 'id_type' ELSE 'vals' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass an account type, an identifier type and an array of values; an empty array returns no rows.';
    END IF;
    IF pg_catalog.array_ndims(dist_find_or_create_accounts.vals) OPERATOR(pg_catalog.>) 1 THEN
        RAISE EXCEPTION 'argument "vals" has % dimensions', pg_catalog.array_ndims(dist_find_or_create_accounts.vals)
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass a one-dimensional text[].';
    END IF;
    n := COALESCE(pg_catalog.cardinality(dist_find_or_create_accounts.vals), 0);
    FOR i IN 1 .. n LOOP
        IF dist_find_or_create_accounts.vals[i] IS NULL THEN
            RAISE EXCEPTION 'element % of argument "vals" must not be null', i
                USING ERRCODE = 'null_value_not_allowed',
                      HINT = 'Remove NULLs from the array, e.g. with array_remove(vals, NULL).';
        END IF;
    END LOOP;
    FOR i IN 1 .. n LOOP
        k := accounts.dist_key(dist_find_or_create_accounts.type, dist_find_or_create_accounts.id_type,
                               dist_find_or_create_accounts.vals[i], false);
        routes[i] := k.route;
        norms[i] := k.value_norm;
    END LOOP;
    -- in (route, value) order, so that two bulk calls never wait for each
    -- other in a circle; the first of equal values (in input order) creates
    FOR e IN SELECT t.n::integer AS n
               FROM ROWS FROM (pg_catalog.unnest(routes), pg_catalog.unnest(norms)) WITH ORDINALITY AS t(r, v, n)
              ORDER BY t.r, t.v, t.n LOOP
        r := accounts.dist_find_or_create_key(dist_find_or_create_accounts.type, dist_find_or_create_accounts.id_type,
                                              routes[e.n], norms[e.n]);
        ids[e.n] := r.account_id;
        made[e.n] := r.created;
    END LOOP;
    FOR i IN 1 .. n LOOP
        value := dist_find_or_create_accounts.vals[i];
        account_id := ids[i];
        created := made[i];
        RETURN NEXT;
    END LOOP;
END
$$;

/*
 * Several identifiers of one person: the account holding any of them, with
 * the others attached, or a new account holding all; 21000 if they belong
 * to different accounts.  Keys are checked and normalized first, then
 * probed; the owner found (if any) is locked FOR KEY SHARE.  The missing
 * keys are inserted in (route, id_type, value) order pointing at the
 * target (the owner, or a new id).  A key a concurrent caller inserted
 * first is skipped by ON CONFLICT; its owner becomes the target if there
 * was none (our own rows are re-pointed to it, and no account is created),
 * and any other owner is 21000.  The new account row is inserted last,
 * only if the new id is still the target.
 */
CREATE FUNCTION accounts.dist_find_or_create_account(type text, identifiers accounts.identifier[],
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
        INSERT INTO accounts.dist_accounts AS a (route, id, account_type)
        VALUES (accounts.account_route(new_id), new_id, dist_find_or_create_account.type);
    END IF;
    account_id := target;
    created := new_id IS NOT NULL;
END
$$;

/* 21000: the identifiers of one call belong to two accounts. */
CREATE FUNCTION accounts.dist_split(type text, a uuid, b uuid) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    RAISE EXCEPTION 'the identifiers belong to more than one account of type "%"', dist_split.type
        USING ERRCODE = 'cardinality_violation',
              DETAIL = pg_catalog.format('Accounts %s and %s.', dist_split.a, dist_split.b),
              HINT = 'Pass identifiers of one person, or merge the accounts first.';
END
$$;

/*
 * Lock an account row FOR KEY SHARE (in its own shard) before attaching
 * an identifier to it, as the foreign key's check would; 42704 if it does
 * not exist.
 */
CREATE FUNCTION accounts.dist_lock_attachable(id uuid) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t text;
    st accounts.account_status;
    m uuid;
BEGIN
    SELECT a.account_type, a.status, a.merged_into INTO t, st, m FROM accounts.dist_accounts a
     WHERE a.route OPERATOR(pg_catalog.=) accounts.account_route(dist_lock_attachable.id)
       AND a.id OPERATOR(pg_catalog.=) dist_lock_attachable.id
       FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account % does not exist', dist_lock_attachable.id
            USING ERRCODE = 'undefined_object',
                  HINT = 'Find or create the account first, e.g. with accounts.find_or_create_account().';
    END IF;
    IF st OPERATOR(pg_catalog.=) 'merged' THEN
        RAISE EXCEPTION 'account % was merged into account %', dist_lock_attachable.id, m
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Attach identifiers to the account it was merged into.';
    ELSIF st OPERATOR(pg_catalog.=) 'redacted' THEN
        RAISE EXCEPTION 'account % is redacted', dist_lock_attachable.id
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'A redacted account takes no new identifiers.';
    END IF;
    RETURN t;
END
$$;

CREATE FUNCTION accounts.dist_add_identifier(account_id uuid, id_type text, value text) RETURNS boolean
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

/*
 * "Continue on error": the attempt in a subtransaction (an exception
 * block; Citus carries it to the workers as a savepoint); errors come back
 * as data, except a cancel or statement timeout (57014).
 */
CREATE FUNCTION accounts.dist_try_find_or_create_account(type text, id_type text, value text,
        OUT account_id uuid, OUT created boolean, OUT error_code text, OUT error_message text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r record;
BEGIN
    created := false;
    IF dist_try_find_or_create_account.type IS NULL OR dist_try_find_or_create_account.id_type IS NULL
       OR dist_try_find_or_create_account.value IS NULL THEN
        error_code := '22004';
        error_message := pg_catalog.format('argument "%s" must not be null',
                        CASE WHEN dist_try_find_or_create_account.type IS NULL THEN 'type'
                             WHEN dist_try_find_or_create_account.id_type IS NULL THEN 'id_type' ELSE 'value' END);
        RETURN;
    END IF;
    BEGIN
        r := accounts.dist_find_or_create_account(dist_try_find_or_create_account.type,
                                                  dist_try_find_or_create_account.id_type,
                                                  dist_try_find_or_create_account.value);
        account_id := r.account_id;
        created := r.created;
    EXCEPTION
        WHEN query_canceled THEN
            RAISE;
        WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS error_code = RETURNED_SQLSTATE, error_message = MESSAGE_TEXT;
            -- a worker that went away (see src/citus.c): 08006, not XX000
            IF error_code OPERATOR(pg_catalog.=) 'XX000'
               AND error_message OPERATOR(pg_catalog.~) '(connection|server closed|could not commit transaction|failed to prepare transaction)' THEN
                error_code := '08006';
            END IF;
    END;
END
$$;

CREATE FUNCTION accounts.dist_try_find_or_create_account(type text, identifier accounts.identifier,
        OUT account_id uuid, OUT created boolean, OUT error_code text, OUT error_message text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r record;
BEGIN
    IF dist_try_find_or_create_account.identifier IS NULL THEN
        created := false;
        error_code := '22004';
        error_message := 'argument "identifier" must not be null';
        RETURN;
    END IF;
    r := accounts.dist_try_find_or_create_account(dist_try_find_or_create_account.type,
                                                  (dist_try_find_or_create_account.identifier).id_type,
                                                  (dist_try_find_or_create_account.identifier).value);
    account_id := r.account_id;
    created := r.created;
    error_code := r.error_code;
    error_message := r.error_message;
END
$$;

CREATE FUNCTION accounts.dist_get_account(id uuid)
    RETURNS TABLE (account_id uuid, account_type text, status text, merged_into uuid,
                   tags text[], created_at timestamptz, updated_at timestamptz,
                   redacted_at timestamptz, identifiers accounts.identifier[])
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    a record;
BEGIN
    SELECT d.id, d.account_type, d.status, d.merged_into, d.tags, d.created_at, d.updated_at, d.redacted_at
      INTO a
      FROM accounts.dist_accounts d
     WHERE d.route OPERATOR(pg_catalog.=) accounts.account_route(dist_get_account.id)
       AND d.id OPERATOR(pg_catalog.=) dist_get_account.id;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    account_id := a.id;
    account_type := a.account_type;
    status := a.status::text;
    merged_into := a.merged_into;
    tags := a.tags::text[];
    created_at := a.created_at;
    updated_at := COALESCE(a.updated_at, a.created_at);
    redacted_at := a.redacted_at;
    -- the identifiers may live on any shard: one multi-shard query by account_id
    SELECT COALESCE(pg_catalog.array_agg(ROW(x.id_type, x.value)::accounts.identifier ORDER BY x.id_type, x.value), '{}')
      INTO identifiers
      FROM (SELECT i.id_type::text AS id_type, i.value::text AS value FROM accounts.dist_identifiers i
             WHERE i.account_id OPERATOR(pg_catalog.=) dist_get_account.id) x;
    RETURN NEXT;
END
$$;

/*
 * The lifecycle on a distributed cluster.  The same row locks as on one
 * node (THE ACCOUNT LIFECYCLE), each taken by a router statement on the
 * account's own shard: attaching holds FOR KEY SHARE, merge and redaction
 * FOR UPDATE, archive, restore and tags FOR NO KEY UPDATE, and a merge
 * locks its accounts one by one in id order.  The statements after a lock
 * run on each worker with a fresh READ COMMITTED snapshot, so they see
 * every attach that finished before the lock was granted.  Under
 * REPEATABLE READ a worker's snapshot may be older than the lock, and
 * there is no cluster-wide way to check for attaches it cannot see
 * (check_unseen_identifiers is per node): merge and redaction refuse it
 * (0A000) instead of leaving an identifier behind.
 */
CREATE FUNCTION accounts.dist_read_committed(what text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF pg_catalog.current_setting('transaction_isolation') OPERATOR(pg_catalog.<>) 'read committed' THEN
        RAISE EXCEPTION '% runs under READ COMMITTED on a distributed cluster', dist_read_committed.what
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'REPEATABLE READ holds per node on Citus, so identifiers attached concurrently on other nodes could be missed.',
                  HINT = 'Call it in a READ COMMITTED transaction.';
    END IF;
END
$$;

/* An account row, locked in its shard with the given strength. */
CREATE FUNCTION accounts.dist_lock_account(id uuid, strength text,
        OUT account_type text, OUT status accounts.account_status, OUT merged_into uuid,
        OUT tags text[])
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF dist_lock_account.strength OPERATOR(pg_catalog.=) 'update' THEN
        SELECT a.account_type, a.status, a.merged_into, a.tags
          INTO account_type, status, merged_into, tags
          FROM accounts.dist_accounts a
         WHERE a.route OPERATOR(pg_catalog.=) accounts.account_route(dist_lock_account.id)
           AND a.id OPERATOR(pg_catalog.=) dist_lock_account.id
           FOR UPDATE;
    ELSE
        SELECT a.account_type, a.status, a.merged_into, a.tags
          INTO account_type, status, merged_into, tags
          FROM accounts.dist_accounts a
         WHERE a.route OPERATOR(pg_catalog.=) accounts.account_route(dist_lock_account.id)
           AND a.id OPERATOR(pg_catalog.=) dist_lock_account.id
           FOR NO KEY UPDATE;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account % does not exist', dist_lock_account.id
            USING ERRCODE = 'undefined_object', HINT = 'Look accounts up with accounts.find_account() or accounts.get_account().';
    END IF;
END
$$;

CREATE FUNCTION accounts.dist_resolve_account(id uuid) RETURNS uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    cur uuid := dist_resolve_account.id;
    st accounts.account_status;
    nxt uuid;
BEGIN
    FOR hop IN 1..100000 LOOP
        SELECT a.status, a.merged_into INTO st, nxt
          FROM accounts.dist_accounts a
         WHERE a.route OPERATOR(pg_catalog.=) accounts.account_route(cur)
           AND a.id OPERATOR(pg_catalog.=) cur;
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
        IF st OPERATOR(pg_catalog.<>) 'merged'::accounts.account_status OR nxt IS NULL THEN
            RETURN cur;
        END IF;
        cur := nxt;
    END LOOP;
    RAISE EXCEPTION 'the merges starting at account % form a cycle', dist_resolve_account.id
        USING ERRCODE = 'data_corrupted',
              HINT = 'accounts.dist_accounts was changed outside the extension; fix merged_into by hand.';
END
$$;

CREATE FUNCTION accounts.dist_set_account_status(id uuid, archived boolean) RETURNS boolean
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
    RETURN true;
END
$$;

CREATE FUNCTION accounts.dist_change_tags(id uuid, norm text[], add boolean) RETURNS text[]
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
    END IF;
    RETURN result;
END
$$;

/* Every shard: a scan per shard (no tag index on the distributed table). */
CREATE FUNCTION accounts.dist_accounts_with_tag(type text, norm text) RETURNS SETOF uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    RETURN QUERY
        SELECT a.id FROM accounts.dist_accounts a
         WHERE a.tags OPERATOR(pg_catalog.@>) ARRAY[dist_accounts_with_tag.norm]::text[]
           AND a.account_type OPERATOR(pg_catalog.=) dist_accounts_with_tag.type
           AND a.status OPERATOR(pg_catalog.<>) 'merged'::accounts.account_status
         ORDER BY a.id;
END
$$;

/*
 * Detach an identifier.  The account row FOR NO KEY UPDATE serializes
 * removals from one account (the last identifier is never removed), and
 * waits for a merge or redaction of it.
 */
CREATE FUNCTION accounts.dist_remove_identifier(account_id uuid, id_type text, value text) RETURNS boolean
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
    RETURN true;
END
$$;

/*
 * Redaction: FOR UPDATE on the account (attaches in progress finish first;
 * later ones wait and then see it redacted), then its identifiers other
 * than reference ids are found on every shard and deleted one by one on
 * their own shard.
 */
CREATE FUNCTION accounts.dist_redact_account(id uuid) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t record;
    r record;
    erased integer := 0;
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
    RETURN erased;
END
$$;

/*
 * Merge: every account FOR UPDATE, one by one in id order (two merges over
 * the same accounts never wait for each other in a circle), the checks of
 * one node, then the sources' identifiers are found on every shard and
 * moved one by one on their own shard, the sources marked merged, the tags
 * united, and the trigger-managed rows re-pointed (repoint_assigned(), as
 * each table's owner).  srcs is sorted and without duplicates.
 */
CREATE FUNCTION accounts.dist_merge_accounts("into" uuid, srcs uuid[]) RETURNS integer
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
    RETURN moved;
END
$$;

/*
 * Dropping types on a distributed cluster.  Registry changes take turns
 * (LOCK TABLE dist_account_types IN EXCLUSIVE MODE, which Citus takes on
 * every node; readers are not blocked).  The DELETE of a registry row
 * writes every node's copy, so it waits, on each node, for the creators
 * holding the row FOR KEY SHARE (dist_key); the search for users that
 * follows runs on the workers with a fresh READ COMMITTED snapshot, so it
 * sees their identifiers, and fails the drop (2BP01, the DELETE rolled
 * back with it).  Later creators find no row (42704).  Under REPEATABLE
 * READ the search could miss them: refused (0A000).
 */
CREATE FUNCTION accounts.dist_drop_identifier_type(account_type text, name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    PERFORM accounts.dist_read_committed('drop_identifier_type()');
    LOCK TABLE accounts.dist_account_types IN EXCLUSIVE MODE;
    DELETE FROM accounts.dist_identifier_types t
     WHERE t.account_type OPERATOR(pg_catalog.=) dist_drop_identifier_type.account_type
       AND t.name OPERATOR(pg_catalog.=) dist_drop_identifier_type.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'identifier type "%" does not exist for account type "%"',
                        dist_drop_identifier_type.name, dist_drop_identifier_type.account_type
            USING ERRCODE = 'undefined_object',
                  HINT = 'List identifier types with SELECT * FROM accounts.dist_identifier_types.';
    END IF;
    PERFORM 1 FROM accounts.dist_identifiers i
     WHERE i.account_type OPERATOR(pg_catalog.=) dist_drop_identifier_type.account_type
       AND i.id_type OPERATOR(pg_catalog.=) dist_drop_identifier_type.name
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'identifier type "%" of account type "%" is in use',
                        dist_drop_identifier_type.name, dist_drop_identifier_type.account_type
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'Identifiers of this type exist.',
                  HINT = 'Remove them first with accounts.remove_identifier().';
    END IF;
END
$$;

CREATE FUNCTION accounts.dist_drop_account_type(name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    PERFORM accounts.dist_read_committed('drop_account_type()');
    LOCK TABLE accounts.dist_account_types IN EXCLUSIVE MODE;
    DELETE FROM accounts.dist_account_types t WHERE t.name OPERATOR(pg_catalog.=) dist_drop_account_type.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account type "%" does not exist', dist_drop_account_type.name
            USING ERRCODE = 'undefined_object',
                  HINT = 'List account types with SELECT name FROM accounts.dist_account_types.';
    END IF;
    -- every identifier type of it, which creators of its accounts hold
    DELETE FROM accounts.dist_identifier_types t
     WHERE t.account_type OPERATOR(pg_catalog.=) dist_drop_account_type.name;
    PERFORM 1 FROM accounts.dist_accounts a
     WHERE a.account_type OPERATOR(pg_catalog.=) dist_drop_account_type.name
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'account type "%" is in use', dist_drop_account_type.name
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'Accounts of this type exist.',
                  HINT = 'Delete its accounts first.';
    END IF;
END
$$;

REVOKE ALL ON FUNCTION accounts.identifier_route(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.account_route(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.new_account_id(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.normalize_value(text, text, text, boolean, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.is_distributed() FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.distribute(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_key(text, text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_identifier_type(text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_find_or_create_key(text, text, integer, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_find_or_create_account(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_find_or_create_account(text, accounts.identifier) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_find_or_create_account(text, accounts.identifier[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_find_account(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_normalize_identifier(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_find_or_create_accounts(text, text, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_split(text, uuid, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_lock_attachable(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_add_identifier(uuid, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_try_find_or_create_account(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_try_find_or_create_account(text, accounts.identifier) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_get_account(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_read_committed(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_lock_account(uuid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_resolve_account(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_set_account_status(uuid, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_change_tags(uuid, text[], boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_accounts_with_tag(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_remove_identifier(uuid, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_redact_account(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_merge_accounts(uuid, uuid[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_drop_identifier_type(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION accounts.dist_drop_account_type(text) FROM PUBLIC;
