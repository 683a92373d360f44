/*
 * lookup.c: finding an identifier, and the race-free find-or-create.
 *
 * THE LOCKING PROTOCOL
 * ====================
 *
 * The key is (account_type, id_type, normalized value); the primary key of
 * accounts.identifiers is a unique btree index on it.  find-or-create runs:
 *
 *   1. Probe the index with the statement's MVCC snapshot.  A hit returns
 *      the account; no advisory lock is taken (finding is lock-free).
 *
 *   2. Miss.  In a read-only transaction (or on a hot standby) stop here
 *      with 25006.  Otherwise take the advisory lock for the key:
 *      transaction-level, ExclusiveLock, two-int4 form
 *      (ACCOUNT_LOCK_KEY1, fold32(hash64(key))).  Applications' own
 *      advisory locks would have to use that exact first key to collide.
 *
 *   3. Under the lock, probe again with a dirty snapshot, which also sees
 *      rows of transactions still in progress:
 *        a. a row whose inserter (or deleter) is still in progress: release
 *           the advisory lock, wait for that transaction
 *           (XactLockTableWait, visible in pg_locks as a "transactionid"
 *           wait), then go back to 2;
 *        b. a live row: release the lock and return its account
 *           (created = false), subject to the isolation rules below;
 *        c. nothing: insert the account row, then the identifier row and
 *           its index entries, then release the advisory lock and return
 *           created = true.
 *
 * Why this is race-free: every creator of a key checks and inserts while
 * holding the key's advisory lock, so no two creators are ever between
 * "checked" and "inserted" at once.  Once the creator's index entry exists
 * the lock is no longer needed: later creators see the entry through the
 * dirty snapshot and wait for the creator's transaction to end (3a); if it
 * commits they return its account (3b), if it aborts (or its savepoint is
 * rolled back) the entry is dead and they create (3c).  The unique index is
 * the final guarantee: a hash collision between two keys only makes one
 * creator wait for the other for a moment.
 *
 * Why the advisory lock is released early: a transaction-level lock held to
 * commit costs one shared lock-table entry per identifier, and the default
 * lock table (max_locks_per_transaction = 64) runs out after ~13,000 of
 * them ("out of shared memory").  Releasing it after step 3 means a
 * transaction holds at most one of our advisory locks at any time, so one
 * transaction can create millions of accounts; from then on the identifier's
 * index entry plus the creator's own transaction-id lock (which every
 * writing transaction holds anyway) do the serialising.  The lock is
 * acquired as a transaction lock, so an error between acquiring and
 * releasing it cannot leak it past the transaction: nothing outlives the
 * transaction, which is what makes the function safe behind a transaction
 * pooler.
 *
 * Both tables are written in one go, account row first; an error anywhere
 * (including a cancel) aborts the (sub)transaction and takes both rows with
 * it, so no account is ever left without its identifier.  The account id
 * is fresh (UUIDv7), so the accounts primary key cannot conflict.
 *
 * ISOLATION LEVELS
 * ================
 *
 * READ COMMITTED: step 3b may find a row committed after the statement's
 * snapshot was taken; it is returned.  The call always succeeds (deadlock
 * and lock timeouts apart), the same contract as INSERT ... ON CONFLICT.
 *
 * REPEATABLE READ: the transaction must not act on a row its snapshot
 * cannot see.  If 3b finds a row committed by another transaction that is
 * invisible to the transaction snapshot, the call raises 40001
 * (serialization_failure), as INSERT ... ON CONFLICT DO NOTHING does; the
 * client retries the whole transaction and then finds the account.  Rows
 * the transaction inserted itself are always returned.
 *
 * SERIALIZABLE: as REPEATABLE READ; in addition step 1 is an MVCC index
 * scan, which takes the SSI predicate lock on the btree leaf page, and the
 * insert in 3c checks for conflicts against other readers' predicate locks,
 * so a find that missed and a concurrent create are seen as an rw-conflict.
 *
 * In no case does the function raise 23505: a unique violation would need a
 * second inserter of the key between our dirty probe and our insert, and
 * every inserter goes through the advisory lock.
 */
#include "account.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

/*
 * Probe the identifiers' primary key for key with the given snapshot.  On a
 * hit the tuple is left in slot.
 */
static bool
probe(Relation heap, Relation index, Snapshot snapshot, const IdentKey *key,
	  TupleTableSlot *slot)
{
	ScanKeyData skey[3];
	IndexScanDesc scan;
	bool		found;

	/* index columns: (account_type, id_type, value), all COLLATE "C" */
	ScanKeyInit(&skey[0], 1, BTEqualStrategyNumber, F_TEXTEQ,
				CStringGetTextDatum(key->account_type));
	ScanKeyInit(&skey[1], 2, BTEqualStrategyNumber, F_TEXTEQ,
				CStringGetTextDatum(key->id_type));
	ScanKeyInit(&skey[2], 3, BTEqualStrategyNumber, F_TEXTEQ,
				CStringGetTextDatum(key->value));

	scan = index_beginscan(heap, index, snapshot, 3, 0);
	index_rescan(scan, skey, 3, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	index_endscan(scan);
	return found;
}

static void
slot_account_id(const AccountRels *r, TupleTableSlot *slot, pg_uuid_t *out)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, r->ident_account_id, &isnull);

	if (isnull)
		elog(ERROR, "accounts.identifiers.account_id is null");
	memcpy(out, DatumGetUUIDP(d), sizeof(pg_uuid_t));
}

static Snapshot
statement_snapshot(void)
{
	return ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
}

/*
 * find_account: MVCC lookup only.  Never writes, never locks a row.
 */
bool
ident_lookup(const IdentKey *key, pg_uuid_t *account_id)
{
	const AccountRels *r = account_rels();
	Relation	heap = table_open(r->identifiers, AccessShareLock);
	Relation	index = index_open(r->identifiers_pkey, AccessShareLock);
	TupleTableSlot *slot = table_slot_create(heap, NULL);
	bool		found;

	found = probe(heap, index, statement_snapshot(), key, slot);
	if (found)
		slot_account_id(r, slot, account_id);

	ExecDropSingleTupleTableSlot(slot);
	index_close(index, AccessShareLock);
	table_close(heap, AccessShareLock);
	return found;
}

/* The advisory lock tag of a key: two-int4 form, fixed first key. */
static void
key_locktag(LOCKTAG *tag, const IdentKey *key)
{
	uint64		h;

	h = hash_bytes_extended((const unsigned char *) key->account_type,
							strlen(key->account_type), 0);
	h = hash_combine64(h, hash_bytes_extended((const unsigned char *) key->id_type,
											  strlen(key->id_type), 0));
	h = hash_combine64(h, hash_bytes_extended((const unsigned char *) key->value,
											  strlen(key->value), 0));
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) ACCOUNT_LOCK_KEY1,
						 (uint32) (h ^ (h >> 32)), 2);
}

/*
 * Insert one row into rel and all of its indexes (including any an operator
 * added), the way execReplication.c's ExecSimpleRelationInsert does.  Row
 * triggers are not fired: the only ones on our tables are the foreign-key
 * checks, and the caller inserts rows whose references it has just checked
 * or created.
 */
static void
insert_row(Relation rel, Datum *values, bool *nulls)
{
	EState	   *estate = CreateExecutorState();
	ResultRelInfo *rri = makeNode(ResultRelInfo);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	TupleDesc	desc = RelationGetDescr(rel);

	InitResultRelInfo(rri, rel, 1, NULL, 0);
	ExecOpenIndices(rri, false);

	ExecClearTuple(slot);
	memcpy(slot->tts_values, values, sizeof(Datum) * desc->natts);
	memcpy(slot->tts_isnull, nulls, sizeof(bool) * desc->natts);
	ExecStoreVirtualTuple(slot);

	table_tuple_insert(rel, slot, GetCurrentCommandId(true), 0, NULL);
	if (rri->ri_NumIndices > 0)
		ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL);

	ExecCloseIndices(rri);
	ExecDropSingleTupleTableSlot(slot);
	FreeExecutorState(estate);
}

/* Step 3c: a new account holding key. */
static void
create_account(const AccountRels *r, Relation ident_heap, const IdentKey *key,
			   pg_uuid_t *account_id)
{
	Relation	acc_heap = table_open(r->accounts, RowExclusiveLock);
	TupleDesc	acc_desc = RelationGetDescr(acc_heap);
	TupleDesc	ident_desc = RelationGetDescr(ident_heap);
	Datum	   *values;
	bool	   *nulls;
	Datum		now = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	Datum		account_type = CStringGetTextDatum(key->account_type);

	account_uuidv7(account_id);

	values = palloc0(sizeof(Datum) * Max(acc_desc->natts, ident_desc->natts));
	nulls = palloc(sizeof(bool) * Max(acc_desc->natts, ident_desc->natts));

	memset(nulls, true, sizeof(bool) * acc_desc->natts);
	values[r->acc_id - 1] = UUIDPGetDatum(account_id);
	nulls[r->acc_id - 1] = false;
	values[r->acc_type - 1] = account_type;
	nulls[r->acc_type - 1] = false;
	values[r->acc_created_at - 1] = now;
	nulls[r->acc_created_at - 1] = false;
	insert_row(acc_heap, values, nulls);
	table_close(acc_heap, NoLock);

	memset(nulls, true, sizeof(bool) * ident_desc->natts);
	values[r->ident_account_type - 1] = account_type;
	nulls[r->ident_account_type - 1] = false;
	values[r->ident_id_type - 1] = CStringGetTextDatum(key->id_type);
	nulls[r->ident_id_type - 1] = false;
	values[r->ident_value - 1] = CStringGetTextDatum(key->value);
	nulls[r->ident_value - 1] = false;
	values[r->ident_account_id - 1] = UUIDPGetDatum(account_id);
	nulls[r->ident_account_id - 1] = false;
	values[r->ident_created_at - 1] = now;
	nulls[r->ident_created_at - 1] = false;
	insert_row(ident_heap, values, nulls);
}

static void
raise_read_only(const IdentKey *key)
{
	ereport(ERROR,
			(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
			 errmsg("cannot create an account for %s \"%s\" of account type \"%s\" in a read-only transaction",
					key->id_type, key->value, key->account_type),
			 errdetail("No account has this identifier yet."),
			 RecoveryInProgress() ?
			 errhint("This server is a hot standby; call the primary to create accounts.") :
			 errhint("Run it in a read-write transaction, or use accounts.find_account() to only look.")));
}

/*
 * find_or_create_account: the protocol in the header comment.  Returns true
 * if this call created the account.
 */
bool
ident_find_or_create(const IdentKey *key, pg_uuid_t *account_id)
{
	const AccountRels *r = account_rels();
	Relation	heap;
	Relation	index;
	TupleTableSlot *slot;
	Snapshot	snapshot = statement_snapshot();
	LOCKTAG		tag;
	bool		created = false;

	heap = table_open(r->identifiers, RowExclusiveLock);
	index = index_open(r->identifiers_pkey, RowExclusiveLock);
	slot = table_slot_create(heap, NULL);

	/* 1. lock-free MVCC probe */
	if (probe(heap, index, snapshot, key, slot))
	{
		slot_account_id(r, slot, account_id);
		goto done;
	}

	/* 2. a creator from here on */
	if (XactReadOnly)
		raise_read_only(key);

	key_locktag(&tag, key);
	for (;;)
	{
		SnapshotData dirty;
		TransactionId xwait;

		CHECK_FOR_INTERRUPTS();
		(void) LockAcquire(&tag, ExclusiveLock, false, false);

		/* 3. probe again, seeing in-progress rows too */
		InitDirtySnapshot(dirty);
		if (!probe(heap, index, &dirty, key, slot))
		{
			/* 3c */
			create_account(r, heap, key, account_id);
			LockRelease(&tag, ExclusiveLock, false);
			created = true;
			break;
		}

		LockRelease(&tag, ExclusiveLock, false);
		xwait = TransactionIdIsValid(dirty.xmin) ? dirty.xmin : dirty.xmax;
		if (TransactionIdIsValid(xwait))
		{
			/* 3a: wait for the other creator (or deleter) to finish */
			XactLockTableWait(xwait, heap, &slot->tts_tid, XLTW_InsertIndex);
			continue;
		}

		/* 3b: a committed row, or one of our own transaction */
		if (IsolationUsesXactSnapshot())
		{
			bool		isnull;
			TransactionId xmin;

			xmin = DatumGetTransactionId(slot_getsysattr(slot,
														 MinTransactionIdAttributeNumber,
														 &isnull));
			if (!TransactionIdIsCurrentTransactionId(xmin) &&
				!table_tuple_satisfies_snapshot(heap, slot, snapshot))
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent creation of account for %s \"%s\" of account type \"%s\"",
								key->id_type, key->value, key->account_type),
						 errdetail("Another transaction created the account after this transaction's snapshot was taken."),
						 errhint("Retry the transaction; it will find the account.")));
		}
		slot_account_id(r, slot, account_id);
		break;
	}

done:
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, NoLock);
	table_close(heap, NoLock);
	return created;
}
