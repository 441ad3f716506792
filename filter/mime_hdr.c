/* mime_hdr.c - decoding of MIME header values: RFC 2047 encoded words,
 * RFC 2045 parameters with RFC 2231 continuations and charsets, charset
 * conversion to UTF-8 with iconv. Input is hostile: every loop is bounded
 * by the input and results are always allocated to fit.
 * Owns: nothing beyond its results. Threads: pure functions. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tg.h"
#include "tg_mime.h"

#define HDR_PARAMS_MAX	64	/* parameters looked at per value */
#define HDR_PNAME_MAX	64	/* bytes of a parameter name */
#define HDR_SECTIONS_MAX 100	/* RFC 2231 continuation sections */

/* A growing output string. */
struct hdr_buf {
	char	*p;
	size_t	 len, cap;
};

static void
hdr_put(struct hdr_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = tg_xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static char *
hdr_take(struct hdr_buf *b)
{
	if (b->p == NULL)
		return tg_xstrdup("");
	for (size_t i = 0; i < b->len; i++)
		if (b->p[i] == '\0')
			b->p[i] = '?';
	return b->p;
}

static int
hdr_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int
hdr_b64(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* hdr_utf8 - tg_mime_to_utf8; *bad is set when bytes were replaced */
static char *
hdr_utf8(const char *charset, const char *in, size_t len, int *bad)
{
	struct hdr_buf b = { NULL, 0, 0 };
	char cs[64], out[1024], *ip = (char *)in, *op;
	size_t il = len, ol;
	iconv_t cd;

	/* UTF-8 goes through iconv too: that checks it. */
	if (charset == NULL || *charset == '\0' ||
	    tg_strlcpy(cs, charset, sizeof cs) >= sizeof cs ||
	    (cd = iconv_open("UTF-8", cs)) == (iconv_t)-1) {
		/* Unknown charsets keep their bytes: ASCII extensions
		 * still show through. */
		hdr_put(&b, in, len);
		return hdr_take(&b);
	}
	while (il > 0) {
		op = out;
		ol = sizeof out;
		if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1 &&
		    errno != E2BIG) {
			/* EILSEQ or EINVAL (truncated): one '?' per bad
			 * byte, and go on. */
			hdr_put(&b, out, (size_t)(op - out));
			hdr_put(&b, "?", 1);
			*bad |= TG_MIME_BAD;
			ip++;
			il--;
			continue;
		}
		hdr_put(&b, out, (size_t)(op - out));
	}
	op = out;
	ol = sizeof out;
	(void)iconv(cd, NULL, NULL, &op, &ol);
	hdr_put(&b, out, (size_t)(op - out));
	iconv_close(cd);
	return hdr_take(&b);
}

char *
tg_mime_to_utf8(const char *charset, const char *in, size_t len)
{
	int bad = 0;

	return hdr_utf8(charset, in, len, &bad);
}

/* hdr_word - decode the encoded word at s ("=?cs?E?text?="); on success
 * append it to b and return its length, else 0. *bad is set when its
 * bytes are not valid in its charset. */
static size_t
hdr_word(struct hdr_buf *b, const char *s, int *bad)
{
	const char *cs = s + 2, *q1, *text, *end;
	struct hdr_buf raw = { NULL, 0, 0 };
	char charset[64], *star, *u;
	unsigned acc = 0;
	int enc, bits = 0, v;

	if ((q1 = strchr(cs, '?')) == NULL || q1 == cs ||
	    (size_t)(q1 - cs) >= sizeof charset)
		return 0;
	enc = toupper((unsigned char)q1[1]);
	if ((enc != 'B' && enc != 'Q') || q1[2] != '?')
		return 0;
	/* The encoded text runs to the next '?', which must end the word:
	 * no '?' or white space inside (RFC 2047 2, as Python's email
	 * reads it). */
	text = q1 + 3;
	end = text + strcspn(text, "? \t\r\n");
	if (end[0] != '?' || end[1] != '=')
		return 0;
	memcpy(charset, cs, (size_t)(q1 - cs));
	charset[q1 - cs] = '\0';
	if ((star = strchr(charset, '*')) != NULL)	/* RFC 2231 language */
		*star = '\0';
	for (const char *p = text; p < end; p++) {
		char c = *p;

		if (enc == 'Q') {
			if (c == '_')
				c = ' ';
			else if (c == '=' && end - p > 2 &&
			    hdr_hex((unsigned char)p[1]) >= 0 &&
			    hdr_hex((unsigned char)p[2]) >= 0) {
				c = (char)(hdr_hex((unsigned char)p[1]) * 16 +
				    hdr_hex((unsigned char)p[2]));
				p += 2;
			} else if (c == '=')
				*bad |= TG_MIME_BAD;
			hdr_put(&raw, &c, 1);
			continue;
		}
		if ((v = hdr_b64((unsigned char)c)) < 0) {
			if (c != '=')	/* readers skip it or give up */
				*bad |= TG_MIME_BAD;
			continue;
		}
		acc = (acc << 6) | (unsigned)v;
		if ((bits += 6) >= 8) {
			bits -= 8;
			c = (char)((acc >> bits) & 0xff);
			hdr_put(&raw, &c, 1);
		}
	}
	u = hdr_utf8(charset, raw.p != NULL ? raw.p : "", raw.len, bad);
	hdr_put(b, u, strlen(u));
	free(u);
	free(raw.p);
	return (size_t)(end + 2 - s);
}

static int
hdr_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* hdr_words - tg_mime_decode_words; *bad as for hdr_word, and set when
 * readers may decode the value differently: an encoded word run into
 * other text (Python's email leaves it encoded, others decode it), or
 * "=?" that does not start one. */
static char *
hdr_words(const char *value, int *bad)
{
	struct hdr_buf b = { NULL, 0, 0 };
	const char *p = value, *gap;
	size_t n;

	while (*p != '\0') {
		if (p[0] == '=' && p[1] == '?' && (n = hdr_word(&b, p, bad)) > 0) {
			for (;;) {
				if ((p > value && !hdr_wsp(p[-1])) ||
				    (p[n] != '\0' && !hdr_wsp(p[n])))
					*bad |= TG_MIME_BAD;
				p += n;
				/* White space between two encoded words is
				 * not part of the text (RFC 2047 6.2). */
				for (gap = p; hdr_wsp(*gap); gap++)
					;
				if (gap == p || gap[0] != '=' || gap[1] != '?' ||
				    (n = hdr_word(&b, gap, bad)) == 0)
					break;
				p = gap;
			}
			continue;
		}
		if (*p == '\r' || *p == '\n') {	/* unfold */
			p++;
			continue;
		}
		if (p[0] == '=' && p[1] == '?')
			*bad |= TG_MIME_BAD;
		hdr_put(&b, p, 1);
		p++;
	}
	return hdr_take(&b);
}

char *
tg_mime_decode_words(const char *value)
{
	int bad = 0;

	return hdr_words(value, &bad);
}

/* One parameter as written: name*section* = value. */
struct hdr_param {
	char	 name[HDR_PNAME_MAX];	/* base name, lower case */
	int	 section;		/* -1: not a continuation */
	int	 ext;			/* ends in '*': charset'lang'%XX */
	char	*value;			/* unquoted */
};

/* hdr_skip_cfws - past white space and (nested, escaped) comments; an
 * unclosed comment runs to the end and sets *unclosed. */
static const char *
hdr_skip_cfws(const char *p, int *unclosed)
{
	int depth;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p != '(')
			return p;
		for (depth = 0; *p != '\0'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
		}
		if (depth > 0)
			*unclosed = 1;
	}
}

const char *
tg_mime_skip_cfws(const char *p)
{
	int unclosed = 0;

	return hdr_skip_cfws(p, &unclosed);
}

/* hdr_cfws - the same in a Content- value: an unclosed comment hides the
 * rest of it from us, not from a reader that does not take it for one. */
static const char *
hdr_cfws(const char *p, int *bad)
{
	int unclosed = 0;

	p = hdr_skip_cfws(p, &unclosed);
	if (unclosed)
		*bad |= TG_MIME_BAD | TG_MIME_AMBIGUOUS;
	return p;
}

/* hdr_value - a quoted string or token at p into *out; returns the end.
 * bad is set for an unterminated quoted string. */
static const char *
hdr_value(const char *p, char **out, int *bad)
{
	struct hdr_buf b = { NULL, 0, 0 };
	int pairs = 0;

	if (*p == '"') {
		for (p++; *p != '"'; p++) {
			if (*p == '\0') {
				*bad |= TG_MIME_BAD;
				break;
			}
			/* Readers keep or drop a backslash that quotes
			 * what needs no quoting; inside an encoded word,
			 * any (Python's email decodes the word first). */
			if (*p == '\\' && p[1] != '\0') {
				p++;
				pairs = 1;
				if (*p != '"' && *p != '\\')
					*bad |= TG_MIME_BAD;
			}
			if (*p != '\r' && *p != '\n')
				hdr_put(&b, p, 1);
		}
		if (*p == '"')
			p++;
		if (pairs && b.p != NULL && strstr(b.p, "=?") != NULL)
			*bad |= TG_MIME_BAD;
	} else {
		for (; *p != '\0' && *p != ';' && *p != ' ' && *p != '\t' &&
		    *p != '\r' && *p != '\n' && *p != '('; p++) {
			/* A token ends at a tspecial for Python's email,
			 * not for others: "name=a/b.exe"; and at '*',
			 * which RFC 2231 gives a meaning. */
			if ((unsigned char)*p < ' ' || *p == 0x7f ||
			    strchr("<>@,:\\\"/[]?=*", *p) != NULL)
				*bad |= TG_MIME_BAD;
			hdr_put(&b, p, 1);
		}
	}
	*out = hdr_take(&b);
	return p;
}

/* hdr_attr_char - an RFC 2231 attribute-char: a token character but
 * '*', '\'' and '%' */
static int
hdr_attr_char(int c)
{
	return tg_str_token_char(c) && strchr("*'%", c) == NULL;
}

/* hdr_pname_ok - an attribute (RFC 2045 token without '*', '\'' and '%'),
 * then at most an RFC 2231 "*N" section and a "*": anything else in a
 * parameter name ("filename*1\.") is read by some readers as that
 * section and dropped by others */
static int
hdr_pname_ok(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && hdr_attr_char((unsigned char)s[i]))
		i++;
	if (i == 0)
		return 0;
	if (i < n && s[i] == '*' && i + 1 < n &&
	    isdigit((unsigned char)s[i + 1])) {
		for (i++; i < n && isdigit((unsigned char)s[i]); i++)
			;
	}
	if (i < n && s[i] == '*')
		i++;
	return i == n;
}

/* hdr_pname - split "filename*2*" into base name, section and ext; a
 * name hdr_pname_ok() refuses is malformed but read as far as it goes
 * (the worst case: "filename*1\." as section 1). */
static void
hdr_pname(const char *s, size_t n, struct hdr_param *pp, int *bad)
{
	const char *star = memchr(s, '*', n);
	size_t blen = star != NULL ? (size_t)(star - s) : n;

	if (!hdr_pname_ok(s, n))
		*bad |= TG_MIME_BAD;

	if (blen >= sizeof pp->name)
		blen = sizeof pp->name - 1;
	memcpy(pp->name, s, blen);
	pp->name[blen] = '\0';
	tg_str_lower(pp->name);
	pp->section = -1;
	pp->ext = n > 0 && s[n - 1] == '*' && star != NULL;
	if (star != NULL && star + 1 < s + n &&
	    isdigit((unsigned char)star[1])) {
		pp->section = 0;
		for (const char *d = star + 1; d < s + n &&
		    isdigit((unsigned char)*d) && pp->section < 100000; d++)
			pp->section = pp->section * 10 + (*d - '0');
	}
}

/* hdr_skip_param - past a parameter that could not be parsed, to the ';'
 * that starts the next one (outside quotes), so that what follows is
 * still read: a reader that recovers there must not see more than we do. */
static const char *
hdr_skip_param(const char *p)
{
	int quoted = 0;

	for (; *p != '\0' && (quoted || *p != ';'); p++) {
		if (*p == '\\' && quoted && p[1] != '\0')
			p++;
		else if (*p == '"')
			quoted = !quoted;
	}
	return p;
}

/* hdr_repeats - a parameter given twice (same name and section; a plain
 * and an RFC 2231 "name*" form are two different parameters) is
 * malformed, and ambiguous when the values differ: readers take the
 * first or the last. RFC 2231 sections of one value are not repeats. */
static void
hdr_repeats(const struct hdr_param *pp, size_t n, int *bad)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++) {
			if (pp[i].section != pp[j].section ||
			    strcmp(pp[i].name, pp[j].name) != 0 ||
			    (pp[i].section < 0 && pp[i].ext != pp[j].ext))
				continue;
			*bad |= TG_MIME_BAD;
			if (pp[i].ext != pp[j].ext ||
			    strcmp(pp[i].value, pp[j].value) != 0)
				*bad |= TG_MIME_AMBIGUOUS;
		}
}

/* hdr_parse - type and parameters of a header value; returns the count */
static size_t
hdr_parse(const char *v, char **type, struct hdr_param *pp, int *bad)
{
	struct hdr_buf t = { NULL, 0, 0 };
	const char *p = hdr_cfws(v, bad), *name, *nend, *q;
	size_t n = 0;

	/* The type without white space and comments around its parts; one
	 * inside a part ("x-msdos- program") stays as a space, which makes
	 * the type invalid; one next to the '/' ("multipart /mixed") is read
	 * away, but some readers take such a type for an unknown leaf, so it
	 * is malformed. */
	while (*p != '\0' && *p != ';') {
		hdr_put(&t, p, 1);
		q = hdr_cfws(p + 1, bad);
		if (q != p + 1 && (*p == '/' || *q == '/'))
			*bad |= TG_MIME_BAD;
		else if (q != p + 1 && *q != '\0' && *q != ';')
			hdr_put(&t, " ", 1);
		p = q;
	}
	*type = hdr_take(&t);
	tg_str_lower(*type);
	while (*p == ';') {
		p = hdr_cfws(p + 1, bad);
		if (*p == '\0' || *p == ';')
			continue;	/* an empty parameter: harmless */
		if (n == HDR_PARAMS_MAX) {
			/* More than we look at: one of them could be the
			 * boundary or a file name. */
			*bad |= TG_MIME_BAD | TG_MIME_AMBIGUOUS;
			break;
		}
		name = p;
		while (*p != '\0' && *p != '=' && *p != ';' && *p != ' ' &&
		    *p != '\t' && *p != '\r' && *p != '\n' && *p != '(' &&
		    *p != '"')
			p++;
		nend = p;
		if (p == name || *(p = hdr_cfws(p, bad)) != '=') {
			*bad |= TG_MIME_BAD;
			p = hdr_skip_param(p);
			continue;
		}
		hdr_pname(name, (size_t)(nend - name), &pp[n], bad);
		p = hdr_cfws(p + 1, bad);
		/* An unquoted plain value with two "'" (x''a.exe): Python's
		 * email reads it as RFC 2231 charset'language'value. */
		if (*p != '"' && !pp[n].ext && (q = strchr(p, '\'')) != NULL &&
		    (size_t)(q - p) < strcspn(p, "; \t\r\n(") &&
		    (q = strchr(q + 1, '\'')) != NULL &&
		    (size_t)(q - p) < strcspn(p, "; \t\r\n("))
			*bad |= TG_MIME_BAD;
		p = hdr_value(p, &pp[n].value, bad);
		n++;
		p = hdr_cfws(p, bad);
		if (*p != '\0' && *p != ';') {
			*bad |= TG_MIME_BAD;	/* junk after a value */
			p = hdr_skip_param(p);
		}
	}
	hdr_repeats(pp, n, bad);
	return n;
}

/* hdr_pct - percent-decode s into b; a byte that is not an RFC 2231
 * attribute-char (8-bit, white space, tspecials, '*', '\'') or a '%'
 * without two hex digits is malformed: readers keep it, stop there (Python's
 * email) or give up. */
static void
hdr_pct(struct hdr_buf *b, const char *s, int *bad)
{
	for (; *s != '\0'; s++) {
		char c = *s;

		if (c == '%' && hdr_hex((unsigned char)s[1]) >= 0 &&
		    hdr_hex((unsigned char)s[2]) >= 0) {
			c = (char)(hdr_hex((unsigned char)s[1]) * 16 +
			    hdr_hex((unsigned char)s[2]));
			s += 2;
		} else if (!hdr_attr_char((unsigned char)c))
			*bad |= TG_MIME_BAD;
		hdr_put(b, &c, 1);
	}
}

/* hdr_ext_value - "charset'lang'%XX" pieces in order to UTF-8. */
static char *
hdr_ext_value(struct hdr_param **sec, size_t n, int *bad)
{
	struct hdr_buf raw = { NULL, 0, 0 };
	size_t plain = 0;
	char charset[64] = "";
	const char *q1, *q2, *s;
	char *u;

	for (size_t i = 0; i < n; i++) {
		s = sec[i]->value;
		if (i == 0 && sec[i]->ext) {
			q1 = strchr(s, '\'');
			q2 = q1 != NULL ? strchr(q1 + 1, '\'') : NULL;
			if (q2 == NULL)
				*bad |= TG_MIME_BAD;
			else {
				size_t cl = (size_t)(q1 - s);

				if (cl < sizeof charset) {
					memcpy(charset, s, cl);
					charset[cl] = '\0';
				}
				s = q2 + 1;
			}
		}
		if (sec[i]->ext)
			hdr_pct(&raw, s, bad);
		else
			hdr_put(&raw, s, strlen(s));
		if (!sec[i]->ext && strstr(s, "=?") != NULL) {
			/* Encoded words in sections: readers decode the
			 * joined value, each section or none, and see
			 * other names (white space between words goes
			 * only in the joined value). */
			int sbad = n > 1 ? TG_MIME_BAD : 0;

			free(hdr_words(s, &sbad));
			*bad |= sbad;
		}
		plain += !sec[i]->ext;
	}
	/* Without a charset, clients decode RFC 2047 words in the joined
	 * value as in a plain one (Thunderbird, Outlook). */
	if (plain == n)
		u = hdr_words(raw.p != NULL ? raw.p : "", bad);
	else
		u = hdr_utf8(charset, raw.p != NULL ? raw.p : "", raw.len,
		    bad);
	free(raw.p);
	return u;
}

/* hdr_add - keep v in vals unless it is there already; takes v */
static void
hdr_add(char **vals, size_t *nv, size_t max, char *v, int *bad)
{
	for (size_t i = 0; i < *nv; i++)
		if (strcmp(vals[i], v) == 0) {
			free(v);
			return;
		}
	if (*nv >= max) {
		/* A value not kept is one no rule tested. */
		*bad |= TG_MIME_BAD | TG_MIME_AMBIGUOUS;
		free(v);
		return;
	}
	vals[(*nv)++] = v;
}

/* hdr_sections - the continuation sections of pname in order; missing
 * or repeated numbers make the value malformed. */
static size_t
hdr_sections(struct hdr_param *pp, size_t np, const char *pname,
    struct hdr_param **sec, int *bad)
{
	size_t n = 0;

	for (int want = 0; want < HDR_SECTIONS_MAX; want++) {
		size_t found = 0;

		for (size_t i = 0; i < np; i++)
			if (pp[i].section == want &&
			    strcmp(pp[i].name, pname) == 0) {
				if (found++ == 0)
					sec[n++] = &pp[i];
				else
					*bad |= TG_MIME_BAD;
			}
		if (found == 0)
			break;
	}
	for (size_t i = 0; i < np; i++)	/* a gap: sections after it */
		if (pp[i].section >= (int)n && strcmp(pp[i].name, pname) == 0)
			*bad |= TG_MIME_BAD;
	return n;
}

/* hdr_all_sections - every section of pname in number order, gaps and
 * all: what a lenient client would show when the sections are broken. */
static size_t
hdr_all_sections(struct hdr_param *pp, size_t np, const char *pname,
    struct hdr_param **sec)
{
	size_t n = 0;

	for (size_t i = 0; i < np && n < HDR_SECTIONS_MAX; i++) {
		size_t j;

		if (pp[i].section < 0 || strcmp(pp[i].name, pname) != 0)
			continue;
		for (j = n; j > 0 && sec[j - 1]->section > pp[i].section; j--)
			sec[j] = sec[j - 1];
		sec[j] = &pp[i];
		n++;
	}
	return n;
}

size_t
tg_mime_params(const char *value, const char *pname, char **type,
    char **vals, size_t max, int *bad)
{
	struct hdr_param pp[HDR_PARAMS_MAX], *sec[HDR_SECTIONS_MAX];
	size_t np, ns, nv = 0;

	memset(pp, 0, sizeof pp);
	np = hdr_parse(value, type, pp, bad);
	/* RFC 2231 forms first: that is what current mail clients read. */
	if ((ns = hdr_sections(pp, np, pname, sec, bad)) > 0)
		hdr_add(vals, &nv, max, hdr_ext_value(sec, ns, bad), bad);
	if (*bad && (ns = hdr_all_sections(pp, np, pname, sec)) > 0)
		hdr_add(vals, &nv, max, hdr_ext_value(sec, ns, bad), bad);
	for (size_t i = 0; i < np; i++) {
		if (strcmp(pp[i].name, pname) != 0 || pp[i].section >= 0 ||
		    !pp[i].ext)
			continue;
		sec[0] = &pp[i];
		hdr_add(vals, &nv, max, hdr_ext_value(sec, 1, bad), bad);
	}
	for (size_t i = 0; i < np; i++)	/* quoted RFC 2047 words: common */
		if (strcmp(pp[i].name, pname) == 0 && pp[i].section < 0 &&
		    !pp[i].ext)
			hdr_add(vals, &nv, max,
			    hdr_words(pp[i].value, bad), bad);
	for (size_t i = 0; i < np; i++)
		free(pp[i].value);
	return nv;
}
