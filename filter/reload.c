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
 * daemon. This thread never blocks the three signals, so the kernel always
 * finds it first (it was started before libmilter's thread, and the
 * kernel keeps trying the thread that took the last one); the handler
 * only writes the signal's number into a pipe, and the thread reads it.
 * Several SIGHUPs during a reload make one more reload, of the file as it
 * is then.
 *
 * Owns: the pipe; the published policy belongs to policy.c. Threads: this
 * one; every other thread blocks the signals. */
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
#include "tg_policy.h"
#include "reload.h"

static pthread_t	 reload_thread;
static int		 reload_running;
static const char	*reload_path;
static int		 reload_pipe[2] = { -1, -1 };

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
	} else {
		tg_policy_publish(p);
		gen = reload_generation(&nrules);
		tg_log_info("policy reloaded (generation %u, %zu rules)",
		    gen, nrules);
	}
	tg_diag_free(&diag);
}

/* reload_handler - runs in the reload thread (the only one that does not
 * block the signals): hand the signal over, nothing else. A full pipe
 * already holds a request, so a lost byte loses nothing. */
static void
reload_handler(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;

	(void)write(reload_pipe[1], &b, 1);
	errno = saved;
}

/* reload_main - the thread: read signals from the pipe until told to
 * stop */
static void *
reload_main(void *arg)
{
	unsigned char buf[64];
	sigset_t set;
	ssize_t n;
	int rc, hup, stop = 0;

	(void)arg;
	reload_sigset(&set);
	if ((rc = pthread_sigmask(SIG_UNBLOCK, &set, NULL)) != 0) {
		errno = rc;
		tg_log_warn("pthread_sigmask (reload thread)");
	}
	while (!stop) {
		if ((n = read(reload_pipe[0], buf, sizeof buf)) <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			tg_log_warn("reload thread: read");
			break;
		}
		hup = 0;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == SIGHUP) {
				hup = 1;
				continue;
			}
			stop = 1;
			if (buf[i] == 0)	/* tg_reload_stop() */
				break;
			tg_log_info("%s received, stopping",
			    buf[i] == SIGINT ? "SIGINT" : "SIGTERM");
			(void)smfi_stop();
			break;
		}
		if (hup && !stop)
			reload_policy();
	}
	/* Signals that still come (smfi_main may take a while to return)
	 * find a handler and a pipe nobody reads: harmless. */
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
		tg_log_warn("pipe (reload thread)");
		return -1;
	}
	/* Only the reload thread takes these (the others block them):
	 * SA_RESTART, so that the reload's own reads are not cut short. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = reload_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	reload_sigset(&set);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&set, sig) == 1 &&
		    sigaction(sig, &sa, NULL) != 0) {
			tg_log_warn("sigaction %d", sig);
			return -1;
		}
	if ((rc = pthread_create(&reload_thread, NULL, reload_main,
	    NULL)) != 0) {
		errno = rc;
		tg_log_warn("pthread_create (reload thread)");
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
	 * thread to end. Harmless if it has already left. */
	(void)write(reload_pipe[1], &b, 1);
	(void)pthread_join(reload_thread, NULL);
	reload_running = 0;
}
