-- The account lifecycle: merge, resolve, redact, archive/restore, tags,
-- get_account, find_accounts, and the errors of each (nothing written).
\pset null '(null)'

-- try() with account ids masked: messages and hints name them
CREATE FUNCTION pg_temp.tryx(stmt text)
RETURNS TABLE (code text, message text, detail text, hint text)
LANGUAGE sql AS $$
    SELECT t.code,
           regexp_replace(t.message, '[0-9a-f]{8}-[0-9a-f-]{27}', '<id>', 'g'),
           regexp_replace(t.detail, '[0-9a-f]{8}-[0-9a-f-]{27}', '<id>', 'g'),
           regexp_replace(t.hint, '[0-9a-f]{8}-[0-9a-f-]{27}', '<id>', 'g')
      FROM public.try(stmt) t
$$;

SELECT accounts.create_account_type('member');
SELECT accounts.create_identifier_type('member', 'email', 'email');
SELECT accounts.create_identifier_type('member', 'phone', 'phone');

-- three accounts: a (two identifiers), b (two), c (one); and one of another type
CREATE TEMP TABLE acc (name text PRIMARY KEY, id uuid);
INSERT INTO acc SELECT 'a', account_id FROM accounts.find_or_create_account('member',
    ARRAY[('reference_id', 'm-a'), ('email', 'a@example.com')]::accounts.identifier[]);
INSERT INTO acc SELECT 'b', account_id FROM accounts.find_or_create_account('member',
    ARRAY[('reference_id', 'm-b'), ('email', 'b@example.com')]::accounts.identifier[]);
INSERT INTO acc SELECT 'c', account_id FROM accounts.find_or_create_account('member', 'phone', '+1 415 555 0199');
INSERT INTO acc SELECT 'd', account_id FROM accounts.find_or_create_account('member', 'reference_id', 'm-d');
INSERT INTO acc SELECT 'u', account_id FROM accounts.find_or_create_account('user', 'reference_id', 'lifecycle-u');
CREATE FUNCTION pg_temp.id(n text) RETURNS uuid LANGUAGE sql AS $$ SELECT id FROM acc WHERE name = n $$;
CREATE FUNCTION pg_temp.name_of(i uuid) RETURNS text LANGUAGE sql AS $$ SELECT coalesce((SELECT name FROM acc WHERE id = i), 'unknown') $$;

-- new accounts are active, untagged, never updated
SELECT status, merged_into, tags, updated_at = created_at AS updated_is_created, redacted_at
  FROM accounts.get_account(pg_temp.id('a'));

-- tags: normalized, deduplicated, sorted; untag; a set per account
SELECT accounts.tag_account(pg_temp.id('a'), ARRAY[' VIP', 'beta', 'vip']);
SELECT accounts.tag_account(pg_temp.id('b'), ARRAY['Churn_Risk']);
SELECT accounts.untag_account(pg_temp.id('a'), ARRAY['BETA', 'nosuch']);
SELECT accounts.tag_account(pg_temp.id('a'), '{}');
SELECT pg_temp.name_of(x) FROM accounts.accounts_with_tag('member', 'VIP') x;
SELECT count(*) FROM accounts.accounts_with_tag('user', 'vip');
SELECT * FROM pg_temp.tryx($$SELECT accounts.tag_account(pg_temp.id('a'), ARRAY['no spaces'])$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.tag_account(pg_temp.id('a'), ARRAY['ok', NULL])$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.tag_account(pg_temp.id('a'), NULL)$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.tag_account(NULL, ARRAY['x'])$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.tag_account(gen_random_uuid(), ARRAY['x'])$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.tag_account(pg_temp.id('a'),
    ARRAY(SELECT 't' || g FROM generate_series(1, 65) g))$$);
SELECT tags FROM accounts.accounts WHERE id = pg_temp.id('a');   -- unchanged by the errors
SELECT * FROM pg_temp.tryx($$SELECT accounts.accounts_with_tag('member', NULL)$$);

-- archive and restore: still found, created = false
SELECT accounts.archive_account(pg_temp.id('c'));
SELECT accounts.archive_account(pg_temp.id('c'));              -- already archived: false
SELECT status FROM accounts.get_account(pg_temp.id('c'));
SELECT pg_temp.name_of(account_id), created FROM accounts.find_or_create_account('member', 'phone', '+14155550199');
SELECT accounts.add_identifier(pg_temp.id('c'), 'email', 'c@example.com');  -- an archived account takes identifiers
SELECT accounts.restore_account(pg_temp.id('c'));
SELECT status, updated_at >= created_at AS updated FROM accounts.get_account(pg_temp.id('c'));
SELECT * FROM pg_temp.tryx($$SELECT accounts.archive_account(gen_random_uuid())$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.restore_account(NULL)$$);

-- find_accounts: many values at once, in input order, NULL when none, never writes
CREATE TEMP TABLE n0 AS SELECT count(*) AS n FROM accounts.accounts;
SELECT value, pg_temp.name_of(account_id) FROM accounts.find_accounts('member', 'reference_id',
    ARRAY['M-B', 'nosuch', ' m-a ', 'm-b']);
SELECT count(*) = (SELECT n FROM n0) AS nothing_written FROM accounts.accounts;
SELECT count(*) FROM accounts.find_accounts('member', 'reference_id', '{}');
SELECT * FROM pg_temp.tryx($$SELECT * FROM accounts.find_accounts('member', 'reference_id', ARRAY['x', NULL])$$);
SELECT * FROM pg_temp.tryx($$SELECT * FROM accounts.find_accounts('member', NULL, ARRAY['x'])$$);
SELECT * FROM pg_temp.tryx($$SELECT * FROM accounts.find_accounts('member', 'fax', ARRAY['x'])$$);
SELECT * FROM pg_temp.tryx($$SELECT * FROM accounts.find_accounts('member', 'reference_id', ARRAY[['x'], ['y']])$$);

-- merge errors, each writing nothing
CREATE TEMP TABLE snap AS
SELECT (SELECT array_agg(a ORDER BY a.id) FROM accounts.accounts a) AS accs,
       (SELECT array_agg(i ORDER BY i.value, i.id_type, i.account_type) FROM accounts.identifiers i) AS idents;
SELECT * FROM pg_temp.tryx($$SELECT accounts.merge_accounts(NULL, ARRAY[pg_temp.id('b')])$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.merge_accounts(pg_temp.id('a'), NULL)$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.merge_accounts(pg_temp.id('a'), '{}')$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.merge_accounts(pg_temp.id('a'), ARRAY[pg_temp.id('b'), NULL])$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.merge_accounts(pg_temp.id('a'), ARRAY[pg_temp.id('a')])$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.merge_accounts(pg_temp.id('a'), ARRAY[pg_temp.id('b'), gen_random_uuid()])$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.merge_accounts(gen_random_uuid(), ARRAY[pg_temp.id('b')])$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.merge_accounts(pg_temp.id('a'), ARRAY[pg_temp.id('u')])$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.merge_accounts(pg_temp.id('a'), ARRAY[[pg_temp.id('b')], [pg_temp.id('c')]])$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.merge_accounts(pg_temp.id('a'),
    ARRAY(SELECT gen_random_uuid() FROM generate_series(1, 101)))$$);
SELECT (SELECT array_agg(a ORDER BY a.id) FROM accounts.accounts a) = accs AS accounts_unchanged,
       (SELECT array_agg(i ORDER BY i.value, i.id_type, i.account_type) FROM accounts.identifiers i) = idents AS identifiers_unchanged
  FROM snap;

-- merge b (and b again: duplicates count once) into a
SELECT accounts.merge_accounts(pg_temp.id('a'), ARRAY[pg_temp.id('b'), pg_temp.id('b')]);
SELECT pg_temp.name_of(account_id) AS owner, id_type, value FROM accounts.identifiers
 WHERE account_type = 'member' ORDER BY 1, 2, 3;
SELECT pg_temp.name_of(merged_into), status, tags FROM accounts.get_account(pg_temp.id('b'));
SELECT status, tags, identifiers FROM accounts.get_account(pg_temp.id('a'));
-- every identifier of the source finds the survivor, created = false
SELECT pg_temp.name_of(account_id), created FROM accounts.find_or_create_account('member', 'email', 'B@example.com');
SELECT pg_temp.name_of(account_id), created FROM accounts.find_or_create_account('member',
    ARRAY[('reference_id', 'm-b'), ('email', 'a@example.com')]::accounts.identifier[]);
SELECT pg_temp.name_of(accounts.resolve_account(pg_temp.id('b'))) AS b_resolves_to,
       pg_temp.name_of(accounts.resolve_account(pg_temp.id('a'))) AS a_resolves_to,
       accounts.resolve_account(gen_random_uuid()) AS unknown,
       accounts.resolve_account(NULL) AS null_id;
-- a merged account takes no writes; the hint names the survivor
SELECT * FROM pg_temp.tryx($$SELECT accounts.add_identifier(pg_temp.id('b'), 'email', 'b2@example.com')$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.tag_account(pg_temp.id('b'), ARRAY['x'])$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.archive_account(pg_temp.id('b'))$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.redact_account(pg_temp.id('b'))$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.merge_accounts(pg_temp.id('c'), ARRAY[pg_temp.id('b')])$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.merge_accounts(pg_temp.id('b'), ARRAY[pg_temp.id('c')])$$);
-- a chain: a into c, so b resolves to c
SELECT accounts.merge_accounts(pg_temp.id('c'), ARRAY[pg_temp.id('a')]);
SELECT pg_temp.name_of(accounts.resolve_account(pg_temp.id('b')));
SELECT pg_temp.name_of(x) FROM accounts.accounts_with_tag('member', 'vip') x;  -- the tags moved too

-- rows that assign_account() manages are re-pointed, as their owner
CREATE ROLE regress_lifecycle_owner;
GRANT USAGE ON SCHEMA accounts TO regress_lifecycle_owner;
GRANT EXECUTE ON FUNCTION accounts.assign_account() TO regress_lifecycle_owner;
CREATE SCHEMA lc AUTHORIZATION regress_lifecycle_owner;
SET ROLE regress_lifecycle_owner;
CREATE TABLE lc.inquiries (id int PRIMARY KEY, ref text, account_id uuid);
CREATE INDEX ON lc.inquiries (account_id);
CREATE TRIGGER assign BEFORE INSERT OR UPDATE OF ref ON lc.inquiries FOR EACH ROW
    EXECUTE FUNCTION accounts.assign_account('member', 'reference_id', 'ref', 'account_id');
CREATE TABLE lc.seen (who text);
CREATE FUNCTION lc.note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO lc.seen VALUES (current_user); RETURN NEW; END $$;
CREATE TRIGGER note BEFORE UPDATE ON lc.inquiries FOR EACH ROW EXECUTE FUNCTION lc.note();
INSERT INTO lc.inquiries (id, ref) VALUES (1, 'm-d'), (2, 'm-e'), (3, 'm-e'), (4, 'm-f'), (5, NULL);
-- a table managed for account type "user": merges of members leave it alone
CREATE TABLE lc.orders (id int PRIMARY KEY, ref text, account_id uuid);
CREATE TRIGGER assign BEFORE INSERT OR UPDATE OF ref ON lc.orders FOR EACH ROW
    EXECUTE FUNCTION accounts.assign_account('user', 'reference_id', 'ref', 'account_id');
INSERT INTO lc.orders (id, ref) VALUES (1, NULL);
RESET ROLE;
UPDATE lc.orders SET account_id = accounts.find_account('member', 'reference_id', 'm-f');
INSERT INTO acc SELECT 'e', accounts.find_account('member', 'reference_id', 'm-e');
INSERT INTO acc SELECT 'f', accounts.find_account('member', 'reference_id', 'm-f');
SELECT accounts.merge_accounts(pg_temp.id('d'), ARRAY[pg_temp.id('e')]);
SELECT id, ref, pg_temp.name_of(account_id) FROM lc.inquiries ORDER BY id;
SELECT who, count(*) FROM lc.seen GROUP BY who;   -- the owner's trigger ran as the owner, not as the superuser
SELECT accounts.merge_accounts(pg_temp.id('d'), ARRAY[pg_temp.id('f')]);
SELECT id, ref, pg_temp.name_of(account_id) FROM lc.inquiries WHERE id = 4;
SELECT pg_temp.name_of(account_id) FROM lc.orders;   -- another account type's table: left alone
SET client_min_messages = warning;
DROP SCHEMA lc CASCADE;
RESET client_min_messages;
REVOKE ALL ON SCHEMA accounts FROM regress_lifecycle_owner;
REVOKE ALL ON FUNCTION accounts.assign_account() FROM regress_lifecycle_owner;
DROP ROLE regress_lifecycle_owner;

-- redaction: every identifier but the reference ids is erased; irreversible
INSERT INTO acc SELECT 'r', account_id FROM accounts.find_or_create_account('member',
    ARRAY[('reference_id', 'm-r'), ('email', 'r@example.com'), ('phone', '+1 415 555 0142')]::accounts.identifier[]);
SELECT accounts.tag_account(pg_temp.id('r'), ARRAY['kyc']);
SELECT accounts.redact_account(pg_temp.id('r'));
SELECT status, redacted_at IS NOT NULL AS redacted_at_set, tags, identifiers FROM accounts.get_account(pg_temp.id('r'));
SELECT count(*) AS erased_value_rows FROM accounts.identifiers WHERE value IN ('r@example.com', '+14155550142');
SELECT accounts.redact_account(pg_temp.id('r'));                 -- again: nothing left to erase
-- the reference id still finds it; the erased email creates a new account
SELECT pg_temp.name_of(account_id), created FROM accounts.find_or_create_account('member', 'reference_id', 'm-r');
SELECT pg_temp.name_of(account_id), created FROM accounts.find_or_create_account('member', 'email', 'r@example.com');
SELECT * FROM pg_temp.tryx($$SELECT accounts.add_identifier(pg_temp.id('r'), 'email', 'r2@example.com')$$);
SELECT * FROM pg_temp.tryx($$SELECT * FROM accounts.find_or_create_account('member',
    ARRAY[('reference_id', 'm-r'), ('phone', '+1 415 555 0143')]::accounts.identifier[])$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.merge_accounts(pg_temp.id('r'), ARRAY[pg_temp.id('d')])$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.merge_accounts(pg_temp.id('d'), ARRAY[pg_temp.id('r')])$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.archive_account(pg_temp.id('r'))$$);
SELECT accounts.untag_account(pg_temp.id('r'), ARRAY['kyc']);    -- tags are not personal data
SELECT * FROM pg_temp.tryx($$SELECT accounts.redact_account(NULL)$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.redact_account(gen_random_uuid())$$);

-- get_account of an unknown id: no row
SELECT count(*) FROM accounts.get_account(gen_random_uuid());

-- a read-only role reads with EXECUTE alone
CREATE ROLE regress_lifecycle_reader;
GRANT USAGE ON SCHEMA accounts TO regress_lifecycle_reader;
GRANT EXECUTE ON FUNCTION accounts.get_account(uuid), accounts.find_accounts(text, text, text[]),
    accounts.resolve_account(uuid), accounts.accounts_with_tag(text, text) TO regress_lifecycle_reader;
GRANT SELECT ON acc TO regress_lifecycle_reader;
SET ROLE regress_lifecycle_reader;
SELECT status FROM accounts.get_account(pg_temp.id('d'));
SELECT pg_temp.name_of(account_id) FROM accounts.find_accounts('member', 'reference_id', ARRAY['m-d']);
SELECT pg_temp.name_of(accounts.resolve_account(pg_temp.id('e')));
SELECT count(*) FROM accounts.accounts_with_tag('member', 'vip');
SELECT * FROM pg_temp.tryx($$SELECT accounts.merge_accounts(pg_temp.id('d'), ARRAY[pg_temp.id('c')])$$);
SELECT * FROM pg_temp.tryx($$SELECT count(*) FROM accounts.accounts$$);
RESET ROLE;
REVOKE ALL ON acc FROM regress_lifecycle_reader;
REVOKE ALL ON SCHEMA accounts FROM regress_lifecycle_reader;
REVOKE ALL ON FUNCTION accounts.get_account(uuid), accounts.find_accounts(text, text, text[]),
    accounts.resolve_account(uuid), accounts.accounts_with_tag(text, text) FROM regress_lifecycle_reader;
DROP ROLE regress_lifecycle_reader;

-- the internal helpers are not for callers
SELECT * FROM pg_temp.tryx($$SELECT accounts_internal.repoint_assigned(pg_temp.id('a'), ARRAY[pg_temp.id('d')])$$);

-- invariants: no identifier on a merged account; redacted ones keep only reference ids
SELECT count(*) FROM accounts.identifiers i JOIN accounts.accounts a ON a.id = i.account_id
 WHERE a.status = 'merged' OR (a.status = 'redacted' AND i.id_type <> 'reference_id');
SELECT count(*) FROM accounts.accounts WHERE (status = 'merged') <> (merged_into IS NOT NULL);
