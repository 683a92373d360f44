/*
 * statement.c: the relations a run of lookups works on, kept open from one
 * call to the next within a statement, and the rows written through them.
 *
 *   statement_open(), statement_close()   the relations of one call
 *   statement_cache_create()              a call site's cache of them
 *   statement_init()                      the executor hooks (_PG_init)
 *   statement_insert_account(), statement_insert_identifier(),
 *   statement_journal()                   writing through them
 *
 * The protocol that decides what to write is lookup.c's; this file only
 * keeps the relations, their indexes and an executor state open, and
 * writes rows the way logical replication's apply does.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "executor/executor.h"
#include "lib/ilist.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/array.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "node.h"
#include "statement.h"
#include "uuidv7.h"

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
 * pins are never kept from one call to the next (statement_close() clears the
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
statement_init(void)
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
 * in a context of its own (see statement_open()).
 */
LookupCache *
statement_cache_create(MemoryContext cxt)
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

/* Open the identifiers table and its key (statement_open()'s work). */
static void
open_lookup(Lookup *s, bool for_write, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);

	memset(s, 0, sizeof(*s));
	node_refuse_undistributed();
	if (node_is_distributed())	/* the callers took dist.c's path: never a shell */
		node_refuse_distributed("this call");
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
statement_open(Lookup *s, bool for_write, LookupCache *cache)
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
statement_close(Lookup *s)
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

/* A new account row of key's account type; its id is returned. */
void
statement_insert_account(Lookup *s, const IdentKey *key, pg_uuid_t *account_id)
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
void
statement_insert_identifier(Lookup *s, const IdentKey *key,
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

/* Append an event to the journal opened with the relations. */
void
statement_journal(Lookup *s, const pg_uuid_t *account_id, Datum account_type,
				  const char *kind, Datum detail)
{
	prepare_inserts(s);
	if (s->journal.open)
		journal_append(&s->journal, account_id, account_type, kind, detail);
}
