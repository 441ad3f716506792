/* dnsbench.c - what a DNS lookup costs the process that makes it, with
 * libunbound (as filter/dns.c uses it: a forwarder, its resolving
 * thread, answers read with ub_process()) and with c-ares (one channel,
 * its sockets watched with poll() in the calling thread, as an event
 * loop would). Both ask the same server the same names, KEEP lookups in
 * flight, until COUNT are answered; the figures are the process's CPU
 * (all threads, getrusage) and context switches per lookup, and lookups
 * per second. Built and run by hand (tests/bench/README.md, "DNS
 * libraries"): cc -O2 -o dnsbench dnsbench.c -lunbound -lcares
 * Usage: dnsbench unbound|cares ADDR PORT COUNT KEEP ZONE
 * (names: q<N>.<ZONE>, each once, so no cache answers). */
#include <sys/resource.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <ares.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unbound.h>

static long sent, answered, failed, total, keep;
static const char *zone;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
report(const char *lib, double t0, double t1, const struct rusage *r0)
{
	struct rusage r1;
	double cpu;

	getrusage(RUSAGE_SELF, &r1);
	cpu = (r1.ru_utime.tv_sec - r0->ru_utime.tv_sec) +
	    (r1.ru_utime.tv_usec - r0->ru_utime.tv_usec) / 1e6 +
	    (r1.ru_stime.tv_sec - r0->ru_stime.tv_sec) +
	    (r1.ru_stime.tv_usec - r0->ru_stime.tv_usec) / 1e6;
	printf("RESULT lib=%s lookups=%ld failed=%ld secs=%.3f rate=%.0f "
	    "cpu_us=%.2f vcsw=%.3f ivcsw=%.3f\n", lib, answered, failed,
	    t1 - t0, answered / (t1 - t0), cpu * 1e6 / answered,
	    (double)(r1.ru_nvcsw - r0->ru_nvcsw) / answered,
	    (double)(r1.ru_nivcsw - r0->ru_nivcsw) / answered);
}

/* ---- libunbound -------------------------------------------------------- */

static struct ub_ctx *ub;

static void ub_send(void);

static void
ub_done(void *arg, int err, struct ub_result *r)
{
	(void)arg;
	answered++;
	if (err != 0 || r == NULL || (r->rcode != 0 && r->rcode != 3))
		failed++;
	if (r != NULL)
		ub_resolve_free(r);
	if (sent < total)
		ub_send();
}

static void
ub_send(void)
{
	char name[256];
	int id;

	snprintf(name, sizeof name, "q%ld.%s", sent++, zone);
	if (ub_resolve_async(ub, name, 1, 1, NULL, ub_done, &id) != 0) {
		answered++;
		failed++;
	}
}

static int
run_unbound(const char *addr, const char *port)
{
	char fwd[128];
	struct pollfd p;

	ub = ub_ctx_create();
	snprintf(fwd, sizeof fwd, "%s@%s", addr, port);
	if (ub == NULL || ub_ctx_async(ub, 1) != 0 ||
	    ub_ctx_set_option(ub, "do-not-query-localhost:", "no") != 0 ||
	    ub_ctx_set_fwd(ub, fwd) != 0)
		return 1;
	for (long i = 0; i < keep && sent < total; i++)
		ub_send();
	p.fd = ub_fd(ub);
	p.events = POLLIN;
	while (answered < total)
		if (poll(&p, 1, 1000) > 0)
			ub_process(ub);
	ub_ctx_delete(ub);
	return 0;
}

/* ---- c-ares ------------------------------------------------------------ */

static ares_channel ch;

static void ca_send(void);

static void
ca_done(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	(void)arg;
	(void)timeouts;
	(void)abuf;
	(void)alen;
	answered++;
	if (status != ARES_SUCCESS && status != ARES_ENOTFOUND)
		failed++;
	if (sent < total)
		ca_send();
}

static void
ca_send(void)
{
	char name[256];

	snprintf(name, sizeof name, "q%ld.%s", sent++, zone);
	ares_query(ch, name, 1 /* C_IN */, 1 /* T_A */, ca_done, NULL);
}

static int
run_cares(const char *addr, const char *port)
{
	struct ares_options o;
	char servers[128];

	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
		return 1;
	memset(&o, 0, sizeof o);
	o.flags = ARES_FLAG_NOSEARCH;
	o.tries = 1;
	o.timeout = 3000;
	if (ares_init_options(&ch, &o, ARES_OPT_FLAGS | ARES_OPT_TRIES |
	    ARES_OPT_TIMEOUTMS) != ARES_SUCCESS)
		return 1;
	snprintf(servers, sizeof servers, "%s:%s", addr, port);
	if (ares_set_servers_ports_csv(ch, servers) != ARES_SUCCESS)
		return 1;
	for (long i = 0; i < keep && sent < total; i++)
		ca_send();
	while (answered < total) {
		ares_socket_t s[ARES_GETSOCK_MAXNUM];
		struct pollfd p[ARES_GETSOCK_MAXNUM];
		int bits = ares_getsock(ch, s, ARES_GETSOCK_MAXNUM), n = 0;

		for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			if (!ARES_GETSOCK_READABLE(bits, i) &&
			    !ARES_GETSOCK_WRITABLE(bits, i))
				continue;
			p[n].fd = s[i];
			p[n].events = (ARES_GETSOCK_READABLE(bits, i) ? POLLIN :
			    0) | (ARES_GETSOCK_WRITABLE(bits, i) ? POLLOUT : 0);
			p[n].revents = 0;
			n++;
		}
		if (poll(p, (nfds_t)n, 1000) <= 0) {
			ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
			continue;
		}
		for (int i = 0; i < n; i++)
			if (p[i].revents != 0)
				ares_process_fd(ch, p[i].revents & (POLLIN |
				    POLLERR | POLLHUP) ? p[i].fd :
				    ARES_SOCKET_BAD, p[i].revents & POLLOUT ?
				    p[i].fd : ARES_SOCKET_BAD);
	}
	ares_destroy(ch);
	ares_library_cleanup();
	return 0;
}

int
main(int argc, char **argv)
{
	struct rusage r0;
	double t0;
	int rc;

	if (argc != 7) {
		fprintf(stderr, "usage: dnsbench unbound|cares ADDR PORT COUNT "
		    "KEEP ZONE\n");
		return 2;
	}
	total = atol(argv[4]);
	keep = atol(argv[5]);
	zone = argv[6];
	getrusage(RUSAGE_SELF, &r0);
	t0 = now();
	rc = strcmp(argv[1], "cares") == 0 ? run_cares(argv[2], argv[3]) :
	    run_unbound(argv[2], argv[3]);
	if (rc != 0) {
		fprintf(stderr, "dnsbench: %s: set-up failed\n", argv[1]);
		return 1;
	}
	report(argv[1], t0, now(), &r0);
	return 0;
}
