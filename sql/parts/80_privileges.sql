/*
 * PRIVILEGES, AND WHAT DUMPS KEEP
 *
 * Least privilege: no function of the extension is executable by PUBLIC,
 * no table has a privilege for anyone but its owner, and nobody is granted
 * anything on schema accounts_internal.  accounts.grant_access() gives a
 * role the functions of one kind of use, on every node of a Citus cluster
 * (docs/security.md has the recipe).
 */
CREATE OR REPLACE FUNCTION accounts.grant_access(role regrole, access text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    fns text[];
    stmt text;
    r record;
BEGIN
    IF grant_access.role IS NULL OR grant_access.access IS NULL THEN
        RAISE EXCEPTION 'argument "%" must not be null', CASE WHEN grant_access.role IS NULL THEN 'role' ELSE 'access' END
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a role and one of application, read, lifecycle, registry, journal, trigger.';
    END IF;
    fns := CASE grant_access.access
        WHEN 'application' THEN ARRAY[
            'accounts.find_or_create_account(text, text, text)',
            'accounts.find_or_create_account(text, accounts.identifier)',
            'accounts.find_or_create_account(text, accounts.identifier[], text)',
            'accounts.find_or_create_accounts(text, text, text[])',
            'accounts.try_find_or_create_account(text, text, text)',
            'accounts.try_find_or_create_account(text, accounts.identifier)',
            'accounts.add_identifier(uuid, text, text)',
            'accounts.remove_identifier(uuid, text, text)',
            'accounts.find_account(text, text, text)',
            'accounts.find_accounts(text, text, text[])',
            'accounts.get_account(uuid)',
            'accounts.resolve_account(uuid)',
            'accounts.set_fields(uuid, jsonb)',
            'accounts.normalize_identifier(text, text, text)']
        WHEN 'read' THEN ARRAY[
            'accounts.find_account(text, text, text)',
            'accounts.find_accounts(text, text, text[])',
            'accounts.get_account(uuid)',
            'accounts.resolve_account(uuid)',
            'accounts.accounts_with_tag(text, text)',
            'accounts.normalize_identifier(text, text, text)']
        WHEN 'lifecycle' THEN ARRAY[
            'accounts.merge_accounts(uuid, uuid[])',
            'accounts.redact_account(uuid)',
            'accounts.archive_account(uuid)',
            'accounts.restore_account(uuid)',
            'accounts.tag_account(uuid, text[])',
            'accounts.untag_account(uuid, text[])',
            'accounts.set_fields(uuid, jsonb)',
            'accounts.accounts_with_tag(text, text)',
            'accounts.get_account(uuid)',
            'accounts.resolve_account(uuid)']
        WHEN 'registry' THEN ARRAY[
            'accounts.create_account_type(text)',
            'accounts.create_identifier_type(text, text, text, boolean)',
            'accounts.drop_identifier_type(text, text)',
            'accounts.drop_account_type(text)',
            'accounts.create_field(text, text, text, boolean)',
            'accounts.drop_field(text, text)',
            'accounts.set_identifier_limit(text, text, integer)',
            'accounts.set_journal(text, boolean)']
        WHEN 'journal' THEN ARRAY[
            'accounts.events_since(bigint, integer)']
        WHEN 'trigger' THEN ARRAY[
            'accounts.assign_account()']
        END;
    IF fns IS NULL THEN
        RAISE EXCEPTION 'unknown access "%"', grant_access.access
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The kinds of access are application, read, lifecycle, registry, journal and trigger.';
    END IF;
    stmt := pg_catalog.format('GRANT USAGE ON SCHEMA accounts TO %s; GRANT EXECUTE ON FUNCTION %s TO %s',
                              grant_access.role, pg_catalog.array_to_string(fns, ', '), grant_access.role);
    IF NOT accounts_internal.is_distributed() THEN
        EXECUTE stmt;
        RETURN;
    END IF;
    -- every node, this one included, each in a transaction of its own (a
    -- grant can be repeated), each applied where it runs: Citus refuses
    -- to propagate a grant on the schema from a worker
    FOR r IN SELECT * FROM pg_catalog.run_command_on_all_nodes(
                 'SET LOCAL citus.enable_ddl_propagation TO off; ' OPERATOR(pg_catalog.||) stmt) LOOP
        IF NOT r.success THEN
            RAISE EXCEPTION 'could not grant % access on node %', grant_access.access, r.nodeid
                USING ERRCODE = 'connection_failure', DETAIL = r.result,
                      HINT = 'The other nodes have it; call accounts.grant_access() again once the node is reachable.';
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION accounts.grant_access(regrole, text) IS
    'Give a role the functions of one kind of use (application, read, lifecycle, registry, journal, trigger), on every node of a Citus cluster';

/* The grants of this node's extension functions and schema, as statements (sync_nodes()). */
CREATE OR REPLACE FUNCTION accounts_internal.grant_statements() RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT COALESCE(pg_catalog.string_agg(g, '; '), '') FROM (
        SELECT pg_catalog.format('GRANT USAGE ON SCHEMA accounts TO %s', a.grantee::pg_catalog.regrole) AS g
          FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
         WHERE n.nspname OPERATOR(pg_catalog.=) 'accounts' AND a.privilege_type OPERATOR(pg_catalog.=) 'USAGE'
           AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner AND a.grantee OPERATOR(pg_catalog.<>) 0
        UNION ALL
        SELECT pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s', p.oid::pg_catalog.regprocedure,
                                 a.grantee::pg_catalog.regrole)
          FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
         WHERE p.pronamespace OPERATOR(pg_catalog.=) 'accounts'::pg_catalog.regnamespace
           AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
           AND a.grantee OPERATOR(pg_catalog.<>) p.proowner AND a.grantee OPERATOR(pg_catalog.<>) 0) s
$$;
COMMENT ON FUNCTION accounts_internal.grant_statements() IS
    'Internal (sync_nodes): the grants of this node''s extension functions and schema, as GRANT statements';

/* Keep user data in dumps; the seeded rows are recreated by CREATE EXTENSION. */
SELECT pg_catalog.pg_extension_config_dump('accounts.account_types',
    $$WHERE name OPERATOR(pg_catalog.<>) 'user'$$);
-- reference_id rows are recreated by the account_types trigger on restore.
SELECT pg_catalog.pg_extension_config_dump('accounts.identifier_types',
    $$WHERE name OPERATOR(pg_catalog.<>) 'reference_id'$$);
SELECT pg_catalog.pg_extension_config_dump('accounts.accounts', '');
SELECT pg_catalog.pg_extension_config_dump('accounts.identifiers', '');
SELECT pg_catalog.pg_extension_config_dump('accounts.events', '');
SELECT pg_catalog.pg_extension_config_dump('accounts.events_seq', '');
SELECT pg_catalog.pg_extension_config_dump('accounts.journal_settings', '');
SELECT pg_catalog.pg_extension_config_dump('accounts.account_fields', '');

/* Least privilege: nothing is executable by PUBLIC until granted. */
DO $revoke$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::pg_catalog.regprocedure
               FROM pg_catalog.pg_proc p
               JOIN pg_catalog.pg_depend d ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                                          AND d.objid OPERATOR(pg_catalog.=) p.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'
               JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
                                             AND e.extname OPERATOR(pg_catalog.=) 'account'
              ORDER BY p.oid
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$revoke$;
