/*
 * record.c: the account record's one step in C: a field value normalized
 * for its kind.
 *
 *   accounts_internal.normalize_field(account_type, name, kind, value)
 *
 * Fields are declared and written in SQL (sql/parts/30_registry.sql,
 * 55_record.sql: every rule of the account record, once, for one node and
 * Citus); what SQL cannot do is normalize a text, email or phone value as
 * an identifier of that kind is normalized, which value.c does.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "compat.h"
#include "normalize.h"
#include "value.h"

ACCOUNT_FUNCTION(account_normalize_field);

/*
 * accounts_internal.normalize_field(account_type text, name text,
 *   kind text, value text) RETURNS text; STRICT in SQL.  The kinds are
 * text (kept case), email and phone; 22023 for another.
 */
Datum
account_normalize_field(PG_FUNCTION_ARGS)
{
	char	   *account_type = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *kind_name = text_to_cstring(PG_GETARG_TEXT_PP(2));
	char	   *value = text_to_cstring(PG_GETARG_TEXT_PP(3));
	IdentKind	kind;

	if (!ident_kind_from_name(kind_name, &kind))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("field kind \"%s\" is not normalized as an identifier", value_clip(kind_name)),
				 errhint("Only text, email and phone fields are.")));
	PG_RETURN_TEXT_P(cstring_to_text(value_normalize_field(account_type, name, kind, value)));
}
