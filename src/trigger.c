/*
 * trigger.c: accounts.assign_account(), rows that associate themselves with
 * accounts.
 *
 *   CREATE TRIGGER assign BEFORE INSERT OR UPDATE OF reference_id ON inquiries
 *     FOR EACH ROW EXECUTE FUNCTION
 *     accounts.assign_account('user', 'reference_id', 'reference_id', 'account_id');
 *
 * Arguments: account type, identifier type, source column, target column.
 * For every row the target column is set to the account of the source
 * value, created when needed, with the same protocol (and so the same
 * race-freedom) as find_or_create_account.  A NULL source sets the target
 * to NULL.
 *
 * The configuration is checked, and the column numbers and identifier type
 * resolved, on the first row of each statement; the result is kept in the
 * trigger's FmgrInfo, which lives for the statement.  Later rows cost a
 * comparison of the cache generation, the normalization and the lookup.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type_d.h"
#include "commands/trigger.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "call.h"
#include "compat.h"
#include "node.h"

ACCOUNT_FUNCTION(account_assign_account);

typedef struct AssignConfig
{
	Oid			relid;
	int			source_attnum;
	int			target_attnum;
	Oid			source_type;
	Oid			source_output;	/* output function, for non-text sources */
	uint64		generation;		/* catalog_generation() when resolved */
	IdentKey	types;			/* account_type, id_type and their datums */
	MemoryContext row_cxt;		/* per-row work, reset for every row */
	LookupCache *lookup_cache;	/* the relations, kept open between rows */
} AssignConfig;

static int
column_number(Relation rel, const char *trigger_name, const char *colname)
{
	TupleDesc	desc = RelationGetDescr(rel);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), colname) == 0)
			return i + 1;
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("column \"%s\" of relation \"%s\" does not exist",
					colname, RelationGetRelationName(rel)),
			 errdetail("It is named in the arguments of trigger \"%s\".", trigger_name),
			 errhint("The arguments of accounts.assign_account() are: account type, identifier type, source column, target column.")));
	return 0;					/* keep compiler quiet */
}

/*
 * The source value becomes an identifier through its type's text output.
 * That must not depend on the session: a date's text follows DateStyle, a
 * timestamptz's TimeZone, a float's extra_float_digits, a bytea's
 * bytea_output, money lc_monetary, so one row would get a different account
 * per session.  Only types whose text output is fixed are accepted
 * (domains over them too); anything else is 42804 with a hint.
 */
static void
check_source_type(Relation rel, Trigger *trigger, Oid type)
{
	switch (getBaseType(type))
	{
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case NAMEOID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
		case OIDOID:
		case UUIDOID:
			return;
		default:
			break;
	}
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("source column \"%s\" of relation \"%s\" is of type %s, whose text form depends on session settings",
					trigger->tgargs[2], RelationGetRelationName(rel), format_type_be(type)),
			 errdetail("Identifiers are taken from text, integer, numeric or uuid columns, whose text form is the same in every session."),
			 errhint("Point trigger \"%s\" at a text column that holds the value in a fixed format, e.g. a generated column to_char(col AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS').",
					 trigger->tgname)));
}

static AssignConfig *
configure(FunctionCallInfo fcinfo, TriggerData *trigdata)
{
	Trigger    *trigger = trigdata->tg_trigger;
	Relation	rel = trigdata->tg_relation;
	AssignConfig *cfg = (AssignConfig *) fcinfo->flinfo->fn_extra;
	MemoryContext old;
	Oid			target_type;
	bool		varlena;

	node_refuse_undistributed();
	if (cfg != NULL && cfg->relid == RelationGetRelid(rel) &&
		cfg->generation == catalog_generation())
		return cfg;

	if (trigger->tgnargs != 4)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("trigger \"%s\" on \"%s\" passes %d arguments to accounts.assign_account(); it takes 4",
						trigger->tgname, RelationGetRelationName(rel), trigger->tgnargs),
				 errhint("The arguments are: account type, identifier type, source column, target column, e.g. ('user', 'reference_id', 'reference_id', 'account_id').")));

	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	if (cfg == NULL)
	{
		cfg = palloc0(sizeof(AssignConfig));
		cfg->row_cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
											 "account trigger row",
											 ALLOCSET_SMALL_SIZES);
		cfg->lookup_cache = statement_cache_create(fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = cfg;
	}
	cfg->relid = InvalidOid;	/* until fully configured */

	cfg->source_attnum = column_number(rel, trigger->tgname, trigger->tgargs[2]);
	cfg->target_attnum = column_number(rel, trigger->tgname, trigger->tgargs[3]);
	target_type = TupleDescAttr(RelationGetDescr(rel), cfg->target_attnum - 1)->atttypid;
	if (target_type != UUIDOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("target column \"%s\" of relation \"%s\" is of type %s, not uuid",
						trigger->tgargs[3], RelationGetRelationName(rel),
						format_type_be(target_type)),
				 errhint("Account ids are uuid; point trigger \"%s\" at a uuid column.",
						 trigger->tgname)));
	cfg->source_type = TupleDescAttr(RelationGetDescr(rel), cfg->source_attnum - 1)->atttypid;
	check_source_type(rel, trigger, cfg->source_type);
	getTypeOutputInfo(cfg->source_type, &cfg->source_output, &varlena);

	cfg->generation = catalog_generation();
	call_key_types(&cfg->types, trigger->tgargs[0], trigger->tgargs[1],
				   fcinfo->flinfo->fn_mcxt);
	cfg->relid = RelationGetRelid(rel);
	MemoryContextSwitchTo(old);
	return cfg;
}

Datum
account_assign_account(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	AssignConfig *cfg;
	TupleDesc	desc;
	HeapTuple	tuple;
	Datum		source;
	bool		isnull;
	Datum		target = (Datum) 0;
	bool		target_null = true;
	MemoryContext caller_cxt;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("accounts.assign_account() was not called by a trigger"),
				 errhint("Use it in CREATE TRIGGER ... BEFORE INSERT OR UPDATE ... FOR EACH ROW.")));
	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!(TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) ||
		  TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trigger \"%s\" must fire BEFORE INSERT OR UPDATE FOR EACH ROW",
						trigdata->tg_trigger->tgname),
				 errhint("accounts.assign_account() sets a column of the row being written.")));

	cfg = configure(fcinfo, trigdata);
	desc = RelationGetDescr(trigdata->tg_relation);
	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
		trigdata->tg_newtuple : trigdata->tg_trigtuple;

	source = heap_getattr(tuple, cfg->source_attnum, desc, &isnull);
	if (!isnull)
	{
		IdentKey	key = cfg->types;
		CallStore	st;
		pg_uuid_t	account_id;
		char	   *raw;

		MemoryContextReset(cfg->row_cxt);
		caller_cxt = MemoryContextSwitchTo(cfg->row_cxt);
		if (cfg->source_type == TEXTOID || cfg->source_type == VARCHAROID)
			raw = TextDatumGetCString(source);
		else
			raw = OidOutputFunctionCall(cfg->source_output, source);
		call_key_value(&key, raw);
		call_store_open(&st, true, cfg->lookup_cache);
		(void) call_find_or_create_key(&st, &key, NULL, &account_id);
		call_store_close(&st);
		MemoryContextSwitchTo(caller_cxt);

		target = UUIDPGetDatum(palloc(sizeof(pg_uuid_t)));
		memcpy(DatumGetPointer(target), &account_id, sizeof(pg_uuid_t));
		target_null = false;
	}

	return PointerGetDatum(heap_modify_tuple_by_cols(tuple, desc, 1,
													 &cfg->target_attnum,
													 &target, &target_null));
}
