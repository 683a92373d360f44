#!/usr/bin/env bash
# The pg_regress suite against a server running under valgrind memcheck.
#
# Fails if a test fails, or if any valgrind report has a frame in the
# extension's library.  Reports entirely inside PostgreSQL itself (WAL
# padding bytes written to disk, and the like: see PostgreSQL's
# src/tools/valgrind.supp) are counted and shown, not failed on: Debian's
# server binary has no symbols for its static functions, so suppressions
# cannot name them.  Run as the unprivileged user, from a writable copy of
# the sources, with the extension installed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
work=$(mktemp -d /tmp/account-vg.XXXXXX)
port=${VALGRIND_PGPORT:-5488}

cleanup() {
    "$PG_BIN/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

"$PG_BIN/initdb" -D "$work/data" -A trust -E UTF8 --locale=C.UTF-8 >"$work/initdb.log" 2>&1
cat >>"$work/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$work'
port = $port
fsync = off
autovacuum = off
CONF
valgrind --quiet --trace-children=yes --read-var-info=no \
    --log-file="$work/vg.%p.log" "$PG_BIN/postgres" -D "$work/data" >"$work/server.log" 2>&1 &
for _ in $(seq 1 120); do
    "$PG_BIN/pg_isready" -q -h "$work" -p "$port" && break
    sleep 1
done
"$PG_BIN/pg_isready" -q -h "$work" -p "$port" || { echo "server under valgrind did not start"; cat "$work/server.log"; exit 1; }

status=0
if ! PGHOST=$work PGPORT=$port make -C "$src" -s installcheck PG_CONFIG="$PG_BIN/pg_config" ISOLATION= TAP_TESTS=; then
    [ -f "$src/regression.diffs" ] && cat "$src/regression.diffs"
    status=1
fi
"$PG_BIN/pg_ctl" -D "$work/data" -m fast -w stop >/dev/null

# Each report is a block of "==pid== " lines ending with an empty one.  A
# report is ours if a frame other than the executor hooks' pass-through
# (lookup.c's cache_executor_run/finish/end, which are on the stack of
# every query once the library is loaded) is in the library: unsymbolized
# "(in .../account.so)" or "function (file.c:line)" with one of src/*.c.
ours=$(python3 - "$work" "$src/src" <<'PY'
import glob, os, re, sys
work, srcdir = sys.argv[1], sys.argv[2]
files = "|".join(re.escape(os.path.basename(f)) for f in glob.glob(os.path.join(srcdir, "*.c")))
frame = re.compile(r"(account\.so\)|\((%s):[0-9]+\))" % files)
hook = re.compile(r"cache_executor_(run|finish|end) ")
total = 0
for log in sorted(glob.glob(os.path.join(work, "vg.*.log"))):
    block, blocks = [], []
    for line in open(log, errors="replace"):
        body = re.sub(r"^==[0-9]+== ?", "", line.rstrip("\n"))
        if body == "":
            if block:
                blocks.append(block)
            block = []
        else:
            block.append(body)
    if block:
        blocks.append(block)
    for b in blocks:
        if not re.match(r"[A-Z]", b[0]):
            continue
        total += 1
        if any(frame.search(l) and not hook.search(l) for l in b[1:]):
            print("---- %s" % log)
            print("\n".join(b))
print("TOTAL %d" % total, file=sys.stderr)
PY
)
echo "valgrind: reports with a frame in the extension (besides the executor hooks): $(echo -n "$ours" | grep -c '^---- ' || true)"
if [ -n "$ours" ]; then
    echo "$ours"
    status=1
fi
exit $status
