/* control.c - the control socket: a unix stream socket where a client
 * writes one command line and reads the answer until the socket closes.
 * Commands: "metrics" (tg_metrics_format), and those of tg_rate_ctl()
 * (limits, show, reset), run against the published policy. Owns: the
 * socket. Threads: one thread accepts and answers in turn; a slow client
 * is cut off after a timeout. */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg.h"
#include "tg_log.h"
#include "tg_metrics.h"
#include "tg_policy.h"
#include "tg_rate.h"
#include "control.h"

#define CONTROL_LINE_MAX	1024
#define CONTROL_TIMEOUT_MS	2000

static int	 control_fd = -1;
static int	 control_pipe[2] = { -1, -1 };	/* stops the thread */
static char	*control_path;
static pthread_t control_thread;

/* control_read_line - one line from fd within the timeout; 0 or -1 */
static int
control_read_line(int fd, char *buf, size_t bufsz)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	size_t n = 0;
	ssize_t r;

	while (n + 1 < bufsz) {
		if (poll(&pfd, 1, CONTROL_TIMEOUT_MS) <= 0)
			return -1;
		if ((r = read(fd, buf + n, bufsz - 1 - n)) <= 0)
			break;
		n += (size_t)r;
		if (memchr(buf, '\n', n) != NULL)
			break;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return n > 0 ? 0 : -1;
}

/* control_write - all of buf, or give up on a client that went away */
static void
control_write(int fd, const char *buf, size_t len)
{
	size_t off = 0;
	ssize_t w;

	while (off < len && (w = write(fd, buf + off, len - off)) > 0)
		off += (size_t)w;
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
	char line[CONTROL_LINE_MAX], out[8192], pr[128];
	struct tg_policy *p;
	size_t off = 0;
	ssize_t w;

	if (control_read_line(fd, line, sizeof line) < 0)
		return;
	if (strcmp(line, "metrics") == 0) {
		control_metrics(fd);
		return;
	}
	p = tg_policy_current();
	(void)tg_rate_ctl(p, line, out, sizeof out);
	tg_policy_unref(p);
	tg_log_info("control: %s", tg_str_printable(pr, sizeof pr, line));
	while (off < strlen(out) &&
	    (w = write(fd, out + off, strlen(out) - off)) > 0)
		off += (size_t)w;
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
		if ((fd = accept(control_fd, NULL, NULL)) < 0)
			continue;
		control_answer(fd);
		close(fd);
	}
	return NULL;
}

int
tg_control_start(const char *path)
{
	struct sockaddr_un sun;
	mode_t old;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (tg_strlcpy(sun.sun_path, path, sizeof sun.sun_path) >=
	    sizeof sun.sun_path) {
		tg_log_err("control socket path too long: %s", path);
		return -1;
	}
	if ((control_fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    pipe(control_pipe) != 0) {
		tg_log_warn("control socket");
		return -1;
	}
	(void)unlink(path);
	old = umask(0177);	/* counters and resets: the owner only */
	if (bind(control_fd, (struct sockaddr *)&sun, sizeof sun) != 0 ||
	    listen(control_fd, 8) != 0) {
		umask(old);
		tg_log_warn("control socket %s", path);
		return -1;
	}
	umask(old);
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
	(void)write(control_pipe[1], "x", 1);
	(void)pthread_join(control_thread, NULL);
	close(control_fd);
	(void)unlink(control_path);
	control_path = tg_free(control_path);
}
