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
 *      the account; no advisory lock is taken (finding is lock-free).  In
 *      a run of creates under READ COMMITTED this step is left out
 *      (lookup_create_or_find()).
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
#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "compat.h"
#include "limits.h"
#include "lookup.h"
#include "rowlock.h"
#include "rules.h"

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

/*
 * The steps of the protocol, shared by the single and the multi-identifier
 * forms below.
 */

/* Step 2's check: creating needs a read-write transaction. */
static void
check_writable(const IdentKey *key)
{
	if (XactReadOnly)
		rule_read_only(key);
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
			rule_concurrent_creation(key);
	}
	slot_account_id(s, account_id);
	return PROBE_FOUND;
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
 * Touch account_id's row before attaching an identifier of a limited type
 * to it (LIMITED ATTACHES in limits.c): 42704 if it is gone, 55000 if it
 * was merged or redacted meanwhile.
 */
static void
touch_account(const pg_uuid_t *account_id)
{
	AccountRow	row;

	if (!limits_touch(false, account_id, &row))
		rule_no_account(account_id, "It was deleted while an identifier was being attached to it.");
	rule_check_attachable(account_id, &row);
}

/*
 * find_or_create_account: the protocol in the header comment.  In step 3c
 * the identifier goes to a new account, or, when attach_to is given
 * (add_identifier), to that existing account.  *account_id is the owner of
 * the identifier afterwards.  Returns true if this call wrote the row.
 * Without probe_first, step 1 is left out (lookup_create_or_find()).
 */
static bool
find_or_create(Lookup *s, const IdentKey *key, const pg_uuid_t *attach_to,
			   pg_uuid_t *account_id, bool probe_first)
{
	LOCKTAG		tag;
	int32		limit;

	/* 1. lock-free MVCC probe */
	if (probe_first && probe(s, s->snapshot, key))
	{
		slot_account_id(s, account_id);
		return false;
	}

	/*
	 * 2. a creator from here on: lock what the foreign keys would; an
	 * attach of a type with a limit touches the account first (LIMITED
	 * ATTACHES in limits.c), before any key lock
	 */
	check_writable(key);
	limit = rowlock_type(s, key);
	if (attach_to && limit > 0)
		touch_account(attach_to);

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
				{
					if (limit > 0)
						rule_check_limit(key->account_type, key->id_type, attach_to,
										 limits_count(false, attach_to, key) + 1, limit);
					*account_id = *attach_to;
				}
				else
					statement_insert_account(s, key, account_id);
				statement_insert_identifier(s, key, account_id);
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

bool
lookup_find_or_create(Lookup *s, const IdentKey *key,
					  const pg_uuid_t *attach_to, pg_uuid_t *account_id)
{
	return find_or_create(s, key, attach_to, account_id, true);
}

/*
 * find-or-create of a key the caller expects to be new: the next key after
 * one the caller created (the bulk call; find_or_create_account() called
 * again from one call site, call.c).  A miss is then steps 2 and 3 alone,
 * one index probe instead of two (a million creates: 9% less time).
 *
 * Leaving out step 1 gives the protocol's answers, and where the isolation
 * level or the transaction would make them differ, step 1 stays:
 *
 *   - READ COMMITTED: step 3 sees every row step 1 sees, and rows
 *     committed since, and returns a found row as step 1 would (3b).  A
 *     row that a committed removal deleted since the statement's snapshot
 *     is gone for step 3, which creates the identifier anew: the answer
 *     step 1 gives a statement that starts a moment later.  A row whose
 *     removal (or move by a merge) is in progress is waited for (3a),
 *     where step 1 would have answered the account it is leaving.
 *   - REPEATABLE READ and SERIALIZABLE: step 1 stays.  Step 3 would not
 *     see a row the snapshot sees but a concurrent removal deleted, and
 *     would create a second row of the key in the transaction's view
 *     (test/specs/bulk_runs.spec); under SERIALIZABLE step 1 also takes
 *     the predicate lock.
 *   - A read-only transaction or a standby: step 1 stays, so that a key
 *     that exists is found rather than refused with 25006.
 *
 * Step 2 then locks the key's identifier type FOR KEY SHARE even when the
 * key turns out to exist, so a drop of that type waits for this
 * transaction, as it waits for any transaction that created a key of the
 * type; when the key before was of the same type, the lock is held
 * already.  The waits are those step 3 has anyway, so the order argument
 * of the bulk call (bulk.c) is unchanged.
 */
bool
lookup_create_or_find(Lookup *s, const IdentKey *key, pg_uuid_t *account_id)
{
	return find_or_create(s, key, NULL, account_id,
						  IsolationUsesXactSnapshot() || XactReadOnly);
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

/*
 * find_or_create_account(type, identifiers[]): the protocol of SEVERAL
 * IDENTIFIERS AT ONCE in the header comment.  keys (all of one account
 * type) are sorted and deduplicated in place.  *account_id is the account
 * that holds all of them afterwards; returns true if it was created.
 * With resolve (the merging call), identifiers found on several accounts
 * are reported there instead of raising 21000.
 */
bool
lookup_find_or_create_all(Lookup *s, IdentKey *keys, int nkeys,
						  Resolve *resolve, pg_uuid_t *account_id)
{
	int			n = 0;
	pg_uuid_t  *ids;
	bool	   *found;
	LOCKTAG    *tags;
	int32	   *limits;
	int64	   *held;
	int			missing_owner = 0;
	bool		touched = false;
	pg_uuid_t	touched_id;
	bool		lock_free = resolve == NULL || !resolve->after_merge;

	Assert(nkeys > 0 && nkeys <= LOOKUP_MAX_KEYS);
	qsort(keys, nkeys, sizeof(IdentKey), key_cmp);
	for (int i = 0; i < nkeys; i++)
		if (n == 0 || key_cmp(&keys[i], &keys[n - 1]) != 0)
			keys[n++] = keys[i];

	ids = palloc0(sizeof(pg_uuid_t) * n);
	found = palloc0(sizeof(bool) * n);
	tags = palloc0(sizeof(LOCKTAG) * n);
	limits = palloc0(sizeof(int32) * n);
	held = palloc0(sizeof(int64) * n);

	for (;;)
	{
		bool		all_found = true;
		bool		limited = false;
		TransactionId xwait = InvalidTransactionId;
		int			owner;
		int			other;

		CHECK_FOR_INTERRUPTS();

		/*
		 * 1. lock-free MVCC probes; not after a merge of this call, which
		 * the statement's snapshot cannot see (the dirty probes do)
		 */
		if (lock_free)
		{
			for (int i = 0; i < n; i++)
			{
				found[i] = lookup_find(s, &keys[i], &ids[i]);
				all_found &= found[i];
			}
			owner = rule_first_owner(ids, found, n, &other);
			if (other >= 0)
			{
				if (resolve)
					return rule_report_owners(resolve, ids, found, n);
				rule_split(keys, ids, found, n);
			}
			if (all_found)
			{
				*account_id = ids[owner];
				return false;
			}
		}

		/*
		 * 2. lock what the foreign keys would (every key's type: a key found
		 * above may be gone below), all key locks in order
		 */
		check_writable(&keys[0]);
		for (int i = 0; i < n; i++)
			limits[i] = rowlock_type(s, &keys[i]);
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
		owner = rule_first_owner(ids, found, n, &other);
		if (other >= 0)
		{
			unlock_keys(tags, n);
			if (resolve)
				return rule_report_owners(resolve, ids, found, n);
			rule_split(keys, ids, found, n);
		}
		for (int i = 0; i < n; i++)
			limited |= !found[i] && limits[i] > 0;

		/*
		 * Attaching to an existing account: hold its row FOR KEY SHARE, as
		 * the foreign key would (ROW LOCKS in rowlock.c), or, attaching a
		 * type with a limit, touched (LIMITED ATTACHES in limits.c).  Never
		 * wait while holding the key locks: if the row is busy (a DELETE in
		 * progress), or must be touched, release them, wait for the row,
		 * and start over.
		 */
		if (owner >= 0)
		{
			AccountRow	row;
			AccountLockResult lr;

			if (limited && (!touched || memcmp(&touched_id, &ids[owner], sizeof(pg_uuid_t)) != 0))
			{
				unlock_keys(tags, n);
				if (!limits_touch(false, &ids[owner], &row))
				{
					if (++missing_owner > 3)
						rule_lost_account(&keys[owner], &ids[owner]);
					continue;
				}
				/* merged meanwhile: its identifiers are on the survivor now */
				if (row.status == ACCOUNT_MERGED)
					continue;
				rule_check_attachable(&ids[owner], &row);
				touched = true;
				touched_id = ids[owner];
				continue;
			}
			lr = rowlock_account(s, &ids[owner], false, &row);
			if (lr != ACCOUNT_LOCKED)
			{
				unlock_keys(tags, n);
				if (lr == ACCOUNT_WOULD_BLOCK)
					lr = rowlock_account(s, &ids[owner], true, &row);
				if (lr == ACCOUNT_MISSING && ++missing_owner > 3)
					rule_lost_account(&keys[owner], &ids[owner]);
				continue;
			}
			if (row.status == ACCOUNT_MERGED || row.status == ACCOUNT_REDACTED)
			{
				unlock_keys(tags, n);
				/*
				 * A merge committed between the probes and the lock: the
				 * merged account holds no identifier now (the merge moved
				 * them, in its transaction), so the probes of the next
				 * round find the survivor.  A merged account stays merged:
				 * this does not loop.
				 */
				if (row.status == ACCOUNT_MERGED)
					continue;
				rule_check_attachable(&ids[owner], &row);
			}
			if (limited)
			{
				for (int i = 0; i < n; i++)
					if (limits[i] > 0)
						held[i] = limits_count(false, &ids[owner], &keys[i]);
				rule_check_limits(keys, limits, found, n, &ids[owner], held);
			}
			*account_id = ids[owner];
		}
		else
		{
			rule_check_limits(keys, limits, NULL, n, NULL, NULL);
			statement_insert_account(s, &keys[0], account_id);
		}
		for (int i = 0; i < n; i++)
			if (!found[i])
				statement_insert_identifier(s, &keys[i], account_id);
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
	return rowlock_account(s, account_id, true, row) == ACCOUNT_LOCKED;
}
