/* trace.c - the record of how the engine came to a verdict (tg_trace.h):
 * each rule tried and, for each condition, what it read. The values are
 * read the way the engine reads them (engine_impl.h), after it did, so a
 * trace never changes a result: DNS answers, table entries and counters
 * are looked at, not asked again (a rate-limit counter is only read).
 * Only tollgate-test turns tracing on. Owns: the lines of the rule being
 * evaluated. Threads: a trace belongs to one session. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_check.h"
#include "tg_content.h"
#include "tg_lookup.h"
#include "tg_rate.h"
#include "tg_table.h"
#include "tg_trace.h"
#include "engine_impl.h"

#define TRACE_VALUE_MAX	120	/* bytes of a value shown */

void
tg_trace_init(struct tg_trace *t, void (*line)(void *, const char *),
    void *arg)
{
	memset(t, 0, sizeof *t);
	t->line = line;
	t->arg = arg;
}

void
tg_trace_free(struct tg_trace *t)
{
	free(t->buf);
	t->buf = NULL;
	t->len = t->cap = 0;
}

/* trace_hold - one line for the rule being evaluated, sent with it */
static void	trace_hold(struct tg_trace *, const char *, ...)
		    TG_PRINTFLIKE(2, 3);

static void
trace_hold(struct tg_trace *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf != NULL ? t->buf + t->len : NULL,
		    t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		/* Room for the line and its separator. */
		if ((size_t)n + 1 < t->cap - t->len)
			break;
		t->cap = t->cap * 2 + (size_t)n + 256;
		t->buf = tg_xrealloc(t->buf, t->cap);
	}
	t->len += (size_t)n;
	t->buf[t->len++] = '\n';
	t->buf[t->len] = '\0';
}

void
tg_trace_note(struct tg_trace *t, const char *fmt, ...)
{
	char text[512], line[520];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	snprintf(line, sizeof line, "note: %s", text);
	t->line(t->arg, line);
}

/* trace_base - the file name without its directory, so that traces do not
 * depend on where the policy is installed */
static const char *
trace_base(const char *path)
{
	const char *s;

	if (path == NULL)
		return "-";
	return (s = strrchr(path, '/')) != NULL ? s + 1 : path;
}

/* trace_actions - what a matched rule does, as written */
static void
trace_actions(const struct tg_rule *r, char *out, size_t outsz)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < r->nactions && o < outsz; i++) {
		const struct tg_action_spec *a = &r->actions[i];
		int n;

		if (a->type == TG_ACT_REJECT || a->type == TG_ACT_TEMPFAIL)
			n = snprintf(out + o, outsz - o, "%s%s %s %s",
			    i > 0 ? ", " : "", tg_action_name(a->type), a->code,
			    a->xcode);
		else if (a->type == TG_ACT_ADD_HEADER)
			n = snprintf(out + o, outsz - o, "%sadd-header %s",
			    i > 0 ? ", " : "", a->hname);
		else
			n = snprintf(out + o, outsz - o, "%s%s", i > 0 ? ", " :
			    "", tg_action_name(a->type));
		o = n > 0 ? o + (size_t)n : o;
	}
}

void
tg_trace_rule(struct tg_trace *t, const struct tg_rule *r, int result)
{
	char acts[256], line[512];
	char *p, *nl;

	if (result == -2) {
		t->len = 0;
		return;
	}
	if (t->rule != NULL)
		t->rule(t->arg, r, result);
	trace_actions(r, acts, sizeof acts);
	snprintf(line, sizeof line, "rule %s (%s:%d)%s: %s%s%s", r->name,
	    trace_base(r->file), r->line, r->dry_run ? " dry-run" : "",
	    result > 0 ? "matched" : result == 0 ? "no match" :
	    "cannot decide", result > 0 ? " => " : "", result > 0 ? acts : "");
	t->line(t->arg, line);
	for (p = t->buf; p != NULL && p < t->buf + t->len; p = nl + 1) {
		nl = strchr(p, '\n');
		*nl = '\0';
		snprintf(line, sizeof line, "  %s", p);
		t->line(t->arg, line);
	}
	t->len = 0;
}

static const char *const trace_cmp[] = {
	[TG_CMP_EQ] = "==", [TG_CMP_NE] = "!=", [TG_CMP_LT] = "<",
	[TG_CMP_LE] = "<=", [TG_CMP_GT] = ">", [TG_CMP_GE] = ">=",
};

/* trace_attr - the attribute as written: name, and its "parameter" */
static void
trace_attr(enum tg_attr a, const char *param, char *out, size_t outsz)
{
	char p[128];

	if (param != NULL)
		snprintf(out, outsz, "%s \"%s\"", tg_attrs[a].name,
		    tg_str_printable(p, sizeof p, param));
	else
		snprintf(out, outsz, "%s", tg_attrs[a].name);
}

/* trace_set - an inline set, its first members */
static void
trace_set(const struct tg_set *set, char *out, size_t outsz)
{
	char ip[64], v[64];
	size_t o, shown = 0;
	int n;

	o = (size_t)snprintf(out, outsz, "{ ");
	for (size_t i = 0; i < set->nnet && shown < 6 && o < outsz;
	    i++, shown++) {
		n = snprintf(out + o, outsz - o, "%s%s/%d", shown ? ", " : "",
		    tg_ip_format(&set->net[i], ip, sizeof ip), set->prefix[i]);
		o = n > 0 ? o + (size_t)n : o;
	}
	for (size_t i = 0; i < set->nstr && shown < 6 && o < outsz;
	    i++, shown++) {
		n = snprintf(out + o, outsz - o, "%s%s", shown ? ", " : "",
		    tg_str_printable(v, sizeof v, set->str[i]));
		o = n > 0 ? o + (size_t)n : o;
	}
	if (o < outsz)
		snprintf(out + o, outsz - o, "%s }",
		    shown < set->nnet + set->nstr ? ", ..." : "");
}

void
tg_trace_expr(const struct tg_expr *e, char *out, size_t outsz)
{
	char a[160], rhs[256], k[160];

	trace_attr(e->attr, e->param, a, sizeof a);
	switch (e->op) {
	case TG_E_BOOL:
		snprintf(out, outsz, "%s", a);
		break;
	case TG_E_CMP:
		if (e->vtable != NULL) {
			trace_attr(e->vattr, NULL, k, sizeof k);
			snprintf(rhs, sizeof rhs, "%s[%s]",
			    tg_table_name(e->vtable), k);
		} else if (tg_attrs[e->attr].type == TG_T_NUM)
			snprintf(rhs, sizeof rhs, "%lld", e->num);
		else
			snprintf(rhs, sizeof rhs, "\"%s\"",
			    tg_str_printable(k, sizeof k, e->str));
		snprintf(out, outsz, "%s %s %s", a, trace_cmp[e->cmp], rhs);
		break;
	case TG_E_IN_TABLE:
		snprintf(out, outsz, "%s in %s", a, tg_table_name(e->table));
		break;
	case TG_E_IN_SET:
		trace_set(e->set, rhs, sizeof rhs);
		snprintf(out, outsz, "%s in %s", a, rhs);
		break;
	case TG_E_MATCH:
		snprintf(out, outsz, "%s matches \"%s\"", a,
		    tg_str_printable(k, sizeof k, e->str));
		break;
	case TG_E_OWNED_BY:
		snprintf(out, outsz, "%s owned-by %s", a,
		    tg_table_name(e->table));
		break;
	case TG_E_LIMIT:
		snprintf(out, outsz, "limit %s exceeded", e->limit != NULL ?
		    e->limit->name : "?");
		break;
	default:
		snprintf(out, outsz, "%s", tg_attrs[e->attr].name);
		break;
	}
}

/* trace_value - attribute attr of e as the engine reads it: "name=value",
 * or "name unknown" */
static void
trace_value(const struct engine_ctx *c, const struct tg_expr *e,
    enum tg_attr attr, char *out, size_t outsz)
{
	struct tg_expr ke = *e;
	char a[160], v[TRACE_VALUE_MAX + 1], ip[64];
	const char *s;
	struct tg_ip addr;
	long long n;

	/* The key attribute of a lookup is read as a plain one. */
	ke.attr = attr;
	if (attr != e->attr)
		ke.param = NULL;
	trace_attr(attr, ke.param, a, sizeof a);
	switch (tg_attrs[attr].type) {
	case TG_T_NUM:
		if ((tg_content_attr(attr) ? tg_content_num(c->s, &c->cur, &ke,
		    &n) : engine_num(c, attr, &n)) != 0)
			snprintf(out, outsz, "%s unknown", a);
		else
			snprintf(out, outsz, "%s=%lld", a, n);
		return;
	case TG_T_IP:
		if (engine_ip(c, attr, &addr) != 0)
			snprintf(out, outsz, "%s unknown", a);
		else
			snprintf(out, outsz, "%s=%s", a,
			    tg_ip_format(&addr, ip, sizeof ip));
		return;
	case TG_T_BOOL:
		snprintf(out, outsz, "%s=%s", a, engine_bool(c, &ke) ? "yes" :
		    "no");
		return;
	default:
		if ((s = engine_str(c, &ke)) == NULL)
			snprintf(out, outsz, "%s unknown", a);
		else
			snprintf(out, outsz, "%s=\"%s%s\"", a,
			    tg_str_printable(v, sizeof v, s),
			    strlen(s) >= sizeof v ? "..." : "");
		return;
	}
}

/* trace_table - a table lookup: hit (with the entry's value) or miss */
static void
trace_table(const struct engine_ctx *c, const struct tg_expr *e, int r,
    char *out, size_t outsz)
{
	const char *val = NULL, *s;
	char v[TRACE_VALUE_MAX + 1];

	if (r < 0) {
		snprintf(out, outsz, "%s: lookup failed",
		    tg_table_name(e->table));
		return;
	}
	if (r == 1) {
		if (e->attr != TG_A_HEADER && !tg_content_attr(e->attr))
			(void)tg_lookup_attr(c->s, e->attr, e->table, &val);
		else if ((s = engine_str(c, e)) != NULL)
			(void)tg_table_lookup(e->table, s, &val);
	}
	if (r == 1 && val != NULL && *val != '\0')
		snprintf(out, outsz, "%s: hit, value \"%s\"",
		    tg_table_name(e->table), tg_str_printable(v, sizeof v,
		    val));
	else
		snprintf(out, outsz, "%s: %s", tg_table_name(e->table),
		    r == 1 ? "hit" : "no entry");
}

/* trace_lookup_value - what a comparison with TABLE[KEY] compared with */
static void
trace_lookup_value(const struct engine_ctx *c, const struct tg_expr *e,
    char *out, size_t outsz)
{
	const char *str = NULL;
	char k[256], v[TRACE_VALUE_MAX + 1];
	long long num = 0;
	int rc;

	trace_value(c, e, e->vattr, k, sizeof k);
	rc = tg_content_attr(e->vattr) ? tg_content_lookup_value(c->s,
	    &c->cur, e, &num, &str) : tg_lookup_value(c->s, e, &num, &str);
	if (rc < 0)
		snprintf(out, outsz, "%s; %s: entry not a number", k,
		    tg_table_name(e->vtable));
	else if (rc == 0)
		snprintf(out, outsz, "%s; %s: no entry and no default", k,
		    tg_table_name(e->vtable));
	else if (tg_attrs[e->attr].type == TG_T_NUM)
		snprintf(out, outsz, "%s; compared with %lld", k, num);
	else
		snprintf(out, outsz, "%s; compared with \"%s\"", k,
		    str != NULL ? tg_str_printable(v, sizeof v, str) : "");
}

/* trace_details - the values behind e's result r */
static void
trace_details(const struct engine_ctx *c, const struct tg_expr *e, int r,
    char *out, size_t outsz)
{
	char val[256], more[512];

	if (tg_content_suspicious(&c->cur, e)) {
		snprintf(out, outsz, "unreadable MIME part, taken as true");
		return;
	}
	if (r < 0 && tg_content_header_lost(c->rw, e)) {
		snprintf(out, outsz, "the header was not kept (past %d "
		    "fields or %d KiB): cannot decide", TG_HEADER_MAX_COUNT,
		    TG_HEADER_MAX_BYTES / 1024);
		return;
	}
	if (e->op == TG_E_LIMIT) {
		if (e->limit != NULL)
			tg_rate_describe(c->s, e->limit, c->stage, out, outsz);
		else
			snprintf(out, outsz, "no such limit");
		return;
	}
	trace_value(c, e, e->attr, val, sizeof val);
	more[0] = '\0';
	if (tg_check_computed(e->attr) && c->p != NULL)
		tg_check_describe(c->p, c->s, e->attr, e->param, more,
		    sizeof more);
	else if (e->op == TG_E_IN_TABLE)
		trace_table(c, e, r, more, sizeof more);
	else if (e->op == TG_E_CMP && e->vtable != NULL)
		trace_lookup_value(c, e, more, sizeof more);
	else if (e->op == TG_E_OWNED_BY)
		trace_value(c, e, TG_A_SASL_CANONICAL, more, sizeof more);
	else if (e->attr == TG_A_HELO_VALID || e->attr == TG_A_HELO_FQDN ||
	    e->attr == TG_A_HELO_BARE_IP || e->attr == TG_A_HELO_OURS)
		trace_value(c, e, TG_A_HELO, more, sizeof more);
	snprintf(out, outsz, "%s%s%s", val, more[0] != '\0' ? "; " : "",
	    more);
}

void
tg_trace_leaf(struct tg_trace *t, const struct engine_ctx *c,
    const struct tg_expr *e, int r)
{
	char expr[512], details[1024], part[300], name[160];
	const struct tg_mime_part *pt = c->cur.part;

	tg_trace_expr(e, expr, sizeof expr);
	trace_details(c, e, r, details, sizeof details);
	part[0] = '\0';
	if (pt != NULL)
		snprintf(part, sizeof part, "[part %s%s%s%s] ",
		    pt->type[0] != '\0' ? pt->type : "unknown type",
		    c->cur.name < pt->nnames ? " \"" : "",
		    c->cur.name < pt->nnames ? tg_str_printable(name,
		    sizeof name, pt->names[c->cur.name].name) : "",
		    c->cur.name < pt->nnames ? "\"" : "");
	trace_hold(t, "%d:%d %s%s -> %s (%s)", e->line, e->col, part, expr,
	    r > 0 ? "true" : r == 0 ? "false" : "undecided", details);
}
