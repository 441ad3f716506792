/* check_prefetch.c - the native engine's DNS prefetch (check_prefetch.c
 * plans, dns_book.c keeps, dns.c answers from the book) against the
 * synchronous checks: for every shipped policy, each stage the loops may
 * run (no SPF or SASL database at it), and many shapes of answers (listed,
 * not listed, NXDOMAIN, NODATA, failures; PTR names that are invalid,
 * confirmed forward or not; HELO names with A or only AAAA or MX), two
 * twin sessions are taken through the same connection: one as a worker
 * does (each lookup made when a rule reaches it), one as a loop does
 * (the plan's lookups answered into a book first, then the stage run
 * with the book as the thread's, marked a loop). Their verdicts must be
 * the same and no lookup may miss the book (tg_dns_loop_misses() 0). The
 * answers come from a backend (tg_dns_set_backend()), TTL 0 as the
 * benchmark's resolver gives them: nothing is cached. No socket. */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "tg.h"
#include "tg_check.h"
#include "tg_dns.h"
#include "tg_engine.h"
#include "tg_ip.h"
#include "tg_policy.h"
#include "tg_session.h"

static unsigned fake_seed;
static unsigned long verdicts[16];	/* by action, of the loop twins */
static struct tg_ip fake_client;

/* fake_hash - a number from the question and the round's seed */
static unsigned
fake_hash(const struct tg_dns_query *q)
{
	unsigned h = 2166136261u ^ fake_seed;

	for (const char *p = q->name; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return (h ^ (unsigned)q->type) * 16777619u;
}

/* fake_answer - every shape the checks must handle */
static void
fake_answer(struct tg_dns_query *q, size_t n)
{
	static const char *const ptr[] = { "fwd0.dsl-pool.example",
	    "bad_name..example", "fwd1.static.example", "fwd2.example",
	    "fwd3.example", "fwd4.example" };

	for (size_t i = 0; i < n; i++) {
		unsigned h = fake_hash(&q[i]);

		q[i].ttl = 0;
		q[i].n = 0;
		switch (h % 6) {
		case 3:
			q[i].status = TG_DNS_NXDOMAIN;
			continue;
		case 4:
			q[i].status = TG_DNS_NODATA;
			continue;
		case 5:
			q[i].status = h % 12 == 5 ? TG_DNS_FAIL : TG_DNS_NXDOMAIN;
			continue;
		default:
			break;
		}
		q[i].status = TG_DNS_OK;
		switch (q[i].type) {
		case TG_DNS_A:
		case TG_DNS_AAAA:
			memset(&q[i].ip[0], 0, sizeof q[i].ip[0]);
			if (strncmp(q[i].name, "fwd", 3) == 0 && h % 2 == 0)
				q[i].ip[0] = fake_client;
			else {
				q[i].ip[0].family = q[i].type == TG_DNS_A ? 4 : 6;
				q[i].ip[0].b[0] = 127;
				q[i].ip[0].b[3] = (unsigned char)
				    ((unsigned[]){ 2, 3, 4, 10 })[h / 7 % 4];
			}
			q[i].n = 1;
			break;
		case TG_DNS_PTR:
			q[i].n = 1 + h / 7 % 6;
			for (size_t k = 0; k < q[i].n; k++)
				q[i].str[k] = tg_xstrdup(ptr[(k + h / 11) % 6]);
			break;
		case TG_DNS_TXT:
			q[i].str[0] = tg_xstrdup(h / 7 % 2 ? "listed: test" :
			    "v=spf1 -all");
			q[i].n = 1;
			break;
		case TG_DNS_MX:
			q[i].str[0] = tg_xstrdup("mx.example");
			q[i].n = 1;
			break;
		}
	}
}

/* expr_reads - e reads a, or a template variable of SPF is used */
static int
expr_reads(const struct tg_expr *e, enum tg_attr a)
{
	if (e == NULL || e->op == TG_E_TRUE || e->op == TG_E_FALSE ||
	    e->op == TG_E_LIMIT)
		return 0;
	if (e->op == TG_E_AND || e->op == TG_E_OR)
		return expr_reads(e->left, a) || expr_reads(e->right, a);
	if (e->op == TG_E_NOT)
		return expr_reads(e->left, a);
	return e->attr == a || (e->vtable != NULL && e->vattr == a);
}

/* loop_stage - would the native engine park this stage (mproto_block.c):
 * DNS checks, and no SPF, SASL database or DKIM there */
static int
loop_stage(const struct tg_policy *p, enum tg_stage st)
{
	if (st == TG_STAGE_MAIL || tg_check_dns_needs(p, st) == 0)
		return 0;
	for (size_t i = 0; i < p->nrules[st]; i++) {
		const struct tg_rule *r = &p->rules[st][i];

		if (expr_reads(r->cond, TG_A_SPF) ||
		    expr_reads(r->cond, TG_A_SASL_ACCOUNT))
			return 0;
		for (size_t k = 0; k < r->nactions; k++)
			if (r->actions[k].text != NULL &&
			    strstr(r->actions[k].text, "${spf") != NULL)
				return 0;
	}
	return st != TG_STAGE_EOM;
}

/* prefetch - the loop's rounds: plan, answer, into the book */
static struct tg_dns_book *
prefetch(const struct tg_policy *p, const struct tg_session *s,
    enum tg_stage st, const struct tg_ip *ip, const char *helo)
{
	struct tg_dns_book *bk = tg_dns_book_new();
	size_t max = p->dns->nlists * 2 + 8, n;
	struct tg_dns_query *q = tg_xcalloc(max, sizeof *q);
	int rounds = 0;

	/* The command's own values are in the session already, as
	 * mproto_dns.c puts them there before it plans. */
	unsigned needs = tg_engine_prefetch_needs(p, s, st, 1);

	while ((n = tg_check_prefetch(p, s, needs, ip, helo, bk, q,
	    max)) > 0) {
		ck_assert_int_lt(++rounds, 4);
		fake_answer(q, n);
		for (size_t i = 0; i < n; i++) {
			tg_dns_book_put(bk, &q[i]);
			tg_dns_query_clear(&q[i]);
		}
	}
	free(q);
	return bk;
}

/* stage - run st on both twins; the loop's with its book */
static void
stage(const struct tg_policy *p, struct tg_session *w, struct tg_session *l,
    enum tg_stage st, const struct tg_ip *ip, const char *helo,
    const char *what)
{
	struct tg_verdict vw, vl;
	struct tg_dns_book *bk = NULL;
	char ipbuf[64];

	/* What the command sets, before the plan (as mproto_dns.c does:
	 * tg_drive_connect_facts_sa(), tg_drive_helo_facts()). */
	if (ip != NULL) {
		tg_session_set_client_ip(w, ip);
		tg_session_set_client_ip(l, ip);
	}
	if (helo != NULL) {
		(void)tg_session_set(w, TG_A_HELO, helo);
		(void)tg_session_set(l, TG_A_HELO, helo);
	}
	if (loop_stage(p, st))
		bk = prefetch(p, l, st, ip, helo);
	tg_engine_eval(p, w, st, &vw);
	tg_dns_use_book(bk);
	tg_dns_on_loop(bk != NULL);
	tg_engine_eval(p, l, st, &vl);
	tg_dns_on_loop(0);
	tg_dns_use_book(NULL);
	tg_dns_book_free(bk);
	ck_assert_msg(vw.action == vl.action && strcmp(vw.code, vl.code) == 0 &&
	    strcmp(vw.text, vl.text) == 0 && strcmp(vw.rule, vl.rule) == 0,
	    "%s seed %u stage %d (%s): worker %d %s \"%s\" rule %s, loop %d "
	    "%s \"%s\" rule %s", what, fake_seed, (int)st,
	    tg_ip_format(&fake_client, ipbuf, sizeof ipbuf), (int)vw.action,
	    vw.code, vw.text, vw.rule, (int)vl.action, vl.code, vl.text,
	    vl.rule);
	if (bk != NULL && (unsigned)vl.action < 16)
		verdicts[vl.action]++;
	ck_assert_msg(tg_dns_loop_misses() == 0, "%s seed %u stage %d: a "
	    "lookup missed the book", what, fake_seed, (int)st);
}

/* connection - one connection of twins through every stage */
static void
connection(const struct tg_policy *p, const char *what)
{
	static const char *const helos[] = { "mail.example.net",
	    "fwd1.static.example", "[192.0.2.1]", "localhost", "1.2.3.4",
	    "helo.dsl-pool.example" };
	struct tg_session w, l;
	char addr[64];
	const char *helo = helos[fake_seed % 6];

	snprintf(addr, sizeof addr, fake_seed % 5 == 4 ? "2001:db8::%x" :
	    "198.51.%u.%u", fake_seed % 7, fake_seed % 250 + 1);
	ck_assert_int_eq(tg_ip_parse(addr, &fake_client), 0);
	tg_session_init(&w, "w");
	tg_session_init(&l, "l");
	stage(p, &w, &l, TG_STAGE_CONNECT, &fake_client, NULL, what);
	stage(p, &w, &l, TG_STAGE_HELO, NULL, helo, what);
	/* MAIL runs on a worker for both (SPF, a policy re-pinned). */
	ck_assert_int_eq(tg_session_set(&w, TG_A_SENDER,
	    "user@fwd2.example"), TG_OK);
	ck_assert_int_eq(tg_session_set(&l, TG_A_SENDER,
	    "user@fwd2.example"), TG_OK);
	stage(p, &w, &l, TG_STAGE_MAIL, NULL, NULL, what);
	ck_assert_int_eq(tg_session_set(&w, TG_A_RCPT, "rcpt@example.org"),
	    TG_OK);
	ck_assert_int_eq(tg_session_set(&l, TG_A_RCPT, "rcpt@example.org"),
	    TG_OK);
	stage(p, &w, &l, TG_STAGE_RCPT, NULL, NULL, what);
	stage(p, &w, &l, TG_STAGE_DATA, NULL, NULL, what);
	/* A second HELO: asked again for the new name only. */
	stage(p, &w, &l, TG_STAGE_HELO, NULL, helos[(fake_seed + 1) % 6],
	    what);
	tg_session_free(&w);
	tg_session_free(&l);
}

static const char *const shipped[] = { "isp-antispam.conf",
	"mx-inbound.conf", "default.conf", "submission.conf",
	"isp-outbound.conf" };

START_TEST(test_shipped)
{
	char path[512];
	struct tg_diag d;
	struct tg_policy *p;

	snprintf(path, sizeof path, "%s/../policies/%s", SRCDIR, shipped[_i]);
	tg_diag_init(&d);
	p = tg_policy_load(path, &d);
	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "  diag: %s\n", d.msgs[i]);
	tg_diag_free(&d);
	ck_assert_ptr_nonnull(p);
	for (fake_seed = 0; fake_seed < 300; fake_seed++)
		connection(p, shipped[_i]);
	tg_policy_unref(p);
}
END_TEST

/* A policy of every DNS check at every stage the loops run, several
 * lists of each key, tempfail on error, some behind guards on what the
 * command sets (the HELO name, the recipient): the plan must read their
 * new values, not the session's old ones. */
/* A guard on the client the CONNECT command sets (the same for the HELO
 * name) cuts the lookup behind it off once the command's values are in
 * the session (set): a client the rule is not about is not made to wait
 * on DNS it would not have asked on a worker. Not set, the plan must
 * take the guard as unknown and ask. */
START_TEST(test_connect_guard)
{
	static const char text[] =
	    "stage connect {\n"
	    " rule c : client.address == \"198.51.100.99\" and client.ptr == "
	    "\"\" => tempfail 450 4.7.1 \"No PTR\"\n }\n"
	    "stage helo {\n"
	    " rule h : helo == \"slow.example\" and not helo.resolves => "
	    "reject 550 5.7.1 \"nx\"\n }\n";
	struct tg_diag d;
	struct tg_policy *p;
	struct tg_session s;
	struct tg_ip other, slow;

	tg_session_init(&s, "g");
	tg_diag_init(&d);
	p = tg_policy_load_string("guard.conf", text, NULL, &d);
	tg_diag_free(&d);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(tg_ip_parse("192.0.2.1", &other), 0);
	ck_assert_int_eq(tg_ip_parse("198.51.100.99", &slow), 0);
	tg_session_set_client_ip(&s, &other);
	ck_assert_uint_eq(tg_engine_prefetch_needs(p, &s, TG_STAGE_CONNECT,
	    1), 0);
	ck_assert_uint_eq(tg_engine_prefetch_needs(p, &s, TG_STAGE_CONNECT,
	    0), TG_CHECK_NEED_CLIENT);
	tg_session_set_client_ip(&s, &slow);
	ck_assert_uint_eq(tg_engine_prefetch_needs(p, &s, TG_STAGE_CONNECT,
	    1), TG_CHECK_NEED_CLIENT);
	(void)tg_session_set(&s, TG_A_HELO, "fast.example");
	ck_assert_uint_eq(tg_engine_prefetch_needs(p, &s, TG_STAGE_HELO, 1),
	    0);
	(void)tg_session_set(&s, TG_A_HELO, "slow.example");
	ck_assert_uint_ne(tg_engine_prefetch_needs(p, &s, TG_STAGE_HELO, 1),
	    0);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_all_checks)
{
	static const char text[] =
	    "dnslist a \"a.test\" weight 3 on-error tempfail\n"
	    "dnslist b \"b.test\" returns { 127.0.0.2, 127.0.0.4 } weight 2\n"
	    "dnslist c \"c.test\" returns { &0.0.0.8 } weight 1\n"
	    "dnslist h \"h.test\" lookup helo on-error tempfail\n"
	    "dnslist s \"s.test\" lookup sender.domain\n"
	    "stage connect {\n"
	    " rule c1 : dnslist.score >= 4 => reject 554 5.7.1 \"${dnslist}: "
	    "${dnslist_reason}\"\n"
	    " rule c2 : not client.fcrdns and client.ptr matches \"dsl\" => "
	    "tempfail 451 4.7.1 \"fc\"\n }\n"
	    "stage helo {\n"
	    " rule h1 : helo matches \"^(fwd|mail)\" and dnslist \"h\" => "
	    "reject 554 5.7.1 \"${dnslist}\"\n"
	    " rule h2 : not helo.resolves => reject 550 5.7.1 \"nx\"\n }\n"
	    "stage rcpt {\n"
	    " rule r1 : rcpt.local == \"rcpt\" and dnslist \"s\" => reject "
	    "554 5.7.1 \"${dnslist_reason}\"\n"
	    " rule r2 : client.rdns and dnslist \"c\" => reject 554 5.7.1 "
	    "\"c\"\n }\n"
	    "stage data {\n"
	    " rule d1 : helo.resolves and dnslist.score >= 2 => tempfail 451 "
	    "4.7.1 \"${dnslist}\"\n }\n";
	struct tg_diag d;
	struct tg_policy *p;

	tg_diag_init(&d);
	p = tg_policy_load_string("all.conf", text, NULL, &d);
	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "  diag: %s\n", d.msgs[i]);
	tg_diag_free(&d);
	ck_assert_ptr_nonnull(p);
	for (fake_seed = 0; fake_seed < 2000; fake_seed++)
		connection(p, "all checks");
	tg_policy_unref(p);
}
END_TEST

/* A comparison whose value is looked up in a table keyed by another DNS
 * check ("dnslist.score >= t[client.ptr]"): the plan must ask for the
 * key's lookups too, though the compared attribute alone already makes
 * the rule unknown before the command runs. */
START_TEST(test_vattr)
{
	static const char text[] =
	    "table lim map \"lim.map\"\n"
	    "dnslist a \"a.test\" weight 3\n"
	    "stage helo {\n"
	    " rule v : dnslist.score >= lim[client.ptr] default 2 => reject "
	    "554 5.7.1 \"v\"\n }\n";
	char dir[] = "/tmp/tg-prefetch.XXXXXX", path[64], cmd[96];
	struct tg_diag d;
	struct tg_policy *p;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/lim.map", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs("fwd0.dsl-pool.example 1\nfwd1.static.example 9\n", f);
	fclose(f);
	tg_diag_init(&d);
	p = tg_policy_load_string("vattr.conf", text, dir, &d);
	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "  diag: %s\n", d.msgs[i]);
	tg_diag_free(&d);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(tg_engine_prefetch_needs(p, &(struct tg_session){
	    0 }, TG_STAGE_HELO, 0), TG_CHECK_NEED_CLIENT |
	    TG_CHECK_NEED_LISTS);
	for (fake_seed = 0; fake_seed < 300; fake_seed++)
		connection(p, "table keyed by client.ptr");
	tg_policy_unref(p);
}
END_TEST

/* At end of message the MIME facts change when the body is ended (a
 * multipart without its final boundary is malformed only then): the
 * plan, made before, must not take their values as known. */
START_TEST(test_eom_mime)
{
	static const char text[] =
	    "dnslist a \"a.test\" on-error tempfail\n"
	    "stage eom {\n"
	    " rule m : mime.malformed and dnslist \"a\" => reject 554 5.7.1 "
	    "\"m\"\n }\n";
	static const char body[] = "--b\r\nContent-Type: text/plain\r\n\r\n"
	    "hi\r\n";
	struct tg_diag d;
	struct tg_policy *p;
	struct tg_session w, l;
	struct tg_verdict vw, vl;
	struct tg_dns_book *bk;
	unsigned long long before = tg_dns_loop_misses();

	tg_diag_init(&d);
	p = tg_policy_load_string("eom.conf", text, NULL, &d);
	tg_diag_free(&d);
	ck_assert_ptr_nonnull(p);
	fake_seed = 7;
	ck_assert_int_eq(tg_ip_parse("198.51.100.7", &fake_client), 0);
	tg_session_init(&w, "w");
	tg_session_init(&l, "l");
	for (int i = 0; i < 2; i++) {
		struct tg_session *s = i == 0 ? &w : &l;

		tg_session_set_client_ip(s, &fake_client);
		tg_session_add_header(s, p, "MIME-Version", "1.0");
		tg_session_add_header(s, p, "Content-Type",
		    "multipart/mixed; boundary=\"b\"");
		tg_session_add_body_data(s, p, body, sizeof body - 1);
	}
	bk = prefetch(p, &l, TG_STAGE_EOM, NULL, NULL);
	tg_engine_eval(p, &w, TG_STAGE_EOM, &vw);
	tg_dns_use_book(bk);
	tg_dns_on_loop(1);
	tg_engine_eval(p, &l, TG_STAGE_EOM, &vl);
	tg_dns_on_loop(0);
	tg_dns_use_book(NULL);
	tg_dns_book_free(bk);
	ck_assert_int_eq(vw.action, vl.action);
	ck_assert_str_eq(vw.code, vl.code);
	ck_assert_msg(tg_dns_loop_misses() == before, "end of message: the "
	    "list was not asked ahead");
	tg_session_free(&w);
	tg_session_free(&l);
	tg_policy_unref(p);
}
END_TEST

/* The book is consulted first: a lookup it holds is not asked, one it
 * does not hold, on a loop thread, is counted. */
START_TEST(test_book_miss)
{
	struct tg_dns *dns;
	struct tg_dns_book *bk = tg_dns_book_new();
	struct tg_dns_query q;
	unsigned long long before = tg_dns_loop_misses();
	const char *why;

	dns = tg_dns_new("127.0.0.1@9", 1000, &why);
	ck_assert_ptr_nonnull(dns);
	ck_assert_int_eq(tg_dns_query_init(&q, "x.test", TG_DNS_A), TG_OK);
	q.status = TG_DNS_NXDOMAIN;
	tg_dns_book_put(bk, &q);
	tg_dns_use_book(bk);
	tg_dns_on_loop(1);
	ck_assert_int_eq(tg_dns_query_init(&q, "x.test", TG_DNS_A), TG_OK);
	ck_assert_int_eq(tg_dns_resolve(dns, &q, 1), TG_OK);
	ck_assert_int_eq(q.status, TG_DNS_NXDOMAIN);
	ck_assert_uint_eq(tg_dns_loop_misses(), before);
	/* Not in the book: answered (the backend), but counted. */
	ck_assert_int_eq(tg_dns_query_init(&q, "y.test", TG_DNS_A), TG_OK);
	fake_seed = 1;
	ck_assert_int_eq(tg_dns_resolve(dns, &q, 1), TG_OK);
	ck_assert_int_ne(q.status, TG_DNS_PENDING);
	tg_dns_query_clear(&q);
	ck_assert_uint_eq(tg_dns_loop_misses(), before + 1);
	tg_dns_on_loop(0);
	tg_dns_use_book(NULL);
	tg_dns_book_free(bk);
	tg_dns_free(dns);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("prefetch");
	TCase *tc = tcase_create("twins");
	SRunner *sr;
	int nf;

	tg_dns_set_backend(fake_answer);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_shipped, 0,
	    sizeof shipped / sizeof shipped[0]);
	tcase_add_test(tc, test_all_checks);
	tcase_add_test(tc, test_connect_guard);
	tcase_add_test(tc, test_vattr);
	tcase_add_test(tc, test_eom_mime);
	tcase_add_test(tc, test_book_miss);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	/* One process: the miss count is process-wide, and test_book_miss
	 * makes one on purpose last. */
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	/* The answers must make the rules decide every way: the actions of
	 * the stages the loop ran, in the log. */
	fprintf(stderr, "loop verdicts by action:");
	for (int i = 0; i < 16; i++)
		if (verdicts[i] > 0)
			fprintf(stderr, " %d:%lu", i, verdicts[i]);
	fprintf(stderr, "\n");
	if (verdicts[TG_ACT_CONTINUE] == 0 || verdicts[TG_ACT_REJECT] == 0 ||
	    verdicts[TG_ACT_TEMPFAIL] == 0) {
		fprintf(stderr, "FAIL: not every verdict was reached\n");
		nf++;
	}
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
