/* mproto_listen.c - the native engine's listening socket, from the specs
 * tollgate takes with -p (the ones libmilter takes): unix:/path (or
 * local:), inet:port[@host] and inet6:port[@host], host a name or an
 * address (in brackets or not). A stale unix socket at the path is
 * removed before the bind; anything else there is refused (libmilter
 * would remove it). Owns: the listening descriptor until the loops take
 * it (mproto_loop.c). Threads: main thread, before the loops start. */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netdb.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg.h"
#include "tg_log.h"
#include "mproto.h"
#include "mproto_listen.h"

struct mp_listener mp_listener = { -1, 0, NULL, 0, 0 };

/* listen_unix - bind path; 0 or -1 */
static int
listen_unix(const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (tg_strlcpy(sun.sun_path, path, sizeof sun.sun_path) >=
	    sizeof sun.sun_path) {
		tg_log_err("milter socket %s: path too long", path);
		return -1;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			tg_log_err("milter socket %s: something that is not a "
			    "socket is there; not starting", path);
			return -1;
		}
		if (unlink(path) != 0) {
			tg_log_warn("milter socket %s: removing the stale one",
			    path);
			return -1;
		}
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0) {
		tg_log_warn("socket");
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0 ||
	    listen(fd, SOMAXCONN) != 0) {
		tg_log_warn("milter socket %s", path);
		close(fd);
		return -1;
	}
	/* What was made here, for the removal at exit. */
	if (lstat(path, &st) == 0) {
		mp_listener.dev = st.st_dev;
		mp_listener.ino = st.st_ino;
	}
	mp_listener.path = tg_xstrdup(path);
	mp_listener.unixsock = 1;
	return fd;
}

/* listen_inet - port[@host] of family (AF_INET, AF_INET6); fd or -1 */
static int
listen_inet(const char *spec, const char *arg, int family)
{
	struct addrinfo hints, *res = NULL, *ai;
	char *port = tg_xstrdup(arg), *host = NULL, *at;
	int fd = -1, one = 1, rc;
	size_t hl;

	if ((at = strchr(port, '@')) != NULL) {
		*at = '\0';
		host = at + 1;
		hl = strlen(host);
		if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
			host[hl - 1] = '\0';
			host++;
		}
		if (*host == '\0')
			host = NULL;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (*port == '\0' || (rc = getaddrinfo(host, port, &hints,
	    &res)) != 0) {
		tg_log_err("milter socket %s: %s", spec, *port == '\0' ?
		    "no port" : gai_strerror(rc));
		free(port);
		return -1;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof one);
		if (ai->ai_family == AF_INET6)
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
		    listen(fd, SOMAXCONN) != 0) {
			tg_log_warn("milter socket %s", spec);
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	free(port);
	return fd;
}

int
tg_mproto_listen(const char *spec)
{
	int fd;

	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0)
		fd = listen_unix(strchr(spec, ':') + 1);
	else if (strncmp(spec, "inet:", 5) == 0)
		fd = listen_inet(spec, spec + 5, AF_INET);
	else if (strncmp(spec, "inet6:", 6) == 0)
		fd = listen_inet(spec, spec + 6, AF_INET6);
	else {
		tg_log_err("milter socket %s: unknown kind", spec);
		fd = -1;
	}
	if (fd < 0)
		return -1;
	mp_listener.fd = fd;
	return 0;
}

void
mp_listener_close(void)
{
	struct stat st;

	if (mp_listener.fd >= 0)
		close(mp_listener.fd);
	mp_listener.fd = -1;
	/* Only the socket we made: whatever replaced it is not ours. */
	if (mp_listener.path != NULL && lstat(mp_listener.path, &st) == 0 &&
	    S_ISSOCK(st.st_mode) && st.st_dev == mp_listener.dev &&
	    st.st_ino == mp_listener.ino)
		(void)unlink(mp_listener.path);
	mp_listener.path = tg_free(mp_listener.path);
}
