/*
 * record.c: the account record's steps in C.
 *
 *   accounts_internal.normalize_field(account_type, name, kind, value)
 *   accounts_internal.lock_fields(account_type, names[])
 *
 * Fields are declared and written in SQL (sql/parts/30_registry.sql,
 * 55_record.sql: every rule of the account record, once, for one node and
 * Citus).  What SQL cannot do: normalize a text, email or phone value as an
 * identifier of that kind is normalized (value.c); and, on Citus, hold a
 * row of a reference table FOR KEY SHARE.  Citus turns SELECT ... FOR KEY
 * SHARE on a reference table into a share lock on the table's shard and
 * then a row-exclusive lock on the same shard, so two such statements at
 * once deadlock (seen with 16 clients calling set_fields()).  So, as the
 * creators of identifiers do (dist.c, lock_type()), the declarations are
 * locked in this node's copy of the registry directly: drop_field()
 * deletes the row from every copy, which waits for the lock wherever it is.
 */
#include "postgres.h"

#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "catalog.h"
#include "compat.h"
#include "node.h"
#include "normalize.h"
#include "rowlock.h"
#include "value.h"

ACCOUNT_FUNCTION(account_normalize_field);
ACCOUNT_FUNCTION(account_lock_fields);

/*
 * accounts_internal.normalize_field(account_type text, name text,
 *   kind text, value text) RETURNS text; STRICT in SQL.  The kinds are
 * text (kept case), email and phone; 22023 for another.
 */
Datum
account_normalize_field(PG_FUNCTION_ARGS)
{
	char	   *account_type = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *kind_name = text_to_cstring(PG_GETARG_TEXT_PP(2));
	char	   *value = text_to_cstring(PG_GETARG_TEXT_PP(3));
	IdentKind	kind;

	if (!ident_kind_from_name(kind_name, &kind))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("field kind \"%s\" is not normalized as an identifier", value_clip(kind_name)),
				 errhint("Only text, email and phone fields are.")));
	PG_RETURN_TEXT_P(cstring_to_text(value_normalize_field(account_type, name, kind, value)));
}

/*
 * accounts_internal.lock_fields(account_type text, names text[])
 *   RETURNS jsonb; STRICT in SQL
 *
 * The declarations of the named fields of account_type, each held FOR KEY
 * SHARE until the transaction ends, as {"name": {"kind": ..., "personal":
 * ...}, ...}; an undeclared name is left out.  One node:
 * accounts.account_fields; Citus: this node's copy of
 * accounts.dist_account_fields.  The lock is rowlock.c's: READ COMMITTED
 * follows an update to the row's last version, REPEATABLE READ raises 40001
 * for a change after the snapshot.
 */
Datum
account_lock_fields(PG_FUNCTION_ARGS)
{
	text	   *account_type = PG_GETARG_TEXT_PP(0);
	ArrayType  *names = PG_GETARG_ARRAYTYPE_P(1);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	Oid			relid;
	Relation	heap;
	TupleTableSlot *slot;
	StringInfoData out;
	bool		first = true;

	node_refuse_undistributed();
	relid = node_is_distributed() ? node_local_placement("dist_account_fields")
		: get_relname_relid("account_fields", catalog_rels()->namespace);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"accounts.account_fields\" does not exist"),
				 errhint("Update the extension: ALTER EXTENSION account UPDATE.")));
	deconstruct_array(names, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	heap = catalog_table_open(relid, RowShareLock);
	slot = table_slot_create(heap, NULL);
	initStringInfo(&out);
	appendStringInfoChar(&out, '{');
	for (int i = 0; i < n; i++)
	{
		ScanKeyData skey[2];
		bool		isnull;
		Datum		kind;
		Datum		personal;

		if (nulls[i])
			continue;
		ScanKeyInit(&skey[0], 1, BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(account_type));
		ScanKeyInit(&skey[1], 2, BTEqualStrategyNumber, F_TEXTEQ, elems[i]);
		if (!rowlock_key_share(heap, skey, 2, slot, "a field"))
			continue;
		kind = slot_getattr(slot, get_attnum(relid, "kind"), &isnull);
		personal = slot_getattr(slot, get_attnum(relid, "personal"), &isnull);
		if (!first)
			appendStringInfoString(&out, ", ");
		first = false;
		escape_json(&out, TextDatumGetCString(elems[i]));
		appendStringInfoString(&out, ": {\"kind\": ");
		escape_json(&out, TextDatumGetCString(kind));
		appendStringInfo(&out, ", \"personal\": %s}", DatumGetBool(personal) ? "true" : "false");
	}
	appendStringInfoChar(&out, '}');
	ExecDropSingleTupleTableSlot(slot);
	table_close(heap, NoLock);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data)));
}
