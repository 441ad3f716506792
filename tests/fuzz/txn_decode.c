/* txn_decode.c - turn a fuzz input into one SMTP connection with one
 * message (struct txn_input). The input is lines; the first byte of a
 * line says what it adds, dictionary indexes follow (any byte: its
 * distance from '0' modulo the dictionary's size, so seeds can use
 * digits), then an optional argument to the end of the line:
 *
 *   P<i>          policy (fuzz_txn.c's list)
 *   C<i>[addr]    client address      N<i>[name]   client name
 *   L<i>          listener            J[name]      MTA host name (j)
 *   A<i><j>[id]   SASL login, mechanism            U[addr] {auth_author}
 *   T<i>          TLS                 E<i>[name]   HELO (none if absent)
 *   M<i>[addr]    MAIL FROM           S[n]         SIZE=n
 *   R<i>[addr]    RCPT TO (at most TXN_RCPT_MAX)
 *   H<i><j><k>[v] header i of the dictionary, value template j, file
 *                 name or boundary k; v replaces the value
 *   X<name>:<v>   a header as given   W[text]      fold text into the
 *                                                  last header's value
 *   B<i><j><k>    body line from the dictionary (CRLF added)
 *   Y[text]       body line (CRLF added)          Z[text] body bytes
 *   |             the MTA's body chunk ends here
 *   V<c><s><p>... variant parameters: filler count (txn_pad_counts[c])
 *                 and value size (s) of variant a, the message before
 *                 of variant e (p); the line's hash seeds the rest
 *
 * Anything else is skipped. The dictionaries hold the MIME constructs
 * and addresses the shipped policies test, so that most inputs look like
 * mail and reach the header and attachment rules.
 * Owns: what it decodes (freed by txn_input_free). Threads: none shared. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tg.h"
#include "txn.h"

#define TXN_BODY_MAX	(64 * 1024)
#define TXN_SUB_MAX	64	/* longest file name or boundary */
#define N(a)		(sizeof (a) / sizeof (a)[0])

static const char *const d_client[] = { "192.0.2.10", "127.0.0.1",
    "2001:db8::25", "::1", "::ffff:192.0.2.10", "198.51.100.7", "10.1.2.3" };
static const char *const d_cname[] = { "mail.example.net",
    "dsl-1-2-3-4.pool.example", "unknown", "" };
/* port, {daemon_name}, {daemon_addr} */
static const char *const d_listener[][3] = {
	{ "25", "mx", "192.0.2.25" }, { "587", "submission", "192.0.2.25" },
	{ "465", "smtps", "192.0.2.25" }, { NULL, NULL, NULL },
	{ "25", NULL, NULL },
};
static const char *const d_login[] = { "alice", "bob", "admin",
    "alice@example.org", "mallory", "  bob  ", "bad\001login", "" };
static const char *const d_mech[] = { "PLAIN", "LOGIN", "CRAM-MD5",
    "SCRAM-SHA-256", "XOAUTH2" };
/* {tls_version}, {cipher}, {cipher_bits} */
static const char *const d_tls[][3] = {
	{ NULL, NULL, NULL },
	{ "TLSv1.3", "TLS_AES_256_GCM_SHA384", "256" },
	{ "TLSv1", "AES128-SHA", "128" },
	{ "TLSv1.2", "DES-CBC-SHA", "56" },
};
static const char *const d_helo[] = { "mail.example.net", "[192.0.2.10]",
    "192.0.2.10", "localhost", "example.org", "mx.example.org",
    "bad_helo!", "", "a.b" };
static const char *const d_sender[] = { "<alice@example.org>", "<>",
    "<bob@example.net>", "<mallory@evil.example>", "<sales@example.org>",
    "<postmaster@example.org>", "<\"a b\"@example.org>", "<a@[192.0.2.1]>" };
static const char *const d_rcpt[] = { "<bob@example.org>",
    "<carol@other.example>", "<postmaster>", "<a%b@example.org>",
    "<bob@EXAMPLE.ORG.>", "<@relay.example:bob@example.org>",
    "<alice@example.org>" };

/* File names ({N}) and boundaries ({B}) of the templates below. */
static const char *const d_name[] = { "invoice.exe", "invoice.pdf.exe",
    "report.pdf                    .exe",
    "=?UTF-8?B?aW52b2ljZS5wZGYuZXhl?=", "notes.txt", "photo.jpg",
    "doc.docm", "archive.zip", "setup.scr", "r\xc3\xa9sum\xc3\xa9.pdf",
    "invoice\342\200\256fdp.exe", "a.js" };
static const char *const d_boundary[] = { "b1", "b2", "zzz", "=_Part_0",
    "b1 ", "" };

static const char *const d_ctype[] = {
	"multipart/mixed; boundary=\"{B}\"",
	"text/plain; charset=utf-8",
	"application/octet-stream; name=\"{N}\"",
	"application/pdf; name=\"{N}\"",
	"application/x-msdownload",
	"multipart/mixed; boundary=\"{B}\"; boundary=\"zzz\"",
	"multipart/alternative; boundary={B}",
	"application/octet-stream; name*=UTF-8''invoice%E2%80%AEfdp.exe",
	"application/zip; name={N}",
	"text/html",
	"multipart/mixed",
	"message/rfc822",
	"application/octet-stream; name*0=\"inv\"; name*1=\"oice.exe\"",
	"image/png; name=\"{N}\"",
	"multipart/mixed;\r\n\tboundary=\"{B}\"",
};
static const char *const d_cdisp[] = {
	"attachment; filename=\"{N}\"", "inline",
	"attachment; filename*=UTF-8''invoice%E2%80%AEfdp.exe",
	("attachment; filename*0*=utf-8''%E2%82%AC-Rechnung; "
	    "filename*1=\".pdf.scr\""),
	"attachment; filename={N}; filename=\"notes.txt\"",
	"inline; filename=\"{N}\"", "attachment",
};
static const char *const d_cte[] = { "base64", "quoted-printable", "7bit",
    "8bit", "binary", "x-uuencode", "BASE64 (comment)" };
static const char *const d_b64[] = {
	"TVqQAAMAAAAEAAAA//8AAHRvbGxnYXRlIGZ1eno=",
	"UEsDBBQAAAAIAA==", "JVBERi0xLjQK", "!!!not base64!!!", "TVqQ",
};
static const char *const d_text[] = { "Hello,",
    "Please see the attached invoice.", "--", "=E2=80=AE quoted=", ".",
    "From here", "Content-Type: text/plain" };

/* Headers: a name and its values; NULL values: a template list. */
static const struct txn_dict_hdr {
	const char		*name;
	const char *const	*vals;
	size_t			 nvals;
} d_hdr[] = {
#define V(a)	a, N(a)
	{ "From", V(((const char *const[]){ "Alice <alice@example.org>",
	    "bob@example.net",
	    "\"alice@example.org\" <mallory@evil.example>",
	    "=?UTF-8?B?YWxpY2VAZXhhbXBsZS5vcmc=?= <mallory@evil.example>",
	    "alice@example.org, mallory@evil.example", "sales@example.org",
	    "undisclosed-recipients:;", "Mallory <mallory@evil.example>" })) },
	{ "To", V(((const char *const[]){ "bob@example.org",
	    "Bob <bob@example.org>, carol@other.example" })) },
	{ "Date", V(((const char *const[]){ "Mon, 7 Dec 2026 10:00:00 +0000",
	    "7 Dec 2026 10:00 -0000", "garbage" })) },
	{ "Subject", V(((const char *const[]){ "hello", "=?UTF-8?B?dmlhZ3Jh?=",
	    "cheap viagra now", "=?utf-8?q?Rechnung_M=C3=A4rz?=",
	    "Re: invoice", "" })) },
	{ "Message-ID", V(((const char *const[]){ "<1@example.net>",
	    "<2@example.net>" })) },
	{ "MIME-Version", V(((const char *const[]){ "1.0",
	    "1.0 (produced by x)" })) },
	{ "Content-Type", V(d_ctype) },
	{ "Content-Transfer-Encoding", V(d_cte) },
	{ "Content-Disposition", V(d_cdisp) },
	{ "Sender", V(((const char *const[]){ "alice@example.org",
	    "mallory@evil.example" })) },
	{ "Authentication-Results", V(((const char *const[]){
	    "mail.example.org; auth=pass smtp.auth=alice",
	    "mx.example; spf=pass", "\"mail.example.org\"; dkim=pass",
	    "mail.example.org.; none" })) },
	{ "Received", V(((const char *const[]){ "from mail.example.net "
	    "(mail.example.net [192.0.2.10]) by mx.example.org; "
	    "Mon, 7 Dec 2026 10:00:00 +0000" })) },
	{ "Reply-To", V(((const char *const[]){ "mallory@evil.example" })) },
	{ "X-Mailer", V(((const char *const[]){ "fuzz 1.0" })) },
	{ "content-type", V(d_ctype) },
	{ "FROM", V(((const char *const[]){ "mallory@evil.example" })) },
#undef V
};

/* txn_idx - a dictionary index from one input byte */
static size_t
txn_idx(const char *line, size_t len, size_t at, size_t n)
{
	return at < len ? (size_t)(unsigned char)(line[at] - '0') % n : 0;
}

/* txn_expand - a template with {N} (file name nidx) and {B} (boundary
 * bidx) filled in; caller frees */
static char *
txn_expand(const char *t, size_t bidx, size_t nidx)
{
	size_t cap = strlen(t) + 1, o = 0;
	char *out;

	for (const char *p = t; (p = strchr(p, '{')) != NULL; p++)
		cap += TXN_SUB_MAX;
	out = tg_xmalloc(cap);
	while (*t != '\0') {
		const char *sub = NULL;

		if (strncmp(t, "{N}", 3) == 0)
			sub = d_name[nidx % N(d_name)];
		else if (strncmp(t, "{B}", 3) == 0)
			sub = d_boundary[bidx % N(d_boundary)];
		if (sub != NULL) {
			o += tg_strlcpy(out + o, sub, cap - o);
			t += 3;
		} else
			out[o++] = *t++;
	}
	out[o] = '\0';
	return out;
}

void
txn_msg_init(struct txn_msg *m)
{
	memset(m, 0, sizeof *m);
	tg_strlcpy(m->qid, "4QFUZZ1", sizeof m->qid);
}

void
txn_msg_free(struct txn_msg *m)
{
	free(m->sender);
	free(m->size);
	for (size_t i = 0; i < m->nrcpt; i++)
		free(m->rcpt[i]);
	for (size_t i = 0; i < m->nhdr; i++) {
		free(m->hdr[i].name);
		free(m->hdr[i].value);
	}
	free(m->hdr);
	free(m->body);
	free(m->cut);
	memset(m, 0, sizeof *m);
}

void
txn_msg_insert_header(struct txn_msg *m, size_t at, const char *name,
    const char *value)
{
	if (m->nhdr == m->hdrcap) {
		m->hdrcap = m->hdrcap ? 2 * m->hdrcap : 16;
		m->hdr = tg_xrealloc(m->hdr, m->hdrcap * sizeof *m->hdr);
	}
	if (at > m->nhdr)
		at = m->nhdr;
	memmove(&m->hdr[at + 1], &m->hdr[at], (m->nhdr - at) *
	    sizeof *m->hdr);
	m->hdr[at].name = tg_xstrdup(name);
	m->hdr[at].value = tg_xstrdup(value);
	m->nhdr++;
}

void
txn_msg_add_header(struct txn_msg *m, const char *name, const char *value)
{
	txn_msg_insert_header(m, m->nhdr, name, value);
}

void
txn_msg_copy(struct txn_msg *d, const struct txn_msg *m)
{
	*d = *m;
	d->sender = m->sender != NULL ? tg_xstrdup(m->sender) : NULL;
	d->size = m->size != NULL ? tg_xstrdup(m->size) : NULL;
	for (size_t i = 0; i < m->nrcpt; i++)
		d->rcpt[i] = tg_xstrdup(m->rcpt[i]);
	d->hdr = NULL;
	d->nhdr = d->hdrcap = 0;
	for (size_t i = 0; i < m->nhdr; i++)
		txn_msg_add_header(d, m->hdr[i].name, m->hdr[i].value);
	d->body = tg_xmalloc(m->bodylen + 1);
	memcpy(d->body, m->body, m->bodylen);
	d->bodycap = m->bodylen + 1;
	d->cut = NULL;
	if (m->ncut > 0) {
		d->cut = tg_xmalloc(m->ncut * sizeof *d->cut);
		memcpy(d->cut, m->cut, m->ncut * sizeof *d->cut);
	}
}

char *
txn_dict_other_value(const char *name, uint32_t r)
{
	for (size_t i = 0; i < N(d_hdr); i++)
		if (strcasecmp(d_hdr[i].name, name) == 0)
			return txn_expand(d_hdr[i].vals[r % d_hdr[i].nvals],
			    r >> 8, r >> 16);
	return tg_xstrdup("other");
}

char *
txn_dict_repeat_param(const char *value, uint32_t r)
{
	const char *p, *first = NULL, *pick = NULL, *other;
	size_t nparams = 0, want, nlen = 0;
	int q = 0;

	/* The parameters start after each ';' outside a quoted string. */
	for (p = value; *p != '\0'; p++) {
		if (*p == '"')
			q = !q;
		else if (*p == '\\' && q && p[1] != '\0')
			p++;
		else if (*p == ';' && !q) {
			if (first == NULL)
				first = p;
			nparams++;
		}
	}
	if (nparams == 0)
		return NULL;
	want = r % nparams;
	for (p = value, q = 0; *p != '\0'; p++) {
		if (*p == '"')
			q = !q;
		else if (*p == '\\' && q && p[1] != '\0')
			p++;
		else if (*p == ';' && !q && want-- == 0) {
			pick = p + 1 + strspn(p + 1, " \t\r\n");
			break;
		}
	}
	/* Its name, without an RFC 2231 section or charset mark. */
	while (pick[nlen] != '\0' && pick[nlen] != '=' && pick[nlen] != '*' &&
	    pick[nlen] != ';' && pick[nlen] != ' ')
		nlen++;
	if (nlen == 0)
		return NULL;
	if (nlen == 8 && strncasecmp(pick, "boundary", 8) == 0)
		other = d_boundary[(r >> 8) % N(d_boundary)];
	else if ((nlen == 4 && strncasecmp(pick, "name", 4) == 0) ||
	    (nlen == 8 && strncasecmp(pick, "filename", 8) == 0))
		other = d_name[(r >> 8) % N(d_name)];
	else
		other = "us-ascii";
	/* Before the parameters (the first one is the one a reader that
	 * takes the first sees) or after them. */
	if ((r >> 16) & 1)
		return tg_xasprintf("%.*s; %.*s=\"%s\"%s", (int)(first - value),
		    value, (int)nlen, pick, other, first);
	return tg_xasprintf("%s; %.*s=\"%s\"", value, (int)nlen, pick, other);
}

static void
txn_body_add(struct txn_msg *m, const char *s, size_t len, int crlf)
{
	size_t need = m->bodylen + len + 2;

	if (need > TXN_BODY_MAX)
		return;
	if (need > m->bodycap) {
		m->bodycap = need * 2;
		m->body = tg_xrealloc(m->body, m->bodycap);
	}
	memcpy(m->body + m->bodylen, s, len);
	m->bodylen += len;
	if (crlf) {
		memcpy(m->body + m->bodylen, "\r\n", 2);
		m->bodylen += 2;
	}
}

static void
txn_body_cut(struct txn_msg *m)
{
	if (m->ncut >= TXN_CUT_MAX || m->bodylen == 0 ||
	    (m->ncut > 0 && m->cut[m->ncut - 1] == m->bodylen))
		return;
	m->cut = tg_xrealloc(m->cut, (m->ncut + 1) * sizeof *m->cut);
	m->cut[m->ncut++] = m->bodylen;
}

/* txn_body_dict - B<i><j><k> */
static void
txn_body_dict(struct txn_msg *m, const char *l, size_t len)
{
	size_t j = txn_idx(l, len, 2, 256), k = txn_idx(l, len, 3, 256);
	char *s, *t;

	switch (txn_idx(l, len, 1, 10)) {
	case 0:
		s = tg_xasprintf("--%s", d_boundary[j % N(d_boundary)]);
		break;
	case 1:
		s = tg_xasprintf("--%s--", d_boundary[j % N(d_boundary)]);
		break;
	case 2:
		t = txn_expand(d_ctype[j % N(d_ctype)], k, k);
		s = tg_xasprintf("Content-Type: %s", t);
		free(t);
		break;
	case 3:
		t = txn_expand(d_cdisp[j % N(d_cdisp)], k, k);
		s = tg_xasprintf("Content-Disposition: %s", t);
		free(t);
		break;
	case 4:
		s = tg_xasprintf("Content-Transfer-Encoding: %s",
		    d_cte[j % N(d_cte)]);
		break;
	case 5:
		s = tg_xstrdup("");
		break;
	case 6:
		s = tg_xstrdup(d_b64[j % N(d_b64)]);
		break;
	case 7:
		s = tg_xstrdup(d_text[j % N(d_text)]);
		break;
	case 8:		/* a whole attachment part */
		t = txn_expand("--{B}\r\nContent-Type: application/octet-stream;"
		    " name=\"{N}\"\r\nContent-Disposition: attachment; "
		    "filename=\"{N}\"\r\nContent-Transfer-Encoding: base64\r\n"
		    "\r\nTVqQAAMAAAAEAAAA//8AAHRvbGxnYXRlIGZ1eno=", j, k);
		s = t;
		break;
	default:
		s = tg_xstrdup("This is a multi-part message in MIME format.");
		break;
	}
	txn_body_add(m, s, strlen(s), 1);
	free(s);
}

/* txn_header_dict - H<i><j><k>[value] */
static void
txn_header_dict(struct txn_msg *m, const char *l, size_t len)
{
	const struct txn_dict_hdr *h = &d_hdr[txn_idx(l, len, 1, N(d_hdr))];
	size_t j = txn_idx(l, len, 2, 256), k = txn_idx(l, len, 3, 256);
	char *v;

	if (m->nhdr >= TXN_HDR_MAX)
		return;
	v = len > 4 ? tg_xstrndup(l + 4, len - 4) :
	    txn_expand(h->vals[j % h->nvals], k, k);
	txn_msg_add_header(m, h->name, v);
	free(v);
}

/* txn_keep - a string conn will point to, freed with the input */
static const char *
txn_keep(struct txn_input *in, char *s)
{
	if (in->nowned == N(in->owned)) {
		free(s);
		return NULL;
	}
	in->owned[in->nowned++] = s;
	return s;
}

/* txn_arg - the line's argument from offset at, or the dictionary's */
static const char *
txn_arg(struct txn_input *in, const char *l, size_t len, size_t at,
    const char *dflt)
{
	if (len > at)
		return txn_keep(in, tg_xstrndup(l + at, len - at));
	return dflt;
}

/* Filler headers of variant a: mostly few (cheap runs), a quarter around
 * and past the session's cap of 1,000 kept headers. */
static const unsigned txn_pad_counts[] = { 1, 1, 2, 2, 3, 4, 5, 6, 8, 10,
    12, 16, 20, 30, 40, 50, 64, 100, 128, 200, 256, 300, 500, 750, 999,
    1000, 1001, 1002, 1100, 1200, 1261, 1500 };

static uint32_t
txn_hash(const uint8_t *d, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ d[i]) * 16777619u;
	return h;
}

/* txn_line - one input line */
static void
txn_line(struct txn_input *in, const char *l, size_t len, int *have_par)
{
	struct txn_conn *c = &in->conn;
	struct txn_msg *m = &in->msg;
	size_t i = txn_idx(l, len, 1, 256);
	const char *colon;

	switch (l[0]) {
	case 'P':
		in->policy = (unsigned)i;
		break;
	case 'C':
		c->client_addr = txn_arg(in, l, len, 2,
		    d_client[i % N(d_client)]);
		break;
	case 'N':
		c->client_name = txn_arg(in, l, len, 2, d_cname[i % N(d_cname)]);
		break;
	case 'L':
		c->daemon_port = d_listener[i % N(d_listener)][0];
		c->daemon_name = d_listener[i % N(d_listener)][1];
		c->daemon_addr = d_listener[i % N(d_listener)][2];
		break;
	case 'J':
		c->mta_name = txn_arg(in, l, len, 1, NULL);
		break;
	case 'A':
		c->auth_authen = txn_arg(in, l, len, 3, d_login[i % N(d_login)]);
		c->auth_type = d_mech[txn_idx(l, len, 2, N(d_mech))];
		break;
	case 'U':
		c->auth_author = txn_arg(in, l, len, 1, "<alice@example.org>");
		break;
	case 'T':
		c->tls_version = d_tls[i % N(d_tls)][0];
		c->tls_cipher = d_tls[i % N(d_tls)][1];
		c->tls_bits = d_tls[i % N(d_tls)][2];
		break;
	case 'E':
		c->helo = txn_arg(in, l, len, 2, d_helo[i % N(d_helo)]);
		break;
	case 'M':
		free(m->sender);
		m->sender = len > 2 ? tg_xstrndup(l + 2, len - 2) :
		    tg_xstrdup(d_sender[i % N(d_sender)]);
		break;
	case 'S':
		free(m->size);
		m->size = tg_xstrndup(l + 1, len - 1);
		break;
	case 'R':
		if (m->nrcpt < TXN_RCPT_MAX)
			m->rcpt[m->nrcpt++] = len > 2 ?
			    tg_xstrndup(l + 2, len - 2) :
			    tg_xstrdup(d_rcpt[i % N(d_rcpt)]);
		break;
	case 'H':
		txn_header_dict(m, l, len);
		break;
	case 'X':
		if (m->nhdr >= TXN_HDR_MAX || len < 2)
			break;
		{
			char *name, *val;

			colon = memchr(l + 1, ':', len - 1);
			name = tg_xstrndup(l + 1, colon != NULL ?
			    (size_t)(colon - l - 1) : len - 1);
			val = colon != NULL ? tg_xstrndup(colon + 1,
			    len - (size_t)(colon + 1 - l)) : tg_xstrdup("");
			txn_msg_add_header(m, name, val);
			free(name);
			free(val);
		}
		break;
	case 'W':
		if (m->nhdr > 0 && strlen(m->hdr[m->nhdr - 1].value) < 4096) {
			struct txn_hdr *h = &m->hdr[m->nhdr - 1];
			char *v = tg_xasprintf("%s\r\n\t%.*s", h->value,
			    (int)(len - 1), l + 1);

			free(h->value);
			h->value = v;
		}
		break;
	case 'B':
		txn_body_dict(m, l, len);
		break;
	case 'Y':
	case 'Z':
		txn_body_add(m, l + 1, len - 1, l[0] == 'Y');
		break;
	case '|':
		txn_body_cut(m);
		break;
	case 'V':
		*have_par = 1;
		in->par.pad_count = txn_pad_counts[txn_idx(l, len, 1,
		    N(txn_pad_counts))];
		in->par.pad_size = (unsigned)txn_idx(l, len, 2, 5);
		in->par.prefix = (unsigned)txn_idx(l, len, 3, 256);
		in->par.seed = txn_hash((const uint8_t *)l, len);
		break;
	default:
		break;
	}
}

void
txn_decode(const uint8_t *data, size_t size, struct txn_input *in)
{
	const char *p = (const char *)data, *end = p + size, *nl;
	int have_par = 0;
	uint32_t h;

	memset(in, 0, sizeof *in);
	txn_msg_init(&in->msg);
	in->conn.client_addr = d_client[0];
	in->conn.mta_name = "mx.example.org";
	in->conn.daemon_port = "25";
	while (p < end) {
		size_t len;

		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		len = (size_t)(nl - p);
		/* A NUL cannot travel in a C string: end the line there. */
		len = strnlen(p, len);
		if (len > 0)
			txn_line(in, p, len, &have_par);
		p = nl + 1;
	}
	if (in->msg.sender == NULL)
		in->msg.sender = tg_xstrdup("<sender@example.net>");
	if (in->msg.nrcpt == 0)
		in->msg.rcpt[in->msg.nrcpt++] = tg_xstrdup(d_rcpt[0]);
	if (in->msg.body == NULL)
		txn_body_add(&in->msg, "", 0, 0);	/* allocates */
	/* Drop cuts at the very end (txn_run feeds the rest after them). */
	while (in->msg.ncut > 0 &&
	    in->msg.cut[in->msg.ncut - 1] >= in->msg.bodylen)
		in->msg.ncut--;
	if (!have_par) {
		h = txn_hash(data, size);
		in->par.pad_count = txn_pad_counts[h % N(txn_pad_counts)];
		in->par.pad_size = (h >> 6) % 5;
		in->par.prefix = (h >> 9) & 0xff;
		in->par.seed = h;
	}
}

void
txn_input_free(struct txn_input *in)
{
	txn_msg_free(&in->msg);
	for (size_t i = 0; i < in->nowned; i++)
		free(in->owned[i]);
	memset(in, 0, sizeof *in);
}
