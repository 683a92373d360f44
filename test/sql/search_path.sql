-- search_path immunity, tested like an attacker: a schema first on the
-- search_path (even before pg_catalog) defines look-alikes of what the
-- extension might call.  Every API function is called; none of the
-- look-alikes may run, and the results must be right.
CREATE SCHEMA evil;
CREATE TABLE evil.calls (fn text);

CREATE FUNCTION evil.log(fn text) RETURNS void LANGUAGE sql
    AS $$ INSERT INTO evil.calls VALUES (fn) $$;
-- text functions
CREATE FUNCTION evil.lower(text) RETURNS text LANGUAGE sql AS $$ SELECT evil.log('lower'); SELECT 'hijacked'::text $$;
CREATE FUNCTION evil.upper(text) RETURNS text LANGUAGE sql AS $$ SELECT evil.log('upper'); SELECT 'hijacked'::text $$;
CREATE FUNCTION evil.btrim(text) RETURNS text LANGUAGE sql AS $$ SELECT evil.log('btrim'); SELECT 'hijacked'::text $$;
CREATE FUNCTION evil.normalize(text) RETURNS text LANGUAGE sql AS $$ SELECT evil.log('normalize'); SELECT 'hijacked'::text $$;
CREATE FUNCTION evil.format(text, text) RETURNS text LANGUAGE sql AS $$ SELECT evil.log('format'); SELECT 'hijacked'::text $$;
CREATE FUNCTION evil.textcat(text, text) RETURNS text LANGUAGE sql AS $$ SELECT evil.log('textcat'); SELECT 'hijacked'::text $$;
CREATE FUNCTION evil.hashtextextended(text, bigint) RETURNS bigint LANGUAGE sql AS $$ SELECT evil.log('hashtextextended'); SELECT 0::bigint $$;
-- comparison operators on text and uuid
CREATE FUNCTION evil.texteq(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT evil.log('text ='); SELECT true $$;
CREATE FUNCTION evil.textne(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT evil.log('text <>'); SELECT false $$;
CREATE FUNCTION evil.textre(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT evil.log('text ~'); SELECT true $$;
CREATE FUNCTION evil.textnre(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT evil.log('text !~'); SELECT false $$;
CREATE FUNCTION evil.uuideq(uuid, uuid) RETURNS boolean LANGUAGE sql AS $$ SELECT evil.log('uuid ='); SELECT true $$;
CREATE FUNCTION evil.int8gt(bigint, integer) RETURNS boolean LANGUAGE sql AS $$ SELECT evil.log('bigint >'); SELECT false $$;
CREATE FUNCTION evil.int8le(bigint, integer) RETURNS boolean LANGUAGE sql AS $$ SELECT evil.log('bigint <='); SELECT false $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.texteq);
CREATE OPERATOR evil.<> (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.textne);
CREATE OPERATOR evil.~ (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.textre);
CREATE OPERATOR evil.!~ (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.textnre);
CREATE OPERATOR evil.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = evil.uuideq);
CREATE OPERATOR evil.> (LEFTARG = bigint, RIGHTARG = integer, FUNCTION = evil.int8gt);
CREATE OPERATOR evil.<= (LEFTARG = bigint, RIGHTARG = integer, FUNCTION = evil.int8le);
-- uuid and time functions
CREATE FUNCTION evil.gen_random_uuid() RETURNS uuid LANGUAGE sql AS $$ SELECT evil.log('gen_random_uuid'); SELECT '00000000-0000-0000-0000-000000000000'::uuid $$;
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT evil.log('now'); SELECT 'epoch'::timestamptz $$;
CREATE FUNCTION evil.clock_timestamp() RETURNS timestamptz LANGUAGE sql AS $$ SELECT evil.log('clock_timestamp'); SELECT 'epoch'::timestamptz $$;
CREATE FUNCTION evil.count(bigint) RETURNS bigint LANGUAGE sql AS $$ SELECT evil.log('count'); SELECT 0::bigint $$;
-- look-alike tables in the attacker's schema
CREATE TABLE evil.identifiers (account_type text, id_type text, value text, account_id uuid);
CREATE TABLE evil.accounts (id uuid, account_type text);
CREATE TABLE evil.identifier_types (account_type text, name text, kind text, case_sensitive boolean);
CREATE TABLE public.inquiries (id int, reference_id text, account_id uuid);
CREATE TRIGGER assign BEFORE INSERT ON public.inquiries FOR EACH ROW EXECUTE FUNCTION
    accounts.assign_account('user', 'reference_id', 'reference_id', 'account_id');

-- the look-alikes work when reached by name: the trap is armed
SET search_path = evil, pg_catalog, public;
SELECT lower('X') AS armed, 'a' = 'b' AS armed_operator;
SELECT count(*) AS armed_calls FROM evil.calls;
TRUNCATE evil.calls;

-- every API function, with the attacker's search_path
CREATE TEMP TABLE results AS
SELECT 'find_or_create' AS fn, (accounts.find_or_create_account('user', 'reference_id', ' SP-1 ')).created::text AS result
UNION ALL SELECT 'find_or_create again', (accounts.find_or_create_account('user', 'reference_id', 'sp-1')).created::text
UNION ALL SELECT 'composite', (accounts.find_or_create_account('user', ROW('reference_id', 'sp-2')::accounts.identifier)).created::text
UNION ALL SELECT 'normalize', accounts.normalize_identifier('user', 'reference_id', ' ÉCOLE ');
INSERT INTO results SELECT 'find_account', (accounts.find_account('user', 'reference_id', 'SP-1') IS NOT NULL)::text;
INSERT INTO results SELECT 'bulk ' || value, created::text
  FROM accounts.find_or_create_accounts('user', 'reference_id', ARRAY['sp-3', 'SP-3']);
INSERT INTO results SELECT 'try', coalesce(error_code, 'ok') FROM accounts.try_find_or_create_account('user', 'reference_id', 'sp-4');
INSERT INTO results SELECT 'try error', error_code FROM accounts.try_find_or_create_account('user', 'reference_id', '  ');
SELECT accounts.create_account_type('sp_type');
SELECT accounts.create_identifier_type('sp_type', 'email', 'email');
INSERT INTO results SELECT 'multi', created::text
  FROM accounts.find_or_create_account('sp_type', ARRAY[('email', 'A@B.C'), ('reference_id', 'sp-5')]::accounts.identifier[]);
INSERT INTO results SELECT 'add_identifier', accounts.add_identifier(accounts.find_account('user', 'reference_id', 'sp-1'), 'reference_id', 'sp-1-alias')::text;
INSERT INTO results SELECT 'remove_identifier', accounts.remove_identifier(accounts.find_account('user', 'reference_id', 'sp-1'), 'reference_id', 'sp-1-alias')::text;
INSERT INTO public.inquiries (id, reference_id) VALUES (1, 'sp-1'), (2, 'sp-6');
SELECT accounts.remove_identifier(accounts.find_account('sp_type', 'email', 'a@b.c'), 'email', 'a@b.c');
SELECT accounts.drop_identifier_type('sp_type', 'email');
RESET search_path;
-- (the test's own cleanup must not run under the attacker's path: its '='
-- would be evil.= and match every row)
DELETE FROM accounts.accounts WHERE account_type = 'sp_type';
SET search_path = evil, pg_catalog, public;
SELECT accounts.drop_account_type('sp_type');
RESET search_path;

-- none of the look-alikes ran
SELECT count(*) AS hijacked_calls, string_agg(DISTINCT fn, ', ') AS which FROM evil.calls;
-- and everything did the right thing
SELECT fn, result FROM results ORDER BY fn;
SELECT i.id, i.account_id = accounts.find_account('user', 'reference_id', i.reference_id) AS right_account
  FROM public.inquiries i ORDER BY i.id;
SELECT count(*) AS evil_rows FROM evil.identifiers;
SELECT value FROM accounts.identifiers WHERE value LIKE 'sp-%' ORDER BY value;
SELECT count(*) AS sp_type_left FROM accounts.account_types WHERE name = 'sp_type';

DROP TABLE public.inquiries;
DROP SCHEMA evil CASCADE;
