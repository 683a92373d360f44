/*
 * lookup.h: the race-free find-or-create on one node (lookup.c).  Callers
 * pass fully resolved keys (call.c builds them) and an open Lookup
 * (statement.c); the locking protocol, for one identifier or several, is
 * entirely inside.  The distributed cluster's protocol is dist.c's.
 */
#ifndef ACCOUNT_LOOKUP_H
#define ACCOUNT_LOOKUP_H

#include "postgres.h"

#include "utils/uuid.h"

#include "account.h"
#include "statement.h"

extern bool lookup_find(Lookup *l, const IdentKey *key, pg_uuid_t *account_id);
extern bool lookup_find_or_create(Lookup *l, const IdentKey *key,
								  const pg_uuid_t *attach_to,
								  pg_uuid_t *account_id);
extern bool lookup_create_or_find(Lookup *l, const IdentKey *key,
								  pg_uuid_t *account_id);
extern bool lookup_find_or_create_all(Lookup *l, IdentKey *keys, int nkeys,
									  Resolve *resolve, pg_uuid_t *account_id);
extern bool lookup_lock_account(Lookup *l, const pg_uuid_t *account_id,
								AccountRow *row);

#endif							/* ACCOUNT_LOOKUP_H */
