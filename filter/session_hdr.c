/* session_hdr.c - the header fields a session keeps and counts: every
 * field counted (its bytes, the longest line) so that a flood cannot
 * hide, the first ones kept up to TG_HEADER_MAX_COUNT and
 * TG_HEADER_MAX_BYTES, the fields past them counted under the names rules
 * read, the message's own Content- fields always kept (the MIME parser
 * starts from them), and lookups by name. Below the checks that read
 * headers (auth.c, check_content.c), which call only into it. Owns: the
 * copies it keeps, in the session. Threads: one connection at a time. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_mime.h"
#include "tg_policy.h"
#include "tg_session.h"
#include "session_impl.h"

void
session_headers_free(struct tg_header *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].value);
		free(h[i].decoded);
	}
}

/* Header limits: counted for every header, also those past what is kept,
 * so that a flood of headers cannot hide. A folded value holds its line
 * breaks as the MTA passes them ("\n" or "\r\n" before the white space);
 * the first line starts with "Name: ". */
static void
session_count_header(struct tg_session *s, size_t nlen, const char *value)
{
	long long line = (long long)nlen + 2;
	const char *p;

	s->hdr_count++;
	s->hdr_total += (long long)(nlen + 2 + strlen(value) + 2);
	for (p = value;; p++) {
		if (*p == '\n' || *p == '\0') {
			if (line > s->hdr_longest)
				s->hdr_longest = line;
			if (*p == '\0')
				break;
			line = 0;
		} else if (*p != '\r')
			line++;
	}
}

/* session_ctop - is name one of the message's own Content- fields? Its
 * index, or -1. */
static int
session_ctop(const char *name)
{
	for (int i = 0; i < TG_MIME_TOP_COUNT; i++)
		if (tg_str_iequal(name, tg_mime_top_names[i]))
			return i;
	return -1;
}

/* session_lost - a field not kept: count it under the names rules read,
 * so that header.occurrences stays exact and a rule reading a field that
 * is gone can tell (the policy bounds the names; the client does not). */
static void
session_lost(struct tg_session *s, const struct tg_policy *p,
    const char *name)
{
	s->hdrs_dropped++;
	if (p == NULL || (s->hdr_lost != NULL &&
	    s->nhdr_lost != p->nhdr_names)) {
		s->hdr_lost_blind = 1;
		return;
	}
	if (s->hdr_lost == NULL) {
		s->nhdr_lost = p->nhdr_names;
		s->hdr_lost = tg_xcalloc(s->nhdr_lost + 1,
		    sizeof *s->hdr_lost);
	}
	for (size_t i = 0; i < p->nhdr_names; i++)
		if (tg_str_iequal(name, p->hdr_names[i]))
			s->hdr_lost[i]++;
}

static void
session_keep(struct tg_session *s, const char *name, const char *value)
{
	size_t nlen = strlen(name), vlen = strlen(value);

	if (s->nhdrs == s->hdrcap) {
		s->hdrcap = s->hdrcap ? s->hdrcap * 2 : 16;
		s->hdrs = tg_xrealloc(s->hdrs, s->hdrcap * sizeof *s->hdrs);
	}
	s->hdrs[s->nhdrs].name = tg_xstrdup(name);
	s->hdrs[s->nhdrs].value = tg_xstrdup(value);
	/* Decoded once here, not at every rule that reads it. */
	s->hdrs[s->nhdrs].decoded = strstr(value, "=?") != NULL ||
	    strpbrk(value, "\r\n") != NULL ?
	    tg_mime_decode_words(value) : NULL;
	s->nhdrs++;
	s->hdr_bytes += nlen + vlen;
}

/* session_add_named - keep or count one field under its bare name */
static void
session_add_named(struct tg_session *s, const struct tg_policy *p, int top,
    const char *name, const char *value)
{
	size_t nlen = strlen(name), vlen = strlen(value);

	if (top >= 0 && s->ctop_count[top]++ == 0) {
		/* The MIME parser starts from these: whatever came before,
		 * the first of each is kept (three fields at most, each
		 * bounded by the MTA's header size). */
		session_keep(s, name, value);
		return;
	}
	if (top >= 0 && s->ctop_other[top] == NULL &&
	    strcmp(value, tg_session_header(s, name)) != 0)
		s->ctop_other[top] = tg_xstrdup(value);
	if (s->hdrs_dropped > 0 || s->nhdrs >= TG_HEADER_MAX_COUNT ||
	    s->hdr_bytes + nlen + vlen > TG_HEADER_MAX_BYTES) {
		session_lost(s, p, name);
		return;
	}
	session_keep(s, name, value);
}

void
tg_session_add_header(struct tg_session *s, const struct tg_policy *p,
    const char *name, const char *value)
{
	size_t nlen = strlen(name), vlen = strlen(value), trim = nlen;
	char *bare = NULL;
	int top;

	/* "Name: value\r\n", as the MTA counts it into the message. */
	s->size += (long long)(nlen + 2 + vlen + 2);
	session_count_header(s, nlen, value);
	/* "Subject :" is the obsolete syntax of "Subject:" (RFC 5322
	 * 4.5.3), which Postfix strips before the milter sees it and other
	 * MTAs may not: the same field for every rule, so that it cannot
	 * hide a repeat; a top-level Content- field so written also makes
	 * the MIME structure malformed (readers disagree on it). */
	while (trim > 0 && (name[trim - 1] == ' ' || name[trim - 1] == '\t'))
		trim--;
	if (trim < nlen && trim > 0)
		name = bare = tg_xstrndup(name, trim);
	top = session_ctop(name);
	if (top >= 0 && bare != NULL)
		s->ctop_obs[top] = 1;
	session_add_named(s, p, top, name, value);
	free(bare);
}

long long
tg_session_header_lost(const struct tg_session *s, size_t hname)
{
	if (s->hdrs_dropped == 0)
		return 0;
	if (s->hdr_lost_blind || hname == 0 || hname > s->nhdr_lost ||
	    s->hdr_lost == NULL)
		return -1;
	return (long long)s->hdr_lost[hname - 1];
}

const char *
tg_session_header(const struct tg_session *s, const char *name)
{
	for (size_t i = 0; i < s->nhdrs; i++)
		if (tg_str_iequal(s->hdrs[i].name, name))
			return s->hdrs[i].value;
	return NULL;
}
