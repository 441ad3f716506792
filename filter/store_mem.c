/* store_mem.c - the in-process counter store: a hash split in shards, each
 * with its own mutex, so sessions counting different keys rarely wait for
 * each other. Owns: every entry. Threads: all functions thread-safe; the
 * clock is set before the store is shared; the key cap is atomic, as a
 * published policy sets it while sessions count. */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tg.h"
#include "tg_store.h"

#define MEM_SHARDS		64	/* power of two */
#define MEM_BUCKETS0		256	/* per shard at start, 2^n */
#define MEM_MAX_KEYS_DEFAULT	1000000
#define MEM_RING		(TG_STORE_SLOTS + 1)
#define MEM_CLOCK_SHIFT_MS	(40LL * 86400 * 1000)	/* > 31 days */

struct mem_entry {
	struct mem_entry *next;
	uint32_t	  hash;
	int64_t		  window_ms;	/* 0: gauge */
	int64_t		  newest;	/* newest slot */
	int64_t		  n[MEM_RING];	/* slots; gauge: n[0] */
	char		  key[];
};

struct mem_shard {
	pthread_mutex_t	  lock;
	struct mem_entry **b;
	size_t		  nb;		/* buckets, power of two */
	size_t		  nkeys;
	size_t		  sweep;	/* next bucket to reclaim */
};

struct mem_store {
	struct tg_store	  base;		/* first member */
	struct mem_shard  shard[MEM_SHARDS];
	atomic_uint_least64_t max_keys;
	tg_clock_fn	  clock;
	void		 *clock_arg;
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

static uint32_t
mem_hash(const char *s)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
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
	if (e->window_ms == 0 || cur <= e->newest)
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

/* mem_dead - nothing of e counts any more at now */
static int
mem_dead(const struct mem_entry *e, int64_t now)
{
	if (e->window_ms == 0)
		return mem_sum(e) <= 0;
	return now / mem_slot_ms(e->window_ms) - e->newest >= MEM_RING;
}

static void
mem_unlink(struct mem_shard *sh, struct mem_entry **pp)
{
	struct mem_entry *e = *pp;

	*pp = e->next;
	free(e);
	sh->nkeys--;
}

/* mem_sweep_bucket - reclaim the expired entries of one bucket */
static void
mem_sweep_bucket(struct mem_shard *sh, size_t i, int64_t now)
{
	struct mem_entry **pp = &sh->b[i];

	while (*pp != NULL) {
		if (mem_dead(*pp, now))
			mem_unlink(sh, pp);
		else
			pp = &(*pp)->next;
	}
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

/* mem_find - the entry for key in a locked shard. create: make it when
 * missing; NULL then means the shard is full. Every call also reclaims
 * one bucket, so expired keys go away without a thread of their own. */
static struct mem_entry *
mem_find(struct mem_store *m, struct mem_shard *sh, const char *key,
    uint32_t h, int64_t window_ms, int64_t now, int create)
{
	struct mem_entry *e;
	uint64_t cap;
	size_t len;

	mem_sweep_bucket(sh, sh->sweep, now);
	sh->sweep = (sh->sweep + 1) & (sh->nb - 1);
	for (e = sh->b[h & (sh->nb - 1)]; e != NULL; e = e->next)
		if (e->hash == h && strcmp(e->key, key) == 0)
			return e;
	if (!create)
		return NULL;
	cap = atomic_load(&m->max_keys) / MEM_SHARDS;
	if (cap == 0)
		cap = 1;
	if (sh->nkeys >= cap) {
		/* Full: reclaim the whole shard before refusing. */
		for (size_t i = 0; i < sh->nb; i++)
			mem_sweep_bucket(sh, i, now);
		if (sh->nkeys >= cap)
			return NULL;
	}
	if (sh->nkeys >= 2 * sh->nb)
		mem_grow(sh);
	len = strlen(key);
	e = tg_xcalloc(1, sizeof *e + len + 1);
	memcpy(e->key, key, len + 1);
	e->hash = h;
	e->window_ms = window_ms;
	e->newest = window_ms != 0 ? now / mem_slot_ms(window_ms) : 0;
	e->next = sh->b[h & (sh->nb - 1)];
	sh->b[h & (sh->nb - 1)] = e;
	sh->nkeys++;
	return e;
}

static struct mem_shard *
mem_shard(struct mem_store *m, uint32_t h)
{
	/* The high bits pick the shard, the low bits the bucket. */
	return &m->shard[(h >> 26) & (MEM_SHARDS - 1)];
}

static int
mem_add(struct tg_store *st, const char *key, int64_t window_ms,
    int64_t delta, int64_t max, int64_t *value, int64_t *slot)
{
	struct mem_store *m = (struct mem_store *)st;
	uint32_t h = mem_hash(key);
	struct mem_shard *sh = mem_shard(m, h);
	int64_t now = m->clock(m->clock_arg), cur, v;
	struct mem_entry *e;
	int rc = 1;

	cur = window_ms != 0 ? now / mem_slot_ms(window_ms) : 0;
	pthread_mutex_lock(&sh->lock);
	if ((e = mem_find(m, sh, key, h, window_ms, now, 1)) == NULL) {
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
	return rc;
}

static int
mem_get(struct tg_store *st, const char *key, int64_t window_ms,
    int64_t *value)
{
	struct mem_store *m = (struct mem_store *)st;
	uint32_t h = mem_hash(key);
	struct mem_shard *sh = mem_shard(m, h);
	int64_t now = m->clock(m->clock_arg);
	struct mem_entry *e;

	*value = 0;
	pthread_mutex_lock(&sh->lock);
	e = mem_find(m, sh, key, h, window_ms, now, 0);
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
mem_remove(struct mem_shard *sh, const char *key, uint32_t h)
{
	struct mem_entry **pp;

	for (pp = &sh->b[h & (sh->nb - 1)]; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->hash == h && strcmp((*pp)->key, key) == 0) {
			mem_unlink(sh, pp);
			return;
		}
}

static int
mem_release(struct tg_store *st, const char *key, int64_t window_ms,
    int64_t delta, int64_t slot)
{
	struct mem_store *m = (struct mem_store *)st;
	uint32_t h = mem_hash(key);
	struct mem_shard *sh = mem_shard(m, h);
	int64_t now = m->clock(m->clock_arg), *n;
	struct mem_entry *e;

	pthread_mutex_lock(&sh->lock);
	e = mem_find(m, sh, key, h, window_ms, now, 0);
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
	if (window_ms == 0 && mem_sum(e) == 0)
		mem_remove(sh, key, h);
out:
	pthread_mutex_unlock(&sh->lock);
	return TG_OK;
}

static int
mem_reset(struct tg_store *st, const char *key)
{
	struct mem_store *m = (struct mem_store *)st;
	uint32_t h = mem_hash(key);
	struct mem_shard *sh = mem_shard(m, h);

	pthread_mutex_lock(&sh->lock);
	mem_remove(sh, key, h);
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
				mem_unlink(sh, &sh->b[i]);
		pthread_mutex_unlock(&sh->lock);
	}
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

			if (e->window_ms == 0 || mem_dead(e, now))
				continue;
			mem_roll(e, now / ms);
			if (mem_sum(e) <= 0)
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
	uint32_t h = mem_hash(key);
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
	if ((e = mem_find(m, sh, key, h, window_ms, now, 1)) == NULL) {
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

struct tg_store *
tg_store_mem_new(void)
{
	struct mem_store *m = tg_xcalloc(1, sizeof *m);

	m->base.ops = &mem_ops;
	m->base.spec = tg_xstrdup("memory");
	atomic_init(&m->max_keys, MEM_MAX_KEYS_DEFAULT);
	m->clock = tg_clock_now_ms;
	for (int s = 0; s < MEM_SHARDS; s++) {
		pthread_mutex_init(&m->shard[s].lock, NULL);
		m->shard[s].nb = MEM_BUCKETS0;
		m->shard[s].b = tg_xcalloc(MEM_BUCKETS0, sizeof
		    *m->shard[s].b);
	}
	return &m->base;
}
