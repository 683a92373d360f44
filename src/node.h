/*
 * node.h: where the code runs (node.c): one node, or a node of a Citus
 * cluster before or after accounts.distribute(); this node's copies of the
 * reference tables; the extension's owner.  The bottom layer beside
 * catalog.c: everything above asks it which path to take.
 */
#ifndef ACCOUNT_NODE_H
#define ACCOUNT_NODE_H

#include "postgres.h"

extern bool node_is_distributed(void);
extern bool node_journal_distributed(void);
extern bool node_record_distributed(void);
extern bool node_has_internal_schema(void);
extern bool node_creates_by_identifier(void);
extern void node_refuse_undistributed(void);
extern void node_refuse_distributed(const char *what);
extern Oid	node_local_placement(const char *table);
extern Oid	node_extension_owner(void);

/* The user and security context to restore after node_become_owner(). */
typedef struct OwnerScope
{
	Oid			save_user;
	int			save_sec;
} OwnerScope;

extern void node_become_owner(OwnerScope *scope);
extern void node_restore_user(const OwnerScope *scope);

#endif							/* ACCOUNT_NODE_H */
