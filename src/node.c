/*
 * node.c: where the code runs, and the Citus guard.
 *
 *   node_is_distributed()        true after accounts.distribute()
 *   node_refuse_undistributed()  0A000 on a Citus node before it
 *   node_journal_distributed()   the change journal's distributed tables
 *                                exist (1.6; a cluster distributed by 1.5
 *                                has them once distribute() ran again)
 *   node_record_distributed()    the fields' and limits' distributed
 *                                tables exist (1.8; a cluster distributed
 *                                by 1.7 has them once distribute() ran
 *                                again)
 *   node_creates_by_identifier() the trigger that creates an account with
 *                                its identifier in one statement is on
 *                                accounts.dist_accounts (dist_create.c;
 *                                without it a create takes two
 *                                statements)
 *   node_has_internal_schema()   the schema is 1.7's or later
 *   node_local_placement(t)      this node's copy of reference table t
 *   node_extension_owner()       the role the extension's functions run as
 *
 * and the SQL guard functions accounts_internal.is_distributed(),
 * is_journal_distributed(), is_record_distributed() and (for 1.5 schemas)
 * accounts.check_node().
 *
 * THE CITUS GUARD
 * ===============
 *
 * On a node of a Citus cluster (a database with the citus extension: its
 * catalog pg_catalog.pg_dist_partition exists), the extension's own tables
 * hold only this node's rows, or are the empty shells of distributed
 * tables whose rows live in shards.  Finding or creating there would give
 * one identifier a different account on every node, silently.  So on such
 * a node the single-node code never opens them:
 *
 *   - before accounts.distribute() has run (no accounts.dist_identifiers),
 *     every entry point refuses, first thing, with 0A000;
 *   - after it (accounts.dist_identifiers exists: Citus has created it, or
 *     its shell, on every node), node_is_distributed() is true and the
 *     callers take the distributed path (dist.c, store.c).
 *
 * The answer is remembered until pg_class or pg_namespace changes (syscache
 * callbacks), so CREATE EXTENSION citus or distribute() in another session
 * is seen by the next call.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type_d.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "compat.h"
#include "dist_errors.h"
#include "node.h"

ACCOUNT_FUNCTION(account_check_node);
ACCOUNT_FUNCTION(account_is_distributed);
ACCOUNT_FUNCTION(account_is_journal_distributed);
ACCOUNT_FUNCTION(account_is_record_distributed);

static bool node_checked = false;
static bool node_citus = false;
static bool node_distributed = false;
static bool node_journal = false;	/* accounts.dist_events exists (1.6) */
static bool node_record = false;	/* accounts.dist_account_fields exists (1.8) */
static bool node_internal = false;	/* schema accounts_internal exists (1.7) */
static Oid	extension_owner = InvalidOid;
static int	node_creates = -1;	/* dist_accounts_by_identifier exists; -1: unknown */
static Oid	node_creates_rel = InvalidOid;	/* accounts.dist_accounts, when read */

/* this node's copies of reference tables, by logical name */
#define MAX_PLACEMENTS 4
static struct
{
	char		table[NAMEDATALEN];
	Oid			relid;
}			placements[MAX_PLACEMENTS];
static int	nplacements = 0;

/* any change to pg_class or pg_namespace: look again at the next call */
static void
node_callback(Datum arg pg_attribute_unused(), int cacheid pg_attribute_unused(),
			  uint32 hashvalue pg_attribute_unused())
{
	node_checked = false;
	nplacements = 0;
	extension_owner = InvalidOid;
	node_creates = -1;
}

/*
 * CREATE TRIGGER and DROP TRIGGER invalidate their table's relcache entry;
 * other tables' invalidations (Citus sends many) change nothing here
 */
static void
node_relcache_callback(Datum arg pg_attribute_unused(), Oid relid)
{
	if (!OidIsValid(relid) || relid == node_creates_rel)
		node_creates = -1;
}

static void
check_node(void)
{
	static bool callbacks = false;
	Oid			ns;

	if (node_checked)
		return;
	if (!callbacks)
	{
		CacheRegisterSyscacheCallback(RELNAMENSP, node_callback, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, node_callback, (Datum) 0);
		CacheRegisterRelcacheCallback(node_relcache_callback, (Datum) 0);
		callbacks = true;
	}
	node_citus = OidIsValid(get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE));
	ns = get_namespace_oid("accounts", true);
	node_distributed = node_citus && OidIsValid(ns) &&
		OidIsValid(get_relname_relid("dist_identifiers", ns));
	node_journal = node_distributed &&
		OidIsValid(get_relname_relid("dist_events", ns));
	node_record = node_distributed &&
		OidIsValid(get_relname_relid("dist_account_fields", ns));
	node_internal = OidIsValid(get_namespace_oid("accounts_internal", true));
	node_checked = true;
}

/* true after accounts.distribute(); never raises */
bool
node_is_distributed(void)
{
	check_node();
	return node_distributed;
}

/*
 * Raises 0A000 on a node of a Citus cluster before accounts.distribute():
 * what the single-node tables hold there is not the cluster's.
 */
void
node_refuse_undistributed(void)
{
	check_node();
	if (node_citus && !node_distributed)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("extension \"account\" is not distributed on this Citus cluster"),
				 errdetail("This database has the citus extension: accounts.accounts and accounts.identifiers on this node hold only this node's rows, or are empty shells of distributed tables, so finding or creating here could give one identifier a different account on every node."),
				 errhint("Run SELECT accounts.distribute() on the coordinator, or use the extension in a database without the citus extension.")));
}

/*
 * Has the change journal been distributed (THE JOURNAL ON CITUS in
 * sql/parts/citus.sql)?  Not on a cluster distributed by 1.5 until
 * distribute() runs again after the update.
 */
bool
node_journal_distributed(void)
{
	check_node();
	return node_journal;
}

/*
 * Do the distributed tables hold fields and identifier limits (1.8)?  Not
 * on a cluster distributed by 1.7 until distribute() runs again after the
 * update.
 */
bool
node_record_distributed(void)
{
	check_node();
	return node_record;
}

/*
 * Does accounts.dist_accounts have the trigger dist_accounts_by_identifier
 * (ONE STATEMENT FOR A CREATE in dist_create.c)?  Remembered until a
 * relcache invalidation of that table (CREATE TRIGGER sends one) or a
 * change to pg_class (the table dropped or created: node_callback()).
 */
bool
node_creates_by_identifier(void)
{
	check_node();
	if (node_creates < 0)
	{
		Oid			rel = node_distributed ?
			get_relname_relid("dist_accounts", get_namespace_oid("accounts", false)) : InvalidOid;

		node_creates = 0;
		node_creates_rel = rel;
		if (OidIsValid(rel))
		{
			Relation	tg = table_open(TriggerRelationId, AccessShareLock);
			ScanKeyData skey[2];
			SysScanDesc scan;

			ScanKeyInit(&skey[0], Anum_pg_trigger_tgrelid, BTEqualStrategyNumber, F_OIDEQ,
						ObjectIdGetDatum(rel));
			ScanKeyInit(&skey[1], Anum_pg_trigger_tgname, BTEqualStrategyNumber, F_NAMEEQ,
						CStringGetDatum("dist_accounts_by_identifier"));
			scan = systable_beginscan(tg, TriggerRelidNameIndexId, true, NULL, 2, skey);
			node_creates = HeapTupleIsValid(systable_getnext(scan)) ? 1 : 0;
			systable_endscan(scan);
			table_close(tg, AccessShareLock);
		}
	}
	return node_creates == 1;
}

/*
 * Is the schema 1.7's or later?  Until ALTER EXTENSION account UPDATE has
 * run, this library serves an older schema, which has no
 * accounts_internal and none of what lives there.
 */
bool
node_has_internal_schema(void)
{
	check_node();
	return node_internal;
}

/*
 * What must not reach the single-node tables of a distributed cluster (the
 * callers take the distributed path before; this is the net under them):
 * 0A000.
 */
void
node_refuse_distributed(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("%s cannot use the single-node tables of a distributed cluster", what),
			 errdetail("This database's accounts were distributed with accounts.distribute(): they live in accounts.dist_accounts and accounts.dist_identifiers."),
			 errhint("Update the extension (ALTER EXTENSION account UPDATE), or see docs/citus.md.")));
}

/*
 * This node's copy (shard placement) of the reference table accounts.table,
 * e.g. accounts.dist_identifier_types_102008.  55000 if this node has none:
 * Citus copies reference tables to a node added after they were created
 * only when it rebalances, or when asked to.
 */
Oid
node_local_placement(const char *table)
{
	Oid			ns;
	Oid			logical;
	Datum		arg;
	Oid			argtype = OIDOID;
	int64		shardid = 0;
	bool		isnull;
	bool		found;
	Oid			relid;
	OwnerScope	scope;

	for (int i = 0; i < nplacements; i++)
		if (strcmp(placements[i].table, table) == 0)
			return placements[i].relid;

	ns = get_namespace_oid("accounts", false);
	logical = get_relname_relid(table, ns);
	if (!OidIsValid(logical))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"accounts.%s\" does not exist", table),
				 errhint("Run SELECT accounts.distribute() on the coordinator.")));
	arg = ObjectIdGetDatum(logical);
	node_become_owner(&scope);
	SPI_connect();
	if (SPI_execute_with_args("SELECT s.shardid FROM pg_catalog.pg_dist_shard s"
							  "  JOIN pg_catalog.pg_dist_placement p ON p.shardid OPERATOR(pg_catalog.=) s.shardid"
							  " WHERE s.logicalrelid OPERATOR(pg_catalog.=) $1"
							  "   AND p.groupid OPERATOR(pg_catalog.=) (SELECT groupid FROM pg_catalog.pg_dist_local_group)",
							  1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed");
	found = SPI_processed == 1;
	if (found)
		shardid = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	node_restore_user(&scope);
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this node has no copy of accounts.%s", table),
				 errdetail("Citus copies reference tables to a node that was added after they were created only when it rebalances, or when asked to."),
				 errhint("On the coordinator, run SELECT accounts.sync_nodes() after citus_add_node().")));
	relid = get_relname_relid(psprintf("%s_" INT64_FORMAT, table, shardid), ns);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the copy of accounts.%s on this node is missing", table),
				 errhint("Check the Citus metadata: SELECT * FROM citus_shards WHERE table_name = 'accounts.%s'::regclass.", table)));
	if (nplacements < MAX_PLACEMENTS)
	{
		strlcpy(placements[nplacements].table, table, NAMEDATALEN);
		placements[nplacements].relid = relid;
		nplacements++;
	}
	return relid;
}

/*
 * The extension's owner: the superuser who ran CREATE EXTENSION, whom
 * every SECURITY DEFINER function of the extension runs as, and whom the
 * distributed path runs its statements as (dist.c).
 */
Oid
node_extension_owner(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			ext;

	if (OidIsValid(extension_owner))
		return extension_owner;
	ext = get_extension_oid("account", false);
	/* by index: not every minor release of every major has a syscache for it */
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(ext));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "could not find extension %u", ext);
	extension_owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return extension_owner;
}

/*
 * Run as the extension's owner until node_restore_user(): the SQL the C
 * code runs on a distributed cluster reads and writes tables that only the
 * owner may, and Citus connects to the other nodes as the current user, as
 * it does for the SECURITY DEFINER functions.  Not a security-restricted
 * operation: that SQL is the extension's own, schema-qualified.  An error
 * in between restores the user with the (sub)transaction's abort.
 */
void
node_become_owner(OwnerScope *scope)
{
	GetUserIdAndSecContext(&scope->save_user, &scope->save_sec);
	SetUserIdAndSecContext(node_extension_owner(),
						   scope->save_sec | SECURITY_LOCAL_USERID_CHANGE);
}

void
node_restore_user(const OwnerScope *scope)
{
	SetUserIdAndSecContext(scope->save_user, scope->save_sec);
}

/*
 * accounts.check_node() RETURNS void: the Citus guard of the 1.5 schema's
 * set_journal() and trim_events(): 0A000 on any Citus node.  The SQL
 * function is gone since 1.6; the symbol stays for a 1.5 schema that runs
 * with this library before ALTER EXTENSION account UPDATE.
 */
Datum
account_check_node(PG_FUNCTION_ARGS pg_attribute_unused())
{
	node_refuse_undistributed();
	if (node_is_distributed())
		node_refuse_distributed("this function");
	PG_RETURN_VOID();
}

/*
 * accounts_internal.is_distributed() RETURNS boolean: false on one node,
 * true after accounts.distribute(), 0A000 on a Citus node before it.
 */
Datum
account_is_distributed(PG_FUNCTION_ARGS pg_attribute_unused())
{
	node_refuse_undistributed();
	if (!node_is_distributed())
		PG_RETURN_BOOL(false);
	dist_watch_errors();		/* the storage layer's statements follow */
	PG_RETURN_BOOL(true);
}

/*
 * accounts_internal.is_journal_distributed() RETURNS boolean: whether the
 * distributed path writes events (the journal's distributed tables exist).
 */
Datum
account_is_journal_distributed(PG_FUNCTION_ARGS pg_attribute_unused())
{
	PG_RETURN_BOOL(node_journal_distributed());
}

/*
 * accounts_internal.is_record_distributed() RETURNS boolean: whether the
 * distributed tables hold fields and identifier limits.
 */
Datum
account_is_record_distributed(PG_FUNCTION_ARGS pg_attribute_unused())
{
	PG_RETURN_BOOL(node_record_distributed());
}
