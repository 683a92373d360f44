/*
 * table_triggers.c: the triggers the extension puts on its own tables.
 *
 *   accounts_internal.registry_changed()  row (and TRUNCATE) trigger on the
 *                                         registries and journal settings
 *   accounts_internal.guard_tables()      event trigger at ddl_command_end:
 *                                         the shape check (catalog.c)
 *
 * The registry management functions themselves (create_account_type(),
 * create_identifier_type(), drop_*()) are SQL in sql/parts/; these two keep
 * the C caches (types.c, catalog.c) true to what changes.
 */
#include "postgres.h"

#include "commands/event_trigger.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "utils/inval.h"

#include "catalog.h"
#include "compat.h"

ACCOUNT_FUNCTION(account_registry_changed);
ACCOUNT_FUNCTION(account_guard_tables);

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

/*
 * Event trigger at ddl_command_end: the shape check (catalog.c, THE SHAPE
 * CHECK) for a DDL command that may have changed one of the tables the C
 * code writes.  The command's own relcache invalidation has already been
 * processed, so the tables are re-read and re-checked only if one of them
 * changed; an error here aborts the command.
 */
Datum
account_guard_tables(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("accounts.guard_tables() was not called by an event trigger"),
				 errhint("It is attached to ddl_command_end by the extension.")));
	catalog_check_tables();
	PG_RETURN_VOID();
}
