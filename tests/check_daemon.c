/* check_daemon.c - start-up helpers that touch sockets: the milter
 * listener's TCP_NODELAY reaches accepted connections, and a live unix
 * socket is told from a stale one. Loopback only. */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg.h"
#include "tg_daemon.h"

/* A listener on 127.0.0.1, any port; its address in *sin. */
static int
listen_loopback(struct sockaddr_in *sin)
{
	socklen_t len = sizeof *sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(sin, 0, sizeof *sin);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)sin, sizeof *sin), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)sin, &len), 0);
	return fd;
}

static int
nodelay(int fd)
{
	int on = -1;
	socklen_t len = sizeof on;

	ck_assert_int_eq(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len),
	    0);
	return on;
}

/* A connection libmilter accepts after start-up carries TCP_NODELAY (one
 * already queued at the call would not: it is cloned from the listener at
 * the handshake); a connected, not listening, socket is left alone. */
START_TEST(test_nodelay_reaches_accepted)
{
	struct sockaddr_in sin;
	int lfd = listen_loopback(&sin), cfd, afd;

	ck_assert_int_eq(nodelay(lfd), 0);
	ck_assert_int_eq(tg_daemon_nodelay_listeners(), 1);
	ck_assert_int_ne(nodelay(lfd), 0);
	/* A connection made afterwards, as the MTA's are. */
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(cfd, 0);
	ck_assert_int_eq(connect(cfd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(nodelay(cfd), 0);
	ck_assert_int_ge(afd = accept(lfd, NULL, NULL), 0);
	ck_assert_int_ne(nodelay(afd), 0);
	close(afd);
	close(cfd);
	close(lfd);
}
END_TEST

/* No listening TCP socket (a unix one does not count): nothing set. */
START_TEST(test_nodelay_only_tcp_listeners)
{
	struct sockaddr_un sun;
	char dir[] = "/tmp/check_daemon.XXXXXX";
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s/s", dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	ck_assert_int_eq(tg_daemon_nodelay_listeners(), 0);
	ck_assert_int_eq(tg_daemon_socket_live(sun.sun_path), 1);
	close(fd);
	/* The file stays, nobody listens: a stale socket. */
	ck_assert_int_eq(tg_daemon_socket_live(sun.sun_path), 0);
	unlink(sun.sun_path);
	ck_assert_int_eq(tg_daemon_socket_live(sun.sun_path), 0);
	rmdir(dir);
}
END_TEST

static Suite *
daemon_suite(void)
{
	Suite *s = suite_create("daemon");
	TCase *tc = tcase_create("sockets");

	tcase_add_test(tc, test_nodelay_reaches_accepted);
	tcase_add_test(tc, test_nodelay_only_tcp_listeners);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(daemon_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
