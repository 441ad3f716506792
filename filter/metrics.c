/* metrics.c - the counters behind tg_metrics.h and their Prometheus text
 * format. Counting is lock-free (relaxed atomics: each counter is exact,
 * a scrape may see counters of one event not all updated yet). Owns: the
 * rule registry, a list that only grows until exit. Threads: any; the
 * registry mutex is taken by tg_metrics_bind() and the formatter only. */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tg.h"
#include "tg_engine.h"
#include "tg_log.h"
#include "tg_metrics.h"
#include "metrics_impl.h"

#define METRICS_NACT	TG_ACT_COUNT	/* a rule's actions */
#define METRICS_NVERDICT (TG_ACT_WARN + 1)	/* a stage's verdict: never
						 * greylist (a deferral is a
						 * tempfail) */

struct tg_rule_stats {
	struct tg_rule_stats	*next;
	enum tg_stage		 stage;
	char			*name;
	atomic_ullong		 evaluated;
	atomic_ullong		 matched;
	atomic_ullong		 errors;	/* condition undecidable */
	atomic_ullong		 actions[METRICS_NACT];
};

/* Latency bucket bounds in microseconds: a stage without DNS takes a few
 * microseconds, one waiting for DNS or Redis up to the timeouts. */
static const uint64_t metrics_bounds_us[] = {
	10, 50, 100, 500, 1000, 5000, 10000, 50000, 100000, 500000,
	1000000, 5000000, 20000000,
};
#define METRICS_NB	\
	(sizeof metrics_bounds_us / sizeof metrics_bounds_us[0])

static atomic_ullong metrics_hist[TG_STAGE_COUNT][METRICS_NB + 1];
static atomic_ullong metrics_sum_ns[TG_STAGE_COUNT];
static atomic_ullong metrics_verdicts[TG_STAGE_COUNT][METRICS_NVERDICT];
static atomic_ullong metrics_dry[TG_STAGE_COUNT][METRICS_NVERDICT];
static atomic_llong metrics_open;
static atomic_ullong metrics_sessions;
static atomic_ullong metrics_errors[TG_M_ERROR_COUNT];
static atomic_ullong metrics_grey[TG_M_GREY_COUNT];

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tg_rule_stats *metrics_rules;
static size_t metrics_nrules;
static int metrics_full_said;

#define INC(x)	atomic_fetch_add_explicit(&(x), 1, memory_order_relaxed)
#define GET(x)	atomic_load_explicit(&(x), memory_order_relaxed)

/* metrics_rule_find - counters of (stage, name), created when new;
 * metrics_lock held. NULL when the registry is full. */
static struct tg_rule_stats *
metrics_rule_find(enum tg_stage stage, const char *name)
{
	struct tg_rule_stats *rs, **tail = &metrics_rules;

	for (rs = metrics_rules; rs != NULL; rs = rs->next) {
		if (rs->stage == stage && strcmp(rs->name, name) == 0)
			return rs;
		tail = &rs->next;
	}
	if (metrics_nrules >= TG_METRICS_RULES_MAX) {
		if (!metrics_full_said)
			tg_log_warnx("metrics: more than %d rule names since "
			    "start; new rules are not counted until a "
			    "restart", TG_METRICS_RULES_MAX);
		metrics_full_said = 1;
		return NULL;
	}
	/* Appended, so the output keeps the order rules first appeared. */
	rs = tg_xcalloc(1, sizeof *rs);
	rs->stage = stage;
	rs->name = tg_xstrdup(name);
	*tail = rs;
	metrics_nrules++;
	return rs;
}

void
tg_metrics_bind(struct tg_policy *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&metrics_lock);
	for (int s = 0; s < TG_STAGE_COUNT; s++)
		for (size_t i = 0; i < p->nrules[s]; i++)
			p->rules[s][i].stats = metrics_rule_find(
			    (enum tg_stage)s, p->rules[s][i].name);
	pthread_mutex_unlock(&metrics_lock);
	metrics_ops_bind(p);
}

static int
metrics_terminal(enum tg_action a)
{
	return a == TG_ACT_ACCEPT || a == TG_ACT_REJECT ||
	    a == TG_ACT_TEMPFAIL || a == TG_ACT_DISCARD ||
	    a == TG_ACT_QUARANTINE;
}

void
tg_metrics_rule(const struct tg_rule *r, int m, int dry_run)
{
	struct tg_rule_stats *rs = r->stats;

	if (rs == NULL)
		return;
	INC(rs->evaluated);
	if (m < 0) {
		INC(rs->errors);
		return;
	}
	if (m == 0)
		return;
	INC(rs->matched);
	if (dry_run || r->dry_run)
		return;
	/* The engine stops at the first terminal action. */
	for (size_t i = 0; i < r->nactions; i++) {
		INC(rs->actions[r->actions[i].type]);
		if (metrics_terminal(r->actions[i].type))
			break;
	}
}

uint64_t
tg_metrics_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
tg_metrics_stage(enum tg_stage st, uint64_t start, enum tg_action a,
    int enforced)
{
	uint64_t ns = tg_metrics_now() - start, us = ns / 1000;
	size_t b;

	if ((unsigned)st >= TG_STAGE_COUNT || (unsigned)a >= METRICS_NVERDICT)
		return;
	for (b = 0; b < METRICS_NB && us > metrics_bounds_us[b]; b++)
		continue;
	INC(metrics_hist[st][b]);
	atomic_fetch_add_explicit(&metrics_sum_ns[st], ns,
	    memory_order_relaxed);
	if (enforced)
		INC(metrics_verdicts[st][a]);
	else
		INC(metrics_dry[st][a]);
}

void
tg_metrics_session(int delta)
{
	atomic_fetch_add_explicit(&metrics_open, delta, memory_order_relaxed);
	if (delta > 0)
		INC(metrics_sessions);
}

void
tg_metrics_error(enum tg_metric_error e)
{
	if ((unsigned)e < TG_M_ERROR_COUNT)
		INC(metrics_errors[e]);
}

void
tg_metrics_grey(enum tg_metric_grey g)
{
	if ((unsigned)g < TG_M_GREY_COUNT)
		INC(metrics_grey[g]);
}

void
metrics_put(struct metrics_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		b->cap = b->cap * 2 + (n > 0 ? (size_t)n : 0);
		b->s = tg_xrealloc(b->s, b->cap);
	}
}

void
metrics_help(struct metrics_buf *b, const char *name, const char *type,
    const char *help)
{
	metrics_put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* metrics_label - a label value escaped as the format wants (\\ \" \n) */
const char *
metrics_label(char *dst, size_t dstsz, const char *v)
{
	size_t o = 0;

	for (; *v != '\0' && o + 3 < dstsz; v++) {
		if (*v == '\\' || *v == '"' || *v == '\n') {
			dst[o++] = '\\';
			dst[o++] = *v == '\n' ? 'n' : *v;
		} else
			dst[o++] = *v;
	}
	dst[o] = '\0';
	return dst;
}

static void
metrics_fmt_grey(struct metrics_buf *b)
{
	static const char *const res[TG_M_GREY_COUNT] = {
		"deferred", "retried_too_early", "passed_after_delay",
		"passed_known", "allow_listed", "store_failed",
	};

	metrics_help(b, "tollgate_greylist_checks_total", "counter",
	    "Greylisting checks by result: first attempts deferred, retries "
	    "too early (deferred), retries after the delay (passed), triplets "
	    "that passed before, clients on the auto-allow list, store "
	    "failures.");
	for (int i = 0; i < TG_M_GREY_COUNT; i++)
		metrics_put(b, "tollgate_greylist_checks_total{result=\"%s\"} "
		    "%llu\n", res[i], GET(metrics_grey[i]));
	metrics_help(b, "tollgate_greylist_evictions_total", "counter",
	    "Greylisting records not yet expired evicted from the full "
	    "memory store (their mail is greylisted again).");
	metrics_put(b, "tollgate_greylist_evictions_total %llu\n",
	    GET(metrics_errors[TG_M_GREY_EVICTION]));
}

static void
metrics_fmt_stages(struct metrics_buf *b)
{
	metrics_help(b, "tollgate_verdicts_total", "counter",
	    "Stage verdicts carried out, by stage and action.");
	for (int s = 0; s < TG_STAGE_COUNT; s++)
		for (int a = 0; a < METRICS_NVERDICT; a++)
			metrics_put(b, "tollgate_verdicts_total{stage=\"%s\","
			    "action=\"%s\"} %llu\n", tg_stage_name(s),
			    tg_action_name(a), GET(metrics_verdicts[s][a]));
	metrics_help(b, "tollgate_dry_run_verdicts_total", "counter",
	    "Stage verdicts only logged because of a global dry run.");
	for (int s = 0; s < TG_STAGE_COUNT; s++)
		for (int a = 0; a < METRICS_NVERDICT; a++)
			metrics_put(b, "tollgate_dry_run_verdicts_total{stage="
			    "\"%s\",action=\"%s\"} %llu\n", tg_stage_name(s),
			    tg_action_name(a), GET(metrics_dry[s][a]));
	metrics_help(b, "tollgate_stage_duration_seconds", "histogram",
	    "Time to evaluate a stage, DNS and store lookups included.");
	for (int s = 0; s < TG_STAGE_COUNT; s++) {
		unsigned long long cum = 0;

		for (size_t i = 0; i <= METRICS_NB; i++) {
			cum += GET(metrics_hist[s][i]);
			if (i < METRICS_NB)
				metrics_put(b, "tollgate_stage_duration_seconds"
				    "_bucket{stage=\"%s\",le=\"%g\"} %llu\n",
				    tg_stage_name(s),
				    (double)metrics_bounds_us[i] / 1e6, cum);
			else
				metrics_put(b, "tollgate_stage_duration_seconds"
				    "_bucket{stage=\"%s\",le=\"+Inf\"} %llu\n",
				    tg_stage_name(s), cum);
		}
		metrics_put(b, "tollgate_stage_duration_seconds_sum{stage="
		    "\"%s\"} %.9f\n", tg_stage_name(s),
		    (double)GET(metrics_sum_ns[s]) / 1e9);
		metrics_put(b, "tollgate_stage_duration_seconds_count{stage="
		    "\"%s\"} %llu\n", tg_stage_name(s), cum);
	}
}

static void
metrics_fmt_rules(struct metrics_buf *b)
{
	static const struct {
		const char	*name, *help;
		size_t		 off;
	} c[] = {
		{ "tollgate_rule_evaluated_total", "Times a rule's condition "
		  "was evaluated.", offsetof(struct tg_rule_stats, evaluated) },
		{ "tollgate_rule_matched_total", "Times a rule's condition "
		  "was true.", offsetof(struct tg_rule_stats, matched) },
		{ "tollgate_rule_errors_total", "Times a rule's condition "
		  "could not be decided (lookup failure).",
		  offsetof(struct tg_rule_stats, errors) },
	};
	struct tg_rule_stats *rs;
	char name[2 * TG_RULE_NAME_MAX + 4];

	pthread_mutex_lock(&metrics_lock);
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		metrics_help(b, c[i].name, "counter", c[i].help);
		for (rs = metrics_rules; rs != NULL; rs = rs->next)
			metrics_put(b, "%s{stage=\"%s\",rule=\"%s\"} %llu\n",
			    c[i].name, tg_stage_name(rs->stage),
			    metrics_label(name, sizeof name, rs->name),
			    GET(*(atomic_ullong *)(void *)((char *)rs +
			    c[i].off)));
	}
	metrics_help(b, "tollgate_rule_actions_total", "counter",
	    "Actions a matching rule carried out, by type (dry-run rules "
	    "carry out none).");
	for (rs = metrics_rules; rs != NULL; rs = rs->next)
		for (int a = 1; a < METRICS_NACT; a++)
			metrics_put(b, "tollgate_rule_actions_total{stage="
			    "\"%s\",rule=\"%s\",action=\"%s\"} %llu\n",
			    tg_stage_name(rs->stage),
			    metrics_label(name, sizeof name, rs->name),
			    tg_action_name(a), GET(rs->actions[a]));
	pthread_mutex_unlock(&metrics_lock);
}

char *
tg_metrics_format(size_t *len)
{
	struct metrics_buf b = { tg_xmalloc(8192), 0, 8192 };

	b.s[0] = '\0';
	metrics_help(&b, "tollgate_sessions_open", "gauge",
	    "SMTP sessions (milter connections) now open.");
	metrics_put(&b, "tollgate_sessions_open %lld\n", GET(metrics_open));
	metrics_help(&b, "tollgate_sessions_total", "counter",
	    "SMTP sessions since start.");
	metrics_put(&b, "tollgate_sessions_total %llu\n",
	    GET(metrics_sessions));
	metrics_help(&b, "tollgate_store_errors_total", "counter",
	    "Rate-limit store operations that failed.");
	metrics_put(&b, "tollgate_store_errors_total %llu\n",
	    GET(metrics_errors[TG_M_STORE_ERROR]));
	metrics_help(&b, "tollgate_store_evictions_total", "counter",
	    "Counters that still counted evicted from the full memory store "
	    "to make room for new keys (their keys count again from zero).");
	metrics_put(&b, "tollgate_store_evictions_total %llu\n",
	    GET(metrics_errors[TG_M_STORE_EVICTION]));
	metrics_help(&b, "tollgate_store_master_switches_total", "counter",
	    "Times the Redis store (store redis with sentinels) moved to "
	    "another master named by the Sentinels.");
	metrics_put(&b, "tollgate_store_master_switches_total %llu\n",
	    GET(metrics_errors[TG_M_STORE_MASTER_SWITCH]));
	metrics_help(&b, "tollgate_dns_errors_total", "counter",
	    "DNS lookups that failed or timed out.");
	metrics_put(&b, "tollgate_dns_errors_total %llu\n",
	    GET(metrics_errors[TG_M_DNS_ERROR]));
	metrics_help(&b, "tollgate_dns_loop_misses_total", "counter",
	    "DNS lookups the native engine had not prefetched, made on an "
	    "event loop thread, which waited for them (a bug: 0 expected).");
	metrics_put(&b, "tollgate_dns_loop_misses_total %llu\n",
	    GET(metrics_errors[TG_M_DNS_LOOP_MISS]));
	metrics_help(&b, "tollgate_internal_errors_total", "counter",
	    "Internal errors answered with 451 4.3.0.");
	metrics_put(&b, "tollgate_internal_errors_total %llu\n",
	    GET(metrics_errors[TG_M_INTERNAL_ERROR]));
	metrics_fmt_grey(&b);
	metrics_fmt_stages(&b);
	metrics_fmt_rules(&b);
	metrics_fmt_ops(&b);
	*len = b.len;
	return b.s;
}

void
tg_metrics_shutdown(void)
{
	struct tg_rule_stats *rs, *next;

	pthread_mutex_lock(&metrics_lock);
	for (rs = metrics_rules; rs != NULL; rs = next) {
		next = rs->next;
		free(rs->name);
		free(rs);
	}
	metrics_rules = NULL;
	metrics_nrules = 0;
	pthread_mutex_unlock(&metrics_lock);
	metrics_ops_shutdown();
}
