/* check_ratekey.c - the keys of rate limits, without a socket: the exact
 * bytes of a key (stores and their snapshots keep counters by key), '|'
 * and '\\' escaped inside a part, long parts keyed by their SHA-256, and,
 * through the engine, one counter per mailbox however the sender is
 * spelt and long addresses that count like short ones. The limits
 * themselves: check_rate.c. Every case fails if the behaviour it names
 * breaks. Threads: none (Check may fork per test). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_engine.h"
#include "tg_policy.h"
#include "tg_rate.h"
#include "tg_session.h"
#include "rate_fixture.h"

/* The exact bytes of a key: stores and their snapshots (store_snap.c)
 * keep counters by key, so a change here would lose every counter at
 * the upgrade. These are the keys the first format produced. */
static const struct {
	const char	*limit;		/* "NAME { ... }" */
	const char	*attr[2];	/* "attr=value" */
	const char	*key;		/* NULL: the limit is off */
} key_cases[] = {
	{ "Net { key client.address/24/48 count connections max 9 per 1m }",
	    { "client.address=192.0.2.77" },
	    "Net:connections:60|192.0.2.0/24" },
	{ "n { key client.address/24/64 count messages max 9 per 1h }",
	    { "client.address=2001:DB8:1:2:3::9" },
	    "n:messages:3600|2001:db8:1:2::/64" },
	{ "n { key client.address/9/3 count bytes max 9 per 2d }",
	    { "client.address=255.255.255.255" },
	    "n:bytes:172800|255.128.0.0/9" },
	{ "n { key client.address/0/128 count recipients max 9 per 90s }",
	    { "client.address=[IPv6:::1]" }, "n:recipients:90|::1/128" },
	{ "n { key client.address count sessions max 9 }",
	    { "client.address=10.0.0.1" }, "n:sessions:0|10.0.0.1/32" },
	{ "n { key client.address count sessions max 9 }",
	    { "client.address=::ffff:10.1.2.3" }, "n:sessions:0|10.1.2.3/32" },
	{ "n { key client.address count sessions max 9 }",
	    { "client.address=2001:db8::1" }, "n:sessions:0|2001:db8::/64" },
	{ "login { key sasl.login count messages max 9 per 1h }",
	    { "sasl.login=Alice@Example.ORG" },
	    "login:messages:3600|alice@example.org" },
	{ "two { key sasl.login, client.address/16 count messages max 9 "
	    "per 1d }", { "sasl.login=bob", "client.address=198.51.100.7" },
	    "two:messages:86400|bob|198.51.0.0/16" },
	{ "login { key sasl.login count messages max 9 per 1h }",
	    { "client.address=10.0.0.1" }, NULL },
	/* Issue 14 (F10): '|' joins parts, so a '|' (and the '\\' that
	 * escapes it) inside a part is escaped: these three tuples made
	 * two keys before, "esc:messages:3600|a|b|c". */
	{ "esc { key helo, sasl.login count messages max 9 per 1h }",
	    { "helo=a|B", "sasl.login=c" }, "esc:messages:3600|a\\|b|c" },
	{ "esc { key helo, sasl.login count messages max 9 per 1h }",
	    { "helo=a", "sasl.login=b|c" }, "esc:messages:3600|a|b\\|c" },
	{ "esc { key helo, sasl.login count messages max 9 per 1h }",
	    { "helo=a\\", "sasl.login=|c" },
	    "esc:messages:3600|a\\\\|\\|c" },
};

START_TEST(test_limit_key_bytes)
{
	char text[256], key[TG_LIMIT_KEY_MAX], a[128], *eq;
	struct tg_policy *p;
	struct tg_session s;
	enum tg_attr attr;

	snprintf(text, sizeof text, "limit %s\n", key_cases[_i].limit);
	p = policy(text);
	ck_assert_uint_eq(p->nlimits, 1);
	tg_session_init(&s, "K");
	for (size_t j = 0; j < 2 && key_cases[_i].attr[j] != NULL; j++) {
		tg_strlcpy(a, key_cases[_i].attr[j], sizeof a);
		eq = strchr(a, '=');
		*eq = '\0';
		ck_assert_int_eq(tg_attr_lookup(a, &attr), 0);
		set(&s, attr, eq + 1);
	}
	if (key_cases[_i].key == NULL)
		ck_assert_int_eq(tg_rate_key(p->limits[0], &s, key,
		    sizeof key), 1);
	else {
		ck_assert_int_eq(tg_rate_key(p->limits[0], &s, key,
		    sizeof key), TG_OK);
		ck_assert_str_eq(key, key_cases[_i].key);
		/* Too small a buffer: no key rather than a cut one. */
		ck_assert_int_eq(tg_rate_key(p->limits[0], &s, key,
		    strlen(key_cases[_i].key)), TG_ERR_TOOLONG);
	}
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

/* Issue 14 (F10): a part longer than TG_LIMIT_PART_MAX is keyed by its
 * SHA-256, so four parts of a kilobyte still make a key (the old code
 * failed to build it, and the limit neither tripped nor counted). */
START_TEST(test_limit_key_long_parts)
{
	struct tg_policy *p = policy("limit h { key helo count messages "
	    "max 9 per 1h }\n"
	    "limit four { key helo, sasl.login, sender, rcpt count "
	    "recipients max 9 per 1h }\n");
	char key[TG_LIMIT_KEY_MAX], v[1100], addr[1100];
	struct tg_session s;

	tg_session_init(&s, "H");
	/* 200 bytes: written out. */
	memset(v, 'X', 200);
	v[200] = '\0';
	set(&s, TG_A_HELO, v);
	ck_assert_int_eq(tg_rate_key(p->limits[0], &s, key, sizeof key),
	    TG_OK);
	ck_assert_uint_eq(strlen(key), strlen("h:messages:3600|") + 200);
	/* 201: its SHA-256 (of the lower-cased value) instead. */
	memset(v, 'X', 201);
	v[201] = '\0';
	set(&s, TG_A_HELO, v);
	ck_assert_int_eq(tg_rate_key(p->limits[0], &s, key, sizeof key),
	    TG_OK);
	ck_assert_str_eq(key, "h:messages:3600|\\#84a0678c90937f5dcf9994d5"
	    "866668da6b995109c8ad845410559b48a4ecafed");
	/* Escaping counts towards the length: 200 bytes, one a '|'. */
	v[0] = 'a';
	v[1] = '|';
	v[200] = '\0';
	set(&s, TG_A_HELO, v);
	ck_assert_int_eq(tg_rate_key(p->limits[0], &s, key, sizeof key),
	    TG_OK);
	ck_assert_str_eq(key, "h:messages:3600|\\#0769c3fb1fbd8ecbbcc15b66"
	    "0d8e60de000a67c87209d1dd9fd7c9d1a68c2305");
	/* Four long parts: the longest key there is still fits. */
	memset(v, 'y', 1000);
	v[1000] = '\0';
	set(&s, TG_A_HELO, v);
	set(&s, TG_A_SASL_LOGIN, "a-login");
	snprintf(addr, sizeof addr, "<%.480s@example.org>", v);
	set(&s, TG_A_SENDER, addr);
	snprintf(addr, sizeof addr, "<bob+%.470s@example.com>", v);
	set(&s, TG_A_RCPT, addr);
	ck_assert_int_eq(tg_rate_key(p->limits[1], &s, key, sizeof key),
	    TG_OK);
	ck_assert_uint_eq(strlen(key), strlen("four:recipients:3600") +
	    3 * (1 + 66) + 1 + strlen("a-login"));
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

/* Issue 14 (F10), through the engine: a pair of long addresses counts
 * and trips like a short one (the old code let all four through). */
START_TEST(test_limit_long_pair_trips)
{
	struct tg_policy *p = policy(
	    "limit pair { key sender, rcpt count recipients max 1 per 1h }\n"
	    "stage rcpt { rule r: limit pair exceeded =>\n"
	    "  tempfail 450 4.7.1 \"pair\" }\n");
	char from[600], to[600], x[500];
	struct tg_session s;
	struct tg_verdict v;

	memset(x, 'x', sizeof x - 1);
	x[sizeof x - 1] = '\0';
	/* 507 and 506 bytes, as in the finding: 1,035 with the prefix. */
	snprintf(from, sizeof from, "<%.495s@example.org>", x);
	snprintf(to, sizeof to, "<bob+%.490s@example.com>", x);
	tg_session_init(&s, "P");
	for (int i = 0; i < 4; i++) {
		tg_session_reset_message(&s);
		set(&s, TG_A_SENDER, from);
		ck_assert_int_eq(eval(p, &s, TG_STAGE_MAIL, &v),
		    TG_ACT_CONTINUE);
		ck_assert_int_eq(rcpt(p, &s, to, &v), i == 0 ?
		    TG_ACT_CONTINUE : TG_ACT_TEMPFAIL);
		if (i == 0)
			ck_assert_int_eq(eval(p, &s, TG_STAGE_EOM, &v),
			    TG_ACT_CONTINUE);
	}
	ck_assert_str_eq(v.code, "450");
	ck_assert_str_eq(v.limit, "pair");
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

/* One mailbox, one counter: a sender's quoted spellings ("alice",
 * "al\ice") count against alice, and "alice." (another mailbox) does not
 * take from it. */
START_TEST(test_limit_quoted_sender_one_key)
{
	static const char *const spellings[] = { "<alice@example.org>",
	    "<\"alice\"@example.org>", "<\"al\\ice\"@Example.org>" };
	struct tg_policy *p = policy(
	    "limit sender-rcpts { key sender count recipients max 2 per 1h }\n"
	    "stage rcpt { rule q: limit sender-rcpts exceeded =>\n"
	    "  tempfail 450 4.7.1 \"slow down\" }\n");
	struct tg_session s;
	struct tg_verdict v;

	tg_session_init(&s, "Q1");
	for (int i = 0; i < 3; i++) {
		tg_session_reset_message(&s);
		set(&s, TG_A_SENDER, spellings[i]);
		ck_assert_int_eq(eval(p, &s, TG_STAGE_MAIL, &v),
		    TG_ACT_CONTINUE);
		ck_assert_msg(rcpt(p, &s, "<b@example.net>", &v) ==
		    (i < 2 ? TG_ACT_CONTINUE : TG_ACT_TEMPFAIL),
		    "%s: got %s", spellings[i], tg_action_name(v.action));
		if (i < 2)
			ck_assert_int_eq(eval(p, &s, TG_STAGE_EOM, &v),
			    TG_ACT_CONTINUE);
	}
	tg_session_reset_message(&s);
	set(&s, TG_A_SENDER, "<\"alice.\"@example.org>");
	ck_assert_int_eq(eval(p, &s, TG_STAGE_MAIL, &v), TG_ACT_CONTINUE);
	ck_assert_int_eq(rcpt(p, &s, "<b@example.net>", &v),
	    TG_ACT_CONTINUE);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

static Suite *
ratekey_suite(void)
{
	Suite *s = suite_create("ratekey");
	TCase *tc = tcase_create("keys");

	tcase_add_checked_fixture(tc, rate_setup, rate_teardown);
	tcase_add_test(tc, test_limit_quoted_sender_one_key);
	tcase_add_test(tc, test_limit_key_long_parts);
	tcase_add_test(tc, test_limit_long_pair_trips);
	tcase_add_loop_test(tc, test_limit_key_bytes, 0,
	    (int)(sizeof key_cases / sizeof key_cases[0]));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ratekey_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
