/*
 * THE REGISTRIES AND IDENTIFIERS: creating and dropping account types and
 * identifier types, removing an identifier, finding many (PL/pgSQL).  One
 * set of rules for one node and for Citus; where the rows are is the
 * storage layer's (40_storage.sql).
 *
 * They run SQL against the extension's tables, so they are SECURITY
 * DEFINER: a role granted EXECUTE needs no privilege on the tables.  Every
 * name is schema-qualified, operators are written OPERATOR(pg_catalog.x),
 * and search_path is pinned to pg_catalog, pg_temp (pg_temp last, so no
 * temporary object can shadow anything).  Their bodies call functions of
 * the extension's schemas only with arguments of their exact types (so no
 * overload another role might add could be chosen; no other role may
 * create objects there: 00_guard.sql), and nothing unqualified outside
 * pg_catalog.
 *
 * Dropping a type: creators hold the type's registry row FOR KEY SHARE
 * until they end (src/rowlock.c, ROW LOCKS; src/dist.c on Citus), as a
 * foreign-key check would.  A drop deletes the row, which waits for the
 * creators in progress and keeps new ones out (they find the type gone:
 * 42704), then looks for what uses it: on one node PostgreSQL's own check
 * of the DELETE (23503) finds the creators' rows, with a current snapshot
 * whatever the isolation level; on Citus the search settles every node
 * first (src/settle.c), and needs READ COMMITTED.  Either way it is 2BP01
 * and the DELETE rolls back with it.  No table lock is taken on one node,
 * so a drop waiting for a long transaction never blocks finding or
 * creating accounts of other types, and never blocks finding at all.
 */
CREATE OR REPLACE FUNCTION accounts.create_account_type(name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF create_account_type.name IS NULL THEN
        RAISE EXCEPTION 'argument "name" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF create_account_type.name OPERATOR(pg_catalog.!~) '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid account type name "%"', create_account_type.name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Names start with a lowercase letter, then up to 62 lowercase letters, digits or underscores.';
    END IF;
    PERFORM accounts_internal.store_registry_lock();
    IF NOT accounts_internal.store_insert_account_type(create_account_type.name::pg_catalog.text) THEN
        RAISE EXCEPTION 'account type "%" already exists', create_account_type.name
            USING ERRCODE = 'duplicate_object',
                  HINT = 'List account types with SELECT name FROM accounts.account_types.';
    END IF;
    PERFORM accounts_internal.journal_event(NULL::uuid, create_account_type.name::pg_catalog.text,
                                            'account_type.created'::pg_catalog.text,
                                            pg_catalog.jsonb_build_object('name', create_account_type.name));
    PERFORM accounts_internal.journal_event(NULL::uuid, create_account_type.name::pg_catalog.text,
                                            'identifier_type.created'::pg_catalog.text,
                                            pg_catalog.jsonb_build_object('name', 'reference_id', 'kind', 'text',
                                                                          'case_sensitive', false));
END
$$;
COMMENT ON FUNCTION accounts.create_account_type(text) IS
    'Register an account type; it gets a reference_id identifier type';

CREATE OR REPLACE FUNCTION accounts.create_identifier_type(account_type text, name text,
        kind text DEFAULT 'text', case_sensitive boolean DEFAULT false) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
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
    -- the account type held as the foreign key's check would hold it: a
    -- concurrent drop_account_type() has finished, or waits for this one
    PERFORM accounts_internal.store_registry_lock();
    IF NOT accounts_internal.store_lock_account_type(create_identifier_type.account_type::pg_catalog.text) THEN
        RAISE EXCEPTION 'account type "%" does not exist', create_identifier_type.account_type
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create it first with accounts.create_account_type().';
    END IF;
    IF create_identifier_type.name OPERATOR(pg_catalog.!~) '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid identifier type name "%"', create_identifier_type.name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Names start with a lowercase letter, then up to 62 lowercase letters, digits or underscores.';
    END IF;
    IF NOT accounts_internal.store_insert_identifier_type(create_identifier_type.account_type::pg_catalog.text,
                                                          create_identifier_type.name::pg_catalog.text,
                                                          create_identifier_type.kind::pg_catalog.text,
                                                          create_identifier_type.case_sensitive::pg_catalog.bool) THEN
        RAISE EXCEPTION 'identifier type "%" already exists for account type "%"',
                        create_identifier_type.name, create_identifier_type.account_type
            USING ERRCODE = 'duplicate_object',
                  HINT = 'List identifier types with SELECT * FROM accounts.identifier_types.';
    END IF;
    PERFORM accounts_internal.journal_event(NULL::uuid, create_identifier_type.account_type::pg_catalog.text,
                                            'identifier_type.created'::pg_catalog.text,
                                            pg_catalog.jsonb_build_object('name', create_identifier_type.name,
                                                                          'kind', create_identifier_type.kind,
                                                                          'case_sensitive', create_identifier_type.case_sensitive));
END
$$;
COMMENT ON FUNCTION accounts.create_identifier_type(text, text, text, boolean) IS
    'Register an identifier type (kind text, email or phone) for an account type';

CREATE OR REPLACE FUNCTION accounts.drop_identifier_type(account_type text, name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
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
    PERFORM accounts_internal.store_require_read_committed('drop_identifier_type()'::pg_catalog.text);
    PERFORM accounts_internal.store_registry_lock();
    BEGIN
        IF NOT accounts_internal.store_delete_identifier_type(drop_identifier_type.account_type::pg_catalog.text,
                                                              drop_identifier_type.name::pg_catalog.text) THEN
            RAISE EXCEPTION 'identifier type "%" does not exist for account type "%"',
                            drop_identifier_type.name, drop_identifier_type.account_type
                USING ERRCODE = 'undefined_object',
                      HINT = 'List identifier types with SELECT * FROM accounts.identifier_types.';
        END IF;
        IF accounts_internal.store_type_in_use(drop_identifier_type.account_type::pg_catalog.text,
                                               drop_identifier_type.name::pg_catalog.text) THEN
            RAISE foreign_key_violation;
        END IF;
        PERFORM accounts_internal.journal_event(NULL::uuid, drop_identifier_type.account_type::pg_catalog.text,
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
COMMENT ON FUNCTION accounts.drop_identifier_type(text, text) IS
    'Drop an identifier type that no identifier uses';

CREATE OR REPLACE FUNCTION accounts.drop_account_type(name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF drop_account_type.name IS NULL THEN
        RAISE EXCEPTION 'argument "name" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF drop_account_type.name OPERATOR(pg_catalog.=) 'user' THEN
        RAISE EXCEPTION 'account type "user" cannot be dropped'
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'It is the default account type.',
                  HINT = 'Create account types of your own with accounts.create_account_type().';
    END IF;
    PERFORM accounts_internal.store_require_read_committed('drop_account_type()'::pg_catalog.text);
    PERFORM accounts_internal.store_registry_lock();
    BEGIN
        IF NOT accounts_internal.store_delete_account_type(drop_account_type.name::pg_catalog.text) THEN
            RAISE EXCEPTION 'account type "%" does not exist', drop_account_type.name
                USING ERRCODE = 'undefined_object',
                      HINT = 'List account types with SELECT name FROM accounts.account_types.';
        END IF;
        IF accounts_internal.store_account_type_in_use(drop_account_type.name::pg_catalog.text) THEN
            RAISE foreign_key_violation;
        END IF;
        PERFORM accounts_internal.journal_event(NULL::uuid, drop_account_type.name::pg_catalog.text,
                                                'account_type.dropped'::pg_catalog.text,
                                                pg_catalog.jsonb_build_object('name', drop_account_type.name));
        PERFORM accounts_internal.store_drop_journal_setting(drop_account_type.name::pg_catalog.text);
    EXCEPTION WHEN foreign_key_violation THEN
        RAISE EXCEPTION 'account type "%" is in use', drop_account_type.name
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'Accounts of this type exist.',
                  HINT = 'Delete its accounts first.';
    END;
END
$$;
COMMENT ON FUNCTION accounts.drop_account_type(text) IS
    'Drop an account type (and its identifier types) that no account uses';

/*
 * THE ACCOUNT RECORD'S REGISTRY (1.8): fields and identifier limits.
 *
 * A field is declared per account type with a kind (text, email, phone,
 * date, number, boolean) and whether it is personal (erased by a
 * redaction).  Writers of values hold the declaration FOR KEY SHARE
 * (set_fields(), 55_record.sql); drop_field() deletes it, which waits for
 * them, then looks for values (Citus: after settling every node): a field
 * in use is not dropped (2BP01).  Both need READ COMMITTED to see what
 * they waited for.
 *
 * An identifier limit caps how many identifiers of a type one account
 * holds.  set_identifier_limit() changes a key column of the type's row
 * (10_tables.sql, THE LIMIT IS A KEY), which waits for every creator of
 * the type in progress on every node and makes every later one wait and
 * read the new limit; then it looks for an account over the new limit
 * (23514, nothing changed).  Every writer enforces it: attaching
 * (src/limits.c), creating with several identifiers, merging
 * (merge_core()).
 */
/* Registry changes that must see what they waited for: READ COMMITTED, on one node and on Citus. */
CREATE OR REPLACE FUNCTION accounts_internal.require_read_committed(what text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF pg_catalog.current_setting('transaction_isolation') OPERATOR(pg_catalog.<>) 'read committed' THEN
        RAISE EXCEPTION '% runs under READ COMMITTED', require_read_committed.what
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'It waits for the writers in progress and then looks at what they wrote, which a REPEATABLE READ snapshot cannot see.',
                  HINT = 'Call it in a READ COMMITTED transaction.';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION accounts.create_field(account_type text, name text, kind text DEFAULT 'text',
        personal boolean DEFAULT true) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF create_field.account_type IS NULL THEN
        RAISE EXCEPTION 'argument "account_type" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF create_field.name IS NULL THEN
        RAISE EXCEPTION 'argument "name" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF create_field.kind IS NULL THEN
        RAISE EXCEPTION 'argument "kind" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF create_field.personal IS NULL THEN
        RAISE EXCEPTION 'argument "personal" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF create_field.name OPERATOR(pg_catalog.!~) '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid field name "%"', create_field.name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Names start with a lowercase letter, then up to 62 lowercase letters, digits or underscores.';
    END IF;
    IF create_field.kind OPERATOR(pg_catalog.<>) ALL (ARRAY['text', 'email', 'phone', 'date', 'number', 'boolean']) THEN
        RAISE EXCEPTION 'unknown field kind "%"', create_field.kind
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The kinds are text, email, phone, date, number and boolean.';
    END IF;
    PERFORM accounts_internal.store_require_record();
    PERFORM accounts_internal.store_registry_lock();
    IF NOT accounts_internal.store_lock_account_type(create_field.account_type::pg_catalog.text) THEN
        RAISE EXCEPTION 'account type "%" does not exist', create_field.account_type
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create it first with accounts.create_account_type().';
    END IF;
    IF (SELECT pg_catalog.count(*) FROM accounts_internal.store_fields(create_field.account_type::pg_catalog.text))
       OPERATOR(pg_catalog.>=) 100 THEN
        RAISE EXCEPTION 'account type "%" has 100 fields already', create_field.account_type
            USING ERRCODE = 'program_limit_exceeded',
                  HINT = 'An account type has at most 100 fields; drop one with accounts.drop_field() first.';
    END IF;
    IF NOT accounts_internal.store_insert_field(create_field.account_type::pg_catalog.text,
                                                create_field.name::pg_catalog.text,
                                                create_field.kind::pg_catalog.text,
                                                create_field.personal::pg_catalog.bool) THEN
        RAISE EXCEPTION 'field "%" already exists for account type "%"', create_field.name, create_field.account_type
            USING ERRCODE = 'duplicate_object',
                  HINT = 'List the fields with SELECT * FROM accounts.account_fields.';
    END IF;
    PERFORM accounts_internal.journal_event(NULL::uuid, create_field.account_type::pg_catalog.text,
                                            'field.created'::pg_catalog.text,
                                            pg_catalog.jsonb_build_object('name', create_field.name,
                                                                          'kind', create_field.kind,
                                                                          'personal', create_field.personal));
END
$$;
COMMENT ON FUNCTION accounts.create_field(text, text, text, boolean) IS
    'Declare a field that accounts of a type may hold (kind text, email, phone, date, number or boolean; personal fields are erased by a redaction)';

CREATE OR REPLACE FUNCTION accounts.drop_field(account_type text, name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF drop_field.account_type IS NULL THEN
        RAISE EXCEPTION 'argument "account_type" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF drop_field.name IS NULL THEN
        RAISE EXCEPTION 'argument "name" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    PERFORM accounts_internal.store_require_record();
    PERFORM accounts_internal.require_read_committed('drop_field()'::pg_catalog.text);
    PERFORM accounts_internal.store_registry_lock();
    IF NOT accounts_internal.store_delete_field(drop_field.account_type::pg_catalog.text,
                                                drop_field.name::pg_catalog.text) THEN
        RAISE EXCEPTION 'field "%" does not exist for account type "%"', drop_field.name, drop_field.account_type
            USING ERRCODE = 'undefined_object',
                  HINT = 'List the fields with SELECT * FROM accounts.account_fields.';
    END IF;
    IF accounts_internal.store_field_in_use(drop_field.account_type::pg_catalog.text, drop_field.name::pg_catalog.text) THEN
        RAISE EXCEPTION 'field "%" of account type "%" is in use', drop_field.name, drop_field.account_type
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'Accounts hold values of it.',
                  HINT = pg_catalog.format('Remove the values first: accounts.set_fields(id, %L) for each account that has one.',
                                           pg_catalog.jsonb_build_object(drop_field.name, NULL::jsonb));
    END IF;
    PERFORM accounts_internal.journal_event(NULL::uuid, drop_field.account_type::pg_catalog.text,
                                            'field.dropped'::pg_catalog.text,
                                            pg_catalog.jsonb_build_object('name', drop_field.name));
END
$$;
COMMENT ON FUNCTION accounts.drop_field(text, text) IS
    'Drop a field that no account holds a value of';

CREATE OR REPLACE FUNCTION accounts.set_identifier_limit(account_type text, id_type text, max_per_account integer)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    over uuid;
    outcome text;
BEGIN
    IF set_identifier_limit.account_type IS NULL THEN
        RAISE EXCEPTION 'argument "account_type" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass an account type, an identifier type and a limit (NULL: none).';
    END IF;
    IF set_identifier_limit.id_type IS NULL THEN
        RAISE EXCEPTION 'argument "id_type" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass an account type, an identifier type and a limit (NULL: none).';
    END IF;
    IF set_identifier_limit.max_per_account OPERATOR(pg_catalog.<) 1 THEN
        RAISE EXCEPTION 'invalid limit %', set_identifier_limit.max_per_account
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A limit is at least 1; NULL removes it.';
    END IF;
    PERFORM accounts_internal.store_require_record();
    PERFORM accounts_internal.require_read_committed('set_identifier_limit()'::pg_catalog.text);
    PERFORM accounts_internal.store_registry_lock();
    -- waits for every creator of the type in progress (THE LIMIT IS A KEY)
    outcome := accounts_internal.store_set_identifier_limit(set_identifier_limit.account_type::pg_catalog.text,
                                                            set_identifier_limit.id_type::pg_catalog.text,
                                                            set_identifier_limit.max_per_account::pg_catalog.int4);
    IF outcome OPERATOR(pg_catalog.=) 'unchanged' THEN
        RETURN;
    END IF;
    IF outcome OPERATOR(pg_catalog.=) 'missing' THEN
        RAISE EXCEPTION 'identifier type "%" does not exist for account type "%"',
                        set_identifier_limit.id_type, set_identifier_limit.account_type
            USING ERRCODE = 'undefined_object',
                  HINT = 'List identifier types with SELECT * FROM accounts.identifier_types.';
    END IF;
    IF set_identifier_limit.max_per_account IS NOT NULL THEN
        over := accounts_internal.store_limit_violator(set_identifier_limit.account_type::pg_catalog.text,
                                                       set_identifier_limit.id_type::pg_catalog.text,
                                                       set_identifier_limit.max_per_account::pg_catalog.int4);
        IF over IS NOT NULL THEN
            RAISE EXCEPTION 'account % holds more than % identifiers of type "%"', over,
                            set_identifier_limit.max_per_account, set_identifier_limit.id_type
                USING ERRCODE = 'check_violation',
                      DETAIL = 'A limit applies to the accounts that exist too.',
                      HINT = 'Remove identifiers with accounts.remove_identifier() first, or choose a higher limit.';
        END IF;
    END IF;
    PERFORM accounts_internal.journal_event(NULL::uuid, set_identifier_limit.account_type::pg_catalog.text,
                                            'identifier_type.limited'::pg_catalog.text,
                                            pg_catalog.jsonb_build_object('name', set_identifier_limit.id_type,
                                                                          'max_per_account', set_identifier_limit.max_per_account));
END
$$;
COMMENT ON FUNCTION accounts.set_identifier_limit(text, text, integer) IS
    'Cap how many identifiers of a type one account may hold (NULL: no limit); 23514 if an account holds more already';

/*
 * Detach an identifier.  The account's row is updated to itself first: it
 * waits for a merge or redaction of the account, serializes removals from
 * it (an account never loses its last identifier), and makes a concurrent
 * removal under REPEATABLE READ fail with 40001 instead of counting with a
 * stale snapshot.
 */
CREATE OR REPLACE FUNCTION accounts.remove_identifier(account_id uuid, id_type text, value text)
    RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    acc_type text;
    norm text;
BEGIN
    IF remove_identifier.account_id IS NULL THEN
        RAISE EXCEPTION 'argument "account_id" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF remove_identifier.id_type IS NULL THEN
        RAISE EXCEPTION 'argument "id_type" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    IF remove_identifier.value IS NULL THEN
        RAISE EXCEPTION 'argument "value" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a value for every argument.';
    END IF;
    acc_type := accounts_internal.store_touch_account(remove_identifier.account_id::pg_catalog.uuid);
    IF acc_type IS NULL THEN
        RAISE EXCEPTION 'account % does not exist', remove_identifier.account_id
            USING ERRCODE = 'undefined_object',
                  HINT = 'Look accounts up with accounts.find_account().';
    END IF;
    norm := accounts.normalize_identifier(acc_type::pg_catalog.text,
                                          remove_identifier.id_type::pg_catalog.text,
                                          remove_identifier.value::pg_catalog.text);
    IF accounts_internal.store_find_identifier(acc_type::pg_catalog.text, remove_identifier.id_type::pg_catalog.text,
                                               norm::pg_catalog.text)
       IS DISTINCT FROM remove_identifier.account_id THEN
        RETURN false;
    END IF;
    IF (SELECT pg_catalog.count(*) FROM accounts_internal.store_identifiers(ARRAY[remove_identifier.account_id]::uuid[]))
       OPERATOR(pg_catalog.<=) 1 THEN
        RAISE EXCEPTION 'cannot remove the last identifier of account %', remove_identifier.account_id
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'An account always has at least one identifier.',
                  HINT = pg_catalog.format('Delete the account instead: DELETE FROM accounts.accounts WHERE id = %L.',
                                           remove_identifier.account_id);
    END IF;
    PERFORM accounts_internal.store_delete_identifier(acc_type::pg_catalog.text,
                                                      remove_identifier.id_type::pg_catalog.text,
                                                      norm::pg_catalog.text);
    PERFORM accounts_internal.journal_event(remove_identifier.account_id, acc_type,
                                            'identifier.removed'::pg_catalog.text,
                                            pg_catalog.jsonb_build_object('id_type', remove_identifier.id_type,
                                                                          'value', norm));
    RETURN true;
END
$$;
COMMENT ON FUNCTION accounts.remove_identifier(uuid, text, text) IS
    'Detach an identifier from an account: true if removed, false if the account does not have it; never its last one';

CREATE OR REPLACE FUNCTION accounts.find_accounts(type text, id_type text, vals text[])
    RETURNS TABLE (value text, account_id uuid)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    ROWS 1000
    AS $$
BEGIN
    -- find_account() takes the distributed path itself
    PERFORM accounts_internal.is_distributed();
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
