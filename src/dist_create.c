/*
 * dist_create.c: on a distributed cluster, the shard's half of creating an
 * account with one identifier.
 *
 *   dist_create_by_identifier()   trigger: BEFORE INSERT FOR EACH ROW on
 *                                 dist_accounts (so on each of its
 *                                 shards), for a row without a status
 *
 * ONE STATEMENT FOR A CREATE
 * ==========================
 *
 * dist_find_or_create() (dist.c) creates an account for a new identifier
 * with one router statement: the account's row, with no status and with
 * its account.created detail (which names the identifier) in
 * event_detail, inserted into dist_accounts at the identifier's route.
 * The account's id carries that route (route.c), so the row goes to the
 * shard of the group that holds the identifier, on the node that holds
 * it.  There, before the row goes in, this trigger does what the caller
 * otherwise does with two statements of its own (and still does on a
 * cluster distributed before the trigger existed):
 *
 *   1. the identifier, INSERT ... ON CONFLICT DO NOTHING, into the shard
 *      of dist_identifiers of the same group (the same node: a table of
 *      the group is never without the others), pointing at the new id;
 *   2. if a row of that identifier is there already (committed, or
 *      inserted by a transaction the insert waited for), the trigger
 *      skips the account's row: the statement inserts nothing, and the
 *      caller finds the identifier's account (dist.c);
 *   3. if it went in, the identifier type's row in this node's copy of
 *      the registry FOR KEY SHARE, or 42704 if the type was dropped
 *      (THE PROTOCOL ON CITUS in dist.c: a drop deletes the row on every
 *      node, so it waits for this transaction here, and then sees its
 *      identifier);
 *   4. the row goes in as an active account; dist_journal_write() (the
 *      next trigger by name) journals its account.created.
 *
 * Everything happens in the shard's transaction, on one node, so the
 * account, its identifier and its event commit together or not at all,
 * as the statements did.  The order is the protocol's: the identifier
 * first, the account's row after it went in, so a loser leaves nothing.
 *
 * A row without a status is the request; the column is NOT NULL, so if
 * the trigger is missing (a schema from before it, whose cluster dist.c
 * does not send such rows to: node_creates_by_identifier()), the row is
 * refused rather than stored without its identifier.  A node whose
 * library predates the trigger cannot load its function: the statement
 * fails there too.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type_d.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "compat.h"
#include "dist.h"
#include "moves.h"
#include "route.h"

ACCOUNT_FUNCTION(account_dist_create_by_identifier);

/* the INSERT of an identifier into one shard, by the dist_accounts shard */
#define MAX_SHARD_PLANS 64
static struct
{
	int64		accounts_shard;
	SPIPlanPtr	insert;
}			shard_plans[MAX_SHARD_PLANS];
static int	nshard_plans = 0;

static ACCOUNT_NORETURN void
protocol_error(const char *msg)
{
	ereport(ERROR,
			(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
			 errmsg("accounts_internal.dist_create_by_identifier(): %s", msg),
			 errhint("It is internal: accounts.distribute() creates the trigger, and the extension's calls write the rows it handles.")));
}

/*
 * The prepared INSERT into the shard of dist_identifiers that is in the
 * same group as the shard accounts_shard of dist_accounts (the one with
 * the same hash range), on this node.  Within an SPI connection.
 */
static SPIPlanPtr
identifier_insert(int64 accounts_shard)
{
	Datum		arg = Int64GetDatum(accounts_shard);
	Oid			argtype = INT8OID;
	Oid			types[5] = {INT4OID, TEXTOID, TEXTOID, TEXTOID, UUIDOID};
	bool		isnull;
	int64		shard;
	char	   *name;
	SPIPlanPtr	plan;

	for (int i = 0; i < nshard_plans; i++)
		if (shard_plans[i].accounts_shard == accounts_shard)
			return shard_plans[i].insert;
	if (SPI_execute_with_args("SELECT i.shardid FROM pg_catalog.pg_dist_shard a, pg_catalog.pg_dist_shard i"
							  " WHERE a.shardid OPERATOR(pg_catalog.=) $1"
							  "   AND i.logicalrelid OPERATOR(pg_catalog.=) 'accounts.dist_identifiers'::pg_catalog.regclass"
							  "   AND i.shardminvalue OPERATOR(pg_catalog.=) a.shardminvalue",
							  1, &argtype, &arg, NULL, true, 2) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("shard " INT64_FORMAT " of accounts.dist_accounts has no shard of accounts.dist_identifiers beside it", accounts_shard),
				 errdetail("The two tables are co-located: every shard of one has a shard of the other with the same hash range."),
				 errhint("Check the Citus metadata: SELECT * FROM citus_shards WHERE table_name IN ('accounts.dist_accounts'::regclass, 'accounts.dist_identifiers'::regclass).")));
	shard = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	name = psprintf("dist_identifiers_" INT64_FORMAT, shard);
	plan = SPI_prepare(psprintf("INSERT INTO accounts.%s AS i (route, value, id_type, account_type, account_id)"
								" VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
								quote_identifier(name)), 5, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	if (nshard_plans == MAX_SHARD_PLANS)
	{
		/* more shards than a node holds at once: start over */
		for (int i = 0; i < nshard_plans; i++)
			SPI_freeplan(shard_plans[i].insert);
		nshard_plans = 0;
	}
	shard_plans[nshard_plans].accounts_shard = accounts_shard;
	shard_plans[nshard_plans].insert = plan;
	nshard_plans++;
	return plan;
}

/* The value of key in the jsonb object container, or NULL. */
static JsonbValue *
object_value(JsonbContainer *obj, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(obj, JB_FOBJECT, &k);
}

/* The string value of key in the jsonb object container, or NULL. */
static char *
object_string(JsonbContainer *obj, const char *key)
{
	JsonbValue *v = object_value(obj, key);

	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * accounts_internal.dist_create_by_identifier() RETURNS trigger, BEFORE
 * INSERT FOR EACH ROW ON accounts.dist_accounts WHEN (NEW.status IS NULL):
 * ONE STATEMENT FOR A CREATE, above.
 */
Datum
account_dist_create_by_identifier(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	HeapTuple	tuple;
	int			route_att;
	int			id_att;
	int			type_att;
	int			status_att;
	int			detail_att;
	bool		isnull[4];
	Datum		route;
	Datum		id;
	Datum		detail;
	Jsonb	   *jb;
	JsonbValue *first;
	JsonbValue *identifiers;
	IdentKey	key;
	int64		shard;
	Datum		args[5];
	int			rc;
	int			cols[1];
	Datum		values[1];
	bool		nulls[1] = {false};

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_BY_INSERT(td->tg_event))
		protocol_error("must be a BEFORE INSERT FOR EACH ROW trigger");
	rel = td->tg_relation;
	desc = RelationGetDescr(rel);
	tuple = td->tg_trigtuple;
	route_att = SPI_fnumber(desc, "route");
	id_att = SPI_fnumber(desc, "id");
	type_att = SPI_fnumber(desc, "account_type");
	status_att = SPI_fnumber(desc, "status");
	detail_att = SPI_fnumber(desc, "event_detail");
	if (route_att <= 0 || id_att <= 0 || type_att <= 0 || status_att <= 0 || detail_att <= 0)
		protocol_error("fired on a table that is not accounts.dist_accounts");
	shard = moves_shard_of(rel);
	if (shard == 0)
		protocol_error("fired on accounts.dist_accounts itself, not on a shard of it");

	route = heap_getattr(tuple, route_att, desc, &isnull[0]);
	id = heap_getattr(tuple, id_att, desc, &isnull[1]);
	key.account_type_d = heap_getattr(tuple, type_att, desc, &isnull[2]);
	detail = heap_getattr(tuple, detail_att, desc, &isnull[3]);
	if (isnull[0] || isnull[1] || isnull[2] || isnull[3])
		protocol_error("a row without a status needs its route, id, account_type and event_detail");

	/* the identifier: event_detail is account.created's, {"identifiers": [{...}]} */
	jb = DatumGetJsonbP(detail);
	identifiers = JB_ROOT_IS_OBJECT(jb) ? object_value(&jb->root, "identifiers") : NULL;
	if (identifiers == NULL || identifiers->type != jbvBinary ||
		!JsonContainerIsArray(identifiers->val.binary.data) ||
		JsonContainerSize(identifiers->val.binary.data) != 1)
		protocol_error("event_detail must name exactly one identifier");
	first = getIthJsonbValueFromContainer(identifiers->val.binary.data, 0);
	if (first == NULL || first->type != jbvBinary || !JsonContainerIsObject(first->val.binary.data))
		protocol_error("event_detail must name exactly one identifier");
	key.account_type = TextDatumGetCString(key.account_type_d);
	key.id_type = object_string(first->val.binary.data, "id_type");
	key.value = object_string(first->val.binary.data, "value");
	if (key.id_type == NULL || key.value == NULL)
		protocol_error("event_detail must name exactly one identifier");
	if (route_of_identifier(key.account_type, strlen(key.account_type), key.id_type, strlen(key.id_type),
							key.value, strlen(key.value)) != DatumGetInt32(route) ||
		route_of_account(DatumGetUUIDP(id)) != DatumGetInt32(route))
		protocol_error("the identifier, the account and the row must have one route");
	key.id_type_d = CStringGetTextDatum(key.id_type);
	key.value_d = CStringGetTextDatum(key.value);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* 1. the identifier, beside the account's row */
	args[0] = route;
	args[1] = key.value_d;
	args[2] = key.id_type_d;
	args[3] = key.account_type_d;
	args[4] = id;
	moves_group_held = true;	/* by this statement's dist_accounts_hold */
	PG_TRY();
	{
		rc = SPI_execute_plan(identifier_insert(shard), args, NULL, false, 0);
	}
	PG_FINALLY();
	{
		moves_group_held = false;
	}
	PG_END_TRY();
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
	{
		/* 2. someone's already: no account */
		SPI_finish();
		return PointerGetDatum(NULL);
	}
	/* 3. its type, locked on this node */
	(void) dist_lock_type(&key);
	SPI_finish();

	/* 4. an active account */
	cols[0] = status_att;
	values[0] = DirectFunctionCall2(enum_in, CStringGetDatum("active"),
									ObjectIdGetDatum(TupleDescAttr(desc, status_att - 1)->atttypid));
	return PointerGetDatum(heap_modify_tuple_by_cols(tuple, desc, 1, cols, values, nulls));
}
