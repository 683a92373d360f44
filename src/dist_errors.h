/*
 * dist_errors.h: what Citus reports that is not what it says, re-raised as
 * what it is (dist_errors.c).  Below the distributed path and the node
 * code alike: it needs neither.
 */
#ifndef ACCOUNT_DIST_ERRORS_H
#define ACCOUNT_DIST_ERRORS_H

#include "postgres.h"

#include "compat.h"

extern void dist_watch_errors(void);
extern ACCOUNT_NORETURN void dist_rethrow_error(void);

#endif							/* ACCOUNT_DIST_ERRORS_H */
