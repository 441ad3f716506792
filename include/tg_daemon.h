/* tg_daemon.h - starting the daemon safely: no half-started daemon (the
 * parent exits with the child's start-up result), whole pidfiles, no
 * stealing a live daemon's socket. Daemon only. Threads: main thread,
 * before smfi_main. */
#ifndef TG_DAEMON_H
#define TG_DAEMON_H

#include <sys/types.h>

/* Fork into the background and start a session. The parent waits until
 * the child calls tg_daemon_ready() (exit 0) or exits first (exit 1), so
 * whoever started tollgate sees whether it is serving. stderr stays open
 * in the child until then, so start-up errors reach the terminal.
 * Returns 0 in the child, -1 if the fork failed. */
int	tg_daemon_detach(void);
/* Start-up is over: stderr to /dev/null, log to syslog only, release the
 * waiting parent. A no-op in the foreground. */
void	tg_daemon_ready(void);
/* Write our PID to path (absolute): a file is written whole or removed
 * again. Returns 0 or -1 (logged). */
int	tg_daemon_pidfile(const char *path);
/* 1 when a process accepts connections on the unix socket at path (a
 * daemon already runs there), 0 when not (absent, or a stale file). */
int	tg_daemon_socket_live(const char *path);
/* Turn Nagle's algorithm off on every listening TCP socket we hold (call
 * right after smfi_opensocket(), before any other listener opens): the
 * connections libmilter accepts inherit it. Returns how many were set. */
int	tg_daemon_nodelay_listeners(void);

/* The unix socket at path (absolute), from before libmilter creates it
 * until it is given to the -u user, never reached by its path in a way
 * that follows links. tg_daemon_socket_dir(), before smfi_opensocket():
 * holds the directory open and, when we run as root, refuses (-1, logged)
 * one that others than root and uid may write to (owner, or group or
 * world writable without the sticky bit). tg_daemon_socket_pin(), right
 * after: the name must be a socket owned by us; its device and inode are
 * kept (else -1, logged). tg_daemon_socket_chown(): -1 (logged) when the
 * name no longer is that socket, else chowns that socket without
 * following links (a failed chown is logged) and returns 0.
 * tg_daemon_socket_remove(), on a failed start: removes the socket if its
 * name is still ours (path when it was let go of already).
 * tg_daemon_socket_unpin() lets it go. */
int	tg_daemon_socket_dir(const char *path, uid_t uid);
int	tg_daemon_socket_pin(void);
int	tg_daemon_socket_chown(uid_t uid, gid_t gid);
void	tg_daemon_socket_remove(const char *path);
void	tg_daemon_socket_unpin(void);

#endif
