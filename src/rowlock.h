/*
 * rowlock.h: the row locks the foreign keys would take, which the C
 * writers take instead (rowlock.c), on one node and on this node's copy of
 * the registry on Citus; and the REPEATABLE READ check of merging and
 * redacting.  Below the protocols, above catalog.c.
 */
#ifndef ACCOUNT_ROWLOCK_H
#define ACCOUNT_ROWLOCK_H

#include "postgres.h"

#include "access/skey.h"
#include "executor/tuptable.h"
#include "utils/relcache.h"

#include "account.h"
#include "statement.h"

/* What rowlock_account() found. */
typedef enum AccountLockResult
{
	ACCOUNT_LOCKED,				/* KEY SHARE held; *row set */
	ACCOUNT_MISSING,			/* no such account (or deleted meanwhile) */
	ACCOUNT_WOULD_BLOCK			/* only when !wait */
} AccountLockResult;

extern int32 rowlock_type(Lookup *l, const IdentKey *key);
extern int32 rowlock_slot_limit(TupleTableSlot *slot, AttrNumber attnum);
extern AccountLockResult rowlock_account(Lookup *l, const pg_uuid_t *account_id,
										 bool wait, AccountRow *row);
extern bool rowlock_key_share(Relation heap, ScanKey skey, int nkeys,
							  TupleTableSlot *slot, const char *what);
extern void rowlock_check_unseen(const pg_uuid_t *account_ids, int nids);

#endif							/* ACCOUNT_ROWLOCK_H */
