/* check_rate.c - rate limits without a socket, under a fake clock (no
 * sleeping to wait for windows): limits driven through the engine stage
 * by stage, the grammar's diagnostics, the operator commands, and a
 * Redis store that cannot be reached (both on-error modes). Their keys:
 * check_ratekey.c; the memory store itself: check_store.c. Every case
 * fails if the behaviour it names breaks. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_drive.h"
#include "tg_engine.h"
#include "tg_log.h"
#include "tg_policy.h"
#include "tg_rate.h"
#include "tg_session.h"
#include "tg_store.h"
#include "rate_fixture.h"

/* diag - the first diagnostic of a policy that must not load */
static void
diag(const char *text, const char *want)
{
	struct tg_policy *p;
	struct tg_diag d;

	tg_diag_init(&d);
	p = tg_policy_load_string("rate.conf", text, NULL, &d);
	ck_assert_msg(p == NULL, "policy loaded, want error \"%s\"", want);
	ck_assert_msg(d.n > 0 && strstr(d.msgs[0], want) != NULL,
	    "got \"%s\", want \"%s\"", d.n ? d.msgs[0] : "", want);
	tg_diag_free(&d);
}

/* A policy's max-keys takes effect when it is published, never when it is
 * only loaded (tollgate -n, a reload that fails or is not swapped in). */
START_TEST(test_max_keys_at_publish_only)
{
	struct tg_policy *p, *q;
	struct tg_diag d;
	uint64_t def = tg_store_mem_max_keys(mem());

	p = policy("store memory { max-keys 5000 }\n"
	    "limit a { key sasl.login count messages max 5 per 1h }\n");
	ck_assert_uint_eq(tg_store_mem_max_keys(mem()), def);
	/* The same settings in a policy that fails after them. */
	tg_diag_init(&d);
	q = tg_policy_load_string("rate.conf", "store memory { max-keys 7000 "
	    "}\nlimit a { key sasl.login count messages max 5 per 1h }\n"
	    "stage mail { rule r: limit b exceeded => continue }\n", NULL,
	    &d);
	ck_assert_ptr_null(q);
	tg_diag_free(&d);
	ck_assert_uint_eq(tg_store_mem_max_keys(mem()), def);
	tg_policy_publish(p);
	ck_assert_uint_eq(tg_store_mem_max_keys(mem()), 5000);
	/* The next policy says nothing: back to the default. */
	tg_policy_publish(policy("limit a { key sasl.login count messages "
	    "max 5 per 1h }\n"));
	ck_assert_uint_eq(tg_store_mem_max_keys(mem()), def);
	tg_policy_publish(NULL);
}
END_TEST

/* ---- limits through the engine -------------------------------------- */

#define RCPT_POLICY \
	"limit login-rcpts { key sasl.login count recipients max 3 per 1h }\n" \
	"stage rcpt {\n" \
	" rule no-local: rcpt.domain == \"refused.example\" =>\n" \
	"   reject 550 5.1.1 \"no such user\"\n" \
	" rule quota: limit login-rcpts exceeded =>\n" \
	"   tempfail 450 4.7.1 \"Too many recipients for ${login}\"\n" \
	"}\n"

static void
mail(struct tg_policy *p, struct tg_session *s, const char *login)
{
	struct tg_verdict v;

	tg_session_reset_message(s);
	set(s, TG_A_SASL_LOGIN, login);
	set(s, TG_A_SENDER, "<a@example.org>");
	ck_assert_int_eq(eval(p, s, TG_STAGE_MAIL, &v), TG_ACT_CONTINUE);
}

START_TEST(test_limit_recipients_counted_when_accepted)
{
	struct tg_policy *p = policy(RCPT_POLICY);
	struct tg_session s;
	struct tg_verdict v;

	tg_session_init(&s, "R1");
	mail(p, &s, "alice");
	/* A refused recipient does not use the quota. */
	ck_assert_int_eq(rcpt(p, &s, "<x@refused.example>", &v),
	    TG_ACT_REJECT);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(rcpt(p, &s, "<b@example.net>", &v),
		    TG_ACT_CONTINUE);
	ck_assert_int_eq(rcpt(p, &s, "<c@example.net>", &v), TG_ACT_TEMPFAIL);
	ck_assert_str_eq(v.code, "450");
	ck_assert_str_eq(v.xcode, "4.7.1");
	ck_assert_str_eq(v.text, "Too many recipients for alice");
	ck_assert_str_eq(v.rule, "quota");
	ck_assert_str_eq(v.limit, "login-rcpts");
	/* Another login has its own counter. */
	set(&s, TG_A_SASL_LOGIN, "bob");
	ck_assert_int_eq(rcpt(p, &s, "<c@example.net>", &v), TG_ACT_CONTINUE);
	ck_assert_str_eq(v.limit, "");
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_limit_aborted_message_gives_back)
{
	struct tg_policy *p = policy(RCPT_POLICY);
	struct tg_session s;
	struct tg_verdict v;

	tg_session_init(&s, "R2");
	mail(p, &s, "alice");
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(rcpt(p, &s, "<b@example.net>", &v),
		    TG_ACT_CONTINUE);
	/* RSET or abort: the message was not sent, nothing is used. */
	tg_session_reset_message(&s);
	mail(p, &s, "alice");
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(rcpt(p, &s, "<b@example.net>", &v),
		    TG_ACT_CONTINUE);
	/* Accepted at end of message: the recipients count for good. */
	ck_assert_int_eq(eval(p, &s, TG_STAGE_EOM, &v), TG_ACT_CONTINUE);
	tg_session_reset_message(&s);
	mail(p, &s, "alice");
	ck_assert_int_eq(rcpt(p, &s, "<b@example.net>", &v), TG_ACT_TEMPFAIL);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_limit_refused_at_eom_gives_back)
{
	struct tg_policy *p = policy(RCPT_POLICY
	    "stage eom { rule big: size > 100 => reject 552 5.3.4 \"big\" }\n");
	struct tg_session s;
	struct tg_verdict v;

	tg_session_init(&s, "R3");
	mail(p, &s, "alice");
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(rcpt(p, &s, "<b@example.net>", &v),
		    TG_ACT_CONTINUE);
	tg_session_add_body(&s, 1000);
	ck_assert_int_eq(eval(p, &s, TG_STAGE_EOM, &v), TG_ACT_REJECT);
	tg_session_reset_message(&s);
	mail(p, &s, "alice");
	ck_assert_int_eq(rcpt(p, &s, "<b@example.net>", &v), TG_ACT_CONTINUE);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_limit_count_refused)
{
	struct tg_policy *p = policy(
	    "limit tries { key client.address count recipients max 2 per 1h\n"
	    "  count-refused }\n"
	    "stage rcpt { rule r: rcpt.domain == \"refused.example\" =>\n"
	    "  reject 550 5.1.1 \"no\"\n"
	    " rule q: limit tries exceeded => tempfail 450 4.7.1 \"slow\" }\n");
	struct tg_session s;
	struct tg_verdict v;

	tg_session_init(&s, "R4");
	set(&s, TG_A_CLIENT_ADDRESS, "192.0.2.1");
	mail(p, &s, "x");
	ck_assert_int_eq(rcpt(p, &s, "<a@refused.example>", &v), TG_ACT_REJECT);
	ck_assert_int_eq(rcpt(p, &s, "<a@refused.example>", &v), TG_ACT_REJECT);
	ck_assert_int_eq(rcpt(p, &s, "<a@example.net>", &v), TG_ACT_TEMPFAIL);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

/* Issue 14 (F9): each RCPT used to walk every hold of the message, one
 * per recipient accepted before it: quadratic in recipients. 100,000
 * recipients, with a limit keyed on the sender (one key) and one keyed on
 * the recipient (a key each): the holds looked at grow linearly, and the
 * sender's key in one slot is one hold whatever the number of RCPTs.
 * Counting visits rather than timing keeps the test exact on a loaded
 * machine; the old code looks at about N * N / 2 = 5e9 holds here. */
START_TEST(test_limit_many_recipients_linear)
{
	struct tg_policy *p = policy(
	    "limit per-sender { key sender count recipients max 1g per 1h }\n"
	    "limit per-rcpt { key rcpt count recipients max 5 per 1h }\n"
	    "stage rcpt { rule r: limit per-sender exceeded =>\n"
	    "  tempfail 450 4.7.1 \"slow\" }\n");
	enum { N = 100000 };
	struct tg_session s;
	struct tg_verdict v;
	char to[64], out[256];
	uint64_t visits;
	size_t holds;

	tg_session_init(&s, "L");
	mail(p, &s, "x");
	for (int i = 0; i < N; i++) {
		snprintf(to, sizeof to, "<user%d@example.com>", i);
		ck_assert_int_eq(rcpt(p, &s, to, &v), TG_ACT_CONTINUE);
	}
	tg_rate_stats(&s, &holds, &visits);
	/* One hold for the sender's key, one per recipient's key. */
	ck_assert_msg(holds == N + 1, "%zu holds for %d recipients", holds,
	    N);
	ck_assert_msg(visits <= 20ULL * N, "%llu holds looked at for %d "
	    "recipients, want at most %d", (unsigned long long)visits, N,
	    20 * N);
	ck_assert_int_eq(eval(p, &s, TG_STAGE_EOM, &v), TG_ACT_CONTINUE);
	tg_rate_stats(&s, &holds, &visits);
	ck_assert_uint_eq(holds, 0);
	ck_assert_msg(visits <= 22ULL * N, "%llu visits after eom",
	    (unsigned long long)visits);
	/* The merged hold counted every recipient. */
	ck_assert_int_eq(tg_rate_ctl(p, "show per-sender <a@example.org>", out,
	    sizeof out), 0);
	ck_assert_str_eq(out, "per-sender:recipients:3600|a@example.org: "
	    "100000 of 1073741824\n");
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

/* A merged hold gives back every event it holds: an aborted message of
 * many recipients leaves nothing counted. */
START_TEST(test_limit_merged_holds_given_back)
{
	struct tg_policy *p = policy(RCPT_POLICY);
	struct tg_session s;
	struct tg_verdict v;
	uint64_t visits;
	size_t holds;

	tg_session_init(&s, "G");
	mail(p, &s, "alice");
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(rcpt(p, &s, "<b@example.net>", &v),
		    TG_ACT_CONTINUE);
	tg_rate_stats(&s, &holds, &visits);
	ck_assert_uint_eq(holds, 1);
	tg_session_reset_message(&s);
	tg_rate_stats(&s, &holds, &visits);
	ck_assert_uint_eq(holds, 0);
	mail(p, &s, "alice");
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(rcpt(p, &s, "<b@example.net>", &v),
		    TG_ACT_CONTINUE);
	ck_assert_int_eq(rcpt(p, &s, "<b@example.net>", &v), TG_ACT_TEMPFAIL);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

/* Issue 14 (F4), through the engine: MAIL, RCPT and RSET from 2,000
 * senders count nothing and leave nothing behind; the old store kept
 * each key for its window, filled (1,000 keys) and answered a new sender
 * 451 4.3.0 "store is full" for an hour. */
START_TEST(test_limit_aborted_transactions_fill_nothing)
{
	struct tg_policy *p = policy(
	    "limit rcpts-per-sender { key sender count recipients\n"
	    "  max 1000 per 1h }\n"
	    "stage rcpt { rule r: limit rcpts-per-sender exceeded =>\n"
	    "  tempfail 450 4.7.1 \"Too many recipients\" }\n");
	struct tg_session s;
	struct tg_verdict v;
	char from[64];

	tg_store_mem_set_max_keys(mem(), 1000);
	tg_session_init(&s, "F");
	for (int i = 0; i < 2000; i++) {
		tg_session_reset_message(&s);
		snprintf(from, sizeof from, "<x%d@attacker.example>", i);
		set(&s, TG_A_SENDER, from);
		ck_assert_int_eq(eval(p, &s, TG_STAGE_MAIL, &v),
		    TG_ACT_CONTINUE);
		ck_assert_int_eq(rcpt(p, &s, "<bob@example.com>", &v),
		    TG_ACT_CONTINUE);
	}
	tg_session_reset_message(&s);
	ck_assert_uint_eq(tg_store_mem_keys(mem()), 0);
	set(&s, TG_A_SENDER, "<ceo@victim.example>");
	ck_assert_int_eq(eval(p, &s, TG_STAGE_MAIL, &v), TG_ACT_CONTINUE);
	ck_assert_int_eq(rcpt(p, &s, "<bob@example.com>", &v),
	    TG_ACT_CONTINUE);
	ck_assert_ptr_null(strstr(rate_logged, "full"));
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

#define MSG_POLICY \
	"limit login-msgs { key sasl.login count messages max 2 per 1h }\n" \
	"stage mail { rule early: limit login-msgs exceeded =>\n" \
	"  tempfail 450 4.7.1 \"Message quota of ${login} used up\" }\n"

/* Messages count when accepted at end of message; a check at MAIL reads
 * the counter, so the (N+1)th message is refused before its data. */
START_TEST(test_limit_messages_peek_at_mail)
{
	struct tg_policy *p = policy(MSG_POLICY);
	struct tg_session s;
	struct tg_verdict v;

	tg_session_init(&s, "M1");
	for (int i = 0; i < 3; i++) {
		mail(p, &s, "carol");
		ck_assert_int_eq(rcpt(p, &s, "<b@example.net>", &v),
		    TG_ACT_CONTINUE);
		if (i == 1)	/* aborted: not counted */
			continue;
		ck_assert_int_eq(eval(p, &s, TG_STAGE_EOM, &v),
		    TG_ACT_CONTINUE);
	}
	tg_session_reset_message(&s);
	set(&s, TG_A_SASL_LOGIN, "carol");
	set(&s, TG_A_SENDER, "<a@example.org>");
	ck_assert_int_eq(eval(p, &s, TG_STAGE_MAIL, &v), TG_ACT_TEMPFAIL);
	ck_assert_str_eq(v.text, "Message quota of carol used up");
	ck_assert_str_eq(v.limit, "login-msgs");
	/* An hour and a slot later there is room again. */
	fake_now += 3600000 + 360000;
	ck_assert_int_eq(eval(p, &s, TG_STAGE_MAIL, &v), TG_ACT_CONTINUE);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_limit_bytes_and_ip_prefix)
{
	struct tg_policy *p = policy(
	    "limit net-bytes { key client.address/24/48 count bytes\n"
	    "  max 1k per 1d }\n"
	    "stage eom { rule b: limit net-bytes exceeded =>\n"
	    "  tempfail 452 4.3.1 \"byte quota\" }\n");
	struct tg_session s, t;
	struct tg_verdict v;

	tg_session_init(&s, "B1");
	tg_session_init(&t, "B2");
	set(&s, TG_A_CLIENT_ADDRESS, "192.0.2.1");
	set(&t, TG_A_CLIENT_ADDRESS, "192.0.2.200");	/* same /24 */
	tg_session_add_body(&s, 600);
	ck_assert_int_eq(eval(p, &s, TG_STAGE_EOM, &v), TG_ACT_CONTINUE);
	tg_session_add_body(&t, 600);
	ck_assert_int_eq(eval(p, &t, TG_STAGE_EOM, &v), TG_ACT_TEMPFAIL);
	ck_assert_str_eq(v.code, "452");
	/* Another /24 is another key. */
	set(&t, TG_A_CLIENT_ADDRESS, "192.0.3.1");
	ck_assert_int_eq(eval(p, &t, TG_STAGE_EOM, &v), TG_ACT_CONTINUE);
	/* IPv6: one /48 is one key. */
	tg_session_reset_message(&t);
	set(&t, TG_A_CLIENT_ADDRESS, "2001:db8:1:2::1");
	tg_session_add_body(&t, 1000);
	ck_assert_int_eq(eval(p, &t, TG_STAGE_EOM, &v), TG_ACT_CONTINUE);
	tg_session_reset_message(&t);
	set(&t, TG_A_CLIENT_ADDRESS, "2001:db8:1:ffff::9");
	tg_session_add_body(&t, 100);
	ck_assert_int_eq(eval(p, &t, TG_STAGE_EOM, &v), TG_ACT_TEMPFAIL);
	tg_session_free(&s);
	tg_session_free(&t);
	tg_policy_unref(p);
}
END_TEST

/* A bytes limit counts the message's size, so the glue must ask the MTA
 * for headers and body even when no rule reads them: before, it did not,
 * and every message counted 0 bytes (found by tollgate-test on
 * isp-outbound.conf). A message limit needs neither. */
START_TEST(test_limit_bytes_asks_for_the_body)
{
	struct tg_policy *p = policy(
	    "limit b { key sasl.login count bytes max 1m per 1d }\n");
	struct tg_policy *q = policy(
	    "limit m { key sasl.login count messages max 10 per 1d }\n");
	int hdrs, body;

	tg_drive_needs(p, &hdrs, &body);
	ck_assert_int_eq(hdrs, 1);
	ck_assert_int_eq(body, 1);
	tg_drive_needs(q, &hdrs, &body);
	ck_assert_int_eq(hdrs, 0);
	ck_assert_int_eq(body, 0);
	tg_policy_unref(p);
	tg_policy_unref(q);
}
END_TEST

START_TEST(test_limit_sessions_concurrency)
{
	struct tg_policy *p = policy(
	    "limit conc { key client.address count sessions max 2 }\n"
	    "stage connect { rule c: limit conc exceeded =>\n"
	    "  tempfail 421 4.7.0 \"Too many connections from "
	    "${client_address}\" }\n");
	struct tg_session s[3];
	struct tg_verdict v;

	for (int i = 0; i < 3; i++) {
		tg_session_init(&s[i], "C");
		set(&s[i], TG_A_CLIENT_ADDRESS, "198.51.100.7");
	}
	ck_assert_int_eq(eval(p, &s[0], TG_STAGE_CONNECT, &v),
	    TG_ACT_CONTINUE);
	ck_assert_int_eq(eval(p, &s[1], TG_STAGE_CONNECT, &v),
	    TG_ACT_CONTINUE);
	ck_assert_int_eq(eval(p, &s[2], TG_STAGE_CONNECT, &v),
	    TG_ACT_TEMPFAIL);
	ck_assert_str_eq(v.text, "Too many connections from 198.51.100.7");
	/* Time alone frees nothing; a session ending does. */
	fake_now += 86400000;
	tg_session_free(&s[2]);
	tg_session_init(&s[2], "C");
	set(&s[2], TG_A_CLIENT_ADDRESS, "198.51.100.7");
	ck_assert_int_eq(eval(p, &s[2], TG_STAGE_CONNECT, &v),
	    TG_ACT_TEMPFAIL);
	tg_session_free(&s[2]);
	tg_session_free(&s[0]);
	tg_session_init(&s[2], "C");
	set(&s[2], TG_A_CLIENT_ADDRESS, "198.51.100.7");
	ck_assert_int_eq(eval(p, &s[2], TG_STAGE_CONNECT, &v),
	    TG_ACT_CONTINUE);
	tg_session_free(&s[1]);
	tg_session_free(&s[2]);
	tg_policy_unref(p);
}
END_TEST

/* Without a rule, a limit still counts; a reload keeps the counters. */
START_TEST(test_limit_counts_without_rule_and_survives_reload)
{
	struct tg_policy *p = policy(
	    "limit c { key client.address count connections max 2 per 1m }\n");
	struct tg_policy *q;
	struct tg_session s;
	struct tg_verdict v;

	for (int i = 0; i < 2; i++) {
		tg_session_init(&s, "N");
		set(&s, TG_A_CLIENT_ADDRESS, "203.0.113.5");
		ck_assert_int_eq(eval(p, &s, TG_STAGE_CONNECT, &v),
		    TG_ACT_CONTINUE);
		tg_session_free(&s);
	}
	tg_policy_unref(p);
	q = policy("limit c { key client.address count connections "
	    "max 2 per 1m }\n"
	    "stage connect { rule r: limit c exceeded => "
	    "tempfail 421 4.7.0 \"later\" }\n");
	tg_session_init(&s, "N");
	set(&s, TG_A_CLIENT_ADDRESS, "203.0.113.5");
	ck_assert_int_eq(eval(q, &s, TG_STAGE_CONNECT, &v), TG_ACT_TEMPFAIL);
	/* Refused at connect: later stages repeat the verdict. */
	ck_assert_int_eq(eval(q, &s, TG_STAGE_HELO, &v), TG_ACT_TEMPFAIL);
	tg_session_free(&s);
	tg_policy_unref(q);
}
END_TEST

START_TEST(test_limit_unknown_key_part_does_not_apply)
{
	struct tg_policy *p = policy(MSG_POLICY);
	struct tg_session s;
	struct tg_verdict v;

	tg_session_init(&s, "U");
	for (int i = 0; i < 5; i++) {
		tg_session_reset_message(&s);
		set(&s, TG_A_SENDER, "<a@example.org>");
		ck_assert_int_eq(eval(p, &s, TG_STAGE_MAIL, &v),
		    TG_ACT_CONTINUE);
		ck_assert_int_eq(eval(p, &s, TG_STAGE_EOM, &v),
		    TG_ACT_CONTINUE);
	}
	ck_assert_uint_eq(tg_store_mem_keys(mem()), 0);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

/* A Redis nobody listens on: fail closed (451 4.3.0) or open. */
START_TEST(test_limit_store_down_both_ways)
{
	static const char *const modes[] = { "tempfail", "skip" };

	if (!tg_store_redis_available()) {
		diag("store redis { address \"127.0.0.1:21999\" }",
		    "built without hiredis");
		return;
	}
	for (int i = 0; i < 2; i++) {
		char text[1024];
		struct tg_policy *p;
		struct tg_session s;
		struct tg_verdict v;

		snprintf(text, sizeof text,
		    "store redis { address \"127.0.0.1:21999\"\n"
		    "  timeout 200ms }\n"
		    "limit r { key sasl.login count recipients max 5 per 1h\n"
		    "  store redis on-error %s }\n"
		    "stage rcpt { rule q: limit r exceeded =>\n"
		    "  tempfail 450 4.7.1 \"quota\" }\n", modes[i]);
		p = policy(text);
		tg_session_init(&s, "D");
		mail(p, &s, "dave");
		rate_logged[0] = '\0';
		if (i == 0) {
			ck_assert_int_eq(rcpt(p, &s, "<b@example.net>", &v),
			    TG_ACT_TEMPFAIL);
			ck_assert_str_eq(v.code, "451");
			ck_assert_str_eq(v.xcode, "4.3.0");
			ck_assert_str_eq(v.limit, "r");
		} else {
			ck_assert_int_eq(rcpt(p, &s, "<b@example.net>", &v),
			    TG_ACT_CONTINUE);
		}
		ck_assert_msg(strstr(rate_logged, "limit r: redis store "
		    "unavailable") != NULL, "logged: %s", rate_logged);
		tg_session_free(&s);
		tg_policy_unref(p);
	}
}
END_TEST

/* ---- grammar ------------------------------------------------------- */

START_TEST(test_limit_grammar_errors)
{
	diag("limit a { key sasl.login count messages }",
	    "rate.conf:1:1: error: limit a needs a max");
	diag("limit a { key sasl.login count messages max 5 }",
	    "limit a needs a window: max N per DURATION");
	diag("limit a { key client.address count sessions max 5 per 1h }",
	    "counts sessions, which have no window");
	diag("limit a { key size count messages max 5 per 1h }",
	    "\"size\" cannot be part of a key");
	diag("limit a { key sasl.login/24 count messages max 5 per 1h }",
	    "a prefix length is only for ip attributes");
	diag("limit a { key client.address/33 count messages max 5 per 1h }",
	    "invalid prefix lengths");
	diag("limit a { key sender count connections max 5 per 1h }",
	    "limit a counts connections at stage connect, where sender is "
	    "not known");
	diag("limit a { key sasl.login count mails max 5 per 1h }",
	    "unknown count \"mails\"");
	diag("limit a { key sasl.login count messages max 5 per 1y }",
	    "invalid window \"1y\"");
	diag("limit a { key sasl.login count messages max 5 per 1h "
	    "store redis }", "store redis is not declared");
	diag("limit a { key sasl.login count messages max 5 per 1h }\n"
	    "limit a { key sasl.login count messages max 5 per 1h }",
	    "rate.conf:2:7: error: duplicate limit name \"a\"");
	diag("stage mail { rule r: limit nope exceeded => continue }",
	    "undefined limit \"nope\"");
	diag("limit a { key sasl.login count messages max 5 per 1h }\n"
	    "stage connect { rule r: limit a exceeded => continue }",
	    "limit a is keyed on sasl.login, which is not known at stage "
	    "connect");
	diag("limit a { key sasl.login count messages max 5 per 1h }\n"
	    "stage mail { rule r: limit a => continue }",
	    "expected 'exceeded' after the limit name");
	diag("store redis { timeout 1s }", "store redis needs an address");
	diag("store redis { address \"h:1\" timeout 1y }",
	    "invalid timeout \"1y\"");
	diag("store memory { max-keys 5 }", "invalid number of keys");
}
END_TEST

/* ---- operator commands ---------------------------------------------- */

START_TEST(test_limit_ctl_show_reset)
{
	struct tg_policy *p = policy(RCPT_POLICY
	    "limit net { key client.address/24 count connections "
	    "max 9 per 1m }\n");
	struct tg_session s;
	struct tg_verdict v;
	char out[512];

	tg_session_init(&s, "O");
	set(&s, TG_A_CLIENT_ADDRESS, "192.0.2.77");
	ck_assert_int_eq(eval(p, &s, TG_STAGE_CONNECT, &v), TG_ACT_CONTINUE);
	mail(p, &s, "Erin");
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(rcpt(p, &s, "<b@example.net>", &v),
		    TG_ACT_CONTINUE);
	ck_assert_int_eq(eval(p, &s, TG_STAGE_EOM, &v), TG_ACT_CONTINUE);
	ck_assert_int_eq(tg_rate_ctl(p, "show login-rcpts erin", out,
	    sizeof out), 0);
	ck_assert_str_eq(out, "login-rcpts:recipients:3600|erin: 3 of 3\n");
	ck_assert_int_eq(tg_rate_ctl(p, "show net 192.0.2.1", out,
	    sizeof out), 0);
	ck_assert_str_eq(out, "net:connections:60|192.0.2.0/24: 1 of 9\n");
	ck_assert_int_eq(tg_rate_ctl(p, "reset login-rcpts erin", out,
	    sizeof out), 0);
	mail(p, &s, "erin");
	ck_assert_int_eq(rcpt(p, &s, "<b@example.net>", &v), TG_ACT_CONTINUE);
	ck_assert_int_eq(tg_rate_ctl(p, "limits", out, sizeof out), 0);
	ck_assert_str_eq(out, "login-rcpts: 3 recipients per 3600s (store "
	    "memory)\nnet: 9 connections per 60s (store memory)\n");
	ck_assert_int_eq(tg_rate_ctl(p, "show nope x", out, sizeof out), -1);
	ck_assert_int_eq(tg_rate_ctl(p, "show net", out, sizeof out), -1);
	ck_assert_int_eq(tg_rate_ctl(p, "show net not-an-ip", out,
	    sizeof out), -1);
	ck_assert_int_eq(tg_rate_ctl(p, "frob", out, sizeof out), -1);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

static Suite *
rate_suite(void)
{
	Suite *s = suite_create("rate");
	TCase *tc = tcase_create("rate");

	tcase_add_checked_fixture(tc, rate_setup, rate_teardown);
	tcase_add_test(tc, test_max_keys_at_publish_only);
	tcase_add_test(tc, test_limit_recipients_counted_when_accepted);
	tcase_add_test(tc, test_limit_aborted_message_gives_back);
	tcase_add_test(tc, test_limit_refused_at_eom_gives_back);
	tcase_add_test(tc, test_limit_count_refused);
	tcase_add_test(tc, test_limit_many_recipients_linear);
	tcase_add_test(tc, test_limit_aborted_transactions_fill_nothing);
	tcase_add_test(tc, test_limit_merged_holds_given_back);
	tcase_add_test(tc, test_limit_messages_peek_at_mail);
	tcase_add_test(tc, test_limit_bytes_and_ip_prefix);
	tcase_add_test(tc, test_limit_bytes_asks_for_the_body);
	tcase_add_test(tc, test_limit_sessions_concurrency);
	tcase_add_test(tc, test_limit_counts_without_rule_and_survives_reload);
	tcase_add_test(tc, test_limit_unknown_key_part_does_not_apply);
	tcase_add_test(tc, test_limit_store_down_both_ways);
	tcase_add_test(tc, test_limit_grammar_errors);
	tcase_add_test(tc, test_limit_ctl_show_reset);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(rate_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
