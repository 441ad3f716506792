/* conf_ops.c - the operational "set" statements, called by conf_dns.c
 * (which owns the "set" keyword): set log-level warning|info|debug and
 * set dry-run yes|no. Owns: nothing; values go into the policy.
 * Threads: one load at a time. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "tg.h"
#include "tg_policy.h"
#include "conf.h"

static const struct {
	const char	*name;
	int		 prio;
} conf_ops_levels[] = {
	{ "error", LOG_ERR }, { "warning", LOG_WARNING },
	{ "info", LOG_INFO }, { "debug", LOG_DEBUG },
};

int
conf_ops_known(const char *name)
{
	return strcmp(name, "log-level") == 0 || strcmp(name, "dry-run") == 0;
}

static int
conf_ops_level(const char *v)
{
	for (size_t i = 0; i < sizeof conf_ops_levels /
	    sizeof conf_ops_levels[0]; i++)
		if (strcmp(v, conf_ops_levels[i].name) == 0)
			return conf_ops_levels[i].prio;
	return -1;
}

int
conf_ops_set(struct conf_lex *lx, struct conf_tok *tok,
    struct tg_policy *pol, const char *name)
{
	char pr[64], what[64];
	int v;

	conf_lex_next(lx, tok);
	if (tok->type != CONF_T_WORD && tok->type != CONF_T_STRING) {
		snprintf(what, sizeof what, "a value for %s", name);
		return conf_tok_expected(lx, tok, what);
	}
	tg_str_printable(pr, sizeof pr, tok->text);
	if (strcmp(name, "log-level") == 0) {
		if ((v = conf_ops_level(tok->text)) < 0)
			conf_tok_err(lx, tok, "log-level \"%s\": use error, "
			    "warning, info or debug", pr);
		else
			pol->log_level = v + 1;
	} else {
		if (strcmp(tok->text, "yes") == 0)
			pol->dry_run = 1;
		else if (strcmp(tok->text, "no") == 0)
			pol->dry_run = 0;
		else
			conf_tok_err(lx, tok, "dry-run \"%s\": use yes or "
			    "no", pr);
	}
	conf_lex_next(lx, tok);
	return 0;
}
