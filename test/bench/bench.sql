-- Benchmark schema: the extension, the floor and the peer, side by side.

CREATE EXTENSION account;

-- The floor: what the work costs without the extension, on an equivalent
-- schema: the same two tables with the same columns and indexes (a unique
-- index on (account_type, id_type, value), the index on account_id, the
-- lifecycle columns and the partial GIN index on tags), filled by plain
-- INSERTs that take their defaults.  bench.py's BENCH_FLOOR_BARE=1 drops
-- what version 1.2's floor did not have (the account_id index and the
-- lifecycle columns), for comparison with earlier measurements.
CREATE TABLE floor_accounts (
    id            uuid PRIMARY KEY,
    account_type  text COLLATE "C" NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    status        accounts.account_status NOT NULL DEFAULT 'active',
    merged_into   uuid,
    tags          text[] COLLATE "C" NOT NULL DEFAULT '{}',
    updated_at    timestamptz,
    redacted_at   timestamptz
);
CREATE INDEX floor_accounts_tags_idx ON floor_accounts USING gin (tags) WHERE tags <> '{}'::text[];
CREATE TABLE floor_identifiers (
    account_type  text COLLATE "C" NOT NULL,
    id_type       text COLLATE "C" NOT NULL,
    value         text COLLATE "C" NOT NULL,
    account_id    uuid NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_type, id_type, value)
);
CREATE INDEX floor_identifiers_account_id_idx ON floor_identifiers (account_id);

-- The floor with an outbox: what an application writes by hand for the
-- effect of a create with the change journal on (the account, its
-- identifier, and a transactional-outbox row carrying the same detail, in
-- one transaction).
CREATE TABLE floor_outbox (
    seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at   timestamptz NOT NULL DEFAULT now(),
    account_id    uuid,
    account_type  text COLLATE "C" NOT NULL,
    kind          text COLLATE "C" NOT NULL,
    detail        jsonb NOT NULL
);
CREATE INDEX floor_outbox_account_id_idx ON floor_outbox (account_id);

-- The peer: best-practice PL/pgSQL get-or-create on the floor schema.
-- Look up; take pg_advisory_xact_lock on a 64-bit hash; look up again;
-- INSERT ... ON CONFLICT DO NOTHING.  Its normalization (lower(btrim()))
-- is cheaper than the extension's Unicode rules, which favours the peer.
CREATE FUNCTION peer_find_or_create(p_type text, p_id_type text, p_value text,
                                    OUT account_id uuid, OUT created boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v text := lower(btrim(p_value));
BEGIN
    SELECT i.account_id INTO account_id FROM floor_identifiers i
     WHERE i.account_type = p_type AND i.id_type = p_id_type AND i.value = v;
    IF FOUND THEN
        created := false;
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended(p_type || '/' || p_id_type || '/' || v, 0));
    SELECT i.account_id INTO account_id FROM floor_identifiers i
     WHERE i.account_type = p_type AND i.id_type = p_id_type AND i.value = v;
    IF FOUND THEN
        created := false;
        RETURN;
    END IF;
    account_id := gen_random_uuid();
    INSERT INTO floor_accounts (id, account_type) VALUES (account_id, p_type);
    INSERT INTO floor_identifiers (account_type, id_type, value, account_id)
    VALUES (p_type, p_id_type, v, account_id)
    ON CONFLICT DO NOTHING;
    created := true;
END
$$;

-- Server-side timing of one statement, in milliseconds.
CREATE FUNCTION bench_ms(stmt text) RETURNS double precision
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    EXECUTE stmt;
    RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END
$$;

CREATE TABLE hit_keys (v text COLLATE "C" NOT NULL);
CREATE TABLE miss_keys (round int NOT NULL, v text COLLATE "C" NOT NULL);
