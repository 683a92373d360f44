#!/usr/bin/env python3
"""React to account changes: a consumer of the account extension's journal.

    python3 examples/journal_consumer.py "dbname=app" --position-file pos.txt

It LISTENs on the channel accounts_events, reads the committed events after
the last one it processed with accounts.events_since(), prints each as a
JSON line, and stores the seq of the last one.  Started again, it goes on
from the stored seq: every committed event is printed once, in seq order,
even when the writers commit out of order or the server crashed.

It wakes up on a notification (sent when a transaction that wrote events
commits) or, failing that, every --poll seconds: a notification can be
missed while the consumer is disconnected, and a prepared transaction
(PREPARE TRANSACTION) sends none.

The role needs only EXECUTE on accounts.events_since and USAGE on schema
accounts.  Here the position is a file, written after the events were
printed: if the consumer dies between the two, the next run prints those
events again.  When what you do with an event goes to the same database,
store the position in the same transaction instead, and each event is
processed exactly once (test/clients/journal.py does that).
"""
import argparse
import json
import os
import select
import sys

import psycopg

BATCH = 1000


def load_position(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except FileNotFoundError:
        return 0


def save_position(path, seq):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % seq)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("conninfo")
    p.add_argument("--position-file", required=True)
    p.add_argument("--poll", type=float, default=10.0, help="seconds between reads without a notification")
    p.add_argument("--exit-when-idle", action="store_true",
                   help="stop at the first wait that ends with nothing new (for tests and cron jobs)")
    args = p.parse_args()

    last = load_position(args.position_file)
    woken = []
    with psycopg.connect(args.conninfo, autocommit=True) as conn:
        conn.add_notify_handler(lambda n: woken.append(n.payload))
        conn.execute("LISTEN accounts_events")
        while True:
            # a notification that arrives from here on is kept in woken (a
            # query delivers it to the handler), so one that arrives while
            # we read is not lost: we read again instead of waiting
            woken.clear()
            rows = conn.execute(
                "SELECT seq, occurred_at, account_id, account_type, kind, detail "
                "FROM accounts.events_since(%s, %s)", (last, BATCH)).fetchall()
            for seq, occurred_at, account_id, account_type, kind, detail in rows:
                print(json.dumps({"seq": seq, "occurred_at": occurred_at.isoformat(),
                                  "account_id": str(account_id) if account_id else None,
                                  "account_type": account_type, "kind": kind, "detail": detail}),
                      flush=True)
            if rows:
                last = rows[-1][0]
                save_position(args.position_file, last)
                if len(rows) == BATCH:
                    continue            # more are waiting
            if not woken:
                # wait for a notification (or the poll interval); a query
                # delivers what arrived to the handler
                select.select([conn.fileno()], [], [], args.poll)
                conn.execute("SELECT")
            if woken:
                print("# woken by NOTIFY accounts_events (payload %s)" % woken[-1], file=sys.stderr, flush=True)
            elif args.exit_when_idle and not rows:
                return 0


if __name__ == "__main__":
    sys.exit(main())
