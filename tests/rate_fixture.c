/* rate_fixture.c - the memory stores (counters, greylisting records)
 * under a fake clock with the log captured, and the policy and engine helpers of the rate-limit and store
 * tests (rate_fixture.h). Owns: the fake clock and the captured log.
 * Threads: one test at a time (Check may fork per test). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_log.h"
#include "rate_fixture.h"

int64_t fake_now;
char rate_logged[8192];

static int64_t
fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

static void
rate_sink(int prio, const char *line)
{
	size_t n = strlen(rate_logged);

	(void)prio;
	snprintf(rate_logged + n, sizeof rate_logged - n, "%s\n", line);
}

struct tg_store *
mem(void)
{
	return tg_store_memory();
}

void
rate_setup(void)
{
	fake_now = 1000000000;
	tg_store_mem_set_clock(mem(), fake_clock, NULL);
	tg_store_mem_set_max_keys(mem(), 0);
	tg_store_mem_clear(mem());
	/* Greylisting's records, in a memory store of their own. */
	tg_store_mem_set_clock(tg_store_memory_grey(), fake_clock, NULL);
	tg_store_mem_set_max_keys(tg_store_memory_grey(), 0);
	tg_store_mem_clear(tg_store_memory_grey());
	rate_logged[0] = '\0';
	tg_log_set_sink(rate_sink);
}

void
rate_teardown(void)
{
	tg_log_set_sink(NULL);
}

struct tg_policy *
policy(const char *text)
{
	struct tg_policy *p;
	struct tg_diag d;

	tg_diag_init(&d);
	p = tg_policy_load_string("rate.conf", text, NULL, &d);
	ck_assert_msg(p != NULL, "policy did not load: %s",
	    d.n ? d.msgs[0] : "(no message)");
	tg_diag_free(&d);
	return p;
}

void
set(struct tg_session *s, enum tg_attr a, const char *v)
{
	ck_assert_int_eq(tg_session_set(s, a, v), TG_OK);
}

enum tg_action
eval(struct tg_policy *p, struct tg_session *s, enum tg_stage st,
    struct tg_verdict *v)
{
	return tg_engine_eval(p, s, st, v);
}

enum tg_action
rcpt(struct tg_policy *p, struct tg_session *s, const char *to,
    struct tg_verdict *v)
{
	set(s, TG_A_RCPT, to);
	return eval(p, s, TG_STAGE_RCPT, v);
}
