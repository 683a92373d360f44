/*
 * account.h: shared declarations of the account extension's backend code.
 *
 *   account.c    SQL-callable functions (argument checking, result tuples)
 *   catalog.c    OIDs of the extension's relations, the identifier-type cache
 *   lookup.c     the find / find-or-create protocol (locking, visibility)
 *   normalize.c  identifier normalization (pure C + ICU)
 *   uuidv7.c     time-ordered account ids
 */
#ifndef ACCOUNT_H
#define ACCOUNT_H

#include "postgres.h"

#include "access/attnum.h"
#include "fmgr.h"
#include "executor/tuptable.h"
#include "storage/lock.h"
#include "storage/lockdefs.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"
#include "utils/uuid.h"

#include "normalize.h"

/*
 * The extension's key locks are advisory-type lock tags that the SQL
 * functions cannot produce: pg_advisory_lock() and friends only ever set
 * the fourth field to 1 (bigint key) or 2 (two int4 keys).  pg_locks shows
 * ours as locktype advisory, classid = 1094927188 ("ACCT"),
 * objsubid = 16707 ("AC").  No role, however unprivileged, can take or hold
 * one from SQL, so nobody can squat on an identifier's lock.
 */
#define ACCOUNT_LOCK_KEY1		0x41434354
#define ACCOUNT_LOCK_FIELD4		0x4143

/* Longest type names, and longest normalized value, that are accepted. */
#define ACCOUNT_MAX_NAME_BYTES	63
#define ACCOUNT_MAX_VALUE_BYTES	2048

/* The extension's relations, resolved by OID in schema "accounts". */
typedef struct AccountRels
{
	Oid			namespace;
	Oid			accounts;
	Oid			identifiers;
	Oid			account_types;
	Oid			identifier_types;
	/* no index OIDs: REINDEX CONCURRENTLY changes them (account_pkey_open) */
	/* attribute numbers, looked up by name */
	AttrNumber	acc_id;
	AttrNumber	acc_type;
	AttrNumber	acc_created_at;
	AttrNumber	ident_account_type;
	AttrNumber	ident_id_type;
	AttrNumber	ident_value;
	AttrNumber	ident_account_id;
	AttrNumber	ident_created_at;
	AttrNumber	itype_account_type;
	AttrNumber	itype_name;
	AttrNumber	itype_kind;
	AttrNumber	itype_case_sensitive;
} AccountRels;

/* An identifier type from accounts.identifier_types. */
typedef struct IdentType
{
	IdentKind	kind;
	bool		case_sensitive;
} IdentType;

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

/* Does text t hold exactly the NUL-terminated string s? */
static inline bool
account_text_equals(const text *t, const char *s)
{
	size_t		len = VARSIZE_ANY_EXHDR(t);

	return strlen(s) == len && memcmp(VARDATA_ANY(t), s, len) == 0;
}

/* catalog.c */
extern const AccountRels *account_rels(void);
extern Relation account_table_open(Oid relid, LOCKMODE lockmode);
extern Relation account_pkey_open(Relation heap, LOCKMODE lockmode);
extern uint64 account_cache_generation(void);
extern void account_resolve_ident_type(const char *account_type,
									   const char *id_type, IdentType *out);

/*
 * Per-FmgrInfo state: the per-call context, the result descriptor, and the
 * last (account type, identifier type) this call site resolved.  A query
 * calls a function with the same types over and over; the memo skips the
 * registry cache's hash lookup then.  It is valid while the catalog cache
 * generation (catalog.c) is unchanged.
 */
typedef struct CallState
{
	MemoryContext call_cxt;
	TupleDesc	result_desc;
	uint64		memo_generation;	/* 0: empty */
	char		memo_account_type[ACCOUNT_MAX_NAME_BYTES + 1];
	char		memo_id_type[ACCOUNT_MAX_NAME_BYTES + 1];
	IdentType	memo_type;
	Datum		memo_account_type_d;	/* text, in fn_mcxt */
	Datum		memo_id_type_d;
} CallState;

/* account.c: call plumbing shared by the SQL-callable functions */
extern CallState *begin_call(FunctionCallInfo fcinfo, bool composite_result);
extern void raise_null_argument(const char *name);
extern void resolve_types(FunctionCallInfo fcinfo, CallState *state,
						  IdentKey *key, text *type, text *id_type);
extern void make_key(FunctionCallInfo fcinfo, CallState *state, IdentKey *key,
					 text *type, text *id_type, text *value);
extern Datum account_result_row(CallState *state, const pg_uuid_t *account_id,
								bool created);
extern const char *identifier_fields(HeapTupleHeader ident, text **id_type,
									 text **value);

/* normalize glue, account.c */
extern char *account_normalize_value(const char *account_type,
									 const char *id_type, const IdentType *type,
									 const char *value);
extern void account_check_name(const char *what, const char *name);

/* lookup.c: the relations and state for a run of lookups or creates */
typedef struct IdentSession
{
	MemoryContext cxt;			/* where the session's state lives */
	const AccountRels *rels;
	LOCKMODE	lockmode;
	Snapshot	snapshot;		/* the statement's MVCC snapshot */
	Relation	ident_heap;
	Relation	ident_index;
	TupleTableSlot *slot;		/* probe results */
	/* set up on the first insert */
	struct EState *estate;
	Relation	acc_heap;
	struct ResultRelInfo *acc_rri;
	struct ResultRelInfo *ident_rri;
	TupleTableSlot *acc_slot;
	TupleTableSlot *ident_slot;
} IdentSession;

extern void ident_session_open(IdentSession *s, bool for_write);
extern void ident_session_close(IdentSession *s);
extern bool ident_lookup(IdentSession *s, const IdentKey *key, pg_uuid_t *account_id);
extern bool ident_find_or_create(IdentSession *s, const IdentKey *key,
								 const pg_uuid_t *attach_to, pg_uuid_t *account_id);

/* lookup.c: the protocol's building blocks (see the comment there) */
typedef enum ProbeResult
{
	PROBE_NONE,					/* no row: create it */
	PROBE_WAIT,					/* another transaction's row is in progress */
	PROBE_FOUND					/* a committed row, or our own */
} ProbeResult;

extern void ident_check_writable(const IdentKey *key);
extern void ident_lock(const IdentKey *key, LOCKTAG *tag);
extern void ident_unlock(const LOCKTAG *tag);
extern void ident_wait(IdentSession *s, TransactionId xwait);
extern ProbeResult ident_probe_locked(IdentSession *s, const IdentKey *key,
									  pg_uuid_t *account_id, TransactionId *xwait);
extern void ident_insert_account(IdentSession *s, const IdentKey *key,
								 pg_uuid_t *account_id);
extern void ident_insert_identifier(IdentSession *s, const IdentKey *key,
									const pg_uuid_t *account_id);
extern void ident_lock_types(IdentSession *s, const IdentKey *key);

/* What ident_lock_account() found. */
typedef enum AccountLockResult
{
	ACCOUNT_LOCKED,				/* KEY SHARE held; *account_type set */
	ACCOUNT_MISSING,			/* no such account (or deleted meanwhile) */
	ACCOUNT_WOULD_BLOCK			/* only when !wait */
} AccountLockResult;

extern AccountLockResult ident_lock_account(IdentSession *s,
											const pg_uuid_t *account_id,
											bool wait, char **account_type);

/* uuidv7.c */
extern void account_uuidv7(pg_uuid_t *uuid);

#endif							/* ACCOUNT_H */
