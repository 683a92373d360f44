/*
 * identifiers.c: accounts with several identifiers.
 *
 *   find_or_create_account(type, identifiers accounts.identifier[],
 *                          on_conflict text DEFAULT 'error')
 *   add_identifier(account_id, id_type, value)
 *
 * Both check and normalize everything first, then hand the keys to the
 * protocol: lookup.c's on one node (SEVERAL IDENTIFIERS AT ONCE, and ROW
 * LOCKS in rowlock.c for attaching to an existing account), dist.c's on a
 * distributed cluster; with on_conflict => 'merge', resolve.c's identity
 * resolution around either.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "call.h"
#include "compat.h"
#include "node.h"
#include "resolve.h"
#include "rules.h"
#include "value.h"

ACCOUNT_FUNCTION(account_find_or_create_multi);
ACCOUNT_FUNCTION(account_add_identifier);

static const char *const multi_args[] = {"type", "identifiers"};
static const char *const add_args[] = {"account_id", "id_type", "value"};

#define NULL_HINT "Pass an account type, an identifier type and a value; list the types with SELECT * FROM accounts.identifier_types."
#define ON_CONFLICT_HINT "Pass 'error' (the default: 21000 when the identifiers belong to different accounts) or 'merge' (merge those accounts into the oldest)."

/*
 * on_conflict: 'error' (21000 when the identifiers belong to several
 * accounts) or 'merge' (IDENTITY RESOLUTION in resolve.c); 22023 for
 * anything else.  The 1.7 schema's function has no such argument.
 */
static bool
merge_requested(FunctionCallInfo fcinfo)
{
	char	   *mode;

	if (PG_NARGS() < 3)
		return false;
	mode = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (strcmp(mode, "error") == 0)
		return false;
	if (strcmp(mode, "merge") == 0)
		return true;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid on_conflict \"%s\"", value_clip(mode)),
			 errhint(ON_CONFLICT_HINT)));
	pg_unreachable();
}

/*
 * accounts.find_or_create_account(type text, identifiers accounts.identifier[],
 *                                 on_conflict text DEFAULT 'error',
 *                                 OUT account_id uuid, OUT created boolean)
 */
Datum
account_find_or_create_multi(PG_FUNCTION_ARGS)
{
	CallState  *state;
	MemoryContext caller_cxt;
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *elem_nulls;
	int			nelems;
	char	   *account_type;
	IdentKey   *keys;
	CallStore	st;
	pg_uuid_t	account_id;
	bool		created;
	bool		merge;

	node_refuse_undistributed();	/* the Citus guard, before anything else */
	state = call_begin(fcinfo, true);
	call_check_nulls(fcinfo, multi_args, 2, NULL_HINT);
	if (PG_NARGS() > 2 && PG_ARGISNULL(2))
		call_null_error("on_conflict", ON_CONFLICT_HINT);
	caller_cxt = MemoryContextSwitchTo(state->call_cxt);
	merge = merge_requested(fcinfo);
	arr = PG_GETARG_ARRAYTYPE_P(1);
	call_array_elems(arr, "identifiers", "Pass a one-dimensional accounts.identifier[].",
					 &elems, &elem_nulls, &nelems);
	if (nelems == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"identifiers\" is empty"),
				 errhint("Pass at least one identifier.")));
	if (nelems > LOOKUP_MAX_KEYS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%d identifiers are more than one account can be found by at once", nelems),
				 errdetail("At most %d identifiers are accepted in one call.", LOOKUP_MAX_KEYS),
				 errhint("Use accounts.add_identifier() to attach further identifiers.")));

	/* check and normalize everything before writing anything */
	account_type = text_to_cstring(PG_GETARG_TEXT_PP(0));
	keys = palloc0(sizeof(IdentKey) * nelems);
	for (int i = 0; i < nelems; i++)
	{
		text	   *id_type = NULL;
		text	   *value = NULL;
		const char *null_field;

		if (elem_nulls[i])
			call_null_error(psprintf("identifiers[%d]", i + 1), NULL_HINT);
		null_field = call_identifier_fields(DatumGetHeapTupleHeader(elems[i]),
											&id_type, &value);
		if (null_field)
			call_null_error(psprintf("identifiers[%d]%s", i + 1,
									 strchr(null_field, '.')), NULL_HINT);
		call_key_types(&keys[i], account_type, text_to_cstring(id_type),
					   CurrentMemoryContext);
		call_key_value(&keys[i], text_to_cstring(value));
	}

	call_store_open(&st, true, state->lookup_cache);
	created = merge ? resolve_find_or_create(&st, keys, nelems, &account_id)
		: call_find_or_create_keys(&st, keys, nelems, NULL, &account_id);
	call_store_close(&st);

	MemoryContextSwitchTo(caller_cxt);
	return call_result_row(state, &account_id, created);
}

/*
 * accounts.add_identifier(account_id uuid, id_type text, value text)
 *   RETURNS boolean
 *
 * true: attached; false: the account already has it; 23505: another
 * account has it; 42704: no such account; 55000: the account is merged or
 * redacted.  The find-or-create protocol,
 * attaching to this account where it would create one.
 */
Datum
account_add_identifier(PG_FUNCTION_ARGS)
{
	CallState  *state;
	MemoryContext caller_cxt;
	pg_uuid_t  *account_id;
	CallStore	st;
	IdentKey	key;
	AccountRow	row;
	pg_uuid_t	owner;
	bool		added;

	node_refuse_undistributed();	/* the Citus guard, before anything else */
	state = call_begin(fcinfo, false);
	call_check_nulls(fcinfo, add_args, lengthof(add_args),
					 "Pass an account id, an identifier type and a value.");
	caller_cxt = MemoryContextSwitchTo(state->call_cxt);
	account_id = PG_GETARG_UUID_P(0);
	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot add an identifier to account %s in a read-only transaction",
						rule_uuid_text(account_id)),
				 RecoveryInProgress() ?
				 errhint("This server is a hot standby; call the primary.") :
				 errhint("Run it in a read-write transaction.")));
	call_store_open(&st, true, state->lookup_cache);

	if (!call_lock_account(&st, account_id, &row))
		rule_no_account(account_id, "Find or create the account first, e.g. with accounts.find_or_create_account().");
	rule_check_attachable(account_id, &row);
	call_make_key(state, &key, cstring_to_text(row.account_type),
				  PG_GETARG_TEXT_PP(1), PG_GETARG_TEXT_PP(2));

	added = call_find_or_create_key(&st, &key, account_id, &owner);
	call_store_close(&st);

	if (!added && memcmp(&owner, account_id, sizeof(pg_uuid_t)) != 0)
		rule_belongs_to_another(&key, &owner);

	MemoryContextSwitchTo(caller_cxt);
	PG_RETURN_BOOL(added);
}
