/* dns_util.c - the pure parts of the DNS checks: reversed names for DNS
 * lists, A-record matching, HELO syntax. No I/O, so
 * the unit tests cover them directly. Threads: pure functions. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tg.h"
#include "tg_dns.h"

/* rev_put - one character at *o of buf, when it fits. */
static void
rev_put(char *buf, size_t bufsz, size_t *o, char ch)
{
	if (*o < bufsz)
		buf[*o] = ch;
	(*o)++;
}

int
tg_dns_reverse_name(const struct tg_ip *ip, const char *zone, char *buf,
    size_t bufsz)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, zl;

	/* By hand, not snprintf: a few of these per connection and list. */
	if (ip->family == 4)
		for (int i = 3; i >= 0; i--) {
			unsigned v = ip->b[i];

			if (v >= 100)
				rev_put(buf, bufsz, &o, (char)('0' + v / 100));
			if (v >= 10)
				rev_put(buf, bufsz, &o,
				    (char)('0' + v / 10 % 10));
			rev_put(buf, bufsz, &o, (char)('0' + v % 10));
			rev_put(buf, bufsz, &o, '.');
		}
	else
		/* 32 nibbles, lowest first (RFC 3596, RFC 5782 2.4). */
		for (int i = 15; i >= 0; i--) {
			rev_put(buf, bufsz, &o, hex[ip->b[i] & 0xf]);
			rev_put(buf, bufsz, &o, '.');
			rev_put(buf, bufsz, &o, hex[ip->b[i] >> 4]);
			rev_put(buf, bufsz, &o, '.');
		}
	if (zone == NULL || *zone == '\0')
		zone = ip->family == 4 ? "in-addr.arpa" : "ip6.arpa";
	zl = strlen(zone);
	if (o + zl >= bufsz)
		return TG_ERR_TOOLONG;
	memcpy(buf + o, zone, zl + 1);
	return TG_OK;
}

int
tg_dns_name_valid(const char *s)
{
	size_t len = strlen(s), lab = 0;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (lab == 0)
				return 0;
			lab = 0;
			continue;
		}
		if (!isalnum(c) && c != '-' && c != '_')
			return 0;
		if (++lab > 63)
			return 0;
	}
	return 1;
}

static int
dns_ipv4(const char *s, uint32_t *out)
{
	struct tg_ip ip;

	if (strchr(s, ':') != NULL || strchr(s, '[') != NULL ||
	    tg_ip_parse(s, &ip) < 0 || ip.family != 4)
		return -1;
	*out = (uint32_t)ip.b[0] << 24 | (uint32_t)ip.b[1] << 16 |
	    (uint32_t)ip.b[2] << 8 | ip.b[3];
	return 0;
}

int
tg_dns_match_parse(const char *s, struct tg_dns_match *m, const char **why)
{
	char lo[64];
	const char *dash;
	struct tg_ip net;
	int plen;

	memset(m, 0, sizeof *m);
	*why = "not an IPv4 address, range (a-b), network (a/n) or mask (&m)";
	if (s[0] == '&') {
		m->mask = 1;
		if (dns_ipv4(s + 1, &m->lo) < 0)
			return -1;
		if (m->lo == 0) {
			*why = "a mask of 0.0.0.0 never matches";
			return -1;
		}
		return 0;
	}
	if (strchr(s, '/') != NULL) {
		if (tg_cidr_parse(s, &net, &plen, why) < 0)
			return -1;
		if (net.family != 4) {
			*why = "DNS lists answer with IPv4 addresses";
			return -1;
		}
		m->lo = (uint32_t)net.b[0] << 24 | (uint32_t)net.b[1] << 16 |
		    (uint32_t)net.b[2] << 8 | net.b[3];
		m->hi = m->lo | (plen == 0 ? 0xffffffffu :
		    (plen == 32 ? 0 : 0xffffffffu >> plen));
		return 0;
	}
	if ((dash = strchr(s, '-')) == NULL) {
		if (dns_ipv4(s, &m->lo) < 0)
			return -1;
		m->hi = m->lo;
		return 0;
	}
	if ((size_t)(dash - s) >= sizeof lo)
		return -1;
	memcpy(lo, s, (size_t)(dash - s));
	lo[dash - s] = '\0';
	if (dns_ipv4(lo, &m->lo) < 0 || dns_ipv4(dash + 1, &m->hi) < 0)
		return -1;
	if (m->lo > m->hi) {
		*why = "the range ends before it starts";
		return -1;
	}
	return 0;
}

int
tg_dns_match_any(const struct tg_dns_match *m, size_t nm,
    const struct tg_ip *ips, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t a;

		if (ips[i].family != 4)
			continue;
		a = (uint32_t)ips[i].b[0] << 24 | (uint32_t)ips[i].b[1] << 16 |
		    (uint32_t)ips[i].b[2] << 8 | ips[i].b[3];
		if (nm == 0) {
			/* 127.255.255.0/24: Spamhaus's "query refused"
			 * codes, which are not listings. */
			if ((a >> 24) == 127 && (a >> 8) != 0x7fffff)
				return 1;
			continue;
		}
		for (size_t k = 0; k < nm; k++)
			if (m[k].mask ? (a & m[k].lo) != 0 :
			    (a >= m[k].lo && a <= m[k].hi))
				return 1;
	}
	return 0;
}

/* helo_literal - "[1.2.3.4]" or "[IPv6:...]" (RFC 5321 4.1.3). */
static int
helo_literal(const char *s)
{
	size_t len = strlen(s);
	char in[128];
	struct tg_ip ip;

	if (len < 3 || s[0] != '[' || s[len - 1] != ']' || len - 2 >= sizeof in)
		return 0;
	memcpy(in, s + 1, len - 2);
	in[len - 2] = '\0';
	if (strncasecmp(in, "IPv6:", 5) == 0)
		return tg_ip_parse(in + 5, &ip) == 0 && strchr(in + 5, ':');
	return strchr(in, ':') == NULL && tg_ip_parse(in, &ip) == 0 &&
	    ip.family == 4;
}

enum tg_helo_kind
tg_helo_kind(const char *s)
{
	struct tg_ip ip;
	size_t len;

	if (s == NULL || *s == '\0')
		return TG_HELO_INVALID;
	if (s[0] == '[')
		return helo_literal(s) ? TG_HELO_LITERAL : TG_HELO_INVALID;
	if (strchr(s, ':') != NULL || strspn(s, "0123456789.") == strlen(s))
		return tg_ip_parse(s, &ip) == 0 ? TG_HELO_BARE_IP :
		    TG_HELO_INVALID;
	/* RFC 5321 Domain: letters, digits and hyphens, a label neither
	 * starts nor ends with '-'; no underscore, no final dot. */
	len = strlen(s);
	if (len > 253 || !tg_dns_name_valid(s) || s[len - 1] == '.' ||
	    strchr(s, '_') != NULL)
		return TG_HELO_INVALID;
	for (const char *p = s; *p != '\0'; p++)
		if (*p == '-' && (p == s || p[-1] == '.' || p[1] == '.' ||
		    p[1] == '\0'))
			return TG_HELO_INVALID;
	return TG_HELO_DOMAIN;
}

int
tg_helo_fqdn(const char *s)
{
	const char *dot;

	if (tg_helo_kind(s) != TG_HELO_DOMAIN || (dot = strrchr(s, '.')) ==
	    NULL)
		return 0;
	return strspn(dot + 1, "0123456789") != strlen(dot + 1);
}
