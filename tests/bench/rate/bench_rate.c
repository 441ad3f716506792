/* bench_rate.c - checks per second of the rate-limit stores: the memory
 * store under contention from many threads (distinct keys, and one hot
 * key; a full store evicting for every new key), and a Redis store on
 * loopback (one EVALSHA per check). Not run by
 * make check; see run.sh and tests/bench/README.md.
 * usage: bench_rate [-t threads] [-n checks per thread] [-r redis-port] */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tg.h"
#include "tg_store.h"

enum keys { KEYS_DISTINCT, KEYS_HOT, KEYS_NEW };

struct job {
	struct tg_store	*st;
	int		 id, n;
	enum keys	 keys;
	long		 errors;	/* the store refused (full) */
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
worker(void *arg)
{
	struct job *j = arg;
	char key[96];
	int64_t v, slot;

	for (int i = 0; i < j->n; i++) {
		/* Keys as rate.c builds them (limit name, count, window,
		 * then an address: 40 to 50 bytes). Distinct keys: 10,000
		 * logins per thread, as a busy MTA; new keys: every check a
		 * key never seen, in a full store (each one evicts another;
		 * a store that refuses instead counts errors). */
		if (j->keys == KEYS_HOT)
			snprintf(key, sizeof key, "login-msgs:messages:3600|"
			    "hot@example.org");
		else if (j->keys == KEYS_NEW)
			snprintf(key, sizeof key, "login-msgs:messages:3600|"
			    "new%d-%d@example.org", j->id, i);
		else
			snprintf(key, sizeof key, "login-msgs:messages:3600|"
			    "login%d-%d@example.org", j->id, i % 10000);
		if (j->st->ops->add(j->st, key, 3600000, 1, 1000000000, &v,
		    &slot) < 0)
			j->errors++;
	}
	return NULL;
}

static void
run(const char *what, struct tg_store *st, int threads, int n,
    enum keys keys)
{
	pthread_t *t = tg_xcalloc((size_t)threads, sizeof *t);
	struct job *j = tg_xcalloc((size_t)threads, sizeof *j);
	double t0 = now_s(), dt;
	long errors = 0;

	for (int i = 0; i < threads; i++) {
		j[i] = (struct job){ st, i, n, keys };
		pthread_create(&t[i], NULL, worker, &j[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		errors += j[i].errors;
	}
	dt = now_s() - t0;
	printf("%-28s threads=%-3d checks=%-9d %10.0f checks/s", what,
	    threads, threads * n, (double)threads * n / dt);
	if (errors > 0)
		printf(" (%ld refused: store full)", errors);
	printf("\n");
	free(t);
	free(j);
}

int
main(int argc, char **argv)
{
	int ch, threads = 8, n = 200000, port = 0;
	struct tg_redis_conf rc;
	const char *why;
	char addr[64];

	while ((ch = getopt(argc, argv, "n:r:t:")) != -1)
		switch (ch) {
		case 'n': n = atoi(optarg); break;
		case 'r': port = atoi(optarg); break;
		case 't': threads = atoi(optarg); break;
		default: return 2;
		}
	for (int t = 1; t <= threads; t *= 4) {
		run("memory, distinct keys", tg_store_memory(), t, n,
		    KEYS_DISTINCT);
		run("memory, one hot key", tg_store_memory(), t, n, KEYS_HOT);
	}
	/* A store of 100,000 keys, filled first, then only new keys. */
	tg_store_mem_clear(tg_store_memory());
	tg_store_mem_set_max_keys(tg_store_memory(), 100000);
	run("memory, full, fill", tg_store_memory(), 1, 100000, KEYS_NEW);
	for (int t = 1; t <= threads; t *= 4)
		run("memory, full, new keys", tg_store_memory(), t, n,
		    KEYS_NEW);
	if (port == 0)
		return 0;
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	memset(&rc, 0, sizeof rc);
	rc.address = addr;
	rc.timeout_ms = 1000;
	rc.connections = 8;
	if (tg_store_redis(&rc, &why) == NULL) {
		fprintf(stderr, "%s\n", why);
		return 1;
	}
	for (int t = 1; t <= threads; t *= 4)
		run("redis loopback, distinct", tg_store_redis(&rc, &why), t,
		    n / 20, KEYS_DISTINCT);
	return 0;
}
