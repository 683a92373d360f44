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

reports=$(cat "$work"/vg.*.log | grep -cE '^==[0-9]+== [A-Z]' || true)
# a frame in the library: unsymbolized "(in .../account.so)" or symbolized
# "function (file.c:line)" with one of the extension's source files
ours=$(grep -lE 'account\.so|\((account|bulk|catalog|lookup|multi|normalize|trigger|try|uuidv7)\.c:[0-9]+\)' "$work"/vg.*.log || true)
echo "valgrind: $reports report(s) in all, $(echo -n "$ours" | grep -c . || true) process log(s) touching account.so"
if [ -n "$ours" ]; then
    for f in $ours; do echo "---- $f"; cat "$f"; done
    status=1
fi
exit $status
