/* mime_entity.c - one MIME entity's header block: its Content-Type,
 * Content-Disposition and Content-Transfer-Encoding, the file names they
 * declare, and whether they are ambiguous. The parser (mime.c) hands over
 * each part's block and the message's own fields the same way, so that a
 * repeat means the same at every level. Ambiguous input (a field or a
 * parameter given twice with different values, more names or parameters
 * than are kept) makes the entity opaque: readers disagree on what it is,
 * so rules must assume the worst of it.
 * Owns: the names it adds to the part (freed with it). Threads: pure. */
#include "config.h"

#include <string.h>
#include <strings.h>
#include <stdlib.h>

#include "tg.h"
#include "tg_mime.h"
#include "mime_impl.h"

enum { ENTITY_TYPE, ENTITY_DISP, ENTITY_CTE, ENTITY_FIELDS };

static void
mime_entity_bad(struct tg_mime_part *p, const char *why)
{
	if (!p->malformed) {
		p->malformed = 1;
		p->why = why;
	}
}

/* mime_entity_ambiguous - readers may see different things: opaque. */
static void
mime_entity_ambiguous(struct tg_mime_part *p, const char *why)
{
	mime_entity_bad(p, why);
	p->opaque = 1;
}

/* mime_entity_ext - the extension of name before position end, in out.
 * Windows ignores trailing dots and spaces, so they are ignored here too. */
static const char *
mime_entity_ext(const char *name, const char *end, char *out, size_t outsz)
{
	const char *dot;
	size_t n;

	while (end > name && (end[-1] == '.' || end[-1] == ' ' ||
	    end[-1] == '\t'))
		end--;
	for (dot = end; dot > name && dot[-1] != '.' && dot[-1] != '/' &&
	    dot[-1] != '\\'; dot--)
		;
	out[0] = '\0';
	if (dot == name || dot[-1] != '.')
		return NULL;
	n = (size_t)(end - dot) < outsz - 1 ? (size_t)(end - dot) : outsz - 1;
	memcpy(out, dot, n);
	out[n] = '\0';
	tg_str_lower(out);
	return dot - 1;
}

/* mime_entity_name - add a file name to p; takes name */
static void
mime_entity_name(struct tg_mime_part *p, char *name)
{
	struct tg_mime_name *n;
	size_t len = strlen(name);
	const char *dot;
	int invalid;

	if (len > TG_MIME_NAME_MAX) {
		/* Keep the end: a name padded to push ".exe" out of sight
		 * still shows its extension. */
		size_t cut = len - TG_MIME_NAME_MAX;

		while (cut < len && (name[cut] & 0xc0) == 0x80)
			cut++;	/* not in the middle of a character */
		memmove(name, name + cut, len - cut + 1);
		mime_entity_bad(p, "file name too long");
	}
	for (size_t i = 0; i < p->nnames; i++)
		if (strcmp(p->names[i].name, name) == 0) {
			free(name);
			return;
		}
	if (p->nnames >= TG_MIME_NAMES_MAX) {
		/* A name no rule will test. */
		mime_entity_ambiguous(p, "too many file names");
		free(name);
		return;
	}
	if (p->nnames > 0)	/* clients disagree on which one to show */
		mime_entity_bad(p, "several different file names");
	n = &p->names[p->nnames++];
	n->name = name;
	len = strlen(name);
	dot = mime_entity_ext(name, name + len, n->ext, sizeof n->ext);
	if (dot != NULL)
		mime_entity_ext(name, dot, n->inner, sizeof n->inner);
	(void)tg_mime_name_spoofed(name, len, dot != NULL ?
	    (size_t)(dot - name) : len, &invalid, &n->spoofed);
	/* Raw 8-bit bytes of an old client, or of no charset at all: the
	 * reader's guess decides what shows, so it is broken, not a
	 * disguise (one that is shows in spoofed). */
	if (invalid)
		mime_entity_bad(p, "file name not valid UTF-8");
}

/* mime_entity_same - the same field value, give or take the white space
 * around it. */
static int
mime_entity_same(const char *a, const char *b)
{
	size_t la, lb;

	a += strspn(a, " \t");
	b += strspn(b, " \t");
	for (la = strlen(a); la > 0 && (a[la - 1] == ' ' || a[la - 1] == '\t');)
		la--;
	for (lb = strlen(b); lb > 0 && (b[lb - 1] == ' ' || b[lb - 1] == '\t');)
		lb--;
	return la == lb && memcmp(a, b, la) == 0;
}

static int
mime_entity_cte(const char *type)
{
	if (strcmp(type, "base64") == 0)
		return MIME_B64;
	if (strcmp(type, "quoted-printable") == 0)
		return MIME_QP;
	if (strcmp(type, "7bit") == 0 || strcmp(type, "8bit") == 0 ||
	    strcmp(type, "binary") == 0 || type[0] == '\0')
		return MIME_RAW;
	return -1;
}

/* mime_entity_token - length of the RFC 2045 token at s (no white space,
 * controls or tspecials) */
static size_t
mime_entity_token(const char *s)
{
	size_t n = 0;

	while (tg_str_token_char((unsigned char)s[n]))
		n++;
	return n;
}

/* mime_entity_type - Content-Type: the media type, boundary, name */
static void
mime_entity_type(struct mime_entity *e, const char *value, char *type,
    int *bad)
{
	struct tg_mime_part *p = &e->part;
	size_t t = mime_entity_token(type);
	char *vals[1];

	/* type "/" subtype, both tokens; anything else is text/plain
	 * (RFC 2045 5.2), and readers guess differently. */
	if (t == 0 || type[t] != '/' || mime_entity_token(type + t + 1) == 0 ||
	    type[t + 1 + mime_entity_token(type + t + 1)] != '\0') {
		mime_entity_bad(p, "invalid media type");
		return;
	}
	if (tg_strlcpy(p->type, type, sizeof p->type) >= sizeof p->type)
		mime_entity_bad(p, "media type too long");
	if (strncmp(p->type, "multipart/", 10) != 0)
		return;
	type = NULL;
	if (tg_mime_params(value, "boundary", &type, vals, 1, bad) == 1) {
		size_t blen = strlen(vals[0]);

		if (blen <= MIME_BOUNDARY_MAX)
			tg_strlcpy(e->boundary, vals[0], sizeof e->boundary);
		/* RFC 2046: a boundary does not end in a space. */
		if (blen > 0 && (vals[0][blen - 1] == ' ' ||
		    vals[0][blen - 1] == '\t'))
			mime_entity_bad(p, "boundary ends in white space");
		free(vals[0]);
	}
	free(type);
}

/* mime_entity_field - one unfolded header field; first[] holds the value
 * of the first field of each kind seen. */
static void
mime_entity_field(struct mime_entity *e, const char **first,
    const char *name, const char *value)
{
	struct tg_mime_part *p = &e->part;
	char *type = NULL, *vals[TG_MIME_NAMES_MAX + 1];
	size_t nv;
	int bad = 0, which;

	if (strcasecmp(name, "Content-Type") == 0)
		which = ENTITY_TYPE;
	else if (strcasecmp(name, "Content-Disposition") == 0)
		which = ENTITY_DISP;
	else if (strcasecmp(name, "Content-Transfer-Encoding") == 0)
		which = ENTITY_CTE;
	else
		return;
	if (first[which] != NULL) {
		/* Readers take the first or the last: the same value is
		 * only broken, another one is ambiguous. */
		if (mime_entity_same(first[which], value))
			mime_entity_bad(p, "repeated Content- header");
		else
			mime_entity_ambiguous(p, "repeated Content- header "
			    "with another value");
		return;
	}
	first[which] = value;
	if (which == ENTITY_CTE) {
		(void)tg_mime_params(value, "", &type, vals, 0, &bad);
		e->cte = mime_entity_cte(type);
		free(type);
		return;
	}
	nv = tg_mime_params(value, which == ENTITY_TYPE ? "name" :
	    "filename", &type, vals, TG_MIME_NAMES_MAX, &bad);
	if (bad)
		mime_entity_bad(p, "malformed Content- header");
	for (size_t i = 0; i < nv; i++)
		mime_entity_name(p, vals[i]);
	if (which == ENTITY_TYPE)
		mime_entity_type(e, value, type, &bad);
	free(type);
	/* The boundary's parse (mime_entity_type) adds to bad. */
	if (bad & TG_MIME_AMBIGUOUS)
		mime_entity_ambiguous(p, "repeated or too many Content- "
		    "parameters");
	else if (bad)
		mime_entity_bad(p, "malformed Content- header");
}

/* mime_entity_name_end - the end of a field name at f: printable ASCII
 * up to the colon. NULL when the line is not a field. */
static char *
mime_entity_name_end(char *f)
{
	char *c = f;

	while (*c > ' ' && (unsigned char)*c < 0x7f && *c != ':')
		c++;
	return c > f && (*c == ':' || *c == ' ' || *c == '\t') ? c : NULL;
}

void
tg_mime_entity_parse(char *hdr, size_t hlen, struct mime_entity *e)
{
	const char *first[ENTITY_FIELDS] = { NULL, NULL, NULL };
	char *s = hdr, *end = hdr + hlen, *f, *colon, *o;
	int line = 0;

	e->boundary[0] = '\0';
	e->cte = MIME_RAW;
	for (; s < end; line++) {
		/* One field: up to a newline not followed by WSP. */
		f = s;
		for (o = s; s < end; s++) {
			if (*s == '\n' && (s + 1 >= end ||
			    (s[1] != ' ' && s[1] != '\t'))) {
				s++;
				break;
			}
			/* A bare CR in a field (the message's own: a part's
			 * lines are split there already) may split it for
			 * a reader of the raw message. */
			if (*s == '\r')
				mime_entity_ambiguous(&e->part,
				    "bare CR in a Content- header");
			*o++ = *s == '\r' || *s == '\n' || *s == '\0' ?
			    ' ' : *s;
		}
		*o = '\0';
		/* Readers end the header block at a line that is not a
		 * field (Python's email), or skip it: we read on, and say
		 * the block is broken. "From " may start a message. */
		if ((colon = mime_entity_name_end(f)) != NULL &&
		    *colon != ':') {
			/* "Name :": Postfix drops the space, Python's
			 * email takes the line for the body. */
			colon += strspn(colon, " \t");
			if (*colon == ':')
				mime_entity_bad(&e->part, "white space before "
				    "the colon of a field");
			else
				colon = NULL;
		}
		if (colon == NULL) {
			if (line > 0 || strncmp(f, "From ", 5) != 0)
				mime_entity_bad(&e->part,
				    "a line in a header block is not a field");
			if ((colon = strchr(f, ':')) == NULL)
				continue;
		}
		*colon = '\0';
		for (char *t = colon; t > f && (t[-1] == ' ' || t[-1] == '\t');)
			*--t = '\0';
		mime_entity_field(e, first, f, colon + 1);
	}
}
