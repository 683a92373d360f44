#!/usr/bin/env bash
# scripts/test.sh: every test, against a throwaway cluster.
#
# Installs what is missing (apt), builds warning-free with -Werror, installs
# the extension, starts a private cluster, and runs `make installcheck`
# (pg_regress, pg_isolation_regress, TAP) as an unprivileged user, then the
# normalizer unit tests, a short libFuzzer run and the benchmark smoke run.
# Prints regression.diffs on failure; exits non-zero if anything failed.
#
#   ./scripts/test.sh                 the host's PostgreSQL 15 (or PG_CONFIG=...)
#   ./scripts/test.sh --all-versions  every supported major (scripts/matrix.sh)
#   ./scripts/test.sh --core          only the build and the three PGXS suites
#                                     (what the matrix runs on each major)
if [ "${1:-}" = --all-versions ]; then
    exec "$(dirname "$0")/matrix.sh"
fi
CORE=""
[ "${1:-}" = --core ] && CORE=1
. "$(dirname "$0")/lib.sh"

TAP_PACKAGES=(libipc-run-perl pgbouncer python3-psycopg libpq-dev)
[ -n "$PG_FROM_DEBIAN" ] && TAP_PACKAGES+=(postgresql-client-$PG_MAJOR)
if [ -n "$CORE" ]; then
    ensure_packages "${BASE_PACKAGES[@]}" "${TAP_PACKAGES[@]}"
else
    ensure_packages "${BASE_PACKAGES[@]}" "${TAP_PACKAGES[@]}" clang libclang-rt-14-dev valgrind
fi

# ACCOUNT_STATUS=FILE: each step's result is appended as "step ok|FAILED"
# (scripts/matrix.sh reads it).
status() { [ -z "${ACCOUNT_STATUS:-}" ] || echo "$1 $2" >>"$ACCOUNT_STATUS"; }
if build_and_install; then
    status build ok
else
    status build FAILED
    exit 1
fi
start_cluster

# The suites write results next to the sources: run them in a copy that the
# server's user owns.
SRC="$WORK/src"
mkdir -p "$SRC"
(cd "$ROOT" && tar --exclude=.git -cf - .) | (cd "$SRC" && tar -xf -)
[ "$(id -u)" = 0 ] && chown -R "$PGUSER_OS" "$SRC"

failed=()
passed=0

# run_step KEY NAME CMD...: KEY names the step in the status file.
run_step() {
    local key=$1 name=$2; shift 2
    log "$name"
    if "$@"; then
        echo "ok: $name"
        passed=$((passed + 1))
        status "$key" ok
    else
        echo "FAILED: $name"
        failed+=("$name")
        status "$key" FAILED
    fi
}

# installcheck SUITE: one of the three PGXS suites (the other two emptied).
installcheck() {
    local vars
    case $1 in
        regress) vars=(ISOLATION= TAP_TESTS=) ;;
        isolation) vars=(REGRESS= TAP_TESTS=) ;;
        tap) vars=(REGRESS= ISOLATION=) ;;
    esac
    if as_pg make -C "$SRC" -s installcheck PG_CONFIG="$PG_CONFIG" "${vars[@]}" PROVE_FLAGS="--timer"; then
        return 0
    fi
    for f in "$SRC/regression.diffs" "$SRC/output_iso/regression.diffs"; do
        if [ -s "$f" ]; then
            echo "---- $f"
            cat "$f"
        fi
    done
    if [ "$1" = tap ]; then
        for f in "$SRC"/tmp_check/log/regress_log_*; do
            [ -f "$f" ] && { echo "---- $f (last 60 lines)"; tail -n 60 "$f"; }
        done
    fi
    return 1
}

run_step regress "pg_regress suite (test/sql/, test/expected/)" installcheck regress
run_step isolation "isolation specs (test/specs/)" installcheck isolation
run_step tap "TAP tests (test/t/)" installcheck tap
# BENCH_QUICK=1: the hit and miss benchmark too (scripts/matrix.sh, on
# every major); BENCH_ROW=FILE collects its table row.
if [ -n "${BENCH_QUICK:-}" ]; then
    run_step bench "benchmark: hit and miss paths" as_pg env BENCH_QUICK=1 \
        BENCH_ROW="${BENCH_ROW:-}" ACCOUNT_SKIP_INSTALL=1 "$SRC/test/bench/bench.sh"
    # where Citus is installed (the 17 root of scripts/matrix.sh): through
    # a coordinator against the Citus floor
    if [ -f "$("$PG_CONFIG" --pkglibdir)/citus.so" ]; then
        run_step citus_bench "benchmark: find-or-create through a Citus coordinator" as_pg env \
            CITUS_BENCH_ROW="${CITUS_BENCH_ROW:-}" ACCOUNT_SKIP_INSTALL=1 "$SRC/test/bench/citus.sh"
    fi
fi
if [ -z "$CORE" ]; then
    run_step meta "PGXN META.json (spec 1.0.0, versions agree)" python3 "$SRC/test/meta/validate.py"
    run_step unit "normalizer unit tests" as_pg "$SRC/test/unit/run.sh"
    run_step fuzz "normalizer fuzzing (smoke)" as_pg "$SRC/test/fuzz/run.sh" 10
    run_step valgrind "pg_regress suite under valgrind memcheck" as_pg env PG_BIN="$PG_BIN" "$SRC/test/valgrind/run.sh"
    run_step bench "benchmark (smoke mode)" as_pg env BENCH_SMOKE=1 ACCOUNT_SKIP_INSTALL=1 "$SRC/test/bench/bench.sh"
fi

echo
for f in "${failed[@]}"; do echo "failed: $f"; done
echo "$passed passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
