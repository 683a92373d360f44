/*
 * resolve.c: identity resolution, the merging find-or-create (1.8).
 *
 *   resolve_find_or_create()   find_or_create_account(type, identifiers,
 *                              on_conflict => 'merge')
 *
 * IDENTITY RESOLUTION
 * ===================
 *
 * With on_conflict => 'merge', identifiers that belong to two or more
 * accounts make those accounts one: they are merged into the oldest of
 * them (created_at, then id) in the caller's transaction, by the rules of
 * every merge (accounts_internal.merge_core() in sql/parts/50_lifecycle.sql:
 * statuses, tags, limits, fields, events), the missing identifiers are
 * attached to the survivor, and it is returned with created = false.
 *
 *   1. Run the multi-identifier protocol (lookup.c on one node, dist.c on
 *      Citus) with a Resolve: if the identifiers are on one account or
 *      none, that is the answer.  If they are on several, the protocol
 *      reports them.  It may find that out after it locked an account
 *      (one node: the FOR KEY SHARE it waited for before probing again,
 *      or the touch of a limited attach, an UPDATE; Citus: locks and
 *      inserted rows too), so the round runs in a subtransaction, rolled
 *      back on a report: the call holds no row of its own when it goes
 *      on.  (Without it, a call holding a touched account waited for the
 *      merge lock while the merge holding it waited for that account:
 *      40P01, seen in test/t/024_resolution.pl; test/specs/
 *      resolve_touch.spec is that interleaving.)
 *   2. merge_found() under the account type's merge lock: the accounts
 *      still live among those reported are merged into the oldest.
 *   3. Back to 1, whose one-node run then skips its lock-free probes (the
 *      statement's snapshot cannot see the merge).  Concurrent calls can
 *      attach a key elsewhere meanwhile; each round merges at least two
 *      accounts holding this call's keys into one, or ends, so after at
 *      most as many rounds as keys the call ends; past that, 40001.
 *
 * Why this is race-free.  Every merge, this one's and merge_accounts()',
 * holds the account type's merge lock to the end of its transaction
 * (THE ACCOUNT LIFECYCLE: MERGES TAKE TURNS), so two calls never merge
 * the same accounts two ways: the second waits, then finds the first's
 * survivor holding the keys (or, merged meanwhile, reports its survivor
 * and merges that).  The survivor is always the oldest live account, and
 * merged_into only ever points at a live account, so no cycle forms.  No
 * two merging calls wait for each other in a circle: the merge lock comes
 * before any account's row lock in every merge; a call that waits for it
 * holds no account lock of its own (released key locks, nothing written
 * yet on one node; the rolled-back subtransaction on Citus); and what
 * else may hold an account's row (attaches, tags, redactions) never waits
 * for the merge lock.  An identifier limit that the merge would break is
 * 23514, nothing written (merge_core()).
 *
 * Isolation: one node, any level (a merge under REPEATABLE READ raises
 * 40001 for what its snapshot cannot see, as merge_accounts() does);
 * Citus, READ COMMITTED when a merge is needed (0A000 otherwise, as
 * merge_accounts()).
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "call.h"
#include "node.h"
#include "resolve.h"

/* Step 2: merge_found() as the extension's owner. */
static void
merge_found(const IdentKey *key, const Resolve *r)
{
	OwnerScope	scope;
	Oid			types[2] = {TEXTOID, UUIDARRAYOID};
	Datum		values[2];
	Datum	   *elems = palloc(sizeof(Datum) * r->nowners);

	for (int i = 0; i < r->nowners; i++)
		elems[i] = UUIDPGetDatum(&r->owners[i]);
	values[0] = key->account_type_d;
	values[1] = PointerGetDatum(construct_array(elems, r->nowners, UUIDOID,
												UUID_LEN, false, TYPALIGN_CHAR));
	node_become_owner(&scope);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT accounts_internal.merge_found($1, $2)",
							  2, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed for accounts_internal.merge_found()");
	SPI_finish();
	node_restore_user(&scope);
}

/*
 * Step 1: the protocol in a subtransaction, rolled back on a report.  A
 * Lookup opened before it keeps its relations under its own resource
 * owner (statement.c), which the subtransaction does not release; the
 * buffer pin of its probe slot is the subtransaction's, so the slot is
 * cleared before the subtransaction ends.
 */
static void
release_probe(CallStore *st)
{
	if (!st->distributed && st->lookup.slot != NULL)
		ExecClearTuple(st->lookup.slot);
}

static bool
isolated_round(CallStore *st, IdentKey *keys, int nkeys, Resolve *r, pg_uuid_t *account_id)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	bool		created = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		created = call_find_or_create_keys(st, keys, nkeys, r, account_id);
		release_probe(st);
		if (r->nowners > 1)
			RollbackAndReleaseCurrentSubTransaction();
		else
			ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		release_probe(st);
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		ReThrowError(edata);
	}
	PG_END_TRY();
	return created;
}

/*
 * find_or_create_account(type, identifiers, on_conflict => 'merge'): the
 * protocol above.  keys are of one account type; *account_id is the
 * account holding all of them afterwards; returns true if it was created.
 */
bool
resolve_find_or_create(CallStore *st, IdentKey *keys, int nkeys, pg_uuid_t *account_id)
{
	Resolve		r;

	memset(&r, 0, sizeof(r));
	for (int round = 0;; round++)
	{
		bool		created;

		CHECK_FOR_INTERRUPTS();
		r.nowners = 0;
		created = isolated_round(st, keys, nkeys, &r, account_id);
		if (r.nowners == 0)
			return created;
		if (r.nowners == 1)		/* a report names two or more: never */
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not serialize access due to concurrent changes of the accounts of these identifiers"),
					 errdetail("The identifiers were reported on one account only."),
					 errhint("Retry the transaction.")));
		if (XactReadOnly)
			ereport(ERROR,
					(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
					 errmsg("cannot merge the %d accounts of these identifiers in a read-only transaction",
							r.nowners),
					 errdetail("The identifiers belong to more than one account of type \"%s\".",
							   keys[0].account_type),
					 errhint("Run it in a read-write transaction, or pass on_conflict => 'error' to be told which accounts they are.")));
		if (round > nkeys)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not serialize access due to concurrent changes of the accounts of these identifiers"),
					 errdetail("The identifiers were found on other accounts after each of %d merges.", round + 1),
					 errhint("Retry the transaction.")));
		merge_found(&keys[0], &r);
		r.after_merge = true;
	}
}
