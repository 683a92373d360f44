/*
 * THE ACCOUNT RECORD (1.8)
 * ========================
 *
 * Besides its identifiers, an account holds fields: values of the fields
 * declared for its account type (accounts.create_field(), 30_registry.sql),
 * in accounts.accounts.fields (on Citus dist_accounts.fields, on the
 * account's shard), a JSON object.  Every rule of the record is written
 * here, once, over the storage layer (40_storage.sql):
 *
 *   - set_fields() applies a JSON merge patch (RFC 7396: a key with null
 *     removes the field) after validating every key and value: nothing is
 *     written unless all of it is valid;
 *   - a value is normalized for its field's kind: text (trimmed, NFC,
 *     invisible characters dropped, case kept), email and phone (as
 *     identifiers of those kinds), date (YYYY-MM-DD), number, boolean;
 *   - a merged account takes no field writes (55000); a redacted one takes
 *     none of its personal fields (55000);
 *   - a merge keeps the survivor's fields and fills those it lacks from
 *     the sources, oldest first (merge_core(), 50_lifecycle.sql); a
 *     redaction erases every personal field, here and in the account's
 *     earlier account.fields_updated events (redact_account());
 *   - every change is one account.fields_updated event naming the changed
 *     fields with their new values (null: removed).
 *
 * Locks: set_fields() holds the account's row FOR NO KEY UPDATE, as
 * tagging does (it waits for a merge or redaction, and then sees it;
 * attaches go on), and the declarations it writes FOR KEY SHARE
 * (lock_fields(), src/record.c, in this node's registry), so that
 * drop_field() waits for it and then finds its values (2BP01).
 */
CREATE OR REPLACE FUNCTION accounts_internal.lock_fields(account_type text, names text[]) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'account_lock_fields'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION accounts_internal.lock_fields(text, text[]) IS
    'Internal (set_fields): the declarations of the named fields, held FOR KEY SHARE in this node''s registry, as {name: {kind, personal}}';

CREATE OR REPLACE FUNCTION accounts_internal.normalize_field(account_type text, name text, kind text, value text)
    RETURNS text
    AS 'MODULE_PATHNAME', 'account_normalize_field'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION accounts_internal.normalize_field(text, text, text, text) IS
    'Internal (set_fields): a text, email or phone field value normalized as an identifier of that kind (text keeps its case)';

/* A field value, validated and normalized for the field's kind; 22023, 22007 or a normalizer's error. */
CREATE OR REPLACE FUNCTION accounts_internal.field_value(account_type text, name text, kind text, value jsonb)
    RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    got text := pg_catalog.jsonb_typeof(field_value.value);
    want text := CASE field_value.kind WHEN 'number' THEN 'number' WHEN 'boolean' THEN 'boolean' ELSE 'string' END;
    d date;
BEGIN
    IF got OPERATOR(pg_catalog.<>) want THEN
        RAISE EXCEPTION 'field "%" of kind % takes a JSON %, got %: %', field_value.name, field_value.kind, want, got,
                        pg_catalog.left(field_value.value::text, 64)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = CASE field_value.kind
                             WHEN 'date' THEN 'Pass the date as a string, e.g. "1990-04-01"; null removes the field.'
                             WHEN 'number' THEN 'Pass a JSON number, e.g. 42; null removes the field.'
                             WHEN 'boolean' THEN 'Pass true or false; null removes the field.'
                             ELSE 'Pass a JSON string; null removes the field.' END;
    END IF;
    IF field_value.kind OPERATOR(pg_catalog.=) ANY (ARRAY['text', 'email', 'phone']) THEN
        RETURN pg_catalog.to_jsonb(accounts_internal.normalize_field(field_value.account_type, field_value.name,
                                                                     field_value.kind,
                                                                     field_value.value OPERATOR(pg_catalog.#>>) '{}'));
    END IF;
    IF field_value.kind OPERATOR(pg_catalog.=) 'date' THEN
        BEGIN
            IF (field_value.value OPERATOR(pg_catalog.#>>) '{}') OPERATOR(pg_catalog.!~) '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
                RAISE invalid_datetime_format;
            END IF;
            d := (field_value.value OPERATOR(pg_catalog.#>>) '{}')::date;
        EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow THEN
            RAISE EXCEPTION 'invalid date for field "%": %', field_value.name,
                            pg_catalog.left(field_value.value::text, 64)
                USING ERRCODE = 'invalid_datetime_format',
                      HINT = 'Pass a calendar date as YYYY-MM-DD, e.g. "1990-04-01".';
        END;
        RETURN pg_catalog.to_jsonb(pg_catalog.to_char(d, 'YYYY-MM-DD'));
    END IF;
    RETURN field_value.value;
END
$$;
COMMENT ON FUNCTION accounts_internal.field_value(text, text, text, jsonb) IS
    'Internal (set_fields): a field value validated and normalized for its kind';

CREATE OR REPLACE FUNCTION accounts.set_fields(account_id uuid, fields jsonb) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t accounts_internal.account_row;
    decls jsonb := '{}';
    kinds jsonb;
    names text[];
    result jsonb;
    changed jsonb := '{}';
    v jsonb;
BEGIN
    IF set_fields.account_id IS NULL THEN
        RAISE EXCEPTION 'argument "account_id" must not be null' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass the id of the account.';
    END IF;
    IF set_fields.fields IS NULL THEN
        RAISE EXCEPTION 'argument "fields" must not be null' USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Pass a JSON object, e.g. ''{"name": "Ann"}''; a key with null removes that field.';
    END IF;
    IF pg_catalog.jsonb_typeof(set_fields.fields) OPERATOR(pg_catalog.<>) 'object' THEN
        RAISE EXCEPTION 'argument "fields" must be a JSON object, got %', pg_catalog.jsonb_typeof(set_fields.fields)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass a JSON object, e.g. ''{"name": "Ann"}''; a key with null removes that field.';
    END IF;
    PERFORM accounts_internal.store_require_record();
    t := accounts_internal.lock_live_account(set_fields.account_id, 'no key update'::pg_catalog.text,
                                            'Set the fields of'::pg_catalog.text, 'A merged account holds no fields.'::pg_catalog.text);
    -- every key declared, each declaration held until the end (drop_field())
    names := ARRAY(SELECT k FROM pg_catalog.jsonb_object_keys(set_fields.fields) k ORDER BY 1);
    decls := accounts_internal.lock_fields(t.account_type::pg_catalog.text, names);
    result := COALESCE(t.fields, '{}');
    FOR i IN 1 .. COALESCE(pg_catalog.cardinality(names), 0) LOOP
        kinds := decls OPERATOR(pg_catalog.->) names[i];
        IF kinds IS NULL THEN
            RAISE EXCEPTION 'field "%" is not declared for account type "%"', names[i], t.account_type
                USING ERRCODE = 'undefined_object',
                      HINT = pg_catalog.format('Declare it with accounts.create_field(%L, %L), or list the fields with SELECT * FROM accounts.account_fields WHERE account_type = %L.',
                                               t.account_type, names[i], t.account_type);
        END IF;
        v := set_fields.fields OPERATOR(pg_catalog.->) names[i];
        IF v OPERATOR(pg_catalog.=) 'null'::jsonb THEN
            IF result OPERATOR(pg_catalog.?) names[i] THEN
                result := result OPERATOR(pg_catalog.-) names[i];
                changed := changed OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(names[i], NULL::jsonb);
            END IF;
            CONTINUE;
        END IF;
        IF t.status OPERATOR(pg_catalog.=) 'redacted'::accounts.account_status
           AND (kinds OPERATOR(pg_catalog.->>) 'personal')::boolean THEN
            RAISE EXCEPTION 'account % is redacted', set_fields.account_id
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = pg_catalog.format('Field "%s" is personal; a redacted account takes no personal data.', names[i]),
                      HINT = 'Only fields declared with personal => false can be set on a redacted account.';
        END IF;
        v := accounts_internal.field_value(t.account_type::pg_catalog.text, names[i]::pg_catalog.text,
                                           kinds OPERATOR(pg_catalog.->>) 'kind', v);
        IF (result OPERATOR(pg_catalog.->) names[i]) IS DISTINCT FROM v THEN
            result := result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(names[i], v);
            changed := changed OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(names[i], v);
        END IF;
    END LOOP;
    IF changed OPERATOR(pg_catalog.<>) '{}'::jsonb THEN
        PERFORM accounts_internal.store_set_fields(set_fields.account_id,
                                                   NULLIF(result, '{}'::jsonb));
        PERFORM accounts_internal.journal_event(set_fields.account_id, t.account_type,
                                                'account.fields_updated'::pg_catalog.text,
                                                pg_catalog.jsonb_build_object('fields', changed));
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION accounts.set_fields(uuid, jsonb) IS
    'Apply a JSON merge patch to the account''s fields (null removes a field); returns its fields afterwards';
