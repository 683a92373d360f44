/*
 * citus.c: the extension on a Citus cluster.
 *
 *   accounts.identifier_route(type, id_type, value)   the routing key
 *   accounts.account_route(id)                        an account's routing key
 *   accounts.new_account_id(route)                    an id that carries it
 *   accounts.normalize_value(type, id_type, kind, case_sensitive, value)
 *   accounts.dist_identifier_type(type, id_type, for_write)   the registry
 *
 * and, for the SQL-facing files, citus_forward() and
 * citus_find_or_create().
 *
 * THE DISTRIBUTED PATH
 * ====================
 *
 * accounts.distribute() (sql/account.sql) builds a Citus-shaped copy of
 * the schema: the registries as reference tables, and
 * accounts.dist_accounts and accounts.dist_identifiers distributed by a
 * column "route" and co-located.  From then on, on every node, the C entry
 * points never touch accounts.accounts or accounts.identifiers (on a Citus
 * node they hold only that node's rows, or are shells): catalog.c's guard
 * reports the database as distributed, and each entry point forwards its
 * call, unchanged, to the PL/pgSQL function of the same arguments named
 * dist_<its name> (citus_forward()).  Those run plain SQL, and Citus sends
 * each statement to the shard that owns its route, on whatever node that
 * is, within the caller's transaction.
 *
 * The route of an identifier is a pure function of its normalized form:
 * FNV-1a over account type, identifier type and normalized value, folded to
 * 16 bits.  'USR_1' and 'usr_1' normalize alike and so route alike, and
 * every node computes the same route without asking anyone.  A new
 * account's id is a UUIDv7 whose last 16 random bits are the route of the
 * identifier it is created for: the account row lives in the same shard
 * group as that identifier (one node, no two-phase commit), and a lookup
 * by id computes its shard from the id alone (accounts.account_route()).
 * The routes are persisted in both tables, so they never change once a row
 * is written, whatever a later version computes.
 *
 * Uniqueness is the shard's own unique index on (route, value, id_type,
 * account_type): all rows of one identifier have one route, hence one
 * shard, and INSERT ... ON CONFLICT DO NOTHING there waits for a
 * concurrent inserter of the same identifier exactly as on one node.  The
 * protocol of each function is written next to it in sql/account.sql.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/uuid.h"

#include "catalog.h"
#include "citus.h"
#include "compat.h"
#include "lookup.h"
#include "uuidv7.h"

ACCOUNT_FUNCTION(account_identifier_route);
ACCOUNT_FUNCTION(account_account_route);
ACCOUNT_FUNCTION(account_new_account_id);
ACCOUNT_FUNCTION(account_normalize_value);
ACCOUNT_FUNCTION(account_dist_identifier_type);

#define ROUTE_MASK 0xFFFF

static uint32
fnv1a(uint32 h, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
	{
		h ^= (unsigned char) s[i];
		h *= 16777619u;
	}
	return h;
}

/*
 * accounts.identifier_route(type text, id_type text, value text) RETURNS
 * integer: the route of a normalized identifier, 0 to 65535.  Persisted:
 * never change this function.
 */
Datum
account_identifier_route(PG_FUNCTION_ARGS)
{
	text	   *parts[3] = {PG_GETARG_TEXT_PP(0), PG_GETARG_TEXT_PP(1), PG_GETARG_TEXT_PP(2)};
	uint32		h = 2166136261u;

	for (int i = 0; i < 3; i++)
	{
		h = fnv1a(h, VARDATA_ANY(parts[i]), VARSIZE_ANY_EXHDR(parts[i]));
		h = fnv1a(h, "", 1);	/* a separator: ('ab','c') is not ('a','bc') */
	}
	PG_RETURN_INT32((int32) ((h ^ (h >> 16)) & ROUTE_MASK));
}

/* accounts.account_route(id uuid) RETURNS integer: the id's last 16 bits */
Datum
account_account_route(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *id = PG_GETARG_UUID_P(0);

	PG_RETURN_INT32((int32) ((id->data[14] << 8) | id->data[15]));
}

/*
 * accounts.new_account_id(route integer) RETURNS uuid: a UUIDv7 (time
 * ordered, as on one node) whose last 16 random bits are the route.
 */
Datum
account_new_account_id(PG_FUNCTION_ARGS)
{
	int32		route = PG_GETARG_INT32(0);
	pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));

	if (route < 0 || route > ROUTE_MASK)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("route %d is out of range", route),
				 errhint("Routes are 0 to %d, as accounts.identifier_route() returns them.", ROUTE_MASK)));
	account_uuidv7(id);
	id->data[14] = (unsigned char) (route >> 8);
	id->data[15] = (unsigned char) (route & 0xFF);
	PG_RETURN_UUID_P(id);
}

/*
 * accounts.normalize_value(type text, id_type text, kind text,
 *                          case_sensitive boolean, value text) RETURNS text,
 * STRICT: value normalized as an identifier of that kind, with the errors
 * of find_or_create_account (catalog_normalize()).  The distributed path
 * reads kind and case_sensitive from this node's copy of the registry
 * (accounts.dist_identifier_type(), which has checked the names) and
 * passes them here.
 */
Datum
account_normalize_value(PG_FUNCTION_ARGS)
{
	const char *account_type = text_to_cstring(PG_GETARG_TEXT_PP(0));
	const char *id_type = text_to_cstring(PG_GETARG_TEXT_PP(1));
	IdentType	type;

	memset(&type, 0, sizeof(type));
	if (!ident_kind_from_name(text_to_cstring(PG_GETARG_TEXT_PP(2)), &type.kind))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("identifier type \"%s\" of account type \"%s\" has an unknown kind",
						id_type, account_type),
				 errhint("The kinds are text, email and phone; the registry was changed outside the extension.")));
	type.case_sensitive = PG_GETARG_BOOL(3);
	PG_RETURN_TEXT_P(cstring_to_text(catalog_normalize(account_type, id_type, &type,
													   text_to_cstring(PG_GETARG_TEXT_PP(4)))));
}

/*
 * THE REGISTRY ON A DISTRIBUTED CLUSTER
 *
 * The identifier types are the reference table
 * accounts.dist_identifier_types, of which every node holds a full copy
 * (a shard placement, accounts.dist_identifier_types_<shardid>).  A call
 * reads the type from this node's copy directly, as one node reads
 * accounts.identifier_types: no Citus planning, no round trip.  A creator
 * also locks the row FOR KEY SHARE there until its transaction ends,
 * exactly as on one node (src/lookup.c, ROW LOCKS).  Dropping a type
 * deletes the row through Citus, which writes every node's copy and so
 * waits, on each node, for the creators holding it; its check for
 * identifiers of the type then sees theirs.  Creators that come later
 * find the row gone (42704).
 */
static Oid	local_types = InvalidOid;	/* this node's copy; invalid: look again */
static bool local_types_callback = false;

static void
local_types_reset(Datum arg pg_attribute_unused(), int cacheid pg_attribute_unused(),
				  uint32 hashvalue pg_attribute_unused())
{
	local_types = InvalidOid;
}

static Oid
local_types_relid(void)
{
	Oid			ns;
	Oid			logical;
	Datum		arg;
	Oid			argtype = OIDOID;
	int64		shardid;
	bool		isnull;

	if (OidIsValid(local_types))
		return local_types;
	if (!local_types_callback)
	{
		CacheRegisterSyscacheCallback(RELNAMENSP, local_types_reset, (Datum) 0);
		local_types_callback = true;
	}
	ns = get_namespace_oid("accounts", false);
	logical = get_relname_relid("dist_identifier_types", ns);
	arg = ObjectIdGetDatum(logical);
	SPI_connect();
	if (SPI_execute_with_args("SELECT s.shardid FROM pg_catalog.pg_dist_shard s"
							  "  JOIN pg_catalog.pg_dist_placement p ON p.shardid OPERATOR(pg_catalog.=) s.shardid"
							  " WHERE s.logicalrelid OPERATOR(pg_catalog.=) $1"
							  "   AND p.groupid OPERATOR(pg_catalog.=) (SELECT groupid FROM pg_catalog.pg_dist_local_group)",
							  1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this node has no copy of accounts.dist_identifier_types"),
				 errdetail("Citus places reference tables on every node of its metadata; this node is not in it."),
				 errhint("On the coordinator, add it with citus_set_coordinator_host() (or citus_add_node()).")));
	shardid = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	local_types = get_relname_relid(psprintf("dist_identifier_types_" INT64_FORMAT, shardid), ns);
	if (!OidIsValid(local_types))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the copy of accounts.dist_identifier_types on this node is missing"),
				 errhint("Check the Citus metadata: SELECT * FROM citus_shards WHERE table_name = 'accounts.dist_identifier_types'::regclass.")));
	return local_types;
}

/*
 * accounts.dist_identifier_type(type text, id_type text, for_write boolean,
 *     OUT kind text, OUT case_sensitive boolean): the identifier type from
 * this node's copy of the registry (both NULL if there is none); with
 * for_write, its row locked FOR KEY SHARE until the transaction ends.
 */
Datum
account_dist_identifier_type(PG_FUNCTION_ARGS)
{
	const char *account_type;
	const char *id_type;
	bool		for_write;
	Relation	heap;
	TupleTableSlot *slot;
	ScanKeyData skey[2];
	TupleDesc	desc;
	Datum		values[2] = {0, 0};
	bool		nulls[2] = {true, true};
	bool		found;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the arguments of accounts.dist_identifier_type() must not be null"),
				 errhint("It is internal; the extension's functions call it.")));
	account_type = text_to_cstring(PG_GETARG_TEXT_PP(0));
	id_type = text_to_cstring(PG_GETARG_TEXT_PP(1));
	for_write = PG_GETARG_BOOL(2);
	catalog_check_names(account_type, id_type);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "accounts.dist_identifier_type must return a row");

	heap = table_open(local_types_relid(), for_write ? RowShareLock : AccessShareLock);
	slot = table_slot_create(heap, NULL);
	ScanKeyInit(&skey[0], 1, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(account_type));
	ScanKeyInit(&skey[1], 2, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(id_type));
	if (for_write)
		found = lookup_lock_key_share(heap, skey, 2, slot, "an identifier type");
	else
		found = catalog_pkey_fetch(heap, skey, 2, GetTransactionSnapshot(), slot);
	if (found)
	{
		AttrNumber	kind = get_attnum(RelationGetRelid(heap), "kind");
		AttrNumber	cs = get_attnum(RelationGetRelid(heap), "case_sensitive");

		values[0] = slot_getattr(slot, kind, &nulls[0]);
		values[1] = slot_getattr(slot, cs, &nulls[1]);
		if (!nulls[0])
			values[0] = PointerGetDatum(PG_DETOAST_DATUM_COPY(values[0]));
	}
	ExecDropSingleTupleTableSlot(slot);
	table_close(heap, NoLock);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/*
 * The OID of accounts.dist_<name>(argtypes): by schema-qualified name and
 * exact argument types, so search_path plays no part.
 */
static Oid
dist_function(const char *name, int nargs, const Oid *argtypes)
{
	char	   *dist_name = psprintf("dist_%s", name);
	Oid			fn;

	fn = LookupFuncName(list_make2(makeString("accounts"), makeString(dist_name)),
						nargs, argtypes, true);
	if (!OidIsValid(fn))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("function accounts.%s does not exist", dist_name),
				 errhint("The extension's SQL objects are older than its library: run ALTER EXTENSION account UPDATE on every node.")));
	return fn;
}

/*
 * A WORKER THAT GOES AWAY
 *
 * When a node of the cluster disappears in the middle of a statement,
 * Citus reports the lost connection with the SQLSTATE of the remote's
 * error; there is none, so the client gets XX000 ("server closed the
 * connection unexpectedly").  The same happens at COMMIT, when Citus
 * prepares or commits the transaction on that node ("failed to prepare
 * transaction", "could not commit transaction for shard ...").  That is no internal
 * error: it is re-raised as 08006 (connection_failure), which clients and
 * poolers retry, with a hint.  Two places:
 *
 *   - an error out of the forwarded call (rethrow_connection_error(), for
 *     callers that catch errors themselves, e.g. a PL/pgSQL EXCEPTION
 *     block around find_or_create_account());
 *   - any error reported to the client in a transaction that took the
 *     distributed path (emit_log_hook), which covers COMMIT.
 *
 * Only errors whose SQLSTATE is XX000 and whose message is about a
 * connection are changed, and only in transactions that called this
 * extension's distributed path; everything else passes unchanged.
 */
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

static void
connection_error_hook(ErrorData *edata)
{
	if (dist_xact && is_lost_connection(edata))
		as_connection_failure(edata);
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

/* A call takes the distributed path: watch this transaction's errors. */
static void
dist_xact_begin(void)
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

/* In a PG_CATCH block: re-raise the error, as 08006 if it is a lost connection. */
static void
rethrow_connection_error(void)
{
	ErrorData  *edata;
	MemoryContext cxt = CurrentMemoryContext;

	if (geterrcode() != ERRCODE_INTERNAL_ERROR)
		PG_RE_THROW();
	MemoryContextSwitchTo(ErrorContext);
	edata = CopyErrorData();
	MemoryContextSwitchTo(cxt);
	if (!is_lost_connection(edata))
	{
		FreeErrorData(edata);
		PG_RE_THROW();
	}
	FlushErrorState();
	as_connection_failure(edata);
	ReThrowError(edata);
}

/*
 * Forward the call in fcinfo to accounts.dist_<the called function's
 * name>, with the same arguments, context (a trigger's TriggerData) and
 * result information (a set-returning caller's ReturnSetInfo), and return
 * its result.
 */
Datum
citus_forward(FunctionCallInfo fcinfo)
{
	HeapTuple	proc;
	Form_pg_proc form;
	Oid			target;
	FmgrInfo	flinfo;
	LOCAL_FCINFO(call, FUNC_MAX_ARGS);
	Datum		result = (Datum) 0;

	proc = SearchSysCache1(PROCOID, ObjectIdGetDatum(fcinfo->flinfo->fn_oid));
	if (!HeapTupleIsValid(proc))
		elog(ERROR, "cache lookup failed for function %u", fcinfo->flinfo->fn_oid);
	form = (Form_pg_proc) GETSTRUCT(proc);
	target = dist_function(NameStr(form->proname), form->pronargs,
						   form->proargtypes.values);
	ReleaseSysCache(proc);

	dist_xact_begin();
	fmgr_info(target, &flinfo);
	flinfo.fn_expr = fcinfo->flinfo->fn_expr;
	InitFunctionCallInfoData(*call, &flinfo, fcinfo->nargs, fcinfo->fncollation,
							 fcinfo->context, fcinfo->resultinfo);
	for (int i = 0; i < fcinfo->nargs; i++)
		call->args[i] = fcinfo->args[i];
	PG_TRY();
	{
		result = FunctionCallInvoke(call);
	}
	PG_CATCH();
	{
		rethrow_connection_error();
	}
	PG_END_TRY();
	fcinfo->isnull = call->isnull;
	return result;
}

/*
 * find_or_create_account(account_type, id_type, value) on the distributed
 * path, for the trigger (which checks its configuration and reads its
 * row itself).
 */
void
citus_find_or_create(const char *account_type, const char *id_type,
					 const char *value, pg_uuid_t *account_id)
{
	Oid			argtypes[3] = {TEXTOID, TEXTOID, TEXTOID};
	Oid			fn = dist_function("find_or_create_account", 3, argtypes);
	Datum		row = (Datum) 0;
	HeapTupleHeader td;
	bool		isnull;
	Datum		id;

	dist_xact_begin();
	PG_TRY();
	{
		row = OidFunctionCall3(fn, CStringGetTextDatum(account_type),
							   CStringGetTextDatum(id_type), CStringGetTextDatum(value));
	}
	PG_CATCH();
	{
		rethrow_connection_error();
	}
	PG_END_TRY();
	td = DatumGetHeapTupleHeader(row);
	id = GetAttributeByNum(td, 1, &isnull);
	if (isnull)
		elog(ERROR, "accounts.dist_find_or_create_account returned no account");
	memcpy(account_id, DatumGetUUIDP(id), sizeof(pg_uuid_t));
}
