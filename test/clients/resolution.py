#!/usr/bin/env python3
"""Many-client identity resolution run (test/t/024_resolution.pl, and the
Citus run of test/t/015_citus.pl).

CLIENTS threads for SECONDS link random pairs of identifiers with
find_or_create_account(type, ARRAY[x, y], on_conflict => 'merge'), both
of one of GROUPS groups of 15 (so that the accounts of a group are merged
again and again, and many accounts remain), one call per transaction (most READ COMMITTED, some REPEATABLE
READ on one node, some rolled back), and now and then set a field of the
account they got.  Each connects to one of the nodes in RESOLUTION_NODES
(conninfos separated by "|"), a new one per transaction.

Errors a correct application gets are counted: 40001 (REPEATABLE READ, or
a serialization failure), 23514 (with RESOLUTION_LIMIT, a link that would
join two reference ids), 08006 and lost connections (Citus); any other
error, a deadlock (40P01) among them, is a failure.

Then the audit, from the first node:
  - the connected components of the committed links: every identifier of
    a component on one account, live, and one component per account (so
    no account exists that no committed call created);
  - every merged account resolves to a live account;
  - the journal (every node's, read with events_since()) replayed gives
    the tables: an identifier belongs to its first event's account,
    followed along account.merged; a live account's fields are its
    account.fields_updated patches in order; a merged account has none;
  - with RESOLUTION_LIMIT: no account holds two reference ids.
Prints "count ..." lines, "audit ..." lines and "failures N"; exits 1 on a
failure.
"""
import json
import os
import random
import sys
import threading
import time

import psycopg

NODES = [c for c in os.environ.get("RESOLUTION_NODES", "").split("|")]
CLIENTS = int(os.environ.get("RESOLUTION_CLIENTS", "16"))
SECONDS = float(os.environ.get("RESOLUTION_SECONDS", "8"))
MIN_LINKS = int(os.environ.get("RESOLUTION_MIN_LINKS", "0"))
TYPE = os.environ.get("RESOLUTION_TYPE", "user")
LIMIT = os.environ.get("RESOLUTION_LIMIT", "") != ""
CITUS = os.environ.get("RESOLUTION_CITUS", "") != ""
GROUPS = int(os.environ.get("RESOLUTION_GROUPS", "40"))

EXPECTED = {
    "40001": "serialization failure",
    "08006": "a node unreachable (Citus)",
}
if LIMIT:
    EXPECTED["23514"] = "a link that would break the limit"

lock = threading.Lock()
counts = {}
failures = []
links = []          # committed (x, y) pairs of (id_type, value)
stop = threading.Event()


def note(key, n=1):
    with lock:
        counts[key] = counts.get(key, 0) + n


def identifier(r, group):
    """One of the group's identifiers: 6 emails, 6 devices, 3 reference ids."""
    k = r.randrange(15)
    if k < 6:
        return ("email", "u%d-%d@example.com" % (group, k))
    if k < 12:
        return ("device", "dev-%d-%d" % (group, k))
    return ("reference_id", "ref-%d-%d" % (group, k))


def client(n):
    r = random.Random(n)
    while not stop.is_set():
        node = NODES[r.randrange(len(NODES))]
        try:
            with psycopg.connect(node, autocommit=True, prepare_threshold=None) as conn:
                conn.execute("SET lock_timeout = '20s'")
                for _ in range(20):
                    if stop.is_set():
                        break
                    one(conn, r)
        except psycopg.OperationalError as e:
            if e.sqlstate in (None, "08006", "57P01"):
                note("connection lost")
            else:
                with lock:
                    failures.append("%s: %s" % (e.sqlstate, str(e).strip().splitlines()[0]))


def one(conn, r):
    group = r.randrange(GROUPS)
    x = identifier(r, group)
    y = identifier(r, group)
    level = "REPEATABLE READ" if (not CITUS and r.random() < 0.15) else "READ COMMITTED"
    try:
        with conn.cursor() as cur:
            cur.execute("BEGIN ISOLATION LEVEL " + level)
            cur.execute("SELECT account_id, created FROM accounts.find_or_create_account(%s, "
                        "ARRAY[ROW(%s, %s), ROW(%s, %s)]::accounts.identifier[], on_conflict => 'merge')",
                        (TYPE, x[0], x[1], y[0], y[1]))
            account, _ = cur.fetchone()
            if r.random() < 0.15:
                # the account may be merged by a concurrent link meanwhile
                # (a hit takes no lock): 55000, a correct answer
                cur.execute("SAVEPOINT f")
                try:
                    cur.execute("SELECT accounts.set_fields(%s, %s)",
                                (account, json.dumps({r.choice(["name", "city"]): "v%d" % r.randrange(50)})))
                    note("set_fields")
                except psycopg.Error as e:
                    if e.sqlstate != "55000":
                        raise
                    cur.execute("ROLLBACK TO SAVEPOINT f")
                    note("set_fields on an account merged meanwhile")
            if r.random() < 0.05:
                cur.execute("ROLLBACK")
                note("rolled back")
                return
            cur.execute("COMMIT")
        with lock:
            links.append((x, y))
        note("links")
    except psycopg.Error as e:
        state = e.sqlstate or "?"
        try:
            conn.execute("ROLLBACK")
        except psycopg.Error:
            pass
        if isinstance(e, psycopg.OperationalError) and state in ("?", "08006", "57P01"):
            raise
        if state in EXPECTED:
            note(state)
        else:
            with lock:
                failures.append("%s: %s" % (state, str(e).strip().splitlines()[0]))


def components(pairs):
    parent = {}

    def find(a):
        parent.setdefault(a, a)
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    groups = {}
    for a in list(parent):
        groups.setdefault(find(a), []).append(a)
    return list(groups.values())


def audit():
    bad = []
    with psycopg.connect(NODES[0], autocommit=True) as conn:
        cur = conn.cursor()
        # every committed component on one live account
        owner_of = {}
        comps = components(links)
        for comp in comps:
            owners = set()
            for (t, v) in comp:
                cur.execute("SELECT accounts.find_account(%s, %s, %s)", (TYPE, t, v))
                a = cur.fetchone()[0]
                owner_of[(t, v)] = a
                owners.add(a)
            if len(owners) != 1 or None in owners:
                bad.append("component of %d identifiers on %d accounts" % (len(comp), len(owners)))
                # what it looks like: each identifier's account and that
                # account's status, and the links of the component
                for (t, v) in sorted(comp):
                    a = owner_of[(t, v)]
                    cur.execute("SELECT status::text, merged_into FROM accounts.get_account(%s)", (a,))
                    row = cur.fetchone()
                    bad.append("  %s %s on %s (%s)" % (t, v, a, row if row else "no such account"))
                members = set(comp)
                for (x, y) in links:
                    if x in members:
                        bad.append("  link %s %s - %s %s" % (x[0], x[1], y[0], y[1]))
                continue
            cur.execute("SELECT status FROM accounts.get_account(%s)", (owners.pop(),))
            row = cur.fetchone()
            if row is None or row[0] == "merged":
                bad.append("component on a missing or merged account")
        live = set(a for a in owner_of.values() if a is not None)
        print("audit components %d" % len(comps))
        print("audit accounts-of-components %d" % len(live))
        if len(live) != len(comps):
            bad.append("%d components on %d accounts" % (len(comps), len(live)))
        # no other live account holds an identifier of the pool
        cur.execute("SELECT count(DISTINCT account_id) FROM %s WHERE account_type = %%s"
                    % ("accounts.dist_identifiers" if CITUS else "accounts.identifiers"), (TYPE,))
        total = cur.fetchone()[0]
        print("audit live accounts %d" % total)
        if total != len(live):
            bad.append("%d accounts hold identifiers, %d components" % (total, len(live)))
        # merged accounts resolve to a live one (followed here: on Citus a
        # function cannot run in a query over every shard)
        cur.execute("SELECT id, status::text, merged_into FROM %s WHERE account_type = %%s"
                    % ("accounts.dist_accounts" if CITUS else "accounts.accounts"), (TYPE,))
        status = {}
        into = {}
        for a, st, m in cur.fetchall():
            status[a] = st
            into[a] = m
        unresolved = 0
        for a in status:
            cur_a, hops = a, 0
            while status.get(cur_a) == "merged" and hops < 10000:
                cur_a, hops = into[cur_a], hops + 1
            if status.get(cur_a) != "active":
                unresolved += 1
        print("audit merged-unresolved %d" % unresolved)
        if unresolved:
            bad.append("%d merged accounts do not resolve to a live account" % unresolved)
        if LIMIT:
            cur.execute("SELECT count(*) FROM (SELECT account_id FROM %s WHERE account_type = %%s "
                        "AND id_type = 'reference_id' GROUP BY 1 HAVING count(*) > 1) s"
                        % ("accounts.dist_identifiers" if CITUS else "accounts.identifiers"), (TYPE,))
            over = cur.fetchone()[0]
            print("audit over-limit %d" % over)
            if over:
                bad.append("%d accounts hold more than one reference id" % over)
        bad += replay(cur)
    return bad


def journal_nodes():
    """The conninfos whose journals hold the events: every node on Citus."""
    return NODES if CITUS else NODES[:1]


def replay(cur):
    """The journal replayed, per account, against the tables."""
    first = {}          # identifier -> account of its first event
    merged = {}         # account -> into
    fields = {}         # account -> fields
    events = 0
    for node in journal_nodes():
        with psycopg.connect(node, autocommit=True) as c:
            after = 0
            while True:
                rows = c.execute("SELECT seq, account_id, account_type, kind, detail FROM accounts.events_since(%s, 10000)",
                                 (after,)).fetchall()
                if not rows:
                    break
                for seq, acc, atype, kind, detail in rows:
                    after = seq
                    if atype != TYPE or acc is None:
                        continue
                    events += 1
                    acc = str(acc)
                    if kind == "account.created":
                        for i in detail["identifiers"]:
                            first.setdefault((i["id_type"], i["value"]), acc)
                    elif kind == "identifier.added":
                        first.setdefault((detail["id_type"], detail["value"]), acc)
                    elif kind == "account.merged":
                        merged[acc] = detail["into"]
                    elif kind == "account.fields_updated":
                        f = fields.setdefault(acc, {})
                        for k, v in detail["fields"].items():
                            if v is None:
                                f.pop(k, None)
                            else:
                                f[k] = v
    print("audit events %d" % events)

    def resolve(a):
        while a in merged:
            a = merged[a]
        return a

    bad = []
    table = "accounts.dist_identifiers" if CITUS else "accounts.identifiers"
    cur.execute("SELECT id_type, value, account_id FROM %s WHERE account_type = %%s" % table, (TYPE,))
    rows = cur.fetchall()
    wrong = [(t, v) for t, v, a in rows if resolve(first.get((t, v), "?")) != str(a)]
    print("audit replayed identifiers %d, differing %d" % (len(rows), len(wrong)))
    if wrong:
        bad.append("replay: %d identifiers on another account than the journal says, e.g. %s" % (len(wrong), wrong[:3]))
    accounts_table = "accounts.dist_accounts" if CITUS else "accounts.accounts"
    cur.execute("SELECT id, status, merged_into, coalesce(fields, '{}') FROM %s WHERE account_type = %%s"
                % accounts_table, (TYPE,))
    differing = 0
    for a, status, into, f in cur.fetchall():
        a = str(a)
        if status == "merged":
            if merged.get(a) != str(into) or f != {}:
                differing += 1
        elif fields.get(a, {}) != f or a in merged:
            differing += 1
    print("audit replayed accounts differing %d" % differing)
    if differing:
        bad.append("replay: %d accounts differ from the journal" % differing)
    return bad


def main():
    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    # SECONDS, and on a loaded machine longer (up to three times as long
    # again) until MIN_LINKS links committed: the least the test's audit
    # accepts as a real run
    end = time.time() + SECONDS
    while time.time() < end or (time.time() < end + 3 * SECONDS and counts.get("links", 0) < MIN_LINKS):
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join()
    for k in sorted(counts):
        print("count %s %d" % (k, counts[k]))
    bad = audit()
    for b in bad:
        print("AUDIT " + b)
    for f in failures[:20]:
        print("FAILURE " + f)
    print("failures %d" % (len(failures) + len(bad)))
    return 1 if failures or bad else 0


if __name__ == "__main__":
    sys.exit(main())
