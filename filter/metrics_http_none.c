/* metrics_http_none.c - stand-in for metrics_http.c in a build without
 * libmicrohttpd: -M is refused with a clear message. The counters still
 * exist and "tollgatectl metrics" prints them. Threads: none. */
#include "config.h"

#include "tg.h"
#include "tg_log.h"
#include "tg_metrics.h"

int
tg_metrics_http_start(const char *spec)
{
	tg_log_err("metrics: cannot listen on %s: tollgate was built without "
	    "libmicrohttpd (configure --with-metrics); use tollgatectl "
	    "metrics", spec);
	return -1;
}

void
tg_metrics_http_stop(void)
{
}
