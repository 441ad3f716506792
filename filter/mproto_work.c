/* mproto_work.c - the native engine's workers: the commands that may wait
 * on the network (mproto_block.c: DNS checks, SPF, Redis, the SASL
 * database) run here, never on an event loop. A session handed over is
 * queued; a worker runs its command (mp_sess_job()) or ends its driver
 * connection, then gives it back to its loop (the function given at
 * start). Workers
 * are started when a command finds none idle, up to a maximum, and stay
 * until the daemon stops: a burst of DNS-bound sessions gets threads, and
 * no thread is made and ended per message (libmilter's pool does that
 * under Postfix). What a hand-off costs: a mutex and a
 * condition variable signal, a thread switch there and back, an eventfd
 * write and the session's socket taken out of and put back into epoll.
 * Owns: the queue and the threads. Threads: any loop submits; workers
 * take; drain and stop run on the main thread. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "tg.h"
#include "tg_log.h"
#include "mproto_impl.h"

static struct {
	pthread_mutex_t	 mu;
	pthread_cond_t	 more;		/* a job was queued, or stop */
	pthread_cond_t	 idle;		/* pending reached 0 */
	struct mp_sess	*head, *tail;	/* queued */
	int		 pending;	/* queued or running */
	int		 nthreads, nidle, max;
	pthread_t	*threads;	/* nthreads of them, joined at stop */
	int		 stop;
	void		(*done)(struct mp_sess *);
} work = {
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0, 0, 0, NULL, 0, NULL,
};

/* work_run - one job: the command at the start of the session's input,
 * or (job_cmd 0) the end of its driver connection */
static void
work_run(struct mp_sess *s)
{
	if (s->job_cmd == 0) {
		mp_sess_close_conn(s);
		s->job_closes = 1;
		return;
	}
	s->job_closes = mp_sess_job(s, s->in.p) == MP_FEED_CLOSE;
}

static void *
work_main(void *arg)
{
	struct mp_sess *s;

	(void)arg;
	pthread_mutex_lock(&work.mu);
	for (;;) {
		while (work.head == NULL && !work.stop) {
			work.nidle++;
			pthread_cond_wait(&work.more, &work.mu);
			work.nidle--;
		}
		if (work.head == NULL)	/* stop, and nothing left queued */
			break;
		s = work.head;
		if ((work.head = s->qnext) == NULL)
			work.tail = NULL;
		s->qnext = NULL;
		pthread_mutex_unlock(&work.mu);
		work_run(s);
		work.done(s);
		pthread_mutex_lock(&work.mu);
		if (--work.pending == 0)
			pthread_cond_broadcast(&work.idle);
	}
	pthread_mutex_unlock(&work.mu);
	return NULL;
}

int
mp_work_start(int max, void (*done)(struct mp_sess *))
{
	work.done = done;
	work.max = max > 0 ? max : 1;
	work.threads = tg_xcalloc((size_t)work.max, sizeof *work.threads);
	work.stop = 0;
	return 0;
}

void
mp_work_submit(struct mp_sess *s)
{
	int rc;

	s->qnext = NULL;
	pthread_mutex_lock(&work.mu);
	if (work.tail != NULL)
		work.tail->qnext = s;
	else
		work.head = s;
	work.tail = s;
	work.pending++;
	if (work.nidle == 0 && work.nthreads < work.max) {
		if ((rc = pthread_create(&work.threads[work.nthreads], NULL,
		    work_main, NULL)) == 0)
			work.nthreads++;
		else if (work.nthreads == 0) {
			/* Nobody to run it: it waits in the queue until a
			 * later submission makes a worker. */
			errno = rc;
			tg_log_warn("native engine: no worker thread");
		}
	} else
		pthread_cond_signal(&work.more);
	pthread_mutex_unlock(&work.mu);
}

int
mp_work_drain(int timeout_ms)
{
	struct timespec until;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&work.mu);
	while (work.pending > 0 && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&work.idle, &work.mu, &until);
	rc = work.pending > 0 ? -1 : 0;
	pthread_mutex_unlock(&work.mu);
	return rc;
}

void
mp_work_stop(void)
{
	int n;

	if (work.threads == NULL)
		return;
	pthread_mutex_lock(&work.mu);
	work.stop = 1;
	pthread_cond_broadcast(&work.more);
	n = work.nthreads;
	pthread_mutex_unlock(&work.mu);
	/* Queued jobs are run first; a running one is waited for. */
	for (int i = 0; i < n; i++)
		(void)pthread_join(work.threads[i], NULL);
	work.threads = tg_free(work.threads);
	work.nthreads = 0;
}
