/*
 * THE TRUST GUARD: runs first in the install script and in every update
 * script (the Makefile puts it there), before anything else is created or
 * called.  Every SECURITY DEFINER function of the extension runs as the
 * superuser who installed it and names the extension's objects by schema:
 * accounts.x, accounts_internal.x.  Whoever could create, rename or
 * replace objects in those schemas, or the schemas themselves, could make
 * those functions run their code.  So both schemas must belong to the
 * extension's owner, and nobody else may create objects in them:
 *
 *   - CREATE EXTENSION refuses a schema accounts that another role owns,
 *     that other roles may create objects in, or that is not empty, and a
 *     schema accounts_internal that exists already;
 *   - ALTER EXTENSION ... UPDATE (every update, from 1.0 on, up to the
 *     current version) refuses a schema of the extension that was renamed,
 *     that holds objects which are not the extension's, or a schema
 *     accounts_internal that is not the extension's; otherwise it
 *     gives both schemas to the extension's owner and revokes CREATE on
 *     them from every other role.  Versions before 1.6 let another role own
 *     accounts, and such a role could later have renamed it and created
 *     another accounts in its place.
 *
 * Everything here is qualified (pg_catalog, OPERATOR(pg_catalog.=)):
 * extension scripts run with the extension's schema first on search_path.
 */
DO $guard$
DECLARE
    ext_owner oid;
    ext_schema text;
    updating boolean;
    schema_name text;
    schema_oid oid;
    schema_owner oid;
    strangers text;
    creators text;
BEGIN
    SELECT e.extowner, n.nspname INTO ext_owner, ext_schema
      FROM pg_catalog.pg_extension e
      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
     WHERE e.extname OPERATOR(pg_catalog.=) 'account';
    -- CREATE EXTENSION has made the pg_extension row, and no function yet
    updating := EXISTS (SELECT 1 FROM pg_catalog.pg_depend d, pg_catalog.pg_extension e
                         WHERE e.extname OPERATOR(pg_catalog.=) 'account'
                           AND d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                           AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
                           AND d.refobjid OPERATOR(pg_catalog.=) e.oid AND d.deptype OPERATOR(pg_catalog.=) 'e');
    IF ext_schema OPERATOR(pg_catalog.<>) 'accounts' THEN
        RAISE EXCEPTION 'the schema of extension "account" is named "%", not "accounts"', ext_schema
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Its functions name their objects as accounts.x; another schema named accounts would be used instead.',
                  HINT = pg_catalog.format('Drop or rename any other schema named accounts, ALTER SCHEMA %I RENAME TO accounts, and run the command again.', ext_schema);
    END IF;
    FOREACH schema_name IN ARRAY ARRAY['accounts', 'accounts_internal'] LOOP
        SELECT n.oid, n.nspowner INTO schema_oid, schema_owner
          FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) schema_name;
        CONTINUE WHEN schema_oid IS NULL;
        -- objects in it that are not the extension's (updating: those
        -- that a role other than a superuser owns; the distributed tables
        -- that accounts.distribute() made, and Citus's shards of them,
        -- belong to the superuser who ran it)
        SELECT pg_catalog.string_agg(o.descr, ', ') INTO strangers FROM (
            SELECT pg_catalog.format('%s %I.%I', CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' ELSE 'table' END,
                                     schema_name, c.relname) AS descr, c.oid AS objid,
                   'pg_catalog.pg_class'::pg_catalog.regclass AS classid, c.relowner AS owner
              FROM pg_catalog.pg_class c WHERE c.relnamespace OPERATOR(pg_catalog.=) schema_oid
                AND c.relkind OPERATOR(pg_catalog.<>) ALL (ARRAY['i', 'I', 't', 'c']::"char"[])
            UNION ALL
            SELECT pg_catalog.format('function %I.%I(%s)', schema_name, p.proname,
                                     pg_catalog.pg_get_function_identity_arguments(p.oid)), p.oid,
                   'pg_catalog.pg_proc'::pg_catalog.regclass, p.proowner
              FROM pg_catalog.pg_proc p WHERE p.pronamespace OPERATOR(pg_catalog.=) schema_oid
            UNION ALL
            SELECT pg_catalog.format('type %I.%I', schema_name, t.typname), t.oid,
                   'pg_catalog.pg_type'::pg_catalog.regclass, t.typowner
              FROM pg_catalog.pg_type t WHERE t.typnamespace OPERATOR(pg_catalog.=) schema_oid
               AND t.typrelid OPERATOR(pg_catalog.=) 0 AND t.typelem OPERATOR(pg_catalog.=) 0
            UNION ALL
            SELECT pg_catalog.format('operator %s', o.oid::pg_catalog.regoperator), o.oid,
                   'pg_catalog.pg_operator'::pg_catalog.regclass, o.oprowner
              FROM pg_catalog.pg_operator o WHERE o.oprnamespace OPERATOR(pg_catalog.=) schema_oid) o
         WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d, pg_catalog.pg_extension e
                            WHERE e.extname OPERATOR(pg_catalog.=) 'account'
                              AND d.classid OPERATOR(pg_catalog.=) o.classid AND d.objid OPERATOR(pg_catalog.=) o.objid
                              AND d.refobjid OPERATOR(pg_catalog.=) e.oid AND d.deptype OPERATOR(pg_catalog.=) 'e')
           AND NOT (updating AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                                          WHERE r.oid OPERATOR(pg_catalog.=) o.owner AND r.rolsuper));
        SELECT pg_catalog.string_agg(CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                                          ELSE a.grantee::pg_catalog.regrole::text END, ', ') INTO creators
          FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
         WHERE n.oid OPERATOR(pg_catalog.=) schema_oid
           AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
           AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner;
        IF NOT updating THEN
            -- CREATE EXTENSION
            IF schema_name OPERATOR(pg_catalog.=) 'accounts_internal' THEN
                RAISE EXCEPTION 'schema "accounts_internal" exists already'
                    USING ERRCODE = 'duplicate_schema',
                          HINT = 'The extension creates it for its internal functions: drop it (or rename it) and run CREATE EXTENSION account again.';
            END IF;
            IF schema_owner OPERATOR(pg_catalog.<>) ext_owner THEN
                RAISE EXCEPTION 'schema "accounts" is owned by role %, not by %', schema_owner::pg_catalog.regrole, ext_owner::pg_catalog.regrole
                    USING ERRCODE = 'insufficient_privilege',
                          DETAIL = 'The extension installs SECURITY DEFINER functions into it; its owner could change what they run.',
                          HINT = 'Drop the schema (or ALTER SCHEMA accounts OWNER TO the installing superuser) and run CREATE EXTENSION account again.';
            END IF;
            IF creators IS NOT NULL THEN
                RAISE EXCEPTION 'other roles may create objects in schema "accounts": %', creators
                    USING ERRCODE = 'insufficient_privilege',
                          HINT = 'REVOKE CREATE ON SCHEMA accounts FROM them, then run CREATE EXTENSION account again.';
            END IF;
            IF strangers IS NOT NULL THEN
                RAISE EXCEPTION 'schema "accounts" is not empty'
                    USING ERRCODE = 'duplicate_schema', DETAIL = pg_catalog.format('It holds %s.', strangers),
                          HINT = 'The extension needs a schema of its own: move those objects elsewhere, or drop the schema, and run CREATE EXTENSION account again.';
            END IF;
            CONTINUE;
        END IF;
        -- ALTER EXTENSION ... UPDATE (a WARNING says what changed: an
        -- extension script shows nothing below WARNING)
        IF schema_name OPERATOR(pg_catalog.=) 'accounts_internal'
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d, pg_catalog.pg_extension e
                            WHERE e.extname OPERATOR(pg_catalog.=) 'account'
                              AND d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass
                              AND d.objid OPERATOR(pg_catalog.=) schema_oid
                              AND d.refobjid OPERATOR(pg_catalog.=) e.oid AND d.deptype OPERATOR(pg_catalog.=) 'e') THEN
            RAISE EXCEPTION 'schema "accounts_internal" exists already and is not the extension''s'
                USING ERRCODE = 'duplicate_schema',
                      DETAIL = pg_catalog.format('It is owned by role %s; the update creates it for the extension''s internal functions.', schema_owner::pg_catalog.regrole),
                      HINT = 'Drop it (or rename it) and run ALTER EXTENSION account UPDATE again.';
        END IF;
        IF strangers IS NOT NULL THEN
            RAISE EXCEPTION 'schema "%" holds objects that are not the extension''s', schema_name
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = pg_catalog.format('It holds %s.', strangers),
                      HINT = pg_catalog.format('Whoever created them could change what the extension''s SECURITY DEFINER functions run: drop them, or move them to another schema (ALTER ... SET SCHEMA), then run ALTER EXTENSION account UPDATE again.');
        END IF;
        IF schema_owner OPERATOR(pg_catalog.<>) ext_owner THEN
            EXECUTE pg_catalog.format('ALTER SCHEMA %I OWNER TO %s', schema_name, ext_owner::pg_catalog.regrole::text);
            RAISE WARNING 'schema "%" was owned by role %; it belongs to the extension''s owner % now',
                schema_name, schema_owner::pg_catalog.regrole, ext_owner::pg_catalog.regrole;
        END IF;
        IF creators IS NOT NULL THEN
            EXECUTE pg_catalog.format('REVOKE CREATE ON SCHEMA %I FROM %s', schema_name, creators);
            RAISE WARNING 'CREATE on schema "%" revoked from %', schema_name, creators;
        END IF;
    END LOOP;
END
$guard$;
