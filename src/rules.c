/*
 * rules.c: the rules both find-or-create protocols share, and their errors.
 *
 * One node (lookup.c) and a distributed cluster (dist.c) store and lock
 * differently; what a call may do and what it tells the caller is the
 * same, and written here once:
 *
 *   rule_first_owner(), rule_split()   the identifiers of one call belong
 *                                      to one account, or 21000
 *   rule_report_owners()               or, for the merging call, the
 *                                      accounts they belong to (resolve.c)
 *   rule_check_attachable()            a merged or redacted account takes
 *                                      no identifiers: 55000
 *   rule_read_only()                   creating needs a read-write
 *                                      transaction: 25006
 *   rule_concurrent_creation()         REPEATABLE READ cannot act on a row
 *                                      it cannot see: 40001
 *   rule_type_dropped()                the type went away during the call:
 *                                      42704
 *   rule_no_account()                  no such account: 42704
 *   rule_belongs_to_another()          add_identifier() of another
 *                                      account's identifier: 23505
 *   rule_lost_account()                an identifier whose account does not
 *                                      exist (changed outside the
 *                                      extension): 23503
 *   rule_check_limit()                 more identifiers of a type on one
 *                                      account than its limit: 23514 (1.8;
 *                                      merges too, through
 *                                      accounts_internal.check_identifier_limit())
 *   rule_check_limits()                the same for the keys of one call
 *   rule_limited_race()                a limited attach that would have to
 *                                      wait holding rows: 40001 (Citus)
 */
#include "postgres.h"

#include "access/xlog.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "rules.h"

/* An account id as text, for messages (palloc'd). */
char *
rule_uuid_text(const pg_uuid_t *u)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(u)));
}

/*
 * The first of the n keys that was found (found[i], on account ids[i]), or
 * -1 if none was.  If a found key belongs to another account than the
 * first, *other is its index (the caller raises rule_split() once it let
 * go of what it holds); otherwise -1.
 */
int
rule_first_owner(const pg_uuid_t *ids, const bool *found, int n, int *other)
{
	int			first = -1;

	*other = -1;
	for (int i = 0; i < n; i++)
	{
		if (!found[i])
			continue;
		if (first < 0)
			first = i;
		else if (memcmp(&ids[i], &ids[first], sizeof(pg_uuid_t)) != 0)
		{
			*other = i;
			break;
		}
	}
	return first;
}

/*
 * The distinct accounts the found keys (found[i], on ids[i]) belong to, for
 * the merging call (Resolve in account.h); returns false, the result of a
 * call that created nothing.
 */
bool
rule_report_owners(Resolve *resolve, const pg_uuid_t *ids, const bool *found, int n)
{
	resolve->nowners = 0;
	for (int i = 0; i < n; i++)
	{
		bool		seen = false;

		if (!found[i])
			continue;
		for (int j = 0; j < resolve->nowners && !seen; j++)
			seen = memcmp(&resolve->owners[j], &ids[i], sizeof(pg_uuid_t)) == 0;
		if (!seen)
			resolve->owners[resolve->nowners++] = ids[i];
	}
	return false;
}

/* 21000: the found keys belong to more than one account; the detail names them. */
void
rule_split(const IdentKey *keys, const pg_uuid_t *ids, const bool *found, int n)
{
	StringInfoData detail;

	initStringInfo(&detail);
	for (int k = 0; k < n; k++)
		if (found[k])
			appendStringInfo(&detail, "%s%s \"%s\" belongs to account %s",
							 detail.len ? "; " : "", keys[k].id_type,
							 keys[k].value, rule_uuid_text(&ids[k]));
	ereport(ERROR,
			(errcode(ERRCODE_CARDINALITY_VIOLATION),
			 errmsg("the identifiers belong to more than one account of type \"%s\"",
					keys[0].account_type),
			 errdetail("%s.", detail.data),
			 errhint("Pass identifiers of one person, or merge the accounts first.")));
}

/* 25006: creating needs a read-write transaction (on a standby: the primary). */
void
rule_read_only(const IdentKey *key)
{
	ereport(ERROR,
			(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
			 errmsg("cannot create an account for %s \"%s\" of account type \"%s\" in a read-only transaction",
					key->id_type, key->value, key->account_type),
			 errdetail("No account has this identifier yet."),
			 RecoveryInProgress() ?
			 errhint("This server is a hot standby; call the primary to create accounts.") :
			 errhint("Run it in a read-write transaction, or use accounts.find_account() to only look.")));
}

/*
 * 40001: under REPEATABLE READ and SERIALIZABLE a transaction must not act
 * on a row its snapshot cannot see: another transaction created the
 * identifier after the snapshot was taken.
 */
void
rule_concurrent_creation(const IdentKey *key)
{
	ereport(ERROR,
			(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
			 errmsg("could not serialize access due to concurrent creation of account for %s \"%s\" of account type \"%s\"",
					key->id_type, key->value, key->account_type),
			 errdetail("Another transaction created the account after this transaction's snapshot was taken."),
			 errhint("Retry the transaction; it will find the account.")));
}

/* 42704: the identifier type was dropped while this call was running. */
void
rule_type_dropped(const IdentKey *key)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("identifier type \"%s\" does not exist for account type \"%s\"",
					key->id_type, key->account_type),
			 errdetail("It was dropped while this call was running."),
			 errhint("List identifier types with SELECT * FROM accounts.identifier_types WHERE account_type = '%s'; add one with accounts.create_identifier_type().",
					 key->account_type)));
}

/*
 * A merged or redacted account takes no new identifiers: 55000, naming the
 * surviving account of a merged one.
 */
void
rule_check_attachable(const pg_uuid_t *account_id, const AccountRow *row)
{
	if (row->status == ACCOUNT_MERGED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("account %s was merged into account %s",
						rule_uuid_text(account_id), rule_uuid_text(&row->merged_into)),
				 errdetail("A merged account takes no new identifiers."),
				 errhint("Use account %s instead (accounts.resolve_account() follows merges).",
						 rule_uuid_text(&row->merged_into))));
	if (row->status == ACCOUNT_REDACTED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("account %s is redacted", rule_uuid_text(account_id)),
				 errdetail("A redacted account keeps only its reference ids and takes no new identifiers."),
				 errhint("Find or create an account for the identifier without it; a new account is created.")));
}

/* 42704: there is no account with this id. */
void
rule_no_account(const pg_uuid_t *account_id, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("account %s does not exist", rule_uuid_text(account_id)),
			 errhint("%s", hint)));
}

/* 23505: add_identifier() of an identifier another account holds. */
void
rule_belongs_to_another(const IdentKey *key, const pg_uuid_t *owner)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNIQUE_VIOLATION),
			 errmsg("%s \"%s\" belongs to another account", key->id_type, key->value),
			 errdetail("Account %s has it; an identifier belongs to one account of its type.",
					   rule_uuid_text(owner)),
			 errhint("Remove it from that account first with accounts.remove_identifier(), or merge the accounts.")));
}

/*
 * 23503: an identifier whose account does not exist, however long the call
 * waited for it.  The writers never leave one behind (ROW LOCKS in
 * rowlock.c; THE PROTOCOL ON CITUS in dist.c); only a change made around
 * the extension does.
 */
void
rule_lost_account(const IdentKey *key, const pg_uuid_t *owner)
{
	ereport(ERROR,
			(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
			 errmsg("identifier %s \"%s\" belongs to account %s, which does not exist",
					key->id_type, key->value, rule_uuid_text(owner)),
			 errhint("The tables were changed outside the extension; remove the identifier with DELETE FROM accounts.identifiers.")));
}

/*
 * 23514: account_id (NULL: a new account) would hold held identifiers of
 * id_type, more than its limit allows (accounts.set_identifier_limit());
 * nothing is raised when limit is 0 (none) or held is within it.
 */
void
rule_check_limit(const char *account_type, const char *id_type,
				 const pg_uuid_t *account_id, int64 held, int32 limit)
{
	if (limit <= 0 || held <= limit)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("%s would hold " INT64_FORMAT " identifiers of type \"%s\"",
					account_id ? psprintf("account %s", rule_uuid_text(account_id)) : "a new account",
					held, id_type),
			 errdetail("Identifier type \"%s\" of account type \"%s\" allows at most %d per account.",
					   id_type, account_type, limit),
			 errhint("Remove one first with accounts.remove_identifier(), or change the limit with accounts.set_identifier_limit().")));
}

/*
 * 40001: on Citus, a call that was creating an account found that a
 * concurrent call created one with some of the same identifiers first, and
 * attaching the rest to it would need the limit's lock on that account
 * while holding rows of its own (THE PROTOCOL ON CITUS in dist.c).
 */
void
rule_limited_race(const IdentKey *key)
{
	ereport(ERROR,
			(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
			 errmsg("could not serialize access due to a concurrent creation of an account for %s \"%s\" of account type \"%s\"",
					key->id_type, key->value, key->account_type),
			 errdetail("Identifier type \"%s\" has a limit per account, and another call created the account first.",
					   key->id_type),
			 errhint("Retry the transaction; it will find the account and attach the other identifiers to it.")));
}

/*
 * The limits of n keys (limits[i], 0: none) that go to one account
 * (account_id; NULL: a new one): 23514 if it would hold more of a type than
 * its limit, counting held[i] identifiers of keys[i]'s type it holds
 * already (held NULL: none) and the keys of that type not in skip (skip may
 * be NULL).  A type is checked once, at its first key with a limit (the
 * callers know the limits of the keys they write, from the rows they
 * locked; held[i] is set where limits[i] is).
 */
void
rule_check_limits(const IdentKey *keys, const int32 *limits, const bool *skip, int n,
				  const pg_uuid_t *account_id, const int64 *held)
{
	for (int i = 0; i < n; i++)
	{
		int64		count = held ? held[i] : 0;
		bool		first = true;

		if (limits[i] <= 0)
			continue;
		for (int j = 0; j < n; j++)
		{
			if (strcmp(keys[j].id_type, keys[i].id_type) != 0)
				continue;
			if (j < i && limits[j] > 0)
				first = false;	/* the type was checked at j */
			if (skip == NULL || !skip[j])
				count++;
		}
		if (first)
			rule_check_limit(keys[i].account_type, keys[i].id_type, account_id, count, limits[i]);
	}
}
