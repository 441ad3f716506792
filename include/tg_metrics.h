/* tg_metrics.h - process-wide counters for the Prometheus endpoint and
 * "tollgatectl metrics": verdicts and latency per stage, per-rule counts,
 * sessions, store and DNS errors. Owns: the counters, which live as long
 * as the process; rule counters are kept by stage and rule name, so a
 * reload keeps the count of every rule that keeps its name. Threads:
 * counting uses C11 relaxed atomics and takes no lock; only binding a
 * policy's rules (at publish, off the mail path) takes a mutex. */
#ifndef TG_METRICS_H
#define TG_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include "tg_policy.h"

struct tg_verdict;

/* Per-rule counters; opaque (metrics.c). */
struct tg_rule_stats;

enum tg_metric_error {
	TG_M_STORE_ERROR,	/* a rate-limit store failed */
	TG_M_DNS_ERROR,		/* a DNS lookup failed or timed out */
	TG_M_INTERNAL_ERROR,	/* a 451 4.3.0 of our own */
	TG_M_STORE_EVICTION,	/* a full memory store evicted a counter
				 * that still counted */
	TG_M_GREY_EVICTION,	/* the full greylist store evicted a record
				 * not yet expired */
	TG_M_STORE_MASTER_SWITCH, /* Sentinel named another Redis master */
	TG_M_DNS_LOOP_MISS,	/* a lookup an event loop had not prefetched */
	TG_M_ERROR_COUNT
};

/* Greylisting checks, by what they found (tg_grey.h). */
enum tg_metric_grey {
	TG_M_GREY_DEFERRED,	/* a first attempt: deferred */
	TG_M_GREY_EARLY,	/* retried before the delay: deferred */
	TG_M_GREY_PASSED,	/* retried after the delay: passed */
	TG_M_GREY_KNOWN,	/* a triplet that passed before */
	TG_M_GREY_ALLOWED,	/* the client's auto-allow entry */
	TG_M_GREY_FAILED,	/* the store failed */
	TG_M_GREY_COUNT
};

/* Give every rule of p its counters (found by stage and name, created when
 * new). Called when p is published; rules beyond TG_METRICS_RULES_MAX
 * distinct names are not counted (logged once). */
#define TG_METRICS_RULES_MAX	4096
void	tg_metrics_bind(struct tg_policy *p);

/* A rule's condition gave m (-1 error, 0 no, 1 yes). When it matched,
 * the actions it carried out are counted by type (none for a dry-run
 * rule or a global dry run). */
void	tg_metrics_rule(const struct tg_rule *r, int m, int dry_run);

/* Monotonic clock in nanoseconds, for tg_metrics_stage(). */
uint64_t tg_metrics_now(void);
/* One stage evaluated: its latency since start and its verdict; enforced
 * is 0 when a dry run only logged the verdict. */
void	tg_metrics_stage(enum tg_stage, uint64_t start, enum tg_action,
	    int enforced);

void	tg_metrics_session(int delta);	/* +1 open, -1 closed */
void	tg_metrics_error(enum tg_metric_error);
void	tg_metrics_grey(enum tg_metric_grey);

/* Operations (metrics_ops.c). The daemon serves from now on: */
void	tg_metrics_started(void);
/* A reload (SIGHUP) ended: ok 1 when the new policy was published, 0
 * when it had errors and the old one stays. */
void	tg_metrics_reload(int ok);
/* One DNS round (cache misses) or one Redis request took the time since
 * start (tg_metrics_now()). */
enum tg_metric_latency {
	TG_M_LAT_DNS,
	TG_M_LAT_REDIS,
	TG_M_LAT_COUNT
};
void	tg_metrics_latency(enum tg_metric_latency, uint64_t start);
/* A rule of p refused mail (a = reject or tempfail; others are ignored)
 * because the rate limit named limit was exceeded. */
void	tg_metrics_limit(const struct tg_policy *p, const char *limit,
	    enum tg_action a);

/* Everything in the Prometheus text exposition format (version 0.0.4).
 * The caller frees the result; *len is its length. */
char	*tg_metrics_format(size_t *len);

/* The HTTP listener (metrics_http.c, libmicrohttpd; a stub without it).
 * spec is "host:port", "[v6addr]:port" or "port" (127.0.0.1). Returns 0
 * or -1 (logged). */
int	tg_metrics_http_start(const char *spec);
void	tg_metrics_http_stop(void);

/* Free the rule registry at exit (leak checkers). */
void	tg_metrics_shutdown(void);

#endif
