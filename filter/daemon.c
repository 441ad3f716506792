/* daemon.c - detaching without half-starting, whole pidfiles, and the
 * check that no other daemon serves our socket before libmilter replaces
 * it. Owns: the notify pipe to the waiting parent. Threads: main thread
 * only, before smfi_main. */
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
#include <string.h>
#include <unistd.h>

#include "tg.h"
#include "tg_log.h"
#include "tg_daemon.h"

static int daemon_notify = -1;	/* write end; the parent reads */

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
