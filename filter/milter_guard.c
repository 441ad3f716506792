/* milter_guard.c - every libmilter callback counted in and out. libmilter
 * does not wait for its session threads: smfi_main() returns while a
 * callback may still run (Debian's worker pool abandons idle sessions, a
 * thread-per-session build lets them go on), and callbacks use stores,
 * resolvers and metrics. Once closed, a callback that starts touches
 * nothing and answers 4xx, so the daemon can free all that after the
 * running ones are done. Owns: the original callbacks. Threads: entry
 * and exit are atomic; the waiter sleeps on a condition variable. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "milter_guard.h"

static struct smfiDesc	guard_orig;
static atomic_int	guard_running;
static atomic_int	guard_closed;
static pthread_mutex_t	guard_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	guard_idle = PTHREAD_COND_INITIALIZER;

static void
guard_leave(void)
{
	if (atomic_fetch_sub(&guard_running, 1) == 1 &&
	    atomic_load(&guard_closed)) {
		pthread_mutex_lock(&guard_lock);
		pthread_cond_broadcast(&guard_idle);
		pthread_mutex_unlock(&guard_lock);
	}
}

/* guard_enter - 0, or -1 when closed. Counting before looking at the
 * flag (both sequentially consistent) means the closer either sees this
 * callback running or this callback sees the flag. */
static int
guard_enter(void)
{
	atomic_fetch_add(&guard_running, 1);
	if (atomic_load(&guard_closed)) {
		guard_leave();
		return -1;
	}
	return 0;
}

#define GUARD(name, refused, params, args)				\
static sfsistat								\
guard_##name params							\
{									\
	sfsistat r;							\
									\
	if (guard_enter() < 0)						\
		return refused;						\
	r = guard_orig.xxfi_##name args;				\
	guard_leave();							\
	return r;							\
}

GUARD(connect, SMFIS_TEMPFAIL, (SMFICTX *c, char *h, _SOCK_ADDR *a),
    (c, h, a))
GUARD(helo, SMFIS_TEMPFAIL, (SMFICTX *c, char *h), (c, h))
GUARD(envfrom, SMFIS_TEMPFAIL, (SMFICTX *c, char **v), (c, v))
GUARD(envrcpt, SMFIS_TEMPFAIL, (SMFICTX *c, char **v), (c, v))
GUARD(header, SMFIS_TEMPFAIL, (SMFICTX *c, char *n, char *v), (c, n, v))
GUARD(eoh, SMFIS_TEMPFAIL, (SMFICTX *c), (c))
GUARD(body, SMFIS_TEMPFAIL, (SMFICTX *c, unsigned char *b, size_t n),
    (c, b, n))
GUARD(eom, SMFIS_TEMPFAIL, (SMFICTX *c), (c))
GUARD(abort, SMFIS_CONTINUE, (SMFICTX *c), (c))
GUARD(close, SMFIS_CONTINUE, (SMFICTX *c), (c))
GUARD(data, SMFIS_TEMPFAIL, (SMFICTX *c), (c))
GUARD(negotiate, SMFIS_TEMPFAIL, (SMFICTX *c, unsigned long f0,
    unsigned long f1, unsigned long f2, unsigned long f3,
    unsigned long *p0, unsigned long *p1, unsigned long *p2,
    unsigned long *p3), (c, f0, f1, f2, f3, p0, p1, p2, p3))

void
tg_milter_guard(struct smfiDesc *d)
{
	guard_orig = *d;
#define WRAP(name)	\
	if (d->xxfi_##name != NULL) d->xxfi_##name = guard_##name
	WRAP(connect);
	WRAP(helo);
	WRAP(envfrom);
	WRAP(envrcpt);
	WRAP(header);
	WRAP(eoh);
	WRAP(body);
	WRAP(eom);
	WRAP(abort);
	WRAP(close);
	WRAP(data);
	WRAP(negotiate);
#undef WRAP
}

int
tg_milter_guard_close(int timeout_ms)
{
	struct timespec ts;
	int rc = 0;

	atomic_store(&guard_closed, 1);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&guard_lock);
	while (atomic_load(&guard_running) > 0 && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&guard_idle, &guard_lock, &ts);
	rc = atomic_load(&guard_running) > 0 ? -1 : 0;
	pthread_mutex_unlock(&guard_lock);
	return rc;
}
