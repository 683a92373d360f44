/*
 * statement.h: the relations a run of lookups works on, kept open from one
 * call to the next within a statement (statement.c), and the rows written
 * through them.  The single-node protocol (lookup.c) and its row locks
 * (rowlock.c) work on a Lookup; call.c opens and closes it.
 */
#ifndef ACCOUNT_STATEMENT_H
#define ACCOUNT_STATEMENT_H

#include "postgres.h"

#include "executor/tuptable.h"
#include "utils/snapshot.h"
#include "utils/uuid.h"

#include "account.h"
#include "catalog.h"
#include "journal.h"

/*
 * A call site's relations, kept open between calls (see KEEPING THE
 * RELATIONS OPEN in statement.c).
 */
typedef struct LookupCache LookupCache;

/*
 * The open relations and snapshot for a run of lookups or creates within
 * one SQL call: open it with statement_open(), close it with
 * statement_close().
 */
typedef struct Lookup
{
	MemoryContext cxt;			/* where the state lives */
	LookupCache *cache;			/* the relations are the cache's: keep them */
	const AccountRels *rels;
	LOCKMODE	lockmode;
	Snapshot	snapshot;		/* the statement's MVCC snapshot */
	Relation	ident_heap;
	Relation	ident_index;
	TupleTableSlot *slot;		/* probe results */
	/* set up on the first insert */
	struct EState *estate;
	Relation	acc_heap;
	struct ResultRelInfo *acc_rri;
	struct ResultRelInfo *ident_rri;
	TupleTableSlot *acc_slot;
	TupleTableSlot *ident_slot;
	Datum		no_tags;		/* '{}'::text[] for new accounts */
	JournalWriter journal;		/* open if the schema has the journal */
} Lookup;

extern void statement_init(void);
extern LookupCache *statement_cache_create(MemoryContext cxt);
extern void statement_open(Lookup *l, bool for_write, LookupCache *cache);
extern void statement_close(Lookup *l);
extern void statement_insert_account(Lookup *l, const IdentKey *key,
									 pg_uuid_t *account_id);
extern void statement_insert_identifier(Lookup *l, const IdentKey *key,
										const pg_uuid_t *account_id);
extern void statement_journal(Lookup *l, const pg_uuid_t *account_id,
							  Datum account_type, const char *kind, Datum detail);

#endif							/* ACCOUNT_STATEMENT_H */
