/* dns_cache.c - a small answer cache in front of libunbound's.
 * Why a second cache: libunbound in thread mode sends every query to its
 * resolver thread, even one its own cache answers, so a cached answer
 * still costs two thread switches and a pipe round trip each way; this
 * one answers in the calling thread under a shard's lock. It is bounded
 * (DNS_CACHE_SHARDS x DNS_CACHE_SLOTS answers, one per slot: a newer
 * answer replaces whatever hashed there), keeps each answer for its TTL
 * (never an answer of TTL 0; negative ones at most DNS_CACHE_NEG_TTL s)
 * and never keeps failures. Owns: its copies of answers. Threads: any;
 * a mutex per shard. */
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "tg.h"
#include "tg_dns.h"

#define DNS_CACHE_SHARDS	16	/* locks */
#define DNS_CACHE_SLOTS		128	/* answers per shard (~1.2 KiB each) */
#define DNS_CACHE_NEG_TTL	60	/* longest kept NXDOMAIN/NODATA, s */

struct dns_centry {
	struct tg_dns_query	 a;	/* the answer, strings owned */
	time_t			 expires;	/* monotonic seconds */
};

struct dns_shard {
	pthread_mutex_t		 mu;
	struct dns_centry	*slot[DNS_CACHE_SLOTS];
};

struct tg_dns_cache {
	struct dns_shard	 shard[DNS_CACHE_SHARDS];
};

struct tg_dns_cache *
tg_dns_cache_new(void)
{
	struct tg_dns_cache *c = tg_xcalloc(1, sizeof *c);

	for (size_t i = 0; i < DNS_CACHE_SHARDS; i++)
		pthread_mutex_init(&c->shard[i].mu, NULL);
	return c;
}

static void
dns_centry_free(struct dns_centry *e)
{
	if (e != NULL) {
		tg_dns_query_clear(&e->a);
		free(e);
	}
}

void
tg_dns_cache_free(struct tg_dns_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < DNS_CACHE_SHARDS; i++) {
		for (size_t j = 0; j < DNS_CACHE_SLOTS; j++)
			dns_centry_free(c->shard[i].slot[j]);
		pthread_mutex_destroy(&c->shard[i].mu);
	}
	free(c);
}

static time_t
dns_cache_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* dns_cache_slot - the shard and slot of name and type (FNV-1a; names
 * compare without case, as DNS does). */
static struct dns_shard *
dns_cache_slot(struct tg_dns_cache *c, const struct tg_dns_query *q,
    struct dns_centry ***slot)
{
	uint32_t h = 2166136261u ^ (uint32_t)q->type;

	for (const char *p = q->name; *p != '\0'; p++)
		h = (h ^ (unsigned char)tolower((unsigned char)*p)) * 16777619u;
	*slot = &c->shard[h % DNS_CACHE_SHARDS].slot[h / DNS_CACHE_SHARDS %
	    DNS_CACHE_SLOTS];
	return &c->shard[h % DNS_CACHE_SHARDS];
}

/* dns_copy - to gets from's answer; its strings are duplicated. */
static void
dns_copy(struct tg_dns_query *to, const struct tg_dns_query *from)
{
	to->status = from->status;
	to->n = from->n;
	if (from->type == TG_DNS_A || from->type == TG_DNS_AAAA)
		memcpy(to->ip, from->ip, from->n * sizeof to->ip[0]);
	else
		for (size_t i = 0; i < from->n; i++)
			to->str[i] = tg_xstrdup(from->str[i]);
	to->ttl = from->ttl;
}

int
tg_dns_cache_get(struct tg_dns_cache *c, struct tg_dns_query *q)
{
	struct dns_centry **slot, *e;
	struct dns_shard *s = dns_cache_slot(c, q, &slot);
	time_t now = dns_cache_now();
	int hit = 0;

	pthread_mutex_lock(&s->mu);
	if ((e = *slot) != NULL && e->a.type == q->type &&
	    e->expires > now && strcasecmp(e->a.name, q->name) == 0) {
		dns_copy(q, &e->a);
		q->ttl = (unsigned)(e->expires - now);
		hit = 1;
	}
	pthread_mutex_unlock(&s->mu);
	return hit;
}

void
tg_dns_cache_put(struct tg_dns_cache *c, const struct tg_dns_query *q)
{
	struct dns_centry **slot, *e, *old;
	struct dns_shard *s;
	unsigned ttl = q->ttl;

	if (q->status != TG_DNS_OK && q->status != TG_DNS_NXDOMAIN &&
	    q->status != TG_DNS_NODATA)
		return;
	if (q->status != TG_DNS_OK && ttl > DNS_CACHE_NEG_TTL)
		ttl = DNS_CACHE_NEG_TTL;
	if (ttl == 0)
		return;
	/* Copied outside the lock. */
	e = tg_xcalloc(1, sizeof *e);
	memcpy(e->a.name, q->name, sizeof e->a.name);
	e->a.type = q->type;
	dns_copy(&e->a, q);
	e->expires = dns_cache_now() + (time_t)ttl;
	s = dns_cache_slot(c, q, &slot);
	pthread_mutex_lock(&s->mu);
	old = *slot;
	*slot = e;
	pthread_mutex_unlock(&s->mu);
	dns_centry_free(old);
}
