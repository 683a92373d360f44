/*
 * catalog.h: the extension's relations, the identifier-type registry cache,
 * the checks on names, and normalizing a value for its type (catalog.c).  Nothing here depends on the layers
 * above it; lookup.c and call.c are its callers.
 */
#ifndef ACCOUNT_CATALOG_H
#define ACCOUNT_CATALOG_H

#include "postgres.h"

#include "access/attnum.h"
#include "access/skey.h"
#include "executor/tuptable.h"
#include "storage/lockdefs.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"

#include "normalize.h"

/* Longest account type and identifier type names that can be registered. */
#define ACCOUNT_MAX_NAME_BYTES	63

/* The extension's relations, resolved by OID in schema "accounts". */
typedef struct AccountRels
{
	Oid			namespace;
	Oid			accounts;
	Oid			identifiers;
	Oid			account_types;
	Oid			identifier_types;
	/* no index OIDs: REINDEX CONCURRENTLY changes them (catalog_pkey_open) */
	/* attribute numbers, looked up by name */
	AttrNumber	acc_id;
	AttrNumber	acc_type;
	AttrNumber	acc_created_at;
	/*
	 * From version 1.3 (lifecycle): InvalidAttrNumber while the database
	 * still has an older schema (the library is updated before ALTER
	 * EXTENSION account UPDATE runs).
	 */
	AttrNumber	acc_status;
	AttrNumber	acc_merged_into;
	AttrNumber	acc_tags;
	AttrNumber	acc_updated_at;
	AttrNumber	acc_redacted_at;
	/* the enum accounts.account_status and its labels' OIDs */
	Oid			status_type;
	Oid			status_active;
	Oid			status_archived;
	Oid			status_merged;
	Oid			status_redacted;
	AttrNumber	ident_account_type;
	AttrNumber	ident_id_type;
	AttrNumber	ident_value;
	AttrNumber	ident_account_id;
	AttrNumber	ident_created_at;
	AttrNumber	itype_account_type;
	AttrNumber	itype_name;
	AttrNumber	itype_kind;
	AttrNumber	itype_case_sensitive;
	/*
	 * From version 1.4 (the change journal): InvalidOid while the database
	 * has an older schema; no events are written then.
	 */
	Oid			events;
	Oid			events_seq;
	Oid			journal_settings;
	AttrNumber	ev_seq;
	AttrNumber	ev_occurred_at;
	AttrNumber	ev_account_id;
	AttrNumber	ev_account_type;
	AttrNumber	ev_kind;
	AttrNumber	ev_detail;
	AttrNumber	js_enabled;
} AccountRels;

/* An identifier type from accounts.identifier_types. */
typedef struct IdentType
{
	IdentKind	kind;
	bool		case_sensitive;
	bool		journal;		/* events are written for its account type */
} IdentType;

extern const AccountRels *catalog_rels(void);
extern Relation catalog_table_open(Oid relid, LOCKMODE lockmode);
extern Relation catalog_pkey_open(Relation heap, LOCKMODE lockmode);
extern bool catalog_pkey_fetch(Relation heap, ScanKey skey, int nkeys,
							   Snapshot snapshot, TupleTableSlot *slot);
extern void catalog_check_tables(void);
extern bool catalog_check_node(void);
extern bool catalog_is_distributed(void);
extern bool catalog_journal_distributed(void);
extern void catalog_refuse_distributed(const char *what);
extern void catalog_check_names(const char *account_type, const char *id_type);
extern uint64 catalog_generation(void);
extern void catalog_resolve_type(const char *account_type, const char *id_type,
								 IdentType *out);
extern bool catalog_journal_enabled(const AccountRels *r, const char *account_type);
extern char *catalog_normalize(const char *account_type, const char *id_type,
							   const IdentType *type, const char *value);

/* Does text t hold exactly the NUL-terminated string s? */
static inline bool
catalog_text_equals(const text *t, const char *s)
{
	size_t		len = VARSIZE_ANY_EXHDR(t);

	return strlen(s) == len && memcmp(VARDATA_ANY(t), s, len) == 0;
}

#endif							/* ACCOUNT_CATALOG_H */
