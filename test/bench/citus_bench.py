#!/usr/bin/env python3
"""find_or_create_account through a Citus coordinator and through a worker
against the Citus floor, for test/bench/citus.sh (which starts the cluster and distributes
the extension).

The floor is what an application would write by hand on the same
distributed tables: INSERT ... ON CONFLICT DO NOTHING RETURNING, then a
SELECT of the row, routed by the same distribution column.  The miss path
runs with the change journal on (account type user, the default: each
create writes its account.created on the worker) and off (account type
quiet, set_journal(false)).  Each variant
runs under pgbench for SECONDS with CLIENTS clients, alternately, ROUNDS
times; the table shows the median per-call latency and the median of the
per-round ratios.  Nothing is asserted.
"""
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

import psycopg

SMOKE = os.environ.get("BENCH_SMOKE") == "1"
ROUNDS = 1 if SMOKE else 3
SECONDS = 1 if SMOKE else 5
CLIENTS = 4
HOT = 10_000

FLOOR = """\\set k random(1, {hi})
\\set r :k % 65536
INSERT INTO accounts.dist_identifiers AS i (route, account_type, id_type, value, account_id)
  VALUES (:r, 'floor', 'reference_id', '{p}' || :k, gen_random_uuid()) ON CONFLICT DO NOTHING RETURNING i.account_id;
SELECT account_id FROM accounts.dist_identifiers
 WHERE route = :r AND value = '{p}' || :k AND id_type = 'reference_id' AND account_type = 'floor';
"""
# the same effect by hand: the identifier, and the account row when the
# identifier was new, in one transaction (what the extension writes)
FLOOR_FULL = """\\set k random(1, {hi})
\\set r :k % 65536
\\set made 0
BEGIN;
INSERT INTO accounts.dist_identifiers AS i (route, account_type, id_type, value, account_id)
  VALUES (:r, 'floorfull', 'reference_id', '{p}' || :k, md5('{p}' || :k)::uuid) ON CONFLICT DO NOTHING
  RETURNING 1 AS made \\aset
\\if :made
INSERT INTO accounts.dist_accounts (route, id, account_type) VALUES (:r, md5('{p}' || :k)::uuid, 'floorfull');
\\else
SELECT account_id FROM accounts.dist_identifiers
 WHERE route = :r AND value = '{p}' || :k AND id_type = 'reference_id' AND account_type = 'floorfull';
\\endif
COMMIT;
"""
ACCOUNT = """\\set k random(1, {hi})
SELECT * FROM accounts.find_or_create_account('{t}', 'reference_id', '{p}' || :k);
"""
VARIANTS = [
    ("miss", "floor", FLOOR.format(hi=2_000_000_000, p="m")),
    ("miss", "floor_full", FLOOR_FULL.format(hi=2_000_000_000, p="m")),
    ("miss", "account", ACCOUNT.format(hi=2_000_000_000, p="m", t="user")),
    ("miss", "quiet", ACCOUNT.format(hi=2_000_000_000, p="m", t="quiet")),
    ("hit", "floor", FLOOR.format(hi=HOT, p="h")),
    ("hit", "floor_full", FLOOR_FULL.format(hi=HOT, p="h")),
    ("hit", "account", ACCOUNT.format(hi=HOT, p="h", t="user")),
]


def log(msg):
    print(f"-- {msg}", file=sys.stderr, flush=True)


def pgbench(script, tmp, port):
    path = os.path.join(tmp, "script.sql")
    with open(path, "w") as f:
        f.write(script)
    out = subprocess.run(["pgbench", "-n", "-p", port, "-c", str(CLIENTS), "-j", "2", "-T", str(SECONDS), "-f", path],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("pgbench failed:\n" + out.stdout + out.stderr)
    m = re.search(r"latency average = ([0-9.]+) ms", out.stdout)
    return float(m.group(1))


def write_page(path, version, citus, shards, rows):
    """Put this run's table into the page at path, as the section of its
    major (replacing that section, keeping the others)."""
    major = version.split(".")[0]
    title = "# Citus benchmark, quiet runs"
    intro = ("Written by `CITUS_BENCH_PAGE=docs/benchmark-citus.md ./test/bench/citus.sh`, one section per "
             "major, each the output of one run on a quiet machine; not edited by hand. What the floors are "
             "and the targets: [performance](performance.md).")
    sections = {}
    if os.path.exists(path):
        current = None
        with open(path) as f:
            for line in f:
                if line.startswith("## PostgreSQL "):
                    current = line.split()[2]
                    sections[current] = []
                if current:
                    sections[current].append(line)
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    commit = os.environ.get("CITUS_BENCH_COMMIT", "")
    lines = [f"## PostgreSQL {major}\n", "\n",
             f"{time.strftime('%Y-%m-%d')}{', commit ' + commit if commit else ''}: Citus {citus} on PostgreSQL "
             f"{version.split()[0]}, a coordinator and two workers on one machine ({os.cpu_count()} cores, {cpu}), "
             f"{shards} shards; pgbench through the coordinator and through a worker, {CLIENTS} clients, "
             f"{ROUNDS} x {SECONDS} s per variant; ms are medians over the rounds, ratios the medians of the "
             f"per-round ratios (each round runs the floor and the call back to back).\n", "\n",
             "| entry | path | Citus floor: one table | Citus floor: the same effect | find_or_create_account | vs one table | target | vs the same effect |\n",
             "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: |\n"]
    for e, p, f, ff, a, r, rf in rows:
        target = "≤ 1.2x" if e == "coordinator" else "≤ 1.0x"
        lines.append(f"| {e} | {p} | {f:.3f} ms | {ff:.3f} ms | {a:.3f} ms | {r:.2f}x | {target} | {rf:.2f}x |\n")
    lines.append("\n")
    sections[major] = lines
    with open(path, "w") as out:
        out.write(title + "\n\n" + intro + "\n\n")
        for m in sorted(sections, key=int):
            out.writelines(sections[m])


def main():
    conn = psycopg.connect(autocommit=True)
    version = conn.execute("SHOW server_version").fetchone()[0]
    citus = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'citus'").fetchone()[0]
    shards = conn.execute("SELECT shard_count FROM citus_tables WHERE table_name = 'accounts.dist_identifiers'::regclass").fetchone()[0]
    conn.execute("SELECT accounts.create_account_type('quiet')")
    conn.execute("SELECT accounts.set_journal('quiet', false)")
    log(f"loading {HOT} identifiers for the hit path")
    conn.execute("SELECT count(*) FROM accounts.find_or_create_accounts('user', 'reference_id', "
                 "ARRAY(SELECT 'h' || g FROM generate_series(1, %s) g))", (HOT,))
    conn.execute("INSERT INTO accounts.dist_identifiers (route, account_type, id_type, value, account_id) "
                 "SELECT g %% 65536, 'floor', 'reference_id', 'h' || g, gen_random_uuid() FROM generate_series(1, %s) g", (HOT,))
    conn.execute("INSERT INTO accounts.dist_identifiers (route, account_type, id_type, value, account_id) "
                 "SELECT g %% 65536, 'floorfull', 'reference_id', 'h' || g, md5('h' || g)::uuid "
                 "FROM generate_series(1, %s) g", (HOT,))
    conn.close()
    entries = [("coordinator", os.environ["PGPORT"]), ("worker", os.environ["BENCH_WORKER_PORT"])]
    lat = {(e, p, v): [] for e, _ in entries for p, v, _ in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(ROUNDS):
            for e, port in entries:
                for p, v, script in VARIANTS:
                    lat[(e, p, v)].append(pgbench(script, tmp, port))
                log(f"round {rnd + 1}, {e}: " + ", ".join(f"{p}/{v} {lat[(e, p, v)][-1]:.3f} ms" for p, v, _ in VARIANTS))
    rows = []
    for e, _ in entries:
        for path, v, label in (("miss", "account", "miss, journal on"), ("miss", "quiet", "miss, journal off"),
                               ("hit", "account", "hit")):
            ratios = [a / f for f, a in zip(lat[(e, path, "floor")], lat[(e, path, v)])]
            ratios_full = [a / f for f, a in zip(lat[(e, path, "floor_full")], lat[(e, path, v)])]
            rows.append((e, label, statistics.median(lat[(e, path, "floor")]), statistics.median(lat[(e, path, "floor_full")]),
                         statistics.median(lat[(e, path, v)]), statistics.median(ratios), statistics.median(ratios_full)))
    print()
    print(f"Citus {citus} on PostgreSQL {version}: a coordinator and two workers on one machine "
          f"({os.cpu_count()} cores, {platform.machine()}), {shards} shards; pgbench through the coordinator "
          f"and through a worker, {CLIENTS} clients, {ROUNDS} x {SECONDS} s per variant")
    print()
    print("| entry | path | Citus floor: one table (INSERT ON CONFLICT + SELECT) | Citus floor: the same effect (both rows, one transaction) | find_or_create_account | vs one table | vs the same effect |")
    print("|-------|------|------:|------:|------:|------:|------:|")
    for e, path, f, ff, a, r, rf in rows:
        print(f"| {e} | {path} | {f:.3f} ms | {ff:.3f} ms | {a:.3f} ms | {r:.2f}x | {rf:.2f}x |")
    page = os.environ.get("CITUS_BENCH_PAGE")
    if page:
        write_page(page, version, citus, shards, rows)
    row = os.environ.get("CITUS_BENCH_ROW")
    if row:
        with open(row, "a") as out:
            for e, path, f, ff, a, r, rf in rows:
                out.write("| %s | %s | %s | %s | %.3f | %.3f | %.3f | %.2fx | %.2fx |\n"
                          % (version.split()[0], citus, e, path, f, ff, a, r, rf))


if __name__ == "__main__":
    main()
