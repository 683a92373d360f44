/*
 * journal_api.c: the change journal's SQL functions (the journal itself,
 * its protocol and its proof are in journal.c).
 *
 *   accounts.events_since(after bigint, max integer)   read, exactly once
 *   accounts_internal.journal_event(account_id, account_type, kind, detail)
 *       the events of the PL/pgSQL functions (lifecycle, registry, removal)
 *   accounts_internal.dist_journal_write()
 *       the trigger on the shards that appends to the node's journal (THE
 *       JOURNAL ON CITUS in sql/parts/citus.sql)
 *
 * On a distributed cluster events_since() reads the journal of the node it
 * runs on, and journal_event() hands the event to the account's node
 * (dist.c).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/uuid.h"

#include "call.h"
#include "compat.h"
#include "dist.h"
#include "journal.h"
#include "node.h"
#include "types.h"

ACCOUNT_FUNCTION(account_events_since);
ACCOUNT_FUNCTION(account_journal_event);
ACCOUNT_FUNCTION(account_dist_journal_write);

/* Append one event to this node's journal if it is on for account_type. */
static void
append_event(const pg_uuid_t *account_id, Datum account_type_d,
			 const char *account_type, const char *kind, Datum detail)
{
	const AccountRels *r = catalog_rels();
	EState	   *estate;
	JournalWriter w = {0};

	if (!types_journal_enabled(account_type))
		return;
	estate = CreateExecutorState();
	journal_open(&w, r, estate, 1);
	journal_append(&w, account_id, account_type_d, kind, detail);
	journal_close(&w);
	FreeExecutorState(estate);
}

/*
 * accounts.events_since(after bigint, max integer DEFAULT 1000)
 *   RETURNS SETOF accounts.events
 */
Datum
account_events_since(PG_FUNCTION_ARGS)
{
	static const char *const args[] = {"after", "max"};
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		after;
	int32		max;

	/* 0A000 on a Citus node before distribute(); after it, this node's */
	node_refuse_undistributed();
	call_check_nulls(fcinfo, args, lengthof(args),
					 "Pass the seq of the last event you processed (0 at first) and how many events to return at most.");
	after = PG_GETARG_INT64(0);
	max = PG_GETARG_INT32(1);
	if (after < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"after\" must not be negative, got " INT64_FORMAT, after),
				 errhint("Pass 0 to read from the start, or the seq of the last event you processed.")));
	if (max < 1 || max > JOURNAL_MAX_READ)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"max\" must be between 1 and %d, got %d", JOURNAL_MAX_READ, max),
				 errhint("Read in batches of up to %d events; call again with the last seq.", JOURNAL_MAX_READ)));

	InitMaterializedSRF(fcinfo, 0);
	journal_read(after, max, rsinfo->setResult, rsinfo->setDesc);
	return (Datum) 0;
}

/*
 * accounts.journal_event(account_id uuid, account_type text, kind text,
 * detail jsonb) RETURNS void: append one event if the journal is on for
 * account_type.  Internal: EXECUTE is revoked from PUBLIC, and the
 * extension's SECURITY DEFINER functions call it.
 */
Datum
account_journal_event(PG_FUNCTION_ARGS)
{
	static const char *const args[] = {"account_type", "kind", "detail"};
	char	   *account_type;

	for (int i = 0; i < 3; i++)
		if (PG_ARGISNULL(i + 1))
			call_null_error(args[i], "Pass an account type, a kind and a detail.");
	/*
	 * distributed: to the journal of the account's node, if it is on for
	 * the account type there; none before the journal's tables exist (a
	 * cluster distributed by 1.5)
	 */
	node_refuse_undistributed();
	if (node_is_distributed())
	{
		DistScope	scope;

		account_type = text_to_cstring(PG_GETARG_TEXT_PP(1));
		if (!types_journal_enabled(account_type))
			PG_RETURN_VOID();
		dist_begin(&scope);
		dist_journal_event(PG_ARGISNULL(0) ? NULL : PG_GETARG_UUID_P(0), PG_GETARG_DATUM(1),
						   text_to_cstring(PG_GETARG_TEXT_PP(2)), PG_GETARG_DATUM(3));
		dist_end(&scope);
		PG_RETURN_VOID();
	}
	account_type = text_to_cstring(PG_GETARG_TEXT_PP(1));
	append_event(PG_ARGISNULL(0) ? NULL : PG_GETARG_UUID_P(0), PG_GETARG_DATUM(1),
				 account_type, text_to_cstring(PG_GETARG_TEXT_PP(2)), PG_GETARG_DATUM(3));
	PG_RETURN_VOID();
}

/*
 * accounts.dist_journal_write() RETURNS trigger, BEFORE INSERT FOR EACH ROW
 * on the shards of a distributed cluster (THE JOURNAL ON CITUS in
 * sql/parts/70_citus.sql), with one argument:
 *   'event'    on accounts.dist_events: the row is an event; it is appended
 *              to this node's journal and not stored;
 *   'created'  on accounts.dist_accounts: a new account row with its
 *              account.created detail in event_detail; the event is
 *              appended and the row stored without it.
 * The row arrives in the shard's transaction, on the node that holds the
 * account, so the event commits exactly with the change.
 */
Datum
account_dist_journal_write(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	tuple;
	bool		created;
	int			id_att;
	int			type_att;
	int			detail_att;
	Datum		id;
	Datum		type;
	Datum		detail;
	bool		id_null;
	bool		type_null;
	bool		detail_null;
	const char *kind;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_BY_INSERT(td->tg_event) ||
		td->tg_trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("accounts.dist_journal_write() must be a BEFORE INSERT FOR EACH ROW trigger with one argument"),
				 errhint("It is internal: accounts.distribute() creates its triggers.")));
	created = strcmp(td->tg_trigger->tgargs[0], "created") == 0;
	if (!created && strcmp(td->tg_trigger->tgargs[0], "event") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("unknown argument \"%s\" of accounts.dist_journal_write()", td->tg_trigger->tgargs[0]),
				 errhint("It is internal: accounts.distribute() creates its triggers.")));
	desc = RelationGetDescr(td->tg_relation);
	tuple = td->tg_trigtuple;
	id_att = SPI_fnumber(desc, created ? "id" : "account_id");
	type_att = SPI_fnumber(desc, "account_type");
	detail_att = SPI_fnumber(desc, created ? "event_detail" : "detail");
	if (id_att <= 0 || type_att <= 0 || detail_att <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("accounts.dist_journal_write() fired on table \"%s\", which is not the journal's",
						RelationGetRelationName(td->tg_relation)),
				 errhint("It is internal: accounts.distribute() creates its triggers.")));
	id = heap_getattr(tuple, id_att, desc, &id_null);
	type = heap_getattr(tuple, type_att, desc, &type_null);
	detail = heap_getattr(tuple, detail_att, desc, &detail_null);
	if (created)
		kind = "account.created";
	else
	{
		int			kind_att = SPI_fnumber(desc, "kind");
		bool		kind_null = true;
		Datum		k = kind_att > 0 ? heap_getattr(tuple, kind_att, desc, &kind_null) : (Datum) 0;

		if (kind_null)
			call_null_error("kind", "It is internal: accounts.journal_event() writes the events.");
		kind = TextDatumGetCString(k);
	}
	if (type_null)
		call_null_error("account_type", "It is internal: accounts.journal_event() writes the events.");
	if (!detail_null)
		append_event(id_null ? NULL : DatumGetUUIDP(id), type, TextDatumGetCString(type),
					 kind, detail);
	if (!created)
		return PointerGetDatum(NULL);
	if (!detail_null)
	{
		int			cols[1] = {detail_att};
		Datum		values[1] = {(Datum) 0};
		bool		nulls[1] = {true};

		tuple = heap_modify_tuple_by_cols(tuple, desc, 1, cols, values, nulls);
	}
	return PointerGetDatum(tuple);
}
