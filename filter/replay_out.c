/* replay_out.c - what tollgate-test prints for a step (its reply, the
 * verdict behind it, the lines under it) and the checking of the step's
 * expectations, with a diff for each that does not hold. Owns: nothing.
 * Threads: single-threaded program. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tg.h"
#include "tg_engine.h"
#include "tg_policy.h"
#include "tg_rate.h"
#include "replay.h"
#include "replay_impl.h"

/* ---- output and expectations --------------------------------------------- */

/* replay_verdict - "[reject rule=no-relay]": what decided the reply */
void
replay_verdict(const struct run *r, char *out, size_t outsz)
{
	const struct tg_verdict *v = &r->v;

	if (!r->asked) {
		snprintf(out, outsz, "[mta%s]", r->note != NULL ? r->note : "");
		return;
	}
	snprintf(out, outsz, "[%s%s%s%s%s%s%s%s]", tg_action_name(v->action),
	    v->rule[0] != '\0' ? " rule=" : "", v->rule,
	    v->limit[0] != '\0' ? " limit=" : "", v->limit,
	    v->dry_run ? " dry-run" : "", v->internal && v->rule[0] == '\0' &&
	    v->action != TG_ACT_CONTINUE ? " internal" : "",
	    r->note != NULL ? r->note : "");
}

/* replay_step_text - the step as written */
/* replay_step_text - the step as written; for the end of a message (eom),
 * "." and what the message was */
void
replay_step_text(const struct replay_step *st, char *out, size_t outsz,
    int eom)
{
	size_t o;

	if (eom) {
		if (st->msg != NULL)
			o = (size_t)snprintf(out, outsz, ". (%zu header%s, %zu "
			    "body bytes", st->msg->nhdr, st->msg->nhdr == 1 ?
			    "" : "s", st->msg->bodylen);
		else
			o = (size_t)snprintf(out, outsz, ". (%s",
			    st->file != NULL ? st->file : "");
		if (o < outsz && st->pad > 0)
			o += (size_t)snprintf(out + o, outsz - o, ", %lld "
			    "bytes of padding", st->pad);
		if (o < outsz)
			snprintf(out + o, outsz - o, ")");
		return;
	}
	o = (size_t)snprintf(out, outsz, "%s", st->word);
	for (size_t i = 0; i < st->narg && o < outsz; i++) {
		int n = snprintf(out + o, outsz - o, " %s", st->arg[i]);

		o = n > 0 ? o + (size_t)n : o;
	}
}

static int
run_rule_exists(const struct tg_policy *p, const char *name)
{
	for (int st = 0; st < TG_STAGE_COUNT; st++)
		for (size_t i = 0; i < p->nrules[st]; i++)
			if (strcmp(p->rules[st][i].name, name) == 0)
				return 1;
	return 0;
}

static int
run_limit_exists(const struct tg_policy *p, const char *name)
{
	for (size_t i = 0; i < p->nlimits; i++)
		if (strcmp(p->limits[i]->name, name) == 0)
			return 1;
	return 0;
}

/* run_reply_ok - "CODE [XCODE [TEXT]]" against the reply */
static int
run_reply_ok(const struct replay_expect *x, const char *reply)
{
	size_t cl = strlen(x->b != NULL ? x->b : "");
	const char *rest = reply + 4;

	if (strlen(reply) < 3 || reply[0] != x->a[0] ||
	    (strcmp(x->a + 1, "xx") != 0 && strncmp(reply, x->a, 3) != 0))
		return 0;
	if (x->b == NULL)
		return 1;
	if (strlen(reply) < 4 || strncmp(rest, x->b, cl) != 0 ||
	    (rest[cl] != ' ' && rest[cl] != '\0'))
		return 0;
	if (x->c == NULL)
		return 1;
	return rest[cl] == ' ' && strcmp(rest + cl + 1, x->c) == 0;
}

/* run_matched - the rule's result at this step: 1, 0, -1; -2 not tried */
static int
run_matched(const struct run *r, const char *name)
{
	int res = -2;

	for (size_t i = 0; i < r->nhits; i++)
		if (strcmp(r->hits[i].r->name, name) == 0 &&
		    r->hits[i].result > res)
			res = r->hits[i].result;
	return res;
}

/* run_header - an added header "Name: value" (name case-insensitive) or,
 * with value NULL, any header of that name */
static int
run_header(const struct run *r, const char *name, size_t nlen,
    const char *value)
{
	for (size_t i = 0; i < r->nadded; i++)
		if (strlen(r->added[i].name) == nlen &&
		    strncasecmp(r->added[i].name, name, nlen) == 0 &&
		    (value == NULL || strcmp(r->added[i].value, value) == 0))
			return 1;
	return 0;
}

/* run_expect - does x hold? got says what there was */
static int
run_expect(const struct run *r, const struct replay_expect *x, char *got,
    size_t gotsz)
{
	const struct tg_verdict *v = &r->v;
	const char *colon, *val;
	char verdict[512];
	int m;

	replay_verdict(r, verdict, sizeof verdict);
	snprintf(got, gotsz, "%s %s", r->reply, verdict);
	if (r->reply[0] == '\0') {
		snprintf(got, gotsz, "no reply at this step (a setting before "
		    "the connection)");
		return 0;
	}
	switch (x->kind) {
	case X_REPLY:
		return run_reply_ok(x, r->reply);
	case X_ACTION:
		return r->asked && strcmp(tg_action_name(v->action), x->a) == 0;
	case X_RULE:
		if (strcmp(x->a, "-") != 0 && !run_rule_exists(r->p, x->a)) {
			snprintf(got, gotsz, "the policy has no rule %s", x->a);
			return 0;
		}
		return r->asked && strcmp(v->rule[0] != '\0' ? v->rule : "-",
		    x->a) == 0;
	case X_LIMIT:
		if (!run_limit_exists(r->p, x->a)) {
			snprintf(got, gotsz, "the policy has no limit %s",
			    x->a);
			return 0;
		}
		return r->asked && strcmp(v->limit, x->a) == 0;
	case X_DRY_RUN:
		return r->asked && v->dry_run;
	case X_HEADER:
	case X_NO_HEADER:
		colon = strchr(x->a, ':');
		if (r->nadded == 0)
			snprintf(got, gotsz, "no header added");
		else {
			size_t o = 0;

			for (size_t i = 0; i < r->nadded && o < gotsz; i++) {
				int n = snprintf(got + o, gotsz - o, "%s%s: %s",
				    i > 0 ? " | " : "", r->added[i].name,
				    r->added[i].value);

				o = n > 0 ? o + (size_t)n : o;
			}
		}
		if (x->kind == X_NO_HEADER)
			return !run_header(r, x->a, strlen(x->a), NULL);
		val = colon + 1 + strspn(colon + 1, " ");
		return run_header(r, x->a, (size_t)(colon - x->a), val);
	case X_MATCHED:
	case X_NOT_MATCHED:
		if (!run_rule_exists(r->p, x->a)) {
			snprintf(got, gotsz, "the policy has no rule %s", x->a);
			return 0;
		}
		m = run_matched(r, x->a);
		snprintf(got, gotsz, "rule %s %s at this step", x->a,
		    m == 1 ? "matched" : m == 0 ? "did not match" : m == -1 ?
		    "could not be decided" : "was not tried");
		return x->kind == X_MATCHED ? m == 1 : m != 1;
	case X_HELD:
		snprintf(got, gotsz, "%s%s%s", r->held != NULL ?
		    "held \"" : "not held", r->held != NULL ? r->held : "",
		    r->held != NULL ? "\"" : "");
		return r->held != NULL && strcmp(r->held, x->a) == 0;
	}
	return 0;
}

/* replay_step_reset - nothing of the last step is left */
void
replay_step_reset(struct run *r)
{
	for (size_t i = 0; i < r->nlines; i++)
		free(r->lines[i]);
	r->nlines = 0;
	for (size_t i = 0; i < r->nadded; i++) {
		free(r->added[i].name);
		free(r->added[i].value);
	}
	r->nadded = 0;
	r->held = tg_free(r->held);
	r->nhits = 0;
	r->reply[0] = '\0';
	r->asked = 0;
	r->note = NULL;
	memset(&r->v, 0, sizeof r->v);
}

/* replay_print - the step's line and what goes under it; then its
 * expectations */
/* replay_print_line - the step's line and what goes under it */
void
replay_print_line(struct run *r, const struct replay_step *st, const char *text)
{
	FILE *out = r->o->out;
	char verdict[512];

	if (r->reply[0] != '\0') {
		replay_verdict(r, verdict, sizeof verdict);
		fprintf(out, "%s:%d: %s: %s %s\n", r->f->path, st->line, text,
		    r->reply, verdict);
		r->res->steps++;
	} else if (!r->o->quiet)
		fprintf(out, "%s:%d: %s\n", r->f->path, st->line, text);
	for (size_t i = 0; !r->o->quiet && i < r->nlines; i++)
		fprintf(out, "    %s\n", r->lines[i]);
}

void
replay_print(struct run *r, const struct replay_step *st, const char *text)
{
	FILE *out = r->o->out;
	char got[4096];

	replay_print_line(r, st, text);
	for (size_t i = 0; i < st->nex; i++) {
		const struct replay_expect *x = &st->ex[i];

		r->res->expects++;
		if (run_expect(r, x, got, sizeof got))
			continue;
		r->res->failed++;
		fprintf(out, "%s:%d: expectation failed\n-%s\n+%s\n",
		    r->f->path, x->line, x->src, got);
	}
}
