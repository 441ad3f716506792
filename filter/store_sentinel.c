/* store_sentinel.c - the Sentinel half of the Redis store without I/O:
 * addresses, the order of the Sentinels, their answers checked (a
 * Sentinel is a network peer: an answer that is not an address is
 * refused, never used), the master forgotten after a failure and a switch
 * told apart from a reconnection to the same master. store_redis.c does
 * the talking. Owns: nothing. Threads: the caller's lock. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "tg.h"
#include "store_sentinel.h"

static int
sn_port(const char *p, size_t n, int *port)
{
	long v = 0;

	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

/* sn_host - n bytes of h as a host name or address: no spaces, quotes or
 * controls can reach a log line or a connect() call. */
static int
sn_host(const char *h, size_t n, int v6, char *host, size_t hostsz)
{
	if (n == 0 || n >= hostsz)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char ch = h[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
		    ch == '_' || (v6 && ch == ':')))
			return -1;
	}
	memcpy(host, h, n);
	host[n] = '\0';
	return 0;
}

int
tg_redis_addr_parse(const char *a, char *host, size_t hostsz, int *port)
{
	const char *colon, *end;

	if (a[0] == '[') {
		if ((end = strchr(a, ']')) == NULL || end[1] != ':')
			return -1;
		if (sn_host(a + 1, (size_t)(end - a - 1), 1, host, hostsz) < 0)
			return -1;
		return sn_port(end + 2, strlen(end + 2), port);
	}
	if ((colon = strrchr(a, ':')) == NULL)
		return -1;
	if (sn_host(a, (size_t)(colon - a), 0, host, hostsz) < 0)
		return -1;
	return sn_port(colon + 1, strlen(colon + 1), port);
}

void
tg_sentinel_init(struct tg_sentinel_state *s, int nsentinels)
{
	memset(s, 0, sizeof *s);
	s->nsentinels = nsentinels;
}

int
tg_sentinel_order(const struct tg_sentinel_state *s, int i)
{
	return s->nsentinels > 0 ? (s->first + i) % s->nsentinels : 0;
}

void
tg_sentinel_skip(struct tg_sentinel_state *s, int ntried)
{
	if (s->nsentinels > 0 && ntried > 0)
		s->first = (s->first + ntried) % s->nsentinels;
}

/* sn_use - host:port is the one to connect to from now on; 1 when it is
 * not the last master found. */
static int
sn_use(struct tg_sentinel_state *s, const char *host, int port)
{
	tg_strlcpy(s->host, host, sizeof s->host);
	s->port = port;
	s->known = 1;
	return s->last_port != port || strcmp(s->last_host, host) != 0;
}

int
tg_sentinel_answer(struct tg_sentinel_state *s, int idx, const char *host,
    const char *port)
{
	char h[TG_REDIS_HOST_MAX];
	int p;

	if (host == NULL || port == NULL)
		return -1;
	/* An IPv6 address comes bare from a Sentinel. */
	if (sn_host(host, strlen(host), strchr(host, ':') != NULL, h,
	    sizeof h) < 0 || sn_port(port, strlen(port), &p) < 0)
		return -1;
	if (idx >= 0 && idx < s->nsentinels)
		s->first = idx;
	(void)sn_use(s, h, p);
	return 0;
}

int
tg_sentinel_confirm(struct tg_sentinel_state *s, const char *host, int port)
{
	int sw = s->last_host[0] != '\0' && (s->last_port != port ||
	    strcmp(s->last_host, host) != 0);

	if (sw) {
		tg_strlcpy(s->prev_host, s->last_host, sizeof s->prev_host);
		s->prev_port = s->last_port;
		s->switches++;
	}
	tg_strlcpy(s->last_host, host, sizeof s->last_host);
	s->last_port = port;
	return sw;
}

void
tg_sentinel_lost(struct tg_sentinel_state *s)
{
	if (s->known)
		tg_sentinel_skip(s, 1);
	s->known = 0;
}

int
tg_sentinel_switch_msg(struct tg_sentinel_state *s, const char *name,
    const char *msg)
{
	const char *f[5], *p = msg;
	size_t len[5], nl = strlen(name);
	char h[TG_REDIS_HOST_MAX], ps[8];
	int port;

	for (int i = 0; i < 5; i++) {
		while (*p == ' ')
			p++;
		f[i] = p;
		while (*p != '\0' && *p != ' ')
			p++;
		len[i] = (size_t)(p - f[i]);
		if (len[i] == 0)
			return 0;
	}
	while (*p == ' ')
		p++;
	if (*p != '\0' || len[0] != nl || memcmp(f[0], name, nl) != 0)
		return 0;
	if (sn_host(f[3], len[3], memchr(f[3], ':', len[3]) != NULL, h,
	    sizeof h) < 0 || len[4] >= sizeof ps)
		return 0;
	memcpy(ps, f[4], len[4]);
	ps[len[4]] = '\0';
	if (sn_port(ps, len[4], &port) < 0)
		return 0;
	return 1 + sn_use(s, h, port);
}

int
tg_sentinel_error_moves(const char *err)
{
	return err != NULL && (strncmp(err, "READONLY", 8) == 0 ||
	    strncmp(err, "MASTERDOWN", 10) == 0);
}
