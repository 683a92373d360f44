/*
 * types.h: the identifier-type registry, read and cached (types.c).  One
 * node reads accounts.identifier_types through a per-backend cache; a
 * distributed cluster reads this node's copy of the reference table
 * accounts.dist_identifier_types.  Below call.c and the protocols, beside
 * catalog.c.
 */
#ifndef ACCOUNT_TYPES_H
#define ACCOUNT_TYPES_H

#include "postgres.h"

#include "normalize.h"

/* Longest account type and identifier type names that can be registered. */
#define ACCOUNT_MAX_NAME_BYTES	63

/* An identifier type from the registry. */
typedef struct IdentType
{
	IdentKind	kind;
	bool		case_sensitive;
	bool		journal;		/* events are written for its account type */
} IdentType;

extern void types_check_names(const char *account_type, const char *id_type);
extern void types_resolve(const char *account_type, const char *id_type,
						  IdentType *out);
extern bool types_journal_enabled(const char *account_type);

#endif							/* ACCOUNT_TYPES_H */
