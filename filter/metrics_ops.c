/* metrics_ops.c - the metrics an operator watches besides the verdicts
 * (metrics.c): build and start, the published policy and reloads, how
 * long DNS rounds and Redis requests take, and which rate limits refuse
 * mail. Owns: these counters (process lifetime) and the registry of
 * limit names, which only grows until exit, like the rule registry.
 * Threads: counting is relaxed atomics, no lock on the mail path; the
 * registry mutex is taken when a policy is published and by the
 * formatter only. */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tg.h"
#include "tg_engine.h"
#include "tg_log.h"
#include "tg_metrics.h"
#include "tg_rate.h"
#include "metrics_impl.h"

#define INC(x)	atomic_fetch_add_explicit(&(x), 1, memory_order_relaxed)
#define GET(x)	atomic_load_explicit(&(x), memory_order_relaxed)
#define SET(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)

/* ---- latency histograms ---------------------------------------------------- */

#define OPS_NB	13

/* Bucket bounds in nanoseconds. A DNS round is a cache miss that waits
 * for the resolver (1 ms on a local cache, up to dns-timeout); a Redis
 * request is one round trip (well under a millisecond on a LAN, up to the
 * store's timeout), connecting included when there was no idle link. */
static const uint64_t ops_dns_ns[OPS_NB] = {
	1000000, 2500000, 5000000, 10000000, 25000000, 50000000, 100000000,
	250000000, 500000000, 1000000000, 2500000000u, 5000000000u,
	20000000000u,
};
static const uint64_t ops_redis_ns[OPS_NB] = {
	100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
	25000000, 50000000, 100000000, 250000000, 500000000, 1000000000,
};

struct ops_hist {
	const char	*name, *help;
	const uint64_t	*bounds;
	atomic_ullong	 b[OPS_NB + 1];	/* not cumulative; last is +Inf */
	atomic_ullong	 sum_ns;
};

static struct ops_hist ops_hist[TG_M_LAT_COUNT] = {
	[TG_M_LAT_DNS] = { "tollgate_dns_duration_seconds",
	    "Time a stage waited for one round of DNS lookups (cache misses, "
	    "looked up in parallel; timeouts included).", ops_dns_ns },
	[TG_M_LAT_REDIS] = { "tollgate_redis_duration_seconds",
	    "Time of one Redis request of the rate-limit store (a reconnect "
	    "and retry included; failures included).", ops_redis_ns },
};

void
tg_metrics_latency(enum tg_metric_latency which, uint64_t start)
{
	struct ops_hist *h;
	uint64_t ns;
	size_t i;

	if ((unsigned)which >= TG_M_LAT_COUNT)
		return;
	h = &ops_hist[which];
	ns = tg_metrics_now() - start;
	for (i = 0; i < OPS_NB && ns > h->bounds[i]; i++)
		continue;
	INC(h->b[i]);
	atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

static void
ops_fmt_hist(struct metrics_buf *b, struct ops_hist *h)
{
	unsigned long long cum = 0;

	metrics_help(b, h->name, "histogram", h->help);
	for (size_t i = 0; i < OPS_NB; i++) {
		cum += GET(h->b[i]);
		metrics_put(b, "%s_bucket{le=\"%g\"} %llu\n", h->name,
		    (double)h->bounds[i] / 1e9, cum);
	}
	cum += GET(h->b[OPS_NB]);
	metrics_put(b, "%s_bucket{le=\"+Inf\"} %llu\n", h->name, cum);
	metrics_put(b, "%s_sum %.9f\n", h->name,
	    (double)GET(h->sum_ns) / 1e9);
	metrics_put(b, "%s_count %llu\n", h->name, cum);
}

/* ---- start, policy, reloads ---------------------------------------------- */

static atomic_llong ops_started;		/* unix time, 0 before */
static atomic_ullong ops_reloads[2];		/* failed, ok */
static atomic_int ops_last_ok = 1;		/* the start counts as one */
static atomic_llong ops_last_success;		/* unix time of a publish */

void
tg_metrics_started(void)
{
	SET(ops_started, (long long)time(NULL));
}

void
tg_metrics_reload(int ok)
{
	INC(ops_reloads[ok != 0]);
	SET(ops_last_ok, ok != 0);
}

/* ---- refusals by rate limit ------------------------------------------------ */

struct tg_limit_stats {
	struct tg_limit_stats	*next;
	char			*name;
	atomic_ullong		 refused[2];	/* reject, tempfail */
};

#define OPS_LIMITS_MAX	1024

static pthread_mutex_t ops_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tg_limit_stats *ops_limits;
static size_t ops_nlimits;
static int ops_full_said;

/* ops_limit_find - the counters of limit name, created when new; ops_lock
 * held. NULL when the registry is full. */
static struct tg_limit_stats *
ops_limit_find(const char *name)
{
	struct tg_limit_stats *ls, **tail = &ops_limits;

	for (ls = ops_limits; ls != NULL; ls = ls->next) {
		if (strcmp(ls->name, name) == 0)
			return ls;
		tail = &ls->next;
	}
	if (ops_nlimits >= OPS_LIMITS_MAX) {
		if (!ops_full_said)
			tg_log_warnx("metrics: more than %d limit names since "
			    "start; new limits are not counted until a "
			    "restart", OPS_LIMITS_MAX);
		ops_full_said = 1;
		return NULL;
	}
	ls = tg_xcalloc(1, sizeof *ls);
	ls->name = tg_xstrdup(name);
	*tail = ls;
	ops_nlimits++;
	return ls;
}

/* metrics_ops_bind - p is being published: its limits get their counters
 * (kept by name over reloads), and the publish is the latest success */
void
metrics_ops_bind(struct tg_policy *p)
{
	pthread_mutex_lock(&ops_lock);
	for (size_t i = 0; i < p->nlimits; i++)
		p->limits[i]->stats = ops_limit_find(p->limits[i]->name);
	pthread_mutex_unlock(&ops_lock);
	SET(ops_last_success, (long long)time(NULL));
}

void
tg_metrics_limit(const struct tg_policy *p, const char *limit,
    enum tg_action a)
{
	if (p == NULL || (a != TG_ACT_REJECT && a != TG_ACT_TEMPFAIL))
		return;
	/* A policy has a handful of limits; a refusal is rare next to the
	 * rule walk, and the policy cannot change under us. */
	for (size_t i = 0; i < p->nlimits; i++)
		if (p->limits[i]->stats != NULL &&
		    strcmp(p->limits[i]->name, limit) == 0) {
			INC(p->limits[i]->stats->refused[a == TG_ACT_TEMPFAIL]);
			return;
		}
}

/* ---- the text format ----------------------------------------------------------- */

void
metrics_fmt_ops(struct metrics_buf *b)
{
	struct tg_policy *p = tg_policy_current();
	struct tg_limit_stats *ls;
	char name[2 * TG_RULE_NAME_MAX + 4];
	size_t nrules = 0;

	metrics_help(b, "tollgate_build_info", "gauge",
	    "Always 1; the version of the running daemon as a label.");
	metrics_put(b, "tollgate_build_info{version=\"%s\"} 1\n",
	    PACKAGE_VERSION);
	metrics_help(b, "tollgate_start_time_seconds", "gauge",
	    "When the daemon started serving (Unix time).");
	metrics_put(b, "tollgate_start_time_seconds %lld\n", GET(ops_started));
	if (p != NULL)
		for (int s = 0; s < TG_STAGE_COUNT; s++)
			nrules += p->nrules[s];
	metrics_help(b, "tollgate_policy_generation", "gauge",
	    "Generation of the policy in force (1 at start, +1 a reload).");
	metrics_put(b, "tollgate_policy_generation %u\n",
	    p != NULL ? p->generation : 0);
	metrics_help(b, "tollgate_policy_rules", "gauge",
	    "Rules of the policy in force.");
	metrics_put(b, "tollgate_policy_rules %zu\n", nrules);
	tg_policy_unref(p);
	metrics_help(b, "tollgate_reloads_total", "counter",
	    "Reloads (SIGHUP): ok when the new policy was put in force, "
	    "failed when it had errors and the old one stayed.");
	metrics_put(b, "tollgate_reloads_total{result=\"ok\"} %llu\n",
	    GET(ops_reloads[1]));
	metrics_put(b, "tollgate_reloads_total{result=\"failed\"} %llu\n",
	    GET(ops_reloads[0]));
	metrics_help(b, "tollgate_config_last_reload_successful", "gauge",
	    "0 when the last reload failed (the policy file on disk is not "
	    "the one in force), else 1.");
	metrics_put(b, "tollgate_config_last_reload_successful %d\n",
	    GET(ops_last_ok));
	metrics_help(b, "tollgate_config_last_reload_success_timestamp_seconds",
	    "gauge", "When the policy in force was put in force (Unix time).");
	metrics_put(b, "tollgate_config_last_reload_success_timestamp_seconds "
	    "%lld\n", GET(ops_last_success));
	for (int i = 0; i < TG_M_LAT_COUNT; i++)
		ops_fmt_hist(b, &ops_hist[i]);
	metrics_help(b, "tollgate_limit_refusals_total", "counter",
	    "Mail refused because a rate limit was exceeded, by limit and "
	    "action (dry runs not counted).");
	pthread_mutex_lock(&ops_lock);
	for (ls = ops_limits; ls != NULL; ls = ls->next) {
		metrics_label(name, sizeof name, ls->name);
		metrics_put(b, "tollgate_limit_refusals_total{limit=\"%s\","
		    "action=\"reject\"} %llu\n", name, GET(ls->refused[0]));
		metrics_put(b, "tollgate_limit_refusals_total{limit=\"%s\","
		    "action=\"tempfail\"} %llu\n", name, GET(ls->refused[1]));
	}
	pthread_mutex_unlock(&ops_lock);
}

void
metrics_ops_shutdown(void)
{
	struct tg_limit_stats *ls, *next;

	pthread_mutex_lock(&ops_lock);
	for (ls = ops_limits; ls != NULL; ls = next) {
		next = ls->next;
		free(ls->name);
		free(ls);
	}
	ops_limits = NULL;
	ops_nlimits = 0;
	pthread_mutex_unlock(&ops_lock);
}
