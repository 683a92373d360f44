#!/usr/bin/env bash
# scripts/test.sh: every test, against a throwaway cluster.
#
# Installs what is missing (apt), builds warning-free with -Werror, installs
# the extension, starts a private cluster, and runs `make installcheck`
# (pg_regress, pg_isolation_regress, TAP) as an unprivileged user, then the
# normalizer unit tests, a short libFuzzer run and the benchmark smoke run.
# Prints regression.diffs on failure; exits non-zero if anything failed.
. "$(dirname "$0")/lib.sh"

ensure_packages "${BASE_PACKAGES[@]}" libipc-run-perl clang libclang-rt-14-dev \
    pgbouncer python3-psycopg postgresql-client-$PG_MAJOR valgrind libpq-dev
build_and_install
start_cluster

# The suites write results next to the sources: run them in a copy that the
# server's user owns.
SRC="$WORK/src"
mkdir -p "$SRC"
(cd "$ROOT" && tar --exclude=.git -cf - .) | (cd "$SRC" && tar -xf -)
[ "$(id -u)" = 0 ] && chown -R "$PGUSER_OS" "$SRC"

failed=()
passed=0

run_step() {
    local name=$1; shift
    log "$name"
    if "$@"; then
        echo "ok: $name"
        passed=$((passed + 1))
    else
        echo "FAILED: $name"
        failed+=("$name")
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
    if as_pg make -C "$SRC" -s installcheck "${vars[@]}" PROVE_FLAGS="--timer"; then
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

run_step "pg_regress suite (test/sql/, test/expected/)" installcheck regress
run_step "isolation specs (test/specs/)" installcheck isolation
run_step "TAP tests (test/t/)" installcheck tap
[ -x "$SRC/test/unit/run.sh" ] && run_step "normalizer unit tests" as_pg "$SRC/test/unit/run.sh"
[ -x "$SRC/test/fuzz/run.sh" ] && run_step "normalizer fuzzing (smoke)" as_pg "$SRC/test/fuzz/run.sh" 10
[ -x "$SRC/test/valgrind/run.sh" ] && run_step "pg_regress suite under valgrind memcheck" as_pg "$SRC/test/valgrind/run.sh"
[ -x "$SRC/test/bench/bench.sh" ] && run_step "benchmark (smoke mode)" as_pg env BENCH_SMOKE=1 ACCOUNT_SKIP_INSTALL=1 "$SRC/test/bench/bench.sh"

echo
for f in "${failed[@]}"; do echo "failed: $f"; done
echo "$passed passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
