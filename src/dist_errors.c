/*
 * dist_errors.c: on a distributed cluster, the errors Citus reports that
 * are not what they say, re-raised as what they are.
 *
 *   dist_watch_errors()    this transaction's errors are watched (from
 *                          dist_begin(), and is_distributed() for the SQL
 *                          of the storage layer)
 *   dist_rethrow_error()   in a PG_CATCH block around a statement
 *
 * A WORKER THAT GOES AWAY
 *
 * When a node disappears in the middle of a statement, Citus reports the
 * lost connection with the SQLSTATE of the remote's error; there is none,
 * so the client would get XX000 ("server closed the connection
 * unexpectedly").  The same at COMMIT, when Citus prepares or commits the
 * transaction there ("failed to prepare transaction", "could not commit
 * transaction for shard ...").  That is no internal error: it is re-raised
 * as 08006 (connection_failure), which clients and poolers retry, with a
 * hint, in two places: an error out of a statement here (for callers that
 * catch errors themselves), and any error reported to the client in a
 * transaction that took the distributed path (emit_log_hook), which covers
 * COMMIT.  Only errors whose SQLSTATE is XX000 and whose message is about
 * a connection are changed, and only in transactions that called this
 * extension's distributed path.
 *
 * A SHARD THAT MOVES
 *
 * Citus moves shards (citus_rebalance_start(), citus_drain_node()) while
 * calls run.  Writes wait for the move's final step on the shard's
 * metadata lock; a read does not (citusdata/citus#1986), so a probe that
 * picked the shard's old placement just before the move finished can
 * reach the node after the old shard was dropped there: "relation
 * "accounts.dist_identifiers_102011" does not exist" (42P01).  Nothing was
 * decided on what the probe did not read, and a retry reads the new
 * placement, so it is re-raised, in the same two places, as 40001
 * (serialization_failure), the retry every caller of the distributed path
 * already handles, with a detail that says what happened.  Only 42P01
 * naming a relation accounts.dist_<table>_<shard id>, only in transactions
 * that called the distributed path: the C paths here, or the storage
 * layer's SQL (the lifecycle, the reads by id), which asks
 * accounts_internal.is_distributed() first (dist_watch_errors()).  A read
 * there missed the mapping once in 019 (client 13, 42P01 after the
 * rebalance).
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/elog.h"
#include "utils/memutils.h"

#include "dist_errors.h"

static bool dist_xact = false;	/* this transaction took the distributed path */
static emit_log_hook_type prev_emit_log_hook = NULL;

static bool
is_lost_connection(const ErrorData *edata)
{
	return edata->elevel == ERROR && edata->sqlerrcode == ERRCODE_INTERNAL_ERROR &&
		edata->message != NULL &&
		(strstr(edata->message, "connection") != NULL ||
		 strstr(edata->message, "server closed") != NULL ||
		 strstr(edata->message, "could not commit transaction for shard") != NULL ||
		 strstr(edata->message, "failed to prepare transaction") != NULL);
}

static void
as_connection_failure(ErrorData *edata)
{
	edata->sqlerrcode = ERRCODE_CONNECTION_FAILURE;
	if (edata->hint == NULL)
		edata->hint = pstrdup("A node of the Citus cluster was unreachable during the call or its commit. Retry the transaction: a find-or-create finds what a commit that went through created.");
}

/*
 * A shard that moved away (see A SHARD THAT MOVES in the header): Citus
 * reports the node's error, 42P01 naming the shard's relation,
 * "accounts.dist_<table>_<shard id>".
 */
static bool
is_moved_shard(const ErrorData *edata)
{
	const char *prefix = "relation \"accounts.dist_";
	const char *suffix = "\" does not exist";
	const char *m = edata->message;
	size_t		len;
	const char *end;

	if (edata->elevel != ERROR || edata->sqlerrcode != ERRCODE_UNDEFINED_TABLE || m == NULL ||
		strncmp(m, prefix, strlen(prefix)) != 0)
		return false;
	len = strlen(m);
	if (len < strlen(prefix) + strlen(suffix) + 2 || strcmp(m + len - strlen(suffix), suffix) != 0)
		return false;
	/* the shard id: digits after the last underscore */
	end = m + len - strlen(suffix);
	if (end[-1] < '0' || end[-1] > '9')
		return false;
	while (end[-1] >= '0' && end[-1] <= '9')
		end--;
	return end[-1] == '_';
}

static void
as_moved_shard(ErrorData *edata)
{
	edata->sqlerrcode = ERRCODE_T_R_SERIALIZATION_FAILURE;
	if (edata->detail == NULL)
		edata->detail = pstrdup("A shard of the account tables moved to another node (a rebalance or a drained node) while the call ran.");
	if (edata->hint == NULL)
		edata->hint = pstrdup("Retry the transaction: it reads the shard where it is now.");
}

static void
connection_error_hook(ErrorData *edata)
{
	if (dist_xact && is_lost_connection(edata))
		as_connection_failure(edata);
	if (dist_xact && is_moved_shard(edata))
		as_moved_shard(edata);
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

static void
dist_xact_callback(XactEvent event, void *arg pg_attribute_unused())
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT)
		dist_xact = false;
}

/*
 * In a PG_CATCH block: re-raise the error, as 08006 if it is a lost
 * connection, as 40001 if it is a shard that moved away.
 */
ACCOUNT_NORETURN void
dist_rethrow_error(void)
{
	ErrorData  *edata;
	MemoryContext cxt = CurrentMemoryContext;

	if (geterrcode() != ERRCODE_INTERNAL_ERROR && geterrcode() != ERRCODE_UNDEFINED_TABLE)
		PG_RE_THROW();
	MemoryContextSwitchTo(ErrorContext);
	edata = CopyErrorData();
	MemoryContextSwitchTo(cxt);
	if (is_lost_connection(edata))
		as_connection_failure(edata);
	else if (is_moved_shard(edata))
		as_moved_shard(edata);
	else
	{
		FreeErrorData(edata);
		PG_RE_THROW();
	}
	FlushErrorState();
	ReThrowError(edata);
}

/*
 * Watch this transaction's errors for lost connections and shards that
 * moved (A WORKER THAT GOES AWAY, A SHARD THAT MOVES): the C paths call it
 * through dist_begin(), the storage layer's SQL through
 * accounts_internal.is_distributed(), which every statement of it that
 * reaches the distributed tables is preceded by.
 */
void
dist_watch_errors(void)
{
	static bool installed = false;

	if (!installed)
	{
		prev_emit_log_hook = emit_log_hook;
		emit_log_hook = connection_error_hook;
		RegisterXactCallback(dist_xact_callback, NULL);
		installed = true;
	}
	dist_xact = true;
}
