/* control.h - the daemon's control socket (-C): operators see and reset
 * rate-limit counters without a restart (tollgatectl is the client).
 * Daemon only. Threads: one thread of its own, one request at a time. */
#ifndef TG_CONTROL_H
#define TG_CONTROL_H

/* Create the unix socket at path (mode 0600, a stale one is replaced) and
 * start the thread. Returns 0 or -1. */
int	tg_control_start(const char *path);
/* Stop the thread and remove the socket. */
void	tg_control_stop(void);

#endif
