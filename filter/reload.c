/* reload.c - the signal thread. sigwait() for SIGHUP (load the policy file
 * again, publish it when valid, else keep the current generation) and
 * SIGTERM/SIGINT (smfi_stop). Parsing and table loading happen here, never
 * on an SMTP session's thread. Owns: nothing shared; the published policy
 * belongs to policy.c. Threads: one thread; the others block the signals. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include <libmilter/mfapi.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_log.h"
#include "tg_policy.h"
#include "reload.h"

static pthread_t	 reload_thread;
static int		 reload_running;
static const char	*reload_path;

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

/* reload_main - the thread: wait for signals until asked to stop */
static void *
reload_main(void *arg)
{
	sigset_t set;
	int sig, rc;

	(void)arg;
	reload_sigset(&set);
	for (;;) {
		if ((rc = sigwait(&set, &sig)) != 0) {
			errno = rc;
			tg_log_warn("sigwait");
			continue;
		}
		if (sig == SIGHUP) {
			reload_policy();
			continue;
		}
		tg_log_info("%s received, stopping",
		    sig == SIGTERM ? "SIGTERM" : "SIGINT");
		(void)smfi_stop();
		break;
	}
	return NULL;
}

int
tg_reload_start(const char *path)
{
	int rc;

	reload_path = path;
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
	if (!reload_running)
		return;
	/* smfi_main can return without a signal (socket error): wake the
	 * thread with a signal only it waits for. Harmless if it has
	 * already left; it then exits without waiting again. */
	(void)pthread_kill(reload_thread, SIGTERM);
	(void)pthread_join(reload_thread, NULL);
	reload_running = 0;
}
