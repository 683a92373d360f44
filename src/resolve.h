/*
 * resolve.h: identity resolution (resolve.c, 1.8): the merging
 * find-or-create, which merges the accounts a call's identifiers belong to
 * (the rules in sql/parts/50_lifecycle.sql) and runs the multi-identifier
 * protocol again.  Above the protocols (lookup.c, dist.c), below the
 * SQL-facing identifiers.c.
 */
#ifndef ACCOUNT_RESOLVE_H
#define ACCOUNT_RESOLVE_H

#include "postgres.h"

#include "call.h"

extern bool resolve_find_or_create(CallStore *st, IdentKey *keys, int nkeys,
								   pg_uuid_t *account_id);

#endif							/* ACCOUNT_RESOLVE_H */
