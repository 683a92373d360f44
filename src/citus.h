/*
 * citus.h: the distributed path (citus.c).  On a Citus cluster after
 * accounts.distribute(), the C entry points hand their call to the
 * PL/pgSQL implementation that reaches the distributed tables through
 * Citus; routing keys and account ids are computed here.
 */
#ifndef ACCOUNT_CITUS_H
#define ACCOUNT_CITUS_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/uuid.h"

extern Datum citus_forward(FunctionCallInfo fcinfo);
extern void citus_find_or_create(const char *account_type, const char *id_type,
								 const char *value, pg_uuid_t *account_id);

#endif							/* ACCOUNT_CITUS_H */
