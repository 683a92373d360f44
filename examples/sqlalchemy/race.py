#!/usr/bin/env python3
"""examples/test.sh: PROCS processes race find_or_create_account() through
SQLAlchemy sessions over the same NEW identifiers; exits 1 on any
exception or disagreement."""
import os
import random
import sys
from multiprocessing import Pool

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
PREFIX = os.environ.get("RACE_PREFIX", "sqlalchemy")
N = int(os.environ.get("RACE_IDENTIFIERS", "200"))
PROCS = int(os.environ.get("RACE_PROCESSES", "32"))


def worker(seed):
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from accounts import find_or_create_account

    url = "postgresql+psycopg2://%s@/%s?host=%s&port=%s" % (
        os.environ["PGUSER"], os.environ["PGDATABASE"], os.environ["PGHOST"], os.environ["PGPORT"])
    engine = create_engine(url)
    refs = ["%s-%d" % (PREFIX, i) for i in range(N)]
    random.Random(seed).shuffle(refs)
    out = []
    with Session(engine) as session:
        for ref in refs:
            try:
                with session.begin():
                    account_id, created = find_or_create_account(session, ref)
                out.append((ref, str(account_id), created))
            except Exception as e:  # the point: there must be none
                out.append((ref, "ERROR %s: %s" % (type(e).__name__, e), False))
    engine.dispose()
    return out


def main():
    with Pool(PROCS) as pool:
        results = pool.map(worker, range(PROCS))
    ids, created, errors = {}, {}, []
    for out in results:
        for ref, account_id, was_created in out:
            if account_id.startswith("ERROR"):
                errors.append(account_id)
                continue
            ids.setdefault(ref, set()).add(account_id)
            created[ref] = created.get(ref, 0) + (1 if was_created else 0)
    split = [r for r, s in ids.items() if len(s) != 1]
    wrong_created = [r for r, c in created.items() if c != 1]
    print("processes %d, identifiers %d, calls %d, exceptions %d, identifiers with several ids %d, created != 1: %d"
          % (PROCS, len(ids), sum(len(o) for o in results), len(errors), len(split), len(wrong_created)))
    for e in errors[:5]:
        print(e)
    return 0 if not errors and not split and not wrong_created and len(ids) == N else 1


if __name__ == "__main__":
    sys.exit(main())
