/* check_greykey.c - the keys of greylisting, without a socket: the exact
 * bytes of a triplet's key (the stores keep records by key, Redis shares
 * them between MX hosts), the addresses normalised (case, +detail, BATV,
 * SRS, bounces), the client's network (/24, /64, IPv4-mapped IPv6, the
 * exact address), parts escaped and long parts hashed as in rate-limit
 * keys, unknown parts; and, through the engine, hostile addresses that
 * each get a defined verdict with a bounded key. Every case fails if the
 * behaviour it names breaks. Threads: none (Check may fork per test). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_engine.h"
#include "tg_grey.h"
#include "tg_policy.h"
#include "tg_session.h"
#include "tg_store.h"
#include "rate_fixture.h"
#include "grey_fixture.h"

static const struct {
	const char	*decl;		/* "{ ... }" of greylist g */
	const char	*attr[3];	/* "attr=value" */
	const char	*key;
} key_cases[] = {
	/* The default key: client /24 (/64), sender, recipient. */
	{ "{ }", { "client.address=192.0.2.77", "sender=Alice@Example.ORG",
	    "rcpt=Bob@Example.NET" },
	    "g:greylist|192.0.2.0/24|alice@example.org|bob@example.net" },
	{ "{ }", { "client.address=::ffff:192.0.2.77", "sender=a@b.example",
	    "rcpt=c@d.example" },
	    "g:greylist|192.0.2.0/24|a@b.example|c@d.example" },
	{ "{ }", { "client.address=2001:DB8:1:2:3::9", "sender=a@b.example",
	    "rcpt=c@d.example" },
	    "g:greylist|2001:db8:1:2::/64|a@b.example|c@d.example" },
	/* The exact address, when the policy says so. */
	{ "{ key client.address/32/128, sender, rcpt }",
	    { "client.address=2001:db8::9", "sender=a@b.example",
	    "rcpt=c@d.example" },
	    "g:greylist|2001:db8::9/128|a@b.example|c@d.example" },
	/* A bounce: by client and recipient. */
	{ "{ }", { "client.address=192.0.2.1", "sender=<>",
	    "rcpt=c@d.example" }, "g:greylist|192.0.2.0/24|<>|c@d.example" },
	/* +detail, of the sender (VERP) and of the recipient. */
	{ "{ }", { "client.address=192.0.2.1",
	    "sender=list+bounces-123=example.org@lists.example",
	    "rcpt=Bob+Shop@d.example" },
	    "g:greylist|192.0.2.0/24|list@lists.example|bob@d.example" },
	{ "{ detail-delimiter none }", { "client.address=192.0.2.1",
	    "sender=a+x@b.example", "rcpt=bob+shop@d.example" },
	    "g:greylist|192.0.2.0/24|a+x@b.example|bob+shop@d.example" },
	{ "{ detail-delimiter \"-\" }", { "client.address=192.0.2.1",
	    "sender=owner-list@b.example", "rcpt=bob+shop@d.example" },
	    "g:greylist|192.0.2.0/24|owner@b.example|bob+shop@d.example" },
	/* Nothing before the delimiter: kept. */
	{ "{ }", { "client.address=192.0.2.1", "sender=+x@b.example",
	    "rcpt=c@d.example" },
	    "g:greylist|192.0.2.0/24|+x@b.example|c@d.example" },
	/* BATV: a tag new for every message. */
	{ "{ }", { "client.address=192.0.2.1",
	    "sender=prvs=0123abcd=alice@b.example", "rcpt=c@d.example" },
	    "g:greylist|192.0.2.0/24|alice@b.example|c@d.example" },
	{ "{ }", { "client.address=192.0.2.1",
	    "sender=PRVS=99=alice+x@b.example", "rcpt=c@d.example" },
	    "g:greylist|192.0.2.0/24|alice@b.example|c@d.example" },
	/* SRS: the forwarder's rewriting, new every day. */
	{ "{ }", { "client.address=192.0.2.1",
	    "sender=SRS0=HHH=TT=Orig.example=alice@fwd.example",
	    "rcpt=c@d.example" },
	    "g:greylist|192.0.2.0/24|alice@orig.example|c@d.example" },
	{ "{ }", { "client.address=192.0.2.1",
	    "sender=SRS0+HHH=TT=orig.example=prvs=12=alice@fwd.example",
	    "rcpt=c@d.example" },
	    "g:greylist|192.0.2.0/24|alice@orig.example|c@d.example" },
	{ "{ }", { "client.address=192.0.2.1",
	    "sender=SRS1=XX=fwd1.example==HHH=TT=orig.example=al=ice@f2.example",
	    "rcpt=c@d.example" },
	    "g:greylist|192.0.2.0/24|al=ice@orig.example|c@d.example" },
	/* Not SRS after all (too few fields): kept. */
	{ "{ }", { "client.address=192.0.2.1", "sender=SRS0=abc@b.example",
	    "rcpt=c@d.example" },
	    "g:greylist|192.0.2.0/24|srs0=abc@b.example|c@d.example" },
	{ "{ key client.address/24, sender.domain, rcpt.domain }",
	    { "client.address=192.0.2.1",
	    "sender=SRS0=HHH=TT=orig.example=alice@fwd.example",
	    "rcpt=c@D.example" },
	    "g:greylist|192.0.2.0/24|orig.example|d.example" },
	/* Quoted and routed local parts are kept whole. */
	{ "{ }", { "client.address=192.0.2.1",
	    "sender=<\"a+b c\"@b.example>", "rcpt=<bob%other@d.example>" },
	    "g:greylist|192.0.2.0/24|\"a+b c\"@b.example|bob%other@d.example" },
	/* Escaping as in rate-limit keys: '|' and '\' in a part. */
	{ "{ key helo, rcpt }", { "helo=a|B\\", "rcpt=c@d.example" },
	    "g:greylist|a\\|b\\\\|c@d.example" },
	/* Unknown: "\?", which no value can be. */
	{ "{ key helo, rcpt }", { "rcpt=c@d.example" },
	    "g:greylist|\\?|c@d.example" },
};

START_TEST(test_key_bytes)
{
	char text[256], key[TG_LIMIT_KEY_MAX], a[128], *eq;
	struct tg_policy *p;
	struct tg_session s;
	enum tg_attr attr;

	snprintf(text, sizeof text, "greylist g %s\n", key_cases[_i].decl);
	p = policy(text);
	tg_session_init(&s, "K");
	for (size_t j = 0; j < 3 && key_cases[_i].attr[j] != NULL; j++) {
		tg_strlcpy(a, key_cases[_i].attr[j], sizeof a);
		eq = strchr(a, '=');
		*eq = '\0';
		ck_assert_int_eq(tg_attr_lookup(a, &attr), 0);
		set(&s, attr, eq + 1);
	}
	ck_assert_int_eq(tg_grey_key(p->greylists[0], &s, NULL, NULL, key,
	    sizeof key), TG_OK);
	ck_assert_str_eq(key, key_cases[_i].key);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_allow_key)
{
	struct tg_policy *p = policy("greylist g { }\n"
	    "greylist h { key sender, rcpt }\n");
	char key[TG_LIMIT_KEY_MAX];
	struct tg_session s;

	tg_session_init(&s, "K");
	/* No client address: no auto-allow entry. */
	ck_assert_int_eq(tg_grey_allow_key(p->greylists[0], &s, key,
	    sizeof key), 1);
	set(&s, TG_A_CLIENT_ADDRESS, "::ffff:198.51.100.9");
	ck_assert_int_eq(tg_grey_allow_key(p->greylists[0], &s, key,
	    sizeof key), TG_OK);
	ck_assert_str_eq(key, "g:greylist-allow|198.51.100.0/24");
	/* A key without the client: auto-allow is off. */
	ck_assert_int_eq(p->greylists[1]->allow_n, 0);
	ck_assert_int_eq(tg_grey_allow_key(p->greylists[1], &s, key,
	    sizeof key), 1);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

/* A long local part is keyed by its SHA-256, as in rate-limit keys:
 * bounded, and two long addresses that differ at the end are two
 * triplets. */
START_TEST(test_long_parts_hashed)
{
	struct tg_policy *p = policy("greylist g { }\n");
	char key[TG_LIMIT_KEY_MAX], key2[TG_LIMIT_KEY_MAX], addr[512];
	struct tg_session s;

	memset(addr, 'a', 400);
	tg_strlcpy(addr + 400, "@example.org", sizeof addr - 400);
	tg_session_init(&s, "K");
	set(&s, TG_A_CLIENT_ADDRESS, "192.0.2.1");
	set(&s, TG_A_SENDER, addr);
	set(&s, TG_A_RCPT, addr);
	ck_assert_int_eq(tg_grey_key(p->greylists[0], &s, NULL, NULL, key,
	    sizeof key), TG_OK);
	ck_assert_uint_lt(strlen(key), 200);
	ck_assert_ptr_nonnull(strstr(key, "|\\#"));
	addr[399] = 'b';
	set(&s, TG_A_RCPT, addr);
	ck_assert_int_eq(tg_grey_key(p->greylists[0], &s, NULL, NULL, key2,
	    sizeof key2), TG_OK);
	ck_assert_str_ne(key, key2);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

/* One mailbox however it is spelt: one triplet, so the retry of a
 * message passes even when the client spells it differently. */
START_TEST(test_spellings_one_triplet)
{
	struct tg_policy *p = policy(
	    "greylist g { delay 1m auto-allow off }\n"
	    "stage rcpt { rule grey: true => greylist g }\n");
	struct tg_verdict v;

	ck_assert_int_eq(try_rcpt(p, "192.0.2.10",
	    "prvs=1111=Alice@Example.ORG", "<\"bob\"@example.net>", &v),
	    TG_ACT_TEMPFAIL);
	fake_now += 60000;
	ck_assert_int_eq(try_rcpt(p, "::ffff:192.0.2.99",
	    "prvs=2222=alice+news@example.org", "Bob+x@EXAMPLE.net.", &v),
	    TG_ACT_CONTINUE);
	ck_assert_uint_eq(tg_store_mem_keys(tg_store_memory_grey()), 1);
	tg_policy_unref(p);
}
END_TEST

/* Hostile or odd addresses get a verdict, a log line and a bounded key
 * each. (Addresses that are not addresses, 1,000-byte local parts, NUL
 * or control bytes never reach a rule: the session refuses them, and the
 * MTA gets 501; tests/evasion/t_greylist_input.py sends them.) */
START_TEST(test_odd_addresses)
{
	static const char *const senders[] = {
	    "<>", "<\"a b\"@example.org>", "<@route.example:a@example.org>",
	    "\"a|b\\\\c\"@example.org", "prvs==a@example.org",
	    "SRS0====@example.org", "SRS1=x@example.org", "+@example.org",
	    "postmaster",
	};
	struct tg_policy *p = policy(
	    "greylist g { delay 1m }\n"
	    "stage rcpt { rule grey: true => greylist g }\n");
	struct tg_verdict v;
	char pr[64];

	for (size_t i = 0; i < sizeof senders / sizeof senders[0]; i++) {
		rate_logged[0] = '\0';
		ck_assert_int_eq(try_rcpt(p, "192.0.2.10", senders[i],
		    "bob@example.net", &v), TG_ACT_TEMPFAIL);
		ck_assert_str_eq(v.xcode, "4.7.1");
		ck_assert_msg(strstr(rate_logged, "greylist g: first attempt "
		    "deferred") != NULL, "%s: no log line", tg_str_printable(
		    pr, sizeof pr, senders[i]));
	}
	ck_assert_uint_eq(tg_store_mem_keys(tg_store_memory_grey()),
	    sizeof senders / sizeof senders[0]);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_addr_normalise)
{
	char out[64];

	ck_assert_int_eq(tg_grey_addr("a+b@c", 0, '+', out, sizeof out),
	    TG_OK);
	ck_assert_str_eq(out, "a@c");
	ck_assert_int_eq(tg_grey_addr("postmaster", 1, '+', out, sizeof out),
	    TG_OK);
	ck_assert_str_eq(out, "postmaster");
	/* Recipients are not senders: no BATV or SRS there. */
	ck_assert_int_eq(tg_grey_addr("prvs=12=a@c", 0, '+', out, sizeof out),
	    TG_OK);
	ck_assert_str_eq(out, "prvs=12=a@c");
	ck_assert_int_eq(tg_grey_addr("a!b@c", 1, '+', out, sizeof out),
	    TG_OK);
	ck_assert_str_eq(out, "a!b@c");
	ck_assert_int_eq(tg_grey_addr("abcdef@c", 1, '+', out, 5),
	    TG_ERR_TOOLONG);
}
END_TEST

static Suite *
greykey_suite(void)
{
	Suite *s = suite_create("greykey");
	TCase *tc = tcase_create("keys");

	tcase_add_checked_fixture(tc, rate_setup, rate_teardown);
	tcase_add_loop_test(tc, test_key_bytes, 0,
	    sizeof key_cases / sizeof key_cases[0]);
	tcase_add_test(tc, test_allow_key);
	tcase_add_test(tc, test_long_parts_hashed);
	tcase_add_test(tc, test_spellings_one_triplet);
	tcase_add_test(tc, test_odd_addresses);
	tcase_add_test(tc, test_addr_normalise);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(greykey_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
