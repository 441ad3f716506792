/* mproto.h - tollgate's own milter protocol engine (the native front
 * end, -E native): a few threads, each with its own epoll loop, every MTA
 * connection pinned to the loop that accepted it; the protocol itself in
 * mproto_sess.c, driving the engine through the same driver as the
 * libmilter front end (tg_drive.h). Daemon only; it does not link
 * libmilter. Threads: start, run and shutdown on the main thread, stop on
 * the signal thread. */
#ifndef TG_MPROTO_H
#define TG_MPROTO_H

/* Open the listening socket of spec (unix:/path, local:/path,
 * inet:port[@host], inet6:port[@host]), created non-blocking; a stale
 * unix socket at the path is replaced, anything else there refused. The
 * caller sets the umask for a unix socket's mode. Returns 0 or -1
 * (logged). */
int	tg_mproto_listen(const char *spec);
/* Start nloops loops (0: one per CPU, at most 8) and up to maxworkers
 * workers for the commands that may wait on the network. 0 or -1. */
int	tg_mproto_start(int nloops, int maxworkers);
/* Wait until tg_mproto_stop(); 0. */
int	tg_mproto_run(void);
/* Stop accepting; commands that come from now on are answered 4xx
 * (async-signal-safe it is not: call it from a thread). */
void	tg_mproto_stop(void);
/* After run: wait at most timeout_ms for commands still running, then
 * end the loops, closing every connection (the MTA applies its milter
 * default action), and the workers; the listening socket is closed and a
 * unix socket we made is removed. 0, or -1 when commands still ran. */
int	tg_mproto_shutdown(int timeout_ms);

#endif
