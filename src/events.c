/*
 * events.c: the change journal's SQL functions (the journal itself, its
 * protocol and its proof are in journal.c).
 *
 *   accounts.events_since(after bigint, max integer)   read, exactly once
 *   accounts.journal_event(account_id, account_type, kind, detail)
 *                                                       internal: the
 *       events of the PL/pgSQL functions (lifecycle, registry, removal)
 */
#include "postgres.h"

#include "executor/executor.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/uuid.h"

#include "call.h"
#include "compat.h"
#include "journal.h"

ACCOUNT_FUNCTION(account_events_since);
ACCOUNT_FUNCTION(account_journal_event);

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

	if (catalog_check_node())
		catalog_refuse_distributed("accounts.events_since()");
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
	const AccountRels *r;
	char	   *account_type;
	EState	   *estate;
	JournalWriter w = {0};

	/* distributed: no events are written (README, "Scaling out") */
	if (catalog_check_node())
		PG_RETURN_VOID();
	for (int i = 0; i < 3; i++)
		if (PG_ARGISNULL(i + 1))
			call_null_error(args[i], "Pass an account type, a kind and a detail.");
	account_type = text_to_cstring(PG_GETARG_TEXT_PP(1));
	r = catalog_rels();
	if (!catalog_journal_enabled(r, account_type))
		PG_RETURN_VOID();
	estate = CreateExecutorState();
	journal_open(&w, r, estate, 1);
	journal_append(&w, PG_ARGISNULL(0) ? NULL : PG_GETARG_UUID_P(0),
				   PG_GETARG_DATUM(1), text_to_cstring(PG_GETARG_TEXT_PP(2)),
				   PG_GETARG_DATUM(3));
	journal_close(&w);
	FreeExecutorState(estate);
	PG_RETURN_VOID();
}
