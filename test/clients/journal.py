#!/usr/bin/env python3
"""Writers and consumers of the change journal, for test/t/016_journal.pl
(issue #14).

WRITERS threads for SECONDS change accounts the way applications do:
find-or-create of new and existing reference ids, bulk calls, multi-
identifier calls, add and remove identifiers, merges, redactions, tags,
archive and restore; 1 to 3 calls per transaction, some REPEATABLE READ,
about one transaction in ten rolled back.  The server may be crashed and
restarted meanwhile (the TAP test does it): every client then reconnects.

CONSUMERS (2) threads read accounts.events_since() in a loop, as the
README's recipe does: in one transaction they read the events after their
stored position, record them in journal_consumed (with an ordinal) and
store the new position, so that what they processed and where they stand
survive a crash together.  When the writers stop they drain the journal.

Then the checks, each printed as "check NAME N" (N = 0 means it holds):
  - every consumer has exactly the committed events: none missing, none
    extra, none twice, and in seq order;
  - replaying the first consumer's events gives the tables: the same
    accounts, each created once, the same status, merged_into and tags, and
    the same owner for every identifier.
Exits 1 on an undocumented client error or a failed check.
"""
import json
import os
import random
import sys
import threading
import time

import psycopg

CONNINFO = os.environ.get("JOURNAL_CONNINFO", "")
WRITERS = int(os.environ.get("JOURNAL_WRITERS", "16"))
CONSUMERS = int(os.environ.get("JOURNAL_CONSUMERS", "2"))
SECONDS = float(os.environ.get("JOURNAL_SECONDS", "30"))
# with JOURNAL_STOP_FILE, the writers run until that file exists instead
STOP_FILE = os.environ.get("JOURNAL_STOP_FILE")
POOL = 400

EXPECTED = {
    "40001": "serialization failure",
    "40P01": "deadlock",
    "21000": "identifiers on different accounts (multi)",
    "23505": "identifier belongs to another account (add_identifier)",
    "55000": "account merged or redacted",
    "42704": "account gone",
    "2BP01": "last identifier of an account",
    "55P03": "lock timeout",
}
# the server going away (crash) and coming back
CONNECTION_STATES = {None, "57P01", "57P02", "57P03", "08006", "08003", "08001", "08000"}

lock = threading.Lock()
counts = {}
failures = []
stop_writers = threading.Event()
writers_done = threading.Event()


def note(key, n=1):
    with lock:
        counts[key] = counts.get(key, 0) + n


def fail(msg):
    with lock:
        failures.append(msg)


def ref(r):
    return "j-%d" % r.randrange(POOL)


def new_ref(r):
    return "n-%d-%d" % (r.randrange(1 << 30), r.randrange(1 << 30))


def email(r):
    return "e%d@example.com" % r.randrange(POOL)


def find(cur, value, id_type="reference_id"):
    cur.execute("SELECT accounts.find_account('user', %s, %s)", (id_type, value))
    return cur.fetchone()[0]


def op(cur, r):
    k = r.randrange(24)
    if k < 4:
        cur.execute("SELECT created FROM accounts.find_or_create_account('user', 'reference_id', %s)", (ref(r),))
        cur.fetchall()
        note("op find_or_create existing pool")
    elif k < 6:
        cur.execute("SELECT created FROM accounts.find_or_create_account('user', 'reference_id', %s)", (new_ref(r),))
        cur.fetchall()
        note("op find_or_create new")
    elif k < 8:
        vals = [ref(r) for _ in range(r.randrange(2, 5))] + [new_ref(r)]
        cur.execute("SELECT count(*) FROM accounts.find_or_create_accounts('user', 'reference_id', %s)", (vals,))
        cur.fetchall()
        note("op bulk")
    elif k < 10:
        cur.execute("SELECT created FROM accounts.find_or_create_account('user', "
                    "ARRAY[ROW('reference_id', %s), ROW('email', %s)]::accounts.identifier[])", (ref(r), email(r)))
        cur.fetchall()
        note("op multi")
    elif k < 12:
        a = find(cur, ref(r))
        if a is not None:
            cur.execute("SELECT accounts.add_identifier(%s, 'email', %s)", (a, email(r)))
            cur.fetchall()
            note("op add_identifier")
    elif k == 12:
        e = email(r)
        a = find(cur, e, "email")
        if a is not None:
            cur.execute("SELECT accounts.remove_identifier(%s, 'email', %s)", (a, e))
            cur.fetchall()
            note("op remove_identifier")
    elif k < 16:
        a, b = find(cur, ref(r)), find(cur, ref(r))
        if a is not None and b is not None and a != b:
            cur.execute("SELECT accounts.merge_accounts(%s, ARRAY[%s]::uuid[])", (a, b))
            cur.fetchall()
            note("op merge")
    elif k == 16:
        if r.random() < 0.1:
            a = find(cur, email(r), "email")
            if a is not None:
                cur.execute("SELECT accounts.redact_account(%s)", (a,))
                cur.fetchall()
                note("op redact")
    elif k < 19:
        a = find(cur, ref(r))
        if a is not None:
            fn = r.choice(["tag_account", "untag_account"])
            cur.execute("SELECT accounts.%s(%%s, %%s)" % fn, (a, ["t%d" % r.randrange(4), "t%d" % r.randrange(4)]))
            cur.fetchall()
            note("op tag/untag")
    elif k < 21:
        a = find(cur, ref(r))
        if a is not None:
            fn = r.choice(["archive_account", "restore_account"])
            cur.execute("SELECT accounts.%s(%%s)" % fn, (a,))
            cur.fetchall()
            note("op archive/restore")
    else:
        cur.execute("SELECT * FROM accounts.find_accounts('user', 'reference_id', %s)", ([ref(r) for _ in range(4)],))
        cur.fetchall()
        note("op find")


def connect():
    """A connection, retrying while the server is down (crash, restart)."""
    deadline = time.time() + 120
    while True:
        try:
            conn = psycopg.connect(CONNINFO, autocommit=True, prepare_threshold=None, connect_timeout=5)
            conn.execute("SET lock_timeout = '10s'")
            return conn
        except psycopg.OperationalError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def handle(conn, e):
    """Classify an error; returns False if the connection is gone."""
    state = e.sqlstate
    if conn.closed or isinstance(e, psycopg.OperationalError) and state in CONNECTION_STATES:
        note("connection lost")
        return False
    try:
        conn.execute("ROLLBACK")
    except psycopg.Error:
        note("connection lost")
        return False
    if state in EXPECTED:
        note(state)
    else:
        fail("%s: %s" % (state, str(e).strip().splitlines()[0]))
    return True


def writer(n):
    r = random.Random(n)
    conn = connect()
    while not stop_writers.is_set():
        level = "REPEATABLE READ" if r.random() < 0.2 else "READ COMMITTED"
        try:
            with conn.cursor() as cur:
                cur.execute("BEGIN ISOLATION LEVEL " + level)
                for _ in range(r.randrange(1, 4)):
                    op(cur, r)
                if r.random() < 0.1:
                    cur.execute("ROLLBACK")
                    note("rolled back")
                else:
                    cur.execute("COMMIT")
            note("transactions")
        except psycopg.Error as e:
            if not handle(conn, e):
                conn.close()
                conn = connect()
        except Exception as e:  # noqa: BLE001
            fail("writer: %r" % (e,))
    conn.close()


def consume_once(conn, name):
    """One batch; returns how many events it processed."""
    with conn.transaction():
        cur = conn.cursor()
        cur.execute("SELECT last FROM journal_consumers WHERE name = %s FOR UPDATE", (name,))
        last = cur.fetchone()[0]
        cur.execute("SELECT seq, kind, account_id, detail FROM accounts.events_since(%s, 500)", (last,))
        rows = cur.fetchall()
        if not rows:
            return 0
        cur.executemany("INSERT INTO journal_consumed (consumer, seq, kind, account_id, detail) "
                        "VALUES (%s, %s, %s, %s, %s)",
                        [(name, s, k, a, json.dumps(d)) for s, k, a, d in rows])
        cur.execute("UPDATE journal_consumers SET last = %s WHERE name = %s", (rows[-1][0], name))
        return len(rows)


def consumer(n):
    name = "c%d" % n
    conn = connect()
    idle_after_writers = 0
    while idle_after_writers < 3:
        try:
            got = consume_once(conn, name)
            note("consumed %s" % name, got)
            note("batches %s" % name)
            if got == 0:
                if writers_done.is_set():
                    idle_after_writers += 1
                time.sleep(0.05)
        except psycopg.Error as e:
            if conn.closed or isinstance(e, psycopg.OperationalError) and e.sqlstate in CONNECTION_STATES:
                note("connection lost")
                conn.close()
                conn = connect()
            else:
                fail("consumer %s: %s %s" % (name, e.sqlstate, str(e).strip().splitlines()[0]))
                return
    conn.close()


def check(name, n):
    print("check %s %d" % (name, n))
    if n:
        fail("check %s: %d" % (name, n))


def verify():
    with psycopg.connect(CONNINFO, autocommit=True) as conn:
        q = lambda sql, *a: conn.execute(sql, a).fetchall()  # noqa: E731
        committed = q("SELECT count(*) FROM accounts.events")[0][0]
        print("events %d" % committed)
        # seq values of rolled-back transactions are never used: compare
        # the highest seq, not the count, with the one before the crash
        print("max seq %d" % q("SELECT coalesce(max(seq), 0) FROM accounts.events")[0][0])
        for c in range(CONSUMERS):
            name = "c%d" % c
            check("%s-missing" % name, q(
                "SELECT count(*) FROM accounts.events e WHERE NOT EXISTS "
                "(SELECT 1 FROM journal_consumed j WHERE j.consumer = %s AND j.seq = e.seq)", name)[0][0])
            check("%s-extra" % name, q(
                "SELECT count(*) FROM journal_consumed j WHERE j.consumer = %s AND NOT EXISTS "
                "(SELECT 1 FROM accounts.events e WHERE e.seq = j.seq AND e.kind = j.kind "
                "AND e.account_id IS NOT DISTINCT FROM j.account_id)", name)[0][0])
            check("%s-twice" % name, q(
                "SELECT count(*) - count(DISTINCT seq) FROM journal_consumed WHERE consumer = %s", name)[0][0])
            check("%s-order" % name, q(
                "SELECT count(*) FROM (SELECT seq, lag(seq) OVER (ORDER BY ord) AS prev "
                "FROM journal_consumed WHERE consumer = %s) s WHERE seq <= prev", name)[0][0])

        # replay the first consumer's copy
        status, merged_into, tags, created = {}, {}, {}, {}
        ident = {}
        for seq, kind, acc, detail in q(
                "SELECT seq, kind, account_id::text, detail FROM journal_consumed WHERE consumer = 'c0' ORDER BY ord"):
            if kind == "account.created":
                created[acc] = created.get(acc, 0) + 1
                status[acc] = "active"
                tags[acc] = set()
                for i, x in enumerate(detail["identifiers"]):
                    ident[(x["id_type"], x["value"] if x["value"] is not None else ("?", seq, i))] = acc
            elif kind == "identifier.added":
                ident[(detail["id_type"], detail["value"] if detail["value"] is not None else ("?", seq))] = acc
            elif kind == "identifier.removed":
                key = (detail["id_type"], detail["value"])
                if detail["value"] is not None and ident.get(key) == acc:
                    del ident[key]
            elif kind == "account.merged":
                into = detail["into"]
                for key, owner in list(ident.items()):
                    if owner == acc:
                        ident[key] = into
                status[acc] = "merged"
                merged_into[acc] = into
                tags[into] |= tags[acc]
            elif kind == "account.redacted":
                for key, owner in list(ident.items()):
                    if owner == acc and key[0] != "reference_id":
                        del ident[key]
                status[acc] = "redacted"
            elif kind == "account.archived":
                status[acc] = "archived"
            elif kind == "account.restored":
                status[acc] = "active"
            elif kind == "account.tagged":
                tags[acc] |= set(detail["tags"])
            elif kind == "account.untagged":
                tags[acc] -= set(detail["tags"])
        rows = q("SELECT id::text, status::text, merged_into::text, tags FROM accounts.accounts")
        check("accounts-without-created-event", sum(1 for a, _, _, _ in rows if a not in created))
        check("created-events-without-account", len(set(created) - {a for a, _, _, _ in rows}))
        check("accounts-created-twice", sum(1 for c in created.values() if c != 1))
        check("status-differs", sum(1 for a, s, m, t in rows if status.get(a) != s or merged_into.get(a) != m))
        check("tags-differ", sum(1 for a, s, m, t in rows if tags.get(a, set()) != set(t)))
        table = {(t, v): a for t, v, a in q("SELECT id_type, value, account_id::text FROM accounts.identifiers")}
        differ = [k for k in set(table) | set(ident) if table.get(k) != ident.get(k)]
        check("identifiers-differ", len(differ))
        for k in differ[:5]:
            print("identifier %r: table %s, replayed %s" % (k, table.get(k), ident.get(k)))
        print("replayed accounts %d identifiers %d merged %d redacted %d" % (
            len(rows), len(table), sum(1 for s in status.values() if s == "merged"),
            sum(1 for s in status.values() if s == "redacted")))


def main():
    writers = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    consumers = [threading.Thread(target=consumer, args=(n,)) for n in range(CONSUMERS)]
    for t in writers + consumers:
        t.start()
    if STOP_FILE:
        # the test says when (after its crash and what follows it), so a
        # loaded machine cannot end the run before the crash
        deadline = time.time() + 600
        while not os.path.exists(STOP_FILE) and time.time() < deadline:
            time.sleep(0.1)
    else:
        time.sleep(SECONDS)
    stop_writers.set()
    for t in writers:
        t.join()
    writers_done.set()
    for t in consumers:
        t.join()
    for k in sorted(counts):
        print("count %s %d" % (k, counts[k]))
    if not failures:
        verify()
    for f in failures[:20]:
        print("FAILURE " + f)
    print("failures %d" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
