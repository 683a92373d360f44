/*
 * compat.h: the differences between the supported PostgreSQL majors
 * (15 to 18, and 19 as of its release candidate), behind the extension's
 * own names.  No other file tests PG_VERSION_NUM.
 */
#ifndef ACCOUNT_COMPAT_H
#define ACCOUNT_COMPAT_H

#include "postgres.h"

#include "access/genam.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "storage/lock.h"
#include "utils/jsonb.h"
#include "utils/relcache.h"

/*
 * ACCOUNT_FUNCTION(name): declare an SQL-callable function and its info
 * record, both exported from the library.  The build hides every other
 * symbol (-fvisibility=hidden, see the Makefile); from 16 on
 * PG_FUNCTION_INFO_V1 marks the function PGDLLEXPORT itself, on 15 only
 * the info record.
 */
#if PG_VERSION_NUM < 160000
#define ACCOUNT_FUNCTION(name) \
	extern PGDLLEXPORT Datum name(PG_FUNCTION_ARGS); \
	PG_FUNCTION_INFO_V1(name)
#else
#define ACCOUNT_FUNCTION(name) PG_FUNCTION_INFO_V1(name)
#endif

/*
 * A function that raises and never returns.  18 replaced the postfix
 * pg_attribute_noreturn() with the prefix pg_noreturn; the compilers the
 * extension builds with (gcc, clang) take the attribute as a prefix on
 * every major.
 */
#define ACCOUNT_NORETURN __attribute__((noreturn))

/*
 * Do two entries of GetLockStatusData() belong to one holder (one
 * transaction)?  17 replaced their backend and lxid with a
 * VirtualTransactionId.
 */
static inline bool
compat_same_lock_holder(const LockInstanceData *a, const LockInstanceData *b)
{
#if PG_VERSION_NUM >= 170000
	return VirtualTransactionIdEquals(a->vxid, b->vxid);
#else
	return a->backend == b->backend && a->lxid == b->lxid;
#endif
}

/*
 * index_beginscan(): 18 added the instrumentation argument, 19 the table
 * scan options (none here: the scans' tables may be written).
 */
static inline IndexScanDesc
compat_index_beginscan(Relation heap, Relation index, Snapshot snapshot,
					   int nkeys)
{
#if PG_VERSION_NUM >= 190000
	return index_beginscan(heap, index, snapshot, NULL, nkeys, 0, 0);
#elif PG_VERSION_NUM >= 180000
	return index_beginscan(heap, index, snapshot, NULL, nkeys, 0);
#else
	return index_beginscan(heap, index, snapshot, nkeys, 0);
#endif
}

/*
 * ExecInsertIndexTuples() for a plain insert (no ON CONFLICT): 16 added
 * onlySummarizing, 19 folded the booleans into flags and moved the slot.
 */
static inline void
compat_insert_index_tuples(ResultRelInfo *rri, TupleTableSlot *slot,
						   EState *estate)
{
#if PG_VERSION_NUM >= 190000
	(void) ExecInsertIndexTuples(rri, estate, 0, slot, NIL, NULL);
#elif PG_VERSION_NUM >= 160000
	(void) ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL, false);
#else
	(void) ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL);
#endif
}

/*
 * The primary key of a relation, which must not be deferrable: 18 added
 * deferrable_ok (before, a deferrable primary key was never returned).
 */
static inline Oid
compat_primary_key_index(Relation rel)
{
#if PG_VERSION_NUM >= 180000
	return RelationGetPrimaryKeyIndex(rel, false);
#else
	return RelationGetPrimaryKeyIndex(rel);
#endif
}

/*
 * ExecutorRun_hook: 18 dropped the execute_once argument.  COMPAT_RUN_ARGS
 * declares the hook's parameters, COMPAT_RUN_PASS passes them on.
 */
#if PG_VERSION_NUM >= 180000
#define COMPAT_RUN_ARGS QueryDesc *queryDesc, ScanDirection direction, uint64 count
#define COMPAT_RUN_PASS queryDesc, direction, count
#else
#define COMPAT_RUN_ARGS QueryDesc *queryDesc, ScanDirection direction, uint64 count, bool execute_once
#define COMPAT_RUN_PASS queryDesc, direction, count, execute_once
#endif

/*
 * Building a jsonb value token by token: 19 replaced pushJsonbValue()'s
 * JsonbParseState ** (which returned the value so far) with a JsonbInState
 * that holds the result.  compat_jsonb_result() is the completed value
 * once the outermost container is closed.
 */
#if PG_VERSION_NUM >= 190000
typedef JsonbInState CompatJsonbBuilder;

static inline void
compat_jsonb_push(CompatJsonbBuilder *b, JsonbIteratorToken tok, JsonbValue *v)
{
	pushJsonbValue(b, tok, v);
}
#else
typedef struct CompatJsonbBuilder
{
	JsonbParseState *state;
	JsonbValue *result;
} CompatJsonbBuilder;

static inline void
compat_jsonb_push(CompatJsonbBuilder *b, JsonbIteratorToken tok, JsonbValue *v)
{
	b->result = pushJsonbValue(&b->state, tok, v);
}
#endif

static inline JsonbValue *
compat_jsonb_result(CompatJsonbBuilder *b)
{
	return b->result;
}

/*
 * compat_lock_held_by_me(tag, mode): does this backend hold the lock in
 * exactly that mode?  17 added LockHeldByMe()'s third argument.
 */
#if PG_VERSION_NUM >= 170000
#define compat_lock_held_by_me(tag, mode) LockHeldByMe(tag, mode, false)
#else
#define compat_lock_held_by_me(tag, mode) LockHeldByMe(tag, mode)
#endif

#endif							/* ACCOUNT_COMPAT_H */
