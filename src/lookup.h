/*
 * lookup.h: finding identifiers, and the race-free find-or-create
 * (lookup.c).  Callers pass fully resolved keys (call.c builds them); the
 * locking protocol, for one identifier or several, is entirely inside.
 */
#ifndef ACCOUNT_LOOKUP_H
#define ACCOUNT_LOOKUP_H

#include "postgres.h"

#include "executor/tuptable.h"
#include "utils/snapshot.h"
#include "utils/uuid.h"

#include "catalog.h"
#include "journal.h"

/* A fully resolved, normalized identifier: the unique key. */
typedef struct IdentKey
{
	const char *account_type;
	const char *id_type;
	const char *value;			/* normalized, server encoding */
	IdentType	type;
	/* the same three as text datums, for scan keys and inserted rows */
	Datum		account_type_d;
	Datum		id_type_d;
	Datum		value_d;
} IdentKey;

/*
 * The open relations and snapshot for a run of lookups or creates within
 * one SQL call: open it with lookup_begin(), close it with lookup_end().
 */
typedef struct LookupCache LookupCache;

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

/* An account's row, as lookup_lock_account() found and locked it. */
typedef enum AccountStatus
{
	ACCOUNT_ACTIVE,
	ACCOUNT_ARCHIVED,
	ACCOUNT_MERGED,
	ACCOUNT_REDACTED
} AccountStatus;

typedef struct AccountRow
{
	char	   *account_type;
	AccountStatus status;
	pg_uuid_t	merged_into;	/* when ACCOUNT_MERGED */
} AccountRow;

/* Most identifiers find_or_create_account(type, identifiers[]) takes. */
#define LOOKUP_MAX_KEYS			100

extern void lookup_init(void);
extern LookupCache *lookup_cache_create(MemoryContext cxt);
extern void lookup_begin(Lookup *l, bool for_write, LookupCache *cache);
extern void lookup_end(Lookup *l);
extern bool lookup_find(Lookup *l, const IdentKey *key, pg_uuid_t *account_id);
extern bool lookup_find_or_create(Lookup *l, const IdentKey *key,
								  const pg_uuid_t *attach_to,
								  pg_uuid_t *account_id);
extern bool lookup_find_or_create_all(Lookup *l, IdentKey *keys, int nkeys,
									  pg_uuid_t *account_id);
extern char *lookup_uuid_text(const pg_uuid_t *u);
extern bool lookup_lock_account(Lookup *l, const pg_uuid_t *account_id,
								AccountRow *row);
extern void lookup_check_attachable(const pg_uuid_t *account_id,
									const AccountRow *row);
extern void lookup_check_unseen(const pg_uuid_t *account_ids, int nids);
extern bool lookup_lock_key_share(Relation heap, ScanKey skey, int nkeys,
								  TupleTableSlot *slot, const char *what);

#endif							/* ACCOUNT_LOOKUP_H */
