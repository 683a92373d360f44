/*
 * settle.h: on a distributed cluster, waiting for what other transactions
 * have committed on one node and only prepared on another (settle.c).
 * The distributed protocol (dist.c) and the storage layer of the lifecycle
 * (sql/parts/40_storage.sql) settle a node before they read what a half-committed
 * transaction may be writing there.  Within an SPI connection, as the
 * extension's owner (dist_begin()).
 */
#ifndef ACCOUNT_SETTLE_H
#define ACCOUNT_SETTLE_H

#include "postgres.h"

extern bool settle_available(void);
extern void settle_route(int32 route);
extern void settle_routes(const int32 *routes, int n);
extern void settle_all(void);
extern int	settle_here(void);

#endif							/* ACCOUNT_SETTLE_H */
