/*
 * journal.h: the change journal, accounts.events (journal.c).  Writers
 * append events in the transaction that makes the change; readers get the
 * committed ones in seq order, exactly once (see THE JOURNAL in journal.c).
 * Below lookup.c, above catalog.c.
 */
#ifndef ACCOUNT_JOURNAL_H
#define ACCOUNT_JOURNAL_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "utils/tuplestore.h"
#include "utils/uuid.h"

#include "catalog.h"

struct EState;
struct ResultRelInfo;

/* An open accounts.events, ready for appending. */
typedef struct JournalWriter
{
	bool		open;
	const AccountRels *rels;
	Relation	heap;
	struct ResultRelInfo *rri;
	struct TupleTableSlot *slot;
	struct EState *estate;		/* the caller's */
} JournalWriter;

/* Most events journal_read() returns at once. */
#define JOURNAL_MAX_READ	100000

extern void journal_open(JournalWriter *w, const AccountRels *rels,
						 struct EState *estate, Index rti);
extern void journal_close(JournalWriter *w);
extern void journal_append(JournalWriter *w, const pg_uuid_t *account_id,
						   Datum account_type, const char *kind, Datum detail);
extern Datum journal_detail_identifier(const char *id_type, const char *value);
extern Datum journal_detail_identifiers(const char *const *id_types,
										const char *const *values, int n);
extern void journal_read(int64 after, int max, Tuplestorestate *store,
						 TupleDesc desc);

#endif							/* ACCOUNT_JOURNAL_H */
