/* dns_cache.c - a small answer cache in front of libunbound's.
 * Why a second cache: libunbound in thread mode sends every query to its
 * resolver thread, even one its own cache answers, so a cached answer
 * still costs two thread switches and a pipe round trip each way; this
 * one answers in the calling thread under a shard's lock. Sized for an
 * MX's sending servers: DNS_CACHE_SHARDS x DNS_CACHE_SETS x
 * DNS_CACHE_WAYS = 16,384 answers, each one allocation of exactly its
 * size (name, then addresses or strings) and at most DNS_CACHE_ENTRY_MAX
 * bytes (larger answers are not kept: libunbound's cache has them), so
 * the cache never holds more than 16,384 x 512 bytes plus 128 KiB of
 * slots; a typical answer (an A record or a PTR name) takes about 100.
 * A set is two slots: a new answer replaces the same name's, else fills
 * an empty or expired slot, else the one that expires first. Each answer
 * is kept for its TTL (never an answer of TTL 0; negative ones at most
 * DNS_CACHE_NEG_TTL s); failures never. Owns: its copies of answers.
 * Threads: any; a mutex per shard. */
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
#define DNS_CACHE_SETS		512	/* sets per shard */
#define DNS_CACHE_WAYS		2	/* answers per set */
#define DNS_CACHE_ENTRY_MAX	1024	/* largest answer kept, bytes: a DKIM
					 * key record of RSA 4096 fits */
#define DNS_CACHE_NEG_TTL	60	/* longest kept NXDOMAIN/NODATA, s */

/* One answer in one allocation: the name with its NUL, then n addresses
 * (struct tg_ip, A and AAAA) or n NUL-terminated strings. */
struct dns_centry {
	time_t			 expires;	/* monotonic seconds */
	uint32_t		 size;		/* of the allocation */
	uint8_t			 type;		/* enum tg_dns_type */
	uint8_t			 status;	/* enum tg_dns_status */
	uint8_t			 n;		/* records */
	char			 data[];	/* name, then records */
};

struct dns_shard {
	pthread_mutex_t		 mu;
	size_t			 count, bytes;	/* for tg_dns_cache_usage */
	struct dns_centry	*slot[DNS_CACHE_SETS][DNS_CACHE_WAYS];
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

void
tg_dns_cache_free(struct tg_dns_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < DNS_CACHE_SHARDS; i++) {
		for (size_t j = 0; j < DNS_CACHE_SETS; j++)
			for (size_t w = 0; w < DNS_CACHE_WAYS; w++)
				free(c->shard[i].slot[j][w]);
		pthread_mutex_destroy(&c->shard[i].mu);
	}
	free(c);
}

void
tg_dns_cache_usage(struct tg_dns_cache *c, size_t *count, size_t *bytes)
{
	*count = *bytes = 0;
	for (size_t i = 0; i < DNS_CACHE_SHARDS; i++) {
		pthread_mutex_lock(&c->shard[i].mu);
		*count += c->shard[i].count;
		*bytes += c->shard[i].bytes;
		pthread_mutex_unlock(&c->shard[i].mu);
	}
}

static time_t
dns_cache_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* dns_cache_set - the shard and set of name and type (FNV-1a; names
 * compare without case, as DNS does). */
static struct dns_shard *
dns_cache_set(struct tg_dns_cache *c, const char *name, int type,
    struct dns_centry ***set)
{
	uint32_t h = 2166136261u ^ (uint32_t)type;
	struct dns_shard *s;

	for (const char *p = name; *p != '\0'; p++)
		h = (h ^ (unsigned char)tolower((unsigned char)*p)) * 16777619u;
	s = &c->shard[h % DNS_CACHE_SHARDS];
	*set = s->slot[h / DNS_CACHE_SHARDS % DNS_CACHE_SETS];
	return s;
}

/* dns_centry_is - does e hold the answer for name and type? */
static int
dns_centry_is(const struct dns_centry *e, const char *name, int type)
{
	return e != NULL && e->type == type && strcasecmp(e->data, name) == 0;
}

/* dns_records - where e's records start (after the name). */
static const char *
dns_records(const struct dns_centry *e)
{
	return e->data + strlen(e->data) + 1;
}

int
tg_dns_cache_get(struct tg_dns_cache *c, struct tg_dns_query *q)
{
	struct dns_centry **set, *e = NULL;
	struct dns_shard *s = dns_cache_set(c, q->name, q->type, &set);
	time_t now = dns_cache_now();
	const char *p;

	pthread_mutex_lock(&s->mu);
	for (size_t w = 0; w < DNS_CACHE_WAYS && e == NULL; w++)
		if (dns_centry_is(set[w], q->name, q->type) &&
		    set[w]->expires > now)
			e = set[w];
	if (e != NULL) {
		q->status = e->status;
		q->n = e->n;
		q->ttl = (unsigned)(e->expires - now);
		p = dns_records(e);
		if (q->type == TG_DNS_A || q->type == TG_DNS_AAAA)
			memcpy(q->ip, p, q->n * sizeof q->ip[0]);
		else
			for (size_t i = 0; i < q->n; i++) {
				q->str[i] = tg_xstrdup(p);
				p += strlen(p) + 1;
			}
	}
	pthread_mutex_unlock(&s->mu);
	return e != NULL;
}

/* dns_centry_new - q's answer in one allocation, or NULL when it would
 * take more than DNS_CACHE_ENTRY_MAX bytes. */
static struct dns_centry *
dns_centry_new(const struct tg_dns_query *q, unsigned ttl, size_t max)
{
	int ips = q->type == TG_DNS_A || q->type == TG_DNS_AAAA;
	size_t len = strlen(q->name) + 1, size = sizeof(struct dns_centry);
	struct dns_centry *e;
	char *p;

	size += len;
	for (size_t i = 0; i < q->n; i++)
		size += ips ? sizeof q->ip[0] : strlen(q->str[i]) + 1;
	if (size > max)
		return NULL;
	e = tg_xmalloc(size);
	e->expires = dns_cache_now() + (time_t)ttl;
	e->size = (uint32_t)size;
	e->type = (uint8_t)q->type;
	e->status = (uint8_t)q->status;
	e->n = (uint8_t)q->n;
	memcpy(e->data, q->name, len);
	p = e->data + len;
	if (ips)
		memcpy(p, q->ip, q->n * sizeof q->ip[0]);
	else
		for (size_t i = 0; i < q->n; i++) {
			len = strlen(q->str[i]) + 1;
			memcpy(p, q->str[i], len);
			p += len;
		}
	return e;
}

static void	dns_cache_put(struct tg_dns_cache *, const struct tg_dns_query *,
		    size_t max);

void
tg_dns_cache_put(struct tg_dns_cache *c, const struct tg_dns_query *q)
{
	dns_cache_put(c, q, DNS_CACHE_ENTRY_MAX);
}

/* For tests (tg_dns_seed): any size. */
void
tg_dns_cache_seed(struct tg_dns_cache *c, const struct tg_dns_query *q)
{
	dns_cache_put(c, q, (size_t)-1);
}

static void
dns_cache_put(struct tg_dns_cache *c, const struct tg_dns_query *q,
    size_t max)
{
	struct dns_centry **set, *e, *old;
	struct dns_shard *s;
	unsigned ttl = q->ttl;
	time_t now;
	size_t w, v;

	if (q->status != TG_DNS_OK && q->status != TG_DNS_NXDOMAIN &&
	    q->status != TG_DNS_NODATA)
		return;
	if (q->status != TG_DNS_OK && ttl > DNS_CACHE_NEG_TTL)
		ttl = DNS_CACHE_NEG_TTL;
	/* Copied outside the lock. */
	if (ttl == 0 || (e = dns_centry_new(q, ttl, max)) == NULL)
		return;
	now = dns_cache_now();
	s = dns_cache_set(c, q->name, q->type, &set);
	pthread_mutex_lock(&s->mu);
	/* The same name's slot, else an empty or expired one, else the
	 * one that expires first. */
	for (w = 0; w < DNS_CACHE_WAYS; w++)
		if (dns_centry_is(set[w], q->name, q->type))
			break;
	for (v = 0; w == DNS_CACHE_WAYS && v < DNS_CACHE_WAYS; v++)
		if (set[v] == NULL || set[v]->expires <= now)
			w = v;
	if (w == DNS_CACHE_WAYS)
		for (w = 0, v = 1; v < DNS_CACHE_WAYS; v++)
			if (set[v]->expires < set[w]->expires)
				w = v;
	old = set[w];
	set[w] = e;
	if (old != NULL) {
		s->count--;
		s->bytes -= old->size;
	}
	s->count++;
	s->bytes += e->size;
	pthread_mutex_unlock(&s->mu);
	free(old);
}
