/* store_mem_grey.c - greylisting in the memory store: what a check
 * decides for a triplet (a first attempt, a retry too early, a retry in
 * its window, a triplet that passed before) and for the client's
 * auto-allow entry, each decision made on one record under its shard's
 * lock; and the reads and writes of tollgatectl. store_redis_grey.c makes
 * the same decisions in a Lua script: change both together (check_grey.c
 * runs the same cases on the memory store, tests/grey/run.sh on Redis).
 * Owns: nothing (the store keeps the records). Threads: as the memory
 * store; a check's steps are each atomic, not the check as a whole. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_store.h"

struct grey_step {
	const struct tg_grey_req *req;
	struct tg_grey_out	*out;		/* the triplet being checked */
	int64_t			 passes;	/* triplets that passed now */
	int			 hit;		/* the client is allowed */
};

/* grey_allow_hit - the client's auto-allow entry; a hit renews it, so a
 * client that keeps sending keeps its place */
static int
grey_allow_hit(struct tg_store_rec *r, int64_t now, void *arg)
{
	struct grey_step *c = arg;

	if (r->state == TG_GREY_ALLOWED) {
		r->expires = now + c->req->allow_ms;
		c->hit = 1;
	}
	return 1;
}

/* grey_triplet - one triplet. A retry before the delay does not restart
 * the delay (a sender's MTA that retries often is not punished for it);
 * a first attempt is kept for the retry window only, a triplet that
 * passed for expire after its last use. */
static int
grey_triplet(struct tg_store_rec *r, int64_t now, void *arg)
{
	struct grey_step *c = arg;
	const struct tg_grey_req *q = c->req;
	int64_t age = now - r->since;

	if (r->state == TG_GREY_PASSED) {
		r->expires = now + q->expire_ms;
		c->out->res = TG_GREY_KNOWN;
		c->out->wait_ms = 0;
		return 1;
	}
	if (r->state == TG_GREY_PENDING && age >= 0 && age <= q->window_ms) {
		if (age < q->delay_ms) {
			c->out->res = TG_GREY_EARLY;
			c->out->wait_ms = q->delay_ms - age;
			return 1;
		}
		r->state = TG_GREY_PASSED;
		r->expires = now + q->expire_ms;
		c->out->res = TG_GREY_RETRIED;
		c->out->wait_ms = 0;
		c->passes++;
		return 1;
	}
	/* New, or a first attempt whose window has passed (or whose time is
	 * in the future: a snapshot of a clock set wrong): from now. */
	r->state = TG_GREY_PENDING;
	r->since = now;
	r->n = 0;
	r->expires = now + q->window_ms;
	c->out->res = TG_GREY_NEW;
	c->out->wait_ms = q->delay_ms;
	return 1;
}

/* grey_count - passes of the client towards auto-allow; counted as long
 * as its triplets are kept */
static int
grey_count(struct tg_store_rec *r, int64_t now, void *arg)
{
	struct grey_step *c = arg;
	const struct tg_grey_req *q = c->req;

	if (r->state != TG_GREY_ALLOWED && r->state != TG_GREY_COUNTING) {
		r->state = TG_GREY_COUNTING;
		r->since = now;
		r->n = 0;
	}
	if (r->state == TG_GREY_COUNTING) {
		r->n += c->passes;
		if (r->n >= q->allow_n)
			r->state = TG_GREY_ALLOWED;
	}
	r->expires = now + (r->state == TG_GREY_ALLOWED ? q->allow_ms :
	    q->expire_ms);
	return 1;
}

static int
mg_check(struct tg_store *st, const struct tg_grey_req *req, int *allowed,
    struct tg_grey_out *out)
{
	struct grey_step c = { req, NULL, 0, 0 };

	*allowed = 0;
	if (req->allow_key != NULL) {
		(void)tg_store_mem_rec(st, req->allow_key, 0, grey_allow_hit,
		    &c);
		if (c.hit) {
			*allowed = 1;
			return TG_OK;
		}
	}
	for (size_t i = 0; i < req->nkeys; i++) {
		c.out = &out[i];
		if (tg_store_mem_rec(st, req->keys[i], 1, grey_triplet,
		    &c) < 0)
			return TG_ERR_RETRY;
	}
	if (req->allow_key != NULL && req->allow_n > 0 && c.passes > 0 &&
	    tg_store_mem_rec(st, req->allow_key, 1, grey_count, &c) < 0)
		return TG_ERR_RETRY;
	return TG_OK;
}

static int
grey_copy(struct tg_store_rec *r, int64_t now, void *arg)
{
	(void)now;
	*(struct tg_store_rec *)arg = *r;
	return 1;
}

static int
mg_get(struct tg_store *st, const char *key, struct tg_store_rec *rec,
    int64_t *now)
{
	memset(rec, 0, sizeof *rec);
	*now = tg_store_mem_now(st);
	(void)tg_store_mem_rec(st, key, 0, grey_copy, rec);
	return TG_OK;
}

struct grey_set {
	int64_t	state, ttl_ms;
};

static int
grey_put(struct tg_store_rec *r, int64_t now, void *arg)
{
	const struct grey_set *g = arg;

	if (r->state == TG_GREY_NONE)
		r->since = now;
	r->state = g->state;
	r->expires = now + g->ttl_ms;
	return 1;
}

static int
mg_set(struct tg_store *st, const char *key, int64_t state, int64_t ttl_ms)
{
	struct grey_set g = { state, ttl_ms };

	return tg_store_mem_rec(st, key, 1, grey_put, &g) < 0 ?
	    TG_ERR_RETRY : TG_OK;
}

struct grey_list {
	struct tg_store	*st;
	size_t		 left;
	int		 stopped;
	int		(*fn)(const char *, const struct tg_store_rec *,
			    int64_t, void *);
	void		*arg;
};

static int
grey_list_one(const struct tg_store_mem_rec_dump *d, void *arg)
{
	struct grey_list *l = arg;

	if (l->left == 0 || l->fn(d->key, &d->rec, tg_store_mem_now(l->st),
	    l->arg) < 0) {
		l->stopped = 1;
		return -1;
	}
	l->left--;
	return 0;
}

static int
mg_list(struct tg_store *st, const char *prefix, size_t max,
    int (*fn)(const char *, const struct tg_store_rec *, int64_t, void *),
    void *arg)
{
	struct grey_list l = { st, max, 0, fn, arg };

	if (tg_store_mem_each_rec(st, prefix, grey_list_one, &l) < 0 &&
	    !l.stopped)
		return TG_ERR_RETRY;
	return TG_OK;
}

const struct tg_grey_ops tg_store_mem_grey_ops = {
	mg_check, mg_get, mg_set, mg_list,
};
