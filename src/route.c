/*
 * route.c: routes and route-carrying account ids.
 *
 *   accounts.identifier_route(type, id_type, value)   an identifier's route
 *   accounts.account_route(id)                        an account's route
 *   accounts_internal.new_account_id(route)           an id that carries it
 *
 * ROUTES
 *
 * On a distributed cluster accounts.dist_identifiers and dist_accounts are
 * distributed by a column "route", 0 to 65535.  An identifier's route is a
 * pure function of its normalized form: FNV-1a over account type,
 * identifier type and normalized value, folded to 16 bits, so 'USR_1' and
 * 'usr_1' route alike and every node computes it without asking anyone.  A
 * new account's id is a UUIDv7 whose last 16 random bits are the route of
 * the identifier it is created for: the account row lives in the same
 * shard group as that identifier (one node, no two-phase commit), and a
 * lookup by id computes its shard from the id alone.  Routes are persisted
 * in both tables, so they never change once a row is written: never change
 * route_of_identifier().
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/uuid.h"

#include "compat.h"
#include "route.h"
#include "uuidv7.h"

ACCOUNT_FUNCTION(account_identifier_route);
ACCOUNT_FUNCTION(account_account_route);
ACCOUNT_FUNCTION(account_new_account_id);

static uint32
fnv1a(uint32 h, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
	{
		h ^= (unsigned char) s[i];
		h *= 16777619u;
	}
	return h;
}

/* The route of a normalized identifier, 0 to 65535.  Persisted. */
int32
route_of_identifier(const char *account_type, size_t account_type_len,
					const char *id_type, size_t id_type_len,
					const char *value, size_t value_len)
{
	uint32		h = 2166136261u;

	h = fnv1a(h, account_type, account_type_len);
	h = fnv1a(h, "", 1);		/* a separator: ('ab','c') is not ('a','bc') */
	h = fnv1a(h, id_type, id_type_len);
	h = fnv1a(h, "", 1);
	h = fnv1a(h, value, value_len);
	h = fnv1a(h, "", 1);
	return (int32) ((h ^ (h >> 16)) & ROUTE_MASK);
}

/* An account's route: the last 16 bits of its id. */
int32
route_of_account(const pg_uuid_t *id)
{
	return (int32) ((id->data[14] << 8) | id->data[15]);
}

/* A UUIDv7 (time ordered, as on one node) whose last 16 bits are route. */
void
route_new_account_id(int32 route, pg_uuid_t *id)
{
	if (route < 0 || route > ROUTE_MASK)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("route %d is out of range", route),
				 errhint("Routes are 0 to %d, as accounts.identifier_route() returns them.", ROUTE_MASK)));
	account_uuidv7(id);
	id->data[14] = (unsigned char) (route >> 8);
	id->data[15] = (unsigned char) (route & 0xFF);
}

/* accounts.identifier_route(type text, id_type text, value text) RETURNS integer */
Datum
account_identifier_route(PG_FUNCTION_ARGS)
{
	text	   *a = PG_GETARG_TEXT_PP(0);
	text	   *i = PG_GETARG_TEXT_PP(1);
	text	   *v = PG_GETARG_TEXT_PP(2);

	PG_RETURN_INT32(route_of_identifier(VARDATA_ANY(a), VARSIZE_ANY_EXHDR(a),
										VARDATA_ANY(i), VARSIZE_ANY_EXHDR(i),
										VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v)));
}

/* accounts.account_route(id uuid) RETURNS integer */
Datum
account_account_route(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(route_of_account(PG_GETARG_UUID_P(0)));
}

/* accounts_internal.new_account_id(route integer) RETURNS uuid */
Datum
account_new_account_id(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));

	route_new_account_id(PG_GETARG_INT32(0), id);
	PG_RETURN_UUID_P(id);
}
