/*
 * uuidv7.h: time-ordered account ids (uuidv7.c).
 */
#ifndef ACCOUNT_UUIDV7_H
#define ACCOUNT_UUIDV7_H

#include "postgres.h"

#include "utils/uuid.h"

extern void account_uuidv7(pg_uuid_t *uuid);

#endif							/* ACCOUNT_UUIDV7_H */
