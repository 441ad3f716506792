/* check_dns.c - unit tests for the pure parts of the DNS checks
 * (dns_util.c: reversed names, A-record matching, wire names, HELO
 * syntax), the set and dnslist statements, and the HELO attributes
 * through the engine (no DNS needed for those). The DNS-backed checks are
 * tested against a local server by tests/milter/dns.sh.
 * Threads: none (Check may fork per test). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

struct helo_case {
	const char		*helo;
	enum tg_helo_kind	 kind;
	int			 fqdn;
};

static const struct helo_case helo_cases[] = {
	{ "mail.example.com", TG_HELO_DOMAIN, 1 },
	{ "MAIL.Example.COM", TG_HELO_DOMAIN, 1 },
	{ "a-b.c-d.example", TG_HELO_DOMAIN, 1 },
	{ "xn--bcher-kva.example", TG_HELO_DOMAIN, 1 },
	{ "localhost", TG_HELO_DOMAIN, 0 },
	{ "host.123", TG_HELO_DOMAIN, 0 },
	{ "1host.example", TG_HELO_DOMAIN, 1 },
	{ "[192.0.2.1]", TG_HELO_LITERAL, 0 },
	{ "[IPv6:2001:db8::1]", TG_HELO_LITERAL, 0 },
	{ "[ipv6:::1]", TG_HELO_LITERAL, 0 },
	{ "192.0.2.1", TG_HELO_BARE_IP, 0 },
	{ "2001:db8::1", TG_HELO_BARE_IP, 0 },
	{ "", TG_HELO_INVALID, 0 },
	{ "mail.example.com.", TG_HELO_INVALID, 0 },
	{ "-mail.example.com", TG_HELO_INVALID, 0 },
	{ "mail-.example.com", TG_HELO_INVALID, 0 },
	{ "mail..example.com", TG_HELO_INVALID, 0 },
	{ "mail_x.example.com", TG_HELO_INVALID, 0 },
	{ "bad name.example", TG_HELO_INVALID, 0 },
	{ "[300.1.2.3]", TG_HELO_INVALID, 0 },
	{ "[192.0.2.1", TG_HELO_INVALID, 0 },
	{ "[2001:db8::1]", TG_HELO_INVALID, 0 },	/* needs "IPv6:" */
	{ "[IPv6:192.0.2.1]", TG_HELO_INVALID, 0 },
	{ "1.2.3", TG_HELO_INVALID, 0 },
	{ "999.1.1.1", TG_HELO_INVALID, 0 },
	{ "a.b:c", TG_HELO_INVALID, 0 },
};

START_TEST(test_helo)
{
	const struct helo_case *c = &helo_cases[_i];

	ck_assert_msg(tg_helo_kind(c->helo) == c->kind, "case %d: \"%s\": "
	    "got kind %d, want %d", _i, c->helo, tg_helo_kind(c->helo),
	    c->kind);
	ck_assert_msg(tg_helo_fqdn(c->helo) == c->fqdn, "case %d: \"%s\": "
	    "fqdn got %d, want %d", _i, c->helo, !c->fqdn, c->fqdn);
}
END_TEST

START_TEST(test_helo_long)
{
	char name[400];

	/* 63-byte labels are fine, 64 are not, and 254 bytes in all. */
	memset(name, 'a', 63);
	strcpy(name + 63, ".example");
	ck_assert_int_eq(tg_helo_kind(name), TG_HELO_DOMAIN);
	memset(name, 'a', 64);
	strcpy(name + 64, ".example");
	ck_assert_int_eq(tg_helo_kind(name), TG_HELO_INVALID);
	for (int i = 0; i < 5; i++) {
		memset(name + i * 51, 'a', 50);
		name[i * 51 + 50] = '.';
	}
	strcpy(name + 255, "ab");
	ck_assert_int_eq(tg_helo_kind(name), TG_HELO_INVALID);
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

/* HELO conditions need no DNS: through the engine with a session. */
struct helo_rule_case {
	const char	*helo;
	const char	*rule;		/* the rule that must match, or "" */
};

static const struct helo_rule_case helo_rule_cases[] = {
	{ "mail.example.com", "" },
	{ "[198.51.100.7]", "" },
	{ "198.51.100.7", "bare" },
	{ "bad!name", "invalid" },
	{ "mailhost", "fqdn" },
	{ "MX.Example.NET", "ours" },
	{ "mx.example.net.", "invalid" },
	{ "[192.0.2.1]", "ours" },
	{ "[127.0.0.1]", "ours" },
};

START_TEST(test_helo_rules)
{
	const struct helo_rule_case *c = &helo_rule_cases[_i];
	struct tg_policy *p = tg_policy_load_string("t.conf",
	    "stage helo {\n"
	    " rule bare : helo.bare_ip => reject 504 5.5.2 \"bare\"\n"
	    " rule invalid : not helo.valid => reject 501 5.5.2 \"inv\"\n"
	    " rule fqdn : not helo.fqdn => reject 504 5.5.2 \"fqdn\"\n"
	    " rule ours : helo.ours => reject 550 5.7.1 \"ours\"\n"
	    "}\n", NULL, &diag);
	struct tg_session s;
	struct tg_verdict v;

	ck_assert_ptr_nonnull(p);
	tg_session_init(&s, "t");
	ck_assert_int_eq(tg_session_set(&s, TG_A_CLIENT_ADDRESS,
	    "198.51.100.7"), TG_OK);
	ck_assert_int_eq(tg_session_set(&s, TG_A_MTA_NAME, "mx.example.net"),
	    TG_OK);
	ck_assert_int_eq(tg_session_set(&s, TG_A_LISTENER_ADDRESS,
	    "192.0.2.1"), TG_OK);
	ck_assert_int_eq(tg_session_set(&s, TG_A_HELO, c->helo), TG_OK);
	tg_engine_eval(p, &s, TG_STAGE_HELO, &v);
	ck_assert_msg(strcmp(v.rule, c->rule) == 0, "case %d: \"%s\": got "
	    "rule \"%s\", want \"%s\"", _i, c->helo, v.rule, c->rule);
	ck_assert_int_eq(v.action, *c->rule ? TG_ACT_REJECT :
	    TG_ACT_CONTINUE);
	tg_session_free(&s);
	tg_policy_unref(p);
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

static Suite *
dns_suite(void)
{
	Suite *s = suite_create("dns");
	TCase *tc = tcase_create("pure");
	TCase *tp = tcase_create("policy");

	tcase_add_loop_test(tc, test_reverse, 0,
	    sizeof rev_cases / sizeof rev_cases[0]);
	tcase_add_test(tc, test_reverse_toolong);
	tcase_add_loop_test(tc, test_match, 0,
	    sizeof match_cases / sizeof match_cases[0]);
	tcase_add_loop_test(tc, test_match_bad, 0,
	    sizeof match_bad / sizeof match_bad[0]);
	tcase_add_loop_test(tc, test_helo, 0,
	    sizeof helo_cases / sizeof helo_cases[0]);
	tcase_add_test(tc, test_helo_long);
	tcase_add_test(tc, test_wire_name);
	tcase_add_test(tc, test_resolve_fail);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tp, setup, teardown);
	tcase_add_test(tp, test_conf_ok);
	tcase_add_loop_test(tp, test_conf_bad, 0,
	    sizeof conf_bad / sizeof conf_bad[0]);
	tcase_add_loop_test(tp, test_helo_rules, 0,
	    sizeof helo_rule_cases / sizeof helo_rule_cases[0]);
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
