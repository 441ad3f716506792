/* engine.c - evaluate one stage's rules for one session: first terminal
 * action wins. Conditions are tri-state (-1 cannot decide, 0 no, 1 yes);
 * -1 comes from a failed table lookup and becomes a 451 4.3.0 tempfail,
 * never an accept. Threads: no locks; the policy is read-only and the
 * session belongs to the calling connection. */
#include "config.h"

#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tg.h"
#include "tg_auth.h"
#include "tg_check.h"
#include "tg_content.h"
#include "tg_dkim.h"
#include "tg_engine.h"
#include "tg_grey.h"
#include "tg_log.h"
#include "tg_metrics.h"
#include "tg_ops.h"
#include "tg_rate.h"
#include "tg_lookup.h"
#include "tg_reply.h"
#include "tg_session.h"
#include "tg_trace.h"
#include "engine_impl.h"

#define ENGINE_TEXT_MAX	2048	/* an expanded template: room for an
				 * Authentication-Results with 8 DKIM results */

static int
engine_cmp_result(enum tg_cmp cmp, int order)
{
	switch (cmp) {
	case TG_CMP_EQ: return order == 0;
	case TG_CMP_NE: return order != 0;
	case TG_CMP_LT: return order < 0;
	case TG_CMP_LE: return order <= 0;
	case TG_CMP_GT: return order > 0;
	case TG_CMP_GE: return order >= 0;
	}
	return 0;
}

/* engine_cmp_num - compare a number attribute (of the message or of the
 * attachment being tested) with want; unknown: only "!=" holds. */
static int
engine_cmp_num(const struct engine_ctx *c, const struct tg_expr *e,
    long long want)
{
	long long n;

	if ((tg_content_attr(e->attr) ?
	    tg_content_num(c->s, &c->cur, e, &n) :
	    engine_num(c, e->attr, &n)) != 0)
		return e->cmp == TG_CMP_NE;
	return engine_cmp_result(e->cmp, n < want ? -1 : n > want ? 1 : 0);
}

/* engine_cmp_lookup - compare with a value looked up in a table. */
static int
engine_cmp_lookup(const struct engine_ctx *c, const struct tg_expr *e)
{
	const char *v, *rhs = NULL;
	long long want = 0;
	int rc;

	if ((rc = tg_content_attr(e->vattr) ?
	    tg_content_lookup_value(c->s, &c->cur, e, &want, &rhs) :
	    tg_lookup_value(c->s, e, &want, &rhs)) <= 0)
		return rc < 0 ? -1 : e->cmp == TG_CMP_NE;
	if (tg_attrs[e->attr].type == TG_T_NUM)
		return engine_cmp_num(c, e, want);
	if ((v = engine_str(c, e)) == NULL || rhs == NULL)
		return e->cmp == TG_CMP_NE;
	return engine_cmp_result(e->cmp, strcasecmp(v, rhs));
}

static int
engine_cmp(const struct engine_ctx *c, const struct tg_expr *e)
{
	struct tg_ip ip, lit;
	const char *v;

	if (e->vtable != NULL)
		return engine_cmp_lookup(c, e);

	/* Unknown values: only "!=" holds. */
	if (tg_attrs[e->attr].type == TG_T_NUM)
		return engine_cmp_num(c, e, e->num);
	if (tg_attrs[e->attr].type == TG_T_IP &&
	    tg_ip_parse(e->str, &lit) == 0) {
		if (engine_ip(c, e->attr, &ip) != 0)
			return e->cmp == TG_CMP_NE;
		return engine_cmp_result(e->cmp, ip.family != lit.family ||
		    memcmp(ip.b, lit.b, sizeof ip.b) != 0);
	}
	if ((v = engine_str(c, e)) == NULL)
		return e->cmp == TG_CMP_NE;
	return engine_cmp_result(e->cmp, strcasecmp(v, e->str));
}

static int
engine_in_table(const struct engine_ctx *c, const struct tg_expr *e)
{
	const char *v;

	if (e->attr != TG_A_HEADER && !tg_content_attr(e->attr))
		return tg_lookup_attr(c->s, e->attr, e->table, NULL);
	if ((v = engine_str(c, e)) == NULL)
		return 0;
	return tg_table_lookup(e->table, v, NULL);
}

static int
engine_in_set(const struct engine_ctx *c, const struct tg_expr *e)
{
	const struct tg_set *set = e->set;
	struct tg_ip ip;
	const char *v;

	if (tg_attrs[e->attr].type == TG_T_IP) {
		if (engine_ip(c, e->attr, &ip) != 0)
			return 0;
		for (size_t i = 0; i < set->nnet; i++)
			if (tg_ip_in_prefix(&ip, &set->net[i], set->prefix[i]))
				return 1;
		return 0;
	}
	if ((v = engine_str(c, e)) == NULL)
		return 0;
	for (size_t i = 0; i < set->nstr; i++)
		if (strcasecmp(v, set->str[i]) == 0)
			return 1;
	return 0;
}

static int
engine_match(const struct engine_ctx *c, const struct tg_expr *e)
{
	pcre2_match_data *md;
	char buf[64];
	const char *v;
	int rc;

	if (tg_attrs[e->attr].type == TG_T_IP) {
		struct tg_ip ip;

		if (engine_ip(c, e->attr, &ip) != 0)
			return 0;
		v = tg_ip_format(&ip, buf, sizeof buf);
	} else if ((v = engine_str(c, e)) == NULL)
		return 0;
	if ((md = pcre2_match_data_create(1, NULL)) == NULL)
		return -1;
	rc = pcre2_match(e->re, (PCRE2_SPTR)v, strlen(v), 0, 0, md, NULL);
	pcre2_match_data_free(md);
	if (rc >= 0)
		return 1;
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	/* Match limits hit or similar: cannot decide. */
	tg_log_warnx("%s: regular expression at line %d failed (pcre2 %d)",
	    c->s->id, e->line, rc);
	return -1;
}

/* engine_computed - look up a DNS or HELO attribute that e reads, when
 * a rule first reaches it (tg_check.h); 0, or -1 if it cannot be
 * decided. */
static int
engine_computed(const struct engine_ctx *c, const struct tg_expr *e)
{
	const char *why;

	int dkim;

	if (e->op < TG_E_BOOL || c->p == NULL)
		return 0;
	dkim = tg_dkim_attr(e->attr);
	if (!dkim && !tg_check_computed(e->attr))
		return 0;
	if ((dkim ? tg_dkim_check(c->p, c->rw, e->attr, e->param, &why) :
	    tg_check_eval(c->p, c->rw, e->attr, e->param, &why)) == 0)
		return 0;
	tg_log_warnx("%s: %s at line %d: %s", c->s->id,
	    tg_attrs[e->attr].name, e->line, why);
	*c->dns_failed = 1;
	return -1;
}

/* engine_test - engine_impl.h */
int
engine_test(const struct engine_ctx *c, const struct tg_expr *e)
{
	switch (e->op) {
	case TG_E_BOOL:
		return engine_bool(c, e);
	case TG_E_CMP:
		return engine_cmp(c, e);
	case TG_E_IN_TABLE:
		return engine_in_table(c, e);
	case TG_E_IN_SET:
		return engine_in_set(c, e);
	case TG_E_MATCH:
		return engine_match(c, e);
	case TG_E_OWNED_BY:
		return tg_auth_owned(c->p, c->s, e);
	default:
		return -1;
	}
}

/* engine_leaf - a condition on an attribute or a limit: 1 true, 0 false,
 * -1 cannot decide. */
static inline int
engine_leaf(const struct engine_ctx *c, const struct tg_expr *e)
{
	/* Facts of a part lost to malformed MIME: assume the worst. */
	if (tg_content_suspicious(&c->cur, e))
		return 1;
	/* A header past the session's caps that could change the answer. */
	if (tg_content_header_lost(c->rw, e))
		return -1;
	if (engine_computed(c, e) < 0)
		return -1;
	if (e->op == TG_E_LIMIT)
		return e->limit != NULL ? tg_rate_check(c->rw, e->limit,
		    c->stage) : -1;
	return engine_test(c, e);
}

/* engine_expr - evaluate e: 1 true, 0 false, -1 cannot decide. */
static int
engine_expr(const struct engine_ctx *c, const struct tg_expr *e)
{
	int l, r;

	switch (e->op) {
	case TG_E_TRUE:
		return 1;
	case TG_E_FALSE:
		return 0;
	case TG_E_AND:
		if ((l = engine_expr(c, e->left)) == 0)
			return 0;
		if ((r = engine_expr(c, e->right)) == 0)
			return 0;
		return l < 0 || r < 0 ? -1 : 1;
	case TG_E_OR:
		if ((l = engine_expr(c, e->left)) == 1)
			return 1;
		if ((r = engine_expr(c, e->right)) == 1)
			return 1;
		return l < 0 || r < 0 ? -1 : 0;
	case TG_E_NOT:
		l = engine_expr(c, e->left);
		return l < 0 ? -1 : !l;
	default:
		r = engine_leaf(c, e);
		/* Tracing (tollgate-test -v) costs the daemon this test. */
		if (c->s->trace != NULL)
			tg_trace_leaf(c->s->trace, c, e, r);
		return r;
	}
}

/* engine_var - value of a template variable, or NULL if unknown. */
static const char *
engine_var(const struct tg_policy *p, struct tg_session *s,
    const struct tg_rule *r, const char *name, size_t len, char *buf,
    size_t bufsz)
{
	const char *v;

#define IS(n)	(len == sizeof(n) - 1 && strncmp(name, n, len) == 0)
	if (IS("client_address"))
		return s->client_ip_ok ?
		    tg_ip_format(&s->client_ip, buf, bufsz) :
		    s->val[TG_A_CLIENT_ADDRESS];
	if (IS("client_name"))
		return s->val[TG_A_CLIENT_NAME];
	if (IS("helo"))
		return s->val[TG_A_HELO];
	if (IS("sender"))
		return s->val[TG_A_SENDER] != NULL &&
		    *s->val[TG_A_SENDER] == '\0' ? "<>" : s->val[TG_A_SENDER];
	if (IS("rcpt"))
		return s->val[TG_A_RCPT];
	if (IS("login"))
		return s->val[TG_A_SASL_LOGIN];
	if (IS("rule"))
		return r->name;
	if (IS("queue_id"))
		return s->queue_id;
	if (IS("listener"))
		return s->val[TG_A_LISTENER_NAME] != NULL ?
		    s->val[TG_A_LISTENER_NAME] : s->val[TG_A_LISTENER_PORT];
	if (IS("greylist_wait"))
		return tg_grey_wait_var(s, buf, bufsz);
#undef IS
	if (p == NULL)
		return NULL;
	if ((v = tg_dkim_var(p, s, name, len)) != NULL)
		return v;
	return tg_check_var(p, s, name, len);
}

/* engine_expand - copy template t into out with ${variables} replaced.
 * Returns 0, or -1 when the result did not fit and was cut. */
static int
engine_expand(const struct tg_policy *p, struct tg_session *s,
    const struct tg_rule *r, const char *t, char *out, size_t outsz)
{
	size_t o = 0;

	out[0] = '\0';
	while (t != NULL && *t != '\0') {
		const char *end, *v;
		char buf[64];

		if (o + 1 >= outsz) {
			out[o] = '\0';
			return -1;
		}
		if (t[0] != '$' || t[1] != '{' ||
		    (end = strchr(t + 2, '}')) == NULL) {
			out[o++] = *t++;
			continue;
		}
		v = engine_var(p, s, r, t + 2, (size_t)(end - t - 2), buf,
		    sizeof buf);
		o += tg_strlcpy(out + o, v != NULL ? v : "unknown", outsz - o);
		if (o >= outsz) {
			out[outsz - 1] = '\0';
			return -1;
		}
		t = end + 1;
	}
	out[o] = '\0';
	return 0;
}

static void
engine_add_header(struct tg_session *s, const char *name, const char *value)
{
	char clean[ENGINE_TEXT_MAX];
	size_t o = 0;

	/* A header value must not break the header block: drop CR, LF and
	 * other control bytes (a tab is allowed). */
	for (; *value != '\0' && o + 1 < sizeof clean; value++)
		if ((unsigned char)*value >= 0x20 || *value == '\t')
			clean[o++] = *value;
	clean[o] = '\0';
	if (s->nadd == s->addcap) {
		s->addcap = s->addcap ? s->addcap * 2 : 4;
		s->add_hdrs = tg_xrealloc(s->add_hdrs,
		    s->addcap * sizeof *s->add_hdrs);
	}
	s->add_hdrs[s->nadd].name = tg_xstrdup(name);
	s->add_hdrs[s->nadd].value = tg_xstrdup(clean);
	s->add_hdrs[s->nadd].decoded = NULL;
	s->nadd++;
}

static void
engine_log_rule(const struct tg_session *s, const struct tg_rule *r,
    const char *what, const char *text)
{
	char p[512];

	tg_log_info("%s: %s: stage=%s rule=%s %s%s%s", s->id,
	    s->queue_id != NULL ? s->queue_id : "NOQUEUE",
	    tg_stage_name(r->stage), r->name, what, *text ? " " : "",
	    tg_str_printable(p, sizeof p, text));
}

/* engine_dry_run - log what a matched dry-run rule would have done. */
static void
engine_dry_run(const struct tg_session *s, const struct tg_rule *r,
    const struct tg_action_spec *a, const char *text)
{
	char what[64];

	if (a->type == TG_ACT_REJECT || a->type == TG_ACT_TEMPFAIL)
		snprintf(what, sizeof what, "dry-run: would %s %s %s",
		    tg_action_name(a->type), a->code, a->xcode);
	else
		snprintf(what, sizeof what, "dry-run: would %s",
		    tg_action_name(a->type));
	engine_log_rule(s, r, what, text);
}

/* engine_greylist - the action greylist: 1 when it defers (v filled
 * in: 451 4.7.1, or 451 4.3.0 when the store failed and the greylist
 * fails closed), 0 when the mail passes and evaluation goes on. In a
 * dry-run rule the state is kept and the deferral only logged. */
static int
engine_greylist(const struct tg_policy *p, struct tg_session *s,
    const struct tg_rule *r, const struct tg_action_spec *a,
    enum tg_stage stage, struct tg_verdict *v)
{
	char text[ENGINE_TEXT_MAX];

	switch (tg_grey_apply(p, s, a->grey, stage, r->dry_run)) {
	case TG_GREY_PASS:
		if (r->dry_run)
			v->dry_run = 1;
		return 0;
	case TG_GREY_FAIL:
		tg_reply_internal(v, "Greylisting unavailable, try again "
		    "later");
		v->internal = 1;	/* enforced in dry runs */
		break;
	case TG_GREY_DEFER:
		(void)engine_expand(p, s, r, a->text != NULL ? a->text :
		    "Greylisted, please try again in ${greylist_wait} seconds",
		    text, sizeof text);
		/* RFC 6647 and the anchors: a deferral, never a 5xx. */
		tg_reply_set(v, TG_ACT_TEMPFAIL, "451", "4.7.1", text);
		v->greylisted = 1;
		break;
	}
	tg_strlcpy(v->rule, r->name, sizeof v->rule);
	return 1;
}

/* engine_apply - carry out a matched rule's actions. Returns 1 when one
 * was terminal (v filled in), 0 when evaluation goes on. */
static int
engine_apply(const struct tg_policy *p, struct tg_session *s,
    const struct tg_rule *r, enum tg_stage stage, struct tg_verdict *v)
{
	char text[ENGINE_TEXT_MAX];

	for (size_t i = 0; i < r->nactions; i++) {
		const struct tg_action_spec *a = &r->actions[i];
		int cut;

		/* Its reply needs the check's outcome first. */
		if (a->type == TG_ACT_GREYLIST) {
			if (engine_greylist(p, s, r, a, stage, v))
				return 1;
			continue;
		}
		cut = engine_expand(p, s, r, a->text, text, sizeof text);
		if (r->dry_run) {
			engine_dry_run(s, r, a, text);
			v->dry_run = 1;
			continue;
		}
		switch (a->type) {
		case TG_ACT_CONTINUE:
			continue;
		case TG_ACT_WARN:
			engine_log_rule(s, r, "warn:", text);
			continue;
		case TG_ACT_DKIM_SIGN:
			/* Signed by the glue after every header change. */
			tg_dkim_sign_request(s);
			continue;
		case TG_ACT_GREYLIST:	/* above */
			continue;
		case TG_ACT_ADD_HEADER:
			/* A structured header cut short (an open quoted
			 * string in Authentication-Results) could say
			 * something else: rather none, and a log line. */
			if (cut)
				engine_log_rule(s, r, "header not added, "
				    "longer than the limit:", a->hname);
			else
				engine_add_header(s, a->hname, text);
			continue;
		case TG_ACT_ACCEPT:
			if (stage == TG_STAGE_CONNECT)
				s->conn_accepted = 1;
			else if (stage == TG_STAGE_HELO)
				s->helo_accepted = 1;	/* until a new HELO */
			else
				s->msg_accepted = 1;
			v->action = TG_ACT_ACCEPT;
			break;
		case TG_ACT_REJECT:
		case TG_ACT_TEMPFAIL:
			tg_reply_set(v, a->type, a->code, a->xcode, text);
			break;
		case TG_ACT_DISCARD:
			s->discard = 1;
			s->msg_accepted = 1;
			v->action = TG_ACT_DISCARD;
			break;
		case TG_ACT_QUARANTINE:
			/* Held for a person to look at: later rules of
			 * this message no longer matter. */
			free(s->quarantine);
			s->quarantine = tg_xstrdup(text);
			s->msg_accepted = 1;
			v->action = TG_ACT_QUARANTINE;
			break;
		}
		tg_strlcpy(v->rule, r->name, sizeof v->rule);
		return 1;
	}
	if (r->dry_run)
		tg_strlcpy(v->rule, r->name, sizeof v->rule);
	return 0;
}

/* engine_auth - at MAIL: the canonical login under the pinned policy's
 * realm; a login the MTA reported but we cannot use is a tempfail, never
 * "unauthenticated" (which a submission policy answers with 5xx) nor
 * "authenticated" (which it must not be without a usable name). */
static int
engine_auth(const struct tg_policy *p, struct tg_session *s,
    struct tg_verdict *v)
{
	tg_auth_derive(p, s);
	if (!s->login_bad)
		return 0;
	tg_reply_set(v, TG_ACT_TEMPFAIL, "451", "4.7.0",
	    "SASL login not usable, try again later");
	v->internal = 1;
	tg_log_warnx("%s: the MTA's SASL login is not usable (control "
	    "bytes, invalid UTF-8 or longer than %d bytes); tempfail", s->id,
	    TG_LOGIN_MAX);
	return 1;
}

/* engine_rule - a rule over attachments runs once per leaf part and file
 * name, and matches when it matches for any of them. */
static int
engine_rule(struct engine_ctx *c, const struct tg_rule *r)
{
	const struct tg_mime *mime = c->s->mime;
	const struct tg_mime_part *part;
	char pr[128];
	int m, res = 0;

	if (c->stage != TG_STAGE_EOM || mime == NULL ||
	    tg_mime_nparts(mime) == 0 || !tg_content_per_part(r->cond))
		return engine_expr(c, r->cond);
	for (size_t i = 0; res != 1 && i < tg_mime_nparts(mime); i++) {
		part = tg_mime_part(mime, i);
		for (size_t j = 0; j == 0 || j < part->nnames; j++) {
			c->cur.part = part;
			c->cur.name = j;
			if ((m = engine_expr(c, r->cond)) < 0)
				res = -1;
			if (m != 1)
				continue;
			res = 1;
			tg_log_info("%s: rule=%s: part %zu type=%s name=\"%s\"%s",
			    c->s->id, r->name, i + 1, part->type[0] != '\0' ?
			    part->type : "unknown", j < part->nnames ?
			    tg_str_printable(pr, sizeof pr,
			    part->names[j].name) : "", part->opaque ?
			    " (unparsable, taken as suspicious)" : "");
			break;
		}
	}
	c->cur.part = NULL;
	return res;
}

/* engine_verdict_init - CONTINUE, every text empty. Field by field: a
 * memset of the whole verdict (its reply text buffer), twice per stage,
 * was a tenth of the rule walk's instructions. */
static void
engine_verdict_init(struct tg_verdict *v)
{
	v->action = TG_ACT_CONTINUE;
	v->code[0] = v->xcode[0] = v->text[0] = v->rule[0] = '\0';
	v->limit[0] = '\0';
	v->dry_run = v->internal = v->greylisted = 0;
}

/* engine_keep - a connect or helo refusal, kept for the later commands */
static void
engine_keep(struct tg_verdict **keep, const struct tg_verdict *v)
{
	if (*keep == NULL)
		*keep = tg_xmalloc(sizeof **keep);
	**keep = *v;
}

/* engine_stage - walk one stage's rules */
static enum tg_action
engine_stage(const struct tg_policy *p, struct tg_session *s,
    enum tg_stage stage, struct tg_verdict *v)
{
	int dns_failed = 0;
	struct engine_ctx c = { p, s, stage, (long long)s->rcpt_count + 1,
	    s, &dns_failed, { NULL, 0 } };
	const char *lim;

	engine_verdict_init(v);
	if (stage == TG_STAGE_MAIL)
		s->in_message = 1;
	tg_rate_stage_begin(s);
	if (stage == TG_STAGE_MAIL && engine_auth(p, s, v))
		return v->action;
	if (stage == TG_STAGE_EOM && p != NULL)
		(void)tg_session_mime(s, p);	/* end of the body */
	if (p != NULL && !s->conn_accepted &&
	    !(stage >= TG_STAGE_HELO && s->helo_accepted) &&
	    !(stage >= TG_STAGE_MAIL && s->msg_accepted)) {
		for (size_t i = 0; i < p->nrules[stage]; i++) {
			const struct tg_rule *r = &p->rules[stage][i];
			int m;

			tg_rate_clear_tripped(s);
			dns_failed = 0;
			if (s->trace != NULL)
				tg_trace_rule(s->trace, r, -2);
			m = engine_rule(&c, r);
			if (s->trace != NULL)
				tg_trace_rule(s->trace, r, m);
			/* The verdict line names the limit that tripped. */
			if (m != 0 && (lim = tg_rate_tripped(s)) != NULL)
				tg_strlcpy(v->limit, lim, sizeof v->limit);
			if (m < 0 && dns_failed)
				/* RFC 7372 and Postfix: 4.7.x for a DNS
				 * check that could not be made. */
				tg_reply_set(v, TG_ACT_TEMPFAIL, "451", "4.7.1",
				    "Temporary DNS lookup failure, try again "
				    "later");
			else if (m < 0)
				/* Never accept what could not be checked. */
				tg_reply_internal(v, "Temporary lookup "
				    "failure, try again later");
			tg_metrics_rule(r, m, tg_ops_dry_run(p));
			if (m < 0) {
				v->internal = 1;	/* enforced in dry runs */
				tg_strlcpy(v->rule, r->name, sizeof v->rule);
				engine_log_rule(s, r, "lookup failed:",
				    dns_failed ? "tempfail 451 4.7.1" :
				    "tempfail 451 4.3.0");
				break;
			}
			if (m == 1 && engine_apply(p, s, r, stage, v)) {
				if (v->limit[0] != '\0' && !tg_ops_dry_run(p))
					tg_metrics_limit(p, v->limit,
					    v->action);
				break;
			}
			if (m == 1 && !r->dry_run)	/* warn, add-header */
				v->limit[0] = '\0';
		}
	} else if (s->trace != NULL && p != NULL)
		tg_trace_note(s->trace, s->conn_accepted ? "accepted at "
		    "connect: no rule runs for this connection" :
		    stage >= TG_STAGE_HELO && s->helo_accepted ? "accepted "
		    "at helo: no rule runs until the next HELO/EHLO" :
		    "message accepted: no rule runs until its end");
	/* Count what this stage accepted; a failed store may turn the
	 * verdict into a tempfail. */
	tg_rate_stage_end(p, s, stage, v);
	if (stage <= TG_STAGE_HELO && (v->action == TG_ACT_REJECT ||
	    v->action == TG_ACT_TEMPFAIL))
		engine_keep(stage == TG_STAGE_CONNECT ? &s->conn_verdict :
		    &s->helo_verdict, v);
	/* Count recipients at RCPT, not at EOM: limits must bite before
	 * DATA. Refused recipients do not count. */
	if (stage == TG_STAGE_RCPT && v->action != TG_ACT_REJECT &&
	    v->action != TG_ACT_TEMPFAIL) {
		s->rcpt_count++;
		/* For greylisting at data or eom: the message's triplets. */
		tg_grey_rcpt_note(p, s);
	}
	return v->action;
}

enum tg_action
tg_engine_eval(const struct tg_policy *p, struct tg_session *s,
    enum tg_stage stage, struct tg_verdict *v)
{
	engine_verdict_init(v);
	/* A connection refused at connect stays refused: the MTA could not
	 * be given its reply then, and nothing the client says later
	 * changes its address. */
	if (s->conn_verdict != NULL && stage > TG_STAGE_CONNECT) {
		*v = *s->conn_verdict;
		if (s->trace != NULL)
			tg_trace_note(s->trace, "the connect refusal (rule %s) "
			    "holds for the whole connection", v->rule);
		return v->action;
	}
	if (stage == TG_STAGE_HELO) {
		/* RFC 5321 4.1.4: a new HELO or EHLO starts the session
		 * over; the name is judged afresh, what the last one got
		 * (refusal or accept) is forgotten. */
		s->helo_verdict = tg_free(s->helo_verdict);
		s->helo_accepted = 0;
		s->helo_seen = 1;
	} else if (stage == TG_STAGE_MAIL && !s->helo_seen) {
		/* A client that sends no HELO/EHLO must not skip the helo
		 * rules: they run now, with helo unknown (so "not
		 * helo.valid" holds), and a refusal answers MAIL. */
		tg_log_debug("%s: MAIL without HELO/EHLO: helo rules run "
		    "with helo unknown", s->id);
		if (s->trace != NULL)
			tg_trace_note(s->trace, "MAIL without HELO/EHLO: the "
			    "helo rules run first, with helo unknown");
		s->helo_seen = 1;
		(void)engine_stage(p, s, TG_STAGE_HELO, v);
		if (v->action == TG_ACT_REJECT || v->action == TG_ACT_TEMPFAIL)
			return v->action;
	}
	/* A HELO refusal holds until the next HELO/EHLO. */
	if (s->helo_verdict != NULL && stage > TG_STAGE_HELO) {
		*v = *s->helo_verdict;
		if (s->trace != NULL)
			tg_trace_note(s->trace, "the helo refusal (rule %s) "
			    "holds until the next HELO/EHLO", v->rule);
		return v->action;
	}
	return engine_stage(p, s, stage, v);
}
