/* check_dns.c - unit tests for the pure parts of the DNS checks
 * (dns_util.c: reversed names, A-record matching, wire names), the answer
 * cache, the set and dnslist statements, and tg_dns_resolve() from many
 * threads against a small fake DNS server on loopback (a thread of this
 * program on a port the kernel picks, so concurrent runs cannot
 * collide). HELO syntax and the helo attributes: check_helo.c. The
 * DNS-backed checks are tested against a local unbound by
 * tests/milter/dns.sh. Threads: the resolving tests start some (Check may
 * fork per test). */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tg.h"
#include "tg_check.h"
#include "tg_diag.h"
#include "tg_dns.h"
#include "tg_engine.h"
#include "tg_session.h"

struct rev_case {
	const char	*ip;
	const char	*zone;
	const char	*want;
};

static const struct rev_case rev_cases[] = {
	{ "192.0.2.20", "bl.test", "20.2.0.192.bl.test" },
	{ "127.0.0.2", "zen.spamhaus.org", "2.0.0.127.zen.spamhaus.org" },
	{ "10.1.2.3", NULL, "3.2.1.10.in-addr.arpa" },
	{ "::ffff:1.2.3.4", "bl.test", "4.3.2.1.bl.test" },
	{ "2001:db8::20", "bl.test", "0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"
	    ".0.0.0.0.8.b.d.0.1.0.0.2.bl.test" },
	{ "2001:DB8:ABCD::1", "", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"
	    ".d.c.b.a.8.b.d.0.1.0.0.2.ip6.arpa" },
};

START_TEST(test_reverse)
{
	const struct rev_case *c = &rev_cases[_i];
	char buf[TG_DNS_NAME_MAX];
	struct tg_ip ip;

	ck_assert_int_eq(tg_ip_parse(c->ip, &ip), 0);
	ck_assert_int_eq(tg_dns_reverse_name(&ip, c->zone, buf, sizeof buf),
	    TG_OK);
	ck_assert_msg(strcmp(buf, c->want) == 0, "case %d: got %s, want %s",
	    _i, buf, c->want);
}
END_TEST

START_TEST(test_reverse_toolong)
{
	char zone[300], buf[TG_DNS_NAME_MAX];
	struct tg_ip ip;

	memset(zone, 'a', sizeof zone - 1);
	zone[sizeof zone - 1] = '\0';
	ck_assert_int_eq(tg_ip_parse("1.2.3.4", &ip), 0);
	ck_assert_int_eq(tg_dns_reverse_name(&ip, zone, buf, sizeof buf),
	    TG_ERR_TOOLONG);
	ck_assert_int_eq(tg_dns_reverse_name(&ip, "bl.test", buf, 10),
	    TG_ERR_TOOLONG);
}
END_TEST

struct match_case {
	const char	*spec;		/* NULL: no matches (the default) */
	const char	*answer;
	int		 want;
};

static const struct match_case match_cases[] = {
	{ "127.0.0.2", "127.0.0.2", 1 },
	{ "127.0.0.2", "127.0.0.3", 0 },
	{ "127.0.0.4-127.0.0.7", "127.0.0.4", 1 },
	{ "127.0.0.4-127.0.0.7", "127.0.0.7", 1 },
	{ "127.0.0.4-127.0.0.7", "127.0.0.8", 0 },
	{ "127.0.0.4-127.0.0.7", "127.0.0.3", 0 },
	{ "127.0.10.0/24", "127.0.10.200", 1 },
	{ "127.0.10.0/24", "127.0.11.1", 0 },
	{ "&0.0.0.4", "127.0.0.6", 1 },
	{ "&0.0.0.4", "127.0.0.2", 0 },
	{ "&0.0.0.6", "127.0.0.2", 1 },
	{ NULL, "127.0.0.2", 1 },
	{ NULL, "127.1.2.3", 1 },
	{ NULL, "127.255.255.254", 0 },	/* Spamhaus: refused query */
	{ NULL, "10.0.0.1", 0 },
	{ "127.0.0.2", "::1", 0 },
};

START_TEST(test_match)
{
	const struct match_case *c = &match_cases[_i];
	struct tg_dns_match m;
	const char *why;
	struct tg_ip ip;

	if (c->spec != NULL)
		ck_assert_msg(tg_dns_match_parse(c->spec, &m, &why) == 0,
		    "case %d: %s: %s", _i, c->spec, why);
	ck_assert_int_eq(tg_ip_parse(c->answer, &ip), 0);
	ck_assert_msg(tg_dns_match_any(&m, c->spec != NULL, &ip, 1) == c->want,
	    "case %d: %s against %s: got %d, want %d", _i,
	    c->spec ? c->spec : "(default)", c->answer, !c->want, c->want);
}
END_TEST

static const char *const match_bad[] = {
	"", "127.0.0", "127.0.0.7-127.0.0.4", "&0.0.0.0", "&", "::1",
	"127.0.0.0/33", "127.0.0.1/24", "127.0.0.1-", "-127.0.0.1", "x",
	"127.0.0.1-::1", "::/0",
};

START_TEST(test_match_bad)
{
	struct tg_dns_match m;
	const char *why = NULL;

	ck_assert_msg(tg_dns_match_parse(match_bad[_i], &m, &why) < 0,
	    "\"%s\" accepted", match_bad[_i]);
	ck_assert_ptr_nonnull(why);
}
END_TEST

START_TEST(test_wire_name)
{
	static const unsigned char ok[] = "\4mail\4good\4test";
	static const unsigned char ptr[] = { 0xc0, 0x0c };
	static const unsigned char longlab[] = { 64, 'a' };
	static const unsigned char cut[] = { 4, 'm', 'a' };
	static const unsigned char dot[] = { 3, 'a', '.', 'b', 0 };
	char buf[TG_DNS_NAME_MAX];

	/* sizeof ok includes the terminating NUL: the root label. */
	ck_assert_int_eq(tg_dns_wire_name(ok, sizeof ok, buf, sizeof buf),
	    (int)sizeof ok);
	ck_assert_str_eq(buf, "mail.good.test");
	ck_assert_int_eq(tg_dns_wire_name(ok, sizeof ok, buf, 8), -1);
	ck_assert_int_eq(tg_dns_wire_name(ok, sizeof ok - 1, buf, sizeof buf),
	    -1);
	ck_assert_int_eq(tg_dns_wire_name(ptr, sizeof ptr, buf, sizeof buf),
	    -1);
	ck_assert_int_eq(tg_dns_wire_name(longlab, sizeof longlab, buf,
	    sizeof buf), -1);
	ck_assert_int_eq(tg_dns_wire_name(cut, sizeof cut, buf, sizeof buf),
	    -1);
	ck_assert_int_eq(tg_dns_wire_name(dot, sizeof dot, buf, sizeof buf),
	    5);
	ck_assert_str_eq(buf, "a?b");
}
END_TEST

static struct tg_diag diag;

static void
setup(void)
{
	tg_diag_init(&diag);
}

static void
teardown(void)
{
	tg_diag_free(&diag);
}

static int
has(const char *want)
{
	for (size_t i = 0; i < diag.n; i++)
		if (strstr(diag.msgs[i], want) != NULL)
			return 1;
	for (size_t i = 0; i < diag.n; i++)
		fprintf(stderr, "  diag: %s\n", diag.msgs[i]);
	return 0;
}

START_TEST(test_conf_ok)
{
	struct tg_policy *p = tg_policy_load_string("t.conf",
	    "set resolver \"127.0.0.1@22053\"\n"
	    "set dns-timeout 1500ms\n"
	    "dnslist zen \"zen.example\" returns { 127.0.0.2, "
	    "127.0.0.4-127.0.0.7, &0.0.0.8 } weight 3\n"
	    "dnslist wl \"wl.example.\" weight -5 on-error tempfail\n"
	    "dnslist dbl \"dbl.example\" lookup sender.domain\n"
	    "stage connect { rule a : dnslist.score > 2 or dnslist \"zen\" "
	    "=> reject 554 5.7.1 \"${dnslist}: ${dnslist_reason}\" }\n"
	    "stage mail { rule b : dnslist \"dbl\" or spf == \"fail\" "
	    "=> reject 550 5.7.23 \"${spf}\" }\n", NULL, &diag);
	const struct tg_dnslist *l;

	ck_assert_msg(p != NULL, "valid policy refused");
	ck_assert_str_eq(p->dns->resolver, "127.0.0.1@22053");
	ck_assert_int_eq(p->dns->timeout_ms, 1500);
	ck_assert_uint_eq(p->dns->nlists, 3);
	ck_assert_ptr_nonnull(l = tg_dnslist_find(p->dns, "zen"));
	ck_assert_uint_eq(l->nmatch, 3);
	ck_assert_int_eq(l->weight, 3);
	ck_assert_int_eq(l->tempfail, 0);
	ck_assert_ptr_nonnull(l = tg_dnslist_find(p->dns, "wl"));
	ck_assert_str_eq(l->zone, "wl.example");
	ck_assert_int_eq(l->weight, -5);
	ck_assert_int_eq(l->tempfail, 1);
	ck_assert_ptr_nonnull(p->dns->dns);
	ck_assert_ptr_nonnull(p->dns->spf);
	tg_policy_unref(p);
}
END_TEST

struct conf_bad {
	const char	*text;
	const char	*want;
};

static const struct conf_bad conf_bad[] = {
	{ "set resolver \"dns.example\"\n",
	    "t.conf:1:14: error: resolver \"dns.example\": not an IP" },
	{ "set resolver \"127.0.0.1@99999\"\n", "invalid port" },
	{ "set dns-timeout 50ms\n", "1:17: error: dns-timeout \"50ms\"" },
	{ "set dns-timeout 1h\n", "dns-timeout \"1h\"" },
	{ "set colour blue\n", "unknown setting \"colour\"" },
	{ "dnslist x zen.example\n", "quote the DNS zone" },
	{ "dnslist x \"bad zone\"\n", "invalid DNS zone" },
	{ "dnslist x \"z.example\" returns { 127.0.0.9-127.0.0.1 }\n",
	    "the range ends before it starts" },
	{ "dnslist x \"z.example\" weight lots\n", "weight \"lots\"" },
	{ "dnslist x \"z.example\" on-error maybe\n", "on-error \"maybe\"" },
	{ "dnslist x \"z.example\" lookup rcpt\n", "lookup \"rcpt\"" },
	{ "dnslist x \"a.example\"\ndnslist x \"b.example\"\n",
	    "duplicate dnslist name \"x\" (first defined at t.conf:1)" },
	{ "stage connect { rule a : dnslist \"nope\" => accept }\n",
	    "undefined dnslist \"nope\"" },
	{ "dnslist d \"d.example\" lookup sender.domain\n"
	    "stage helo { rule a : dnslist \"d\" => accept }\n",
	    "dnslist \"d\" looks up the sender domain, which is not known at "
	    "stage helo" },
	{ "stage connect { rule a : spf == \"fail\" => accept }\n",
	    "spf is not known at stage connect" },
	{ "stage connect { rule a : helo.fqdn => accept }\n",
	    "helo.fqdn is not known at stage connect" },
};

START_TEST(test_conf_bad)
{
	struct tg_policy *p = tg_policy_load_string("t.conf",
	    conf_bad[_i].text, NULL, &diag);

	ck_assert_msg(p == NULL, "case %d: bad policy accepted", _i);
	ck_assert_msg(has(conf_bad[_i].want), "case %d: no \"%s\"", _i,
	    conf_bad[_i].want);
}
END_TEST

/* A resolver that cannot answer: nothing listens on the port. The
 * lookup fails (timeout or refusal); no timing is asserted. */
START_TEST(test_resolve_fail)
{
	const char *why;
	struct tg_dns *d = tg_dns_new("127.0.0.1@9", 300, &why);
	struct tg_dns_query q[2];

	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(tg_dns_query_init(&q[0], "a.example", TG_DNS_A), 0);
	ck_assert_int_eq(tg_dns_query_init(&q[1], "b.example", TG_DNS_TXT),
	    0);
	ck_assert_int_eq(tg_dns_resolve(d, q, 2), TG_OK);
	ck_assert_int_eq(q[0].status, TG_DNS_FAIL);
	ck_assert_int_eq(q[1].status, TG_DNS_FAIL);
	tg_dns_free(d);
	ck_assert_ptr_null(tg_dns_new("not-an-ip", 300, &why));
	ck_assert_ptr_null(tg_dns_new("127.0.0.1@0", 300, &why));
}
END_TEST

/* The answer cache in front of libunbound's: hits by name (any case) and
 * type, copies of the strings, nothing kept of failures or TTL 0. */
START_TEST(test_cache)
{
	struct tg_dns_cache *c = tg_dns_cache_new();
	struct tg_dns_query q, r;

	tg_dns_query_init(&q, "Mail.Example.test", TG_DNS_TXT);
	q.status = TG_DNS_OK;
	q.n = 1;
	q.str[0] = tg_xstrdup("v=spf1 -all");
	q.ttl = 300;
	tg_dns_cache_put(c, &q);
	tg_dns_query_init(&r, "mail.example.TEST", TG_DNS_TXT);
	ck_assert_int_eq(tg_dns_cache_get(c, &r), 1);
	ck_assert_int_eq(r.status, TG_DNS_OK);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_str_eq(r.str[0], "v=spf1 -all");
	ck_assert_ptr_ne(r.str[0], q.str[0]);
	ck_assert_uint_le(r.ttl, 300);
	tg_dns_query_clear(&r);
	tg_dns_query_init(&r, "mail.example.test", TG_DNS_A);
	ck_assert_int_eq(tg_dns_cache_get(c, &r), 0);
	ck_assert_int_eq(r.status, TG_DNS_PENDING);
	tg_dns_query_clear(&q);

	tg_dns_query_init(&q, "nx.example.test", TG_DNS_A);
	q.status = TG_DNS_NXDOMAIN;
	q.ttl = 86400;
	tg_dns_cache_put(c, &q);
	tg_dns_query_init(&r, "nx.example.test", TG_DNS_A);
	ck_assert_int_eq(tg_dns_cache_get(c, &r), 1);
	ck_assert_int_eq(r.status, TG_DNS_NXDOMAIN);
	ck_assert_uint_le(r.ttl, 60);

	tg_dns_query_init(&q, "fail.example.test", TG_DNS_A);
	q.status = TG_DNS_FAIL;
	q.ttl = 300;
	tg_dns_cache_put(c, &q);
	tg_dns_query_init(&q, "zero.example.test", TG_DNS_A);
	q.status = TG_DNS_OK;
	q.n = 1;
	q.ip[0].family = 4;
	tg_dns_cache_put(c, &q);
	tg_dns_query_init(&r, "fail.example.test", TG_DNS_A);
	ck_assert_int_eq(tg_dns_cache_get(c, &r), 0);
	tg_dns_query_init(&r, "zero.example.test", TG_DNS_A);
	ck_assert_int_eq(tg_dns_cache_get(c, &r), 0);
	tg_dns_cache_free(c);
}
END_TEST

/* The cache is bounded: 40,000 different answers leave at most 16,384
 * held in at most 1024 bytes each, the newest of them found; a name put
 * again replaces its answer; an answer over 1024 bytes is not kept. */
START_TEST(test_cache_bounds)
{
	struct tg_dns_cache *c = tg_dns_cache_new();
	struct tg_dns_query q, r;
	char name[64], big[1100];
	size_t count, bytes, count2, bytes2;

	for (int i = 0; i < 40000; i++) {
		snprintf(name, sizeof name, "mta%d.example.test", i);
		tg_dns_query_init(&q, name, TG_DNS_A);
		q.status = TG_DNS_OK;
		q.n = 1;
		q.ip[0].family = 4;
		q.ip[0].b[3] = (uint8_t)i;
		q.ttl = 300;
		tg_dns_cache_put(c, &q);
	}
	tg_dns_cache_usage(c, &count, &bytes);
	ck_assert_uint_le(count, 16384);
	ck_assert_uint_gt(count, 8192);	/* both ways of most sets used */
	ck_assert_uint_le(bytes, count * 1024);
	ck_assert_uint_le(bytes, count * 80);	/* compact: name + address */
	tg_dns_query_init(&r, "mta39999.example.test", TG_DNS_A);
	ck_assert_int_eq(tg_dns_cache_get(c, &r), 1);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_uint_eq(r.ip[0].b[3], 39999 & 255);

	/* Again: replaced in place, nothing more held. */
	q.ip[0].b[3] = 7;
	tg_dns_cache_put(c, &q);
	tg_dns_cache_usage(c, &count2, &bytes2);
	ck_assert_uint_eq(count2, count);
	ck_assert_uint_eq(bytes2, bytes);
	ck_assert_int_eq(tg_dns_cache_get(c, &r), 1);
	ck_assert_uint_eq(r.ip[0].b[3], 7);

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	tg_dns_query_init(&q, "big.example.test", TG_DNS_TXT);
	q.status = TG_DNS_OK;
	q.n = 1;
	q.str[0] = big;
	q.ttl = 300;
	tg_dns_cache_put(c, &q);
	tg_dns_query_init(&r, "big.example.test", TG_DNS_TXT);
	ck_assert_int_eq(tg_dns_cache_get(c, &r), 0);
	tg_dns_cache_free(c);
}
END_TEST

/* A fake DNS server: answers "tX-Y.wake.test" A with 127.X.Y.1 (TTL 0, so
 * every lookup reaches it), other types with no data. FAKE_SILENT reads
 * and drops every query; FAKE_LATE answers FAKE_LATE_MS after it. */
enum fake_mode { FAKE_ANSWER, FAKE_SILENT, FAKE_LATE };
#define FAKE_LATE_MS	250
#define FAKE_QUEUE	64

struct fake_dns {
	int		 fd;
	enum fake_mode	 mode;
	atomic_int	 stop;
	pthread_t	 th;
	char		 server[32];	/* "127.0.0.1@port" */
	struct {			/* FAKE_LATE: answers to send */
		unsigned char	 buf[512];
		size_t		 len;
		struct sockaddr_in to;
		long long	 due;
	}		 q[FAKE_QUEUE];
	size_t		 nq;
};

static long long
fake_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* fake_answer - turn the query in buf (len bytes) into its answer; the
 * new length, or 0 to drop it. */
static size_t
fake_answer(unsigned char *buf, size_t len, size_t cap)
{
	size_t i = 12, qend;
	unsigned x, y, qtype;
	char label[64];

	if (len < 12)
		return 0;
	if (i < len && buf[i] > 0 && buf[i] < sizeof label) {
		memcpy(label, buf + i + 1, buf[i]);
		label[buf[i]] = '\0';
	} else
		label[0] = '\0';
	while (i < len && buf[i] != 0)
		i += (size_t)buf[i] + 1;
	if (i + 5 > len)
		return 0;
	qtype = (unsigned)buf[i + 1] << 8 | buf[i + 2];
	qend = i + 5;
	buf[2] = 0x80 | (buf[2] & 0x01);	/* QR, RD as asked */
	buf[3] = 0x80;				/* RA, NOERROR */
	memset(buf + 6, 0, 6);			/* no answer, no OPT */
	if (qtype != 1 || sscanf(label, "t%u-%u", &x, &y) != 2 ||
	    qend + 16 > cap)
		return qend;
	{
		const unsigned char rr[16] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0,
		    0, 0, 4, 127, (unsigned char)x, (unsigned char)y, 1 };

		buf[7] = 1;
		memcpy(buf + qend, rr, sizeof rr);
	}
	return qend + 16;
}

static void *
fake_run(void *arg)
{
	struct fake_dns *f = arg;

	while (!atomic_load(&f->stop)) {
		struct pollfd pfd = { .fd = f->fd, .events = POLLIN };
		unsigned char buf[512];
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		long long now = fake_now_ms();
		size_t k = 0;
		ssize_t n;

		for (size_t i = 0; i < f->nq; i++) {
			if (f->q[i].due <= now)
				(void)sendto(f->fd, f->q[i].buf, f->q[i].len,
				    0, (struct sockaddr *)&f->q[i].to,
				    sizeof f->q[i].to);
			else
				f->q[k++] = f->q[i];
		}
		f->nq = k;
		if (poll(&pfd, 1, 10) <= 0)
			continue;
		n = recvfrom(f->fd, buf, sizeof buf, 0,
		    (struct sockaddr *)&from, &fl);
		if (n <= 0 || f->mode == FAKE_SILENT)
			continue;
		if ((n = (ssize_t)fake_answer(buf, (size_t)n,
		    sizeof buf)) == 0)
			continue;
		if (f->mode == FAKE_ANSWER) {
			(void)sendto(f->fd, buf, (size_t)n, 0,
			    (struct sockaddr *)&from, fl);
		} else if (f->nq < FAKE_QUEUE) {
			memcpy(f->q[f->nq].buf, buf, (size_t)n);
			f->q[f->nq].len = (size_t)n;
			f->q[f->nq].to = from;
			f->q[f->nq].due = fake_now_ms() + FAKE_LATE_MS;
			f->nq++;
		}
	}
	return NULL;
}

static void
fake_start(struct fake_dns *f, enum fake_mode mode)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof sin;

	memset(f, 0, sizeof *f);
	f->mode = mode;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->fd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(f->fd, 0);
	ck_assert_int_eq(bind(f->fd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(getsockname(f->fd, (struct sockaddr *)&sin, &sl), 0);
	snprintf(f->server, sizeof f->server, "127.0.0.1@%u",
	    (unsigned)ntohs(sin.sin_port));
	ck_assert_int_eq(pthread_create(&f->th, NULL, fake_run, f), 0);
}

static void
fake_stop(struct fake_dns *f)
{
	atomic_store(&f->stop, 1);
	pthread_join(f->th, NULL);
	close(f->fd);
}

#define WAKE_THREADS	8
#define WAKE_ROUNDS	25

struct wake_arg {
	struct tg_dns	*d;
	unsigned	 t;
	int		 answered;	/* the server answers at all */
	int		 ok;		/* every outcome was right */
};

/* wake_thread - rounds of two lookups at once (an A the server answers,
 * and an AAAA it has no data for), each a different name; ok says whether
 * every answer came back right (answered: the address, unanswered: FAIL).
 * The outcomes depend on the waking: an answer read by another thread's
 * ub_process() that does not wake its owner in time becomes FAIL. */
static void *
wake_thread(void *arg)
{
	struct wake_arg *a = arg;
	int answered = a->answered;

	a->ok = 1;
	for (unsigned r = 0; r < WAKE_ROUNDS && a->ok; r++) {
		struct tg_dns_query q[2];
		char name[64];

		snprintf(name, sizeof name, "t%u-%u.wake.test", a->t, r);
		tg_dns_query_init(&q[0], name, TG_DNS_A);
		tg_dns_query_init(&q[1], name, TG_DNS_AAAA);
		if (tg_dns_resolve(a->d, q, 2) != TG_OK)
			a->ok = 0;
		else if (!answered)
			a->ok = q[0].status == TG_DNS_FAIL &&
			    q[1].status == TG_DNS_FAIL;
		else
			a->ok = q[0].status == TG_DNS_OK && q[0].n == 1 &&
			    q[0].ip[0].family == 4 &&
			    q[0].ip[0].b[0] == 127 && q[0].ip[0].b[1] == a->t &&
			    q[0].ip[0].b[2] == r && q[0].ip[0].b[3] == 1 &&
			    q[1].status == TG_DNS_NODATA;
		tg_dns_query_clear(&q[0]);
		tg_dns_query_clear(&q[1]);
		/* Unanswered names take the whole timeout: a few do. */
		if (!answered && r == 1)
			break;
	}
	return NULL;
}

/* Run WAKE_THREADS threads of wake_thread() on one resolver. */
static void
wake_run(const char *server, int timeout_ms, int answered)
{
	const char *why;
	struct tg_dns *d = tg_dns_new(server, timeout_ms, &why);
	struct wake_arg a[WAKE_THREADS];
	pthread_t th[WAKE_THREADS];

	ck_assert_ptr_nonnull(d);
	for (unsigned t = 0; t < WAKE_THREADS; t++) {
		a[t] = (struct wake_arg){ .d = d, .t = t,
		    .answered = answered };
		ck_assert_int_eq(pthread_create(&th[t], NULL, wake_thread,
		    &a[t]), 0);
	}
	for (unsigned t = 0; t < WAKE_THREADS; t++) {
		pthread_join(th[t], NULL);
		ck_assert_msg(a[t].ok, "thread %u: wrong answer", t);
	}
	tg_dns_free(d);
}

/* Every thread gets its own answers, whichever thread reads them (the
 * timeout is long: a lost wake-up shows as a FAIL, not as slowness); from
 * a server that never answers, every lookup comes back FAIL once the
 * short timeout has passed. */
static const struct {
	enum fake_mode	 mode;
	int		 timeout_ms;
} wake_cases[] = { { FAKE_ANSWER, 10000 }, { FAKE_SILENT, 150 } };

START_TEST(test_resolve_threads)
{
	struct fake_dns f;

	fake_start(&f, wake_cases[_i].mode);
	wake_run(f.server, wake_cases[_i].timeout_ms,
	    wake_cases[_i].mode == FAKE_ANSWER);
	fake_stop(&f);
}
END_TEST

/* Answers arriving after their caller gave up: read by a later lookup's
 * ub_process() into batches already abandoned (their memory must still
 * be there: ASan and valgrind check that), or cancelled at the end. */
START_TEST(test_resolve_late)
{
	const char *why;
	struct fake_dns f;
	struct tg_dns *d;
	struct tg_dns_query q[2];
	struct timespec nap = { 0, 400 * 1000000L };

	fake_start(&f, FAKE_LATE);
	d = tg_dns_new(f.server, 50, &why);
	ck_assert_ptr_nonnull(d);
	for (int i = 0; i < 3; i++) {
		char name[32];

		snprintf(name, sizeof name, "t1-%d.wake.test", i);
		tg_dns_query_init(&q[0], name, TG_DNS_A);
		tg_dns_query_init(&q[1], name, TG_DNS_TXT);
		ck_assert_int_eq(tg_dns_resolve(d, q, 2), TG_OK);
		ck_assert_int_eq(q[0].status, TG_DNS_FAIL);
		ck_assert_int_eq(q[1].status, TG_DNS_FAIL);
		if (i == 0)
			nanosleep(&nap, NULL);	/* the answers arrive */
	}
	tg_dns_free(d);
	fake_stop(&f);
}
END_TEST

/* aba_policy - a policy with nlists HELO lists h1..hN, which the fake
 * server lists all (the HELO's first label is "t0-0"), and one rule at
 * stage mail that rejects when list hN says so, or (helo: a verdict there
 * would stick) one at stage helo that reads it and does not match. */
static struct tg_policy *
aba_policy(const char *server, int nlists, const char *stage)
{
	char text[2048];
	size_t len;
	struct tg_diag d;
	struct tg_policy *p;

	len = (size_t)snprintf(text, sizeof text, "set resolver \"%s\"\n"
	    "set dns-timeout 2s\n", server);
	for (int i = 1; i <= nlists; i++)
		len += (size_t)snprintf(text + len, sizeof text - len,
		    "dnslist h%d \"z%d.test\" lookup helo on-error tempfail\n",
		    i, i);
	snprintf(text + len, sizeof text - len, "stage %s { rule r%d : %s"
	    "dnslist \"h%d\" => reject 554 5.7.1 \"${dnslist}\" }\n", stage,
	    nlists, strcmp(stage, "helo") == 0 ? "not " : "", nlists);
	tg_diag_init(&d);
	p = tg_policy_load_string("aba.conf", text, NULL, &d);
	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "  diag: %s\n", d.msgs[i]);
	tg_diag_free(&d);
	ck_assert_ptr_nonnull(p);
	return p;
}

/* F5 (review 2026-12): a session's DNS-list results were kept while the
 * policy's dns conf had the same address. A session re-pins to a newer
 * policy at MAIL and the old one is freed; a later policy's conf may be
 * allocated at that address with more lists, and the results array (one
 * per list of the old conf) was indexed past its end. The allocator's
 * reuse is made certain here: policy B's conf is moved to the address of
 * A's, the one the session's results were made for. The old code read
 * and wrote past the array (ASan reports it, the plain build crashed);
 * the session must start afresh with B's lists. */
START_TEST(test_dnslist_policy_aba)
{
	struct fake_dns f;
	struct tg_policy *a, *b;
	struct tg_dns_conf tmp, *ta;
	struct tg_session s;
	struct tg_verdict v;

	fake_start(&f, FAKE_ANSWER);
	a = aba_policy(f.server, 1, "helo");
	b = aba_policy(f.server, 8, "mail");
	tg_session_init(&s, "aba");
	ck_assert_int_eq(tg_session_set(&s, TG_A_CLIENT_ADDRESS,
	    "198.51.100.7"), TG_OK);
	ck_assert_int_eq(tg_session_set(&s, TG_A_HELO, "t0-0.example"),
	    TG_OK);
	tg_engine_eval(a, &s, TG_STAGE_HELO, &v);
	ck_assert_int_eq(v.action, TG_ACT_CONTINUE);
	ck_assert_str_eq(tg_check_var(a, &s, "dnslist", 7), "h1");

	/* B's conf takes the place of A's: same address, 8 lists. */
	tmp = *a->dns;
	*a->dns = *b->dns;
	*b->dns = tmp;
	ta = a->dns;
	a->dns = b->dns;
	b->dns = ta;
	ck_assert_uint_eq(b->dns->nlists, 8);
	tg_policy_unref(a);

	tg_engine_eval(b, &s, TG_STAGE_MAIL, &v);
	ck_assert_msg(v.action == TG_ACT_REJECT && strcmp(v.rule, "r8") == 0,
	    "policy B: got action %d rule \"%s\", want reject by r8",
	    (int)v.action, v.rule);
	ck_assert_str_eq(v.text, "h8");
	tg_session_free(&s);
	tg_policy_unref(b);
	fake_stop(&f);
}
END_TEST

static Suite *
dns_suite(void)
{
	Suite *s = suite_create("dns");
	TCase *tc = tcase_create("pure");
	TCase *tp = tcase_create("policy");
	TCase *tr = tcase_create("resolve");

	tcase_add_loop_test(tc, test_reverse, 0,
	    sizeof rev_cases / sizeof rev_cases[0]);
	tcase_add_test(tc, test_reverse_toolong);
	tcase_add_loop_test(tc, test_match, 0,
	    sizeof match_cases / sizeof match_cases[0]);
	tcase_add_loop_test(tc, test_match_bad, 0,
	    sizeof match_bad / sizeof match_bad[0]);
	tcase_add_test(tc, test_wire_name);
	tcase_add_test(tc, test_resolve_fail);
	tcase_add_test(tc, test_cache);
	tcase_add_test(tc, test_cache_bounds);
	suite_add_tcase(s, tc);
	tcase_add_loop_test(tr, test_resolve_threads, 0,
	    sizeof wake_cases / sizeof wake_cases[0]);
	tcase_add_test(tr, test_resolve_late);
	tcase_add_test(tr, test_dnslist_policy_aba);
	tcase_set_timeout(tr, 60);
	suite_add_tcase(s, tr);
	tcase_add_checked_fixture(tp, setup, teardown);
	tcase_add_test(tp, test_conf_ok);
	tcase_add_loop_test(tp, test_conf_bad, 0,
	    sizeof conf_bad / sizeof conf_bad[0]);
	suite_add_tcase(s, tp);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dns_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
