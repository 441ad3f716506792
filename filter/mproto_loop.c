/* mproto_loop.c - the native engine's event loops. Each loop thread has
 * its own epoll set; all of them watch the one listening socket
 * (EPOLLEXCLUSIVE: one is woken per connection) and a connection stays
 * with the loop that accepted it, so no command is handed between
 * threads. Per wake-up a connection gets one read, every complete packet
 * in it is handled (mproto_sess.c), and the answers go out in one write.
 * A command that may wait on the network goes to a worker
 * (mproto_work.c); the connection's socket is out of the epoll set until
 * the worker gives it back through the loop's eventfd. One that waits on
 * the DNS checks alone is parked on the loop instead (mproto_dns.c: the
 * loop's own c-ares channel, its sockets in the same epoll set) and runs
 * here once its answers are in. Timers: one list
 * per loop ordered by last activity (not yet negotiated, and negotiated
 * sessions, each with its own timeout), looked at when epoll_wait
 * returns; its timeout is the nearest deadline, so an idle daemon sleeps.
 * Owns: the loops, their sessions and descriptors. Threads: a loop's
 * sessions are its own; workers touch a session only while it is busy;
 * the finished list is the only thing a worker and a loop share. */
#include "config.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tg.h"
#include "tg_dns.h"
#include "tg_log.h"
#include "mproto.h"
#include "mproto_dns.h"
#include "mproto_impl.h"
#include "mproto_listen.h"

#define LOOP_MAX		8		/* loops by default, at most */
#define LOOP_EVENTS		64		/* per epoll_wait */
#define LOOP_ACCEPTS		16		/* per wake-up of the listener */
#define LOOP_RBUF		(256 * 1024)	/* one read, several packets */
/* A connection that has not negotiated within this is closed (the MTAs
 * negotiate at once); a negotiated one that says nothing for as long as
 * libmilter waits for a command (its default timeout). */
#define LOOP_NEG_MS		(30 * 1000)
#define LOOP_IDLE_MS		(7210LL * 1000)
/* At end of message, a command running on a worker this long gets the
 * MTA a progress packet, and one more each time as long again: Sendmail
 * and Postfix then wait on (its end-of-message timeout restarts). */
#define LOOP_PROGRESS_MS	(10 * 1000)
#define LOOP_EMFILE_MS		100		/* accept paused */

/* A session's list: by when it is due (see LOOP_*_MS). */
struct loop_list {
	struct mp_sess	*head, *tail;
	int64_t		 timeout_ms;
};

struct mp_loop {
	pthread_t	 th;
	int		 epfd, evfd;
	pthread_mutex_t	 mu;		/* guards done */
	struct mp_sess	*done;		/* given back by workers */
	struct loop_list fresh, active;
	int		 nsess;
	int		 neom;		/* busy at end of message */
	int		 listening;	/* the listener is in epfd */
	int64_t		 listen_at;	/* re-add it then (EMFILE), or 0 */
	char		*rbuf;
	struct mp_dns	*dns;		/* lookups without waiting */
};

static struct {
	struct mp_loop	*loops;		/* loops and nloops under mu: the
					 * signal thread reads them to wake
					 * the loops (tg_mproto_stop()) */
	int		 nloops;
	atomic_int	 stop;		/* tg_mproto_stop() was called */
	atomic_int	 quit;		/* the loops end */
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;		/* run() waits for stop */
	int64_t		 emfile_logged;
} loop = { NULL, 0, 0, 0, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_COND_INITIALIZER, 0 };

/* Tags in epoll_event.data for what is not a session. */
static char loop_tag_listen, loop_tag_wake;

static int64_t
loop_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- Timer lists -------------------------------------------------------- */

/* loop_list_of - where s belongs: fresh until it has negotiated. Read
 * only when s is not busy (a worker may change its state). */
static struct loop_list *
loop_list_of(struct mp_loop *l, const struct mp_sess *s)
{
	return s->state == MP_ST_INIT ? &l->fresh : &l->active;
}

static void
loop_unlink(struct mp_sess *s)
{
	struct loop_list *q = s->tlist;

	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		q->head = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	else
		q->tail = s->prev;
	s->prev = s->next = NULL;
}

static void
loop_append(struct loop_list *q, struct mp_sess *s)
{
	s->tlist = q;
	s->prev = q->tail;
	s->next = NULL;
	if (q->tail != NULL)
		q->tail->next = s;
	else
		q->head = s;
	q->tail = s;
}

/* loop_touch - s was active now: to the end of its list (a busy one
 * stays on the one it is on) */
static void
loop_touch(struct mp_loop *l, struct mp_sess *s, int64_t now)
{
	struct loop_list *q = s->busy ? s->tlist : loop_list_of(l, s);

	loop_unlink(s);
	s->active_ms = now;
	loop_append(q, s);
}

/* ---- Sessions ----------------------------------------------------------- */

/* loop_interest - the epoll events s wants now: input unless it is
 * busy, closing or has too much output waiting; output while any waits */
static void
loop_interest(struct mp_loop *l, struct mp_sess *s)
{
	struct epoll_event ev;
	unsigned want = 0;
	int op;

	if (!s->busy) {
		if (!s->closing && !s->hup && s->out.len < MP_OUT_HIGH)
			want |= EPOLLIN;
		if (s->out.len > 0)
			want |= EPOLLOUT;
	}
	if (want == s->evmask)
		return;
	memset(&ev, 0, sizeof ev);
	ev.events = want;
	ev.data.ptr = s;
	op = s->evmask == 0 ? EPOLL_CTL_ADD : want == 0 ? EPOLL_CTL_DEL :
	    EPOLL_CTL_MOD;
	if (epoll_ctl(l->epfd, op, s->fd, &ev) != 0)
		tg_log_warn("native engine: epoll_ctl");
	s->evmask = want;
}

/* loop_flush - write what waits; -1 when the connection is broken */
static int
loop_flush(struct mp_sess *s)
{
	ssize_t n;

	while (s->out.len > 0) {
		n = write(s->fd, s->out.p, s->out.len);
		if (n > 0) {
			mp_buf_drop(&s->out, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return -1;
	}
	return 0;
}

/* loop_free - the end of a connection whose driver state is gone or
 * may be ended here */
static void
loop_free(struct mp_loop *l, struct mp_sess *s)
{
	mp_dns_drop(s);
	loop_unlink(s);
	if (s->evmask != 0)
		(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	mp_sess_free(s);
	l->nsess--;
}

static void loop_handoff(struct mp_loop *, struct mp_sess *, char cmd);

/* loop_close - end a connection; its driver state (rate-limit holds in
 * Redis) is ended on a worker when that may wait */
static void
loop_close(struct mp_loop *l, struct mp_sess *s)
{
	if (s->busy)
		return;		/* the worker gives it back, then again */
	if (mp_sess_close_blocks(s)) {
		s->closing = 1;
		loop_handoff(l, s, 0);
		return;
	}
	loop_free(l, s);
}

/* loop_handoff - s's command cmd (the packet at the start of s->in; 0:
 * ending its driver connection) to a worker; s leaves the epoll set */
static void
loop_handoff(struct mp_loop *l, struct mp_sess *s, char cmd)
{
	(void)loop_flush(s);
	s->out_clean = s->out.len == 0;
	s->busy = 1;
	s->job_cmd = cmd;
	s->job_closes = 0;
	s->eom_busy = cmd == SMFIC_BODYEOB;
	s->progress_ms = loop_now();
	if (s->eom_busy)
		l->neom++;
	loop_interest(l, s);
	if (cmd != 0 && s->job_park &&
	    mp_dns_park(l->dns, s, s->progress_ms) == 0)
		return;
	mp_work_submit(s);
}

/* loop_feed - handle what s->in holds; then answer, and decide what is
 * next: more input, a worker, or the end */
static void
loop_feed(struct mp_loop *l, struct mp_sess *s)
{
	enum mp_feed r = MP_FEED_MORE;
	size_t used = 0;

	if (s->in.len > 0 && !s->closing) {
		r = mp_sess_feed(s, s->in.p, s->in.len, &used);
		mp_buf_drop(&s->in, used);
	}
	if (r == MP_FEED_HANDOFF) {
		loop_handoff(l, s, s->in.p[4]);
		return;
	}
	if (r == MP_FEED_CLOSE)
		s->closing = 1;
	if (loop_flush(s) != 0) {
		loop_close(l, s);
		return;
	}
	/* The MTA hung up: once everything it sent is answered, the end
	 * (an incomplete packet left is dropped). */
	if ((s->closing || s->hup) && s->out.len == 0) {
		loop_close(l, s);
		return;
	}
	loop_interest(l, s);
}

/* loop_read - one read for s; every complete packet in it handled */
static void
loop_read(struct mp_loop *l, struct mp_sess *s, int64_t now)
{
	size_t have = s->in.len, used = 0;
	enum mp_feed r;
	ssize_t n;

	/* An incomplete packet from the last read goes in front. */
	if (have > 0)
		memcpy(l->rbuf, s->in.p, have);
	do
		n = read(s->fd, l->rbuf + have, LOOP_RBUF + MP_PKT_MAX - have);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		loop_close(l, s);
		return;
	}
	if (n == 0) {
		s->hup = 1;
		loop_feed(l, s);
		return;
	}
	s->in.len = 0;
	r = mp_sess_feed(s, l->rbuf, have + (size_t)n, &used);
	/* What is left (an incomplete packet, or a handed-off command and
	 * what follows it) waits in the session's own buffer. */
	if (r != MP_FEED_CLOSE)
		mp_buf_add(&s->in, l->rbuf + used, have + (size_t)n - used);
	loop_touch(l, s, now);
	if (r == MP_FEED_HANDOFF) {
		loop_handoff(l, s, s->in.p[4]);
		return;
	}
	if (r == MP_FEED_CLOSE)
		s->closing = 1;
	loop_feed(l, s);
}

/* loop_resume - a worker gave s back: its command is done */
static void
loop_resume(struct mp_loop *l, struct mp_sess *s)
{
	s->busy = 0;
	if (s->eom_busy)
		l->neom--;
	s->eom_busy = 0;
	if (s->job_cmd == 0) {		/* the driver connection ended */
		loop_free(l, s);
		return;
	}
	mp_buf_drop(&s->in, MP_HDRLEN + s->job_len);
	if (s->job_closes)
		s->closing = 1;
	loop_feed(l, s);
}

/* ---- Accepting ---------------------------------------------------------- */

static void
loop_listen(struct mp_loop *l, int on)
{
	struct epoll_event ev;

	if (on == l->listening || mp_listener.fd < 0)
		return;
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	ev.data.ptr = &loop_tag_listen;
	if (epoll_ctl(l->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL,
	    mp_listener.fd, on ? &ev : NULL) != 0)
		tg_log_warn("native engine: epoll_ctl (listener)");
	l->listening = on;
}

static void
loop_accept(struct mp_loop *l, int64_t now)
{
	struct mp_sess *s;
	int fd, one = 1;

	for (int i = 0; i < LOOP_ACCEPTS; i++) {
		fd = accept4(mp_listener.fd, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* Out of descriptors or memory: the listener
			 * would wake us without end. Pause it. */
			if (now - loop.emfile_logged > 10000) {
				loop.emfile_logged = now;
				tg_log_warn("native engine: accept (new "
				    "connections wait)");
			}
			loop_listen(l, 0);
			l->listen_at = now + LOOP_EMFILE_MS;
			return;
		}
		if (!mp_listener.unixsock)
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
			    sizeof one);
		s = mp_sess_new(fd, mp_listener.unixsock);
		s->loop = l;
		s->active_ms = now;
		loop_append(&l->fresh, s);
		l->nsess++;
		loop_interest(l, s);
	}
}

/* ---- Timers ------------------------------------------------------------- */

/* loop_progress - end-of-message commands long on a worker */
static void
loop_progress(struct mp_loop *l, int64_t now)
{
	static const unsigned char pkt[MP_HDRLEN] = { 0, 0, 0, 1,
	    SMFIR_PROGRESS };

	for (struct mp_sess *s = l->active.head; s != NULL; s = s->next) {
		ssize_t n;

		if (!s->eom_busy || !s->out_clean ||
		    now - s->progress_ms < LOOP_PROGRESS_MS)
			continue;
		s->progress_ms = now;
		n = send(s->fd, pkt, sizeof pkt, MSG_DONTWAIT | MSG_NOSIGNAL);
		/* A part of a packet would break the stream: the worker's
		 * answer cannot follow it, so the connection ends then. */
		if (n > 0 && n < (ssize_t)sizeof pkt) {
			s->out_clean = 0;
			s->closing = 1;
		}
	}
}

/* loop_expire - close what has been quiet too long; returns the time to
 * the next deadline (ms, -1: none) */
static int
loop_expire(struct mp_loop *l, int64_t now)
{
	struct loop_list *lists[2] = { &l->fresh, &l->active };
	int64_t next = -1;

	if (l->neom > 0)
		loop_progress(l, now);
	for (int i = 0; i < 2; i++) {
		struct loop_list *q = lists[i];
		struct mp_sess *s;

		while ((s = q->head) != NULL &&
		    s->active_ms + q->timeout_ms <= now) {
			if (s->busy) {	/* working for it: not idle */
				loop_touch(l, s, now);
				continue;
			}
			tg_log_info("%s: milter connection idle for %lld s; "
			    "closing it", s->conn != NULL ? s->conn->sess.id :
			    "-", (long long)(q->timeout_ms / 1000));
			loop_close(l, s);
			if (q->head == s)	/* closing on a worker */
				loop_touch(l, s, now);
		}
		if (s != NULL && (next < 0 ||
		    s->active_ms + q->timeout_ms - now < next))
			next = s->active_ms + q->timeout_ms - now;
	}
	if (l->listen_at != 0 && (next < 0 || l->listen_at - now < next))
		next = l->listen_at > now ? l->listen_at - now : 0;
	if (l->neom > 0 && (next < 0 || next > 1000))
		next = 1000;
	return next < 0 ? -1 : next > 60000 ? 60000 : (int)next;
}

/* ---- The loop ----------------------------------------------------------- */

/* loop_done - a worker is done with s: back to its loop */
static void
loop_done(struct mp_sess *s)
{
	struct mp_loop *l = s->loop;
	uint64_t one = 1;

	pthread_mutex_lock(&l->mu);
	s->qnext = l->done;
	l->done = s;
	pthread_mutex_unlock(&l->mu);
	if (write(l->evfd, &one, sizeof one) < 0 && errno != EAGAIN)
		tg_log_warn("native engine: eventfd");
}

/* loop_woken - the eventfd: sessions back from workers, stop, quit */
static void
loop_woken(struct mp_loop *l)
{
	struct mp_sess *s, *back, *rev = NULL;
	uint64_t n;

	if (read(l->evfd, &n, sizeof n) < 0 && errno != EAGAIN)
		tg_log_warn("native engine: eventfd");
	pthread_mutex_lock(&l->mu);
	back = l->done;
	l->done = NULL;
	pthread_mutex_unlock(&l->mu);
	/* In the order they were given back. */
	while ((s = back) != NULL) {
		back = s->qnext;
		s->qnext = rev;
		rev = s;
	}
	while ((s = rev) != NULL) {
		rev = s->qnext;
		s->qnext = NULL;
		loop_resume(l, s);
	}
	if (atomic_load(&loop.stop)) {
		loop_listen(l, 0);
		mp_dns_stop(l->dns);
	}
}

/* loop_parked - run the parked commands whose answers are in (one may
 * park again); the ms until the DNS wants the loop again (-1: never) */
static int
loop_parked(struct mp_loop *l, int64_t now)
{
	struct mp_sess *s;
	int t;

	for (;;) {
		t = mp_dns_tick(l->dns, now);
		if ((s = mp_dns_ready(l->dns)) == NULL)
			return t;
		mp_dns_run(s);
		loop_resume(l, s);
	}
}

static void
loop_event(struct mp_loop *l, struct mp_sess *s, unsigned ev, int64_t now)
{
	if (s->busy)
		return;
	if (ev & EPOLLOUT) {
		if (loop_flush(s) != 0) {
			loop_close(l, s);
			return;
		}
		if ((s->closing || s->hup) && s->out.len == 0) {
			loop_close(l, s);
			return;
		}
		/* Room again: what was not read because of it. */
		if (s->out.len < MP_OUT_HIGH && s->in.len > 0 &&
		    !s->closing) {
			loop_feed(l, s);
			return;
		}
		loop_interest(l, s);
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		if (s->evmask & EPOLLIN)
			loop_read(l, s, now);
		else if (ev & (EPOLLHUP | EPOLLERR))
			loop_close(l, s);
	}
}

static void *
loop_main(void *arg)
{
	struct mp_loop *l = arg;
	struct epoll_event evs[LOOP_EVENTS];
	int timeout = -1, n, t;
	int64_t now;

	tg_dns_on_loop(1);
	for (;;) {
		n = epoll_wait(l->epfd, evs, LOOP_EVENTS, timeout);
		if (n < 0 && errno != EINTR) {
			tg_log_warn("native engine: epoll_wait");
			break;
		}
		now = loop_now();
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &loop_tag_listen) {
				if (!atomic_load(&loop.stop))
					loop_accept(l, now);
			} else if (p == &loop_tag_wake)
				loop_woken(l);
			else if (mp_dns_owns(l->dns, p))
				mp_dns_event(l->dns, p, evs[i].events);
			else
				loop_event(l, p, evs[i].events, now);
		}
		t = loop_parked(l, loop_now());
		if (atomic_load(&loop.quit))
			break;
		if (l->listen_at != 0 && now >= l->listen_at) {
			l->listen_at = 0;
			if (!atomic_load(&loop.stop))
				loop_listen(l, 1);
		}
		timeout = loop_expire(l, now);
		if (t >= 0 && (timeout < 0 || t < timeout))
			timeout = t;
	}
	return NULL;
}

/* loop_end - at shutdown: every session closed here (workers are done) */
static void
loop_end(struct mp_loop *l)
{
	struct loop_list *lists[2] = { &l->fresh, &l->active };
	struct mp_sess *s;

	/* Given back after the drain, if any. */
	loop_woken(l);
	for (int i = 0; i < 2; i++)
		while ((s = lists[i]->head) != NULL) {
			s->busy = 0;
			s->eom_busy = 0;
			loop_free(l, s);
		}
	mp_dns_free(l->dns);
	l->dns = NULL;
	close(l->epfd);
	close(l->evfd);
	free(l->rbuf);
	pthread_mutex_destroy(&l->mu);
}

static int
loop_init(struct mp_loop *l)
{
	struct epoll_event ev;

	memset(l, 0, sizeof *l);
	pthread_mutex_init(&l->mu, NULL);
	l->fresh.timeout_ms = LOOP_NEG_MS;
	l->active.timeout_ms = LOOP_IDLE_MS;
	l->rbuf = tg_xmalloc(LOOP_RBUF + MP_PKT_MAX);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->epfd < 0 || l->evfd < 0) {
		tg_log_warn("native engine: epoll/eventfd");
		return -1;
	}
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	ev.data.ptr = &loop_tag_wake;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev) != 0) {
		tg_log_warn("native engine: epoll_ctl");
		return -1;
	}
	l->dns = mp_dns_new(l->epfd);
	loop_listen(l, 1);
	return 0;
}

int
tg_mproto_start(int nloops, int maxworkers)
{
	struct rlimit rl;
	long ncpu;
	int rc;

	if (nloops <= 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		nloops = ncpu < 1 ? 1 : ncpu > LOOP_MAX ? LOOP_MAX : (int)ncpu;
	}
	/* A descriptor per connection: as many as we may have. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			tg_log_warn("native engine: RLIMIT_NOFILE");
	}
	tg_drive_ids_init();
	if (mp_work_start(maxworkers, loop_done) != 0)
		return -1;
	pthread_mutex_lock(&loop.mu);
	loop.loops = tg_xcalloc((size_t)nloops, sizeof *loop.loops);
	for (int i = 0; i < nloops; i++) {
		if (loop_init(&loop.loops[i]) != 0)
			goto fail;
		if ((rc = pthread_create(&loop.loops[i].th, NULL, loop_main,
		    &loop.loops[i])) != 0) {
			errno = rc;
			tg_log_warn("native engine: pthread_create");
			goto fail;
		}
		loop.nloops++;
	}
	pthread_mutex_unlock(&loop.mu);
	return 0;
fail:
	pthread_mutex_unlock(&loop.mu);
	return -1;
}

int
tg_mproto_run(void)
{
	pthread_mutex_lock(&loop.mu);
	while (!atomic_load(&loop.stop))
		pthread_cond_wait(&loop.cv, &loop.mu);
	pthread_mutex_unlock(&loop.mu);
	return 0;
}

/* loop_wake_all - every loop looks at the flags */
static void
loop_wake_all(void)
{
	uint64_t one = 1;

	pthread_mutex_lock(&loop.mu);
	for (int i = 0; i < loop.nloops; i++)
		if (write(loop.loops[i].evfd, &one, sizeof one) < 0 &&
		    errno != EAGAIN)
			tg_log_warn("native engine: eventfd");
	pthread_mutex_unlock(&loop.mu);
}

void
tg_mproto_stop(void)
{
	mp_sess_stop_all();
	atomic_store(&loop.stop, 1);
	loop_wake_all();
	pthread_mutex_lock(&loop.mu);
	pthread_cond_broadcast(&loop.cv);
	pthread_mutex_unlock(&loop.mu);
}

int
tg_mproto_shutdown(int timeout_ms)
{
	int rc = 0;

	if (!atomic_load(&loop.stop))
		tg_mproto_stop();
	if (mp_work_drain(timeout_ms) != 0)
		rc = -1;
	atomic_store(&loop.quit, 1);
	loop_wake_all();
	/* The signal thread is joined by now (reload.c): only this thread
	 * uses loops from here on. */
	for (int i = 0; i < loop.nloops; i++)
		(void)pthread_join(loop.loops[i].th, NULL);
	/* Commands still running after the drain keep their sessions: only
	 * what no worker holds is freed. */
	if (rc == 0) {
		mp_work_stop();
		for (int i = 0; i < loop.nloops; i++)
			loop_end(&loop.loops[i]);
		pthread_mutex_lock(&loop.mu);
		free(loop.loops);
		loop.loops = NULL;
		loop.nloops = 0;
		pthread_mutex_unlock(&loop.mu);
	}
	mp_listener_close();
	return rc;
}
