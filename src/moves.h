/*
 * moves.h: row locks that stay true while Citus moves shards (moves.c).
 * Within an SPI connection, as the extension's owner (dist_begin()).
 */
#ifndef ACCOUNT_MOVES_H
#define ACCOUNT_MOVES_H

#include "postgres.h"

#include "utils/rel.h"

extern void moves_hold(int32 route);
extern void moves_hold_routes(const int32 *routes, int n);
extern void moves_hold_all(void);
extern int64 moves_shard_of(Relation rel);
extern bool moves_group_held;

#endif							/* ACCOUNT_MOVES_H */
