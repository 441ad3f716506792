/* mproto_block.c - which commands of a connection may wait on the network
 * under the pinned policy, so that the native engine runs them on a
 * worker (mproto_work.c) rather than on an event loop, which must never
 * wait: a rule at that stage reads a DNS check (client.ptr, client.rdns,
 * client.fcrdns, helo.resolves, dnslist, dnslist.score, spf, dkim and
 * dmarc) or the SASL database (sasl.account), or a reply template names
 * ${spf...}; or a limit or a greylist kept in Redis is read or counted at
 * that stage, or holds are given back to it (end of a message or of the
 * connection); or DKIM verifies (key lookups) at end of message. Everything
 * else (tables, the memory store, MIME, regular expressions) is memory
 * and CPU only. A second mask leaves out the DNS checks the loops look
 * up ahead without waiting (mproto_dns.c: client.ptr, client.rdns,
 * client.fcrdns, helo.resolves, dnslist, dnslist.score): a stage that
 * waits on those only is parked on its loop instead. SPF, DKIM and
 * DMARC, SASL and Redis stay on workers. Owns: nothing. Threads: pure;
 * policies are read-only. */
#include "config.h"

#include <string.h>

#include "tg_dkim.h"
#include "tg_grey.h"
#include "tg_policy.h"
#include "tg_rate.h"
#include "tg_store.h"
#include "mproto_impl.h"

/* block_attr - an attribute whose value may need a network round trip
 * (nodns: one that the loops cannot look up ahead) */
static int
block_attr(enum tg_attr a, int nodns)
{
	switch (a) {
	case TG_A_CLIENT_PTR:
	case TG_A_CLIENT_RDNS:
	case TG_A_CLIENT_FCRDNS:
	case TG_A_HELO_RESOLVES:
	case TG_A_DNSLIST:
	case TG_A_DNSLIST_SCORE:
		return !nodns;
	default:
		break;
	}
	switch (a) {
	case TG_A_SPF:
	case TG_A_SASL_ACCOUNT:
		return 1;
	default:
		return tg_dkim_attr(a);
	}
}

/* block_ext_store - a store that is not the in-process one */
static int
block_ext_store(const struct tg_store *st)
{
	return st != NULL && strcmp(st->ops->name, "memory") != 0;
}

/* block_store - a limit's store is not the in-process one */
static int
block_store(const struct tg_limit *l)
{
	return l != NULL && block_ext_store(l->store);
}

static int
block_expr(const struct tg_expr *e, int nodns)
{
	if (e == NULL)
		return 0;
	switch (e->op) {
	case TG_E_TRUE:
	case TG_E_FALSE:
		return 0;
	case TG_E_AND:
	case TG_E_OR:
		return block_expr(e->left, nodns) ||
		    block_expr(e->right, nodns);
	case TG_E_NOT:
		return block_expr(e->left, nodns);
	case TG_E_LIMIT:
		return block_store(e->limit);
	default:
		return block_attr(e->attr, nodns) ||
		    (e->vtable != NULL && block_attr(e->vattr, nodns));
	}
}

/* block_rule - a rule's condition, a template of its actions that asks
 * for the SPF result (tg_check_var() evaluates it then), or a greylist
 * kept outside the process */
static int
block_rule(const struct tg_rule *r, int nodns)
{
	if (block_expr(r->cond, nodns))
		return 1;
	for (size_t i = 0; i < r->nactions; i++)
		if ((r->actions[i].text != NULL &&
		    strstr(r->actions[i].text, "${spf") != NULL) ||
		    (r->actions[i].type == TG_ACT_GREYLIST &&
		    r->actions[i].grey != NULL &&
		    block_ext_store(r->actions[i].grey->store)))
			return 1;
	return 0;
}

/* block_mask - the stages that may wait (nodns: on more than the DNS
 * checks the loops look up ahead) */
static unsigned
block_mask(const struct tg_policy *p, int nodns)
{
	unsigned m = 0;

	if (p == NULL)
		return 0;
	for (int st = 0; st < TG_STAGE_COUNT; st++)
		for (size_t i = 0; i < p->nrules[st]; i++)
			if (block_rule(&p->rules[st][i], nodns)) {
				m |= 1u << st;
				break;
			}
	/* DKIM verification and DMARC look keys and records up at the end
	 * of the message, whatever the rules read (Authentication-Results). */
	if (tg_dkim_wanted(p))
		m |= 1u << TG_STAGE_EOM;
	/* MAIL without HELO runs the helo rules first (engine.c). */
	if (m & 1u << TG_STAGE_HELO)
		m |= 1u << TG_STAGE_MAIL;
	for (size_t i = 0; i < p->nlimits; i++) {
		if (!block_store(p->limits[i]))
			continue;
		/* Counted at its stage; holds given back at the end of the
		 * message (MAIL resets, abort, end of message) or of the
		 * connection. */
		m |= 1u << p->limits[i]->stage | MP_BLOCK_TXN |
		    1u << TG_STAGE_MAIL | 1u << TG_STAGE_EOM;
	}
	return m;
}

unsigned
mp_block_mask(const struct tg_policy *p)
{
	return block_mask(p, 0);
}

unsigned
mp_block_mask_nodns(const struct tg_policy *p)
{
	return block_mask(p, 1);
}
