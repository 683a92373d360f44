/*
 * moves.c: on a distributed cluster, row locks that stay true while Citus
 * moves shards between nodes.
 *
 *   moves_hold(route)          before a row lock in the shard group of route
 *   moves_hold_routes(r, n)    the same for several routes
 *   moves_hold_all()           before a read over every shard group
 *   dist_hold_shard()          trigger: a write holds its group on the
 *                              shard's own node, through a prepare, and
 *                              is refused on a copy a move left behind
 *   moves_shard_of(rel)        the shard id in a shard's name
 *
 * SHARD MOVES
 * ===========
 *
 * citus_rebalance_start(), citus_move_shard_placement() and
 * citus_drain_node() move a shard group online: they copy it to the new
 * node, follow the writes with logical replication, then block writes to
 * the group (BlockWritesToShardList in Citus's shard_transfer.c: the
 * group's shard metadata locks in ExclusiveLock, on the coordinator and on
 * every node with metadata), let the copy catch up, and switch the
 * placement.  Every statement Citus counts as a modification takes the
 * metadata lock of its shard in ShareLock on the node it runs from, until
 * its transaction ends (AcquireMetadataLocks, citus_custom_scan.c), so the
 * switch waits for every transaction that wrote the group, and a write
 * after it goes to the new placement.
 *
 * A row lock is no modification to Citus: SELECT ... FOR UPDATE and FOR
 * KEY SHARE are read-only plans and take no metadata lock.  A merge that
 * locked an account FOR UPDATE on the old placement, with the switch
 * happening before it commits, holds a lock that no later statement looks
 * at: an attach then locks the same account FOR KEY SHARE on the new
 * placement at once, and its identifier lands on the account being
 * merged.  (Seen in test/t/019_citus_grow.pl while a worker was drained:
 * identifiers on merged accounts, people split.)
 *
 * Reads are no modification either, and a read can be stale: the move
 * commits the new placement on the coordinator and then on each other
 * node in turn, so for a moment a node that has not committed it yet
 * still routes reads to the old placement (kept until a deferred drop),
 * which no longer receives the writes that nodes already switched send to
 * the new one.  A merge that read an account's identifiers there missed
 * the one another merge had just moved onto it (019, an identifier left
 * on a merged account; the reads a probe repeats saw a merged account
 * again and again: 40001).
 *
 * THE RULE: before every row lock of the protocol (dist.c's attach,
 * storage's locks of the lifecycle), and before every read that must see
 * what the transactions it waited for wrote (settling: settle.c, and the
 * probes of a multi-identifier call once it starts locking), the caller
 * takes the metadata locks of the shard groups concerned in ShareLock on
 * its own node, as Citus's own writes do (lock_shard_metadata(), a Citus
 * function that checks the caller owns the table: the extension's owner,
 * dist_begin()), and then takes in the invalidations that arrived
 * (AcceptInvalidationMessages(): a move that committed on this node while
 * the lock was waited for has changed the placements).  A switch then
 * waits for the locker's transaction as it waits for a writer's; a lock
 * granted after a switch is granted only once this node has committed it
 * (the move holds the lock here until then), so every row lock of a
 * transaction is taken and held, and every such read made, on the
 * placement its later statements use.  The shard groups of accounts and identifiers are
 * co-located, so the lock of dist_accounts' shard of the route is the
 * group's.  Waiting for a move in progress is a lock wait like a write's,
 * bounded by lock_timeout; a cycle through a move is found by
 * PostgreSQL's deadlock detector on one node and by Citus's distributed
 * one across nodes (40P01).
 *
 * A WRITE STILL PREPARED ON THE MOVE'S SOURCE
 * -------------------------------------------
 *
 * The metadata lock a writer takes on the node it runs from lasts until
 * that node's commit.  Under two-phase commit the other nodes' parts are
 * then only prepared, and Citus sends COMMIT PREPARED from its commit
 * callback while it still holds the lock; but when that command is lost
 * (a dropped connection: Citus warns, and its 2PC recovery commits the
 * part up to citus.recover_2pc_interval later), the lock is gone while
 * the part is still prepared on the shard's node.  A move of that shard
 * group then blocked writes without waiting for it, caught up, switched,
 * and the part, committed later on the old placement, was lost: found in
 * test/t/019_citus_grow.pl as identifiers left on an account merged after
 * its group moved.
 *
 * So the write holds the lock on the shard's own node too:
 * accounts_internal.dist_hold_shard(), a BEFORE ... FOR EACH STATEMENT
 * trigger on every shard of dist_accounts and dist_identifiers (the
 * tables whose rows a move copies; Citus copies the trigger to every new
 * placement), takes the group's metadata lock in ShareLock on the node
 * that executes the statement, in the statement's transaction.  A
 * prepared transaction keeps its locks, so the move's ExclusiveLock on
 * that node (BlockWritesToShardList asks every node with metadata) waits
 * until the part is committed or rolled back, by Citus's own COMMIT
 * PREPARED or by its recovery; the copy's catch-up after the block then
 * carries the part to the new placement.  The move waits at most until
 * the recovery, which is what a write on that node waits for too.
 * test/t/018_citus_2pc.pl loses a COMMIT PREPARED, moves the group and
 * checks the part arrives.
 *
 * A WRITE ON A COPY A MOVE LEFT BEHIND
 * -------------------------------------
 *
 * Citus can send a statement to the old copy of a shard after a move
 * switched its group, where the copy stays until its deferred drop: a
 * write there is lost when the copy is dropped.  Seen in
 * test/t/019_citus_grow.pl and in a load run of repeated moves
 * (test/t/025_citus_moves.pl): a multi-identifier call on a worker
 * probed its keys without locks, waited in its hold for a move until the
 * move had committed on that worker, then sent its identifiers to the
 * old copy on the source node and its account row to the new node; the
 * identifiers were gone after the drop, and the caller's account had
 * none.  One way there: Citus keeps, for the rest of a transaction, the
 * connection by which the transaction first reached a placement, keyed
 * by the placement's id (placement_connection.c), and a move keeps the id
 * and changes only the node.  Whatever the way, the write arrives at a
 * node whose own metadata already says the shard is elsewhere, or will
 * once the move commits there.
 *
 * So the trigger, once it holds the lock, checks that this node's
 * metadata still places the shard here, in a fresh snapshot (the lock
 * waits for the move's commit on this node); if not, the statement is
 * refused with 40001 and the detail every moved-shard error carries, and
 * the transaction, retried, reaches the shard where it is now.  This
 * covers every write to dist_accounts and dist_identifiers from any path
 * and any client.  Reads are not refused: a read that reaches the old
 * copy sees it as it was at the switch, as an older snapshot would.  The
 * calls that write read what their decisions rest on only after holding
 * the groups, except the lock-free probes of a multi-identifier call
 * (dist.c), whose decisions end in a write to the same shards, which
 * this check refuses, or in the answer a lock-free hit gives anyway.
 *
 * The cost is a lock each statement on a shard takes: the call of
 * Citus's lock_shard_metadata() through fmgr, as the table's owner (the
 * function checks it), skipped when this backend holds the lock already
 * (Citus took it for a write it executes on its own node, or an earlier
 * statement did); and one catalog read by index, no SQL (the catalogs'
 * names and this node's group are kept per backend).  One new cycle is possible: a
 * writer that runs from a worker took the lock there and is on its way
 * to the shard's node when a move takes both nodes' locks, the shard's
 * first; Citus's distributed deadlock detector breaks it (40P01 to the
 * writer, or the move fails and is retried).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace_d.h"
#include "catalog/pg_type_d.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "storage/lock.h"
#include "storage/lockdefs.h"
#include "utils/array.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "compat.h"
#include "moves.h"

ACCOUNT_FUNCTION(account_hold_placement);
ACCOUNT_FUNCTION(account_dist_hold_shard);

/*
 * Set while a statement on a shard runs another on a shard of the same
 * group, on the same node, in the same transaction (dist_create.c): the
 * outer statement's trigger holds the group and checked its placement,
 * and a group moves as a whole, so the inner one's trigger has nothing to
 * add.
 */
bool		moves_group_held = false;

/* 5: ShareLock; the groups in shard id order, as a move takes them */
static const char *const hold_sql[] = {
	/* one route */
	"SELECT pg_catalog.lock_shard_metadata(5, ARRAY["
	"pg_catalog.get_shard_id_for_distribution_column('accounts.dist_accounts'::pg_catalog.regclass, $1)])",
	/* several routes */
	"SELECT pg_catalog.lock_shard_metadata(5, ARRAY(SELECT DISTINCT "
	"pg_catalog.get_shard_id_for_distribution_column('accounts.dist_accounts'::pg_catalog.regclass, r)"
	" FROM pg_catalog.unnest($1) r ORDER BY 1))",
	/* every group */
	"SELECT pg_catalog.lock_shard_metadata(5, ARRAY(SELECT s.shardid FROM pg_catalog.pg_dist_shard s"
	" WHERE s.logicalrelid OPERATOR(pg_catalog.=) 'accounts.dist_accounts'::pg_catalog.regclass ORDER BY 1))",
};
static const Oid hold_argtypes[] = {INT4OID, INT4ARRAYOID, InvalidOid};
static SPIPlanPtr hold_plans[3];

/*
 * Statement which (0: one route, 1: an int4[] of routes, 2: every group)
 * with argument arg, then the invalidations that came meanwhile.
 */
static void
hold(int which, Datum arg)
{
	int			rc;

	if (hold_plans[which] == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(hold_sql[which], which == 2 ? 0 : 1,
									   (Oid *) &hold_argtypes[which]);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		hold_plans[which] = plan;
	}
	rc = SPI_execute_plan(hold_plans[which], which == 2 ? NULL : &arg, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	AcceptInvalidationMessages();
}

/*
 * The metadata lock of route's shard group, ShareLock, until the
 * transaction ends.  Within an SPI connection, as the extension's owner.
 */
void
moves_hold(int32 route)
{
	hold(0, Int32GetDatum(route));
}

/* The same for the groups of routes[0..n). */
void
moves_hold_routes(const int32 *routes, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		elems[i] = Int32GetDatum(routes[i]);
	hold(1, PointerGetDatum(construct_array(elems, n, INT4OID, sizeof(int32), true, TYPALIGN_INT)));
	pfree(elems);
}

/* The same for every shard group. */
void
moves_hold_all(void)
{
	hold(2, (Datum) 0);
}

/*
 * accounts_internal.hold_placement(route integer) RETURNS void: the SQL
 * form, for the storage layer (sql/parts/40_storage.sql), which runs as
 * the extension's owner.
 */
Datum
account_hold_placement(PG_FUNCTION_ARGS)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	moves_hold(PG_GETARG_INT32(0));
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * The shard id of a shard of dist_accounts or dist_identifiers, from its
 * name (Citus names a shard <table>_<shard id>); 0 for any other table
 * (the distributed table itself, where the trigger is defined).
 */
int64
moves_shard_of(Relation rel)
{
	const char *name = RelationGetRelationName(rel);
	const char *us = strrchr(name, '_');
	int64		id = 0;
	size_t		base;

	if (us == NULL || us[1] == '\0')
		return 0;
	base = us - name;
	if (!((base == strlen("dist_accounts") && strncmp(name, "dist_accounts", base) == 0) ||
		  (base == strlen("dist_identifiers") && strncmp(name, "dist_identifiers", base) == 0)))
		return 0;
	for (const char *c = us + 1; *c; c++)
	{
		if (*c < '0' || *c > '9' || id > (PG_INT64_MAX - 9) / 10)
			return 0;
		id = id * 10 + (*c - '0');
	}
	return id;
}

/*
 * The catalogs placed_here() reads, found by name once per backend and
 * again after any change to pg_class (Citus dropped and created anew);
 * and this node's group, read once and again after Citus's own trigger on
 * pg_dist_local_group invalidates that table's relcache entry (as Citus
 * caches it: GetLocalGroupId()).  A move never changes a node's group.
 */
static struct
{
	bool		valid;
	Oid			placement_rel;
	Oid			placement_idx;
	Oid			group_rel;
	AttrNumber	placement_shardid;
	AttrNumber	placement_groupid;
	AttrNumber	group_groupid;
	bool		group_known;
	int32		local_group;
}			citus_catalog;

static void
catalog_callback(Datum arg pg_attribute_unused(), int cacheid pg_attribute_unused(),
				 uint32 hashvalue pg_attribute_unused())
{
	citus_catalog.valid = false;
	citus_catalog.group_known = false;
}

static void
group_callback(Datum arg pg_attribute_unused(), Oid relid)
{
	if (!OidIsValid(relid) || relid == citus_catalog.group_rel)
		citus_catalog.group_known = false;
}

/* false when there is no Citus catalog */
static bool
load_citus_catalog(void)
{
	static bool callbacks = false;

	if (!callbacks)
	{
		CacheRegisterSyscacheCallback(RELNAMENSP, catalog_callback, (Datum) 0);
		CacheRegisterRelcacheCallback(group_callback, (Datum) 0);
		callbacks = true;
	}
	if (!citus_catalog.valid)
	{
		citus_catalog.placement_rel = get_relname_relid("pg_dist_placement", PG_CATALOG_NAMESPACE);
		citus_catalog.placement_idx = get_relname_relid("pg_dist_placement_shardid_index", PG_CATALOG_NAMESPACE);
		citus_catalog.group_rel = get_relname_relid("pg_dist_local_group", PG_CATALOG_NAMESPACE);
		if (!OidIsValid(citus_catalog.placement_rel) || !OidIsValid(citus_catalog.placement_idx) ||
			!OidIsValid(citus_catalog.group_rel))
			return false;
		citus_catalog.placement_shardid = get_attnum(citus_catalog.placement_rel, "shardid");
		citus_catalog.placement_groupid = get_attnum(citus_catalog.placement_rel, "groupid");
		citus_catalog.group_groupid = get_attnum(citus_catalog.group_rel, "groupid");
		citus_catalog.group_known = false;
		citus_catalog.valid = true;
	}
	if (!citus_catalog.group_known)
	{
		/* this node's group: pg_dist_local_group holds one row */
		Relation	rel = table_open(citus_catalog.group_rel, AccessShareLock);
		SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
		HeapTuple	tup;
		bool		isnull = true;

		citus_catalog.local_group = -1;
		if (citus_catalog.group_groupid != InvalidAttrNumber &&
			HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			Datum		d = heap_getattr(tup, citus_catalog.group_groupid, RelationGetDescr(rel), &isnull);

			if (!isnull)
				citus_catalog.local_group = DatumGetInt32(d);
		}
		systable_endscan(scan);
		table_close(rel, AccessShareLock);
		citus_catalog.group_known = true;
	}
	return true;
}

/*
 * Is shard shardid placed on this node, by this node's Citus metadata as
 * last committed?  A fresh snapshot: the caller holds the shard group's
 * metadata lock, so a move that switched the placement has committed
 * here (A WRITE ON A COPY A MOVE LEFT BEHIND).  true when the metadata
 * cannot be read (no Citus catalog: nothing to check).
 */
static bool
placed_here(int64 shardid)
{
	Snapshot	snap;
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	ScanKeyData key;
	bool		isnull;
	bool		here = false;

	if (!load_citus_catalog())
		return true;
	snap = RegisterSnapshot(GetLatestSnapshot());
	/* the shard's placements, by pg_dist_placement_shardid_index */
	rel = table_open(citus_catalog.placement_rel, AccessShareLock);
	ScanKeyInit(&key, citus_catalog.placement_shardid, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(shardid));
	scan = systable_beginscan(rel, citus_catalog.placement_idx, true, snap, 1, &key);
	while (!here && citus_catalog.placement_groupid != InvalidAttrNumber &&
		   HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Datum		d = heap_getattr(tup, citus_catalog.placement_groupid, RelationGetDescr(rel), &isnull);

		here = !isnull && DatumGetInt32(d) == citus_catalog.local_group;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	UnregisterSnapshot(snap);
	return here;
}

/*
 * accounts_internal.dist_hold_shard() RETURNS trigger, BEFORE INSERT OR
 * UPDATE OR DELETE FOR EACH STATEMENT on dist_accounts and
 * dist_identifiers (so on each of their shards): the shard group's
 * metadata lock, ShareLock, on this node, until the transaction ends or
 * is prepared and resolved (A WRITE STILL PREPARED ON THE MOVE'S SOURCE).
 */
Datum
account_dist_hold_shard(PG_FUNCTION_ARGS)
{
	static FmgrInfo lock_fn;
	static bool lock_fn_ready = false;
	TriggerData *td = (TriggerData *) fcinfo->context;
	int64		shardid;
	Datum		elem;
	ArrayType  *ids;
	Oid			save_user;
	int			save_sec;
	LOCKTAG		tag;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("accounts_internal.dist_hold_shard() must be a BEFORE ... FOR EACH STATEMENT trigger"),
				 errhint("accounts.distribute() creates it on accounts.dist_accounts and accounts.dist_identifiers.")));
	shardid = moves_shard_of(td->tg_relation);
	if (shardid == 0 || moves_group_held)
		return PointerGetDatum(NULL);

	if (!lock_fn_ready)
	{
		Oid			argtypes[2] = {INT4OID, INT8ARRAYOID};
		Oid			fn = LookupFuncName(list_make2(makeString("pg_catalog"),
												   makeString("lock_shard_metadata")),
										2, argtypes, false);

		fmgr_info_cxt(fn, &lock_fn, TopMemoryContext);
		lock_fn_ready = true;
	}
	/*
	 * Held already when Citus took it for this very statement (a write it
	 * executes on its own node takes its shard's lock there) or an earlier
	 * statement of the transaction took it: nothing to add.  The tag is
	 * Citus's (SET_LOCKTAG_SHARD_METADATA_RESOURCE in its resource_lock.h,
	 * class 4); were it ever another, this finds nothing and the lock is
	 * taken by Citus's function as ever.
	 */
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (shardid >> 32), (uint32) shardid, 4);
	if (!compat_lock_held_by_me(&tag, ShareLock))
	{
		elem = Int64GetDatum(shardid);
		ids = construct_array(&elem, 1, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
		/* lock_shard_metadata() wants the table's owner */
		GetUserIdAndSecContext(&save_user, &save_sec);
		SetUserIdAndSecContext(td->tg_relation->rd_rel->relowner,
							   save_sec | SECURITY_LOCAL_USERID_CHANGE);
		FunctionCall2(&lock_fn, Int32GetDatum(ShareLock), PointerGetDatum(ids));
		SetUserIdAndSecContext(save_user, save_sec);
	}

	/* A WRITE ON A COPY A MOVE LEFT BEHIND */
	if (!placed_here(shardid))
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("a write reached %s, the old copy of a shard that a shard move has replaced",
						RelationGetRelationName(td->tg_relation)),
				 errdetail("A shard of the account tables moved to another node (a rebalance or a drained node) while the transaction ran; nothing was written."),
				 errhint("Retry the transaction: it writes the shard where it is now.")));
	return PointerGetDatum(NULL);
}
