/*
 * moves.h: row locks that stay true while Citus moves shards (moves.c).
 * Within an SPI connection, as the extension's owner (dist_begin()).
 */
#ifndef ACCOUNT_MOVES_H
#define ACCOUNT_MOVES_H

#include "postgres.h"

extern void moves_hold(int32 route);

#endif							/* ACCOUNT_MOVES_H */
