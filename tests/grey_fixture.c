/* grey_fixture.c - sessions through the engine and the greylisting
 * metrics for the greylisting tests (grey_fixture.h). Owns: nothing.
 * Threads: one test at a time. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_grey.h"
#include "tg_metrics.h"
#include "rate_fixture.h"
#include "grey_fixture.h"

uint64_t
grey_metric(const char *result)
{
	char want[128], *m, *at;
	uint64_t n = 0;
	size_t len;

	snprintf(want, sizeof want,
	    "tollgate_greylist_checks_total{result=\"%s\"} ", result);
	m = tg_metrics_format(&len);
	at = strstr(m, want);
	ck_assert_msg(at != NULL, "no metric %s", want);
	n = strtoull(at + strlen(want), NULL, 10);
	free(m);
	return n;
}

void
grey_conn(struct tg_session *s, const char *ip)
{
	tg_session_init(s, "G");
	set(s, TG_A_CLIENT_ADDRESS, ip);
	set(s, TG_A_HELO, "mail.example.org");
}

enum tg_action
grey_mail(struct tg_policy *p, struct tg_session *s, const char *from,
    struct tg_verdict *v)
{
	tg_session_reset_message(s);
	set(s, TG_A_SENDER, from);
	return eval(p, s, TG_STAGE_MAIL, v);
}

enum tg_action
try_rcpt(struct tg_policy *p, const char *ip, const char *from,
    const char *to, struct tg_verdict *v)
{
	struct tg_session s;
	enum tg_action a;

	grey_conn(&s, ip);
	ck_assert_int_eq(grey_mail(p, &s, from, v), TG_ACT_CONTINUE);
	a = rcpt(p, &s, to, v);
	tg_session_free(&s);
	return a;
}

enum tg_action
try_eom(struct tg_policy *p, const char *ip, const char *from,
    const char *const *rcpts, struct tg_verdict *v)
{
	struct tg_session s;
	enum tg_action a;

	grey_conn(&s, ip);
	ck_assert_int_eq(grey_mail(p, &s, from, v), TG_ACT_CONTINUE);
	for (size_t i = 0; rcpts[i] != NULL; i++)
		ck_assert_int_eq(rcpt(p, &s, rcpts[i], v), TG_ACT_CONTINUE);
	ck_assert_int_eq(eval(p, &s, TG_STAGE_DATA, v), TG_ACT_CONTINUE);
	tg_session_add_body(&s, 100);
	a = eval(p, &s, TG_STAGE_EOM, v);
	tg_session_free(&s);
	return a;
}

void
pass_triplet(struct tg_policy *p, const char *ip, const char *from,
    const char *to)
{
	struct tg_verdict v;

	ck_assert_int_eq(try_rcpt(p, ip, from, to, &v), TG_ACT_TEMPFAIL);
	fake_now += p->greylists[0]->delay_ms;
	ck_assert_int_eq(try_rcpt(p, ip, from, to, &v), TG_ACT_CONTINUE);
}

void
pass_triplet_eom(struct tg_policy *p, const char *ip, const char *from,
    const char *to)
{
	const char *rcpts[2] = { to, NULL };
	struct tg_verdict v;

	ck_assert_int_eq(try_eom(p, ip, from, rcpts, &v), TG_ACT_TEMPFAIL);
	fake_now += p->greylists[0]->delay_ms;
	ck_assert_int_eq(try_eom(p, ip, from, rcpts, &v), TG_ACT_CONTINUE);
}
