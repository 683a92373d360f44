/*
 * types.c: the identifier-type registry, read and cached.
 *
 *   types_check_names()       names too long to be registered: 42704
 *   types_resolve()           (account type, identifier type) -> its kind,
 *                             case sensitivity and journal setting, or 42704
 *   types_journal_enabled()   is the change journal on for an account type
 *
 * ON ONE NODE identifier types are read from accounts.identifier_types
 * once and cached in a hash table for the life of the backend.  Registry
 * rows are ordinary data, so the row triggers accounts_internal.
 * registry_changed() (table_triggers.c) turn every change of the
 * registries and of accounts.journal_settings into a relcache
 * invalidation; every backend processes it at its next transaction start
 * or lock acquisition, this one at the end of the command or on rollback.
 * catalog.c counts those invalidations (catalog_generation()): the cache
 * is dropped when the count moved, and a read that raced with an
 * invalidation is not cached.
 *
 * ON A DISTRIBUTED CLUSTER the registries are the reference tables
 * accounts.dist_account_types and accounts.dist_identifier_types, and the
 * journal settings accounts.dist_journal_settings, of which every node
 * holds a copy (node_local_placement()).  A call reads this node's copy
 * directly, as one node reads its table: no Citus planning, no round trip,
 * and no cache (a Citus call costs round trips to the workers; the read is
 * a microsecond).  Creators lock their type's row in that copy (dist.c),
 * as one node locks its registry row (rowlock.c).
 */
#include "postgres.h"

#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "catalog.h"
#include "node.h"
#include "types.h"
#include "value.h"

typedef struct IdentTypeKey
{
	char		account_type[ACCOUNT_MAX_NAME_BYTES + 1];
	char		id_type[ACCOUNT_MAX_NAME_BYTES + 1];
} IdentTypeKey;

typedef struct IdentTypeEntry
{
	IdentTypeKey key;
	IdentType	type;
} IdentTypeEntry;

static HTAB *ident_types = NULL;
static uint64 ident_types_generation = 0;	/* catalog_generation() it holds */

/*
 * A name longer than any registered one cannot exist: say so, without
 * copying a huge argument into the message.
 */
static void
check_name(const char *what, const char *name)
{
	if (strlen(name) > ACCOUNT_MAX_NAME_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("%s \"%s\" does not exist", what, value_clip(name)),
				 errdetail("Names of account types and identifier types are at most %d bytes.",
						   ACCOUNT_MAX_NAME_BYTES),
				 errhint("List them with SELECT * FROM accounts.identifier_types.")));
}

/* Names too long to be registered: 42704 before anything is read. */
void
types_check_names(const char *account_type, const char *id_type)
{
	check_name("account type", account_type);
	check_name("identifier type", id_type);
}

/*
 * Read one row of a registry (or of the journal settings) by its primary
 * key, with the active snapshot: the first nkeys of the text values keys.
 * Returns false if there is none; otherwise calls fill on the row.
 */
typedef void (*fill_fn) (Relation heap, TupleTableSlot *slot, void *arg);

static bool
fetch_row(Oid relid, const char *const *keys, int nkeys, fill_fn fill, void *arg)
{
	Relation	heap;
	ScanKeyData skey[2];
	TupleTableSlot *slot;
	bool		found;

	heap = catalog_table_open(relid, AccessShareLock);
	slot = table_slot_create(heap, NULL);
	for (int i = 0; i < nkeys; i++)
		ScanKeyInit(&skey[i], i + 1, BTEqualStrategyNumber, F_TEXTEQ,
					CStringGetTextDatum(keys[i]));
	found = catalog_pkey_fetch(heap, skey, nkeys,
							   ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot(),
							   slot);
	if (found && fill != NULL)
		fill(heap, slot, arg);
	ExecDropSingleTupleTableSlot(slot);
	table_close(heap, AccessShareLock);
	return found;
}

/* An identifier type's kind and case sensitivity, from its registry row. */
static void
fill_type(Relation heap, TupleTableSlot *slot, void *arg)
{
	IdentType  *out = (IdentType *) arg;
	Oid			relid = RelationGetRelid(heap);
	bool		isnull;
	Datum		d;
	char	   *kind;

	d = slot_getattr(slot, get_attnum(relid, "kind"), &isnull);
	kind = isnull ? "" : TextDatumGetCString(d);
	if (!ident_kind_from_name(kind, &out->kind))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("an identifier type has unknown kind \"%s\"", kind),
				 errhint("The registry was changed outside the extension; drop the type with accounts.drop_identifier_type() and create it again.")));
	d = slot_getattr(slot, get_attnum(relid, "case_sensitive"), &isnull);
	out->case_sensitive = !isnull && DatumGetBool(d);
}

/* A journal setting's enabled column. */
static void
fill_enabled(Relation heap, TupleTableSlot *slot, void *arg)
{
	bool	   *enabled = (bool *) arg;
	bool		isnull;
	Datum		d = slot_getattr(slot, get_attnum(RelationGetRelid(heap), "enabled"), &isnull);

	*enabled = isnull || DatumGetBool(d);
}

/* The registry relations of this node: its own tables, or its copies. */
static Oid
account_types_rel(void)
{
	return node_is_distributed() ? node_local_placement("dist_account_types")
		: catalog_rels()->account_types;
}

static Oid
identifier_types_rel(void)
{
	return node_is_distributed() ? node_local_placement("dist_identifier_types")
		: catalog_rels()->identifier_types;
}

/*
 * Is the journal on for account_type?  On unless the journal settings say
 * otherwise (accounts.set_journal()); off where the schema has no journal
 * (before 1.4), or on a cluster distributed by 1.5 until distribute()
 * runs again.
 */
bool
types_journal_enabled(const char *account_type)
{
	bool		enabled = true;
	Oid			relid;

	if (node_is_distributed())
	{
		if (!node_journal_distributed())
			return false;
		relid = node_local_placement("dist_journal_settings");
	}
	else
	{
		const AccountRels *r = catalog_rels();

		if (!OidIsValid(r->events))
			return false;
		relid = r->journal_settings;
	}
	(void) fetch_row(relid, &account_type, 1, fill_enabled, &enabled);
	return enabled;
}

/* 42704 for (account_type, id_type), naming what is missing. */
static void
type_missing(const char *account_type, const char *id_type)
{
	if (!fetch_row(account_types_rel(), &account_type, 1, NULL, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("account type \"%s\" does not exist", account_type),
				 errhint("List account types with SELECT name FROM accounts.account_types; add one with accounts.create_account_type().")));
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("identifier type \"%s\" does not exist for account type \"%s\"",
					id_type, account_type),
			 errhint("List identifier types with SELECT * FROM accounts.identifier_types WHERE account_type = '%s'; add one with accounts.create_identifier_type().",
					 account_type)));
}

/*
 * Resolve (account_type, id_type) to its identifier type, or raise 42704.
 * Cached on one node; see the header comment for how the cache stays
 * current.
 */
void
types_resolve(const char *account_type, const char *id_type, IdentType *out)
{
	const char *keys[2] = {account_type, id_type};
	IdentTypeKey key;
	IdentTypeEntry *entry;
	uint64		generation;
	bool		found;

	/* names longer than this cannot be registered (CHECK constraint) */
	types_check_names(account_type, id_type);
	memset(out, 0, sizeof(*out));

	if (node_is_distributed())
	{
		if (!fetch_row(identifier_types_rel(), keys, 2, fill_type, out))
			type_missing(account_type, id_type);
		out->journal = types_journal_enabled(account_type);
		return;
	}

	memset(&key, 0, sizeof(key));
	strlcpy(key.account_type, account_type, sizeof(key.account_type));
	strlcpy(key.id_type, id_type, sizeof(key.id_type));

	generation = catalog_generation();
	if (ident_types != NULL && ident_types_generation != generation)
	{
		hash_destroy(ident_types);
		ident_types = NULL;
	}
	if (ident_types != NULL)
	{
		entry = hash_search(ident_types, &key, HASH_FIND, NULL);
		if (entry != NULL)
		{
			*out = entry->type;
			return;
		}
	}

	if (!fetch_row(identifier_types_rel(), keys, 2, fill_type, out))
		type_missing(account_type, id_type);
	out->journal = types_journal_enabled(account_type);

	/* an invalidation arrived while we read: do not cache what we read */
	if (generation != catalog_generation())
		return;

	if (ident_types == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(IdentTypeKey);
		ctl.entrysize = sizeof(IdentTypeEntry);
		ctl.hcxt = CacheMemoryContext;
		ident_types = hash_create("account identifier types", 16, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		ident_types_generation = generation;
	}
	entry = hash_search(ident_types, &key, HASH_ENTER, &found);
	entry->type = *out;
}
