/* tg_engine.h - evaluate a policy's rules for one stage of one session.
 * No libmilter types here. Threads: tg_engine_eval() takes no lock; the
 * policy is read-only and the session belongs to the caller. */
#ifndef TG_ENGINE_H
#define TG_ENGINE_H

#include "tg_policy.h"

#define TG_REPLY_TEXT_MAX	400
#define TG_RULE_NAME_MAX	64

/* The answer for one stage. action is one of CONTINUE, ACCEPT, REJECT,
 * TEMPFAIL, DISCARD, QUARANTINE. For REJECT and TEMPFAIL code/xcode/text
 * are set and consistent (5xx/5.x.x, 4xx/4.x.x, printable text). */
struct tg_verdict {
	enum tg_action	action;
	char		code[4];
	char		xcode[12];
	char		text[TG_REPLY_TEXT_MAX];
	char		rule[TG_RULE_NAME_MAX];	/* "" when no rule matched */
	int		dry_run;	/* a dry-run rule matched: logged only */
	char		limit[TG_RULE_NAME_MAX]; /* the limit that tripped, or "" */
	int		internal;	/* not a policy verdict (a lookup or store
					 * error, bad syntax): always enforced,
					 * even in a global dry run */
	int		greylisted;	/* a greylist deferral: no rate limit
					 * is charged for it, count-refused
					 * ones included */
};

struct tg_session;

/* Walk the stage's rules in order, first terminal action wins. Non-terminal
 * actions (add-header, warn, continue) take effect and evaluation goes on.
 * A condition that cannot be decided (table error) gives TEMPFAIL
 * 451 4.3.0. Effects that outlive the stage (headers to add, quarantine,
 * discard, accept) are recorded in the session. Returns the verdict's
 * action. */
enum tg_action tg_engine_eval(const struct tg_policy *, struct tg_session *,
	    enum tg_stage, struct tg_verdict *);

/* tg_action_name(): in tg_policy.h, with the other names of enums. */

/* The DNS checks (TG_CHECK_NEED_* of tg_check.h) the rules of stage may
 * reach for the session, as far as can be told before the command of
 * that stage sets its values: a condition that is false on what is
 * already known (sender, client, HELO at RCPT) cuts off the checks
 * behind it. set: the session holds what the command sets already (the
 * recipient at RCPT); 0: the attributes known first or last at stage
 * are taken as unknown. Looks nothing up, counts nothing (the native
 * engine's loops look the checks up ahead: mproto_dns.c). */
unsigned tg_engine_prefetch_needs(const struct tg_policy *,
	    const struct tg_session *, enum tg_stage, int set);

#endif
