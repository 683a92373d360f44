/*
 * try.c: accounts.try_find_or_create_account, "continue on error".
 *
 * The attempt (resolving the types, normalizing, finding or creating) runs
 * in an internal subtransaction.  On success the subtransaction is
 * released and the result is what find_or_create_account returns, with
 * error_code and error_message NULL.  On an ERROR the subtransaction is
 * rolled back, which undoes everything the attempt did (rows, locks,
 * buffer pins), and the SQLSTATE and message are returned as data; the
 * caller's transaction stays usable with all of its earlier work.
 *
 * What is not swallowed: 57014, a user's cancel or statement_timeout, is
 * re-thrown so that it ends the statement.  (Returning a statement timeout
 * as a row would be wrong twice over: the timer does not re-arm, so a
 * statement looping over try_ calls would run on forever.)  Termination
 * and shutdown are FATAL, which never returns here.  lock_timeout (55P03),
 * deadlocks (40P01), serialization failures (40001) and every error about
 * the input come back as rows.
 *
 * NULL arguments are answered without a subtransaction.  On the success
 * path the subtransaction is the only cost over find_or_create_account: a
 * find assigns no transaction id, so it is a push and a pop of transaction
 * state.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "call.h"
#include "compat.h"

ACCOUNT_FUNCTION(account_try_find_or_create);
ACCOUNT_FUNCTION(account_try_find_or_create_ident);


/* Errors that must reach the caller even here. */
static bool
must_rethrow(ErrorData *edata)
{
	if (edata->elevel > ERROR)
		return true;
	return edata->sqlerrcode == ERRCODE_QUERY_CANCELED;
}

static Datum
result_row(CallState *state, pg_uuid_t *account_id, bool created,
		   const char *code, const char *message)
{
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	if (account_id)
		values[0] = UUIDPGetDatum(account_id);
	else
		nulls[0] = true;
	values[1] = BoolGetDatum(created);
	if (code)
	{
		values[2] = CStringGetTextDatum(code);
		values[3] = CStringGetTextDatum(message ? message : "");
	}
	else
		nulls[2] = nulls[3] = true;
	return HeapTupleGetDatum(heap_form_tuple(state->result_desc, values, nulls));
}

static Datum
null_argument_row(CallState *state, const char *name)
{
	char	   *msg = psprintf("argument \"%s\" must not be null", name);

	return result_row(state, NULL, false,
					  unpack_sql_state(ERRCODE_NULL_VALUE_NOT_ALLOWED), msg);
}

static Datum
try_attempt(CallState *state, MemoryContext caller_cxt, const KeyArgs *args)
{
	MemoryContext attempt_cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	pg_uuid_t	account_id;
	bool		created = false;
	ErrorData  *edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(attempt_cxt);
	PG_TRY();
	{
		created = call_find_or_create(state, args, &account_id);

		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(attempt_cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(attempt_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(attempt_cxt);
		CurrentResourceOwner = owner;
		if (must_rethrow(edata))
			ReThrowError(edata);
	}
	PG_END_TRY();

	MemoryContextSwitchTo(caller_cxt);
	if (edata != NULL)
		return result_row(state, NULL, false,
						  unpack_sql_state(edata->sqlerrcode), edata->message);
	{
		pg_uuid_t  *result_id = palloc(sizeof(pg_uuid_t));

		*result_id = account_id;
		return result_row(state, result_id, created, NULL, NULL);
	}
}

/* Either form of try_find_or_create_account(); see call_key_args(). */
static Datum
try_find_or_create(FunctionCallInfo fcinfo)
{
	CallState  *state;
	MemoryContext caller_cxt;
	KeyArgs		args;
	const char *null_arg;

	/* the Citus guard is the attempt's: its 0A000 comes back as data */
	state = call_begin(fcinfo, true);

	/*
	 * The attempt runs in a subtransaction of its own, which relations kept
	 * open between calls could not outlive (statement.c, KEEPING THE
	 * RELATIONS OPEN): open them per call.
	 */
	state->lookup_cache = NULL;

	caller_cxt = MemoryContextSwitchTo(state->call_cxt);
	null_arg = call_key_args(fcinfo, &args);
	if (null_arg)
	{
		MemoryContextSwitchTo(caller_cxt);
		return null_argument_row(state, null_arg);
	}
	return try_attempt(state, caller_cxt, &args);
}

/*
 * accounts.try_find_or_create_account(type text, id_type text, value text,
 *     OUT account_id uuid, OUT created boolean,
 *     OUT error_code text, OUT error_message text)
 */
Datum
account_try_find_or_create(PG_FUNCTION_ARGS)
{
	return try_find_or_create(fcinfo);
}

/*
 * accounts.try_find_or_create_account(type text, identifier accounts.identifier,
 *     OUT account_id uuid, OUT created boolean,
 *     OUT error_code text, OUT error_message text)
 */
Datum
account_try_find_or_create_ident(PG_FUNCTION_ARGS)
{
	return try_find_or_create(fcinfo);
}
