/*
 * rowlock.c: the row locks the foreign-key checks would take.
 *
 *   rowlock_type()          an identifier type's registry row, FOR KEY SHARE,
 *                           before creating an identifier of it
 *   rowlock_account()       an account's row, FOR KEY SHARE, before
 *                           attaching an identifier to it
 *   rowlock_key_share()     the same lock on any table's row (the distributed
 *                           path's copy of the registry, dist.c)
 *   rowlock_check_unseen()  merging and redacting under REPEATABLE READ: an
 *                           attach the snapshot cannot see is 40001
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_am_d.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "node.h"
#include "rowlock.h"
#include "rules.h"

/*
 * ROW LOCKS: WHAT THE FOREIGN-KEY CHECKS WOULD LOCK
 * =================================================
 *
 * The inserts above fire no foreign-key triggers, so this file takes the
 * row locks those triggers would take, with the same FOR KEY SHARE
 * semantics (RI_FKey_check's SELECT ... FOR KEY SHARE):
 *
 *   - before creating an identifier: the identifier_types row of its type
 *     (rowlock_type).  drop_identifier_type() and drop_account_type()
 *     lock those rows FOR UPDATE before they look for users of the type, so
 *     a drop waits for every creator in progress and every later creator
 *     waits for the drop, then finds the type gone (42704; 40001 under
 *     REPEATABLE READ).  A creator never waits for a drop that is itself
 *     waiting (KEY SHARE lockers pass a queued FOR UPDATE), and a finder
 *     takes no lock at all, so registry maintenance never stalls lookups.
 *     A new account always gets an identifier, so the lock on its type's
 *     row also protects the account type.
 *   - before attaching an identifier to an existing account: that account's
 *     row (rowlock_account).  A DELETE of the account then waits for the
 *     attaching transaction and its ON DELETE CASCADE sees the new
 *     identifier; an attach after a DELETE finds no row (or, under
 *     REPEATABLE READ, a row deleted after its snapshot: 40001, exactly as
 *     PostgreSQL's own foreign-key check raises).
 *
 * Isolation levels: under READ COMMITTED the row is looked up with a fresh
 * snapshot and the lock follows its update chain; under REPEATABLE READ and
 * SERIALIZABLE it is looked up with the transaction snapshot and a
 * concurrent delete or key update raises 40001.
 *
 * A (sub)transaction that holds the lock on a type's row keeps it until it
 * ends; lock_memo remembers the last one so that a statement making many
 * calls (or a bulk call) locks it once.  It is forgotten at the end of the
 * transaction, and is valid only in the subtransaction that took it
 * (subtransaction ids are never reused within a transaction).
 */
static struct
{
	bool		valid;
	SubTransactionId subid;
	Oid			relid;
	char		account_type[ACCOUNT_MAX_NAME_BYTES + 1];
	char		id_type[ACCOUNT_MAX_NAME_BYTES + 1];
	int32		limit;			/* the locked version's max_per_account */
}			lock_memo;

static bool xact_callback_registered = false;

static void
forget_lock_memo(XactEvent event pg_attribute_unused(), void *arg pg_attribute_unused())
{
	lock_memo.valid = false;
}

typedef enum RowLockResult
{
	ROW_LOCKED,
	ROW_MISSING,
	ROW_WOULD_BLOCK
} RowLockResult;

/*
 * Find the row with the given primary-key values and lock it FOR KEY
 * SHARE; the locked version is left in slot.
 *
 * The flags are those of SELECT ... FOR KEY SHARE (nodeLockRows.c).
 * TUPLE_LOCK_FLAG_LOCK_UPDATE_IN_PROGRESS matters: a KEY SHARE lock does
 * not wait for a concurrent no-key update (tag_account(), archive), and
 * without the flag it would lock only the old version, so a merge that
 * locked the new version FOR UPDATE once that update committed would not
 * wait for us, and would miss the identifier we attach (found by the
 * many-client lifecycle run, test/t/014_lifecycle.pl).  With it the lock
 * is carried to the new version too.
 */
static RowLockResult
lock_row(Relation heap, ScanKey skey, int nkeys, TupleTableSlot *slot,
		 bool wait, const char *what)
{
	bool		xact_snapshot = IsolationUsesXactSnapshot();
	Snapshot	snapshot = xact_snapshot ? GetTransactionSnapshot() : GetLatestSnapshot();
	TM_FailureData tmfd;
	TM_Result	res;

	if (!catalog_pkey_fetch(heap, skey, nkeys, snapshot, slot))
		return ROW_MISSING;

	res = table_tuple_lock(heap, &slot->tts_tid, snapshot, slot,
						   GetCurrentCommandId(false), LockTupleKeyShare,
						   wait ? LockWaitBlock : LockWaitSkip,
						   TUPLE_LOCK_FLAG_LOCK_UPDATE_IN_PROGRESS |
						   (xact_snapshot ? 0 : TUPLE_LOCK_FLAG_FIND_LAST_VERSION),
						   &tmfd);
	switch (res)
	{
		case TM_Ok:
			return ROW_LOCKED;
		case TM_WouldBlock:
			return ROW_WOULD_BLOCK;
		case TM_SelfModified:
		case TM_Invisible:
			/* deleted by this very transaction */
			return ROW_MISSING;
		case TM_Updated:
		case TM_Deleted:
			if (xact_snapshot)
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent change of %s", what),
						 errdetail("Another transaction changed or deleted it after this transaction's snapshot was taken."),
						 errhint("Retry the transaction.")));
			return ROW_MISSING;
		default:
			break;
	}
	elog(ERROR, "unexpected table_tuple_lock result %d", (int) res);
	return ROW_MISSING;			/* keep compiler quiet */
}

/* Is the text column attnum of slot equal to the NUL-terminated s? */
static bool
slot_text_equals(TupleTableSlot *slot, AttrNumber attnum, const char *s)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, attnum, &isnull);

	return !isnull && catalog_text_equals(DatumGetTextPP(d), s);
}

/*
 * The limit (max_per_account, 1.8) of a locked identifier_types row, or of
 * a Citus node's copy of it: 0 for none, or where the column does not
 * exist yet.
 */
int32
rowlock_slot_limit(TupleTableSlot *slot, AttrNumber attnum)
{
	bool		isnull;
	Datum		d;

	if (attnum == InvalidAttrNumber)
		return 0;
	d = slot_getattr(slot, attnum, &isnull);
	return isnull ? 0 : DatumGetInt32(d);
}

/*
 * Lock key's identifier_types row FOR KEY SHARE (see ROW LOCKS above), or
 * raise 42704 if the type was dropped since it was resolved.  Returns the
 * type's limit (0: none) as the locked version has it: the current one,
 * whatever the cache said, because a limit is a key column
 * (sql/parts/10_tables.sql, THE LIMIT IS A KEY): a change committed before
 * the lock is the version found (READ COMMITTED: the lock follows the
 * update chain to it; REPEATABLE READ: a change after the snapshot is
 * 40001), and none can commit while the lock is held.
 */
int32
rowlock_type(Lookup *s, const IdentKey *key)
{
	SubTransactionId subid = GetCurrentSubTransactionId();
	Relation	heap;
	TupleTableSlot *slot;
	ScanKeyData skey[2];
	RowLockResult res;
	int32		limit = 0;

	if (lock_memo.valid && lock_memo.subid == subid &&
		lock_memo.relid == s->rels->identifier_types &&
		strcmp(lock_memo.account_type, key->account_type) == 0 &&
		strcmp(lock_memo.id_type, key->id_type) == 0)
		return lock_memo.limit;

	if (!xact_callback_registered)
	{
		RegisterXactCallback(forget_lock_memo, NULL);
		xact_callback_registered = true;
	}

	heap = catalog_table_open(s->rels->identifier_types, RowShareLock);
	slot = table_slot_create(heap, NULL);
	ScanKeyInit(&skey[0], 1, BTEqualStrategyNumber, F_TEXTEQ, key->account_type_d);
	ScanKeyInit(&skey[1], 2, BTEqualStrategyNumber, F_TEXTEQ, key->id_type_d);
	res = lock_row(heap, skey, 2, slot, true, "an identifier type");
	/* a followed update chain may end at a renamed row */
	if (res == ROW_LOCKED &&
		(!slot_text_equals(slot, s->rels->itype_account_type, key->account_type) ||
		 !slot_text_equals(slot, s->rels->itype_name, key->id_type)))
		res = ROW_MISSING;
	if (res == ROW_LOCKED)
		limit = rowlock_slot_limit(slot, s->rels->itype_max_per_account);
	ExecDropSingleTupleTableSlot(slot);
	table_close(heap, NoLock);
	if (res != ROW_LOCKED)
		rule_type_dropped(key);

	lock_memo.valid = true;
	lock_memo.subid = subid;
	lock_memo.relid = s->rels->identifier_types;
	strlcpy(lock_memo.account_type, key->account_type, sizeof(lock_memo.account_type));
	strlcpy(lock_memo.id_type, key->id_type, sizeof(lock_memo.id_type));
	lock_memo.limit = limit;
	return limit;
}

/*
 * Lock the row of heap with the given primary-key values FOR KEY SHARE,
 * with the protocol of lock_row() (waiting; 40001 under REPEATABLE READ if
 * it changed after the snapshot); false if there is none.  The locked
 * version is left in slot.  For the distributed path's registry (dist.c:
 * this node's copy of a reference table, a relation of its own).
 */
bool
rowlock_key_share(Relation heap, ScanKey skey, int nkeys, TupleTableSlot *slot,
					  const char *what)
{
	return lock_row(heap, skey, nkeys, slot, true, what) == ROW_LOCKED;
}

/* The lifecycle columns of a locked account row (1.3; active before). */
static void
slot_account_row(Lookup *s, TupleTableSlot *slot, AccountRow *row)
{
	const AccountRels *r = s->rels;
	bool		isnull;
	Datum		d;

	d = slot_getattr(slot, r->acc_type, &isnull);
	row->account_type = isnull ? NULL : TextDatumGetCString(d);
	row->status = ACCOUNT_ACTIVE;
	memset(&row->merged_into, 0, sizeof(pg_uuid_t));
	if (r->acc_status == InvalidAttrNumber)
		return;
	d = slot_getattr(slot, r->acc_status, &isnull);
	if (isnull)
		return;
	if (DatumGetObjectId(d) == r->status_archived)
		row->status = ACCOUNT_ARCHIVED;
	else if (DatumGetObjectId(d) == r->status_redacted)
		row->status = ACCOUNT_REDACTED;
	else if (DatumGetObjectId(d) == r->status_merged)
	{
		row->status = ACCOUNT_MERGED;
		d = slot_getattr(slot, r->acc_merged_into, &isnull);
		if (!isnull)
			memcpy(&row->merged_into, DatumGetUUIDP(d), sizeof(pg_uuid_t));
	}
}

/*
 * The status of a row locked FOR KEY SHARE is read from its latest
 * committed version, not from the version the lock was taken on.  A KEY
 * SHARE lock conflicts only with FOR UPDATE and with updates that change
 * the key; a merge's or redaction's UPDATE of status and merged_into
 * changes no key column, so it is a NO KEY UPDATE, and heap_lock_tuple()
 * succeeds (TM_Ok) on the version it found even when that version was
 * updated by a transaction that committed meanwhile: it carries the lock
 * forward to the newer versions (heap_lock_updated_tuple()), but the slot
 * holds the old, still "active" row.  test/t/014_lifecycle.pl showed it,
 * about one run in fifteen: an identifier attached to an account that a
 * merge or redaction had already finished with.  So the row is looked up
 * again with a snapshot taken after the lock: if the latest committed
 * version is another one, under READ COMMITTED its status is the one that
 * counts, and under REPEATABLE READ the row changed after the snapshot,
 * so 40001, as for any concurrent change of the row.
 */
static void
latest_account_row(Lookup *s, Relation heap, ScanKey skey, TupleTableSlot *locked,
				   AccountRow *row)
{
	TupleTableSlot *latest = table_slot_create(heap, NULL);
	bool		found = catalog_pkey_fetch(heap, skey, 1, GetLatestSnapshot(), latest);

	if (!found || ItemPointerEquals(&latest->tts_tid, &locked->tts_tid))
		slot_account_row(s, locked, row);
	else if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access due to concurrent change of an account"),
				 errdetail("Another transaction changed the account after this transaction's snapshot was taken."),
				 errhint("Retry the transaction.")));
	else
		slot_account_row(s, latest, row);
	ExecDropSingleTupleTableSlot(latest);
}

/*
 * Lock account_id's row FOR KEY SHARE (see ROW LOCKS above) and return its
 * type and status in *row.  With wait = false, ACCOUNT_WOULD_BLOCK instead
 * of waiting for a conflicting lock.
 *
 * merge_accounts() and redact_account() lock their accounts FOR UPDATE,
 * which conflicts with this lock: an attach waits for them and then sees
 * the account's new status (READ COMMITTED follows the update chain) or
 * fails with 40001 (REPEATABLE READ); a merge or redaction waits for the
 * attaching transaction and then moves or erases what it attached (see
 * rowlock_check_unseen()).
 */
AccountLockResult
rowlock_account(Lookup *s, const pg_uuid_t *account_id, bool wait,
			 AccountRow *row)
{
	Relation	heap = catalog_table_open(s->rels->accounts, RowShareLock);
	TupleTableSlot *slot = table_slot_create(heap, NULL);
	ScanKeyData skey;
	RowLockResult res;

	ScanKeyInit(&skey, 1, BTEqualStrategyNumber, F_UUID_EQ,
				UUIDPGetDatum(account_id));
	res = lock_row(heap, &skey, 1, slot, wait, "an account");
	if (res == ROW_LOCKED)
		latest_account_row(s, heap, &skey, slot, row);
	ExecDropSingleTupleTableSlot(slot);
	table_close(heap, NoLock);
	switch (res)
	{
		case ROW_LOCKED:
			return ACCOUNT_LOCKED;
		case ROW_WOULD_BLOCK:
			return ACCOUNT_WOULD_BLOCK;
		case ROW_MISSING:
			break;
	}
	return ACCOUNT_MISSING;
}

/*
 * For merge_accounts() and redact_account(), after they locked their
 * accounts FOR UPDATE: under REPEATABLE READ and SERIALIZABLE, raise 40001
 * if an identifier of one of the accounts was attached by a transaction
 * that committed after this transaction's snapshot was taken.
 *
 * Why: an attach holds the account row FOR KEY SHARE and does not change
 * the row, so locking it FOR UPDATE afterwards raises no serialization
 * failure, yet the transaction snapshot cannot see the attached identifier;
 * a merge would leave it on the merged account, a redaction would leave it
 * on the redacted one.  PostgreSQL's ON DELETE CASCADE has the same problem
 * and solves it the same way (ri_triggers.c, detectNewRows: scan with a
 * fresh snapshot, check each row against the transaction snapshot).  Under
 * READ COMMITTED each later statement of the caller takes a new snapshot,
 * which sees every attach that committed before the lock was granted, and
 * no attach can start while it is held.
 */
void
rowlock_check_unseen(const pg_uuid_t *account_ids, int nids)
{
	const AccountRels *r;
	Relation	heap;
	Oid			index = InvalidOid;
	List	   *indexes;
	ListCell   *lc;
	Snapshot	xact_snapshot;
	Snapshot	latest;

	node_refuse_undistributed();
	if (node_is_distributed())
		node_refuse_distributed("this call");
	if (!IsolationUsesXactSnapshot())
		return;
	r = catalog_rels();
	heap = catalog_table_open(r->identifiers, AccessShareLock);
	/* an index led by account_id, if there is a valid one */
	indexes = RelationGetIndexList(heap);
	foreach(lc, indexes)
	{
		Relation	ind = index_open(lfirst_oid(lc), AccessShareLock);
		bool		usable = ind->rd_index->indisvalid &&
			ind->rd_index->indkey.values[0] == r->ident_account_id &&
			ind->rd_rel->relam == BTREE_AM_OID;

		index_close(ind, AccessShareLock);
		if (usable)
		{
			index = lfirst_oid(lc);
			break;
		}
	}
	list_free(indexes);

	xact_snapshot = GetTransactionSnapshot();
	latest = RegisterSnapshot(GetLatestSnapshot());
	for (int i = 0; i < nids; i++)
	{
		ScanKeyData skey;
		SysScanDesc scan;

		ScanKeyInit(&skey, r->ident_account_id, BTEqualStrategyNumber, F_UUID_EQ,
					UUIDPGetDatum(&account_ids[i]));
		scan = systable_beginscan(heap, index, OidIsValid(index), latest, 1, &skey);
		while (systable_getnext(scan) != NULL)
		{
			bool		isnull;
			TransactionId xmin;

			xmin = DatumGetTransactionId(slot_getsysattr(scan->slot,
														 MinTransactionIdAttributeNumber,
														 &isnull));
			if (TransactionIdIsCurrentTransactionId(xmin) ||
				table_tuple_satisfies_snapshot(heap, scan->slot, xact_snapshot))
				continue;
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not serialize access due to a concurrent change of the identifiers of account %s",
							rule_uuid_text(&account_ids[i])),
					 errdetail("Another transaction attached an identifier to it after this transaction's snapshot was taken."),
					 errhint("Retry the transaction.")));
		}
		systable_endscan(scan);
	}
	UnregisterSnapshot(latest);
	table_close(heap, NoLock);
}
