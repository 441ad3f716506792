/* check_metrics.c - rule counters through the engine, kept by rule name
 * across policy generations, and the Prometheus text they give. */
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

static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_rule_counters_survive_reload);
	tcase_add_test(tc, test_histogram_buckets_cumulate);
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
