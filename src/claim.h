/*
 * claim.h: the shard side of a create in one statement on a distributed
 * cluster (claim.c).
 */
#ifndef ACCOUNT_CLAIM_H
#define ACCOUNT_CLAIM_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/relcache.h"

extern bool claim_identifier(Relation rel, int32 route, Datum account_type, Datum account_id,
							 TimestampTz created_at, Datum detail);

#endif							/* ACCOUNT_CLAIM_H */
