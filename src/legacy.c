/*
 * legacy.c: what the schemas of 1.5 and 1.6 call in this library, kept so
 * that a database runs with it until ALTER EXTENSION account UPDATE.
 *
 *   accounts.normalize_value(type, id_type, kind, case_sensitive, value)
 *   accounts.dist_identifier_type(type, id_type, for_write)
 *
 * Their PL/pgSQL callers (the dist_ functions of 1.5 and 1.6) are gone
 * from 1.7's schema: every path of 1.7 reads the registry and normalizes
 * in C (types.c, value.c).  The catalogs of those versions name these
 * symbols (pg_proc.prosrc), and the library must keep serving them.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "catalog.h"
#include "compat.h"
#include "node.h"
#include "rowlock.h"
#include "types.h"
#include "value.h"

ACCOUNT_FUNCTION(account_normalize_value);
ACCOUNT_FUNCTION(account_dist_identifier_type);

/*
 * accounts.normalize_value(type text, id_type text, kind text,
 *                          case_sensitive boolean, value text) RETURNS text,
 * STRICT: value normalized as an identifier of that kind.
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
	PG_RETURN_TEXT_P(cstring_to_text(value_normalize(account_type, id_type, &type,
													 text_to_cstring(PG_GETARG_TEXT_PP(4)))));
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
	types_check_names(account_type, id_type);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "accounts.dist_identifier_type must return a row");

	heap = table_open(node_local_placement("dist_identifier_types"),
					  for_write ? RowShareLock : AccessShareLock);
	slot = table_slot_create(heap, NULL);
	ScanKeyInit(&skey[0], 1, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(account_type));
	ScanKeyInit(&skey[1], 2, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(id_type));
	if (for_write)
		found = rowlock_key_share(heap, skey, 2, slot, "an identifier type");
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
