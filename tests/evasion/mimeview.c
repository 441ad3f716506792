/* mimeview.c - what tollgate makes of a message's MIME structure, for the
 * differential test (t_mime_differential.py): the message is split into
 * header fields as the MTA hands them to a milter, fed through the session
 * and the streaming MIME parser exactly as the daemon does (headers with
 * their caps, then the body in chunks), and the parser's findings are
 * printed as one JSON line: malformed and why, then each leaf part's
 * type, file names (hex: they are bytes), opaque and malformed.
 *
 *   mimeview [-c CHUNK] FILE...   one line per file
 *   mimeview [-c CHUNK] -         records "<length>\n<bytes>" on stdin
 *
 * Links libtgcore.a only. Owns: everything it allocates. Threads: one. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_mime.h"
#include "tg_policy.h"
#include "tg_session.h"

#define VIEW_MSG_MAX	(64 * 1024 * 1024)

/* Every attachment attribute and a header count: the parser runs as for
 * a policy with attachment rules. */
static const char view_policy[] =
    "stage eom {\n"
    "  rule a: attachment.name == \"x\" or attachment.type == \"x\" or\n"
    "      mime.malformed or header.occurrences \"Content-Type\" > 1\n"
    "      => warn \"x\"\n"
    "}\n";

static void
view_hex(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++)
		printf("%02x", (unsigned char)*s);
	putchar('"');
}

/* view_json_text - static reason texts are plain ASCII. */
static void
view_text(const char *s)
{
	putchar('"');
	for (; s != NULL && *s != '\0'; s++)
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f)
			putchar(*s);
	putchar('"');
}

/* view_header - one field: the name up to the colon (white space before
 * it dropped, as Postfix does), the value without the one space after
 * the colon, folding kept as CRLF. */
static void
view_header(struct tg_session *s, const struct tg_policy *p,
    const char *f, size_t n)
{
	const char *colon = memchr(f, ':', n), *v;
	char *name, *value;
	size_t nl, o = 0;

	for (nl = (size_t)(colon - f); nl > 0 && (f[nl - 1] == ' ' ||
	    f[nl - 1] == '\t'); nl--)
		;
	name = tg_xstrndup(f, nl);
	v = colon + 1;
	if (v < f + n && *v == ' ')
		v++;
	value = tg_xmalloc(2 * n + 1);
	/* Line breaks as CRLF; a bare CR stays, as the MTA leaves it. */
	for (; v < f + n; v++) {
		if (*v == '\n')
			value[o++] = '\r';
		if (*v != '\r' || (v + 1 < f + n && v[1] != '\n'))
			value[o++] = *v;
	}
	value[o] = '\0';
	tg_session_add_header(s, p, name, value);
	free(name);
	free(value);
}

/* view_is_field - does the line start a header field: a name of printable
 * characters, then (white space and) a colon? Anything else ends the
 * header block and starts the body, as in the MTA. */
static int
view_is_field(const char *l, size_t n)
{
	size_t i = 0;

	while (i < n && l[i] > ' ' && l[i] < 0x7f && l[i] != ':')
		i++;
	if (i == 0)
		return 0;
	while (i < n && (l[i] == ' ' || l[i] == '\t'))
		i++;
	return i < n && l[i] == ':';
}

/* view_line_end - length of the line at p (without its LF) */
static size_t
view_line(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
}

static void
view_message(const struct tg_policy *p, const char *msg, size_t len,
    size_t chunk)
{
	const char *q = msg, *end = msg + len, *f;
	struct tg_session s;
	struct tg_mime *m;
	char *body;
	size_t blen = 0, n;
	const char *why;

	tg_session_init(&s, "view");
	while (q < end) {
		n = view_line(q, end);
		if ((n == 0 || (n == 1 && q[0] == '\r')) ||
		    !view_is_field(q, n))
			break;
		/* The field and its continuation lines. */
		f = q;
		q += n + (q + n < end);
		while (q < end && (*q == ' ' || *q == '\t')) {
			n = view_line(q, end);
			q += n + (q + n < end);
		}
		n = (size_t)(q - f);
		while (n > 0 && (f[n - 1] == '\n' || f[n - 1] == '\r'))
			n--;
		view_header(&s, p, f, n);
	}
	if (q < end && (*q == '\n' || (*q == '\r' && q + 1 < end &&
	    q[1] == '\n')))
		q += *q == '\r' ? 2 : 1;	/* the empty line */
	/* The MTA sends the body with CRLF line ends. */
	body = tg_xmalloc(2 * (size_t)(end - q) + 1);
	for (; q < end; q++) {
		if (*q == '\n' && (blen == 0 || body[blen - 1] != '\r'))
			body[blen++] = '\r';
		body[blen++] = *q;
	}
	for (size_t o = 0; o < blen; o += chunk)
		tg_session_add_body_data(&s, p, body + o,
		    blen - o < chunk ? blen - o : chunk);
	free(body);
	m = tg_session_mime(&s, p);
	printf("{\"malformed\": %s, \"why\": ",
	    tg_mime_malformed(m, &why) ? "true" : "false");
	view_text(tg_mime_malformed(m, NULL) ? why : "");
	printf(", \"dropped\": %zu, \"parts\": [", s.hdrs_dropped);
	for (size_t i = 0; i < tg_mime_nparts(m); i++) {
		const struct tg_mime_part *pt = tg_mime_part(m, i);

		printf("%s{\"type\": ", i > 0 ? ", " : "");
		view_hex(pt->type);
		printf(", \"opaque\": %s, \"malformed\": %s, \"names\": [",
		    pt->opaque ? "true" : "false",
		    pt->malformed ? "true" : "false");
		for (size_t j = 0; j < pt->nnames; j++) {
			printf("%s", j > 0 ? ", " : "");
			view_hex(pt->names[j].name);
		}
		printf("]}");
	}
	printf("]}\n");
	fflush(stdout);
	tg_session_free(&s);
}

/* view_read - the whole of fp, or len bytes of it (len != 0) */
static char *
view_read(FILE *fp, size_t want, size_t *len)
{
	size_t cap = want > 0 ? want + 1 : 65536, n = 0, r;
	char *buf = tg_xmalloc(cap);

	while ((want == 0 || n < want) &&
	    (r = fread(buf + n, 1, (want > 0 ? want : cap - 1) - n, fp)) > 0) {
		n += r;
		if (want == 0 && n == cap - 1) {
			if (cap > VIEW_MSG_MAX)
				break;
			buf = tg_xrealloc(buf, cap *= 2);
		}
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

int
main(int argc, char **argv)
{
	struct tg_policy *p;
	struct tg_diag d;
	size_t chunk = 65535, len;
	int i = 1;
	char *msg;

	if (argc > 2 && strcmp(argv[1], "-c") == 0) {
		chunk = (size_t)strtoul(argv[2], NULL, 10);
		if (chunk == 0)
			chunk = 1;
		i = 3;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: mimeview [-c CHUNK] FILE... | -\n");
		return 2;
	}
	tg_diag_init(&d);
	if ((p = tg_policy_load_string("mimeview.conf", view_policy, NULL,
	    &d)) == NULL) {
		fprintf(stderr, "mimeview: %s\n", d.n ? d.msgs[0] : "policy");
		return 1;
	}
	tg_diag_free(&d);
	for (; i < argc; i++) {
		FILE *fp;

		if (strcmp(argv[i], "-") == 0) {
			unsigned long want;

			while (scanf("%lu", &want) == 1 && getchar() == '\n' &&
			    want <= VIEW_MSG_MAX) {
				if (want == 0) {
					msg = tg_xstrdup("");
					len = 0;
				} else
					msg = view_read(stdin, want, &len);
				view_message(p, msg, len, chunk);
				free(msg);
			}
			continue;
		}
		if ((fp = fopen(argv[i], "rb")) == NULL) {
			perror(argv[i]);
			return 1;
		}
		msg = view_read(fp, 0, &len);
		fclose(fp);
		view_message(p, msg, len, chunk);
		free(msg);
	}
	tg_policy_unref(p);
	return 0;
}
