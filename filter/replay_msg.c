/* replay_msg.c - messages as an MTA receives them, for tollgate-test:
 * header fields up to the first empty line (continuation lines folded
 * into the field, blanks before the colon dropped as Postfix does), the
 * body with CR LF line ends; from the lines of an inline message in a
 * session file, or from a message file (.eml) of any bytes and line ends.
 * Owns: the struct replay_msg it builds. Threads: single-threaded
 * program. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "replay.h"

static void
msg_add_header(struct replay_msg *m, size_t *cap, const char *name,
    size_t nlen, const char *value, size_t vlen)
{
	if (m->nhdr == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		m->hdr = tg_xrealloc(m->hdr, *cap * sizeof *m->hdr);
	}
	m->hdr[m->nhdr].name = tg_xmalloc(nlen + 1);
	memcpy(m->hdr[m->nhdr].name, name, nlen);
	m->hdr[m->nhdr].name[nlen] = '\0';
	m->hdr[m->nhdr].value = tg_xmalloc(vlen + 1);
	memcpy(m->hdr[m->nhdr].value, value, vlen);
	m->hdr[m->nhdr].value[vlen] = '\0';
	m->nhdr++;
}

/* msg_fold - a continuation line onto the last header's value */
static void
msg_fold(struct replay_msg *m, const char *line, size_t n)
{
	struct replay_hdr *h = &m->hdr[m->nhdr - 1];
	size_t old = strlen(h->value);

	h->value = tg_xrealloc(h->value, old + 2 + n + 1);
	memcpy(h->value + old, "\r\n", 2);
	memcpy(h->value + old + 2, line, n);
	h->value[old + 2 + n] = '\0';
}

/* msg_header_name - the length of a header name ending at the colon at
 * colon (blanks before the colon are dropped, as Postfix does); 0 when
 * it is not a field name */
static size_t
msg_header_name(const char *line, size_t colon)
{
	size_t n = colon;

	while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] <= ' ' ||
		    (unsigned char)line[i] >= 0x7f)
			return 0;
	return n;
}

static void
msg_body_add(struct replay_msg *m, size_t *cap, const char *line, size_t n)
{
	if (m->bodylen + n + 2 >= *cap) {
		*cap = (*cap + n + 2) * 2;
		m->body = tg_xrealloc(m->body, *cap);
	}
	memcpy(m->body + m->bodylen, line, n);
	memcpy(m->body + m->bodylen + n, "\r\n", 2);
	m->bodylen += n + 2;
}

/* replay_msg_line - one line of a message; *in_hdrs: still in the header
 * section. Returns 0, or -1 for a line without a colon among the
 * headers when strict (inline messages), with *col set. */
int
replay_msg_line(struct replay_msg *m, size_t *hcap, size_t *bcap, int *in_hdrs,
    const char *line, size_t n, int strict, int *col)
{
	const char *colon;
	size_t nlen, v;

	if (*in_hdrs) {
		if (n == 0) {
			*in_hdrs = 0;
			return 0;
		}
		if ((line[0] == ' ' || line[0] == '\t') && m->nhdr > 0) {
			msg_fold(m, line, n);
			return 0;
		}
		if ((colon = memchr(line, ':', n)) != NULL &&
		    (nlen = msg_header_name(line, (size_t)(colon - line))) > 0) {
			/* The blanks after the colon stay: run_message()
			 * takes them off unless the glue would have asked
			 * for them (SMFIP_HDR_LEADSPC, for DKIM). */
			v = (size_t)(colon - line) + 1;
			msg_add_header(m, hcap, line, nlen, line + v, n - v);
			return 0;
		}
		if (strict) {
			/* Read the rest as body: one error, not one a line. */
			*in_hdrs = 0;
			*col = 1;
			return -1;
		}
		/* Postfix: the first line that is not a header starts the
		 * body. */
		*in_hdrs = 0;
	}
	msg_body_add(m, bcap, line, n);
	return 0;
}

void
replay_msg_free(struct replay_msg *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nhdr; i++) {
		free(m->hdr[i].name);
		free(m->hdr[i].value);
	}
	free(m->hdr);
	free(m->body);
	free(m);
}

struct replay_msg *
replay_msg_read(const char *path, const char **why)
{
	struct replay_msg *m;
	size_t hcap = 0, bcap = 0, len = 0, cap = 0, off = 0;
	char *buf = NULL;
	int in_hdrs = 1, col;
	FILE *fp;
	size_t got;

	if ((fp = fopen(path, "rb")) == NULL) {
		*why = strerror(errno);
		return NULL;
	}
	do {
		if (len + 65536 > cap) {
			cap = cap * 2 + 65536;
			buf = tg_xrealloc(buf, cap);
		}
		got = fread(buf + len, 1, cap - len, fp);
		len += got;
	} while (got > 0 && len <= (size_t)REPLAY_MSG_MAX);
	if (ferror(fp) || len > (size_t)REPLAY_MSG_MAX) {
		*why = ferror(fp) ? "read error" : "larger than 64 MiB";
		fclose(fp);
		free(buf);
		return NULL;
	}
	fclose(fp);
	m = tg_xcalloc(1, sizeof *m);
	while (off < len) {
		const char *line = buf + off, *nl;
		size_t n;

		nl = memchr(line, '\n', len - off);
		n = nl != NULL ? (size_t)(nl - line) : len - off;
		off += n + (nl != NULL);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		(void)replay_msg_line(m, &hcap, &bcap, &in_hdrs, line, n, 0,
		    &col);
	}
	free(buf);
	return m;
}
