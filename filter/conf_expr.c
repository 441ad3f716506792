/* conf_expr.c - the condition part of a rule: or, and, not, parentheses,
 * and each test of an attribute (comparison, set, table, regex, owned-by,
 * limit), with the checks that make a test meaningful at its stage.
 * Owns: the expression tree it returns, until the rule takes it.
 * Threads: one load at a time. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tg.h"
#include "tg_addr.h"
#include "tg_check.h"
#include "tg_content.h"
#include "tg_ip.h"
#include "tg_policy.h"
#include "tg_table.h"
#include "conf.h"
#include "conf_parser.h"
#include "conf_limit.h"

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

struct tg_expr *
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

struct tg_expr *
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


/* The table of "table[key]" in a comparison with attribute name (type). */
static void
conf_lookup_table(struct conf_parser *p, struct tg_expr *e,
    const struct conf_tdecl *d, enum tg_attr key, int type, const char *name)
{
	const struct tg_attr_info *k = &tg_attrs[key];
	int line = p->tok.line, col = p->tok.col;
	char use[300];

	if (type == TG_T_IP)
		conf_err(p, line, col, "%s is an ip attribute: looked-up "
		    "values are for numbers, strings and addresses", name);
	else if (d->type == TG_TABLE_LIST)
		conf_err(p, line, col, "list table \"%s\" has no values to "
		    "compare with (use a map)", d->name);
	else if (k->param || k->type == TG_T_BOOL)
		conf_err(p, line, col, "%s cannot be a lookup key", k->name);
	else if (d->type == TG_TABLE_CIDR && k->type != TG_T_IP)
		conf_err(p, line, col, "cidr table \"%s\" looked up with %s, "
		    "which is not an ip attribute", d->name, k->name);
	else if (d->type != TG_TABLE_CIDR && k->type == TG_T_IP)
		conf_err(p, line, col, "map table \"%s\" looked up with %s, "
		    "which is an ip attribute (use a cidr table)", d->name,
		    k->name);
	else if (p->stage >= 0 && ((int)k->first > p->stage ||
	    (int)k->last < p->stage))
		conf_err(p, line, col, "%s is not known at stage %s", k->name,
		    tg_stage_name((enum tg_stage)p->stage));
	else {
		snprintf(use, sizeof use, "%s:%d", p->lx->file, line);
		if (type != TG_T_NUM ||
		    conf_lookup_check_numbers(d->t, p->diag, use) == 0) {
			e->vtable = d->t;
			e->vattr = key;
			tg_policy_use(p->pol, key);
		}
	}
}

/* "table[key] [default VALUE]" as the value of a comparison; the word is
 * current. Returns 0 when it is a plain value, else 1 (errors reported). */
static int
conf_cmp_lookup(struct conf_parser *p, struct tg_expr *e, int type,
    const char *name)
{
	char tname[CONF_NAME_MAX + 1], pr[48];
	const struct conf_tdecl *d;
	enum tg_attr key;
	int rc;

	if ((rc = conf_lookup_split(p->tok.text, tname, sizeof tname,
	    &key)) == 0)
		return 0;
	conf_pr(pr, sizeof pr, p->tok.text);
	if (rc < 0)
		conf_err(p, p->tok.line, p->tok.col, "unknown attribute in "
		    "\"%s\" (quote a value meant literally)", pr);
	else if ((d = conf_decl_find(p, tname)) == NULL)
		conf_err(p, p->tok.line, p->tok.col, "undefined table \"%s\" "
		    "in \"%s\" (quote a value meant literally)", tname, pr);
	else if (d->t != NULL)
		conf_lookup_table(p, e, d, key, type, name);
	conf_next(p);
	if (!conf_tok_is(&p->tok, "default"))
		return 1;
	conf_next(p);
	if (!conf_is_value(p)) {
		conf_expected(p, "a default value");
		return 1;
	}
	e->has_default = 1;
	if (type != TG_T_NUM)
		e->str = conf_tok_take(&p->tok);
	else if (conf_number_parse(p->tok.text, &e->num) < 0)
		conf_err(p, p->tok.line, p->tok.col, "default of number "
		    "attribute %s is not a number: \"%s\"", name,
		    conf_pr(pr, sizeof pr, p->tok.text));
	conf_next(p);
	return 1;
}

/* conf_addr_take - the current token, a value an address attribute is
 * compared with: a quoted local part in the one spelling the session's
 * addresses have (addr.c), so "\"alice\"@example.org" means
 * alice@example.org. */
static char *
conf_addr_take(struct conf_parser *p)
{
	char canon[TG_ADDR_MAX + 1], pr[48];
	size_t len = strlen(p->tok.text);

	if (memchr(p->tok.text, '"', len) == NULL)
		return conf_tok_take(&p->tok);
	if (tg_addr_canon_key(p->tok.text, len, canon, sizeof canon) < 0) {
		conf_err(p, p->tok.line, p->tok.col, "\"%s\" has quotes but "
		    "is not an address with a quoted local part",
		    conf_pr(pr, sizeof pr, p->tok.text));
		return conf_tok_take(&p->tok);
	}
	return tg_xstrdup(canon);
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
	if (p->tok.type == CONF_T_WORD && conf_cmp_lookup(p, e, type, name))
		return e;
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
	if (type == TG_T_ADDR && e->str == NULL)
		e->str = conf_addr_take(p);
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
	if (type == TG_T_ADDR)
		set->str[set->nstr++] = conf_addr_take(p);
	else if (type != TG_T_NUM)
		set->str[set->nstr++] = conf_tok_take(&p->tok);
	else if (conf_number_parse(p->tok.text, &v) < 0)
		conf_err(p, p->tok.line, p->tok.col, "number attribute %s "
		    "compared with a non-number \"%s\"", name, pr);
	else	/* canonical decimal: "10k" and "10240" are one value */
		set->str[set->nstr++] = tg_xasprintf("%lld", v);
}

/* "in { v, ... }"; the '{' is current. A trailing comma is allowed. */
struct tg_expr *
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

struct conf_tdecl *
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
	char name[96], pr[48], msg[200];
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
		if ((e->attr == TG_A_HEADER || e->attr == TG_A_HEADER_OCCURS ||
		    e->attr == TG_A_HEADER_DECODED) &&
		    conf_header_name_check(p->tok.text) < 0)
			conf_err(p, p->tok.line, p->tok.col,
			    "invalid header name \"%s\"", pr);
		if (e->attr == TG_A_DNSLIST && conf_dns_list_use(p->pol,
		    p->tok.text, p->stage, msg, sizeof msg) < 0)
			conf_err(p, p->tok.line, p->tok.col, "%s", msg);
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
		tg_policy_use(p->pol, e->attr);
		if (e->attr == TG_A_HEADER || tg_content_attr(e->attr))
			p->pol->header_used = 1;
		/* Names counted past the session's caps (F1). */
		if (e->attr == TG_A_HEADER || e->attr == TG_A_HEADER_OCCURS ||
		    e->attr == TG_A_HEADER_DECODED)
			e->hname = tg_policy_header_name(p->pol, e->param);
		else if (e->attr == TG_A_HEADER_FROM)
			e->hname = tg_policy_header_name(p->pol, "From");
		else if (e->attr == TG_A_HEADER_SENDER)
			e->hname = tg_policy_header_name(p->pol, "Sender");
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
struct tg_expr *
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
