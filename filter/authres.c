/* authres.c - the Authentication-Results header (RFC 8601): ours for
 * authenticated mail ("auth=pass smtp.auth=LOGIN"), and the recognition of
 * received ones that claim our authserv-id, which are forgeries since only
 * we may write them; the glue removes them by index at end of message.
 * Owns: nothing. Threads: pure functions on the caller's session. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tg.h"
#include "tg_auth.h"
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
	if (!tg_str_iequal(name, AUTHRES_NAME))
		return;
	s->authres_seen++;
	if (p == NULL || p->auth == NULL || p->auth->authres_id == NULL ||
	    !tg_authres_is_ours(value, p->auth->authres_id))
		return;
	if (s->nforged >= AUTHRES_FORGED_MAX) {
		s->forged_overflow = 1;
		return;
	}
	s->authres_forged = tg_xrealloc(s->authres_forged,
	    (s->nforged + 1) * sizeof *s->authres_forged);
	s->authres_forged[s->nforged++] = s->authres_seen;
}

/* authres_token - can v stand unquoted as an RFC 8601 value? */
static int
authres_token(const char *v)
{
	for (; *v != '\0'; v++)
		if ((unsigned char)*v <= 0x20 || (unsigned char)*v >= 0x7f ||
		    strchr("()<>,;:\\\"/[]?=", *v) != NULL)
			return 0;
	return 1;
}

int
tg_authres_value(const struct tg_policy *p, const struct tg_session *s,
    char *out, size_t outsz)
{
	const char *login = s->val[TG_A_SASL_CANONICAL];
	char q[2 * TG_LOGIN_MAX + 8];
	size_t o = 0;
	int n;

	if (p == NULL || p->auth == NULL || p->auth->authres_id == NULL ||
	    login == NULL || *login == '\0')
		return -1;
	if (authres_token(login))
		tg_strlcpy(q, login, sizeof q);
	else {
		q[o++] = '"';
		for (; *login != '\0' && o + 3 < sizeof q; login++) {
			if (*login == '"' || *login == '\\')
				q[o++] = '\\';
			q[o++] = *login;
		}
		q[o++] = '"';
		q[o] = '\0';
	}
	n = snprintf(out, outsz, "%s; auth=pass smtp.auth=%s",
	    p->auth->authres_id, q);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}
