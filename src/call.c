/*
 * call.c: the plumbing every SQL-callable function shares.
 *
 *   call_begin()        per-call state in fn_extra, and a memory context
 *                       reset on every call, so a statement making a million
 *                       calls uses as much memory as one
 *   call_check_nulls()  22004 naming the first NULL argument
 *   call_key_types()    (account type, identifier type) -> a key's types
 *   call_key_value()    a raw value -> the key's normalized value (catalog.c
 *                       normalizes it for the key's identifier type)
 *   call_make_key()     both, through the call site's memo of the types
 *   call_result_row()   the (account_id, created) row
 *   call_store_open()   the protocol of the call: one node's (lookup.c),
 *                       or a distributed cluster's (dist.c), after
 *                       accounts.distribute(); call_find() and the others
 *                       run it
 *
 * Every key the extension looks up is built by call_key_types() and
 * call_key_value(); the protocol takes it from there.  What either
 * protocol may do and the errors it raises are the same rules (rules.c).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "call.h"
#include "node.h"
#include "value.h"

CallState *
call_begin(FunctionCallInfo fcinfo, bool composite_result)
{
	CallState  *state = (CallState *) fcinfo->flinfo->fn_extra;

	if (state == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		state = palloc0(sizeof(CallState));
		state->call_cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
												"account per-call",
												ALLOCSET_DEFAULT_SIZES);
		state->memo_cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
												"account type memo",
												ALLOCSET_SMALL_SIZES);
		if (composite_result)
		{
			TupleDesc	desc;

			if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
				elog(ERROR, "return type must be a row type");
			state->result_desc = BlessTupleDesc(CreateTupleDescCopy(desc));
		}
		state->lookup_cache = statement_cache_create(fcinfo->flinfo->fn_mcxt);
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = state;
	}
	MemoryContextReset(state->call_cxt);
	return state;
}

/* The name of the first of the nargs arguments that is NULL, or NULL. */
const char *
call_first_null(FunctionCallInfo fcinfo, const char *const *names, int nargs)
{
	for (int i = 0; i < nargs; i++)
		if (PG_ARGISNULL(i))
			return names[i];
	return NULL;
}

/* 22004 for the argument (or field, or element) called name. */
void
call_null_error(const char *name, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
			 errmsg("argument \"%s\" must not be null", name),
			 errhint("%s", hint)));
	pg_unreachable();
}

/* 22004 for the first of the nargs arguments that is NULL. */
void
call_check_nulls(FunctionCallInfo fcinfo, const char *const *names, int nargs,
				 const char *hint)
{
	const char *name = call_first_null(fcinfo, names, nargs);

	if (name != NULL)
		call_null_error(name, hint);
}

/*
 * The fields of an accounts.identifier; returns the name of the first NULL
 * one ("identifier.id_type", ...), or NULL when both are present.
 */
const char *
call_identifier_fields(HeapTupleHeader ident, text **id_type, text **value)
{
	bool		isnull;
	Datum		d;

	d = GetAttributeByNum(ident, 1, &isnull);
	if (isnull)
		return "identifier.id_type";
	*id_type = DatumGetTextPP(d);
	d = GetAttributeByNum(ident, 2, &isnull);
	if (isnull)
		return "identifier.value";
	*value = DatumGetTextPP(d);
	return NULL;
}

/*
 * The key's arguments of a function taking (type, id_type, value) or
 * (type, identifier accounts.identifier): NULL, or the name of the first
 * NULL argument or field.
 */
const char *
call_key_args(FunctionCallInfo fcinfo, KeyArgs *args)
{
	static const char *const key_args[] = {"type", "id_type", "value"};
	static const char *const ident_args[] = {"type", "identifier"};
	const char *null_arg;

	if (PG_NARGS() == 2)
	{
		null_arg = call_first_null(fcinfo, ident_args, lengthof(ident_args));
		if (null_arg == NULL)
			null_arg = call_identifier_fields(PG_GETARG_HEAPTUPLEHEADER(1),
											  &args->id_type, &args->value);
	}
	else
	{
		null_arg = call_first_null(fcinfo, key_args, lengthof(key_args));
		if (null_arg == NULL)
		{
			args->id_type = PG_GETARG_TEXT_PP(1);
			args->value = PG_GETARG_TEXT_PP(2);
		}
	}
	if (null_arg == NULL)
		args->type = PG_GETARG_TEXT_PP(0);
	return null_arg;
}

/*
 * The elements of a one-dimensional array argument called name (22023 for
 * more dimensions).
 */
void
call_array_elems(ArrayType *arr, const char *name, const char *hint,
				 Datum **elems, bool **nulls, int *nelems)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"%s\" has %d dimensions", name, ARR_NDIM(arr)),
				 errhint("%s", hint)));
	get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &typbyval, &typalign);
	deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, typbyval, typalign,
					  elems, nulls, nelems);
}

/*
 * Resolve (account_type, id_type) into key's types (or raise 42704); the
 * copies of the names and their text datums are allocated in cxt.
 */
void
call_key_types(IdentKey *key, const char *account_type, const char *id_type,
			   MemoryContext cxt)
{
	MemoryContext old;

	types_resolve(account_type, id_type, &key->type);
	old = MemoryContextSwitchTo(cxt);
	key->account_type = pstrdup(account_type);
	key->id_type = pstrdup(id_type);
	key->account_type_d = CStringGetTextDatum(account_type);
	key->id_type_d = CStringGetTextDatum(id_type);
	MemoryContextSwitchTo(old);
}

/*
 * Normalize raw (server encoding) into key's value, for key's types; in
 * the current memory context.
 */
void
call_key_value(IdentKey *key, const char *raw)
{
	key->value = value_normalize(key->account_type, key->id_type, &key->type, raw);
	key->value_d = CStringGetTextDatum(key->value);
}

/*
 * The key for (account_type, id_type, value), all three non-NULL.  The
 * types come from the call site's memo when it still holds them.
 */
void
call_make_key(CallState *state, IdentKey *key, text *account_type,
			  text *id_type, text *value)
{
	uint64		generation = catalog_generation();

	if (state->memo_generation != generation ||
		!catalog_text_equals(account_type, state->memo_key.account_type) ||
		!catalog_text_equals(id_type, state->memo_key.id_type))
	{
		char	   *a = text_to_cstring(account_type);
		char	   *i = text_to_cstring(id_type);

		state->memo_generation = 0;
		MemoryContextReset(state->memo_cxt);
		call_key_types(&state->memo_key, a, i, state->memo_cxt);
		/* an invalidation during the lookup leaves the memo stale: fine */
		state->memo_generation = generation;
	}
	*key = state->memo_key;
	call_key_value(key, text_to_cstring(value));
}

/*
 * find_or_create_account() for args: the key through the call site's memo,
 * then the protocol (lookup.c).  Returns true if the account was created.
 * After a create at this call site (one statement's calls; a plpgsql
 * simple expression's, for the rest of the transaction), the next key is
 * expected to be new too, as in the bulk call: call_find_or_create_next().
 */
bool
call_find_or_create(CallState *state, const KeyArgs *args, pg_uuid_t *account_id)
{
	IdentKey	key;
	CallStore	st;
	bool		created;

	call_make_key(state, &key, args->type, args->id_type, args->value);
	call_store_open(&st, true, state->lookup_cache);
	created = call_find_or_create_next(&st, &key, state->last_created, account_id);
	call_store_close(&st);
	state->last_created = created;
	return created;
}

/*
 * Open the protocol for a run of calls (for finding only, or for
 * find-or-create): one node's relations (kept in cache, which may be
 * NULL), or, after accounts.distribute(), the distributed path's scope.
 * 0A000 on a Citus node before distribute().
 */
void
call_store_open(CallStore *st, bool for_write, LookupCache *cache)
{
	node_refuse_undistributed();
	st->distributed = node_is_distributed();
	if (st->distributed)
		dist_begin(&st->dist);
	else
		statement_open(&st->lookup, for_write, cache);
}

void
call_store_close(CallStore *st)
{
	if (st->distributed)
		dist_end(&st->dist);
	else
		statement_close(&st->lookup);
}

/* find_account(): true if key is someone's, with *account_id. */
bool
call_find(CallStore *st, const IdentKey *key, pg_uuid_t *account_id)
{
	return st->distributed ? dist_find(key, account_id) :
		lookup_find(&st->lookup, key, account_id);
}

/* find-or-create of one key (attached to attach_to, when given). */
bool
call_find_or_create_key(CallStore *st, const IdentKey *key,
						const pg_uuid_t *attach_to, pg_uuid_t *account_id)
{
	return st->distributed ? dist_find_or_create(key, attach_to, account_id) :
		lookup_find_or_create(&st->lookup, key, attach_to, account_id);
}

/*
 * find-or-create of the next key of a run of calls (the bulk call's keys,
 * a call site's calls): after a create (after_create) the key is expected
 * to be new too, lookup_create_or_find() on one node; on Citus the same as
 * any other key, the distributed protocol inserting first.
 */
bool
call_find_or_create_next(CallStore *st, const IdentKey *key, bool after_create,
						 pg_uuid_t *account_id)
{
	if (st->distributed)
		return dist_find_or_create(key, NULL, account_id);
	return after_create ? lookup_create_or_find(&st->lookup, key, account_id) :
		lookup_find_or_create(&st->lookup, key, NULL, account_id);
}

/*
 * find-or-create of several keys of one person: 21000 if they are of
 * several, or, with resolve (the merging call, resolve.c), those accounts
 * reported there.
 */
bool
call_find_or_create_keys(CallStore *st, IdentKey *keys, int nkeys,
						 Resolve *resolve, pg_uuid_t *account_id)
{
	return st->distributed ? dist_find_or_create_all(keys, nkeys, resolve, account_id) :
		lookup_find_or_create_all(&st->lookup, keys, nkeys, resolve, account_id);
}

/* The account's row FOR KEY SHARE before attaching to it; false if none. */
bool
call_lock_account(CallStore *st, const pg_uuid_t *account_id, AccountRow *row)
{
	return st->distributed ? dist_lock_account(account_id, row) :
		lookup_lock_account(&st->lookup, account_id, row);
}

/*
 * The (account_id uuid, created boolean) row, built in the current
 * (the caller's) memory context.
 */
Datum
call_result_row(CallState *state, const pg_uuid_t *account_id, bool created)
{
	Datum		values[2];
	bool		nulls[2] = {false, false};
	pg_uuid_t  *result_id = palloc(sizeof(pg_uuid_t));

	*result_id = *account_id;
	values[0] = UUIDPGetDatum(result_id);
	values[1] = BoolGetDatum(created);
	return HeapTupleGetDatum(heap_form_tuple(state->result_desc, values, nulls));
}
