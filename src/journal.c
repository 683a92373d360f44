/*
 * journal.c: the change journal.  Every change the extension makes is an
 * event in accounts.events, written in the transaction that makes the
 * change, so an event exists if and only if its change committed.
 *
 * THE JOURNAL
 * ===========
 *
 * A consumer stores the seq of the last event it processed and asks for the
 * events after it (accounts.events_since(after)).  The difficulty is that
 * seq values are handed out when an event is written and transactions
 * commit in any order: T1 takes seq 5, T2 takes seq 6, T2 commits, a
 * consumer reads 6 and stores it, then T1 commits and 5 is never read.
 * Reading "seq > after" with a plain snapshot loses events.
 *
 * The rule: events_since() returns, in seq order, the events after `after`
 * up to (not including) the first seq that is still pending, where pending
 * means written by a transaction that is still in progress, or that
 * committed after the reader's snapshot was taken, or that is the
 * reader's own open transaction.  Events of aborted transactions are
 * skipped: they never become visible.  So every batch is a prefix of what
 * the journal will hold after `after` once everything in flight has
 * finished, and a consumer that continues from the last seq it got sees
 * every committed event exactly once.  A long transaction that wrote an
 * event holds back later events until it ends (it is in pg_stat_activity).
 *
 * How the reader knows about pending events it cannot see:
 *
 *   WRITER (journal_append), per event:
 *     1. take the journal lock in ShareLock mode (writers do not block each
 *        other);
 *     2. seq := nextval(accounts.events_seq);
 *     3. insert the row and its index entries;
 *     4. release the lock.
 *
 *   READER (journal_read):
 *     1. S := the statement's snapshot (taken before anything below);
 *     2. take the journal lock in ExclusiveLock mode and release it at once
 *        (the barrier: every writer that had a seq when it was granted has
 *        inserted its row, or aborted);
 *     3. scan the seq index from after + 1 with a dirty snapshot, which
 *        also returns rows of transactions in progress.  For each seq: if
 *        a version is visible to S, return it; otherwise (only an
 *        in-progress, too-new or own version exists) stop.
 *
 * Why nothing is skipped: suppose the reader returns seq b and there is a
 * committed event a < b it neither returned nor stopped at.  b is visible
 * to S, so b's transaction committed before S, and b's nextval was before
 * that.  Sequence values increase in time order (events_seq has CACHE 1),
 * so a's nextval came before b's, before S, before the barrier; a's writer
 * held the lock from before its nextval until after its insert, so the
 * barrier was granted only after a's index entry existed.  The scan, which
 * starts after the barrier, therefore meets a: aborted (then never
 * committed: contradiction), visible to S (returned), or not (stop before
 * b): contradiction every way.  Index entries are removed only by VACUUM
 * of dead rows, which removes nothing a reader could still return.
 *
 * Updates and deletes: redaction rewrites the detail of earlier events
 * (an UPDATE keeps seq) and trim_events() deletes old ones.  A dirty scan
 * returns both versions of a row whose update is in progress, so the
 * versions of one seq are judged together: the one visible to S is
 * returned.  If a redaction committed after S, only its new version is
 * seen and the reader stops there; the next call returns it.  A row whose
 * delete committed is not returned: a consumer that falls behind the
 * retention loses the trimmed events (trim_events() deletes by time).
 *
 * Isolation levels: S is the statement's snapshot under READ COMMITTED and
 * the transaction's under REPEATABLE READ and SERIALIZABLE; the argument
 * only needs S to be taken before the barrier, which it always is.
 *
 * Crashes: a transaction in progress at a crash is aborted by recovery,
 * and a sequence never hands out a value again after a crash that a
 * committed transaction used (nextval's WAL record precedes the commit
 * record).  Seq values may have gaps (aborts, crashes); consumers must not
 * expect them to be dense.
 *
 * Hot standby: the replayed writers take no lock there, so the barrier
 * cannot work; events_since() refuses to run (0A000) and says to read the
 * primary.  The same on a logical-replication subscriber of
 * accounts.events: its apply worker inserts the events in the publisher's
 * commit order, without the writers' lock, so a lower seq that committed
 * later arrives after a reader moved past it.  events_since() refuses
 * (0A000) while the table is part of a subscription (pg_subscription_rel).
 *
 * The journal lock is an advisory-type tag that no SQL function can take
 * (the key locks' ACCOUNT_LOCK_FIELD4 in lookup.c, with the first key
 * "JRNL"), so no role can hold it to stall writers or readers.  A writer
 * holds it for the length of one insert; a reader only waits for the
 * inserts in flight, and writers that arrive meanwhile queue behind it for
 * the same instant.
 *
 * NOTIFY: a transaction that wrote events sends NOTIFY accounts_events
 * (payload: the last seq it wrote) as it commits, from the pre-commit
 * callback, so an event rolled back with a savepoint may still notify (the
 * consumer finds nothing new).  PREPARE TRANSACTION cannot carry a NOTIFY;
 * a prepared transaction's events are found by the consumer's next call
 * (consumers also poll now and then).  Nor is there a NOTIFY while the
 * server's NOTIFY queue is half full (a LISTENing session stuck in a
 * transaction): a full queue would make every writer's commit fail.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_subscription_rel.h"
#include "catalog/pg_type_d.h"
#include "commands/async.h"
#include "commands/sequence.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "journal.h"

/* pg_locks: locktype advisory, classid 1246908236 ("JRNL"), objsubid 16707 */
#define JOURNAL_LOCK_KEY1		0x4A524E4C
#define JOURNAL_LOCK_FIELD4		0x4143

#define JOURNAL_CHANNEL			"accounts_events"
/* the NOTIFY queue's fill above which the journal stops notifying */
#define JOURNAL_NOTIFY_QUEUE_LIMIT	0.5

static bool notify_pending = false;
static int64 notify_seq = 0;
static bool callback_registered = false;

static void
journal_locktag(LOCKTAG *tag)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) JOURNAL_LOCK_KEY1, 0,
						 JOURNAL_LOCK_FIELD4);
}

/* pg_notification_queue_usage(): the fraction of the NOTIFY queue in use */
static double
notify_queue_usage(void)
{
	LOCAL_FCINFO(fcinfo, 0);

	InitFunctionCallInfoData(*fcinfo, NULL, 0, InvalidOid, NULL, NULL);
	return DatumGetFloat8(pg_notification_queue_usage(fcinfo));
}

/*
 * NOTIFY at commit if this transaction wrote events (see NOTIFY above).
 * Not when the NOTIFY queue is half full: any role may LISTEN, and a
 * listener that stays in a transaction keeps the queue from emptying; once
 * it is full every NOTIFY fails its transaction's commit.  The journal
 * then stops notifying (consumers still poll) instead of failing writers.
 */
static void
journal_xact_callback(XactEvent event, void *arg pg_attribute_unused())
{
	if (event == XACT_EVENT_PRE_COMMIT && notify_pending)
	{
		char		payload[32];

		notify_pending = false;
		if (notify_queue_usage() >= JOURNAL_NOTIFY_QUEUE_LIMIT)
			return;
		snprintf(payload, sizeof(payload), INT64_FORMAT, notify_seq);
		Async_Notify(JOURNAL_CHANNEL, payload);
	}
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE ||
			 event == XACT_EVENT_PRE_PREPARE || event == XACT_EVENT_COMMIT)
		notify_pending = false;
}

/*
 * Open accounts.events for appending, with all its indexes, in the caller's
 * executor state (range table index rti).  rels must have the journal.
 */
void
journal_open(JournalWriter *w, const AccountRels *rels, EState *estate, Index rti)
{
	MemoryContext old = MemoryContextSwitchTo(estate->es_query_cxt);

	Assert(OidIsValid(rels->events));
	w->rels = rels;
	w->estate = estate;
	w->heap = catalog_table_open(rels->events, RowExclusiveLock);
	w->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(w->rri, w->heap, rti, NULL, 0);
	ExecOpenIndices(w->rri, false);
	w->slot = table_slot_create(w->heap, NULL);
	w->open = true;
	MemoryContextSwitchTo(old);
}

void
journal_close(JournalWriter *w)
{
	if (!w->open)
		return;
	ExecCloseIndices(w->rri);
	ExecDropSingleTupleTableSlot(w->slot);
	table_close(w->heap, NoLock);
	w->open = false;
}

/*
 * Append one event (the WRITER steps above).  account_id may be NULL (a
 * registry event); account_type is a text datum; detail a jsonb datum.
 */
void
journal_append(JournalWriter *w, const pg_uuid_t *account_id,
			   Datum account_type, const char *kind, Datum detail)
{
	const AccountRels *r = w->rels;
	TupleTableSlot *slot = w->slot;
	LOCKTAG		tag;
	int64		seq;

	Assert(w->open);
	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
	slot->tts_values[r->ev_occurred_at - 1] =
		TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	slot->tts_isnull[r->ev_occurred_at - 1] = false;
	if (account_id != NULL)
	{
		slot->tts_values[r->ev_account_id - 1] = UUIDPGetDatum(account_id);
		slot->tts_isnull[r->ev_account_id - 1] = false;
	}
	slot->tts_values[r->ev_account_type - 1] = account_type;
	slot->tts_isnull[r->ev_account_type - 1] = false;
	slot->tts_values[r->ev_kind - 1] = CStringGetTextDatum(kind);
	slot->tts_isnull[r->ev_kind - 1] = false;
	slot->tts_values[r->ev_detail - 1] = detail;
	slot->tts_isnull[r->ev_detail - 1] = false;

	if (!callback_registered)
	{
		RegisterXactCallback(journal_xact_callback, NULL);
		callback_registered = true;
	}

	/* 1-4: an error in between releases the lock with the (sub)transaction */
	journal_locktag(&tag);
	(void) LockAcquire(&tag, ShareLock, false, false);
	seq = nextval_internal(r->events_seq, false);
	slot->tts_values[r->ev_seq - 1] = Int64GetDatum(seq);
	slot->tts_isnull[r->ev_seq - 1] = false;
	ExecStoreVirtualTuple(slot);
	table_tuple_insert(w->heap, slot, GetCurrentCommandId(true), 0, NULL);
	if (w->rri->ri_NumIndices > 0)
		compat_insert_index_tuples(w->rri, slot, w->estate);
	LockRelease(&tag, ShareLock, false);
	ResetPerTupleExprContext(w->estate);

	notify_pending = true;
	notify_seq = seq;
}

/*
 * Event details are built as jsonb directly (no JSON text to parse: this is
 * on the create path).  Keys are sorted by jsonb itself.
 */
static void
push_string(CompatJsonbBuilder *b, JsonbIteratorToken tok, const char *s)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) s;
	v.val.string.len = strlen(s);
	compat_jsonb_push(b, tok, &v);
}

/* {"id_type": ..., "value": ...} */
static void
push_identifier(CompatJsonbBuilder *b, const char *id_type, const char *value)
{
	compat_jsonb_push(b, WJB_BEGIN_OBJECT, NULL);
	push_string(b, WJB_KEY, "id_type");
	push_string(b, WJB_VALUE, id_type);
	push_string(b, WJB_KEY, "value");
	push_string(b, WJB_VALUE, value);
	compat_jsonb_push(b, WJB_END_OBJECT, NULL);
}

/* The detail of identifier.added and identifier.removed. */
Datum
journal_detail_identifier(const char *id_type, const char *value)
{
	CompatJsonbBuilder b;

	memset(&b, 0, sizeof(b));
	push_identifier(&b, id_type, value);
	return JsonbPGetDatum(JsonbValueToJsonb(compat_jsonb_result(&b)));
}

/* The detail of account.created: {"identifiers": [{...}, ...]} */
Datum
journal_detail_identifiers(const char *const *id_types,
						   const char *const *values, int n)
{
	CompatJsonbBuilder b;

	memset(&b, 0, sizeof(b));
	compat_jsonb_push(&b, WJB_BEGIN_OBJECT, NULL);
	push_string(&b, WJB_KEY, "identifiers");
	compat_jsonb_push(&b, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < n; i++)
		push_identifier(&b, id_types[i], values[i]);
	compat_jsonb_push(&b, WJB_END_ARRAY, NULL);
	compat_jsonb_push(&b, WJB_END_OBJECT, NULL);
	return JsonbPGetDatum(JsonbValueToJsonb(compat_jsonb_result(&b)));
}

/* Put the row in slot into the result, its detail detoasted. */
static void
emit(const AccountRels *r, TupleTableSlot *slot, Tuplestorestate *store,
	 TupleDesc desc)
{
	Datum	   *values;
	bool	   *nulls;

	slot_getallattrs(slot);
	values = palloc(sizeof(Datum) * desc->natts);
	nulls = palloc(sizeof(bool) * desc->natts);
	for (int i = 0; i < desc->natts; i++)
	{
		bool		dropped = TupleDescAttr(desc, i)->attisdropped;

		nulls[i] = dropped || i >= slot->tts_tupleDescriptor->natts || slot->tts_isnull[i];
		values[i] = nulls[i] ? (Datum) 0 : slot->tts_values[i];
	}
	if (!nulls[r->ev_detail - 1])
		values[r->ev_detail - 1] =
			PointerGetDatum(PG_DETOAST_DATUM_PACKED(values[r->ev_detail - 1]));
	tuplestore_putvalues(store, desc, values, nulls);
	pfree(values);
	pfree(nulls);
}

/* Is relid part of a logical-replication subscription here? */
static bool
subscribed(Oid relid)
{
	Relation	rel = table_open(SubscriptionRelRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	bool		found;

	ScanKeyInit(&key, Anum_pg_subscription_rel_srrelid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, SubscriptionRelSrrelidSrsubidIndexId, true, NULL, 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * The READER steps above: at most max committed events with seq > after,
 * in seq order, into store (rows of desc, accounts.events' row type).
 */
void
journal_read(int64 after, int max, Tuplestorestate *store, TupleDesc desc)
{
	const AccountRels *r = catalog_rels();
	Snapshot	snapshot = GetActiveSnapshot();
	SnapshotData dirty;
	LOCKTAG		tag;
	Relation	heap;
	Relation	index;
	ScanKeyData skey;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	TupleTableSlot *found;		/* the version of seq visible to S */
	bool		have_seq = false;
	bool		seq_visible = false;
	int64		cur_seq = 0;
	int			n = 0;

	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("accounts.events_since() cannot run on a hot standby"),
				 errdetail("A standby cannot tell which events are still being written on the primary, so it could skip some."),
				 errhint("Read the journal on the primary.")));
	if (!OidIsValid(r->events))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the change journal is not installed"),
				 errhint("Run ALTER EXTENSION account UPDATE.")));
	if (subscribed(r->events))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("accounts.events_since() cannot run on a logical-replication subscriber of accounts.events"),
				 errdetail("Replicated events arrive in the publisher's commit order, not in seq order, so a reader here could skip some."),
				 errhint("Read the journal on the publisher.")));

	/* 1. S was taken when the statement started, before the barrier */
	heap = catalog_table_open(r->events, AccessShareLock);
	index = catalog_pkey_open(heap, AccessShareLock);

	/* 2. the barrier */
	journal_locktag(&tag);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
	LockRelease(&tag, ExclusiveLock, false);

	/* 3. the dirty scan, one seq at a time */
	InitDirtySnapshot(dirty);
	slot = table_slot_create(heap, NULL);
	found = table_slot_create(heap, NULL);
	ScanKeyInit(&skey, 1, BTGreaterStrategyNumber, F_INT8GT, Int64GetDatum(after));
	scan = compat_index_beginscan(heap, index, &dirty, 1);
	index_rescan(scan, &skey, 1, NULL, 0);
	while (n < max && index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		int64		seq = DatumGetInt64(slot_getattr(slot, r->ev_seq, &isnull));
		TransactionId xmin;

		CHECK_FOR_INTERRUPTS();
		if (have_seq && seq != cur_seq)
		{
			/* the previous seq is complete: return it, or stop there */
			if (!seq_visible)
				break;
			emit(r, found, store, desc);
			n++;
			have_seq = false;
			if (n >= max)
				break;
		}
		if (!have_seq)
		{
			have_seq = true;
			seq_visible = false;
			cur_seq = seq;
		}
		xmin = DatumGetTransactionId(slot_getsysattr(slot, MinTransactionIdAttributeNumber,
													 &isnull));
		if (TransactionIdIsCurrentTransactionId(xmin))
			continue;			/* our own: pending until we commit */
		if (!seq_visible && table_tuple_satisfies_snapshot(heap, slot, snapshot))
		{
			ExecCopySlot(found, slot);
			seq_visible = true;
		}
	}
	if (have_seq && seq_visible && n < max)
		emit(r, found, store, desc);
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	ExecDropSingleTupleTableSlot(found);
	index_close(index, AccessShareLock);
	table_close(heap, AccessShareLock);
}
