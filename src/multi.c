/*
 * multi.c: accounts with several identifiers.
 *
 *   find_or_create_account(type, identifiers accounts.identifier[])
 *   add_identifier(account_id, id_type, value)
 *
 * Multi-identifier protocol (an extension of the one in lookup.c):
 *
 *   1. Check and normalize every identifier; sort them into one canonical
 *      order (identifier type, then value) and drop duplicates.
 *   2. Probe them all with the statement's MVCC snapshot, taking no lock.
 *      All found on one account: return it.  Found on two or more
 *      accounts: 21000, nothing written.
 *   3. Otherwise take the advisory locks of all of them, in the canonical
 *      order, and probe again with a dirty snapshot.  A row in progress in
 *      another transaction: release every lock, wait for it, start over.
 *      Rows on two or more accounts: release, 21000.  On one account:
 *      attach the missing identifiers to it.  On none: create one account
 *      holding all of them.  Then release the locks.
 *
 * Taking the locks in one order means concurrent callers passing the same
 * identifiers in any order never deadlock on them; while holding them a
 * caller waits for nothing else (it releases them before waiting for a
 * transaction), so the locks cannot be part of a cycle.  A transaction
 * holds at most MULTI_MAX_IDENTIFIERS of them at once and none after the
 * call.  The isolation-level rules are those of the single form.
 */
#include "account.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type_d.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/uuid.h"

PG_FUNCTION_INFO_V1(account_find_or_create_multi);
PG_FUNCTION_INFO_V1(account_add_identifier);

#define MULTI_MAX_IDENTIFIERS 100

static int
key_cmp(const void *a, const void *b)
{
	const IdentKey *x = (const IdentKey *) a;
	const IdentKey *y = (const IdentKey *) b;
	int			c = strcmp(x->id_type, y->id_type);

	return c != 0 ? c : strcmp(x->value, y->value);
}

/* Release the first n of the advisory locks in tags. */
static void
unlock_all(LOCKTAG *tags, int n)
{
	for (int j = 0; j < n; j++)
		ident_unlock(&tags[j]);
}

static char *
uuid_text(const pg_uuid_t *u)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(u)));
}

/*
 * If the found identifiers belong to more than one account, raise 21000
 * naming them.  found[i] says whether keys[i] was found, on ids[i].
 */
static void
check_one_account(IdentKey *keys, pg_uuid_t *ids, bool *found, int n,
				  LOCKTAG *tags, int nlocked)
{
	int			first = -1;
	StringInfoData detail;

	for (int i = 0; i < n; i++)
	{
		if (!found[i])
			continue;
		if (first < 0)
			first = i;
		else if (memcmp(&ids[i], &ids[first], sizeof(pg_uuid_t)) != 0)
		{
			unlock_all(tags, nlocked);
			initStringInfo(&detail);
			for (int k = 0; k < n; k++)
				if (found[k])
					appendStringInfo(&detail, "%s%s \"%s\" belongs to account %s",
									 detail.len ? "; " : "", keys[k].id_type,
									 keys[k].value, uuid_text(&ids[k]));
			ereport(ERROR,
					(errcode(ERRCODE_CARDINALITY_VIOLATION),
					 errmsg("the identifiers belong to more than one account of type \"%s\"",
							keys[0].account_type),
					 errdetail("%s.", detail.data),
					 errhint("Pass identifiers of one person, or merge the accounts first.")));
		}
	}
}

/*
 * accounts.find_or_create_account(type text, identifiers accounts.identifier[],
 *                                 OUT account_id uuid, OUT created boolean)
 */
Datum
account_find_or_create_multi(PG_FUNCTION_ARGS)
{
	CallState  *state = begin_call(fcinfo, true);
	MemoryContext caller_cxt;
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *elem_nulls;
	int			nelems;
	int			n = 0;
	IdentKey   *keys;
	pg_uuid_t  *ids;
	bool	   *found;
	LOCKTAG    *tags;
	IdentSession session;
	pg_uuid_t	account_id;
	bool		created = false;
	int			missing_owner = 0;

	if (PG_ARGISNULL(0))
		raise_null_argument("type");
	if (PG_ARGISNULL(1))
		raise_null_argument("identifiers");

	caller_cxt = MemoryContextSwitchTo(state->call_cxt);
	arr = PG_GETARG_ARRAYTYPE_P(1);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"identifiers\" has %d dimensions", ARR_NDIM(arr)),
				 errhint("Pass a one-dimensional accounts.identifier[].")));
	deconstruct_array(arr, ARR_ELEMTYPE(arr), -1, false, TYPALIGN_DOUBLE,
					  &elems, &elem_nulls, &nelems);
	if (nelems == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"identifiers\" is empty"),
				 errhint("Pass at least one identifier.")));
	if (nelems > MULTI_MAX_IDENTIFIERS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%d identifiers are more than one account can be found by at once", nelems),
				 errdetail("At most %d identifiers are accepted in one call.", MULTI_MAX_IDENTIFIERS),
				 errhint("Use accounts.add_identifier() to attach further identifiers.")));

	/* 1. check and normalize everything before writing anything */
	keys = palloc0(sizeof(IdentKey) * nelems);
	for (int i = 0; i < nelems; i++)
	{
		HeapTupleHeader ident;
		bool		isnull;
		Datum		id_type;
		Datum		value;

		if (elem_nulls[i])
			raise_null_argument(psprintf("identifiers[%d]", i + 1));
		ident = DatumGetHeapTupleHeader(elems[i]);
		id_type = GetAttributeByNum(ident, 1, &isnull);
		if (isnull)
			raise_null_argument(psprintf("identifiers[%d].id_type", i + 1));
		value = GetAttributeByNum(ident, 2, &isnull);
		if (isnull)
			raise_null_argument(psprintf("identifiers[%d].value", i + 1));
		make_key(fcinfo, state, &keys[n], PG_GETARG_TEXT_PP(0),
				 DatumGetTextPP(id_type), DatumGetTextPP(value));
		/* the memo's strings are overwritten by the next make_key */
		keys[n].account_type = pstrdup(keys[n].account_type);
		keys[n].id_type = pstrdup(keys[n].id_type);
		keys[n].account_type_d = PointerGetDatum(cstring_to_text(keys[n].account_type));
		keys[n].id_type_d = PointerGetDatum(cstring_to_text(keys[n].id_type));
		n++;
	}
	qsort(keys, n, sizeof(IdentKey), key_cmp);
	{
		int			m = 0;

		for (int i = 0; i < n; i++)
			if (m == 0 || key_cmp(&keys[i], &keys[m - 1]) != 0)
				keys[m++] = keys[i];
		n = m;
	}

	ids = palloc0(sizeof(pg_uuid_t) * n);
	found = palloc0(sizeof(bool) * n);
	tags = palloc0(sizeof(LOCKTAG) * n);
	ident_session_open(&session, true);

	for (;;)
	{
		bool		all_found = true;
		int			nlocked = 0;
		TransactionId xwait = InvalidTransactionId;
		int			owner = -1;

		CHECK_FOR_INTERRUPTS();

		/* 2. lock-free MVCC probes */
		for (int i = 0; i < n; i++)
		{
			found[i] = ident_lookup(&session, &keys[i], &ids[i]);
			all_found &= found[i];
		}
		check_one_account(keys, ids, found, n, NULL, 0);
		if (all_found)
		{
			account_id = ids[0];
			break;
		}

		/* 3. all locks in canonical order, then dirty probes */
		ident_check_writable(&keys[0]);
		for (int i = 0; i < n; i++)
			if (!found[i])
				ident_lock_types(&session, &keys[i]);
		for (int i = 0; i < n; i++)
		{
			ident_lock(&keys[i], &tags[i]);
			nlocked++;
		}
		for (int i = 0; i < n && !TransactionIdIsValid(xwait); i++)
		{
			switch (ident_probe_locked(&session, &keys[i], &ids[i], &xwait))
			{
				case PROBE_NONE:
					found[i] = false;
					break;
				case PROBE_FOUND:
					found[i] = true;
					if (owner < 0)
						owner = i;
					break;
				case PROBE_WAIT:
					break;
			}
		}
		if (TransactionIdIsValid(xwait))
		{
			unlock_all(tags, nlocked);
			ident_wait(&session, xwait);
			continue;
		}
		check_one_account(keys, ids, found, n, tags, nlocked);

		/*
		 * Attaching to an existing account: hold its row FOR KEY SHARE, as
		 * the foreign key would (lookup.c, ROW LOCKS).  Never wait while
		 * holding the advisory locks: if the row is busy (a DELETE in
		 * progress), release them, wait for the row, and start over.
		 */
		if (owner >= 0)
		{
			char	   *owner_type;
			AccountLockResult lr;

			lr = ident_lock_account(&session, &ids[owner], false, &owner_type);
			if (lr != ACCOUNT_LOCKED)
			{
				unlock_all(tags, nlocked);
				if (lr == ACCOUNT_WOULD_BLOCK)
					lr = ident_lock_account(&session, &ids[owner], true, &owner_type);
				if (lr == ACCOUNT_MISSING && ++missing_owner > 3)
					ereport(ERROR,
							(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
							 errmsg("identifier %s \"%s\" belongs to account %s, which does not exist",
									keys[owner].id_type, keys[owner].value, uuid_text(&ids[owner])),
							 errhint("The table was changed outside the extension; remove the identifier with DELETE FROM accounts.identifiers.")));
				continue;
			}
		}

		if (owner >= 0)
			account_id = ids[owner];
		else
		{
			ident_insert_account(&session, &keys[0], &account_id);
			created = true;
		}
		for (int i = 0; i < n; i++)
			if (!found[i])
				ident_insert_identifier(&session, &keys[i], &account_id);
		unlock_all(tags, nlocked);
		break;
	}
	ident_session_close(&session);

	MemoryContextSwitchTo(caller_cxt);
	return account_result_row(state, &account_id, created);
}

/*
 * accounts.add_identifier(account_id uuid, id_type text, value text)
 *   RETURNS boolean
 *
 * true: attached; false: the account already has it; 23505: another
 * account has it; 42704: no such account.  The find-or-create protocol,
 * attaching to this account where it would create one.
 */
Datum
account_add_identifier(PG_FUNCTION_ARGS)
{
	CallState  *state = begin_call(fcinfo, false);
	MemoryContext caller_cxt;
	pg_uuid_t  *account_id;
	IdentSession session;
	IdentKey	key;
	char	   *account_type;
	pg_uuid_t	owner;
	bool		added;

	if (PG_ARGISNULL(0))
		raise_null_argument("account_id");
	if (PG_ARGISNULL(1))
		raise_null_argument("id_type");
	if (PG_ARGISNULL(2))
		raise_null_argument("value");

	caller_cxt = MemoryContextSwitchTo(state->call_cxt);
	account_id = PG_GETARG_UUID_P(0);
	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot add an identifier to account %s in a read-only transaction",
						uuid_text(account_id)),
				 RecoveryInProgress() ?
				 errhint("This server is a hot standby; call the primary.") :
				 errhint("Run it in a read-write transaction.")));
	ident_session_open(&session, true);

	/*
	 * Hold the account's row FOR KEY SHARE for the rest of the transaction,
	 * as the foreign key from identifiers would: a concurrent DELETE of the
	 * account waits for us and then cascades to the identifier we add
	 * (lookup.c, ROW LOCKS).
	 */
	if (ident_lock_account(&session, account_id, true, &account_type) != ACCOUNT_LOCKED ||
		account_type == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("account %s does not exist", uuid_text(account_id)),
				 errhint("Find or create the account first, e.g. with accounts.find_or_create_account().")));
	make_key(fcinfo, state, &key, cstring_to_text(account_type),
			 PG_GETARG_TEXT_PP(1), PG_GETARG_TEXT_PP(2));

	added = ident_find_or_create(&session, &key, account_id, &owner);
	ident_session_close(&session);

	if (!added && memcmp(&owner, account_id, sizeof(pg_uuid_t)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("%s \"%s\" belongs to another account", key.id_type, key.value),
				 errdetail("Account %s has it; an identifier belongs to one account of its type.",
						   uuid_text(&owner)),
				 errhint("Remove it from that account first with accounts.remove_identifier(), or merge the accounts.")));

	MemoryContextSwitchTo(caller_cxt);
	PG_RETURN_BOOL(added);
}
