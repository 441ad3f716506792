/* reload.c - the signal thread. SIGHUP loads the policy file again and
 * publishes it when valid (else the current generation stays); SIGTERM and
 * SIGINT stop libmilter. Parsing and table loading happen here, never on
 * an SMTP session's thread.
 *
 * Why a handler and a pipe rather than sigwait(): smfi_main() starts a
 * libmilter thread of its own that sigwait()s for SIGHUP, SIGTERM and
 * SIGINT and stops the milter on any of them. A process-directed signal
 * goes to one thread that does not block it: a thread in sigwait() counts
 * only while it waits, so with our own sigwait() a SIGHUP that came while
 * we were busy reloading went to libmilter's thread and stopped the
 * daemon. Our signal thread never blocks the three signals, so the kernel
 * always finds it first (it was started before libmilter's thread, and
 * the kernel keeps trying the thread that took the last one); the handler
 * only writes the signal's number into a pipe, which that thread reads.
 * Reloads run on a second thread that blocks the signals, so that no
 * signal interrupts its file reads (the handler is installed without
 * SA_RESTART: a sanitizer that defers handlers to its next intercepted
 * call must see read() return). Several SIGHUPs during a reload make one
 * more reload, of the file as it is then.
 *
 * Owns: the pipe and the two threads; the published policy belongs to
 * policy.c. Threads: these two; every other thread blocks the signals. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_log.h"
#include "tg_metrics.h"
#include "tg_policy.h"
#include "reload.h"

static pthread_t	 reload_sigthread, reload_worker;
static int		 reload_running;
static const char	*reload_path;
static int		 reload_pipe[2] = { -1, -1 };
static pthread_mutex_t	 reload_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 reload_cv = PTHREAD_COND_INITIALIZER;
static int		 reload_pending, reload_quit;

/* reload_sigset - the signals the thread owns */
static void
reload_sigset(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
}

int
tg_reload_block_signals(void)
{
	sigset_t set;
	int rc;

	reload_sigset(&set);
	if ((rc = pthread_sigmask(SIG_BLOCK, &set, NULL)) != 0) {
		errno = rc;
		tg_log_warn("pthread_sigmask");
		return -1;
	}
	return 0;
}

void
tg_reload_log_diag(const struct tg_diag *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		tg_log_err("%s", d->msgs[i]);
}

/* reload_rules - number of rules in a policy, for the log line */
static size_t
reload_rules(const struct tg_policy *p)
{
	size_t i, n = 0;

	for (i = 0; i < TG_STAGE_COUNT; i++)
		n += p->nrules[i];
	return n;
}

/* reload_generation - the published generation, 0 if none */
static unsigned
reload_generation(size_t *nrules)
{
	struct tg_policy *cur;
	unsigned gen = 0;

	if ((cur = tg_policy_current()) != NULL) {
		gen = cur->generation;
		if (nrules != NULL)
			*nrules = reload_rules(cur);
		tg_policy_unref(cur);
	}
	return gen;
}

/* reload_policy - SIGHUP: build the next generation, publish when valid */
static void
reload_policy(void)
{
	struct tg_diag diag;
	struct tg_policy *p;
	size_t nrules = 0;
	unsigned gen;

	if (reload_path == NULL) {
		tg_log_warnx("SIGHUP: no configuration file (built-in empty "
		    "policy), nothing to reload");
		return;
	}
	tg_log_info("SIGHUP: reloading %s", reload_path);
	tg_diag_init(&diag);
	p = tg_policy_load(reload_path, &diag);
	if (p == NULL || diag.errors > 0) {
		tg_reload_log_diag(&diag);
		if (p != NULL)
			tg_policy_unref(p);
		tg_log_err("reload failed, keeping generation %u",
		    reload_generation(NULL));
		tg_metrics_reload(0);
	} else {
		tg_policy_publish(p);
		gen = reload_generation(&nrules);
		tg_log_info("policy reloaded (generation %u, %zu rules)",
		    gen, nrules);
		tg_metrics_reload(1);
	}
	tg_diag_free(&diag);
}

/* reload_handler - runs in the signal thread (the only one that does not
 * block the signals): hand the signal over, nothing else. A full pipe
 * already holds a request, so a lost byte loses nothing. */
static void
reload_handler(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;

	tg_pipe_wake(reload_pipe[1], b);
	errno = saved;
}

/* reload_tell - wake the worker for a reload, or to quit */
static void
reload_tell(int *what)
{
	pthread_mutex_lock(&reload_mu);
	*what = 1;
	pthread_cond_signal(&reload_cv);
	pthread_mutex_unlock(&reload_mu);
}

/* reload_signals - the signal thread: read the handler's bytes until a
 * SIGTERM, a SIGINT or tg_reload_stop() (a 0 byte) */
static void *
reload_signals(void *arg)
{
	unsigned char buf[64];
	sigset_t set;
	ssize_t n;
	int rc, stop = 0;

	(void)arg;
	reload_sigset(&set);
	if ((rc = pthread_sigmask(SIG_UNBLOCK, &set, NULL)) != 0) {
		errno = rc;
		tg_log_warn("pthread_sigmask (signal thread)");
	}
	while (!stop) {
		if ((n = read(reload_pipe[0], buf, sizeof buf)) <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			tg_log_warn("signal thread: read");
			break;
		}
		for (ssize_t i = 0; i < n && !stop; i++) {
			if (buf[i] == SIGHUP) {
				reload_tell(&reload_pending);
				continue;
			}
			stop = 1;
			if (buf[i] == 0)	/* tg_reload_stop() */
				break;
			tg_log_info("%s received, stopping",
			    buf[i] == SIGINT ? "SIGINT" : "SIGTERM");
			(void)smfi_stop();
		}
	}
	reload_tell(&reload_quit);
	/* Signals that still come (smfi_main may take a while to return)
	 * find a handler and a pipe nobody reads: harmless. */
	return NULL;
}

/* reload_work - the reload thread: one reload per wake-up, however many
 * SIGHUPs asked for it meanwhile */
static void *
reload_work(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&reload_mu);
	for (;;) {
		while (!reload_pending && !reload_quit)
			pthread_cond_wait(&reload_cv, &reload_mu);
		if (reload_quit)
			break;
		reload_pending = 0;
		pthread_mutex_unlock(&reload_mu);
		reload_policy();
		pthread_mutex_lock(&reload_mu);
	}
	pthread_mutex_unlock(&reload_mu);
	return NULL;
}

int
tg_reload_start(const char *path)
{
	struct sigaction sa;
	sigset_t set;
	int rc;

	reload_path = path;
	if (pipe2(reload_pipe, O_CLOEXEC) != 0 ||
	    fcntl(reload_pipe[1], F_SETFL, O_NONBLOCK) != 0) {
		tg_log_warn("pipe (signal thread)");
		return -1;
	}
	/* Only the signal thread takes these (the others block them). */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = reload_handler;
	/* Never blocked, not even in the handler (it only writes a byte):
	 * a signal blocked here would go to libmilter's thread. */
	sa.sa_flags = SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	reload_sigset(&set);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&set, sig) == 1 &&
		    sigaction(sig, &sa, NULL) != 0) {
			tg_log_warn("sigaction %d", sig);
			return -1;
		}
	if ((rc = pthread_create(&reload_worker, NULL, reload_work,
	    NULL)) != 0) {
		errno = rc;
		tg_log_warn("pthread_create (reload thread)");
		return -1;
	}
	if ((rc = pthread_create(&reload_sigthread, NULL, reload_signals,
	    NULL)) != 0) {
		errno = rc;
		tg_log_warn("pthread_create (signal thread)");
		reload_tell(&reload_quit);
		(void)pthread_join(reload_worker, NULL);
		return -1;
	}
	reload_running = 1;
	return 0;
}

void
tg_reload_stop(void)
{
	unsigned char b = 0;

	if (!reload_running)
		return;
	/* smfi_main can return without a signal (socket error): tell the
	 * threads to end. Harmless if they have already left. A reload in
	 * progress is finished first. */
	tg_pipe_wake(reload_pipe[1], b);
	(void)pthread_join(reload_sigthread, NULL);
	(void)pthread_join(reload_worker, NULL);
	reload_running = 0;
}
