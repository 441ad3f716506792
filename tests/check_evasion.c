/* check_evasion.c - hostile header blocks through the session, the MIME
 * parser and the engine, as the milter glue feeds them: header fields
 * past what the session keeps (F1: 1,000 fields, 256 KiB) and repeated
 * Content- fields and parameters (F7). Each case gives the policy's
 * verdict, which was "continue" (or another wrong one) before the fix. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_engine.h"
#include "tg_log.h"
#include "tg_mime.h"
#include "tg_policy.h"
#include "tg_session.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static char logged[8192];

static void
sink(int prio, const char *line)
{
	size_t n = strlen(logged);

	(void)prio;
	snprintf(logged + n, sizeof logged - n, "%s\n", line);
}

#define EXE_RULE "rule exe: attachment.extension in { exe, scr } " \
	"=> reject 554 5.7.1 \"exe\"\n"
#define MALFORMED_RULE "rule bad: mime.malformed => quarantine \"bad\"\n"
#define MULTI "Content-Type: multipart/mixed; boundary=\"b1\"\n"
#define EXE_BODY "--b1\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b1\r\n" \
	"Content-Type: application/octet-stream\r\n" \
	"Content-Disposition: attachment; filename=\"invoice.exe\"\r\n" \
	"Content-Transfer-Encoding: base64\r\n\r\nTVo=\r\n--b1--\r\n"
#define PDF_BODY "--b1\r\nContent-Type: application/pdf\r\n" \
	"Content-Disposition: attachment; filename=\"a.pdf\"\r\n\r\n%PDF\r\n" \
	"--b1--\r\n"

struct ev_case {
	const char	*what;
	const char	*rules;		/* of stage eom */
	const char	*before;	/* "Name: value\n" fields, then */
	int		 nfill;		/* this many X-Pad fields */
	size_t		 fill_len;	/* of this many bytes each */
	const char	*after;		/* fields after the filler */
	const char	*body;		/* CRLF line ends */
	enum tg_action	 want;
	const char	*code;		/* reply code, "" for none */
	const char	*log;		/* in the log, or NULL */
};

static const struct ev_case cases[] = {
	/* ---- F1: fields past the caps ---- */
	{ "Content-Type after 1,000 fields", EXE_RULE, "", 1000, 1, MULTI,
	    EXE_BODY, TG_ACT_REJECT, "554", NULL },
	{ "Content-Type after 256 KiB of fields", EXE_RULE, "", 5, 60000,
	    MULTI, EXE_BODY, TG_ACT_REJECT, "554", NULL },
	{ "Content-Type after 5,000 fields", EXE_RULE MALFORMED_RULE, "",
	    5000, 1, MULTI, PDF_BODY, TG_ACT_CONTINUE, "", NULL },
	{ "a second From after the filler",
	    "rule dup: header.occurrences \"From\" > 1 => reject 554 5.6.0 "
	    "\"dup\"\n", "From: a@example.org\n", 1000, 1,
	    "From: ceo@example.com\n", "", TG_ACT_REJECT, "554", NULL },
	{ "a second Subject after the filler",
	    "rule dup: header.occurrences \"subject\" != 1 => reject 554 "
	    "5.6.0 \"dup\"\n", "Subject: a\n", 1000, 1, "Subject: b\n", "",
	    TG_ACT_REJECT, "554", NULL },
	{ "a second Date after the filler",
	    "rule dup: header.occurrences \"Date\" >= 2 => reject 554 5.6.0 "
	    "\"dup\"\n", "Date: Mon, 1 Dec 2026 10:00:00 +0000\n", 1000, 1,
	    "Date: Tue, 2 Dec 2026 10:00:00 +0000\n", "", TG_ACT_REJECT,
	    "554", NULL },
	{ "one Date, kept, and filler: counted exactly",
	    "rule dup: header.occurrences \"Date\" >= 2 => reject 554 5.6.0 "
	    "\"dup\"\n", "Date: Mon, 1 Dec 2026 10:00:00 +0000\n", 1000, 1, "",
	    "", TG_ACT_CONTINUE, "", NULL },
	{ "60 Received after the filler",
	    "rule hops: header.occurrences \"Received\" > 50 => reject 554 "
	    "5.4.6 \"loop\"\n", "", 1000, 1,
	    "Received: x\nReceived: x\nReceived: x\nReceived: x\nReceived: x\n"
	    "Received: x\nReceived: x\nReceived: x\nReceived: x\nReceived: x\n"
	    "Received: x\nReceived: x\nReceived: x\nReceived: x\nReceived: x\n"
	    "Received: x\nReceived: x\nReceived: x\nReceived: x\nReceived: x\n"
	    "Received: x\nReceived: x\nReceived: x\nReceived: x\nReceived: x\n"
	    "Received: x\nReceived: x\nReceived: x\nReceived: x\nReceived: x\n"
	    "Received: x\nReceived: x\nReceived: x\nReceived: x\nReceived: x\n"
	    "Received: x\nReceived: x\nReceived: x\nReceived: x\nReceived: x\n"
	    "Received: x\nReceived: x\nReceived: x\nReceived: x\nReceived: x\n"
	    "Received: x\nReceived: x\nReceived: x\nReceived: x\nReceived: x\n"
	    "Received: x\n", "", TG_ACT_REJECT, "554", NULL },
	{ "a dropped Subject read by header.decoded",
	    "rule spam: header.decoded \"Subject\" matches \"viagra\" => "
	    "reject 554 5.7.1 \"spam\"\n", "", 1000, 1,
	    "Subject: =?utf-8?q?v=69agra?=\n", "", TG_ACT_TEMPFAIL, "451",
	    "header.decoded \"Subject\" at line 2: is among the 1 header "
	    "field(s) not kept" },
	{ "a dropped Subject, negated: still undecided",
	    "rule ok: not header \"Subject\" matches \"viagra\" => accept\n"
	    "rule spam: size > 0 => reject 554 5.7.1 \"spam\"\n", "", 1000, 1,
	    "Subject: viagra\n", "", TG_ACT_TEMPFAIL, "451", "rule=ok" },
	{ "a kept Subject and filler: decided",
	    "rule spam: header.decoded \"Subject\" matches \"viagra\" => "
	    "reject 554 5.7.1 \"spam\"\n", "Subject: hello\n", 1000, 1,
	    "Subject: viagra\n", "", TG_ACT_CONTINUE, "", NULL },
	{ "a header no field carries: decided",
	    "rule x: header \"X-Absent\" == \"a\" => reject 554 5.7.1 \"x\"\n",
	    "", 1000, 1, "Subject: a\n", "", TG_ACT_CONTINUE, "", NULL },
	{ "a dropped From read by header.from",
	    "rule f: header.from matches \"example\" => accept\n", "",
	    1000, 1, "From: a@example.org\n", "", TG_ACT_TEMPFAIL, "451",
	    "header.from \"From\"" },
	{ "a repeated Content-Type after the filler",
	    EXE_RULE, "Content-Type: text/plain\n", 1000, 1, MULTI, PDF_BODY,
	    TG_ACT_REJECT, "554", "unparsable, taken as suspicious" },
	/* ---- F7: repeated Content- fields and parameters ---- */
	{ "two top-level Content-Type", EXE_RULE, "Content-Type: text/plain\n"
	    MULTI, 0, 0, "", EXE_BODY, TG_ACT_REJECT, "554", NULL },
	{ "two top-level Content-Type, reversed", EXE_RULE,
	    MULTI "Content-Type: text/plain\n", 0, 0, "", EXE_BODY,
	    TG_ACT_REJECT, "554", NULL },
	{ "two top-level Content-Type, no attachment at all", EXE_RULE,
	    "Content-Type: text/plain\nContent-Type: text/html\n", 0, 0, "",
	    "hi\r\n", TG_ACT_REJECT, "554", NULL },
	{ "the same Content-Type twice: malformed, not opaque",
	    EXE_RULE MALFORMED_RULE, MULTI MULTI, 0, 0, "", PDF_BODY,
	    TG_ACT_QUARANTINE, "", NULL },
	{ "the same Content-Type twice: its attachments still seen",
	    EXE_RULE, MULTI MULTI, 0, 0, "", EXE_BODY, TG_ACT_REJECT, "554",
	    NULL },
	{ "boundary twice", EXE_RULE, "Content-Type: multipart/mixed; "
	    "boundary=\"b1\"; boundary=\"zzz\"\n", 0, 0, "", PDF_BODY,
	    TG_ACT_REJECT, "554", NULL },
	{ "two top-level Content-Transfer-Encoding", EXE_RULE,
	    MULTI "Content-Transfer-Encoding: 7bit\n"
	    "Content-Transfer-Encoding: base64\n", 0, 0, "", PDF_BODY,
	    TG_ACT_REJECT, "554", NULL },
	{ "two top-level Content-Disposition", EXE_RULE,
	    "Content-Disposition: inline\nContent-Disposition: attachment; "
	    "filename=a.pdf\n", 0, 0, "", "hi\r\n", TG_ACT_REJECT, "554",
	    NULL },
	{ "a part's filename twice", "rule scr: attachment.extension == scr "
	    "=> reject 554 5.7.1 \"scr\"\n", MULTI, 0, 0, "",
	    "--b1\r\nContent-Disposition: attachment; filename=\"a.pdf\"; "
	    "filename=\"b.doc\"\r\n\r\nx\r\n--b1--\r\n", TG_ACT_REJECT, "554",
	    NULL },
	{ "a part's Content-Type twice", EXE_RULE, MULTI, 0, 0, "",
	    "--b1\r\nContent-Type: text/plain\r\nContent-Type: image/png\r\n"
	    "\r\nx\r\n--b1--\r\n", TG_ACT_REJECT, "554", NULL },
	{ "a part's charset twice", EXE_RULE, MULTI, 0, 0, "",
	    "--b1\r\nContent-Type: text/plain; charset=utf-8; charset=koi8-r"
	    "\r\n\r\nx\r\n--b1--\r\n", TG_ACT_REJECT, "554", NULL },
	{ "filename and filename* differ: both tested, malformed",
	    EXE_RULE, MULTI, 0, 0, "", "--b1\r\nContent-Disposition: "
	    "attachment; filename=\"a.pdf\"; filename*=utf-8''evil.exe\r\n\r\n"
	    "x\r\n--b1--\r\n", TG_ACT_REJECT, "554", NULL },
	{ "filename and filename* differ: malformed",
	    MALFORMED_RULE, MULTI, 0, 0, "", "--b1\r\nContent-Disposition: "
	    "attachment; filename=\"R.pdf\"; filename*=utf-8''R%C3%A9.pdf\r\n"
	    "\r\nx\r\n--b1--\r\n", TG_ACT_QUARANTINE, "", NULL },
	{ "filename and filename* agree: fine", MALFORMED_RULE, MULTI, 0, 0,
	    "", "--b1\r\nContent-Disposition: attachment; filename=\"a.pdf\"; "
	    "filename*=utf-8''a.pdf\r\n\r\nx\r\n--b1--\r\n", TG_ACT_CONTINUE,
	    "", NULL },
	{ "RFC 2231 sections are not repeats", MALFORMED_RULE, MULTI, 0, 0,
	    "", "--b1\r\nContent-Disposition: attachment; filename*0=\"a\"; "
	    "filename*1=\".pdf\"\r\n\r\nx\r\n--b1--\r\n", TG_ACT_CONTINUE, "",
	    NULL },
};

static struct tg_policy *
ev_policy(const char *rules)
{
	char *text = tg_xasprintf("stage eom {\n%s}\n", rules);
	struct tg_policy *p;
	struct tg_diag d;

	tg_diag_init(&d);
	p = tg_policy_load_string("test.conf", text, NULL, &d);
	ck_assert_msg(p != NULL, "policy did not load: %s\n%s",
	    d.n ? d.msgs[0] : "(no message)", text);
	tg_diag_free(&d);
	free(text);
	return p;
}

/* ev_fields - "Name: value\n" lines into the session */
static void
ev_fields(struct tg_session *s, const struct tg_policy *p, const char *f)
{
	while (*f != '\0') {
		const char *colon = strchr(f, ':'), *nl = strchr(f, '\n');
		char *name = tg_xstrndup(f, (size_t)(colon - f));
		char *value = tg_xstrndup(colon + 2, (size_t)(nl - colon - 2));

		tg_session_add_header(s, p, name, value);
		free(name);
		free(value);
		f = nl + 1;
	}
}

START_TEST(test_evasion)
{
	const struct ev_case *c = &cases[_i];
	struct tg_policy *p = ev_policy(c->rules);
	struct tg_session s;
	struct tg_verdict v;
	char name[32], *fill;

	tg_session_init(&s, "t");
	logged[0] = '\0';
	tg_log_set_sink(sink);
	ck_assert_int_eq(tg_session_set(&s, TG_A_SENDER, "<a@example.org>"),
	    TG_OK);
	tg_engine_eval(p, &s, TG_STAGE_MAIL, &v);
	ev_fields(&s, p, c->before);
	fill = tg_xmalloc(c->fill_len + 1);
	memset(fill, 'a', c->fill_len);
	fill[c->fill_len] = '\0';
	for (int i = 0; i < c->nfill; i++) {
		snprintf(name, sizeof name, "X-Pad-%d", i);
		tg_session_add_header(&s, p, name, fill);
	}
	free(fill);
	ev_fields(&s, p, c->after);
	tg_session_add_body_data(&s, p, c->body, strlen(c->body));
	tg_engine_eval(p, &s, TG_STAGE_EOM, &v);
	tg_log_set_sink(NULL);
	ck_assert_msg(v.action == c->want, "case %d (%s): got %s %s, want %s\n"
	    "%s", _i, c->what, tg_action_name(v.action), v.code,
	    tg_action_name(c->want), logged);
	ck_assert_msg(strcmp(v.code, c->code) == 0, "case %d (%s): got code "
	    "%s, want %s", _i, c->what, v.code, c->code);
	ck_assert_msg(c->log == NULL || strstr(logged, c->log) != NULL,
	    "case %d (%s): \"%s\" not logged:\n%s", _i, c->what, c->log,
	    logged);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

/* Counts by name need the policy: without one, a drop makes them
 * unknown; headers the policy's rules name are counted, others not. */
START_TEST(test_lost_counts)
{
	struct tg_policy *p = ev_policy("rule a: header.occurrences \"From\" "
	    "> 1 or header \"subject\" == \"x\" => warn \"a\"\n");
	struct tg_session s;

	ck_assert_uint_eq(p->nhdr_names, 2);
	tg_session_init(&s, "t");
	for (int i = 0; i < TG_HEADER_MAX_COUNT; i++)
		tg_session_add_header(&s, p, "X-Pad", "a");
	ck_assert_int_eq(tg_session_header_lost(&s, 1), 0);
	tg_session_add_header(&s, p, "FROM", "a@example.org");
	tg_session_add_header(&s, p, "Subject", "x");
	tg_session_add_header(&s, p, "from", "b@example.org");
	tg_session_add_header(&s, p, "X-Other", "b");
	ck_assert_int_eq(tg_session_header_lost(&s, 1), 2);
	ck_assert_int_eq(tg_session_header_lost(&s, 2), 1);
	ck_assert_int_eq(tg_session_header_lost(&s, 3), -1);
	ck_assert_uint_eq(s.hdrs_dropped, 4);
	ck_assert_uint_eq(s.nhdrs, TG_HEADER_MAX_COUNT);
	tg_session_reset_message(&s);
	ck_assert_int_eq(tg_session_header_lost(&s, 1), 0);
	for (int i = 0; i <= TG_HEADER_MAX_COUNT; i++)
		tg_session_add_header(&s, NULL, "X-Pad", "a");
	ck_assert_int_eq(tg_session_header_lost(&s, 1), -1);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

/* Once a field is dropped, later ones are too, however small: a kept
 * field is always the first of its name. The message's own first
 * Content- fields are kept whatever the caps, bounded by three. */
START_TEST(test_drops_are_final)
{
	struct tg_session s;
	char *big = tg_xmalloc(200 * 1024);

	memset(big, 'a', 200 * 1024 - 1);
	big[200 * 1024 - 1] = '\0';
	tg_session_init(&s, "t");
	tg_session_add_header(&s, NULL, "X-Big", big);
	tg_session_add_header(&s, NULL, "X-Big", big);
	tg_session_add_header(&s, NULL, "Subject", "small");
	ck_assert_ptr_null(tg_session_header(&s, "Subject"));
	tg_session_add_header(&s, NULL, "Content-Type", "text/plain");
	tg_session_add_header(&s, NULL, "content-type", "text/html");
	tg_session_add_header(&s, NULL, "Content-Transfer-Encoding", big);
	ck_assert_str_eq(tg_session_header(&s, "Content-Type"),
	    "text/plain");
	ck_assert_uint_eq(s.ctop_count[TG_MIME_TOP_TYPE], 2);
	ck_assert_str_eq(s.ctop_other[TG_MIME_TOP_TYPE], "text/html");
	ck_assert_uint_eq(s.nhdrs, 3);
	ck_assert_uint_eq(s.hdrs_dropped, 3);
	tg_session_free(&s);
	free(big);
}
END_TEST

/* The parser's own view of top-level repeats (tg_mime_new_top). */
START_TEST(test_top_repeats)
{
	static const struct {
		struct tg_mime_top top[TG_MIME_TOP_COUNT];
		int malformed, opaque;
	} t[] = {
		{ { { "text/plain", NULL, 1 } }, 0, 0 },
		{ { { "text/plain", NULL, 2 } }, 1, 0 },
		{ { { "text/plain", "text/plain ", 3 } }, 1, 0 },
		{ { { "text/plain", "multipart/mixed; boundary=b", 2 } }, 1, 1 },
		{ { { NULL }, { "base64", "7bit", 2 } }, 1, 1 },
		{ { { NULL }, { NULL }, { "inline", "attachment", 2 } }, 1, 1 },
		{ { { "text/plain; charset=a; charset=b", NULL, 1 } }, 1, 1 },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct tg_mime *m = tg_mime_new_top(NULL, t[i].top);

		tg_mime_feed(m, "hello\r\n", 7);
		tg_mime_finish(m);
		ck_assert_msg(tg_mime_malformed(m, NULL) == t[i].malformed,
		    "case %zu: malformed %d", i, tg_mime_malformed(m, NULL));
		ck_assert_uint_eq(tg_mime_nparts(m), 1);
		ck_assert_msg(tg_mime_part(m, 0)->opaque == t[i].opaque,
		    "case %zu: opaque %d", i, tg_mime_part(m, 0)->opaque);
		tg_mime_free(m);
	}
}
END_TEST

static Suite *
evasion_suite(void)
{
	Suite *s = suite_create("evasion");
	TCase *tc = tcase_create("evasion");

	tcase_add_loop_test(tc, test_evasion, 0, sizeof cases /
	    sizeof cases[0]);
	tcase_add_test(tc, test_lost_counts);
	tcase_add_test(tc, test_drops_are_final);
	tcase_add_test(tc, test_top_repeats);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(evasion_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
