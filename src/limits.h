/*
 * limits.h: the statements of a limited attach (limits.c), on one node or
 * on Citus: the account's row touched, its identifiers of a type counted.
 * Below the protocols (lookup.c, dist.c), beside rowlock.c; the rule is
 * rules.c's.
 */
#ifndef ACCOUNT_LIMITS_H
#define ACCOUNT_LIMITS_H

#include "postgres.h"

#include "account.h"

extern bool limits_touch(bool distributed, const pg_uuid_t *account_id, AccountRow *row);
extern int64 limits_count(bool distributed, const pg_uuid_t *account_id, const IdentKey *key);

#endif							/* ACCOUNT_LIMITS_H */
