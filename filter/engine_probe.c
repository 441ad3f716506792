/* engine_probe.c - what the native engine's loops look up ahead: the DNS
 * checks a stage's rules can reach under the engine's short-circuits,
 * worked out from the policy and what the session knows without looking
 * anything up or counting anything (tg_engine_prefetch_needs(), for
 * filter/mproto_dns.c). The attribute tests are engine.c's own
 * (engine_test()), so the probe and the evaluation cannot disagree on a
 * value the session has. Threads: pure; the policy and the session are
 * read only. */
#include "config.h"

#include <stdint.h>

#include "tg.h"
#include "tg_check.h"
#include "tg_dkim.h"
#include "tg_engine.h"
#include "tg_session.h"
#include "engine_impl.h"

/* engine_mime_attr - an attribute of the MIME structure: at end of
 * message its value changes when the body is ended (engine_stage():
 * tg_session_mime() finishes the last part, an unclosed multipart is
 * malformed then), after the probe has run. */
static int
engine_mime_attr(enum tg_attr a)
{
	switch (a) {
	case TG_A_MIME_MALFORMED:
	case TG_A_MIME_PARTS:
	case TG_A_ATT_NAME:
	case TG_A_ATT_EXT:
	case TG_A_ATT_INNER_EXT:
	case TG_A_ATT_TYPE:
	case TG_A_ATT_SHA256:
	case TG_A_ATT_SIZE:
	case TG_A_ATT_ARCHIVE:
	case TG_A_ATT_MALFORMED:
	case TG_A_ATT_NAME_SPOOFED:
		return 1;
	default:
		return 0;
	}
}

/* engine_probe - e in three values (1, 0, -1: not known before the
 * command runs) without looking anything up or counting anything: the
 * DNS checks it would reach under the engine's short-circuits go into
 * *needs (TG_CHECK_NEED_*). Unknown: those checks and every other
 * computed or DKIM attribute, limits, and the attributes the command of
 * this stage sets (first or last known at it: the client at connect,
 * the HELO name, the recipient), whose values in the session are not
 * yet, or no longer, the ones the rules will read (unless set: the
 * caller has put them in the session already, as mproto_dns.c does with
 * tg_drive_connect_facts_sa(), tg_drive_helo_facts() and the recipient,
 * so that a guard on them cuts off the lookups behind it). */
static int
engine_probe(const struct engine_ctx *c, const struct tg_expr *e,
    unsigned *needs, int set)
{
	int l, r;

	if (e == NULL)
		return 1;
	switch (e->op) {
	case TG_E_TRUE:
		return 1;
	case TG_E_FALSE:
		return 0;
	case TG_E_AND:
		if ((l = engine_probe(c, e->left, needs, set)) == 0)
			return 0;
		if ((r = engine_probe(c, e->right, needs, set)) == 0)
			return 0;
		return l < 0 || r < 0 ? -1 : 1;
	case TG_E_OR:
		if ((l = engine_probe(c, e->left, needs, set)) == 1)
			return 1;
		if ((r = engine_probe(c, e->right, needs, set)) == 1)
			return 1;
		return l < 0 || r < 0 ? -1 : 0;
	case TG_E_NOT:
		l = engine_probe(c, e->left, needs, set);
		return l < 0 ? -1 : !l;
	case TG_E_LIMIT:
		return -1;
	default:
		break;
	}
	/* Both the attribute and the key of its looked-up value, before
	 * either makes the result unknown: "dnslist.score > t[client.ptr]"
	 * reads client.ptr too. */
	*needs |= tg_check_attr_need(e->attr);
	if (e->vtable != NULL)
		*needs |= tg_check_attr_need(e->vattr);
	for (int k = 0; k < 2; k++) {
		enum tg_attr a = k == 0 ? e->attr : e->vattr;

		if (k == 1 && e->vtable == NULL)
			break;
		if (tg_check_computed(a) || tg_dkim_attr(a) ||
		    (c->stage == TG_STAGE_EOM && engine_mime_attr(a)) ||
		    (!set && (tg_attrs[a].first == c->stage ||
		    tg_attrs[a].last == c->stage)))
			return -1;
	}
	return engine_test(c, e);
}

unsigned
tg_engine_prefetch_needs(const struct tg_policy *p,
    const struct tg_session *s, enum tg_stage stage, int set)
{
	int dns_failed = 0;
	struct engine_ctx c = { p, s, stage, (long long)s->rcpt_count + 1,
	    (struct tg_session *)(uintptr_t)s, &dns_failed, { NULL, 0 } };
	unsigned needs = 0;

	/* As tg_engine_eval() and engine_stage(): no rule runs. */
	if (p == NULL || (s->conn_verdict != NULL &&
	    stage > TG_STAGE_CONNECT) || s->conn_accepted ||
	    (stage > TG_STAGE_HELO && s->helo_accepted) ||
	    (stage >= TG_STAGE_MAIL && s->msg_accepted))
		return 0;
	for (size_t i = 0; i < p->nrules[stage]; i++)
		(void)engine_probe(&c, p->rules[stage][i].cond, &needs, set);
	return needs;
}
