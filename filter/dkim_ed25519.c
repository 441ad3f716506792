/* dkim_ed25519.c - ed25519-sha256 DKIM signatures (RFC 8463) made with
 * OpenSSL's EVP interface, relaxed/relaxed (RFC 6376 3.4.2, 3.4.4).
 * Why not libopendkim, which signs Ed25519 too: Debian 12's libopendkim
 * (2.11.0~beta2) frees the key, its BIO and its output buffer of a
 * signature only for RSA (dkim_free checks sig_keytype ==
 * DKIM_KEYTYPE_RSA), so every Ed25519 signature it makes leaks about
 * 740 bytes: tens of MB a day on a busy submission server (seen with
 * ASan; verification is not affected, and libopendkim still verifies
 * every Ed25519 signature, ours included, and RSA signing stays its).
 * This file does what that one path does: the body hash as the body
 * streams, the header fields chosen and canonicalised as a verifier
 * will, the SHA-256 of them signed with PureEdDSA (RFC 8463 3).
 * Owns: a struct dkim_ed per signature being made. Threads: per session;
 * the key (an EVP_PKEY parsed when the policy loaded) is shared read-only
 * by every session, as OpenSSL allows for signing. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "tg.h"
#include "dkim_ed25519.h"

struct dkim_ed {
	EVP_MD_CTX	*body;		/* SHA-256 of the canonical body */
	int		 wsp;		/* white space pending in the line */
	int		 cr;		/* a CR was the last byte */
	size_t		 linelen;	/* bytes of the line so far */
	size_t		 blank;		/* empty lines pending (CRLFs) */
	int		 failed;
};

struct dkim_ed *
dkim_ed_new(void)
{
	struct dkim_ed *e = tg_xcalloc(1, sizeof *e);

	if ((e->body = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(e->body, EVP_sha256(), NULL) != 1)
		e->failed = 1;
	return e;
}

struct dkim_ed *
dkim_ed_free(struct dkim_ed *e)
{
	if (e != NULL) {
		EVP_MD_CTX_free(e->body);
		free(e);
	}
	return NULL;
}

static void
ed_out(struct dkim_ed *e, const char *s, size_t n)
{
	if (!e->failed && EVP_DigestUpdate(e->body, s, n) != 1)
		e->failed = 1;
}

/* ed_eol - the end of a line: trailing white space is dropped; an empty
 * line waits, since empty lines at the end of the body do not count. */
static void
ed_eol(struct dkim_ed *e)
{
	e->wsp = 0;
	if (e->linelen == 0)
		e->blank++;
	else
		ed_out(e, "\r\n", 2);
	e->linelen = 0;
}

/* ed_char - one byte of a line's content */
static void
ed_char(struct dkim_ed *e, char c)
{
	for (; e->blank > 0; e->blank--)
		ed_out(e, "\r\n", 2);
	if (e->wsp)	/* a run of WSP is one SP (at line start too) */
		ed_out(e, " ", 1);
	e->wsp = 0;
	ed_out(e, &c, 1);
	e->linelen++;
}

void
dkim_ed_body(struct dkim_ed *e, const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = buf[i];

		if (e->cr) {
			e->cr = 0;
			if (c == '\n') {
				ed_eol(e);
				continue;
			}
			/* A bare CR ends the line, as libopendkim's FIXCRLF
			 * (our verifier and OpenDKIM's) reads it. */
			ed_eol(e);
		}
		if (c == '\r')
			e->cr = 1;
		else if (c == '\n')
			ed_eol(e);	/* a bare LF: as the MTA meant it */
		else if (c == ' ' || c == '\t')
			e->wsp = 1;
		else
			ed_char(e, c);
	}
}

/* ed_body_hash - the base64 body hash into out (45 bytes) */
static int
ed_body_hash(struct dkim_ed *e, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (e->cr)
		ed_eol(e);
	e->cr = 0;
	/* A body not ending in CRLF gets one; trailing empty lines and an
	 * empty body give nothing (RFC 6376 3.4.4, errata 1384). */
	if (e->linelen > 0)
		ed_out(e, "\r\n", 2);
	e->linelen = 0;
	if (e->failed || EVP_DigestFinal_ex(e->body, md, &mdlen) != 1)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
	return 0;
}

/* ed_canon_header - RFC 6376 3.4.2 of "Name: value" (folded with CRLF or
 * LF): "name:value" with the name lower-cased, lines unfolded, runs of
 * WSP one SP, none around the colon or at the end. Caller frees. */
static char *
ed_canon_header(const char *f)
{
	size_t n = strlen(f), o = 0;
	char *out = tg_xmalloc(n + 1);
	const char *colon = strchr(f, ':');
	size_t start;
	int wsp = 0;

	if (colon == NULL) {
		free(out);
		return NULL;
	}
	for (const char *p = f; p < colon; p++)
		if (*p != ' ' && *p != '\t')
			out[o++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p + 32) :
			    *p;
	out[o++] = ':';
	start = o;
	for (const char *p = colon + 1; *p != '\0'; p++) {
		if (*p == '\r' || *p == '\n')
			continue;
		if (*p == ' ' || *p == '\t') {
			wsp = 1;
			continue;
		}
		if (wsp && o > start)	/* none right after the colon */
			out[o++] = ' ';
		wsp = 0;
		out[o++] = *p;
	}
	out[o] = '\0';
	return out;
}

/* ed_name_is - does field f have the name n (case-insensitive)? */
static int
ed_name_is(const char *f, const char *n, size_t nl)
{
	size_t fl = strcspn(f, ":");

	while (fl > 0 && (f[fl - 1] == ' ' || f[fl - 1] == '\t'))
		fl--;
	return fl == nl && strncasecmp(f, n, nl) == 0;
}

/* ed_append - dst += s */
static void
ed_append(char **dst, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s);

	if (*len + n + 1 > *cap) {
		*cap = 2 * (*len + n + 1);
		*dst = tg_xrealloc(*dst, *cap);
	}
	memcpy(*dst + *len, s, n + 1);
	*len += n;
}

char *
dkim_ed_sign(struct dkim_ed *e, void *key, const char *domain, const char *selector, char *const *hdrs,
    size_t nhdrs, const char *const *signed_names)
{
	char bh[64], *h = NULL, *data = NULL, *tags = NULL, *canon, *out = NULL;
	size_t hlen = 0, hcap = 0, dlen = 0, dcap = 0, siglen = 64;
	unsigned char md[EVP_MAX_MD_SIZE], sig[64], b64[100];
	unsigned mdlen = 0;
	char *used = tg_xcalloc(nhdrs + 1, 1);
	EVP_MD_CTX *mc = NULL;
	EVP_PKEY *pk = key;

	if (ed_body_hash(e, bh) < 0)
		goto done;
	/* h=: the fields of the list present, top to bottom, then "from"
	 * once more (oversigned: no From may be added). A verifier takes
	 * each name's instances from the bottom up; so do we below. */
	for (size_t i = 0; i < nhdrs; i++)
		for (size_t k = 0; signed_names[k] != NULL; k++)
			if (ed_name_is(hdrs[i], signed_names[k],
			    strlen(signed_names[k]))) {
				size_t nl = strcspn(hdrs[i], ":");
				char *nm = tg_xstrndup(hdrs[i], nl);

				nm[strcspn(nm, " \t")] = '\0';
				if (hlen > 0)
					ed_append(&h, &hlen, &hcap, ":");
				ed_append(&h, &hlen, &hcap, nm);
				free(nm);
				break;
			}
	ed_append(&h, &hlen, &hcap, hlen > 0 ? ":from" : "from");
	/* The chosen fields, canonicalised, in h= order. */
	for (const char *p = h; *p != '\0';) {
		size_t nl = strcspn(p, ":");

		for (size_t i = nhdrs; i-- > 0;) {
			if (used[i] || !ed_name_is(hdrs[i], p, nl))
				continue;
			used[i] = 1;
			if ((canon = ed_canon_header(hdrs[i])) != NULL) {
				ed_append(&data, &dlen, &dcap, canon);
				ed_append(&data, &dlen, &dcap, "\r\n");
				free(canon);
			}
			break;
		}
		p += nl + (p[nl] == ':');
	}
	tags = tg_xasprintf("v=1; a=ed25519-sha256; c=relaxed/relaxed; d=%s; "
	    "s=%s; t=%lld; bh=%s; h=%s; b=", domain, selector,
	    (long long)time(NULL), bh, h);
	{
		char *f = tg_xasprintf("DKIM-Signature: %s", tags);

		canon = ed_canon_header(f);
		free(f);
	}
	ed_append(&data, &dlen, &dcap, canon);	/* no CRLF after it */
	free(canon);
	/* RFC 8463 3: the SHA-256 of the header data, signed with Ed25519
	 * (PureEdDSA, no further hashing). */
	if ((mc = EVP_MD_CTX_new()) == NULL ||
	    EVP_Digest(data, dlen, md, &mdlen, EVP_sha256(), NULL) != 1)
		goto done;
	if (pk == NULL || EVP_PKEY_base_id(pk) != EVP_PKEY_ED25519)
		goto done;
	if (EVP_DigestSignInit(mc, NULL, NULL, NULL, pk) != 1 ||
	    EVP_DigestSign(mc, sig, &siglen, md, mdlen) != 1 || siglen != 64)
		goto done;
	EVP_EncodeBlock(b64, sig, (int)siglen);
	/* Folded at the tags' separators and in b= (white space there is
	 * ignored; relaxed canonicalisation unfolds the rest). */
	{
		size_t cap = strlen(tags) + 200, o = 0, col = 16;
		const char *t = tags;

		out = tg_xmalloc(cap);
		for (; *t != '\0'; t++) {
			if (*t == ' ' && t > tags && t[-1] == ';' &&
			    col + strcspn(t + 1, ";") > 74) {
				memcpy(out + o, "\n\t", 2);
				o += 2;
				col = 8;
				continue;
			}
			out[o++] = *t;
			col++;
		}
		for (size_t i = 0; b64[i] != '\0'; i++) {
			if (col >= 76) {
				memcpy(out + o, "\n\t ", 3);
				o += 3;
				col = 9;
			}
			out[o++] = (char)b64[i];
			col++;
		}
		out[o] = '\0';
	}
done:
	EVP_MD_CTX_free(mc);
	free(used);
	free(h);
	free(data);
	free(tags);
	return out;
}
