/*
 * rules.c: the rules both find-or-create protocols share, and their errors.
 *
 * One node (lookup.c) and a distributed cluster (dist.c) store and lock
 * differently; what a call may do and what it tells the caller is the
 * same, and written here once:
 *
 *   rule_first_owner(), rule_split()   the identifiers of one call belong
 *                                      to one account, or 21000
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
