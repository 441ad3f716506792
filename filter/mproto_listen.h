/* mproto_listen.h - the native engine's listening socket, shared by
 * mproto_listen.c (made by tg_mproto_listen()) and mproto_loop.c (watched
 * by every loop). Threads: set on the main thread before the loops
 * start; read-only while they run. */
#ifndef MPROTO_LISTEN_H
#define MPROTO_LISTEN_H

#include <sys/types.h>

struct mp_listener {
	int	 fd;		/* non-blocking; -1 when none */
	int	 unixsock;	/* a unix socket (no Nagle) */
	char	*path;		/* its path, removed at exit if still ours */
	dev_t	 dev;
	ino_t	 ino;
};
extern struct mp_listener mp_listener;

void	mp_listener_close(void);

#endif
