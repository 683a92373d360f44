/*
 * moves.c: on a distributed cluster, row locks that stay true while Citus
 * moves shards between nodes.
 *
 *   moves_hold(route)   before a row lock in the shard group of route
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
 * THE RULE: before every row lock of the protocol (dist.c's attach,
 * storage's locks of the lifecycle), the caller takes the metadata lock of
 * the lock's shard group in ShareLock on its own node, as Citus's own
 * writes do (lock_shard_metadata(), a Citus function that checks the
 * caller owns the table: the extension's owner, dist_begin()).  A switch
 * then waits for the locker's transaction as it waits for a writer's, and
 * every row lock of a transaction is taken and held on the placement its
 * later statements use.  The shard groups of accounts and identifiers are
 * co-located, so the lock of dist_accounts' shard of the route is the
 * group's.  Waiting for a move in progress is a lock wait like a write's,
 * bounded by lock_timeout; a cycle through a move is found by
 * PostgreSQL's deadlock detector on one node and by Citus's distributed
 * one across nodes (40P01).
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "fmgr.h"

#include "compat.h"
#include "moves.h"

ACCOUNT_FUNCTION(account_hold_placement);

static SPIPlanPtr hold_plan = NULL;

/*
 * The metadata lock of route's shard group, ShareLock, until the
 * transaction ends.  Within an SPI connection, as the extension's owner.
 */
void
moves_hold(int32 route)
{
	Datum		arg = Int32GetDatum(route);
	Oid			argtype = INT4OID;
	int			rc;

	if (hold_plan == NULL)
	{
		/* 5: ShareLock */
		SPIPlanPtr	plan = SPI_prepare("SELECT pg_catalog.lock_shard_metadata(5, ARRAY["
									   "pg_catalog.get_shard_id_for_distribution_column("
									   "'accounts.dist_accounts'::pg_catalog.regclass, $1)])",
									   1, &argtype);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		hold_plan = plan;
	}
	rc = SPI_execute_plan(hold_plan, &arg, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
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
