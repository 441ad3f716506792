/* addr.c - normalise envelope addresses once, where they enter the engine.
 * Input comes from the SMTP client through the MTA and is hostile: every
 * path below is bounded and rejects rather than guesses.
 * Owns: nothing. Threads: pure functions. */
#include "config.h"

#include <string.h>

#include "tg.h"
#include "tg_addr.h"

/* Source routes may make the argument longer than the address they carry;
 * past this we stop reading instead of scanning a 100 KB line. */
#define ADDR_IN_MAX	(2 * TG_ADDR_MAX)

static int
addr_is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static char
addr_lower(char c)
{
	/* ASCII only: 8-bit bytes (SMTPUTF8) must not depend on the locale. */
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Strip "@a,@b:" from the front of s (length *len). Returns 0 or
 * TG_ERR_SYNTAX for a route that does not end in ':' or has an empty hop. */
static int
addr_strip_route(const char **s, size_t *len)
{
	const char *p = *s, *end = *s + *len;

	while (p < end && *p == '@') {
		const char *hop = ++p;

		while (p < end && *p != ',' && *p != ':')
			p++;
		if (p == hop || p == end)
			return TG_ERR_SYNTAX;
		if (*p++ == ':') {
			*len = (size_t)(end - p);
			*s = p;
			return TG_OK;
		}
	}
	return TG_ERR_SYNTAX;
}

/* Scan a mailbox: quotes must balance, at most one '@' outside quotes,
 * no white space or angle brackets outside quotes. Sets *at to the
 * unquoted '@' or NULL. */
static int
addr_scan(const char *s, size_t len, const char **at)
{
	int quoted = 0;

	*at = NULL;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (quoted) {
			if (c == '\\') {
				if (++i == len)
					return TG_ERR_SYNTAX;
			} else if (c == '"')
				quoted = 0;
			continue;
		}
		switch (c) {
		case '"':
			/* A quoted string belongs in the local part only. */
			if (*at != NULL)
				return TG_ERR_SYNTAX;
			quoted = 1;
			break;
		case '@':
			if (*at != NULL)
				return TG_ERR_SYNTAX;
			*at = s + i;
			break;
		case '<':
		case '>':
		case ' ':
		case '\\':
			return TG_ERR_SYNTAX;
		}
	}
	return quoted ? TG_ERR_SYNTAX : TG_OK;
}

/* Check a domain (without the trailing dot): a bracketed literal, or
 * non-empty dot-separated labels without brackets. */
static int
addr_check_domain(const char *d, size_t len)
{
	if (len == 0)
		return TG_ERR_SYNTAX;
	if (d[0] == '[') {
		if (len < 3 || d[len - 1] != ']' ||
		    memchr(d + 1, '[', len - 2) != NULL ||
		    memchr(d + 1, ']', len - 2) != NULL)
			return TG_ERR_SYNTAX;
		return TG_OK;
	}
	if (d[0] == '.' || d[len - 1] == '.')
		return TG_ERR_SYNTAX;
	for (size_t i = 0; i < len; i++) {
		if (d[i] == '[' || d[i] == ']')
			return TG_ERR_SYNTAX;
		if (d[i] == '.' && d[i + 1] == '.')
			return TG_ERR_SYNTAX;
	}
	return TG_OK;
}

int
tg_addr_normalize(const char *in, char *out, size_t outsz)
{
	const char *s = in, *at;
	size_t len, llen, dlen, n;
	int rc;

	len = strnlen(in, ADDR_IN_MAX + 1);
	if (len > ADDR_IN_MAX)
		return TG_ERR_TOOLONG;
	for (size_t i = 0; i < len; i++)
		if (addr_is_ctl((unsigned char)in[i]))
			return TG_ERR_SYNTAX;
	/* Some MTAs pad the argument; a space inside is still an error. */
	while (len > 0 && *s == ' ')
		s++, len--;
	while (len > 0 && s[len - 1] == ' ')
		len--;
	if (len > 0 && s[0] == '<') {
		if (len < 2 || s[len - 1] != '>')
			return TG_ERR_SYNTAX;
		s++;
		len -= 2;
	}
	if (len > 0 && s[0] == '@') {
		if ((rc = addr_strip_route(&s, &len)) < 0)
			return rc;
		if (len == 0)
			return TG_ERR_SYNTAX;
	}
	if ((rc = addr_scan(s, len, &at)) < 0)
		return rc;

	if (at == NULL) {
		/* "<>" (empty) or a local address such as "postmaster". */
		llen = len;
		dlen = 0;
	} else {
		llen = (size_t)(at - s);
		dlen = len - llen - 1;
		if (llen == 0)
			return TG_ERR_SYNTAX;
		/* "example.com." names the same domain as "example.com". */
		if (dlen > 1 && at[dlen] == '.' && at[1] != '[')
			dlen--;
		if ((rc = addr_check_domain(at + 1, dlen)) < 0)
			return rc;
	}
	n = llen + (at != NULL ? 1 + dlen : 0);
	if (n > TG_ADDR_MAX || n >= outsz)
		return TG_ERR_TOOLONG;
	memcpy(out, s, llen);
	if (at != NULL) {
		out[llen] = '@';
		for (size_t i = 0; i < dlen; i++)
			out[llen + 1 + i] = addr_lower(at[1 + i]);
	}
	out[n] = '\0';
	return TG_OK;
}

const char *
tg_addr_domain(const char *addr)
{
	const char *at = NULL;
	int quoted = 0;

	for (const char *p = addr; *p != '\0'; p++) {
		if (quoted && *p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == '@')
			at = p;
	}
	return at != NULL ? at + 1 : NULL;
}
