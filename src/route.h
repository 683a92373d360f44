/*
 * route.h: routes on a distributed cluster (route.c).  An identifier's
 * route is a pure function of its normalized form; an account's is carried
 * in the last 16 bits of its id.  Pure code, below everything that routes.
 */
#ifndef ACCOUNT_ROUTE_H
#define ACCOUNT_ROUTE_H

#include "postgres.h"

#include "utils/uuid.h"

#define ROUTE_MASK 0xFFFF

extern int32 route_of_identifier(const char *account_type, size_t account_type_len,
								 const char *id_type, size_t id_type_len,
								 const char *value, size_t value_len);
extern int32 route_of_account(const pg_uuid_t *id);
extern void route_new_account_id(int32 route, pg_uuid_t *id);

#endif							/* ACCOUNT_ROUTE_H */
