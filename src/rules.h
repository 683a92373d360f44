/*
 * rules.h: the rules both find-or-create protocols share (rules.c): what
 * may be attached to which account, and the errors a caller gets, each
 * written once.  lookup.c (one node) and dist.c (Citus) raise them; the
 * SQL lifecycle shares its own rules in sql/parts/50_lifecycle.sql
 * (and calls rule_check_limit() through check_identifier_limit()).
 */
#ifndef ACCOUNT_RULES_H
#define ACCOUNT_RULES_H

#include "postgres.h"

#include "account.h"
#include "compat.h"

extern char *rule_uuid_text(const pg_uuid_t *u);
extern int	rule_first_owner(const pg_uuid_t *ids, const bool *found, int n,
							 int *other);
extern bool rule_report_owners(Resolve *resolve, const pg_uuid_t *ids, const bool *found,
							   int n);
extern ACCOUNT_NORETURN void rule_split(const IdentKey *keys, const pg_uuid_t *ids,
					   const bool *found, int n);
extern ACCOUNT_NORETURN void rule_read_only(const IdentKey *key);
extern ACCOUNT_NORETURN void rule_concurrent_creation(const IdentKey *key);
extern ACCOUNT_NORETURN void rule_type_dropped(const IdentKey *key);
extern void rule_check_attachable(const pg_uuid_t *account_id, const AccountRow *row);
extern ACCOUNT_NORETURN void rule_no_account(const pg_uuid_t *account_id, const char *hint);
extern ACCOUNT_NORETURN void rule_belongs_to_another(const IdentKey *key, const pg_uuid_t *owner);
extern ACCOUNT_NORETURN void rule_lost_account(const IdentKey *key, const pg_uuid_t *owner);
extern void rule_check_limit(const char *account_type, const char *id_type,
							 const pg_uuid_t *account_id, int64 held, int32 limit);
extern void rule_check_limits(const IdentKey *keys, const int32 *limits, const bool *skip,
							  int n, const pg_uuid_t *account_id, const int64 *held);
extern ACCOUNT_NORETURN void rule_limited_race(const IdentKey *key);

#endif							/* ACCOUNT_RULES_H */
