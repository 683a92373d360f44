/*
 * bulk.c: accounts.find_or_create_accounts(type, id_type, vals text[]).
 *
 * One row per input element, in input order, with the value as given.
 * Every element is checked and normalized before anything is written, so
 * bad input anywhere in the array writes nothing.  The distinct normalized
 * values are then processed in one canonical order (byte order of the
 * normalized value) with the same protocol as the single-value function
 * (lookup.c).  Two bulk calls whose arrays overlap in different orders
 * therefore never deadlock: a transaction only ever waits for another at a
 * key greater than every key it has itself created so far, and the other
 * transaction, working upwards in the same order, cannot be waiting for a
 * key that the first has already created.
 *
 * After a key it created, the call expects the next key to be new as
 * well (a run of creates: an import) and leaves out that key's lock-free
 * first probe where the answer is the same without it
 * (lookup_create_or_find()).
 *
 * Duplicates inside the array map to one account; only the first of them
 * (in input order) reports created = true.
 *
 * Memory: the array, one 32-byte entry per element and the normalized
 * values packed into one buffer; per-key work runs in a context reset for
 * every key; result rows go to a tuplestore that spills to disk past
 * work_mem.  Lock-table use is one advisory lock at a time, as for single
 * calls, so a million new accounts in one call need no settings changed.
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "call.h"
#include "compat.h"
#include "node.h"

ACCOUNT_FUNCTION(account_find_or_create_many);

static const char *const bulk_args[] = {"type", "id_type", "vals"};

typedef struct BulkItem
{
	int32		index;			/* position in the input array */
	uint32		offset;			/* normalized value in the packed buffer */
	pg_uuid_t	account_id;
	bool		created;
} BulkItem;

static const char *bulk_values;	/* packed buffer, for the comparator */

static int
bulk_item_cmp(const void *a, const void *b)
{
	const BulkItem *x = (const BulkItem *) a;
	const BulkItem *y = (const BulkItem *) b;
	int			c = strcmp(bulk_values + x->offset, bulk_values + y->offset);

	if (c != 0)
		return c;
	return (x->index > y->index) - (x->index < y->index);
}

static int
bulk_index_cmp(const void *a, const void *b)
{
	const BulkItem *x = (const BulkItem *) a;
	const BulkItem *y = (const BulkItem *) b;

	return (x->index > y->index) - (x->index < y->index);
}

/*
 * accounts.find_or_create_accounts(type text, id_type text, vals text[])
 *   RETURNS TABLE (value text, account_id uuid, created boolean)
 */
Datum
account_find_or_create_many(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext keys_cxt;
	MemoryContext row_cxt;
	MemoryContext old;
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *elem_nulls;
	int			n;
	IdentKey	key;
	BulkItem   *items;
	StringInfoData packed;
	CallStore	st;

	node_refuse_undistributed();	/* the Citus guard, before anything else */

	call_check_nulls(fcinfo, bulk_args, lengthof(bulk_args),
					 "Pass an account type, an identifier type and an array of values; an empty array returns no rows.");

	InitMaterializedSRF(fcinfo, 0);

	keys_cxt = AllocSetContextCreate(CurrentMemoryContext, "account bulk keys",
									 ALLOCSET_DEFAULT_SIZES);
	row_cxt = AllocSetContextCreate(CurrentMemoryContext, "account bulk row",
									ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(keys_cxt);

	arr = PG_GETARG_ARRAYTYPE_P(2);
	call_array_elems(arr, "vals", "Pass a one-dimensional text[].",
					 &elems, &elem_nulls, &n);

	call_key_types(&key, text_to_cstring(PG_GETARG_TEXT_PP(0)),
				   text_to_cstring(PG_GETARG_TEXT_PP(1)), keys_cxt);

	/* check and normalize everything before writing anything */
	items = palloc_extended(sizeof(BulkItem) * Max(n, 1), MCXT_ALLOC_HUGE);
	initStringInfo(&packed);
	for (int i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (elem_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("element %d of argument \"vals\" must not be null", i + 1),
					 errhint("Remove NULLs from the array, e.g. with array_remove(vals, NULL).")));
		MemoryContextSwitchTo(row_cxt);
		call_key_value(&key, TextDatumGetCString(elems[i]));
		MemoryContextSwitchTo(keys_cxt);
		items[i].index = i;
		items[i].offset = (uint32) packed.len;
		items[i].created = false;
		appendBinaryStringInfo(&packed, key.value, strlen(key.value) + 1);
		MemoryContextReset(row_cxt);
	}

	/* the canonical order; within a value, input order */
	bulk_values = packed.data;
	qsort(items, n, sizeof(BulkItem), bulk_item_cmp);

	call_store_open(&st, true, NULL);
	for (int i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (i > 0 && strcmp(packed.data + items[i].offset,
							packed.data + items[i - 1].offset) == 0)
		{
			items[i].account_id = items[i - 1].account_id;
			continue;
		}
		MemoryContextSwitchTo(row_cxt);
		key.value = packed.data + items[i].offset;
		key.value_d = CStringGetTextDatum(key.value);
		items[i].created = call_find_or_create_next(&st, &key, i > 0 && items[i - 1].created,
													&items[i].account_id);
		MemoryContextSwitchTo(keys_cxt);
		MemoryContextReset(row_cxt);
	}
	call_store_close(&st);

	/* results in input order */
	qsort(items, n, sizeof(BulkItem), bulk_index_cmp);
	MemoryContextSwitchTo(old);
	for (int i = 0; i < n; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = elems[i];
		values[1] = UUIDPGetDatum(&items[i].account_id);
		values[2] = BoolGetDatum(items[i].created);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}

	MemoryContextDelete(row_cxt);
	MemoryContextDelete(keys_cxt);
	return (Datum) 0;
}
