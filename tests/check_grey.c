/* check_grey.c - greylisting through the engine, under the memory store's
 * fake clock: a first attempt gets 451 4.7.1 with the seconds left, a
 * retry too early is deferred again (the delay is not restarted), a
 * retry in the window passes and so does the triplet afterwards, a retry
 * after the window starts over, a passed triplet expires unless used,
 * auto-allow after N passes and its end; exemptions are rules; several
 * recipients at rcpt and at eom; no rate limit charged for a deferral;
 * dry runs keep the records. The keys themselves: check_greykey.c; the
 * store, snapshots and tollgatectl: check_greystore.c. Every case fails
 * if the behaviour it names breaks. Threads: none (Check may fork). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_engine.h"
#include "tg_grey.h"
#include "tg_metrics.h"
#include "tg_policy.h"
#include "tg_session.h"
#include "tg_store.h"
#include "rate_fixture.h"
#include "grey_fixture.h"

#define SEC	1000LL
#define MIN	(60 * SEC)
#define HOUR	(60 * MIN)
#define DAY	(24 * HOUR)

static const char *const basic =
    "greylist g { delay 5m retry-window 4h expire 35d auto-allow off }\n"
    "stage rcpt { rule grey: not authenticated => greylist g }\n";

START_TEST(test_first_attempt_then_retry)
{
	struct tg_policy *p = policy(basic);
	struct tg_verdict v;
	uint64_t m0 = grey_metric("deferred"), e0 =
	    grey_metric("retried_too_early"), r0 =
	    grey_metric("passed_after_delay"), k0 =
	    grey_metric("passed_known");

	/* The first attempt: 451 4.7.1, the whole delay left. */
	ck_assert_int_eq(try_rcpt(p, "192.0.2.10", "alice@example.org",
	    "bob@example.net", &v), TG_ACT_TEMPFAIL);
	ck_assert_str_eq(v.code, "451");
	ck_assert_str_eq(v.xcode, "4.7.1");
	ck_assert_str_eq(v.text, "Greylisted, please try again in 300 "
	    "seconds");
	ck_assert_str_eq(v.rule, "grey");
	ck_assert_int_eq(v.greylisted, 1);
	ck_assert_ptr_nonnull(strstr(rate_logged, "greylist g: first "
	    "attempt deferred, 300s left: g:greylist|192.0.2.0/24|"
	    "alice@example.org|bob@example.net"));
	/* Too early: deferred with what is left; the delay is counted from
	 * the first attempt, not restarted. */
	fake_now += 100 * SEC;
	ck_assert_int_eq(try_rcpt(p, "192.0.2.10", "alice@example.org",
	    "bob@example.net", &v), TG_ACT_TEMPFAIL);
	ck_assert_str_eq(v.text, "Greylisted, please try again in 200 "
	    "seconds");
	fake_now += 199 * SEC + 500;
	ck_assert_int_eq(try_rcpt(p, "192.0.2.10", "alice@example.org",
	    "bob@example.net", &v), TG_ACT_TEMPFAIL);
	ck_assert_str_eq(v.text, "Greylisted, please try again in 1 "
	    "seconds");
	/* At the delay: passes, and from then on. */
	fake_now += 500;
	ck_assert_int_eq(try_rcpt(p, "192.0.2.10", "alice@example.org",
	    "bob@example.net", &v), TG_ACT_CONTINUE);
	ck_assert_int_eq(v.greylisted, 0);
	ck_assert_ptr_nonnull(strstr(rate_logged, "greylist g: passed after "
	    "its delay: g:greylist|192.0.2.0/24"));
	fake_now += 3 * DAY;
	ck_assert_int_eq(try_rcpt(p, "192.0.2.10", "alice@example.org",
	    "bob@example.net", &v), TG_ACT_CONTINUE);
	ck_assert_uint_eq(grey_metric("deferred") - m0, 1);
	ck_assert_uint_eq(grey_metric("retried_too_early") - e0, 2);
	ck_assert_uint_eq(grey_metric("passed_after_delay") - r0, 1);
	ck_assert_uint_eq(grey_metric("passed_known") - k0, 1);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_other_triplets_still_greylisted)
{
	struct tg_policy *p = policy(basic);
	struct tg_verdict v;

	pass_triplet(p, "192.0.2.10", "alice@example.org", "bob@example.net");
	/* Another sender, another recipient, another network: each is a
	 * triplet of its own. */
	ck_assert_int_eq(try_rcpt(p, "192.0.2.10", "eve@example.org",
	    "bob@example.net", &v), TG_ACT_TEMPFAIL);
	ck_assert_int_eq(try_rcpt(p, "192.0.2.10", "alice@example.org",
	    "carol@example.net", &v), TG_ACT_TEMPFAIL);
	ck_assert_int_eq(try_rcpt(p, "198.51.100.10", "alice@example.org",
	    "bob@example.net", &v), TG_ACT_TEMPFAIL);
	/* The same /24 is the same client. */
	ck_assert_int_eq(try_rcpt(p, "192.0.2.200", "alice@example.org",
	    "bob@example.net", &v), TG_ACT_CONTINUE);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_retry_after_window_starts_over)
{
	struct tg_policy *p = policy(basic);
	struct tg_verdict v;

	ck_assert_int_eq(try_rcpt(p, "192.0.2.10", "a@example.org",
	    "b@example.net", &v), TG_ACT_TEMPFAIL);
	/* Past the 4h retry window: a first attempt again. */
	fake_now += 4 * HOUR + SEC;
	ck_assert_int_eq(try_rcpt(p, "192.0.2.10", "a@example.org",
	    "b@example.net", &v), TG_ACT_TEMPFAIL);
	ck_assert_str_eq(v.text, "Greylisted, please try again in 300 "
	    "seconds");
	/* Just inside the window of the new first attempt: passes. */
	fake_now += 4 * HOUR - SEC;
	ck_assert_int_eq(try_rcpt(p, "192.0.2.10", "a@example.org",
	    "b@example.net", &v), TG_ACT_CONTINUE);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_passed_expires_unless_used)
{
	struct tg_policy *p = policy(basic);
	struct tg_verdict v;

	pass_triplet(p, "192.0.2.10", "a@example.org", "b@example.net");
	/* Used every 30 days: kept (the expiry is renewed on use). */
	for (int i = 0; i < 3; i++) {
		fake_now += 30 * DAY;
		ck_assert_int_eq(try_rcpt(p, "192.0.2.10", "a@example.org",
		    "b@example.net", &v), TG_ACT_CONTINUE);
	}
	/* 35 days unused: forgotten, greylisted again. */
	fake_now += 35 * DAY;
	ck_assert_int_eq(try_rcpt(p, "192.0.2.10", "a@example.org",
	    "b@example.net", &v), TG_ACT_TEMPFAIL);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_auto_allow)
{
	struct tg_policy *p = policy(
	    "greylist g { delay 1m auto-allow 3 for 7d }\n"
	    "stage rcpt { rule grey: true => greylist g }\n");
	struct tg_verdict v;
	uint64_t a0 = grey_metric("allow_listed");
	char from[64];

	/* Three triplets of 192.0.2.0/24 pass after their delay... */
	for (int i = 0; i < 3; i++) {
		snprintf(from, sizeof from, "s%d@example.org", i);
		ck_assert_int_eq(try_rcpt(p, "192.0.2.1", from,
		    "bob@example.net", &v), i < 2 ? TG_ACT_TEMPFAIL :
		    TG_ACT_TEMPFAIL);
		fake_now += MIN;
		ck_assert_int_eq(try_rcpt(p, "192.0.2.1", from,
		    "bob@example.net", &v), TG_ACT_CONTINUE);
	}
	/* ...so a new one from that network passes at once. */
	ck_assert_int_eq(try_rcpt(p, "192.0.2.99", "new@example.com",
	    "carol@example.net", &v), TG_ACT_CONTINUE);
	ck_assert_uint_eq(grey_metric("allow_listed") - a0, 1);
	/* Other networks are not allowed. */
	ck_assert_int_eq(try_rcpt(p, "192.0.3.1", "new@example.com",
	    "carol@example.net", &v), TG_ACT_TEMPFAIL);
	/* Used, the allow-list entry lasts; 7 days unused, it ends. */
	fake_now += 6 * DAY;
	ck_assert_int_eq(try_rcpt(p, "192.0.2.5", "x@example.com",
	    "carol@example.net", &v), TG_ACT_CONTINUE);
	fake_now += 7 * DAY + SEC;
	ck_assert_int_eq(try_rcpt(p, "192.0.2.5", "y@example.com",
	    "carol@example.net", &v), TG_ACT_TEMPFAIL);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_exemptions_are_rules)
{
	struct tg_policy *p = policy(
	    "greylist g { delay 5m }\n"
	    "stage rcpt {\n"
	    "  rule grey: not authenticated\n"
	    "      and client.address not in { 10.0.0.0/8 }\n"
	    "      and rcpt not in { \"postmaster@example.net\" }\n"
	    "      => greylist g\n"
	    "}\n");
	struct tg_session s;
	struct tg_verdict v;

	/* Logged in: the rule does not match, never greylisted. */
	grey_conn(&s, "192.0.2.10");
	set(&s, TG_A_SASL_LOGIN, "alice");
	ck_assert_int_eq(grey_mail(p, &s, "alice@example.org", &v),
	    TG_ACT_CONTINUE);
	ck_assert_int_eq(rcpt(p, &s, "bob@example.net", &v), TG_ACT_CONTINUE);
	tg_session_free(&s);
	/* A trusted network: not greylisted either. */
	ck_assert_int_eq(try_rcpt(p, "10.1.2.3", "alice@example.org",
	    "bob@example.net", &v), TG_ACT_CONTINUE);
	/* Not logged in: greylisted; the exempt recipient is not. */
	ck_assert_int_eq(try_rcpt(p, "192.0.2.10", "alice@example.org",
	    "bob@example.net", &v), TG_ACT_TEMPFAIL);
	ck_assert_int_eq(try_rcpt(p, "192.0.2.10", "alice@example.org",
	    "postmaster@example.net", &v), TG_ACT_CONTINUE);
	/* And no triplet was made for the exemptions. */
	ck_assert_uint_eq(tg_store_mem_keys(tg_store_memory_grey()), 1);
	tg_policy_unref(p);
}
END_TEST

/* Several recipients at rcpt: each is judged on its own; the ones that
 * pass are accepted now, the MTA retries the others (RFC 5321 4.2.5). */
START_TEST(test_rcpt_stage_several_recipients)
{
	struct tg_policy *p = policy(basic);
	struct tg_session s;
	struct tg_verdict v;

	pass_triplet(p, "192.0.2.10", "a@example.org", "old@example.net");
	grey_conn(&s, "192.0.2.10");
	ck_assert_int_eq(grey_mail(p, &s, "a@example.org", &v),
	    TG_ACT_CONTINUE);
	ck_assert_int_eq(rcpt(p, &s, "old@example.net", &v), TG_ACT_CONTINUE);
	ck_assert_int_eq(rcpt(p, &s, "new@example.net", &v), TG_ACT_TEMPFAIL);
	ck_assert_int_eq(rcpt(p, &s, "old2@example.net", &v),
	    TG_ACT_TEMPFAIL);
	/* The deferred ones are not counted as recipients. */
	ck_assert_uint_eq(s.rcpt_count, 1);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

/* A deferred recipient charges no limit, count-refused ones included;
 * a recipient that passes is counted as usual. */
START_TEST(test_no_rate_limit_charge)
{
	struct tg_policy *p = policy(
	    "limit rcpts { key client.address count recipients max 2 per 1h "
	    "count-refused }\n"
	    "limit rcpts2 { key client.address count recipients max 2 per 1h "
	    "}\n"
	    "greylist g { delay 5m }\n"
	    "stage rcpt {\n"
	    "  rule quota: limit rcpts exceeded =>\n"
	    "      tempfail 452 4.5.3 \"Too many recipients\"\n"
	    "  rule grey: true => greylist g\n"
	    "}\n");
	struct tg_verdict v;
	int64_t n;

	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(try_rcpt(p, "192.0.2.10", "a@example.org",
		    "b@example.net", &v), TG_ACT_TEMPFAIL);
	ck_assert_int_eq(v.greylisted, 1);
	for (size_t i = 0; i < p->nlimits; i++) {
		char key[TG_LIMIT_KEY_MAX];
		struct tg_session s;

		grey_conn(&s, "192.0.2.10");
		ck_assert_int_eq(tg_rate_key(p->limits[i], &s, key,
		    sizeof key), TG_OK);
		ck_assert_int_eq(mem()->ops->get(mem(), key, HOUR, &n), TG_OK);
		ck_assert_msg(n == 0, "limit %s charged %lld for deferred "
		    "recipients", p->limits[i]->name, (long long)n);
		tg_session_free(&s);
	}
	/* After the delay the recipient passes and counts. */
	fake_now += 5 * MIN;
	ck_assert_int_eq(try_rcpt(p, "192.0.2.10", "a@example.org",
	    "b@example.net", &v), TG_ACT_CONTINUE);
	ck_assert_int_eq(try_rcpt(p, "192.0.2.10", "a@example.org",
	    "b@example.net", &v), TG_ACT_CONTINUE);
	ck_assert_int_eq(try_rcpt(p, "192.0.2.10", "a@example.org",
	    "b@example.net", &v), TG_ACT_TEMPFAIL);
	ck_assert_str_eq(v.code, "452");
	tg_policy_unref(p);
}
END_TEST

/* At eom the message is deferred when any of its recipients' triplets
 * is; every triplet is recorded at once, so the retry passes for all. */
START_TEST(test_eom_stage)
{
	struct tg_policy *p = policy(
	    "limit msgs { key client.address count messages max 100 per 1h "
	    "count-refused }\n"
	    "greylist g { delay 5m auto-allow off }\n"
	    "stage eom { rule grey: not authenticated => greylist g }\n");
	const char *rcpts[] = { "one@example.net", "two@example.net",
	    "Two+tag@example.net", NULL };
	struct tg_verdict v;
	char key[TG_LIMIT_KEY_MAX];
	struct tg_session s;
	int64_t n;

	pass_triplet_eom(p, "192.0.2.10", "a@example.org", "one@example.net");
	ck_assert_int_eq(try_eom(p, "192.0.2.10", "a@example.org", rcpts, &v),
	    TG_ACT_TEMPFAIL);
	ck_assert_str_eq(v.code, "451");
	ck_assert_str_eq(v.xcode, "4.7.1");
	ck_assert_str_eq(v.text, "Greylisted, please try again in 300 "
	    "seconds");
	/* one passed before; two (and Two+tag, the same mailbox) are new:
	 * one record more, not two. */
	ck_assert_uint_eq(tg_store_mem_keys(tg_store_memory_grey()), 2);
	fake_now += 5 * MIN;
	ck_assert_int_eq(try_eom(p, "192.0.2.10", "a@example.org", rcpts, &v),
	    TG_ACT_CONTINUE);
	/* The deferred message was not counted, count-refused or not: the
	 * passes (2) are. */
	grey_conn(&s, "192.0.2.10");
	ck_assert_int_eq(tg_rate_key(p->limits[0], &s, key, sizeof key),
	    TG_OK);
	ck_assert_int_eq(mem()->ops->get(mem(), key, HOUR, &n), TG_OK);
	ck_assert_int_eq(n, 2);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

/* More recipients than kept: the rule cannot check them all and defers,
 * with a log line; nothing crashes, nothing grows without bound. */
START_TEST(test_eom_too_many_recipients)
{
	struct tg_policy *p = policy(
	    "greylist g { delay 5m }\n"
	    "stage eom { rule grey: true => greylist g }\n");
	struct tg_session s;
	struct tg_verdict v;
	char to[64];

	grey_conn(&s, "192.0.2.10");
	ck_assert_int_eq(grey_mail(p, &s, "a@example.org", &v),
	    TG_ACT_CONTINUE);
	for (int i = 0; i < TG_GREY_RCPTS_MAX + 5; i++) {
		snprintf(to, sizeof to, "r%d@example.net", i);
		ck_assert_int_eq(rcpt(p, &s, to, &v), TG_ACT_CONTINUE);
	}
	ck_assert_int_eq(eval(p, &s, TG_STAGE_EOM, &v), TG_ACT_TEMPFAIL);
	ck_assert_str_eq(v.xcode, "4.7.1");
	ck_assert_ptr_nonnull(strstr(rate_logged, "more recipients than "
	    "greylisting at data or eom can check"));
	ck_assert_uint_eq(tg_store_mem_keys(tg_store_memory_grey()), 0);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_dry_run_keeps_records)
{
	struct tg_policy *p = policy(
	    "greylist g { delay 5m }\n"
	    "stage rcpt { rule grey dry-run: true => greylist g }\n");
	struct tg_verdict v;

	/* Not enforced, logged, and the triplet recorded: a policy can
	 * learn its senders' triplets before it greylists. */
	ck_assert_int_eq(try_rcpt(p, "192.0.2.10", "a@example.org",
	    "b@example.net", &v), TG_ACT_CONTINUE);
	ck_assert_int_eq(v.dry_run, 1);
	ck_assert_ptr_nonnull(strstr(rate_logged, "dry-run: would be first "
	    "attempt deferred, 300s left"));
	fake_now += 5 * MIN;
	ck_assert_int_eq(try_rcpt(p, "192.0.2.10", "a@example.org",
	    "b@example.net", &v), TG_ACT_CONTINUE);
	ck_assert_ptr_nonnull(strstr(rate_logged, "passed after its delay"));
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_own_reply_text)
{
	struct tg_policy *p = policy(
	    "greylist g { delay 90s }\n"
	    "stage rcpt { rule grey: true => greylist g \"Come back in "
	    "${greylist_wait}s, ${client_address}\" }\n");
	struct tg_verdict v;

	ck_assert_int_eq(try_rcpt(p, "192.0.2.10", "a@example.org",
	    "b@example.net", &v), TG_ACT_TEMPFAIL);
	ck_assert_str_eq(v.code, "451");
	ck_assert_str_eq(v.xcode, "4.7.1");
	ck_assert_str_eq(v.text, "Come back in 90s, 192.0.2.10");
	tg_policy_unref(p);
}
END_TEST

/* Rules after the greylist rule run when the mail passes, and not when
 * it is deferred. */
START_TEST(test_later_rules)
{
	struct tg_policy *p = policy(
	    "greylist g { delay 5m }\n"
	    "stage rcpt {\n"
	    "  rule grey: true => greylist g\n"
	    "  rule after: rcpt == \"spam@example.net\" =>\n"
	    "      reject 550 5.1.1 \"No such user\"\n"
	    "}\n");
	struct tg_verdict v;

	ck_assert_int_eq(try_rcpt(p, "192.0.2.10", "a@example.org",
	    "spam@example.net", &v), TG_ACT_TEMPFAIL);
	fake_now += 5 * MIN;
	ck_assert_int_eq(try_rcpt(p, "192.0.2.10", "a@example.org",
	    "spam@example.net", &v), TG_ACT_REJECT);
	ck_assert_str_eq(v.rule, "after");
	tg_policy_unref(p);
}
END_TEST

/* A store that cannot be reached: on-error tempfail gives 451 4.3.0
 * (enforced even in a dry run), on-error skip lets the mail through;
 * both log and count it. */
START_TEST(test_store_down)
{
	struct tg_policy *p;
	struct tg_verdict v;
	uint64_t f0 = grey_metric("store_failed");

	if (!tg_store_redis_available())
		return;
	p = policy(
	    "store redis { address \"127.0.0.1:1\" timeout 50ms }\n"
	    "greylist closed { store redis }\n"
	    "greylist open { store redis on-error skip }\n"
	    "stage rcpt {\n"
	    "  rule a: rcpt == \"closed@example.net\" => greylist closed\n"
	    "  rule b: rcpt == \"open@example.net\" => greylist open\n"
	    "}\n");
	ck_assert_int_eq(try_rcpt(p, "192.0.2.10", "a@example.org",
	    "closed@example.net", &v), TG_ACT_TEMPFAIL);
	ck_assert_str_eq(v.code, "451");
	ck_assert_str_eq(v.xcode, "4.3.0");
	ck_assert_int_eq(v.internal, 1);
	ck_assert_int_eq(try_rcpt(p, "192.0.2.10", "a@example.org",
	    "open@example.net", &v), TG_ACT_CONTINUE);
	ck_assert_ptr_nonnull(strstr(rate_logged, "greylist closed: redis "
	    "store unavailable; tempfail"));
	ck_assert_ptr_nonnull(strstr(rate_logged, "greylist open: redis "
	    "store unavailable; not greylisted, mail passes"));
	ck_assert_uint_eq(grey_metric("store_failed") - f0, 2);
	tg_policy_unref(p);
}
END_TEST

static Suite *
grey_suite(void)
{
	Suite *s = suite_create("grey");
	TCase *tc = tcase_create("engine");

	tcase_add_checked_fixture(tc, rate_setup, rate_teardown);
	tcase_add_test(tc, test_first_attempt_then_retry);
	tcase_add_test(tc, test_other_triplets_still_greylisted);
	tcase_add_test(tc, test_retry_after_window_starts_over);
	tcase_add_test(tc, test_passed_expires_unless_used);
	tcase_add_test(tc, test_auto_allow);
	tcase_add_test(tc, test_exemptions_are_rules);
	tcase_add_test(tc, test_rcpt_stage_several_recipients);
	tcase_add_test(tc, test_no_rate_limit_charge);
	tcase_add_test(tc, test_eom_stage);
	tcase_add_test(tc, test_eom_too_many_recipients);
	tcase_add_test(tc, test_dry_run_keeps_records);
	tcase_add_test(tc, test_own_reply_text);
	tcase_add_test(tc, test_later_rules);
	tcase_add_test(tc, test_store_down);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(grey_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
