/* dkim_verify.c - DKIM verification results: the key records asked in
 * the end-of-message DNS round (through tollgate's resolver and cache, in
 * parallel with the DMARC records), handed to libopendkim by its key
 * lookup callback; libopendkim's per-signature verdicts mapped to RFC 8601
 * results; the Authentication-Results text. What libopendkim accepts but
 * we do not: l= that leaves part of the body unsigned, and rsa-sha1 (RFC
 * 8301) are "policy"; a header block past the caps makes every signature
 * "permerror" (the verifier did not see the whole header).
 * Owns: nothing of its own (fills struct tg_dkim_msg). Threads: per
 * session. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tg.h"
#include "tg_auth.h"
#include "tg_dns.h"
#include "tg_log.h"
#include "tg_session.h"
#include "dkim_impl.h"

#define DKIM_KEY_RECORD_MAX	1024	/* libopendkim's key buffer */

void
dkim_query_add(struct tg_dkim_msg *m, const char *name)
{
	if (dkim_query_find(m, name) != NULL || m->nq >= DKIM_QUERIES_MAX ||
	    !tg_dns_name_valid(name))
		return;
	if (m->q == NULL)
		m->q = tg_xcalloc(DKIM_QUERIES_MAX, sizeof *m->q);
	if (tg_dns_query_init(&m->q[m->nq], name, TG_DNS_TXT) == TG_OK)
		m->nq++;
}

struct tg_dns_query *
dkim_query_find(struct tg_dkim_msg *m, const char *name)
{
	for (size_t i = 0; i < m->nq; i++)
		if (strcasecmp(m->q[i].name, name) == 0)
			return &m->q[i];
	return NULL;
}

/* dkim_key_name - SELECTOR._domainkey.DOMAIN into buf; 0 or -1 */
static int
dkim_key_name(DKIM_SIGINFO *sig, char *buf, size_t sz)
{
	const char *sel = (const char *)dkim_sig_getselector(sig);
	const char *dom = (const char *)dkim_sig_getdomain(sig);
	int n;

	if (sel == NULL || dom == NULL)
		return -1;
	n = snprintf(buf, sz, "%s._domainkey.%s", sel, dom);
	return n < 0 || (size_t)n >= sz ? -1 : 0;
}

void
dkim_verify_queries(struct tg_dkim_msg *m)
{
	DKIM_SIGINFO **sigs;
	char name[TG_DNS_NAME_MAX];
	int n;

	if (m->v == NULL || m->hdr_over ||
	    dkim_getsiglist(m->v, &sigs, &n) != DKIM_STAT_OK)
		return;
	for (int i = 0; i < n; i++)
		if (dkim_sig_geterror(sigs[i]) == DKIM_SIGERROR_UNKNOWN &&
		    (dkim_sig_getflags(sigs[i]) & DKIM_SIGFLAG_IGNORE) == 0 &&
		    dkim_key_name(sigs[i], name, sizeof name) == 0)
			dkim_query_add(m, name);
}

/* dkim_key_record - the one TXT record of q, or NULL with *why: several
 * records are ambiguous (RFC 6376 3.6.2.2 lets a verifier pick; we do
 * not guess which). */
static const char *
dkim_key_record(const struct tg_dns_query *q, const char **why)
{
	if (q->n > 1) {
		*why = "several key records";
		return NULL;
	}
	return q->n == 1 ? q->str[0] : NULL;
}

DKIM_CBSTAT
dkim_verify_key_lookup(DKIM *dkim, DKIM_SIGINFO *sig, unsigned char *buf,
    size_t buflen)
{
	struct tg_dkim_msg *m = dkim_get_user_context(dkim);
	struct tg_dns_query *q;
	char name[TG_DNS_NAME_MAX];
	const char *rec, *why = NULL;

	if (m == NULL || dkim_key_name(sig, name, sizeof name) < 0 ||
	    (q = dkim_query_find(m, name)) == NULL)
		return DKIM_CBSTAT_NOTFOUND;
	if (q->status != TG_DNS_OK)
		return DKIM_CBSTAT_NOTFOUND;	/* FAIL: temperror, below */
	if ((rec = dkim_key_record(q, &why)) == NULL)
		return DKIM_CBSTAT_NOTFOUND;
	/* A record longer than libopendkim's buffer is given empty: it
	 * reports a key syntax error, and we say why. */
	if (strlen(rec) >= buflen || strlen(rec) >= DKIM_KEY_RECORD_MAX)
		buf[0] = '\0';
	else
		memcpy(buf, rec, strlen(rec) + 1);
	return DKIM_CBSTAT_CONTINUE;
}

/* dkim_errtext - a short reason for a failed signature (static) */
static const char *
dkim_errtext(int err)
{
	switch (err) {
	case DKIM_SIGERROR_EXPIRED:	return "signature expired";
	case DKIM_SIGERROR_FUTURE:	return "signature in the future";
	case DKIM_SIGERROR_NOKEY:	return "no key";
	case DKIM_SIGERROR_KEYREVOKED:	return "key revoked";
	case DKIM_SIGERROR_KEYTOOSMALL:	return "key too small";
	case DKIM_SIGERROR_BADSIG:	return "bad signature";
	case DKIM_SIGERROR_INVALID_A:
	case DKIM_SIGERROR_MISSING_A:	return "unknown algorithm";
	case DKIM_SIGERROR_INVALID_H:	return "From not signed";
	case DKIM_SIGERROR_TOOLARGE_L:	return "l= past the body";
	case DKIM_SIGERROR_SUBDOMAIN:	return "i= not in d=";
	case DKIM_SIGERROR_MULTIREPLY:	return "several key records";
	case DKIM_SIGERROR_DNSSYNTAX:
	case DKIM_SIGERROR_KEYDECODE:
	case DKIM_SIGERROR_KEYVERSION:
	case DKIM_SIGERROR_KEYTYPEMISSING:
	case DKIM_SIGERROR_KEYTYPEUNKNOWN:
	case DKIM_SIGERROR_KEYUNKNOWNHASH:
	case DKIM_SIGERROR_KEYHASHMISMATCH:
	case DKIM_SIGERROR_NOTEMAILKEY:	return "bad key record";
	default:			return "malformed signature";
	}
}

/* dkim_map - libopendkim's verdict on one signature as an RFC 8601
 * result (and a reason) */
static void
dkim_map(struct tg_dkim_msg *m, DKIM_SIGINFO *sig, struct dkim_sigres *r)
{
	int err = dkim_sig_geterror(sig);
	unsigned flags = dkim_sig_getflags(sig);
	struct tg_dns_query *q;
	char name[TG_DNS_NAME_MAX];
	ssize_t msglen = -1, canonlen = -1, signlen = -1;
	dkim_alg_t alg;
	const char *why = NULL;

	tg_log_debug("dkim: sig d=%s err=%d flags=%#x bh=%d: %s",
	    dkim_sig_getdomain(sig) != NULL ?
	    (const char *)dkim_sig_getdomain(sig) : "-", err, flags,
	    dkim_sig_getbh(sig), dkim_geterror(m->v) != NULL ?
	    dkim_geterror(m->v) : "");
	if (dkim_key_name(sig, name, sizeof name) == 0 &&
	    (q = dkim_query_find(m, name)) != NULL) {
		if (q->status == TG_DNS_FAIL || q->status == TG_DNS_PENDING) {
			tg_strlcpy(r->result, "temperror", sizeof r->result);
			r->why = "key lookup failed";
			return;
		}
		if (q->status == TG_DNS_OK &&
		    dkim_key_record(q, &why) == NULL && why != NULL) {
			tg_strlcpy(r->result, "permerror", sizeof r->result);
			r->why = why;
			return;
		}
		if (q->n == 1 && strlen(q->str[0]) >= DKIM_KEY_RECORD_MAX) {
			tg_strlcpy(r->result, "permerror", sizeof r->result);
			r->why = "key record too long";
			return;
		}
	}
	if ((flags & DKIM_SIGFLAG_PASSED) != 0 &&
	    dkim_sig_getbh(sig) == DKIM_SIGBH_MATCH) {
		tg_strlcpy(r->result, "pass", sizeof r->result);
		/* l=: the signature covers only the first bytes of the
		 * body; whatever follows could be anyone's. */
		if (dkim_sig_getcanonlen(m->v, sig, &msglen, &canonlen,
		    &signlen) == DKIM_STAT_OK && signlen >= 0 &&
		    canonlen < msglen) {
			tg_strlcpy(r->result, "policy", sizeof r->result);
			r->why = "l= leaves part of the body unsigned";
		} else if (dkim_sig_getsignalg(sig, &alg) == DKIM_STAT_OK &&
		    alg == DKIM_SIGN_RSASHA1) {
			tg_strlcpy(r->result, "policy", sizeof r->result);
			r->why = "rsa-sha1 (RFC 8301)";
		}
		return;
	}
	if ((flags & DKIM_SIGFLAG_PASSED) != 0 ||
	    dkim_sig_getbh(sig) == DKIM_SIGBH_MISMATCH) {
		tg_strlcpy(r->result, "fail", sizeof r->result);
		r->why = dkim_sig_getbh(sig) == DKIM_SIGBH_MISMATCH ?
		    "body hash mismatch" : "bad signature";
		return;
	}
	switch (err) {
	case DKIM_SIGERROR_KEYFAIL:
		tg_strlcpy(r->result, "temperror", sizeof r->result);
		break;
	case DKIM_SIGERROR_BADSIG:
	case DKIM_SIGERROR_EXPIRED:
	case DKIM_SIGERROR_FUTURE:
	case DKIM_SIGERROR_KEYTOOSMALL:
		tg_strlcpy(r->result, "fail", sizeof r->result);
		break;
	default:
		tg_strlcpy(r->result, "permerror", sizeof r->result);
		break;
	}
	r->why = dkim_errtext(err);
}

/* dkim_sig_text - a tag of the signature, copied; NULL if absent */
static char *
dkim_sig_text(DKIM_SIGINFO *sig, const char *tag, size_t max)
{
	unsigned char *v = dkim_sig_gettagvalue(sig, 0,
	    (unsigned char *)tag);

	return v != NULL ? tg_xstrndup((const char *)v, max) : NULL;
}

/* dkim_overall - pass if any passed; else the most telling of the rest */
static void
dkim_overall(struct tg_dkim_msg *m)
{
	static const char *const order[] = { "pass", "temperror", "fail",
	    "permerror", "policy", "neutral" };

	tg_strlcpy(m->dkim, m->nsigf == 0 ? "none" : "permerror",
	    sizeof m->dkim);
	for (size_t o = 0; o < sizeof order / sizeof order[0]; o++)
		for (size_t i = 0; i < m->nsig; i++)
			if (strcmp(m->sig[i].result, order[o]) == 0) {
				tg_strlcpy(m->dkim, order[o], sizeof m->dkim);
				return;
			}
}

/* dkim_authres - "dkim=RESULT (why) header.d=D header.s=S header.b=B"
 * per signature, joined with "; "; client values quoted (RFC 8601
 * pvalue) so none can end the result or start another. */
static void
dkim_authres(struct tg_dkim_msg *m)
{
	size_t cap = 64, len = 0;
	char *out = tg_xmalloc(cap);

	out[0] = '\0';
	if (m->nsig == 0) {
		free(out);
		m->dkim_auth = tg_xasprintf("dkim=%s%s", m->dkim,
		    m->nsigf > 0 ? " (signatures not verified: over "
		    "tollgate's limits)" : "");
		return;
	}
	for (size_t i = 0; i < m->nsig; i++) {
		const struct dkim_sigres *r = &m->sig[i];
		char *d = r->d != NULL ? tg_authres_quote(r->d, TG_AQ_PVALUE) :
		    NULL;
		char *s = r->s != NULL ? tg_authres_quote(r->s, TG_AQ_PVALUE) :
		    NULL;
		char *b = r->b != NULL ? tg_authres_quote(r->b, TG_AQ_PVALUE) :
		    NULL;
		char *one = tg_xasprintf("%sdkim=%s%s%s%s%s%s%s%s%s%s",
		    i > 0 ? "; " : "", r->result,
		    r->why != NULL ? " (" : "", r->why != NULL ? r->why : "",
		    r->why != NULL ? ")" : "", d != NULL ? " header.d=" : "",
		    d != NULL ? d : "", s != NULL ? " header.s=" : "",
		    s != NULL ? s : "", b != NULL ? " header.b=" : "",
		    b != NULL ? b : "");
		size_t n = strlen(one);

		if (len + n + 1 > cap) {
			cap = 2 * (len + n + 1);
			out = tg_xrealloc(out, cap);
		}
		memcpy(out + len, one, n + 1);
		len += n;
		free(one);
		free(d);
		free(s);
		free(b);
	}
	m->dkim_auth = out;
}

/* dkim_add_pass - a passing d= into the space-separated list, once */
static void
dkim_add_pass(struct tg_dkim_msg *m, const char *d)
{
	char *n;

	if (m->pass_domains != NULL) {
		size_t dl = strlen(d);

		for (const char *p = m->pass_domains; *p != '\0';) {
			size_t l = strcspn(p, " ");

			if (l == dl && strncasecmp(p, d, dl) == 0)
				return;
			p += l + (p[l] == ' ');
		}
	}
	n = m->pass_domains == NULL ? tg_xstrdup(d) :
	    tg_xasprintf("%s %s", m->pass_domains, d);
	free(m->pass_domains);
	m->pass_domains = n;
	tg_str_lower(m->pass_domains);
}

int
dkim_verify_finish(const struct tg_dkim_conf *c, struct tg_dkim_msg *m,
    const char *qid)
{
	DKIM_SIGINFO **sigs = NULL;
	DKIM_STAT st;
	int n = 0;

	if (m->v != NULL && !m->hdr_over) {
		st = dkim_eom(m->v, NULL);
		if (st == DKIM_STAT_NORESOURCE || st == DKIM_STAT_INTERNAL) {
			m->v_error = 1;
			m->v_why = "libopendkim failed at end of message";
			return -1;
		}
	}
	if (m->v != NULL && dkim_getsiglist(m->v, &sigs, &n) != DKIM_STAT_OK)
		n = 0;
	m->sig = tg_xcalloc((n > 0 ? (size_t)n : 0) + m->nbad + 1,
	    sizeof *m->sig);
	for (unsigned i = 0; i < m->nbad; i++) {
		tg_strlcpy(m->sig[m->nsig].result, "permerror",
		    sizeof m->sig[0].result);
		m->sig[m->nsig++].why = "malformed signature";
	}
	for (int i = 0; i < n; i++) {
		struct dkim_sigres *r = &m->sig[m->nsig];

		if ((dkim_sig_getflags(sigs[i]) & DKIM_SIGFLAG_IGNORE) != 0)
			continue;
		m->nsig++;
		r->d = dkim_sig_text(sigs[i], "d", 255);
		r->s = dkim_sig_text(sigs[i], "s", 63);
		r->b = dkim_sig_text(sigs[i], "b", 8);
		if (m->hdr_over) {
			/* The verifier saw part of the header only: a
			 * signed field may be among the rest. */
			tg_strlcpy(r->result, "permerror", sizeof r->result);
			r->why = "header block over tollgate's limits";
		} else
			dkim_map(m, sigs[i], r);
		if (strcmp(r->result, "pass") == 0 && r->d != NULL)
			dkim_add_pass(m, r->d);
	}
	dkim_overall(m);
	dkim_authres(m);
	if (m->hdr_over)
		tg_log_warnx("%s: dkim: the header block is over the limits "
		    "of %d fields or %d bytes: signatures not verified "
		    "(permerror)", qid, TG_HEADER_MAX_COUNT,
		    TG_HEADER_MAX_BYTES);
	if (m->nskip > 0)
		tg_log_info("%s: dkim: %u of %u signatures not verified "
		    "(only the first %d, each at most %d bytes)", qid,
		    m->nskip, m->nsigf, TG_DKIM_SIGS_MAX,
		    TG_DKIM_SIG_FIELD_MAX);
	(void)c;
	return 0;
}
