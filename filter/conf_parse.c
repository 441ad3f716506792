/* conf_parse.c - recursive-descent parser and checker of policy files.
 * Reports every error with its position and goes on at the next rule or
 * statement, so one run shows them all; a policy with errors is freed.
 * Owns: the policy it builds until returned. Threads: one load at a time. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tg.h"
#include "tg_check.h"
#include "tg_diag.h"
#include "tg_ip.h"
#include "tg_content.h"
#include "tg_dkim.h"
#include "tg_policy.h"
#include "tg_reply.h"
#include "tg_table.h"
#include "conf.h"
#include "conf_parser.h"
#include "conf_limit.h"



static void		 conf_statement(struct conf_parser *);
static void		 conf_mime(struct conf_parser *);

void
conf_next(struct conf_parser *p)
{
	conf_lex_next(p->lx, &p->tok);
}

void
conf_expected(struct conf_parser *p, const char *what)
{
	(void)conf_tok_expected(p->lx, &p->tok, what);
}

int
conf_is_value(const struct conf_parser *p)
{
	return p->tok.type == CONF_T_WORD || p->tok.type == CONF_T_STRING;
}

/* Room for element n of an array that grows only through here: the
 * capacity is the next power of two, so it needs no field of its own. */
void *
conf_grow(void *a, size_t n, size_t size)
{
	if (n == 0 || (n & (n - 1)) == 0)
		return tg_xrealloc(a, (n != 0 ? 2 * n : 1) * size);
	return a;
}

/* Printable copy of s for a message (bytes of the file are hostile). */
const char *
conf_pr(char *buf, size_t bufsz, const char *s)
{
	return tg_str_printable(buf, bufsz, s);
}


enum conf_arg { CONF_ARG_NONE, CONF_ARG_REPLY, CONF_ARG_TEXT, CONF_ARG_HEADER,
	CONF_ARG_GREYLIST };

static const struct conf_action_kw {
	const char	*name;
	enum tg_action	 type;
	enum conf_arg	 arg;
	int		 terminal;
	int		 message;	/* needs a message: stage mail or later */
	const char	*what;		/* its text, for "expected" */
} conf_action_kws[] = {
	{ "accept", TG_ACT_ACCEPT, CONF_ARG_NONE, 1, 0, NULL },
	{ "continue", TG_ACT_CONTINUE, CONF_ARG_NONE, 0, 0, NULL },
	{ "reject", TG_ACT_REJECT, CONF_ARG_REPLY, 1, 0, "reply text" },
	{ "tempfail", TG_ACT_TEMPFAIL, CONF_ARG_REPLY, 1, 0, "reply text" },
	{ "discard", TG_ACT_DISCARD, CONF_ARG_NONE, 1, 1, NULL },
	{ "quarantine", TG_ACT_QUARANTINE, CONF_ARG_TEXT, 1, 1, "reason" },
	{ "add-header", TG_ACT_ADD_HEADER, CONF_ARG_HEADER, 0, 1,
	    "header value" },
	{ "warn", TG_ACT_WARN, CONF_ARG_TEXT, 0, 0, "text" },
	{ "dkim-sign", TG_ACT_DKIM_SIGN, CONF_ARG_NONE, 0, 1, NULL },
	/* Terminal only when it defers: last in its rule (below). */
	{ "greylist", TG_ACT_GREYLIST, CONF_ARG_GREYLIST, 0, 1, NULL },
};

/* A quoted template (reply text, reason, header value, warn text). */
static int
conf_template(struct conf_parser *p, struct tg_action_spec *a,
    const char *what)
{
	char want[64];
	const char *u;
	size_t n;

	if (p->tok.type != CONF_T_STRING) {
		snprintf(want, sizeof want, "a quoted %s", what);
		conf_expected(p, want);
		return -1;
	}
	if ((u = tg_template_check(p->tok.text)) != NULL) {
		n = strcspn(u, "}");
		n = u[n] == '}' ? n + 1 : n;
		conf_err(p, p->tok.line, p->tok.col, "unknown variable "
		    "\"%.*s\"", (int)(n < 40 ? n : 40), u);
	}
	/* ${spf...} in a header needs the SPF server set up. */
	if (strstr(p->tok.text, "${spf") != NULL)
		tg_policy_use(p->pol, TG_A_SPF);
	/* The milter glue copies only the macros of attributes in use. */
	if (strstr(p->tok.text, "${listener}") != NULL) {
		tg_policy_use(p->pol, TG_A_LISTENER_NAME);
		tg_policy_use(p->pol, TG_A_LISTENER_PORT);
	}
	if (strstr(p->tok.text, "${mta_name}") != NULL)
		tg_policy_use(p->pol, TG_A_MTA_NAME);
	a->text = conf_tok_take(&p->tok);
	conf_next(p);
	return 0;
}

static int
conf_all_digits(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* CODE X.Y.Z "text" of reject and tempfail. */
static int
conf_reply(struct conf_parser *p, struct tg_action_spec *a, const char *act)
{
	char want = a->type == TG_ACT_REJECT ? '5' : '4', pr[48];
	const char *why;
	int codeok = 0;

	if (p->tok.type != CONF_T_WORD) {
		conf_expected(p, want == '5' ? "a reply code (5xx)" :
		    "a reply code (4xx)");
		return -1;
	}
	conf_pr(pr, sizeof pr, p->tok.text);
	if (strlen(p->tok.text) != 3 || !conf_all_digits(p->tok.text))
		conf_err(p, p->tok.line, p->tok.col, "invalid reply code "
		    "\"%s\"", pr);
	else if (p->tok.text[0] != want)
		conf_err(p, p->tok.line, p->tok.col, "%s needs a %cxx code, "
		    "got %s", act, want, pr);
	else
		codeok = tg_strlcpy(a->code, p->tok.text, sizeof a->code) <
		    sizeof a->code;
	conf_next(p);
	if (p->tok.type != CONF_T_WORD) {
		conf_expected(p, want == '5' ? "an enhanced status code "
		    "(5.x.x)" : "an enhanced status code (4.x.x)");
		return -1;
	}
	conf_pr(pr, sizeof pr, p->tok.text);
	if (p->tok.text[0] != want && p->tok.text[0] >= '0' &&
	    p->tok.text[0] <= '9')
		conf_err(p, p->tok.line, p->tok.col, "%s needs a %c.x.x "
		    "enhanced status code, got %s", act, want, pr);
	else if (tg_strlcpy(a->xcode, p->tok.text, sizeof a->xcode) >=
	    sizeof a->xcode)
		conf_err(p, p->tok.line, p->tok.col, "invalid enhanced status "
		    "code \"%s\"", pr);
	else if (codeok && (why = tg_reply_check(a->type, a->code,
	    a->xcode)) != NULL)
		conf_err(p, p->tok.line, p->tok.col, "%s", why);
	conf_next(p);
	return conf_template(p, a, "reply text");
}

/* One action; *terminal is the name of the first terminal action seen in
 * this rule, so the ones after it can be reported, once ("" when done). */
static int
conf_action(struct conf_parser *p, struct tg_rule *r, const char **terminal)
{
	const struct conf_action_kw *kw = NULL;
	struct tg_action_spec *a;
	char pr[48];

	if (p->tok.type != CONF_T_WORD) {
		conf_expected(p, "an action");
		return -1;
	}
	for (size_t i = 0; i < sizeof conf_action_kws /
	    sizeof conf_action_kws[0]; i++)
		if (strcmp(p->tok.text, conf_action_kws[i].name) == 0)
			kw = &conf_action_kws[i];
	if (kw == NULL) {
		conf_err(p, p->tok.line, p->tok.col, "unknown action \"%s\"",
		    conf_pr(pr, sizeof pr, p->tok.text));
		return -1;
	}
	if (*terminal != NULL && **terminal != '\0') {
		conf_err(p, p->tok.line, p->tok.col, "actions after %s are "
		    "never reached", *terminal);
		*terminal = "";		/* reported: once per rule */
	}
	if (kw->terminal && *terminal == NULL)
		*terminal = kw->name;
	if (r->nactions > 0 &&
	    r->actions[r->nactions - 1].type == TG_ACT_GREYLIST)
		conf_err(p, p->tok.line, p->tok.col, "greylist must be the "
		    "last action of its rule (what follows it would run only "
		    "when the mail passes)");
	if (kw->message && p->stage >= 0 && p->stage < TG_STAGE_MAIL)
		conf_err(p, p->tok.line, p->tok.col, "%s is not possible at "
		    "stage %s: there is no message yet", kw->name,
		    tg_stage_name((enum tg_stage)p->stage));
	r->actions = conf_grow(r->actions, r->nactions, sizeof *r->actions);
	a = &r->actions[r->nactions++];
	memset(a, 0, sizeof *a);
	a->type = kw->type;
	conf_next(p);
	switch (kw->arg) {
	case CONF_ARG_REPLY:
		return conf_reply(p, a, kw->name);
	case CONF_ARG_TEXT:
		return conf_template(p, a, kw->what);
	case CONF_ARG_HEADER:
		if (!conf_is_value(p)) {
			conf_expected(p, "a header name");
			return -1;
		}
		if (conf_header_name_check(p->tok.text) < 0)
			conf_err(p, p->tok.line, p->tok.col, "invalid header "
			    "name \"%s\"", conf_pr(pr, sizeof pr,
			    p->tok.text));
		a->hname = conf_tok_take(&p->tok);
		conf_next(p);
		return conf_template(p, a, kw->what);
	case CONF_ARG_GREYLIST:
		return conf_grey_action(p->lx, &p->tok, p->pol, p->stage, a);
	default:
		return 0;
	}
}

static int
conf_is_statement(const struct conf_tok *t)
{
	return conf_tok_is(t, "stage") || conf_tok_is(t, "table") ||
	    conf_tok_is(t, "include") || conf_tok_is(t, "sasl") ||
	    conf_tok_is(t, "authentication-results") || conf_tok_is(t, "set") ||
	    conf_tok_is(t, "dnslist") || conf_tok_is(t, "mime") ||
	    conf_tok_is(t, "dkim-sign");
}

/* Skip to the next rule, the '}' closing the stage, or a statement.
 * depth counts the '{' already open (1 inside an "in { }" list). */
static void
conf_sync(struct conf_parser *p, int depth)
{
	p->in_set = 0;
	for (;; conf_next(p)) {
		if (p->tok.type == CONF_T_EOF || conf_is_statement(&p->tok) ||
		    conf_tok_is(&p->tok, "rule"))
			return;
		if (p->tok.type == CONF_T_LBRACE)
			depth++;
		else if (p->tok.type == CONF_T_RBRACE && depth-- == 0)
			return;
	}
}

static void
conf_sync_top(struct conf_parser *p)
{
	while (p->tok.type != CONF_T_EOF && !conf_is_statement(&p->tok) &&
	    !conf_tok_is(&p->tok, "limit") && !conf_tok_is(&p->tok, "store") &&
	    !conf_tok_is(&p->tok, "greylist"))
		conf_next(p);
}

/* Checks the name (current token) of a new rule. */
static void
conf_rule_name(struct conf_parser *p)
{
	const char *why;
	char pr[48];

	conf_pr(pr, sizeof pr, p->tok.text);
	if (conf_name_check(p->tok.text, &why) < 0) {
		conf_err(p, p->tok.line, p->tok.col, "rule name \"%s\" %s",
		    pr, why);
		return;
	}
	for (int s = 0; s < TG_STAGE_COUNT; s++)
		for (size_t i = 0; i < p->pol->nrules[s]; i++) {
			const struct tg_rule *o = &p->pol->rules[s][i];

			if (strcmp(o->name, p->tok.text) == 0) {
				conf_err(p, p->tok.line, p->tok.col,
				    "duplicate rule name \"%s\" (first "
				    "defined at %s:%d)", pr, o->file, o->line);
				return;
			}
		}
}

/* Rules of an unknown stage go to connect only so that they are freed
 * with the policy, which is never returned since it has errors. */
static struct tg_rule *
conf_rule_add(struct conf_parser *p, int line)
{
	int s = p->stage >= 0 ? p->stage : TG_STAGE_CONNECT;
	struct tg_policy *pol = p->pol;
	struct tg_rule *r;

	pol->rules[s] = conf_grow(pol->rules[s], pol->nrules[s],
	    sizeof *pol->rules[s]);
	r = &pol->rules[s][pol->nrules[s]++];
	memset(r, 0, sizeof *r);
	r->stage = (enum tg_stage)s;
	r->file = p->lx->file;
	r->line = line;
	r->name = conf_tok_take(&p->tok);
	return r;
}

/* rule NAME [dry-run] : CONDITION => ACTION { , ACTION } */
static void
conf_rule(struct conf_parser *p)
{
	const char *terminal = NULL;
	struct tg_rule *r;
	int line = p->tok.line;

	conf_next(p);
	if (p->tok.type != CONF_T_WORD) {
		conf_expected(p, "a rule name");
		goto sync;
	}
	conf_rule_name(p);
	r = conf_rule_add(p, line);
	conf_next(p);
	if (conf_tok_is(&p->tok, "dry-run")) {
		r->dry_run = 1;
		conf_next(p);
	}
	if (p->tok.type != CONF_T_COLON) {
		conf_expected(p, "':' after the rule name");
		goto sync;
	}
	conf_next(p);
	p->nest = p->terms = p->in_set = 0;
	if ((r->cond = conf_chain(p, 1)) == NULL)
		goto sync;
	if (p->tok.type != CONF_T_ARROW) {
		conf_expected(p, "'=>' or 'and'/'or' after the condition");
		goto sync;
	}
	do {
		conf_next(p);
		if (conf_action(p, r, &terminal) < 0)
			goto sync;
	} while (p->tok.type == CONF_T_COMMA);
	if (p->tok.type == CONF_T_RBRACE || p->tok.type == CONF_T_EOF ||
	    conf_tok_is(&p->tok, "rule") || conf_is_statement(&p->tok))
		return;
	conf_expected(p, "',' or a new rule after the action");
sync:
	conf_sync(p, p->in_set);
}

/* stage NAME { rule ... } */
static void
conf_stage(struct conf_parser *p)
{
	int line = p->tok.line;
	enum tg_stage st;
	char pr[48];

	conf_next(p);
	if (p->tok.type != CONF_T_WORD) {
		conf_expected(p, "a stage name");
		conf_sync_top(p);
		return;
	}
	p->stage = tg_stage_parse(p->tok.text, &st) < 0 ? -1 : (int)st;
	if (p->stage < 0)
		conf_err(p, p->tok.line, p->tok.col, "unknown stage \"%s\" "
		    "(use connect, helo, mail, rcpt, data or eom)",
		    conf_pr(pr, sizeof pr, p->tok.text));
	conf_next(p);
	if (p->tok.type != CONF_T_LBRACE) {
		conf_expected(p, "'{' after the stage name");
		conf_sync_top(p);
		return;
	}
	for (conf_next(p);;) {
		if (conf_tok_is(&p->tok, "rule"))
			conf_rule(p);
		else if (p->tok.type == CONF_T_RBRACE) {
			conf_next(p);
			return;
		} else if (p->tok.type == CONF_T_EOF ||
		    conf_is_statement(&p->tok)) {
			conf_err(p, p->tok.line, p->tok.col, "missing '}' "
			    "closing the stage opened at line %d", line);
			return;
		} else {
			conf_expected(p, "'rule' or '}'");
			conf_next(p);
			conf_sync(p, 0);
		}
	}
}

/* Open the table d declares; the quoted path is current. */
static void
conf_table_open(struct conf_parser *p, struct conf_tdecl *d)
{
	char *path = conf_file_join(p->dir, p->tok.text), pr[48];
	int errors = p->diag->errors;

	/* A missing file is the policy's mistake: point at the declaration,
	 * not only at the path. Errors inside the file carry its own lines. */
	if (access(path, R_OK) != 0) {
		conf_err(p, p->tok.line, p->tok.col, "table \"%s\": cannot "
		    "read %s: %s", conf_pr(pr, sizeof pr, d->name), path,
		    strerror(errno));
		free(path);
		return;
	}
	d->t = tg_table_open(d->name, d->type, path, p->diag);
	free(path);
	if (d->t == NULL) {
		/* tg_table_open() reports why; never fail silently. */
		if (p->diag->errors == errors)
			conf_err(p, p->tok.line, p->tok.col, "table \"%s\" "
			    "could not be opened", conf_pr(pr, sizeof pr,
			    d->name));
		return;
	}
	p->pol->tables = conf_grow(p->pol->tables, p->pol->ntables,
	    sizeof *p->pol->tables);
	p->pol->tables[p->pol->ntables++] = d->t;
}

/* table NAME TYPE "path"; a table that fails to open is still declared
 * (with t NULL) so that its uses are not reported as undefined. */
static void
conf_table(struct conf_parser *p)
{
	struct conf_tdecl d = { NULL, TG_TABLE_LIST, NULL, p->lx->file, 0 };
	struct conf_tdecl *o;
	const char *why;
	char pr[48];
	int ok = 1;

	conf_next(p);
	if (p->tok.type != CONF_T_WORD) {
		conf_expected(p, "a table name");
		goto sync;
	}
	d.line = p->tok.line;
	conf_pr(pr, sizeof pr, p->tok.text);
	if (conf_name_check(p->tok.text, &why) < 0)
		conf_err(p, p->tok.line, p->tok.col, "table name \"%s\" %s",
		    pr, why);
	if ((o = conf_decl_find(p, p->tok.text)) != NULL) {
		conf_err(p, p->tok.line, p->tok.col, "duplicate table name "
		    "\"%s\" (first defined at %s:%d)", pr, o->file, o->line);
		ok = 0;
	}
	d.name = conf_tok_take(&p->tok);
	conf_next(p);
	if (p->tok.type != CONF_T_WORD) {
		conf_expected(p, "a table type (cidr, list or map)");
		goto sync;
	}
	if (tg_table_type_parse(p->tok.text, &d.type) < 0) {
		conf_err(p, p->tok.line, p->tok.col, "unknown table type "
		    "\"%s\" (use cidr, list or map)",
		    conf_pr(pr, sizeof pr, p->tok.text));
		ok = 0;
	}
	conf_next(p);
	if (p->tok.type != CONF_T_STRING) {
		conf_expected(p, "a quoted path");
		goto sync;
	}
	if (ok)
		conf_table_open(p, &d);
	conf_next(p);
	if (o == NULL) {
		p->decl = conf_grow(p->decl, p->ndecl, sizeof *p->decl);
		p->decl[p->ndecl++] = d;
		return;
	}
	free(d.name);
	return;
sync:
	free(d.name);
	conf_sync_top(p);
}

/* Parse one file's text; real is its real path (taken over) or NULL. */
static void
conf_file_text(struct conf_parser *p, const char *name, const char *buf,
    size_t len, const char *dir, char *real)
{
	struct conf_lex lx, *olx = p->lx;
	struct conf_tok otok = p->tok;
	const char *odir = p->dir;
	char *file = tg_xstrdup(name);

	p->pol->files = conf_grow(p->pol->files, p->pol->nfiles,
	    sizeof *p->pol->files);
	p->pol->files[p->pol->nfiles++] = file;
	conf_lex_init(&lx, file, buf, len, p->diag);
	p->lx = &lx;
	p->dir = dir;
	p->open[p->depth++] = real;
	memset(&p->tok, 0, sizeof p->tok);
	for (conf_next(p); p->tok.type != CONF_T_EOF;)
		conf_statement(p);
	conf_tok_clear(&p->tok);
	p->depth--;
	p->open[p->depth] = tg_free(p->open[p->depth]);
	p->lx = olx;
	p->tok = otok;
	p->dir = odir;
}

/* Read and parse path; line 0 for the main file, else the position of
 * the include statement's file name. */
static void
conf_file(struct conf_parser *p, const char *path, int line, int col)
{
	char *real, *buf, *dir;
	size_t len;
	int rc;

	if (p->depth > CONF_INCLUDE_MAX) {
		conf_err(p, line, col, "includes nested too deeply (more "
		    "than %d levels)", CONF_INCLUDE_MAX);
		return;
	}
	if ((real = realpath(path, NULL)) != NULL)
		for (int i = 0; i < p->depth; i++)
			if (p->open[i] != NULL && strcmp(p->open[i], real) == 0) {
				conf_err(p, line, col, "include loop: \"%s\" is "
				    "already being read", path);
				free(real);
				return;
			}
	if ((rc = conf_file_read(path, &buf, &len)) < 0) {
		if (line == 0)
			tg_diag_error(p->diag, path, 0, 0, "cannot read: %s",
			    strerror(-rc));
		else
			conf_err(p, line, col, "cannot read \"%s\": %s", path,
			    strerror(-rc));
		free(real);
		return;
	}
	dir = conf_file_dir(path);
	conf_file_text(p, path, buf, len, dir, real);
	free(dir);
	free(buf);
}

/* include "path", relative to the including file. */
static void
conf_include(struct conf_parser *p)
{
	int line, col;
	char *path;

	conf_next(p);
	if (p->tok.type != CONF_T_STRING) {
		conf_expected(p, "a quoted file name");
		conf_sync_top(p);
		return;
	}
	path = conf_file_join(p->dir, p->tok.text);
	line = p->tok.line;
	col = p->tok.col;
	conf_next(p);
	conf_file(p, path, line, col);
	free(path);
}

static void
conf_statement(struct conf_parser *p)
{
	if (conf_tok_is(&p->tok, "include"))
		conf_include(p);
	else if (conf_tok_is(&p->tok, "table"))
		conf_table(p);
	else if (conf_tok_is(&p->tok, "stage"))
		conf_stage(p);
	else if (conf_tok_is(&p->tok, "sasl"))
		conf_auth_sasl(p);
	else if (conf_tok_is(&p->tok, "authentication-results"))
		conf_auth_authres(p);
	else if (conf_tok_is(&p->tok, "limit"))
		conf_limit_decl(p->lx, &p->tok, p->pol);
	else if (conf_tok_is(&p->tok, "store"))
		conf_store_decl(p->lx, &p->tok, p->pol);
	else if (conf_tok_is(&p->tok, "greylist"))
		conf_grey_decl(p->lx, &p->tok, p->pol);
	else if (conf_tok_is(&p->tok, "set") ||
	    conf_tok_is(&p->tok, "dnslist")) {
		if ((conf_tok_is(&p->tok, "set") ?
		    conf_dns_set(p->lx, &p->tok, p->pol) :
		    conf_dns_list(p->lx, &p->tok, p->pol)) < 0)
			conf_sync_top(p);
	}
	else if (conf_tok_is(&p->tok, "mime"))
		conf_mime(p);
	else if (conf_tok_is(&p->tok, "dkim-sign"))
		conf_dkim_sign(p);
	else if (p->tok.type == CONF_T_RBRACE) {
		conf_err(p, p->tok.line, p->tok.col, "unbalanced '}'");
		do	/* one error for "}}}" */
			conf_next(p);
		while (p->tok.type == CONF_T_RBRACE);
	} else {
		if (conf_tok_is(&p->tok, "rule"))
			conf_err(p, p->tok.line, p->tok.col, "rule outside "
			    "of a stage");
		else
			conf_expected(p, "a statement (include, table, "
			    "stage, ...)");
		conf_next(p);
		conf_sync_top(p);
	}
}

struct conf_tok *
conf_p_tok(struct conf_parser *p)
{
	return &p->tok;
}

void
conf_p_next(struct conf_parser *p)
{
	conf_next(p);
}

void
conf_p_expected(struct conf_parser *p, const char *what)
{
	conf_expected(p, what);
}

void
conf_p_sync(struct conf_parser *p)
{
	conf_sync_top(p);
}

struct tg_policy *
conf_p_policy(struct conf_parser *p)
{
	return p->pol;
}

struct conf_lex *
conf_p_lex(struct conf_parser *p)
{
	return p->lx;
}

struct tg_diag *
conf_p_diag(struct conf_parser *p)
{
	return p->diag;
}

const char *
conf_p_file(struct conf_parser *p)
{
	return p->lx->file;
}

const char *
conf_p_dir(struct conf_parser *p)
{
	return p->dir;
}

/* mime hash-types { "application/ *", ... }: which parts get a SHA-256. */
static void
conf_mime(struct conf_parser *p)
{
	struct tg_expr *e;

	conf_next(p);
	if (!conf_tok_is(&p->tok, "hash-types")) {
		conf_expected(p, "'hash-types' after 'mime'");
		conf_sync_top(p);
		return;
	}
	conf_next(p);
	if (p->tok.type != CONF_T_LBRACE) {
		conf_expected(p, "'{'");
		conf_sync_top(p);
		return;
	}
	e = conf_set(p, conf_node(TG_E_IN_SET, p->tok.line, p->tok.col),
	    TG_T_STR, "hash-types");
	p->in_set = 0;
	if (e == NULL) {
		conf_sync_top(p);
		return;
	}
	if (p->pol->mime_hash_types != NULL)
		conf_err(p, e->line, e->col, "mime hash-types given twice");
	else {
		p->pol->mime_hash_types = e->set;
		e->set = NULL;
	}
	conf_expr_free(e);
}

static void
conf_init(struct conf_parser *p, const char *path, struct tg_diag *diag)
{
	memset(p, 0, sizeof *p);
	p->diag = diag;
	p->pol = tg_xcalloc(1, sizeof *p->pol);
	atomic_init(&p->pol->refs, 1);
	p->pol->path = tg_xstrdup(path);
	p->errors = diag->errors;
}

static struct tg_policy *
conf_finish(struct conf_parser *p)
{
	conf_auth_finish(p->pol, p->diag);
	for (size_t i = 0; i < p->ndecl; i++)
		free(p->decl[i].name);
	free(p->decl);
	if (p->diag->errors == p->errors)
		(void)tg_dkim_conf_finish(p->pol, p->diag);
	if (p->diag->errors == p->errors)
		(void)tg_dns_conf_finish(p->pol, p->diag);
	if (p->diag->errors > p->errors) {
		tg_policy_unref(p->pol);
		return NULL;
	}
	return p->pol;
}

struct tg_policy *
tg_policy_load(const char *path, struct tg_diag *diag)
{
	struct conf_parser p;

	conf_init(&p, path, diag);
	conf_file(&p, path, 0, 0);
	return conf_finish(&p);
}

struct tg_policy *
tg_policy_load_string(const char *name, const char *text, const char *dir,
    struct tg_diag *diag)
{
	struct conf_parser p;

	conf_init(&p, name, diag);
	conf_file_text(&p, name, text, strlen(text), dir != NULL ? dir : "", NULL);
	return conf_finish(&p);
}
