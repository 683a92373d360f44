/*
 * claim.c: on a distributed cluster, the shard side of a create in one
 * statement.
 *
 *   claim_identifier()   from the trigger on a dist_accounts shard: insert
 *                        the new account's identifier into the co-located
 *                        dist_identifiers shard, or report that it exists
 *
 * A CREATE IN ONE STATEMENT
 * =========================
 *
 * dist.c's sole call (THE SOLE CALL there) creates an account with one
 * router statement, sent without a transaction block:
 *
 *   INSERT INTO accounts.dist_accounts (route, id, account_type,
 *       created_at, event_detail) VALUES (route, id, type, NULL, detail)
 *
 * where detail is the account.created detail, {"identifiers": [{"id_type",
 * "value"}]}, naming the one identifier.  A NULL created_at marks the row
 * as a claim.  On the shard's node, accounts_internal.dist_journal_write()
 * (the BEFORE INSERT trigger that journals account.created, WHEN
 * event_detail IS NOT NULL) sees the mark and calls claim_identifier()
 * first, in the statement's own transaction:
 *
 *   - the identifier goes into the shard of dist_identifiers co-located
 *     with the trigger's shard of dist_accounts (the account's id carries
 *     the identifier's route: same route, same shard group, same node),
 *     INSERT ... ON CONFLICT DO NOTHING, exactly as dist.c's own insert:
 *     it waits for a concurrent inserter of the same identifier, on any
 *     node, prepared or not, and skips the row if that one commits;
 *   - if it went in, the trigger journals account.created (when the
 *     journal is on for the type on this node) and stores the account row
 *     with created_at set; the identifier and its account commit together,
 *     in one transaction on one node;
 *   - if it did not, the trigger returns NULL: the account row is not
 *     stored, nothing is journaled, and the statement reports no row; the
 *     caller then reads the winner's account.
 *
 * So the writers' rule of THE PROTOCOL ON CITUS (dist.c) holds: the
 * identifier points at an account row inserted in the same transaction,
 * and no account row is stored without its identifier.  The statement
 * takes the shard group's metadata lock on the shard's node like every
 * write (dist_hold_shard(), moves.c), for the claim's insert as well.
 *
 * A node whose build predates the claim treats the marked row as a plain
 * create: it journals, then stores the row, whose NULL created_at violates
 * the column's NOT NULL (23502): the statement fails and writes nothing,
 * rather than storing an account without its identifier.
 *
 * The co-located shard is found once per backend and shard through
 * Citus's metadata on this node (every node has it) and kept with its
 * prepared statement; a shard of dist_accounts and its co-located shard of
 * dist_identifiers are moved and split together, and a moved or split
 * shard is a new relation, so an entry never goes stale (it is keyed by
 * the relation and checked against its name).
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "claim.h"

typedef struct ClaimTarget
{
	Oid			accounts_shard; /* the key: the trigger's relation */
	NameData	accounts_name;	/* checked at each use */
	SPIPlanPtr	insert;			/* into the co-located identifier shard */
} ClaimTarget;

static HTAB *targets = NULL;

/* The insert into the shard of dist_identifiers co-located with rel. */
static SPIPlanPtr
claim_plan(Relation rel, int32 route)
{
	Oid			relid = RelationGetRelid(rel);
	ClaimTarget *t;
	bool		found;

	if (targets == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(ClaimTarget);
		ctl.hcxt = TopMemoryContext;
		targets = hash_create("account claim targets", 16, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	t = hash_search(targets, &relid, HASH_ENTER, &found);
	if (!found)
		t->insert = NULL;
	else if (t->insert != NULL && strcmp(NameStr(t->accounts_name), RelationGetRelationName(rel)) != 0)
	{
		/* another relation with a reused OID */
		SPI_freeplan(t->insert);
		t->insert = NULL;
	}
	/* (an entry whose making failed has no plan: made again) */
	if (t->insert == NULL)
	{
		Oid			argtypes[1] = {INT4OID};
		Datum		args[1] = {Int32GetDatum(route)};
		Oid			insert_types[5] = {INT4OID, TEXTOID, UUIDOID, TIMESTAMPTZOID, JSONBOID};
		char	   *shard;
		char	   *sql;
		SPIPlanPtr	plan;

		namestrcpy(&t->accounts_name, RelationGetRelationName(rel));
		if (SPI_execute_with_args("SELECT pg_catalog.shard_name('accounts.dist_identifiers'::pg_catalog.regclass,"
								  " pg_catalog.get_shard_id_for_distribution_column("
								  "'accounts.dist_identifiers'::pg_catalog.regclass, $1))",
								  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT ||
			SPI_processed != 1)
			elog(ERROR, "no shard of accounts.dist_identifiers for route %d", route);
		shard = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		if (shard == NULL)
			elog(ERROR, "no shard of accounts.dist_identifiers for route %d", route);
		sql = psprintf("INSERT INTO %s AS i (route, account_type, id_type, value, account_id, created_at)"
					   " SELECT $1, $2, e.id_type, e.value, $3, $4"
					   "   FROM pg_catalog.jsonb_to_recordset(pg_catalog.jsonb_object_field($5, 'identifiers'))"
					   "     AS e(id_type text, value text)"
					   " ON CONFLICT DO NOTHING", shard);
		plan = SPI_prepare(sql, 5, insert_types);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql, SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		t->insert = plan;
	}
	return t->insert;
}

/*
 * The claim (A CREATE IN ONE STATEMENT): insert the identifier that
 * detail names, pointing at account_id, into the identifier shard
 * co-located with rel, at created_at.  True if it went in; false if it
 * exists (the caller stores nothing).
 */
bool
claim_identifier(Relation rel, int32 route, Datum account_type, Datum account_id,
				 TimestampTz created_at, Datum detail)
{
	Datum		values[5];
	int			rc;
	uint64		n;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = Int32GetDatum(route);
	values[1] = account_type;
	values[2] = account_id;
	values[3] = TimestampTzGetDatum(created_at);
	values[4] = detail;
	rc = SPI_execute_plan(claim_plan(rel, route), values, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "the claim's insert failed: %s", SPI_result_code_string(rc));
	n = SPI_processed;
	SPI_finish();
	if (n > 1)
		elog(ERROR, "a claim names %llu identifiers; it names one", (unsigned long long) n);
	return n == 1;
}
