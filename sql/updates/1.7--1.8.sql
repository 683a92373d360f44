-- account 1.7 -> 1.8: the account record and identity resolution: fields
-- declared per account type (create_field(), set_fields(), kept by merges,
-- erased by redactions), identifier limits (set_identifier_limit()), and
-- find_or_create_account(type, identifiers, on_conflict => 'merge').  On a
-- distributed cluster, SELECT accounts.distribute() on the coordinator
-- afterwards finishes the update of the distributed tables (ALTER
-- EXTENSION cannot: Citus updates the workers' functions after the
-- coordinator's script has run).
\echo Use "ALTER EXTENSION account UPDATE TO '1.8'" to load this file. \quit

-- the tables (10_tables.sql, THE ACCOUNT RECORD, THE LIMIT IS A KEY)
ALTER TABLE accounts.accounts ADD COLUMN fields jsonb;
ALTER TABLE accounts.accounts ALTER COLUMN fields SET STATISTICS 0;
ALTER TABLE accounts.identifier_types ADD COLUMN max_per_account integer,
    ADD CONSTRAINT identifier_types_max_check
        CHECK (max_per_account IS NULL OR max_per_account OPERATOR(pg_catalog.>=) 1);
CREATE UNIQUE INDEX identifier_types_limit_key
    ON accounts.identifier_types (account_type, name, max_per_account);
CREATE TABLE accounts.account_fields (
    account_type  text COLLATE "C" NOT NULL
                  REFERENCES accounts.account_types (name) ON DELETE CASCADE,
    name          text COLLATE "C" NOT NULL,
    kind          text COLLATE "C" NOT NULL DEFAULT 'text',
    personal      boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT account_fields_pkey PRIMARY KEY (account_type, name),
    CONSTRAINT account_fields_name_check
        CHECK (name OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,62}$'),
    CONSTRAINT account_fields_kind_check
        CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['text', 'email', 'phone', 'date', 'number', 'boolean']))
);
COMMENT ON TABLE accounts.account_fields IS
    'The fields accounts of a type may hold (accounts.create_field()); personal ones are erased by a redaction';
-- its referencing side unchecked, as the other foreign keys' (10_tables.sql)
DO $fk$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT tg.tgname FROM pg_catalog.pg_trigger tg
               JOIN pg_catalog.pg_constraint c ON c.oid OPERATOR(pg_catalog.=) tg.tgconstraint
              WHERE c.contype OPERATOR(pg_catalog.=) 'f'
                AND c.conrelid OPERATOR(pg_catalog.=) 'accounts.account_fields'::pg_catalog.regclass
                AND tg.tgrelid OPERATOR(pg_catalog.=) c.conrelid
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE accounts.account_fields DISABLE TRIGGER %I', t.tgname);
    END LOOP;
END
$fk$;
ALTER TYPE accounts_internal.account_row ADD ATTRIBUTE fields jsonb;

-- new signatures: get_account() returns fields; the multi-identifier
-- find_or_create_account() takes on_conflict.  Their grants go to the new
-- functions (below).
CREATE TABLE accounts_internal.update_grants (fn text, grantee oid);
INSERT INTO accounts_internal.update_grants
    SELECT 'accounts.get_account(uuid)', a.grantee
      FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
     WHERE p.oid OPERATOR(pg_catalog.=) 'accounts.get_account(uuid)'::pg_catalog.regprocedure
       AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE' AND a.grantee OPERATOR(pg_catalog.<>) p.proowner
       AND a.grantee OPERATOR(pg_catalog.<>) 0
    UNION ALL
    SELECT 'accounts.find_or_create_account(text, accounts.identifier[], text)', a.grantee
      FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
     WHERE p.oid OPERATOR(pg_catalog.=) 'accounts.find_or_create_account(text, accounts.identifier[])'::pg_catalog.regprocedure
       AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE' AND a.grantee OPERATOR(pg_catalog.<>) p.proowner
       AND a.grantee OPERATOR(pg_catalog.<>) 0;
DROP FUNCTION accounts.get_account(uuid);
DROP FUNCTION accounts.find_or_create_account(text, accounts.identifier[]);
DROP FUNCTION accounts_internal.redact_node_events(uuid[], uuid[], accounts.identifier[]);
DROP FUNCTION accounts_internal.store_redact_events(uuid[], text, accounts.identifier[]);

-- @parts@

DO $grants$
DECLARE
    g record;
BEGIN
    FOR g IN SELECT u.fn, u.grantee FROM accounts_internal.update_grants u ORDER BY 1, 2 LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s', g.fn, g.grantee::pg_catalog.regrole);
    END LOOP;
END
$grants$;
DROP TABLE accounts_internal.update_grants;
