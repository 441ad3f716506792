/* tg_log.h - logging to syslog, and to stderr in the foreground.
 * Tests install a sink to capture lines. Threads: thread-safe. */
#ifndef TG_LOG_H
#define TG_LOG_H

#include <syslog.h>
#include "tg.h"

/* Open syslog under ident; to_stderr also copies lines to stderr. */
void	tg_log_open(const char *ident, int to_stderr, int to_syslog);
/* Replace the output with fn (NULL restores the default). */
void	tg_log_set_sink(void (*fn)(int prio, const char *line));
void	tg_log(int prio, const char *fmt, ...) TG_PRINTFLIKE(2, 3);
void	tg_log_info(const char *fmt, ...) TG_PRINTFLIKE(1, 2);
void	tg_log_warnx(const char *fmt, ...) TG_PRINTFLIKE(1, 2);
void	tg_log_warn(const char *fmt, ...) TG_PRINTFLIKE(1, 2); /* + errno */
void	tg_log_err(const char *fmt, ...) TG_PRINTFLIKE(1, 2);
void	tg_log_debug(const char *fmt, ...) TG_PRINTFLIKE(1, 2);
void	tg_log_set_debug(int on);	/* -d: everything, whatever the level */
/* Lines less important than prio (LOG_WARNING, LOG_INFO, LOG_DEBUG) are
 * dropped; the default is LOG_INFO. */
void	tg_log_set_level(int prio);

#endif
