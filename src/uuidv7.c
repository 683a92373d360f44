/*
 * uuidv7.c: time-ordered account ids (RFC 9562 UUID version 7).
 *
 * Layout: 48 bits of Unix time in milliseconds, version 7, 12 bits of
 * sub-millisecond time (RFC 9562 section 6.2, method 3), the variant, then
 * 62 random bits.  New ids therefore land at the right edge of the primary
 * key index instead of on random leaf pages.
 *
 * Within one backend the ids are strictly increasing even if the clock
 * steps back or two calls fall in the same 1/4096 ms: the timestamp used is
 * max(now, previous + 1 tick).
 *
 * The random bits come from pg_strong_random (a CSPRNG), fetched 4 KiB at a
 * time: one call per id costs more than the rest of creating an account's
 * index entries (OpenSSL's RAND_bytes setup), a buffered byte costs a copy.
 * The buffer belongs to one process: it is refilled when MyProcPid changes,
 * so a forked child never reuses its parent's bytes.
 */
#include "postgres.h"

#include <time.h>

#include "miscadmin.h"
#include "port.h"

#include "uuidv7.h"

/* ticks of 1/4096 ms since the Unix epoch */
static uint64 last_tick = 0;

#define RANDOM_BUFFER_SIZE 4096
static unsigned char random_buffer[RANDOM_BUFFER_SIZE];
static int	random_used = RANDOM_BUFFER_SIZE;
static int	random_pid = 0;

static void
strong_random_bytes(unsigned char *dst, int n)
{
	if (random_pid != MyProcPid || random_used + n > RANDOM_BUFFER_SIZE)
	{
		if (!pg_strong_random(random_buffer, RANDOM_BUFFER_SIZE))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate random bits for an account id"),
					 errhint("Check the server's source of randomness.")));
		random_used = 0;
		random_pid = MyProcPid;
	}
	memcpy(dst, random_buffer + random_used, n);
	/* never hand out the same bytes twice */
	memset(random_buffer + random_used, 0, n);
	random_used += n;
}

void
account_uuidv7(pg_uuid_t *uuid)
{
	struct timespec ts;
	uint64		ms;
	uint64		sub;
	uint64		tick;

	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (uint64) ts.tv_sec * 1000 + (uint64) ts.tv_nsec / 1000000;
	sub = ((uint64) ts.tv_nsec % 1000000) * 4096 / 1000000;
	tick = (ms << 12) | sub;
	if (tick <= last_tick)
		tick = last_tick + 1;
	last_tick = tick;
	ms = tick >> 12;
	sub = tick & 0xFFF;

	strong_random_bytes(&uuid->data[8], 8);

	uuid->data[0] = (unsigned char) (ms >> 40);
	uuid->data[1] = (unsigned char) (ms >> 32);
	uuid->data[2] = (unsigned char) (ms >> 24);
	uuid->data[3] = (unsigned char) (ms >> 16);
	uuid->data[4] = (unsigned char) (ms >> 8);
	uuid->data[5] = (unsigned char) ms;
	uuid->data[6] = (unsigned char) (0x70 | (sub >> 8));	/* version 7 */
	uuid->data[7] = (unsigned char) sub;
	uuid->data[8] = (unsigned char) (0x80 | (uuid->data[8] & 0x3F));	/* variant */
}
