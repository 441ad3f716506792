/* check_spf_cache.c - SPF results kept across sessions, so that a client
 * that sends again (the same address, the same envelope sender, within
 * the TTLs of the records) is not evaluated again: libspf2's evaluation
 * and its DNS round trips were the second largest cost per message of a
 * policy with SPF (tests/bench). The key is the client's address and the
 * identity checked (the sender, or postmaster@HELO for <>), whole: a
 * record may expand %{l} or %{s}, so the domain alone is not enough; the
 * HELO name too, but only where it matters: when a record read during
 * the evaluation uses the %{h} macro (check_spf.c tells). A result is
 * kept for the shortest TTL of the answers it was made of (none: not
 * kept), temperror never. Bounded: a fixed number of slots, the slot
 * chosen by a keyed hash (SipHash with a key drawn at start: a client
 * cannot pick senders that push one another out), a new result replacing
 * what the slot held. The cache belongs to the policy's SPF server, so a
 * reload starts an empty one. Owns: the slots and their copies.
 * Threads: any; one mutex. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_hash.h"
#include "check.h"

struct spf_slot {
	int64_t		 expires_ms;	/* 0: empty */
	struct tg_ip	 ip;
	char		*from;
	char		*helo;		/* NULL: any HELO */
	char		 res[12];
};

struct spf_cache {
	pthread_mutex_t	 mu;
	uint8_t		 key[TG_HASH_KEY_LEN];
	size_t		 n;
	struct spf_slot	*slot;
	uint64_t	 hits, misses;
};

struct spf_cache *
spf_cache_new(size_t slots)
{
	struct spf_cache *c = tg_xcalloc(1, sizeof *c);

	pthread_mutex_init(&c->mu, NULL);
	tg_hash_key_new(c->key);
	c->n = slots > 0 ? slots : 1;
	c->slot = tg_xcalloc(c->n, sizeof *c->slot);
	return c;
}

void
spf_cache_free(struct spf_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->slot[i].from);
		free(c->slot[i].helo);
	}
	free(c->slot);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* spf_slot_of - the slot of (ip, from); the HELO is not in the hash, so
 * that one slot holds the sender's result whichever HELO it needs */
static struct spf_slot *
spf_slot_of(struct spf_cache *c, const struct tg_ip *ip, const char *from)
{
	uint8_t buf[17 + 512];
	size_t fl = strlen(from), n;
	uint64_t h;

	buf[0] = (uint8_t)ip->family;
	memcpy(buf + 1, ip->b, 16);
	n = fl < sizeof buf - 17 ? fl : sizeof buf - 17;
	memcpy(buf + 17, from, n);
	/* A longer sender hashes by its first bytes and its length: only
	 * the slot depends on it, the comparison is on the whole. */
	h = tg_hash_sip(c->key, buf, 17 + n) ^ (uint64_t)fl;
	return &c->slot[h % c->n];
}

int
spf_cache_get(struct spf_cache *c, const struct tg_ip *ip, const char *from,
    const char *helo, int64_t now_ms, char *res, size_t ressz)
{
	struct spf_slot *s;
	int hit;

	pthread_mutex_lock(&c->mu);
	s = spf_slot_of(c, ip, from);
	hit = s->expires_ms > now_ms && s->ip.family == ip->family &&
	    memcmp(s->ip.b, ip->b, sizeof ip->b) == 0 &&
	    strcmp(s->from, from) == 0 && (s->helo == NULL ||
	    (helo != NULL && strcmp(s->helo, helo) == 0));
	if (hit) {
		tg_strlcpy(res, s->res, ressz);
		c->hits++;
	} else
		c->misses++;
	pthread_mutex_unlock(&c->mu);
	return hit;
}

void
spf_cache_put(struct spf_cache *c, const struct tg_ip *ip, const char *from,
    const char *helo, const char *res, unsigned ttl, int64_t now_ms)
{
	struct spf_slot *s;

	if (ttl == 0 || strcmp(res, "temperror") == 0)
		return;
	pthread_mutex_lock(&c->mu);
	s = spf_slot_of(c, ip, from);
	free(s->from);
	free(s->helo);
	s->ip = *ip;
	s->from = tg_xstrdup(from);
	s->helo = helo != NULL ? tg_xstrdup(helo) : NULL;
	tg_strlcpy(s->res, res, sizeof s->res);
	s->expires_ms = now_ms + (int64_t)ttl * 1000;
	pthread_mutex_unlock(&c->mu);
}

void
spf_cache_stats(struct spf_cache *c, uint64_t *hits, uint64_t *misses)
{
	pthread_mutex_lock(&c->mu);
	*hits = c->hits;
	*misses = c->misses;
	pthread_mutex_unlock(&c->mu);
}
