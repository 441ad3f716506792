/* addr.c - normalise envelope addresses once, where they enter the engine.
 * Input comes from the SMTP client through the MTA and is hostile: every
 * path below is bounded and rejects rather than guesses.
 * Owns: nothing. Threads: pure functions. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tg.h"
#include "tg_addr.h"
#include "tg_ip.h"

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

/* RFC 5322 atext, and any 8-bit byte (RFC 6531: UTF-8 local parts). */
static int
addr_is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c >= 0x80 ||
	    strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* addr_dot_atom - is s (len bytes) a dot-atom: atext runs joined by
 * single dots, none first or last? */
static int
addr_dot_atom(const char *s, size_t len)
{
	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.' ? s[i + 1] == '.' :
		    !addr_is_atext((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

/*
 * addr_local_canon - the local part s (len bytes, as addr_scan() accepted
 * it: quotes balanced, '\' only inside them) in its one canonical form.
 * "alice", "al\ice", "al"ice and alice name the same mailbox (RFC 5321
 * 4.1.2, RFC 5322 3.2.4: quotes and quoted-pair backslashes are not part
 * of the content; Postfix keeps addresses unquoted inside), so every
 * rule, table and counter must see one spelling: the content itself when
 * it is a dot-atom, else the content quoted, with only '"' and '\'
 * escaped ("a b", "a..b", ".a", "a@b" stay quoted and so never equal
 * a dot-atom). Writes the NUL-terminated form into out (size outsz) and
 * returns its length, or TG_ERR_TOOLONG.
 */
static int
addr_local_canon(const char *s, size_t len, char *out, size_t outsz)
{
	char content[ADDR_IN_MAX + 1];
	size_t n = 0, o = 0;
	int quoted = 0;

	for (size_t i = 0; i < len && n < sizeof content; i++) {
		if (s[i] == '"')
			quoted = !quoted;
		else if (quoted && s[i] == '\\' && i + 1 < len)
			content[n++] = s[++i];
		else
			content[n++] = s[i];
	}
	if (addr_dot_atom(content, n)) {
		if (n >= outsz)
			return TG_ERR_TOOLONG;
		memcpy(out, content, n);
		out[n] = '\0';
		return (int)n;
	}
	if (o + 1 >= outsz)
		return TG_ERR_TOOLONG;
	out[o++] = '"';
	for (size_t i = 0; i < n; i++) {
		if (content[i] == '"' || content[i] == '\\') {
			if (o + 1 >= outsz)
				return TG_ERR_TOOLONG;
			out[o++] = '\\';
		}
		if (o + 1 >= outsz)
			return TG_ERR_TOOLONG;
		out[o++] = content[i];
	}
	if (o + 1 >= outsz)
		return TG_ERR_TOOLONG;
	out[o++] = '"';
	out[o] = '\0';
	return (int)o;
}

/* An address literal "[1.2.3.4]" or "[IPv6:2001:db8::1]" (RFC 5321
 * 4.1.3); anything else in brackets is refused, since no table could tell
 * whether it is local. When out is not NULL, the canonical form is written
 * there ("[1.2.3.4]", "[ipv6:2001:db8::1]"; an IPv4-mapped IPv6 literal
 * becomes IPv4): one host, one spelling, so a table entry matches however
 * the client wrote it. Returns the length written (or that would be), or
 * TG_ERR_SYNTAX. */
static int
addr_literal(const char *d, size_t len, char *out, size_t outsz)
{
	char buf[64], ipbuf[64];
	struct tg_ip ip;
	int n;

	if (len < 3 || len >= sizeof buf || d[len - 1] != ']')
		return TG_ERR_SYNTAX;
	memcpy(buf, d, len);
	buf[len] = '\0';
	/* A colon means IPv6, which RFC 5321 wants tagged. */
	if (memchr(buf, ':', len) != NULL &&
	    (len < 7 || strncasecmp(buf + 1, "IPv6:", 5) != 0))
		return TG_ERR_SYNTAX;
	if (tg_ip_parse(buf, &ip) != 0)
		return TG_ERR_SYNTAX;
	tg_ip_format(&ip, ipbuf, sizeof ipbuf);
	n = snprintf(out, out != NULL ? outsz : 0, "[%s%s]",
	    ip.family == 6 ? "ipv6:" : "", ipbuf);
	return n;
}

/* Check a domain (without the trailing dot): a bracketed literal, or
 * non-empty dot-separated labels without brackets. */
static int
addr_check_domain(const char *d, size_t len)
{
	if (len == 0)
		return TG_ERR_SYNTAX;
	if (d[0] == '[')
		return addr_literal(d, len, NULL, 0);
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

/* addr_routes_local - does the local part name another destination?
 * '%' (the percent hack), '!' (UUCP bang paths) and '@' (only possible
 * inside quotes) are routing operators to some MTAs; Postfix looks inside
 * quotes too (resolve_dequoted_address), so we do. */
static int
addr_routes_local(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] == '%' || s[i] == '!' || s[i] == '@')
			return 1;
	return 0;
}

int
tg_addr_parse(const char *in, char *out, size_t outsz, int *routed)
{
	return tg_addr_parse_domain(in, out, outsz, routed, NULL);
}

int
tg_addr_parse_domain(const char *in, char *out, size_t outsz, int *routed,
    const char **domain)
{
	char local[TG_ADDR_MAX + 1];
	const char *s = in, *at;
	size_t len, llen, dlen, clen, n;
	int rc, route = 0, lit = 0;

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
		route = 1;
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
		if (at[1] == '[' && (lit = addr_literal(at + 1, dlen, NULL,
		    0)) < 0)
			return lit;
	}
	/* "<>" stays empty; any other local part takes its one spelling. */
	if (llen == 0)
		clen = 0;
	else if ((rc = addr_local_canon(s, llen, local, sizeof local)) < 0)
		return TG_ERR_TOOLONG;
	else
		clen = (size_t)rc;
	n = clen + (at != NULL ? 1 + (lit > 0 ? (size_t)lit : dlen) : 0);
	if (n > TG_ADDR_MAX || n >= outsz)
		return TG_ERR_TOOLONG;
	memcpy(out, local, clen);
	if (at != NULL) {
		out[clen] = '@';
		if (lit > 0)
			(void)addr_literal(at + 1, dlen, out + clen + 1,
			    outsz - clen - 1);
		else
			for (size_t i = 0; i < dlen; i++)
				out[clen + 1 + i] = addr_lower(at[1 + i]);
	}
	out[n] = '\0';
	if (routed != NULL)
		*routed = route || addr_routes_local(s, llen);
	/* The one unquoted '@' (addr_scan), as tg_addr_domain() finds it. */
	if (domain != NULL)
		*domain = at != NULL ? out + clen + 1 : NULL;
	return TG_OK;
}

int
tg_addr_normalize(const char *in, char *out, size_t outsz)
{
	return tg_addr_parse(in, out, outsz, NULL);
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

int
tg_addr_canon_key(const char *key, size_t len, char *out, size_t outsz)
{
	const char *at;
	size_t llen, rest;
	int n;

	if (len > ADDR_IN_MAX || addr_scan(key, len, &at) < 0)
		return TG_ERR_SYNTAX;
	llen = at != NULL ? (size_t)(at - key) : len;
	if (llen == 0)
		n = 0;
	else if ((n = addr_local_canon(key, llen, out, outsz)) < 0)
		return n;
	rest = len - llen;
	if ((size_t)n + rest >= outsz)
		return TG_ERR_TOOLONG;
	memcpy(out + n, key + llen, rest);
	out[(size_t)n + rest] = '\0';
	return n + (int)rest;
}
