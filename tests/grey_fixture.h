/* grey_fixture.h - what the greylisting tests (check_grey.c,
 * check_greykey.c, check_greystore.c) share on top of rate_fixture.h:
 * sessions that connect, send MAIL and RCPT (or a whole message) through
 * the engine, and the greylisting metrics. Each failed step fails the
 * test. Threads: one test at a time. */
#ifndef GREY_FIXTURE_H
#define GREY_FIXTURE_H

#include <stdint.h>

#include "tg_engine.h"
#include "tg_policy.h"
#include "tg_session.h"

/* tollgate_greylist_checks_total{result="RESULT"} now. */
uint64_t grey_metric(const char *result);
/* A new session from client address ip, HELO mail.example.org. */
void	grey_conn(struct tg_session *s, const char *ip);
/* MAIL FROM:from in s (a new message), evaluated. */
enum tg_action grey_mail(struct tg_policy *p, struct tg_session *s,
	    const char *from, struct tg_verdict *v);
/* A session from ip: MAIL (which must pass) and RCPT; the answer to
 * RCPT. */
enum tg_action try_rcpt(struct tg_policy *p, const char *ip,
	    const char *from, const char *to, struct tg_verdict *v);
/* The same with the recipients of rcpts (NULL-terminated, each must
 * pass) and the end of the message; the answer at eom. */
enum tg_action try_eom(struct tg_policy *p, const char *ip,
	    const char *from, const char *const *rcpts, struct tg_verdict *v);
/* The triplet deferred, then passed after the first greylist's delay
 * (the fake clock moves on by it), at rcpt or at eom. */
void	pass_triplet(struct tg_policy *p, const char *ip, const char *from,
	    const char *to);
void	pass_triplet_eom(struct tg_policy *p, const char *ip,
	    const char *from, const char *to);

#endif
