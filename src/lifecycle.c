/*
 * lifecycle.c: the steps of merging and redacting that SQL cannot do.
 *
 *   accounts_internal.check_unseen_identifiers(uuid[])   REPEATABLE READ
 *                                                       check (rowlock.c)
 *   accounts_internal.repoint_assigned(into, sources[])  re-point the rows
 *                                                       assign_account()
 *                                                       manages
 *   accounts_internal.lock_assigned(account_type)        lock those tables,
 *                                                       first in a merge
 *   accounts_internal.check_identifier_limit(...)        the limit rule
 *                                                       of rules.c, for
 *                                                       merges (1.8)
 *
 * merge_accounts(), redact_account() and the rest of the lifecycle are
 * PL/pgSQL (sql/parts/50_lifecycle.sql), one set of rules for one node and
 * for Citus over the storage layer (sql/parts/40_storage.sql); they call
 * these, which nobody else may (EXECUTE is revoked from PUBLIC).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/uuid.h"

#include "call.h"
#include "compat.h"
#include "node.h"
#include "rowlock.h"
#include "rules.h"

ACCOUNT_FUNCTION(account_check_unseen_identifiers);
ACCOUNT_FUNCTION(account_repoint_assigned);
ACCOUNT_FUNCTION(account_check_identifier_limit);
ACCOUNT_FUNCTION(account_lock_assigned);

/* The uuids of a one-dimensional uuid[] without NULLs (palloc'd). */
static pg_uuid_t *
uuid_array(ArrayType *arr, const char *name, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	pg_uuid_t  *ids;

	call_array_elems(arr, name, "Pass a one-dimensional uuid[] without NULLs.",
					 &elems, &nulls, n);
	ids = palloc(sizeof(pg_uuid_t) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
	{
		if (nulls[i])
			call_null_error(psprintf("%s[%d]", name, i + 1),
							"Pass a one-dimensional uuid[] without NULLs.");
		memcpy(&ids[i], DatumGetUUIDP(elems[i]), sizeof(pg_uuid_t));
	}
	return ids;
}

/*
 * accounts.check_unseen_identifiers(account_ids uuid[]) RETURNS void
 *
 * rowlock_check_unseen(): under REPEATABLE READ, 40001 if an identifier was
 * attached to one of the accounts after the transaction's snapshot.
 */
Datum
account_check_unseen_identifiers(PG_FUNCTION_ARGS)
{
	int			n;
	pg_uuid_t  *ids;

	if (PG_ARGISNULL(0))
		call_null_error("account_ids", "Pass the accounts' ids.");
	ids = uuid_array(PG_GETARG_ARRAYTYPE_P(0), "account_ids", &n);
	rowlock_check_unseen(ids, n);
	PG_RETURN_VOID();
}

/*
 * The tables an assign_account() trigger of account_type manages, by OID
 * (and trigger name): for each, fn(its qualified name, the managed column,
 * arg), run as the table's owner in a security-restricted operation (see
 * SECURITY at repoint_assigned()).  Within SPI.
 */
typedef void (*assigned_fn) (const char *relname, const char *column, void *arg);

static void
for_each_assigned(const char *account_type, assigned_fn fn, void *arg)
{
	SPITupleTable *triggers;
	uint64		ntriggers;
	Oid			save_userid;
	int			save_sec;

	if (SPI_execute("SELECT t.tgrelid, t.tgargs, c.relowner"
					"  FROM pg_catalog.pg_trigger t"
					"  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.tgrelid"
					" WHERE t.tgfoid OPERATOR(pg_catalog.=) 'accounts.assign_account()'::pg_catalog.regprocedure"
					"   AND t.tgnargs OPERATOR(pg_catalog.=) 4"
					"   AND t.tgparentid OPERATOR(pg_catalog.=) 0"
					" ORDER BY t.tgrelid, t.tgname",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed");
	triggers = SPI_tuptable;
	ntriggers = SPI_processed;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	for (uint64 i = 0; i < ntriggers; i++)
	{
		HeapTuple	tup = triggers->vals[i];
		bool		isnull;
		Oid			relid = DatumGetObjectId(SPI_getbinval(tup, triggers->tupdesc, 1, &isnull));
		bytea	   *tgargs = DatumGetByteaPP(SPI_getbinval(tup, triggers->tupdesc, 2, &isnull));
		Oid			owner = DatumGetObjectId(SPI_getbinval(tup, triggers->tupdesc, 3, &isnull));
		const char *argv[4];
		const char *p = VARDATA_ANY(tgargs);
		const char *end = p + VARSIZE_ANY_EXHDR(tgargs);

		for (int a = 0; a < 4; a++)
		{
			const char *nul = memchr(p, '\0', end - p);

			argv[a] = p;
			p = nul ? nul + 1 : end;
		}
		if (p > end || strcmp(argv[0], account_type) != 0)
			continue;
		SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);
		fn(quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid)),
		   argv[3], arg);
		SetUserIdAndSecContext(save_userid, save_sec);
	}
}

/* One managed table IN SHARE ROW EXCLUSIVE MODE, until the transaction ends. */
static void
lock_table(const char *relname, const char *column pg_attribute_unused(),
		   void *arg pg_attribute_unused())
{
	if (SPI_execute(psprintf("LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE", relname), false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "SPI_execute failed");
}

/* The arguments of a re-pointing UPDATE, and what it changed. */
typedef struct Repoint
{
	Datum		args[2];
	int64		total;
} Repoint;

/* One managed table: the sources' rows to into. */
static void
repoint_table(const char *relname, const char *column, void *arg)
{
	Repoint    *r = (Repoint *) arg;
	Oid			argtypes[2] = {UUIDOID, UUIDARRAYOID};
	char	   *sql;
	SPIPlanPtr	plan;
	int			rc;

	lock_table(relname, column, arg);
	sql = psprintf("UPDATE %s SET %s = $1 WHERE %s OPERATOR(pg_catalog.=) ANY ($2)",
				   relname, quote_identifier(column), quote_identifier(column));
	plan = SPI_prepare(sql, 2, argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	CommandCounterIncrement();
	rc = SPI_execute_snapshot(plan, r->args, NULL, GetLatestSnapshot(),
							  IsolationUsesXactSnapshot() ? GetTransactionSnapshot() : InvalidSnapshot,
							  false, true, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "SPI_execute_snapshot failed: %s", SPI_result_code_string(rc));
	r->total += SPI_processed;
	SPI_freeplan(plan);
}

/*
 * accounts.repoint_assigned(into uuid, sources uuid[]) RETURNS bigint
 *
 * After merge_accounts() merged sources into into: in every table whose
 * uuid column an accounts.assign_account() trigger of the accounts' type
 * manages, set that column to into where it holds a source.  Returns the
 * number of rows changed.
 *
 * SECURITY: merge_accounts() runs as the extension's owner (a superuser),
 * and these tables, and the triggers on them, belong to other roles.
 * Updating them as the superuser would run those roles' trigger functions
 * with superuser rights.  So each table is locked and updated as its owner,
 * in a security-restricted operation, the way VACUUM and REFRESH
 * MATERIALIZED VIEW run a table owner's code.  Only roles that may create
 * triggers calling accounts.assign_account() (EXECUTE on it) take part.
 *
 * CONCURRENCY: each table is locked IN SHARE ROW EXCLUSIVE MODE until the
 * merge commits, first thing in the merge (lock_assigned(), below).  That waits for every transaction writing the table, so
 * the update sees their rows, and makes later writers wait for the merge;
 * their statements then run with a snapshot that sees the merge, and their
 * assign_account() triggers find the surviving account.  The mode
 * conflicts with itself, so merges re-point a table one at a time: with
 * SHARE MODE two merges of unrelated accounts could both hold the table,
 * then each wait for the other to let its UPDATE take ROW EXCLUSIVE (a
 * deadlock, 40P01).  The tables are taken in one order (by OID), so merges
 * that need several never wait for each other in a circle.  Under
 * REPEATABLE READ the update
 * scans with the latest snapshot and cross-checks against the
 * transaction's own, as PostgreSQL's ON DELETE CASCADE does: a matching row
 * committed after the transaction's snapshot raises 40001 instead of being
 * skipped.
 */
Datum
account_repoint_assigned(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *into;
	ArrayType  *sources;
	int			nsources;
	char	   *account_type;
	Oid			argtypes[2] = {UUIDOID, UUIDARRAYOID};
	Repoint		r;
	bool		distributed;

	if (PG_ARGISNULL(0))
		call_null_error("into", "Pass the surviving account's id.");
	if (PG_ARGISNULL(1))
		call_null_error("sources", "Pass the merged accounts' ids.");
	into = PG_GETARG_UUID_P(0);
	sources = PG_GETARG_ARRAYTYPE_P(1);
	(void) uuid_array(sources, "sources", &nsources);

	SPI_connect();

	/*
	 * only what merge_accounts() did: every source merged into into.  On a
	 * distributed cluster the rows are in accounts.dist_accounts, the
	 * target's found by its route (catalog.c, THE CITUS GUARD).
	 */
	node_refuse_undistributed();
	distributed = node_is_distributed();
	r.args[0] = UUIDPGetDatum(into);
	r.args[1] = PointerGetDatum(sources);
	r.total = 0;
	if (SPI_execute_with_args(distributed ?
							  "SELECT a.account_type::pg_catalog.text FROM accounts.dist_accounts a"
							  " WHERE a.route OPERATOR(pg_catalog.=) accounts.account_route($1)"
							  "   AND a.id OPERATOR(pg_catalog.=) $1" :
							  "SELECT a.account_type::pg_catalog.text FROM accounts.accounts a"
							  " WHERE a.id OPERATOR(pg_catalog.=) $1",
							  1, argtypes, r.args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("account %s does not exist",
						rule_uuid_text(into)),
				 errhint("Call accounts.merge_accounts(), which calls this function.")));
	account_type = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (SPI_execute_with_args(psprintf("SELECT pg_catalog.count(*) FILTER (WHERE s.status OPERATOR(pg_catalog.<>) 'merged'),"
									   "       pg_catalog.count(*) FILTER (WHERE s.merged_into OPERATOR(pg_catalog.=) $1)"
									   "  FROM accounts.%s s WHERE s.id OPERATOR(pg_catalog.=) ANY ($2)",
									   distributed ? "dist_accounts" : "accounts"),
							  2, argtypes, r.args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed");
	{
		bool		isnull;
		int64		unmerged,
					merged;

		unmerged = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		merged = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		if (unmerged > 0 || merged == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the source accounts are not merged into account %s",
							rule_uuid_text(into)),
					 errhint("Call accounts.merge_accounts(), which calls this function.")));
	}

	for_each_assigned(account_type, repoint_table, &r);
	SPI_finish();
	PG_RETURN_INT64(r.total);
}

/*
 * accounts_internal.lock_assigned(account_type text) RETURNS void
 *
 * The first lock of every merge of account_type (MERGES TAKE TURNS in
 * sql/parts/50_lifecycle.sql): the tables its assign_account() triggers
 * manage, IN SHARE ROW EXCLUSIVE MODE, in OID order, as their owners, the
 * locks repoint_assigned() needs later.  Taken before the merge lock, so
 * that a transaction already writing such a table (its ROW EXCLUSIVE lock
 * is what a merge waits for) that then merges never waits for a merge that
 * waits for it.
 */
Datum
account_lock_assigned(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		call_null_error("account_type", "Pass the account type of the merge.");
	SPI_connect();
	for_each_assigned(text_to_cstring(PG_GETARG_TEXT_PP(0)), lock_table, NULL);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * accounts_internal.check_identifier_limit(account_id uuid, account_type
 *   text, id_type text, held bigint, max integer) RETURNS void; STRICT in
 *   SQL.  rule_check_limit(): the 23514 of attaching, for a merge.
 */
Datum
account_check_identifier_limit(PG_FUNCTION_ARGS)
{
	rule_check_limit(text_to_cstring(PG_GETARG_TEXT_PP(1)),
					 text_to_cstring(PG_GETARG_TEXT_PP(2)),
					 PG_GETARG_UUID_P(0), PG_GETARG_INT64(3), PG_GETARG_INT32(4));
	PG_RETURN_VOID();
}
