/*
 * settle.c: on a distributed cluster, waiting for the transactions that
 * are committed on one node and only prepared on another.
 *
 *   settle_route(route)   on the node that holds route's shard
 *   settle_routes(r, n)   on the nodes of several routes
 *   settle_all()          on every node that holds shards
 *   settle_here()         this node (accounts_internal.settle(), which the
 *                         three above run on the other nodes)
 *
 * TWO-PHASE COMMIT
 * ================
 *
 * A transaction that wrote shards on several nodes commits with Citus's
 * two-phase commit (CoordinatedTransactionCallback in Citus's
 * transaction_management.c): PREPARE TRANSACTION on every remote node that
 * it wrote, then the commit of the node it runs on (which records the
 * outcome in pg_dist_transaction), then COMMIT PREPARED on each remote
 * node, one after the other.  From the local commit on, the transaction
 * is decided; until its COMMIT PREPARED reaches a node, its part there is
 * prepared: it keeps its row locks, it is invisible to any snapshot, and a
 * plain read does not wait for it.  A slow link makes that last
 * milliseconds to seconds; a lost one lasts until Citus's recovery
 * (citus.recover_2pc_interval) commits the part.
 *
 * So a row lock taken on one node can be granted while the transaction
 * that held it is still only prepared on another.  An attach (add_identifier
 * on node A's account row, the identifier on node I) that finished on A
 * lets a redaction take A's row FOR UPDATE and read the account's
 * identifiers on I, where the attached one is not visible yet: the
 * redaction would erase nothing, and the identifier would then commit onto
 * the redacted account.  The same for a merge (the identifier would land
 * on the merged account), a type drop (an identifier of the dropped type
 * would remain), and for a create whose rows live on two nodes (an id found
 * on one node that a read on the other does not know yet).
 *
 * THE RULE: a call that is about to read what a transaction it waited for
 * (through a row lock) may still be writing elsewhere first settles the
 * nodes it reads: on each of them it waits until every transaction that
 * was prepared there when it looked, and that holds a lock on one of the
 * extension's tables there, has been committed or rolled back.  Then it
 * reads, with a fresh snapshot (READ COMMITTED: every statement on a
 * worker takes one).
 *
 * Why that is enough: the waited-for transaction T had released the lock
 * on its own node only when its local commit or its COMMIT PREPARED there
 * ran, and Citus sends COMMIT PREPARED only after every PREPARE
 * succeeded.  So when the lock was granted, every part of T was either
 * committed already or prepared (none still running, none to be prepared
 * later), and a prepared part of T that wrote one of our tables holds a
 * lock on it: settling waits for it.  The read after it sees T's rows.
 * Only prepared transactions are waited for, never a running one, so a
 * settle cannot take part in a cycle of waits with T (a prepared
 * transaction waits for nothing); its wait is a transactionid lock wait,
 * bounded by lock_timeout (55P03) and statement_timeout like any other.
 *
 * Who can hold such a prepared transaction: Citus, for its own parts (it
 * connects to the other nodes as the extension's owner: dist.c, and the
 * SECURITY DEFINER functions).  A role without the owner's rights cannot
 * prepare a transaction that wrote the extension's tables
 * (journal.c, PREPARED TRANSACTIONS), so no application role can make
 * settling wait for a transaction it left prepared.
 *
 * Where it is used: dist.c settles the account's node when an account row
 * it looks for by id is not there (a create half committed), and the
 * nodes of a call's identifiers when it finds them on a merged account (a
 * merge half committed); the storage layer (sql/parts/40_storage.sql)
 * settles every node before merge,
 * redaction, removal, a type drop and get_account() read an account's
 * identifiers.  The cost when nothing is prepared: one router statement
 * per node settled.
 *
 * How a node is reached: a router statement of the caller's transaction,
 * SELECT accounts_internal.settle(count(*)) FROM accounts.dist_identifiers
 * WHERE route = $1 AND value = '' (no identifier value is empty, so the
 * aggregate has one row over nothing, and Citus sends the whole query to
 * the shard's node, where the function runs).  settle_all() sends one such
 * statement per node, with a route whose shard that node holds.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "compat.h"
#include "moves.h"
#include "node.h"
#include "route.h"
#include "settle.h"

ACCOUNT_FUNCTION(account_settle);
ACCOUNT_FUNCTION(account_settle_route);
ACCOUNT_FUNCTION(account_settle_nodes);
ACCOUNT_FUNCTION(account_node_routes);

static SPIPlanPtr settle_plan = NULL;

/* Can this schema settle (accounts_internal.settle() exists, 1.7)? */
bool
settle_available(void)
{
	return node_has_internal_schema();
}

/*
 * settle_here() on the node of route's shard, in this transaction; the
 * caller has checked settle_available() and held the route's group.
 */
static void
settle_one(int32 route)
{
	Datum		arg = Int32GetDatum(route);
	int			rc;

	if (settle_plan == NULL)
	{
		Oid			argtype = INT4OID;
		SPIPlanPtr	plan = SPI_prepare("SELECT accounts_internal.settle(pg_catalog.count(*))"
									   "  FROM accounts.dist_identifiers i"
									   " WHERE i.route OPERATOR(pg_catalog.=) $1"
									   "   AND i.value OPERATOR(pg_catalog.=) ''::pg_catalog.text",
									   1, &argtype);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		settle_plan = plan;
	}
	rc = SPI_execute_plan(settle_plan, &arg, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "settling route %d failed: %s", route, SPI_result_code_string(rc));
}

/*
 * settle_here() on the node of route's shard.  The route's shard group is
 * held first: what the caller reads next is read where its writers wrote
 * (moves.c).
 */
void
settle_route(int32 route)
{
	if (!settle_available())
		return;
	moves_hold(route);
	settle_one(route);
}

/* settle_route() for each distinct route of routes[0..n), their groups held at once. */
void
settle_routes(const int32 *routes, int n)
{
	if (!settle_available())
		return;
	moves_hold_routes(routes, n);
	for (int i = 0; i < n; i++)
	{
		bool		seen = false;

		for (int j = 0; j < i && !seen; j++)
			seen = routes[j] == routes[i];
		if (!seen)
			settle_one(routes[i]);
	}
}

/*
 * One route per node that holds shards of the accounts, whose shard is on
 * that node: a route whose hash falls into the range of a shard that node
 * holds (Citus hashes an integer distribution column with hashint4).
 * *n is how many; palloc'd.
 */
static int32 *
node_routes(int *n)
{
	int			rc;
	int			nshards;
	int32	   *routes;
	SPITupleTable *tt;
	int32		last_group = -1;

	*n = 0;
	rc = SPI_execute("SELECT p.groupid, s.shardminvalue::pg_catalog.int4, s.shardmaxvalue::pg_catalog.int4"
					 "  FROM pg_catalog.pg_dist_shard s"
					 "  JOIN pg_catalog.pg_dist_placement p ON p.shardid OPERATOR(pg_catalog.=) s.shardid"
					 " WHERE s.logicalrelid OPERATOR(pg_catalog.=) 'accounts.dist_identifiers'::pg_catalog.regclass"
					 " ORDER BY p.groupid, s.shardid", true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading the shards failed: %s", SPI_result_code_string(rc));
	nshards = (int) SPI_processed;
	tt = SPI_tuptable;
	routes = palloc(sizeof(int32) * Max(nshards, 1));
	for (int i = 0; i < nshards; i++)
	{
		bool		isnull;
		int32		group = DatumGetInt32(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull));
		int32		lo = DatumGetInt32(SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull));
		int32		hi = DatumGetInt32(SPI_getbinval(tt->vals[i], tt->tupdesc, 3, &isnull));

		if (group == last_group)
			continue;
		for (int32 r = 0; r <= ROUTE_MASK; r++)
		{
			int32		h = DatumGetInt32(DirectFunctionCall1(hashint4, Int32GetDatum(r)));

			if (h >= lo && h <= hi)
			{
				routes[(*n)++] = r;
				last_group = group;
				break;
			}
		}
	}
	return routes;
}

/* settle_here() on every node that holds shards of the accounts. */
void
settle_all(void)
{
	int			n;
	int32	   *routes;

	if (!settle_available())
		return;
	/* every group: the caller reads over all of them next (moves.c) */
	moves_hold_all();
	routes = node_routes(&n);
	for (int i = 0; i < n; i++)
		settle_one(routes[i]);
	pfree(routes);
}

/*
 * THIS NODE: wait for every transaction prepared here that holds a lock on
 * a relation of schema accounts (the shards, this node's copies of the
 * reference tables, its journal).  Returns how many it waited for.
 *
 * A prepared transaction's locks belong to a placeholder that has no
 * process (pid 0); they are recognized by that, grouped by the virtual
 * transaction id they share, and the group's transactionid lock names the
 * transaction to wait for.  Only the ones prepared when this looked are
 * waited for; one prepared later cannot be part of what the caller waited
 * for (see TWO-PHASE COMMIT above).
 */
int
settle_here(void)
{
	LockData   *data = GetLockStatusData();
	Oid			ns = get_namespace_oid("accounts", true);
	bool	   *ours = palloc0(sizeof(bool) * Max(data->nelements, 1));
	TransactionId *xids = palloc(sizeof(TransactionId) * Max(data->nelements, 1));
	int			nxids = 0;

	/* the prepared transactions that hold a lock on one of our relations */
	for (int i = 0; i < data->nelements; i++)
	{
		LockInstanceData *li = &data->locks[i];
		Oid			relid;

		if (li->pid != 0 || li->locktag.locktag_type != LOCKTAG_RELATION ||
			li->locktag.locktag_field1 != MyDatabaseId)
			continue;
		relid = (Oid) li->locktag.locktag_field2;
		if (!OidIsValid(ns) || get_rel_namespace(relid) != ns)
			continue;
		for (int j = 0; j < data->nelements; j++)
			if (data->locks[j].pid == 0 && compat_same_lock_holder(&data->locks[j], li))
				ours[j] = true;
	}
	/* their transaction ids */
	for (int i = 0; i < data->nelements; i++)
	{
		LockInstanceData *li = &data->locks[i];
		TransactionId xid;
		bool		seen = false;

		if (!ours[i] || li->locktag.locktag_type != LOCKTAG_TRANSACTION)
			continue;
		xid = (TransactionId) li->locktag.locktag_field1;
		for (int j = 0; j < nxids && !seen; j++)
			seen = xids[j] == xid;
		if (!seen && TransactionIdIsNormal(xid))
			xids[nxids++] = xid;
	}
	for (int i = 0; i < nxids; i++)
	{
		CHECK_FOR_INTERRUPTS();
		XactLockTableWait(xids[i], NULL, NULL, XLTW_None);
	}
	pfree(ours);
	pfree(xids);
	return nxids;
}

/*
 * accounts_internal.settle(bigint) RETURNS integer: settle_here(); the
 * argument is only there to make a router statement of the call (see the
 * header).  Returns how many prepared transactions it waited for.
 */
Datum
account_settle(PG_FUNCTION_ARGS pg_attribute_unused())
{
	PG_RETURN_INT32(settle_here());
}

/*
 * The SQL forms, for the storage layer (sql/parts/40_storage.sql), which
 * runs as the extension's owner in its own SPI connection.
 */
static void
connect_spi(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

/* accounts_internal.settle_route(route integer) RETURNS void */
Datum
account_settle_route(PG_FUNCTION_ARGS)
{
	connect_spi();
	settle_route(PG_GETARG_INT32(0));
	SPI_finish();
	PG_RETURN_VOID();
}

/* accounts_internal.settle_nodes() RETURNS void */
Datum
account_settle_nodes(PG_FUNCTION_ARGS pg_attribute_unused())
{
	connect_spi();
	settle_all();
	SPI_finish();
	PG_RETURN_VOID();
}

/* accounts_internal.node_routes() RETURNS integer[] */
Datum
account_node_routes(PG_FUNCTION_ARGS pg_attribute_unused())
{
	int			n;
	int32	   *routes;
	Datum	   *elems;
	MemoryContext cxt = CurrentMemoryContext;
	ArrayType  *result;

	connect_spi();
	routes = node_routes(&n);
	elems = MemoryContextAlloc(cxt, sizeof(Datum) * Max(n, 1));
	for (int i = 0; i < n; i++)
		elems[i] = Int32GetDatum(routes[i]);
	SPI_finish();
	result = construct_array(elems, n, INT4OID, sizeof(int32), true, TYPALIGN_INT);
	PG_RETURN_ARRAYTYPE_P(result);
}
