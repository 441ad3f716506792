/* dns.c - DNS lookups as a stub resolver over c-ares: the names go to the
 * policy's resolver (set resolver) or to those of /etc/resolv.conf, which
 * are expected to be caching resolvers (README); the answers are kept for
 * their TTL in dns_cache.c. c-ares rather than libunbound (measured:
 * tests/bench/README.md, "DNS libraries"): libunbound resolves in a thread
 * of its own and opens a socket per query, which cost 33-45 us of CPU and
 * 1-2.4 thread switches per lookup here; c-ares keeps its sockets and
 * runs in the caller's thread, 6-13 us and 0.1-0.6 switches. It checks
 * that a reply answers a query it sent (id, name, type, class), retries a
 * truncated one over TCP, and sends EDNS0 for the large TXT records of
 * SPF. Each thread that resolves has its own channel (c-ares 1.18's are
 * not shared between threads), kept for the next lookups of the same
 * struct tg_dns and ended with the thread. Answers are read here, from
 * the reply: the records of the type asked for in the answer section, and
 * the TTL (c-ares gives none for TXT, PTR and MX; a negative answer's is
 * its SOA's, RFC 2308). On the native engine's event loops the lookups
 * are made ahead, without waiting (dns_async.c), and tg_dns_resolve()
 * then answers from the thread's book of them (dns_book.c) before the
 * cache; one not in the book there is counted as a loop miss. Owns: the
 * per-thread channels. Threads: any number at once, each with its own
 * channel; the cache is shared (locked), the book is the thread's. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <ares.h>

#include "tg.h"
#include "tg_dns.h"
#include "tg_log.h"
#include "tg_metrics.h"
#include "dns_impl.h"

#define DNS_EDNS_SIZE	1232	/* the UDP payload that avoids fragments */

struct tg_dns {
	unsigned long long serial;	/* never reused: channels are found
					 * by it, not by address */
	char		*servers;	/* "addr:port" for c-ares, NULL: the
					 * system's */
	char		*server;	/* as the policy wrote it */
	int		 timeout_ms;
	struct tg_dns_cache *cache;
	atomic_int	 warned;	/* a set-up failure was logged */
};

/* This thread's channel, for the struct tg_dns with serial. */
struct dns_tls {
	unsigned long long serial;
	ares_channel	 ch;
	int		 ok;
};

static atomic_ullong dns_serial;
static tg_dns_backend_fn dns_backend;
static pthread_once_t dns_once = PTHREAD_ONCE_INIT;
static pthread_key_t dns_key;
static int dns_lib_ok;

static const int dns_rrtype[] = {
	[TG_DNS_A] = 1, [TG_DNS_AAAA] = 28, [TG_DNS_TXT] = 16,
	[TG_DNS_PTR] = 12, [TG_DNS_MX] = 15,
};

/* dns_tls_free - a thread ends: its channel goes */
static void
dns_tls_free(void *p)
{
	struct dns_tls *t = p;

	if (t->ok)
		ares_destroy(t->ch);
	free(t);
}

static void
dns_init(void)
{
	dns_lib_ok = ares_library_init(ARES_LIB_INIT_ALL) == ARES_SUCCESS &&
	    pthread_key_create(&dns_key, dns_tls_free) == 0;
}

/* dns_server_check - "addr" or "addr@port" into c-ares's "addr:port"
 * ("[v6]:port"); 0 or -1. */
static int
dns_server_check(const char *s, char **out, const char **why)
{
	char addr[64];
	const char *at = strchr(s, '@');
	size_t len = at != NULL ? (size_t)(at - s) : strlen(s);
	struct tg_ip ip;
	char *end;
	long port = 53;

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
	*out = ip.family == 6 ? tg_xasprintf("[%s]:%ld", addr, port) :
	    tg_xasprintf("%s:%ld", addr, port);
	return 0;
}

struct tg_dns *
tg_dns_new(const char *server, int timeout_ms, const char **why)
{
	struct tg_dns *d;
	char *servers = NULL;

	if (server != NULL && dns_server_check(server, &servers, why) < 0)
		return NULL;
	d = tg_xcalloc(1, sizeof *d);
	d->serial = atomic_fetch_add(&dns_serial, 1) + 1;
	d->servers = servers;
	d->server = server != NULL ? tg_xstrdup(server) : NULL;
	d->timeout_ms = timeout_ms > 0 ? timeout_ms : TG_DNS_TIMEOUT_MS;
	d->cache = tg_dns_cache_new();
	return d;
}

void
tg_dns_free(struct tg_dns *d)
{
	if (d == NULL)
		return;
	/* Channels of other threads name d by its serial only: they are
	 * replaced at their thread's next lookup, or end with it. */
	tg_dns_cache_free(d->cache);
	free(d->servers);
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

int
tg_dns_channel_open(struct tg_dns *d, ares_channel *ch,
    ares_sock_state_cb cb, void *arg)
{
	struct ares_options o;
	int rc, mask;

	pthread_once(&dns_once, dns_init);
	if (!dns_lib_ok)
		return -1;
	memset(&o, 0, sizeof o);
	/* Names are absolute: no search list, no HOSTALIASES. Two tries of
	 * half the round's time each: one lost datagram does not fail it. */
	o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | ARES_FLAG_EDNS;
	o.ednspsz = DNS_EDNS_SIZE;
	o.tries = 2;
	o.timeout = d->timeout_ms / 2 > 0 ? d->timeout_ms / 2 : 1;
	mask = ARES_OPT_FLAGS | ARES_OPT_EDNSPSZ | ARES_OPT_TRIES |
	    ARES_OPT_TIMEOUTMS;
	if (cb != NULL) {
		o.sock_state_cb = cb;
		o.sock_state_cb_data = arg;
		mask |= ARES_OPT_SOCK_STATE_CB;
	}
	rc = ares_init_options(ch, &o, mask);
	if (rc == ARES_SUCCESS && d->servers != NULL &&
	    (rc = ares_set_servers_ports_csv(*ch, d->servers)) != ARES_SUCCESS)
		ares_destroy(*ch);
	if (rc != ARES_SUCCESS) {
		if (atomic_exchange(&d->warned, 1) == 0)
			tg_log_err("dns: cannot set up the resolver %s: %s",
			    d->server != NULL ? d->server :
			    "of /etc/resolv.conf", ares_strerror(rc));
		return -1;
	}
	return 0;
}

unsigned long long
tg_dns_serial(const struct tg_dns *d)
{
	return d->serial;
}

int
tg_dns_rrtype(enum tg_dns_type t)
{
	return dns_rrtype[t];
}

/* dns_channel - this thread's channel for d, set up on first use; NULL
 * when it cannot be (logged once per struct tg_dns) */
static ares_channel *
dns_channel(struct tg_dns *d)
{
	struct dns_tls *t;

	pthread_once(&dns_once, dns_init);
	if (!dns_lib_ok)
		return NULL;
	if ((t = pthread_getspecific(dns_key)) == NULL) {
		t = tg_xcalloc(1, sizeof *t);
		(void)pthread_setspecific(dns_key, t);
	}
	if (t->ok && t->serial == d->serial)
		return &t->ch;
	if (t->ok)
		ares_destroy(t->ch);
	t->ok = 0;
	if (tg_dns_channel_open(d, &t->ch, NULL, NULL) != 0)
		return NULL;
	t->ok = 1;
	t->serial = d->serial;
	return &t->ch;
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

/* dns_txt - a TXT record's character-strings, joined; bytes outside
 * printable ASCII become '?'. */
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

/* dns_name - a (possibly compressed) name at p in the reply; its text
 * into buf, the bytes it takes at p into *used. 0 or -1. A name is looked
 * at as text later (rules, logs, the forward lookup of a PTR name): one
 * that c-ares had to escape (a dot inside a label, a byte outside
 * printable ASCII) is refused, not passed on in a form that reads like
 * another name. */
static int
dns_name(const unsigned char *p, const unsigned char *buf, int blen,
    char *out, size_t outsz, long *used)
{
	char *name;
	int bad = 0;

	if (ares_expand_name(p, buf, blen, &name, used) != ARES_SUCCESS)
		return -1;
	for (const unsigned char *c = (unsigned char *)name; *c != '\0' &&
	    !bad; c++)
		bad = *c == '\\' || *c <= 0x20 || *c >= 0x7f;
	if (bad || tg_strlcpy(out, name, outsz) >= outsz) {
		ares_free_string(name);
		return -1;
	}
	ares_free_string(name);
	return 0;
}

/* dns_read - the reply's records of q's type owned by the name asked or,
 * through the CNAMEs of the answer section in their order, by its alias
 * target (a record for any other name is not an answer, whatever the
 * reply says: c-ares checked only the question), and the TTL: the
 * smallest of them and of the CNAMEs followed, or for a negative answer
 * the SOA's (the smaller of its TTL and MINIMUM). -1 when malformed. */
static int
dns_read(struct tg_dns_query *q, const unsigned char *buf, int blen)
{
	const unsigned char *p = buf + 12, *end = buf + blen;
	unsigned an, ns, ttl = UINT_MAX, soa = UINT_MAX;
	char name[TG_DNS_NAME_MAX], owner[TG_DNS_NAME_MAX];
	char target[TG_DNS_NAME_MAX];
	long used;

	if (blen < 12)
		return -1;
	tg_strlcpy(target, q->name, sizeof target);
	if ((used = (long)strlen(target)) > 0 && target[used - 1] == '.')
		target[used - 1] = '\0';
	an = (unsigned)buf[6] << 8 | buf[7];
	ns = (unsigned)buf[8] << 8 | buf[9];
	/* The question, whose match c-ares has checked. */
	for (unsigned i = (unsigned)buf[4] << 8 | buf[5]; i > 0; i--) {
		if (dns_name(p, buf, blen, name, sizeof name, &used) < 0 ||
		    end - (p + used) < 4)
			return -1;
		p += used + 4;
	}
	for (unsigned i = 0; i < an + ns; i++) {
		unsigned type, rttl, rdlen;
		const unsigned char *rd;

		if (dns_name(p, buf, blen, owner, sizeof owner, &used) < 0 ||
		    end - (p + used) < 10)
			return -1;
		p += used;
		type = (unsigned)p[0] << 8 | p[1];
		rttl = (unsigned)p[4] << 24 | (unsigned)p[5] << 16 |
		    (unsigned)p[6] << 8 | p[7];
		rdlen = (unsigned)p[8] << 8 | p[9];
		rd = p + 10;
		if ((size_t)(end - rd) < rdlen)
			return -1;
		p = rd + rdlen;
		/* RFC 2181 8: a TTL with the top bit set is 0. */
		if (rttl > INT_MAX)
			rttl = 0;
		if (i >= an) {		/* authority: the SOA of a negative */
			if (type == 6 && rdlen >= 20) {
				unsigned min = (unsigned)rd[rdlen - 4] << 24 |
				    (unsigned)rd[rdlen - 3] << 16 |
				    (unsigned)rd[rdlen - 2] << 8 |
				    rd[rdlen - 1];

				soa = rttl < min ? rttl : min;
			}
			continue;
		}
		if (strcasecmp(owner, target) != 0)
			continue;
		if (type == 5) {		/* CNAME: follow it */
			if (dns_name(rd, buf, blen, name, sizeof name,
			    &used) < 0)
				return -1;
			tg_strlcpy(target, name, sizeof target);
			if (rttl < ttl)
				ttl = rttl;
			continue;
		}
		if (type != (unsigned)dns_rrtype[q->type] ||
		    q->n >= TG_DNS_RR_MAX)
			continue;
		switch (q->type) {
		case TG_DNS_A:
		case TG_DNS_AAAA:
			if (rdlen != (q->type == TG_DNS_A ? 4u : 16u))
				continue;
			memset(&q->ip[q->n], 0, sizeof q->ip[q->n]);
			q->ip[q->n].family = q->type == TG_DNS_A ? 4 : 6;
			memcpy(q->ip[q->n].b, rd, rdlen);
			break;
		case TG_DNS_TXT:
			q->str[q->n] = dns_txt(rd, rdlen);
			break;
		case TG_DNS_PTR:
		case TG_DNS_MX:
			if (q->type == TG_DNS_MX && rdlen < 3)
				continue;
			if (dns_name(q->type == TG_DNS_MX ? rd + 2 : rd, buf,
			    blen, name, sizeof name, &used) < 0)
				continue;
			q->str[q->n] = tg_xstrdup(name);
			break;
		}
		q->n++;
		if (rttl < ttl)
			ttl = rttl;
	}
	q->ttl = q->n > 0 ? ttl : soa != UINT_MAX ? soa : 0;
	return 0;
}

void
tg_dns_set_backend(tg_dns_backend_fn fn)
{
	dns_backend = fn;
}

void
tg_dns_answer(struct tg_dns_query *q, int rcode, const unsigned char *pkt,
    size_t len)
{
	if ((rcode != 0 && rcode != 3) || pkt == NULL || len > INT_MAX ||
	    dns_read(q, pkt, (int)len) < 0) {
		tg_dns_query_clear(q);
		q->status = TG_DNS_FAIL;
		return;
	}
	q->status = rcode == 3 ? TG_DNS_NXDOMAIN : q->n > 0 ? TG_DNS_OK :
	    TG_DNS_NODATA;
}

/* This thread's answer book (set by an event loop around an evaluation
 * whose lookups it prefetched), and whether it is an event loop, on
 * which a lookup the book does not hold would block every session. */
static _Thread_local struct tg_dns_book *dns_book;
static _Thread_local int dns_on_loop;
static atomic_ullong dns_loop_misses;

void
tg_dns_use_book(struct tg_dns_book *bk)
{
	dns_book = bk;
}

void
tg_dns_on_loop(int on)
{
	dns_on_loop = on;
}

unsigned long long
tg_dns_loop_misses(void)
{
	return atomic_load(&dns_loop_misses);
}

/* dns_loop_miss - a lookup not prefetched, on an event loop thread: it
 * is resolved here all the same (the verdict must not change), but the
 * loop waits for it: counted and logged, a bug of the prefetch plan. */
static void
dns_loop_miss(const struct tg_dns_query *q)
{
	static const char *const tn[] = { "A", "AAAA", "TXT", "PTR", "MX" };

	atomic_fetch_add(&dns_loop_misses, 1);
	tg_metrics_error(TG_M_DNS_LOOP_MISS);
	tg_log_warnx("dns: %s %s was not prefetched: looked up on the event "
	    "loop thread, which waits for it", tn[q->type], q->name);
}

/* What one call of tg_dns_resolve() waits for. */
struct dns_batch {
	struct tg_dns_query	*q;
	size_t			 pending;
};

struct dns_slot {
	struct dns_batch	*b;
	size_t			 i;
};

static void
dns_callback(void *arg, int status, int timeouts, unsigned char *abuf,
    int alen)
{
	struct dns_slot *sl = arg;
	struct tg_dns_query *q = &sl->b->q[sl->i];

	(void)timeouts;
	sl->b->pending--;
	switch (status) {
	case ARES_SUCCESS:
	case ARES_ENODATA:
	case ARES_ENOTFOUND:
		if (abuf == NULL || dns_read(q, abuf, alen) < 0) {
			tg_dns_query_clear(q);
			q->status = TG_DNS_FAIL;
			break;
		}
		q->status = status == ARES_ENOTFOUND ? TG_DNS_NXDOMAIN :
		    q->n > 0 ? TG_DNS_OK : TG_DNS_NODATA;
		break;
	default:	/* SERVFAIL, REFUSED, timeout, cancelled, bad reply */
		q->status = TG_DNS_FAIL;
		break;
	}
}

static long long
dns_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* dns_wait - run ch until b is answered or the deadline has passed */
static void
dns_wait(ares_channel ch, struct dns_batch *b, long long deadline)
{
	ares_socket_t socks[ARES_GETSOCK_MAXNUM];
	struct pollfd pfd[ARES_GETSOCK_MAXNUM];
	long long left;

	while (b->pending > 0 && (left = deadline - dns_now_ms()) > 0) {
		struct timeval max, tv, *tvp;
		int bits = ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
		int n = 0, wait;

		for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			if (!ARES_GETSOCK_READABLE(bits, i) &&
			    !ARES_GETSOCK_WRITABLE(bits, i))
				continue;
			pfd[n].fd = socks[i];
			pfd[n].events = (ARES_GETSOCK_READABLE(bits, i) ?
			    POLLIN : 0) | (ARES_GETSOCK_WRITABLE(bits, i) ?
			    POLLOUT : 0);
			pfd[n].revents = 0;
			n++;
		}
		/* c-ares's own retry time, within the deadline. */
		max.tv_sec = (time_t)(left / 1000);
		max.tv_usec = (suseconds_t)(left % 1000) * 1000;
		tvp = ares_timeout(ch, &max, &tv);
		wait = (int)(tvp->tv_sec * 1000 + tvp->tv_usec / 1000);
		if (poll(pfd, (nfds_t)n, wait > 0 ? wait : 1) <= 0) {
			/* Timeouts: the next try, or the callback. */
			ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
			continue;
		}
		for (int i = 0; i < n; i++)
			if (pfd[i].revents != 0)
				ares_process_fd(ch, pfd[i].revents & (POLLIN |
				    POLLERR | POLLHUP) ? pfd[i].fd :
				    ARES_SOCKET_BAD, pfd[i].revents & POLLOUT ?
				    pfd[i].fd : ARES_SOCKET_BAD);
	}
}

int
tg_dns_resolve(struct tg_dns *d, struct tg_dns_query *q, size_t n)
{
	long long deadline = dns_now_ms() + d->timeout_ms;
	struct dns_batch b = { q, 0 };
	struct dns_slot *slot;
	ares_channel *ch;
	uint64_t t0;
	char *asked;

	/* Which of q are looked up now, for the DNS error count and the
	 * cache. */
	asked = tg_xcalloc(n > 0 ? n : 1, 1);
	for (size_t i = 0; i < n; i++) {
		/* The session's prefetched answers first: they are what the
		 * network said for this evaluation, even with TTL 0. */
		asked[i] = q[i].status == TG_DNS_PENDING &&
		    (dns_book == NULL || !tg_dns_book_get(dns_book, &q[i])) &&
		    !tg_dns_cache_get(d->cache, &q[i]);
		if (asked[i] && dns_on_loop)
			dns_loop_miss(&q[i]);
		b.pending += asked[i];
	}
	if (b.pending == 0) {
		free(asked);
		return TG_OK;
	}
	if (dns_backend != NULL) {
		/* Pending ones only: those of the cache are answered. */
		struct tg_dns_query *sub = tg_xcalloc(n, sizeof *sub);

		/* The backend sees the asked ones only, in order. */
		for (size_t i = 0, k = 0; i < n; i++)
			if (asked[i])
				sub[k++] = q[i];
		dns_backend(sub, b.pending);
		for (size_t i = 0, k = 0; i < n; i++)
			if (asked[i]) {
				q[i] = sub[k++];
				if (q[i].status == TG_DNS_PENDING)
					q[i].status = TG_DNS_FAIL;
			}
		free(sub);
		goto done;
	}
	if ((ch = dns_channel(d)) == NULL) {
		for (size_t i = 0; i < n; i++)
			if (asked[i]) {
				q[i].status = TG_DNS_FAIL;
				tg_metrics_error(TG_M_DNS_ERROR);
			}
		free(asked);
		return TG_ERR_RETRY;
	}
	t0 = tg_metrics_now();
	slot = tg_xcalloc(n, sizeof *slot);
	for (size_t i = 0; i < n; i++) {
		if (!asked[i])
			continue;
		slot[i].b = &b;
		slot[i].i = i;
		/* The callback may run at once (a malformed name). */
		ares_query(*ch, q[i].name, 1 /* IN */, dns_rrtype[q[i].type],
		    dns_callback, &slot[i]);
	}
	dns_wait(*ch, &b, deadline);
	tg_metrics_latency(TG_M_LAT_DNS, t0);
	if (b.pending > 0) {
		tg_log_debug("dns: %zu of %zu lookups timed out after %d ms",
		    b.pending, n, d->timeout_ms);
		/* Every callback runs now (ARES_ECANCELLED): FAIL. */
		ares_cancel(*ch);
	}
	free(slot);
done:
	for (size_t i = 0; i < n; i++)
		if (!asked[i])
			continue;
		else if (q[i].status == TG_DNS_FAIL)
			tg_metrics_error(TG_M_DNS_ERROR);
		else
			tg_dns_cache_put(d->cache, &q[i]);
	free(asked);
	return TG_OK;
}

int
tg_dns_cached(struct tg_dns *d, struct tg_dns_query *q)
{
	return tg_dns_cache_get(d->cache, q);
}

void
tg_dns_settle(struct tg_dns *d, const struct tg_dns_query *q)
{
	if (q->status == TG_DNS_FAIL)
		tg_metrics_error(TG_M_DNS_ERROR);
	else
		tg_dns_cache_put(d->cache, q);
}
