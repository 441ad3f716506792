/* log.c - syslog and stderr output, with a replaceable sink for tests.
 * Threads: thread-safe (syslog and stdio lock internally; the sink pointer
 * is set before threads start). */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "tg_log.h"

static int log_stderr = 1;
static int log_syslog;
static int log_debug_on;
/* Changed by a reload while sessions log: atomic. */
static atomic_int log_level = LOG_INFO;
static void (*log_sink)(int, const char *);

void
tg_log_open(const char *ident, int to_stderr, int to_syslog)
{
	log_stderr = to_stderr;
	log_syslog = to_syslog;
	if (to_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
tg_log_set_sink(void (*fn)(int, const char *))
{
	log_sink = fn;
}

void
tg_log_set_debug(int on)
{
	log_debug_on = on;
}

/* log_escape - the line with control and 8-bit bytes as \xNN. Callers
 * pass client values through tg_str_printable() already; this is the
 * backstop, so that no value (a queue id from a broken MTA, a name a
 * library hands back) can end a log line and forge the next one. */
static void
log_escape(char *dst, size_t dstsz, const char *src)
{
	size_t o = 0;

	for (; *src != '\0' && o + 5 < dstsz; src++) {
		unsigned char c = (unsigned char)*src;

		if (c >= 0x20 && c < 0x7f)
			dst[o++] = (char)c;
		else
			o += (size_t)snprintf(dst + o, dstsz - o, "\\x%02x", c);
	}
	dst[o] = '\0';
}

void
tg_log_set_level(int prio)
{
	atomic_store_explicit(&log_level, prio, memory_order_relaxed);
}

static void TG_PRINTFLIKE(2, 0)
log_emit(int prio, const char *fmt, va_list ap, int with_errno)
{
	char raw[2048], line[2048];
	int saved = errno;
	int n;

	if (!log_debug_on &&
	    prio > atomic_load_explicit(&log_level, memory_order_relaxed))
		return;
	n = vsnprintf(raw, sizeof raw, fmt, ap);
	if (with_errno && n >= 0 && (size_t)n < sizeof raw)
		snprintf(raw + n, sizeof raw - (size_t)n, ": %s",
		    strerror(saved));
	log_escape(line, sizeof line, raw);
	if (log_sink != NULL) {
		log_sink(prio, line);
		return;
	}
	if (log_syslog)
		syslog(prio, "%s", line);
	if (log_stderr)
		fprintf(stderr, "tollgate: %s\n", line);
}

#define LOG_FN(name, prio, err)				\
void								\
name(const char *fmt, ...)					\
{								\
	va_list ap;						\
	va_start(ap, fmt);					\
	log_emit(prio, fmt, ap, err);				\
	va_end(ap);						\
}

LOG_FN(tg_log_info, LOG_INFO, 0)
LOG_FN(tg_log_warnx, LOG_WARNING, 0)
LOG_FN(tg_log_warn, LOG_WARNING, 1)
LOG_FN(tg_log_err, LOG_ERR, 0)
LOG_FN(tg_log_debug, LOG_DEBUG, 0)

void
tg_log(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(prio, fmt, ap, 0);
	va_end(ap);
}
