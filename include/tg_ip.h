/* tg_ip.h - IPv4/IPv6 addresses and CIDR prefixes.
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are stored as IPv4, so they
 * match IPv4 table entries. Threads: pure functions. */
#ifndef TG_IP_H
#define TG_IP_H

#include <stdint.h>
#include <stddef.h>

struct tg_ip {
	int	family;		/* 4 or 6 */
	uint8_t	b[16];		/* network order; IPv4 uses b[0..3] */
};

/* Parse "1.2.3.4", "::1", "[1.2.3.4]", "[IPv6:::1]", "IPv6:::1".
 * Returns 0 or -1. */
int	tg_ip_parse(const char *, struct tg_ip *);
/* Parse "net/len" or a bare address (full length). Host bits set beyond the
 * prefix are an error. Returns 0, or -1 with *why set to a static text. */
int	tg_cidr_parse(const char *, struct tg_ip *net, int *prefixlen,
	    const char **why);
/* 1 if ip lies inside net/prefixlen (same family), else 0. */
int	tg_ip_in_prefix(const struct tg_ip *ip, const struct tg_ip *net,
	    int prefixlen);
/* Text form into buf (at least 46 bytes). Returns buf. */
char	*tg_ip_format(const struct tg_ip *, char *buf, size_t bufsz);

#endif
