/* check.c - computed attributes: the policy's DNS settings, the dispatch
 * to the checks (check_dnsbl.c, check_client.c, check_helo.c,
 * check_spf.c) and the session's cache of their results.
 * Owns: a policy's struct tg_dns_conf, a session's struct
 * tg_check_state. Threads: the conf is read-only once loaded. */
#include "config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_check.h"
#include "tg_dkim.h"
#include "tg_log.h"
#include "check.h"

/* Serial numbers of dns confs, from 1. A session's results name the conf
 * they were made for by serial, not by address: a conf is freed with its
 * policy while sessions pinned to a newer one keep their results, and a
 * later conf may be allocated at the same address with more lists. */
static atomic_ullong check_conf_serial;

struct tg_dns_conf *
tg_dns_conf_new(void)
{
	struct tg_dns_conf *c = tg_xcalloc(1, sizeof *c);

	c->serial = atomic_fetch_add(&check_conf_serial, 1) + 1;
	c->timeout_ms = TG_DNS_TIMEOUT_MS;
	return c;
}

void
tg_dns_conf_free(struct tg_dns_conf *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nlists; i++) {
		free(c->lists[i].name);
		free(c->lists[i].zone);
		free(c->lists[i].match);
	}
	free(c->lists);
	check_spf_server_free(c->spf);
	tg_dns_free(c->dns);
	free(c->resolver);
	free(c);
}

int
tg_dns_conf_finish(struct tg_policy *p, struct tg_diag *diag)
{
	struct tg_dns_conf *c;
	const char *why = "";

	if (p->dns == NULL)
		p->dns = tg_dns_conf_new();
	c = p->dns;
	if ((c->dns = tg_dns_new(c->resolver, c->timeout_ms, &why)) == NULL) {
		/* The parser checked it already; say so anyway. */
		tg_diag_error(diag, p->path, 0, 0, "resolver \"%s\": %s",
		    c->resolver, why);
		return -1;
	}
	/* DMARC needs SPF's result too. */
	if ((tg_policy_uses(p, TG_A_SPF) || (p->dkim != NULL &&
	    p->dkim->dmarc)) &&
	    (c->spf = check_spf_server_new(c->dns)) == NULL) {
		tg_diag_error(diag, p->path, 0, 0, "cannot set up libspf2");
		return -1;
	}
	return 0;
}

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
tg_check_computed(enum tg_attr a)
{
	switch (a) {
	case TG_A_CLIENT_PTR:
	case TG_A_CLIENT_RDNS:
	case TG_A_CLIENT_FCRDNS:
	case TG_A_HELO_VALID:
	case TG_A_HELO_FQDN:
	case TG_A_HELO_BARE_IP:
	case TG_A_HELO_OURS:
	case TG_A_HELO_RESOLVES:
	case TG_A_DNSLIST:
	case TG_A_DNSLIST_SCORE:
	case TG_A_SPF:
		return 1;
	default:
		return tg_dkim_attr(a);
	}
}

/* check_state - the session's results, made fresh for a new set of
 * lists (another policy: the session re-pinned at MAIL). Keyed on the
 * conf's serial: its address may have been freed and reused by a conf
 * with more lists. */
static struct tg_check_state *
check_state(struct tg_session *s, const struct tg_dns_conf *c)
{
	struct tg_check_state *st = s->chk;

	if (st == NULL) {
		st = s->chk = tg_xcalloc(1, sizeof *st);
		st->ptr = st->fcrdns = st->helo_resolves = CHECK_UNASKED;
	}
	if (st->conf != c->serial) {
		for (size_t i = 0; i < st->nlists; i++) {
			free(st->lists[i].key);
			free(st->lists[i].reason);
		}
		free(st->lists);
		st->conf = c->serial;
		st->nlists = c->nlists;
		st->lists = tg_xcalloc(c->nlists ? c->nlists : 1,
		    sizeof *st->lists);
		for (size_t i = 0; i < c->nlists; i++)
			st->lists[i].listed = CHECK_UNASKED;
	}
	return st;
}

int
tg_check_eval(const struct tg_policy *p, struct tg_session *s,
    enum tg_attr a, const char *param, const char **why)
{
	struct tg_check_state *st;
	const char *val = NULL;
	int rc;

	*why = "";
	if (p->dns == NULL || p->dns->dns == NULL) {
		/* A policy not finished by the parser (never published). */
		*why = "no resolver configured";
		return -1;
	}
	st = check_state(s, p->dns);
	switch (a) {
	case TG_A_DNSLIST:
		rc = check_dnslist(p->dns, s, st, param, &val, why);
		break;
	case TG_A_DNSLIST_SCORE:
		rc = check_dnslist_score(p->dns, s, st, &val, why);
		break;
	case TG_A_CLIENT_PTR:
	case TG_A_CLIENT_RDNS:
	case TG_A_CLIENT_FCRDNS:
		rc = check_client(p->dns, s, st, a, &val, why);
		break;
	case TG_A_SPF:
		rc = check_spf(p->dns, s, st, &val, why);
		break;
	case TG_A_DKIM:
	case TG_A_DKIM_RESULT:
	case TG_A_DKIM_DOMAINS:
	case TG_A_DKIM_ALIGNED:
	case TG_A_DMARC:
	case TG_A_DMARC_POLICY:
	case TG_A_DMARC_DOMAIN:
	case TG_A_DMARC_ORG:
		rc = tg_dkim_eval(p, s, a, param, &val, why);
		break;
	default:
		rc = check_helo(p->dns, s, st, a, &val, why);
		break;
	}
	s->val[a] = tg_free(s->val[a]);
	if (rc == 0 && val != NULL)
		s->val[a] = tg_xstrdup(val);
	return rc;
}

const char *
tg_check_var(const struct tg_policy *p, struct tg_session *s,
    const char *name, size_t len)
{
	struct tg_check_state *st = s->chk;
	const char *why;

#define IS(n)	(len == sizeof(n) - 1 && strncmp(name, n, len) == 0)
	if (IS("mta_name"))
		return s->val[TG_A_MTA_NAME];
	if (IS("spf") || IS("spf_auth") || IS("spf_received")) {
		/* The header of an accepted message may be the first to
		 * need the result. */
		if (p->dns == NULL || p->dns->spf == NULL ||
		    tg_check_eval(p, s, TG_A_SPF, NULL, &why) < 0)
			return NULL;
		if ((st = s->chk) == NULL || st->spf[0] == '\0')
			return NULL;
		return IS("spf") ? st->spf : IS("spf_auth") ? st->spf_auth :
		    st->spf_received;
	}
	if (IS("dnslist"))
		return st != NULL ? st->last_list : NULL;
	if (IS("dkim_auth") || IS("dmarc_auth") || IS("dmarc_domain"))
		return tg_dkim_var(p, s, name, len);
	if (IS("dnslist_reason"))
		return st != NULL ? st->last_reason : NULL;
#undef IS
	return NULL;
}

struct tg_check_state *
tg_check_state_free(struct tg_check_state *st)
{
	if (st == NULL)
		return NULL;
	for (size_t i = 0; i < st->nlists; i++) {
		free(st->lists[i].key);
		free(st->lists[i].reason);
	}
	free(st->lists);
	free(st->last_list);
	free(st->last_reason);
	free(st->ptr_name);
	free(st->helo_key);
	free(st->spf_helo);
	free(st->spf_sender);
	free(st->spf_auth);
	free(st->spf_received);
	free(st);
	return NULL;
}

/* check_state_text - a CHECK_* or 0/1 result in words */
static const char *
check_state_text(int v, const char *yes, const char *no)
{
	return v == CHECK_UNASKED ? "not looked up" : v == CHECK_FAILED ?
	    "lookup failed" : v ? yes : no;
}

/* tg_check_describe - the DNS answers behind a computed attribute, for the
 * trace (tollgate-test -v); reads the session's results, asks nothing */
void
tg_check_describe(const struct tg_policy *p, const struct tg_session *s,
    enum tg_attr a, const char *param, char *out, size_t outsz)
{
	const struct tg_check_state *st = s->chk;
	char v1[300], v2[300];
	size_t o = 0;

	out[0] = '\0';
	if (st == NULL || p->dns == NULL || st->conf != p->dns->serial) {
		snprintf(out, outsz, "nothing looked up");
		return;
	}
	switch (a) {
	case TG_A_DNSLIST:
	case TG_A_DNSLIST_SCORE:
		for (size_t i = 0; i < st->nlists && o < outsz; i++) {
			const struct check_list_res *r = &st->lists[i];
			int n;

			if (param != NULL &&
			    strcmp(p->dns->lists[i].name, param) != 0)
				continue;
			if (param == NULL && r->listed == CHECK_UNASKED)
				continue;
			n = snprintf(out + o, outsz - o, "%s%s %s%s%s%s",
			    o > 0 ? "; " : "", p->dns->lists[i].name,
			    r->key != NULL ? "asked " : "",
			    r->key != NULL ? tg_str_printable(v1, sizeof v1,
			    r->key) : "", r->key != NULL ? ": " : "",
			    check_state_text(r->listed, "listed", "not listed"));
			o = n > 0 ? o + (size_t)n : o;
			if (r->listed == 1 && r->reason != NULL && o < outsz) {
				n = snprintf(out + o, outsz - o, " \"%s\"",
				    tg_str_printable(v2, sizeof v2, r->reason));
				o = n > 0 ? o + (size_t)n : o;
			}
		}
		if (a == TG_A_DNSLIST_SCORE && o < outsz)
			snprintf(out + o, outsz - o, "%sscore %s", o > 0 ?
			    "; " : "", st->score[0] != '\0' ? st->score : "-");
		break;
	case TG_A_CLIENT_PTR:
	case TG_A_CLIENT_RDNS:
	case TG_A_CLIENT_FCRDNS:
		snprintf(out, outsz, "PTR %s, %s", st->ptr == 1 &&
		    st->ptr_name != NULL ? tg_str_printable(v1, sizeof v1,
		    st->ptr_name) : check_state_text(st->ptr, "", "none"),
		    check_state_text(st->fcrdns, "forward-confirmed",
		    "not forward-confirmed"));
		break;
	case TG_A_HELO_RESOLVES:
		snprintf(out, outsz, "%s", check_state_text(st->helo_resolves,
		    "has an A, AAAA or MX record", "no A, AAAA or MX record"));
		break;
	case TG_A_SPF:
		if (st->spf[0] == '\0')
			snprintf(out, outsz, "not evaluated");
		else
			snprintf(out, outsz, "%s%s%s", st->spf,
			    st->spf_received != NULL ? ": " : "",
			    st->spf_received != NULL ? tg_str_printable(v1,
			    sizeof v1, st->spf_received) : "");
		break;
	default:
		break;
	}
}
