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

/* Greylisting records, kept by the memory store (a store of their own,
 * tg_store_memory_grey(), so that a flood of new triplets never evicts a
 * rate-limit counter) or by Redis beside the counters. The times are on
 * the store's clock (Redis: the server's). */
enum tg_grey_rec_state {
	TG_GREY_NONE,		/* no such record */
	TG_GREY_PENDING,	/* a first attempt, waiting for its retry */
	TG_GREY_PASSED,		/* retried in its window: passes */
	TG_GREY_COUNTING,	/* auto-allow: passes counted (n) */
	TG_GREY_ALLOWED,	/* auto-allow: the client passes */
};

struct tg_store_rec {
	int64_t	 state;		/* enum tg_grey_rec_state */
	int64_t	 since;		/* ms: the first attempt */
	int64_t	 expires;	/* ms: forgotten from then on */
	int64_t	 n;		/* passes (COUNTING) */
};

/* What a check found for one triplet. */
enum tg_grey_res {
	TG_GREY_NEW,		/* recorded now: deferred for the delay */
	TG_GREY_EARLY,		/* retried before the delay: deferred */
	TG_GREY_RETRIED,	/* retried in its window: passes from now */
	TG_GREY_KNOWN,		/* passed before: passes, expiry renewed */
};

/* One greylisting check: the client's auto-allow entry (allow_key NULL:
 * none), then each triplet, then the passes counted for the client; one
 * round trip for Redis. Times in ms. */
struct tg_grey_req {
	const char	*allow_key;
	const char	*const *keys;
	size_t		 nkeys;
	int64_t		 delay_ms, window_ms, expire_ms;
	int64_t		 allow_n, allow_ms;
};

struct tg_grey_out {
	enum tg_grey_res res;
	int64_t		 wait_ms;	/* NEW, EARLY: left until it passes */
};

struct tg_grey_ops {
	/* *allowed 1 when the client passed on its auto-allow entry (the
	 * triplets are then not looked at); else out[i] per key. TG_OK or
	 * TG_ERR_RETRY. */
	int	(*check)(struct tg_store *, const struct tg_grey_req *,
		    int *allowed, struct tg_grey_out *out);
	/* key's record (state TG_GREY_NONE when there is none) and the
	 * store's time now. TG_OK or TG_ERR_RETRY. */
	int	(*get)(struct tg_store *, const char *key,
		    struct tg_store_rec *, int64_t *now);
	/* Make key's record state (PASSED, ALLOWED) for ttl_ms from now;
	 * its first attempt is now when it is new. */
	int	(*set)(struct tg_store *, const char *key, int64_t state,
		    int64_t ttl_ms);
	/* fn for the records whose key starts with prefix, at most max;
	 * stops when fn returns < 0. TG_OK or TG_ERR_RETRY. */
	int	(*list)(struct tg_store *, const char *prefix, size_t max,
		    int (*fn)(const char *key, const struct tg_store_rec *,
		    int64_t now, void *), void *arg);
};

struct tg_store {
	const struct tg_store_ops *ops;
	const struct tg_grey_ops *grey;	/* NULL: keeps no greylisting */
	char		*spec;		/* registry key */
	struct tg_store	*next;		/* registry list */
};

/* Where the memory store reads the time, in ms; tests install a fake. */
typedef int64_t (*tg_clock_fn)(void *arg);
int64_t	tg_clock_now_ms(void *arg);	/* CLOCK_MONOTONIC */

#define TG_REDIS_SENTINELS_MAX	16

/* Redis settings, as written in a store redis { } statement. */
struct tg_redis_conf {
	char	*address;	/* host:port, [v6]:port, unix:/path */
	char	*user;		/* ACL user, NULL: none */
	char	*password;	/* NULL: no AUTH */
	int	 database;
	char	*prefix;	/* key prefix */
	int	 timeout_ms;	/* per call */
	int	 connections;	/* pool size */
	/* Sentinel mode (address NULL): the master is the one the
	 * Sentinels name master_name; sentinel_password for AUTH to them. */
	char	*sentinels[TG_REDIS_SENTINELS_MAX];	/* host:port */
	int	 nsentinels;
	char	*master_name;
	char	*sentinel_password;
};

/* The process-wide stores. tg_store_memory() is created on first use;
 * tg_store_redis() returns the store with these settings, creating it on
 * first use (it connects lazily). Never freed before tg_store_shutdown().
 * NULL with *why set when the build has no Redis support. */
struct tg_store	*tg_store_memory(void);
/* The memory store of greylisting records (created on first use), and
 * the same without creating it (NULL when no greylist ever used it). */
struct tg_store	*tg_store_memory_grey(void);
struct tg_store	*tg_store_memory_grey_found(void);
struct tg_store	*tg_store_redis(const struct tg_redis_conf *,
		    const char **why);
void		 tg_store_shutdown(void);
/* On (tollgate-test, before loading a policy): tg_store_redis() returns
 * the memory store instead, so that nothing shared is read or counted;
 * private_count says how many times it did. */
void		 tg_store_set_private(int on);
unsigned	 tg_store_private_count(void);
int		 tg_store_redis_available(void);

/* Memory store: cap on keys (0: default) and the clock (NULL: real).
 * The cap of the records store counts records. */
void	tg_store_mem_set_max_keys(struct tg_store *, uint64_t max);
void	tg_store_mem_set_clock(struct tg_store *, tg_clock_fn, void *arg);
/* Keys held now, expired ones not yet reclaimed included. */
uint64_t tg_store_mem_keys(struct tg_store *);
/* The cap now in force. */
uint64_t tg_store_mem_max_keys(struct tg_store *);
/* Drop every counter (tests). */
void	tg_store_mem_clear(struct tg_store *);

/* Snapshots of the memory store (store_snap.c). A counter as a snapshot
 * sees it: n[i] is the count of the slot that started start_ms -
 * i * slot length on the store's clock (i = 0: the newest). Gauges
 * (sessions) are not offered: a restart ends every session. */
struct tg_store_mem_dump {
	const char	*key;
	int64_t		 window_ms;
	int64_t		 start_ms;
	int64_t		 n[TG_STORE_SLOTS + 1];
};
/* The store's clock now, in ms. */
int64_t	tg_store_mem_now(struct tg_store *);
/* Call fn for every live windowed counter, shard by shard: a shard's
 * counters are copied under its lock, fn runs without it. Stops at the
 * first negative return of fn and returns it; else TG_OK. */
int	tg_store_mem_each(struct tg_store *,
	    int (*fn)(const struct tg_store_mem_dump *, void *), void *arg);
/* Add count to key (window window_ms) in the slot holding the end of the
 * slot that started at start_ms on the store's clock, so a restored event
 * never counts for less than the window. 1 added, 0 not (that slot has
 * left the window), or TG_ERR_FULL. */
int	tg_store_mem_restore(struct tg_store *, const char *key,
	    int64_t window_ms, int64_t start_ms, int64_t count);

/* Save the memory store to path atomically (a new temporary file, made
 * with O_EXCL in the same directory, fsync, rename); wall_ms is the
 * wall-clock time now, written with the counters so a later load can
 * tell how old they are. A directory that belongs to someone else than
 * root or the daemon's user, or that group or others may write without
 * the sticky bit, is refused. TG_OK or TG_ERR_IO (logged; path is
 * unchanged then). */
int	tg_store_snap_save(struct tg_store *, const char *path,
	    int64_t wall_ms);
/* Load a snapshot into the memory store: counters whose window has passed
 * by wall_ms are skipped. A missing, empty, truncated, corrupt or
 * foreign file, a symbolic link, a file that is not root's or the
 * daemon's user's or that others may write, or one in a directory that
 * tg_store_snap_save() would refuse, leaves the store empty and logs one
 * line. Returns the
 * number of counters restored (>= 0), or TG_ERR_IO when the file was
 * unusable. */
int	tg_store_snap_load(struct tg_store *, const char *path,
	    int64_t wall_ms);
int64_t	tg_clock_wall_ms(void);		/* CLOCK_REALTIME */
/* The daemon's snapshots, following the published policy's store memory
 * { snapshot "path" snapshot-interval D }: start() loads the file and
 * starts the periodic saver; stop() ends the saver. The last save is the
 * caller's, once no session counts any more (tg_store_snap_save() to
 * the path tg_store_snap_path() gave while the policy was published). */
void	tg_store_snap_start(void);
void	tg_store_snap_stop(void);
/* The published policy's snapshot path (caller frees), or NULL. */
char	*tg_store_snap_path(void);

/* A record of the memory store as a snapshot sees it: times as on the
 * store's clock. */
struct tg_store_mem_rec_dump {
	const char		*key;
	struct tg_store_rec	 rec;
};
/* Call fn for every live record, as tg_store_mem_each() does for
 * counters; prefix (NULL: all) limits it to the keys that start so. */
int	tg_store_mem_each_rec(struct tg_store *, const char *prefix,
	    int (*fn)(const struct tg_store_mem_rec_dump *, void *),
	    void *arg);
/* Update key's record under its shard's lock: fn gets the record (state
 * TG_GREY_NONE when new) and the store's time, and returns 1 to keep it
 * as it left it, 0 to forget it. create 0: fn is not called when there is
 * no record; 2: a new record only takes the place of expired ones (a
 * snapshot being read never evicts). Returns what fn returned, 0 when it was not called, or
 * TG_ERR_FULL when the store could make no room. A record is forgotten
 * by itself once its expiry has passed; when the store is full, the one
 * that expires first among the least recently used goes. */
int	tg_store_mem_rec(struct tg_store *, const char *key, int create,
	    int (*fn)(struct tg_store_rec *, int64_t now, void *), void *arg);

/* Constructors, for store.c. grey: the store of greylisting records
 * (its log lines, cap setting and metrics say so). */
struct tg_store	*tg_store_mem_new(void);
struct tg_store	*tg_store_mem_new_grey(void);
extern const struct tg_grey_ops tg_store_mem_grey_ops;	/* store_mem_grey.c */
struct tg_store	*tg_store_redis_new(const struct tg_redis_conf *);

#endif
