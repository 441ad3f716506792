/* tg_store.h - counter stores for rate limits: in-process (store_mem.c)
 * or Redis (store_redis.c), behind one vtable. Stores live as long as the
 * process, so a policy reload keeps every counter. Owns: its counters.
 * Threads: every operation is thread-safe. */
#ifndef TG_STORE_H
#define TG_STORE_H

#include <stdint.h>

#define TG_ERR_FULL	(-16)	/* store holds max keys */

/* A counter is either a sliding window or a gauge. A window of w ms is
 * kept as TG_STORE_SLOTS + 1 slots of w / TG_STORE_SLOTS ms; its value is
 * the sum of the slots that overlap the last w ms, so an event counts for
 * at least w and at most w + w / TG_STORE_SLOTS: no period of length w
 * ever holds more than the maximum (no burst at window edges). A gauge
 * (window_ms 0) has no window: additions stay until released. */
#define TG_STORE_SLOTS	10

struct tg_store;

struct tg_store_ops {
	const char	*name;
	/* Add delta to key when value + delta <= max (max < 0: always).
	 * *value is the value after, or the one that did not leave room;
	 * *slot says where delta went, for release. Returns 1 added, 0 not
	 * (no room), or TG_ERR_RETRY / TG_ERR_FULL. */
	int	(*add)(struct tg_store *, const char *key, int64_t window_ms,
		    int64_t delta, int64_t max, int64_t *value, int64_t *slot);
	/* The current value; TG_OK or an error. */
	int	(*get)(struct tg_store *, const char *key, int64_t window_ms,
		    int64_t *value);
	/* Take back delta added to slot, if that slot still counts. */
	int	(*release)(struct tg_store *, const char *key,
		    int64_t window_ms, int64_t delta, int64_t slot);
	/* Forget key. */
	int	(*reset)(struct tg_store *, const char *key);
	void	(*free)(struct tg_store *);
};

struct tg_store {
	const struct tg_store_ops *ops;
	char		*spec;		/* registry key */
	struct tg_store	*next;		/* registry list */
};

/* Where the memory store reads the time, in ms; tests install a fake. */
typedef int64_t (*tg_clock_fn)(void *arg);
int64_t	tg_clock_now_ms(void *arg);	/* CLOCK_MONOTONIC */

/* Redis settings, as written in a store redis { } statement. */
struct tg_redis_conf {
	char	*address;	/* host:port, [v6]:port, unix:/path */
	char	*user;		/* ACL user, NULL: none */
	char	*password;	/* NULL: no AUTH */
	int	 database;
	char	*prefix;	/* key prefix */
	int	 timeout_ms;	/* per call */
	int	 connections;	/* pool size */
};

/* The process-wide stores. tg_store_memory() is created on first use;
 * tg_store_redis() returns the store with these settings, creating it on
 * first use (it connects lazily). Never freed before tg_store_shutdown().
 * NULL with *why set when the build has no Redis support. */
struct tg_store	*tg_store_memory(void);
struct tg_store	*tg_store_redis(const struct tg_redis_conf *,
		    const char **why);
void		 tg_store_shutdown(void);
int		 tg_store_redis_available(void);

/* Memory store: cap on keys (0: default) and the clock (NULL: real). */
void	tg_store_mem_set_max_keys(struct tg_store *, uint64_t max);
void	tg_store_mem_set_clock(struct tg_store *, tg_clock_fn, void *arg);
/* Keys held now, expired ones not yet reclaimed included. */
uint64_t tg_store_mem_keys(struct tg_store *);
/* Drop every counter (tests). */
void	tg_store_mem_clear(struct tg_store *);

/* Constructors, for store.c. */
struct tg_store	*tg_store_mem_new(void);
struct tg_store	*tg_store_redis_new(const struct tg_redis_conf *);

#endif
