/* authres.c - the Authentication-Results header (RFC 8601): ours for
 * authenticated mail ("auth=pass smtp.auth=LOGIN"), and the recognition of
 * received ones that claim our authserv-id, which are forgeries since only
 * we may write them; the glue removes them by index at end of message.
 * Also the one quoting of client values (login, sender, HELO) put into
 * Authentication-Results and Received-SPF, so none can end a result or
 * start another.
 * Owns: nothing. Threads: pure functions on the caller's session. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tg.h"
#include "tg_auth.h"
#include "tg_dns.h"
#include "tg_mime.h"
#include "tg_session.h"

#define AUTHRES_NAME	"Authentication-Results"
#define AUTHRES_FORGED_MAX	1000	/* indexes remembered per message */

int
tg_authres_is_ours(const char *value, const char *id)
{
	char got[TG_AUTHRES_ID_MAX + 2];
	const char *p = tg_mime_skip_cfws(value);
	size_t n = 0;

	if (*p == '"') {	/* a quoted-string authserv-id */
		for (p++; *p != '\0' && *p != '"' && n + 1 < sizeof got; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			got[n++] = *p;
		}
	} else
		while (*p != '\0' && *p != ';' && *p != '(' && *p != ' ' &&
		    *p != '\t' && *p != '\r' && *p != '\n' &&
		    n + 1 < sizeof got)
			got[n++] = *p++;
	got[n] = '\0';
	/* "host." and "host" name the same host. */
	if (n > 0 && got[n - 1] == '.')
		got[--n] = '\0';
	return n > 0 && strcasecmp(got, id) == 0;
}

void
tg_authres_note(const struct tg_policy *p, struct tg_session *s,
    const char *name, const char *value)
{
	size_t n = sizeof AUTHRES_NAME - 1;
	int obs;

	/* "Authentication-Results :" (white space before the colon, RFC
	 * 5322 4.5.3) is the same field to a reader, but not one the MTA
	 * is sure to count as such when we ask it to remove the n-th: one
	 * claiming our authserv-id cannot be removed safely. */
	if (strncasecmp(name, AUTHRES_NAME, n) != 0 ||
	    name[n + strspn(name + n, " \t")] != '\0')
		return;
	obs = name[n] != '\0';
	if (!obs)
		s->authres_seen++;
	if (p == NULL || p->auth == NULL || p->auth->authres_id == NULL ||
	    !tg_authres_is_ours(value, p->auth->authres_id))
		return;
	if (obs || s->nforged >= AUTHRES_FORGED_MAX) {
		s->forged_overflow = 1;
		return;
	}
	s->authres_forged = tg_xrealloc(s->authres_forged,
	    (s->nforged + 1) * sizeof *s->authres_forged);
	s->authres_forged[s->nforged++] = s->authres_seen;
}

/* authres_dot_atom - RFC 5322 dot-atom-text over the n bytes of v: atoms
 * of atext joined by single dots. With tokens_only, atext is narrowed to
 * token characters ("/", "=", "?" are atext but RFC 2045 tspecials). */
static int
authres_dot_atom(const char *v, size_t n, int tokens_only)
{
	static const char atext_extra[] = "!#$%&'*+-/=?^_`{|}~";

	if (n == 0 || v[0] == '.' || v[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == '.') {
			if (v[i + 1] == '.')
				return 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr(atext_extra, c) != NULL))
			return 0;
		if (tokens_only && !tg_str_token_char(c))
			return 0;
	}
	return 1;
}

/* authres_plain - can v stand as it is? */
static int
authres_plain(const char *v, enum tg_authres_quote how)
{
	const char *at;
	size_t n = strlen(v);

	switch (how) {
	case TG_AQ_DOMAIN:
		return tg_helo_kind(v) == TG_HELO_DOMAIN;
	case TG_AQ_DOT_ATOM:
		return authres_dot_atom(v, n, 0);
	case TG_AQ_PVALUE:
		break;
	}
	/* RFC 8601 pvalue: a token, or [local-part] "@" domain-name. */
	if ((at = strchr(v, '@')) == NULL) {
		for (size_t i = 0; i < n; i++)
			if (!tg_str_token_char((unsigned char)v[i]))
				return 0;
		return n > 0;
	}
	return strchr(at + 1, '@') == NULL &&
	    (at == v || authres_dot_atom(v, (size_t)(at - v), 1)) &&
	    tg_helo_kind(at + 1) == TG_HELO_DOMAIN;
}

char *
tg_authres_quote(const char *v, enum tg_authres_quote how)
{
	size_t o = 0;
	char *q;

	if (authres_plain(v, how))
		return tg_xstrdup(v);
	q = tg_xmalloc(2 * strlen(v) + 3);
	q[o++] = '"';
	for (; *v != '\0'; v++) {
		unsigned char c = (unsigned char)*v;

		if (c == '"' || c == '\\')
			q[o++] = '\\';
		/* No control byte in a header: CR and LF would end it. */
		q[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	q[o++] = '"';
	q[o] = '\0';
	return q;
}

int
tg_authres_value(const struct tg_policy *p, const struct tg_session *s,
    char *out, size_t outsz)
{
	const char *login = s->val[TG_A_SASL_CANONICAL];
	char *q;
	int n;

	if (p == NULL || p->auth == NULL || p->auth->authres_id == NULL ||
	    login == NULL || *login == '\0')
		return -1;
	q = tg_authres_quote(login, TG_AQ_PVALUE);
	n = snprintf(out, outsz, "%s; auth=pass smtp.auth=%s",
	    p->auth->authres_id, q);
	free(q);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}
