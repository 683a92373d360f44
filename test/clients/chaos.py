#!/usr/bin/env python3
"""Chaos run for test/t/011_chaos.pl (issue #10).

CLIENTS threads for SECONDS mix every function of the extension under all
three isolation levels, 1 to 3 calls per transaction, some rolled back,
while a saboteur runs REINDEX CONCURRENTLY, VACUUM FULL, registry changes
and cancels random clients.  Errors a user must handle (serialization,
deadlock, "belongs to another account", "in use", a dropped type, a
cancel) are counted; any other error, an internal one above all, is a
failure.  Prints one summary line per category and exits 1 on a failure.
"""
import os
import random
import sys
import threading
import time

import psycopg

CONNINFO = os.environ.get("CHAOS_CONNINFO", "")
CLIENTS = int(os.environ.get("CHAOS_CLIENTS", "16"))
SECONDS = float(os.environ.get("CHAOS_SECONDS", "60"))
MIN_TRANSACTIONS = int(os.environ.get("CHAOS_MIN_TRANSACTIONS", "0"))
POOL = 400

# SQLSTATEs a correct application can get under this load, and handles
EXPECTED = {
    "40001": "serialization failure",
    "40P01": "deadlock",
    "21000": "identifiers on different accounts (multi)",
    "23505": "identifier belongs to another account (add_identifier)",
    "2BP01": "type in use / last identifier",
    "42704": "unknown account or dropped type",
    "57014": "canceled",
    "55P03": "lock timeout",
}

lock = threading.Lock()
counts = {}
failures = []
stop = threading.Event()
pids = []


def note(key):
    with lock:
        counts[key] = counts.get(key, 0) + 1


def ref(r):
    return "ref-%d" % r.randrange(POOL)


def email(r):
    return "m%d@example.com" % r.randrange(POOL)


def op(cur, r):
    k = r.randrange(12)
    if k == 0:
        cur.execute("SELECT * FROM accounts.find_or_create_account('user', 'reference_id', %s)", (ref(r),))
    elif k == 1:
        cur.execute("SELECT * FROM accounts.find_or_create_account('user', ROW('reference_id', %s)::accounts.identifier)", (ref(r).upper(),))
    elif k == 2:
        vals = [ref(r) for _ in range(r.randrange(1, 8))]
        cur.execute("SELECT count(*) FROM accounts.find_or_create_accounts('user', 'reference_id', %s)", (vals,))
    elif k == 3:
        cur.execute("SELECT * FROM accounts.find_or_create_account('user', ARRAY[ROW('reference_id', %s), ROW('email', %s)]::accounts.identifier[])",
                    (ref(r), email(r)))
    elif k == 4:
        cur.execute("SELECT * FROM accounts.try_find_or_create_account('user', 'reference_id', %s)", (ref(r),))
        row = cur.fetchone()
        if row[2] is not None and row[2] not in EXPECTED:
            raise RuntimeError("try_ returned unexpected %s: %s" % (row[2], row[3]))
        return
    elif k == 5:
        cur.execute("INSERT INTO chaos_events (reference) VALUES (%s)", (ref(r),))
    elif k == 6:
        cur.execute("SELECT accounts.add_identifier(a, 'email', %s) FROM "
                    "(SELECT accounts.find_account('user', 'reference_id', %s) AS a) s WHERE a IS NOT NULL",
                    (email(r), ref(r)))
    elif k == 7:
        cur.execute("SELECT accounts.remove_identifier(i.account_id, i.id_type, i.value) FROM accounts.identifiers i "
                    "WHERE i.value = %s", (email(r),))
    elif k == 8:
        cur.execute("DELETE FROM accounts.accounts WHERE id = accounts.find_account('user', 'reference_id', %s)", (ref(r),))
    elif k == 9:
        cur.execute("SELECT accounts.find_account('user', 'reference_id', %s)", (ref(r),))
    elif k == 10:
        t = "tmp%d" % r.randrange(3)
        cur.execute("SELECT * FROM accounts.find_or_create_account('user', %s, %s)", (t, ref(r)))
    else:
        cur.execute("SELECT accounts.normalize_identifier('user', 'email', %s)", (email(r).upper(),))
    if cur.description is not None:
        cur.fetchall()


def client(n):
    r = random.Random(n)
    with psycopg.connect(CONNINFO, autocommit=True, prepare_threshold=None) as conn:
        with lock:
            pids.append(conn.info.backend_pid)
        conn.execute("SET lock_timeout = '5s'")
        while not stop.is_set():
            level = r.choice(["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"])
            try:
                with conn.cursor() as cur:
                    cur.execute("BEGIN ISOLATION LEVEL " + level)
                    for _ in range(r.randrange(1, 4)):
                        op(cur, r)
                    cur.execute("ROLLBACK" if r.random() < 0.1 else "COMMIT")
                note("transactions")
            except psycopg.Error as e:
                state = e.sqlstate or "?"
                # the saboteur's cancel can hit the ROLLBACK too: the
                # transaction would stay aborted, and the next BEGIN get
                # 25P02 (seen on 18); roll back until it took
                for _ in range(10):
                    try:
                        conn.execute("ROLLBACK")
                        break
                    except psycopg.Error:
                        pass
                if state in EXPECTED:
                    note(state)
                else:
                    with lock:
                        failures.append("%s: %s" % (state, str(e).strip().splitlines()[0]))
            except Exception as e:  # noqa: BLE001
                with lock:
                    failures.append("client: %r" % (e,))


def saboteur():
    r = random.Random(999)
    with psycopg.connect(CONNINFO, autocommit=True) as conn:
        while not stop.is_set():
            k = r.randrange(6)
            try:
                if k == 0:
                    conn.execute("REINDEX INDEX CONCURRENTLY " + r.choice(
                        ["accounts.identifiers_pkey", "accounts.accounts_pkey",
                         "accounts.identifier_types_pkey", "accounts.account_types_pkey",
                         "accounts.identifiers_account_id_idx"]))
                elif k == 1:
                    conn.execute("VACUUM FULL " + r.choice(["accounts.identifier_types", "accounts.account_types",
                                                            "accounts.identifiers"]))
                elif k == 2:
                    t = "tmp%d" % r.randrange(3)
                    conn.execute("SELECT accounts.create_identifier_type('user', %s)", (t,))
                elif k == 3:
                    t = "tmp%d" % r.randrange(3)
                    conn.execute("DELETE FROM accounts.identifiers WHERE id_type = %s AND account_id IN "
                                 "(SELECT account_id FROM accounts.identifiers GROUP BY account_id HAVING count(*) > 1)", (t,))
                    conn.execute("SELECT accounts.drop_identifier_type('user', %s)", (t,))
                else:
                    with lock:
                        victim = r.choice(pids) if pids else None
                    if victim:
                        conn.execute("SELECT pg_cancel_backend(%s)", (victim,))
                note("saboteur")
            except psycopg.Error as e:
                if e.sqlstate in ("23505", "42710", "2BP01", "42704", "40P01", "55P03"):
                    note("saboteur " + e.sqlstate)
                else:
                    with lock:
                        failures.append("saboteur %s: %s" % (e.sqlstate, str(e).strip().splitlines()[0]))
            time.sleep(r.uniform(0.05, 0.4))


def main():
    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    threads.append(threading.Thread(target=saboteur))
    for t in threads:
        t.start()
    # SECONDS, and on a loaded machine longer (up to three times as long
    # again) until MIN_TRANSACTIONS committed: the least the test accepts
    end = time.time() + SECONDS
    while time.time() < end or (time.time() < end + 3 * SECONDS and counts.get("transactions", 0) < MIN_TRANSACTIONS):
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join()
    for k in sorted(counts):
        print("count %s %d" % (k, counts[k]))
    for f in failures[:20]:
        print("FAILURE " + f)
    print("failures %d" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
