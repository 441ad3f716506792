/* store_redis_impl.h - what the Redis store (store_redis.c) shares with
 * its greylisting half (store_redis_grey.c): the store, its connection
 * pool and the script calls; internal to filter/. Threads: as
 * store_redis.c (the pool is guarded by the store's mutex). */
#ifndef STORE_REDIS_IMPL_H
#define STORE_REDIS_IMPL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "tg_store.h"
#include "store_sentinel.h"

/* The Lua scripts every connection loads: counters (store_redis.c) and
 * greylisting (store_redis_grey.c). */
enum { REDIS_SCRIPT_COUNTER, REDIS_SCRIPT_GREY, REDIS_NSCRIPTS };

struct redis_store {
	struct tg_store	 base;		/* first member */
	struct tg_redis_conf conf;	/* own copies */
	char		 host[256];
	int		 port;
	const char	*unixpath;	/* into conf.address, or NULL */
	pthread_mutex_t	 lock;
	pthread_cond_t	 cv;
	redisContext	**idle;
	int		 nidle, nopen;
	int64_t		 down_until;	/* ms: fail fast till then */
	int64_t		 backoff_ms;
	int		 down;		/* logged as down */
	char		 sha[REDIS_NSCRIPTS][64]; /* once loaded */
	/* Sentinel mode (conf.nsentinels > 0): the master the Sentinels
	 * named (sn.host, sn.port), and the thread that listens for
	 * +switch-master (store_redis_sentinel.c). */
	struct tg_sentinel_state sn;
	char		 how[300];	/* who named sn.host, for the log */
	pthread_t	 watcher;
	int		 watching, stop;
};

extern const char tg_redis_grey_script[];
extern const struct tg_grey_ops tg_redis_grey_ops;

/* One round trip: EVALSHA of script with nkeys keys (the store's prefix
 * is put before each) and nargs arguments, EVAL when the server lost the
 * script, once more on a new connection when a pooled one was closed by
 * the server. *rep is the reply (the caller frees it) when it is not an
 * error. TG_OK or TG_ERR_RETRY (logged, and the store backs off). */
int	tg_redis_eval(struct redis_store *, int script, size_t nkeys,
	    const char *const *keys, size_t nargs, const char *const *args,
	    redisReply **rep);
/* A connection of the pool (NULL after at most the timeout), and back:
 * err NULL when it worked, else it is closed and the store backs off. */
redisContext *tg_redis_get_conn(struct redis_store *, int *reused);
void	tg_redis_put_conn(struct redis_store *, redisContext *,
	    const char *err);

/* Sentinel mode (store_redis_sentinel.c). tg_redis_master() copies the
 * master's address into host (TG_REDIS_HOST_MAX) and *port, asking the
 * Sentinels in turn when it is not known (and starting the watcher on
 * first use): 0, or -1 with err set. No lock held. */
int	tg_redis_master(struct redis_store *, char *host, int *port,
	    char *err, size_t errsz);
/* The master failed (connection lost, not a master, READONLY): ask again
 * next time. Lock held. */
void	tg_redis_master_lost(struct redis_store *, const char *why);
/* sn.host:port is the one to connect to (how: who said so): idle
 * connections to another server are closed; moved (a +switch-master to
 * another server) also ends the backoff. Lock held. */
void	tg_redis_master_set(struct redis_store *, int moved, const char *how);
/* A connection to host:port found a master (ROLE): a switch is logged
 * and counted. Lock held. */
void	tg_redis_master_confirm(struct redis_store *, const char *host,
	    int port);
void	tg_redis_watch_stop(struct redis_store *);

#endif
