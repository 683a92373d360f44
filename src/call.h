/*
 * call.h: the plumbing every SQL-callable function shares (call.c):
 * per-call state and memory, the NULL-argument check, building keys from
 * arguments, the (account_id, created) result row, and the choice of the
 * protocol a call runs: one node's (lookup.c) or a distributed cluster's
 * (dist.c).  The SQL-facing files call this; it calls the protocols.
 */
#ifndef ACCOUNT_CALL_H
#define ACCOUNT_CALL_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "fmgr.h"
#include "utils/array.h"

#include "dist.h"
#include "lookup.h"

/*
 * Per-FmgrInfo state: the per-call context, the result descriptor, and the
 * types of the last key this call site built.  A query calls a function
 * with the same types over and over; the memo skips the registry cache's
 * hash lookup then.  It is valid while the catalog generation is unchanged.
 */
typedef struct CallState
{
	MemoryContext call_cxt;		/* reset at every call */
	TupleDesc	result_desc;
	MemoryContext memo_cxt;		/* memo_key's strings; reset on a miss */
	uint64		memo_generation;	/* 0: empty */
	IdentKey	memo_key;		/* types only, no value */
	LookupCache *lookup_cache;	/* the relations, kept open between calls */
	bool		last_created;	/* the call site's last call created */
} CallState;

extern CallState *call_begin(FunctionCallInfo fcinfo, bool composite_result);

/*
 * The protocol of a run of calls: one node's, on relations kept open
 * (statement.c), or a distributed cluster's (dist.c).
 */
typedef struct CallStore
{
	bool		distributed;
	Lookup		lookup;			/* one node */
	DistScope	dist;			/* distributed */
} CallStore;

extern void call_store_open(CallStore *st, bool for_write, LookupCache *cache);
extern void call_store_close(CallStore *st);
extern bool call_find(CallStore *st, const IdentKey *key, pg_uuid_t *account_id);
extern bool call_find_or_create_key(CallStore *st, const IdentKey *key,
									const pg_uuid_t *attach_to, pg_uuid_t *account_id);
extern bool call_find_or_create_next(CallStore *st, const IdentKey *key,
									 bool after_create, pg_uuid_t *account_id);
extern bool call_find_or_create_keys(CallStore *st, IdentKey *keys, int nkeys,
									 Resolve *resolve, pg_uuid_t *account_id);
extern bool call_lock_account(CallStore *st, const pg_uuid_t *account_id,
							  AccountRow *row);

extern const char *call_first_null(FunctionCallInfo fcinfo,
								   const char *const *names, int nargs);
extern void call_check_nulls(FunctionCallInfo fcinfo, const char *const *names,
							 int nargs, const char *hint);
extern void call_null_error(const char *name, const char *hint);
extern const char *call_identifier_fields(HeapTupleHeader ident, text **id_type,
										  text **value);
/* The three arguments that make a key, as text. */
typedef struct KeyArgs
{
	text	   *type;
	text	   *id_type;
	text	   *value;
} KeyArgs;

extern const char *call_key_args(FunctionCallInfo fcinfo, KeyArgs *args);
extern void call_array_elems(ArrayType *arr, const char *name, const char *hint,
							 Datum **elems, bool **nulls, int *nelems);

extern void call_key_types(IdentKey *key, const char *account_type,
						   const char *id_type, MemoryContext cxt);
extern void call_key_value(IdentKey *key, const char *raw);
extern void call_make_key(CallState *state, IdentKey *key, text *account_type,
						  text *id_type, text *value);

extern bool call_find_or_create(CallState *state, const KeyArgs *args,
								pg_uuid_t *account_id);
extern Datum call_result_row(CallState *state, const pg_uuid_t *account_id,
							 bool created);

#endif							/* ACCOUNT_CALL_H */
