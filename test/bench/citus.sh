#!/usr/bin/env bash
# test/bench/citus.sh: find_or_create_account through the coordinator and
# through a worker of a throwaway Citus cluster (a coordinator and two
# workers, three clusters on private unix sockets), against the Citus
# floor: a plain distributed INSERT ... ON CONFLICT DO NOTHING RETURNING
# plus a SELECT on the same tables.  Prints the numbers and the ratios
# (test/bench/citus_bench.py); asserts nothing.  Exits 0 with a message when Citus is not installed.
#
#   ./test/bench/citus.sh                  3 rounds of 5 s per variant
#   BENCH_SMOKE=1 ./test/bench/citus.sh    one short round
#
# ACCOUNT_SKIP_INSTALL=1: the extension is built and installed already.
# CITUS_BENCH_ROW=FILE: append the result as a table row (scripts/matrix.sh).
# CITUS_BENCH_PAGE=FILE: write the result as FILE's section for this major
#   (docs/benchmark-citus.md; CITUS_BENCH_COMMIT names the source).
. "$(dirname "$0")/../../scripts/lib.sh"

if [ ! -f "$("$PG_CONFIG" --pkglibdir)/citus.so" ]; then
    echo "Citus is not installed for PostgreSQL $PG_MAJOR: no Citus benchmark"
    exit 0
fi
if [ -z "${ACCOUNT_SKIP_INSTALL:-}" ]; then
    ensure_packages "${BASE_PACKAGES[@]}" python3-psycopg
    build_and_install
fi

WORK=$(mktemp -d /tmp/account-citus.XXXXXX)
chmod 755 "$WORK"
[ "$(id -u)" = 0 ] && chown "$PGUSER_OS" "$WORK"
PORTS=(5531 5532 5533)
stop_nodes() {
    for p in "${PORTS[@]}"; do
        [ -f "$WORK/n$p/postmaster.pid" ] && as_pg pg_ctl -D "$WORK/n$p" -m fast -w stop >/dev/null 2>&1
    done
    rm -rf "$WORK"
}
trap stop_nodes EXIT
log "starting a coordinator and two workers in $WORK (ports ${PORTS[*]})"
for p in "${PORTS[@]}"; do
    as_pg initdb -D "$WORK/n$p" -A trust -E UTF8 --locale=C.UTF-8 -U "$PGUSER_OS" >"$WORK/initdb-$p.log" 2>&1 \
        || { cat "$WORK/initdb-$p.log"; exit 1; }
    cat >>"$WORK/n$p/postgresql.conf" <<CONF
port = $p
listen_addresses = ''
unix_socket_directories = '$WORK'
shared_preload_libraries = 'citus'
max_prepared_transactions = 100
fsync = off
log_min_messages = warning
CONF
    as_pg pg_ctl -D "$WORK/n$p" -l "$WORK/n$p.log" -w start >/dev/null
    as_pg psql -X -q -h "$WORK" -p "$p" -d postgres -c 'CREATE EXTENSION citus' >/dev/null
done
as_pg psql -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "${PORTS[0]}" -d postgres >/dev/null <<SQL
SELECT citus_set_coordinator_host('$WORK', ${PORTS[0]});
SELECT citus_add_node('$WORK', ${PORTS[1]});
SELECT citus_add_node('$WORK', ${PORTS[2]});
CREATE EXTENSION account;
SELECT accounts.distribute();
SQL
# the page is written in $WORK (the benchmark runs as the server's user)
PAGE_TMP=
if [ -n "${CITUS_BENCH_PAGE:-}" ]; then
    PAGE_TMP="$WORK/page.md"
    if [ -f "$CITUS_BENCH_PAGE" ]; then cp "$CITUS_BENCH_PAGE" "$PAGE_TMP"; else : >"$PAGE_TMP"; fi
    chmod 666 "$PAGE_TMP"
fi
as_pg env PGHOST="$WORK" PGPORT="${PORTS[0]}" BENCH_WORKER_PORT="${PORTS[1]}" PGUSER="$PGUSER_OS" PGDATABASE=postgres \
    BENCH_SMOKE="${BENCH_SMOKE:-}" CITUS_BENCH_ROW="${CITUS_BENCH_ROW:-}" \
    CITUS_BENCH_PAGE="$PAGE_TMP" CITUS_BENCH_COMMIT="${CITUS_BENCH_COMMIT:-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)}" \
    /usr/bin/python3 "$ROOT/test/bench/citus_bench.py"
if [ -n "$PAGE_TMP" ]; then
    cp "$PAGE_TMP" "$CITUS_BENCH_PAGE"
    log "written to $CITUS_BENCH_PAGE"
fi
