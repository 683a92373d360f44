/*
 * catalog.c: the extension's relations, and the shape check of the tables
 * the C code writes.
 *
 * Nothing here goes through search_path.  The schema is found by name
 * ("accounts", fixed by account.control, the extension is not relocatable)
 * and every relation by (namespace OID, name); the OIDs are cached for the
 * life of the backend and forgotten on any relcache invalidation of one of
 * them, which DROP EXTENSION, ALTER TABLE and the like all send.
 *
 * catalog_generation() counts those invalidations (and the registries',
 * which registry_changed() in table_triggers.c sends on every change of
 * their rows): a cache built on what this file resolved (types.c, call.c's
 * memo, statement.c's open relations) compares it and drops what it holds
 * when it moved.
 *
 * Index OIDs are never cached: REINDEX CONCURRENTLY gives an index a new
 * OID and drops the old one.  Callers open the table first (its lock makes
 * us process pending invalidations, and REINDEX CONCURRENTLY waits for
 * every holder of such a lock before it drops anything) and then take the
 * primary key from the table's relcache entry (catalog_pkey_open()).
 *
 * THE SHAPE CHECK
 * ===============
 *
 * The C code writes accounts.accounts, accounts.identifiers and (from 1.4)
 * accounts.events through the table access method, as logical
 * replication's apply does, not through the executor's INSERT.  It sets
 * every column itself and maintains every index, but it does not evaluate
 * defaults, generated columns, CHECK constraints or deferred uniqueness,
 * fire triggers, apply row-level security or rules.  Rather than write a
 * row PostgreSQL would refuse or complete differently, it refuses to run
 * on a table that has any of them: catalog_rels() checks these tables
 * whenever it (re)reads them, which
 * every ALTER TABLE, CREATE INDEX/TRIGGER/RULE/POLICY causes through the
 * relcache invalidation it sends, and raises 55000 naming what to undo.
 * The event trigger accounts_internal.guard_tables() runs the same check at the
 * end of such a DDL command, so the command itself fails.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation_d.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "catalog.h"
#include "compat.h"

static AccountRels rels;
static bool rels_valid = false;
static Oid	checked_pkeys[3] = {InvalidOid, InvalidOid, InvalidOid};
static bool callback_registered = false;
static uint64 inval_generation = 1;

static void
account_relcache_callback(Datum arg pg_attribute_unused(), Oid relid)
{
	if (!rels_valid)
		return;
	if (relid == InvalidOid ||
		relid == rels.accounts || relid == rels.identifiers ||
		relid == rels.account_types || relid == rels.identifier_types ||
		(OidIsValid(rels.events) &&
		 (relid == rels.events || relid == rels.journal_settings)) ||
		relid == checked_pkeys[0] || relid == checked_pkeys[1] ||
		(OidIsValid(checked_pkeys[2]) && relid == checked_pkeys[2]))
	{
		rels_valid = false;
		inval_generation++;
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

/*
 * A column the extension's current version has but an older installed
 * version may lack (see AccountRels): InvalidAttrNumber if absent.
 */
static AttrNumber
lookup_att_optional(Oid relid, const char *attname)
{
	return get_attnum(relid, attname);
}

/* The OID of a label of enum type typoid, or InvalidOid. */
static Oid
enum_label(Oid typoid, const char *label)
{
	if (!OidIsValid(typoid))
		return InvalidOid;
	return GetSysCacheOid2(ENUMTYPOIDNAME, Anum_pg_enum_oid,
						   ObjectIdGetDatum(typoid), CStringGetDatum(label));
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
 * that memoize a resolution (call.c per call site, trigger.c per
 * statement) compare it.
 */
uint64
catalog_generation(void)
{
	return inval_generation;
}

/* Refuse to write a table whose shape the fast path cannot honour. */
static void
shape_error(Relation rel, const char *what, const char *name, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("table \"accounts.%s\" has %s \"%s\", which the account extension cannot honour",
					RelationGetRelationName(rel), what, name),
			 errdetail("The extension writes this table through the table access method: it sets every column itself and maintains every index, but evaluates no defaults, generated columns or CHECK constraints, fires no triggers, and applies no deferred constraints, rules or row security."),
			 errhint("%s", hint)));
}

/*
 * The columns a table must have, in any attribute order, and nothing else:
 * names, types and (for text) the "C" collation.
 */
typedef struct ExpectedColumn
{
	const char *name;
	Oid			type;
} ExpectedColumn;

/*
 * Check the shape of one of the written tables (see THE SHAPE CHECK);
 * returns the OID of its primary key.  Its columns were found by name
 * already (lookup_att), so a live column that is not expected is an added
 * one.
 */
static Oid
check_table(Oid relid, const ExpectedColumn *cols, int ncols,
			const int16 *pkey_cols, int npkey)
{
	Relation	rel = catalog_table_open(relid, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	const char *relname = RelationGetRelationName(rel);
	Oid			pkoid;
	Relation	pk;
	List	   *indexes;
	ListCell   *lc;

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		bool		known = false;

		if (att->attisdropped)
			continue;
		for (int c = 0; c < ncols; c++)
		{
			if (strcmp(NameStr(att->attname), cols[c].name) != 0)
				continue;
			known = true;
			if (att->atttypid != cols[c].type ||
				((att->atttypid == TEXTOID || att->atttypid == TEXTARRAYOID) &&
				 att->attcollation != C_COLLATION_OID))
				shape_error(rel, "a changed column", NameStr(att->attname),
							"Restore the column's type (and COLLATE \"C\" for text) as the extension created it.");
		}
		if (att->attgenerated)
			shape_error(rel, "the generated column", NameStr(att->attname),
						"Drop the column; compute the value in a view instead.");
		if (!known)
			shape_error(rel, "the added column", NameStr(att->attname),
						psprintf("Drop the column (ALTER TABLE accounts.%s DROP COLUMN %s), and keep per-account data in a table of your own that references accounts.accounts (id).",
								 relname, quote_identifier(NameStr(att->attname))));
	}
	if (desc->constr && desc->constr->num_check > 0)
		shape_error(rel, "the CHECK constraint", desc->constr->check[0].ccname,
					psprintf("Drop it (ALTER TABLE accounts.%s DROP CONSTRAINT %s); validate values before calling the extension instead.",
							 relname, quote_identifier(desc->constr->check[0].ccname)));
	if (rel->trigdesc)
	{
		for (int i = 0; i < rel->trigdesc->numtriggers; i++)
		{
			Trigger    *t = &rel->trigdesc->triggers[i];

			if (!t->tgisinternal)
				shape_error(rel, "the trigger", t->tgname,
							psprintf("Drop it (DROP TRIGGER %s ON accounts.%s); react to changes from your own tables instead.",
									 quote_identifier(t->tgname), relname));
		}
	}
	if (rel->rd_rel->relhasrules)
		shape_error(rel, "a rule", relname, "Drop the rule.");
	if (rel->rd_rel->relrowsecurity)
		shape_error(rel, "row level security enabled", relname,
					psprintf("ALTER TABLE accounts.%s DISABLE ROW LEVEL SECURITY; grant EXECUTE on the functions instead of table privileges.",
							 relname));

	/* every index immediate (no deferred uniqueness or exclusion) */
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		Relation	ind = index_open(lfirst_oid(lc), AccessShareLock);
		bool		deferred = !ind->rd_index->indimmediate;
		char	   *indname = pstrdup(RelationGetRelationName(ind));

		index_close(ind, AccessShareLock);
		if (deferred)
			shape_error(rel, "the deferrable constraint", indname,
						"Drop it, or make it NOT DEFERRABLE.");
	}
	list_free(indexes);

	/* the primary key: unique, immediate, on exactly these columns */
	pkoid = compat_primary_key_index(rel);
	if (!OidIsValid(pkoid))
		shape_error(rel, "no primary key", relname,
					"Reinstall the extension: its primary keys are the guarantee of one account per identifier.");
	pk = index_open(pkoid, AccessShareLock);
	if (pk->rd_index->indnkeyatts != npkey || pk->rd_index->indnatts != npkey)
		shape_error(rel, "a changed primary key", RelationGetRelationName(pk),
					"Reinstall the extension.");
	for (int k = 0; k < npkey; k++)
	{
		if (pk->rd_index->indkey.values[k] != pkey_cols[k] ||
			(TupleDescAttr(desc, pkey_cols[k] - 1)->atttypid == TEXTOID &&
			 pk->rd_indcollation[k] != C_COLLATION_OID))
			shape_error(rel, "a changed primary key", RelationGetRelationName(pk),
						"Reinstall the extension.");
	}
	index_close(pk, AccessShareLock);
	table_close(rel, AccessShareLock);
	return pkoid;
}

/*
 * The extension's relations.  The result is valid until the next relcache
 * invalidation, i.e. for the duration of the caller's work on them.  Raises
 * 55000 if one of the written tables has a shape the C code cannot honour
 * (see THE SHAPE CHECK above).
 */
const AccountRels *
catalog_rels(void)
{
	AccountRels r;

	ExpectedColumn acc_cols[] = {
		{"id", UUIDOID}, {"account_type", TEXTOID}, {"created_at", TIMESTAMPTZOID},
		/* 1.3 */
		{"status", InvalidOid}, {"merged_into", UUIDOID}, {"tags", TEXTARRAYOID},
		{"updated_at", TIMESTAMPTZOID}, {"redacted_at", TIMESTAMPTZOID},
		/* 1.8; the C code leaves it NULL (no fields) in the rows it writes */
		{"fields", JSONBOID}};
	static const ExpectedColumn ident_cols[] = {
		{"account_type", TEXTOID}, {"id_type", TEXTOID}, {"value", TEXTOID},
	{"account_id", UUIDOID}, {"created_at", TIMESTAMPTZOID}};
	static const ExpectedColumn event_cols[] = {
		{"seq", INT8OID}, {"occurred_at", TIMESTAMPTZOID}, {"account_id", UUIDOID},
		{"account_type", TEXTOID}, {"kind", TEXTOID}, {"detail", JSONBOID}};

	for (int attempt = 0; !rels_valid; attempt++)
	{
		uint64		generation = inval_generation;
		int16		acc_pk[1];
		int16		ident_pk[3];
		int16		event_pk[1];
		Oid			pkeys[3] = {InvalidOid, InvalidOid, InvalidOid};
		int			lifecycle_parts;

		if (!callback_registered)
		{
			CacheRegisterRelcacheCallback(account_relcache_callback, (Datum) 0);
			callback_registered = true;
		}
		if (attempt > 10)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the tables of extension \"account\" keep changing"),
					 errhint("Retry when the concurrent DDL on schema \"accounts\" has finished.")));

		memset(&r, 0, sizeof(r));
		r.namespace = get_namespace_oid("accounts", true);
		if (!OidIsValid(r.namespace))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_SCHEMA),
					 errmsg("schema \"accounts\" does not exist"),
					 errhint("Run CREATE EXTENSION account in this database.")));
		r.accounts = lookup_rel(r.namespace, "accounts");
		r.identifiers = lookup_rel(r.namespace, "identifiers");
		r.account_types = lookup_rel(r.namespace, "account_types");
		r.identifier_types = lookup_rel(r.namespace, "identifier_types");

		r.acc_id = lookup_att(r.accounts, "accounts", "id");
		r.acc_type = lookup_att(r.accounts, "accounts", "account_type");
		r.acc_created_at = lookup_att(r.accounts, "accounts", "created_at");
		r.acc_status = lookup_att_optional(r.accounts, "status");
		r.acc_merged_into = lookup_att_optional(r.accounts, "merged_into");
		r.acc_tags = lookup_att_optional(r.accounts, "tags");
		r.acc_updated_at = lookup_att_optional(r.accounts, "updated_at");
		r.acc_redacted_at = lookup_att_optional(r.accounts, "redacted_at");
		r.status_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
										CStringGetDatum("account_status"),
										ObjectIdGetDatum(r.namespace));
		r.status_active = enum_label(r.status_type, "active");
		r.status_archived = enum_label(r.status_type, "archived");
		r.status_merged = enum_label(r.status_type, "merged");
		r.status_redacted = enum_label(r.status_type, "redacted");
		acc_cols[3].type = r.status_type;
		/* all of 1.3's columns and labels, or none of them */
		lifecycle_parts = (r.acc_status != InvalidAttrNumber) +
			(r.acc_merged_into != InvalidAttrNumber) + (r.acc_tags != InvalidAttrNumber) +
			(r.acc_updated_at != InvalidAttrNumber) + (r.acc_redacted_at != InvalidAttrNumber) +
			OidIsValid(r.status_active) + OidIsValid(r.status_archived) +
			OidIsValid(r.status_merged) + OidIsValid(r.status_redacted);
		if (lifecycle_parts != 0 && lifecycle_parts != 9)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("the lifecycle columns of \"accounts.accounts\" are incomplete"),
					 errdetail("Version 1.3 adds status, merged_into, tags, updated_at and redacted_at, and the type accounts.account_status, together."),
					 errhint("The extension \"account\" is damaged; reinstall it with DROP EXTENSION and CREATE EXTENSION.")));
		r.ident_account_type = lookup_att(r.identifiers, "identifiers", "account_type");
		r.ident_id_type = lookup_att(r.identifiers, "identifiers", "id_type");
		r.ident_value = lookup_att(r.identifiers, "identifiers", "value");
		r.ident_account_id = lookup_att(r.identifiers, "identifiers", "account_id");
		r.ident_created_at = lookup_att(r.identifiers, "identifiers", "created_at");
		r.itype_account_type = lookup_att(r.identifier_types, "identifier_types", "account_type");
		r.itype_name = lookup_att(r.identifier_types, "identifier_types", "name");
		r.itype_kind = lookup_att(r.identifier_types, "identifier_types", "kind");
		r.itype_case_sensitive = lookup_att(r.identifier_types, "identifier_types",
											"case_sensitive");
		r.itype_max_per_account = lookup_att_optional(r.identifier_types, "max_per_account");
		r.acc_fields = lookup_att_optional(r.accounts, "fields");

		/* the tables the C code writes must have the shape it knows */
		acc_pk[0] = r.acc_id;
		pkeys[0] = check_table(r.accounts, acc_cols, lengthof(acc_cols), acc_pk, 1);
		ident_pk[0] = r.ident_value;
		ident_pk[1] = r.ident_id_type;
		ident_pk[2] = r.ident_account_type;
		pkeys[1] = check_table(r.identifiers, ident_cols, lengthof(ident_cols), ident_pk, 3);

		/* 1.4: the change journal, written by journal.c the same way */
		r.events = get_relname_relid("events", r.namespace);
		if (OidIsValid(r.events))
		{
			r.events_seq = lookup_rel(r.namespace, "events_seq");
			r.journal_settings = lookup_rel(r.namespace, "journal_settings");
			r.js_enabled = lookup_att(r.journal_settings, "journal_settings", "enabled");
			r.ev_seq = lookup_att(r.events, "events", "seq");
			r.ev_occurred_at = lookup_att(r.events, "events", "occurred_at");
			r.ev_account_id = lookup_att(r.events, "events", "account_id");
			r.ev_account_type = lookup_att(r.events, "events", "account_type");
			r.ev_kind = lookup_att(r.events, "events", "kind");
			r.ev_detail = lookup_att(r.events, "events", "detail");
			event_pk[0] = r.ev_seq;
			pkeys[2] = check_table(r.events, event_cols, lengthof(event_cols), event_pk, 1);
		}

		/* an invalidation arrived while we read: read again */
		if (generation != inval_generation)
			continue;
		rels = r;
		checked_pkeys[0] = pkeys[0];
		checked_pkeys[1] = pkeys[1];
		checked_pkeys[2] = pkeys[2];
		rels_valid = true;
	}
	return &rels;
}

/*
 * table_open() of one of the extension's tables, with a clear error instead
 * of XX000 if it was dropped since its OID was looked up (DROP EXTENSION
 * racing with a call).
 */
Relation
catalog_table_open(Oid relid, LOCKMODE lockmode)
{
	Relation	rel = try_table_open(relid, lockmode);

	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("a table of extension \"account\" was dropped during the call"),
				 errhint("Retry; if the extension was dropped, run CREATE EXTENSION account.")));
	return rel;
}

/*
 * The primary key of an open (locked) table, opened with lockmode.  Taken
 * from the table's relcache entry, so it is the current index even right
 * after REINDEX CONCURRENTLY replaced it.
 */
Relation
catalog_pkey_open(Relation heap, LOCKMODE lockmode)
{
	Oid			pkoid = compat_primary_key_index(heap);

	if (!OidIsValid(pkoid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"accounts.%s\" has no primary key",
						RelationGetRelationName(heap)),
				 errhint("Reinstall the extension: its primary keys are the guarantee of one account per identifier.")));
	return index_open(pkoid, lockmode);
}

/*
 * Look a row of an open table up by its primary key (skey: nkeys equality
 * keys on the key's columns) with the given snapshot.  Returns false if
 * there is none; otherwise the row is in slot, which keeps its buffer pin.
 */
bool
catalog_pkey_fetch(Relation heap, ScanKey skey, int nkeys, Snapshot snapshot,
				   TupleTableSlot *slot)
{
	Relation	index = catalog_pkey_open(heap, AccessShareLock);
	IndexScanDesc scan;
	bool		found;

	scan = compat_index_beginscan(heap, index, snapshot, nkeys);
	index_rescan(scan, skey, nkeys, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	index_endscan(scan);
	index_close(index, AccessShareLock);
	return found;
}

/*
 * The shape check for the event trigger (table_triggers.c): if the extension's
 * written tables exist, check them now.  Nothing is checked while the
 * extension's own scripts run (CREATE/ALTER EXTENSION), when the tables
 * are being built or rebuilt.
 */
void
catalog_check_tables(void)
{
	Oid			ns;

	if (creating_extension)
		return;
	ns = get_namespace_oid("accounts", true);
	if (!OidIsValid(ns) ||
		!OidIsValid(get_relname_relid("accounts", ns)) ||
		!OidIsValid(get_relname_relid("identifiers", ns)))
		return;
	(void) catalog_rels();
}
