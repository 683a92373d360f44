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
 * An account.fields_updated detail ({"fields": {name: value, ...}}) with
 * the value of every field not in kept replaced by null, and
 * "redacted": true if it changed.
 */
CREATE OR REPLACE FUNCTION accounts_internal.redacted_fields(detail jsonb, kept text[])
    RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT CASE WHEN pg_catalog.jsonb_typeof(redacted_fields.detail OPERATOR(pg_catalog.->) 'fields')
                     IS DISTINCT FROM 'object'
                     OR NOT EXISTS (SELECT 1 FROM pg_catalog.jsonb_each(redacted_fields.detail OPERATOR(pg_catalog.->) 'fields') f
                                     WHERE f.key OPERATOR(pg_catalog.<>) ALL (redacted_fields.kept)
                                       AND f.value OPERATOR(pg_catalog.<>) 'null'::jsonb)
                THEN redacted_fields.detail
                ELSE pg_catalog.jsonb_set(redacted_fields.detail, '{fields}',
                         (SELECT pg_catalog.jsonb_object_agg(f.key,
                                     CASE WHEN f.key OPERATOR(pg_catalog.=) ANY (redacted_fields.kept) THEN f.value
                                          ELSE 'null'::jsonb END)
                            FROM pg_catalog.jsonb_each(redacted_fields.detail OPERATOR(pg_catalog.->) 'fields') f))
                     OPERATOR(pg_catalog.||) '{"redacted": true}'::jsonb
           END
$$;
COMMENT ON FUNCTION accounts_internal.redacted_fields(jsonb, text[]) IS
    'Internal (redact_account): an account.fields_updated detail without the values of the fields not kept';

/*
 * Erase in this node's journal (redact_account(); on Citus, on every node
 * through dist_redact_events()): every identifier value but reference ids
 * from the events of the accounts ids, and the values erased from the
 * events of the accounts holders (which held them before); and, when kept
 * is given (1.8), the value of every field but those in kept from the
 * accounts' account.fields_updated events.  An UPDATE keeps seq
 * (src/journal.c, THE JOURNAL).
 */
CREATE OR REPLACE FUNCTION accounts_internal.redact_node_events(ids uuid[], holders uuid[] DEFAULT '{}',
        erased accounts.identifier[] DEFAULT '{}', kept text[] DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF redact_node_events.kept IS NOT NULL THEN
        UPDATE accounts.events e SET detail = accounts_internal.redacted_fields(e.detail, redact_node_events.kept)
         WHERE e.account_id OPERATOR(pg_catalog.=) ANY (redact_node_events.ids)
           AND e.kind OPERATOR(pg_catalog.=) 'account.fields_updated'
           AND accounts_internal.redacted_fields(e.detail, redact_node_events.kept) OPERATOR(pg_catalog.<>) e.detail;
    END IF;
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
COMMENT ON FUNCTION accounts_internal.redact_node_events(uuid[], uuid[], accounts.identifier[], text[]) IS
    'Internal (redact_account): erase identifier and personal field values from the accounts'' events in this node''s journal';
