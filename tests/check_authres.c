/* check_authres.c - Authentication-Results without a socket: which
 * received fields claim our authserv-id (to be removed, counted by
 * index), the field tollgate adds for an authenticated session, and the
 * one quoting of client values in Authentication-Results and
 * Received-SPF. Logins and ownership: check_auth.c. Threads: none (Check
 * may fork per test). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_auth.h"
#include "tg_policy.h"
#include "tg_session.h"
#include "auth_fixture.h"

START_TEST(test_authres)
{
	struct tg_policy *p = auth_policy(
	    "authentication-results \"mx.example.org\"\n"
	    "sasl { realm \"example.org\" }\n");
	struct tg_session s;
	char out[512];

	ck_assert_int_eq(tg_authres_is_ours("mx.example.org; auth=pass",
	    "mx.example.org"), 1);
	ck_assert_int_eq(tg_authres_is_ours(" (c) MX.Example.Org.; none",
	    "mx.example.org"), 1);
	ck_assert_int_eq(tg_authres_is_ours("\"mx.example.org\" 1; none",
	    "mx.example.org"), 1);
	ck_assert_int_eq(tg_authres_is_ours("mx.example.org.evil; none",
	    "mx.example.org"), 0);
	ck_assert_int_eq(tg_authres_is_ours("other.example; spf=pass",
	    "mx.example.org"), 0);
	ck_assert_int_eq(tg_authres_is_ours("", "mx.example.org"), 0);

	tg_session_init(&s, "t");
	tg_authres_note(p, &s, "Received", "from x");
	tg_authres_note(p, &s, "Authentication-Results", "other.example; none");
	tg_authres_note(p, &s, "authentication-results", "mx.example.org; "
	    "auth=pass smtp.auth=boss");
	tg_authres_note(p, &s, "Authentication-Results", "mx.example.org; x");
	ck_assert_uint_eq(s.authres_seen, 3);
	ck_assert_uint_eq(s.nforged, 2);
	ck_assert_uint_eq(s.authres_forged[0], 2);
	ck_assert_uint_eq(s.authres_forged[1], 3);
	tg_session_reset_message(&s);
	ck_assert_uint_eq(s.nforged, 0);

	ck_assert_int_eq(tg_authres_value(p, &s, out, sizeof out), -1);
	ck_assert_int_eq(tg_session_set(&s, TG_A_SASL_LOGIN, "alice"), TG_OK);
	tg_auth_derive(p, &s);
	ck_assert_int_eq(tg_authres_value(p, &s, out, sizeof out), 0);
	ck_assert_str_eq(out, "mx.example.org; auth=pass "
	    "smtp.auth=alice@example.org");
	ck_assert_int_eq(tg_session_set(&s, TG_A_SASL_LOGIN, "a \"b\"@x"),
	    TG_OK);
	tg_auth_derive(p, &s);
	ck_assert_int_eq(tg_authres_value(p, &s, out, sizeof out), 0);
	ck_assert_str_eq(out, "mx.example.org; auth=pass "
	    "smtp.auth=\"a \\\"b\\\"@x\"");
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

/* One quoting for every client value in Authentication-Results and
 * Received-SPF (F8, 2026-12): what is not already a token, a
 * local-part@domain, a domain or a dot-atom (as asked) becomes a
 * quoted-string, so that no value can end a result or start another. */
static const struct {
	const char		*in;
	enum tg_authres_quote	 how;
	const char		*want;
} quote_cases[] = {
	{ "alice", TG_AQ_PVALUE, "alice" },
	{ "alice@example.org", TG_AQ_PVALUE, "alice@example.org" },
	{ "a.b+c@mail.example.org", TG_AQ_PVALUE, "a.b+c@mail.example.org" },
	{ "@example.org", TG_AQ_PVALUE, "@example.org" },
	{ "a;dkim=pass@example.org", TG_AQ_PVALUE,
	  "\"a;dkim=pass@example.org\"" },
	{ "\"a b\"@example.org", TG_AQ_PVALUE,
	  "\"\\\"a b\\\"@example.org\"" },
	{ "a@b@example.org", TG_AQ_PVALUE, "\"a@b@example.org\"" },
	{ "a..b@example.org", TG_AQ_PVALUE, "\"a..b@example.org\"" },
	{ "a@[192.0.2.1]", TG_AQ_PVALUE, "\"a@[192.0.2.1]\"" },
	{ "a=b@example.org", TG_AQ_PVALUE, "\"a=b@example.org\"" },
	{ "", TG_AQ_PVALUE, "\"\"" },
	{ "mail.example.org", TG_AQ_DOMAIN, "mail.example.org" },
	{ "evil.example;dkim=pass header.d=paypal.com", TG_AQ_DOMAIN,
	  "\"evil.example;dkim=pass header.d=paypal.com\"" },
	{ "[192.0.2.1]", TG_AQ_DOMAIN, "\"[192.0.2.1]\"" },
	{ "x\\y\"z(", TG_AQ_DOMAIN, "\"x\\\\y\\\"z(\"" },
	{ "a\r\nb\x7f", TG_AQ_DOMAIN, "\"a??b?\"" },
	{ "192.0.2.1", TG_AQ_DOT_ATOM, "192.0.2.1" },
	{ "2001:db8::1", TG_AQ_DOT_ATOM, "\"2001:db8::1\"" },
	{ "a@example.org", TG_AQ_DOT_ATOM, "\"a@example.org\"" },
	{ "mail.example.org", TG_AQ_DOT_ATOM, "mail.example.org" },
};

START_TEST(test_authres_quote)
{
	char *q = tg_authres_quote(quote_cases[_i].in, quote_cases[_i].how);

	ck_assert_msg(strcmp(q, quote_cases[_i].want) == 0, "case %d: got "
	    "[%s], want [%s]", _i, q, quote_cases[_i].want);
	free(q);
}
END_TEST

static Suite *
authres_suite(void)
{
	Suite *s = suite_create("authres");
	TCase *tc = tcase_create("authres");

	tcase_add_checked_fixture(tc, auth_setup, auth_teardown);
	tcase_add_test(tc, test_authres);
	tcase_add_loop_test(tc, test_authres_quote, 0,
	    sizeof quote_cases / sizeof quote_cases[0]);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(authres_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
