/*
 * prepare.c: who may prepare a transaction that changed accounts.
 *
 *   prepare_init()   the transaction callback (_PG_init)
 *
 * PREPARED TRANSACTIONS
 * =====================
 *
 * A prepared transaction keeps its locks and its uncommitted rows until
 * someone runs COMMIT PREPARED or ROLLBACK PREPARED, across disconnects
 * and restarts; it is in no pg_stat_activity row and no timeout ends it.
 * One that appended an event holds back every reader of the change
 * journal after that event (journal.c, THE JOURNAL: a reader stops at a
 * seq whose writer has not finished), and on a distributed cluster one
 * that holds a lock on the extension's tables is waited for by settling
 * (settle.c).  So a role that may only call the functions must not be
 * able to leave one behind.
 *
 * THE RULE: PREPARE TRANSACTION of a transaction that holds RowExclusiveLock
 * or stronger on a relation of schema accounts or accounts_internal (it
 * inserted, updated or deleted rows there: accounts, identifiers, the
 * journal, the shards of a distributed cluster) is refused with 42501,
 * and the transaction is rolled back, unless the current user is a
 * superuser or has the rights of the extension's owner.  Citus prepares
 * its parts of a distributed transaction on connections as the owner
 * (dist.c), so two-phase commit across nodes is unaffected.  The check
 * runs only at PREPARE (XACT_EVENT_PRE_PREPARE), and only for other roles:
 * it costs nothing anywhere else.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"

#include "node.h"
#include "prepare.h"

/* Does this backend hold a write lock on a relation of the extension? */
static bool
holds_write_lock(void)
{
	Oid			ns = get_namespace_oid("accounts", true);
	Oid			internal_ns = get_namespace_oid("accounts_internal", true);
	LockData   *locks;
	bool		found = false;

	if (!OidIsValid(ns) && !OidIsValid(internal_ns))
		return false;
	locks = GetLockStatusData();
	for (int i = 0; i < locks->nelements && !found; i++)
	{
		LockInstanceData *l = &locks->locks[i];
		Oid			rel_ns;

		if (l->pid != MyProcPid || l->locktag.locktag_type != LOCKTAG_RELATION ||
			l->locktag.locktag_field1 != MyDatabaseId)
			continue;
		/* RowExclusiveLock or any stronger mode */
		if ((l->holdMask & ~(LOCKBIT_ON(AccessShareLock) | LOCKBIT_ON(RowShareLock))) == 0)
			continue;
		rel_ns = get_rel_namespace((Oid) l->locktag.locktag_field2);
		found = OidIsValid(rel_ns) && (rel_ns == ns || rel_ns == internal_ns);
	}
	return found;
}

static void
prepare_xact_callback(XactEvent event, void *arg pg_attribute_unused())
{
	Oid			user = GetUserId();

	if (event != XACT_EVENT_PRE_PREPARE || superuser_arg(user))
		return;
	if (!holds_write_lock())
		return;
	if (has_privs_of_role(user, node_extension_owner()))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to prepare a transaction that changed accounts"),
			 errdetail("A prepared transaction holds back every reader of the change journal until it is committed or rolled back, also after a restart."),
			 errhint("Use COMMIT instead; only the extension's owner may prepare such a transaction.")));
}

void
prepare_init(void)
{
	RegisterXactCallback(prepare_xact_callback, NULL);
}
