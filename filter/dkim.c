/* dkim.c - DKIM and DMARC for the engine: the message as it streams in
 * (header fields and body to libopendkim, within caps), the one round of
 * DNS at end of message (every key and DMARC record at once, through the
 * policy's resolver and cache), and the attributes and template variables
 * that rules read. Verification itself is in dkim_verify.c, DMARC in
 * dmarc.c, signing in dkim_sign.c.
 * Owns: the process-wide libopendkim library handle (made once; the
 * library is built for sharing between threads), each message's struct
 * tg_dkim_msg. Threads: per session, except dkim_lib(). */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libpsl.h>

#include "tg.h"
#include "tg_check.h"
#include "tg_dkim.h"
#include "tg_dns.h"
#include "tg_log.h"
#include "tg_session.h"
#include "dkim_ed25519.h"
#include "dkim_impl.h"

static pthread_once_t dkim_once = PTHREAD_ONCE_INIT;
static DKIM_LIB *dkim_libh;

static void
dkim_lib_init(void)
{
	unsigned int flags = DKIM_LIBFLAGS_BADSIGHANDLES |
	    DKIM_LIBFLAGS_DELAYSIGPROC | DKIM_LIBFLAGS_FIXCRLF;
	uint64_t minbits = 1024;	/* RFC 8301 3.2 */
	/* Signing: one more "from" in h= than the message has, so that no
	 * From can be added above the signed one. */
	static const char *oversign[] = { "from", NULL };

	if ((dkim_libh = dkim_init(NULL, NULL)) == NULL) {
		tg_log_err("dkim: dkim_init failed");
		return;
	}
	/* BADSIGHANDLES: a malformed signature is reported (permerror),
	 * not silently dropped. DELAYSIGPROC: keys are fetched at end of
	 * message, after our one DNS round, not at end of headers. FIXCRLF:
	 * folded values come with bare LF from the MTA. */
	(void)dkim_options(dkim_libh, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags,
	    sizeof flags);
	(void)dkim_options(dkim_libh, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS,
	    &minbits, sizeof minbits);
	(void)dkim_options(dkim_libh, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS,
	    oversign, sizeof(char **));
	(void)dkim_set_key_lookup(dkim_libh, dkim_verify_key_lookup);
}

DKIM_LIB *
dkim_lib(void)
{
	pthread_once(&dkim_once, dkim_lib_init);
	return dkim_libh;
}

void
dkim_org_domain(const struct tg_dkim_conf *c, const char *d, char *out,
    size_t outsz)
{
	const char *r = NULL;

	if (c != NULL && c->psl != NULL)
		r = psl_registrable_domain(c->psl, d);
	tg_strlcpy(out, r != NULL ? r : d, outsz);
	tg_str_lower(out);
}

int
dkim_aligned(const struct tg_dkim_conf *c, const char *a, const char *b,
    int strict)
{
	char oa[TG_DNS_NAME_MAX], ob[TG_DNS_NAME_MAX];

	if (a == NULL || b == NULL || *a == '\0' || *b == '\0')
		return 0;
	if (strcasecmp(a, b) == 0)
		return 1;
	if (strict)
		return 0;
	dkim_org_domain(c, a, oa, sizeof oa);
	dkim_org_domain(c, b, ob, sizeof ob);
	return strcasecmp(oa, ob) == 0;
}

int
tg_dkim_wanted(const struct tg_policy *p)
{
	return p != NULL && p->dkim != NULL && (p->dkim->verify ||
	    p->dkim->sign_used);
}

int
tg_dkim_attr(enum tg_attr a)
{
	switch (a) {
	case TG_A_DKIM:
	case TG_A_DKIM_RESULT:
	case TG_A_DKIM_DOMAINS:
	case TG_A_DKIM_ALIGNED:
	case TG_A_DMARC:
	case TG_A_DMARC_POLICY:
	case TG_A_DMARC_DOMAIN:
	case TG_A_DMARC_ORG:
		return 1;
	default:
		return 0;
	}
}

static struct tg_dkim_msg *
dkim_msg(struct tg_session *s)
{
	if (s->dkim == NULL)
		s->dkim = tg_xcalloc(1, sizeof *s->dkim);
	return s->dkim;
}

struct tg_dkim_msg *
tg_dkim_msg_free(struct tg_dkim_msg *m)
{
	if (m == NULL)
		return NULL;
	if (m->v != NULL)
		dkim_free(m->v);
	for (size_t i = 0; i < m->signing.n; i++) {
		if (m->signing.h[i] != NULL)
			dkim_free(m->signing.h[i]);
		dkim_ed_free(m->signing.ed[i]);
	}
	for (size_t i = 0; i < DKIM_FROM_KEPT; i++)
		free(m->from[i]);
	for (size_t i = 0; i < m->nq; i++)
		tg_dns_query_clear(&m->q[i]);
	free(m->q);
	for (size_t i = 0; i < m->nsig; i++) {
		free(m->sig[i].d);
		free(m->sig[i].s);
		free(m->sig[i].b);
	}
	free(m->sig);
	for (size_t i = 0; i < m->ndom; i++)
		free(m->dom[i]);
	free(m->pass_domains);
	free(m->author);
	free(m->org);
	free(m->dkim_auth);
	free(m->dmarc_auth);
	for (size_t i = 0; i < m->nshdr; i++)
		free(m->shdr[i]);
	free(m->shdr);
	free(m);
	return NULL;
}

/* dkim_field - "Name:" and the value as received: with its leading
 * white space when the MTA kept it, else one space (what the MTA took
 * away is lost; relaxed header canonicalisation does not mind). Folded
 * lines come from the MTA with a bare LF (Sendmail) or CRLF (Postfix):
 * libopendkim wants CRLF in header fields (its FIXCRLF is for the body). */
static char *
dkim_field(const char *name, const char *value, const char *raw,
    size_t *len)
{
	const char *v = raw != NULL ? raw : value;
	size_t nl = strlen(name), vl = strlen(v), o;
	char *f = tg_xmalloc(nl + 2 * vl + 3);

	memcpy(f, name, nl);
	o = nl;
	f[o++] = ':';
	if (raw == NULL)
		f[o++] = ' ';
	for (size_t i = 0; i < vl; i++) {
		if (v[i] == '\n' && (i == 0 || v[i - 1] != '\r'))
			f[o++] = '\r';
		f[o++] = v[i];
	}
	f[o] = '\0';
	*len = o;
	return f;
}

/* dkim_verify_header - one field to the verifier, within the caps. A
 * DKIM-Signature over the count or size limit is not given (and is
 * counted as not verified): each costs a hash of the headers and of the
 * body, and its h= list is walked against every field. */
static void
dkim_verify_header(struct tg_dkim_msg *m, const struct tg_session *s,
    const char *name, const char *f, size_t len)
{
	int sig = tg_str_iequal(name, "DKIM-Signature");

	if (sig) {
		m->nsigf++;
		if (m->nsigf > TG_DKIM_SIGS_MAX ||
		    len > TG_DKIM_SIG_FIELD_MAX) {
			m->nskip++;
			return;
		}
	}
	if (m->hdr_over || m->v_error)
		return;
	if (m->nhdr >= TG_HEADER_MAX_COUNT ||
	    m->hbytes + len > TG_HEADER_MAX_BYTES) {
		m->hdr_over = 1;
		return;
	}
	if (m->v == NULL) {
		DKIM_STAT st;

		if (dkim_lib() == NULL || (m->v = dkim_verify(dkim_lib(),
		    (const unsigned char *)s->id, NULL, &st)) == NULL) {
			m->v_error = 1;
			m->v_why = "cannot start libopendkim";
			return;
		}
		(void)dkim_set_user_context(m->v, m);
	}
	m->nhdr++;
	m->hbytes += len;
	if (dkim_header(m->v, (unsigned char *)f, len) != DKIM_STAT_OK) {
		/* A signature libopendkim cannot parse is a permerror of
		 * its own; any other field it refuses leaves its view of
		 * the message incomplete: fail closed. */
		if (sig)
			m->nbad++;
		else
			m->hdr_over = 1;
	}
}

void
tg_dkim_header(struct tg_session *s, const struct tg_policy *p,
    const char *name, const char *value, const char *raw, int removed)
{
	struct tg_dkim_msg *m;
	char *f;
	size_t len;

	if (!tg_dkim_wanted(p))
		return;
	m = dkim_msg(s);
	if (tg_str_iequal(name, "From")) {
		if (m->nfrom < DKIM_FROM_KEPT)
			m->from[m->nfrom] = tg_xstrdup(value);
		m->nfrom++;
	}
	f = dkim_field(name, value, raw, &len);
	if (p->dkim->verify && m->v_state == 0)
		dkim_verify_header(m, s, name, f, len);
	if (p->dkim->sign_used && !removed && !m->s_over) {
		if (m->nshdr >= TG_HEADER_MAX_COUNT ||
		    m->sbytes + len > TG_HEADER_MAX_BYTES)
			m->s_over = 1;
		else {
			if (m->nshdr == m->shcap) {
				m->shcap = m->shcap ? 2 * m->shcap : 16;
				m->shdr = tg_xrealloc(m->shdr, m->shcap *
				    sizeof *m->shdr);
			}
			m->shdr[m->nshdr++] = f;
			m->sbytes += len;
			f = NULL;
		}
	}
	free(f);
}

/* dkim_sign_eoh is in dkim_sign.c */
void	dkim_sign_eoh(const struct tg_policy *, struct tg_session *);
void	dkim_sign_body(struct tg_dkim_msg *, const char *, size_t);

void
tg_dkim_eoh(struct tg_session *s, const struct tg_policy *p)
{
	struct tg_dkim_msg *m;
	DKIM_STAT st;

	if (!tg_dkim_wanted(p))
		return;
	m = dkim_msg(s);
	if (m->v != NULL && m->v_state == 0) {
		st = dkim_eoh(m->v);
		/* NOSIG: nothing to verify. Any other failure leaves the
		 * signatures libopendkim could parse to be reported. */
		if (st == DKIM_STAT_NORESOURCE || st == DKIM_STAT_INTERNAL) {
			m->v_error = 1;
			m->v_why = "libopendkim failed at end of headers";
		}
	}
	m->v_state = m->v_state < 1 ? 1 : m->v_state;
	if (p->dkim->sign_used && !m->s_started)
		dkim_sign_eoh(p, s);
}

void
tg_dkim_body(struct tg_session *s, const struct tg_policy *p,
    const char *buf, size_t len)
{
	struct tg_dkim_msg *m;
	DKIM_STAT st;

	if (!tg_dkim_wanted(p) || len == 0)
		return;
	m = dkim_msg(s);
	if (m->v_state == 0 || (p->dkim->sign_used && !m->s_started))
		tg_dkim_eoh(s, p);
	/* libopendkim hashes the body as it comes (its buffers are a few
	 * KB whatever the size of the message); it stops hashing by itself
	 * once every l= is reached (DKIM_STAT_OK still). */
	if (m->v != NULL && !m->v_error && m->v_state == 1 &&
	    (st = dkim_body(m->v, (unsigned char *)buf, len)) !=
	    DKIM_STAT_OK && st != DKIM_STAT_NOSIG) {
		if (st == DKIM_STAT_NORESOURCE || st == DKIM_STAT_INTERNAL) {
			m->v_error = 1;
			m->v_why = "libopendkim failed on the body";
		}
	}
	dkim_sign_body(m, buf, len);
}

void
tg_dkim_sign_request(struct tg_session *s)
{
	dkim_msg(s)->sign_req = 1;
}

/* dkim_spf_domain - the domain SPF authenticated: MAIL FROM's, or the
 * HELO name for the null sender (RFC 7489 3.1.2). */
static const char *
dkim_spf_domain(const struct tg_session *s)
{
	const char *sender = s->val[TG_A_SENDER];

	if (sender != NULL && *sender != '\0')
		return s->val[TG_A_SENDER_DOMAIN];
	return s->val[TG_A_HELO];
}

/* dkim_evaluate - everything, once per message */
static int
dkim_evaluate(const struct tg_policy *p, struct tg_session *s,
    const char **why)
{
	const struct tg_dkim_conf *c = p->dkim;
	struct tg_dkim_msg *m = dkim_msg(s);
	const char *spf = NULL, *qid = s->queue_id != NULL ? s->queue_id :
	    "NOQUEUE";

	if (m->done)
		return m->v_error ? -1 : 0;
	m->done = 1;
	if (m->v_state == 0)
		tg_dkim_eoh(s, p);
	if (m->v_error) {
		*why = m->v_why;
		tg_log_warnx("%s: %s: dkim: %s", s->id, qid, m->v_why);
		return -1;
	}
	/* One round: every key and every DMARC record. */
	dkim_verify_queries(m);
	if (c->dmarc)
		dmarc_queries(c, m);
	if (m->nq > 0)
		(void)tg_dns_resolve(p->dns->dns, m->q, m->nq);
	if (dkim_verify_finish(c, m, qid) < 0) {
		*why = m->v_why;
		tg_log_warnx("%s: %s: dkim: %s", s->id, qid, m->v_why);
		return -1;
	}
	if (c->dmarc) {
		const char *swhy;

		/* SPF, through the same cache as the spf attribute. */
		if (p->dns != NULL && p->dns->spf != NULL &&
		    tg_check_eval(p, s, TG_A_SPF, NULL, &swhy) == 0)
			spf = s->val[TG_A_SPF];
		dmarc_evaluate(c, m, spf, dkim_spf_domain(s), qid);
	}
	return 0;
}

/* dkim_result_for - the best result of domain d's signatures */
static const char *
dkim_result_for(const struct tg_dkim_msg *m, const char *d)
{
	static const char *const order[] = { "pass", "temperror", "fail",
	    "policy", "permerror", "neutral" };

	for (size_t o = 0; o < sizeof order / sizeof order[0]; o++)
		for (size_t i = 0; i < m->nsig; i++)
			if (m->sig[i].d != NULL &&
			    strcasecmp(m->sig[i].d, d) == 0 &&
			    strcmp(m->sig[i].result, order[o]) == 0)
				return order[o];
	return "none";
}

int
tg_dkim_eval(const struct tg_policy *p, struct tg_session *s,
    enum tg_attr a, const char *param, const char **val, const char **why)
{
	struct tg_dkim_msg *m;

	*val = NULL;
	if (p->dkim == NULL || !p->dkim->verify) {
		*why = "DKIM verification not set up";
		return -1;
	}
	if (dkim_evaluate(p, s, why) < 0)
		return -1;
	m = s->dkim;
	switch (a) {
	case TG_A_DKIM:
		*val = m->dkim;
		break;
	case TG_A_DKIM_RESULT:
		*val = param != NULL ? dkim_result_for(m, param) : NULL;
		break;
	case TG_A_DKIM_DOMAINS:
		*val = m->pass_domains != NULL ? m->pass_domains : "";
		break;
	case TG_A_DKIM_ALIGNED:
		*val = m->aligned ? "1" : "";
		break;
	case TG_A_DMARC:
		*val = m->dmarc[0] != '\0' ? m->dmarc : NULL;
		break;
	case TG_A_DMARC_POLICY:
		*val = m->dmarc_policy[0] != '\0' ? m->dmarc_policy : NULL;
		break;
	case TG_A_DMARC_DOMAIN:
		*val = m->author;
		break;
	case TG_A_DMARC_ORG:
		*val = m->org;
		break;
	default:
		break;
	}
	return 0;
}

const char *
tg_dkim_var(const struct tg_policy *p, struct tg_session *s,
    const char *name, size_t len)
{
	const char *why;

#define IS(n)	(len == sizeof(n) - 1 && strncmp(name, n, len) == 0)
	if (!IS("dkim_auth") && !IS("dmarc_auth") && !IS("dmarc_domain"))
		return NULL;
	if (p == NULL || p->dkim == NULL || !p->dkim->verify ||
	    dkim_evaluate(p, s, &why) < 0)
		return NULL;
	if (IS("dkim_auth"))
		return s->dkim->dkim_auth;
	if (IS("dmarc_auth"))
		return s->dkim->dmarc_auth;
	return s->dkim->author;
#undef IS
}
