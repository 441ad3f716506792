/* check_prefetch.c - the DNS questions the checks of a stage may ask,
 * worked out before the rules run, so that an event loop can look them
 * up without waiting and then evaluate with every answer at hand (a
 * per-session book, tg_dns.h). The plan mirrors the checks themselves,
 * round by round, and must stay in step with them: check_client.c (PTR
 * of the address, then A or AAAA of at most CHECK_CLIENT_NAMES valid
 * names), check_helo.c (A of a HELO domain, then AAAA and MX when A is
 * NODATA) and check_dnsbl.c (A of every list whose answer is missing for
 * its current key, then TXT of those that list it). It may ask more than
 * the rules end up reading (a condition that short-circuits), never
 * less: a lookup the book lacks is counted on the loop (dns.c) and a
 * test keeps that count at 0 for the shipped policies. Owns: nothing.
 * Threads: pure; policy and session are read only. */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "tg.h"
#include "tg_dns.h"
#include "check.h"

/* prefetch_expr - the checks an expression reads */
static unsigned
prefetch_expr(const struct tg_expr *e)
{
	unsigned m = 0;

	if (e == NULL)
		return 0;
	switch (e->op) {
	case TG_E_TRUE:
	case TG_E_FALSE:
	case TG_E_LIMIT:
		return 0;
	case TG_E_AND:
	case TG_E_OR:
		return prefetch_expr(e->left) | prefetch_expr(e->right);
	case TG_E_NOT:
		return prefetch_expr(e->left);
	default:
		break;
	}
	m = tg_check_attr_need(e->attr);
	if (e->vtable != NULL)
		m |= tg_check_attr_need(e->vattr);
	return m;
}

unsigned
tg_check_attr_need(enum tg_attr a)
{
	switch (a) {
	case TG_A_CLIENT_PTR:
	case TG_A_CLIENT_RDNS:
	case TG_A_CLIENT_FCRDNS:
		return TG_CHECK_NEED_CLIENT;
	case TG_A_HELO_RESOLVES:
		return TG_CHECK_NEED_HELO;
	case TG_A_DNSLIST:
	case TG_A_DNSLIST_SCORE:
		return TG_CHECK_NEED_LISTS;
	default:
		return 0;
	}
}

unsigned
tg_check_dns_needs(const struct tg_policy *p, enum tg_stage st)
{
	unsigned m = 0;

	for (size_t i = 0; p != NULL && i < p->nrules[st]; i++)
		m |= prefetch_expr(p->rules[st][i].cond);
	return m;
}

/* What one planning pass gathers. */
struct plan {
	const struct tg_dns_book *bk;
	struct tg_dns_query	*q;
	size_t			 n, max;
};

/* plan_ask - q of the plan for name and type, unless the book or the
 * round already has it. Returns the book's answer, or NULL (asked now,
 * or no room, or a name that cannot be asked: not in the book either,
 * which the check would fail the same way without a lookup). */
static const struct tg_dns_query *
plan_ask(struct plan *pl, const char *name, enum tg_dns_type type)
{
	const struct tg_dns_query *have = tg_dns_book_find(pl->bk, name, type);

	if (have != NULL)
		return have;
	for (size_t i = 0; i < pl->n; i++)
		if (pl->q[i].type == type && strcasecmp(pl->q[i].name,
		    name) == 0)
			return NULL;
	if (pl->n < pl->max && tg_dns_query_init(&pl->q[pl->n], name,
	    type) == TG_OK)
		pl->n++;
	return NULL;
}

/* plan_client - check_client.c's client_lookup() and client_forward() */
static void
plan_client(struct plan *pl, const struct tg_ip *ip)
{
	const struct tg_dns_query *ptr;
	char name[TG_DNS_NAME_MAX];
	size_t n = 0;

	if (ip == NULL || tg_dns_reverse_name(ip, NULL, name,
	    sizeof name) < 0 || strlen(name) >= TG_DNS_NAME_MAX)
		return;
	if ((ptr = plan_ask(pl, name, TG_DNS_PTR)) == NULL ||
	    ptr->status != TG_DNS_OK)
		return;
	for (size_t i = 0; i < ptr->n && n < CHECK_CLIENT_NAMES; i++)
		if (tg_dns_name_valid(ptr->str[i]) &&
		    strlen(ptr->str[i]) < TG_DNS_NAME_MAX) {
			(void)plan_ask(pl, ptr->str[i], ip->family == 4 ?
			    TG_DNS_A : TG_DNS_AAAA);
			n++;
		}
}

/* plan_helo - check_helo.c's helo_resolve() */
static void
plan_helo(struct plan *pl, const char *helo)
{
	const struct tg_dns_query *a;

	if (strlen(helo) >= TG_DNS_NAME_MAX ||
	    (a = plan_ask(pl, helo, TG_DNS_A)) == NULL ||
	    a->status != TG_DNS_NODATA)
		return;
	(void)plan_ask(pl, helo, TG_DNS_AAAA);
	(void)plan_ask(pl, helo, TG_DNS_MX);
}

/* plan_lists - check_dnsbl.c's dnsl_lookup(): every list whose answer
 * for its current key is missing */
static void
plan_lists(struct plan *pl, const struct tg_dns_conf *c,
    const struct tg_check_state *st, const struct tg_ip *ip,
    const char *helo, const char *sender)
{
	char name[TG_DNS_NAME_MAX];

	/* Results of another conf are dropped before use (check.c). */
	if (st != NULL && st->conf != c->serial)
		st = NULL;
	for (size_t i = 0; i < c->nlists; i++) {
		const struct tg_dnslist *l = &c->lists[i];
		const struct check_list_res *r = st != NULL ? &st->lists[i] :
		    NULL;
		const struct tg_dns_query *a;

		if (check_dnsl_name(l, ip, helo, sender, name,
		    sizeof name) < 0)
			continue;
		if (r != NULL && r->listed != CHECK_UNASKED &&
		    r->key != NULL && strcmp(r->key, name) == 0)
			continue;
		if ((a = plan_ask(pl, name, TG_DNS_A)) == NULL ||
		    a->status != TG_DNS_OK ||
		    !tg_dns_match_any(l->match, l->nmatch, a->ip, a->n))
			continue;
		(void)plan_ask(pl, name, TG_DNS_TXT);
	}
}

size_t
tg_check_prefetch(const struct tg_policy *p, const struct tg_session *s,
    unsigned needs, const struct tg_ip *ip, const char *helo,
    const struct tg_dns_book *bk, struct tg_dns_query *q, size_t max)
{
	const struct tg_dns_conf *c = p != NULL ? p->dns : NULL;
	const struct tg_check_state *st = s->chk;
	struct plan pl = { bk, q, 0, max };

	if (c == NULL || c->dns == NULL)
		return 0;
	if (ip == NULL && s->client_ip_ok)
		ip = &s->client_ip;
	if (helo == NULL)
		helo = s->val[TG_A_HELO];
	if ((needs & TG_CHECK_NEED_CLIENT) &&
	    (st == NULL || st->ptr == CHECK_UNASKED))
		plan_client(&pl, ip);
	if ((needs & TG_CHECK_NEED_HELO) && helo != NULL &&
	    tg_helo_kind(helo) == TG_HELO_DOMAIN && (st == NULL ||
	    st->helo_key == NULL || strcmp(st->helo_key, helo) != 0))
		plan_helo(&pl, helo);
	if (needs & TG_CHECK_NEED_LISTS)
		plan_lists(&pl, c, st, ip, helo, s->val[TG_A_SENDER_DOMAIN]);
	return pl.n;
}
