/*
 * compat.h: the differences between the supported PostgreSQL majors
 * (15 to 18), behind the extension's own names.  No other file tests
 * PG_VERSION_NUM.
 */
#ifndef ACCOUNT_COMPAT_H
#define ACCOUNT_COMPAT_H

#include "postgres.h"

#include "access/genam.h"
#include "executor/executor.h"
#include "fmgr.h"

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

/* index_beginscan(): 18 added the instrumentation argument. */
static inline IndexScanDesc
compat_index_beginscan(Relation heap, Relation index, Snapshot snapshot,
					   int nkeys)
{
#if PG_VERSION_NUM >= 180000
	return index_beginscan(heap, index, snapshot, NULL, nkeys, 0);
#else
	return index_beginscan(heap, index, snapshot, nkeys, 0);
#endif
}

/*
 * ExecInsertIndexTuples() for a plain insert (no ON CONFLICT): 16 added
 * onlySummarizing.
 */
static inline void
compat_insert_index_tuples(ResultRelInfo *rri, TupleTableSlot *slot,
						   EState *estate)
{
#if PG_VERSION_NUM >= 160000
	(void) ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL, false);
#else
	(void) ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL);
#endif
}

#endif							/* ACCOUNT_COMPAT_H */
