# scripts/lib.sh: shared by scripts/demo.sh, scripts/test.sh,
# scripts/matrix.sh and test/bench/bench.sh.  Installs what is missing,
# builds and installs the extension, and runs a throwaway PostgreSQL
# cluster on a private unix socket under a temporary folder, as an
# unprivileged user.
#
# Which PostgreSQL: PG_CONFIG=/path/to/pg_config (a build from source, or
# any installation), else Debian's postgresql-$PG_MAJOR (PG_MAJOR defaults
# to 15, the host's).

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Debian's own pg_config (also what a parent script exported) may not be
# installed yet: its major is in its path, its packages are installed below
if [[ "${PG_CONFIG:-}" =~ ^/usr/lib/postgresql/([0-9]+)/bin/pg_config$ ]]; then
    PG_MAJOR=${BASH_REMATCH[1]}
    PG_FROM_DEBIAN=1
elif [ -n "${PG_CONFIG:-}" ]; then
    PG_MAJOR=$("$PG_CONFIG" --version | sed 's/^PostgreSQL \([0-9]*\).*/\1/')
    PG_FROM_DEBIAN=""
else
    PG_MAJOR=${PG_MAJOR:-15}
    PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
    PG_FROM_DEBIAN=1
fi
PG_BIN=$(dirname "$PG_CONFIG")
export PG_CONFIG PG_MAJOR
export PATH="$PG_BIN:$PATH"

# Run as root: the server runs as "postgres".  Run as anyone else: the
# server runs as you, and installing uses sudo.
if [ "$(id -u)" = 0 ]; then
    SUDO=""
    PGUSER_OS=postgres
    as_pg() { runuser -u "$PGUSER_OS" -- env PATH="$PATH" "$@"; }
else
    SUDO=sudo
    PGUSER_OS=$(id -un)
    as_pg() { "$@"; }
fi

log() { printf '\n== %s\n' "$*" >&2; }

# ensure_packages PKG...: apt-get install the ones that are missing.
ensure_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]}"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

BASE_PACKAGES=(libicu-dev pkg-config make gcc)
[ -n "$PG_FROM_DEBIAN" ] && BASE_PACKAGES+=(postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR)

# build_and_install [CFLAGS]: warning-free build, installed into PostgreSQL.
build_and_install() {
    local cflags=${1:-"-Wall -Wextra -Werror"}
    log "building the extension (PG_CFLAGS=$cflags)"
    make -C "$ROOT" -s PG_CONFIG="$PG_CONFIG" clean >/dev/null
    make -C "$ROOT" -s PG_CONFIG="$PG_CONFIG" PG_CFLAGS="$cflags" >/dev/null
    # scripts of an earlier build of another version would stay installed
    # beside these and could shadow the update chain
    $SUDO rm -f "$("$PG_CONFIG" --sharedir)"/extension/account--*.sql
    $SUDO make -C "$ROOT" -s PG_CONFIG="$PG_CONFIG" install >/dev/null
}

# start_cluster: sets WORK, PGDATA, PGHOST, PGPORT; stops it on exit.
start_cluster() {
    WORK=$(mktemp -d /tmp/account.XXXXXX)
    chmod 755 "$WORK"
    [ "$(id -u)" = 0 ] && chown "$PGUSER_OS" "$WORK"
    export PGDATA="$WORK/data" PGHOST="$WORK" PGPORT=${PGPORT:-5432} PGDATABASE=postgres
    export PGUSER=$PGUSER_OS
    log "starting a throwaway cluster in $WORK (socket $PGHOST, port $PGPORT)"
    as_pg initdb -D "$PGDATA" -A trust -E UTF8 --locale=C.UTF-8 -U "$PGUSER_OS" >"$WORK/initdb.log" 2>&1 \
        || { cat "$WORK/initdb.log"; return 1; }
    cat >>"$PGDATA/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$WORK'
fsync = off
log_min_messages = warning
# the lock table of 15 to 18 (19 doubles the default): the suites show that
# creating accounts never depends on its size
max_locks_per_transaction = 64
EOF
    trap stop_cluster EXIT
    as_pg pg_ctl -D "$PGDATA" -l "$WORK/server.log" -w start >/dev/null
}

stop_cluster() {
    if [ -n "${PGDATA:-}" ] && [ -f "$PGDATA/postmaster.pid" ]; then
        as_pg pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
    fi
    if [ -n "${WORK:-}" ] && [ -z "${KEEP_CLUSTER:-}" ]; then
        rm -rf "$WORK"
    fi
}

psql_pg() { as_pg psql -X -v ON_ERROR_STOP=1 "$@"; }
