/* dns.c - DNS lookups through libunbound, in parallel, with a deadline.
 * libunbound rather than ldns or c-ares: it is a complete caching resolver
 * (answers are kept for their TTL across sessions without code of ours),
 * its context is thread-safe, it resolves asynchronously (several lookups
 * in flight per call), and ub_ctx_set_fwd() points it at any server, which
 * the tests use to query a local one. Owns: one unbound context per
 * struct tg_dns, created at the first lookup. Threads: any number of
 * threads may resolve at once. One of the waiting threads at a time reads
 * the context's answers (ub_process), which run every waiting thread's
 * callbacks; it then wakes the others, who sleep on a condition variable
 * meanwhile (leader/follower), so an answer reaches its thread as soon as
 * it is read, and no thread polls for nothing. Answers with a TTL are also
 * kept by dns_cache.c, which answers without a round trip to libunbound's
 * thread. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unbound.h>

#include "tg.h"
#include "tg_dns.h"
#include "tg_log.h"
#include "tg_metrics.h"

/* Zones libunbound answers itself by default (RFC 6761 test names, the
 * RFC 5737/3849 documentation networks). With a forwarder configured, its
 * answers count: lab setups and our tests serve these very zones. */
static const char *const dns_passed_zones[] = {
	"test.", "2.0.192.in-addr.arpa.", "100.51.198.in-addr.arpa.",
	"113.0.203.in-addr.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa.",
};

struct tg_dns {
	pthread_mutex_t	 mu;		/* guards ctx creation */
	struct ub_ctx	*ctx;		/* NULL until the first lookup */
	pthread_mutex_t	 wmu;		/* guards processing, with wcv */
	pthread_cond_t	 wcv;		/* a ub_process() call has ended */
	int		 processing;	/* a thread is in poll/ub_process */
	struct tg_dns_cache *cache;	/* ours, in front (dns_cache.c) */
	int		 broken;	/* the context could not be set up */
	char		*server;	/* forwarder, NULL: the system's */
	int		 timeout_ms;
};

/* One call of tg_dns_resolve(). It lives on the heap with a reference per
 * query in flight, because an answer may be delivered (by any thread's
 * ub_process) after its caller gave up waiting. */
struct dns_batch {
	pthread_mutex_t		 mu;
	int			 refs;
	size_t			 pending;
	int			 abandoned;	/* the caller has returned */
	struct tg_dns_query	*q;
	struct dns_slot		*slot;
};

struct dns_slot {
	struct dns_batch	*b;
	size_t			 i;
	int			 id;		/* unbound's async id */
	int			 inflight;
};

static const int dns_rrtype[] = {
	[TG_DNS_A] = 1, [TG_DNS_AAAA] = 28, [TG_DNS_TXT] = 16,
	[TG_DNS_PTR] = 12, [TG_DNS_MX] = 15,
};

/* dns_server_check - "addr" or "addr@port"; 0 or -1. */
static int
dns_server_check(const char *s, const char **why)
{
	char addr[64];
	const char *at = strchr(s, '@');
	size_t len = at != NULL ? (size_t)(at - s) : strlen(s);
	struct tg_ip ip;
	char *end;
	long port;

	*why = "not an IP address, or address@port";
	if (len >= sizeof addr)
		return -1;
	memcpy(addr, s, len);
	addr[len] = '\0';
	if (strchr(addr, '[') != NULL || tg_ip_parse(addr, &ip) < 0)
		return -1;
	if (at != NULL) {
		errno = 0;
		port = strtol(at + 1, &end, 10);
		if (at[1] < '0' || at[1] > '9' || *end != '\0' || errno != 0 ||
		    port < 1 || port > 65535) {
			*why = "invalid port";
			return -1;
		}
	}
	return 0;
}

struct tg_dns *
tg_dns_new(const char *server, int timeout_ms, const char **why)
{
	struct tg_dns *d;
	pthread_condattr_t ca;

	if (server != NULL && dns_server_check(server, why) < 0)
		return NULL;
	d = tg_xcalloc(1, sizeof *d);
	pthread_mutex_init(&d->mu, NULL);
	pthread_mutex_init(&d->wmu, NULL);
	/* Deadlines are on the monotonic clock, like dns_now_ms(). */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->wcv, &ca);
	pthread_condattr_destroy(&ca);
	d->cache = tg_dns_cache_new();
	d->server = server != NULL ? tg_xstrdup(server) : NULL;
	d->timeout_ms = timeout_ms > 0 ? timeout_ms : TG_DNS_TIMEOUT_MS;
	return d;
}

void
tg_dns_free(struct tg_dns *d)
{
	if (d == NULL)
		return;
	/* Answers still in flight hold no pointer to d, only to their
	 * batch; ub_ctx_delete() cancels them. */
	if (d->ctx != NULL)
		ub_ctx_delete(d->ctx);
	tg_dns_cache_free(d->cache);
	pthread_cond_destroy(&d->wcv);
	pthread_mutex_destroy(&d->wmu);
	pthread_mutex_destroy(&d->mu);
	free(d->server);
	free(d);
}

void
tg_dns_seed(struct tg_dns *d, const struct tg_dns_query *q)
{
	tg_dns_cache_seed(d->cache, q);
}

int
tg_dns_timeout(const struct tg_dns *d)
{
	return d->timeout_ms;
}

/* dns_ctx - the unbound context, set up on first use; NULL if broken. */
static struct ub_ctx *
dns_ctx(struct tg_dns *d)
{
	struct ub_ctx *ctx;
	int rc = 0;

	pthread_mutex_lock(&d->mu);
	if (d->ctx != NULL || d->broken) {
		ctx = d->ctx;
		pthread_mutex_unlock(&d->mu);
		return ctx;
	}
	if ((ctx = ub_ctx_create()) == NULL) {
		tg_log_err("dns: ub_ctx_create failed");
		d->broken = 1;
		pthread_mutex_unlock(&d->mu);
		return NULL;
	}
	/* A thread, not the default forked process: a daemon that forks
	 * behind libmilter's back is hard to stop cleanly. */
	if ((rc = ub_ctx_async(ctx, 1)) == 0) {
		if (tg_dns_local_active())
			/* tollgate-test -z: records of a file, no server. */
			rc = tg_dns_local_setup(ctx);
		else if (d->server != NULL) {
			/* A forwarder on loopback is what we were told to
			 * use; unbound avoids localhost by default. */
			rc = ub_ctx_set_option(ctx, "do-not-query-localhost:",
			    "no");
			for (size_t i = 0; rc == 0 && i < sizeof
			    dns_passed_zones / sizeof dns_passed_zones[0];
			    i++) {
				char z[64];

				snprintf(z, sizeof z, "%s transparent",
				    dns_passed_zones[i]);
				rc = ub_ctx_set_option(ctx, "local-zone:", z);
			}
			if (rc == 0)
				rc = ub_ctx_set_fwd(ctx, d->server);
		} else
			rc = ub_ctx_resolvconf(ctx, NULL);
	}
	if (rc != 0) {
		tg_log_err("dns: cannot set up the resolver %s: %s",
		    d->server != NULL ? d->server : "of /etc/resolv.conf",
		    ub_strerror(rc));
		ub_ctx_delete(ctx);
		d->broken = 1;
		ctx = NULL;
	}
	d->ctx = ctx;
	pthread_mutex_unlock(&d->mu);
	return ctx;
}

int
tg_dns_query_init(struct tg_dns_query *q, const char *name,
    enum tg_dns_type type)
{
	/* Not the whole struct (~1.2 KiB, a dozen per message): records
	 * are written up to n, each address zeroed as it is filled, and
	 * only the strings of a string type are freed. */
	q->type = type;
	q->status = TG_DNS_PENDING;
	q->n = 0;
	q->ttl = 0;
	if (tg_strlcpy(q->name, name, sizeof q->name) >= sizeof q->name) {
		q->status = TG_DNS_FAIL;
		return TG_ERR_TOOLONG;
	}
	return TG_OK;
}

void
tg_dns_query_clear(struct tg_dns_query *q)
{
	/* Addresses have no strings (str[] is not set for them). */
	for (size_t i = 0; q->type != TG_DNS_A && q->type != TG_DNS_AAAA &&
	    i < q->n; i++)
		q->str[i] = tg_free(q->str[i]);
	q->n = 0;
}

/* dns_txt - a TXT record's character-strings, joined. */
static char *
dns_txt(const unsigned char *rd, size_t len)
{
	char *out = tg_xmalloc(len + 1);
	size_t i = 0, o = 0;

	while (i < len) {
		size_t l = rd[i++];

		if (i + l > len)
			l = len - i;
		for (size_t k = 0; k < l; k++) {
			unsigned char c = rd[i + k];

			out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
		}
		i += l;
	}
	out[o] = '\0';
	return out;
}

/* dns_fill - copy an answer's records into q. */
static void
dns_fill(struct tg_dns_query *q, const struct ub_result *r)
{
	char name[TG_DNS_NAME_MAX];

	q->ttl = r->ttl > 0 ? (unsigned)r->ttl : 0;
	if (r->rcode == 3 || r->nxdomain) {
		q->status = TG_DNS_NXDOMAIN;
		return;
	}
	if (r->rcode != 0) {
		q->status = TG_DNS_FAIL;
		return;
	}
	for (int i = 0; r->havedata && r->data[i] != NULL &&
	    q->n < TG_DNS_RR_MAX; i++) {
		const unsigned char *rd = (const unsigned char *)r->data[i];
		size_t len = (size_t)r->len[i];

		switch (q->type) {
		case TG_DNS_A:
		case TG_DNS_AAAA:
			if (len != (q->type == TG_DNS_A ? 4u : 16u))
				continue;
			memset(&q->ip[q->n], 0, sizeof q->ip[q->n]);
			q->ip[q->n].family = q->type == TG_DNS_A ? 4 : 6;
			memcpy(q->ip[q->n].b, rd, len);
			q->n++;
			break;
		case TG_DNS_TXT:
			q->str[q->n++] = dns_txt(rd, len);
			break;
		case TG_DNS_PTR:
		case TG_DNS_MX:
			if (q->type == TG_DNS_MX && len < 3)
				continue;
			if (tg_dns_wire_name(q->type == TG_DNS_MX ? rd + 2 :
			    rd, q->type == TG_DNS_MX ? len - 2 : len, name,
			    sizeof name) < 0)
				continue;
			q->str[q->n++] = tg_xstrdup(name);
			break;
		}
	}
	q->status = q->n > 0 ? TG_DNS_OK : TG_DNS_NODATA;
}

/* dns_unref - drop one reference; the batch's mutex is held, and is
 * released here. */
static void
dns_unref(struct dns_batch *b)
{
	int last = --b->refs == 0;

	pthread_mutex_unlock(&b->mu);
	if (last) {
		pthread_mutex_destroy(&b->mu);
		free(b->slot);
		free(b);
	}
}

static void
dns_callback(void *arg, int err, struct ub_result *r)
{
	struct dns_slot *sl = arg;
	struct dns_batch *b = sl->b;

	pthread_mutex_lock(&b->mu);
	sl->inflight = 0;
	if (!b->abandoned) {
		if (err != 0 || r == NULL)
			b->q[sl->i].status = TG_DNS_FAIL;
		else
			dns_fill(&b->q[sl->i], r);
		b->pending--;
	}
	if (r != NULL)
		ub_resolve_free(r);
	dns_unref(b);
}

static long long
dns_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* dns_start - send the queries; returns the batch with one reference for
 * the caller and one per query in flight. */
static struct dns_batch *
dns_start(struct ub_ctx *ctx, struct tg_dns_query *q, size_t n)
{
	struct dns_batch *b = tg_xcalloc(1, sizeof *b);

	pthread_mutex_init(&b->mu, NULL);
	b->refs = 1;
	b->q = q;
	b->slot = tg_xcalloc(n, sizeof *b->slot);
	pthread_mutex_lock(&b->mu);
	for (size_t i = 0; i < n; i++) {
		struct dns_slot *sl = &b->slot[i];
		int rc;

		sl->b = b;
		sl->i = i;
		if (q[i].status != TG_DNS_PENDING)
			continue;
		/* The callback cannot run before we unlock. */
		b->refs++;
		b->pending++;
		sl->inflight = 1;
		rc = ub_resolve_async(ctx, q[i].name, dns_rrtype[q[i].type], 1,
		    sl, dns_callback, &sl->id);
		if (rc != 0) {
			tg_log_warnx("dns: %s: %s", q[i].name,
			    ub_strerror(rc));
			q[i].status = TG_DNS_FAIL;
			sl->inflight = 0;
			b->refs--;
			b->pending--;
		}
	}
	pthread_mutex_unlock(&b->mu);
	return b;
}

/* dns_pending - the batch's unanswered queries. */
static size_t
dns_pending(struct dns_batch *b)
{
	size_t pending;

	pthread_mutex_lock(&b->mu);
	pending = b->pending;
	pthread_mutex_unlock(&b->mu);
	return pending;
}

/* dns_wait - wait until b is answered or the deadline (monotonic ms) has
 * passed; returns the queries still pending. Answers arrive only through
 * ub_process(), whose callbacks run in the calling thread: one thread at
 * a time calls it, for everyone, then broadcasts wcv. The pending count is
 * read under wmu, which the processor takes after its callbacks ran and
 * before broadcasting, so an answer cannot slip in between a follower's
 * check and its sleep. */
static size_t
dns_wait(struct tg_dns *d, struct ub_ctx *ctx, struct dns_batch *b,
    long long deadline)
{
	struct pollfd pfd = { .fd = ub_fd(ctx), .events = POLLIN };
	struct timespec until = {
		.tv_sec = (time_t)(deadline / 1000),
		.tv_nsec = (long)(deadline % 1000) * 1000000,
	};
	size_t pending;
	long long left;

	pthread_mutex_lock(&d->wmu);
	while ((pending = dns_pending(b)) > 0 &&
	    (left = deadline - dns_now_ms()) > 0) {
		if (d->processing) {
			if (pthread_cond_timedwait(&d->wcv, &d->wmu,
			    &until) == ETIMEDOUT) {
				pending = dns_pending(b);
				break;
			}
			continue;
		}
		d->processing = 1;
		pthread_mutex_unlock(&d->wmu);
		if (poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left) > 0)
			(void)ub_process(ctx);
		pthread_mutex_lock(&d->wmu);
		d->processing = 0;
		pthread_cond_broadcast(&d->wcv);
	}
	pthread_mutex_unlock(&d->wmu);
	return pending;
}

int
tg_dns_resolve(struct tg_dns *d, struct tg_dns_query *q, size_t n)
{
	struct ub_ctx *ctx = dns_ctx(d);
	long long deadline = dns_now_ms() + d->timeout_ms;
	struct dns_batch *b;
	size_t pending = 0;
	uint64_t t0;
	char *asked;

	if (ctx == NULL) {
		for (size_t i = 0; i < n; i++)
			if (q[i].status == TG_DNS_PENDING) {
				q[i].status = TG_DNS_FAIL;
				tg_metrics_error(TG_M_DNS_ERROR);
			}
		return TG_ERR_RETRY;
	}
	/* Which of q are looked up now, for the DNS error count and the
	 * cache. */
	asked = tg_xcalloc(n > 0 ? n : 1, 1);
	for (size_t i = 0; i < n; i++) {
		asked[i] = q[i].status == TG_DNS_PENDING &&
		    !tg_dns_cache_get(d->cache, &q[i]);
		pending += asked[i];
	}
	if (pending == 0) {
		free(asked);
		return TG_OK;
	}
	t0 = tg_metrics_now();
	b = dns_start(ctx, q, n);
	pending = dns_wait(d, ctx, b, deadline);
	tg_metrics_latency(TG_M_LAT_DNS, t0);
	pthread_mutex_lock(&b->mu);
	b->abandoned = 1;
	for (size_t i = 0; i < n; i++) {
		if (!b->slot[i].inflight)
			continue;
		q[i].status = TG_DNS_FAIL;
		/* Cancelled: the callback will not run, so its reference
		 * is ours to drop. Otherwise it is running or queued and
		 * drops it itself. */
		if (ub_cancel(ctx, b->slot[i].id) == 0) {
			b->slot[i].inflight = 0;
			b->refs--;
		}
	}
	if (pending > 0)
		tg_log_debug("dns: %zu of %zu lookups timed out after %d ms",
		    pending, n, d->timeout_ms);
	for (size_t i = 0; i < n; i++)
		if (!asked[i])
			continue;
		else if (q[i].status == TG_DNS_FAIL)
			tg_metrics_error(TG_M_DNS_ERROR);
		else
			tg_dns_cache_put(d->cache, &q[i]);
	free(asked);
	dns_unref(b);
	return TG_OK;
}
