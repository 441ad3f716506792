/* tollgatectl.c - the client of tollgate's control socket (-C): sends its
 * arguments as one command line and prints the answer. Exit 0 when the
 * answer is not an error, 1 when it is, 2 when the daemon is unreachable.
 * Owns: nothing. Threads: one. */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg.h"

static void
ctl_usage(void)
{
	fprintf(stderr, "usage: tollgatectl -s socket metrics\n"
	    "       tollgatectl -s socket limits\n"
	    "       tollgatectl -s socket show LIMIT VALUE...\n"
	    "       tollgatectl -s socket reset LIMIT VALUE...\n"
	    "       tollgatectl -s socket greylists\n"
	    "       tollgatectl -s socket greylist NAME list [COUNT]\n"
	    "       tollgatectl -s socket greylist NAME show|delete|allow "
	    "VALUE...\n"
	    "       tollgatectl -s socket greylist NAME show|delete|allow "
	    "client ADDRESS\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	char line[1024], buf[4096];
	struct sockaddr_un sun;
	const char *path = NULL;
	int ch, fd, error = 0, first = 1;
	size_t o = 0;
	ssize_t n;

	while ((ch = getopt(argc, argv, "s:")) != -1) {
		if (ch != 's')
			ctl_usage();
		path = optarg;
	}
	if (path == NULL || optind == argc)
		ctl_usage();
	for (int i = optind; i < argc; i++) {
		n = snprintf(line + o, sizeof line - o, "%s%s",
		    argv[i], i + 1 < argc ? " " : "\n");
		if (n < 0 || (size_t)n >= sizeof line - o)
			ctl_usage();
		o += (size_t)n;
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (tg_strlcpy(sun.sun_path, path, sizeof sun.sun_path) >=
	    sizeof sun.sun_path)
		ctl_usage();
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		perror(path);
		return 2;
	}
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line)) {
		perror("write");
		return 2;
	}
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		if (first && strncmp(buf, "error:", 6) == 0)
			error = 1;
		first = 0;
		fwrite(buf, 1, (size_t)n, stdout);
	}
	close(fd);
	return error;
}
