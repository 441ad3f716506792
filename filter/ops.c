/* ops.c - operational settings taking effect: at publish, a policy's log
 * level and its rules' metrics; on the mail path, whether verdicts are
 * enforced or only logged (set dry-run, -D). Owns: the -D flag.
 * Threads: the flag is set before threads start; the rest reads the
 * immutable policy. */
#include "config.h"

#include <syslog.h>

#include "tg.h"
#include "tg_log.h"
#include "tg_metrics.h"
#include "tg_ops.h"

static int ops_forced_dry_run;

void
tg_ops_publish(struct tg_policy *p)
{
	if (p == NULL)
		return;
	tg_metrics_bind(p);
	tg_log_set_level(p->log_level > 0 ? p->log_level - 1 : LOG_INFO);
}

void
tg_ops_force_dry_run(int on)
{
	ops_forced_dry_run = on;
}

int
tg_ops_dry_run(const struct tg_policy *p)
{
	return ops_forced_dry_run || (p != NULL && p->dry_run);
}
