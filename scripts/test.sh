#!/usr/bin/env bash
# scripts/test.sh: every gating test, against throwaway clusters.
#
# Installs what is missing (apt), builds warning-free with -Werror, installs
# the extension, starts a private cluster, and runs `make installcheck`
# (pg_regress, pg_isolation_regress, TAP) as an unprivileged user, then the
# PGXN metadata check, the normalizer unit tests, a short libFuzzer run and
# the benchmark's smoke run.  Long load tests run in their short mode.
# Prints the diffs and logs of what failed, and a closing line that counts
# tests: "N passed, M failed, K skipped" over pg_regress tests, isolation
# specs, TAP assertions and unit tests, with the skips named.  Exits
# non-zero if anything failed.  About 4 minutes on 2 cores.
#
#   ./scripts/test.sh                 the host's PostgreSQL 15 (or PG_CONFIG=...)
#   ./scripts/test.sh --full          also valgrind over pg_regress, the load
#                                     tests at full length and the full
#                                     benchmark (about 25 minutes more)
#   ./scripts/test.sh --all-versions  every supported major (scripts/matrix.sh;
#                                     with --full, full length there too)
#   ./scripts/test.sh --core          only the build and the three PGXS suites
#                                     (what the matrix runs on each major)
FULL=""
CORE=""
ALL=""
for arg in "$@"; do
    case $arg in
        --full) FULL=1 ;;
        --core) CORE=1 ;;
        --all-versions) ALL=1 ;;
        *) echo "usage: $0 [--full] [--core] [--all-versions]" >&2; exit 2 ;;
    esac
done
if [ -n "$ALL" ]; then
    ACCOUNT_FULL=$FULL exec "$(dirname "$0")/matrix.sh"
fi
[ -n "$FULL" ] && export ACCOUNT_FULL=1
. "$(dirname "$0")/lib.sh"
started=$(date +%s)

TAP_PACKAGES=(libipc-run-perl pgbouncer python3-psycopg libpq-dev)
[ -n "$PG_FROM_DEBIAN" ] && TAP_PACKAGES+=(postgresql-client-$PG_MAJOR)
if [ -n "$CORE" ]; then
    ensure_packages "${BASE_PACKAGES[@]}" "${TAP_PACKAGES[@]}"
else
    EXTRA=(clang libclang-rt-14-dev python3-django python3-sqlalchemy python3-psycopg2 ruby-activerecord ruby-pg)
    [ -n "$FULL" ] && EXTRA+=(valgrind)
    ensure_packages "${BASE_PACKAGES[@]}" "${TAP_PACKAGES[@]}" "${EXTRA[@]}"
fi

# ACCOUNT_STATUS=FILE: each step's result is appended as "step ok|FAILED"
# (scripts/matrix.sh reads it).
status() { [ -z "${ACCOUNT_STATUS:-}" ] || echo "$1 $2" >>"$ACCOUNT_STATUS"; }
# ACCOUNT_INSTALLED=1: this tree is installed already, by the Debian
# package scripts/deb.sh built from it (scripts/matrix.sh, for the TAP
# tests it runs after the rest of a major's suites): no second build
if [ -n "${ACCOUNT_INSTALLED:-}" ]; then
    log "using the extension installed from this tree (its Debian package)"
elif build_and_install; then
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

failed_steps=()
n_pass=0
n_fail=0
n_skip=0
skips=()

# count KIND LOG: add a step's tests to the totals.
count() {
    local kind=$1 log=$2 p=0 f=0 s=0
    case $kind in
        pgxs)
            # pg_regress: "test x ... ok" (15) or "ok 1 - x" (16 and later)
            p=$(grep -cE '^(test |     )?[a-z_0-9]+ +\.\.\. ok|^ok [0-9]+ +[-+] ' "$log" || true)
            f=$(grep -cE '\.\.\. FAILED|^not ok [0-9]+ +[-+] ' "$log" || true)
            ;;
        tap)
            # prove's summary: Tests=N, the failed subtests, the skipped files
            local total
            total=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$log" | tail -n 1)
            f=$({ grep -oE 'Failed [0-9]+/[0-9]+ subtests' "$log" || true; } | awk -F'[ /]' '{s += $2} END {print s + 0}')
            p=$(( ${total:-0} - f ))
            while IFS= read -r line; do
                skips+=("$line")
                s=$((s + 1))
            done < <(sed -n 's/^\[[0-9:]*\] \(test\/t\/[^ ]*\) \.* skipped: \(.*\)/\1 (\2)/p' "$log")
            ;;
        unit)
            read -r p f < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$log" | tail -n 1) || true
            ;;
        one)
            ;;
    esac
    n_pass=$((n_pass + ${p:-0}))
    n_fail=$((n_fail + ${f:-0}))
    n_skip=$((n_skip + ${s:-0}))
}

# run_step KEY KIND NAME CMD...: KEY names the step in the status file;
# KIND says how to count its tests (pgxs, tap, unit, one).
run_step() {
    local key=$1 kind=$2 name=$3 log="$WORK/step-$1.log" t0=$SECONDS
    shift 3
    log "$name"
    # shown as it runs, and kept for counting
    if "$@" 2>&1 | tee "$log"; then
        echo "ok: $name ($((SECONDS - t0)) s)"
        status "$key" ok
        [ "$kind" = one ] && n_pass=$((n_pass + 1))
        count "$kind" "$log"
    else
        echo "FAILED: $name ($((SECONDS - t0)) s)"
        failed_steps+=("$name")
        status "$key" FAILED
        local before=$n_fail
        [ "$kind" = one ] || count "$kind" "$log"
        # a step that failed without a failed test in its output (a build,
        # a crash before the first test) counts as one failure
        [ "$n_fail" -gt "$before" ] || n_fail=$((n_fail + 1))
    fi
}

# installcheck SUITE [VAR=VALUE...]: one of the three PGXS suites (the
# other two emptied), with make variables of the caller's.
installcheck() {
    local vars
    case $1 in
        regress) vars=(ISOLATION= TAP_TESTS=) ;;
        isolation) vars=(REGRESS= TAP_TESTS=) ;;
        tap) vars=(REGRESS= ISOLATION=) ;;
    esac
    vars+=("${@:2}")
    if as_pg env ${INITDB_TEMPLATE:+INITDB_TEMPLATE="$INITDB_TEMPLATE"} \
        make -C "$SRC" -s installcheck PG_CONFIG="$PG_CONFIG" "${vars[@]}" \
        PROVE_FLAGS="--timer ${ACCOUNT_PROVE_JOBS:+-j$ACCOUNT_PROVE_JOBS}"; then
        return 0
    fi
    for f in "$SRC/regression.diffs" "$SRC/output_iso/regression.diffs"; do
        if [ -s "$f" ]; then
            echo "---- $f"
            cat "$f"
        fi
    done
    if [ "$1" = tap ]; then
        # the files with a failed assertion, and those that died before
        # their plan (an error in a statement the test did not expect)
        for f in "$SRC"/tmp_check/log/regress_log_*; do
            [ -f "$f" ] || continue
            if ! grep -q "not ok" "$f" && grep -qE '^\[[0-9:.]+\]\([0-9.]+s\) 1\.\.[0-9]+( |$)' "$f"; then
                continue
            fi
            echo "---- $f (failures, errors and the last 40 lines)"
            grep -n -E -A6 "not ok|error running SQL|died|^# Looks like" "$f" | head -n 80
            tail -n 40 "$f"
        done
    fi
    return 1
}

# One initdb for all the TAP tests' clusters, where the test framework
# copies a template (17 and later, INITDB_TEMPLATE): the same command the
# framework runs for each cluster otherwise, so the clusters are the same,
# and each costs a copy instead of a bootstrap
INITDB_TEMPLATE=""
if grep -q INITDB_TEMPLATE "$(dirname "$("$PG_CONFIG" --pgxs)")/../test/perl/PostgreSQL/Test/Cluster.pm" 2>/dev/null; then
    INITDB_TEMPLATE="$WORK/initdb-template"
    as_pg initdb --no-sync --pgdata "$INITDB_TEMPLATE" --auth trust >"$WORK/initdb-template.log" 2>&1 \
        || { cat "$WORK/initdb-template.log"; INITDB_TEMPLATE=""; }
fi

# the TAP tests run two at a time where two cores allow (each has its own
# clusters); ACCOUNT_PROVE_JOBS=1 runs them one by one
if [ -z "${ACCOUNT_PROVE_JOBS+set}" ]; then
    ACCOUNT_PROVE_JOBS=$([ "$(nproc)" -ge 2 ] && echo 2 || echo 1)
fi

# ACCOUNT_TAP_ONLY="test/t/X.pl ...": those TAP tests alone, recorded as
# step "tap_only" (scripts/matrix.sh: pg_upgrade on 17 once the 16 build it
# upgrades from is there, after the rest of 17's suites)
if [ -n "${ACCOUNT_TAP_ONLY:-}" ]; then
    run_step tap_only tap "TAP tests: $ACCOUNT_TAP_ONLY" installcheck tap PROVE_TESTS="$ACCOUNT_TAP_ONLY"
else
    run_step regress pgxs "pg_regress suite (test/sql/, test/expected/)" installcheck regress
    run_step isolation pgxs "isolation specs (test/specs/)" installcheck isolation
    run_step tap tap "TAP tests (test/t/)" installcheck tap
fi
# BENCH_QUICK=1: the hit and miss benchmark too (scripts/matrix.sh --full);
# BENCH_ROW=FILE collects its table row (only that run's: the smoke and
# full runs below write none).
# With ACCOUNT_TAP_ONLY (scripts/matrix.sh: Citus's tests, after the rest
# of the major's suites) only the Citus benchmark.
if [ -n "${BENCH_QUICK:-}" ]; then
    [ -n "${ACCOUNT_TAP_ONLY:-}" ] || run_step bench one "benchmark: hit and miss paths" as_pg env BENCH_QUICK=1 \
        BENCH_ROW="${BENCH_ROW:-}" ACCOUNT_SKIP_INSTALL=1 "$SRC/test/bench/bench.sh"
    # where Citus is installed: through a coordinator and a worker against
    # the Citus floor
    if [ -f "$("$PG_CONFIG" --pkglibdir)/citus.so" ] && [ -z "${ACCOUNT_SKIP_CITUS:-}" ]; then
        run_step citus_bench one "benchmark: find-or-create on Citus" as_pg env \
            CITUS_BENCH_ROW="${CITUS_BENCH_ROW:-}" ACCOUNT_SKIP_INSTALL=1 "$SRC/test/bench/citus.sh"
    fi
fi
if [ -z "$CORE" ]; then
    run_step meta one "PGXN META.json (spec 1.0.0, versions agree)" python3 "$SRC/test/meta/validate.py"
    run_step unit unit "normalizer unit tests" as_pg "$SRC/test/unit/run.sh"
    run_step fuzz one "normalizer fuzzing (smoke)" as_pg "$SRC/test/fuzz/run.sh" 10
    run_step orm unit "ORM examples (examples/, many processes each)" as_pg env PG_BIN="$PG_BIN" \
        "$SRC/examples/test.sh"
    if [ -n "$FULL" ]; then
        run_step valgrind one "pg_regress suite under valgrind memcheck" as_pg env PG_BIN="$PG_BIN" "$SRC/test/valgrind/run.sh"
        run_step bench one "benchmark (full)" as_pg env BENCH_ROW= ACCOUNT_SKIP_INSTALL=1 "$SRC/test/bench/bench.sh"
    else
        run_step bench one "benchmark (smoke run: proves it runs; its numbers mean nothing)" as_pg env BENCH_SMOKE=1 \
            BENCH_ROW= ACCOUNT_SKIP_INSTALL=1 "$SRC/test/bench/bench.sh"
    fi
fi

echo
for f in "${failed_steps[@]}"; do echo "failed: $f"; done
for s in "${skips[@]}"; do echo "skipped: $s"; done
echo "PostgreSQL $PG_MAJOR, $(( $(date +%s) - started )) s${FULL:+ (--full)}:" \
    "$n_pass passed, $n_fail failed, $n_skip skipped"
[ ${#failed_steps[@]} -eq 0 ]
