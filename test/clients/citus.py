#!/usr/bin/env python3
"""Many clients on a Citus cluster, for test/t/015_citus.pl (issue #15).

CITUS_CONNINFOS (";"-separated, one per node) get CLIENTS threads between
them, round robin.  For SECONDS each thread runs 1 to 3 calls in autocommit, or
one in BEGIN ... COMMIT, on a small pool of hot identifiers that are
new when the run starts (a fresh prefix):

  - find_or_create_account for a reference id (text and composite forms);
  - find_or_create_accounts for 3 reference ids;
  - the multi-identifier form for (reference id i, email i), which live on
    different shards and usually different nodes (two-phase commit);
  - try_find_or_create_account; find_account; add_identifier(email i) to
    the account of reference id i.

Reference id i and email i always belong together, so no call may fail:
every error is reported.  Under CITUS_RESTART_OK=1 (a worker is restarted
during the run), errors whose SQLSTATE is in class 08 (connection) or
57P01-57P03 (shutdown, cannot connect now) are counted as retryable and
the transaction is not counted; anything else is a failure.  Under
CITUS_MOVES=1 (shards move during the run) so is 40001 for a shard that
moved away (src/dist.c, A SHARD THAT MOVES).

Under CITUS_LIFECYCLE=1 three calls in ten are merges of two hot accounts,
redactions, archives, restores, tags and removals instead, and the
SQLSTATEs of LIFECYCLE_EXPECTED are counted, not failures.

Every successful call's results are written to CITUS_OUT as lines
"ref|email <value> <account_id> <created>"; the TAP test checks them
against the tables.  Exit status 1 on any failure.

With CITUS_LATE_FILE, the last node of CITUS_CONNINFOS joins the cluster
during the run (test/t/019_citus_grow.pl): its clients and its consumer
wait until that file exists, then use it like any other node.

With CITUS_STOP_FILE, the clients also stop as soon as that file exists.

With CITUS_REGISTRY=1 one more thread changes the registry from every
node in turn: it creates an identifier type, gives hot accounts an
identifier of that type, and drops the type again (which removes those
identifiers), until the clients stop.

With CITUS_EVENTS_OUT, one consumer per node reads that node's change
journal while the clients run (accounts.events_since(last, 1000) from 0,
again and again), keeps reading for CITUS_DRAIN seconds after they stop,
and writes what it got as lines "<node index> <seq> <account_id|-> <kind>";
the TAP test compares them with the journals.  A seq that is not above the
last one is a failure.
"""
import os
import random
import sys
import threading
import time

import psycopg

CONNINFOS = os.environ["CITUS_CONNINFOS"].split(";")
CLIENTS = int(os.environ.get("CITUS_CLIENTS", "16"))
SECONDS = float(os.environ.get("CITUS_SECONDS", "30"))
PREFIX = os.environ.get("CITUS_PREFIX", "hot")
OUT = os.environ["CITUS_OUT"]
RESTART_OK = os.environ.get("CITUS_RESTART_OK") == "1"
MOVES = os.environ.get("CITUS_MOVES") == "1"
LIFECYCLE = os.environ.get("CITUS_LIFECYCLE") == "1"
# what a correct application gets under the lifecycle mix, and handles
LIFECYCLE_EXPECTED = {
    "55000": "merged or redacted account",
    "2BP01": "the last identifier",
    "40P01": "deadlock (merge against attach, across nodes)",
}
POOL = int(os.environ.get("CITUS_POOL", "300"))
# test/t/CitusTest.pm's audits want more than 1,000 calls (for reference ids)
MIN_CALLS = int(os.environ.get("CITUS_MIN_CALLS", "1001"))
EVENTS_OUT = os.environ.get("CITUS_EVENTS_OUT")
DRAIN = float(os.environ.get("CITUS_DRAIN", "2"))
LATE_FILE = os.environ.get("CITUS_LATE_FILE")
STOP_FILE = os.environ.get("CITUS_STOP_FILE")
REGISTRY = os.environ.get("CITUS_REGISTRY") == "1"

lock = threading.Lock()
counts = {}
failures = []
results = []
retry_samples = []


def note(key, n=1):
    with lock:
        counts[key] = counts.get(key, 0) + n


def ref(i):
    # mixed case: routing must follow the normalized form
    return ("%s-%d" % (PREFIX, i)).upper() if i % 2 else "%s-%d" % (PREFIX, i)


def email(i):
    return "%s.%d@Example.COM" % (PREFIX, i)


def norm_ref(i):
    return ("%s-%d" % (PREFIX, i)).lower()


def norm_email(i):
    return ("%s.%d@example.com" % (PREFIX, i)).lower()


def hot(r):
    # a few hot keys get most calls, so creators collide
    return r.randrange(POOL // 10) if r.random() < 0.6 else r.randrange(POOL)


def op(cur, r, out, autocommit):
    # the last operation is two calls: autocommit only
    k = r.randrange(8 if autocommit else 7)
    i = hot(r)
    if k in (0, 1):
        cur.execute("SELECT account_id, created FROM accounts.find_or_create_account('user', 'reference_id', %s)", (ref(i),))
        a, c = cur.fetchone()
        out.append(("ref", norm_ref(i), a, c))
    elif k == 2:
        cur.execute("SELECT account_id, created FROM accounts.find_or_create_account('user', ROW('reference_id', %s)::accounts.identifier)", (ref(i),))
        a, c = cur.fetchone()
        out.append(("ref", norm_ref(i), a, c))
    elif k == 3:
        js = [hot(r) for _ in range(3)]
        cur.execute("SELECT value, account_id, created FROM accounts.find_or_create_accounts('user', 'reference_id', %s)",
                    ([ref(j) for j in js],))
        rows = cur.fetchall()
        if len(rows) != 3:
            raise AssertionError("bulk returned %d rows" % len(rows))
        for j, (v, a, c) in zip(js, rows):
            if v != ref(j):
                raise AssertionError("bulk row for %s says %s" % (ref(j), v))
            out.append(("ref", norm_ref(j), a, c))
    elif k in (4, 5):
        ids = [("reference_id", ref(i)), ("email", email(i))]
        r.shuffle(ids)
        cur.execute("SELECT account_id, created FROM accounts.find_or_create_account('user', ARRAY[ROW(%s, %s), ROW(%s, %s)]::accounts.identifier[])",
                    (ids[0][0], ids[0][1], ids[1][0], ids[1][1]))
        a, c = cur.fetchone()
        out.append(("ref", norm_ref(i), a, c))
        out.append(("email", norm_email(i), a, False))
    elif k == 6:
        cur.execute("SELECT account_id, created, error_code, error_message FROM accounts.try_find_or_create_account('user', 'reference_id', %s)", (ref(i),))
        a, c, code, msg = cur.fetchone()
        if code is not None:
            raise psycopg.errors.lookup(code)(msg) if code != "XX000" else AssertionError(msg)
        out.append(("ref", norm_ref(i), a, c))
    else:
        cur.execute("SELECT account_id, created FROM accounts.find_or_create_account('user', 'reference_id', %s)", (ref(i),))
        a, c = cur.fetchone()
        cur.execute("SELECT accounts.add_identifier(%s, 'email', %s)", (a, email(i)))
        out.append(("ref", norm_ref(i), a, c))
        out.append(("email", norm_email(i), a, False))
        cur.execute("SELECT accounts.find_account('user', 'email', %s)", (email(i),))
        (f,) = cur.fetchone()
        # under the lifecycle mix another client may remove, redact or merge
        # it away between these autocommit calls; the audit covers that run
        if f != a and not LIFECYCLE:
            raise AssertionError("find_account(%s) = %s, not %s" % (email(i), f, a))


def lifecycle_op(cur, r):
    """A merge, redaction, archive, restore, tag or removal on the hot pool."""
    k = r.randrange(10)
    i, j = hot(r), hot(r)
    cur.execute("SELECT accounts.find_account('user', 'reference_id', %s)", (ref(i),))
    (a,) = cur.fetchone()
    if a is None:
        return
    if k < 4:
        cur.execute("SELECT accounts.find_account('user', 'reference_id', %s)", (ref(j),))
        (b,) = cur.fetchone()
        if b is not None and b != a:
            cur.execute("SELECT accounts.merge_accounts(%s, ARRAY[%s]::uuid[])", (a, b))
    elif k == 4:
        if r.random() < 0.2:
            cur.execute("SELECT accounts.redact_account(%s)", (a,))
    elif k == 5:
        cur.execute("SELECT accounts.archive_account(%s)", (a,))
    elif k == 6:
        cur.execute("SELECT accounts.restore_account(%s)", (a,))
    elif k == 7:
        cur.execute("SELECT accounts.tag_account(%s, ARRAY[%s])", (a, 't%d' % r.randrange(5)))
    elif k == 8:
        cur.execute("SELECT accounts.untag_account(%s, ARRAY[%s])", (a, 't%d' % r.randrange(5)))
    else:
        cur.execute("SELECT accounts.remove_identifier(%s, 'email', %s)", (a, email(i)))
    note("lifecycle calls")


def running(deadline):
    """Until the deadline, or until CITUS_STOP_FILE exists (the test's
    steps under load are done).  On a loaded machine the run goes on past
    the deadline (up to three times as long again) until it has recorded
    MIN_CALLS calls, the least the test's audit accepts as a real run: the
    run's length is set by the work done, not by the machine's speed."""
    if STOP_FILE and os.path.exists(STOP_FILE):
        return False
    now = time.time()
    if now < deadline:
        return True
    # past it: the calls for reference ids (what every audit counts)
    return now < deadline + 3 * SECONDS and sum(1 for r in list(results) if r[0] == "ref") < MIN_CALLS


def wait_for_node(idx, deadline):
    """The late node (CITUS_LATE_FILE): wait until it has joined."""
    if LATE_FILE and idx == len(CONNINFOS) - 1:
        while not os.path.exists(LATE_FILE):
            if deadline is not None and time.time() >= deadline:
                return False
            time.sleep(0.05)
    return True


def client(n, deadline):
    r = random.Random(n)
    idx = n % len(CONNINFOS)
    conninfo = CONNINFOS[idx]
    conn = None
    if not wait_for_node(idx, deadline):
        return
    while running(deadline):
        try:
            if conn is None or conn.closed:
                conn = psycopg.connect(conninfo, autocommit=True)
            out = []
            if r.random() < 0.5:
                # one call in BEGIN ... COMMIT (a transaction of several
                # calls on different keys can deadlock with another that
                # takes them in the other order, on one node as on many)
                with conn.transaction():
                    with conn.cursor() as cur:
                        op(cur, r, out, False)
            else:
                with conn.cursor() as cur:
                    for _ in range(1 + r.randrange(3)):
                        if LIFECYCLE and r.random() < 0.3:
                            lifecycle_op(cur, r)
                            continue
                        op(cur, r, out, True)
                        with lock:
                            results.extend(out)
                        out = []
            with lock:
                results.extend(out)
            note("transactions")
            if LATE_FILE and idx == len(CONNINFOS) - 1:
                note("transactions on the node that joined")
        except psycopg.Error as e:
            state = getattr(e, "sqlstate", None) or ""
            # a connection that died: psycopg raises OperationalError, or,
            # when it dies while a transaction block ends, another class
            # with the connection left broken
            lost = not state and (isinstance(e, psycopg.OperationalError)
                                  or (conn is not None and (conn.closed or conn.broken)))
            # src/dist.c, A SHARD THAT MOVES: a read that reached a shard
            # just moved away is 40001, saying so
            moved = MOVES and state == "40001" and "moved to another node" in (e.diag.message_detail or "")
            if (RESTART_OK and (state.startswith("08") or state in ("57P01", "57P02", "57P03") or lost)) or moved:
                note("retryable " + (state or "connection lost"))
                with lock:
                    if len(retry_samples) < 6:
                        retry_samples.append("%s client %d %s %s" % (time.strftime("%H:%M:%S"), n, state,
                                                                     str(e).splitlines()[0] if str(e) else e))
                try:
                    conn.close()
                except Exception:
                    pass
                conn = None
                time.sleep(0.2)
                continue
            if LIFECYCLE and state in LIFECYCLE_EXPECTED:
                note("expected " + state)
                continue
            with lock:
                failures.append("client %d: %s %s" % (n, state, str(e).splitlines()[0] if str(e) else e))
            try:
                conn.close()
            except Exception:
                pass
            conn = None
        except AssertionError as e:
            with lock:
                failures.append("client %d: %s" % (n, e))


def registry(deadline):
    """Identifier types come and go while the clients run, from every node."""
    r = random.Random(-1)
    conns = {}
    k = 0
    while running(deadline):
        k += 1
        idx = k % len(CONNINFOS)
        if LATE_FILE and idx == len(CONNINFOS) - 1 and not os.path.exists(LATE_FILE):
            continue
        name = "%s_kind_%d" % (PREFIX, k)
        try:
            conn = conns.get(idx)
            if conn is None or conn.closed:
                conn = conns[idx] = psycopg.connect(CONNINFOS[idx], autocommit=True)
            conn.execute("SELECT accounts.create_identifier_type('user', %s)", (name,))
            note("identifier types created")
            values = []
            for _ in range(3):
                i = hot(r)
                (a,) = conn.execute("SELECT accounts.find_account('user', 'reference_id', %s)", (ref(i),)).fetchone()
                if a is None:
                    continue
                try:
                    conn.execute("SELECT accounts.add_identifier(%s, %s, %s)", (a, name, "v%d" % i))
                    values.append("v%d" % i)
                    note("identifiers of a passing type")
                except psycopg.Error as e:
                    if getattr(e, "sqlstate", None) not in LIFECYCLE_EXPECTED:
                        raise
                    note("expected " + e.sqlstate)
            # a merge may move them meanwhile: remove each from whichever
            # account has it now, until the type can be dropped
            for _ in range(5):
                for v in values:
                    (a,) = conn.execute("SELECT accounts.find_account('user', %s, %s)", (name, v)).fetchone()
                    if a is None:
                        continue
                    try:
                        conn.execute("SELECT accounts.remove_identifier(%s, %s, %s)", (a, name, v))
                    except psycopg.Error as e:
                        if getattr(e, "sqlstate", None) not in LIFECYCLE_EXPECTED:
                            raise
                        note("expected " + e.sqlstate)
                try:
                    conn.execute("SELECT accounts.drop_identifier_type('user', %s)", (name,))
                    note("identifier types dropped")
                    break
                except psycopg.errors.DependentObjectsStillExist:
                    note("identifier types still in use")
        except psycopg.Error as e:
            state = getattr(e, "sqlstate", None) or ""
            if state in LIFECYCLE_EXPECTED:
                note("expected " + state)
                continue
            if RESTART_OK and (state.startswith("08") or not state):
                note("retryable " + (state or "connection lost"))
                conns.pop(idx, None)
                continue
            with lock:
                failures.append("registry: %s %s" % (state, str(e).splitlines()[0] if str(e) else e))
            return
        time.sleep(0.1)
    for conn in conns.values():
        conn.close()


def consumer(idx, stop, got):
    """Read node idx's journal from the start, exactly once, until stop is
    set and DRAIN seconds passed without a new event."""
    conn = None
    last = 0
    quiet_since = None
    wait_for_node(idx, None)
    while True:
        try:
            if conn is None or conn.closed:
                conn = psycopg.connect(CONNINFOS[idx], autocommit=True)
            rows = conn.execute(
                "SELECT seq, coalesce(account_id::text, '-'), kind FROM accounts.events_since(%s, 1000)",
                (last,)).fetchall()
        except psycopg.Error as e:
            state = getattr(e, "sqlstate", None) or ""
            if RESTART_OK and (state.startswith("08") or state in ("57P01", "57P02", "57P03") or not state):
                note("consumer reconnects")
                conn = None
                time.sleep(0.2)
                continue
            with lock:
                failures.append("consumer %d: %s %s" % (idx, state, str(e).splitlines()[0] if str(e) else e))
            return
        for seq, account_id, kind in rows:
            if seq <= last:
                with lock:
                    failures.append("consumer %d: seq %d after %d" % (idx, seq, last))
            got.append((idx, seq, account_id, kind))
            last = seq
        if rows:
            quiet_since = None
            continue
        if stop.is_set():
            if quiet_since is None:
                quiet_since = time.time()
            elif time.time() - quiet_since >= DRAIN:
                conn.close()
                return
        time.sleep(0.01)


def main():
    deadline = time.time() + SECONDS
    stop = threading.Event()
    events = []
    consumers = []
    if EVENTS_OUT:
        consumers = [threading.Thread(target=consumer, args=(i, stop, events)) for i in range(len(CONNINFOS))]
        for t in consumers:
            t.start()
    threads = [threading.Thread(target=client, args=(n, deadline)) for n in range(CLIENTS)]
    if REGISTRY:
        threads.append(threading.Thread(target=registry, args=(deadline,)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    for t in consumers:
        t.join()
    if EVENTS_OUT:
        with open(EVENTS_OUT, "w") as f:
            for idx, seq, account_id, kind in events:
                f.write("%d %d %s %s\n" % (idx, seq, account_id, kind))
        print("events consumed: %d" % len(events))
    with open(OUT, "w") as f:
        for kind, v, a, c in results:
            f.write("%s %s %s %s\n" % (kind, v, a, "t" if c else "f"))
    for k in sorted(counts):
        print("%s: %d" % (k, counts[k]))
    print("calls recorded: %d" % len(results))
    for r in retry_samples:
        print("retryable sample: " + r)
    for f in failures[:20]:
        print("FAILURE " + f)
    print("failures: %d" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
