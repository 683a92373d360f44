#!/usr/bin/env python3
"""Benchmark of the account extension against the plain-SQL floor and the
best-practice PL/pgSQL peer, on one throwaway cluster (started by bench.sh).

Every case runs its variants alternately, round after round, in the same
run; the table reports medians and the median of the per-round ratios.  The
numbers are printed, never asserted: BENCH_SMOKE=1 only proves the script
works (tiny sizes, one round).  BENCH_QUICK=1 measures only the hit and
miss paths, full size, and prints one table row for the PostgreSQL major
(scripts/matrix.sh runs it on every major; the row is also appended to the
file BENCH_ROW names).  The floor has the extension's columns and indexes
(bench.sql); BENCH_FLOOR_BARE=1 measures against version 1.2's floor, which
lacked the index on account_id and the lifecycle columns.
"""
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import psycopg

SMOKE = os.environ.get("BENCH_SMOKE") == "1"
QUICK = os.environ.get("BENCH_QUICK") == "1"
FLOOR_BARE = os.environ.get("BENCH_FLOOR_BARE") == "1"
HIT_N = 2_000 if SMOKE else 100_000
MISS_N = 1_000 if SMOKE else 5_000  # the peer fails past ~6,000 per transaction
ROUNDS = 1 if SMOKE else 5
PGB_SECONDS = 1 if SMOKE else 5
BULK_N = 20_000 if SMOKE else 1_000_000
BULK_ROUNDS = 1 if SMOKE else 3
MEM_CALLS = 20_000 if SMOKE else 10_000_000
HERE = os.path.dirname(os.path.abspath(__file__))


def connect(**kw):
    # prepare_threshold=None: psycopg would otherwise server-prepare repeated
    # statements, and its plan cache would show up in the memory measurement
    return psycopg.connect(autocommit=True, prepare_threshold=None, **kw)


def ms(conn, stmt):
    return conn.execute("SELECT bench_ms(%s)", (stmt,)).fetchone()[0]


def median(xs):
    return statistics.median(xs)


def ratios(a, b):
    """The median of the per-round ratios a/b.  A round whose baseline did
    nothing (a 1 s smoke round on a loaded machine: no transaction of the 32
    contended clients finished) has no ratio; with no round left: nan,
    printed as such."""
    rs = [x / y for x, y in zip(a, b) if y]
    return median(rs) if rs else float("nan")


def log(msg):
    print(f"-- {msg}", file=sys.stderr, flush=True)


def rss_anon_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return 0


class PeakMemory:
    """Polls a backend's RssAnon (private memory, excluding shared buffers)."""

    def __init__(self, pid):
        self.pid = pid
        self.base = rss_anon_kb(pid)
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, rss_anon_kb(self.pid))
            except OSError:
                return
            time.sleep(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def setup(conn):
    log("schema: extension, floor, peer")
    with open(os.path.join(HERE, "bench.sql")) as f:
        conn.execute(f.read())
    if FLOOR_BARE:
        log("bare floor (1.2's): no index on account_id, no lifecycle columns")
        conn.execute("DROP INDEX floor_identifiers_account_id_idx")
        conn.execute("DROP INDEX floor_accounts_tags_idx")
        conn.execute("""ALTER TABLE floor_accounts DROP COLUMN status, DROP COLUMN merged_into,
                        DROP COLUMN tags, DROP COLUMN updated_at, DROP COLUMN redacted_at""")
    log(f"loading {HIT_N} existing identifiers into both schemas")
    conn.execute("INSERT INTO hit_keys SELECT 'hit-' || n FROM generate_series(1, %s) n", (HIT_N,))
    conn.execute("""SELECT count(*) FROM accounts.find_or_create_accounts('user', 'reference_id',
                    ARRAY(SELECT v FROM hit_keys))""")
    conn.execute("""WITH src AS MATERIALIZED (SELECT gen_random_uuid() AS id, v FROM hit_keys),
                         acc AS (INSERT INTO floor_accounts (id, account_type) SELECT id, 'user' FROM src)
                    INSERT INTO floor_identifiers (account_type, id_type, value, account_id)
                    SELECT 'user', 'reference_id', v, id FROM src""")
    conn.execute("""INSERT INTO miss_keys SELECT r, 'miss-' || r || '-' || n
                    FROM generate_series(0, %s) r, generate_series(1, %s) n""", (ROUNDS, MISS_N))
    # the same creates without the change journal: an account type with it off
    conn.execute("SELECT accounts.create_account_type('quiet')")
    conn.execute("SELECT accounts.set_journal('quiet', false)")
    conn.execute("VACUUM ANALYZE")


# The extension and the peer are called the same way: once per row in the
# target list.  The LATERAL form costs more for any function returning a
# row (PostgreSQL materializes each call's result); it is measured too.
HIT_SQL = {
    "floor": """SELECT count(*) FROM hit_keys k JOIN floor_identifiers i
                ON i.account_type = 'user' AND i.id_type = 'reference_id' AND i.value = k.v""",
    "floor_own_key": """SELECT count(*) FROM hit_keys k JOIN accounts.identifiers i
                ON i.account_type = 'user' AND i.id_type = 'reference_id' AND i.value = k.v""",
    "ours": """SELECT count((f).account_id) FROM (SELECT
               accounts.find_or_create_account('user', 'reference_id', k.v) AS f FROM hit_keys k) s""",
    "ours_lateral": """SELECT count(f.account_id) FROM hit_keys k,
               LATERAL accounts.find_or_create_account('user', 'reference_id', k.v) f""",
    "ours_bulk": """SELECT count(*) FROM accounts.find_or_create_accounts('user', 'reference_id',
                    ARRAY(SELECT v FROM hit_keys))""",
    "peer": """SELECT count((f).account_id) FROM (SELECT
               peer_find_or_create('user', 'reference_id', k.v) AS f FROM hit_keys k) s""",
}


def miss_sql(case, r):
    if case == "floor":
        return f"""WITH src AS MATERIALIZED (SELECT gen_random_uuid() AS id, 'f' || k.v AS v
                                          FROM miss_keys k WHERE k.round = {r}),
                         acc AS (INSERT INTO floor_accounts (id, account_type) SELECT id, 'user' FROM src)
                    INSERT INTO floor_identifiers (account_type, id_type, value, account_id)
                    SELECT 'user', 'reference_id', v, id FROM src"""
    if case == "floor_outbox":
        return f"""WITH src AS MATERIALIZED (SELECT gen_random_uuid() AS id, 'x' || k.v AS v
                                          FROM miss_keys k WHERE k.round = {r}),
                         acc AS (INSERT INTO floor_accounts (id, account_type) SELECT id, 'user' FROM src),
                         ev AS (INSERT INTO floor_outbox (account_id, account_type, kind, detail)
                                SELECT id, 'user', 'account.created',
                                       jsonb_build_object('identifiers', jsonb_build_array(
                                           jsonb_build_object('id_type', 'reference_id', 'value', v))) FROM src)
                    INSERT INTO floor_identifiers (account_type, id_type, value, account_id)
                    SELECT 'user', 'reference_id', v, id FROM src"""
    if case == "ours":
        return f"""SELECT count((f).account_id) FROM (SELECT
                   accounts.find_or_create_account('user', 'reference_id', 'o' || k.v) AS f
                   FROM miss_keys k WHERE k.round = {r}) s"""
    if case == "ours_nojournal":
        return f"""SELECT count((f).account_id) FROM (SELECT
                   accounts.find_or_create_account('quiet', 'reference_id', 'o' || k.v) AS f
                   FROM miss_keys k WHERE k.round = {r}) s"""
    if case == "ours_bulk":
        return f"""SELECT count(*) FROM accounts.find_or_create_accounts('user', 'reference_id',
                   ARRAY(SELECT 'b' || v FROM miss_keys WHERE round = {r}))"""
    if case == "peer":
        return f"""SELECT count((f).account_id) FROM (SELECT
                   peer_find_or_create('user', 'reference_id', 'p' || k.v) AS f
                   FROM miss_keys k WHERE k.round = {r}) s"""
    raise ValueError(case)


def rotate(cases, r):
    k = r % len(cases)
    return cases[k:] + cases[:k]


def bench_hit(conn):
    log(f"hit path: {HIT_N} existing identifiers per statement, {ROUNDS} rounds")
    conn.execute("SET enable_hashjoin = off")
    conn.execute("SET enable_mergejoin = off")
    plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + HIT_SQL["floor"]))
    assert "Nested Loop" in plan and "Index" in plan, plan
    cases = list(HIT_SQL)
    for c in cases:  # warm-up
        ms(conn, HIT_SQL[c])
    res = {c: [] for c in cases}
    for r in range(ROUNDS):
        for c in rotate(cases, r):
            res[c].append(ms(conn, HIT_SQL[c]) * 1000 / HIT_N)
    conn.execute("RESET ALL")
    return res


def bench_miss(conn):
    log(f"miss path: {MISS_N} new identifiers per statement, {ROUNDS} rounds")
    cases = ["floor", "floor_outbox", "ours", "ours_nojournal", "ours_bulk", "peer"]
    for c in cases:  # warm-up on round 0
        ms(conn, miss_sql(c, 0))
    res = {c: [] for c in cases}
    for r in range(1, ROUNDS + 1):
        for c in rotate(cases, r):
            res[c].append(ms(conn, miss_sql(c, r)) * 1000 / MISS_N)
    return res


def bench_events_since(conn):
    """Milliseconds for events_since(after, 1000) at spread-out positions
    of the journal the miss path filled (a consumer's read)."""
    lo, hi = conn.execute("SELECT min(seq), max(seq) FROM accounts.events").fetchone()
    n = 5 if SMOKE else 40
    times = []
    for i in range(n):
        after = lo + (hi - lo - 1000) * i // max(n - 1, 1)
        t = ms(conn, f"SELECT count(*) FROM accounts.events_since({after}, 1000)")
        times.append(t)
    got = conn.execute("SELECT count(*) FROM accounts.events_since(%s, 1000)", (lo,)).fetchone()[0]
    want = conn.execute("SELECT least(count(*), 1000) FROM accounts.events WHERE seq > %s", (lo,)).fetchone()[0]
    assert got == want, (got, want)
    return median(times)


def pgbench(script, clients, seconds, tmp):
    path = os.path.join(tmp, "script.sql")
    with open(path, "w") as f:
        f.write(script)
    p = subprocess.run(
        ["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(clients, 4)),
         "-T", str(seconds), "-f", path],
        capture_output=True, text=True)
    out = p.stdout + p.stderr
    m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out)
    tps = float(m.group(1)) if m else 0.0
    failed = re.search(r"number of failed transactions: (\d+)", out)
    errors = int(failed.group(1)) if failed else 0
    errors += len(re.findall(r"aborted in command", out))
    if p.returncode != 0 and errors == 0:
        errors = 1
    return tps, errors, out


RT_SCRIPT = {
    "floor": f"""\\set n random(1, {HIT_N})
SELECT account_id FROM floor_identifiers
 WHERE account_type = 'user' AND id_type = 'reference_id' AND value = 'hit-' || :n;
""",
    "ours": f"""\\set n random(1, {HIT_N})
SELECT account_id, created FROM accounts.find_or_create_account('user', 'reference_id', 'hit-' || :n);
""",
}

HOT_SCRIPT = {
    "ours": """\\set n random(1, 20)
SELECT account_id, created FROM accounts.find_or_create_account('user', 'reference_id',
       CASE WHEN :n <= 10 THEN 'hot-old-' ELSE 'hot-new-' END || :n);
""",
    "peer": """\\set n random(1, 20)
SELECT account_id, created FROM peer_find_or_create('user', 'reference_id',
       CASE WHEN :n <= 10 THEN 'hot-old-' ELSE 'hot-new-' END || :n);
""",
}


def reset_hot(conn):
    conn.execute("""DELETE FROM accounts.accounts WHERE id IN
                    (SELECT account_id FROM accounts.identifiers WHERE value LIKE 'hot-new-%')""")
    conn.execute("""WITH d AS (DELETE FROM floor_identifiers WHERE value LIKE 'hot-new-%' RETURNING account_id)
                    DELETE FROM floor_accounts WHERE id IN (SELECT account_id FROM d)""")
    for n in range(1, 11):
        conn.execute("SELECT accounts.find_or_create_account('user', 'reference_id', %s)", (f"hot-old-{n}",))
        conn.execute("SELECT peer_find_or_create('user', 'reference_id', %s)", (f"hot-old-{n}",))


def bench_round_trip(tmp):
    log(f"round trip: pgbench -M prepared, 4 clients, {PGB_SECONDS}s per run, {ROUNDS} rounds")
    res = {c: [] for c in RT_SCRIPT}
    for r in range(ROUNDS):
        for c in rotate(list(RT_SCRIPT), r):
            tps, errors, out = pgbench(RT_SCRIPT[c], 4, PGB_SECONDS, tmp)
            if errors:
                print(out, file=sys.stderr)
            res[c].append(tps)
    return res


def bench_contention(conn, tmp):
    log(f"hot-key contention: 32 clients on 20 identifiers (10 new), {PGB_SECONDS}s per run, {ROUNDS} rounds")
    res = {c: [] for c in HOT_SCRIPT}
    errs = {c: 0 for c in HOT_SCRIPT}
    for r in range(ROUNDS):
        for c in rotate(list(HOT_SCRIPT), r):
            reset_hot(conn)
            tps, errors, out = pgbench(HOT_SCRIPT[c], 32, PGB_SECONDS, tmp)
            if errors:
                print(out[-2000:], file=sys.stderr)
            res[c].append(tps)
            errs[c] += errors
    return res, errs


def quiesce(c):
    """Before a timed case that runs alone: the cleanup of what the earlier
    cases wrote is done first, so that the case is measured rather than
    autovacuum beside it on two cores.  Autovacuum workers running now are
    waited for (up to 60 s); a VACUUM (ANALYZE) then leaves the launcher
    nothing to start during the case; a checkpoint writes what they dirtied."""
    for _ in range(600):
        busy = c.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'").fetchone()[0]
        if not busy:
            break
        time.sleep(0.1)
    else:
        log("autovacuum still running after 60 s; going on")
    c.execute("VACUUM (ANALYZE)")
    c.execute("CHECKPOINT")


def bench_bulk():
    """Each case BULK_ROUNDS times, alternately, each time in a new database
    with the extension just created (the same start for every round: the
    rows of earlier rounds would make each round slower than the last); the
    median time, the largest memory peak, the fewest created."""
    log(f"bulk: {BULK_N} new identifiers in one transaction, {BULK_ROUNDS} round(s) per case")
    with connect() as admin:
        quiesce(admin)
    runs = {}
    for r in range(BULK_ROUNDS):
        for case, stmt in [
            ("bulk function", f"""SELECT count(*) FILTER (WHERE created) FROM accounts.find_or_create_accounts(
                                   'user', 'reference_id', ARRAY(SELECT 'bulk-' || n FROM generate_series(1, {BULK_N}) n))"""),
            ("per-row calls", f"""SELECT count(*) FILTER (WHERE f.created) FROM generate_series(1, {BULK_N}) n,
                                   LATERAL accounts.find_or_create_account('user', 'reference_id', 'row-' || n) f"""),
        ]:
            with connect() as admin:
                admin.execute("DROP DATABASE IF EXISTS account_bulk")
                admin.execute("CREATE DATABASE account_bulk")
            with connect(dbname="account_bulk") as c:
                c.execute("CREATE EXTENSION account")
                pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
                c.execute("SELECT accounts.find_account('user', 'reference_id', 'warm-up')")
                quiesce(c)
                with PeakMemory(pid) as mem:
                    t0 = time.monotonic()
                    with c.transaction():
                        created = c.execute(stmt).fetchone()[0]
                    secs = time.monotonic() - t0
            log(f"  round {r + 1}, {case}: {created:,} created in {secs:.2f} s")
            runs.setdefault(case, []).append((created, secs, (mem.peak - mem.base) / 1024.0))
    with connect() as admin:
        admin.execute("DROP DATABASE account_bulk")
    out = {case: (min(x[0] for x in v), median([x[1] for x in v]), max(x[2] for x in v))
           for case, v in runs.items()}
    # the peer in one transaction, until the lock table runs out
    notices = []
    with connect() as c:
        c.add_notice_handler(lambda d: notices.append(d.message_primary))
        c.execute(f"""DO $$
            DECLARE n int := 0;
            BEGIN
                WHILE n < {BULK_N} LOOP
                    PERFORM peer_find_or_create('user', 'reference_id', 'peerbulk-' || n);
                    n := n + 1;
                END LOOP;
                RAISE NOTICE 'completed % creates', n;
            EXCEPTION WHEN OTHERS THEN
                RAISE NOTICE 'failed after % creates: % (SQLSTATE %)', n, SQLERRM, SQLSTATE;
            END $$""")
    out["peer"] = notices[-1] if notices else "no result"
    return out


def bench_memory():
    """Memory of one session over many calls: PostgreSQL's own accounting
    (pg_backend_memory_contexts) and the process's RssAnon, after a warm-up
    statement and at the end."""
    log(f"memory: {MEM_CALLS} calls in one session")
    per_stmt = min(MEM_CALLS, 1_000_000)
    ctx_sql = "SELECT name, sum(total_bytes) FROM pg_backend_memory_contexts GROUP BY name"
    with connect() as c:
        pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
        stmt = f"""SELECT count((f).account_id) FROM (SELECT
                   accounts.find_or_create_account('user', 'reference_id', 'hit-' || (n % {HIT_N} + 1)) AS f
                   FROM generate_series(1, {per_stmt}) n) s"""
        c.execute(stmt)  # warm caches
        c.execute(ctx_sql).fetchall()  # and the measuring query itself
        start = dict(c.execute(ctx_sql).fetchall())
        rss_start = rss_anon_kb(pid)
        for _ in range(MEM_CALLS // per_stmt):
            c.execute(stmt)
        end = dict(c.execute(ctx_sql).fetchall())
        rss_end = rss_anon_kb(pid)
    changed = {n: (end.get(n, 0) - start.get(n, 0)) for n in set(start) | set(end)
               if end.get(n, 0) != start.get(n, 0)}
    return (sum(start.values()) / 2**20, sum(end.values()) / 2**20,
            rss_start / 1024.0, rss_end / 1024.0, changed)


MERGE_N = 20 if SMOKE else 200
MERGE_IDS = 21
MERGE_ROWS = 100


def bench_merge(conn):
    """Cost of merge_accounts(): MERGE_N merges of one source into one
    target, in one statement per variant: sources with one identifier; with
    MERGE_IDS; with one and MERGE_ROWS rows in a table that an
    assign_account() trigger manages (indexed on its account column).  A
    first, untimed variant warms the caches.  The differences give the cost
    per moved identifier and per re-pointed row."""
    log(f"merge: {MERGE_N} merges per variant")
    conn.execute("""CREATE TABLE merge_events (id bigserial PRIMARY KEY, reference text, account_id uuid);
                    CREATE INDEX ON merge_events (account_id);
                    CREATE TRIGGER assign BEFORE INSERT ON merge_events FOR EACH ROW EXECUTE FUNCTION
                        accounts.assign_account('user', 'reference_id', 'reference', 'account_id')""")
    out = {}
    for variant, ids, rows in (("warm", 1, 1), ("one", 1, 0), ("many", MERGE_IDS, 0), ("rows", 1, MERGE_ROWS)):
        conn.execute(f"""CREATE TEMP TABLE pairs_{variant} AS
            SELECT n,
                   (accounts.find_or_create_account('user', 'reference_id', 'mt-{variant}-' || n)).account_id AS target,
                   (accounts.find_or_create_account('user', ARRAY(
                        SELECT ROW('reference_id', 'ms-{variant}-' || n || '-' || k)::accounts.identifier
                          FROM generate_series(1, {ids}) k))).account_id AS source
              FROM generate_series(1, {MERGE_N}) n""")
        if rows:
            conn.execute(f"""INSERT INTO merge_events (reference)
                             SELECT 'ms-{variant}-' || n || '-1' FROM generate_series(1, {MERGE_N}) n,
                                    generate_series(1, {rows})""")
        conn.execute("VACUUM ANALYZE")
        t = ms(conn, f"SELECT sum(accounts.merge_accounts(target, ARRAY[source])) FROM pairs_{variant}")
        out[variant] = t * 1000 / MERGE_N
    repointed = conn.execute("""SELECT count(*) FROM merge_events e JOIN pairs_rows p ON p.target = e.account_id""").fetchone()[0]
    assert repointed == MERGE_N * MERGE_ROWS, repointed
    return {
        "per merge": out["one"],
        "per moved identifier": (out["many"] - out["one"]) / (MERGE_IDS - 1),
        "per re-pointed row": (out["rows"] - out["one"]) / MERGE_ROWS,
    }


RECORD_N = 20 if SMOKE else 500


def bench_record(conn):
    """The account record (1.8), per call, each in one statement of
    RECORD_N calls: a merging find-or-create that merges two accounts
    (on_conflict => 'merge'), merge_accounts() of the same shape, a merging
    call that is a hit (the identifiers on one account: no lock), the same
    hit with on_conflict => 'error', and set_fields() of two fields."""
    log(f"record: {RECORD_N} calls per case")
    conn.execute("""DO $$ BEGIN PERFORM accounts.create_identifier_type('user', 'device');
                     EXCEPTION WHEN duplicate_object THEN NULL; END $$;
                    DO $$ BEGIN PERFORM accounts.create_field('user', 'name'), accounts.create_field('user', 'plan', 'text', false);
                     EXCEPTION WHEN duplicate_object THEN NULL; END $$""")
    for variant in ("warm", "call", "explicit"):
        conn.execute(f"""CREATE TEMP TABLE rec_{variant} AS
            SELECT n,
                   (accounts.find_or_create_account('user', 'device', 'ra-{variant}-' || n)).account_id AS a,
                   (accounts.find_or_create_account('user', 'device', 'rb-{variant}-' || n)).account_id AS b
              FROM generate_series(1, {RECORD_N}) n""")
    conn.execute("VACUUM ANALYZE")
    merging = """SELECT count(*) FROM rec_{v}, accounts.find_or_create_account('user',
                     ARRAY[ROW('device', 'ra-{v}-' || n), ROW('device', 'rb-{v}-' || n)]::accounts.identifier[],
                     on_conflict => '{mode}') f"""
    ms(conn, merging.format(v="warm", mode="merge"))
    out = {
        "merging call": ms(conn, merging.format(v="call", mode="merge")),
        "merge_accounts": ms(conn, "SELECT sum(accounts.merge_accounts(a, ARRAY[b])) FROM rec_explicit"),
        "hit, merge": ms(conn, merging.format(v="call", mode="merge")),
        "hit, error": ms(conn, merging.format(v="call", mode="error")),
        "set_fields": ms(conn, """SELECT count(accounts.set_fields(a, jsonb_build_object('name', 'N' || n, 'plan', 'p')))
                                    FROM rec_call"""),
    }
    return {k: v * 1000 / RECORD_N for k, v in out.items()}


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    with connect() as c:
        ver = c.execute("SHOW server_version").fetchone()[0]
    return f"{cpu}, {os.cpu_count()} cores, {mem_gb:.0f} GiB RAM, {platform.system()} {platform.release()}, PostgreSQL {ver}"


def verdict(ok):
    # a smoke run's sizes are too small for its numbers to mean anything
    if SMOKE:
        return "n/a (smoke run)"
    return "met" if ok else "**not met**"


QUICK_HEADER = ("| PostgreSQL | hit µs: ours / floor / peer | hit vs floor (≤ 1.1×) | peer slower by "
                "| miss, journal on, µs: ours / floor with outbox | vs floor with outbox (≤ 1.0×) "
                "| miss, journal off, µs: ours / floor | vs floor (≤ 1.1×) | peer slower by | events_since(1000), ms |")


def quick():
    """One row: the hit and miss paths against the floor and the peer."""
    with connect() as conn:
        setup(conn)
        ver = conn.execute("SHOW server_version").fetchone()[0]
        hit = bench_hit(conn)
        miss = bench_miss(conn)
        read_ms = bench_events_since(conn)

    row = (f"| {ver} | {median(hit['ours']):.2f} / {median(hit['floor']):.2f} / {median(hit['peer']):.2f} "
           f"| {ratios(hit['ours'], hit['floor']):.2f}× | {ratios(hit['peer'], hit['ours']):.2f}× "
           f"| {median(miss['ours']):.2f} / {median(miss['floor_outbox']):.2f} | {ratios(miss['ours'], miss['floor_outbox']):.2f}× "
           f"| {median(miss['ours_nojournal']):.2f} / {median(miss['floor']):.2f} | {ratios(miss['ours_nojournal'], miss['floor']):.2f}× "
           f"| {ratios(miss['peer'], miss['ours']):.2f}× | {read_ms:.2f} |")
    print(f"Machine: {machine()}")
    print(QUICK_HEADER)
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print(row)
    out = os.environ.get("BENCH_ROW")
    if out:
        with open(out, "a") as f:
            f.write(row + "\n")


def merge_only():
    """BENCH_ONLY=merge: the merge cost alone, and the account record's."""
    with connect() as conn:
        conn.execute(open(os.path.join(HERE, "bench.sql")).read())
        m = bench_merge(conn)
        r = bench_record(conn)
    print(f"Machine: {machine()}")
    print(f"merge_accounts(): {m['per merge']:.0f} µs per merge; +{m['per moved identifier']:.1f} µs per moved "
          f"identifier; +{m['per re-pointed row']:.1f} µs per re-pointed trigger-managed row")
    print("account record, µs per call: " + ", ".join(f"{k} {v:.1f}" for k, v in r.items()))


def bulk_only():
    """BENCH_ONLY=bulk: a million creates in one transaction, alone."""
    with connect() as conn:
        conn.execute(open(os.path.join(HERE, "bench.sql")).read())
    print(f"Machine: {machine()}")
    for case, v in bench_bulk().items():
        print(f"{case}: {v}")


def main():
    if os.environ.get("BENCH_ONLY") == "merge":
        return merge_only()
    if os.environ.get("BENCH_ONLY") == "bulk":
        return bulk_only()
    if QUICK:
        return quick()
    with connect() as conn:
        setup(conn)
        hit = bench_hit(conn)
        miss = bench_miss(conn)
        read_ms = bench_events_since(conn)
        with tempfile.TemporaryDirectory() as tmp:
            rt = bench_round_trip(tmp)
            hot, hot_err = bench_contention(conn, tmp)
        merge = bench_merge(conn)
        record = bench_record(conn)
    bulk = bench_bulk()
    mem = bench_memory()

    hit_floor = ratios(hit["ours"], hit["floor"])
    hit_peer = ratios(hit["peer"], hit["ours"])
    miss_floor = ratios(miss["ours"], miss["floor_outbox"])
    miss_quiet_floor = ratios(miss["ours_nojournal"], miss["floor"])
    miss_peer = ratios(miss["peer"], miss["ours"])
    rt_ratio = ratios(rt["ours"], rt["floor"])
    hot_ratio = ratios(hot["ours"], hot["peer"])

    lines = []
    p = lines.append
    p(f"Machine: {machine()}")
    p(f"Mode: {'SMOKE (tiny sizes, numbers meaningless)' if SMOKE else 'full'}; "
      f"{ROUNDS} round(s), medians; hit set {HIT_N:,}, miss batch {MISS_N:,}, pgbench {PGB_SECONDS}s per run")
    p("")
    p("| case | extension | floor (plain SQL) | peer (PL/pgSQL) | ratio | target |")
    p("| --- | --- | --- | --- | --- | --- |")
    p(f"| hit path, µs per call (one statement) | {median(hit['ours']):.2f} "
      f"(LATERAL: {median(hit['ours_lateral']):.2f}; bulk fn: {median(hit['ours_bulk']):.2f}) "
      f"| {median(hit['floor']):.2f} (on the extension's key order: {median(hit['floor_own_key']):.2f}) "
      f"| {median(hit['peer']):.2f} "
      f"| {hit_floor:.2f}× floor; peer {hit_peer:.2f}× slower "
      f"| ≤ 1.1× floor: {verdict(hit_floor <= 1.1)}; ≥ 1.5× faster than peer: {verdict(hit_peer >= 1.5)} |")
    p(f"| miss path, µs per call (one statement), change journal on | {median(miss['ours']):.2f} (bulk fn: {median(miss['ours_bulk']):.2f}) "
      f"| {median(miss['floor_outbox']):.2f} (with an outbox row; without: {median(miss['floor']):.2f}) | {median(miss['peer']):.2f} "
      f"| {miss_floor:.2f}× floor with outbox; peer {miss_peer:.2f}× slower "
      f"| ≤ 1.0× floor with outbox: {verdict(miss_floor <= 1.0)}; ≥ 1.5× faster than peer: {verdict(miss_peer >= 1.5)} |")
    p(f"| miss path, µs per call, change journal off (set_journal) | {median(miss['ours_nojournal']):.2f} "
      f"| {median(miss['floor']):.2f} | – | {miss_quiet_floor:.2f}× floor | ≤ 1.1× floor: {verdict(miss_quiet_floor <= 1.1)} |")
    p(f"| events_since(after, 1000), ms per call | {read_ms:.2f} | – | – | – | < 5 ms: {verdict(read_ms < 5)} |")
    p(f"| round trip, TPS (pgbench -M prepared, 4 clients, hit) | {median(rt['ours']):,.0f} | {median(rt['floor']):,.0f} (prepared SELECT) | – "
      f"| {rt_ratio:.2f}× floor | ≥ 0.95×: {verdict(rt_ratio >= 0.95)} |")
    p(f"| hot-key contention, TPS (32 clients, 20 ids, 10 new) | {median(hot['ours']):,.0f}, {hot_err['ours']} errors | – "
      f"| {median(hot['peer']):,.0f}, {hot_err['peer']} errors | {hot_ratio:.2f}× peer "
      f"| 0 errors and ≥ peer: {verdict(hot_err['ours'] == 0 and hot_ratio >= 1.0)} |")
    for case in ("bulk function", "per-row calls"):
        created, secs, peak = bulk[case]
        p(f"| {BULK_N:,} new in one transaction, {case}, change journal on | {created:,} created in {secs:.1f} s "
          f"(median of {BULK_ROUNDS}, each in a new database), "
          f"backend peak +{peak:.0f} MiB | – | {bulk['peer'] if case == 'per-row calls' else '–'} | – "
          f"| succeeds: {verdict(created == BULK_N)}; ≤ 10 s: {verdict(secs <= 10)} |")
    changed = ", ".join(f"{n} {d / 1024:+.0f} KiB" for n, d in sorted(mem[4].items())) or "none"
    p(f"| memory, {MEM_CALLS:,} calls in one session | memory contexts {mem[0]:.2f} MiB after warm-up, "
      f"{mem[1]:.2f} MiB at the end (changed: {changed}; process RssAnon {mem[2]:.1f} → {mem[3]:.1f} MiB) "
      f"| – | – | – | contexts end = start: {verdict(mem[1] <= mem[0])} |")
    p(f"| merge_accounts(), µs (one source, {MERGE_N} merges) | {merge['per merge']:.0f} per merge; "
      f"+{merge['per moved identifier']:.1f} per moved identifier; "
      f"+{merge['per re-pointed row']:.1f} per re-pointed trigger-managed row | – | – | – | reported |")
    p(f"| the account record, µs per call ({RECORD_N} calls) | merging call that merges two accounts "
      f"{record['merging call']:.0f} (merge_accounts() of two: {record['merge_accounts']:.0f}); "
      f"merging call that finds one account {record['hit, merge']:.1f} (on_conflict => 'error': {record['hit, error']:.1f}); "
      f"set_fields() of two fields {record['set_fields']:.0f} | – | – | – | reported |")
    text = "\n".join(lines)
    print(text)
    out = os.environ.get("BENCH_OUT")
    if out:
        with open(out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
