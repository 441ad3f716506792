/* auth.c - SMTP AUTH logins and sender ownership: the login the MTA
 * reports is checked and canonicalised the way Cyrus SASL's INTERNAL
 * canon_user plugin does it (white space trimmed, "@realm" appended when
 * the login has none), so that owner maps written as "alice" or as
 * "alice@example.org" match; "owned-by" tests addresses against such maps.
 * Owns: nothing beyond session values. Threads: pure functions over a
 * read-only policy and the caller's session. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tg.h"
#include "tg_addr.h"
#include "tg_addrlist.h"
#include "tg_auth.h"
#include "tg_session.h"
#include "table_impl.h"

#define AUTH_OWNERS_SEP	", \t"

static int
auth_is_space(char c)
{
	/* Cyrus trims with isspace() in the C locale. */
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\v' || c == '\f';
}

/* auth_utf8_ok - the bytes are printable ASCII or well-formed UTF-8
 * (SASLprep logins may be UTF-8); no control bytes. */
static int
auth_utf8_ok(const unsigned char *s, size_t len)
{
	unsigned long cp;
	size_t i = 0, n;

	while (i < len) {
		if ((n = tg_utf8_decode((const char *)s + i, len - i,
		    &cp)) == 0 || cp < 0x20 || cp == 0x7f)
			return 0;
		i += n;
	}
	return 1;
}

int
tg_auth_set_login(struct tg_session *s, const char *value)
{
	const char *b = value, *e;
	size_t len;

	s->val[TG_A_SASL_LOGIN] = tg_free(s->val[TG_A_SASL_LOGIN]);
	s->login_bad = 0;
	while (auth_is_space(*b))
		b++;
	e = b + strlen(b);
	while (e > b && auth_is_space(e[-1]))
		e--;
	len = (size_t)(e - b);
	if (len > TG_LOGIN_MAX) {
		s->login_bad = 1;
		return TG_ERR_TOOLONG;
	}
	if (!auth_utf8_ok((const unsigned char *)b, len)) {
		s->login_bad = 1;
		return TG_ERR_SYNTAX;
	}
	s->val[TG_A_SASL_LOGIN] = tg_xstrndup(b, len);
	return TG_OK;
}

int
tg_auth_canon(const char *login, const char *realm, char *out,
    size_t outsz)
{
	/* Bounded copies: snprintf cost 2,600 instructions a message. */
	size_t n = tg_strlcpy(out, login, outsz);

	if (n >= outsz)
		return TG_ERR_TOOLONG;
	if (strchr(login, '@') != NULL || realm == NULL || *realm == '\0')
		return TG_OK;
	if (n + 1 >= outsz)
		return TG_ERR_TOOLONG;
	out[n++] = '@';
	if (tg_strlcpy(out + n, realm, outsz - n) >= outsz - n)
		return TG_ERR_TOOLONG;
	return TG_OK;
}

void
tg_auth_derive(const struct tg_policy *p, struct tg_session *s)
{
	const char *login = s->val[TG_A_SASL_LOGIN], *at;
	const char *realm = p != NULL && p->auth != NULL ? p->auth->realm :
	    NULL;
	char canon[2 * TG_LOGIN_MAX + 2];

	s->val[TG_A_SASL_CANONICAL] = tg_free(s->val[TG_A_SASL_CANONICAL]);
	s->val[TG_A_SASL_USER] = tg_free(s->val[TG_A_SASL_USER]);
	s->val[TG_A_SASL_REALM] = tg_free(s->val[TG_A_SASL_REALM]);
	if (login == NULL || *login == '\0' ||
	    tg_auth_canon(login, realm, canon, sizeof canon) != TG_OK)
		return;
	s->val[TG_A_SASL_CANONICAL] = tg_xstrdup(canon);
	/* Cyrus splits user and realm at the first '@'. */
	if ((at = strchr(canon, '@')) != NULL) {
		s->val[TG_A_SASL_USER] = tg_xstrndup(canon,
		    (size_t)(at - canon));
		s->val[TG_A_SASL_REALM] = tg_xstrdup(at + 1);
	} else {
		s->val[TG_A_SASL_USER] = tg_xstrdup(canon);
		s->val[TG_A_SASL_REALM] = tg_xstrdup("");
	}
}

/* auth_listed - is login (canonical) among the owners in list? */
static int
auth_listed(const struct tg_policy *p, const char *list, const char *login)
{
	const char *realm = p->auth != NULL ? p->auth->realm : NULL;
	const char *lrealm = strchr(login, '@');
	char tok[TG_LOGIN_MAX + 1], canon[2 * TG_LOGIN_MAX + 2];
	size_t n;

	while (*list != '\0') {
		list += strspn(list, AUTH_OWNERS_SEP);
		n = strcspn(list, AUTH_OWNERS_SEP);
		if (n == 0)
			break;
		if (n < sizeof tok) {
			memcpy(tok, list, n);
			tok[n] = '\0';
			if (tok[0] == '@') {
				if (lrealm != NULL && strcasecmp(lrealm, tok) == 0)
					return 1;
			} else if (tg_auth_canon(tok, realm, canon,
			    sizeof canon) == TG_OK &&
			    strcasecmp(canon, login) == 0)
				return 1;
		}
		list += n;
	}
	return 0;
}

/* auth_owns - may login use addr according to map t? 1, 0 or -1. */
static int
auth_owns(const struct tg_policy *p, const struct tg_table *t,
    const char *addr, const char *login)
{
	const char *owners = NULL;
	int rc;

	if (*addr == '\0')
		return 0;	/* "<>": a policy decision of its own */
	if ((rc = tg_table_lookup_addr(t, addr, &owners)) == 0)
		rc = tg_table_lookup(t, "*", &owners);
	if (rc <= 0)
		return rc;
	return auth_listed(p, owners != NULL ? owners : "", login);
}

/* auth_owns_list - every mailbox of every header called name, and every
 * address shown in their display names, is owned. */
static int
auth_owns_list(const struct tg_policy *p, const struct tg_session *s,
    const struct tg_expr *e, const char *name, const char *login)
{
	const struct tg_table *t = e->table;
	struct tg_addrlist l;
	size_t i, seen = 0;
	int rc = 1;

	/* A field we did not keep (or may not have) could be the forged
	 * one; fields of other names do not matter. */
	if (tg_session_header_lost(s, e->hname) != 0)
		return 0;
	for (size_t h = 0; h < s->nhdrs && rc == 1; h++) {
		if (!tg_str_iequal(s->hdrs[h].name, name))
			continue;
		seen++;
		if (tg_addrlist_parse(s->hdrs[h].value, &l) != TG_OK)
			return 0;
		for (i = 0; i < l.naddr && rc == 1; i++)
			rc = auth_owns(p, t, l.addr[i], login);
		for (i = 0; i < l.nshown && rc == 1; i++)
			rc = auth_owns(p, t, l.shown[i], login);
		tg_addrlist_free(&l);
	}
	return seen > 0 ? rc : 0;
}

int
tg_auth_owned(const struct tg_policy *p, const struct tg_session *s,
    const struct tg_expr *e)
{
	const char *login = s->val[TG_A_SASL_CANONICAL];
	const char *v;

	if (login == NULL || *login == '\0' || e->table == NULL)
		return 0;
	if (e->attr == TG_A_HEADER_FROM)
		return auth_owns_list(p, s, e, "From", login);
	if (e->attr == TG_A_HEADER_SENDER)
		return auth_owns_list(p, s, e, "Sender", login);
	if ((v = s->val[e->attr]) == NULL)
		return 0;
	return auth_owns(p, e->table, v, login);
}

/* auth_key_ok - a key of an owner map: "*", "@domain", "user@", an
 * address, or a domain. */
static int
auth_key_ok(const char *k, size_t len)
{
	char key[TG_ADDR_MAX], out[TG_ADDR_MAX];

	if (len == 0 || len >= sizeof key)
		return 0;
	memcpy(key, k, len);
	key[len] = '\0';
	if (strcmp(key, "*") == 0)
		return 1;
	if (key[0] == '@')
		return len > 1 && strchr(key + 1, '@') == NULL;
	if (key[len - 1] == '@')
		return len > 1;
	return tg_addr_normalize(key, out, sizeof out) == TG_OK;
}

/* auth_owner_ok - one login of an owner list: "@realm" or a login. */
static int
auth_owner_ok(const char *o, size_t len)
{
	if (len > TG_LOGIN_MAX)
		return 0;
	if (o[0] == '@')
		return len > 1 && memchr(o + 1, '@', len - 1) == NULL;
	return o[len - 1] != '@' &&
	    auth_utf8_ok((const unsigned char *)o, len);
}

static void
auth_check_line(const char *line, size_t len, const char *path, int lineno,
    struct tg_diag *diag, int *errors)
{
	size_t i = 0, k, n;
	char pr[80], tmp[TG_ADDR_MAX];

	while (i < len && table_is_blank(line[i]))
		i++;
	if (i == len || line[i] == '#')
		return;
	for (k = i; k < len && !table_is_blank(line[k]); k++)
		;
	if (!auth_key_ok(line + i, k - i)) {
		snprintf(tmp, sizeof tmp, "%.*s", (int)(k - i < 100 ? k - i :
		    100), line + i);
		tg_diag_error(diag, path, lineno, (int)i + 1, "owner map key "
		    "\"%s\" is not an address, user@, @domain, domain or *",
		    tg_str_printable(pr, sizeof pr, tmp));
		(*errors)++;
	}
	for (i = k; i < len;) {
		i += strspn(line + i, AUTH_OWNERS_SEP);
		if (i >= len)
			break;
		for (n = 0; i + n < len && !strchr(AUTH_OWNERS_SEP,
		    line[i + n]); n++)
			;
		if (!auth_owner_ok(line + i, n)) {
			snprintf(tmp, sizeof tmp, "%.*s", (int)(n < 100 ? n :
			    100), line + i);
			tg_diag_error(diag, path, lineno, (int)i + 1,
			    "invalid login \"%s\" in owner list",
			    tg_str_printable(pr, sizeof pr, tmp));
			(*errors)++;
		}
		i += n;
	}
}

int
tg_auth_owner_map_check(const struct tg_table *t, struct tg_diag *diag)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0, errors = 0;
	FILE *fp;

	/* The table loader already checked the file's general syntax; this
	 * pass adds what only an owner map requires. */
	if ((fp = fopen(t->path, "r")) == NULL) {
		tg_diag_error(diag, t->path, 0, 0, "cannot open: %s",
		    strerror(errno));
		return 1;
	}
	while ((len = getline(&line, &cap, fp)) >= 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			len--;
		auth_check_line(line, (size_t)len, t->path, lineno, diag,
		    &errors);
	}
	free(line);
	fclose(fp);
	return errors;
}

struct tg_auth_conf *
tg_auth_conf_free(struct tg_auth_conf *a)
{
	if (a == NULL)
		return NULL;
	free(a->service);
	free(a->config_path);
	free(a->realm);
	free(a->sasldb);
	free(a->authres_id);
	free(a->owner_maps);
	free(a);
	return NULL;
}
