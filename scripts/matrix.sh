#!/usr/bin/env bash
# scripts/matrix.sh (./scripts/test.sh --all-versions): the build and the
# pg_regress, isolation and TAP suites on every supported PostgreSQL major,
# then a table of the results.  Exits non-zero if any cell of a supported
# major failed.  About 20 minutes on 2 cores with its caches (1,171 s
# measured), about 25 on a fresh machine here (1,527 s and 1,498 s
# measured; CI's fresh machine took 968 s at 1ed6f37).  The two Debian
# roots, the 16 build and two Citus builds come first, and both cores
# stay busy from the first minute to the last: the run is as long as its
# work, about 50 CPU minutes, a third of it the Citus tests, whose cost is
# mostly starting backends, about 30 ms of CPU each on these machines.
#
#   15      the host's Debian packages: the host's whole suite
#           (scripts/test.sh: also the ORM examples, unit tests, fuzzing)
#   16      built from ../shared/pg-src/postgresql-16.2.tar.xz (no Debian
#           suite has 16)
#   17      a Debian 13 (trixie) root, postgresql-17, Citus built from
#           ../shared/citus; the TAP run adds pg_upgrade from the 16 build
#   18      a Debian unstable (sid) root, postgresql-18, Citus as on 17
#   19      release candidate, Debian experimental in the sid root: with
#           --full only, reported, not gating (README, "Supported versions")
#
# In each Debian root the extension is also built as a Debian package
# (debian/, pg_buildext), the package is installed, and `make installcheck`
# runs the pg_regress suite against the installed files.  Load tests run
# in their short mode; with --full (ACCOUNT_FULL=1) at full length, with
# the benchmarks on every major.
#
# Citus (test/t/015, 018, 019 and its benchmark) runs on the majors of
# ACCOUNT_CITUS_MAJORS (default "17 18", both gate); the others run their
# suites without it (ACCOUNT_SKIP_CITUS=1).  ACCOUNT_CITUS_MAJORS=18 is
# the quick way to a matrix when the Citus path did not change: Citus's
# build and three clusters per test are a third of the run.
#
# Builds from source (16, Citus) use -O1 unless a benchmark runs
# (ACCOUNT_BENCH, --full): they compile faster, and the suites test the
# extension, not the server's optimizer.
#
# The roots and the 16 build are cached under ACCOUNT_CACHE (default
# /var/tmp/account-matrix); a second run reuses them.  ACCOUNT_MAJORS picks
# majors (default "15 16 17 18").  Needs root (mmdebstrap, chroot).
. "$(dirname "$0")/lib.sh"

CACHE=${ACCOUNT_CACHE:-/var/tmp/account-matrix}
SHARED=${ACCOUNT_SHARED:-$ROOT/../shared}
# 19 is a release candidate: reported, not gating; only with --full unless asked for
MAJORS=${ACCOUNT_MAJORS:-$([ -n "${ACCOUNT_FULL:-}" ] && echo "15 16 17 18 19" || echo "15 16 17 18")}
MATRIX_START=$(date +%s)
CITUS_MAJORS=${ACCOUNT_CITUS_MAJORS-17 18}
# ACCOUNT_MIRROR: a Debian mirror; by default mmdebstrap's own
MIRROR=${ACCOUNT_MIRROR:-}
# the hit/miss benchmark on each major, and Citus's: with --full
# (ACCOUNT_FULL=1), or ACCOUNT_BENCH=1
BENCH=${ACCOUNT_BENCH-${ACCOUNT_FULL:-}}
# the optimization of what is built from source: -O2 (the default) for numbers
OPT=$([ -n "$BENCH" ] && echo "-O2" || echo "-O1")
RESULTS=$(mktemp -d /tmp/account-matrix.XXXXXX)
chmod 755 "$RESULTS"
mkdir -p "$CACHE"

[ "$(id -u)" = 0 ] || { echo "matrix.sh needs root (mmdebstrap, chroot)" >&2; exit 1; }

# Packages every root gets: the server and its headers come per major.
# (Citus's build needs curl, lz4, zstd and Kerberos headers: installed with
# the root, so that its build, beside the suites, needs no apt.)
ROOT_PACKAGES="build-essential,libicu-dev,pkg-config,libipc-run-perl,pgbouncer,python3-psycopg,libpq-dev,debhelper,dpkg-dev,postgresql-server-dev-all,libcurl4-openssl-dev,liblz4-dev,libzstd-dev,libkrb5-dev"

# Mirrors of unstable and experimental can be older than their Release
# files' Valid-Until: apt is told not to check it, in mmdebstrap (which
# keeps the option in the root) and in every apt run inside a root.
APT_NO_VALID_UNTIL='Acquire::Check-Valid-Until "false";'

# make_root DIR SUITE MAJOR: a Debian root with postgresql-MAJOR.
make_root() {
    local dir=$1 suite=$2 major=$3
    local want="$suite $major $ROOT_PACKAGES"
    if [ -f "$dir/.account-root" ] && [ "$(head -n 1 "$dir/.account-root")" = "$want" ]; then
        return 0
    fi
    umount_root "$dir"
    if mountpoint -q "$dir/dev" || mountpoint -q "$dir/proc"; then
        echo "$dir still has mounts; not removing it" >&2
        return 1
    fi
    rm -rf "$dir"
    ensure_packages mmdebstrap
    log "building a Debian $suite root for PostgreSQL $major in $dir"
    # mmdebstrap, not debootstrap: apt resolves and downloads in parallel
    # and dpkg unpacks without syncing each file; 79 s and 74 s of CPU for
    # this root here, against 118 s and 128 s for debootstrap
    mmdebstrap --variant=minbase --aptopt="$APT_NO_VALID_UNTIL" \
        --include="postgresql-$major,postgresql-server-dev-$major,$ROOT_PACKAGES" \
        "$suite" "$dir" ${MIRROR:+"$MIRROR"} >"$RESULTS/root-$suite-make.log" 2>&1 \
        || { tail -n 30 "$RESULTS/root-$suite-make.log"; return 1; }
    echo "$want" >"$dir/.account-root"
}

# add_major DIR SUITE MAJOR: postgresql-MAJOR from another suite (19 from
# experimental) into an existing root.
add_major() {
    local dir=$1 suite=$2 major=$3
    grep -qx "$suite $major" "$dir/.account-root" && return 0
    log "adding PostgreSQL $major from $suite to $dir"
    # the mirror the root was made from (mmdebstrap wrote it)
    local mirror=${MIRROR:-$(awk '$1 == "deb" {print $2; exit}' "$dir/etc/apt/sources.list")}
    echo "deb $mirror $suite main" >"$dir/etc/apt/sources.list.d/$suite.list"
    in_root "$dir" apt-get update -qq >"$RESULTS/apt-$major.log" 2>&1 \
        && in_root "$dir" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends -t "$suite" "postgresql-$major" "postgresql-server-dev-$major" \
            >>"$RESULTS/apt-$major.log" 2>&1 \
        || { tail -n 30 "$RESULTS/apt-$major.log"; umount_root "$dir"; return 1; }
    umount_root "$dir"
    echo "$suite $major" >>"$dir/.account-root"
}

# in_root DIR CMD...: run CMD inside the root with /proc and /dev mounted.
in_root() {
    local dir=$1; shift
    mountpoint -q "$dir/proc" || mount -t proc proc "$dir/proc"
    if ! mountpoint -q "$dir/dev"; then
        mount --rbind /dev "$dir/dev"
        mount --make-rslave "$dir/dev"
    fi
    cp /etc/resolv.conf "$dir/etc/resolv.conf"
    # (roots made before mmdebstrap was used do not have it yet)
    echo "$APT_NO_VALID_UNTIL" >"$dir/etc/apt/apt.conf.d/99account"
    chroot "$dir" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

# (a server still running inside the root keeps /dev/shm busy: then the
# mounts are detached lazily, and go when it stops)
umount_root() {
    local dir=$1 m
    for m in "$dir$CACHE/pg16" "$dir/dev" "$dir/proc"; do
        if mountpoint -q "$m"; then
            umount -R "$m" 2>/dev/null || umount -lR "$m" || true
        fi
    done
    return 0
}

# what 16's build needs on the host (lane_host installs it before the
# build starts beside 15's suite, whose apt runs would collide with it)
PG16_PACKAGES=(bison flex libicu-dev zlib1g-dev libipc-run-perl pkg-config make gcc)
# what a cached 16 build must have been built with
PG16_BUILD="16.2 --with-icu --enable-tap-tests $OPT, no ecpg; isolation, perl, amcheck, pageinspect"

# build_pg16: PostgreSQL 16 from source into $CACHE/pg16 (with the PGXS
# test tools and the TAP modules), unless it is there already.
build_pg16() {
    local prefix=$CACHE/pg16 tarball=$SHARED/pg-src/postgresql-16.2.tar.xz
    [ -x "$prefix/bin/pg_config" ] && [ "$(cat "$prefix/.account-built" 2>/dev/null)" = "$PG16_BUILD" ] && return 0
    [ -f "$tarball" ] || { echo "missing $tarball (ACCOUNT_SHARED names the shared folder)" >&2; return 1; }
    log "building PostgreSQL 16 from $tarball into $prefix (about 5 minutes)"
    local build=$CACHE/pg16-build
    rm -rf "$build" "$prefix"
    mkdir -p "$build"
    tar -xJf "$tarball" -C "$build" --strip-components=1
    (
        cd "$build"
        ./configure --prefix="$prefix" --with-icu --enable-tap-tests --without-readline CFLAGS="$OPT" \
            >"$RESULTS/pg16-configure.log" 2>&1
        # no ecpg (embedded SQL for C): nothing here uses it, and its
        # grammar is one of the longest compiles of the tree
        sed -i 's/^SUBDIRS = libpq ecpg$/SUBDIRS = libpq/' src/interfaces/Makefile
        make -j"$(nproc)" -s >"$RESULTS/pg16-make.log" 2>&1
        make -s install >>"$RESULTS/pg16-make.log" 2>&1
        make -s -C src/test/isolation install >>"$RESULTS/pg16-make.log" 2>&1
        make -s -C src/test/perl install >>"$RESULTS/pg16-make.log" 2>&1
        make -s -C contrib/amcheck install >>"$RESULTS/pg16-make.log" 2>&1
        make -s -C contrib/pageinspect install >>"$RESULTS/pg16-make.log" 2>&1
    ) || { tail -n 30 "$RESULTS"/pg16-*.log; return 1; }
    rm -rf "$build"
    echo "$PG16_BUILD" >"$prefix/.account-built"
}

# share_pg16 DIR: the 16 build (with the extension installed by the 16 row),
# visible at the same path inside the root, for pg_upgrade from 16 to the
# root's major (test/t/013_pg_upgrade.pl).  It was built against the host's
# ICU 72: those libraries go along, into the root's /usr/local/lib (ICU's
# own dependencies between its libraries do not follow a RUNPATH).
# Not from the host's 15: Debian's 15.20 (like trixie's 17) stores a column
# option pg_attver that 16.2 does not know, so pg_upgrade 15 -> 16.2 fails
# for any table; 16.2 -> 17 works.
share_pg16() {
    local dir=$1
    [ -x "$CACHE/pg16/bin/pg_config" ] && [ -f "$CACHE/pg16/lib/postgresql/account.so" ] || {
        echo "no 16 build with the extension: pg_upgrade is not tested (run 16 first)"; return 1; }
    cp -a /usr/lib/x86_64-linux-gnu/libicu{uc,i18n,data}.so.72* "$dir/usr/local/lib/" || return 1
    chroot "$dir" /sbin/ldconfig
    mkdir -p "$dir$CACHE/pg16"
    mountpoint -q "$dir$CACHE/pg16" || mount --bind "$CACHE/pg16" "$dir$CACHE/pg16"
}

# install_citus DIR MAJOR: Citus from $SHARED/citus built and installed
# inside the root, unless it is there already (test/t/015_citus.pl runs
# when it is).  Users install Citus from its own packages; this is only for
# the test.  Records the cell "citus".
CITUS_TARBALL=${CITUS_SRC:-$SHARED/citus/citus-14.0.1.tar.xz}
# Citus's compiler options, also what a cached build must have been built
# with: Debian's pg_config asks for debug information (-g) and, with LLVM,
# a clang bitcode copy of every file for JIT inlining; neither is used by
# the tests, and they were more than half of the build (-g0 here,
# with_llvm=no below)
CITUS_COPT="$OPT -g0"
citus_major() { case " $CITUS_MAJORS " in *" $1 "*) return 0 ;; esac; return 1; }
install_citus() {
    local dir=$1 major=$2
    if [ -f "$dir/usr/lib/postgresql/$major/lib/citus.so" ] && [ "$(cat "$dir/tmp/.citus-built" 2>/dev/null)" = "$CITUS_COPT" ]; then
        record "$major" citus ok
        return 0
    fi
    if [ ! -f "$CITUS_TARBALL" ]; then
        echo "no $CITUS_TARBALL: the Citus test is skipped"
        record "$major" citus n/a
        return 0
    fi
    log "building Citus from $CITUS_TARBALL inside the $major root (about 3 minutes)"
    rm -rf "$dir/tmp/citus"
    mkdir -p "$dir/tmp/citus"
    tar -xJf "$CITUS_TARBALL" -C "$dir/tmp/citus" --strip-components=1
    if in_root "$dir" sh -c "cd /tmp/citus && ./configure PG_CONFIG=/usr/lib/postgresql/$major/bin/pg_config &&
        make -j\$(nproc) -s COPT='$CITUS_COPT' with_llvm=no && make -s install with_llvm=no" >"$RESULTS/citus-$major.log" 2>&1; then
        echo "$CITUS_COPT" >"$dir/tmp/.citus-built"
        record "$major" citus ok
    else
        tail -n 30 "$RESULTS/citus-$major.log"
        record "$major" citus FAILED
    fi
    rm -rf "$dir/tmp/citus"
}

# Never leave a root's /dev or /proc mounted, whatever ends the run: a later
# `rm -rf` of the root would reach through the bind mount.
unmount_all() { for r in "$CACHE"/root-*; do [ -d "$r" ] && umount_root "$r"; done; return 0; }
trap unmount_all EXIT

# The cells of the table, one status file per major.
record() { echo "$2 $3" >>"$RESULTS/status-$1"; }
cell() {
    local line
    line=$(grep "^$2 " "$RESULTS/status-$1" 2>/dev/null | tail -n 1) || true
    echo "${line#* }" | sed 's/^$/-/'
}

run_host() {
    local major=$1; shift
    log "PostgreSQL $major: $*"
    env ACCOUNT_STATUS="$RESULTS/status-$major" BENCH_QUICK="$BENCH" BENCH_ROW="$RESULTS/bench-$major" \
        "$@" "$ROOT/scripts/test.sh" --core 2>&1 | tee "$RESULTS/test-$major.log" | grep -E '^(== |ok: |FAILED: |PostgreSQL [0-9]+, )' || true
}

# run_in_root DIR MAJOR [VAR=VALUE...]: the core suite (with the extra
# environment), then the Debian package, inside DIR.
run_in_root() {
    local dir=$1 major=$2 rc=0
    shift 2
    log "PostgreSQL $major: inside $dir"
    rm -rf "$dir/tmp/account"
    mkdir -p "$dir/tmp/account"
    (cd "$ROOT" && tar --exclude=.git -cf - .) | tar -xf - -C "$dir/tmp/account"
    rm -f "$dir/tmp/account-status" "$dir/tmp/account-bench" "$dir/tmp/account-citus-bench"
    touch "$dir/tmp/account-bench" "$dir/tmp/account-citus-bench"
    chmod 666 "$dir/tmp/account-bench" "$dir/tmp/account-citus-bench"
    local bench=$BENCH
    [ "$major" = 19 ] && bench=""       # a release candidate: no numbers
    in_root "$dir" env "$@" PG_MAJOR="$major" ACCOUNT_STATUS=/tmp/account-status \
        BENCH_QUICK="$bench" BENCH_ROW=/tmp/account-bench CITUS_BENCH_ROW=/tmp/account-citus-bench \
        ${ACCOUNT_FULL:+ACCOUNT_FULL=1} /tmp/account/scripts/test.sh --core 2>&1 | tee "$RESULTS/test-$major.log" \
        | grep -E '^(== |ok: |FAILED: |PostgreSQL [0-9]+, )' || true
    grep -q "^FAILED: " "$RESULTS/test-$major.log" && rc=1
    cat "$dir/tmp/account-status" >>"$RESULTS/status-$major" 2>/dev/null || true
    cat "$dir/tmp/account-bench" >>"$RESULTS/bench-$major" 2>/dev/null || true
    cat "$dir/tmp/account-citus-bench" >>"$RESULTS/citus-bench" 2>/dev/null || true
    if in_root "$dir" env PG_MAJOR="$major" /tmp/account/scripts/deb.sh --check \
        >"$RESULTS/deb-$major.log" 2>&1; then
        record "$major" deb ok
    else
        record "$major" deb FAILED
        tail -n 40 "$RESULTS/deb-$major.log"
    fi
    return $rc
}

# tap_only_in_root DIR MAJOR NAME TESTS [VAR=VALUE...]: those TAP tests
# alone inside DIR (scripts/test.sh, ACCOUNT_TAP_ONLY), after run_in_root;
# a failure fails MAJOR's TAP cell.  Log: test-MAJOR-NAME.log.
tap_only_in_root() {
    local dir=$1 major=$2 name=$3 tests=$4 bench=$BENCH
    shift 4
    [ "$major" = 19 ] && bench=""
    rm -f "$dir/tmp/account-status" "$dir/tmp/account-citus-bench"
    touch "$dir/tmp/account-citus-bench"
    chmod 666 "$dir/tmp/account-citus-bench"
    # the package of this tree is installed if its check passed: the tests
    # use it rather than build the extension once more
    local installed=""
    [ "$(cell "$major" deb)" = ok ] && installed=1
    in_root "$dir" env "$@" PG_MAJOR="$major" ACCOUNT_STATUS=/tmp/account-status ACCOUNT_TAP_ONLY="$tests" \
        ${installed:+ACCOUNT_INSTALLED=1} \
        BENCH_QUICK="$bench" CITUS_BENCH_ROW=/tmp/account-citus-bench ${ACCOUNT_FULL:+ACCOUNT_FULL=1} \
        /tmp/account/scripts/test.sh --core 2>&1 | tee "$RESULTS/test-$major-$name.log" \
        | grep -E '^(== |ok: |FAILED: |PostgreSQL [0-9]+, )' || true
    grep -qE '^(tap_only|build) FAILED' "$dir/tmp/account-status" 2>/dev/null && record "$major" tap FAILED
    [ -f "$dir/tmp/account-status" ] || record "$major" tap FAILED
    cat "$dir/tmp/account-citus-bench" >>"$RESULTS/citus-bench" 2>/dev/null || true
    return 0
}

# Three lanes side by side: the host's majors, and one per Debian root
# with its Citus build.  One lane alone would leave the cores idle while
# it waits (downloads, servers starting and stopping); three keep both
# busy (99% over a whole run, measured), so what makes the run shorter is
# less work, not more lanes.
#
#   lane 1: 15 (the host's whole suite, scripts/test.sh), then 16 (built
#           from source, then its suites)
#   lane 2: the sid root; 18's suites and package while Citus builds, then
#           the Citus tests; then 19 (with --full)
#   lane 3: the trixie root; 17's suites, package and Citus as on 18, then
#           pg_upgrade from lane 1's 16 build (waited for only then)
wants() { case " $MAJORS " in *" $1 "*) return 0 ;; esac; return 1; }
PG16_READY="$RESULTS/pg16-ready"

lane_host() {
    # 16's build starts at once, beside 15's suite (and, on a fresh
    # machine, the roots' downloads), so that 16's suites follow 15's
    # without waiting for it
    local pg16_pid=""
    if wants 16; then
        ensure_packages "${PG16_PACKAGES[@]}"
        build_pg16 >"$RESULTS/pg16-build.log" 2>&1 &
        pg16_pid=$!
    fi
    if wants 15; then
        : >"$RESULTS/status-15"
        log "PostgreSQL 15: the host's whole suite"
        env -u PG_CONFIG ACCOUNT_STATUS="$RESULTS/status-15" PG_MAJOR=15 BENCH_QUICK="$BENCH" BENCH_ROW="$RESULTS/bench-15" \
            "$ROOT/scripts/test.sh" ${ACCOUNT_FULL:+--full} 2>&1 | tee "$RESULTS/test-15.log" \
            | grep -E '^(== |ok: |FAILED: |PostgreSQL [0-9]+, |failed: |skipped: )' || true
    fi
    if wants 16; then
        : >"$RESULTS/status-16"
        if wait "$pg16_pid"; then
            run_host 16 PG_CONFIG="$CACHE/pg16/bin/pg_config" || true
        else
            cat "$RESULTS/pg16-build.log"
            record 16 build FAILED
        fi
    fi
    touch "$PG16_READY"
}

# major_in_root DIR MAJOR [VAR=VALUE...]: MAJOR's suites and package in
# DIR.  On a Citus major, Citus builds while the other suites run (the
# build is the lane's longest step); its three TAP tests (four with
# --full: the load run of repeated moves, 025) and, with a benchmark, its
# benchmark run after both.
CITUS_TESTS="test/t/015_citus.pl test/t/018_citus_2pc.pl test/t/019_citus_grow.pl${ACCOUNT_FULL:+ test/t/025_citus_moves.pl}"
major_in_root() {
    local dir=$1 major=$2 citus_pid
    shift 2
    : >"$RESULTS/status-$major"
    if ! citus_major "$major"; then
        record "$major" citus skipped
        run_in_root "$dir" "$major" ACCOUNT_SKIP_CITUS=1 "$@" || true
        return 0
    fi
    in_root "$dir" true         # mounted once, for both
    install_citus "$dir" "$major" &
    citus_pid=$!
    run_in_root "$dir" "$major" ACCOUNT_SKIP_CITUS=1 "$@" || true
    wait "$citus_pid" || true
    if [ "$(cell "$major" citus)" = ok ]; then
        log "PostgreSQL $major: the Citus tests"
        tap_only_in_root "$dir" "$major" citus "$CITUS_TESTS" "$@"
    fi
}

# lane 2: sid (18, then 19 with --full)
lane_sid() {
    if ! { wants 18 || wants 19; }; then return 0; fi
    if ! make_root "$CACHE/root-sid" sid 18 >"$RESULTS/root-sid.log" 2>&1; then
        tail -n 30 "$RESULTS/root-sid.log"
        for m in 18 19; do wants $m && { : >"$RESULTS/status-$m"; record $m build FAILED; }; done
        return 0
    fi
    wants 18 && major_in_root "$CACHE/root-sid" 18
    umount_root "$CACHE/root-sid"
    if wants 19; then
        : >"$RESULTS/status-19"
        if add_major "$CACHE/root-sid" experimental 19; then
            run_in_root "$CACHE/root-sid" 19 || true
            umount_root "$CACHE/root-sid"
        else
            record 19 build FAILED
        fi
    fi
}

# lane 3: trixie (17; then pg_upgrade from lane 1's 16 build, once it is
# there: the rest of 17's suites do not wait for it)
lane_trixie() {
    wants 17 || return 0
    if ! make_root "$CACHE/root-trixie" trixie 17 >"$RESULTS/root-trixie.log" 2>&1; then
        tail -n 30 "$RESULTS/root-trixie.log"
        : >"$RESULTS/status-17"; record 17 build FAILED
        return 0
    fi
    major_in_root "$CACHE/root-trixie" 17
    umount_root "$CACHE/root-trixie"
    wants 16 || return 0
    for _ in $(seq 1 1800); do [ -f "$PG16_READY" ] && break; sleep 1; done
    if share_pg16 "$CACHE/root-trixie"; then
        log "PostgreSQL 17: pg_upgrade from 16 (test/t/013_pg_upgrade.pl)"
        # (no benchmark here: BENCH= for this step)
        BENCH="" tap_only_in_root "$CACHE/root-trixie" 17 upgrade test/t/013_pg_upgrade.pl \
            ACCOUNT_UPGRADE_FROM="$CACHE/pg16"
        umount_root "$CACHE/root-trixie"
    fi
}

for major in $MAJORS; do
    : >"$RESULTS/bench-$major"
    chmod 666 "$RESULTS/bench-$major"     # the benchmark runs as the server's user
done
if wants 17 || wants 18 || wants 19; then
    ensure_packages mmdebstrap
fi
lane_host >"$RESULTS/lane-host.log" 2>&1 &
host_pid=$!
lane_sid >"$RESULTS/lane-sid.log" 2>&1 &
sid_pid=$!
lane_trixie >"$RESULTS/lane-trixie.log" 2>&1 &
trixie_pid=$!
# show progress: each lane's log as it grows, prefixed
tail -n +1 -F "$RESULTS/lane-host.log" 2>/dev/null | sed -u 's/^/[15 16] /' &
tails=($!)
tail -n +1 -F "$RESULTS/lane-sid.log" 2>/dev/null | sed -u 's/^/[18 19] /' &
tails+=($!)
tail -n +1 -F "$RESULTS/lane-trixie.log" 2>/dev/null | sed -u 's/^/[17] /' &
tails+=($!)
wait "$host_pid" || true
wait "$sid_pid" || true
wait "$trixie_pid" || true
sleep 1
kill "${tails[@]}" 2>/dev/null || true
wait 2>/dev/null || true
for major in $MAJORS; do
    case $major in 15|16|17|18|19) ;; *) echo "unknown major $major" >&2; : >"$RESULTS/status-$major"; record "$major" build FAILED ;; esac
done
echo "(the matrix took $(( $(date +%s) - MATRIX_START )) s)"

# The table.  19 is a release candidate: shown, not gating.
echo
printf '| %-5s | %-6s | %-7s | %-9s | %-6s | %-6s | %-6s |\n' major build regress isolation TAP deb citus
printf '|-------|--------|---------|-----------|--------|--------|--------|\n'
bad=0
for major in $MAJORS; do
    b=$(cell "$major" build); r=$(cell "$major" regress); i=$(cell "$major" isolation)
    t=$(cell "$major" tap); d=$(cell "$major" deb); c=$(cell "$major" citus)
    case $major in 15|16) d="n/a" ;; esac
    case $major in 17|18) ;; *) c="n/a" ;; esac
    printf '| %-5s | %-6s | %-7s | %-9s | %-6s | %-6s | %-6s |\n' "$major" "$b" "$r" "$i" "$t" "$d" "$c"
    if [ "$major" != 19 ]; then
        for x in "$b" "$r" "$i" "$t"; do [ "$x" = ok ] || bad=1; done
        case $d in ok|n/a) ;; *) bad=1 ;; esac
        case $c in ok|n/a|skipped) ;; *) bad=1 ;; esac
    fi
done
if [ -n "$BENCH" ]; then
  {
    echo "# Benchmarks per major and on Citus"
    echo
    echo "Written by \`ACCOUNT_BENCH=1 ACCOUNT_BENCH_DOCS=1 ./scripts/test.sh --all-versions\` on"
    echo "$(date -u +%Y-%m-%d), version $(sed -n "s/^default_version = '\(.*\)'/\1/p" "$ROOT/account.control"); not edited by hand."
    echo "Benchmark, hit and miss paths (µs per call, medians of 5 rounds; ratios are"
    echo "medians of per-round ratios; peer = the PL/pgSQL alternative; the miss path with"
    echo "the change journal on against the floor with a transactional-outbox row, and with"
    echo "it off against the plain floor; events_since reading 1,000):"
    echo "The matrix's lanes run side by side, so each major's benchmark ran beside another"
    echo "lane's suites on the same cores: compare the ratios within a row (ours and its floor"
    echo "ran together), not absolute numbers between rows."
    echo "$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
    echo "| PostgreSQL | hit µs: ours / floor / peer | hit vs floor (≤ 1.1×) | peer slower by | miss, journal on, µs: ours / floor with outbox | vs floor with outbox (≤ 1.0×) | miss, journal off, µs: ours / floor | vs floor (≤ 1.1×) | peer slower by | events_since(1000), ms |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    for major in $MAJORS; do cat "$RESULTS/bench-$major" 2>/dev/null; done
    if [ -s "$RESULTS/citus-bench" ]; then
        echo
        echo "Citus: find_or_create_account through the coordinator and through a worker of a"
        echo "coordinator and two workers on this machine, against two Citus floors: one table"
        echo "(distributed INSERT ... ON CONFLICT DO NOTHING RETURNING + SELECT, each its own"
        echo "transaction) and the same effect by hand (the identifier, and the account row when it"
        echo "was new, in one transaction); ms per call, 4 pgbench clients, medians of 3 rounds; the"
        echo "miss path with the change journal on (the default) and off:"
        echo "| PostgreSQL | Citus | entry | path | floor, one table, ms | floor, same effect, ms | ours ms | vs one table | vs same effect |"
        echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
        cat "$RESULTS/citus-bench"
    fi
  } >"$RESULTS/benchmarks.md"
    cat "$RESULTS/benchmarks.md"
    if [ -n "${ACCOUNT_BENCH_DOCS:-}" ]; then
        cp "$RESULTS/benchmarks.md" "$ROOT/docs/benchmarks.md"
        echo "(written to docs/benchmarks.md)"
    fi
fi
# what failed, in full: the logs live in a temporary folder that a CI
# machine does not keep
for major in $MAJORS; do
    if grep -q "FAILED" "$RESULTS/status-$major" 2>/dev/null; then
        for f in "$RESULTS/test-$major.log" "$RESULTS/test-$major-upgrade.log" "$RESULTS/test-$major-citus.log" "$RESULTS/deb-$major.log" "$RESULTS/citus-$major.log"; do
            [ -f "$f" ] && grep -q "FAILED\|rror" "$f" || continue
            echo
            echo "==== $f (the steps that failed)"
            awk '/^== /{buf=""} {buf = buf $0 "\n"} /^FAILED: /{printf "%s", buf; buf=""}' "$f" | tail -n 300
        done
        if grep -q "^deb FAILED" "$RESULTS/status-$major"; then
            echo "==== $RESULTS/deb-$major.log (last 60 lines)"; tail -n 60 "$RESULTS/deb-$major.log"
        fi
    fi
done
echo "(logs in $RESULTS)"
exit $bad
