-- account 1.6 -> 1.7: one set of rules for one node and Citus (the
-- storage layer, 40_storage.sql), correct under two-phase commit
-- (src/settle.c), the internal functions in schema accounts_internal, and
-- erasure that leaves no values in statistics, index entries or other
-- accounts' events.  On a distributed cluster, SELECT accounts.distribute()
-- on the coordinator afterwards finishes the update of the distributed
-- tables (ALTER EXTENSION cannot: Citus updates the workers' functions
-- after the coordinator's script has run).
\echo Use "ALTER EXTENSION account UPDATE TO '1.7'" to load this file. \quit

CREATE SCHEMA accounts_internal;
COMMENT ON SCHEMA accounts_internal IS
    'Internal functions of extension account; applications are never granted anything here';

-- the internal functions that stay, to their schema (the parts below
-- replace their bodies)
ALTER FUNCTION accounts.registry_changed() SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.skip_existing_registry_row() SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.add_reference_id() SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.guard_tables() SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.check_unseen_identifiers(uuid[]) SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.repoint_assigned(uuid, uuid[]) SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.set_account_status(uuid, boolean) SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.normalize_tags(text[]) SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.change_tags(uuid, text[], boolean) SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.journal_event(uuid, text, text, jsonb) SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.trim_node_events(timestamptz) SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.new_account_id(integer) SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.is_distributed() SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.is_journal_distributed() SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.dist_journal_setup() SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.dist_journal_write() SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.dist_redact_events() SET SCHEMA accounts_internal;
ALTER FUNCTION accounts.dist_mirror_journal_setting() SET SCHEMA accounts_internal;

-- the distributed twins: the rules are written once now, and the storage
-- layer reaches one node's tables or the distributed ones
DROP FUNCTION accounts.dist_key(text, text, text, boolean);
DROP FUNCTION accounts.dist_identifier_type(text, text, boolean);
DROP FUNCTION accounts.dist_find_or_create_key(text, text, integer, text);
DROP FUNCTION accounts.dist_find_or_create_account(text, text, text);
DROP FUNCTION accounts.dist_find_or_create_account(text, accounts.identifier);
DROP FUNCTION accounts.dist_find_or_create_account(text, accounts.identifier[]);
DROP FUNCTION accounts.dist_find_account(text, text, text);
DROP FUNCTION accounts.dist_normalize_identifier(text, text, text);
DROP FUNCTION accounts.dist_find_or_create_accounts(text, text, text[]);
DROP FUNCTION accounts.dist_split(text, uuid, uuid);
DROP FUNCTION accounts.dist_lock_attachable(uuid);
DROP FUNCTION accounts.dist_add_identifier(uuid, text, text);
DROP FUNCTION accounts.dist_try_find_or_create_account(text, text, text);
DROP FUNCTION accounts.dist_try_find_or_create_account(text, accounts.identifier);
DROP FUNCTION accounts.dist_get_account(uuid);
DROP FUNCTION accounts.dist_read_committed(text);
DROP FUNCTION accounts.dist_lock_account(uuid, text);
DROP FUNCTION accounts.dist_resolve_account(uuid);
DROP FUNCTION accounts.dist_set_account_status(uuid, boolean);
DROP FUNCTION accounts.dist_change_tags(uuid, text[], boolean);
DROP FUNCTION accounts.dist_accounts_with_tag(text, text);
DROP FUNCTION accounts.dist_remove_identifier(uuid, text, text);
DROP FUNCTION accounts.dist_redact_account(uuid);
DROP FUNCTION accounts.dist_merge_accounts(uuid, uuid[]);
DROP FUNCTION accounts.dist_drop_identifier_type(text, text);
DROP FUNCTION accounts.dist_drop_account_type(text);
DROP FUNCTION accounts.dist_journal_event(uuid, text, text, jsonb);
DROP FUNCTION accounts.dist_set_journal(text, boolean);
DROP FUNCTION accounts.normalize_value(text, text, text, boolean, text);
-- new signatures
DROP FUNCTION accounts.redacted_detail(jsonb);
DROP FUNCTION accounts.redact_node_events(uuid[]);

-- erasure (10_tables.sql, ERASURE): no per-value statistics of identifier
-- values or event details, and none of what ANALYZE kept so far
ALTER TABLE accounts.identifiers ALTER COLUMN value SET STATISTICS 0;
ALTER TABLE accounts.events ALTER COLUMN detail SET STATISTICS 0;
ALTER TABLE accounts.identifiers SET (vacuum_index_cleanup = on);
ALTER TABLE accounts.events SET (vacuum_index_cleanup = on);
DELETE FROM pg_catalog.pg_statistic s
 USING pg_catalog.pg_attribute a
 WHERE a.attrelid OPERATOR(pg_catalog.=) s.starelid AND a.attnum OPERATOR(pg_catalog.=) s.staattnum
   AND ((s.starelid OPERATOR(pg_catalog.=) 'accounts.identifiers'::pg_catalog.regclass
         AND a.attname OPERATOR(pg_catalog.=) 'value')
        OR (s.starelid OPERATOR(pg_catalog.=) 'accounts.events'::pg_catalog.regclass
            AND a.attname OPERATOR(pg_catalog.=) 'detail'));
CREATE INDEX events_removed_value_idx ON accounts.events ((detail OPERATOR(pg_catalog.->>) 'value'))
    WHERE kind OPERATOR(pg_catalog.=) 'identifier.removed';
ALTER INDEX accounts.events_removed_value_idx ALTER COLUMN 1 SET STATISTICS 0;

-- the storage layer's row type (40_storage.sql)
CREATE TYPE accounts_internal.account_row AS (
    id            uuid,
    account_type  text COLLATE "C",
    status        accounts.account_status,
    merged_into   uuid,
    tags          text[] COLLATE "C",
    created_at    timestamptz,
    updated_at    timestamptz,
    redacted_at   timestamptz
);

-- @parts@

-- Normalization (src/normalize.c, 1.7): every default-ignorable code point
-- is dropped now (1.6 dropped five of them), and phone numbers take any
-- space or dash as a separator.  A value stored by 1.6 that held one of
-- the others (a soft hyphen, a variation selector ...) is found by its
-- exact stored form no more: a lookup normalizes to the form without it.
-- Nothing is changed here (the new form may belong to another account);
-- the WARNING says how many there are and how to list them.  On a
-- distributed cluster this node's tables are empty: distribute(), run
-- again on the coordinator to finish the update, counts the distributed
-- ones (70_citus.sql, dist_finish_update()).
SELECT accounts_internal.warn_renormalized('accounts.identifiers');
