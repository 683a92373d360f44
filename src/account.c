/*
 * account.c: the SQL-callable functions of the account extension.
 *
 * Each function checks its arguments (NULLs, names, the value), resolves
 * the identifier type, normalizes the value and hands a fully resolved key
 * to lookup.c.  All of that work happens in a per-call memory context that
 * is reset on every call, so a statement making a million calls uses as
 * much memory as one.  Only the result is built in the caller's context.
 */
#include "account.h"

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(account_find_or_create);
PG_FUNCTION_INFO_V1(account_find_or_create_ident);
PG_FUNCTION_INFO_V1(account_find);
PG_FUNCTION_INFO_V1(account_normalize_identifier);


CallState *
begin_call(FunctionCallInfo fcinfo, bool composite_result)
{
	CallState  *state = (CallState *) fcinfo->flinfo->fn_extra;

	if (state == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		state = palloc0(sizeof(CallState));
		state->call_cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
												"account per-call",
												ALLOCSET_DEFAULT_SIZES);
		if (composite_result)
		{
			TupleDesc	desc;

			if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
				elog(ERROR, "return type must be a row type");
			state->result_desc = BlessTupleDesc(CreateTupleDescCopy(desc));
		}
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = state;
	}
	MemoryContextReset(state->call_cxt);
	return state;
}

void
raise_null_argument(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
			 errmsg("argument \"%s\" must not be null", name),
			 errhint("Pass an account type, an identifier type and a value; list the types with SELECT * FROM accounts.identifier_types.")));
}

/* At most 64 characters of a user value, for messages. */
static const char *
value_for_message(const char *value)
{
	int			len = strlen(value);
	int			clip = pg_mbcliplen(value, len, 64);

	if (clip >= len)
		return value;
	return psprintf("%.*s...", clip, value);
}

/*
 * A name longer than any registered one cannot exist: say so, without
 * copying a huge argument into the message.
 */
void
account_check_name(const char *what, const char *name)
{
	if (strlen(name) > ACCOUNT_MAX_NAME_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("%s \"%s\" does not exist", what, value_for_message(name)),
				 errdetail("Names of account types and identifier types are at most %d bytes.",
						   ACCOUNT_MAX_NAME_BYTES),
				 errhint("List them with SELECT * FROM accounts.identifier_types.")));
}

static void *
norm_palloc(size_t size)
{
	return palloc(size);
}

static void
norm_pfree(void *ptr)
{
	pfree(ptr);
}

/*
 * Normalize value (server encoding) for the given identifier type; the
 * result is in the server encoding.  Raises 22023, 22P02, 22021 or 22001.
 */
char *
account_normalize_value(const char *account_type, const char *id_type,
						const IdentType *type, const char *value)
{
	size_t		len = strlen(value);
	const char *utf8;
	char	   *out = NULL;
	size_t		outlen = 0;
	const char *why = NULL;
	NormStatus	st;
	char	   *result;

	/* even all-whitespace padding cannot bring this under the limit */
	if (len > 1024 * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("%s value \"%s\" is too long", id_type, value_for_message(value)),
				 errdetail("The value is %zu bytes; normalized identifier values are at most %d bytes.",
						   len, ACCOUNT_MAX_VALUE_BYTES),
				 errhint("Store a shorter identifier, for example a hash of the value.")));

	/* conversions are the identity in a UTF-8 database: skip them */
	utf8 = GetDatabaseEncoding() == PG_UTF8 ? value
		: pg_server_to_any(value, (int) len, PG_UTF8);
	st = ident_normalize(type->kind, type->case_sensitive, utf8, strlen(utf8),
						 &out, &outlen, &why, norm_palloc, norm_pfree);
	switch (st)
	{
		case NORM_OK:
			break;
		case NORM_EMPTY:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s value \"%s\" is empty", id_type, value_for_message(value)),
					 errdetail("Identifier values are trimmed of leading and trailing white space; nothing is left."),
					 errhint("Pass a non-empty identifier value.")));
			break;
		case NORM_BAD_ENCODING:
			ereport(ERROR,
					(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
					 errmsg("%s value is not valid Unicode", id_type),
					 errhint("Pass a value in the database encoding.")));
			break;
		case NORM_BAD_FORMAT:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid %s value \"%s\": %s",
							id_type, value_for_message(value), why),
					 errhint("Identifier type \"%s\" of account type \"%s\" is of kind %s.",
							 id_type, account_type,
							 type->kind == IDENT_KIND_EMAIL ? "email" : "phone")));
			break;
		case NORM_ICU_ERROR:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not normalize %s value \"%s\": %s",
							id_type, value_for_message(value), why),
					 errhint("Retry; if it persists, report the value.")));
			break;
	}

	if (outlen > ACCOUNT_MAX_VALUE_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("%s value \"%s\" is too long", id_type, value_for_message(value)),
				 errdetail("The normalized value is %zu bytes; normalized identifier values are at most %d bytes.",
						   outlen, ACCOUNT_MAX_VALUE_BYTES),
				 errhint("Store a shorter identifier, for example a hash of the value.")));

	if (GetDatabaseEncoding() == PG_UTF8)
		return out;
	result = pg_any_to_server(out, (int) outlen, PG_UTF8);
	return result;
}

/* A text datum for s, allocated in cxt. */
static Datum
text_in(MemoryContext cxt, const char *s)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	Datum		d = CStringGetTextDatum(s);

	MemoryContextSwitchTo(old);
	return d;
}

/*
 * Resolve the account type and identifier type into key, through the call
 * site's memo when it still holds them.
 */
void
resolve_types(FunctionCallInfo fcinfo, CallState *state, IdentKey *key,
			  text *type, text *id_type)
{
	uint64		generation = account_cache_generation();

	if (state->memo_generation == generation &&
		account_text_equals(type, state->memo_account_type) &&
		account_text_equals(id_type, state->memo_id_type))
	{
		key->account_type = state->memo_account_type;
		key->id_type = state->memo_id_type;
		key->type = state->memo_type;
		key->account_type_d = state->memo_account_type_d;
		key->id_type_d = state->memo_id_type_d;
		return;
	}

	key->account_type = text_to_cstring(type);
	key->id_type = text_to_cstring(id_type);
	account_resolve_ident_type(key->account_type, key->id_type, &key->type);
	key->account_type_d = PointerGetDatum(type);
	key->id_type_d = PointerGetDatum(id_type);

	/* names that resolved fit the memo (account_check_name) */
	if (state->memo_generation != 0)
	{
		pfree(DatumGetPointer(state->memo_account_type_d));
		pfree(DatumGetPointer(state->memo_id_type_d));
	}
	strlcpy(state->memo_account_type, key->account_type, sizeof(state->memo_account_type));
	strlcpy(state->memo_id_type, key->id_type, sizeof(state->memo_id_type));
	state->memo_type = key->type;
	state->memo_account_type_d = text_in(fcinfo->flinfo->fn_mcxt, key->account_type);
	state->memo_id_type_d = text_in(fcinfo->flinfo->fn_mcxt, key->id_type);
	/* an invalidation during the lookup leaves the memo stale: fine */
	state->memo_generation = generation;
}

/*
 * Build the key for (type, id_type, value); all three are non-NULL.
 */
void
make_key(FunctionCallInfo fcinfo, CallState *state, IdentKey *key,
		 text *type, text *id_type, text *value)
{
	resolve_types(fcinfo, state, key, type, id_type);
	key->value = account_normalize_value(key->account_type, key->id_type,
										 &key->type, text_to_cstring(value));
	key->value_d = CStringGetTextDatum(key->value);
}

static Datum
find_or_create_result(FunctionCallInfo fcinfo, CallState *state,
					  MemoryContext caller_cxt, text *type, text *id_type,
					  text *value)
{
	IdentKey	key;
	pg_uuid_t	account_id;
	bool		created;
	IdentSession session;

	make_key(fcinfo, state, &key, type, id_type, value);
	ident_session_open(&session, true);
	created = ident_find_or_create(&session, &key, NULL, &account_id);
	ident_session_close(&session);

	MemoryContextSwitchTo(caller_cxt);
	return account_result_row(state, &account_id, created);
}

/*
 * The (account_id uuid, created boolean) row, built in the current
 * (the caller's) memory context.
 */
Datum
account_result_row(CallState *state, const pg_uuid_t *account_id, bool created)
{
	Datum		values[2];
	bool		nulls[2] = {false, false};
	pg_uuid_t  *result_id = palloc(sizeof(pg_uuid_t));

	*result_id = *account_id;
	values[0] = UUIDPGetDatum(result_id);
	values[1] = BoolGetDatum(created);
	return HeapTupleGetDatum(heap_form_tuple(state->result_desc, values, nulls));
}

/* 22004 for the first NULL of the arguments (type, id_type, value). */
static void
check_key_args(FunctionCallInfo fcinfo)
{
	static const char *const names[3] = {"type", "id_type", "value"};

	for (int i = 0; i < 3; i++)
		if (PG_ARGISNULL(i))
			raise_null_argument(names[i]);
}

/*
 * The fields of an accounts.identifier; returns the name of the first NULL
 * one ("identifier.id_type", ...), or NULL when both are present.
 */
const char *
identifier_fields(HeapTupleHeader ident, text **id_type, text **value)
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
 * accounts.find_or_create_account(type text, id_type text, value text,
 *                                 OUT account_id uuid, OUT created boolean)
 */
Datum
account_find_or_create(PG_FUNCTION_ARGS)
{
	CallState  *state = begin_call(fcinfo, true);
	MemoryContext caller_cxt;

	check_key_args(fcinfo);
	caller_cxt = MemoryContextSwitchTo(state->call_cxt);
	return find_or_create_result(fcinfo, state, caller_cxt,
								 PG_GETARG_TEXT_PP(0), PG_GETARG_TEXT_PP(1),
								 PG_GETARG_TEXT_PP(2));
}

/*
 * accounts.find_or_create_account(type text, identifier accounts.identifier,
 *                                 OUT account_id uuid, OUT created boolean)
 */
Datum
account_find_or_create_ident(PG_FUNCTION_ARGS)
{
	CallState  *state = begin_call(fcinfo, true);
	MemoryContext caller_cxt;
	text	   *id_type = NULL;
	text	   *value = NULL;
	const char *null_field;

	if (PG_ARGISNULL(0))
		raise_null_argument("type");
	if (PG_ARGISNULL(1))
		raise_null_argument("identifier");

	caller_cxt = MemoryContextSwitchTo(state->call_cxt);
	null_field = identifier_fields(PG_GETARG_HEAPTUPLEHEADER(1), &id_type, &value);
	if (null_field)
		raise_null_argument(null_field);
	return find_or_create_result(fcinfo, state, caller_cxt,
								 PG_GETARG_TEXT_PP(0), id_type, value);
}

/*
 * accounts.find_account(type text, id_type text, value text) RETURNS uuid
 */
Datum
account_find(PG_FUNCTION_ARGS)
{
	CallState  *state = begin_call(fcinfo, false);
	MemoryContext caller_cxt;
	IdentKey	key;
	IdentSession session;
	pg_uuid_t	account_id;
	pg_uuid_t  *result;
	bool		found;

	check_key_args(fcinfo);
	caller_cxt = MemoryContextSwitchTo(state->call_cxt);
	make_key(fcinfo, state, &key, PG_GETARG_TEXT_PP(0), PG_GETARG_TEXT_PP(1),
			 PG_GETARG_TEXT_PP(2));
	ident_session_open(&session, false);
	found = ident_lookup(&session, &key, &account_id);
	ident_session_close(&session);
	if (!found)
	{
		MemoryContextSwitchTo(caller_cxt);
		PG_RETURN_NULL();
	}

	MemoryContextSwitchTo(caller_cxt);
	result = palloc(sizeof(pg_uuid_t));
	*result = account_id;
	PG_RETURN_UUID_P(result);
}

/*
 * accounts.normalize_identifier(type text, id_type text, value text)
 *   RETURNS text
 */
Datum
account_normalize_identifier(PG_FUNCTION_ARGS)
{
	CallState  *state = begin_call(fcinfo, false);
	MemoryContext caller_cxt;
	IdentKey	key;

	caller_cxt = MemoryContextSwitchTo(state->call_cxt);
	make_key(fcinfo, state, &key, PG_GETARG_TEXT_PP(0), PG_GETARG_TEXT_PP(1),
			 PG_GETARG_TEXT_PP(2));
	MemoryContextSwitchTo(caller_cxt);
	PG_RETURN_TEXT_P(cstring_to_text(key.value));
}
