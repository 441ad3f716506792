/* dns_async.c - DNS without waiting, for an event loop: c-ares channels
 * whose sockets the loop watches (c-ares's socket-state callback tells
 * which, tg_dns_async_ready() hands readiness back) and whose retries
 * and timeouts run from the loop's timer (ares_timeout()). A channel is
 * set up as tg_dns_resolve()'s (dns.c: servers, EDNS0, two tries of half
 * the policy's timeout) for one struct tg_dns; after a reload that names
 * another, the old channel answers what it was asked and is then closed.
 * Answers are read as the synchronous path reads them (tg_dns_answer()):
 * the same checks of ids, names and types, the same failures. Owns: its
 * channels and asks. Threads: one loop thread uses an instance. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <ares.h>

#include "tg.h"
#include "tg_dns.h"
#include "tg_log.h"
#include "dns_impl.h"

#define ASYNC_CHANS	4			/* current + retiring */
/* Sockets watched: each channel has at most ARES_GETSOCK_MAXNUM at once
 * (one UDP and one TCP per server), and up to ASYNC_CHANS channels are
 * open together (a reload's new resolver beside the retiring ones). */
#define ASYNC_FDS	(ASYNC_CHANS * ARES_GETSOCK_MAXNUM)

struct tg_dns_async;

struct async_chan {
	struct tg_dns_async	*a;
	ares_channel		 ch;
	unsigned long long	 serial;	/* of its struct tg_dns; 0: free */
	size_t			 pending;	/* asks not answered */
};

struct async_fd {
	int			 fd;		/* -1: free */
	struct async_chan	*c;
};

struct tg_dns_ask {
	struct async_chan	*c;
	struct tg_dns_query	*q;	/* NULL: forgotten */
	tg_dns_done_fn		 done;
	void			*arg;
};

struct tg_dns_async {
	struct async_chan	 chans[ASYNC_CHANS];
	struct async_chan	*cur;		/* the newest, or NULL */
	struct async_fd		 fds[ASYNC_FDS];
	tg_dns_watch_fn		 watch;
	void			*warg;
};

struct tg_dns_async *
tg_dns_async_new(tg_dns_watch_fn watch, void *arg)
{
	struct tg_dns_async *a = tg_xcalloc(1, sizeof *a);

	a->watch = watch;
	a->warg = arg;
	for (size_t i = 0; i < ASYNC_FDS; i++)
		a->fds[i].fd = -1;
	return a;
}

/* async_sock - c-ares opens, watches or closes a socket of channel c */
static void
async_sock(void *data, ares_socket_t fd, int rd, int wr)
{
	struct async_chan *c = data;
	struct tg_dns_async *a = c->a;
	struct async_fd *f = NULL;

	for (size_t i = 0; i < ASYNC_FDS && f == NULL; i++)
		if (a->fds[i].fd == (int)fd)
			f = &a->fds[i];
	for (size_t i = 0; i < ASYNC_FDS && f == NULL && (rd || wr); i++)
		if (a->fds[i].fd < 0)
			f = &a->fds[i];
	/* Cannot be (ASYNC_FDS above); were it, the socket's answers would
	 * be lost and its lookups fail after the timeout: say so. */
	if (f == NULL) {
		tg_log_err("dns: more than %d resolver sockets on one loop; "
		    "socket %d not watched", ASYNC_FDS, (int)fd);
		return;
	}
	f->fd = (int)fd;
	f->c = c;
	a->watch(a->warg, (int)fd, f, rd, wr);
	if (!rd && !wr)
		f->fd = -1;
}

/* async_close - a channel goes; what it still owes is answered FAIL */
static void
async_close(struct async_chan *c)
{
	ares_destroy(c->ch);
	c->serial = 0;
	c->pending = 0;
	if (c->a->cur == c)
		c->a->cur = NULL;
}

void
tg_dns_async_free(struct tg_dns_async *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < ASYNC_CHANS; i++)
		if (a->chans[i].serial != 0)
			async_close(&a->chans[i]);
	free(a);
}

int
tg_dns_async_owns(const struct tg_dns_async *a, const void *tag)
{
	return a != NULL && (const char *)tag >= (const char *)a->fds &&
	    (const char *)tag < (const char *)(a->fds + ASYNC_FDS);
}

void
tg_dns_async_ready(struct tg_dns_async *a, void *tag, int rd, int wr)
{
	struct async_fd *f = tag;
	int fd = f->fd;

	(void)a;
	if (fd < 0)
		return;
	ares_process_fd(f->c->ch, rd ? fd : ARES_SOCKET_BAD,
	    wr ? fd : ARES_SOCKET_BAD);
}

int
tg_dns_async_timeout(struct tg_dns_async *a)
{
	long best = -1;

	for (size_t i = 0; i < ASYNC_CHANS; i++) {
		struct async_chan *c = &a->chans[i];
		struct timeval tv, *tvp;
		long ms;

		if (c->serial == 0 || c->pending == 0)
			continue;
		if ((tvp = ares_timeout(c->ch, NULL, &tv)) == NULL)
			continue;
		/* Rounded up: woken before the retry is due, the loop would
		 * spin until it is. */
		ms = (long)tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000;
		if (best < 0 || ms < best)
			best = ms;
	}
	return best > 60000 ? 60000 : (int)best;
}

void
tg_dns_async_tick(struct tg_dns_async *a)
{
	for (size_t i = 0; i < ASYNC_CHANS; i++) {
		struct async_chan *c = &a->chans[i];

		if (c->serial == 0)
			continue;
		if (c->pending > 0)
			ares_process_fd(c->ch, ARES_SOCKET_BAD,
			    ARES_SOCKET_BAD);
		/* A retired channel with nothing left to answer. */
		if (c->pending == 0 && c != a->cur)
			async_close(c);
	}
}

/* async_chan_for - the channel for d: the current one, or a new one
 * (the old one retires); NULL when none can be set up */
static struct async_chan *
async_chan_for(struct tg_dns_async *a, struct tg_dns *d)
{
	unsigned long long serial = tg_dns_serial(d);
	struct async_chan *c = NULL;

	if (a->cur != NULL && a->cur->serial == serial)
		return a->cur;
	for (size_t i = 0; i < ASYNC_CHANS && c == NULL; i++)
		if (a->chans[i].serial == serial)
			c = &a->chans[i];	/* policies alternate */
	for (size_t i = 0; i < ASYNC_CHANS && c == NULL; i++)
		if (a->chans[i].serial == 0)
			c = &a->chans[i];
	if (c == NULL) {
		/* Every slot busy with old resolvers: the oldest answers
		 * its asks FAIL now. */
		c = a->cur != &a->chans[0] ? &a->chans[0] : &a->chans[1];
		async_close(c);
	}
	if (c->serial == 0) {
		c->a = a;
		c->pending = 0;
		if (tg_dns_channel_open(d, &c->ch, async_sock, c) != 0)
			return NULL;
		c->serial = serial;
	}
	a->cur = c;
	return c;
}

/* async_answer - c-ares's callback: q answered as dns.c reads a reply */
static void
async_answer(void *arg, int status, int timeouts, unsigned char *abuf,
    int alen)
{
	struct tg_dns_ask *k = arg;

	(void)timeouts;
	k->c->pending--;
	if (k->q != NULL) {
		switch (status) {
		case ARES_SUCCESS:
		case ARES_ENODATA:
		case ARES_ENOTFOUND:
			tg_dns_answer(k->q, status == ARES_ENOTFOUND ? 3 : 0,
			    abuf, abuf != NULL && alen > 0 ? (size_t)alen : 0);
			break;
		default:	/* SERVFAIL, REFUSED, timeout, bad reply */
			k->q->status = TG_DNS_FAIL;
			break;
		}
		k->done(k->arg, k->q);
	}
	free(k);
}

struct tg_dns_ask *
tg_dns_async_ask(struct tg_dns_async *a, struct tg_dns *d,
    struct tg_dns_query *q, tg_dns_done_fn done, void *arg)
{
	struct async_chan *c = async_chan_for(a, d);
	struct tg_dns_ask *k;

	if (c == NULL) {
		q->status = TG_DNS_FAIL;
		done(arg, q);
		return NULL;
	}
	k = tg_xcalloc(1, sizeof *k);
	k->c = c;
	k->q = q;
	k->done = done;
	k->arg = arg;
	c->pending++;
	/* The callback may run at once (a malformed name): then k is gone
	 * when this returns, and the caller must not keep it. */
	ares_query(c->ch, q->name, 1 /* IN */, tg_dns_rrtype(q->type),
	    async_answer, k);
	return q->status == TG_DNS_PENDING ? k : NULL;
}

void
tg_dns_async_forget(struct tg_dns_ask *k)
{
	if (k != NULL)
		k->q = NULL;
}
