/* reload.h - the daemon's signal thread: SIGHUP reloads the policy off the
 * SMTP path, SIGTERM and SIGINT stop the front end. Daemon only. Threads: tg_reload_block_signals() must run in the main
 * thread before any other thread exists, so every thread inherits the
 * mask; the signal thread alone unblocks the signals, so it takes them
 * all, not libmilter's own signal thread (see reload.c). */
#ifndef TG_RELOAD_H
#define TG_RELOAD_H

/* Block SIGHUP, SIGTERM and SIGINT in the calling thread. Returns 0 or -1. */
int	tg_reload_block_signals(void);
/* Start the thread. path is the policy file to read again on SIGHUP (NULL:
 * the built-in empty policy, nothing to reload); it must stay valid until
 * tg_reload_stop(). stop is called (once, on the signal thread) at SIGTERM
 * or SIGINT. Returns 0 or -1. */
int	tg_reload_start(const char *path, void (*stop)(void));
/* Wake the thread if it still waits and join it. */
void	tg_reload_stop(void);
/* Log the policy's diagnostics, one line each (also used by main). */
struct tg_diag;
void	tg_reload_log_diag(const struct tg_diag *);

#endif
