/* mproto_wire.c - the milter protocol's bytes for the native engine:
 * growable buffers, replies encoded as packets, and the MTA's packets
 * decoded (argument lists, the connect information, macro lists). Every
 * decoder takes a length and reads nothing past it: the data comes from
 * whoever can reach the socket. Owns: the buffers and macro copies it is
 * given. Threads: pure, on the caller's session. */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "mproto_impl.h"
#include "mproto_wire.h"

void
mp_buf_add(struct mp_buf *b, const void *data, size_t len)
{
	if (len == 0)
		return;
	if (b->len + len > b->cap) {
		size_t cap = b->cap > 0 ? b->cap : 256;

		while (cap < b->len + len)
			cap *= 2;
		b->p = tg_xrealloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

void
mp_buf_drop(struct mp_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		/* A big buffer (a body chunk that came in pieces) is given
		 * back: idle sessions keep little. */
		if (b->cap > 4096) {
			b->p = tg_free(b->p);
			b->cap = 0;
		}
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

void
mp_buf_free(struct mp_buf *b)
{
	b->p = tg_free(b->p);
	b->len = b->cap = 0;
}

uint32_t
mp_get32(const void *p)
{
	const unsigned char *b = p;

	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | b[3];
}

void
mp_set32(void *p, uint32_t v)
{
	unsigned char *b = p;

	b[0] = (unsigned char)(v >> 24);
	b[1] = (unsigned char)(v >> 16);
	b[2] = (unsigned char)(v >> 8);
	b[3] = (unsigned char)v;
}

void
mp_put(struct mp_buf *out, char cmd, const void *data, size_t len)
{
	unsigned char h[MP_HDRLEN];

	mp_set32(h, (uint32_t)len + 1);
	h[4] = (unsigned char)cmd;
	mp_buf_add(out, h, sizeof h);
	mp_buf_add(out, data, len);
}

int
mp_put_strs(struct mp_buf *out, char cmd, int idx, const char *a,
    const char *b)
{
	size_t la = strlen(a) + 1, lb = b != NULL ? strlen(b) + 1 : 0;
	size_t len = (idx >= 0 ? 4 : 0) + la + lb;
	unsigned char h[MP_HDRLEN + 4];

	if (len > MP_DATA_MAX)
		return -1;
	mp_set32(h, (uint32_t)len + 1);
	h[4] = (unsigned char)cmd;
	if (idx >= 0)
		mp_set32(h + MP_HDRLEN, (uint32_t)idx);
	mp_buf_add(out, h, MP_HDRLEN + (idx >= 0 ? 4 : 0));
	mp_buf_add(out, a, la);
	if (b != NULL)
		mp_buf_add(out, b, lb);
	return 0;
}

size_t
mp_argv(const char *data, size_t len, const char **argv, size_t max)
{
	size_t n = 0, start = 0;

	/* Strings end with a NUL; bytes after the last NUL are no string
	 * (libmilter ignores them too). */
	for (size_t i = 0; i < len && n + 1 < max; i++)
		if (data[i] == '\0') {
			argv[n++] = data + start;
			start = i + 1;
		}
	argv[n] = NULL;
	return n;
}

int
mp_connect_parse(const char *data, size_t len, const char **host,
    struct sockaddr_storage *ss, int *known)
{
	const char *end = memchr(data, '\0', len), *addr;
	size_t i;

	*known = 0;
	memset(ss, 0, sizeof *ss);
	if (end == NULL || (size_t)(end - data) + 2 > len)
		return -1;		/* no family after the host name */
	*host = data;
	i = (size_t)(end - data) + 1;
	if (data[i] == SMFIA_UNKNOWN)
		return 0;
	/* family, port (2 bytes), address, NUL: the last byte a NUL */
	if (i + 3 >= len || data[len - 1] != '\0')
		return -1;
	addr = data + i + 3;
	if (memchr(addr, '\0', len - (i + 3)) != data + len - 1)
		return -1;		/* a NUL inside the address */
	switch (data[i]) {
	case SMFIA_INET: {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		/* inet_aton, as libmilter reads it (the MTAs send the dotted
		 * quad; a hostile "127.1" means what it means there). */
		if (inet_aton(addr, &sin->sin_addr) != 1)
			return -1;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_port, data + i + 1, 2);
		break;
	}
	case SMFIA_INET6: {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_port, data + i + 1, 2);
		break;
	}
	case SMFIA_UNIX: {
		struct sockaddr_un *sun = (struct sockaddr_un *)ss;

		if (tg_strlcpy(sun->sun_path, addr, sizeof sun->sun_path) >=
		    sizeof sun->sun_path)
			return -1;
		sun->sun_family = AF_UNIX;
		break;
	}
	default:
		return -1;
	}
	*known = 1;
	return 0;
}

/* The macro stage of a 'D' packet's first byte, or -1 (libmilter keeps
 * macros for these commands only). */
static int
mp_macro_stage(char c)
{
	switch (c) {
	case SMFIC_CONNECT:	return TG_DRIVE_M_CONNECT;
	case SMFIC_HELO:	return TG_DRIVE_M_HELO;
	case SMFIC_MAIL:	return TG_DRIVE_M_MAIL;
	case SMFIC_RCPT:	return TG_DRIVE_M_RCPT;
	case SMFIC_DATA:	return TG_DRIVE_M_DATA;
	case SMFIC_BODYEOB:	return TG_DRIVE_M_EOM;
	case SMFIC_EOH:		return TG_DRIVE_M_EOH;
	default:		return -1;
	}
}

int
mp_macros_set(struct mp_macros **mp, const char *data, size_t len)
{
	struct mp_macros *m = *mp;
	int st;

	if (len < 1 || (st = mp_macro_stage(data[0])) < 0)
		return -1;
	if (m == NULL)
		m = *mp = tg_xcalloc(1, sizeof *m);
	/* A copy with a NUL of our own after it: a list that does not end
	 * with one cannot make a lookup read past it. */
	free(m->buf[st]);
	m->buf[st] = tg_xmalloc(len);
	memcpy(m->buf[st], data + 1, len - 1);
	m->buf[st][len - 1] = '\0';
	m->len[st] = (uint32_t)(len - 1);
	return 0;
}

void
mp_macros_clear(struct mp_macros *m, int from)
{
	if (m == NULL)
		return;
	for (int i = from < 0 ? 0 : from; i < TG_DRIVE_M_COUNT; i++) {
		m->buf[i] = tg_free(m->buf[i]);
		m->len[i] = 0;
	}
}

void
mp_macros_free(struct mp_macros *m)
{
	mp_macros_clear(m, 0);
	free(m);
}

/* mp_macro_name - does the name in a list match the one asked for? The
 * protocol writes a one-letter macro as "x" or "{x}", either way. */
static int
mp_macro_name(const char *have, const char *want)
{
	size_t hl, wl;

	if (strcmp(have, want) == 0)
		return 1;
	hl = strlen(have);
	wl = strlen(want);
	if (hl == 3 && wl == 1)
		return have[0] == '{' && have[2] == '}' && have[1] == want[0];
	if (hl == 1 && wl == 3)
		return want[0] == '{' && want[2] == '}' && want[1] == have[0];
	return 0;
}

const char *
mp_macros_get(const struct mp_macros *m, const char *name)
{
	if (m == NULL)
		return NULL;
	/* The latest stage first: a later list overrides an earlier one. */
	for (int st = TG_DRIVE_M_COUNT - 1; st >= 0; st--) {
		const char *p = m->buf[st], *end;

		if (p == NULL)
			continue;
		end = p + m->len[st];
		/* Pairs of name and value; a name without its value (an
		 * odd count) is no macro. */
		while (p < end) {
			const char *v = p + strlen(p) + 1;

			if (v >= end)	/* only our own NUL is left */
				break;
			if (mp_macro_name(p, name))
				return v;
			p = v + strlen(v) + 1;
		}
	}
	return NULL;
}
