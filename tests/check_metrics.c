/* check_metrics.c - rule counters through the engine, kept by rule name
 * across policy generations, and the Prometheus text they give; the
 * operations metrics (metrics_ops.c): refusals by rate limit, reloads,
 * the policy in force, DNS and Redis latency. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_engine.h"
#include "tg_metrics.h"
#include "tg_policy.h"
#include "tg_session.h"

static struct tg_policy *
metrics_policy(const char *text)
{
	struct tg_diag d;
	struct tg_policy *p;

	tg_diag_init(&d);
	p = tg_policy_load_string("test", text, NULL, &d);
	ck_assert_msg(p != NULL && d.errors == 0, "policy not loaded");
	tg_diag_free(&d);
	tg_metrics_bind(p);
	return p;
}

/* metrics_has - the formatted metrics hold line (a whole line) */
static int
metrics_has(const char *line)
{
	size_t len;
	char *m = tg_metrics_format(&len), *want;
	int found;

	want = tg_xasprintf("\n%s\n", line);
	found = strstr(m, want) != NULL;
	free(want);
	free(m);
	return found;
}

static void
metrics_rcpt(struct tg_policy *p, const char *rcpt)
{
	struct tg_session s;
	struct tg_verdict v;

	tg_session_init(&s, "T1");
	ck_assert_int_eq(tg_session_set(&s, TG_A_SENDER, "a@example.net"),
	    TG_OK);
	ck_assert_int_eq(tg_session_set(&s, TG_A_RCPT, rcpt), TG_OK);
	s.in_message = 1;
	tg_engine_eval(p, &s, TG_STAGE_RCPT, &v);
	tg_session_free(&s);
}

START_TEST(test_rule_counters_survive_reload)
{
	struct tg_policy *p1, *p2;

	p1 = metrics_policy("stage rcpt { rule block : rcpt == "
	    "\"x@example.org\" => reject 550 5.7.1 \"no\" }");
	metrics_rcpt(p1, "x@example.org");
	metrics_rcpt(p1, "y@example.org");
	ck_assert(metrics_has("tollgate_rule_evaluated_total{stage=\"rcpt\","
	    "rule=\"block\"} 2"));
	ck_assert(metrics_has("tollgate_rule_matched_total{stage=\"rcpt\","
	    "rule=\"block\"} 1"));
	ck_assert(metrics_has("tollgate_rule_actions_total{stage=\"rcpt\","
	    "rule=\"block\",action=\"reject\"} 1"));
	/* A new generation: same name counts on, a new name from zero. */
	p2 = metrics_policy("stage rcpt { rule first dry-run : true => "
	    "reject 550 5.7.1 \"no\"\n rule block : rcpt == \"x@example.org\""
	    " => reject 550 5.7.1 \"no\" }");
	metrics_rcpt(p2, "x@example.org");
	ck_assert(metrics_has("tollgate_rule_matched_total{stage=\"rcpt\","
	    "rule=\"block\"} 2"));
	ck_assert(metrics_has("tollgate_rule_matched_total{stage=\"rcpt\","
	    "rule=\"first\"} 1"));
	/* A dry-run rule carries out nothing. */
	ck_assert(metrics_has("tollgate_rule_actions_total{stage=\"rcpt\","
	    "rule=\"first\",action=\"reject\"} 0"));
	tg_policy_unref(p1);
	tg_policy_unref(p2);
	tg_metrics_shutdown();
}
END_TEST

START_TEST(test_histogram_buckets_cumulate)
{
	uint64_t t = tg_metrics_now();

	tg_metrics_stage(TG_STAGE_HELO, t, TG_ACT_CONTINUE, 1);
	tg_metrics_stage(TG_STAGE_HELO, t, TG_ACT_REJECT, 0);
	ck_assert(metrics_has("tollgate_stage_duration_seconds_count{stage="
	    "\"helo\"} 2"));
	ck_assert(metrics_has("tollgate_stage_duration_seconds_bucket{stage="
	    "\"helo\",le=\"+Inf\"} 2"));
	ck_assert(metrics_has("tollgate_verdicts_total{stage=\"helo\","
	    "action=\"continue\"} 1"));
	ck_assert(metrics_has("tollgate_dry_run_verdicts_total{stage="
	    "\"helo\",action=\"reject\"} 1"));
}
END_TEST

/* metrics_connect - a session from addr through the connect stage; the
 * verdict's action (the session is kept open in *s) */
static enum tg_action
metrics_connect(struct tg_policy *p, struct tg_session *s, const char *addr)
{
	struct tg_verdict v;

	tg_session_init(s, "C");
	ck_assert_int_eq(tg_session_set(s, TG_A_CLIENT_ADDRESS, addr), TG_OK);
	return tg_engine_eval(p, s, TG_STAGE_CONNECT, &v);
}

START_TEST(test_limit_refusals)
{
	struct tg_policy *p;
	struct tg_session s[4];

	p = metrics_policy("limit conc { key client.address count sessions "
	    "max 1 }\nlimit other { key client.address count sessions max 9 }"
	    "\nstage connect { rule quiet dry-run : limit other exceeded => "
	    "reject 554 5.7.1 \"no\"\n rule c : limit conc exceeded => "
	    "tempfail 421 4.7.0 \"busy\" }");
	ck_assert(metrics_has("tollgate_limit_refusals_total{limit=\"conc\","
	    "action=\"tempfail\"} 0"));
	ck_assert_int_eq(metrics_connect(p, &s[0], "198.51.100.7"),
	    TG_ACT_CONTINUE);
	ck_assert_int_eq(metrics_connect(p, &s[1], "198.51.100.7"),
	    TG_ACT_TEMPFAIL);
	ck_assert_int_eq(metrics_connect(p, &s[2], "198.51.100.7"),
	    TG_ACT_TEMPFAIL);
	ck_assert_int_eq(metrics_connect(p, &s[3], "198.51.100.8"),
	    TG_ACT_CONTINUE);
	ck_assert(metrics_has("tollgate_limit_refusals_total{limit=\"conc\","
	    "action=\"tempfail\"} 2"));
	ck_assert(metrics_has("tollgate_limit_refusals_total{limit=\"conc\","
	    "action=\"reject\"} 0"));
	/* Declared, never exceeded (and a dry-run rule would not count). */
	ck_assert(metrics_has("tollgate_limit_refusals_total{limit=\"other\","
	    "action=\"reject\"} 0"));
	for (int i = 0; i < 4; i++)
		tg_session_free(&s[i]);
	tg_policy_unref(p);
	tg_metrics_shutdown();
}
END_TEST

/* A global dry run only logs: no refusal is counted. */
START_TEST(test_limit_refusals_dry_run)
{
	struct tg_policy *p;
	struct tg_session s[2];

	p = metrics_policy("set dry-run yes\nlimit conc { key client.address "
	    "count sessions max 1 }\nstage connect { rule c : limit conc "
	    "exceeded => tempfail 421 4.7.0 \"busy\" }");
	metrics_connect(p, &s[0], "198.51.100.7");
	metrics_connect(p, &s[1], "198.51.100.7");
	ck_assert(metrics_has("tollgate_limit_refusals_total{limit=\"conc\","
	    "action=\"tempfail\"} 0"));
	tg_session_free(&s[0]);
	tg_session_free(&s[1]);
	tg_policy_unref(p);
	tg_metrics_shutdown();
}
END_TEST

START_TEST(test_reloads_and_generation)
{
	struct tg_diag d;
	struct tg_policy *p;

	ck_assert(metrics_has("tollgate_policy_generation 0"));
	ck_assert(metrics_has("tollgate_config_last_reload_successful 1"));
	ck_assert(metrics_has("tollgate_build_info{version=\"" PACKAGE_VERSION
	    "\"} 1"));
	tg_diag_init(&d);
	p = tg_policy_load_string("test", "stage rcpt { rule a : true => "
	    "continue\n rule b : true => continue }", NULL, &d);
	ck_assert(p != NULL && d.errors == 0);
	tg_diag_free(&d);
	tg_policy_publish(p);
	ck_assert(metrics_has("tollgate_policy_generation 1"));
	ck_assert(metrics_has("tollgate_policy_rules 2"));
	ck_assert(!metrics_has("tollgate_config_last_reload_success_timestamp"
	    "_seconds 0"));
	tg_metrics_reload(0);
	ck_assert(metrics_has("tollgate_reloads_total{result=\"failed\"} 1"));
	ck_assert(metrics_has("tollgate_config_last_reload_successful 0"));
	tg_metrics_reload(1);
	ck_assert(metrics_has("tollgate_reloads_total{result=\"ok\"} 1"));
	ck_assert(metrics_has("tollgate_config_last_reload_successful 1"));
	tg_policy_publish(NULL);
	tg_metrics_shutdown();
}
END_TEST

START_TEST(test_dns_redis_latency)
{
	/* 3 ms ago: over the 2.5 ms bound, within 5 ms. */
	uint64_t t = tg_metrics_now() - 3000000;

	tg_metrics_latency(TG_M_LAT_DNS, t);
	ck_assert(metrics_has("tollgate_dns_duration_seconds_bucket{le="
	    "\"0.0025\"} 0"));
	ck_assert(metrics_has("tollgate_dns_duration_seconds_bucket{le="
	    "\"0.005\"} 1"));
	ck_assert(metrics_has("tollgate_dns_duration_seconds_bucket{le="
	    "\"+Inf\"} 1"));
	ck_assert(metrics_has("tollgate_dns_duration_seconds_count 1"));
	ck_assert(metrics_has("tollgate_redis_duration_seconds_count 0"));
	tg_metrics_latency(TG_M_LAT_REDIS, tg_metrics_now() - 2000000000u);
	ck_assert(metrics_has("tollgate_redis_duration_seconds_bucket{le="
	    "\"1\"} 0"));
	ck_assert(metrics_has("tollgate_redis_duration_seconds_bucket{le="
	    "\"+Inf\"} 1"));
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_rule_counters_survive_reload);
	tcase_add_test(tc, test_histogram_buckets_cumulate);
	tcase_add_test(tc, test_limit_refusals);
	tcase_add_test(tc, test_limit_refusals_dry_run);
	tcase_add_test(tc, test_reloads_and_generation);
	tcase_add_test(tc, test_dns_redis_latency);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
