/* mproto_dns.c - DNS on the native engine's event loops, by prefetch. A
 * command whose stage waits on the DNS checks alone (client.ptr,
 * client.rdns, client.fcrdns, helo.resolves, dnslist, dnslist.score:
 * mproto_block.c) is not handed to a worker: its session is parked on its
 * loop (busy: reads paused, its timers running), the questions its
 * stage's rules may ask are worked out from the pinned policy and the
 * session (tg_check_prefetch(), round by round: PTR then the forward
 * names, A of a HELO name then AAAA and MX, A of the lists then TXT of
 * those that list) and sent on the loop's c-ares channel (dns_async.c),
 * whose sockets are in the loop's epoll set. Each answer, or the timeout
 * of its round (the policy's DNS timeout, as a synchronous round), goes
 * into the session's answer book; when a round brings no new question
 * the command runs on the loop with the book as the thread's, so every
 * lookup of the checks is answered from it, exactly as the network
 * answered (TTL 0 included, a timeout the same failure): verdicts,
 * replies and the DNS failure rules are those of the worker path. A
 * lookup the plan missed is counted (tollgate_dns_loop_misses_total).
 *
 * What stays on workers (mproto_work.c): SPF (libspf2 resolves through
 * its own synchronous resolver interface and evaluates recursively),
 * the SASL database, DKIM and DMARC (libopendkim's key queries), Redis
 * stores, MAIL (it may re-pin another policy, and its sender domain is
 * the driver's parse) and CONNECT after QUIT_NC (it pins anew).
 *
 * SPF on the loop, the design for the next step: libspf2's resolver is a
 * vtable (SPF_dns_server_t: lookup(server, domain, rr_type, should_cache)
 * returning an SPF_dns_rr_t), and its evaluation calls it synchronously,
 * depth first (include:, redirect=, a, mx, ptr, exists, macros), so its
 * questions cannot be known ahead. Two ways: (1) replay: a resolver layer
 * whose lookup answers from the session's book and, on a miss, records
 * the question and returns a "not yet" (TRY_AGAIN) that the check turns
 * into "suspend": the loop sends the recorded questions, and on their
 * answers the whole SPF evaluation runs again from the start (pure given
 * the book), until it completes without a miss. An evaluation of n
 * dependent rounds runs n + 1 times (bounded by RFC 7208's 10 lookups,
 * so at most ~11 cheap runs, and check_spf_cache.c's result cache makes
 * repeat senders one run). libspf2 is kept, its parser and macro
 * expansion too. (2) An evaluator of our own as a state machine that
 * yields on each DNS round: no re-runs, but a second SPF implementation
 * to keep right against RFC 7208's test suite. (1) first: the check
 * gets a "suspended" result beside its -1, the engine a "suspend and
 * resume" for a command (its evaluation re-run from the rule that
 * suspended is not needed: the stage reruns, which is pure up to the
 * first action, and actions run only once the stage completes).
 *
 * Owns: the loop's channel (dns_async.c) and the parked sessions' waits
 * and books. Threads: one loop's thread. */
#include "config.h"

#include <sys/epoll.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_check.h"
#include "tg_dns.h"
#include "tg_engine.h"
#include "tg_log.h"
#include "tg_metrics.h"
#include "tg_policy.h"
#include "tg_session.h"
#include "mproto_dns.h"
#include "mproto_impl.h"
#include "mproto_wire.h"

#define DNS_ROUNDS	8	/* the checks need 2; a bound, not a plan */
#define DNS_EXTRA	8	/* PTR names, HELO types, beside the lists */
/* Sessions parked per loop, at most: each holds its questions and answers
 * (tens of KiB) while it waits, so a flood of connections on a slow
 * resolver must not grow memory without end. Past it, commands go to the
 * workers, whose queue holds a session and nothing more. */
#define DNS_PARKED_MAX	512
#define MP_ARGS_MAX	64	/* RCPT arguments looked at (as mproto_sess.c) */

struct mp_dns_wait {
	struct mp_dns		*md;
	struct mp_sess		*s;
	struct tg_dns		*d;		/* the pinned policy's */
	unsigned		 needs;		/* TG_CHECK_NEED_* */
	struct tg_ip		 ip;
	int			 ip_set;	/* CONNECT's address */
	char			*helo;		/* HELO's argument */
	struct tg_dns_book	*bk;
	struct tg_dns_query	*q;		/* this round's questions */
	struct tg_dns_ask	**ask;
	size_t			 n, max, pending;
	int			 rounds;
	int64_t			 deadline;	/* of the round; 0: none */
	uint64_t		 t0;		/* for the DNS latency */
	int			 state;		/* WAIT_* */
	struct mp_dns_wait	*prev, *next;	/* md's waits */
};

enum { WAIT_ASKING, WAIT_DUE, WAIT_READY };

struct mp_dns {
	int			 epfd;
	int			 nwait;		/* parked sessions */
	struct tg_dns_async	*a;
	struct mp_dns_wait	*head;
};

/* dns_watch - c-ares's sockets into (or out of) the loop's epoll set */
static void
dns_watch(void *arg, int fd, void *tag, int rd, int wr)
{
	struct mp_dns *md = arg;
	struct epoll_event ev;

	memset(&ev, 0, sizeof ev);
	ev.events = (rd ? EPOLLIN : 0) | (wr ? EPOLLOUT : 0);
	ev.data.ptr = tag;
	if (!rd && !wr) {
		(void)epoll_ctl(md->epfd, EPOLL_CTL_DEL, fd, NULL);
		return;
	}
	if (epoll_ctl(md->epfd, EPOLL_CTL_MOD, fd, &ev) != 0 &&
	    (errno != ENOENT ||
	    epoll_ctl(md->epfd, EPOLL_CTL_ADD, fd, &ev) != 0))
		tg_log_warn("native engine: epoll_ctl (DNS)");
}

struct mp_dns *
mp_dns_new(int epfd)
{
	struct mp_dns *md = tg_xcalloc(1, sizeof *md);

	md->epfd = epfd;
	md->a = tg_dns_async_new(dns_watch, md);
	return md;
}

/* wait_free - a wait goes (its asks forgotten) */
static void
wait_free(struct mp_dns_wait *w)
{
	struct mp_dns *md = w->md;

	for (size_t i = 0; i < w->n; i++) {
		tg_dns_async_forget(w->ask[i]);
		tg_dns_query_clear(&w->q[i]);
	}
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		md->head = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	if (w->s != NULL)
		w->s->dwait = NULL;
	md->nwait--;
	tg_dns_book_free(w->bk);
	free(w->helo);
	free(w->q);
	free(w->ask);
	free(w);
}

void
mp_dns_free(struct mp_dns *md)
{
	if (md == NULL)
		return;
	while (md->head != NULL)
		wait_free(md->head);
	tg_dns_async_free(md->a);
	free(md);
}

int
mp_dns_owns(const struct mp_dns *md, const void *tag)
{
	return md != NULL && tg_dns_async_owns(md->a, tag);
}

void
mp_dns_event(struct mp_dns *md, void *tag, unsigned ev)
{
	tg_dns_async_ready(md->a, tag, (ev & (EPOLLIN | EPOLLERR |
	    EPOLLHUP)) != 0, (ev & EPOLLOUT) != 0);
}

/* wait_settle - q of w is answered: into the book, the cache and the
 * error count, as tg_dns_resolve() does */
static void
wait_settle(struct mp_dns_wait *w, struct tg_dns_query *q)
{
	tg_dns_book_put(w->bk, q);
	tg_dns_settle(w->d, q);
}

/* wait_answered - dns_async.c's callback */
static void
wait_answered(void *arg, struct tg_dns_query *q)
{
	struct mp_dns_wait *w = arg;

	w->ask[q - w->q] = NULL;
	wait_settle(w, q);
	if (--w->pending == 0 && w->state == WAIT_ASKING) {
		tg_metrics_latency(TG_M_LAT_DNS, w->t0);
		w->state = WAIT_DUE;
	}
}

/* wait_round - the next round of questions: those the cache answers go
 * into the book at once, the others on the network; with none left to
 * ask, the session is ready */
static void
wait_round(struct mp_dns_wait *w, int64_t now)
{
	const struct tg_policy *p = w->s->conn->policy;

	while (w->rounds++ < DNS_ROUNDS) {
		size_t sent = 0;

		for (size_t i = 0; i < w->n; i++)
			tg_dns_query_clear(&w->q[i]);
		w->n = tg_check_prefetch(p, &w->s->conn->sess, w->needs,
		    w->ip_set ? &w->ip : NULL, w->helo, w->bk, w->q, w->max);
		if (w->n == 0)
			break;
		w->pending = 0;
		w->state = WAIT_ASKING;
		w->t0 = tg_metrics_now();
		for (size_t i = 0; i < w->n; i++) {
			w->ask[i] = NULL;
			if (tg_dns_cached(w->d, &w->q[i]))
				tg_dns_book_put(w->bk, &w->q[i]);
			else
				w->pending++;
		}
		for (size_t i = 0; i < w->n; i++) {
			if (w->q[i].status != TG_DNS_PENDING ||
			    tg_dns_book_find(w->bk, w->q[i].name,
			    w->q[i].type) != NULL)
				continue;
			sent++;
			/* May answer at once (a name c-ares refuses). */
			w->ask[i] = tg_dns_async_ask(w->md->a, w->d, &w->q[i],
			    wait_answered, w);
		}
		if (w->pending > 0) {
			w->deadline = now + tg_dns_timeout(w->d);
			return;
		}
		if (sent > 0)
			tg_metrics_latency(TG_M_LAT_DNS, w->t0);
	}
	w->deadline = 0;
	w->state = WAIT_READY;
}

/* wait_expire - a round's time is up: what is not answered fails, as
 * a synchronous round's does */
static void
wait_expire(struct mp_dns_wait *w)
{
	size_t late = 0;

	for (size_t i = 0; i < w->n; i++) {
		if (w->ask[i] == NULL)
			continue;
		tg_dns_async_forget(w->ask[i]);
		w->ask[i] = NULL;
		tg_dns_query_clear(&w->q[i]);
		w->q[i].status = TG_DNS_FAIL;
		wait_settle(w, &w->q[i]);
		late++;
	}
	tg_log_debug("dns: %zu of %zu lookups timed out after %d ms", late,
	    w->n, tg_dns_timeout(w->d));
	tg_metrics_latency(TG_M_LAT_DNS, w->t0);
	w->pending = 0;
	w->state = WAIT_DUE;
}

/* dns_stage - the stage a parked command evaluates */
static int
dns_stage(char cmd)
{
	switch (cmd) {
	case SMFIC_CONNECT:	return TG_STAGE_CONNECT;
	case SMFIC_HELO:	return TG_STAGE_HELO;
	case SMFIC_RCPT:	return TG_STAGE_RCPT;
	case SMFIC_DATA:	return TG_STAGE_DATA;
	case SMFIC_BODYEOB:	return TG_STAGE_EOM;
	default:		return -1;
	}
}

/* dns_connect_ip - the client address CONNECT sets, read as the driver
 * reads it (drive.c); -1 when it has none (the macro then: a worker) */
static int
dns_connect_ip(const char *data, size_t len, struct tg_ip *ip)
{
	struct sockaddr_storage ss;
	char buf[INET6_ADDRSTRLEN];
	const char *host;
	int known;

	if (mp_connect_parse(data, len, &host, &ss, &known) != 0 || !known)
		return -1;
	memset(ip, 0, sizeof *ip);
	if (ss.ss_family == AF_INET) {
		ip->family = 4;
		memcpy(ip->b, &((struct sockaddr_in *)(void *)&ss)->sin_addr,
		    4);
		return 0;
	}
	if (ss.ss_family == AF_INET6 && inet_ntop(AF_INET6,
	    &((struct sockaddr_in6 *)(void *)&ss)->sin6_addr, buf,
	    sizeof buf) != NULL && tg_ip_parse(buf, ip) == 0)
		return 0;
	return -1;
}

int
mp_dns_park(struct mp_dns *md, struct mp_sess *s, int64_t now)
{
	const char *pkt = s->in.p, *data = pkt + MP_HDRLEN;
	size_t len = mp_get32(pkt) - 1;
	const struct tg_policy *p = s->conn != NULL ? s->conn->policy : NULL;
	struct mp_dns_wait *w;
	int st = dns_stage(pkt[4]);

	/* End of message with a last piece of body: the body (size, MIME)
	 * the rules read is not yet the session's, so the plan could not
	 * see it: a worker. The MTAs send it empty. */
	if (st < 0 || p == NULL || p->dns == NULL || p->dns->dns == NULL ||
	    md->nwait >= DNS_PARKED_MAX ||
	    (pkt[4] == SMFIC_BODYEOB && len > 0))
		return -1;
	w = tg_xcalloc(1, sizeof *w);
	/* What the command sets first (its handler in mproto_sess.c sets it
	 * again, the same): the rules' guards on the client or the HELO name
	 * then cut off the lookups behind them, as they do on a worker. */
	if (pkt[4] == SMFIC_CONNECT) {
		struct sockaddr_storage ss;
		const char *host;
		int known;

		if (dns_connect_ip(data, len, &w->ip) != 0 ||
		    mp_connect_parse(data, len, &host, &ss, &known) != 0) {
			free(w);
			return -1;
		}
		w->ip_set = 1;
		mp_macros_clear(s->mac, TG_DRIVE_M_CONNECT + 1);
		tg_drive_connect_facts_sa(s->conn, host,
		    (const struct sockaddr *)&ss);
	} else if (pkt[4] == SMFIC_HELO) {
		if (len == 0 || data[len - 1] != '\0') {
			free(w);	/* malformed: the worker says so */
			return -1;
		}
		w->helo = tg_xstrdup(data);
		mp_macros_clear(s->mac, TG_DRIVE_M_HELO + 1);
		tg_drive_helo_facts(s->conn, data);
	}
	if (pkt[4] == SMFIC_RCPT) {
		const char *argv[MP_ARGS_MAX];

		if (mp_argv(data, len, argv, MP_ARGS_MAX) <= 0) {
			free(w);
			return -1;
		}
		/* What tg_drive_rcpt() sets first, set now (it is set again
		 * from the same text): the rules' guards on the recipient
		 * then cut off the lookups behind them. */
		(void)tg_session_set(&s->conn->sess, TG_A_RCPT, argv[0]);
	}
	w->md = md;
	w->s = s;
	w->d = p->dns->dns;
	/* Only the checks the rules can reach with what is known. */
	w->needs = tg_engine_prefetch_needs(p, &s->conn->sess,
	    (enum tg_stage)st, 1);
	w->bk = tg_dns_book_new();
	/* A round asks at most one question per list, and a few more; one
	 * that does not fit is asked in the next round. */
	w->max = p->dns->nlists + DNS_EXTRA;
	w->q = tg_xcalloc(w->max, sizeof *w->q);
	w->ask = tg_xcalloc(w->max, sizeof *w->ask);
	w->next = md->head;
	if (md->head != NULL)
		md->head->prev = w;
	md->head = w;
	md->nwait++;
	s->dwait = w;
	wait_round(w, now);
	return 0;
}

int
mp_dns_tick(struct mp_dns *md, int64_t now)
{
	int64_t next = -1;
	int t;

	tg_dns_async_tick(md->a);
	for (struct mp_dns_wait *w = md->head; w != NULL; w = w->next) {
		if (w->state == WAIT_ASKING && w->deadline <= now)
			wait_expire(w);
		if (w->state == WAIT_DUE)
			wait_round(w, now);
		if (w->state == WAIT_READY)
			next = 0;
		else if (next < 0 || w->deadline - now < next)
			next = w->deadline > now ? w->deadline - now : 0;
	}
	if ((t = tg_dns_async_timeout(md->a)) >= 0 && (next < 0 || t < next))
		next = t;
	return (int)next;
}

struct mp_sess *
mp_dns_ready(struct mp_dns *md)
{
	for (struct mp_dns_wait *w = md->head; w != NULL; w = w->next)
		if (w->state == WAIT_READY)
			return w->s;
	return NULL;
}

void
mp_dns_run(struct mp_sess *s)
{
	struct mp_dns_wait *w = s->dwait;

	tg_dns_use_book(w->bk);
	s->job_closes = mp_sess_job(s, s->in.p) == MP_FEED_CLOSE;
	tg_dns_use_book(NULL);
	wait_free(w);
}

void
mp_dns_drop(struct mp_sess *s)
{
	if (s->dwait != NULL) {
		s->dwait->s = NULL;
		wait_free(s->dwait);
		s->dwait = NULL;
	}
}

void
mp_dns_stop(struct mp_dns *md)
{
	for (struct mp_dns_wait *w = md->head; w != NULL; w = w->next) {
		for (size_t i = 0; i < w->n; i++) {
			tg_dns_async_forget(w->ask[i]);
			w->ask[i] = NULL;
		}
		w->pending = 0;
		w->state = WAIT_READY;
	}
}
