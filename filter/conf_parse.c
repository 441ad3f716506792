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
#include "tg_diag.h"
#include "tg_ip.h"
#include "tg_policy.h"
#include "tg_reply.h"
#include "tg_table.h"
#include "conf.h"
#include "conf_limit.h"

#define CONF_INCLUDE_MAX	16		/* nesting of include */
#define CONF_NEST_MAX		64		/* (, not */
#define CONF_TERMS_MAX		4096		/* expression nodes per rule */

/* A declared table; t is NULL when it failed to open (already reported),
 * so its uses are not reported again as undefined. */
struct conf_tdecl {
	char			*name;
	enum tg_table_type	 type;
	struct tg_table		*t;
	const char		*file;
	int			 line;
};

struct conf_parser {
	struct tg_policy	*pol;
	struct tg_diag		*diag;
	struct conf_lex		*lx;		/* the file being read */
	struct conf_tok		 tok;		/* its current token */
	const char		*dir;		/* its directory, "" for cwd */
	char			*open[CONF_INCLUDE_MAX + 1]; /* real paths */
	int			 depth;
	struct conf_tdecl	*decl;
	size_t			 ndecl;
	int			 stage;		/* -1: unknown stage name */
	int			 nest, terms;
	int			 in_set;
	int			 errors;	/* diag->errors at the start */
};


static struct tg_expr	*conf_chain(struct conf_parser *, int);
static void		 conf_statement(struct conf_parser *);

static void
conf_next(struct conf_parser *p)
{
	conf_lex_next(p->lx, &p->tok);
}

static void TG_PRINTFLIKE(4, 5)
conf_err(struct conf_parser *p, int line, int col, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	tg_diag_error(p->diag, p->lx->file, line, col, "%s", msg);
}

/* "expected X, got Y" at the current token, unless the lexer already
 * reported that token. */
static void
conf_expected(struct conf_parser *p, const char *what)
{
	char got[80];

	if (p->tok.type == CONF_T_BAD)
		return;
	conf_err(p, p->tok.line, p->tok.col, "expected %s, got %s", what,
	    conf_tok_describe(&p->tok, got, sizeof got));
}

static int
conf_is_value(const struct conf_parser *p)
{
	return p->tok.type == CONF_T_WORD || p->tok.type == CONF_T_STRING;
}

/* Room for element n of an array that grows only through here: the
 * capacity is the next power of two, so it needs no field of its own. */
static void *
conf_grow(void *a, size_t n, size_t size)
{
	if (n == 0 || (n & (n - 1)) == 0)
		return tg_xrealloc(a, (n != 0 ? 2 * n : 1) * size);
	return a;
}

/* Printable copy of s for a message (bytes of the file are hostile). */
static const char *
conf_pr(char *buf, size_t bufsz, const char *s)
{
	return tg_str_printable(buf, bufsz, s);
}

static const char *
conf_type_name(int type)
{
	switch (type) {
	case TG_T_BOOL:	return "a boolean";
	case TG_T_NUM:	return "a number";
	case TG_T_IP:	return "an ip";
	case TG_T_ADDR:	return "an address";
	default:	return "a string";
	}
}

static struct tg_expr *
conf_expr_free(struct tg_expr *e)
{
	if (e == NULL)
		return NULL;
	conf_expr_free(e->left);
	conf_expr_free(e->right);
	free(e->param);
	free(e->str);
	if (e->set != NULL) {
		for (size_t i = 0; i < e->set->nstr; i++)
			free(e->set->str[i]);
		free(e->set->str);
		free(e->set->net);
		free(e->set->prefix);
		free(e->set);
	}
	if (e->re != NULL)
		pcre2_code_free(e->re);
	free(e);
	return NULL;
}

static struct tg_expr *
conf_node(enum tg_expr_op op, int line, int col)
{
	struct tg_expr *e = tg_xcalloc(1, sizeof *e);

	e->op = op;
	e->line = line;
	e->col = col;
	return e;
}

/* The operator token is current: booleans are only used bare. */
static void
conf_check_bool(struct conf_parser *p, int type, const char *name)
{
	if (type == TG_T_BOOL)
		conf_err(p, p->tok.line, p->tok.col, "%s is a boolean "
		    "attribute: use it bare, as in \"%s\" or \"not %s\"",
		    name, name, name);
}

static struct tg_expr *
conf_cmp(struct conf_parser *p, struct tg_expr *e, int type,
    const char *name)
{
	static const char *const ops[] = { "==", "!=", "<", "<=", ">", ">=" };
	char pr[48], ipbuf[64];
	struct tg_ip ip;

	e->op = TG_E_CMP;
	e->cmp = (enum tg_cmp)(TG_CMP_EQ + (p->tok.type - CONF_T_EQ));
	conf_check_bool(p, type, name);
	if (e->cmp >= TG_CMP_LT && type >= 0 && type != TG_T_NUM &&
	    type != TG_T_BOOL)
		conf_err(p, p->tok.line, p->tok.col, "'%s' is only for "
		    "numbers, but %s is %s attribute", ops[e->cmp], name,
		    conf_type_name(type));
	conf_next(p);
	if (!conf_is_value(p)) {
		conf_expected(p, "a value");
		return conf_expr_free(e);
	}
	if (type == TG_T_NUM) {
		if (conf_number_parse(p->tok.text, &e->num) < 0)
			conf_err(p, p->tok.line, p->tok.col, "number attribute "
			    "%s compared with a non-number \"%s\"", name,
			    conf_pr(pr, sizeof pr, p->tok.text));
	} else if (type == TG_T_IP) {
		/* Kept in tg_ip_format()'s form, to compare as text. */
		if (tg_ip_parse(p->tok.text, &ip) < 0)
			conf_err(p, p->tok.line, p->tok.col, "invalid ip "
			    "address \"%s\"", conf_pr(pr, sizeof pr,
			    p->tok.text));
		else
			e->str = tg_xstrdup(tg_ip_format(&ip, ipbuf,
			    sizeof ipbuf));
	}
	if (type != TG_T_NUM && e->str == NULL)
		e->str = conf_tok_take(&p->tok);
	conf_next(p);
	return e;
}

static void
conf_set_add(struct conf_parser *p, struct tg_set *set, int type,
    const char *name)
{
	char pr[48];
	const char *why = "invalid";
	struct tg_ip net;
	long long v;
	int plen;

	conf_pr(pr, sizeof pr, p->tok.text);
	if (type == TG_T_IP) {
		if (tg_cidr_parse(p->tok.text, &net, &plen, &why) < 0) {
			conf_err(p, p->tok.line, p->tok.col,
			    "invalid network \"%s\": %s", pr, why);
			return;
		}
		set->net = conf_grow(set->net, set->nnet, sizeof *set->net);
		set->prefix = conf_grow(set->prefix, set->nnet,
		    sizeof *set->prefix);
		set->net[set->nnet] = net;
		set->prefix[set->nnet++] = plen;
		return;
	}
	set->str = conf_grow(set->str, set->nstr, sizeof *set->str);
	if (type != TG_T_NUM)
		set->str[set->nstr++] = conf_tok_take(&p->tok);
	else if (conf_number_parse(p->tok.text, &v) < 0)
		conf_err(p, p->tok.line, p->tok.col, "number attribute %s "
		    "compared with a non-number \"%s\"", name, pr);
	else	/* canonical decimal: "10k" and "10240" are one value */
		set->str[set->nstr++] = tg_xasprintf("%lld", v);
}

/* "in { v, ... }"; the '{' is current. A trailing comma is allowed. */
static struct tg_expr *
conf_set(struct conf_parser *p, struct tg_expr *e, int type,
    const char *name)
{
	int line = p->tok.line, col = p->tok.col, nvals = 0;

	e->op = TG_E_IN_SET;
	e->set = tg_xcalloc(1, sizeof *e->set);
	p->in_set = 1;
	conf_next(p);
	while (p->tok.type != CONF_T_RBRACE) {
		if (!conf_is_value(p)) {
			conf_expected(p, nvals ? "a value or '}'" : "a value");
			return conf_expr_free(e);
		}
		conf_set_add(p, e->set, type, name);
		nvals++;
		conf_next(p);
		if (p->tok.type == CONF_T_COMMA)
			conf_next(p);
		else if (p->tok.type != CONF_T_RBRACE) {
			conf_expected(p, "',' or '}'");
			return conf_expr_free(e);
		}
	}
	p->in_set = 0;
	if (nvals == 0)
		conf_err(p, line, col, "empty value list");
	conf_next(p);
	return e;
}

static struct conf_tdecl *
conf_decl_find(struct conf_parser *p, const char *name)
{
	for (size_t i = 0; i < p->ndecl; i++)
		if (strcmp(p->decl[i].name, name) == 0)
			return &p->decl[i];
	return NULL;
}

static struct tg_expr *
conf_in_table(struct conf_parser *p, struct tg_expr *e, int type,
    const char *name)
{
	static const char *const tnames[] = { "cidr", "list", "map" };
	struct conf_tdecl *d = conf_decl_find(p, p->tok.text);
	int line = p->tok.line, col = p->tok.col;
	char pr[48];

	conf_pr(pr, sizeof pr, p->tok.text);
	e->op = TG_E_IN_TABLE;
	if (d == NULL)
		conf_err(p, line, col, "undefined table \"%s\"", pr);
	else if (d->t != NULL) {
		e->table = d->t;
		if (d->type == TG_TABLE_CIDR && type >= 0 && type != TG_T_IP &&
		    type != TG_T_BOOL)
			conf_err(p, line, col, "cidr table \"%s\" used with %s, "
			    "which is not an ip attribute", pr, name);
		else if (d->type != TG_TABLE_CIDR && type == TG_T_IP)
			conf_err(p, line, col, "%s table \"%s\" used with %s, "
			    "which is an ip attribute (use a cidr table)",
			    tnames[d->type], pr, name);
	}
	conf_next(p);
	return e;
}

static struct tg_expr *
conf_match(struct conf_parser *p, struct tg_expr *e)
{
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	int code;

	e->op = TG_E_MATCH;
	if (p->tok.type != CONF_T_STRING) {
		conf_expected(p, "a quoted regular expression");
		return conf_expr_free(e);
	}
	e->re = pcre2_compile((PCRE2_SPTR)p->tok.text, PCRE2_ZERO_TERMINATED,
	    PCRE2_CASELESS, &code, &off, NULL);
	if (e->re == NULL) {
		pcre2_get_error_message(code, msg, sizeof msg);
		conf_err(p, p->tok.line, p->tok.col, "invalid regular "
		    "expression: %s (at offset %zu)", (const char *)msg,
		    (size_t)off);
	}
	e->str = conf_tok_take(&p->tok);
	conf_next(p);
	return e;
}

/* What follows an attribute: an operator, or nothing (a bare test). */
static struct tg_expr *
conf_test(struct conf_parser *p, struct tg_expr *e, int type,
    const char *name)
{
	struct tg_expr *n;
	int line = 0, col = 0;

	if (p->tok.type >= CONF_T_EQ && p->tok.type <= CONF_T_GE)
		return conf_cmp(p, e, type, name);
	if (conf_tok_is(&p->tok, "not")) {
		line = p->tok.line;
		col = p->tok.col;
		conf_next(p);
		if (!conf_tok_is(&p->tok, "in") &&
		    !conf_tok_is(&p->tok, "matches") &&
		    !conf_tok_is(&p->tok, "owned-by")) {
			conf_expected(p, "'in', 'matches' or 'owned-by' after "
			    "'not'");
			return conf_expr_free(e);
		}
	}
	if (conf_tok_is(&p->tok, "in")) {
		conf_check_bool(p, type, name);
		conf_next(p);
		if (p->tok.type == CONF_T_LBRACE)
			e = conf_set(p, e, type, name);
		else if (p->tok.type == CONF_T_WORD)
			e = conf_in_table(p, e, type, name);
		else {
			conf_expected(p, "a table name or '{'");
			e = conf_expr_free(e);
		}
	} else if (conf_tok_is(&p->tok, "matches")) {
		conf_check_bool(p, type, name);
		conf_next(p);
		e = conf_match(p, e);
	} else if (conf_tok_is(&p->tok, "owned-by")) {
		conf_check_bool(p, type, name);
		conf_next(p);
		if (p->tok.type != CONF_T_WORD) {
			conf_expected(p, "a map table name");
			e = conf_expr_free(e);
		} else if ((e = conf_in_table(p, e, type, name)) != NULL)
			conf_auth_owned_by(p, e, name);
	}
	if (e == NULL || line == 0)
		return e;
	n = conf_node(TG_E_NOT, line, col);
	n->left = e;
	return n;
}

/* An attribute name or header "Name" is current. */
static struct tg_expr *
conf_attr(struct conf_parser *p)
{
	struct tg_expr *e = conf_node(TG_E_BOOL, p->tok.line, p->tok.col);
	char name[96], pr[48];
	int type = -1;

	if (tg_attr_lookup(p->tok.text, &e->attr) < 0) {
		conf_err(p, e->line, e->col, "unknown attribute \"%s\"",
		    conf_pr(name, sizeof name, p->tok.text));
		e->attr = TG_A_CLIENT_ADDRESS;
	} else if (tg_attrs[e->attr].param) {
		/* header "Name": the attribute takes a quoted parameter. */
		conf_next(p);
		if (!conf_is_value(p)) {
			conf_expected(p, "a quoted parameter");
			return conf_expr_free(e);
		}
		conf_pr(pr, sizeof pr, p->tok.text);
		if (e->attr == TG_A_HEADER &&
		    conf_header_name_check(p->tok.text) < 0)
			conf_err(p, p->tok.line, p->tok.col,
			    "invalid header name \"%s\"", pr);
		e->param = conf_tok_take(&p->tok);
		snprintf(name, sizeof name, "%s \"%s\"",
		    tg_attrs[e->attr].name, pr);
		type = (int)tg_attrs[e->attr].type;
	} else {
		snprintf(name, sizeof name, "%s", tg_attrs[e->attr].name);
		type = (int)tg_attrs[e->attr].type;
	}
	if (type >= 0) {
		if (p->stage >= 0 && ((int)tg_attrs[e->attr].first > p->stage ||
		    (int)tg_attrs[e->attr].last < p->stage))
			conf_err(p, e->line, e->col, "%s is not known at "
			    "stage %s", name,
			    tg_stage_name((enum tg_stage)p->stage));
		p->pol->attrs_used |= (uint64_t)1 << e->attr;
		if (e->attr == TG_A_HEADER)
			p->pol->header_used = 1;
	}
	conf_next(p);
	return conf_test(p, e, type, name);
}

static struct tg_expr *
conf_primary(struct conf_parser *p)
{
	struct tg_expr *e;

	if (++p->terms > CONF_TERMS_MAX) {
		conf_err(p, p->tok.line, p->tok.col, "condition too long "
		    "(more than %d terms)", CONF_TERMS_MAX);
		return NULL;
	}
	if (p->tok.type == CONF_T_LPAREN) {
		if (++p->nest > CONF_NEST_MAX) {
			conf_err(p, p->tok.line, p->tok.col, "condition "
			    "nested too deeply (more than %d levels)",
			    CONF_NEST_MAX);
			return NULL;
		}
		conf_next(p);
		e = conf_chain(p, 1);
		p->nest--;
		if (e != NULL && p->tok.type != CONF_T_RPAREN) {
			conf_expected(p, "')'");
			e = conf_expr_free(e);
		}
		if (e != NULL)
			conf_next(p);
		return e;
	}
	if (p->tok.type != CONF_T_WORD || conf_tok_is(&p->tok, "and") ||
	    conf_tok_is(&p->tok, "or")) {
		conf_expected(p, "a condition");
		return NULL;
	}
	if (conf_tok_is(&p->tok, "limit"))
		return conf_limit_cond(p->lx, &p->tok, p->pol, p->stage);
	if (conf_tok_is(&p->tok, "true") || conf_tok_is(&p->tok, "false")) {
		e = conf_node(conf_tok_is(&p->tok, "true") ? TG_E_TRUE :
		    TG_E_FALSE, p->tok.line, p->tok.col);
		conf_next(p);
		return e;
	}
	return conf_attr(p);
}

static struct tg_expr *
conf_not(struct conf_parser *p)
{
	struct tg_expr *e, *n;
	int line = p->tok.line, col = p->tok.col;

	if (!conf_tok_is(&p->tok, "not"))
		return conf_primary(p);
	if (++p->nest > CONF_NEST_MAX) {
		conf_err(p, line, col, "condition nested too deeply "
		    "(more than %d levels)", CONF_NEST_MAX);
		return NULL;
	}
	conf_next(p);
	e = conf_not(p);
	p->nest--;
	if (e == NULL)
		return NULL;
	n = conf_node(TG_E_NOT, line, col);
	n->left = e;
	return n;
}

/* OR := AND { "or" AND }, AND := NOT { "and" NOT }; left-associative. */
static struct tg_expr *
conf_chain(struct conf_parser *p, int or)
{
	struct tg_expr *l, *r, *e;
	int line, col;

	l = or ? conf_chain(p, 0) : conf_not(p);
	while (l != NULL && conf_tok_is(&p->tok, or ? "or" : "and")) {
		line = p->tok.line;
		col = p->tok.col;
		conf_next(p);
		if ((r = or ? conf_chain(p, 0) : conf_not(p)) == NULL)
			return conf_expr_free(l);
		e = conf_node(or ? TG_E_OR : TG_E_AND, line, col);
		e->left = l;
		e->right = r;
		l = e;
	}
	return l;
}

enum conf_arg { CONF_ARG_NONE, CONF_ARG_REPLY, CONF_ARG_TEXT, CONF_ARG_HEADER };

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
	default:
		return 0;
	}
}

static int
conf_is_statement(const struct conf_tok *t)
{
	return conf_tok_is(t, "stage") || conf_tok_is(t, "table") ||
	    conf_tok_is(t, "include") || conf_tok_is(t, "sasl") ||
	    conf_tok_is(t, "authentication-results");
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
	    !conf_tok_is(&p->tok, "limit") && !conf_tok_is(&p->tok, "store"))
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
			conf_expected(p, "'include', 'table' or 'stage'");
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
	if (p->diag->errors > p->errors) {
		tg_policy_unref(p->pol);
		return NULL;
	}
	conf_limit_finish(p->pol);
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
