/* addrlist.c - a strict RFC 5322 address-list parser for the From: and
 * Sender: ownership checks. Strict on purpose: a header that MUAs might
 * read in more than one way is refused (TG_ERR_SYNTAX), never guessed.
 * Besides the mailboxes it collects the addresses a reader would see in
 * display names and comments, after RFC 2047 decoding.
 * Owns: the lists it fills. Threads: pure functions. */
#include "config.h"

#include <openssl/evp.h>
#include <string.h>

#include "tg.h"
#include "tg_addr.h"
#include "tg_addrlist.h"

#define AL_TEXT_MAX	4096	/* a display name or comment, decoded */
#define AL_NEST_MAX	32	/* nested comments */

enum al_tt { AL_END, AL_WORD, AL_QSTR, AL_DLIT, AL_SPECIAL };

struct al_tok {
	enum al_tt	 type;
	char		 c;		/* AL_SPECIAL */
	const char	*s;		/* WORD, QSTR (with quotes), DLIT */
	size_t		 len;
};

struct al_ctx {
	const char		*p, *end;
	struct tg_addrlist	*out;
	int			 err;
	struct al_tok		 peek;
	int			 have_peek;
};

static int
al_is_special(unsigned char c)
{
	return strchr("()<>[]:;@\\,\"", c) != NULL;
}

static int
al_is_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static void
al_fail(struct al_ctx *x, int err)
{
	if (x->err == TG_OK)
		x->err = err;
}

static void
al_push(struct al_ctx *x, char ***v, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i], s) == 0)
			return;
	if (*n >= TG_ADDRLIST_MAX) {
		al_fail(x, TG_ERR_TOOLONG);
		return;
	}
	*v = tg_xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = tg_xstrdup(s);
}

static int
al_is_local_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c >= 0x80 ||
	    strchr(".!#$%&'*+/=?^_`{|}~-", c) != NULL;
}

static int
al_is_domain_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '-' || c >= 0x80;
}

/* al_at - length of an '@' look-alike at s (ASCII '@', U+FF20 FULLWIDTH
 * COMMERCIAL AT, U+FE6B SMALL COMMERCIAL AT), or 0. */
static size_t
al_at(const unsigned char *s, const unsigned char *end)
{
	if (*s == '@')
		return 1;
	if (end - s >= 3 && s[0] == 0xef && s[1] == 0xbc && s[2] == 0xa0)
		return 3;
	if (end - s >= 3 && s[0] == 0xef && s[1] == 0xb9 && s[2] == 0xab)
		return 3;
	return 0;
}

/* al_scan_shown - every "local@domain.tld" in text a reader would see. */
static void
al_scan_shown(struct al_ctx *x, const char *text, size_t len)
{
	char dec[AL_TEXT_MAX], addr[TG_ADDR_MAX], norm[TG_ADDR_MAX];
	const unsigned char *b, *e, *l, *r;
	size_t n, at, dots;
	char tmp[AL_TEXT_MAX];

	if (len >= sizeof tmp)
		len = sizeof tmp - 1;
	memcpy(tmp, text, len);
	tmp[len] = '\0';
	n = tg_addrlist_decode(tmp, dec, sizeof dec);
	b = (const unsigned char *)dec;
	e = b + n;
	for (const unsigned char *s = b; s < e; s++) {
		if ((at = al_at(s, e)) == 0)
			continue;
		for (l = s; l > b && al_is_local_char(l[-1]); l--)
			;
		for (r = s + at, dots = 0; r < e && al_is_domain_char(*r); r++)
			dots += *r == '.';
		while (r > s + at && r[-1] == '.')	/* "a@b.org." */
			r--, dots--;
		if (l == s || r == s + at || dots == 0 ||
		    (size_t)(s - l) + 1 + (size_t)(r - s - at) >= sizeof addr)
			continue;
		snprintf(addr, sizeof addr, "%.*s@%.*s", (int)(s - l),
		    (const char *)l, (int)(r - s - at), (const char *)s + at);
		if (tg_addr_normalize(addr, norm, sizeof norm) == TG_OK)
			al_push(x, &x->out->shown, &x->out->nshown, norm);
		s = r - 1;
	}
}

/* al_comment - skip a comment ('(' is current); its text is shown. */
static void
al_comment(struct al_ctx *x)
{
	const char *start = ++x->p;
	int depth = 1;

	while (x->p < x->end && depth > 0) {
		if (*x->p == '\\' && x->p + 1 < x->end)
			x->p++;
		else if (*x->p == '(' && ++depth > AL_NEST_MAX)
			break;
		else if (*x->p == ')')
			depth--;
		x->p++;
	}
	if (depth != 0) {
		al_fail(x, TG_ERR_SYNTAX);
		return;
	}
	al_scan_shown(x, start, (size_t)(x->p - 1 - start));
}

/* al_quoted - scan a quoted string or domain literal up to close. */
static int
al_quoted(struct al_ctx *x, char close)
{
	for (x->p++; x->p < x->end; x->p++) {
		if (*x->p == '\\' && x->p + 1 < x->end)
			x->p++;
		else if (*x->p == close) {
			x->p++;
			return 0;
		} else if (close == ']' && (*x->p == '[' || *x->p == '\\'))
			break;
	}
	al_fail(x, TG_ERR_SYNTAX);
	return -1;
}

static void
al_next(struct al_ctx *x, struct al_tok *t)
{
	const char *s;

	if (x->have_peek) {
		*t = x->peek;
		x->have_peek = 0;
		return;
	}
	memset(t, 0, sizeof *t);
	for (;;) {
		while (x->p < x->end && (*x->p == ' ' || *x->p == '\t' ||
		    *x->p == '\r' || *x->p == '\n'))
			x->p++;
		if (x->p < x->end && *x->p == '(') {
			al_comment(x);
			continue;
		}
		break;
	}
	if (x->err != TG_OK || x->p >= x->end) {
		t->type = AL_END;
		return;
	}
	s = x->p;
	if (al_is_ctl((unsigned char)*s)) {
		al_fail(x, TG_ERR_SYNTAX);
		t->type = AL_END;
	} else if (*s == '"' || *s == '[') {
		t->type = *s == '"' ? AL_QSTR : AL_DLIT;
		if (al_quoted(x, *s == '"' ? '"' : ']') < 0)
			t->type = AL_END;
	} else if (al_is_special((unsigned char)*s)) {
		t->type = AL_SPECIAL;
		t->c = *x->p++;
	} else {
		t->type = AL_WORD;
		while (x->p < x->end && !al_is_special((unsigned char)*x->p) &&
		    !al_is_ctl((unsigned char)*x->p) && *x->p != ' ' &&
		    *x->p != '\t' && *x->p != '\r' && *x->p != '\n')
			x->p++;
	}
	t->s = s;
	t->len = (size_t)(x->p - s);
}

static void
al_unread(struct al_ctx *x, const struct al_tok *t)
{
	x->peek = *t;
	x->have_peek = 1;
}

static int
al_is(const struct al_tok *t, char c)
{
	return t->type == AL_SPECIAL && t->c == c;
}

/* al_append - add len bytes of s to buf (size bufsz, used *n). */
static void
al_append(struct al_ctx *x, char *buf, size_t bufsz, size_t *n,
    const char *s, size_t len)
{
	if (*n + len >= bufsz) {
		al_fail(x, TG_ERR_TOOLONG);
		return;
	}
	memcpy(buf + *n, s, len);
	*n += len;
	buf[*n] = '\0';
}

/* al_addr_spec - local-part "@" domain; the local part's words are
 * already in local (as written). The '@' has been read. */
static void
al_addr_spec(struct al_ctx *x, const char *local, size_t llen)
{
	char addr[TG_ADDR_MAX], norm[TG_ADDR_MAX];
	size_t n = 0;
	struct al_tok t;

	if (llen == 0) {
		al_fail(x, TG_ERR_SYNTAX);
		return;
	}
	al_append(x, addr, sizeof addr, &n, local, llen);
	al_append(x, addr, sizeof addr, &n, "@", 1);
	al_next(x, &t);
	if (t.type != AL_WORD && t.type != AL_DLIT) {
		al_fail(x, TG_ERR_SYNTAX);
		return;
	}
	al_append(x, addr, sizeof addr, &n, t.s, t.len);
	if (x->err != TG_OK)
		return;
	if (tg_addr_normalize(addr, norm, sizeof norm) != TG_OK ||
	    *norm == '\0') {
		al_fail(x, TG_ERR_SYNTAX);
		return;
	}
	al_push(x, &x->out->addr, &x->out->naddr, norm);
}

/* al_local - read words into local (as written, for a local part) and
 * shown (space-separated, for a display name); returns the token that
 * ended them. *spaced is set when two words were not joined by a dot,
 * or they are too long: a local part they cannot be. */
static void
al_local(struct al_ctx *x, char *local, size_t *nl, char *shown,
    size_t *ns, int *spaced, struct al_tok *t)
{
	char last = '.';

	*spaced = 0;
	for (al_next(x, t); t->type == AL_WORD || t->type == AL_QSTR;
	    al_next(x, t)) {
		if (last != '.' && t->s[0] != '.')
			*spaced = 1;
		/* Too long for a local part: can only be a display name. */
		if (*nl + t->len < TG_ADDR_MAX) {
			memcpy(local + *nl, t->s, t->len);
			local[*nl += t->len] = '\0';
		} else
			*spaced = 1;
		if (*ns > 0)
			al_append(x, shown, AL_TEXT_MAX, ns, " ", 1);
		al_append(x, shown, AL_TEXT_MAX, ns, t->s, t->len);
		last = t->s[t->len - 1];
	}
}

/* al_angle - "<" [route ":"] addr-spec ">"; the '<' has been read. */
static void
al_angle(struct al_ctx *x)
{
	char local[TG_ADDR_MAX], shown[AL_TEXT_MAX];
	size_t n = 0, ns = 0;
	struct al_tok t;
	int spaced;

	al_next(x, &t);
	if (al_is(&t, '@')) {		/* obsolete route: @a,@b: */
		while (x->err == TG_OK && !al_is(&t, ':') && t.type != AL_END)
			al_next(x, &t);
		if (!al_is(&t, ':'))
			al_fail(x, TG_ERR_SYNTAX);
	} else
		al_unread(x, &t);
	local[0] = shown[0] = '\0';
	al_local(x, local, &n, shown, &ns, &spaced, &t);
	if (!al_is(&t, '@') || spaced) {
		al_fail(x, TG_ERR_SYNTAX);	/* includes "<>" */
		return;
	}
	al_addr_spec(x, local, n);
	al_next(x, &t);
	if (!al_is(&t, '>'))
		al_fail(x, TG_ERR_SYNTAX);
}

static void	al_list(struct al_ctx *, int in_group);

/* al_address - one mailbox or group. */
static void
al_address(struct al_ctx *x, int in_group)
{
	char local[TG_ADDR_MAX], phrase[AL_TEXT_MAX];
	size_t nl = 0, np = 0;
	struct al_tok t;
	int spaced;

	local[0] = phrase[0] = '\0';
	al_local(x, local, &nl, phrase, &np, &spaced, &t);
	if (al_is(&t, '@')) {
		if (spaced)
			al_fail(x, TG_ERR_SYNTAX);
		else
			al_addr_spec(x, local, nl);
		return;
	}
	/* A display name: what a reader sees of it must be owned too. */
	al_scan_shown(x, phrase, np);
	if (al_is(&t, '<'))
		al_angle(x);
	else if (al_is(&t, ':') && !in_group && np > 0)
		al_list(x, 1);
	else
		al_fail(x, TG_ERR_SYNTAX);
}

/* al_list - members separated by ','; a group ends at ';'. */
static void
al_list(struct al_ctx *x, int in_group)
{
	struct al_tok t;

	while (x->err == TG_OK) {
		al_next(x, &t);
		if (al_is(&t, ','))
			continue;	/* obsolete empty member */
		if (t.type == AL_END) {
			if (in_group)
				al_fail(x, TG_ERR_SYNTAX);
			return;
		}
		if (in_group && al_is(&t, ';'))
			return;
		al_unread(x, &t);
		al_address(x, in_group);
		al_next(x, &t);
		if (al_is(&t, ','))
			continue;
		if (in_group && al_is(&t, ';'))
			return;
		if (!in_group && t.type == AL_END)
			return;
		al_fail(x, TG_ERR_SYNTAX);
	}
}

int
tg_addrlist_parse(const char *value, struct tg_addrlist *out)
{
	struct al_ctx x;
	size_t len = strlen(value);

	memset(out, 0, sizeof *out);
	if (len > TG_ADDRLIST_IN_MAX)
		return TG_ERR_TOOLONG;
	memset(&x, 0, sizeof x);
	x.p = value;
	x.end = value + len;
	x.out = out;
	x.err = TG_OK;
	al_list(&x, 0);
	if (x.err == TG_OK && out->naddr == 0)
		x.err = TG_ERR_SYNTAX;	/* "undisclosed:;" names nobody */
	if (x.err != TG_OK)
		tg_addrlist_free(out);
	return x.err;
}

void
tg_addrlist_free(struct tg_addrlist *l)
{
	for (size_t i = 0; i < l->naddr; i++)
		free(l->addr[i]);
	for (size_t i = 0; i < l->nshown; i++)
		free(l->shown[i]);
	free(l->addr);
	free(l->shown);
	memset(l, 0, sizeof *l);
}

static int
al_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* al_word - decode one "=?charset?E?text?=" at s into out; returns the
 * bytes consumed from s, or 0 when s is not an encoded word. */
static size_t
al_word(const char *s, char *out, size_t outsz, size_t *o)
{
	const char *q1, *q2, *end, *t;
	unsigned char b64[AL_TEXT_MAX];
	int n, h1, h2;

	if (s[0] != '=' || s[1] != '?' || (q1 = strchr(s + 2, '?')) == NULL ||
	    q1[1] == '\0' || q1[2] != '?' || (end = strstr(q1 + 3, "?=")) ==
	    NULL)
		return 0;
	q2 = q1 + 2;
	if (q1[1] == 'B' || q1[1] == 'b') {
		if ((size_t)(end - q2 - 1) >= sizeof b64 / 4 * 3 ||
		    (end - q2 - 1) % 4 != 0)
			return 0;
		n = EVP_DecodeBlock(b64, (const unsigned char *)q2 + 1,
		    (int)(end - q2 - 1));
		if (n < 0)
			return 0;
		/* EVP_DecodeBlock counts padding as zero bytes. */
		for (t = end; t > q2 + 1 && t[-1] == '='; t--)
			n--;
		for (int i = 0; i < n && *o + 1 < outsz; i++)
			out[(*o)++] = (char)b64[i];
	} else if (q1[1] == 'Q' || q1[1] == 'q') {
		for (t = q2 + 1; t < end && *o + 1 < outsz; t++) {
			if (*t == '_')
				out[(*o)++] = ' ';
			else if (*t == '=' && t + 2 < end + 1 &&
			    (h1 = al_hex(t[1])) >= 0 && (h2 = al_hex(t[2])) >= 0) {
				out[(*o)++] = (char)(h1 << 4 | h2);
				t += 2;
			} else
				out[(*o)++] = *t;
		}
	} else
		return 0;
	return (size_t)(end + 2 - s);
}

size_t
tg_addrlist_decode(const char *text, char *out, size_t outsz)
{
	size_t o = 0, used;

	if (outsz == 0)
		return 0;
	while (*text != '\0' && o + 1 < outsz) {
		if ((used = al_word(text, out, outsz, &o)) > 0) {
			text += used;
			continue;
		}
		out[o++] = *text++;
	}
	out[o] = '\0';
	return o;
}
