/*
 * limits.c: the two statements of a limited attach (1.8), on one node's
 * tables or on Citus's.
 *
 *   limits_touch()   the account's row updated to itself
 *   limits_count()   its identifiers of one type
 *
 * LIMITED ATTACHES
 * ================
 *
 * accounts.set_identifier_limit() caps how many identifiers of a type one
 * account holds.  Creating an account with several identifiers checks its
 * own keys against the limit; attaching to an existing account (the
 * multi-identifier call, add_identifier(), the merging call) must see
 * every identifier of that type the account holds, including those being
 * attached by concurrent transactions.  Attaches hold the account's row
 * FOR KEY SHARE, which does not exclude another attach, so an attach of a
 * limited type first touches the row (limits_touch(): UPDATE ... SET id =
 * id, as remove_identifier() does):
 *
 *   - two attaches of limited types to one account take turns: the second
 *     waits for the first to end, then counts (READ COMMITTED: a fresh
 *     snapshot sees what the first attached);
 *   - under REPEATABLE READ the second one's touch of a row that the first
 *     updated after its snapshot is 40001, so an attach that succeeds under
 *     REPEATABLE READ counts with a snapshot that missed nothing;
 *   - a merge or redaction (FOR UPDATE) waits for the touch, or the touch
 *     waits for it and then sees the status it left (merged, redacted:
 *     55000);
 *   - attaches of types without a limit never touch, so they go on as
 *     before; a transaction that attached without a limit (its type had
 *     none when it locked the type's row) has ended before a limit can be
 *     set (set_identifier_limit() waits for it: THE LIMIT IS A KEY in
 *     sql/parts/10_tables.sql), and set_identifier_limit() counts what it
 *     left.
 *
 * The limit an attach enforces is the one on the type's row it holds FOR
 * KEY SHARE (rowlock_type(), and dist.c's lock_type() on Citus), read from
 * the locked version: current, and unchanged until the attach ends.  The
 * rule and its error are rules.c's rule_check_limit(), which merges use
 * too.  On Citus the count reads every shard, after settling every node
 * (settle.c): an attach whose row lock was released on the account's node
 * may still be only prepared on the identifier's.
 *
 * Both statements run through SPI as the extension's owner: rare (only
 * limited types), and the same text on one node and on Citus but for the
 * table and the route.
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "limits.h"
#include "node.h"
#include "route.h"
#include "rules.h"

/*
 * Update account_id's row to itself and read its type and status; false
 * if there is no such account.  Waits for a transaction that holds the row
 * more strongly than FOR KEY SHARE.
 */
bool
limits_touch(bool distributed, const pg_uuid_t *account_id, AccountRow *row)
{
	MemoryContext caller_cxt = CurrentMemoryContext;
	OwnerScope	scope;
	Oid			types[2] = {UUIDOID, INT4OID};
	Datum		values[2];
	bool		found;

	values[0] = UUIDPGetDatum(account_id);
	values[1] = Int32GetDatum(route_of_account(account_id));
	node_become_owner(&scope);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(distributed ?
							  "UPDATE accounts.dist_accounts a SET id = a.id"
							  " WHERE a.route OPERATOR(pg_catalog.=) $2 AND a.id OPERATOR(pg_catalog.=) $1"
							  " RETURNING a.account_type, a.status, a.merged_into" :
							  "UPDATE accounts.accounts a SET id = a.id WHERE a.id OPERATOR(pg_catalog.=) $1"
							  " RETURNING a.account_type, a.status, a.merged_into",
							  distributed ? 2 : 1, types, values, NULL, false, 1) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "SPI_execute_with_args failed for the touch of an account");
	found = SPI_processed == 1;
	if (found)
	{
		SPITupleTable *tt = SPI_tuptable;
		char	   *type = SPI_getvalue(tt->vals[0], tt->tupdesc, 1);
		char	   *status = SPI_getvalue(tt->vals[0], tt->tupdesc, 2);
		bool		isnull;
		Datum		d;

		row->account_type = MemoryContextStrdup(caller_cxt, type ? type : "");
		row->status = ACCOUNT_ACTIVE;
		memset(&row->merged_into, 0, sizeof(pg_uuid_t));
		if (status != NULL && strcmp(status, "archived") == 0)
			row->status = ACCOUNT_ARCHIVED;
		else if (status != NULL && strcmp(status, "redacted") == 0)
			row->status = ACCOUNT_REDACTED;
		else if (status != NULL && strcmp(status, "merged") == 0)
		{
			row->status = ACCOUNT_MERGED;
			d = SPI_getbinval(tt->vals[0], tt->tupdesc, 3, &isnull);
			if (!isnull)
				memcpy(&row->merged_into, DatumGetUUIDP(d), sizeof(pg_uuid_t));
		}
	}
	SPI_finish();
	node_restore_user(&scope);
	return found;
}

/* How many identifiers of key's type account_id holds. */
int64
limits_count(bool distributed, const pg_uuid_t *account_id, const IdentKey *key)
{
	OwnerScope	scope;
	Oid			types[3] = {UUIDOID, TEXTOID, TEXTOID};
	Datum		values[3];
	bool		isnull;
	int64		n;

	values[0] = UUIDPGetDatum(account_id);
	values[1] = key->id_type_d;
	values[2] = key->account_type_d;
	node_become_owner(&scope);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(distributed ?
							  "SELECT pg_catalog.count(*) FROM accounts.dist_identifiers i"
							  " WHERE i.account_id OPERATOR(pg_catalog.=) $1"
							  "   AND i.id_type OPERATOR(pg_catalog.=) $2 AND i.account_type OPERATOR(pg_catalog.=) $3" :
							  "SELECT pg_catalog.count(*) FROM accounts.identifiers i"
							  " WHERE i.account_id OPERATOR(pg_catalog.=) $1"
							  "   AND i.id_type OPERATOR(pg_catalog.=) $2 AND i.account_type OPERATOR(pg_catalog.=) $3",
							  3, types, values, NULL, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "SPI_execute_with_args failed for the count of an account's identifiers");
	n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	node_restore_user(&scope);
	return n;
}
