/* mload_scn.c - milterload scenario files, %-expansion and latency
 * histograms. Owns: the scenario, built once before the threads start
 * and read-only after. Threads: none here; histograms are per thread. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#include "mload.h"

const char *const mload_stage_name[ST_NSTAGES] = {
	"negotiate", "connect", "helo", "mail", "rcpt", "data", "header",
	"eoh", "body", "eom", "message"
};

static const char *const scn_mstage[MLOAD_NMSTAGES] = {
	"connect", "helo", "mail", "rcpt", "data", "eom", "eoh"
};

static char *
scn_strdup(const char *s)
{
	char *d;

	if ((d = strdup(s)) == NULL) {
		perror("milterload");
		exit(2);
	}
	return d;
}

static void *
scn_grow(void *p, size_t n, size_t size)
{
	if ((p = realloc(p, n * size)) == NULL) {
		perror("milterload");
		exit(2);
	}
	return p;
}

static void
scn_macro(struct mload_scn *s, int stage, const char *name, const char *val)
{
	struct mload_macro *m;
	size_t i;

	/* A scenario's macro replaces a default one of the same name: the
	 * milter would see only the first of two. */
	for (i = 0; i < s->nmacros; i++) {
		m = &s->macros[i];
		if (m->stage == stage && strcmp(m->name, name) == 0) {
			free(m->value);
			m->value = scn_strdup(val);
			return;
		}
	}
	s->macros = scn_grow(s->macros, s->nmacros + 1, sizeof *s->macros);
	m = &s->macros[s->nmacros++];
	m->stage = stage;
	m->name = scn_strdup(name);
	m->value = scn_strdup(val);
}

static struct mload_msg *
scn_msg(struct mload_scn *s, const char *from, const char *args, int line)
{
	struct mload_msg *m;

	s->msgs = scn_grow(s->msgs, s->nmsgs + 1, sizeof *s->msgs);
	m = &s->msgs[s->nmsgs++];
	memset(m, 0, sizeof *m);
	m->from = scn_strdup(from);
	m->from_args = scn_strdup(args);
	m->line = line;
	return m;
}

static struct mload_step *
scn_step(struct mload_msg *m, int stage, const char *a, const char *b)
{
	struct mload_step *st;

	m->steps = scn_grow(m->steps, m->nsteps + 1, sizeof *m->steps);
	st = &m->steps[m->nsteps++];
	memset(st, 0, sizeof *st);
	st->stage = stage;
	st->a = scn_strdup(a);
	st->b = scn_strdup(b);
	return st;
}

/* mload_scn_default - one message shaped like the MTA-NOTES measurement:
 * one recipient in a local domain, 4 headers, a 2 KiB body. */
void
mload_scn_default(struct mload_scn *s)
{
	struct mload_msg *m;

	memset(s, 0, sizeof *s);
	s->host = scn_strdup("client.example.net");
	s->addr = scn_strdup("192.0.2.10");
	s->family = SMFIA_INET;
	s->port = 40000;
	s->helo = scn_strdup("client.example.net");
	scn_macro(s, SMFIM_CONNECT, "j", "mx.example.org");
	scn_macro(s, SMFIM_CONNECT, "{daemon_name}", "mx");
	scn_macro(s, SMFIM_CONNECT, "{daemon_addr}", "127.0.0.1");
	scn_macro(s, SMFIM_CONNECT, "{daemon_port}", "25");
	m = scn_msg(s, "<sender%M@example.net>", "", 0);
	scn_step(m, ST_RCPT, "<user@example.org>", "");
	scn_step(m, ST_HDR, "From", "<sender%M@example.net>");
	scn_step(m, ST_HDR, "To", "<user@example.org>");
	scn_step(m, ST_HDR, "Subject", "load test message %M");
	scn_step(m, ST_HDR, "Message-ID", "<%M.%C@example.net>");
	m->body = 2048;
}

/* scn_expect - "continue", "reject", ... or a reply text to match
 * exactly ("554 5.7.1 Relay access denied"), or by prefix with a final
 * '*' ("554*"). */
static int
scn_expect(struct mload_expect *e, const char *what, int line)
{
	static const struct { const char *name; char type; } kinds[] = {
		{ "continue", SMFIR_CONTINUE }, { "accept", SMFIR_ACCEPT },
		{ "reject", SMFIR_REJECT }, { "tempfail", SMFIR_TEMPFAIL },
		{ "discard", SMFIR_DISCARD }, { "quarantine", SMFIR_QUARANTINE },
		{ "skip", SMFIR_SKIP },
	};
	size_t i;

	e->line = line;
	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (strcmp(what, kinds[i].name) == 0) {
			e->type = kinds[i].type;
			return 0;
		}
	if (!isdigit((unsigned char)what[0]))
		return -1;
	e->type = SMFIR_REPLYCODE;
	e->text = scn_strdup(what);
	return 0;
}

/* scn_split - first word of *p (NUL-terminated), *p moved past it and
 * the blanks after it */
static char *
scn_split(char **p)
{
	char *w = *p;

	while (**p != '\0' && !isspace((unsigned char)**p))
		(*p)++;
	if (**p != '\0')
		*(*p)++ = '\0';
	while (isspace((unsigned char)**p))
		(*p)++;
	return w;
}

static int
scn_line(struct mload_scn *s, char *p, int line, struct mload_expect **last)
{
	struct mload_msg *m = s->nmsgs ? &s->msgs[s->nmsgs - 1] : NULL;
	char *kw, *a, *colon;
	int i;

	kw = scn_split(&p);
	if (strcmp(kw, "client") == 0) {
		free(s->host);
		free(s->addr);
		s->host = scn_strdup(scn_split(&p));
		a = scn_split(&p);
		s->addr = scn_strdup(a);
		s->family = strchr(a, ':') ? SMFIA_INET6 : SMFIA_INET;
		if (*p != '\0')
			s->port = (unsigned)strtoul(p, NULL, 10);
		*last = &s->conn_exp;
	} else if (strcmp(kw, "macro") == 0) {
		a = scn_split(&p);
		for (i = 0; i < MLOAD_NMSTAGES; i++)
			if (strcmp(a, scn_mstage[i]) == 0)
				break;
		if (i == MLOAD_NMSTAGES)
			return -1;
		a = scn_split(&p);
		scn_macro(s, i, a, p);
	} else if (strcmp(kw, "helo") == 0) {
		free(s->helo);
		s->helo = scn_strdup(p);
		*last = &s->helo_exp;
	} else if (strcmp(kw, "mail") == 0) {
		a = scn_split(&p);
		m = scn_msg(s, a, p, line);
		*last = &m->from_exp;
	} else if (m == NULL) {
		return -1;		/* rcpt, header, ... before mail */
	} else if (strcmp(kw, "rcpt") == 0) {
		a = scn_split(&p);
		*last = &scn_step(m, ST_RCPT, a, p)->exp;
	} else if (strcmp(kw, "header") == 0) {
		if ((colon = strchr(p, ':')) == NULL)
			return -1;
		*colon++ = '\0';
		while (*colon == ' ')
			colon++;
		*last = &scn_step(m, ST_HDR, p, colon)->exp;
	} else if (strcmp(kw, "body") == 0) {
		m->body = strtoul(p, NULL, 10);
		*last = &m->body_exp;
	} else if (strcmp(kw, "data") == 0) {
		*last = &m->data_exp;
	} else if (strcmp(kw, "eoh") == 0) {
		*last = &m->eoh_exp;
	} else if (strcmp(kw, "eom") == 0) {
		*last = &m->eom_exp;
	} else {
		return -1;
	}
	return 0;
}

/* mload_scn_read - parse a scenario file (format in tests/bench/README.md);
 * 0, or -1 after printing file:line: error */
int
mload_scn_read(struct mload_scn *s, const char *path)
{
	struct mload_expect *last = NULL;
	char buf[4096], *p, *e;
	FILE *fp;
	int line = 0, rc = 0;

	mload_scn_default(s);
	s->nmsgs = 0;		/* keep the defaults but the message */
	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "milterload: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(buf, sizeof buf, fp) != NULL) {
		line++;
		buf[strcspn(buf, "\r\n")] = '\0';
		for (p = buf; isspace((unsigned char)*p); p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		if (strncmp(p, "expect ", 7) == 0) {
			for (p += 7; isspace((unsigned char)*p); p++)
				;
			if (last == NULL || last->line != 0 ||
			    scn_expect(last, p, line) < 0)
				goto bad;
			s->nexpect++;
			continue;
		}
		e = p + strlen(p);
		while (e > p && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (scn_line(s, p, line, &last) < 0)
			goto bad;
		continue;
bad:
		fprintf(stderr, "%s:%d: error: cannot use \"%s\"\n", path,
		    line, buf);
		rc = -1;
	}
	fclose(fp);
	if (rc == 0 && s->nmsgs == 0) {
		fprintf(stderr, "%s: error: no \"mail\" line\n", path);
		rc = -1;
	}
	return rc;
}

/* mload_expand - copy src to dst, replacing %C (connection number), %M
 * (message number), %IP (an IPv4 address unique to the connection, so
 * per-client limits see many clients), %NET (one in a /24 of its own, for
 * per-network limits), %BIP (198.18.0.0/15, RFC 2544's benchmarking
 * network, unique for 131,072 connections: a resolver pointed at a test
 * server asks it for their reverse names, which it answers itself for
 * 10.x.y.z) and %%; returns the length, or len when truncated. With
 * an address pool (-k N) the three addresses take the connection number
 * modulo N: N sending servers that come back, as on a real MX. */
static unsigned long addr_pool;

void
mload_addr_pool(unsigned long n)
{
	addr_pool = n;
}

size_t
mload_expand(char *dst, size_t len, const char *src, unsigned long conn,
    unsigned long msg)
{
	unsigned long a = addr_pool > 0 ? conn % addr_pool : conn;
	size_t o = 0;
	int n;

	for (; *src != '\0' && o < len; src++) {
		n = 0;
		if (src[0] != '%') {
			dst[o++] = *src;
			continue;
		}
		if (src[1] == 'C')
			n = snprintf(dst + o, len - o, "%lu", conn);
		else if (src[1] == 'M')
			n = snprintf(dst + o, len - o, "%lu", msg);
		else if (src[1] == 'I' && src[2] == 'P') {
			n = snprintf(dst + o, len - o, "10.%lu.%lu.%lu",
			    (a >> 16) & 255, (a >> 8) & 255, a & 255);
			src++;
		} else if (strncmp(src + 1, "BIP", 3) == 0) {
			n = snprintf(dst + o, len - o, "198.%lu.%lu.%lu",
			    18 + ((a >> 16) & 1), (a >> 8) & 255, a & 255);
			src += 2;
		} else if (strncmp(src + 1, "NET", 3) == 0) {
			n = snprintf(dst + o, len - o, "10.%lu.%lu.1",
			    (a >> 8) & 255, a & 255);
			src += 2;
		} else if (src[1] == '%')
			n = snprintf(dst + o, len - o, "%%");
		else {
			dst[o++] = *src;
			continue;
		}
		src++;
		if (n < 0 || (size_t)n >= len - o)
			return len;
		o += (size_t)n;
	}
	if (o >= len)
		return len;
	dst[o] = '\0';
	return o;
}

static size_t
hist_bucket(uint64_t v)
{
	int e;

	if (v < 64)
		return (size_t)v;
	e = 63 - __builtin_clzll(v);		/* e >= 6 */
	if (e - 6 >= 40)
		return HIST_N - 1;
	return 64 + (size_t)(e - 6) * HIST_SUB +
	    (size_t)((v >> (e - 5)) & (HIST_SUB - 1));
}

/* hist_value - middle of bucket b, in nanoseconds */
static uint64_t
hist_value(size_t b)
{
	size_t e, m;

	if (b < 64)
		return b;
	e = (b - 64) / HIST_SUB + 6;
	m = (b - 64) % HIST_SUB;
	return ((uint64_t)(HIST_SUB + m) << (e - 5)) +
	    ((uint64_t)1 << (e - 6));
}

void
mload_hist_add(struct mload_hist *h, uint64_t ns)
{
	h->n[hist_bucket(ns)]++;
	h->count++;
	if (ns > h->max)
		h->max = ns;
}

void
mload_hist_merge(struct mload_hist *d, const struct mload_hist *s)
{
	size_t i;

	for (i = 0; i < HIST_N; i++)
		d->n[i] += s->n[i];
	d->count += s->count;
	if (s->max > d->max)
		d->max = s->max;
}

/* mload_hist_pct - the pct-th percentile (0..100), in nanoseconds */
uint64_t
mload_hist_pct(const struct mload_hist *h, double pct)
{
	uint64_t want, seen = 0;
	size_t i;

	if (h->count == 0)
		return 0;
	want = (uint64_t)(pct / 100.0 * (double)h->count + 0.5);
	if (want == 0)
		want = 1;
	for (i = 0; i < HIST_N; i++) {
		seen += h->n[i];
		if (seen >= want) {
			uint64_t v = hist_value(i);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}
