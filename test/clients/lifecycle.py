#!/usr/bin/env python3
"""Many-client lifecycle run for test/t/014_lifecycle.pl (issue #13).

CLIENTS threads for SECONDS mix find-or-create (single, multi-identifier)
on a small pool of identifiers with add_identifier, merges of random pairs,
redactions, archives and restores, tags, and inserts into a table whose
account column an assign_account() trigger manages; 1 to 3 calls per
transaction, mostly READ COMMITTED, some REPEATABLE READ, some rolled back.

Errors a correct application gets under this load (serialization failure,
deadlock, a merged or redacted account, identifiers on different accounts)
are counted; any other error is a failure.  For every reference id the
committed calls that returned created = true are counted: a reference id is
never erased, so it must be created at most once.  Prints one summary line
per category ("count ...", "created-twice N", "failures N"); exits 1 on a
failure.
"""
import os
import random
import sys
import threading
import time

import psycopg

CONNINFO = os.environ.get("LIFECYCLE_CONNINFO", "")
CLIENTS = int(os.environ.get("LIFECYCLE_CLIENTS", "16"))
SECONDS = float(os.environ.get("LIFECYCLE_SECONDS", "30"))
MIN_TRANSACTIONS = int(os.environ.get("LIFECYCLE_MIN_TRANSACTIONS", "0"))
POOL = 300

EXPECTED = {
    "40001": "serialization failure",
    "40P01": "deadlock",
    "21000": "identifiers on different accounts (multi)",
    "23505": "identifier belongs to another account (add_identifier)",
    "55000": "account merged or redacted",
    "42704": "account gone (merged away between find and call)",
    "55P03": "lock timeout",
}

lock = threading.Lock()
counts = {}
failures = []
created_refs = {}
stop = threading.Event()


def note(key, n=1):
    with lock:
        counts[key] = counts.get(key, 0) + n


def ref(r):
    return "p-%d" % r.randrange(POOL)


def email(r):
    return "e%d@example.com" % r.randrange(POOL)


def op(cur, r, created, redacted, level):
    """One call; appends reference ids this call created to created, and
    a mark to redacted for a redaction that erased something."""
    k = r.randrange(20)
    if k < 5:
        v = ref(r)
        cur.execute("SELECT created FROM accounts.find_or_create_account('user', 'reference_id', %s)", (v,))
        if cur.fetchone()[0]:
            created.append(v)
        note("op find_or_create")
    elif k < 7:
        v = ref(r)
        cur.execute("SELECT created FROM accounts.find_or_create_account('user', "
                    "ARRAY[ROW('reference_id', %s), ROW('email', %s)]::accounts.identifier[])", (v, email(r)))
        if cur.fetchone()[0]:
            created.append(v)
        note("op multi")
    elif k < 9:
        cur.execute("SELECT accounts.add_identifier(a, 'email', %s) FROM "
                    "(SELECT accounts.find_account('user', 'reference_id', %s) AS a) s WHERE a IS NOT NULL",
                    (email(r), ref(r)))
        cur.fetchall()
        note("op add_identifier")
    elif k < 12:
        cur.execute("SELECT accounts.find_account('user', 'reference_id', %s), "
                    "accounts.find_account('user', 'reference_id', %s)", (ref(r), ref(r)))
        a, b = cur.fetchone()
        if a is not None and b is not None and a != b:
            cur.execute("SELECT accounts.merge_accounts(%s, ARRAY[%s]::uuid[])", (a, b))
            cur.fetchall()
            note("op merge")
    elif k == 12:
        # rare (every redaction takes accounts out of the merge pool), but
        # until a few committed: the audit needs some, however short the run
        if counts.get("redactions committed", 0) >= 3 and r.random() > 0.05:
            return
        cur.execute("SELECT accounts.redact_account(a) FROM "
                    "(SELECT accounts.find_account('user', 'email', %s) AS a) s WHERE a IS NOT NULL", (email(r),))
        if any(n > 0 for (n,) in cur.fetchall()):
            redacted.append(1)
        note("op redact")
    elif k == 13:
        fn = r.choice(["archive_account", "restore_account"])
        cur.execute("SELECT accounts.%s(a) FROM "
                    "(SELECT accounts.find_account('user', 'reference_id', %%s) AS a) s WHERE a IS NOT NULL" % fn,
                    (ref(r),))
        cur.fetchall()
        note("op archive/restore")
    elif k == 14:
        fn = r.choice(["tag_account", "untag_account"])
        cur.execute("SELECT accounts.%s(a, %%s) FROM "
                    "(SELECT accounts.find_account('user', 'reference_id', %%s) AS a) s WHERE a IS NOT NULL" % fn,
                    (["t%d" % r.randrange(5)], ref(r)))
        cur.fetchall()
        note("op tag/untag")
    elif k == 15:
        cur.execute("SELECT * FROM accounts.find_accounts('user', 'reference_id', %s)",
                    ([ref(r) for _ in range(5)],))
        cur.fetchall()
        note("op find_accounts")
    else:
        v = ref(r)
        cur.execute("INSERT INTO lifecycle_events (reference, level) VALUES (%s, %s)", (v, level))
        note("op trigger insert")


def client(n):
    r = random.Random(n)
    with psycopg.connect(CONNINFO, autocommit=True, prepare_threshold=None) as conn:
        conn.execute("SET lock_timeout = '10s'")
        while not stop.is_set():
            level = "REPEATABLE READ" if r.random() < 0.2 else "READ COMMITTED"
            created = []
            redacted = []
            try:
                with conn.cursor() as cur:
                    cur.execute("BEGIN ISOLATION LEVEL " + level)
                    for _ in range(r.randrange(1, 4)):
                        op(cur, r, created, redacted, level)
                    if r.random() < 0.1:
                        cur.execute("ROLLBACK")
                        note("rolled back")
                    else:
                        cur.execute("COMMIT")
                        with lock:
                            for v in created:
                                created_refs[v] = created_refs.get(v, 0) + 1
                        if redacted:
                            note("redactions committed", len(redacted))
                note("transactions")
            except psycopg.Error as e:
                state = e.sqlstate or "?"
                try:
                    conn.execute("ROLLBACK")
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


def main():
    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
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
    twice = sorted(v for v, c in created_refs.items() if c > 1)
    print("created-refs %d" % len(created_refs))
    print("created-twice %d %s" % (len(twice), " ".join(twice[:10])))
    for f in failures[:20]:
        print("FAILURE " + f)
    print("failures %d" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
