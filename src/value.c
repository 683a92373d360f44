/*
 * value.c: normalizing an identifier value for its type, and a field value
 * for its kind.
 *
 * normalize.c does the work in UTF-8 with ICU and knows nothing of the
 * backend; this wraps it: conversion from and to the server encoding,
 * palloc, the length limits and the errors.  Every identifier value the
 * extension stores or looks up, on one node and on Citus, comes through
 * value_normalize(); every text, email or phone field value (1.8) through
 * value_normalize_field(), with the same rules: a text field as a
 * case-sensitive text identifier (its case is kept), email and phone
 * fields as identifiers of those kinds.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"

#include "value.h"

/* At most 64 characters of a user-supplied string, for messages. */
const char *
value_clip(const char *value)
{
	int			len = strlen(value);
	int			clip = pg_mbcliplen(value, len, 64);

	if (clip >= len)
		return value;
	return psprintf("%.*s...", clip, value);
}

static void *
norm_palloc(size_t size)
{
	return palloc(size);
}

static void
norm_pfree(void *ptr)
{
	pfree(ptr);
}

/*
 * 22001.  The limit is on the normalized value (ACCOUNT_MAX_VALUE_BYTES);
 * a raw value of more than ACCOUNT_MAX_RAW_BYTES is refused before it is
 * normalized, whatever it would normalize to, so that no call spends its
 * time on a megabyte of padding.
 */
static void
value_too_long(const char *id_type, const char *value, bool raw, size_t len,
			   bool field)
{
	ereport(ERROR,
			(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
			 errmsg("%s value \"%s\" is too long", id_type, value_clip(value)),
			 raw ?
			 errdetail("The value is %zu bytes; values of more than %d bytes are refused before they are normalized.",
					   len, ACCOUNT_MAX_RAW_BYTES) :
			 errdetail("The normalized value is %zu bytes; normalized %s values are at most %d bytes.",
					   len, field ? "field" : "identifier", ACCOUNT_MAX_VALUE_BYTES),
			 field ? errhint("Store a shorter value.") :
			 errhint("Store a shorter identifier, for example a hash of the value.")));
}

static char *normalize(const char *account_type, const char *name, IdentKind kind,
					   bool case_sensitive, const char *value, bool field);

/*
 * Normalize value (server encoding) for the identifier type id_type of
 * account_type, resolved as *type; the result is in the server encoding.
 * Raises 22023, 22P02, 22021 or 22001.
 */
char *
value_normalize(const char *account_type, const char *id_type,
				const IdentType *type, const char *value)
{
	return normalize(account_type, id_type, type->kind, type->case_sensitive,
					 value, false);
}

/*
 * Normalize value (server encoding) for the field name of account_type,
 * of kind (text, email or phone); the same errors as value_normalize().
 */
char *
value_normalize_field(const char *account_type, const char *name,
					  IdentKind kind, const char *value)
{
	return normalize(account_type, name, kind, kind == IDENT_KIND_TEXT,
					 value, true);
}

static char *
normalize(const char *account_type, const char *id_type, IdentKind kind,
		  bool case_sensitive, const char *value, bool field)
{
	size_t		len = strlen(value);
	const char *utf8;
	char	   *out = NULL;
	size_t		outlen = 0;
	const char *why = NULL;
	NormStatus	st;
	char	   *result;

	if (len > ACCOUNT_MAX_RAW_BYTES)
		value_too_long(id_type, value, true, len, field);

	/* conversions are the identity in a UTF-8 database: skip them */
	utf8 = GetDatabaseEncoding() == PG_UTF8 ? value
		: pg_server_to_any(value, (int) len, PG_UTF8);
	st = ident_normalize(kind, case_sensitive, utf8, strlen(utf8),
						 &out, &outlen, &why, norm_palloc, norm_pfree);
	switch (st)
	{
		case NORM_OK:
			break;
		case NORM_EMPTY:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s value \"%s\" is empty", id_type, value_clip(value)),
					 errdetail("%s values are trimmed of white space, and invisible characters (default-ignorable code points) are dropped; nothing is left.",
							   field ? "Field" : "Identifier"),
					 field ? errhint("Pass a non-empty value, or null to remove the field.") :
					 errhint("Pass a non-empty identifier value.")));
			break;
		case NORM_BAD_ENCODING:
			ereport(ERROR,
					(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
					 errmsg("%s value is not valid Unicode", id_type),
					 errhint("Pass a value in the database encoding.")));
			break;
		case NORM_BAD_FORMAT:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid %s value \"%s\": %s",
							id_type, value_clip(value), why),
					 errhint("%s \"%s\" of account type \"%s\" is of kind %s.",
							 field ? "Field" : "Identifier type", id_type, account_type,
							 kind == IDENT_KIND_EMAIL ? "email" : "phone")));
			break;
		case NORM_ICU_ERROR:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not normalize %s value \"%s\": %s",
							id_type, value_clip(value), why),
					 errhint("Retry; if it persists, report the value.")));
			break;
	}

	if (outlen > ACCOUNT_MAX_VALUE_BYTES)
		value_too_long(id_type, value, false, outlen, field);

	if (GetDatabaseEncoding() == PG_UTF8)
		return out;
	result = pg_any_to_server(out, (int) outlen, PG_UTF8);
	return result;
}
