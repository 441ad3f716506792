/* check_helo.c - the HELO/EHLO argument without DNS: its syntax (a
 * domain, an address literal, a bare address or invalid; a fully
 * qualified name; label and name lengths, dns_util.c) and the helo
 * attributes through the engine, helo.ours in every spelling of loopback
 * and of the listener's own address included. The DNS-backed helo checks
 * are tested against a local unbound by tests/milter/dns.sh. Threads:
 * none (Check may fork per test). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_dns.h"
#include "tg_engine.h"
#include "tg_policy.h"
#include "tg_session.h"

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

/* HELO conditions need no DNS: through the engine with a session. */
struct helo_rule_case {
	const char	*helo;
	const char	*rule;		/* the rule that must match, or "" */
	const char	*listener;	/* listener.address, NULL: 192.0.2.1 */
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
	/* Loopback and our own address in every IPv6 spelling count as
	 * the IPv4 ones do (issue 14: [IPv6:::1] was not ours). */
	{ "[127.255.0.9]", "ours" },
	{ "[IPv6:::1]", "ours" },
	{ "[ipv6:0:0:0:0:0:0:0:1]", "ours" },
	{ "[IPv6:0000:0000:0000:0000:0000:0000:0000:0001]", "ours" },
	{ "[IPv6:::ffff:127.0.0.1]", "ours" },
	{ "[IPv6:::FFFF:7f00:1]", "ours" },
	{ "[IPv6:::ffff:192.0.2.1]", "ours" },
	{ "[IPv6:2001:db8::25]", "ours", "2001:db8::25" },
	{ "[IPv6:2001:DB8:0:0::25]", "ours", "2001:db8::25" },
	{ "[IPv6:2001:db8::26]", "", "2001:db8::25" },
	{ "[192.0.2.1]", "ours", "::ffff:192.0.2.1" },
	{ "[IPv6:::2]", "" },
	{ "[IPv6:2001:db8::1]", "" },
};

START_TEST(test_helo_rules)
{
	const struct helo_rule_case *c = &helo_rule_cases[_i];
	struct tg_policy *p;
	struct tg_session s;
	struct tg_verdict v;
	struct tg_diag d;

	tg_diag_init(&d);
	p = tg_policy_load_string("t.conf",
	    "stage helo {\n"
	    " rule bare : helo.bare_ip => reject 504 5.5.2 \"bare\"\n"
	    " rule invalid : not helo.valid => reject 501 5.5.2 \"inv\"\n"
	    " rule fqdn : not helo.fqdn => reject 504 5.5.2 \"fqdn\"\n"
	    " rule ours : helo.ours => reject 550 5.7.1 \"ours\"\n"
	    "}\n", NULL, &d);
	tg_diag_free(&d);
	ck_assert_ptr_nonnull(p);
	tg_session_init(&s, "t");
	ck_assert_int_eq(tg_session_set(&s, TG_A_CLIENT_ADDRESS,
	    "198.51.100.7"), TG_OK);
	ck_assert_int_eq(tg_session_set(&s, TG_A_MTA_NAME, "mx.example.net"),
	    TG_OK);
	ck_assert_int_eq(tg_session_set(&s, TG_A_LISTENER_ADDRESS,
	    c->listener != NULL ? c->listener : "192.0.2.1"), TG_OK);
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

static Suite *
helo_suite(void)
{
	Suite *s = suite_create("helo");
	TCase *tc = tcase_create("syntax");
	TCase *tp = tcase_create("policy");

	tcase_add_loop_test(tc, test_helo, 0,
	    sizeof helo_cases / sizeof helo_cases[0]);
	tcase_add_test(tc, test_helo_long);
	suite_add_tcase(s, tc);
	tcase_add_loop_test(tp, test_helo_rules, 0,
	    sizeof helo_rule_cases / sizeof helo_rule_cases[0]);
	suite_add_tcase(s, tp);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(helo_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
