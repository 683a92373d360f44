#!/usr/bin/python3
"""find-or-create from Python with psycopg 3 (Debian: python3-psycopg),
many connections at once.

    client.py CONNINFO CONNECTIONS CALLS KEYS PREFIX

Starts CONNECTIONS threads, each with its own connection; each makes CALLS
calls for PREFIX + n, n in 1..KEYS (round robin, offset per thread), and
prints one line per call: "key account_id created".  Exits non-zero on any
error.
"""
import sys
import threading

import psycopg


def worker(conninfo, thread_no, calls, keys, prefix, out, lock, errors):
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            for i in range(calls):
                key = f"{prefix}{(i + thread_no) % keys + 1}"
                account_id, created = conn.execute(
                    "SELECT account_id, created"
                    "  FROM accounts.find_or_create_account('user', 'reference_id', %s)",
                    (key,),
                ).fetchone()
                with lock:
                    out.append(f"{key} {account_id} {'t' if created else 'f'}")
    except psycopg.Error as e:
        # e.sqlstate is the SQLSTATE; 40001 and 40P01 are retryable
        with lock:
            errors.append(f"error {e.sqlstate}: {e}")


def main():
    if len(sys.argv) != 6:
        print(f"usage: {sys.argv[0]} CONNINFO CONNECTIONS CALLS KEYS PREFIX", file=sys.stderr)
        return 2
    conninfo, nconn, calls, keys, prefix = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    out, errors, lock = [], [], threading.Lock()
    threads = [threading.Thread(target=worker, args=(conninfo, t, calls, keys, prefix, out, lock, errors))
               for t in range(nconn)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("\n".join(out))
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
