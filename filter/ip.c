/* ip.c - parse, compare and format IPv4/IPv6 addresses and CIDR prefixes.
 * IPv4-mapped IPv6 (::ffff:a.b.c.d) is folded to IPv4 so that a client
 * that reaches a dual-stack socket over IPv4 matches IPv4 table entries.
 * Owns: nothing. Threads: pure functions. */
#include "config.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tg.h"
#include "tg_ip.h"

/* Longest text form we accept: a full IPv6 address with an embedded IPv4
 * tail is 45 bytes; brackets and "IPv6:" add 7. */
#define IP_TEXT_MAX	64

static const uint8_t ip_mapped_prefix[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* Parse an address without folding mapped IPv6 into IPv4, so that the
 * CIDR parser can check host bits against the prefix as written. len is
 * the number of bytes of s to use. */
static int
ip_parse_raw(const char *s, size_t len, struct tg_ip *ip)
{
	char buf[IP_TEXT_MAX];
	int v6only = 0;

	if (len >= 2 && s[0] == '[') {
		if (s[len - 1] != ']')
			return -1;
		s++;
		len -= 2;
	}
	if (len >= 5 && strncasecmp(s, "IPv6:", 5) == 0) {
		s += 5;
		len -= 5;
		v6only = 1;
	}
	if (len == 0 || len >= sizeof buf)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';

	memset(ip, 0, sizeof *ip);
	if (strchr(buf, ':') != NULL) {
		if (inet_pton(AF_INET6, buf, ip->b) != 1)
			return -1;
		ip->family = 6;
		return 0;
	}
	if (v6only || inet_pton(AF_INET, buf, ip->b) != 1)
		return -1;
	ip->family = 4;
	return 0;
}

static int
ip_is_mapped(const struct tg_ip *ip)
{
	return ip->family == 6 &&
	    memcmp(ip->b, ip_mapped_prefix, sizeof ip_mapped_prefix) == 0;
}

static void
ip_unmap(struct tg_ip *ip)
{
	uint8_t v4[4];

	memcpy(v4, ip->b + 12, sizeof v4);
	memset(ip->b, 0, sizeof ip->b);
	memcpy(ip->b, v4, sizeof v4);
	ip->family = 4;
}

int
tg_ip_parse(const char *s, struct tg_ip *ip)
{
	if (s == NULL || ip_parse_raw(s, strlen(s), ip) < 0)
		return -1;
	if (ip_is_mapped(ip))
		ip_unmap(ip);
	return 0;
}

/* 1 if any bit at position >= prefixlen is set. */
static int
ip_host_bits_set(const struct tg_ip *ip, int prefixlen)
{
	int nbytes = ip->family == 4 ? 4 : 16;
	int i = prefixlen / 8;

	if (i < nbytes && (ip->b[i] & (0xff >> (prefixlen % 8))) != 0)
		return 1;
	for (i++; i < nbytes; i++)
		if (ip->b[i] != 0)
			return 1;
	return 0;
}

/* Decimal prefix length: digits only, no sign, no leading junk. */
static int
ip_parse_prefixlen(const char *s, int max)
{
	int n = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (*s - '0');
		if (n > max)
			return -1;
	}
	return n;
}

int
tg_cidr_parse(const char *s, struct tg_ip *net, int *prefixlen,
    const char **why)
{
	const char *slash;
	int max, plen;

	*why = "invalid address";
	if (s == NULL)
		return -1;
	slash = strchr(s, '/');
	if (ip_parse_raw(s, slash ? (size_t)(slash - s) : strlen(s), net) < 0)
		return -1;
	max = net->family == 4 ? 32 : 128;
	if (slash == NULL)
		plen = max;
	else if ((plen = ip_parse_prefixlen(slash + 1, max)) < 0) {
		*why = net->family == 4 ?
		    "invalid prefix length (want 0 to 32)" :
		    "invalid prefix length (want 0 to 128)";
		return -1;
	}
	/* Checked before unmapping: ::ffff:0.0.0.0/80 has the ffff bits set
	 * beyond the prefix, so any mapped network shorter than /96 fails
	 * here and what remains maps onto an IPv4 prefix exactly. */
	if (ip_host_bits_set(net, plen)) {
		*why = "host bits set beyond the prefix length";
		return -1;
	}
	if (ip_is_mapped(net)) {
		ip_unmap(net);
		plen -= 96;
	}
	*prefixlen = plen;
	*why = NULL;
	return 0;
}

int
tg_ip_in_prefix(const struct tg_ip *ip, const struct tg_ip *net,
    int prefixlen)
{
	int full, rest;

	if (ip->family != net->family || prefixlen < 0 ||
	    prefixlen > (ip->family == 4 ? 32 : 128))
		return 0;
	full = prefixlen / 8;
	rest = prefixlen % 8;
	if (memcmp(ip->b, net->b, (size_t)full) != 0)
		return 0;
	if (rest != 0) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		if ((ip->b[full] & mask) != (net->b[full] & mask))
			return 0;
	}
	return 1;
}

/* ip_v4_text - dotted quad into buf (at least 16 bytes): the libc's
 * inet_ntop goes through sprintf, which cost more than the rest of the
 * connect stage, and rate keys format an address per check. */
static void
ip_v4_text(const uint8_t *b, char *buf)
{
	char *o = buf;

	for (int i = 0; i < 4; i++) {
		if (b[i] >= 100)
			*o++ = (char)('0' + b[i] / 100);
		if (b[i] >= 10)
			*o++ = (char)('0' + b[i] / 10 % 10);
		*o++ = (char)('0' + b[i] % 10);
		*o++ = i < 3 ? '.' : '\0';
	}
}

char *
tg_ip_format(const struct tg_ip *ip, char *buf, size_t bufsz)
{
	char v4[16];

	if (bufsz == 0)
		return buf;
	if (ip->family == 4 && bufsz >= sizeof v4) {
		ip_v4_text(ip->b, buf);
		return buf;
	}
	if (ip->family == 4) {		/* a small buffer: fits or "?" */
		ip_v4_text(ip->b, v4);
		if (tg_strlcpy(buf, v4, bufsz) < bufsz)
			return buf;
	} else if (ip->family == 6 &&
	    inet_ntop(AF_INET6, ip->b, buf, (socklen_t)bufsz) != NULL)
		return buf;
	tg_strlcpy(buf, "?", bufsz);
	return buf;
}
