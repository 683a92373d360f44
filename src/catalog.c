/*
 * catalog.c: the extension's relations and its identifier-type cache.
 *
 * Nothing here goes through search_path.  The schema is found by name
 * ("accounts", fixed by account.control, the extension is not relocatable)
 * and every relation by (namespace OID, name); the OIDs are cached for the
 * life of the backend and forgotten on any relcache invalidation of one of
 * them, which DROP EXTENSION, ALTER TABLE and the like all send.
 *
 * Identifier types are read from accounts.identifier_types once and cached
 * in a hash table.  Registry rows are ordinary data, so the statement-level
 * trigger accounts.registry_changed() (account_registry_changed below) turns
 * every INSERT/UPDATE/DELETE/TRUNCATE of the registries into a relcache
 * invalidation; other backends drop their cache when they process it (at
 * their next transaction start or lock acquisition), this backend at the
 * end of the command or on rollback.  A generation counter keeps a lookup
 * that raced with an invalidation from caching what it read.
 */
#include "account.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation_d.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

PG_FUNCTION_INFO_V1(account_registry_changed);

static AccountRels rels;
static bool rels_valid = false;
static bool callback_registered = false;

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
static uint64 inval_generation = 1;

static void
account_relcache_callback(Datum arg, Oid relid)
{
	if (!rels_valid)
		return;
	if (relid == InvalidOid ||
		relid == rels.accounts || relid == rels.accounts_pkey ||
		relid == rels.identifiers || relid == rels.identifiers_pkey ||
		relid == rels.account_types || relid == rels.identifier_types ||
		relid == rels.identifier_types_pkey)
	{
		rels_valid = false;
		inval_generation++;
		if (ident_types != NULL)
		{
			hash_destroy(ident_types);
			ident_types = NULL;
		}
	}
}

static Oid
lookup_rel(Oid namespace, const char *name)
{
	Oid			relid = get_relname_relid(name, namespace);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"accounts.%s\" does not exist", name),
				 errhint("The extension \"account\" is damaged; reinstall it with DROP EXTENSION and CREATE EXTENSION.")));
	return relid;
}

static AttrNumber
lookup_att(Oid relid, const char *relname, const char *attname)
{
	AttrNumber	attnum = get_attnum(relid, attname);

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"accounts.%s\" does not exist",
						attname, relname),
				 errhint("The extension \"account\" is damaged; reinstall it with DROP EXTENSION and CREATE EXTENSION.")));
	return attnum;
}

/*
 * Changes whenever cached catalog information may have gone stale; callers
 * that memoize a resolution (account.c, per call site) compare it.
 */
uint64
account_cache_generation(void)
{
	return inval_generation;
}

/*
 * The extension's relations.  The result is valid until the next relcache
 * invalidation, i.e. for the duration of the caller's work on them.
 */
const AccountRels *
account_rels(void)
{
	AccountRels r;

	if (rels_valid)
		return &rels;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(account_relcache_callback, (Datum) 0);
		callback_registered = true;
	}

	memset(&r, 0, sizeof(r));
	r.namespace = get_namespace_oid("accounts", true);
	if (!OidIsValid(r.namespace))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_SCHEMA),
				 errmsg("schema \"accounts\" does not exist"),
				 errhint("Run CREATE EXTENSION account in this database.")));
	r.accounts = lookup_rel(r.namespace, "accounts");
	r.accounts_pkey = lookup_rel(r.namespace, "accounts_pkey");
	r.identifiers = lookup_rel(r.namespace, "identifiers");
	r.identifiers_pkey = lookup_rel(r.namespace, "identifiers_pkey");
	r.account_types = lookup_rel(r.namespace, "account_types");
	r.identifier_types = lookup_rel(r.namespace, "identifier_types");
	r.identifier_types_pkey = lookup_rel(r.namespace, "identifier_types_pkey");

	r.acc_id = lookup_att(r.accounts, "accounts", "id");
	r.acc_type = lookup_att(r.accounts, "accounts", "account_type");
	r.acc_created_at = lookup_att(r.accounts, "accounts", "created_at");
	r.ident_account_type = lookup_att(r.identifiers, "identifiers", "account_type");
	r.ident_id_type = lookup_att(r.identifiers, "identifiers", "id_type");
	r.ident_value = lookup_att(r.identifiers, "identifiers", "value");
	r.ident_account_id = lookup_att(r.identifiers, "identifiers", "account_id");
	r.ident_created_at = lookup_att(r.identifiers, "identifiers", "created_at");
	r.itype_kind = lookup_att(r.identifier_types, "identifier_types", "kind");
	r.itype_case_sensitive = lookup_att(r.identifier_types, "identifier_types",
										"case_sensitive");

	rels = r;
	rels_valid = true;
	return &rels;
}

/*
 * Read one row of a registry by its primary key, with the active snapshot.
 * Returns false if there is none; otherwise fills *out when out != NULL.
 */
static bool
registry_fetch(const AccountRels *r, const char *account_type,
			   const char *id_type, IdentType *out)
{
	Relation	heap;
	Relation	index;
	ScanKeyData skey[2];
	IndexScanDesc scan;
	TupleTableSlot *slot;
	int			nkeys = id_type ? 2 : 1;
	bool		found;

	heap = table_open(r->identifier_types, AccessShareLock);
	index = index_open(r->identifier_types_pkey, AccessShareLock);
	slot = table_slot_create(heap, NULL);

	ScanKeyInit(&skey[0], 1, BTEqualStrategyNumber, F_TEXTEQ,
				CStringGetTextDatum(account_type));
	if (id_type)
		ScanKeyInit(&skey[1], 2, BTEqualStrategyNumber, F_TEXTEQ,
					CStringGetTextDatum(id_type));

	scan = index_beginscan(heap, index, GetActiveSnapshot(), nkeys, 0);
	index_rescan(scan, skey, nkeys, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	if (found && out != NULL)
	{
		bool		isnull;
		Datum		d;
		char	   *kind;

		d = slot_getattr(slot, r->itype_kind, &isnull);
		kind = isnull ? "" : TextDatumGetCString(d);
		if (!ident_kind_from_name(kind, &out->kind))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("identifier type \"%s\" of account type \"%s\" has unknown kind \"%s\"",
							id_type, account_type, kind),
					 errhint("Set kind to text, email or phone in accounts.identifier_types.")));
		d = slot_getattr(slot, r->itype_case_sensitive, &isnull);
		out->case_sensitive = !isnull && DatumGetBool(d);
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, AccessShareLock);
	table_close(heap, AccessShareLock);
	return found;
}

/*
 * Resolve (account_type, id_type) to its identifier type, or raise 42704.
 * Cached; see the header comment for how the cache stays current.
 */
void
account_resolve_ident_type(const char *account_type, const char *id_type,
						   IdentType *out)
{
	const AccountRels *r;
	IdentTypeKey key;
	IdentTypeEntry *entry;
	uint64		generation;
	bool		found;

	/* names longer than this cannot be registered (CHECK constraint) */
	account_check_name("account type", account_type);
	account_check_name("identifier type", id_type);

	memset(&key, 0, sizeof(key));
	strlcpy(key.account_type, account_type, sizeof(key.account_type));
	strlcpy(key.id_type, id_type, sizeof(key.id_type));

	if (ident_types != NULL)
	{
		entry = hash_search(ident_types, &key, HASH_FIND, NULL);
		if (entry != NULL)
		{
			*out = entry->type;
			return;
		}
	}

	r = account_rels();
	generation = inval_generation;
	if (!registry_fetch(r, account_type, id_type, out))
	{
		if (!registry_fetch(r, account_type, NULL, NULL))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("account type \"%s\" does not exist", account_type),
					 errhint("List account types with SELECT name FROM accounts.account_types; add one with INSERT INTO accounts.account_types (name) VALUES (...).")));
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("identifier type \"%s\" does not exist for account type \"%s\"",
						id_type, account_type),
				 errhint("List identifier types with SELECT * FROM accounts.identifier_types WHERE account_type = '%s'; add one with INSERT INTO accounts.identifier_types.",
						 account_type)));
	}

	/* an invalidation arrived while we read: do not cache what we read */
	if (generation != inval_generation)
		return;

	if (ident_types == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(IdentTypeKey);
		ctl.entrysize = sizeof(IdentTypeEntry);
		ctl.hcxt = CacheMemoryContext;
		ident_types = hash_create("account identifier types", 16, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = hash_search(ident_types, &key, HASH_ENTER, &found);
	entry->type = *out;
}

/*
 * Statement-level trigger on the registries: make every backend forget its
 * cached identifier types once this transaction commits.
 */
Datum
account_registry_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("accounts.registry_changed() was not called by a trigger"),
				 errhint("It is attached to accounts.account_types and accounts.identifier_types by the extension.")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	PG_RETURN_POINTER(NULL);
}
