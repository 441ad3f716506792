/* check_mime.c - the MIME parser and header decoding: the corpus in
 * data/mime (each message fed in chunks of several sizes must give the
 * findings in its .expect file), decoder tables, hostile generated input,
 * and the header and attachment conditions through the engine. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_engine.h"
#include "tg_log.h"
#include "tg_mime.h"
#include "tg_policy.h"
#include "tg_session.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define DUMP_MAX	8192

static char logged[8192];

static void
sink(int prio, const char *line)
{
	size_t n = strlen(logged);

	(void)prio;
	snprintf(logged + n, sizeof logged - n, "%s\n", line);
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	ck_assert_msg(fp != NULL, "cannot open %s", path);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = tg_xmalloc((size_t)n + 1);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static struct tg_policy *
policy(const char *text)
{
	struct tg_policy *p;
	struct tg_diag d;

	tg_diag_init(&d);
	p = tg_policy_load_string("test.conf", text, SRCDIR "/data/mime", &d);
	ck_assert_msg(p != NULL, "policy did not load: %s",
	    d.n ? d.msgs[0] : "(no message)");
	tg_diag_free(&d);
	return p;
}

/* feed_message - a message file (LF line ends) into a session as the
 * milter glue would: unfolded header fields one by one, then the body
 * with CRLF line ends in chunks of chunk bytes. */
static void
feed_message(struct tg_session *s, const struct tg_policy *p,
    const char *text, size_t len, size_t chunk)
{
	const char *end = text + len, *q = text;
	char name[256], *value, *body;
	size_t blen = 0;

	while (q < end && *q != '\n') {
		const char *colon = memchr(q, ':', (size_t)(end - q));
		const char *e = q;
		size_t vl = 0;

		ck_assert_ptr_nonnull(colon);
		snprintf(name, sizeof name, "%.*s", (int)(colon - q), q);
		value = tg_xmalloc((size_t)(end - q) * 2 + 1);
		for (e = colon + 1; e < end && (*e == ' ' || *e == '\t'); e++)
			;
		for (; e < end; e++) {
			if (*e == '\n' && (e + 1 >= end ||
			    (e[1] != ' ' && e[1] != '\t')))
				break;
			if (*e == '\n') {
				value[vl++] = '\r';
				value[vl++] = '\n';
			} else
				value[vl++] = *e;
		}
		value[vl] = '\0';
		tg_session_add_header(s, p, name, value);
		free(value);
		q = e + 1;
	}
	if (q < end)
		q++;	/* the empty line */
	body = tg_xmalloc((size_t)(end - q) * 2 + 1);
	for (; q < end; q++) {
		if (*q == '\n')
			body[blen++] = '\r';
		body[blen++] = *q;
	}
	for (size_t o = 0; o < blen; o += chunk)
		tg_session_add_body_data(s, p, body + o,
		    blen - o < chunk ? blen - o : chunk);
	free(body);
}

static void
dump(struct tg_mime *m, char *out, size_t outsz)
{
	const char *why;
	char pr[256];
	size_t o;

	o = (size_t)snprintf(out, outsz, "malformed: %s\nparts: %zu\n",
	    tg_mime_malformed(m, &why) ? why : "no", tg_mime_nparts(m));
	for (size_t i = 0; i < tg_mime_nparts(m) && o < outsz; i++) {
		const struct tg_mime_part *p = tg_mime_part(m, i);

		o += (size_t)snprintf(out + o, outsz - o,
		    "part %zu: type=%s size=%lld sha256=%s%s%s%s\n", i + 1,
		    p->type, p->size, p->sha256[0] ? p->sha256 : "-",
		    p->opaque ? " opaque" : "", p->malformed ? " malformed: " :
		    "", p->malformed ? p->why : "");
		for (size_t j = 0; j < p->nnames && o < outsz; j++)
			o += (size_t)snprintf(out + o, outsz - o,
			    " name \"%s\" ext=%s inner=%s%s%s\n",
			    tg_str_printable(pr, sizeof pr, p->names[j].name),
			    p->names[j].ext, p->names[j].inner,
			    p->names[j].spoofed != NULL ? " spoofed: " : "",
			    p->names[j].spoofed != NULL ?
			    p->names[j].spoofed : "");
	}
}

static const char *const corpus[] = {
	"plain", "simple-attach", "double-ext", "nested", "rfc2231",
	"encoded-words", "broken-boundary", "missing-final",
	"no-boundary-param", "header-8bit", "conflicting-names",
	"qp-and-bad-b64", "single-part-attachment", "headers-not-ended",
	"spoofed-names", "clean-names", "bad-utf8-names",
};
static const size_t chunks[] = { 1, 2, 7, 64, 1000, 1 << 20 };

/* Every message, fed in every chunk size, gives its expected findings. */
START_TEST(test_corpus)
{
	char path[512], got[DUMP_MAX];
	struct tg_policy *p;
	char *msg, *want;
	size_t len, wlen;

	p = policy("stage eom { rule r: attachment.sha256 == \"x\" "
	    "=> warn \"x\" }");
	snprintf(path, sizeof path, SRCDIR "/data/mime/%s.eml", corpus[_i]);
	msg = slurp(path, &len);
	snprintf(path, sizeof path, SRCDIR "/data/mime/%s.expect",
	    corpus[_i]);
	want = slurp(path, &wlen);
	for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
		struct tg_session s;

		tg_session_init(&s, "t");
		feed_message(&s, p, msg, len, chunks[c]);
		dump(tg_session_mime(&s, p), got, sizeof got);
		ck_assert_msg(strcmp(got, want) == 0, "%s, chunks of %zu:\n"
		    "got:\n%s\nwant:\n%s", corpus[_i], chunks[c], got, want);
		tg_session_free(&s);
	}
	free(msg);
	free(want);
	tg_policy_unref(p);
}
END_TEST

static const struct { const char *in, *want; } words[] = {
	{ "plain text", "plain text" },
	{ "=?UTF-8?B?R3LDvMOfZQ==?=", "Gr\xc3\xbc\xc3\x9f" "e" },
	{ "=?iso-8859-1?q?caf=E9_au_lait?=", "caf\xc3\xa9 au lait" },
	/* White space between encoded words goes, around them stays. */
	{ "a =?utf-8?q?b?= \r\n =?utf-8?q?c?= d", "a bc d" },
	{ "=?utf-8*en?q?lang?=", "lang" },
	{ "=?bogus?q?x?= =?utf-8?x?y?= =?utf-8?q?open", "x =?utf-8?x?y?= "
	    "=?utf-8?q?open" },
	{ "=?utf-8?q?nul=00byte?=", "nul?byte" },
	{ "=?utf-8?b?/w==?=", "?" },		/* invalid UTF-8 */
	{ "=?UTF-16BE?B?AGEAYgBj?=", "abc" },
	{ "=??q?empty-charset?=", "=??q?empty-charset?=" },
	{ "", "" },
};

START_TEST(test_decode_words)
{
	char *got = tg_mime_decode_words(words[_i].in);

	ck_assert_msg(strcmp(got, words[_i].want) == 0,
	    "case %d: got \"%s\", want \"%s\"", _i, got, words[_i].want);
	free(got);
}
END_TEST

static const struct {
	const char *in, *pname, *type, *v1, *v2;
	int bad;
} params[] = {
	{ "attachment; filename=\"a b.pdf\"", "filename", "attachment",
	    "a b.pdf" },
	{ "Text/Plain (comment) ; charset=us-ascii; name=x.txt", "name",
	    "text/plain", "x.txt" },
	{ "attachment; filename*=UTF-8''%e2%82%ac.exe", "filename",
	    "attachment", "\xe2\x82\xac.exe" },
	{ "a; filename*1=\"b\"; filename*0=\"a\"; filename*2*=%63", "filename",
	    "a", "abc" },
	/* Both forms, different: both are kept. */
	{ "a; filename=\"x.txt\"; filename*=''x.exe", "filename", "a",
	    "x.exe", "x.txt" },
	/* A gap in the sections is malformed; what is there is kept. */
	{ "a; f*0=one; f*2=three", "f", "a", "one", "onethree", 1 },
	{ "a; filename=\"unterminated", "filename", "a", "unterminated",
	    NULL, 1 },
	{ "a; filename", "filename", "a", NULL, NULL, 1 },
	/* A broken parameter is skipped, not the rest (a reader that
	 * recovers there sees filename=ok). */
	{ "a; =x; filename=ok", "filename", "a", "ok", NULL, 1 },
	{ "a; x y; filename=\"b;c\"; junk \"d;e\"; name=f", "filename", "a",
	    "b;c", NULL, 1 },
	/* F7: a parameter given twice is malformed; with another value,
	 * ambiguous (readers take the first or the last). */
	{ "a; filename=x.exe; filename=\"x.exe\"", "filename", "a", "x.exe",
	    NULL, TG_MIME_BAD },
	{ "m; boundary=b1; boundary=\"zzz\"", "boundary", "m", "b1", "zzz",
	    TG_MIME_BAD | TG_MIME_AMBIGUOUS },
	{ "a; charset=utf-8; filename=ok; CHARSET=latin1", "filename", "a",
	    "ok", NULL, TG_MIME_BAD | TG_MIME_AMBIGUOUS },
	{ "a; filename*0=a; filename*0=b; filename*1=c", "filename", "a",
	    "ac", "abc", TG_MIME_BAD | TG_MIME_AMBIGUOUS },
	{ "a; filename*=''x.exe; filename*=''x.pdf", "filename", "a", "x.exe",
	    "x.pdf", TG_MIME_BAD | TG_MIME_AMBIGUOUS },
	/* Continuations and the plain + RFC 2231 pair are not repeats. */
	{ "a; name*0=a; name*1=b; name=ab; name*=''ab", "name", "a", "ab",
	    NULL, 0 },
	{ "a; filename=\"q\\\"uote\"", "filename", "a", "q\"uote" },
	{ "a; filename*0*=bad-no-quotes", "filename", "a", "bad-no-quotes",
	    NULL, 1 },
};

START_TEST(test_params)
{
	char *type = NULL, *v[4] = { NULL, NULL, NULL, NULL };
	int bad = 0;
	size_t n;

	n = tg_mime_params(params[_i].in, params[_i].pname, &type, v, 4,
	    &bad);
	ck_assert_str_eq(type, params[_i].type);
	ck_assert_msg(bad == params[_i].bad, "case %d: bad %d", _i, bad);
	ck_assert_msg(n == (size_t)((params[_i].v1 != NULL) +
	    (params[_i].v2 != NULL)),
	    "case %d: %zu values (%s)", _i, n, n ? v[0] : "");
	if (params[_i].v1 != NULL)
		ck_assert_str_eq(v[0], params[_i].v1);
	if (params[_i].v2 != NULL)
		ck_assert_str_eq(v[1], params[_i].v2);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(type);
}
END_TEST

static const struct { const char *name; int spoofed, invalid; } names[] = {
	/* Bidi controls: RLO, LRM, RLM, LRI..PDI, ALM. */
	{ "invoice\xe2\x80\xae" "fdp.exe", 1 },
	{ "a\xe2\x80\x8e" "b.pdf", 1 }, { "a\xe2\x80\x8f" "b.pdf", 1 },
	{ "\xe2\x81\xa6x\xe2\x81\xa9.pdf", 1 }, { "\xd8\x9c.pdf", 1 },
	/* Invisible: ZWSP, BOM, soft hyphen, a tag character. */
	{ "a\xe2\x80\x8b" "b.pdf", 1 }, { "\xef\xbb\xbf" "a.pdf", 1 },
	{ "a\xc2\xad" "b.exe", 1 }, { "tag\xf3\xa0\x81\x81.exe", 1 },
	/* ZWNJ and ZWJ: only between two non-ASCII characters. */
	{ "a\xe2\x80\x8c.exe", 1 }, { "\xe2\x80\x8c" "ab.pdf", 1 },
	{ "\xda\xa9\xd8\xaa\xd8\xa7\xd8\xa8\xe2\x80\x8c\xd9\x87\xd8\xa7.pdf",
	    0 },
	{ "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb.jpg", 0 },
	{ "\xc3\xa9\xe2\x80\x8d", 1 },
	/* C0 and C1 controls; a tab is white space. */
	{ "a\x01" "b.pdf", 1 }, { "a\x7f" "b.pdf", 1 },
	{ "a\xc2\x85.pdf", 1 }, { "a\tb.pdf", 0 },
	/* White space and dots hiding the extension. */
	{ "report.pdf                    .exe", 1 }, { "a   .exe", 1 },
	{ "a  .exe", 0 }, { "a . . .exe", 1 }, { "Wait....mp4", 0 },
	{ "x........exe", 0 }, { "x.........exe", 1 },
	{ "report.pdf        _copy.exe", 1 }, { "report.pdf       _copy.exe", 0 },
	{ "\xe6\x96\x87\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80.exe", 1 },
	{ "noext                    x", 0 }, { "trailing.exe      ", 0 },
	/* Clean names. */
	{ "My  Document.pdf", 0 }, { "R\xc3\xa9sum\xc3\xa9.pdf", 0 }, { "", 0 },
	/* Not UTF-8: stray, overlong, surrogate, past U+10FFFF, cut. */
	{ "a\xff" "b.pdf", 0, 1 }, { "\xc0\xaf" "x.exe", 0, 1 },
	{ "\xed\xa0\x80.exe", 0, 1 }, { "\xf4\x90\x80\x80.exe", 0, 1 },
	{ "x.exe\xe2\x80", 0, 1 },
	{ "\xe2\x80\xae\xff.exe", 1, 1 },
};

START_TEST(test_name_spoofed)
{
	const char *n = names[_i].name, *dot, *why = NULL;
	size_t len = strlen(n);
	int inv = -1, got;

	/* The extension's dot as mime.c finds it: trailing blanks go. */
	while (len > 0 && n[len - 1] == ' ')
		len--;
	dot = memrchr(n, '.', len);
	got = tg_mime_name_spoofed(n, strlen(n), dot != NULL ?
	    (size_t)(dot - n) : strlen(n), &inv, &why);
	ck_assert_msg(got == names[_i].spoofed && inv == names[_i].invalid,
	    "case %d: spoofed %d (%s), invalid %d", _i, got,
	    why != NULL ? why : "-", inv);
	ck_assert_int_eq(got, why != NULL);
}
END_TEST

/* Part headers longer than the buffer: the part is opaque. */
START_TEST(test_long_part_headers)
{
	struct tg_mime *m = tg_mime_new(NULL,
	    "multipart/mixed; boundary=b", NULL, NULL);
	const struct tg_mime_part *p;
	const char *why;

	tg_mime_feed(m, "--b\r\nX-Filler: ", 15);
	for (int i = 0; i < 5000; i++)
		tg_mime_feed(m, "0123456789", 10);
	tg_mime_feed(m, "\r\nContent-Type: text/plain; name=a.exe\r\n\r\n"
	    "x\r\n--b--\r\n", 51);
	tg_mime_finish(m);
	ck_assert_int_eq(tg_mime_nparts(m), 1);
	p = tg_mime_part(m, 0);
	ck_assert_int_eq(p->opaque, 1);
	ck_assert_int_eq(tg_mime_malformed(m, &why), 1);
	ck_assert_str_eq(why, "part headers too long");
	tg_mime_free(m);
}
END_TEST

/* Nesting past the stack: the innermost entity is opaque. */
START_TEST(test_deep_nesting)
{
	struct tg_mime *m = tg_mime_new(NULL,
	    "multipart/mixed; boundary=b0", NULL, NULL);
	char line[128];
	const char *why;
	int n;

	for (int i = 0; i < 40; i++) {
		n = snprintf(line, sizeof line, "--b%d\r\nContent-Type: "
		    "multipart/mixed; boundary=b%d\r\n\r\n", i, i + 1);
		tg_mime_feed(m, line, (size_t)n);
	}
	tg_mime_finish(m);
	ck_assert_int_eq(tg_mime_malformed(m, &why), 1);
	ck_assert_int_ge(tg_mime_nparts(m), 1);
	ck_assert_int_eq(tg_mime_part(m, 0)->opaque, 1);
	ck_assert_str_eq(tg_mime_part(m, 0)->why, "nested too deeply");
	tg_mime_free(m);
}
END_TEST

/* Past TG_MIME_PARTS_MAX, one opaque part stands for the rest. */
START_TEST(test_too_many_parts)
{
	struct tg_mime *m = tg_mime_new(NULL,
	    "multipart/mixed; boundary=b", NULL, NULL);
	static const char part[] = "--b\r\nContent-Type: text/plain\r\n\r\n"
	    "x\r\n";

	for (int i = 0; i < TG_MIME_PARTS_MAX + 50; i++)
		tg_mime_feed(m, part, sizeof part - 1);
	tg_mime_feed(m, "--b--\r\n", 7);
	tg_mime_finish(m);
	ck_assert_int_eq(tg_mime_nparts(m), TG_MIME_PARTS_MAX + 1);
	ck_assert_int_eq(tg_mime_part(m, TG_MIME_PARTS_MAX)->opaque, 1);
	ck_assert_int_eq(tg_mime_part(m, 0)->opaque, 0);
	tg_mime_free(m);
}
END_TEST

/* A long line without a break, and a delimiter right after it: content
 * is counted exactly and the delimiter is still found. */
START_TEST(test_long_line)
{
	struct tg_mime_conf conf = { 1, NULL };
	struct tg_mime *m = tg_mime_new(&conf,
	    "multipart/mixed; boundary=b", NULL, NULL);
	char buf[4096];

	memset(buf, 'A', sizeof buf);
	tg_mime_feed(m, "--b\r\n\r\n", 7);
	for (int i = 0; i < 256; i++)
		tg_mime_feed(m, buf, sizeof buf);
	tg_mime_feed(m, "\r\r\n--b\r\nContent-Type: text/x-y; name=z.js\r\n"
	    "\r\n--b--\r\n", 52);
	tg_mime_finish(m);
	ck_assert_int_eq(tg_mime_nparts(m), 2);
	/* 1 MiB of A and a stray CR, which ends a line as in mail readers
	 * (the break before the empty line is content, the CRLF after it
	 * belongs to the delimiter) and is malformed in a multipart. */
	ck_assert_int_eq(tg_mime_part(m, 0)->size, 256 * 4096 + 2);
	ck_assert_str_eq(tg_mime_part(m, 1)->names[0].ext, "js");
	ck_assert_int_eq(tg_mime_malformed(m, NULL), 1);
	tg_mime_free(m);
}
END_TEST

/* Random bytes in random chunks: no crash, and the counts stay sane. */
START_TEST(test_random_input)
{
	unsigned seed = 12345;
	char buf[2048];

	for (int round = 0; round < 200; round++) {
		struct tg_mime_conf conf = { 1, NULL };
		struct tg_mime *m = tg_mime_new(&conf, round % 2 ?
		    "multipart/mixed; boundary=\"=b\"" : "message/rfc822",
		    round % 3 ? "7bit" : "base64", NULL);

		for (int k = 0; k < 8; k++) {
			size_t n = (size_t)(rand_r(&seed) % (int)sizeof buf);

			for (size_t i = 0; i < n; i++) {
				static const char alpha[] = "-=b\r\n:;\"'*% "
				    "Content-Type multipart/mixed boundary=";
				buf[i] = rand_r(&seed) % 4 == 0 ?
				    (char)rand_r(&seed) :
				    alpha[rand_r(&seed) % (sizeof alpha - 1)];
			}
			tg_mime_feed(m, buf, n);
		}
		tg_mime_finish(m);
		ck_assert_int_le(tg_mime_nparts(m), TG_MIME_PARTS_MAX + 1);
		tg_mime_free(m);
	}
}
END_TEST

struct eom_case {
	const char	*msg;		/* corpus message */
	const char	*rules;		/* eom stage body */
	enum tg_action	 want;
	const char	*rule;		/* that decided, "" for none */
};

static const struct eom_case eom_cases[] = {
	/* Extension lists. */
	{ "double-ext", "rule exe: attachment.extension in { exe, scr, js } "
	    "=> reject 554 5.7.1 \"no\"", TG_ACT_REJECT, "exe" },
	{ "simple-attach", "rule exe: attachment.extension in { exe, scr } "
	    "=> reject 554 5.7.1 \"no\"", TG_ACT_CONTINUE, "" },
	/* Double extensions, correlated within one part. */
	{ "double-ext", "rule dbl: attachment.inner_extension in { pdf, jpg }"
	    " and attachment.extension in { exe, scr } => reject 554 5.7.1 "
	    "\"x\"", TG_ACT_REJECT, "dbl" },
	{ "nested", "rule dbl: attachment.inner_extension matches \".\" "
	    "=> reject 554 5.7.1 \"x\"", TG_ACT_CONTINUE, "" },
	/* Names, types, archives. */
	{ "nested", "rule js: attachment.name matches \"\\\\.js$\" => "
	    "quarantine \"js\"", TG_ACT_QUARANTINE, "js" },
	{ "nested", "rule zip: attachment.archive => reject 554 5.7.1 \"z\"",
	    TG_ACT_REJECT, "zip" },
	{ "simple-attach", "rule zip: attachment.archive => reject 554 "
	    "5.7.1 \"z\"", TG_ACT_CONTINUE, "" },
	{ "single-part-attachment", "rule t: attachment.type in "
	    "{ \"application/x-msdos-program\" } => reject 554 5.7.1 \"t\"",
	    TG_ACT_REJECT, "t" },
	{ "rfc2231", "rule vbs: attachment.extension == \"vbs\" => reject "
	    "550 5.7.1 \"v\"", TG_ACT_REJECT, "vbs" },
	{ "encoded-words", "rule js: attachment.extension == js => reject "
	    "554 5.7.1 \"j\"", TG_ACT_REJECT, "js" },
	/* Either of two different names counts. */
	{ "conflicting-names", "rule exe: attachment.extension == exe => "
	    "reject 554 5.7.1 \"e\"", TG_ACT_REJECT, "exe" },
	/* Hash blocklist (exe's SHA-256 is in the list). */
	{ "double-ext", "rule h: attachment.sha256 in hashes => reject 554 "
	    "5.7.1 \"h\"", TG_ACT_REJECT, "h" },
	{ "simple-attach", "rule h: attachment.sha256 in hashes => reject "
	    "554 5.7.1 \"h\"", TG_ACT_CONTINUE, "" },
	{ "simple-attach", "rule h: attachment.sha256 == \"6314c0edd72cb646"
	    "cd44e3982d37e08efe59752409bde62875bb831cbf3fa699\" => reject "
	    "554 5.7.1 \"h\"", TG_ACT_REJECT, "h" },
	/* Malformed MIME: the policy decides... */
	{ "missing-final", "rule m: mime.malformed => quarantine \"m\"",
	    TG_ACT_QUARANTINE, "m" },
	{ "missing-final", "rule exe: attachment.extension == exe => reject "
	    "554 5.7.1 \"e\"", TG_ACT_REJECT, "exe" },
	/* ...and a part it could not read is taken as suspicious. */
	{ "broken-boundary", "rule exe: attachment.extension == exe => "
	    "reject 554 5.7.1 \"e\"", TG_ACT_REJECT, "exe" },
	{ "no-boundary-param", "rule exe: attachment.extension == exe => "
	    "reject 554 5.7.1 \"e\"", TG_ACT_REJECT, "exe" },
	{ "broken-boundary", "rule ok: attachment.extension not in { exe } "
	    "=> reject 554 5.7.1 \"e\"", TG_ACT_CONTINUE, "" },
	{ "plain", "rule m: mime.malformed or attachment.malformed => reject "
	    "554 5.7.1 \"m\"", TG_ACT_CONTINUE, "" },
	{ "qp-and-bad-b64", "rule m: attachment.malformed and "
	    "attachment.name == \"bad.bin\" => reject 554 5.7.1 \"m\"",
	    TG_ACT_REJECT, "m" },
	{ "nested", "rule n: mime.parts == 5 => reject 554 5.7.1 \"n\"",
	    TG_ACT_REJECT, "n" },
	{ "nested", "rule n: attachment.size > 100 => reject 554 5.7.1 \"n\"",
	    TG_ACT_CONTINUE, "" },
	/* Header checks. */
	{ "plain", "rule nodate: header.occurrences \"Date\" == 0 => "
	    "reject 554 5.6.0 \"Date required\"", TG_ACT_REJECT, "nodate" },
	{ "plain", "rule from: header.occurrences \"From\" != 1 => reject 554 "
	    "5.6.0 \"one From\"", TG_ACT_CONTINUE, "" },
	{ "encoded-words", "rule s: header.decoded \"Subject\" matches "
	    "\"K\xc3\xb6ln und M\xc3\xbcnchen$\" => reject 554 5.7.1 \"s\"",
	    TG_ACT_REJECT, "s" },
	{ "encoded-words", "rule s: header \"Subject\" matches \"K\xc3\xb6ln\""
	    " => reject 554 5.7.1 \"s\"", TG_ACT_CONTINUE, "" },
	{ "header-8bit", "rule s: header.decoded \"Subject\" matches "
	    "\"Gr\xc3\xbc\xc3\x9f" "e\" => reject 554 5.7.1 \"s\"",
	    TG_ACT_REJECT, "s" },
	{ "encoded-words", "rule f: header.decoded \"From\" == "
	    "\"J\xc3\xb6rg <j@example.org>\" => reject 554 5.7.1 \"f\"",
	    TG_ACT_REJECT, "f" },
	/* File names that hide what they are... */
	{ "spoofed-names", "rule s: attachment.name_spoofed => reject 554 "
	    "5.7.1 \"s\"", TG_ACT_REJECT, "s" },
	{ "spoofed-names", "rule s: attachment.name_spoofed and "
	    "attachment.extension == exe and attachment.name matches "
	    "\"^invoice\" => reject 554 5.7.1 \"s\"", TG_ACT_REJECT, "s" },
	/* ...the extension is the real one, not the one shown ("fdp.exe"
	 * shows as "exe.pdf")... */
	{ "spoofed-names", "rule s: attachment.extension == pdf and "
	    "attachment.type != \"application/pdf\" => reject 554 5.7.1 "
	    "\"s\"", TG_ACT_CONTINUE, "" },
	/* ...and legitimate non-ASCII names do not count. */
	{ "clean-names", "rule s: attachment.name_spoofed or "
	    "attachment.malformed => reject 554 5.7.1 \"s\"",
	    TG_ACT_CONTINUE, "" },
	{ "simple-attach", "rule s: attachment.name_spoofed => reject 554 "
	    "5.7.1 \"s\"", TG_ACT_CONTINUE, "" },
	/* Invalid UTF-8 is broken, not a disguise. */
	{ "bad-utf8-names", "rule s: attachment.name_spoofed and "
	    "attachment.extension == scr => reject 554 5.7.1 \"s\"",
	    TG_ACT_CONTINUE, "" },
	{ "bad-utf8-names", "rule m: attachment.malformed and "
	    "attachment.extension == scr => reject 554 5.7.1 \"m\"",
	    TG_ACT_REJECT, "m" },
	{ "header-8bit", "rule m: attachment.malformed and attachment.name "
	    "matches \"^Lebenslauf\" => quarantine \"m\"",
	    TG_ACT_QUARANTINE, "m" },
	/* Tables keyed by an attachment attribute. */
	{ "double-ext", "rule t: attachment.extension in ext_types and "
	    "attachment.type != ext_types[attachment.extension] => reject "
	    "554 5.7.1 \"t\"", TG_ACT_REJECT, "t" },
	{ "simple-attach", "rule t: attachment.extension in ext_types and "
	    "attachment.type != ext_types[attachment.extension] => reject "
	    "554 5.7.1 \"t\"", TG_ACT_CONTINUE, "" },
	{ "simple-attach", "rule z: attachment.size > ext_max["
	    "attachment.extension] default 1g => reject 552 5.3.4 \"z\"",
	    TG_ACT_REJECT, "z" },
	{ "double-ext", "rule z: attachment.size > ext_max["
	    "attachment.extension] default 1g => reject 552 5.3.4 \"z\"",
	    TG_ACT_CONTINUE, "" },
	{ "simple-attach", "rule z: size > ext_max[attachment.extension] "
	    "default 1g => reject 552 5.3.4 \"z\"", TG_ACT_REJECT, "z" },
};

START_TEST(test_eom_rules)
{
	const struct eom_case *c = &eom_cases[_i];
	struct tg_verdict v;
	struct tg_policy *p;
	struct tg_session s;
	char path[512], *text, *msg;
	size_t len;

	text = tg_xasprintf("table hashes list \"hashes.list\"\n"
	    "table ext_types map \"ext-types.map\"\n"
	    "table ext_max map \"ext-max.map\"\n"
	    "stage eom { %s }\n", c->rules);
	p = policy(text);
	snprintf(path, sizeof path, SRCDIR "/data/mime/%s.eml", c->msg);
	msg = slurp(path, &len);
	tg_session_init(&s, "t");
	logged[0] = '\0';
	tg_log_set_sink(sink);
	feed_message(&s, p, msg, len, 100);
	tg_engine_eval(p, &s, TG_STAGE_EOM, &v);
	tg_log_set_sink(NULL);
	ck_assert_msg(v.action == c->want, "case %d (%s): got %s, want %s\n%s",
	    _i, c->msg, tg_action_name(v.action), tg_action_name(c->want),
	    logged);
	ck_assert_str_eq(v.rule, c->rule);
	tg_session_free(&s);
	tg_policy_unref(p);
	free(msg);
	free(text);
}
END_TEST

/* The hash-types setting limits which parts are hashed. */
START_TEST(test_hash_types)
{
	struct tg_policy *p = policy("mime hash-types { \"application/x-*\", "
	    "\"image/*\" }\nstage eom { rule h: attachment.sha256 == \"x\" "
	    "=> warn \"x\" }");
	struct tg_session s;
	struct tg_mime *m;
	char path[512], *msg;
	size_t len;

	snprintf(path, sizeof path, SRCDIR "/data/mime/simple-attach.eml");
	msg = slurp(path, &len);
	tg_session_init(&s, "t");
	feed_message(&s, p, msg, len, 4096);
	m = tg_session_mime(&s, p);
	/* application/pdf is not image/ *; "application/x-*" is not a
	 * prefix pattern, so nothing is hashed. */
	ck_assert_str_eq(tg_mime_part(m, 1)->sha256, "");
	tg_session_free(&s);
	tg_policy_unref(p);

	p = policy("mime hash-types { \"application/*\" }\nstage eom { rule h:"
	    " attachment.sha256 == \"x\" => warn \"x\" }");
	tg_session_init(&s, "t");
	feed_message(&s, p, msg, len, 4096);
	m = tg_session_mime(&s, p);
	ck_assert_str_eq(tg_mime_part(m, 0)->sha256, "");
	ck_assert_int_eq(strlen(tg_mime_part(m, 1)->sha256), 64);
	tg_session_free(&s);
	tg_policy_unref(p);
	free(msg);
}
END_TEST

/* No MIME rule: the body is only counted, no parser is started. */
START_TEST(test_no_parser_without_rules)
{
	struct tg_policy *p = policy("stage eom { rule r: size > 10m => "
	    "reject 552 5.3.4 \"big\" }");
	struct tg_session s;

	tg_session_init(&s, "t");
	tg_session_add_body_data(&s, p, "--b\r\n", 5);
	ck_assert_ptr_null(s.mime);
	ck_assert_ptr_null(tg_session_mime(&s, p));
	ck_assert_int_eq(s.size, 5);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

/* Policy errors of the new syntax. */
START_TEST(test_policy_errors)
{
	static const char *const bad[] = {
		"stage rcpt { rule r: attachment.name == x => continue }",
		"stage eom { rule r: header.occurrences == 1 => continue }",
		"stage eom { rule r: header.occurrences \"a b\" == 1 => "
		    "continue }",
		"stage eom { rule r: mime.malformed == 1 => continue }",
		"stage rcpt { rule r: attachment.name_spoofed => continue }",
		"mime hash-types { }",
		"mime hash-type { x }",
		"mime hash-types { a }\nmime hash-types { b }",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct tg_diag d;

		tg_diag_init(&d);
		ck_assert_msg(tg_policy_load_string("t.conf", bad[i], NULL,
		    &d) == NULL, "accepted: %s", bad[i]);
		ck_assert_int_gt(d.errors, 0);
		tg_diag_free(&d);
	}
}
END_TEST

static Suite *
mime_suite(void)
{
	Suite *s = suite_create("mime");
	TCase *tc = tcase_create("mime");

	tcase_add_loop_test(tc, test_corpus, 0,
	    sizeof corpus / sizeof corpus[0]);
	tcase_add_loop_test(tc, test_decode_words, 0,
	    sizeof words / sizeof words[0]);
	tcase_add_loop_test(tc, test_params, 0,
	    sizeof params / sizeof params[0]);
	tcase_add_loop_test(tc, test_name_spoofed, 0,
	    sizeof names / sizeof names[0]);
	tcase_add_test(tc, test_long_part_headers);
	tcase_add_test(tc, test_deep_nesting);
	tcase_add_test(tc, test_too_many_parts);
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_random_input);
	tcase_add_loop_test(tc, test_eom_rules, 0,
	    sizeof eom_cases / sizeof eom_cases[0]);
	tcase_add_test(tc, test_hash_types);
	tcase_add_test(tc, test_no_parser_without_rules);
	tcase_add_test(tc, test_policy_errors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(mime_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
