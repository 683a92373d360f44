/*
 * client.c: find-or-create from C with libpq, many connections at once.
 *
 *   client "CONNINFO" CONNECTIONS CALLS KEYS PREFIX
 *
 * Starts CONNECTIONS threads, each with its own connection; each makes
 * CALLS calls of accounts.find_or_create_account('user', 'reference_id',
 * PREFIX || n) for n in 1..KEYS (round robin, offset per thread), and
 * prints one line per call: "key account_id created".  Exits non-zero on
 * any error.  Build: cc client.c -I$(pg_config --includedir) -lpq -lpthread
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

static const char *conninfo;
static int	calls;
static int	keys;
static const char *prefix;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static int	errors = 0;

static void *
worker(void *arg)
{
	int			id = (int) (long) arg;
	PGconn	   *conn = PQconnectdb(conninfo);
	const char *sql =
		"SELECT account_id, created "
		"FROM accounts.find_or_create_account('user', 'reference_id', $1)";

	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "connection failed: %s", PQerrorMessage(conn));
		__atomic_add_fetch(&errors, 1, __ATOMIC_SEQ_CST);
		PQfinish(conn);
		return NULL;
	}
	for (int i = 0; i < calls; i++)
	{
		char		key[128];
		const char *params[1] = {key};
		PGresult   *res;

		snprintf(key, sizeof(key), "%s%d", prefix, (i + id) % keys + 1);
		res = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			/* every error carries a SQLSTATE; 40001/40P01 would be retryable */
			fprintf(stderr, "error %s: %s", PQresultErrorField(res, PG_DIAG_SQLSTATE),
					PQerrorMessage(conn));
			__atomic_add_fetch(&errors, 1, __ATOMIC_SEQ_CST);
		}
		else
		{
			pthread_mutex_lock(&out_lock);
			printf("%s %s %s\n", key, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
			pthread_mutex_unlock(&out_lock);
		}
		PQclear(res);
	}
	PQfinish(conn);
	return NULL;
}

int
main(int argc, char **argv)
{
	int			nconn;
	pthread_t  *threads;

	if (argc != 6)
	{
		fprintf(stderr, "usage: %s CONNINFO CONNECTIONS CALLS KEYS PREFIX\n", argv[0]);
		return 2;
	}
	conninfo = argv[1];
	nconn = atoi(argv[2]);
	calls = atoi(argv[3]);
	keys = atoi(argv[4]);
	prefix = argv[5];
	threads = calloc(nconn, sizeof(pthread_t));
	for (long i = 0; i < nconn; i++)
		pthread_create(&threads[i], NULL, worker, (void *) i);
	for (int i = 0; i < nconn; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	return errors ? 1 : 0;
}
