#!/usr/bin/env bash
# examples/test.sh: each ORM example against the running cluster (PGHOST,
# PGPORT, as the server's user; scripts/test.sh runs it), with the real ORM
# from Debian's packages (python3-django, python3-sqlalchemy with
# python3-psycopg2, ruby-activerecord with ruby-pg): 32 processes race the
# example's call over the same 200 new identifiers, as a role that has
# only the application's grants.  Each must end with no exception in any
# process, every process given the same id for an identifier, created =
# true exactly once for each, and one account per identifier in the
# tables.  Prints "N passed, M failed".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
db=orm_examples
pass=0
fail=0
check() {
    if [ "$2" = "$3" ]; then
        pass=$((pass + 1)); echo "ok - $1"
    else
        fail=$((fail + 1)); echo "not ok - $1: got '$2', expected '$3'"
    fi
}
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d $db >/dev/null <<'SQL'
CREATE EXTENSION account;
DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'orm_app') THEN CREATE ROLE orm_app LOGIN; END IF; END $$;
SELECT accounts.grant_access('orm_app', 'application');
SQL

race() {
    local name=$1; shift
    local out
    out=$(env PGDATABASE=$db PGUSER=orm_app RACE_PREFIX="$name" "$@" 2>&1)
    local rc=$?
    echo "$name: $out"
    check "$name: 32 processes, 200 new identifiers: no exception, one id and one creation per identifier" "$rc" 0
    check "$name: one account per identifier in the tables" \
        "$(psql -X -At -d $db -c "SELECT count(*) || ' ' || count(DISTINCT account_id) FROM accounts.identifiers WHERE value LIKE '$name-%'")" \
        "200 200"
}
race django /usr/bin/python3 "$here/django/race.py"
race sqlalchemy /usr/bin/python3 "$here/sqlalchemy/race.py"
race activerecord ruby "$here/activerecord/race.rb"
check "no account without identifiers" \
    "$(psql -X -At -d $db -c "SELECT count(*) FROM accounts.accounts a WHERE NOT EXISTS (SELECT 1 FROM accounts.identifiers i WHERE i.account_id = a.id)")" 0
psql -X -q -d postgres -c "DROP DATABASE $db" >/dev/null
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
