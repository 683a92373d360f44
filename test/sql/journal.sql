-- The change journal: which change writes which event, reading with
-- events_since() (order, batches, own and rolled-back events), set_journal,
-- trim_events, redaction of earlier events, privileges, bad input.
-- Concurrency (out-of-order commits, aborts, NOTIFY) is in
-- specs/journal_*.spec; many writers, consumers and a crash in
-- t/016_journal.pl.
\pset null '(null)'

CREATE FUNCTION pg_temp.tryx(stmt text)
RETURNS TABLE (code text, message text, hint text)
LANGUAGE sql AS $$
    SELECT t.code,
           regexp_replace(t.message, '[0-9a-f]{8}-[0-9a-f-]{27}', '<id>', 'g'),
           regexp_replace(t.hint, '[0-9a-f]{8}-[0-9a-f-]{27}', '<id>', 'g')
      FROM public.try(stmt) t
$$;

-- accounts by name, and where the journal stood before this test
CREATE TEMP TABLE acc (name text PRIMARY KEY, id uuid);
CREATE FUNCTION pg_temp.id(n text) RETURNS uuid LANGUAGE sql AS $$ SELECT id FROM acc WHERE name = n $$;
SELECT coalesce(max(seq), 0) AS base FROM accounts.events \gset
CREATE TEMP TABLE mark (base bigint);
INSERT INTO mark VALUES (:base);

-- the events since the mark: seq relative to it, account ids by name
CREATE FUNCTION pg_temp.ev() RETURNS TABLE (n bigint, account text, account_type text, kind text, detail text)
LANGUAGE sql AS $$
    SELECT e.seq - (SELECT base FROM mark),
           CASE WHEN e.account_id IS NULL THEN '-'
                ELSE coalesce((SELECT name FROM acc WHERE id = e.account_id), '?') END,
           e.account_type, e.kind,
           regexp_replace(e.detail::text, '[0-9a-f]{8}-[0-9a-f-]{27}', '<id>', 'g')
      FROM accounts.events_since((SELECT base FROM mark)) e
$$;
CREATE FUNCTION pg_temp.advance() RETURNS void LANGUAGE sql AS $$
    UPDATE mark SET base = (SELECT coalesce(max(seq), 0) FROM accounts.events)
$$;

-- registry changes
SELECT accounts.create_account_type('shopper');
SELECT accounts.create_identifier_type('shopper', 'email', 'email');
SELECT accounts.create_identifier_type('shopper', 'handle', 'text', true);
SELECT accounts.drop_identifier_type('shopper', 'handle');
SELECT * FROM pg_temp.ev();
SELECT pg_temp.advance();

-- creating writes account.created with the identifiers as stored; a find
-- that finds, in any spelling, writes nothing
INSERT INTO acc SELECT 'a', account_id FROM accounts.find_or_create_account('shopper', 'reference_id', 'S-A');
SELECT created FROM accounts.find_or_create_account('shopper', 'reference_id', 's-a');
SELECT created FROM accounts.find_or_create_account('shopper', ('reference_id', 'S-a')::accounts.identifier);
SELECT accounts.find_account('shopper', 'reference_id', 's-a') = pg_temp.id('a');
INSERT INTO acc SELECT 'b', account_id FROM accounts.find_or_create_account('shopper',
    ARRAY[('email', 'B@Example.COM'), ('reference_id', 'S-B')]::accounts.identifier[]);
-- attaching: one identifier.added per identifier new to the account
SELECT accounts.add_identifier(pg_temp.id('a'), 'email', 'A@example.com');
SELECT accounts.add_identifier(pg_temp.id('a'), 'email', 'a@EXAMPLE.com');   -- already there: nothing
SELECT created FROM accounts.find_or_create_account('shopper',
    ARRAY[('reference_id', 'S-A'), ('email', 'a2@example.com'), ('email', 'a3@example.com')]::accounts.identifier[]);
-- bulk: one event per new account, none for duplicates or existing ones
SELECT value, created FROM accounts.find_or_create_accounts('shopper', 'reference_id', ARRAY['S-C', 's-c', 'S-A', 'S-D']);
INSERT INTO acc SELECT 'c', accounts.find_account('shopper', 'reference_id', 's-c');
INSERT INTO acc SELECT 'd', accounts.find_account('shopper', 'reference_id', 's-d');
SELECT * FROM pg_temp.ev();
SELECT pg_temp.advance();

-- the trigger and try_ forms write the same events
CREATE TABLE journal_signups (ref text, account_id uuid);
CREATE TRIGGER assign BEFORE INSERT ON journal_signups
    FOR EACH ROW EXECUTE FUNCTION accounts.assign_account('shopper', 'reference_id', 'ref', 'account_id');
INSERT INTO journal_signups (ref) VALUES ('S-E'), ('S-A');
INSERT INTO acc SELECT 'e', account_id FROM journal_signups WHERE ref = 'S-E';
SELECT created, error_code FROM accounts.try_find_or_create_account('shopper', 'reference_id', 'S-F');
INSERT INTO acc SELECT 'f', accounts.find_account('shopper', 'reference_id', 's-f');
SELECT created, error_code FROM accounts.try_find_or_create_account('shopper', 'email', 'not an email');
SELECT * FROM pg_temp.ev();
SELECT pg_temp.advance();

-- lifecycle events
SELECT accounts.tag_account(pg_temp.id('a'), ARRAY['VIP', 'beta']);
SELECT accounts.tag_account(pg_temp.id('a'), ARRAY['vip']);          -- no change: no event
SELECT accounts.untag_account(pg_temp.id('a'), ARRAY['beta', 'nosuch']);
SELECT accounts.archive_account(pg_temp.id('c'));
SELECT accounts.archive_account(pg_temp.id('c'));                    -- no change: no event
SELECT accounts.restore_account(pg_temp.id('c'));
SELECT accounts.remove_identifier(pg_temp.id('a'), 'email', 'A3@example.com');
SELECT accounts.remove_identifier(pg_temp.id('a'), 'email', 'nobody@example.com');  -- not there: none
SELECT accounts.merge_accounts(pg_temp.id('a'), ARRAY[pg_temp.id('b'), pg_temp.id('d')]);
SELECT * FROM pg_temp.ev();
SELECT pg_temp.advance();

-- errors write no event (nor anything else)
SELECT count(*) AS events_before FROM accounts.events \gset
SELECT code FROM pg_temp.tryx($$SELECT accounts.merge_accounts(pg_temp.id('c'), ARRAY[pg_temp.id('b')])$$);
SELECT code FROM pg_temp.tryx($$SELECT accounts.tag_account(pg_temp.id('b'), ARRAY['x'])$$);
SELECT code FROM pg_temp.tryx($$SELECT accounts.remove_identifier(pg_temp.id('f'), 'reference_id', 'S-F')$$);
SELECT code FROM pg_temp.tryx($$SELECT accounts.create_account_type('shopper')$$);
SELECT code FROM pg_temp.tryx($$SELECT * FROM accounts.find_or_create_accounts('shopper', 'email', ARRAY['ok@example.com', 'bad'])$$);
SELECT code FROM pg_temp.tryx($$SELECT accounts.find_or_create_account('shopper',
    ARRAY[('reference_id', 'S-A'), ('reference_id', 'S-C')]::accounts.identifier[])$$);
SELECT count(*) = :events_before AS no_new_events FROM accounts.events;

-- redaction: account.redacted, and the erased values leave the earlier
-- events of the account and of the accounts merged into it; reference ids
-- stay
SELECT accounts.redact_account(pg_temp.id('a'));
SELECT * FROM pg_temp.ev();
UPDATE mark SET base = :base;
SELECT n, account, kind, detail FROM pg_temp.ev()
 WHERE account IN ('a', 'b', 'd') AND kind IN ('account.created', 'identifier.added', 'identifier.removed');
SELECT count(*) AS erased_values_left FROM accounts.events
 WHERE account_type = 'shopper' AND detail::text ~* '@example\.com';
SELECT accounts.redact_account(pg_temp.id('a'));                     -- again: nothing, no event
SELECT pg_temp.advance();

-- set_journal: off means no events for that account type only
SELECT accounts.set_journal('shopper', false);
INSERT INTO acc SELECT 'quiet', account_id FROM accounts.find_or_create_account('shopper', 'reference_id', 'S-Q');
SELECT accounts.tag_account(pg_temp.id('quiet'), ARRAY['x']);
INSERT INTO acc SELECT 'u', account_id FROM accounts.find_or_create_account('user', 'reference_id', 'journal-u');
SELECT * FROM pg_temp.ev();
SELECT accounts.set_journal('shopper', true);
SELECT accounts.untag_account(pg_temp.id('quiet'), ARRAY['x']);
SELECT * FROM pg_temp.ev();
SELECT * FROM accounts.journal_settings;
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_journal('nosuch', false)$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_journal(NULL, false)$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_journal('shopper', NULL)$$);
SELECT pg_temp.advance();

-- reading: seq order, batches of max, nothing twice
SELECT array_agg(kind ORDER BY seq) FROM accounts.events_since(:base, 3);
SELECT (SELECT array_agg(seq ORDER BY seq) FROM accounts.events_since(:base))
     = (SELECT array_agg(seq ORDER BY seq) FROM accounts.events WHERE seq > :base) AS all_in_order;
WITH RECURSIVE batches(last, n, total) AS (
    SELECT :base::bigint, 0, 0
    UNION ALL
    SELECT (SELECT max(seq) FROM accounts.events_since(b.last, 4)), b.n + 1,
           b.total + (SELECT count(*) FROM accounts.events_since(b.last, 4))::int
      FROM batches b WHERE EXISTS (SELECT FROM accounts.events_since(b.last, 1)))
SELECT max(total) = (SELECT count(*) FROM accounts.events WHERE seq > :base) AS batches_cover_all
  FROM batches;

-- a transaction's own events are held back until it commits, and a
-- rolled-back savepoint's events never appear
BEGIN;
INSERT INTO acc SELECT 'g', account_id FROM accounts.find_or_create_account('shopper', 'reference_id', 'S-G');
SELECT count(*) AS own_events_seen FROM pg_temp.ev();
SAVEPOINT s;
SELECT created FROM accounts.find_or_create_account('shopper', 'reference_id', 'S-ROLLED-BACK');
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT * FROM pg_temp.ev();
SELECT pg_temp.advance();

-- bad arguments
SELECT * FROM pg_temp.tryx($$SELECT * FROM accounts.events_since(NULL)$$);
SELECT * FROM pg_temp.tryx($$SELECT * FROM accounts.events_since(0, NULL)$$);
SELECT * FROM pg_temp.tryx($$SELECT * FROM accounts.events_since(-1)$$);
SELECT * FROM pg_temp.tryx($$SELECT * FROM accounts.events_since(0, 0)$$);
SELECT * FROM pg_temp.tryx($$SELECT * FROM accounts.events_since(0, 100001)$$);
SELECT count(*) FROM accounts.events_since(9223372036854775807);

-- trim_events: by time; later events stay
SELECT accounts.trim_events(now() - interval '1 hour');
SELECT accounts.trim_events(now() + interval '1 hour') = (SELECT count(*) FROM accounts.events) AS trimmed_all;
SELECT count(*) FROM accounts.events;
SELECT * FROM pg_temp.tryx($$SELECT accounts.trim_events(NULL)$$);

-- the journal has the shape check of the other written tables
CREATE FUNCTION journal_noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
SELECT * FROM pg_temp.tryx($$CREATE TRIGGER t BEFORE INSERT ON accounts.events FOR EACH ROW EXECUTE FUNCTION journal_noop()$$);
SELECT * FROM pg_temp.tryx($$ALTER TABLE accounts.events ADD COLUMN extra int$$);
DROP FUNCTION journal_noop();

-- privileges: a consumer needs EXECUTE on events_since only, no table
-- privilege; nobody else can read or write the journal
CREATE ROLE regress_journal_consumer;
CREATE ROLE regress_journal_nobody;
GRANT USAGE ON SCHEMA accounts TO regress_journal_consumer, regress_journal_nobody;
GRANT EXECUTE ON FUNCTION accounts.events_since(bigint, integer) TO regress_journal_consumer;
SELECT created FROM accounts.find_or_create_account('shopper', 'reference_id', 'S-H');
SET ROLE regress_journal_consumer;
SELECT kind FROM accounts.events_since(0);
SELECT * FROM pg_temp.tryx($$SELECT count(*) FROM accounts.events$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts_internal.journal_event(NULL, 'shopper', 'account.created', '{}')$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.trim_events(now())$$);
SELECT * FROM pg_temp.tryx($$SELECT accounts.set_journal('shopper', false)$$);
RESET ROLE;
SET ROLE regress_journal_nobody;
SELECT * FROM pg_temp.tryx($$SELECT * FROM accounts.events_since(0)$$);
RESET ROLE;
REVOKE ALL ON SCHEMA accounts FROM regress_journal_consumer, regress_journal_nobody;
REVOKE ALL ON FUNCTION accounts.events_since(bigint, integer) FROM regress_journal_consumer;
DROP ROLE regress_journal_consumer, regress_journal_nobody;

DROP TABLE journal_signups;
