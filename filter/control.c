/* control.c - the control socket: a unix stream socket where a client
 * writes one command line and reads the answer until the socket closes.
 * Commands: "metrics" (tg_metrics_format), those of tg_rate_ctl()
 * (limits, show, reset) and of tg_grey_ctl() (greylists, greylist ...),
 * run against the published policy. Owns: the
 * socket. Threads: one thread accepts and answers in turn, so a client
 * has CONTROL_TIMEOUT_MS to send its line and as long to take the answer
 * (the socket is non-blocking): one that stalls is dropped, and the next
 * is served. */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg.h"
#include "tg_grey.h"
#include "tg_log.h"
#include "tg_metrics.h"
#include "tg_policy.h"
#include "tg_rate.h"
#include "tg_store.h"
#include "control.h"

#define CONTROL_LINE_MAX	1024
#define CONTROL_TIMEOUT_MS	2000
#define CONTROL_OUT_MAX		65536	/* an answer (greylist list) */

static int	 control_fd = -1;
static int	 control_pipe[2] = { -1, -1 };	/* stops the thread */
static char	*control_path;
static pthread_t control_thread;

/* control_wait - poll fd for events until the deadline (CLOCK_MONOTONIC
 * ms); 1 ready, 0 when the time is up or the wait failed */
static int
control_wait(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { fd, events, 0 };
	int64_t left;
	int r;

	for (;;) {
		if ((left = deadline - tg_clock_now_ms(NULL)) <= 0)
			return 0;
		if ((r = poll(&pfd, 1, (int)left)) > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return 0;
	}
}

/* control_read_line - one line from fd, all of it within the timeout (a
 * byte at a time just under it would otherwise hold the thread); 0 or -1 */
static int
control_read_line(int fd, char *buf, size_t bufsz)
{
	int64_t deadline = tg_clock_now_ms(NULL) + CONTROL_TIMEOUT_MS;
	size_t n = 0;
	ssize_t r;

	while (n + 1 < bufsz) {
		if (!control_wait(fd, POLLIN, deadline)) {
			tg_log_info("control: no command line within %d ms; "
			    "client dropped", CONTROL_TIMEOUT_MS);
			return -1;
		}
		if ((r = read(fd, buf + n, bufsz - 1 - n)) < 0 &&
		    (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (memchr(buf, '\n', n) != NULL)
			break;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return n > 0 ? 0 : -1;
}

/* control_write - all of buf within the timeout, or drop a client that
 * does not read (or went away) */
static void
control_write(int fd, const char *buf, size_t len)
{
	int64_t deadline = tg_clock_now_ms(NULL) + CONTROL_TIMEOUT_MS;
	size_t off = 0;
	ssize_t w;

	while (off < len) {
		if ((w = send(fd, buf + off, len - off, MSG_NOSIGNAL)) > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return;		/* gone */
		if (!control_wait(fd, POLLOUT, deadline)) {
			tg_log_info("control: answer not taken within %d ms "
			    "(%zu of %zu bytes); client dropped",
			    CONTROL_TIMEOUT_MS, off, len);
			return;
		}
	}
}

/* control_metrics - the same text as the HTTP endpoint */
static void
control_metrics(int fd)
{
	size_t len;
	char *m = tg_metrics_format(&len);

	control_write(fd, m, len);
	free(m);
}

static void
control_answer(int fd)
{
	char line[CONTROL_LINE_MAX], out[CONTROL_OUT_MAX], pr[128];
	struct tg_policy *p;

	if (control_read_line(fd, line, sizeof line) < 0)
		return;
	if (strcmp(line, "metrics") == 0) {
		control_metrics(fd);
		return;
	}
	p = tg_policy_current();
	if (strncmp(line, "greylist", 8) == 0)
		(void)tg_grey_ctl(p, line, out, sizeof out);
	else
		(void)tg_rate_ctl(p, line, out, sizeof out);
	tg_policy_unref(p);
	tg_log_info("control: %s", tg_str_printable(pr, sizeof pr, line));
	control_write(fd, out, strlen(out));
}

static void *
control_main(void *arg)
{
	struct pollfd pfd[2];
	int fd;

	(void)arg;
	pfd[0].fd = control_fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = control_pipe[0];
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			tg_log_warn("control: poll");
			break;
		}
		if (pfd[1].revents != 0)
			break;
		/* Non-blocking, so that no client holds the thread. */
		if ((fd = accept(control_fd, NULL, NULL)) < 0)
			continue;
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
			close(fd);
			continue;
		}
		control_answer(fd);
		close(fd);
	}
	return NULL;
}

int
tg_control_start(const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	int issock;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (tg_strlcpy(sun.sun_path, path, sizeof sun.sun_path) >=
	    sizeof sun.sun_path) {
		tg_log_err("control socket path too long: %s", path);
		return -1;
	}
	if ((control_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
	    0)) < 0 || pipe(control_pipe) != 0) {
		tg_log_warn("control socket");
		return -1;
	}
	(void)unlink(path);
	/* Counters and resets: the owner only. Not through umask(), which
	 * is the whole process's while other threads create files: Linux
	 * gives the new file the socket's own mode (less the umask). Where
	 * it does not, the check below refuses the socket; nobody can
	 * connect before listen(). */
	if (fchmod(control_fd, 0600) != 0 ||
	    bind(control_fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		tg_log_warn("control socket %s", path);
		return -1;
	}
	issock = lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
	if (!issock || (st.st_mode & 077) != 0) {
		tg_log_err("control socket %s: not created mode 0600; not "
		    "starting", path);
		if (issock)
			(void)unlink(path);
		return -1;
	}
	if (listen(control_fd, 8) != 0) {
		tg_log_warn("control socket %s", path);
		return -1;
	}
	control_path = tg_xstrdup(path);
	if (pthread_create(&control_thread, NULL, control_main, NULL) != 0) {
		tg_log_warnx("control: cannot start the thread");
		return -1;
	}
	return 0;
}

void
tg_control_stop(void)
{
	if (control_path == NULL)
		return;
	tg_pipe_wake(control_pipe[1], 'x');
	(void)pthread_join(control_thread, NULL);
	close(control_fd);
	(void)unlink(control_path);
	control_path = tg_free(control_path);
}
