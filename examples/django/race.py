#!/usr/bin/env python3
"""examples/test.sh: PROCS processes race Account.objects.find_or_create()
over the same NEW identifiers (in a different order each); prints one line
per process and exits 1 on any exception or disagreement."""
import os
import random
import sys
from multiprocessing import Pool

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
PREFIX = os.environ.get("RACE_PREFIX", "django")
N = int(os.environ.get("RACE_IDENTIFIERS", "200"))
PROCS = int(os.environ.get("RACE_PROCESSES", "32"))


def setup():
    import django
    from django.conf import settings

    settings.configure(
        INSTALLED_APPS=["signup"],
        DATABASES={"default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ["PGDATABASE"], "USER": os.environ["PGUSER"],
            "HOST": os.environ["PGHOST"], "PORT": os.environ["PGPORT"],
        }},
        USE_TZ=True,
    )
    django.setup()


def worker(seed):
    setup()
    from signup.models import Account

    refs = ["%s-%d" % (PREFIX, i) for i in range(N)]
    random.Random(seed).shuffle(refs)
    out = []
    for ref in refs:
        try:
            account, created = Account.objects.find_or_create(ref)
            out.append((ref, str(account.pk), created))
        except Exception as e:  # the point: there must be none
            out.append((ref, "ERROR %s: %s" % (type(e).__name__, e), False))
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
