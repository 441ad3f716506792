/* engine_impl.h - what engine.c, the trace (trace.c) and the prefetch
 * probe (engine_probe.c) share: the context of one evaluation and how a
 * condition reads an attribute's value, so that the trace and the probe
 * see exactly the values the engine decides on. Static inline: the engine reads values for every condition, and a
 * call across files costs it measurably. Internal to filter/. Threads:
 * as engine.c (the session is the caller's, the policy read-only). */
#ifndef ENGINE_IMPL_H
#define ENGINE_IMPL_H

#include <stdlib.h>

#include "tg.h"
#include "tg_auth.h"
#include "tg_content.h"
#include "tg_ip.h"
#include "tg_policy.h"
#include "tg_session.h"

/* What one evaluation needs besides the condition. */
struct engine_ctx {
	const struct tg_policy	*p;
	const struct tg_session	*s;
	enum tg_stage		 stage;
	long long		 rcpt_count;	/* this recipient included */
	struct tg_session	*rw;		/* the same session, for the
						 * counters limits keep in it */
	int			*dns_failed;	/* set when a DNS lookup failed */
	struct tg_content_cur	 cur;		/* attachment being tested */
};

/* engine_test - a condition on an attribute's value as the session has
 * it, no lookup and no count (engine.c): 1 true, 0 false, -1 cannot
 * decide. The evaluation and the prefetch probe both use it. */
int	engine_test(const struct engine_ctx *c, const struct tg_expr *e);

static inline const char *
engine_str(const struct engine_ctx *c, const struct tg_expr *e)
{
	if (e->attr == TG_A_HEADER)
		return tg_session_header(c->s, e->param);
	if (e->attr == TG_A_HEADER_FROM)
		return tg_session_header(c->s, "From");
	if (e->attr == TG_A_HEADER_SENDER)
		return tg_session_header(c->s, "Sender");
	if (tg_content_attr(e->attr))
		return tg_content_str(c->s, &c->cur, e);
	return c->s->val[e->attr];
}

/* engine_num - the attribute's number; 0 if known, -1 if unknown. */
static inline int
engine_num(const struct engine_ctx *c, enum tg_attr a, long long *n)
{
	const struct tg_session *s = c->s;

	switch (a) {
	case TG_A_LISTENER_PORT:
		*n = s->listener_port;
		return *n >= 0 ? 0 : -1;
	case TG_A_TLS_BITS:
		*n = s->tls_bits;
		return *n >= 0 ? 0 : -1;
	case TG_A_SIZE_DECLARED:
		*n = s->size_declared;
		return 0;
	case TG_A_SIZE:
		*n = s->size;
		return 0;
	case TG_A_RCPT_COUNT:
		*n = c->rcpt_count;
		return 0;
	case TG_A_DNSLIST_SCORE:	/* set by tg_check_eval() */
		if (s->val[a] == NULL)
			return -1;
		*n = strtoll(s->val[a], NULL, 10);
		return 0;
	case TG_A_HEADER_COUNT:
		*n = s->hdr_count;
		return 0;
	case TG_A_HEADER_BYTES:
		*n = s->hdr_total;
		return 0;
	case TG_A_HEADER_LONGEST:
		*n = s->hdr_longest;
		return 0;
	default:
		return -1;
	}
}

/* engine_ip - the attribute as an address; 0 if known, -1 if not. */
static inline int
engine_ip(const struct engine_ctx *c, enum tg_attr a, struct tg_ip *ip)
{
	if (a == TG_A_CLIENT_ADDRESS) {
		if (!c->s->client_ip_ok)
			return -1;
		*ip = c->s->client_ip;
		return 0;
	}
	if (c->s->val[a] == NULL)
		return -1;
	return tg_ip_parse(c->s->val[a], ip);
}

static inline int
engine_bool(const struct engine_ctx *c, const struct tg_expr *e)
{
	const char *v;
	long long n;

	if (tg_content_attr(e->attr))
		return tg_content_bool(c->s, &c->cur, e);
	switch (e->attr) {
	case TG_A_AUTHENTICATED:
		v = c->s->val[TG_A_SASL_LOGIN];
		return v != NULL && *v != '\0';
	case TG_A_TLS:
		v = c->s->val[TG_A_TLS_VERSION];
		return v != NULL && *v != '\0';
	case TG_A_SASL_ACCOUNT:
		v = c->s->val[TG_A_SASL_CANONICAL];
		if (v == NULL || *v == '\0')
			return 0;
		return tg_sasl_account(c->p->auth, v);
	case TG_A_RCPT_ROUTED:
		return c->s->rcpt_routed;
	default:
		if (tg_attrs[e->attr].type == TG_T_NUM)
			return engine_num(c, e->attr, &n) == 0 && n != 0;
		v = engine_str(c, e);
		return v != NULL && *v != '\0';
	}
}

struct tg_trace;

/* trace.c: one condition evaluated to r (1, 0, -1), with the values that
 * decided it; called only when the session is traced. */
void	tg_trace_leaf(struct tg_trace *, const struct engine_ctx *,
	    const struct tg_expr *, int r);

#endif
