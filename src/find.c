/*
 * find.c: the single-identifier functions, the extension's front door.
 *
 *   find_or_create_account(type, id_type, value)
 *   find_or_create_account(type, identifier accounts.identifier)
 *   find_account(type, id_type, value)
 *   normalize_identifier(type, id_type, value)
 *
 * Each checks its arguments, builds the key (call.c) and hands it to the
 * protocol: one node's (lookup.c) or, after accounts.distribute(), the
 * distributed cluster's (dist.c).  The work happens in the per-call memory context;
 * only the result is built in the caller's.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "call.h"
#include "compat.h"
#include "node.h"
#include "prepare.h"

PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);

/*
 * Loading the library: statement.c's executor hooks (KEEPING THE RELATIONS
 * OPEN) and prepare.c's check (PREPARED TRANSACTIONS).
 */
void
_PG_init(void)
{
	statement_init();
	prepare_init();
}

ACCOUNT_FUNCTION(account_find_or_create);
ACCOUNT_FUNCTION(account_find_or_create_ident);
ACCOUNT_FUNCTION(account_find);
ACCOUNT_FUNCTION(account_normalize_identifier);

#define NULL_HINT "Pass an account type, an identifier type and a value; list the types with SELECT * FROM accounts.identifier_types."

/*
 * Start a call that takes a key: the per-call state with its memory context
 * current (the caller's in *caller_cxt), and the key's arguments in either
 * form (call_key_args()), or 22004 naming the NULL one.
 */
static CallState *
begin_key_call(FunctionCallInfo fcinfo, bool composite_result, KeyArgs *args,
			   MemoryContext *caller_cxt)
{
	CallState  *state = call_begin(fcinfo, composite_result);
	const char *null_arg;

	*caller_cxt = MemoryContextSwitchTo(state->call_cxt);
	null_arg = call_key_args(fcinfo, args);
	if (null_arg)
		call_null_error(null_arg, NULL_HINT);
	return state;
}

/* Either form of find_or_create_account(). */
static Datum
find_or_create(FunctionCallInfo fcinfo)
{
	MemoryContext caller_cxt;
	KeyArgs		args;
	CallState  *state;
	pg_uuid_t	account_id;
	bool		created;

	node_refuse_undistributed();	/* the Citus guard, before anything else */
	state = begin_key_call(fcinfo, true, &args, &caller_cxt);

	created = call_find_or_create(state, &args, &account_id);
	MemoryContextSwitchTo(caller_cxt);
	return call_result_row(state, &account_id, created);
}

/*
 * accounts.find_or_create_account(type text, id_type text, value text,
 *                                 OUT account_id uuid, OUT created boolean)
 */
Datum
account_find_or_create(PG_FUNCTION_ARGS)
{
	return find_or_create(fcinfo);
}

/*
 * accounts.find_or_create_account(type text, identifier accounts.identifier,
 *                                 OUT account_id uuid, OUT created boolean)
 */
Datum
account_find_or_create_ident(PG_FUNCTION_ARGS)
{
	return find_or_create(fcinfo);
}

/*
 * accounts.find_account(type text, id_type text, value text) RETURNS uuid
 */
Datum
account_find(PG_FUNCTION_ARGS)
{
	MemoryContext caller_cxt;
	KeyArgs		args;
	CallState  *state;
	IdentKey	key;
	CallStore	st;
	pg_uuid_t	account_id;
	pg_uuid_t  *result;
	bool		found;

	node_refuse_undistributed();
	state = begin_key_call(fcinfo, false, &args, &caller_cxt);

	call_make_key(state, &key, args.type, args.id_type, args.value);
	call_store_open(&st, false, state->lookup_cache);
	found = call_find(&st, &key, &account_id);
	call_store_close(&st);

	MemoryContextSwitchTo(caller_cxt);
	if (!found)
		PG_RETURN_NULL();
	result = palloc(sizeof(pg_uuid_t));
	*result = account_id;
	PG_RETURN_UUID_P(result);
}

/*
 * accounts.normalize_identifier(type text, id_type text, value text)
 *   RETURNS text; STRICT in SQL
 */
Datum
account_normalize_identifier(PG_FUNCTION_ARGS)
{
	CallState  *state;
	MemoryContext caller_cxt;
	IdentKey	key;

	node_refuse_undistributed();
	state = call_begin(fcinfo, false);

	caller_cxt = MemoryContextSwitchTo(state->call_cxt);
	call_make_key(state, &key, PG_GETARG_TEXT_PP(0), PG_GETARG_TEXT_PP(1),
				  PG_GETARG_TEXT_PP(2));
	MemoryContextSwitchTo(caller_cxt);
	PG_RETURN_TEXT_P(cstring_to_text(key.value));
}
