/* metrics_impl.h - what metrics.c shares with metrics_ops.c: the output
 * buffer of the Prometheus text format and its helpers. Not for other
 * modules (they use tg_metrics.h). */
#ifndef METRICS_IMPL_H
#define METRICS_IMPL_H

#include <stddef.h>
#include "tg.h"

/* A growing output buffer. */
struct metrics_buf {
	char	*s;
	size_t	 len, cap;
};

void	metrics_put(struct metrics_buf *, const char *fmt, ...)
	    TG_PRINTFLIKE(2, 3);
/* The # HELP and # TYPE lines of a metric. */
void	metrics_help(struct metrics_buf *, const char *name,
	    const char *type, const char *help);
/* A label value escaped as the format wants (\\ \" \n), in dst. */
const char *metrics_label(char *dst, size_t dstsz, const char *v);

/* metrics_ops.c: reloads, start, build, DNS and Redis latency, refusals
 * by rate limit. */
void	metrics_fmt_ops(struct metrics_buf *);
/* A policy is being published: bind its limits' counters. */
struct tg_policy;
void	metrics_ops_bind(struct tg_policy *);
void	metrics_ops_shutdown(void);

#endif
