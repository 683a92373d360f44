/*
 * catalog.h: the extension's relations by OID, and the shape check of the
 * tables the C code writes (catalog.c).  The bottom layer: nothing here
 * depends on the files above it.
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
	/* from 1.8 (InvalidAttrNumber before): the identifier limit, the fields */
	AttrNumber	itype_max_per_account;
	AttrNumber	acc_fields;
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

extern const AccountRels *catalog_rels(void);
extern Relation catalog_table_open(Oid relid, LOCKMODE lockmode);
extern Relation catalog_pkey_open(Relation heap, LOCKMODE lockmode);
extern bool catalog_pkey_fetch(Relation heap, ScanKey skey, int nkeys,
							   Snapshot snapshot, TupleTableSlot *slot);
extern void catalog_check_tables(void);
extern uint64 catalog_generation(void);

/* Does text t hold exactly the NUL-terminated string s? */
static inline bool
catalog_text_equals(const text *t, const char *s)
{
	size_t		len = VARSIZE_ANY_EXHDR(t);

	return strlen(s) == len && memcmp(VARDATA_ANY(t), s, len) == 0;
}

#endif							/* ACCOUNT_CATALOG_H */
