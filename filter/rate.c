/* rate.c - rate and concurrency limits: builds a limit's key from the
 * session, checks and counts through the limit's store, and remembers
 * what a session added so that refused or aborted events are taken back.
 * Owns: the per-session state (struct tg_rate_state). Threads: a
 * session's state is used by its connection only; stores are shared. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tg.h"
#include "tg_engine.h"
#include "tg_log.h"
#include "tg_metrics.h"
#include "tg_rate.h"
#include "tg_reply.h"
#include "tg_session.h"
#include "tg_store.h"

/* An addition that may still be taken back. It copies what a release
 * needs, since the policy that made it may be gone by then. delta may be
 * the sum of several events (see rate_keep). */
struct rate_hold {
	struct tg_store		*store;
	char			*key;
	int64_t			 window_ms, delta, slot;
	enum tg_rate_count	 count;
	int			 count_refused;
};

/* Holds by how long they may still be taken back: the current stage's
 * events, the message's recipients (until end of message) and the
 * connection's sessions (until close). Apart, so that the end of a stage
 * visits only that stage's holds: one list for all made every RCPT walk
 * every recipient held before it, quadratic in recipients. */
struct rate_holds {
	struct rate_hold	*v;
	size_t			 n, cap;
};

enum rate_mark_state { MARK_RESERVED, MARK_DENIED, MARK_ERROR };

/* What a check did to a limit during the current stage. */
struct rate_mark {
	const struct tg_limit	*l;
	enum rate_mark_state	 state;
};

struct tg_rate_state {
	struct rate_holds	 stage, txn, conn;
	struct rate_mark	*marks;
	size_t			 nmarks, mcap;
	const char		*tripped;	/* a limit's name */
	uint64_t		 visits;	/* holds looked at, for tests */
};

static const char *const rate_count_names[] = {
	"connections", "sessions", "messages", "recipients", "bytes",
};

const char *
tg_rate_count_name(enum tg_rate_count c)
{
	return c <= TG_RATE_BYTES ? rate_count_names[c] : "?";
}

enum tg_stage
tg_rate_count_stage(enum tg_rate_count c)
{
	switch (c) {
	case TG_RATE_CONNECTIONS:
	case TG_RATE_SESSIONS:
		return TG_STAGE_CONNECT;
	case TG_RATE_RECIPIENTS:
		return TG_STAGE_RCPT;
	default:
		return TG_STAGE_EOM;
	}
}

void
tg_rate_publish(const struct tg_policy *p)
{
	struct tg_store *grey;

	tg_store_mem_set_max_keys(tg_store_memory(), p->mem_max_keys);
	/* The greylist records' cap, when a greylist uses the store (or
	 * did): a policy without greylisting creates none. */
	if (p->ngreylists > 0 || p->grey_max_keys != 0)
		grey = tg_store_memory_grey();
	else
		grey = tg_store_memory_grey_found();
	if (grey != NULL)
		tg_store_mem_set_max_keys(grey, p->grey_max_keys);
}

void
tg_limit_free(struct tg_limit *l)
{
	if (l == NULL)
		return;
	free(l->name);
	free(l->prefix);
	free(l);
}

static struct tg_rate_state *
rate_state(struct tg_session *s)
{
	if (s->rate == NULL)
		s->rate = tg_xcalloc(1, sizeof *s->rate);
	return s->rate;
}

void
tg_limit_set_prefix(struct tg_limit *l)
{
	free(l->prefix);
	l->prefix = tg_xasprintf("%s:%s:%lld", l->name,
	    tg_rate_count_name(l->count), (long long)(l->window_ms / 1000));
	l->prefixlen = strlen(l->prefix);
}

/* tg_rate_key_ip - ip masked to its prefix, as "net/len", into buf (at
 * least 64 bytes). By hand: snprintf here was a fifth of a message's
 * instructions with per-network limits. */
void
tg_rate_key_ip(const struct tg_ip *ip, const struct tg_limit_key *k,
    char *buf, size_t bufsz)
{
	struct tg_ip net = *ip;
	int len = ip->family == 4 ? k->v4 : k->v6, full, rest;
	char *o;

	full = len / 8;
	rest = len % 8;
	if (rest != 0)
		net.b[full++] &= (uint8_t)(0xff << (8 - rest));
	memset(net.b + full, 0, sizeof net.b - (size_t)full);
	tg_ip_format(&net, buf, bufsz - 5);	/* room for "/128" */
	o = buf + strlen(buf);
	*o++ = '/';
	if (len >= 100)
		*o++ = (char)('0' + len / 100);
	if (len >= 10)
		*o++ = (char)('0' + len / 10 % 10);
	*o++ = (char)('0' + len % 10);
	*o = '\0';
}

/* rate_key_hash - "\#" and the SHA-256 of part, lower-cased, in hex,
 * into out (at least RATE_KEY_HASHLEN + 1 bytes) */
#define RATE_KEY_HASHLEN	(2 + 2 * 32)
static int
rate_key_hash(const char *part, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *low = tg_xmalloc(n + 1);
	int ok;

	for (size_t i = 0; i < n; i++)
		low[i] = (part[i] >= 'A' && part[i] <= 'Z') ?
		    (char)(part[i] - 'A' + 'a') : part[i];
	ok = EVP_Digest(low, n, md, &mdlen, EVP_sha256(), NULL) == 1 &&
	    mdlen == 32;
	free(low);
	if (!ok)
		return TG_ERR_TOOLONG;
	*out++ = '\\';
	*out++ = '#';
	for (unsigned int i = 0; i < mdlen; i++) {
		*out++ = hex[md[i] >> 4];
		*out++ = hex[md[i] & 15];
	}
	*out = '\0';
	return TG_OK;
}

/* tg_rate_key_part - append '|' and part to the key at *o. Lower case (keys
 * are case-insensitive, as rules are), with '\' and '|' escaped by a
 * '\', so that two tuples of parts never make the same key: "a|b" + "c"
 * is "a\|b|c", "a" + "b|c" is "a|b\|c". A part that would take more
 * than TG_LIMIT_PART_MAX bytes is written as "\#" and its SHA-256
 * instead (rate_key_hash), which no written-out part can look like (its
 * '\' are doubled): a long value still counts, and every key fits.
 * TG_OK, or TG_ERR_TOOLONG when key (keysz bytes) has no room. */
int
tg_rate_key_part(char *key, size_t keysz, size_t *o, const char *part)
{
	char hashed[RATE_KEY_HASHLEN + 1];
	size_t n = strlen(part), len = n;

	for (size_t i = 0; i < n; i++)
		len += part[i] == '\\' || part[i] == '|';
	if (len > TG_LIMIT_PART_MAX) {
		if (rate_key_hash(part, n, hashed) < 0)
			return TG_ERR_TOOLONG;
		if (*o + 1 + RATE_KEY_HASHLEN >= keysz)
			return TG_ERR_TOOLONG;
		key[(*o)++] = '|';
		memcpy(key + *o, hashed, RATE_KEY_HASHLEN + 1);
		*o += RATE_KEY_HASHLEN;
		return TG_OK;
	}
	if (*o + 1 + len >= keysz)
		return TG_ERR_TOOLONG;
	key[(*o)++] = '|';
	for (size_t i = 0; i < n; i++) {
		if (part[i] == '\\' || part[i] == '|')
			key[(*o)++] = '\\';
		key[(*o)++] = (part[i] >= 'A' && part[i] <= 'Z') ?
		    (char)(part[i] - 'A' + 'a') : part[i];
	}
	key[*o] = '\0';
	return TG_OK;
}

int
tg_rate_key(const struct tg_limit *l, const struct tg_session *s, char *key,
    size_t keysz)
{
	size_t o = l->prefixlen;
	char part[80];
	struct tg_ip ip;
	const char *v;

	if (l->prefix == NULL)
		return 1;
	if (o >= keysz)
		return TG_ERR_TOOLONG;
	memcpy(key, l->prefix, o + 1);
	for (size_t i = 0; i < l->nkeys; i++) {
		const struct tg_limit_key *k = &l->keys[i];

		v = s->val[k->attr];
		if (tg_attrs[k->attr].type == TG_T_IP) {
			if (k->attr == TG_A_CLIENT_ADDRESS && s->client_ip_ok)
				ip = s->client_ip;
			else if (v == NULL || tg_ip_parse(v, &ip) != 0)
				return 1;
			tg_rate_key_ip(&ip, k, part, sizeof part);
			v = part;
		}
		if (v == NULL || *v == '\0')
			return 1;
		if (tg_rate_key_part(key, keysz, &o, v) < 0)
			return TG_ERR_TOOLONG;
	}
	return TG_OK;
}

static struct rate_mark *
rate_mark_find(struct tg_rate_state *st, const struct tg_limit *l)
{
	for (size_t i = 0; i < st->nmarks; i++)
		if (st->marks[i].l == l)
			return &st->marks[i];
	return NULL;
}

static void
rate_mark(struct tg_rate_state *st, const struct tg_limit *l,
    enum rate_mark_state state)
{
	if (st->nmarks == st->mcap) {
		st->mcap = st->mcap ? 2 * st->mcap : 4;
		st->marks = tg_xrealloc(st->marks, st->mcap *
		    sizeof *st->marks);
	}
	st->marks[st->nmarks].l = l;
	st->marks[st->nmarks++].state = state;
}

/* rate_push - room for one more hold at the end of hs */
static struct rate_hold *
rate_push(struct rate_holds *hs)
{
	if (hs->n == hs->cap) {
		hs->cap = hs->cap ? 2 * hs->cap : 4;
		hs->v = tg_xrealloc(hs->v, hs->cap * sizeof *hs->v);
	}
	return &hs->v[hs->n++];
}

static void
rate_hold(struct tg_rate_state *st, const struct tg_limit *l,
    const char *key, int64_t delta, int64_t slot)
{
	struct rate_hold *h = rate_push(&st->stage);

	h->store = l->store;
	h->key = tg_xstrdup(key);
	h->window_ms = l->window_ms;
	h->delta = delta;
	h->slot = slot;
	h->count = l->count;
	h->count_refused = l->count_refused;
}

/* rate_give_back - take h back from its store */
static void
rate_give_back(const struct rate_hold *h)
{
	if (h->store->ops->release(h->store, h->key, h->window_ms, h->delta,
	    h->slot) < 0)
		tg_log_warnx("rate: %s: could not give back %lld",
		    h->key, (long long)h->delta);
}

/* rate_drop_all - forget every hold of hs, taking each back first when
 * release is set (and, for release < 0, when it does not count refused
 * events) */
static void
rate_drop_all(struct tg_rate_state *st, struct rate_holds *hs, int release)
{
	for (size_t i = hs->n; i-- > 0;) {
		struct rate_hold *h = &hs->v[i];

		st->visits++;
		if (release > 0 || (release < 0 && !h->count_refused))
			rate_give_back(h);
		free(h->key);
	}
	hs->n = 0;
}

/* RATE_MERGE_LOOK: how many of the latest holds of a list a new one is
 * compared with. Recipients of one message mostly repeat the same few
 * keys (the sender, the login, the client's network) in the same slot,
 * so a few suffice to keep one hold per key instead of one per RCPT. */
#define RATE_MERGE_LOOK	8

/* rate_keep - move stage hold h (its key included) to the end of hs, or
 * add its delta to an equal hold among the latest ones there, which then
 * moves to the end: a release of the sum gives back the same as one
 * release each, and the order of a list does not matter. */
static void
rate_keep(struct tg_rate_state *st, struct rate_holds *hs,
    struct rate_hold *h)
{
	for (size_t i = hs->n, k = 0; i-- > 0 && k < RATE_MERGE_LOOK; k++) {
		struct rate_hold *o = &hs->v[i];

		st->visits++;
		if (o->store == h->store && o->slot == h->slot &&
		    o->window_ms == h->window_ms && o->count == h->count &&
		    o->count_refused == h->count_refused &&
		    strcmp(o->key, h->key) == 0) {
			struct rate_hold t = *o;

			/* To the end, so that a key of every RCPT stays
			 * among the latest whatever else comes between. */
			t.delta += h->delta;
			*o = hs->v[hs->n - 1];
			hs->v[hs->n - 1] = t;
			free(h->key);
			return;
		}
	}
	*rate_push(hs) = *h;
}

/* rate_failed - the store failed for l, or l's key could not be built
 * (TG_ERR_TOOLONG): log it loudly; 1 when the limit fails closed. A key
 * that cannot be built is a store failure, not a limit that does not
 * apply: skipping it silently would let long values walk around it. */
static int
rate_failed(const struct tg_session *s, const struct tg_limit *l, int rc)
{
	tg_metrics_error(TG_M_STORE_ERROR);
	if (rc == TG_ERR_TOOLONG)
		tg_log_err("%s: limit %s: key longer than %d bytes; %s", s->id,
		    l->name, TG_LIMIT_KEY_MAX - 1, l->on_error_skip ?
		    "not counted, mail passes" : "tempfail");
	else
		tg_log_err("%s: limit %s: %s store %s; %s", s->id, l->name,
		    l->store->ops->name, rc == TG_ERR_FULL ? "is full" :
		    "unavailable", l->on_error_skip ?
		    "not counted, mail passes" : "tempfail");
	return !l->on_error_skip;
}

/* rate_delta - what an event adds to l at its counting stage */
static int64_t
rate_delta(const struct tg_limit *l, const struct tg_session *s)
{
	return l->count == TG_RATE_BYTES ? (int64_t)s->size : 1;
}

int
tg_rate_check(struct tg_session *s, const struct tg_limit *l,
    enum tg_stage stage)
{
	struct tg_rate_state *st = rate_state(s);
	struct rate_mark *m;
	char key[TG_LIMIT_KEY_MAX];
	int64_t value, slot, next;
	int rc;

	if ((rc = tg_rate_key(l, s, key, sizeof key)) > 0)
		return 0;
	if (stage == l->stage) {
		if ((m = rate_mark_find(st, l)) != NULL) {
			if (m->state == MARK_DENIED)
				st->tripped = l->name;
			return m->state == MARK_DENIED;
		}
		if (rc == TG_OK)
			rc = l->store->ops->add(l->store, key, l->window_ms,
			    rate_delta(l, s), l->max, &value, &slot);
		if (rc < 0) {
			rate_mark(st, l, MARK_ERROR);
			st->tripped = l->name;
			return rate_failed(s, l, rc) ? -1 : 0;
		}
		rate_mark(st, l, rc == 1 ? MARK_RESERVED : MARK_DENIED);
		if (rc == 1) {
			rate_hold(st, l, key, rate_delta(l, s), slot);
			return 0;
		}
		st->tripped = l->name;
		return 1;
	}
	/* Before (or after) its counting stage a limit is only read: is
	 * there room for one more event? */
	if (rc < 0 || (rc = l->store->ops->get(l->store, key, l->window_ms,
	    &value)) < 0) {
		st->tripped = l->name;
		return rate_failed(s, l, rc) ? -1 : 0;
	}
	next = 1;
	if (l->count == TG_RATE_BYTES && stage < TG_STAGE_EOM &&
	    s->size_declared > 1)
		next = s->size_declared;
	if (value + next > l->max) {
		st->tripped = l->name;
		return 1;
	}
	return 0;
}

void
tg_rate_stage_begin(struct tg_session *s)
{
	if (s->rate != NULL) {
		s->rate->nmarks = 0;
		s->rate->tripped = NULL;
	}
}

/* rate_count_auto - count the event for the limits of this stage that no
 * rule reserved (refused: not those that do not count refused events;
 * greylisted: none); returns a limit whose store failed closed, or NULL */
static const struct tg_limit *
rate_count_auto(const struct tg_policy *p, struct tg_session *s,
    enum tg_stage stage, int refused, int greylisted)
{
	struct tg_rate_state *st = rate_state(s);
	const struct tg_limit *failed = NULL;
	char key[TG_LIMIT_KEY_MAX];
	struct rate_mark *m;
	int64_t value, slot;
	int rc;

	for (size_t i = 0; i < p->nlimits; i++) {
		const struct tg_limit *l = p->limits[i];

		if (l->stage != stage || greylisted ||
		    (refused && !l->count_refused))
			continue;
		if ((m = rate_mark_find(st, l)) != NULL &&
		    m->state != MARK_DENIED)
			continue;
		if ((rc = tg_rate_key(l, s, key, sizeof key)) > 0)
			continue;
		if (rc == TG_OK)
			rc = l->store->ops->add(l->store, key, l->window_ms,
			    rate_delta(l, s), -1, &value, &slot);
		if (rc < 0) {
			if (rate_failed(s, l, rc) && failed == NULL)
				failed = l;
			continue;
		}
		rate_hold(st, l, key, rate_delta(l, s), slot);
	}
	return failed;
}

void
tg_rate_stage_end(const struct tg_policy *p, struct tg_session *s,
    enum tg_stage stage, struct tg_verdict *v)
{
	struct tg_rate_state *st;
	const struct tg_limit *failed = NULL;
	int refused = v->action == TG_ACT_REJECT ||
	    v->action == TG_ACT_TEMPFAIL;
	/* A greylist deferral is the first half of a delivery that the
	 * retry completes: charging it would count every legitimate first
	 * message twice, so nothing is, count-refused limits included. */
	int all = refused && v->greylisted;

	if (p == NULL || (p->nlimits == 0 && s->rate == NULL))
		return;
	if (p->nlimits > 0)
		failed = rate_count_auto(p, s, stage, refused, all);
	if (failed != NULL && !refused) {
		tg_reply_internal(v, "Rate limit store unavailable, try "
		    "again later");
		tg_strlcpy(v->limit, failed->name, sizeof v->limit);
		refused = 1;
	}
	st = rate_state(s);
	if (stage == TG_STAGE_EOM)
		/* The message is decided: its recipients count when it was
		 * accepted, or when asked to anyway. */
		rate_drop_all(st, &st->txn, all ? 1 : refused ? -1 : 0);
	for (size_t i = 0; i < st->stage.n; i++) {
		struct rate_hold *h = &st->stage.v[i];

		st->visits++;
		if (all || (refused && !h->count_refused)) {
			rate_give_back(h);
			free(h->key);
		} else if (h->count == TG_RATE_RECIPIENTS)
			rate_keep(st, &st->txn, h);
		else if (h->count == TG_RATE_SESSIONS)
			rate_keep(st, &st->conn, h);
		else
			free(h->key);	/* counted for good */
	}
	st->stage.n = 0;
	st->nmarks = 0;
}

const char *
tg_rate_tripped(const struct tg_session *s)
{
	return s->rate != NULL ? s->rate->tripped : NULL;
}

void
tg_rate_clear_tripped(struct tg_session *s)
{
	if (s->rate != NULL)
		s->rate->tripped = NULL;
}

void
tg_rate_txn_end(struct tg_session *s)
{
	struct tg_rate_state *st = s->rate;

	if (st != NULL)
		rate_drop_all(st, &st->txn, -1);
}

void
tg_rate_conn_end(struct tg_session *s)
{
	struct tg_rate_state *st = s->rate;

	if (st == NULL)
		return;
	tg_rate_txn_end(s);
	rate_drop_all(st, &st->stage, 1);
	rate_drop_all(st, &st->conn, 1);
	free(st->stage.v);
	free(st->txn.v);
	free(st->conn.v);
	free(st->marks);
	free(st);
	s->rate = NULL;
}

void
tg_rate_stats(const struct tg_session *s, size_t *holds, uint64_t *visits)
{
	const struct tg_rate_state *st = s->rate;

	*holds = st != NULL ? st->stage.n + st->txn.n + st->conn.n : 0;
	*visits = st != NULL ? st->visits : 0;
}
