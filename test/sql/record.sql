-- The account record (1.8): declared fields, set_fields() as a JSON merge
-- patch, fields in merges and redactions; identifier limits; the merging
-- find-or-create (on_conflict => 'merge').  Every error with its SQLSTATE,
-- and that nothing is written on bad input.
\pset null '(null)'

CREATE FUNCTION pg_temp.tryx(stmt text)
RETURNS TABLE (code text, message text, detail text, hint text)
LANGUAGE sql AS $$
    SELECT t.code,
           regexp_replace(t.message, '[0-9a-f]{8}-[0-9a-f-]{27}', '<id>', 'g'),
           regexp_replace(t.detail, '[0-9a-f]{8}-[0-9a-f-]{27}', '<id>', 'g'),
           regexp_replace(t.hint, '[0-9a-f]{8}-[0-9a-f-]{27}', '<id>', 'g')
      FROM public.try(stmt) t
$$;
-- what was written: accounts, identifiers, events (compared before and after bad calls)
CREATE FUNCTION pg_temp.written() RETURNS text LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM accounts.accounts) || ' accounts, '
        || (SELECT count(*) FROM accounts.identifiers) || ' identifiers, '
        || (SELECT count(*) FROM accounts.events) || ' events, '
        || (SELECT md5(coalesce(string_agg(id::text || coalesce(fields::text, '-') || status, ',' ORDER BY id), ''))
              FROM accounts.accounts)
$$;
CREATE TEMP TABLE mark (base bigint);
INSERT INTO mark SELECT coalesce(max(seq), 0) FROM accounts.events;
-- the events since the mark, with account ids as names
CREATE TEMP TABLE acc (name text PRIMARY KEY, id uuid);
CREATE FUNCTION pg_temp.ev() RETURNS TABLE (account text, kind text, detail jsonb) LANGUAGE sql AS $$
    SELECT coalesce((SELECT a.name FROM acc a WHERE a.id = e.account_id), e.account_id::text), e.kind,
           (regexp_replace(e.detail::text, '[0-9a-f]{8}-[0-9a-f-]{27}', '<id>', 'g'))::jsonb
      FROM accounts.events e, mark WHERE e.seq > mark.base ORDER BY e.seq
$$;
CREATE FUNCTION pg_temp.id(n text) RETURNS uuid LANGUAGE sql AS $$ SELECT id FROM acc WHERE name = n $$;

SELECT accounts.create_account_type('person');
SELECT accounts.create_identifier_type('person', 'email', 'email');
SELECT accounts.create_identifier_type('person', 'phone', 'phone');

-- ---------------------------------------------------------------------
-- declaring fields
-- ---------------------------------------------------------------------
SELECT accounts.create_field('person', 'name');
SELECT accounts.create_field('person', 'contact_email', 'email');
SELECT accounts.create_field('person', 'mobile', 'phone');
SELECT accounts.create_field('person', 'birthdate', 'date');
SELECT accounts.create_field('person', 'score', 'number', personal => false);
SELECT accounts.create_field('person', 'verified', 'boolean', false);
SELECT accounts.create_field('person', 'plan', personal => false);
SELECT account_type, name, kind, personal FROM accounts.account_fields ORDER BY 1, 2;
SELECT * FROM pg_temp.ev();
UPDATE mark SET base = (SELECT max(seq) FROM accounts.events);

SELECT * FROM pg_temp.tryx($$SELECT accounts.create_field(NULL, 'x')$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.create_field('person', NULL)$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.create_field('person', 'x', NULL)$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.create_field('person', 'x', 'text', NULL)$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.create_field('person', 'Bad Name')$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.create_field('person', 'x', 'uuid')$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.create_field('nosuch', 'x')$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.create_field('person', 'name')$$);
SELECT count(*) AS no_events FROM pg_temp.ev();

-- ---------------------------------------------------------------------
-- set_fields(): a JSON merge patch, validated and normalized per kind
-- ---------------------------------------------------------------------
INSERT INTO acc SELECT 'ann', account_id FROM accounts.find_or_create_account('person', 'reference_id', 'p-ann');
SELECT accounts.set_fields(pg_temp.id('ann'), '{"name": "  Ann\u00a0Lee ", "contact_email": "Ann@Example.COM",
    "mobile": "+1 (415) 555-0100", "birthdate": "1990-04-01", "score": 4.50, "verified": true, "plan": "pro"}');
-- null removes; an unchanged value is no change
SELECT accounts.set_fields(pg_temp.id('ann'), '{"mobile": null, "score": 4.5, "plan": "pro"}');
-- nothing changed: the same fields, no event
SELECT accounts.set_fields(pg_temp.id('ann'), '{"mobile": null}');
SELECT accounts.set_fields(pg_temp.id('ann'), '{}');
SELECT account, kind, detail FROM pg_temp.ev();
SELECT fields FROM accounts.get_account(pg_temp.id('ann'));
UPDATE mark SET base = (SELECT max(seq) FROM accounts.events);

-- bad input: nothing written, whatever else the patch holds
CREATE TEMP TABLE before AS SELECT pg_temp.written() AS w;
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_fields(NULL, '{}')$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_fields(pg_temp.id('ann'), NULL)$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_fields(pg_temp.id('ann'), '[1]')$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_fields(pg_temp.id('ann'), '"x"')$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_fields('00000000-0000-0000-0000-000000000000', '{"name": "x"}')$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_fields(pg_temp.id('ann'), '{"name": "Bo", "nickname": "b"}')$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_fields(pg_temp.id('ann'), '{"name": "Bo", "birthdate": "1990-02-30"}')$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_fields(pg_temp.id('ann'), '{"birthdate": "01/04/1990"}')$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_fields(pg_temp.id('ann'), '{"birthdate": 19900401}')$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_fields(pg_temp.id('ann'), '{"score": "4.5"}')$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_fields(pg_temp.id('ann'), '{"verified": "yes"}')$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_fields(pg_temp.id('ann'), '{"name": 7}')$$);
-- (the message shows the invisible character, which psql's width rules count differently by version)
SELECT code, detail, hint FROM pg_temp.tryx($$SELECT accounts.set_fields(pg_temp.id('ann'), '{"name": " \u200b "}')$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_fields(pg_temp.id('ann'), '{"contact_email": "not an email"}')$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_fields(pg_temp.id('ann'), '{"mobile": "12"}')$$);
SELECT * FROM pg_temp.tryx(format($$SELECT accounts.set_fields(pg_temp.id('ann'), '{"name": "%s"}')$$, repeat('x', 2049)));
SELECT pg_temp.written() = w AS nothing_written FROM before;
SELECT count(*) AS no_events FROM pg_temp.ev();

-- ---------------------------------------------------------------------
-- identifier limits
-- ---------------------------------------------------------------------
INSERT INTO acc SELECT 'bob', account_id FROM accounts.find_or_create_account('person',
    ARRAY[('reference_id', 'p-bob'), ('email', 'bob@example.com'), ('email', 'bob2@example.com')]::accounts.identifier[]);
UPDATE mark SET base = (SELECT max(seq) FROM accounts.events);
-- bob holds two emails: a limit of 1 is refused, nothing changed
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_identifier_limit('person', 'email', 1)$$);
SELECT name, max_per_account FROM accounts.identifier_types WHERE account_type = 'person' ORDER BY 1;
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_identifier_limit(NULL, 'email', 1)$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_identifier_limit('person', NULL, 1)$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_identifier_limit('person', 'email', 0)$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_identifier_limit('person', 'fax', 1)$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_identifier_limit('nosuch', 'email', 1)$$);
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_identifier_limit('person', 'email', 5)$$);
ROLLBACK;
SELECT accounts.set_identifier_limit('person', 'email', 2);
SELECT accounts.set_identifier_limit('person', 'email', 2);   -- unchanged: no event
SELECT accounts.set_identifier_limit('person', 'reference_id', 1);
SELECT name, max_per_account FROM accounts.identifier_types WHERE account_type = 'person' ORDER BY 1;
SELECT account, kind, detail FROM pg_temp.ev();
UPDATE mark SET base = (SELECT max(seq) FROM accounts.events);

DELETE FROM before;
INSERT INTO before SELECT pg_temp.written();
-- add_identifier beyond the limit: 23514; one already held is no addition
SELECT * FROM pg_temp.tryx($$SELECT accounts.add_identifier(pg_temp.id('bob'), 'email', 'bob3@example.com')$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.add_identifier(pg_temp.id('bob'), 'reference_id', 'p-bob-2')$$);
SELECT accounts.add_identifier(pg_temp.id('bob'), 'email', 'BOB2@example.com') AS added;
-- the multi-identifier call: creating or attaching beyond it
SELECT * FROM pg_temp.tryx($$SELECT accounts.find_or_create_account('person',
    ARRAY[('email', 'x1@example.com'), ('email', 'x2@example.com'), ('email', 'x3@example.com')]::accounts.identifier[])$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.find_or_create_account('person',
    ARRAY[('reference_id', 'p-bob'), ('email', 'bob4@example.com')]::accounts.identifier[])$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.find_or_create_account('person',
    ARRAY[('reference_id', 'p-new'), ('reference_id', 'p-new-2')]::accounts.identifier[])$$);
SELECT pg_temp.written() = w AS nothing_written FROM before;
-- within the limit
SELECT created FROM accounts.find_or_create_account('person',
    ARRAY[('email', 'x1@example.com'), ('email', 'x2@example.com')]::accounts.identifier[]);
SELECT accounts.add_identifier(pg_temp.id('ann'), 'email', 'ann@example.com') AS added;
-- NULL removes the limit
SELECT accounts.set_identifier_limit('person', 'email', NULL);
SELECT accounts.add_identifier(pg_temp.id('bob'), 'email', 'bob3@example.com') AS added;
SELECT account, kind, detail FROM pg_temp.ev() WHERE kind LIKE 'identifier_type.%';
SELECT accounts.set_identifier_limit('person', 'email', 3);

-- ---------------------------------------------------------------------
-- merges: fields kept and filled, limits, the merged account's fields
-- ---------------------------------------------------------------------
INSERT INTO acc SELECT 'cy', account_id FROM accounts.find_or_create_account('person', 'phone', '+1 415 555 0111');
INSERT INTO acc SELECT 'di', account_id FROM accounts.find_or_create_account('person', 'phone', '+1 415 555 0112');
SELECT accounts.set_fields(pg_temp.id('cy'), '{"name": "Cy", "birthdate": "1980-01-01"}');
SELECT accounts.set_fields(pg_temp.id('di'), '{"name": "Di", "birthdate": "1970-01-01", "plan": "free", "verified": false}');
INSERT INTO acc SELECT 'eve', account_id FROM accounts.find_or_create_account('person', 'phone', '+1 415 555 0113');
SELECT accounts.set_fields(pg_temp.id('eve'), '{"name": "Eve"}');
UPDATE mark SET base = (SELECT max(seq) FROM accounts.events);
-- the survivor keeps its fields; the sources fill those it lacks, oldest
-- first: cy's birthdate, then di's plan and verified
SELECT accounts.merge_accounts(pg_temp.id('eve'), ARRAY[pg_temp.id('di'), pg_temp.id('cy')]);
SELECT name, fields FROM acc, accounts.get_account(acc.id) WHERE name IN ('eve', 'cy', 'di') ORDER BY name;
SELECT account, kind, detail FROM pg_temp.ev();
-- and into ann, which has all of them already: nothing to fill
SELECT accounts.merge_accounts(pg_temp.id('ann'), ARRAY[pg_temp.id('eve')]);
SELECT name, fields FROM acc, accounts.get_account(acc.id) WHERE name IN ('ann', 'eve') ORDER BY name;
SELECT account, kind, detail FROM pg_temp.ev() WHERE kind = 'account.fields_updated';
-- a merged account takes no fields
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_fields(pg_temp.id('cy'), '{"name": "x"}')$$);
-- merging beyond a limit: 23514, nothing written
DELETE FROM before;
INSERT INTO before SELECT pg_temp.written();
SELECT * FROM pg_temp.tryx($$SELECT accounts.merge_accounts(pg_temp.id('ann'), ARRAY[pg_temp.id('bob')])$$);
SELECT pg_temp.written() = w AS nothing_written FROM before;

-- ---------------------------------------------------------------------
-- redaction erases personal fields, here and in the events
-- ---------------------------------------------------------------------
UPDATE mark SET base = (SELECT min(seq) - 1 FROM accounts.events WHERE account_id IN (pg_temp.id('ann'), pg_temp.id('cy'), pg_temp.id('di'), pg_temp.id('eve')));
SELECT accounts.redact_account(pg_temp.id('ann'));
SELECT fields FROM accounts.get_account(pg_temp.id('ann'));
SELECT account, kind, detail FROM pg_temp.ev() WHERE kind IN ('account.fields_updated', 'account.redacted');
-- a redacted account takes non-personal fields only
SELECT accounts.set_fields(pg_temp.id('ann'), '{"plan": "gold", "score": null}');
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_fields(pg_temp.id('ann'), '{"plan": "x", "name": "Ann"}')$$);
SELECT fields FROM accounts.get_account(pg_temp.id('ann'));
-- no per-value statistics of fields (docs/privacy.md)
SELECT attname, attstattarget FROM pg_attribute WHERE attrelid = 'accounts.accounts'::regclass AND attname = 'fields';

-- ---------------------------------------------------------------------
-- dropping fields
-- ---------------------------------------------------------------------
UPDATE mark SET base = (SELECT max(seq) FROM accounts.events);
SELECT * FROM pg_temp.tryx($$SELECT accounts.drop_field('person', 'plan')$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.drop_field('person', 'nosuch')$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.drop_field(NULL, 'plan')$$);
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT * FROM pg_temp.tryx($$SELECT accounts.drop_field('person', 'mobile')$$);
ROLLBACK;
SELECT accounts.drop_field('person', 'mobile');
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_fields(pg_temp.id('bob'), '{"mobile": "+14155550100"}')$$);
SELECT account, kind, detail FROM pg_temp.ev();
-- at most 100 fields per account type
DO $$ BEGIN FOR i IN 1..94 LOOP PERFORM accounts.create_field('person', 'f' || i); END LOOP; END $$;
SELECT count(*) FROM accounts.account_fields WHERE account_type = 'person';
SELECT * FROM pg_temp.tryx($$SELECT accounts.create_field('person', 'one_too_many')$$);

-- ---------------------------------------------------------------------
-- identity resolution: find_or_create_account(..., on_conflict => 'merge')
-- ---------------------------------------------------------------------
SELECT accounts.create_account_type('visitor');
SELECT accounts.create_identifier_type('visitor', 'email', 'email');
SELECT accounts.create_identifier_type('visitor', 'device', 'text');
SELECT accounts.create_field('visitor', 'name');
INSERT INTO acc SELECT 'v1', account_id FROM accounts.find_or_create_account('visitor', 'reference_id', 'v-1');
INSERT INTO acc SELECT 'v2', account_id FROM accounts.find_or_create_account('visitor', 'email', 'v2@example.com');
INSERT INTO acc SELECT 'v3', account_id FROM accounts.find_or_create_account('visitor', 'device', 'dev-3');
SELECT accounts.set_fields(pg_temp.id('v3'), '{"name": "Vee"}');
UPDATE mark SET base = (SELECT max(seq) FROM accounts.events);
-- the default is today's 21000, nothing written
SELECT * FROM pg_temp.tryx($$SELECT accounts.find_or_create_account('visitor',
    ARRAY[('reference_id', 'v-1'), ('email', 'v2@example.com')]::accounts.identifier[])$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.find_or_create_account('visitor',
    ARRAY[('reference_id', 'v-1'), ('email', 'v2@example.com')]::accounts.identifier[], 'error')$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.find_or_create_account('visitor',
    ARRAY[('reference_id', 'v-1'), ('email', 'v2@example.com')]::accounts.identifier[], 'Merge')$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.find_or_create_account('visitor',
    ARRAY[('reference_id', 'v-1'), ('email', 'v2@example.com')]::accounts.identifier[], NULL)$$);
BEGIN READ ONLY;
SELECT * FROM pg_temp.tryx($$SELECT accounts.find_or_create_account('visitor',
    ARRAY[('reference_id', 'v-1'), ('email', 'v2@example.com')]::accounts.identifier[], 'merge')$$);
ROLLBACK;
SELECT count(*) AS no_events FROM pg_temp.ev();
-- merged into the oldest, the missing identifier attached, created = false
SELECT pg_temp.id('v1') = account_id AS survivor_is_oldest, created
  FROM accounts.find_or_create_account('visitor',
    ARRAY[('email', 'v2@example.com'), ('device', 'dev-3'), ('reference_id', 'v-1'), ('email', 'v4@example.com')]::accounts.identifier[],
    on_conflict => 'merge');
SELECT name, status, CASE WHEN merged_into = pg_temp.id('v1') THEN 'v1' END AS merged_into, identifiers, fields
  FROM acc, accounts.get_account(acc.id) WHERE name LIKE 'v_' ORDER BY name;
SELECT account, kind, detail FROM pg_temp.ev();
-- again: a hit, nothing written
UPDATE mark SET base = (SELECT max(seq) FROM accounts.events);
SELECT pg_temp.id('v1') = account_id AS same, created FROM accounts.find_or_create_account('visitor',
    ARRAY[('email', 'v2@example.com'), ('device', 'dev-3')]::accounts.identifier[], on_conflict => 'merge');
SELECT count(*) AS no_events FROM pg_temp.ev();
-- no conflict: as the default (a new account, or an attach)
SELECT created FROM accounts.find_or_create_account('visitor',
    ARRAY[('email', 'v5@example.com'), ('device', 'dev-5')]::accounts.identifier[], on_conflict => 'merge');
-- a redacted account is not merged (55000, nothing written)
INSERT INTO acc SELECT 'v6', account_id FROM accounts.find_or_create_account('visitor',
    ARRAY[('reference_id', 'v-6'), ('device', 'dev-6')]::accounts.identifier[]);
SELECT accounts.redact_account(pg_temp.id('v6'));
DELETE FROM before;
INSERT INTO before SELECT pg_temp.written();
SELECT * FROM pg_temp.tryx($$SELECT accounts.find_or_create_account('visitor',
    ARRAY[('reference_id', 'v-6'), ('email', 'v5@example.com')]::accounts.identifier[], on_conflict => 'merge')$$);
-- with a limit of 1 reference id, two people with their own ids are never merged
SELECT accounts.set_identifier_limit('visitor', 'reference_id', 1);
INSERT INTO acc SELECT 'v7', account_id FROM accounts.find_or_create_account('visitor',
    ARRAY[('reference_id', 'v-7'), ('device', 'dev-7')]::accounts.identifier[]);
SELECT * FROM pg_temp.tryx($$SELECT accounts.find_or_create_account('visitor',
    ARRAY[('reference_id', 'v-1'), ('device', 'dev-7')]::accounts.identifier[], on_conflict => 'merge')$$);
SELECT pg_temp.written() = w AS nothing_written FROM before;
-- a merged account resolves to its survivor
SELECT accounts.resolve_account(pg_temp.id('v3')) = pg_temp.id('v1') AS resolves;
-- under REPEATABLE READ on one node the merging call works too
INSERT INTO acc SELECT 'v8', account_id FROM accounts.find_or_create_account('visitor', 'device', 'dev-8');
INSERT INTO acc SELECT 'v9', account_id FROM accounts.find_or_create_account('visitor', 'device', 'dev-9');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT pg_temp.id('v8') = account_id AS oldest, created FROM accounts.find_or_create_account('visitor',
    ARRAY[('device', 'dev-9'), ('device', 'dev-8')]::accounts.identifier[], on_conflict => 'merge');
COMMIT;
SELECT status FROM accounts.get_account(pg_temp.id('v9'));

-- the tables are consistent: every identifier on a live account, no merged account holds anything
SELECT count(*) AS identifiers_on_merged FROM accounts.identifiers i JOIN accounts.accounts a ON a.id = i.account_id
 WHERE a.status = 'merged';
SELECT count(*) AS fields_on_merged FROM accounts.accounts WHERE status = 'merged' AND fields IS NOT NULL;
