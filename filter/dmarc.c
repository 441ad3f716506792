/* dmarc.c - DMARC (RFC 7489): the author domain from From:, the policy
 * record (_dmarc.DOMAIN, then the organisational domain's), its syntax
 * read by libopendmarc, alignment of the DKIM and SPF results, and the
 * policy to apply (p or sp, then pct).
 * libopendmarc parses the record (opendmarc_policy_parse_dmarc); its own
 * alignment test is not used: it compares reversed names as prefixes
 * before it consults the Public Suffix List, so d=github.io would align
 * with From: victim.github.io though github.io is a public suffix.
 * Organisational domains come from libpsl over Debian's publicsuffix
 * list (dkim.c).
 * An author domain that cannot be told (no From:, several From: fields,
 * none with a domain, more domains than evaluated) fails DMARC with the
 * policy "reject": RFC 7489 6.6.1 lets a receiver reject such mail, and
 * ambiguous input is treated as the worst case. Several addresses in one
 * From: are each evaluated, the strictest failing policy applies.
 * Owns: nothing of its own. Threads: per session; libopendmarc's parser
 * keeps its state in the context it is given. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <opendmarc/dmarc.h>

#include "tg.h"
#include "tg_addrlist.h"
#include "tg_auth.h"
#include "tg_log.h"
#include "dkim_impl.h"

/* The one author domain's outcome. */
struct dmarc_one {
	char	 result[12];	/* pass fail none temperror permerror */
	char	 policy[12];	/* the policy to apply, "" unknown */
	char	 published[64];	/* "p=reject sp=none pct=100", comment */
	char	 org[TG_DNS_NAME_MAX];
};

/* dmarc_unfold - a From value without its line breaks */
static char *
dmarc_unfold(const char *v)
{
	char *o = tg_xmalloc(strlen(v) + 1), *p = o;

	for (; *v != '\0'; v++)
		if (*v != '\r' && *v != '\n')
			*p++ = *v;
	*p = '\0';
	return o;
}

/* dmarc_domains - the author domains of the From field, or *why */
static void
dmarc_domains(struct tg_dkim_msg *m)
{
	struct tg_addrlist al;
	char *v;
	int rc;

	if (m->nfrom == 0) {
		m->from_bad = "no From field";
		return;
	}
	if (m->nfrom > 1) {
		m->from_bad = "several From fields";
		return;
	}
	v = dmarc_unfold(m->from[0]);
	rc = tg_addrlist_parse(v, &al);
	free(v);
	for (size_t i = 0; rc == TG_OK && i < al.naddr; i++) {
		const char *at = strrchr(al.addr[i], '@');
		int dup = 0;

		if (at == NULL || !tg_dns_name_valid(at + 1)) {
			m->from_bad = "a From address without a domain";
			break;
		}
		for (size_t j = 0; j < m->ndom; j++)
			dup |= strcasecmp(m->dom[j], at + 1) == 0;
		if (dup)
			continue;
		if (m->ndom >= TG_DMARC_DOMAINS_MAX) {
			m->from_bad = "too many From domains";
			break;
		}
		m->dom[m->ndom] = tg_xstrdup(at + 1);
		tg_str_lower(m->dom[m->ndom++]);
	}
	if (rc != TG_OK)
		m->from_bad = "From is not an address list";
	else if (m->ndom == 0 && m->from_bad == NULL)
		m->from_bad = "no address in From";
	tg_addrlist_free(&al);
}

void
dmarc_queries(const struct tg_dkim_conf *c, struct tg_dkim_msg *m)
{
	char name[TG_DNS_NAME_MAX + 8], org[TG_DNS_NAME_MAX];

	dmarc_domains(m);
	if (m->from_bad != NULL)
		return;
	for (size_t i = 0; i < m->ndom; i++) {
		snprintf(name, sizeof name, "_dmarc.%s", m->dom[i]);
		dkim_query_add(m, name);
		dkim_org_domain(c, m->dom[i], org, sizeof org);
		if (strcmp(org, m->dom[i]) != 0) {
			/* Asked at once: one round instead of two, for a
			 * record most subdomains lack. */
			snprintf(name, sizeof name, "_dmarc.%s", org);
			dkim_query_add(m, name);
		}
	}
}

/* dmarc_record - the one "v=DMARC1" record of q: 1 found, 0 none, -1
 * DNS failure, -2 several (RFC 7489 6.6.3: no DMARC processing) */
static int
dmarc_record(const struct tg_dns_query *q, const char **rec)
{
	int found = 0;

	*rec = NULL;
	if (q == NULL || q->status == TG_DNS_FAIL ||
	    q->status == TG_DNS_PENDING)
		return -1;
	for (size_t i = 0; q->status == TG_DNS_OK && i < q->n; i++) {
		const char *t = q->str[i] + strspn(q->str[i], " \t");

		if (strncmp(t, "v=DMARC1", 8) != 0 ||
		    (t[8] != ';' && t[8] != ' ' && t[8] != '\t' &&
		    t[8] != '\0'))
			continue;
		found++;
		*rec = q->str[i];
	}
	return found > 1 ? -2 : found;
}

static const char *
dmarc_pname(int p)
{
	switch (p) {
	case DMARC_RECORD_P_REJECT:	return "reject";
	case DMARC_RECORD_P_QUARANTINE:	return "quarantine";
	case DMARC_RECORD_P_NONE:	return "none";
	default:			return "";
	}
}

/* dmarc_sample - RFC 7489 6.6.4: a failing message outside pct gets the
 * next weaker policy */
static const char *
dmarc_sample(const char *policy, int pct)
{
	if (pct < 0 || pct >= 100 || (int)arc4random_uniform(100) < pct)
		return policy;
	if (strcmp(policy, "reject") == 0)
		return "quarantine";
	return "none";
}

/* dmarc_one - evaluate one author domain */
static void
dmarc_one(const struct tg_dkim_conf *c, struct tg_dkim_msg *m,
    const char *dom, const char *spf, const char *spf_domain,
    struct dmarc_one *o)
{
	char name[TG_DNS_NAME_MAX + 8];
	const char *rec = NULL, *at = dom;
	DMARC_POLICY_T *pctx;
	int found, p = 0, sp = 0, pct = 100, adkim = 0, aspf = 0, sub = 0;
	int dk = 0, dk_temp = 0, sp_ok;

	memset(o, 0, sizeof *o);
	dkim_org_domain(c, dom, o->org, sizeof o->org);
	snprintf(name, sizeof name, "_dmarc.%s", dom);
	found = dmarc_record(dkim_query_find(m, name), &rec);
	if (found == 0 && strcmp(o->org, dom) != 0) {
		snprintf(name, sizeof name, "_dmarc.%s", o->org);
		found = dmarc_record(dkim_query_find(m, name), &rec);
		at = o->org;
		sub = 1;
	}
	if (found == -1) {
		tg_strlcpy(o->result, "temperror", sizeof o->result);
		return;
	}
	if (found == 0) {
		tg_strlcpy(o->result, "none", sizeof o->result);
		return;
	}
	if (found == -2) {
		tg_strlcpy(o->result, "permerror", sizeof o->result);
		snprintf(o->published, sizeof o->published, "several records");
		return;
	}
	/* libopendmarc reads the record's syntax. */
	if ((pctx = opendmarc_policy_connect_init((unsigned char *)"0.0.0.0",
	    0)) == NULL) {
		tg_strlcpy(o->result, "temperror", sizeof o->result);
		return;
	}
	if (opendmarc_policy_parse_dmarc(pctx, (unsigned char *)at,
	    (unsigned char *)rec) != DMARC_PARSE_OKAY ||
	    opendmarc_policy_fetch_p(pctx, &p) != DMARC_PARSE_OKAY) {
		opendmarc_policy_connect_shutdown(pctx);
		tg_strlcpy(o->result, "permerror", sizeof o->result);
		snprintf(o->published, sizeof o->published, "bad record");
		return;
	}
	(void)opendmarc_policy_fetch_sp(pctx, &sp);
	(void)opendmarc_policy_fetch_pct(pctx, &pct);
	(void)opendmarc_policy_fetch_adkim(pctx, &adkim);
	(void)opendmarc_policy_fetch_aspf(pctx, &aspf);
	opendmarc_policy_connect_shutdown(pctx);

	/* Identifier alignment (RFC 7489 3.1). */
	for (size_t i = 0; i < m->nsig; i++) {
		const struct dkim_sigres *r = &m->sig[i];

		if (r->d == NULL || !dkim_aligned(c, r->d, dom,
		    adkim == DMARC_RECORD_A_STRICT))
			continue;
		dk |= strcmp(r->result, "pass") == 0;
		dk_temp |= strcmp(r->result, "temperror") == 0;
	}
	sp_ok = spf != NULL && strcmp(spf, "pass") == 0 &&
	    dkim_aligned(c, spf_domain, dom, aspf == DMARC_RECORD_A_STRICT);
	/* sp= applies when the record is the organisational domain's. */
	tg_strlcpy(o->policy, dmarc_pname(sub && sp != 0 ? sp : p),
	    sizeof o->policy);
	snprintf(o->published, sizeof o->published, "p=%s sp=%s pct=%d",
	    dmarc_pname(p), dmarc_pname(sp != 0 ? sp : p), pct < 0 ? 100 :
	    pct);
	if (dk || sp_ok) {
		tg_strlcpy(o->result, "pass", sizeof o->result);
		return;
	}
	/* A signature of the domain that could not be checked for now, or
	 * SPF that could not: not a failure to enforce for good. */
	if (dk_temp || (spf != NULL && strcmp(spf, "temperror") == 0 &&
	    dkim_aligned(c, spf_domain, dom, aspf == DMARC_RECORD_A_STRICT))) {
		tg_strlcpy(o->result, "temperror", sizeof o->result);
		return;
	}
	tg_strlcpy(o->result, "fail", sizeof o->result);
	tg_strlcpy(o->policy, dmarc_sample(o->policy, pct), sizeof o->policy);
}

static int
dmarc_rank(const char *policy)
{
	return strcmp(policy, "reject") == 0 ? 3 :
	    strcmp(policy, "quarantine") == 0 ? 2 :
	    strcmp(policy, "none") == 0 ? 1 : 0;
}

static int
dmarc_result_rank(const char *r)
{
	return strcmp(r, "fail") == 0 ? 5 : strcmp(r, "temperror") == 0 ? 4 :
	    strcmp(r, "permerror") == 0 ? 3 : strcmp(r, "none") == 0 ? 2 :
	    strcmp(r, "pass") == 0 ? 1 : 0;
}

void
dmarc_evaluate(const struct tg_dkim_conf *c, struct tg_dkim_msg *m,
    const char *spf, const char *spf_domain, const char *qid)
{
	struct dmarc_one o, worst;
	char *hf = NULL, *tmp, pr[300], cm[96] = "";
	int fail;

	memset(&worst, 0, sizeof worst);
	if (m->from_bad == NULL && m->ndom == 0)
		dmarc_domains(m);
	if (m->from_bad != NULL) {
		tg_strlcpy(m->dmarc, "fail", sizeof m->dmarc);
		tg_strlcpy(m->dmarc_policy, "reject", sizeof m->dmarc_policy);
		m->dmarc_why = m->from_bad;
		m->dmarc_auth = tg_xasprintf("dmarc=fail (%s)", m->from_bad);
		tg_log_info("%s: dmarc: fail: %s", qid, m->from_bad);
		return;
	}
	/* Several domains in one From: every one is evaluated; the result
	 * is the worst, the policy the strictest among those that fail
	 * (RFC 7489 6.6.1). */
	for (size_t i = 0; i < m->ndom; i++) {
		dmarc_one(c, m, m->dom[i], spf, spf_domain, &o);
		if (i == 0 || dmarc_result_rank(o.result) >
		    dmarc_result_rank(worst.result) ||
		    (strcmp(o.result, worst.result) == 0 &&
		    dmarc_rank(o.policy) > dmarc_rank(worst.policy)))
			worst = o;
		tmp = hf == NULL ? tg_xstrdup(m->dom[i]) :
		    tg_xasprintf("%s %s", hf, m->dom[i]);
		free(hf);
		hf = tmp;
	}
	m->author = hf;
	m->org = tg_xstrdup(worst.org);
	tg_strlcpy(m->dmarc, worst.result, sizeof m->dmarc);
	tg_strlcpy(m->dmarc_policy, worst.policy, sizeof m->dmarc_policy);
	/* The alignment of DKIM alone, for dkim.aligned (relaxed). */
	for (size_t i = 0; i < m->nsig && m->ndom == 1; i++)
		if (strcmp(m->sig[i].result, "pass") == 0 &&
		    dkim_aligned(c, m->sig[i].d, m->dom[0], 0))
			m->aligned = 1;
	/* RFC 8601 resinfo; the comment gives the published policy and,
	 * for a failure, the disposition asked for (after pct). */
	fail = strcmp(m->dmarc, "fail") == 0 && worst.policy[0] != '\0';
	if (worst.published[0] != '\0')
		snprintf(cm, sizeof cm, " (%s%s%s)", worst.published,
		    fail ? " dis=" : "", fail ? worst.policy : "");
	tmp = tg_authres_quote(m->dom[0], TG_AQ_DOMAIN);
	m->dmarc_auth = tg_xasprintf("dmarc=%s%s header.from=%s", m->dmarc,
	    cm, tmp);
	free(tmp);
	tg_log_info("%s: dmarc: %s policy=%s from=%s", qid, m->dmarc,
	    m->dmarc_policy[0] != '\0' ? m->dmarc_policy : "-",
	    tg_str_printable(pr, sizeof pr, m->author));
}
