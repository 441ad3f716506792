/* store_mem.c - the in-process counter store: a hash split in shards, each
 * with its own mutex, so sessions counting different keys rarely wait for
 * each other. Keys are hashed with SipHash under a key chosen at start,
 * so a client cannot pick keys that all land in one shard. The store
 * holds at most max-keys counters in all; when full, a new key takes the
 * place of one that counts nothing, else of a little-used one (mem_evict):
 * never a refusal. The same code keeps greylisting's records in a store of
 * their own (tg_store_mem_new_grey(), store_mem_grey.c): a record expires
 * at a time, and when full the one that expires first among the least
 * recently used goes. Owns: every entry. Threads: all functions
 * thread-safe;
 * the clock is set before the store is shared; the cap and the number of
 * keys are atomic, as a published policy sets the cap while sessions
 * count. */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tg.h"
#include "tg_hash.h"
#include "tg_log.h"
#include "tg_metrics.h"
#include "tg_store.h"

#define MEM_SHARDS		64	/* 2^MEM_SHARD_BITS */
#define MEM_SHARD_BITS		6
#define MEM_BUCKETS0		256	/* per shard at start, 2^n */
#define MEM_MAX_KEYS_DEFAULT	1000000
#define MEM_RING		(TG_STORE_SLOTS + 1)
#define MEM_CLOCK_SHIFT_MS	(40LL * 86400 * 1000)	/* > 31 days */
#define MEM_EVICT_LOOK		16	/* entries looked at to evict one */
#define MEM_SWEEP_EVERY_MS	1000	/* whole-shard sweeps when full */
#define MEM_LOG_EVERY_MS	60000	/* eviction log lines */
#define MEM_REC			(-1)	/* window_ms of a record */

struct mem_entry {
	struct mem_entry *next;		/* in its bucket */
	struct mem_entry *newer, *older; /* in its shard's order of use */
	uint64_t	  hash;
	int64_t		  window_ms;	/* 0: gauge; MEM_REC: a record */
	int64_t		  newest;	/* newest slot; record: expires */
	int64_t		  n[MEM_RING];	/* slots; gauge: n[0]; record:
					 * state, since, n */
	char		  key[];
};

struct mem_shard {
	pthread_mutex_t	  lock;
	struct mem_entry **b;
	size_t		  nb;		/* buckets, power of two */
	size_t		  nkeys;
	size_t		  sweep;	/* next bucket to reclaim */
	struct mem_entry *used;		/* most recently used */
	struct mem_entry *unused;	/* least recently used */
	int64_t		  swept_ms;	/* last whole-shard sweep */
};

struct mem_store {
	struct tg_store	  base;		/* first member */
	struct mem_shard  shard[MEM_SHARDS];
	uint8_t		  seed[TG_HASH_KEY_LEN];
	atomic_uint_least64_t max_keys;
	atomic_uint_least64_t nkeys;	/* in all shards */
	atomic_uint_least64_t evicted;	/* counting ones, not yet logged */
	atomic_int_least64_t logged_ms;	/* last eviction log line */
	tg_clock_fn	  clock;
	void		 *clock_arg;
	int		  grey;		/* holds greylisting records */
};

int64_t
tg_clock_now_ms(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* Shifted by more than the longest window: counters restored from a
	 * snapshot soon after boot then still start at positive times, and
	 * slot numbers never go negative. */
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
	    MEM_CLOCK_SHIFT_MS;
}

static uint64_t
mem_hash(const struct mem_store *m, const char *key)
{
	return tg_hash_sip(m->seed, key, strlen(key));
}

static int64_t
mem_slot_ms(int64_t window_ms)
{
	int64_t s = window_ms / TG_STORE_SLOTS;

	return s > 0 ? s : 1;
}

/* mem_roll - bring e forward to slot cur: slots that left the window are
 * zeroed. A gauge has nothing to roll. */
static void
mem_roll(struct mem_entry *e, int64_t cur)
{
	if (e->window_ms <= 0 || cur <= e->newest)
		return;
	if (cur - e->newest >= MEM_RING)
		memset(e->n, 0, sizeof e->n);
	else
		for (int64_t i = e->newest + 1; i <= cur; i++)
			e->n[i % MEM_RING] = 0;
	e->newest = cur;
}

static int64_t
mem_sum(const struct mem_entry *e)
{
	int64_t v = 0;

	for (int i = 0; i < MEM_RING; i++)
		v += e->n[i];
	return v;
}

/* mem_idle - nothing of e counts at now: a window whose slots have all
 * left it or been given back, a gauge at 0, a record past its expiry.
 * Such an entry can go at any time without changing a single answer. */
static int
mem_idle(struct mem_entry *e, int64_t now)
{
	int64_t cur;

	if (e->window_ms == MEM_REC)
		return e->newest <= now;
	if (e->window_ms == 0)
		return mem_sum(e) <= 0;
	cur = now / mem_slot_ms(e->window_ms);
	if (cur - e->newest >= MEM_RING)
		return 1;
	mem_roll(e, cur);
	return mem_sum(e) <= 0;
}

/* mem_use - e was used: first in its shard's order of use */
static void
mem_use(struct mem_shard *sh, struct mem_entry *e)
{
	if (sh->used == e)
		return;
	/* Out of the list (a new entry is in none), then in front. */
	if (e->newer != NULL)
		e->newer->older = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	if (sh->unused == e)
		sh->unused = e->newer;
	e->newer = NULL;
	e->older = sh->used;
	if (sh->used != NULL)
		sh->used->newer = e;
	sh->used = e;
	if (sh->unused == NULL)
		sh->unused = e;
}

/* mem_unlink - free the entry at *pp in its bucket */
static void
mem_unlink(struct mem_store *m, struct mem_shard *sh, struct mem_entry **pp)
{
	struct mem_entry *e = *pp;

	*pp = e->next;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		sh->used = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		sh->unused = e->newer;
	free(e);
	sh->nkeys--;
	atomic_fetch_sub_explicit(&m->nkeys, 1, memory_order_relaxed);
}

/* mem_drop - free e, found by its address */
static void
mem_drop(struct mem_store *m, struct mem_shard *sh, struct mem_entry *e)
{
	struct mem_entry **pp = &sh->b[e->hash & (sh->nb - 1)];

	while (*pp != e)
		pp = &(*pp)->next;
	mem_unlink(m, sh, pp);
}

/* mem_sweep_bucket - free the idle entries of one bucket; how many */
static size_t
mem_sweep_bucket(struct mem_store *m, struct mem_shard *sh, size_t i,
    int64_t now)
{
	struct mem_entry **pp = &sh->b[i];
	size_t n = 0;

	while (*pp != NULL) {
		if (mem_idle(*pp, now)) {
			mem_unlink(m, sh, pp);
			n++;
		} else
			pp = &(*pp)->next;
	}
	return n;
}

static void
mem_grow(struct mem_shard *sh)
{
	size_t nb = sh->nb * 2;
	struct mem_entry **b = tg_xcalloc(nb, sizeof *b), *e, *next;

	for (size_t i = 0; i < sh->nb; i++)
		for (e = sh->b[i]; e != NULL; e = next) {
			next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	free(sh->b);
	sh->b = b;
	sh->nb = nb;
	sh->sweep = 0;
}

/* mem_evict - make room in a locked shard of a full store: free an idle
 * entry among the MEM_EVICT_LOOK least recently used; else (at most once
 * a second) every idle entry of the shard; else, when live is set, the one
 * with the smallest count among those least recently used (the older of
 * equals). Small counts go first: an evicted key counts again from zero,
 * which matters for a key near its limit, not for one of the single
 * events a flood of new keys brings. For records the smallest is the one
 * that expires first: a first attempt (kept for the retry window) before
 * a triplet that passed (kept for weeks), the oldest first attempt first.
 * Returns 1 when a counter that still counted was evicted, 0 when only
 * idle ones went, -1 when none could. */
static int
mem_evict(struct mem_store *m, struct mem_shard *sh, int64_t now, int live)
{
	struct mem_entry *e = sh->unused, *victim = NULL;
	int64_t least = 0, v;
	size_t freed = 0;

	for (int k = 0; e != NULL && k < MEM_EVICT_LOOK; k++) {
		if (mem_idle(e, now)) {
			mem_drop(m, sh, e);
			return 0;
		}
		v = e->window_ms == MEM_REC ? e->newest : mem_sum(e);
		if (victim == NULL || v < least) {
			victim = e;
			least = v;
		}
		e = e->newer;
	}
	if (now - sh->swept_ms >= MEM_SWEEP_EVERY_MS) {
		sh->swept_ms = now;
		for (size_t i = 0; i < sh->nb; i++)
			freed += mem_sweep_bucket(m, sh, i, now);
		if (freed > 0)
			return 0;
	}
	if (!live || victim == NULL)
		return -1;
	mem_drop(m, sh, victim);
	return 1;
}

enum mem_how {
	MEM_LOOKUP,		/* find only */
	MEM_CREATE,		/* find or create; evict when full */
	MEM_CREATE_IDLE,	/* find or create; evict idle ones only */
};

/* mem_find - the entry for key in a locked shard, which becomes the most
 * recently used; how says whether to create it. NULL: not found, or (for
 * MEM_CREATE_IDLE) the store is full. *evicted is set when a counter that
 * still counted made room. Every call also sweeps one bucket, so idle
 * keys go away without a thread of their own. */
static struct mem_entry *
mem_find(struct mem_store *m, struct mem_shard *sh, const char *key,
    uint64_t h, int64_t window_ms, int64_t now, enum mem_how how,
    int *evicted)
{
	struct mem_entry *e;
	size_t len;

	(void)mem_sweep_bucket(m, sh, sh->sweep, now);
	sh->sweep = (sh->sweep + 1) & (sh->nb - 1);
	for (e = sh->b[h & (sh->nb - 1)]; e != NULL; e = e->next)
		if (e->hash == h && strcmp(e->key, key) == 0) {
			mem_use(sh, e);
			return e;
		}
	if (how == MEM_LOOKUP)
		return NULL;
	/* The cap is the whole store's, so no shard is full before the
	 * others are. A shard with nothing to evict takes the key anyway:
	 * the store overshoots by a few keys at most (one per shard, and
	 * one per other thread inserting at the same moment). */
	if (atomic_load_explicit(&m->nkeys, memory_order_relaxed) >=
	    atomic_load_explicit(&m->max_keys, memory_order_relaxed)) {
		switch (mem_evict(m, sh, now, how == MEM_CREATE)) {
		case 1:
			*evicted = 1;
			break;
		case -1:
			if (how == MEM_CREATE_IDLE || sh->nkeys > 0)
				return NULL;
			break;
		}
	}
	if (sh->nkeys >= 2 * sh->nb)
		mem_grow(sh);
	len = strlen(key);
	e = tg_xcalloc(1, sizeof *e + len + 1);
	memcpy(e->key, key, len + 1);
	e->hash = h;
	e->window_ms = window_ms;
	e->newest = window_ms > 0 ? now / mem_slot_ms(window_ms) : 0;
	e->next = sh->b[h & (sh->nb - 1)];
	sh->b[h & (sh->nb - 1)] = e;
	mem_use(sh, e);
	sh->nkeys++;
	atomic_fetch_add_explicit(&m->nkeys, 1, memory_order_relaxed);
	return e;
}

static struct mem_shard *
mem_shard(struct mem_store *m, uint64_t h)
{
	/* The high bits pick the shard, the low bits the bucket. */
	return &m->shard[h >> (64 - MEM_SHARD_BITS)];
}

/* mem_evicted - a counter that still counted was evicted (no shard lock
 * held): count it, and log at most once a minute how many went. Eviction
 * is a fail-open on that key, so the operator must hear of it. */
static void
mem_evicted(struct mem_store *m, int64_t now)
{
	int64_t last = atomic_load(&m->logged_ms);
	uint64_t n;

	tg_metrics_error(m->grey ? TG_M_GREY_EVICTION : TG_M_STORE_EVICTION);
	atomic_fetch_add(&m->evicted, 1);
	if (now - last < MEM_LOG_EVERY_MS ||
	    !atomic_compare_exchange_strong(&m->logged_ms, &last, now))
		return;
	n = atomic_exchange(&m->evicted, 0);
	if (m->grey)
		tg_log_err("greylist memory store full (greylist-max-keys "
		    "%llu): %llu record(s) not yet expired evicted to make "
		    "room for new ones since the last report (first attempts "
		    "first); their mail is greylisted again; raise store "
		    "memory { greylist-max-keys }",
		    (unsigned long long)atomic_load(&m->max_keys),
		    (unsigned long long)n);
	else
		tg_log_err("memory store full (max-keys %llu): %llu counter(s) "
		    "still counting evicted to make room for new keys since "
		    "the last report; those keys count again from zero; "
		    "raise store memory { max-keys }",
		    (unsigned long long)atomic_load(&m->max_keys),
		    (unsigned long long)n);
}

static int
mem_add(struct tg_store *st, const char *key, int64_t window_ms,
    int64_t delta, int64_t max, int64_t *value, int64_t *slot)
{
	struct mem_store *m = (struct mem_store *)st;
	uint64_t h = mem_hash(m, key);
	struct mem_shard *sh = mem_shard(m, h);
	int64_t now = m->clock(m->clock_arg), cur, v;
	struct mem_entry *e;
	int rc = 1, evicted = 0;

	cur = window_ms != 0 ? now / mem_slot_ms(window_ms) : 0;
	pthread_mutex_lock(&sh->lock);
	if ((e = mem_find(m, sh, key, h, window_ms, now, MEM_CREATE,
	    &evicted)) == NULL) {
		/* Not with MEM_CREATE (a shard that has keys can evict
		 * one); a store failure all the same, should that change. */
		pthread_mutex_unlock(&sh->lock);
		return TG_ERR_FULL;
	}
	if (e->window_ms != window_ms) {
		/* Same key, other window (a reload changed it): restart. */
		memset(e->n, 0, sizeof e->n);
		e->window_ms = window_ms;
		e->newest = cur;
	}
	mem_roll(e, cur);
	v = mem_sum(e);
	if (max >= 0 && v + delta > max)
		rc = 0;
	else {
		e->n[cur % MEM_RING] += delta;
		v += delta;
	}
	*value = v;
	*slot = cur;
	pthread_mutex_unlock(&sh->lock);
	if (evicted)
		mem_evicted(m, now);
	return rc;
}

static int
mem_get(struct tg_store *st, const char *key, int64_t window_ms,
    int64_t *value)
{
	struct mem_store *m = (struct mem_store *)st;
	uint64_t h = mem_hash(m, key);
	struct mem_shard *sh = mem_shard(m, h);
	int64_t now = m->clock(m->clock_arg);
	struct mem_entry *e;

	*value = 0;
	pthread_mutex_lock(&sh->lock);
	e = mem_find(m, sh, key, h, window_ms, now, MEM_LOOKUP, NULL);
	if (e != NULL && e->window_ms == window_ms) {
		if (window_ms != 0)
			mem_roll(e, now / mem_slot_ms(window_ms));
		*value = mem_sum(e);
	}
	pthread_mutex_unlock(&sh->lock);
	return TG_OK;
}

/* mem_remove - unlink key from a locked shard if present */
static void
mem_remove(struct mem_store *m, struct mem_shard *sh, const char *key,
    uint64_t h)
{
	struct mem_entry **pp;

	for (pp = &sh->b[h & (sh->nb - 1)]; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->hash == h && strcmp((*pp)->key, key) == 0) {
			mem_unlink(m, sh, pp);
			return;
		}
}

static int
mem_release(struct tg_store *st, const char *key, int64_t window_ms,
    int64_t delta, int64_t slot)
{
	struct mem_store *m = (struct mem_store *)st;
	uint64_t h = mem_hash(m, key);
	struct mem_shard *sh = mem_shard(m, h);
	int64_t now = m->clock(m->clock_arg), *n;
	struct mem_entry *e;

	pthread_mutex_lock(&sh->lock);
	e = mem_find(m, sh, key, h, window_ms, now, MEM_LOOKUP, NULL);
	if (e == NULL || e->window_ms != window_ms)
		goto out;
	if (window_ms != 0) {
		mem_roll(e, now / mem_slot_ms(window_ms));
		/* A slot that left the window no longer counts anyway. */
		if (slot > e->newest || e->newest - slot >= MEM_RING)
			goto out;
	} else
		slot = 0;
	n = &e->n[slot % MEM_RING];
	*n = *n > delta ? *n - delta : 0;
	/* Back to nothing (a recipient of an aborted message, a session
	 * that ended): the key goes now, not when its window has passed,
	 * so transactions that count nothing fill nothing. */
	if (mem_sum(e) == 0)
		mem_remove(m, sh, key, h);
out:
	pthread_mutex_unlock(&sh->lock);
	return TG_OK;
}

static int
mem_reset(struct tg_store *st, const char *key)
{
	struct mem_store *m = (struct mem_store *)st;
	uint64_t h = mem_hash(m, key);
	struct mem_shard *sh = mem_shard(m, h);

	pthread_mutex_lock(&sh->lock);
	mem_remove(m, sh, key, h);
	pthread_mutex_unlock(&sh->lock);
	return TG_OK;
}

void
tg_store_mem_clear(struct tg_store *st)
{
	struct mem_store *m = (struct mem_store *)st;

	for (int s = 0; s < MEM_SHARDS; s++) {
		struct mem_shard *sh = &m->shard[s];

		pthread_mutex_lock(&sh->lock);
		for (size_t i = 0; i < sh->nb; i++)
			while (sh->b[i] != NULL)
				mem_unlink(m, sh, &sh->b[i]);
		sh->swept_ms = 0;
		pthread_mutex_unlock(&sh->lock);
	}
	atomic_store(&m->evicted, 0);
	atomic_store(&m->logged_ms, INT64_MIN / 2);
}

static void
mem_free(struct tg_store *st)
{
	struct mem_store *m = (struct mem_store *)st;

	tg_store_mem_clear(st);
	for (int s = 0; s < MEM_SHARDS; s++) {
		pthread_mutex_destroy(&m->shard[s].lock);
		free(m->shard[s].b);
	}
	free(m->base.spec);
	free(m);
}

uint64_t
tg_store_mem_keys(struct tg_store *st)
{
	struct mem_store *m = (struct mem_store *)st;
	uint64_t n = 0;

	for (int s = 0; s < MEM_SHARDS; s++) {
		pthread_mutex_lock(&m->shard[s].lock);
		n += m->shard[s].nkeys;
		pthread_mutex_unlock(&m->shard[s].lock);
	}
	return n;
}

uint64_t
tg_store_mem_max_keys(struct tg_store *st)
{
	return atomic_load(&((struct mem_store *)st)->max_keys);
}

void
tg_store_mem_set_max_keys(struct tg_store *st, uint64_t max)
{
	struct mem_store *m = (struct mem_store *)st;

	atomic_store(&m->max_keys, max != 0 ? max : MEM_MAX_KEYS_DEFAULT);
}

void
tg_store_mem_set_clock(struct tg_store *st, tg_clock_fn fn, void *arg)
{
	struct mem_store *m = (struct mem_store *)st;

	m->clock = fn != NULL ? fn : tg_clock_now_ms;
	m->clock_arg = arg;
}

int64_t
tg_store_mem_now(struct tg_store *st)
{
	struct mem_store *m = (struct mem_store *)st;

	return m->clock(m->clock_arg);
}

/* mem_copy_shard - the live windowed counters of a locked shard, copied
 * into *d (keys allocated with them); their number */
static size_t
mem_copy_shard(struct mem_shard *sh, int64_t now,
    struct tg_store_mem_dump **d)
{
	struct mem_entry *e;
	size_t n = 0;

	*d = sh->nkeys > 0 ? tg_xcalloc(sh->nkeys, sizeof **d) : NULL;
	for (size_t i = 0; i < sh->nb; i++)
		for (e = sh->b[i]; e != NULL; e = e->next) {
			struct tg_store_mem_dump *x = &(*d)[n];
			int64_t ms = mem_slot_ms(e->window_ms);

			if (e->window_ms <= 0 || mem_idle(e, now))
				continue;
			x->key = tg_xstrdup(e->key);
			x->window_ms = e->window_ms;
			x->start_ms = e->newest * ms;
			for (int k = 0; k < MEM_RING; k++)
				x->n[k] = e->n[(e->newest - k) % MEM_RING];
			n++;
		}
	return n;
}

int
tg_store_mem_each(struct tg_store *st,
    int (*fn)(const struct tg_store_mem_dump *, void *), void *arg)
{
	struct mem_store *m = (struct mem_store *)st;
	struct tg_store_mem_dump *d;
	int rc = TG_OK;
	size_t n;

	for (int s = 0; s < MEM_SHARDS; s++) {
		pthread_mutex_lock(&m->shard[s].lock);
		n = mem_copy_shard(&m->shard[s], m->clock(m->clock_arg), &d);
		pthread_mutex_unlock(&m->shard[s].lock);
		for (size_t i = 0; i < n; i++) {
			if (rc == TG_OK)
				rc = fn(&d[i], arg) < 0 ? -1 : TG_OK;
			free((char *)d[i].key);
		}
		free(d);
		if (rc != TG_OK)
			return rc;
	}
	return TG_OK;
}

int
tg_store_mem_restore(struct tg_store *st, const char *key, int64_t window_ms,
    int64_t start_ms, int64_t count)
{
	struct mem_store *m = (struct mem_store *)st;
	uint64_t h = mem_hash(m, key);
	struct mem_shard *sh = mem_shard(m, h);
	int64_t now = m->clock(m->clock_arg), ms, cur, slot;
	struct mem_entry *e;

	if (window_ms <= 0 || count <= 0 || start_ms < 0)
		return 0;
	ms = mem_slot_ms(window_ms);
	cur = now / ms;
	/* The slot holding the old slot's last ms: its events then count at
	 * least a whole window, at the price of one slot more at most. */
	slot = (start_ms + ms - 1) / ms;
	if (slot > cur)
		slot = cur;
	if (cur - slot >= MEM_RING)
		return 0;
	pthread_mutex_lock(&sh->lock);
	/* Restoring never evicts a counter: what a snapshot holds beyond the
	 * cap is not restored (and the loader logs how many). */
	if ((e = mem_find(m, sh, key, h, window_ms, now, MEM_CREATE_IDLE,
	    NULL)) == NULL) {
		pthread_mutex_unlock(&sh->lock);
		return TG_ERR_FULL;
	}
	if (e->window_ms != window_ms) {
		memset(e->n, 0, sizeof e->n);
		e->window_ms = window_ms;
		e->newest = cur;
	}
	mem_roll(e, cur);
	e->n[slot % MEM_RING] += count;
	pthread_mutex_unlock(&sh->lock);
	return 1;
}

static const struct tg_store_ops mem_ops = {
	"memory", mem_add, mem_get, mem_release, mem_reset, mem_free,
};

/* mem_rec_get - a record entry's fields */
static void
mem_rec_get(const struct mem_entry *e, struct tg_store_rec *r)
{
	r->expires = e->newest;
	r->state = e->n[0];
	r->since = e->n[1];
	r->n = e->n[2];
}

int
tg_store_mem_rec(struct tg_store *st, const char *key, int create,
    int (*fn)(struct tg_store_rec *, int64_t now, void *), void *arg)
{
	struct mem_store *m = (struct mem_store *)st;
	uint64_t h = mem_hash(m, key);
	struct mem_shard *sh = mem_shard(m, h);
	int64_t now = m->clock(m->clock_arg);
	struct tg_store_rec r;
	struct mem_entry *e;
	int evicted = 0, rc;

	pthread_mutex_lock(&sh->lock);
	if ((e = mem_find(m, sh, key, h, MEM_REC, now, create == 2 ?
	    MEM_CREATE_IDLE : create ? MEM_CREATE : MEM_LOOKUP,
	    &evicted)) == NULL) {
		pthread_mutex_unlock(&sh->lock);
		return create ? TG_ERR_FULL : 0;
	}
	if (e->window_ms != MEM_REC || mem_idle(e, now)) {
		/* New, past its expiry, or a counter's key: a new record. */
		if (!create) {
			pthread_mutex_unlock(&sh->lock);
			return 0;
		}
		memset(e->n, 0, sizeof e->n);
		e->window_ms = MEM_REC;
		e->newest = 0;
	}
	mem_rec_get(e, &r);
	if ((rc = fn(&r, now, arg)) > 0) {
		e->newest = r.expires;
		e->n[0] = r.state;
		e->n[1] = r.since;
		e->n[2] = r.n;
	} else
		mem_remove(m, sh, key, h);
	pthread_mutex_unlock(&sh->lock);
	if (evicted)
		mem_evicted(m, now);
	return rc;
}

int
tg_store_mem_each_rec(struct tg_store *st, const char *prefix,
    int (*fn)(const struct tg_store_mem_rec_dump *, void *), void *arg)
{
	struct mem_store *m = (struct mem_store *)st;
	struct tg_store_mem_rec_dump *d;
	size_t plen = prefix != NULL ? strlen(prefix) : 0, n;
	struct mem_entry *e;
	int rc = TG_OK;
	int64_t now;

	for (int s = 0; s < MEM_SHARDS && rc == TG_OK; s++) {
		struct mem_shard *sh = &m->shard[s];

		/* Copied under the lock, fn called without it (it may log,
		 * write a file or call the store). */
		pthread_mutex_lock(&sh->lock);
		now = m->clock(m->clock_arg);
		d = sh->nkeys > 0 ? tg_xcalloc(sh->nkeys, sizeof *d) : NULL;
		n = 0;
		for (size_t i = 0; i < sh->nb; i++)
			for (e = sh->b[i]; e != NULL; e = e->next) {
				if (e->window_ms != MEM_REC ||
				    mem_idle(e, now) || (plen > 0 &&
				    strncmp(e->key, prefix, plen) != 0))
					continue;
				d[n].key = tg_xstrdup(e->key);
				mem_rec_get(e, &d[n].rec);
				n++;
			}
		pthread_mutex_unlock(&sh->lock);
		for (size_t i = 0; i < n; i++) {
			if (rc == TG_OK)
				rc = fn(&d[i], arg) < 0 ? -1 : TG_OK;
			free((char *)d[i].key);
		}
		free(d);
	}
	return rc;
}

struct tg_store *
tg_store_mem_new_grey(void)
{
	struct tg_store *st = tg_store_mem_new();
	struct mem_store *m = (struct mem_store *)st;

	m->grey = 1;
	m->base.grey = &tg_store_mem_grey_ops;
	free(m->base.spec);
	m->base.spec = tg_xstrdup("memory-greylist");
	return st;
}

struct tg_store *
tg_store_mem_new(void)
{
	struct mem_store *m = tg_xcalloc(1, sizeof *m);

	m->base.ops = &mem_ops;
	m->base.spec = tg_xstrdup("memory");
	tg_hash_key_new(m->seed);
	atomic_init(&m->max_keys, MEM_MAX_KEYS_DEFAULT);
	atomic_init(&m->nkeys, 0);
	atomic_init(&m->evicted, 0);
	atomic_init(&m->logged_ms, INT64_MIN / 2);
	m->clock = tg_clock_now_ms;
	for (int s = 0; s < MEM_SHARDS; s++) {
		pthread_mutex_init(&m->shard[s].lock, NULL);
		m->shard[s].nb = MEM_BUCKETS0;
		m->shard[s].b = tg_xcalloc(MEM_BUCKETS0, sizeof
		    *m->shard[s].b);
	}
	return &m->base;
}
