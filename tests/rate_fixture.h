/* rate_fixture.h - what the rate-limit, store and greylisting tests
 * (check_rate.c, check_ratekey.c, check_store.c, check_grey*.c) share:
 * the memory stores under a fake clock with the log captured, and short
 * helpers that load a policy and drive a session through the engine. Each failed step fails the test.
 * Threads: one test at a time (Check may fork per test). */
#ifndef RATE_FIXTURE_H
#define RATE_FIXTURE_H

#include <stdint.h>

#include "tg_engine.h"
#include "tg_policy.h"
#include "tg_session.h"
#include "tg_store.h"

/* The memory store's clock, in ms; a test moves it on by hand. */
extern int64_t	fake_now;
/* Every line logged since rate_setup(), one after another. */
extern char	rate_logged[8192];

/* The Check fixture: clear memory stores (counters and greylisting
 * records) without a key limit, on the fake clock, and the log captured
 * into rate_logged. */
void	rate_setup(void);
void	rate_teardown(void);

/* The memory store. */
struct tg_store	*mem(void);
/* A policy from text, which must load (as "rate.conf"). */
struct tg_policy *policy(const char *text);
/* Set attribute a of s to v, which must be valid. */
void	set(struct tg_session *s, enum tg_attr a, const char *v);
/* Evaluate stage st; the action, and the verdict in v. */
enum tg_action	eval(struct tg_policy *p, struct tg_session *s,
	    enum tg_stage st, struct tg_verdict *v);
/* RCPT TO:to, evaluated. */
enum tg_action	rcpt(struct tg_policy *p, struct tg_session *s,
	    const char *to, struct tg_verdict *v);

#endif
