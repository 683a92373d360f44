/*
 * dist.c: find-or-create on a distributed cluster.
 *
 *   dist_find()                 find_account()
 *   dist_find_or_create()       one identifier (find_or_create_account(),
 *                               bulk, try, the trigger; add_identifier()
 *                               with attach_to)
 *   dist_find_or_create_all()   several identifiers of one person
 *   dist_lock_account()         an account's row FOR KEY SHARE, before
 *                               attaching to it
 *   dist_journal_event()        an event, into the journal of the
 *                               account's node
 *
 * The same calls as lookup.c's, with the same rules (rules.c), on Citus's
 * storage: accounts.dist_accounts and accounts.dist_identifiers,
 * distributed by route and co-located (route.c), read and written with
 * router statements that Citus sends to the shard owning each route, in
 * the caller's transaction, on whatever node that is.  The statements are
 * prepared once per backend and run as the extension's owner
 * (dist_begin()), who alone may read and write those tables, and as whom
 * Citus then connects to the other nodes.
 *
 * THE PROTOCOL ON CITUS
 * =====================
 *
 * There is no foreign key between the distributed tables (Citus allows one
 * only within a shard group, and an account's identifiers may live
 * anywhere), and no advisory lock reaches across nodes.  Uniqueness is the
 * shard's unique index on (route, value, id_type, account_type): every row
 * of one identifier has one route, hence one shard, and INSERT ... ON
 * CONFLICT DO NOTHING there waits for a concurrent inserter of the same
 * identifier, exactly as one node's index does.  What the foreign keys
 * would check is re-established by the writers:
 *
 *   - an identifier is written only pointing at an account row inserted
 *     in the same transaction, or after that row was locked FOR KEY SHARE
 *     in it (add_identifier(), attaching in the multi-identifier call);
 *   - a new account's row is inserted only after all of its identifiers
 *     went in, so a call that finds a concurrent winner never leaves an
 *     account behind: it points what it inserted at the winner (rows of
 *     its own transaction), or fails as a whole;
 *   - every identifier insert locks its type's row in this node's copy of
 *     the registry FOR KEY SHARE right after it went in, as one node's
 *     creators do (rowlock.c): a drop of the type deletes the row on every
 *     node, so it waits for the creators on any node, and settles before
 *     it looks for their identifiers (sql/parts/40_storage.sql).
 *
 * One identifier (dist_find_or_create): a probe, then the create, or the
 * create first (ORDER OF THE STEPS, below).  The probe is a router SELECT
 * of the identifier.  The create is one router statement (ONE STATEMENT
 * FOR A CREATE in dist_create.c): the new account's row, with an id that
 * carries the identifier's route, so it goes to the shard group that
 * holds the identifier; the trigger there inserts the identifier ON
 * CONFLICT DO NOTHING first, locks its type, and lets the row in only if
 * the identifier went in, with its account.created event (THE JOURNAL ON
 * CITUS in sql/parts/70_citus.sql): one node, no two-phase commit.  If the
 * row did not go in, the identifier exists, or a concurrent creator
 * committed it (the insert waited for that one), and the SELECT that
 * follows finds it: under READ COMMITTED it takes a new snapshot; under
 * REPEATABLE READ a winner committed after the snapshot is invisible:
 * 40001, as on one node.  A read-only transaction only looks.  (On a
 * cluster without the trigger, node_creates_by_identifier(), the create
 * is the identifier's INSERT, the type's lock and the account's INSERT,
 * three steps from here.)
 *
 * ORDER OF THE STEPS.  A probe costs a hit one statement and a miss one
 * statement more than the create alone; the create first costs a miss
 * one statement and a hit the create, its transaction block and the
 * SELECT.  Outside a transaction block a probe is not even a remote
 * transaction (Citus sends a read that follows no write of the
 * transaction without BEGIN and COMMIT), while the create always is.  So
 * each backend keeps the share of creates among its recent calls
 * (recent_creates, each call weighing 1/8) and probes first unless more
 * than two thirds of them created: a backend that mostly finds probes, a
 * run of creates (an import, the bulk call) goes straight to the create.
 * Either order gives the same answer; only the cost differs.  Measured
 * through a coordinator and through a worker: docs/benchmark-citus.md.
 *
 * Several identifiers (dist_find_or_create_all): the keys are sorted into
 * (route, id_type, value) order and probed one by one; every account found
 * is locked FOR KEY SHARE, in id order, and the keys probed again, until
 * every account a probe finds is locked and not merged: a locked account
 * cannot be merged (a merge takes FOR UPDATE), so what the probes found
 * stays true.  An account found merged had its identifiers moved by a
 * merge that committed on its node, maybe not yet on the nodes of the
 * keys: those nodes are settled (settle.c) and probed again.  Then the
 * missing keys are inserted in that order, pointing at the account found,
 * or at a new id if there was none; a key a concurrent caller inserted
 * first is skipped by ON CONFLICT, and its account becomes the target if
 * there was none (our rows are re-pointed to it, and no account is
 * created), while any other account is 21000.  Keys of two accounts:
 * 21000, nothing written.  Two such calls insert in the same order, so
 * they never wait for each other in a circle; Citus's distributed deadlock
 * detector covers the rest.
 *
 * Two-phase commit: a call whose keys live on several nodes commits with
 * Citus's two-phase commit and is atomic.  Citus prepares only the nodes a
 * transaction modified; a row lock (SELECT ... FOR KEY SHARE) is no
 * modification to it, and such a node is committed with a plain COMMIT,
 * at any moment relative to the others.  So an attach always writes on
 * the account's node too: its identifier.added event, a row of
 * accounts.dist_events that the trigger there journals or drops (when the
 * journal is off for the account type).  Every node of an attach is then
 * prepared before any commits, and settling covers what a lock waiter
 * reads afterwards (settle.c).  Until every node has committed,
 * its parts become visible node by node; a call that then looks for an
 * account by id that a probe found and does not see it settles the
 * account's node first (dist_lock_account()), so it never reports a found
 * account as missing (settle.c, TWO-PHASE COMMIT).
 *
 * Isolation levels: REPEATABLE READ holds per node (each node's part of a
 * transaction has its own snapshot, taken when Citus first reaches it);
 * find and create keep their contract (the account, or 40001); attaching
 * under REPEATABLE READ locks the account FOR SHARE instead of FOR KEY
 * SHARE, so that a merge or redaction committed after the snapshot is a
 * serialization failure (40001) rather than an attach to a merged account.
 * SERIALIZABLE is not supported by Citus for distributed tables.
 *
 * What Citus reports that is not what it says (a lost connection, a
 * shard that moved) is re-raised as what it is: dist_errors.c.
 */
#include "postgres.h"

#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "dist.h"
#include "dist_errors.h"
#include "journal.h"
#include "limits.h"
#include "moves.h"
#include "node.h"
#include "route.h"
#include "rowlock.h"
#include "rules.h"
#include "settle.h"

/* The statements, prepared once per backend. */
typedef enum DistStatement
{
	INSERT_IDENTIFIER,
	SELECT_IDENTIFIER,
	REPOINT_IDENTIFIER,
	INSERT_ACCOUNT,
	INSERT_ACCOUNT_UNJOURNALED,
	CREATE_ACCOUNT,
	LOCK_ACCOUNT_KEY_SHARE,
	LOCK_ACCOUNT_SHARE,
	READ_ACCOUNT,
	INSERT_EVENT,
	NUM_STATEMENTS
} DistStatement;

#define KEY_WHERE \
	" WHERE i.route OPERATOR(pg_catalog.=) $1 AND i.value OPERATOR(pg_catalog.=) $2" \
	"   AND i.id_type OPERATOR(pg_catalog.=) $3 AND i.account_type OPERATOR(pg_catalog.=) $4"
#define ACCOUNT_WHERE \
	" WHERE a.route OPERATOR(pg_catalog.=) $1 AND a.id OPERATOR(pg_catalog.=) $2"
#define ACCOUNT_COLUMNS "SELECT a.account_type::pg_catalog.text, a.status::pg_catalog.text, a.merged_into" \
	"  FROM accounts.dist_accounts a"

static const struct
{
	const char *sql;
	int			nargs;
	Oid			argtypes[5];
}			statements[NUM_STATEMENTS] = {
	[INSERT_IDENTIFIER] = {
		"INSERT INTO accounts.dist_identifiers AS i (route, value, id_type, account_type, account_id)"
		" VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
	5, {INT4OID, TEXTOID, TEXTOID, TEXTOID, UUIDOID}},
	[SELECT_IDENTIFIER] = {
		"SELECT i.account_id FROM accounts.dist_identifiers i" KEY_WHERE,
	4, {INT4OID, TEXTOID, TEXTOID, TEXTOID}},
	[REPOINT_IDENTIFIER] = {
		"UPDATE accounts.dist_identifiers i SET account_id = $5" KEY_WHERE,
	5, {INT4OID, TEXTOID, TEXTOID, TEXTOID, UUIDOID}},
	[INSERT_ACCOUNT] = {
		"INSERT INTO accounts.dist_accounts AS a (route, id, account_type, event_detail)"
		" VALUES ($1, $2, $3, $4)",
	4, {INT4OID, UUIDOID, TEXTOID, JSONBOID}},
	[INSERT_ACCOUNT_UNJOURNALED] = {
		"INSERT INTO accounts.dist_accounts AS a (route, id, account_type) VALUES ($1, $2, $3)",
	3, {INT4OID, UUIDOID, TEXTOID}},
	/* no status: dist_create_by_identifier() inserts the identifier first */
	[CREATE_ACCOUNT] = {
		"INSERT INTO accounts.dist_accounts AS a (route, id, account_type, status, event_detail)"
		" VALUES ($1, $2, $3, NULL, $4)",
	4, {INT4OID, UUIDOID, TEXTOID, JSONBOID}},
	[LOCK_ACCOUNT_KEY_SHARE] = {
		ACCOUNT_COLUMNS ACCOUNT_WHERE " FOR KEY SHARE",
	2, {INT4OID, UUIDOID}},
	[LOCK_ACCOUNT_SHARE] = {
		ACCOUNT_COLUMNS ACCOUNT_WHERE " FOR SHARE",
	2, {INT4OID, UUIDOID}},
	[READ_ACCOUNT] = {
		ACCOUNT_COLUMNS ACCOUNT_WHERE,
	2, {INT4OID, UUIDOID}},
	[INSERT_EVENT] = {
		"INSERT INTO accounts.dist_events AS e (route, account_id, account_type, kind, detail)"
		" VALUES ($1, $2, $3, $4, $5)",
	5, {INT4OID, UUIDOID, TEXTOID, TEXTOID, JSONBOID}},
};

static SPIPlanPtr plans[NUM_STATEMENTS];

/* ---------------------------------------------------------------------
 * Running the statements
 * --------------------------------------------------------------------- */

/*
 * Start a run of distributed calls: SPI, as the extension's owner, with
 * this transaction's errors watched.
 */
void
dist_begin(DistScope *scope)
{
	dist_watch_errors();
	node_become_owner(&scope->owner);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

void
dist_end(DistScope *scope)
{
	SPI_finish();
	node_restore_user(&scope->owner);
}

static SPIPlanPtr
statement(DistStatement s)
{
	if (plans[s] == NULL)
	{
		/*
		 * A custom plan at every run, never the generic one: Citus runs a
		 * generic plan of a router statement with deferred pruning, and
		 * when its shard is on this node it plans the shard's query again
		 * and appends that plan to the generic plan's memory at every run
		 * without finding it the next time (CacheLocalPlanForShardQuery()
		 * looks in the generic job, whose task list is empty): 18 kB more
		 * per call for as long as the backend lives, and a call on a
		 * worker twice as slow as the same statement sent by a client
		 * (measured here on Citus 14.0).  A custom plan is one Citus
		 * executes once, with the values in it, and caches nothing.
		 */
		SPIPlanPtr	plan = SPI_prepare_cursor(statements[s].sql, statements[s].nargs,
											  (Oid *) statements[s].argtypes,
											  CURSOR_OPT_CUSTOM_PLAN);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s", statements[s].sql,
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		plans[s] = plan;
	}
	return plans[s];
}

/* Run statement s; returns the number of rows it processed. */
static uint64
run(DistStatement s, Datum *values, const char *nulls)
{
	int			rc = 0;

	PG_TRY();
	{
		rc = SPI_execute_plan(statement(s), values, nulls, false, 0);
	}
	PG_CATCH();
	{
		dist_rethrow_error();
	}
	PG_END_TRY();
	if (rc < 0)
		elog(ERROR, "SPI_execute_plan failed for \"%s\": %s", statements[s].sql,
			 SPI_result_code_string(rc));
	return SPI_processed;
}

/* The route of key's identifier. */
int32
dist_key_route(const IdentKey *key)
{
	return route_of_identifier(key->account_type, strlen(key->account_type),
							   key->id_type, strlen(key->id_type),
							   key->value, strlen(key->value));
}

static void
key_args(Datum *v, int32 route, const IdentKey *key)
{
	v[0] = Int32GetDatum(route);
	v[1] = key->value_d;
	v[2] = key->id_type_d;
	v[3] = key->account_type_d;
}

/* The account of key's identifier, with a fresh snapshot (READ COMMITTED). */
static bool
select_identifier(int32 route, const IdentKey *key, pg_uuid_t *account_id)
{
	Datum		v[4];
	bool		isnull;

	key_args(v, route, key);
	if (run(SELECT_IDENTIFIER, v, NULL) == 0)
		return false;
	memcpy(account_id, DatumGetUUIDP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
												  1, &isnull)), sizeof(pg_uuid_t));
	return true;
}

/* Insert key's identifier pointing at account_id; false on a conflict. */
static bool
insert_identifier(int32 route, const IdentKey *key, const pg_uuid_t *account_id)
{
	Datum		v[5];

	key_args(v, route, key);
	v[4] = UUIDPGetDatum(account_id);
	return run(INSERT_IDENTIFIER, v, NULL) == 1;
}

/* Point our own row of key's identifier at account_id. */
static void
repoint_identifier(int32 route, const IdentKey *key, const pg_uuid_t *account_id)
{
	Datum		v[5];

	key_args(v, route, key);
	v[4] = UUIDPGetDatum(account_id);
	(void) run(REPOINT_IDENTIFIER, v, NULL);
}

/*
 * The identifier type's row in this node's copy of the registry, FOR KEY
 * SHARE until the transaction ends (THE PROTOCOL ON CITUS), or 42704 if it
 * was dropped since the type was read.  Returns its limit (1.8; 0: none)
 * as the locked version has it (rowlock_type() in rowlock.c says why that
 * is the current one).
 */
int32
dist_lock_type(const IdentKey *key)
{
	Relation	heap = table_open(node_local_placement("dist_identifier_types"), RowShareLock);
	TupleTableSlot *slot = table_slot_create(heap, NULL);
	ScanKeyData skey[2];
	bool		locked;
	int32		limit = 0;

	ScanKeyInit(&skey[0], 1, BTEqualStrategyNumber, F_TEXTEQ, key->account_type_d);
	ScanKeyInit(&skey[1], 2, BTEqualStrategyNumber, F_TEXTEQ, key->id_type_d);
	locked = rowlock_key_share(heap, skey, 2, slot, "an identifier type");
	if (locked)
		limit = rowlock_slot_limit(slot, get_attnum(RelationGetRelid(heap), "max_per_account"));
	ExecDropSingleTupleTableSlot(slot);
	table_close(heap, NoLock);
	if (!locked)
		rule_type_dropped(key);
	return limit;
}

/*
 * Before attaching an identifier of a limited type to account_id: its row
 * touched (LIMITED ATTACHES in limits.c; after its shard group's metadata
 * lock, SHARD MOVES in moves.c), 42704 if it is gone, 55000 if it was
 * merged or redacted meanwhile; then every node settled, so that the
 * counts that follow see every attach that released the row.
 */
static void
touch_account(const pg_uuid_t *account_id)
{
	AccountRow	row;

	moves_hold(route_of_account(account_id));
	if (!limits_touch(true, account_id, &row))
	{
		settle_route(route_of_account(account_id));
		if (!limits_touch(true, account_id, &row))
			rule_no_account(account_id, "It was deleted while an identifier was being attached to it.");
	}
	rule_check_attachable(account_id, &row);
	settle_all();
}

/* A new account row for the keys (all inserted), with its account.created. */
static void
insert_account(const pg_uuid_t *account_id, const IdentKey *keys, const bool *skip, int n)
{
	Datum		v[4];
	char		nulls[4] = {' ', ' ', ' ', 'n'};

	v[0] = Int32GetDatum(route_of_account(account_id));
	v[1] = UUIDPGetDatum(account_id);
	v[2] = keys[0].account_type_d;
	if (!node_journal_distributed())
	{
		(void) run(INSERT_ACCOUNT_UNJOURNALED, v, NULL);
		return;
	}
	if (keys[0].type.journal)
	{
		const char **id_types = palloc(sizeof(char *) * n);
		const char **values = palloc(sizeof(char *) * n);
		int			k = 0;

		for (int i = 0; i < n; i++)
		{
			if (skip != NULL && skip[i])
				continue;
			id_types[k] = keys[i].id_type;
			values[k++] = keys[i].value;
		}
		v[3] = journal_detail_identifiers(id_types, values, k);
		nulls[3] = ' ';
	}
	(void) run(INSERT_ACCOUNT, v, nulls);
}

/*
 * A new account for key's identifier in one statement, on the shard group
 * of route (ONE STATEMENT FOR A CREATE in dist_create.c): false if the
 * identifier was there, and nothing was written.
 */
static bool
create_account(int32 route, const IdentKey *key, const pg_uuid_t *account_id)
{
	Datum		v[4];

	v[0] = Int32GetDatum(route);
	v[1] = UUIDPGetDatum(account_id);
	v[2] = key->account_type_d;
	v[3] = journal_detail_identifiers(&key->id_type, &key->value, 1);
	return run(CREATE_ACCOUNT, v, NULL) == 1;
}

/*
 * Append an event to the journal of the account's node (of route 0's for
 * a registry event): a row of accounts.dist_events, which the trigger on
 * its shard turns into an event there (THE JOURNAL ON CITUS).  Nothing
 * before the journal's tables exist (a cluster distributed by 1.5).
 */
void
dist_journal_event(const pg_uuid_t *account_id, Datum account_type,
				   const char *kind, Datum detail)
{
	Datum		v[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

	if (!node_journal_distributed())
		return;
	v[0] = Int32GetDatum(account_id ? route_of_account(account_id) : 0);
	if (account_id)
		v[1] = UUIDPGetDatum(account_id);
	else
		nulls[1] = 'n';
	v[2] = account_type;
	v[3] = CStringGetTextDatum(kind);
	v[4] = detail;
	(void) run(INSERT_EVENT, v, nulls);
}

/* ---------------------------------------------------------------------
 * The protocol
 * --------------------------------------------------------------------- */

/* find_account(): one router SELECT. */
bool
dist_find(const IdentKey *key, pg_uuid_t *account_id)
{
	return select_identifier(dist_key_route(key), key, account_id);
}

/* The status an account's row says, from the statement's text columns. */
static void
row_from_result(AccountRow *row)
{
	SPITupleTable *tt = SPI_tuptable;
	bool		isnull;
	char	   *status;
	Datum		d;

	row->account_type = SPI_getvalue(tt->vals[0], tt->tupdesc, 1);
	status = SPI_getvalue(tt->vals[0], tt->tupdesc, 2);
	memset(&row->merged_into, 0, sizeof(pg_uuid_t));
	row->status = ACCOUNT_ACTIVE;
	if (status == NULL)
		return;
	if (strcmp(status, "archived") == 0)
		row->status = ACCOUNT_ARCHIVED;
	else if (strcmp(status, "redacted") == 0)
		row->status = ACCOUNT_REDACTED;
	else if (strcmp(status, "merged") == 0)
	{
		row->status = ACCOUNT_MERGED;
		d = SPI_getbinval(tt->vals[0], tt->tupdesc, 3, &isnull);
		if (!isnull)
			memcpy(&row->merged_into, DatumGetUUIDP(d), sizeof(pg_uuid_t));
	}
}

/*
 * Lock account_id's row in its shard FOR KEY SHARE (FOR SHARE under
 * REPEATABLE READ, see the header) and return its type and status; false
 * if there is no such account.  Its status is read again after the lock,
 * with a fresh snapshot: a merge's or redaction's update changes no key,
 * so a KEY SHARE lock is granted on the version the statement found even
 * if such an update committed meanwhile (rowlock.c says more).  A row not
 * found may belong to a create that committed on another node and is
 * still only prepared on this one: its node is settled and the row looked
 * for once more.
 */
bool
dist_lock_account(const pg_uuid_t *account_id, AccountRow *row)
{
	Datum		v[2];
	DistStatement lock = IsolationUsesXactSnapshot() ? LOCK_ACCOUNT_SHARE : LOCK_ACCOUNT_KEY_SHARE;

	v[0] = Int32GetDatum(route_of_account(account_id));
	v[1] = UUIDPGetDatum(account_id);
	moves_hold(route_of_account(account_id));	/* moves.c, SHARD MOVES */
	if (run(lock, v, NULL) == 0)
	{
		settle_route(route_of_account(account_id));
		if (run(lock, v, NULL) == 0)
			return false;
	}
	if (!IsolationUsesXactSnapshot() && run(READ_ACCOUNT, v, NULL) == 0)
		return false;
	row_from_result(row);
	return true;
}

/*
 * Which step goes first for a key that is not attached (ORDER OF THE
 * STEPS in the header): this backend's recent share of creates, in 1/256,
 * each call's outcome weighing 1/8.
 */
#define CREATES_WEIGHT 256
static int	recent_creates = 0;

/*
 * A new account for key's identifier, with a new id in *id: false if the
 * identifier is someone's already, and nothing was written.
 */
static bool
create_new(int32 route, const IdentKey *key, pg_uuid_t *id)
{
	route_new_account_id(route, id);
	if (node_creates_by_identifier())
		return create_account(route, key, id);
	/* a cluster distributed before the trigger: three steps from here */
	if (!insert_identifier(route, key, id))
		return false;
	(void) dist_lock_type(key);
	insert_account(id, key, NULL, 1);
	return true;
}

static bool
dist_find_or_create_key(const IdentKey *key, const pg_uuid_t *attach_to, pg_uuid_t *account_id)
{
	int32		route = dist_key_route(key);
	pg_uuid_t	id;

	if (XactReadOnly)
	{
		if (select_identifier(route, key, account_id))
			return false;
		rule_read_only(key);
	}
	if (attach_to)
	{
		/*
		 * attaching: the type's row first, then, for a limited type, the
		 * account touched and counted (LIMITED ATTACHES in limits.c),
		 * before anything is written
		 */
		int32		limit = dist_lock_type(key);

		if (limit > 0)
		{
			touch_account(attach_to);
			if (select_identifier(route, key, account_id))
				return false;
			rule_check_limit(key->account_type, key->id_type, attach_to,
							 limits_count(true, attach_to, key) + 1, limit);
		}
		if (insert_identifier(route, key, attach_to))
		{
			dist_journal_event(attach_to, key->account_type_d, "identifier.added",
							   journal_detail_identifier(key->id_type, key->value));
			*account_id = *attach_to;
			return true;
		}
	}
	else
	{
		if (recent_creates <= CREATES_WEIGHT * 2 / 3 && select_identifier(route, key, account_id))
			return false;
		if (create_new(route, key, &id))
		{
			*account_id = id;
			return true;
		}
	}
	if (select_identifier(route, key, account_id))
		return false;
	rule_concurrent_creation(key);
}

/*
 * One identifier (THE PROTOCOL ON CITUS): *account_id is its account
 * afterwards; returns true if this call wrote it.  attach_to, when given,
 * is an account the caller locked (add_identifier()).
 */
bool
dist_find_or_create(const IdentKey *key, const pg_uuid_t *attach_to, pg_uuid_t *account_id)
{
	bool		created = dist_find_or_create_key(key, attach_to, account_id);

	if (!attach_to)
		recent_creates += ((created ? CREATES_WEIGHT : 0) - recent_creates) / 8;
	return created;
}

/* (route, id_type, value) order, the order of the inserts */
typedef struct RoutedKey
{
	IdentKey	key;
	int32		route;
	int			input;			/* position in the call's arguments */
} RoutedKey;

static int
routed_cmp(const void *a, const void *b)
{
	const RoutedKey *x = (const RoutedKey *) a;
	const RoutedKey *y = (const RoutedKey *) b;
	int			c;

	if (x->route != y->route)
		return x->route < y->route ? -1 : 1;
	c = strcmp(x->key.id_type, y->key.id_type);
	return c != 0 ? c : strcmp(x->key.value, y->key.value);
}

static int
id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(pg_uuid_t));
}

/* Is id among the first n of ids? */
static int
uuid_index(const pg_uuid_t *ids, int n, const pg_uuid_t *id)
{
	for (int i = 0; i < n; i++)
		if (id_cmp(&ids[i], id) == 0)
			return i;
	return -1;
}

/*
 * Several identifiers of one person (THE PROTOCOL ON CITUS): the account
 * holding any of them, with the others attached, or a new account holding
 * all; 21000 if they belong to two accounts.
 */
bool
dist_find_or_create_all(IdentKey *in, int nin, Resolve *resolve, pg_uuid_t *account_id)
{
	RoutedKey  *rk = palloc(sizeof(RoutedKey) * nin);
	IdentKey   *keys;
	int32	   *routes;
	pg_uuid_t  *ids;
	bool	   *found;
	bool	   *mine;
	pg_uuid_t  *locked;
	AccountRow *locked_rows;
	int32	   *limits;
	int64	   *held;
	bool		limited = false;
	int			nlocked = 0;
	int			n = 0;
	int			first_input = 0;
	int			owner;
	int			other;
	int			lost = -1;
	bool		all_found = true;
	bool		settled = false;
	pg_uuid_t	target;
	bool		creating;

	for (int i = 0; i < nin; i++)
	{
		rk[i].key = in[i];
		rk[i].route = dist_key_route(&in[i]);
		rk[i].input = i;
	}
	qsort(rk, nin, sizeof(RoutedKey), routed_cmp);
	for (int i = 0; i < nin; i++)
		if (n == 0 || routed_cmp(&rk[i], &rk[n - 1]) != 0)
			rk[n++] = rk[i];
	keys = palloc(sizeof(IdentKey) * n);
	routes = palloc(sizeof(int32) * n);
	ids = palloc0(sizeof(pg_uuid_t) * n);
	found = palloc0(sizeof(bool) * n);
	mine = palloc0(sizeof(bool) * n);
	locked = palloc(sizeof(pg_uuid_t) * n);
	locked_rows = palloc(sizeof(AccountRow) * n);
	limits = palloc0(sizeof(int32) * n);
	held = palloc0(sizeof(int64) * n);
	for (int i = 0; i < n; i++)
	{
		keys[i] = rk[i].key;
		routes[i] = rk[i].route;
		if (rk[i].input < rk[first_input].input)
			first_input = i;
	}

	/* 1. lock-free probes: all found on one account is a hit */
	for (int i = 0; i < n; i++)
	{
		found[i] = select_identifier(routes[i], &keys[i], &ids[i]);
		all_found &= found[i];
	}
	owner = rule_first_owner(ids, found, n, &other);
	if (all_found && other < 0)
	{
		*account_id = ids[owner];
		return false;
	}
	if (other >= 0 && resolve)
		return rule_report_owners(resolve, ids, found, n);
	if (XactReadOnly)
	{
		if (other >= 0)
			rule_split(keys, ids, found, n);
		rule_read_only(&keys[0]);
	}

	/*
	 * 2. lock every account found, FOR KEY SHARE in id order, and probe
	 * again, until every account a probe finds is locked and not merged;
	 * the keys' shard groups held first, so that the probes read where
	 * the merges they wait for wrote (moves.c, SHARD MOVES)
	 */
	moves_hold_routes(routes, n);
	for (int attempt = 0; attempt < 10 && !settled; attempt++)
	{
		pg_uuid_t  *owners = palloc(sizeof(pg_uuid_t) * n);
		int			nowners = 0;
		bool		merged = false;

		CHECK_FOR_INTERRUPTS();
		if (attempt > 0)
			for (int i = 0; i < n; i++)
				found[i] = select_identifier(routes[i], &keys[i], &ids[i]);
		for (int i = 0; i < n; i++)
			if (found[i] && uuid_index(owners, nowners, &ids[i]) < 0)
				owners[nowners++] = ids[i];
		qsort(owners, nowners, sizeof(pg_uuid_t), id_cmp);

		/*
		 * The merging call: keys found on two accounts are reported at
		 * once, not locked.  A lock taken here after one of an earlier
		 * try is out of id order, and a merge that holds the later one
		 * may be waiting for the earlier (a distributed deadlock, seen in
		 * 015's resolution runs); the report rolls back what this round
		 * locked, and the merge lock sorts it out (resolve.c).
		 */
		if (resolve && nowners > 1)
		{
			pfree(owners);
			return rule_report_owners(resolve, ids, found, n);
		}
		settled = true;
		lost = -1;
		for (int i = 0; i < nowners; i++)
		{
			AccountRow	row;

			if (uuid_index(locked, nlocked, &owners[i]) >= 0)
				continue;
			settled = false;
			if (!dist_lock_account(&owners[i], &row))
			{
				/* gone, or never there: probe again */
				for (int k = 0; k < n; k++)
					if (found[k] && id_cmp(&ids[k], &owners[i]) == 0)
						lost = k;
				continue;
			}
			if (row.status == ACCOUNT_MERGED)
			{
				merged = true;	/* never counted as locked: probe again */
				continue;
			}
			locked[nlocked] = owners[i];
			locked_rows[nlocked++] = row;
		}
		/* a merge committed on an account's node, maybe not yet on the keys' */
		if (merged)
			settle_routes(routes, n);
		pfree(owners);
	}
	if (!settled && lost >= 0)
		rule_lost_account(&keys[lost], &ids[lost]);
	if (!settled)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access due to concurrent merges of the accounts of these identifiers"),
				 errhint("Retry the transaction.")));

	/* 3. one account: attach to it; none: a new one */
	owner = rule_first_owner(ids, found, n, &other);
	if (other >= 0)
	{
		if (resolve)
			return rule_report_owners(resolve, ids, found, n);
		rule_split(keys, ids, found, n);
	}
	all_found = true;
	for (int i = 0; i < n; i++)
		all_found &= found[i];
	if (owner >= 0 && all_found)
	{
		*account_id = ids[owner];
		return false;
	}
	if (owner >= 0)
	{
		rule_check_attachable(&ids[owner], &locked_rows[uuid_index(locked, nlocked, &ids[owner])]);
		target = ids[owner];
		creating = false;

		/*
		 * attaching: the types' rows first; for a limited type the
		 * account touched and counted (LIMITED ATTACHES in limits.c),
		 * before anything is written
		 */
		for (int i = 0; i < n; i++)
			if (!found[i])
			{
				limits[i] = dist_lock_type(&keys[i]);
				limited |= limits[i] > 0;
			}
		if (limited)
		{
			touch_account(&target);
			for (int i = 0; i < n; i++)
				if (limits[i] > 0)
					held[i] = limits_count(true, &target, &keys[i]);
			rule_check_limits(keys, limits, found, n, &target, held);
		}
	}
	else
	{
		/* the new id carries the route of the call's first identifier */
		route_new_account_id(routes[first_input], &target);
		creating = true;
	}

	/* 4. insert what is missing, in (route, id_type, value) order */
	for (int i = 0; i < n; i++)
	{
		pg_uuid_t	winner;
		AccountRow	row;

		if (found[i])
			continue;
		CHECK_FOR_INTERRUPTS();
		if (insert_identifier(routes[i], &keys[i], &target))
		{
			mine[i] = true;
			if (creating)
				limits[i] = dist_lock_type(&keys[i]);
			continue;
		}
		if (!select_identifier(routes[i], &keys[i], &winner))
			rule_concurrent_creation(&keys[i]);
		if (id_cmp(&winner, &target) == 0)
			continue;
		if (!creating)
		{
			/*
			 * another account has it: the identifiers are of two.  Every
			 * key before this one is target's: found, inserted, or one
			 * whose insert met target (a concurrent creator's, which
			 * became the target).  Without the last, a merging call was
			 * told of one owner only and returned no account at all
			 * (015's resolution runs: links split over two accounts).
			 */
			for (int j = 0; j < i; j++)
				if (!found[j])
				{
					found[j] = true;
					ids[j] = target;
				}
			found[i] = true;
			ids[i] = winner;
			if (resolve)
				return rule_report_owners(resolve, ids, found, n);
			rule_split(keys, ids, found, n);
		}

		/*
		 * a concurrent caller created the account first: it is the
		 * target, unless a type is limited, whose attach would have to
		 * touch it while holding rows of this call: 40001 then
		 */
		for (int j = 0; j < n; j++)
			if (dist_lock_type(&keys[j]) > 0)
				rule_limited_race(&keys[i]);
		if (!dist_lock_account(&winner, &row))
			rule_lost_account(&keys[i], &winner);
		rule_check_attachable(&winner, &row);
		for (int j = 0; j < i; j++)
			if (mine[j])
				repoint_identifier(routes[j], &keys[j], &winner);
		target = winner;
		creating = false;
	}

	if (creating)
	{
		rule_check_limits(keys, limits, NULL, n, NULL, NULL);
		insert_account(&target, keys, NULL, n);
	}
	else
	{
		for (int i = 0; i < n; i++)
			if (mine[i])
				dist_journal_event(&target, keys[i].account_type_d, "identifier.added",
								   journal_detail_identifier(keys[i].id_type, keys[i].value));
	}
	*account_id = target;
	return creating;
}
