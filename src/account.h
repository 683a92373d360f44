/*
 * account.h: the types every layer shares, no functions: a resolved
 * identifier (IdentKey) and an account's row as a lock found it
 * (AccountRow).  Both protocols (lookup.c on one node, dist.c on Citus)
 * and the rules they share (rules.c) speak in these.
 */
#ifndef ACCOUNT_ACCOUNT_H
#define ACCOUNT_ACCOUNT_H

#include "postgres.h"

#include "utils/uuid.h"

#include "types.h"

/* A fully resolved, normalized identifier: the unique key. */
typedef struct IdentKey
{
	const char *account_type;
	const char *id_type;
	const char *value;			/* normalized, server encoding */
	IdentType	type;
	/* the same three as text datums, for scan keys and inserted rows */
	Datum		account_type_d;
	Datum		id_type_d;
	Datum		value_d;
} IdentKey;

/* An account's status, as its row says. */
typedef enum AccountStatus
{
	ACCOUNT_ACTIVE,
	ACCOUNT_ARCHIVED,
	ACCOUNT_MERGED,
	ACCOUNT_REDACTED
} AccountStatus;

/* An account's row, as a row lock found it. */
typedef struct AccountRow
{
	char	   *account_type;
	AccountStatus status;
	pg_uuid_t	merged_into;	/* when ACCOUNT_MERGED */
} AccountRow;

/* Most identifiers find_or_create_account(type, identifiers[]) takes. */
#define LOOKUP_MAX_KEYS			100

/*
 * The merging call (1.8, resolve.c).  Given one, a multi-identifier
 * protocol that finds its identifiers on more than one account reports
 * those accounts here instead of raising 21000, having written nothing and
 * released what it locked; after a merge (after_merge), a one-node run
 * skips its lock-free probes, whose snapshot predates the merge.
 */
typedef struct Resolve
{
	bool		after_merge;	/* in */
	int			nowners;		/* out: 2 or more when reported */
	pg_uuid_t	owners[LOOKUP_MAX_KEYS];
} Resolve;

#endif							/* ACCOUNT_ACCOUNT_H */
