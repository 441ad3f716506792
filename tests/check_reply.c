/* check_reply.c - the reply choke point: codes agree with actions, text is
 * safe for the SMTP wire and for libmilter. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_log.h"
#include "tg_reply.h"

struct reply_case {
	enum tg_action	 action;
	const char	*code, *xcode;
	int		 ok;
};

static const struct reply_case reply_cases[] = {
	{ TG_ACT_REJECT, "554", "5.7.1", 1 },
	{ TG_ACT_REJECT, "550", "5.1.10", 1 },
	{ TG_ACT_REJECT, "552", "5.3.4", 1 },
	{ TG_ACT_TEMPFAIL, "451", "4.3.0", 1 },
	{ TG_ACT_TEMPFAIL, "452", "4.5.3", 1 },
	{ TG_ACT_TEMPFAIL, "450", "4.7.100", 1 },
	{ TG_ACT_REJECT, "451", "4.3.0", 0 },	/* 4xx with reject */
	{ TG_ACT_TEMPFAIL, "550", "5.7.1", 0 },	/* 5xx with tempfail */
	{ TG_ACT_REJECT, "554", "4.7.1", 0 },	/* class disagrees */
	{ TG_ACT_TEMPFAIL, "451", "5.3.0", 0 },
	{ TG_ACT_REJECT, "55", "5.7.1", 0 },
	{ TG_ACT_REJECT, "5541", "5.7.1", 0 },
	{ TG_ACT_REJECT, "5a4", "5.7.1", 0 },
	{ TG_ACT_REJECT, "564", "5.7.1", 0 },	/* second digit > 5 */
	{ TG_ACT_REJECT, "554", "5.7", 0 },
	{ TG_ACT_REJECT, "554", "5..1", 0 },
	{ TG_ACT_REJECT, "554", "5.7.1000", 0 },
	{ TG_ACT_REJECT, "554", "5.7.1 ", 0 },
	{ TG_ACT_REJECT, "554", "", 0 },
	{ TG_ACT_REJECT, NULL, "5.7.1", 0 },
	{ TG_ACT_ACCEPT, "250", "2.0.0", 0 },
};

START_TEST(test_reply_check)
{
	const struct reply_case *c = &reply_cases[_i];
	const char *why = tg_reply_check(c->action, c->code, c->xcode);

	ck_assert_msg((why == NULL) == c->ok, "case %d (%s %s): got %s, want %s",
	    _i, c->code ? c->code : "NULL", c->xcode, why ? why : "ok",
	    c->ok ? "ok" : "an error");
}
END_TEST

START_TEST(test_reply_set_mismatch_is_internal)
{
	struct tg_verdict v;

	memset(&v, 0, sizeof v);
	tg_reply_set(&v, TG_ACT_REJECT, "451", "4.7.1", "nope");
	ck_assert_int_eq(v.action, TG_ACT_TEMPFAIL);
	ck_assert_str_eq(v.code, "451");
	ck_assert_str_eq(v.xcode, "4.3.0");
}
END_TEST

START_TEST(test_reply_text_is_cleaned)
{
	struct tg_verdict v;

	memset(&v, 0, sizeof v);
	tg_reply_set(&v, TG_ACT_REJECT, "554", "5.7.1",
	    "evil\r\n250 ok\x01\xff end");
	ck_assert_int_eq(v.action, TG_ACT_REJECT);
	ck_assert_str_eq(v.text, "evil??250 ok?? end");
}
END_TEST

START_TEST(test_reply_text_is_bounded)
{
	char big[5000];
	struct tg_verdict v;

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	tg_reply_set(&v, TG_ACT_TEMPFAIL, "450", "4.7.1", big);
	ck_assert_uint_eq(strlen(v.text), TG_REPLY_TEXT_MAX - 1);
}
END_TEST

START_TEST(test_reply_milter_escape)
{
	char out[16];

	ck_assert_str_eq(tg_reply_milter_escape(out, sizeof out, "100% sure"),
	    "100%% sure");
	/* Never split a "%%" pair at the bound. */
	ck_assert_str_eq(tg_reply_milter_escape(out, 6, "abcd%e"), "abcd");
	ck_assert_str_eq(tg_reply_milter_escape(out, sizeof out, ""), "");
}
END_TEST

START_TEST(test_reply_internal)
{
	struct tg_verdict v;

	tg_reply_internal(&v, "table unreadable");
	ck_assert_int_eq(v.action, TG_ACT_TEMPFAIL);
	ck_assert_str_eq(v.code, "451");
	ck_assert_str_eq(v.xcode, "4.3.0");
	ck_assert_str_eq(v.text, "table unreadable");
}
END_TEST

static char reply_logged[4096];

static void
reply_sink(int prio, const char *line)
{
	(void)prio;
	tg_strlcpy(reply_logged, line, sizeof reply_logged);
}

/* A value that reaches the log raw (here as the format's argument, as a
 * queue id from the MTA would) cannot end the line and forge another;
 * '%' in a value is data, never a conversion. */
START_TEST(test_log_line_is_escaped)
{
	tg_log_set_sink(reply_sink);
	tg_log_info("%s: stage=mail", "QID\r\nFAKE: rule=x action=accept "
	    "%s%n\x01\x7f\xff");
	tg_log_set_sink(NULL);
	ck_assert_str_eq(reply_logged, "QID\\x0d\\x0aFAKE: rule=x "
	    "action=accept %s%n\\x01\\x7f\\xff: stage=mail");
	ck_assert_ptr_null(strchr(reply_logged, '\n'));
}
END_TEST

static Suite *
reply_suite(void)
{
	Suite *s = suite_create("reply");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_reply_check, 0,
	    sizeof reply_cases / sizeof reply_cases[0]);
	tcase_add_test(tc, test_reply_set_mismatch_is_internal);
	tcase_add_test(tc, test_reply_text_is_cleaned);
	tcase_add_test(tc, test_reply_text_is_bounded);
	tcase_add_test(tc, test_reply_milter_escape);
	tcase_add_test(tc, test_reply_internal);
	tcase_add_test(tc, test_log_line_is_escaped);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(reply_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
