-- Benchmark schema: the extension, the floor and the peer, side by side.

CREATE EXTENSION account;

-- The floor: what the work costs without the extension, on an equivalent
-- schema (two tables, a unique index on (account_type, id_type, value)).
CREATE TABLE floor_accounts (
    id            uuid PRIMARY KEY,
    account_type  text COLLATE "C" NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE floor_identifiers (
    account_type  text COLLATE "C" NOT NULL,
    id_type       text COLLATE "C" NOT NULL,
    value         text COLLATE "C" NOT NULL,
    account_id    uuid NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_type, id_type, value)
);

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
