#!/usr/bin/env bash
# scripts/deb.sh: the Debian package postgresql-$PG_MAJOR-account, built
# from this tree with pg_buildext (debian/), into ./dist/.
#
#   PG_MAJOR=17 ./scripts/deb.sh           build the package
#   PG_MAJOR=17 ./scripts/deb.sh --check   build it, install it in place of
#                                          any `make install`ed files, and
#                                          run the pg_regress suite against
#                                          the installed files
#
# Run as root on the Debian release that carries postgresql-$PG_MAJOR
# (scripts/matrix.sh does, in each Debian root).
CHECK=""
[ "${1:-}" = --check ] && CHECK=1
. "$(dirname "$0")/lib.sh"

[ -n "$PG_FROM_DEBIAN" ] || { echo "deb.sh packages Debian's postgresql-NN; unset PG_CONFIG" >&2; exit 1; }
ensure_packages "${BASE_PACKAGES[@]}" debhelper dpkg-dev postgresql-server-dev-all
version=$(dpkg-parsechangelog -l "$ROOT/debian/changelog" -S Version)
upstream=${version%-*}
build=$(mktemp -d /tmp/account-deb.XXXXXX)
trap 'rm -rf "$build"' EXIT

log "building postgresql-$PG_MAJOR-account $version"
mkdir -p "$build/account-$upstream"
(cd "$ROOT" && tar --exclude=.git --exclude=dist -cf - .) | tar -xf - -C "$build/account-$upstream"
(
    cd "$build/account-$upstream"
    make -s clean >/dev/null 2>&1 || true
    export PG_SUPPORTED_VERSIONS=$PG_MAJOR
    pg_buildext updatecontrol
    dpkg-buildpackage -us -uc -b
)
mkdir -p "$ROOT/dist"
cp "$build"/postgresql-"$PG_MAJOR"-account_*.deb "$ROOT/dist/"
deb=$(ls "$ROOT"/dist/postgresql-"$PG_MAJOR"-account_"$version"_*.deb)
echo "built $deb"
dpkg-deb -c "$deb"

[ -n "$CHECK" ] || exit 0

log "installing $deb"
# first no trace of an earlier package or `make install`
dpkg --purge "postgresql-$PG_MAJOR-account" >/dev/null 2>&1 || true
make -C "$ROOT" -s PG_CONFIG="$PG_CONFIG" uninstall >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$deb" >/dev/null
for f in "$("$PG_CONFIG" --pkglibdir)/account.so" "$("$PG_CONFIG" --sharedir)/extension/account.control"; do
    [ -f "$f" ] || { echo "the package did not install $f" >&2; exit 1; }
    dpkg -S "$f"
done

start_cluster
SRC="$WORK/src"
mkdir -p "$SRC"
(cd "$ROOT" && tar --exclude=.git --exclude=dist -cf - .) | (cd "$SRC" && tar -xf -)
make -C "$SRC" -s PG_CONFIG="$PG_CONFIG" clean >/dev/null
chown -R "$PGUSER_OS" "$SRC"
log "make installcheck (pg_regress) against the installed package"
if ! as_pg make -C "$SRC" -s installcheck PG_CONFIG="$PG_CONFIG" ISOLATION= TAP_TESTS=; then
    cat "$SRC/regression.diffs" 2>/dev/null || true
    exit 1
fi
# nothing was built here: the suite ran against the package's files
if ls "$SRC"/*.so "$SRC"/src/*.o >/dev/null 2>&1; then
    echo "the test tree was built; the check did not use the package" >&2
    exit 1
fi
echo "ok: the package's files pass the pg_regress suite"
