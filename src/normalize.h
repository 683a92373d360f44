/*
 * normalize.h: identifier normalization, independent of the backend.
 *
 * The core works on UTF-8 and uses ICU for everything Unicode (NFC, case
 * folding, the White_Space property), so its result is the same in every
 * database whatever its locale or collation.  It has no dependency on
 * postgres.h, which lets test/unit and test/fuzz link it on its own.
 */
#ifndef ACCOUNT_NORMALIZE_H
#define ACCOUNT_NORMALIZE_H

#include <stdbool.h>
#include <stddef.h>

typedef enum IdentKind
{
	IDENT_KIND_TEXT = 0,
	IDENT_KIND_EMAIL,
	IDENT_KIND_PHONE
} IdentKind;

typedef enum NormStatus
{
	NORM_OK = 0,
	NORM_EMPTY,					/* nothing left after trimming */
	NORM_BAD_ENCODING,			/* not valid UTF-8 */
	NORM_BAD_FORMAT,			/* not an email / phone number; see *why */
	NORM_ICU_ERROR				/* ICU failed; *why names the ICU error */
} NormStatus;

/* Allocator used for the result and scratch space (palloc in the backend). */
typedef void *(*norm_alloc_fn) (size_t size);
typedef void (*norm_free_fn) (void *ptr);

/*
 * Normalize the UTF-8 string in[0..len) as an identifier of the given kind.
 * On NORM_OK, *out is a NUL-terminated UTF-8 string allocated with alloc_fn
 * and *outlen its length.  On NORM_BAD_FORMAT and NORM_ICU_ERROR, *why is a
 * static English explanation.
 */
extern NormStatus ident_normalize(IdentKind kind, bool case_sensitive,
								  const char *in, size_t len,
								  char **out, size_t *outlen, const char **why,
								  norm_alloc_fn alloc_fn, norm_free_fn free_fn);

/* Parse a kind name ("text", "email", "phone"); false if unknown. */
extern bool ident_kind_from_name(const char *name, IdentKind *kind);

#endif							/* ACCOUNT_NORMALIZE_H */
