/* dkim_sign.c - DKIM signing on submission: rsa-sha256 with libopendkim,
 * ed25519-sha256 (RFC 8463) with dkim_ed25519.c (Debian 12's libopendkim
 * signs Ed25519 too, but leaks with every such signature: see there),
 * relaxed/relaxed, From oversigned (one more "from" in h= than the
 * message has, so no From can be added later).
 * libopendkim takes every header field before the body, and the key
 * depends on From, so the fields are kept (within the session's caps)
 * until the end of the header, then given to one signer per key; the
 * body streams through them. The signature is made at end of message,
 * only when a dkim-sign action matched, after every change tollgate
 * makes to the header: forged Authentication-Results it removes are
 * never given to the signer, and the fields it adds (its own
 * Authentication-Results, add-header names) are never in h=, so adding
 * them breaks nothing.
 * Not signed (logged): no From or several, a From with several
 * addresses, a header block over the caps, no key for the address.
 * Owns: the signing handles in the message state. Threads: per session. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tg.h"
#include "tg_addrlist.h"
#include "tg_log.h"
#include "tg_session.h"
#include "dkim_ed25519.h"
#include "dkim_impl.h"

/* RFC 6376 5.4.1's list, those that identify or change how the message
 * shows. */
static const char *const sign_hdrs[] = {
	"from", "reply-to", "subject", "date", "to", "cc", "message-id",
	"in-reply-to", "references", "mime-version", "content-type",
	"content-transfer-encoding", "content-disposition", "content-id",
	"sender", "list-id", "list-help", "list-unsubscribe",
	"list-subscribe", "list-post", "list-owner", "list-archive",
	"resent-date", "resent-from", "resent-to", "resent-cc",
	"resent-message-id",
};

/* sign_list - our list without the names tollgate may add */
static size_t
sign_list(const struct tg_dkim_conf *c, const char **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof sign_hdrs / sizeof sign_hdrs[0] &&
	    n + 1 < max; i++) {
		int skip = 0;

		for (size_t j = 0; j < c->nnever; j++)
			skip |= strcasecmp(c->never_sign[j], sign_hdrs[i]) == 0;
		if (!skip)
			out[n++] = sign_hdrs[i];
	}
	out[n] = NULL;
	return n;
}

/* sign_from - the one From address, or NULL with *why */
static char *
sign_from(const struct tg_dkim_msg *m, const char **why)
{
	struct tg_addrlist al;
	char *v, *p, *addr = NULL;

	if (m->nfrom != 1) {
		*why = m->nfrom == 0 ? "no From field" : "several From fields";
		return NULL;
	}
	v = tg_xstrdup(m->from[0]);
	for (p = v; *p != '\0'; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	if (tg_addrlist_parse(v, &al) != TG_OK || al.naddr != 1)
		*why = "From does not hold exactly one address";
	else
		addr = tg_xstrdup(al.addr[0]);
	tg_addrlist_free(&al);
	free(v);
	return addr;
}

void	dkim_sign_eoh(const struct tg_policy *, struct tg_session *);
void	dkim_sign_body(struct tg_dkim_msg *, const char *, size_t);

void
dkim_sign_eoh(const struct tg_policy *p, struct tg_session *s)
{
	const struct tg_dkim_conf *c = p->dkim;
	struct tg_dkim_msg *m = s->dkim;
	const char *hl[sizeof sign_hdrs / sizeof sign_hdrs[0] + 1];
	const char *why = NULL;
	size_t keys[TG_DKIM_SIGN_MAX], nk;
	char *addr;

	m->s_started = 1;
	if (m->s_over || dkim_lib() == NULL ||
	    (addr = sign_from(m, &why)) == NULL)
		return;
	nk = tg_dkim_keys_for(c, addr, keys, TG_DKIM_SIGN_MAX);
	free(addr);
	sign_list(c, hl, sizeof hl / sizeof hl[0]);
	for (size_t i = 0; i < nk; i++) {
		const struct tg_dkim_key *k = &c->keys[keys[i]];
		DKIM_STAT st;
		DKIM *h;

		if (k->ed25519) {
			/* the fields are m->shdr, given at the end */
			m->signing.ed[m->signing.n] = dkim_ed_new();
			m->signing.h[m->signing.n] = NULL;
			m->signing.key[m->signing.n++] = keys[i];
			continue;
		}
		h = dkim_sign(dkim_lib(), (const unsigned char *)s->id, NULL,
		    k->pem, (const unsigned char *)k->selector,
		    (const unsigned char *)k->domain, DKIM_CANON_RELAXED,
		    DKIM_CANON_RELAXED, k->ed25519 ?
		    DKIM_SIGN_ED25519SHA256 : DKIM_SIGN_RSASHA256, -1, &st);
		if (h == NULL) {
			tg_log_warnx("%s: dkim-sign: key %s: dkim_sign failed "
			    "(%d)", s->id, k->name, (int)st);
			continue;
		}
		(void)dkim_set_margin(h, 76);
		st = dkim_signhdrs(h, hl);
		for (size_t j = 0; st == DKIM_STAT_OK && j < m->nshdr; j++)
			st = dkim_header(h, (unsigned char *)m->shdr[j],
			    strlen(m->shdr[j]));
		if (st == DKIM_STAT_OK)
			st = dkim_eoh(h);
		if (st != DKIM_STAT_OK) {
			tg_log_warnx("%s: dkim-sign: key %s: %s", s->id,
			    k->name, dkim_geterror(h) != NULL ?
			    dkim_geterror(h) : "libopendkim failed");
			dkim_free(h);
			continue;
		}
		m->signing.h[m->signing.n] = h;
		m->signing.ed[m->signing.n] = NULL;
		m->signing.key[m->signing.n++] = keys[i];
	}
}

void
dkim_sign_body(struct tg_dkim_msg *m, const char *buf, size_t len)
{
	for (size_t i = 0; i < m->signing.n; i++)
		if (m->signing.ed[i] != NULL)
			dkim_ed_body(m->signing.ed[i], buf, len);
		else if (m->signing.h[i] != NULL &&
		    dkim_body(m->signing.h[i], (unsigned char *)buf, len) !=
		    DKIM_STAT_OK) {
			dkim_free(m->signing.h[i]);
			m->signing.h[i] = NULL;
		}
}

/* sign_value - the field value libopendkim made, folded with LF + TAB
 * (both MTAs take folded values from a milter so, not CRLF) */
static char *
sign_value(DKIM *h)
{
	unsigned char *buf;
	size_t len;
	char *v, *o;

	if (dkim_getsighdr_d(h, sizeof "DKIM-Signature: " - 1, &buf,
	    &len) != DKIM_STAT_OK)
		return NULL;
	v = tg_xmalloc(len + 1);
	o = v;
	for (size_t i = 0; i < len; i++)
		if (buf[i] != '\r')
			*o++ = (char)buf[i];
	*o = '\0';
	return v;
}

size_t
tg_dkim_sign_finish(const struct tg_policy *p, struct tg_session *s,
    char ***values)
{
	struct tg_dkim_msg *m = s->dkim;
	const char *why = NULL, *qid = s->queue_id != NULL ? s->queue_id :
	    "NOQUEUE";
	const char *hl[sizeof sign_hdrs / sizeof sign_hdrs[0] + 1];
	char *addr;
	size_t n = 0;

	*values = NULL;
	if (m == NULL || !m->sign_req || p == NULL || p->dkim == NULL)
		return 0;
	if (!m->s_started)
		dkim_sign_eoh(p, s);
	if (m->signing.n == 0) {
		/* Say why once, for the operator. */
		if (m->s_over)
			why = "header block over tollgate's limits";
		else if ((addr = sign_from(m, &why)) != NULL) {
			why = "no key in the signing table for this address";
			free(addr);
		}
		tg_log_info("%s: %s: dkim-sign: not signed: %s", s->id, qid,
		    why != NULL ? why : "libopendkim failed");
		return 0;
	}
	*values = tg_xcalloc(m->signing.n, sizeof **values);
	sign_list(p->dkim, hl, sizeof hl / sizeof hl[0]);
	for (size_t i = 0; i < m->signing.n; i++) {
		DKIM *h = m->signing.h[i];
		const struct tg_dkim_key *k = &p->dkim->keys[m->signing.key[i]];
		char *v = NULL;

		if (m->signing.ed[i] != NULL)
			v = dkim_ed_sign(m->signing.ed[i], k->pkey, k->domain, k->selector, m->shdr, m->nshdr, hl);
		else if (h != NULL && dkim_eom(h, NULL) == DKIM_STAT_OK)
			v = sign_value(h);
		if (v == NULL) {
			tg_log_warnx("%s: %s: dkim-sign: key %s: signing "
			    "failed: %s", s->id, qid, k->name, h != NULL &&
			    dkim_geterror(h) != NULL ? dkim_geterror(h) :
			    k->ed25519 ? "OpenSSL failed" : "libopendkim failed");
			continue;
		}
		(*values)[n++] = v;
		tg_log_info("%s: %s: dkim-sign: d=%s s=%s a=%s", s->id, qid,
		    k->domain, k->selector, k->ed25519 ? "ed25519-sha256" :
		    "rsa-sha256");
	}
	return n;
}
