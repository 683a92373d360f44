/*
 * dist.h: find-or-create on a distributed cluster (dist.c), the twin of
 * lookup.c's protocol for Citus's storage: the same calls, the same rules
 * (rules.c), router statements on the shard that owns each route instead
 * of index probes and advisory locks on one node's tables.  settle.c waits
 * for the transactions a node has only prepared.  call.c picks the
 * protocol; nothing above it calls this directly but the journal.
 */
#ifndef ACCOUNT_DIST_H
#define ACCOUNT_DIST_H

#include "postgres.h"

#include "utils/uuid.h"

#include "account.h"
#include "node.h"

/* The scope of a run of distributed calls: SPI, as the extension's owner. */
typedef struct DistScope
{
	OwnerScope	owner;
} DistScope;

extern void dist_begin(DistScope *scope);
extern void dist_end(DistScope *scope);
extern bool dist_find(const IdentKey *key, pg_uuid_t *account_id);
extern bool dist_find_or_create(const IdentKey *key, const pg_uuid_t *attach_to,
								pg_uuid_t *account_id);
extern bool dist_find_or_create_all(IdentKey *keys, int nkeys, Resolve *resolve,
									pg_uuid_t *account_id);
extern bool dist_lock_account(const pg_uuid_t *account_id, AccountRow *row);
extern void dist_journal_event(const pg_uuid_t *account_id, Datum account_type,
							   const char *kind, Datum detail);
extern int32 dist_key_route(const IdentKey *key);
extern int32 dist_lock_type(const IdentKey *key);

#endif							/* ACCOUNT_DIST_H */
