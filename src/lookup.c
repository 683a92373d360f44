/*
 * lookup.c: finding an identifier, and the race-free find-or-create.
 *
 * THE LOCKING PROTOCOL
 * ====================
 *
 * The key is (account_type, id_type, normalized value); the primary key of
 * accounts.identifiers is a unique btree index on it, value first.  find-or-create runs:
 *
 *   1. Probe the index with the statement's MVCC snapshot.  A hit returns
 *      the account; no advisory lock is taken (finding is lock-free).
 *
 *   2. Miss.  In a read-only transaction (or on a hot standby) stop here
 *      with 25006.  Otherwise take the key's lock: transaction-level,
 *      ExclusiveLock, on an advisory-type tag (ACCOUNT_LOCK_KEY1,
 *      fold32(hash64(key)), ACCOUNT_LOCK_FIELD4) that no SQL function can
 *      take or hold, so applications' advisory locks never collide with it.
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
 *
 * SEVERAL IDENTIFIERS AT ONCE
 * ===========================
 *
 * find_or_create_account(type, identifiers[]) (lookup_find_or_create_all)
 * runs the same steps over a set of keys:
 *
 *   1. Sort the keys into one canonical order (identifier type, then
 *      value) and drop duplicates.  Probe them all with the statement's
 *      MVCC snapshot, taking no lock.  All found on one account: return
 *      it.  Found on two or more accounts: 21000, nothing written.
 *   2. Otherwise take the key locks of all of them, in the canonical
 *      order, and probe again with a dirty snapshot.  A row in progress in
 *      another transaction: release every lock, wait for it, start over.
 *      Rows on two or more accounts: release, 21000.  On one account:
 *      attach the missing identifiers to it.  On none: create one account
 *      holding all of them.  Then release the locks.
 *
 * Taking the locks in one order means concurrent callers passing the same
 * identifiers in any order never deadlock on them; while holding them a
 * caller waits for nothing else (it releases them before waiting for a
 * transaction or for an account's row), so the locks cannot be part of a
 * cycle.  A transaction holds at most LOOKUP_MAX_KEYS of them at once and
 * none after the call.  The isolation-level rules are those of the single
 * form.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_type_d.h"
#include "utils/array.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "lib/ilist.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "lookup.h"
#include "uuidv7.h"

/*
 * The key locks are advisory-type lock tags that the SQL functions cannot
 * produce: pg_advisory_lock() and friends only ever set the fourth field to
 * 1 (bigint key) or 2 (two int4 keys).  pg_locks shows ours as locktype
 * advisory, classid = 1094927188 ("ACCT"), objsubid = 16707 ("AC").  No
 * role, however unprivileged, can take or hold one from SQL, so nobody can
 * squat on an identifier's lock.
 */
#define ACCOUNT_LOCK_KEY1		0x41434354
#define ACCOUNT_LOCK_FIELD4		0x4143

/* What probe_locked() found. */
typedef enum ProbeResult
{
	PROBE_NONE,					/* no row: create it */
	PROBE_WAIT,					/* another transaction's row is in progress */
	PROBE_FOUND					/* a committed row, or our own */
} ProbeResult;

/* What lock_account() found. */
typedef enum AccountLockResult
{
	ACCOUNT_LOCKED,				/* KEY SHARE held; *account_type set */
	ACCOUNT_MISSING,			/* no such account (or deleted meanwhile) */
	ACCOUNT_WOULD_BLOCK			/* only when !wait */
} AccountLockResult;

/*
 * Probe the identifiers' primary key for key with the given snapshot.  On a
 * hit the tuple is left in slot.
 */
static bool
probe(Lookup *s, Snapshot snapshot, const IdentKey *key)
{
	ScanKeyData skey[3];
	IndexScanDesc scan;
	bool		found;

	/* index columns: (value, id_type, account_type), all COLLATE "C" */
	ScanKeyInit(&skey[0], 1, BTEqualStrategyNumber, F_TEXTEQ, key->value_d);
	ScanKeyInit(&skey[1], 2, BTEqualStrategyNumber, F_TEXTEQ, key->id_type_d);
	ScanKeyInit(&skey[2], 3, BTEqualStrategyNumber, F_TEXTEQ, key->account_type_d);

	scan = compat_index_beginscan(s->ident_heap, s->ident_index, snapshot, 3);
	index_rescan(scan, skey, 3, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, s->slot);
	index_endscan(scan);
	return found;
}

static void
slot_account_id(Lookup *s, pg_uuid_t *out)
{
	bool		isnull;
	Datum		d = slot_getattr(s->slot, s->rels->ident_account_id, &isnull);

	if (isnull)
		elog(ERROR, "accounts.identifiers.account_id is null");
	memcpy(out, DatumGetUUIDP(d), sizeof(pg_uuid_t));
}

/*
 * KEEPING THE RELATIONS OPEN FOR A STATEMENT
 * ==========================================
 *
 * A query calls find_or_create_account() once per row.  Opening the tables,
 * their indexes and an executor state for every call costs more than the
 * lookup itself on the miss path (ExecOpenIndices builds an IndexInfo per
 * index per call, a partial index compiles its predicate), where a plain
 * INSERT ... SELECT does it once per statement.  So a call site (an
 * FmgrInfo: call.c's CallState, trigger.c's per-statement config) may pass
 * a LookupCache, which keeps the opened state from one call to the next.
 *
 * Relation references belong to a resource owner and must be closed under
 * it before it is released.  The cache opens everything under a resource
 * owner of its own, a child of the (sub)transaction's, so that neither a
 * portal ending nor a plpgsql expression outliving a statement can release
 * them behind its back.  It is reused only within the subtransaction that
 * opened it and while the catalog generation is unchanged (no DDL on the
 * tables since), and it is closed, and its resource owner released (its
 * locks go to the subtransaction, so they are still held to the end):
 *   - when the call site's memory context goes away (ExecutorEnd for a
 *     query, the end of the transaction for a plpgsql expression);
 *   - before the subtransaction that opened it commits, and before the
 *     transaction commits or prepares;
 * on an abort of that subtransaction or the transaction it is forgotten:
 * the abort releases and deletes its resource owner with the rest.  Buffer
 * pins are never kept from one call to the next (lookup_end() clears the
 * probe slot), so a call's pins belong to the call's own resource owner.
 *
 * An open reference makes DDL on the table refuse to run in this session
 * ("is being used by active queries", 55006), so nothing is kept past the
 * top-level statement either: an ExecutorEnd hook closes every cache not in
 * use when a top-level query ends.  (A plpgsql function's expressions
 * live until the end of the transaction; without the hook, TRUNCATE or
 * DROP EXTENSION later in the same transaction would fail.)  A DDL command
 * on the tables run from inside a statement that is calling these functions
 * still gets 55006, as it would for a table that statement reads.
 */
typedef enum CacheState
{
	CACHE_EMPTY,				/* nothing open */
	CACHE_OPEN,					/* held is open, under owner */
	CACHE_IN_USE				/* a call is using held right now */
} CacheState;

struct LookupCache
{
	MemoryContext mem;			/* held's memory, a child of the subtransaction's */
	CacheState	state;
	Lookup		held;
	bool		for_write;
	ResourceOwner owner;		/* ours, a child of the subtransaction's */
	SubTransactionId subid;
	uint64		generation;
	dlist_node	node;			/* in open_caches while not CACHE_EMPTY */
};

static dlist_head open_caches = DLIST_STATIC_INIT(open_caches);
static bool cache_callbacks_registered = false;
static ExecutorRun_hook_type prev_executor_run = NULL;
static ExecutorFinish_hook_type prev_executor_finish = NULL;
static ExecutorEnd_hook_type prev_executor_end = NULL;
static int	executor_depth = 0;

static void close_lookup(Lookup *s);
static void open_inserts(Lookup *s);

/* Close the cache's relations and release its resource owner. */
static void
cache_close(LookupCache *c)
{
	ResourceOwner save = CurrentResourceOwner;
	ResourceOwner owner = c->owner;
	MemoryContext mem = c->mem;

	if (c->state == CACHE_EMPTY)
		return;
	dlist_delete(&c->node);
	c->state = CACHE_EMPTY;
	c->owner = NULL;
	CurrentResourceOwner = owner;
	PG_TRY();
	{
		close_lookup(&c->held);
	}
	PG_FINALLY();
	{
		CurrentResourceOwner = save;
	}
	PG_END_TRY();
	/* isCommit: hand the locks to the subtransaction, which holds them on */
	ResourceOwnerRelease(owner, RESOURCE_RELEASE_BEFORE_LOCKS, true, false);
	ResourceOwnerRelease(owner, RESOURCE_RELEASE_LOCKS, true, false);
	ResourceOwnerRelease(owner, RESOURCE_RELEASE_AFTER_LOCKS, true, false);
	ResourceOwnerDelete(owner);
	MemoryContextDelete(mem);
}

/*
 * Forget the cache: an abort releases and deletes its resource owner, and
 * its memory with the subtransaction's.
 */
static void
cache_forget(LookupCache *c)
{
	if (c->state == CACHE_EMPTY)
		return;
	dlist_delete(&c->node);
	c->state = CACHE_EMPTY;
	c->owner = NULL;
}

static void
cache_xact_callback(XactEvent event, void *arg pg_attribute_unused())
{
	dlist_mutable_iter it;

	dlist_foreach_modify(it, &open_caches)
	{
		LookupCache *c = dlist_container(LookupCache, node, it.cur);

		if (event == XACT_EVENT_PRE_COMMIT || event == XACT_EVENT_PARALLEL_PRE_COMMIT ||
			event == XACT_EVENT_PRE_PREPARE)
			cache_close(c);
		else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
			cache_forget(c);
	}
}

static void
cache_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid pg_attribute_unused(),
					   void *arg pg_attribute_unused())
{
	dlist_mutable_iter it;

	dlist_foreach_modify(it, &open_caches)
	{
		LookupCache *c = dlist_container(LookupCache, node, it.cur);

		if (c->subid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_PRE_COMMIT_SUB)
			cache_close(c);
		else if (event == SUBXACT_EVENT_ABORT_SUB)
			cache_forget(c);
	}
}

/* Close every cache that no call is using (the statement ended). */
static void
close_idle_caches(void)
{
	dlist_mutable_iter it;

	dlist_foreach_modify(it, &open_caches)
	{
		LookupCache *c = dlist_container(LookupCache, node, it.cur);

		if (c->state == CACHE_OPEN)
			cache_close(c);
	}
}

/*
 * Statement nesting, as pg_stat_statements counts it: ExecutorRun and
 * ExecutorFinish of a query run at depth 0 for a top-level statement and
 * deeper for every query inside it (plpgsql, SPI, triggers).  An error
 * cannot leave the count wrong (PG_FINALLY).  An ExecutorEnd at depth 0 is
 * the end of a top-level query, or of a query run directly by a utility
 * command (DO, CALL); either way no call of ours is between two rows.
 */
static void
cache_executor_run(COMPAT_RUN_ARGS)
{
	executor_depth++;
	PG_TRY();
	{
		if (prev_executor_run)
			prev_executor_run(COMPAT_RUN_PASS);
		else
			standard_ExecutorRun(COMPAT_RUN_PASS);
	}
	PG_FINALLY();
	{
		executor_depth--;
	}
	PG_END_TRY();
}

static void
cache_executor_finish(QueryDesc *queryDesc)
{
	executor_depth++;
	PG_TRY();
	{
		if (prev_executor_finish)
			prev_executor_finish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
	}
	PG_FINALLY();
	{
		executor_depth--;
	}
	PG_END_TRY();
}

static void
cache_executor_end(QueryDesc *queryDesc)
{
	if (prev_executor_end)
		prev_executor_end(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
	if (executor_depth == 0)
		close_idle_caches();
}

/* _PG_init(): the hooks above. */
void
lookup_init(void)
{
	prev_executor_run = ExecutorRun_hook;
	ExecutorRun_hook = cache_executor_run;
	prev_executor_finish = ExecutorFinish_hook;
	ExecutorFinish_hook = cache_executor_finish;
	prev_executor_end = ExecutorEnd_hook;
	ExecutorEnd_hook = cache_executor_end;
}

/* The call site's memory context is going away. */
static void
cache_context_gone(void *arg)
{
	LookupCache *c = (LookupCache *) arg;

	if (c->state == CACHE_OPEN)
		cache_close(c);
	else
		cache_forget(c);
}

/*
 * A cache for the call site whose state lives in cxt (an FmgrInfo's
 * fn_mcxt); it is closed when cxt is reset or deleted.  What it holds lives
 * in a context of its own (see lookup_begin()).
 */
LookupCache *
lookup_cache_create(MemoryContext cxt)
{
	LookupCache *c = MemoryContextAllocZero(cxt, sizeof(LookupCache));
	MemoryContextCallback *cb = MemoryContextAllocZero(cxt, sizeof(MemoryContextCallback));

	if (!cache_callbacks_registered)
	{
		RegisterXactCallback(cache_xact_callback, NULL);
		RegisterSubXactCallback(cache_subxact_callback, NULL);
		cache_callbacks_registered = true;
	}
	c->state = CACHE_EMPTY;
	cb->func = cache_context_gone;
	cb->arg = c;
	MemoryContextRegisterResetCallback(cxt, cb);
	return c;
}

/* Open the identifiers table and its key (lookup_begin's work). */
static void
open_lookup(Lookup *s, bool for_write, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);

	memset(s, 0, sizeof(*s));
	if (catalog_check_node())	/* the callers forwarded; never a shell */
		catalog_refuse_distributed("this call");
	s->cxt = cxt;
	s->lockmode = for_write ? RowExclusiveLock : AccessShareLock;
	s->ident_heap = catalog_table_open(catalog_rels()->identifiers, s->lockmode);
	/* the lock processed pending invalidations: resolve again after it */
	s->rels = catalog_rels();
	if (RelationGetRelid(s->ident_heap) != s->rels->identifiers)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"account\" was reinstalled during the call"),
				 errhint("Retry the call.")));
	s->ident_index = catalog_pkey_open(s->ident_heap, s->lockmode);
	s->slot = table_slot_create(s->ident_heap, NULL);
	MemoryContextSwitchTo(old);
}

/*
 * Open the identifiers table and its key for finding (for_write = false) or
 * for find-or-create, or take them from cache (may be NULL; see KEEPING THE
 * RELATIONS OPEN).  The tables for inserting are set up on first use.
 */
void
lookup_begin(Lookup *s, bool for_write, LookupCache *cache)
{
	Snapshot	snapshot = ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();

	if (cache != NULL && cache->state == CACHE_IN_USE)
		cache = NULL;			/* a nested call: its own state */
	if (cache != NULL && cache->state == CACHE_OPEN &&
		(cache->subid != GetCurrentSubTransactionId() ||
		 cache->generation != catalog_generation() ||
		 cache->for_write != for_write))
	{
		/* not for this call: close it if it is ours to close, else leave it */
		if (cache->subid == GetCurrentSubTransactionId())
			cache_close(cache);
		else
			cache = NULL;
	}

	if (cache != NULL && cache->state == CACHE_OPEN)
	{
		*s = cache->held;
		cache->state = CACHE_IN_USE;
	}
	else if (cache != NULL)
	{
		ResourceOwner save = CurrentResourceOwner;

		cache->owner = ResourceOwnerCreate(CurTransactionResourceOwner, "account lookup");
		/*
		 * Not in the call site's context: MemoryContextDelete() frees a
		 * context's children before it runs its reset callbacks, so the
		 * executor state would be gone when cache_context_gone() closes it.
		 */
		cache->mem = AllocSetContextCreate(CurTransactionContext, "account lookup",
										   ALLOCSET_DEFAULT_SIZES);
		cache->subid = GetCurrentSubTransactionId();
		cache->state = CACHE_IN_USE;
		dlist_push_head(&open_caches, &cache->node);
		CurrentResourceOwner = cache->owner;
		PG_TRY();
		{
			open_lookup(s, for_write, cache->mem);
		}
		PG_FINALLY();
		{
			CurrentResourceOwner = save;
		}
		PG_END_TRY();
		s->cache = cache;
		cache->for_write = for_write;
		cache->generation = catalog_generation();
		cache->held = *s;
	}
	else
		open_lookup(s, for_write, CurrentMemoryContext);
	s->snapshot = snapshot;
}

/* Close what open_lookup() and prepare_inserts() opened. */
static void
close_lookup(Lookup *s)
{
	if (s->estate != NULL)
	{
		ExecCloseIndices(s->acc_rri);
		ExecCloseIndices(s->ident_rri);
		ExecDropSingleTupleTableSlot(s->acc_slot);
		ExecDropSingleTupleTableSlot(s->ident_slot);
		journal_close(&s->journal);
		FreeExecutorState(s->estate);
		table_close(s->acc_heap, NoLock);
	}
	ExecDropSingleTupleTableSlot(s->slot);
	index_close(s->ident_index, NoLock);
	table_close(s->ident_heap, NoLock);
}

void
lookup_end(Lookup *s)
{
	LookupCache *c = s->cache;

	if (c == NULL)
	{
		close_lookup(s);
		return;
	}
	/* no buffer pin outlives the call (see KEEPING THE RELATIONS OPEN) */
	ExecClearTuple(s->slot);
	if (s->estate != NULL)
	{
		ExecClearTuple(s->acc_slot);
		ExecClearTuple(s->ident_slot);
	}
	/* keep it, with what prepare_inserts() added, for the next call */
	if (c->state == CACHE_IN_USE)
	{
		c->held = *s;
		c->held.snapshot = NULL;
		c->state = CACHE_OPEN;
	}
}

/*
 * Set up inserting into both tables and all of their indexes (including any
 * an operator added), the way execReplication.c does for logical
 * replication.  Row triggers are not fired: the only ones on these tables
 * are the foreign-key checks, and we insert rows whose references we have
 * just checked (the registry) or created (the account).  The journal
 * (accounts.events, from 1.4) is opened in the same executor state.
 */
static void
prepare_inserts(Lookup *s)
{
	MemoryContext old;

	if (s->estate != NULL)
		return;
	/* the session's context, not the caller's per-key one */
	old = MemoryContextSwitchTo(s->cxt);
	if (s->cache != NULL)
	{
		ResourceOwner save = CurrentResourceOwner;

		CurrentResourceOwner = s->cache->owner;
		PG_TRY();
		{
			open_inserts(s);
		}
		PG_FINALLY();
		{
			CurrentResourceOwner = save;
		}
		PG_END_TRY();
	}
	else
		open_inserts(s);
	MemoryContextSwitchTo(old);
}

/* prepare_inserts()'s work, in s->cxt. */
static void
open_inserts(Lookup *s)
{
	s->estate = CreateExecutorState();
	MemoryContextSwitchTo(s->estate->es_query_cxt);
	s->acc_heap = catalog_table_open(s->rels->accounts, RowExclusiveLock);
	s->acc_rri = makeNode(ResultRelInfo);
	InitResultRelInfo(s->acc_rri, s->acc_heap, 1, NULL, 0);
	ExecOpenIndices(s->acc_rri, false);
	s->acc_slot = table_slot_create(s->acc_heap, NULL);
	s->ident_rri = makeNode(ResultRelInfo);
	InitResultRelInfo(s->ident_rri, s->ident_heap, 2, NULL, 0);
	ExecOpenIndices(s->ident_rri, false);
	s->ident_slot = table_slot_create(s->ident_heap, NULL);
	s->no_tags = PointerGetDatum(construct_empty_array(TEXTOID));
	if (OidIsValid(s->rels->events))
		journal_open(&s->journal, s->rels, s->estate, 3);
}

static void
insert_slot(Lookup *s, ResultRelInfo *rri, TupleTableSlot *slot)
{
	ExecStoreVirtualTuple(slot);
	table_tuple_insert(rri->ri_RelationDesc, slot, GetCurrentCommandId(true), 0, NULL);
	if (rri->ri_NumIndices > 0)
		compat_insert_index_tuples(rri, slot, s->estate);
	ResetPerTupleExprContext(s->estate);
}

/* Fill a slot with NULLs, ready for setting the columns we know. */
static void
clear_slot(TupleTableSlot *slot)
{
	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
}

static void
set_col(TupleTableSlot *slot, AttrNumber attnum, Datum value)
{
	slot->tts_values[attnum - 1] = value;
	slot->tts_isnull[attnum - 1] = false;
}

/*
 * find_account: MVCC lookup only.  Never writes, never locks a row.
 */
bool
lookup_find(Lookup *s, const IdentKey *key, pg_uuid_t *account_id)
{
	if (!probe(s, s->snapshot, key))
		return false;
	slot_account_id(s, account_id);
	return true;
}

/*
 * The lock tag of a key: an advisory-type tag whose fourth field no SQL
 * function can set (see ACCOUNT_LOCK_FIELD4), fixed first key, and a
 * 32-bit fold of a 64-bit hash of the key.
 */
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
						 (uint32) (h ^ (h >> 32)), ACCOUNT_LOCK_FIELD4);
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
 * The steps of the protocol, shared by the single and the multi-identifier
 * forms below.
 */

/* Step 2's check: creating needs a read-write transaction. */
static void
check_writable(const IdentKey *key)
{
	if (XactReadOnly)
		raise_read_only(key);
}

static void
lock_key(const IdentKey *key, LOCKTAG *tag)
{
	key_locktag(tag, key);
	(void) LockAcquire(tag, ExclusiveLock, false, false);
}

static void
unlock_key(const LOCKTAG *tag)
{
	LockRelease(tag, ExclusiveLock, false);
}

/*
 * Step 3a's wait, after the caller released its advisory locks.  The slot
 * still holds the in-progress row that probe_locked() found; its TID
 * goes into the wait's error context ("while inserting index tuple ...").
 */
static void
wait_for(Lookup *s, TransactionId xwait)
{
	if (ItemPointerIsValid(&s->slot->tts_tid))
		XactLockTableWait(xwait, s->ident_heap, &s->slot->tts_tid, XLTW_InsertIndex);
	else
		XactLockTableWait(xwait, NULL, NULL, XLTW_None);
}

/*
 * Step 3's probe, under the key's advisory lock: PROBE_NONE, PROBE_WAIT
 * (another transaction's row is in progress: *xwait) or PROBE_FOUND
 * (*account_id).  Under REPEATABLE READ and SERIALIZABLE a committed row
 * the transaction's snapshot cannot see raises 40001; see the header.
 */
static ProbeResult
probe_locked(Lookup *s, const IdentKey *key, pg_uuid_t *account_id,
				   TransactionId *xwait)
{
	SnapshotData dirty;

	InitDirtySnapshot(dirty);
	if (!probe(s, &dirty, key))
		return PROBE_NONE;

	*xwait = TransactionIdIsValid(dirty.xmin) ? dirty.xmin : dirty.xmax;
	if (TransactionIdIsValid(*xwait))
		return PROBE_WAIT;

	if (IsolationUsesXactSnapshot())
	{
		bool		isnull;
		TransactionId xmin;

		xmin = DatumGetTransactionId(slot_getsysattr(s->slot,
													 MinTransactionIdAttributeNumber,
													 &isnull));
		if (!TransactionIdIsCurrentTransactionId(xmin) &&
			!table_tuple_satisfies_snapshot(s->ident_heap, s->slot, s->snapshot))
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not serialize access due to concurrent creation of account for %s \"%s\" of account type \"%s\"",
							key->id_type, key->value, key->account_type),
					 errdetail("Another transaction created the account after this transaction's snapshot was taken."),
					 errhint("Retry the transaction; it will find the account.")));
	}
	slot_account_id(s, account_id);
	return PROBE_FOUND;
}

/* A new account row of key's account type; its id is returned. */
static void
insert_account(Lookup *s, const IdentKey *key, pg_uuid_t *account_id)
{
	const AccountRels *r = s->rels;

	prepare_inserts(s);
	account_uuidv7(account_id);
	clear_slot(s->acc_slot);
	set_col(s->acc_slot, r->acc_id, UUIDPGetDatum(account_id));
	set_col(s->acc_slot, r->acc_type, key->account_type_d);
	set_col(s->acc_slot, r->acc_created_at,
			TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()));
	/* 1.3's lifecycle columns; merged_into, updated_at, redacted_at NULL */
	if (r->acc_status != InvalidAttrNumber)
	{
		set_col(s->acc_slot, r->acc_status, ObjectIdGetDatum(r->status_active));
		set_col(s->acc_slot, r->acc_tags, s->no_tags);
	}
	insert_slot(s, s->acc_rri, s->acc_slot);
}

/* An identifier row for key, belonging to account_id. */
static void
insert_identifier(Lookup *s, const IdentKey *key,
						const pg_uuid_t *account_id)
{
	const AccountRels *r = s->rels;

	prepare_inserts(s);
	clear_slot(s->ident_slot);
	set_col(s->ident_slot, r->ident_account_type, key->account_type_d);
	set_col(s->ident_slot, r->ident_id_type, key->id_type_d);
	set_col(s->ident_slot, r->ident_value, key->value_d);
	set_col(s->ident_slot, r->ident_account_id, UUIDPGetDatum(account_id));
	set_col(s->ident_slot, r->ident_created_at,
			TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()));
	insert_slot(s, s->ident_rri, s->ident_slot);
}

/*
 * ROW LOCKS: WHAT THE FOREIGN-KEY CHECKS WOULD LOCK
 * =================================================
 *
 * The inserts above fire no foreign-key triggers, so this file takes the
 * row locks those triggers would take, with the same FOR KEY SHARE
 * semantics (RI_FKey_check's SELECT ... FOR KEY SHARE):
 *
 *   - before creating an identifier: the identifier_types row of its type
 *     (lock_types).  drop_identifier_type() and drop_account_type()
 *     lock those rows FOR UPDATE before they look for users of the type, so
 *     a drop waits for every creator in progress and every later creator
 *     waits for the drop, then finds the type gone (42704; 40001 under
 *     REPEATABLE READ).  A creator never waits for a drop that is itself
 *     waiting (KEY SHARE lockers pass a queued FOR UPDATE), and a finder
 *     takes no lock at all, so registry maintenance never stalls lookups.
 *     A new account always gets an identifier, so the lock on its type's
 *     row also protects the account type.
 *   - before attaching an identifier to an existing account: that account's
 *     row (lock_account).  A DELETE of the account then waits for the
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
 * Lock key's identifier_types row FOR KEY SHARE (see ROW LOCKS above), or
 * raise 42704 if the type was dropped since it was resolved.
 */
static void
lock_types(Lookup *s, const IdentKey *key)
{
	SubTransactionId subid = GetCurrentSubTransactionId();
	Relation	heap;
	TupleTableSlot *slot;
	ScanKeyData skey[2];
	RowLockResult res;

	if (lock_memo.valid && lock_memo.subid == subid &&
		lock_memo.relid == s->rels->identifier_types &&
		strcmp(lock_memo.account_type, key->account_type) == 0 &&
		strcmp(lock_memo.id_type, key->id_type) == 0)
		return;

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
	ExecDropSingleTupleTableSlot(slot);
	table_close(heap, NoLock);
	if (res != ROW_LOCKED)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("identifier type \"%s\" does not exist for account type \"%s\"",
						key->id_type, key->account_type),
				 errdetail("It was dropped while this call was running."),
				 errhint("List identifier types with SELECT * FROM accounts.identifier_types WHERE account_type = '%s'; add one with accounts.create_identifier_type().",
						 key->account_type)));

	lock_memo.valid = true;
	lock_memo.subid = subid;
	lock_memo.relid = s->rels->identifier_types;
	strlcpy(lock_memo.account_type, key->account_type, sizeof(lock_memo.account_type));
	strlcpy(lock_memo.id_type, key->id_type, sizeof(lock_memo.id_type));
}

/*
 * Lock the row of heap with the given primary-key values FOR KEY SHARE,
 * with the protocol of lock_row() (waiting; 40001 under REPEATABLE READ if
 * it changed after the snapshot); false if there is none.  The locked
 * version is left in slot.  For the distributed path's registry
 * (citus.c), whose rows live in a relation of its own.
 */
bool
lookup_lock_key_share(Relation heap, ScanKey skey, int nkeys, TupleTableSlot *slot,
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
 * committed version, not only from the version the lock was taken on.
 * test/t/014_lifecycle.pl showed, about one run in fifteen (on 1.3 as
 * well), an identifier attached to an account that a merge or redaction
 * had already finished with.  The mechanism is not pinned down; the
 * suspect is a KEY SHARE lock that succeeds (TM_Ok) on an old version
 * whose update the lock manager does not count as a key update, so that
 * lock_row() never follows the update chain and the old, still "active"
 * status is returned.  Whatever the path, looking the row up again with a
 * snapshot taken after the lock closes it: if the latest committed version
 * is another one, under READ COMMITTED its status is the one that counts,
 * and under REPEATABLE READ the row changed after the snapshot, so 40001,
 * as for any concurrent change of the row.
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
 * lookup_check_unseen()).
 */
static AccountLockResult
lock_account(Lookup *s, const pg_uuid_t *account_id, bool wait,
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
 * The events of what step 3c wrote (src/journal.c), after the key locks
 * are released: account.created with all of keys, or identifier.added for
 * each of keys attached to an existing account.  Only keys not skipped
 * (skip may be NULL) were written.
 */
static void
journal_written(Lookup *s, const IdentKey *keys, const bool *skip, int n,
				bool created, const pg_uuid_t *account_id)
{
	const char **id_types;
	const char **values;
	int			k = 0;

	if (!keys[0].type.journal || !s->journal.open)
		return;
	if (!created)
	{
		for (int i = 0; i < n; i++)
			if (skip == NULL || !skip[i])
				journal_append(&s->journal, account_id, keys[i].account_type_d,
							   "identifier.added",
							   journal_detail_identifier(keys[i].id_type, keys[i].value));
		return;
	}
	id_types = palloc(sizeof(char *) * n);
	values = palloc(sizeof(char *) * n);
	for (int i = 0; i < n; i++)
	{
		if (skip != NULL && skip[i])
			continue;
		id_types[k] = keys[i].id_type;
		values[k++] = keys[i].value;
	}
	journal_append(&s->journal, account_id, keys[0].account_type_d, "account.created",
				   journal_detail_identifiers(id_types, values, k));
}

/*
 * find_or_create_account: the protocol in the header comment.  In step 3c
 * the identifier goes to a new account, or, when attach_to is given
 * (add_identifier), to that existing account.  *account_id is the owner of
 * the identifier afterwards.  Returns true if this call wrote the row.
 */
bool
lookup_find_or_create(Lookup *s, const IdentKey *key,
					 const pg_uuid_t *attach_to, pg_uuid_t *account_id)
{
	LOCKTAG		tag;

	/* 1. lock-free MVCC probe */
	if (probe(s, s->snapshot, key))
	{
		slot_account_id(s, account_id);
		return false;
	}

	/* 2. a creator from here on: lock what the foreign keys would */
	check_writable(key);
	lock_types(s, key);

	for (;;)
	{
		TransactionId xwait;

		CHECK_FOR_INTERRUPTS();
		lock_key(key, &tag);

		/* 3. probe again, seeing in-progress rows too */
		switch (probe_locked(s, key, account_id, &xwait))
		{
			case PROBE_NONE:
				/* 3c: the account row first, then its identifier */
				if (attach_to)
					*account_id = *attach_to;
				else
					insert_account(s, key, account_id);
				insert_identifier(s, key, account_id);
				unlock_key(&tag);
				journal_written(s, key, NULL, 1, attach_to == NULL, account_id);
				return true;
			case PROBE_WAIT:
				/* 3a: wait for the other creator (or deleter) to finish */
				unlock_key(&tag);
				wait_for(s, xwait);
				continue;
			case PROBE_FOUND:
				/* 3b: a committed row, or one of our own transaction */
				unlock_key(&tag);
				return false;
		}
	}
}

/* Order of the multi-identifier protocol: identifier type, then value. */
static int
key_cmp(const void *a, const void *b)
{
	const IdentKey *x = (const IdentKey *) a;
	const IdentKey *y = (const IdentKey *) b;
	int			c = strcmp(x->id_type, y->id_type);

	return c != 0 ? c : strcmp(x->value, y->value);
}

/* Release the first n of the key locks in tags. */
static void
unlock_keys(LOCKTAG *tags, int n)
{
	for (int j = 0; j < n; j++)
		unlock_key(&tags[j]);
}

/* An account id as text, for messages (palloc'd). */
char *
lookup_uuid_text(const pg_uuid_t *u)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(u)));
}

/*
 * If the found keys belong to more than one account, release the first
 * nlocked key locks and raise 21000 naming them.  found[i] says whether
 * keys[i] was found, on ids[i].  Returns the first found key, or -1.
 */
static int
check_one_account(const IdentKey *keys, const pg_uuid_t *ids, const bool *found,
				  int n, LOCKTAG *tags, int nlocked)
{
	int			first = -1;
	StringInfoData detail;

	for (int i = 0; i < n; i++)
	{
		if (!found[i])
			continue;
		if (first < 0)
		{
			first = i;
			continue;
		}
		if (memcmp(&ids[i], &ids[first], sizeof(pg_uuid_t)) == 0)
			continue;
		unlock_keys(tags, nlocked);
		initStringInfo(&detail);
		for (int k = 0; k < n; k++)
			if (found[k])
				appendStringInfo(&detail, "%s%s \"%s\" belongs to account %s",
								 detail.len ? "; " : "", keys[k].id_type,
								 keys[k].value, lookup_uuid_text(&ids[k]));
		ereport(ERROR,
				(errcode(ERRCODE_CARDINALITY_VIOLATION),
				 errmsg("the identifiers belong to more than one account of type \"%s\"",
						keys[0].account_type),
				 errdetail("%s.", detail.data),
				 errhint("Pass identifiers of one person, or merge the accounts first.")));
	}
	return first;
}

/*
 * find_or_create_account(type, identifiers[]): the protocol of SEVERAL
 * IDENTIFIERS AT ONCE in the header comment.  keys (all of one account
 * type) are sorted and deduplicated in place.  *account_id is the account
 * that holds all of them afterwards; returns true if it was created.
 */
bool
lookup_find_or_create_all(Lookup *s, IdentKey *keys, int nkeys,
						  pg_uuid_t *account_id)
{
	int			n = 0;
	pg_uuid_t  *ids;
	bool	   *found;
	LOCKTAG    *tags;
	int			missing_owner = 0;

	Assert(nkeys > 0 && nkeys <= LOOKUP_MAX_KEYS);
	qsort(keys, nkeys, sizeof(IdentKey), key_cmp);
	for (int i = 0; i < nkeys; i++)
		if (n == 0 || key_cmp(&keys[i], &keys[n - 1]) != 0)
			keys[n++] = keys[i];

	ids = palloc0(sizeof(pg_uuid_t) * n);
	found = palloc0(sizeof(bool) * n);
	tags = palloc0(sizeof(LOCKTAG) * n);

	for (;;)
	{
		bool		all_found = true;
		TransactionId xwait = InvalidTransactionId;
		int			owner;

		CHECK_FOR_INTERRUPTS();

		/* 1. lock-free MVCC probes */
		for (int i = 0; i < n; i++)
		{
			found[i] = lookup_find(s, &keys[i], &ids[i]);
			all_found &= found[i];
		}
		owner = check_one_account(keys, ids, found, n, NULL, 0);
		if (all_found)
		{
			*account_id = ids[owner];
			return false;
		}

		/* 2. lock what the foreign keys would, all key locks in order */
		check_writable(&keys[0]);
		for (int i = 0; i < n; i++)
			if (!found[i])
				lock_types(s, &keys[i]);
		for (int i = 0; i < n; i++)
			lock_key(&keys[i], &tags[i]);

		/* ... then the dirty probes */
		for (int i = 0; i < n && !TransactionIdIsValid(xwait); i++)
			found[i] = probe_locked(s, &keys[i], &ids[i], &xwait) == PROBE_FOUND;
		if (TransactionIdIsValid(xwait))
		{
			unlock_keys(tags, n);
			wait_for(s, xwait);
			continue;
		}
		owner = check_one_account(keys, ids, found, n, tags, n);

		/*
		 * Attaching to an existing account: hold its row FOR KEY SHARE, as
		 * the foreign key would (ROW LOCKS).  Never wait while holding the
		 * key locks: if the row is busy (a DELETE in progress), release
		 * them, wait for the row, and start over.
		 */
		if (owner >= 0)
		{
			AccountRow	row;
			AccountLockResult lr;

			lr = lock_account(s, &ids[owner], false, &row);
			if (lr != ACCOUNT_LOCKED)
			{
				unlock_keys(tags, n);
				if (lr == ACCOUNT_WOULD_BLOCK)
					lr = lock_account(s, &ids[owner], true, &row);
				if (lr == ACCOUNT_MISSING && ++missing_owner > 3)
					ereport(ERROR,
							(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
							 errmsg("identifier %s \"%s\" belongs to account %s, which does not exist",
									keys[owner].id_type, keys[owner].value, lookup_uuid_text(&ids[owner])),
							 errhint("The table was changed outside the extension; remove the identifier with DELETE FROM accounts.identifiers.")));
				continue;
			}
			if (row.status == ACCOUNT_MERGED || row.status == ACCOUNT_REDACTED)
			{
				unlock_keys(tags, n);
				lookup_check_attachable(&ids[owner], &row);
			}
			*account_id = ids[owner];
		}
		else
			insert_account(s, &keys[0], account_id);
		for (int i = 0; i < n; i++)
			if (!found[i])
				insert_identifier(s, &keys[i], account_id);
		unlock_keys(tags, n);
		journal_written(s, keys, found, n, owner < 0, account_id);
		return owner < 0;
	}
}

/*
 * add_identifier's first step: lock account_id's row FOR KEY SHARE for the
 * rest of the transaction, as the foreign key from identifiers would (ROW
 * LOCKS): a concurrent DELETE of the account waits for us and then
 * cascades to the identifier attached to it.  Returns false if there is no
 * such account; otherwise *row is its type and status.
 */
bool
lookup_lock_account(Lookup *s, const pg_uuid_t *account_id, AccountRow *row)
{
	return lock_account(s, account_id, true, row) == ACCOUNT_LOCKED;
}

/*
 * A merged or redacted account takes no new identifiers: 55000, naming the
 * surviving account of a merged one.
 */
void
lookup_check_attachable(const pg_uuid_t *account_id, const AccountRow *row)
{
	if (row->status == ACCOUNT_MERGED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("account %s was merged into account %s",
						lookup_uuid_text(account_id), lookup_uuid_text(&row->merged_into)),
				 errdetail("A merged account takes no new identifiers."),
				 errhint("Use account %s instead (accounts.resolve_account() follows merges).",
						 lookup_uuid_text(&row->merged_into))));
	if (row->status == ACCOUNT_REDACTED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("account %s is redacted", lookup_uuid_text(account_id)),
				 errdetail("A redacted account keeps only its reference ids and takes no new identifiers."),
				 errhint("Find or create an account for the identifier without it; a new account is created.")));
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
lookup_check_unseen(const pg_uuid_t *account_ids, int nids)
{
	const AccountRels *r;
	Relation	heap;
	Oid			index = InvalidOid;
	List	   *indexes;
	ListCell   *lc;
	Snapshot	xact_snapshot;
	Snapshot	latest;

	if (catalog_check_node())
		catalog_refuse_distributed("this call");
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
							lookup_uuid_text(&account_ids[i])),
					 errdetail("Another transaction attached an identifier to it after this transaction's snapshot was taken."),
					 errhint("Retry the transaction.")));
		}
		systable_endscan(scan);
	}
	UnregisterSnapshot(latest);
	table_close(heap, NoLock);
}
