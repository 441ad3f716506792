/* daemon.c - detaching without half-starting, whole pidfiles, the check
 * that no other daemon serves our socket before libmilter replaces it, and
 * giving the unix socket to the -u user without following a path others
 * may change. Owns: the notify pipe to the waiting parent, the pinned
 * socket. Threads: main thread only, before smfi_main. */
#include "config.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg.h"
#include "tg_log.h"
#include "tg_daemon.h"

static int daemon_notify = -1;	/* write end; the parent reads */

/*
 * The milter's unix socket between its creation by libmilter (as root)
 * and the chown to the -u user. Whoever can write to its directory can
 * replace it by a symlink or a hard link to any file in that time, so the
 * socket is never reached by its path again: its directory is held open,
 * and the socket itself is held by an O_PATH descriptor where the system
 * has them (then the chown reaches that very inode), else named in the
 * held directory without following links, after its device and inode are
 * found unchanged.
 */
static struct {
	char	*path;		/* for messages */
	int	 dirfd;		/* its directory, or -1 */
	char	*name;		/* its name there */
	int	 fd;		/* O_PATH on the socket, or -1 */
	dev_t	 dev;		/* what was created */
	ino_t	 ino;
} daemon_sock = { NULL, -1, NULL, -1, 0, 0 };

int
tg_daemon_detach(void)
{
	int fds[2], fd;
	pid_t pid;
	ssize_t n;
	char c;

	if (pipe(fds) != 0) {
		tg_log_warn("pipe");
		return -1;
	}
	if ((pid = fork()) < 0) {
		tg_log_warn("fork");
		return -1;
	}
	if (pid > 0) {
		close(fds[1]);
		do
			n = read(fds[0], &c, 1);
		while (n < 0 && errno == EINTR);
		/* EOF: the child exited before it was ready (it said why). */
		_exit(n == 1 && c == 'r' ? 0 : 1);
	}
	close(fds[0]);
	(void)fcntl(fds[1], F_SETFD, FD_CLOEXEC);
	daemon_notify = fds[1];
	if (setsid() < 0)
		tg_log_warn("setsid");
	if (chdir("/") != 0)
		tg_log_warn("chdir /");
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		(void)dup2(fd, STDIN_FILENO);
		(void)dup2(fd, STDOUT_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return 0;
}

void
tg_daemon_ready(void)
{
	int fd;

	if (daemon_notify < 0)
		return;
	tg_log_open("tollgate", 0, 1);
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		(void)dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	if (write(daemon_notify, "r", 1) != 1)
		tg_log_warn("telling the parent process we are ready");
	close(daemon_notify);
	daemon_notify = -1;
}

int
tg_daemon_pidfile(const char *path)
{
	struct stat st;
	char buf[32];
	int fd, len, regular;

	/* O_NOFOLLOW: a symlink planted in the pidfile's directory must
	 * not make root write elsewhere. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (fd < 0) {
		tg_log_warn("cannot create pidfile %s", path);
		return -1;
	}
	/* Only a regular file is removed again on failure: a pidfile path
	 * naming a device (/dev/full) must not cost root the device. */
	regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)len) != len ||
	    (regular && fsync(fd) != 0)) {
		tg_log_warn("cannot write pidfile %s", path);
		close(fd);
		goto fail;
	}
	if (close(fd) != 0) {
		tg_log_warn("cannot write pidfile %s", path);
		goto fail;
	}
	return 0;
fail:
	if (regular)
		(void)unlink(path);
	return -1;
}

int
tg_daemon_socket_live(const char *path)
{
	struct sockaddr_un sun;
	int fd, live;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (tg_strlcpy(sun.sun_path, path, sizeof sun.sun_path) >=
	    sizeof sun.sun_path)
		return 0;	/* libmilter reports the long path */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	live = connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0;
	close(fd);
	return live;
}

/*
 * libmilter sends every modification (each added or removed header) as a
 * packet of its own and never sets TCP_NODELAY, so on an inet socket the
 * second packet waits for the MTA's delayed ACK of the first: about 40 ms
 * at end of message for any message that gets a header. libmilter does
 * not expose its sockets; the listener is the only listening TCP socket
 * when this runs, and on Linux (and the BSDs) accepted connections
 * inherit TCP_NODELAY from it.
 */
int
tg_daemon_nodelay_listeners(void)
{
	struct rlimit rl;
	int fd, maxfd, n = 0;

	maxfd = getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 65536 ?
	    (int)rl.rlim_cur : 65536;
	for (fd = 3; fd < maxfd; fd++) {
		int on = 0, proto = 0, one = 1;
		socklen_t len = sizeof on;

		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) != 0)
			continue;	/* not open, or not a socket */
		len = sizeof proto;
		if (!on || getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto,
		    &len) != 0 || proto != IPPROTO_TCP)
			continue;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof one) != 0)
			tg_log_warn("TCP_NODELAY on the milter socket");
		else
			n++;
	}
	return n;
}

int
tg_daemon_socket_dir(const char *path, uid_t uid)
{
	struct stat st;
	const char *slash = strrchr(path, '/');
	char *dir;

	tg_daemon_socket_unpin();
	if (slash == NULL || slash[1] == '\0') {
		tg_log_err("milter socket %s: not an absolute path to a file",
		    path);
		return -1;
	}
	dir = slash == path ? tg_xstrdup("/") :
	    tg_xasprintf("%.*s", (int)(slash - path), path);
	daemon_sock.path = tg_xstrdup(path);
	daemon_sock.name = tg_xstrdup(slash + 1);
	daemon_sock.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (daemon_sock.dirfd < 0 || fstat(daemon_sock.dirfd, &st) != 0) {
		tg_log_warn("milter socket directory %s", dir);
		goto fail;
	}
	/* Started as root: whoever else may write to the directory may
	 * replace the socket, and the MTA would talk to them (a sticky
	 * directory keeps others from renaming or removing it). */
	if (geteuid() == 0 && ((st.st_uid != 0 && st.st_uid != uid) ||
	    ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    (st.st_mode & S_ISVTX) == 0))) {
		tg_log_err("milter socket directory %s may be written by "
		    "others than root%s (owner uid %ld, mode %04o): they could "
		    "replace the socket; not starting", dir, uid != 0 ?
		    " and the -u user" : "", (long)st.st_uid,
		    (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	free(dir);
	return 0;
fail:
	free(dir);
	tg_daemon_socket_unpin();
	return -1;
}

#ifdef O_PATH
/* daemon_sock_open - hold the socket itself; 0 with *st, or -1 */
static int
daemon_sock_open(struct stat *st)
{
	daemon_sock.fd = openat(daemon_sock.dirfd, daemon_sock.name,
	    O_PATH | O_NOFOLLOW | O_CLOEXEC);
	return daemon_sock.fd >= 0 ? fstat(daemon_sock.fd, st) : -1;
}

/* daemon_sock_chown - the held inode, whatever its name is now */
static int
daemon_sock_chown(uid_t uid, gid_t gid)
{
	return fchownat(daemon_sock.fd, "", uid, gid, AT_EMPTY_PATH);
}
#else
static int
daemon_sock_open(struct stat *st)
{
	return fstatat(daemon_sock.dirfd, daemon_sock.name, st,
	    AT_SYMLINK_NOFOLLOW);
}

/* A hard link put in place between the caller's check and this call
 * would be chowned: only the directory's writers (checked at start, and
 * kept from linking others' files by protected_hardlinks) could. */
static int
daemon_sock_chown(uid_t uid, gid_t gid)
{
	return fchownat(daemon_sock.dirfd, daemon_sock.name, uid, gid,
	    AT_SYMLINK_NOFOLLOW);
}
#endif

int
tg_daemon_socket_pin(void)
{
	struct stat st;

	if (daemon_sock.dirfd < 0)
		return -1;
	if (daemon_sock_open(&st) != 0) {
		tg_log_warn("milter socket %s", daemon_sock.path);
		return -1;
	}
	/* Only we can have made a socket owned by our user there. */
	if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
		tg_log_err("milter socket %s is not the socket just created "
		    "(replaced?); not starting", daemon_sock.path);
		return -1;
	}
	daemon_sock.dev = st.st_dev;
	daemon_sock.ino = st.st_ino;
	return 0;
}

int
tg_daemon_socket_chown(uid_t uid, gid_t gid)
{
	struct stat st;

	if (daemon_sock.dirfd < 0 || daemon_sock.ino == 0)
		return -1;
	/* Still ours under its name, or the MTA would not reach us. */
	if (fstatat(daemon_sock.dirfd, daemon_sock.name, &st,
	    AT_SYMLINK_NOFOLLOW) != 0 || !S_ISSOCK(st.st_mode) ||
	    st.st_dev != daemon_sock.dev || st.st_ino != daemon_sock.ino) {
		tg_log_err("milter socket %s was replaced after it was "
		    "created; not starting", daemon_sock.path);
		return -1;
	}
	if (daemon_sock_chown(uid, gid) != 0)
		tg_log_warn("chown %s", daemon_sock.path);
	return 0;
}

void
tg_daemon_socket_remove(const char *path)
{
	struct stat st;

	if (daemon_sock.dirfd < 0) {
		(void)unlink(path);	/* let go of: no longer root */
		return;
	}
	if (daemon_sock.ino != 0 && fstatat(daemon_sock.dirfd,
	    daemon_sock.name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_dev == daemon_sock.dev && st.st_ino == daemon_sock.ino)
		(void)unlinkat(daemon_sock.dirfd, daemon_sock.name, 0);
}

void
tg_daemon_socket_unpin(void)
{
	if (daemon_sock.fd >= 0)
		close(daemon_sock.fd);
	if (daemon_sock.dirfd >= 0)
		close(daemon_sock.dirfd);
	free(daemon_sock.path);
	free(daemon_sock.name);
	daemon_sock.path = daemon_sock.name = NULL;
	daemon_sock.fd = daemon_sock.dirfd = -1;
	daemon_sock.dev = 0;
	daemon_sock.ino = 0;
}
