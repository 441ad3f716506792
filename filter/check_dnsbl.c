/* check_dnsbl.c - DNS block and allow lists (RFC 5782), found by name in
 * the policy's DNS settings: the client
 * address reversed (octets, or nibbles for IPv6) or a domain (HELO,
 * sender) under each list's zone. The first time a rule needs a list,
 * every list whose key is known is asked at once (A; TXT, the reason,
 * only of the lists that list it); the answers are kept for the
 * session. Owns: nothing beyond the session's state. Threads: one
 * session at a time. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_dns.h"
#include "tg_log.h"
#include "check.h"

const struct tg_dnslist *
tg_dnslist_find(const struct tg_dns_conf *c, const char *name)
{
	for (size_t i = 0; c != NULL && i < c->nlists; i++)
		if (strcmp(c->lists[i].name, name) == 0)
			return &c->lists[i];
	return NULL;
}

enum tg_stage
tg_dnslist_stage(const struct tg_dnslist *l)
{
	switch (l->key) {
	case TG_DNSL_HELO:
		return TG_STAGE_HELO;
	case TG_DNSL_SENDER:
		return TG_STAGE_MAIL;
	default:
		return TG_STAGE_CONNECT;
	}
}

int
check_dnsl_name(const struct tg_dnslist *l, const struct tg_ip *ip,
    const char *helo, const char *sender_domain, char *buf, size_t bufsz)
{
	const char *dom;

	switch (l->key) {
	case TG_DNSL_CLIENT:
		if (ip == NULL)
			return -1;
		return tg_dns_reverse_name(ip, l->zone, buf, bufsz);
	case TG_DNSL_HELO:
		dom = helo;
		break;
	default:
		dom = sender_domain;
		break;
	}
	/* Address literals and bare IPs are not domains. */
	if (dom == NULL || tg_helo_kind(dom) != TG_HELO_DOMAIN ||
	    (size_t)snprintf(buf, bufsz, "%s.%s", dom, l->zone) >= bufsz ||
	    !tg_dns_name_valid(buf))
		return -1;
	return 0;
}

/* dnsl_key - the name to ask list l about, or -1 when its key is not
 * known (yet) or is not a usable name. */
static int
dnsl_key(const struct tg_dnslist *l, const struct tg_session *s, char *buf,
    size_t bufsz)
{
	return check_dnsl_name(l, s->client_ip_ok ? &s->client_ip : NULL,
	    s->val[TG_A_HELO], s->val[TG_A_SENDER_DOMAIN], buf, bufsz);
}

/* dnsl_lookup - ask every list whose answer is missing for the current
 * key, all in one parallel round of A queries; then, in a second round
 * and only for the lists that list it, TXT for the reason (as Postfix
 * does: most clients are listed nowhere, and their TXT would be NXDOMAIN
 * too). */
static void
dnsl_lookup(const struct tg_dns_conf *c, struct tg_session *s,
    struct tg_check_state *st)
{
	/* Not zeroed: each query used is set up by tg_dns_query_init. */
	struct tg_dns_query *q = tg_xmalloc((c->nlists + 1) * sizeof *q);
	size_t *idx = tg_xcalloc(c->nlists + 1, sizeof *idx), n = 0, nt = 0;
	char name[TG_DNS_NAME_MAX];

	for (size_t i = 0; i < c->nlists; i++) {
		struct check_list_res *r = &st->lists[i];

		if (dnsl_key(&c->lists[i], s, name, sizeof name) < 0) {
			r->listed = 0;	/* nothing to ask about */
			r->key = tg_free(r->key);
			continue;
		}
		if (r->key != NULL && strcmp(r->key, name) == 0 &&
		    r->listed != CHECK_UNASKED)
			continue;
		free(r->key);
		r->key = tg_xstrdup(name);
		r->reason = tg_free(r->reason);
		(void)tg_dns_query_init(&q[n], name, TG_DNS_A);
		idx[n++] = i;
	}
	if (n > 0)
		(void)tg_dns_resolve(c->dns, q, n);
	for (size_t k = 0; k < n; k++) {
		const struct tg_dnslist *l = &c->lists[idx[k]];
		struct check_list_res *r = &st->lists[idx[k]];

		if (q[k].status == TG_DNS_FAIL) {
			r->listed = CHECK_FAILED;
			tg_log_warnx("%s: dnslist %s: lookup of %s failed; %s",
			    s->id, l->name, r->key, l->tempfail ?
			    "tempfail" : "skipped");
		} else
			r->listed = q[k].status == TG_DNS_OK &&
			    tg_dns_match_any(l->match, l->nmatch, q[k].ip,
			    q[k].n);
		tg_dns_query_clear(&q[k]);
		if (r->listed == 1) {
			tg_log_debug("%s: dnslist %s: %s listed", s->id,
			    l->name, r->key);
			/* The listed ones move to the front, for TXT. */
			(void)tg_dns_query_init(&q[nt], r->key, TG_DNS_TXT);
			idx[nt++] = idx[k];
		}
	}
	if (nt > 0)
		(void)tg_dns_resolve(c->dns, q, nt);
	for (size_t k = 0; k < nt; k++) {
		struct check_list_res *r = &st->lists[idx[k]];

		if (q[k].status == TG_DNS_OK && q[k].n > 0)
			r->reason = tg_xstrdup(q[k].str[0]);
		tg_dns_query_clear(&q[k]);
	}
	free(idx);
	free(q);
}

/* dnsl_current - has list i an answer for the session's current key? */
static int
dnsl_current(const struct tg_dns_conf *c, const struct tg_session *s,
    const struct tg_check_state *st, size_t i)
{
	const struct check_list_res *r = &st->lists[i];
	char name[TG_DNS_NAME_MAX];

	if (r->listed == CHECK_UNASKED)
		return 0;
	if (dnsl_key(&c->lists[i], s, name, sizeof name) < 0)
		return r->key == NULL;
	return r->key != NULL && strcmp(r->key, name) == 0;
}

int
check_dnslist(const struct tg_dns_conf *c, struct tg_session *s,
    struct tg_check_state *st, const char *name, const char **val,
    const char **why)
{
	const struct tg_dnslist *l = tg_dnslist_find(c, name);
	size_t i;

	if (l == NULL) {	/* the parser makes sure it exists */
		*val = NULL;
		return 0;
	}
	i = (size_t)(l - c->lists);
	if (!dnsl_current(c, s, st, i))
		dnsl_lookup(c, s, st);
	switch (st->lists[i].listed) {
	case 1:
		free(st->last_list);
		st->last_list = tg_xstrdup(l->name);
		free(st->last_reason);
		st->last_reason = st->lists[i].reason != NULL ?
		    tg_xstrdup(st->lists[i].reason) : NULL;
		*val = "1";
		return 0;
	case CHECK_FAILED:
		if (l->tempfail) {
			*why = "DNS list lookup failed";
			return -1;
		}
		*val = NULL;	/* skip: unknown, so the rule does not match */
		return 0;
	default:
		*val = "";
		return 0;
	}
}

int
check_dnslist_score(const struct tg_dns_conf *c, struct tg_session *s,
    struct tg_check_state *st, const char **val, const char **why)
{
	long long score = 0;
	int asked = 0;

	for (size_t i = 0; i < c->nlists; i++) {
		const struct tg_dnslist *l = &c->lists[i];
		const char *v;

		/* Weight 0: a list used only on its own. */
		if (l->key != TG_DNSL_CLIENT || l->weight == 0)
			continue;
		if (!asked && !dnsl_current(c, s, st, i)) {
			dnsl_lookup(c, s, st);
			asked = 1;
		}
		if (check_dnslist(c, s, st, l->name, &v, why) < 0)
			return -1;
		if (v != NULL && *v != '\0')
			score += l->weight;
	}
	snprintf(st->score, sizeof st->score, "%lld", score);
	*val = st->score;
	return 0;
}
