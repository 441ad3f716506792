/* tg_ops.h - operational settings of a policy ("set log-level", "set
 * dry-run") and of the daemon (-D), applied when a policy is published.
 * Threads: tg_ops_publish() runs where policies are published (start,
 * reload thread); tg_ops_dry_run() is read on session threads. */
#ifndef TG_OPS_H
#define TG_OPS_H

#include "tg_policy.h"

/* p is about to be published: bind its rules' metrics, apply its log
 * level (the default, info, when it sets none). */
void	tg_ops_publish(struct tg_policy *p);

/* -D: every policy runs as if it said "set dry-run yes". */
void	tg_ops_force_dry_run(int on);

/* Whether verdicts under p are only logged: 1 or 0. */
int	tg_ops_dry_run(const struct tg_policy *p);

#endif
