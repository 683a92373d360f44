#!/usr/bin/env bash
# test/bench/bench.sh: the benchmark suite, on its own throwaway cluster.
#
#   ./test/bench/bench.sh                 full run (about 4 minutes on 2 quiet cores)
#   BENCH_SMOKE=1 ./test/bench/bench.sh   tiny sizes, proves the script works
#   BENCH_QUICK=1 ./test/bench/bench.sh   hit and miss paths only (about a minute)
#   BENCH_ONLY=merge ./test/bench/bench.sh   the cost of merge_accounts() alone
#   BENCH_ONLY=bulk ./test/bench/bench.sh    a million creates in one transaction, alone
#   BENCH_DOCS=1 ./test/bench/bench.sh    full run, written to docs/benchmark-full.md
#
# Set ACCOUNT_SKIP_INSTALL=1 when the extension is already built and
# installed (scripts/test.sh does).
. "$(dirname "$0")/../../scripts/lib.sh"

if [ -z "${ACCOUNT_SKIP_INSTALL:-}" ]; then
    ensure_packages "${BASE_PACKAGES[@]}" python3-psycopg
    build_and_install
fi
export PGPORT=${BENCH_PGPORT:-5499}
start_cluster
as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER="$PGUSER" PGDATABASE=postgres \
    BENCH_SMOKE="${BENCH_SMOKE:-}" BENCH_QUICK="${BENCH_QUICK:-}" BENCH_ROW="${BENCH_ROW:-}" \
    BENCH_FLOOR_BARE="${BENCH_FLOOR_BARE:-}" BENCH_ONLY="${BENCH_ONLY:-}" \
    BENCH_OUT="$WORK/results.md" \
    /usr/bin/python3 "$ROOT/test/bench/bench.py"
if [ -z "${BENCH_SMOKE:-}${BENCH_QUICK:-}${BENCH_ONLY:-}" ] && [ -w "$ROOT/test/bench" ]; then
    mkdir -p "$ROOT/test/bench/out" && cp "$WORK/results.md" "$ROOT/test/bench/out/results.md"
    echo "(saved to test/bench/out/results.md)"
    # BENCH_DOCS=1: the page docs/benchmark-full.md is this run's output
    if [ -n "${BENCH_DOCS:-}" ]; then
        { echo "# The full benchmark"
          echo
          echo "Written by \`BENCH_DOCS=1 ./test/bench/bench.sh\` on $(date -u +%Y-%m-%d); not edited by hand."
          echo
          cat "$WORK/results.md"; } >"$ROOT/docs/benchmark-full.md"
        echo "(written to docs/benchmark-full.md)"
    fi
fi
