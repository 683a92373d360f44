/*
 * value.h: an identifier value normalized for its type, a field value for
 * its kind (value.c): the
 * server encoding in and out, the length limits and the errors, around the
 * backend-free normalizer (normalize.c).  Beside types.c, below call.c.
 */
#ifndef ACCOUNT_VALUE_H
#define ACCOUNT_VALUE_H

#include "postgres.h"

#include "types.h"

/* Longest normalized identifier value that is accepted. */
#define ACCOUNT_MAX_VALUE_BYTES	2048
/* Longest raw value that is normalized at all. */
#define ACCOUNT_MAX_RAW_BYTES	(1024 * 1024)

extern char *value_normalize(const char *account_type, const char *id_type,
							 const IdentType *type, const char *value);
extern char *value_normalize_field(const char *account_type, const char *name,
								   IdentKind kind, const char *value);
extern const char *value_clip(const char *value);

#endif							/* ACCOUNT_VALUE_H */
