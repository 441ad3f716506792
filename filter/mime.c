/* mime.c - streaming MIME parser over the body chunks: finds each leaf
 * part's type, file names, decoded size and (when asked) SHA-256 of the
 * decoded content. Bounded: one line, one part header block and a fixed
 * nesting stack are buffered, never the message. What it cannot parse is
 * recorded as malformed, and a part whose headers are lost is "opaque",
 * so that rules treat it as suspicious rather than let it through.
 * Owns: its parts. Threads: one parser per message. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "tg.h"
#include "tg_mime.h"
#include "mime_impl.h"

#define MIME_LINE_MAX	1024		/* longer lines are content only */
#define MIME_HDR_MAX	(32 * 1024)	/* one part's header block */
#define MIME_DEPTH_MAX	16		/* multipart and message nesting */
#define MIME_CHUNK	8		/* parts allocated at once */
#define MIME_CHUNKS	((TG_MIME_PARTS_MAX + MIME_CHUNK) / MIME_CHUNK)

enum mime_state {
	MIME_HEADERS,	/* reading a part's header block */
	MIME_LEAF,	/* a leaf part's content */
	MIME_SKIP,	/* preamble, epilogue, unrecorded content */
};

struct mime_frame {
	char	 boundary[MIME_BOUNDARY_MAX + 1];	/* "" for message */
	size_t	 blen;
	int	 children;	/* delimiters seen */
	int	 closed;	/* close delimiter seen */
	int	 digest;	/* multipart/digest: default message/rfc822 */
};

struct tg_mime {
	struct tg_mime_conf	 conf;
	char			 line[MIME_LINE_MAX];
	size_t			 llen;
	int			 midline; /* line continues a longer one */
	int			 cr;	/* the last line ended with CR: an LF
					 * next is part of its line break */
	int			 long_delim; /* a long line so far is a
					 * delimiter of frame long_delim - 1 */
	int			 long_close;
	char			*hdr;
	size_t			 hlen;
	int			 hdr_over;
	struct mime_frame	 stack[MIME_DEPTH_MAX];
	int			 depth;
	enum mime_state		 state;
	/* Parts in chunks allocated as they fill: most messages have one
	 * or two, and zeroing room for all of them cost more than parsing
	 * (~300k instructions a message); chunks, not realloc, keep the
	 * pointers to parts (cur, tg_mime_part()) valid. */
	struct tg_mime_part	*chunk[MIME_CHUNKS];
	size_t			 nparts;
	struct tg_mime_part	*cur;		/* leaf being read, or NULL */
	enum mime_cte		 cte;
	EVP_MD_CTX		*md;
	unsigned		 b64acc;
	int			 b64bits;
	int			 qp;		/* '=' seen: 1, '=' hex: 2 */
	char			 qphex;
	int			 eol;		/* a line break is pending */
	int			 malformed;
	const char		*why;
	int			 finished;
};

static void	mime_headers_done(struct tg_mime *, int);
static void	mime_on_delimiter(struct tg_mime *, int, int);
static int	mime_delimiter(const struct tg_mime *, const char *, size_t,
		    int *);

static struct tg_mime_part *
mime_part_at(const struct tg_mime *m, size_t i)
{
	return &m->chunk[i / MIME_CHUNK][i % MIME_CHUNK];
}

static void
mime_bad(struct tg_mime *m, struct tg_mime_part *p, const char *why)
{
	if (!m->malformed)
		m->why = why;
	m->malformed = 1;
	if (p != NULL && !p->malformed) {
		p->malformed = 1;
		p->why = why;
	}
}

/* mime_new_part - a fresh part, or NULL past TG_MIME_PARTS_MAX: then one
 * last opaque part stands for everything not recorded. */
static struct tg_mime_part *
mime_new_part(struct tg_mime *m)
{
	struct tg_mime_part *p;

	if (m->nparts > TG_MIME_PARTS_MAX)
		return NULL;
	if (m->nparts % MIME_CHUNK == 0)
		m->chunk[m->nparts / MIME_CHUNK] = tg_xmalloc(MIME_CHUNK *
		    sizeof *p);
	p = mime_part_at(m, m->nparts++);
	memset(p, 0, sizeof *p);
	tg_strlcpy(p->type, "text/plain", sizeof p->type);
	if (m->nparts == TG_MIME_PARTS_MAX + 1) {
		p->opaque = 1;
		p->type[0] = '\0';
		mime_bad(m, p, "too many parts");
		return NULL;
	}
	return p;
}

static void
mime_opaque(struct tg_mime *m, const char *why)
{
	struct tg_mime_part *p = mime_new_part(m);

	if (p != NULL) {
		p->opaque = 1;
		p->type[0] = '\0';
	}
	mime_bad(m, p, why);
}

const char *const tg_mime_top_names[TG_MIME_TOP_COUNT] = {
	"Content-Type", "Content-Transfer-Encoding", "Content-Disposition",
};

/* mime_top_field - "Name: value\n" into the header block, folding kept as
 * spaces; 0, or -1 when the block is full. */
static int
mime_top_field(struct tg_mime *m, const char *name, int obs,
    const char *value)
{
	int n = snprintf(m->hdr + m->hlen, MIME_HDR_MAX - m->hlen,
	    "%s%s: %s\n", name, obs ? " " : "", value);

	if (n < 0 || (size_t)n >= MIME_HDR_MAX - m->hlen) {
		m->hdr_over = 1;
		return -1;
	}
	/* Folding as spaces; a bare CR stays for the entity parser to see
	 * (a reader of the raw message may split the field there). */
	for (int j = 0; j < n - 1; j++) {
		char *c = &m->hdr[m->hlen + j];

		if (*c == '\n' || (*c == '\r' && c[1] == '\n'))
			*c = ' ';
	}
	m->hlen += (size_t)n;
	return 0;
}

struct tg_mime *
tg_mime_new_top(const struct tg_mime_conf *conf,
    const struct tg_mime_top *top)
{
	struct tg_mime *m = tg_xcalloc(1, sizeof *m);

	if (conf != NULL)
		m->conf = *conf;
	m->hdr = tg_xmalloc(MIME_HDR_MAX);
	/* The top-level fields came through the milter header step; they
	 * are parsed as if they were a part's header block, a repeat (the
	 * first value again, or the first one that differs) included. */
	for (size_t i = 0; i < TG_MIME_TOP_COUNT; i++) {
		const struct tg_mime_top *t = &top[i];

		if (t->value == NULL)
			continue;
		/* The obsolete white space before the colon goes back in,
		 * for the entity parser to call the message malformed. */
		if (mime_top_field(m, tg_mime_top_names[i], t->obs,
		    t->value) < 0 || (t->count > 1 &&
		    mime_top_field(m, tg_mime_top_names[i], 0,
		    t->other != NULL ? t->other : t->value) < 0))
			break;
	}
	mime_headers_done(m, 0);
	return m;
}

struct tg_mime *
tg_mime_new(const struct tg_mime_conf *conf, const char *ctype,
    const char *cte, const char *cdisp)
{
	struct tg_mime_top top[TG_MIME_TOP_COUNT] = {
		[TG_MIME_TOP_TYPE] = { ctype, NULL, ctype != NULL },
		[TG_MIME_TOP_CTE] = { cte, NULL, cte != NULL },
		[TG_MIME_TOP_DISP] = { cdisp, NULL, cdisp != NULL },
	};

	return tg_mime_new_top(conf, top);
}

struct tg_mime *
tg_mime_free(struct tg_mime *m)
{
	if (m == NULL)
		return NULL;
	if (m->md != NULL)
		EVP_MD_CTX_free(m->md);
	for (size_t i = 0; i < m->nparts; i++)
		for (size_t j = 0; j < mime_part_at(m, i)->nnames; j++)
			free(mime_part_at(m, i)->names[j].name);
	for (size_t i = 0; i < MIME_CHUNKS; i++)
		free(m->chunk[i]);
	free(m->hdr);
	free(m);
	return NULL;
}

/* Content of the current leaf, decoded. */
static void
mime_emit(struct tg_mime *m, const char *s, size_t n)
{
	if (m->cur == NULL || n == 0)
		return;
	m->cur->size += (long long)n;
	if (m->md != NULL)
		EVP_DigestUpdate(m->md, s, n);
}

static int
mime_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void
mime_decode_b64(struct tg_mime *m, const char *s, size_t n)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	char out[MIME_LINE_MAX];
	size_t o = 0;
	const char *a;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '=') {		/* padding ends a quantum */
			m->b64bits = 0;
			continue;
		}
		if (c == '\0' || (a = strchr(alpha, c)) == NULL) {
			if (!isspace(c))
				mime_bad(m, m->cur, "invalid base64");
			continue;
		}
		m->b64acc = (m->b64acc << 6) | (unsigned)(a - alpha);
		if ((m->b64bits += 6) >= 8) {
			m->b64bits -= 8;
			out[o++] = (char)((m->b64acc >> m->b64bits) & 0xff);
		}
	}
	mime_emit(m, out, o);
}

static void
mime_decode_qp(struct tg_mime *m, const char *s, size_t n)
{
	char out[MIME_LINE_MAX + 2];
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (m->qp == 0 && c == '=') {
			m->qp = 1;
		} else if (m->qp == 1 && mime_hex(c) >= 0) {
			m->qp = 2;
			m->qphex = (char)c;
		} else if (m->qp == 2 && mime_hex(c) >= 0) {
			out[o++] = (char)(mime_hex(m->qphex) * 16 +
			    mime_hex(c));
			m->qp = 0;
		} else {
			/* A bad escape stands for itself (RFC 2045 6.7). */
			if (m->qp >= 1)
				out[o++] = '=';
			if (m->qp == 2)
				out[o++] = m->qphex;
			if (m->qp != 0)
				mime_bad(m, m->cur, "invalid quoted-printable");
			m->qp = 0;
			if (c == '=')
				m->qp = 1;
			else
				out[o++] = (char)c;
		}
	}
	mime_emit(m, out, o);
}

/* mime_content - a piece of a leaf's line; bol: it starts the line, eol:
 * it ends it (the line break itself is held back, since the break before
 * a delimiter belongs to the delimiter). */
static void
mime_content(struct tg_mime *m, const char *s, size_t n, int bol, int eol)
{
	if (bol && m->eol && m->cte != MIME_B64)
		mime_emit(m, "\r\n", 2);
	m->eol = 0;
	switch (m->cte) {
	case MIME_B64:
		mime_decode_b64(m, s, n);
		return;
	case MIME_QP:
		if (eol)	/* trailing white space is not content */
			while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
				n--;
		mime_decode_qp(m, s, n);
		if (eol && m->qp == 1)		/* soft line break */
			m->qp = 0;
		else if (eol) {
			if (m->qp == 2) {	/* "=4" then the line break */
				char lit[2] = { '=', m->qphex };

				mime_emit(m, lit, 2);
				mime_bad(m, m->cur, "invalid quoted-printable");
			}
			m->qp = 0;
			m->eol = 1;
		}
		return;
	case MIME_RAW:
		mime_emit(m, s, n);
		m->eol = eol;
		return;
	}
}

/* mime_end_leaf - the current leaf is complete */
static void
mime_end_leaf(struct tg_mime *m)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (m->cur != NULL && m->cte == MIME_B64 && m->b64bits >= 6)
		mime_bad(m, m->cur, "truncated base64");
	if (m->cur != NULL && m->cte == MIME_QP && m->qp != 0)
		mime_bad(m, m->cur, "invalid quoted-printable");
	if (m->md != NULL) {
		if (m->cur != NULL &&
		    EVP_DigestFinal_ex(m->md, md, &mdlen) == 1)
			for (unsigned i = 0; i < mdlen && i < 32; i++)
				snprintf(m->cur->sha256 + 2 * i, 3, "%02x",
				    md[i]);
		EVP_MD_CTX_free(m->md);
		m->md = NULL;
	}
	m->cur = NULL;
	m->b64acc = 0;
	m->b64bits = m->qp = m->eol = 0;
	m->state = MIME_SKIP;
}

static int
mime_hash_wanted(const struct tg_mime *m, const char *type)
{
	const struct tg_set *set = m->conf.hash_types;
	const char *slash = strchr(type, '/');

	if (!m->conf.hash)
		return 0;
	if (set == NULL)
		return 1;
	for (size_t i = 0; i < set->nstr; i++) {
		const char *t = set->str[i];
		size_t tl = strlen(t);

		if (strcmp(t, "*") == 0 || strcasecmp(t, type) == 0)
			return 1;
		if (tl >= 2 && strcmp(t + tl - 2, "/*") == 0 &&
		    slash != NULL && (size_t)(slash - type) == tl - 2 &&
		    strncasecmp(t, type, tl - 2) == 0)
			return 1;
	}
	return 0;
}

/* mime_boundary_clash - would a line be a delimiter both of a multipart
 * with boundary b and of one already open? ("b1" and "b1--", "b1 ", or
 * "b1" again.) Readers give it to the inner one (us, before) or the outer
 * one (Python's email): the structure is ambiguous. */
static int
mime_boundary_clash(const struct tg_mime *m, const char *b)
{
	size_t blen = strlen(b);

	for (int k = 0; k < m->depth; k++) {
		const struct mime_frame *f = &m->stack[k];
		const char *lo = blen < f->blen ? b : f->boundary;
		const char *hi = blen < f->blen ? f->boundary : b;
		size_t lolen = blen < f->blen ? blen : f->blen;
		const char *r = hi + lolen;

		if (f->blen == 0 || memcmp(lo, hi, lolen) != 0)
			continue;
		if (r[0] == '-' && r[1] == '-')
			r += 2;
		r += strspn(r, " \t");
		if (*r == '\0')
			return 1;
	}
	return 0;
}

/* mime_headers_done - a header block is complete: start the entity. */
static void
mime_headers_done(struct tg_mime *m, int truncated)
{
	struct mime_entity e;
	struct tg_mime_part *p;
	struct mime_frame *f;
	int digest;

	digest = m->depth > 0 && m->stack[m->depth - 1].digest;
	memset(&e, 0, sizeof e);
	tg_strlcpy(e.part.type, digest ? "message/rfc822" : "text/plain",
	    sizeof e.part.type);
	tg_mime_entity_parse(m->hdr, m->hlen, &e);
	m->hlen = 0;
	if (e.part.malformed)
		mime_bad(m, NULL, e.part.why);
	if (m->hdr_over || e.part.opaque) {
		for (size_t i = 0; i < e.part.nnames; i++)
			free(e.part.names[i].name);
		mime_opaque(m, m->hdr_over ? "part headers too long" :
		    e.part.why);
		m->hdr_over = 0;
		m->state = MIME_SKIP;
		return;
	}
	if (truncated)
		mime_bad(m, &e.part, "part headers not ended");
	/* message/rfc822 holds a message; so does message/global (RFC
	 * 6532), and readers such as Python's email parse every message/
	 * type that way: looking inside costs nothing and misses nothing. */
	if (strncmp(e.part.type, "multipart/", 10) == 0 ||
	    (strncmp(e.part.type, "message/", 8) == 0 && e.cte == MIME_RAW)) {
		int multi = e.part.type[0] == 'm' && e.part.type[1] == 'u';

		for (size_t i = 0; i < e.part.nnames; i++)
			free(e.part.names[i].name);
		if (m->depth >= MIME_DEPTH_MAX) {
			mime_opaque(m, "nested too deeply");
			m->state = MIME_SKIP;
			return;
		}
		if (multi && e.boundary[0] == '\0') {
			mime_opaque(m, "multipart without boundary");
			m->state = MIME_SKIP;
			return;
		}
		if (multi && mime_boundary_clash(m, e.boundary)) {
			mime_opaque(m, "boundary clashes with an outer one");
			m->state = MIME_SKIP;
			return;
		}
		f = &m->stack[m->depth++];
		memset(f, 0, sizeof *f);
		tg_strlcpy(f->boundary, e.boundary, sizeof f->boundary);
		f->blen = strlen(e.boundary);
		f->digest = strcmp(e.part.type, "multipart/digest") == 0;
		/* A multipart starts with its preamble; a message with
		 * its own header block. */
		m->state = multi ? MIME_SKIP : MIME_HEADERS;
		return;
	}
	if (strncmp(e.part.type, "message/", 8) == 0) {
		/* RFC 2046 allows no encoding here, yet readers decode it
		 * and show what is inside, which we do not parse. */
		for (size_t i = 0; i < e.part.nnames; i++)
			free(e.part.names[i].name);
		mime_opaque(m, "encoded message/ part");
		m->state = MIME_SKIP;
		return;
	}
	if ((p = mime_new_part(m)) == NULL) {
		for (size_t i = 0; i < e.part.nnames; i++)
			free(e.part.names[i].name);
		m->state = MIME_SKIP;
		return;
	}
	*p = e.part;
	if (e.cte < 0) {
		mime_bad(m, p, "unknown Content-Transfer-Encoding");
		e.cte = MIME_RAW;
	}
	m->cur = p;
	m->cte = (enum mime_cte)e.cte;
	m->state = MIME_LEAF;
	if (mime_hash_wanted(m, p->type)) {
		m->md = EVP_MD_CTX_new();
		if (m->md != NULL &&
		    EVP_DigestInit_ex(m->md, EVP_sha256(), NULL) != 1) {
			EVP_MD_CTX_free(m->md);
			m->md = NULL;
		}
	}
}

/* mime_pop - leave the frames above k; an inner multipart that never saw
 * its close delimiter, or no delimiter at all, is malformed. */
static void
mime_pop(struct tg_mime *m, int k)
{
	while (m->depth > k) {
		struct mime_frame *f = &m->stack[--m->depth];

		if (f->blen == 0)
			continue;	/* message/rfc822 */
		if (f->children == 0)
			mime_opaque(m, "boundary never found");
		else if (!f->closed)
			mime_bad(m, NULL, "missing final boundary");
	}
}

/* mime_delimiter - is the line a delimiter of an open multipart? Returns
 * its stack index (or -1); *close: it is a close delimiter. */
static int
mime_delimiter(const struct tg_mime *m, const char *s, size_t n, int *close)
{
	for (int k = m->depth - 1; k >= 0; k--) {
		const struct mime_frame *f = &m->stack[k];
		const char *r;

		if (f->blen == 0 || n < f->blen + 2 || s[0] != '-' ||
		    s[1] != '-' || memcmp(s + 2, f->boundary, f->blen) != 0)
			continue;
		r = s + 2 + f->blen;
		*close = n - (size_t)(r - s) >= 2 && r[0] == '-' && r[1] == '-';
		if (*close)
			r += 2;
		while (r < s + n && (*r == ' ' || *r == '\t'))
			r++;
		if (r == s + n)
			return k;
	}
	return -1;
}

static void
mime_on_delimiter(struct tg_mime *m, int k, int close)
{
	struct mime_frame *f = &m->stack[k];

	if (m->state == MIME_HEADERS)
		mime_headers_done(m, 1);
	if (m->state == MIME_LEAF)
		mime_end_leaf(m);
	mime_pop(m, k + 1);
	if (f->closed && !close)	/* content after the end: look */
		mime_bad(m, NULL, "part after the final boundary");
	if (close) {
		f->closed = 1;
		m->state = MIME_SKIP;
		return;
	}
	f->children++;
	m->hlen = 0;
	m->hdr_over = 0;
	m->state = MIME_HEADERS;
}

/* mime_piece - one line, or a piece of a line too long to buffer */
/* mime_long_delimiter - a line too long to buffer may still be a
 * delimiter with a long run of transport padding (RFC 2046 allows any
 * amount, and readers take it): follow each piece of it. */
static void
mime_long_delimiter(struct tg_mime *m, const char *s, size_t n, int bol,
    int eol)
{
	int k, close;

	if (bol) {
		k = mime_delimiter(m, s, n, &close);
		m->long_delim = k + 1;
		m->long_close = close;
	} else
		for (size_t i = 0; i < n && m->long_delim > 0; i++)
			if (s[i] != ' ' && s[i] != '\t')
				m->long_delim = 0;
	if (!eol || m->long_delim == 0)
		return;
	k = m->long_delim - 1;
	m->long_delim = 0;
	mime_bad(m, m->cur, "delimiter line too long");
	mime_on_delimiter(m, k, m->long_close);
}

/* mime_piece - one line, or a piece of a line too long to buffer; s
 * holds no CR or LF */
static void
mime_piece(struct tg_mime *m, const char *s, size_t n, int bol, int eol)
{
	int k, close;

	if (bol && eol && (k = mime_delimiter(m, s, n, &close)) >= 0) {
		mime_on_delimiter(m, k, close);
		return;
	}
	switch (m->state) {
	case MIME_HEADERS:
		if (bol && eol && n == 0) {
			mime_headers_done(m, 0);
			return;
		}
		if (m->hlen + n + 1 > MIME_HDR_MAX)
			m->hdr_over = 1;
		else {
			memcpy(m->hdr + m->hlen, s, n);
			m->hlen += n;
			if (eol)
				m->hdr[m->hlen++] = '\n';
		}
		break;
	case MIME_LEAF:
		mime_content(m, s, n, bol, eol);
		break;
	case MIME_SKIP:
		break;
	}
	if (!(bol && eol))
		mime_long_delimiter(m, s, n, bol, eol);
}

void
tg_mime_feed(struct tg_mime *m, const char *buf, size_t len)
{
	size_t n, room;

	if (m->finished)
		return;
	while (len > 0) {
		if (m->cr) {
			/* The line before ended with CR: LF completes the
			 * line break. A bare CR ends a line too, as in mail
			 * readers (Thunderbird, Python's email), but not in
			 * every one: inside a multipart, where lines decide
			 * the structure, that is malformed. */
			m->cr = 0;
			if (*buf == '\n') {
				buf++;
				len--;
				continue;
			}
			if (m->depth > 0)
				mime_bad(m, m->cur, "bare CR");
		}
		for (n = 0; n < len && buf[n] != '\r' && buf[n] != '\n'; n++)
			;
		room = sizeof m->line - m->llen;
		if (n >= room) {
			/* Too long to be a delimiter (but see
			 * mime_long_delimiter): pass it on in pieces. */
			memcpy(m->line + m->llen, buf, room);
			mime_piece(m, m->line, sizeof m->line, !m->midline, 0);
			m->llen = 0;
			m->midline = 1;
			buf += room;
			len -= room;
			continue;
		}
		memcpy(m->line + m->llen, buf, n);
		m->llen += n;
		buf += n;
		len -= n;
		if (len == 0)
			break;		/* the line goes on in the next chunk */
		m->cr = *buf == '\r';
		buf++;
		len--;
		mime_piece(m, m->line, m->llen, !m->midline, 1);
		m->llen = 0;
		m->midline = 0;
	}
}

void
tg_mime_finish(struct tg_mime *m)
{
	if (m->finished)
		return;
	if (m->cr && m->depth > 0)	/* nothing came after it */
		mime_bad(m, m->cur, "bare CR");
	m->cr = 0;
	if (m->llen > 0 || m->midline)
		mime_piece(m, m->line, m->llen, !m->midline, 1);
	m->llen = 0;
	if (m->state == MIME_HEADERS)
		mime_headers_done(m, m->depth > 0 || m->hlen > 0);
	/* No delimiter claims the last line break: it is content. */
	if (m->state == MIME_LEAF && m->eol)
		mime_emit(m, "\r\n", 2);
	if (m->state == MIME_LEAF)
		mime_end_leaf(m);
	mime_pop(m, 0);
	m->finished = 1;
}

size_t
tg_mime_nparts(const struct tg_mime *m)
{
	return m->nparts;
}

const struct tg_mime_part *
tg_mime_part(const struct tg_mime *m, size_t i)
{
	return i < m->nparts ? mime_part_at(m, i) : NULL;
}

int
tg_mime_malformed(const struct tg_mime *m, const char **why)
{
	if (why != NULL)
		*why = m->why;
	return m->malformed;
}
