#!/usr/bin/env bash
# scripts/demo.sh: the main job.  Installs what is missing, builds and
# installs the extension, starts a throwaway cluster, and shows
# find-or-create at work (and a merge, a redaction and the change journal);
# then opens psql on it when run from a terminal.
# The cluster is removed when you leave.
. "$(dirname "$0")/lib.sh"

ensure_packages "${BASE_PACKAGES[@]}"
build_and_install
start_cluster

log "CREATE EXTENSION account, and find-or-create at work"
psql_pg -q <<'SQL'
\pset footer off
CREATE EXTENSION account;
\echo '-- the first call creates the account; reference ids ignore case and outer spaces'
SELECT * FROM accounts.find_or_create_account('user', 'reference_id', 'usr_1001');
SELECT * FROM accounts.find_or_create_account(type => 'user', id_type => 'reference_id', value => '  USR_1001 ');
SELECT * FROM accounts.find_or_create_account('user', ROW('reference_id', 'Usr_1001')::accounts.identifier);
\echo '-- find_account never writes'
SELECT accounts.find_account('user', 'reference_id', 'usr_1001') IS NOT NULL AS found,
       accounts.find_account('user', 'reference_id', 'nobody') AS nobody;
\echo '-- bad input is an error with a SQLSTATE and writes nothing; the try_ form returns it as a row'
SELECT error_code, error_message FROM accounts.try_find_or_create_account('user', 'reference_id', '   ');
SELECT error_code, error_message FROM accounts.try_find_or_create_account('merchant', 'reference_id', 'm1');
SQL

log "40 concurrent clients ask for the same 5 new reference ids at once"
for i in $(seq 1 40); do
    as_pg psql -X -qAt -c "SELECT created FROM accounts.find_or_create_account('user', 'reference_id', 'hot-$((i % 5))')" >"$WORK/client.$i" &
done
wait
echo "calls that saw created = true: $(cat "$WORK"/client.* | grep -c '^t$') (one per identifier: 5)"
psql_pg -q <<'SQL'
SELECT i.value, count(DISTINCT i.account_id) AS accounts
  FROM accounts.identifiers i
 WHERE i.value LIKE 'hot-%'
 GROUP BY i.value ORDER BY i.value;
SQL

log "Two accounts for one person, merged; then one redacted"
psql_pg -q <<'SQL'
\pset footer off
SELECT accounts.create_identifier_type('user', 'email', 'email') \g /dev/null
\echo '-- two accounts, each with a reference id and an email'
CREATE TEMP TABLE pair AS
SELECT (accounts.find_or_create_account('user', ARRAY[('reference_id', 'usr_2001'), ('email', 'ann@example.com')]::accounts.identifier[])).account_id AS a,
       (accounts.find_or_create_account('user', ARRAY[('reference_id', 'usr_2002'), ('email', 'ann.b@example.com')]::accounts.identifier[])).account_id AS b;
\echo '-- merge b into a: its identifiers move, b resolves to a'
SELECT accounts.merge_accounts(a, ARRAY[b]) AS identifiers_moved FROM pair;
SELECT accounts.resolve_account(b) = a AS b_resolves_to_a FROM pair;
SELECT status, identifiers FROM pair, accounts.get_account(a);
\echo '-- find-or-create with b''s reference id finds a'
SELECT (f).account_id = a AS found_on_a, (f).created
  FROM pair, (SELECT accounts.find_or_create_account('user', 'reference_id', 'USR_2002') AS f) s;
\echo '-- redact a: everything but its reference ids is erased'
SELECT accounts.redact_account(a) AS identifiers_erased FROM pair;
SELECT status, identifiers FROM pair, accounts.get_account(a);
SQL

log "The change journal: every change above as an event, in seq order"
psql_pg -q <<'SQL'
\pset footer off
\echo '-- the redaction erased the emails from the earlier events too: they show "value": null, "redacted": true'
SELECT seq, kind, right(account_id::text, 8) AS account, detail
  FROM accounts.events_since(0) ORDER BY seq;
\echo '-- a consumer stores the last seq it processed and asks for what came after'
SELECT count(*) AS events_after_the_last FROM accounts.events_since((SELECT max(seq) FROM accounts.events));
SQL

if [ -t 0 ] && [ -t 1 ]; then
    log "psql on the throwaway cluster; \\q to leave (the cluster is then removed)"
    echo "from a second shell: psql -h $PGHOST -p $PGPORT -U $PGUSER postgres"
    as_pg psql -X || true
else
    log "not a terminal: no psql prompt; the cluster is removed now (run from a terminal to get one)"
fi
