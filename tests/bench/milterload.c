/* milterload.c - milter load generator and test client: options, the
 * connection threads, the report. Usage in tests/bench/README.md.
 * Owns: the run. Threads: main starts one thread per concurrent
 * connection; each keeps its own statistics, merged after join. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#include "mload.h"

/* Offer every step to be skipped and every no-reply flag, as Postfix
 * does; the milter picks. (RCPT_REJ: we send no rejected recipients.) */
#define OFFER_ALL	0x1ff7ffUL

struct worker {
	pthread_t	 tid;
	struct mload_run *run;
	struct mload_stats *st;
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: milterload -s socket [-Aqv] [-c conns] [-f scenario] "
	    "[-H secs]\n"
	    "                  [-k addrs] [-m msgs-per-conn] [-n msgs] "
	    "[-r msgs/s] [-t timeout]\n"
	    "-k: %%IP, %%NET and %%BIP cycle over addrs addresses "
	    "(connection number modulo addrs)\n"
	    "socket: unix:/path, inet:port@host, inet6:port@host\n");
	exit(2);
}

void
mload_count(struct mload_stats *st, int stage, const char *text)
{
	size_t i;

	for (i = 0; i < st->nreplies; i++)
		if (st->replies[i].stage == stage &&
		    strcmp(st->replies[i].text, text) == 0) {
			st->replies[i].n++;
			return;
		}
	if (st->nreplies == MLOAD_NREPLY) {
		st->replies_lost++;
		return;
	}
	st->replies[i].stage = stage;
	snprintf(st->replies[i].text, sizeof st->replies[i].text, "%s", text);
	st->replies[i].n = 1;
	st->nreplies++;
}

/* mload_hold - pause every connection inside its first message until all
 * are there, then hold them opt->hold seconds: the milter then has
 * "conns" sessions in flight, for memory figures. */
void
mload_hold(struct mload_run *run)
{
	struct timespec ts;

	pthread_mutex_lock(&run->hold_lock);
	if (run->hold_done) {
		pthread_mutex_unlock(&run->hold_lock);
		return;
	}
	if (++run->held == run->opt->conns) {
		fprintf(stderr, "milterload: holding %d sessions for %d s\n",
		    run->held, run->opt->hold);
		pthread_mutex_unlock(&run->hold_lock);
		sleep((unsigned)run->opt->hold);
		pthread_mutex_lock(&run->hold_lock);
		run->hold_done = 1;
		pthread_cond_broadcast(&run->hold_cond);
	}
	/* Bounded: a connection that failed before its first message
	 * never comes, and the others must not wait for it forever. */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += run->opt->hold + 2 * run->opt->timeout;
	while (!run->hold_done && pthread_cond_timedwait(&run->hold_cond,
	    &run->hold_lock, &ts) == 0)
		;
	pthread_mutex_unlock(&run->hold_lock);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned long no;

	for (;;) {
		pthread_mutex_lock(&w->run->lock);
		no = w->run->next_conn++;
		pthread_mutex_unlock(&w->run->lock);
		if (mload_session(w->run, w->st, no) == 1)
			break;
	}
	return NULL;
}

static void
merge(struct mload_stats *d, const struct mload_stats *s)
{
	size_t i;
	int k;

	for (k = 0; k < ST_NSTAGES; k++)
		mload_hist_merge(&d->h[k], &s->h[k]);
	d->msgs_done += s->msgs_done;
	d->msgs_ok += s->msgs_ok;
	d->sessions += s->sessions;
	d->errors += s->errors;
	d->expect_fail += s->expect_fail;
	d->replies_lost += s->replies_lost;
	if (s->sessions > 0) {
		d->neg_proto = s->neg_proto;
		d->neg_actions = s->neg_actions;
	}
	for (i = 0; i < s->nreplies; i++) {
		unsigned long n = s->replies[i].n;

		while (n-- > 0)		/* cheap: few kinds, merged once */
			mload_count(d, s->replies[i].stage,
			    s->replies[i].text);
	}
}

static void
steps_line(unsigned long p)
{
	static const struct { unsigned long bit; const char *name; } f[] = {
		{ SMFIP_NOCONNECT, "connect" }, { SMFIP_NOHELO, "helo" },
		{ SMFIP_NOMAIL, "mail" }, { SMFIP_NORCPT, "rcpt" },
		{ SMFIP_NODATA, "data" }, { SMFIP_NOHDRS, "headers" },
		{ SMFIP_NOEOH, "eoh" }, { SMFIP_NOBODY, "body" },
	};
	size_t i;
	int any = 0;

	printf("steps skipped:");
	for (i = 0; i < sizeof f / sizeof f[0]; i++)
		if (p & f[i].bit) {
			printf(" %s", f[i].name);
			any = 1;
		}
	printf("%s\n", any ? "" : " none");
}

static void
report(const struct mload_opt *o, const struct mload_stats *t, double secs)
{
	const struct mload_hist *m = &t->h[ST_MSG];
	size_t i;
	int k;

	if (o->verbose >= 0) {
		printf("milterload: %s, %d connections, %lu messages, %lu per "
		    "connection\n", o->sock, o->conns, o->msgs, o->per_conn);
		printf("negotiated: actions 0x%lx protocol 0x%lx; ",
		    t->neg_actions, t->neg_proto);
		steps_line(t->neg_proto);
		printf("%-10s %9s %9s %9s %9s %9s  (microseconds)\n", "stage",
		    "count", "p50", "p99", "p99.9", "max");
		for (k = 0; k < ST_NSTAGES; k++) {
			const struct mload_hist *h = &t->h[k];

			if (h->count == 0)
				continue;
			printf("%-10s %9lu %9.1f %9.1f %9.1f %9.1f\n",
			    mload_stage_name[k], (unsigned long)h->count,
			    mload_hist_pct(h, 50) / 1e3,
			    mload_hist_pct(h, 99) / 1e3,
			    mload_hist_pct(h, 99.9) / 1e3, h->max / 1e3);
		}
		printf("replies:\n");
		for (i = 0; i < t->nreplies; i++)
			printf("  %-8s %9lu  %s\n",
			    mload_stage_name[t->replies[i].stage],
			    t->replies[i].n, t->replies[i].text);
		if (t->replies_lost)
			printf("  (%lu replies of further kinds not listed)\n",
			    t->replies_lost);
		if (t->msgs_ok < t->msgs_done)
			printf("WARNING: %lu of %lu messages were not "
			    "accepted\n", t->msgs_done - t->msgs_ok,
			    t->msgs_done);
	}
	printf("RESULT msgs=%lu ok=%lu refused=%lu errors=%lu "
	    "expect_fail=%lu sessions=%lu secs=%.3f rate=%.1f "
	    "msg_p50_us=%.1f msg_p99_us=%.1f msg_p999_us=%.1f\n",
	    t->msgs_done, t->msgs_ok, t->msgs_done - t->msgs_ok, t->errors,
	    t->expect_fail, t->sessions, secs,
	    secs > 0 ? t->msgs_done / secs : 0.0, mload_hist_pct(m, 50) / 1e3,
	    mload_hist_pct(m, 99) / 1e3, mload_hist_pct(m, 99.9) / 1e3);
}

static char *
make_body(const struct mload_scn *s, size_t *len)
{
	size_t max = 0, i;
	char *b;

	for (i = 0; i < s->nmsgs; i++)
		if (s->msgs[i].body > max)
			max = s->msgs[i].body;
	max = max > 65535 ? 65535 : max;
	if ((b = malloc(max + 1)) == NULL) {
		perror("milterload");
		exit(2);
	}
	/* Lines of 76 characters, CRLF-terminated, as on the wire. */
	for (i = 0; i < max; i++)
		b[i] = i % 78 == 76 ? '\r' : i % 78 == 77 ? '\n' :
		    (char)('a' + i % 26);
	*len = max;
	return b;
}

static unsigned long
number(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s == '\0' || *end != '\0')
		usage();
	return v;
}

int
main(int argc, char **argv)
{
	struct mload_opt o = { .conns = 1, .timeout = 10,
	    .offer_proto = OFFER_ALL };
	struct mload_scn scn;
	struct mload_run run;
	struct mload_stats total;
	struct worker *w;
	pthread_attr_t attr;
	struct timespec t0, t1;
	const char *file = NULL;
	int ch, i, per_set = 0;

	while ((ch = getopt(argc, argv, "Ac:f:H:k:m:n:qr:s:t:v")) != -1) {
		switch (ch) {
		case 'A':	o.require_accept = 1; break;
		case 'c':	o.conns = (int)number(optarg); break;
		case 'f':	file = optarg; break;
		case 'H':	o.hold = (int)number(optarg); break;
		case 'k':	mload_addr_pool(number(optarg)); break;
		case 'm':	o.per_conn = number(optarg); per_set = 1; break;
		case 'n':	o.msgs = number(optarg); break;
		case 'q':	o.verbose = -1; break;
		case 'r':	o.rate = (double)number(optarg); break;
		case 's':	o.sock = optarg; break;
		case 't':	o.timeout = (int)number(optarg); break;
		case 'v':	o.verbose = 1; break;
		default:	usage();
		}
	}
	if (o.sock == NULL || optind != argc || o.conns < 1)
		usage();
	if (file == NULL)
		mload_scn_default(&scn);
	else if (mload_scn_read(&scn, file) < 0)
		return 2;
	/* A scenario runs once by default: a test script. */
	if (o.msgs == 0)
		o.msgs = scn.nmsgs;
	if (!per_set)
		o.per_conn = scn.nmsgs;
	if (o.per_conn == 0)
		o.per_conn = 1;
	if (o.hold > 0 && o.msgs < (unsigned long)o.conns) {
		fprintf(stderr, "milterload: -H needs at least as many "
		    "messages as connections\n");
		return 2;
	}
	memset(&run, 0, sizeof run);
	run.opt = &o;
	run.scn = &scn;
	run.body = make_body(&scn, &run.body_len);
	pthread_mutex_init(&run.lock, NULL);
	pthread_mutex_init(&run.hold_lock, NULL);
	pthread_cond_init(&run.hold_cond, NULL);

	if ((w = calloc((size_t)o.conns, sizeof *w)) == NULL) {
		perror("milterload");
		return 2;
	}
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	run.start_ns = (uint64_t)t0.tv_sec * 1000000000u +
	    (uint64_t)t0.tv_nsec;
	for (i = 0; i < o.conns; i++) {
		w[i].run = &run;
		/* calloc'ed pages stay untouched (and cost nothing) until a
		 * histogram bucket is used. */
		if ((w[i].st = calloc(1, sizeof *w[i].st)) == NULL ||
		    pthread_create(&w[i].tid, &attr, worker_main, &w[i])) {
			fprintf(stderr, "milterload: cannot start thread %d\n",
			    i);
			return 2;
		}
	}
	memset(&total, 0, sizeof total);
	for (i = 0; i < o.conns; i++) {
		pthread_join(w[i].tid, NULL);
		merge(&total, w[i].st);
		free(w[i].st);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	report(&o, &total, (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9 - o.hold);
	if (total.errors > 0)
		return 2;
	if (total.expect_fail > 0)
		return 1;
	if (o.require_accept && total.msgs_ok < total.msgs_done)
		return 3;
	return 0;
}
