/* fuzz_txn.c - libFuzzer target (tools/fuzz.sh txn): a whole SMTP
 * transaction (connection macros, HELO, envelope, headers, body chunks;
 * txn_decode.c) replayed through the engine as the milter glue drives it
 * (txn_run.c), under a shipped policy, then replayed again in variants
 * that a hostile client could send instead. Checked, abort() with the
 * two transcripts on stderr when broken:
 *
 *   1. no crash, no sanitizer report;
 *   2. every reject is 5xx/5.x.x, every tempfail 4xx/4.x.x, reply texts
 *      one line of printable ASCII;
 *   3. no evasion: when the base message is refused (reject, tempfail,
 *      discard or quarantine, at any stage, or no recipient accepted),
 *      none of these variants is delivered:
 *      a. filler headers (names no rule reads) inserted at chosen places,
 *         up to 1,500 of them and up to 2,000 bytes each, past the
 *         1,000-header and 256 KiB caps of what the session keeps;
 *      b. one or two headers repeated, same or another value, anywhere;
 *      c. the headers reordered, keeping the order among fields of the
 *         same name (so "the first From" stays the same field: only the
 *         interleaving of different names changes, which means nothing
 *         to a reader of the message);
 *      d. the body in other chunks: here the whole transcript (every
 *         verdict, rule, reply and effect) must be identical;
 *      e. the message sent as the second transaction of a connection,
 *         after another one (delivered, or abandoned at some step);
 *      f. a parameter of a Content- field given twice, another value
 *         first or last (boundary="b1"; boundary="zzz"): the same
 *         ambiguity as a repeated field.
 *      For a-c everything up to DATA must also be identical, and for e
 *      a recipient the base refused must stay refused (unless the
 *      variant refused one the base took: rcpt.count counts only
 *      accepted ones, so that can move the 101st recipient).
 *
 * Why these are true statements about a correct filter with the shipped
 * policies: their header rules only count fields (header.count, .bytes,
 * .longest, header.occurrences: more fields can only add refusals), check
 * every From:/Sender: (owned-by) or read the first field of a name, and
 * the MIME rules read the top-level Content-* fields; a variant that
 * hides a field behind the caps or adds a second, different Content-*
 * field is ambiguous input, which the product refuses rather than
 * guesses. Rate limits only count up within a connection.
 *
 * Policies (P line): the files in policies/ that need no DNS as they
 * are, and isp-antispam.conf without its rules that read DNS (see
 * fuzz_offline()); the directory is TOLLGATE_POLICY_DIR or the source
 * tree's. Threads: libFuzzer runs one input at a time. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_log.h"
#include "tg_policy.h"
#include "tg_store.h"
#include "txn.h"

#ifndef POLICYDIR
#define POLICYDIR	"policies"
#endif

static struct fuzz_policy {
	const char		*file;
	int			 offline;	/* drop the DNS rules */
	struct tg_policy	*p;
} fuzz_policies[] = {
	{ "isp-antispam.conf", 1, NULL },
	{ "mx-inbound.conf", 0, NULL },
	{ "submission.conf", 0, NULL },
	{ "default.conf", 0, NULL },
	{ "isp-outbound.conf", 0, NULL },
	{ "dry-run-example.conf", 0, NULL },
};
#define FUZZ_NPOL	(sizeof fuzz_policies / sizeof fuzz_policies[0])

/* Attributes answered from DNS: a rule reading one cannot run offline. */
static const char *const fuzz_dns_words[] = { "dnslist", "dnslist.score",
    "spf", "client.ptr", "client.rdns", "client.fcrdns", "helo.resolves",
    "dkim", "dkim.result", "dkim.domains", "dkim.aligned", "dmarc",
    "dmarc.policy", "dmarc.domain", "dmarc.org_domain" };
static const enum tg_attr fuzz_dns_attrs[] = { TG_A_DNSLIST,
    TG_A_DNSLIST_SCORE, TG_A_SPF, TG_A_CLIENT_PTR, TG_A_CLIENT_RDNS,
    TG_A_CLIENT_FCRDNS, TG_A_HELO_RESOLVES, TG_A_DKIM, TG_A_DKIM_RESULT,
    TG_A_DKIM_DOMAINS, TG_A_DKIM_ALIGNED, TG_A_DMARC, TG_A_DMARC_POLICY,
    TG_A_DMARC_DOMAIN, TG_A_DMARC_ORG };

static const char *fuzz_cur_policy;
static int fuzz_show;		/* FUZZ_TXN_SHOW set: print transcripts */

static void
fuzz_quiet(int prio, const char *line)
{
	(void)prio;
	(void)line;
}

static int
fuzz_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* fuzz_offline - the policy text without the rules that read a DNS
 * attribute, everything else as written. Loading the whole file and
 * answering DNS with failures would not do: its connect rules then
 * tempfail every connection (not client.rdns cannot be decided), and no
 * message would reach the header and attachment rules. Dropping a rule
 * only takes away a refusal, an accept or an added header (the SPF
 * ones: ${spf_auth} runs the check): the remaining rules are the shipped
 * ones, word for word. A small scanner: comments, strings (a
 * "${dnslist}" in a reply text is not a condition), braces, words. */
static char *
fuzz_offline(const char *src)
{
	size_t n = strlen(src), i = 0, copied = 0, o = 0;
	size_t rule_at = (size_t)-1;
	char *out = tg_xmalloc(n + 1);
	int depth = 0, dns = 0;

#define RULE_END(at) do {						\
	if (rule_at != (size_t)-1) {					\
		if (!dns) {						\
			memcpy(out + o, src + rule_at, (at) - rule_at);	\
			o += (at) - rule_at;				\
		}							\
		copied = (at);						\
		rule_at = (size_t)-1;					\
	}								\
} while (0)
	while (i < n) {
		char c = src[i];

		if (c == '#') {
			while (i < n && src[i] != '\n')
				i++;
		} else if (c == '"') {
			for (i++; i < n && src[i] != '"'; i++) {
				/* ${spf_auth} in a text runs the SPF check,
				 * ${dkim_auth} and ${dmarc_...} DKIM and DMARC */
				if ((strncmp(src + i, "${spf", 5) == 0 ||
				    strncmp(src + i, "${dkim", 6) == 0 ||
				    strncmp(src + i, "${dmarc", 7) == 0) &&
				    rule_at != (size_t)-1)
					dns = 1;
				if (src[i] == '\\' && i + 1 < n)
					i++;
			}
			i++;
		} else if (c == '{') {
			depth++;
			i++;
		} else if (c == '}') {
			if (depth == 1)
				RULE_END(i);
			depth--;
			i++;
		} else if (fuzz_word_char(c)) {
			size_t s = i;

			while (i < n && fuzz_word_char(src[i]))
				i++;
			if (depth == 1 && i - s == 4 &&
			    strncmp(src + s, "rule", 4) == 0) {
				RULE_END(s);
				memcpy(out + o, src + copied, s - copied);
				o += s - copied;
				rule_at = copied = s;
				dns = 0;
			}
			for (size_t k = 0; rule_at != (size_t)-1 &&
			    k < sizeof fuzz_dns_words / sizeof fuzz_dns_words[0];
			    k++)
				if (strlen(fuzz_dns_words[k]) == i - s &&
				    strncmp(src + s, fuzz_dns_words[k], i - s) == 0)
					dns = 1;
		} else
			i++;
	}
	if (i > n)
		i = n;
	RULE_END(i);
#undef RULE_END
	memcpy(out + o, src + copied, n - copied);
	o += n - copied;
	out[o] = '\0';
	return out;
}

static char *
fuzz_read(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long len;

	if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 ||
	    (len = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0) {
		fprintf(stderr, "fuzz_txn: cannot read %s (set "
		    "TOLLGATE_POLICY_DIR to the policies directory)\n", path);
		abort();
	}
	buf = tg_xmalloc((size_t)len + 1);
	if (fread(buf, 1, (size_t)len, fp) != (size_t)len)
		abort();
	buf[len] = '\0';
	fclose(fp);
	return buf;
}

/* The memory store's clock: it stands still during a run, and jumps
 * past the longest window (31 days) before each, so that every run starts
 * from counts of zero, whatever ran before. Clearing the store instead
 * walks its 16,384 buckets, a fifth of the time of a run; it is done
 * every FUZZ_CLEAR_RUNS runs, long before the expired keys left behind
 * could fill a shard (tens per run against 15,625 a shard). */
#define FUZZ_CLOCK_STEP_MS	(41LL * 86400 * 1000)
#define FUZZ_CLEAR_RUNS		256
static int64_t fuzz_now = FUZZ_CLOCK_STEP_MS;

static int64_t
fuzz_clock(void *arg)
{
	(void)arg;
	return fuzz_now;
}

static void
fuzz_init(void)
{
	const char *dir = getenv("TOLLGATE_POLICY_DIR");

	if (dir == NULL || *dir == '\0')
		dir = POLICYDIR;
	fuzz_show = getenv("FUZZ_TXN_SHOW") != NULL;
	tg_log_set_sink(fuzz_quiet);
	tg_store_mem_set_clock(tg_store_memory(), fuzz_clock, NULL);
	for (size_t i = 0; i < FUZZ_NPOL; i++) {
		struct fuzz_policy *fp = &fuzz_policies[i];
		char *path = tg_xasprintf("%s/%s", dir, fp->file);
		struct tg_diag d;

		tg_diag_init(&d);
		if (fp->offline) {
			char *text = fuzz_read(path), *off = fuzz_offline(text);

			if (fuzz_show)
				fprintf(stderr, "--- %s as loaded:\n%s", fp->file,
				    off);
			fp->p = tg_policy_load_string(fp->file, off, dir, &d);
			free(text);
			free(off);
		} else
			fp->p = tg_policy_load(path, &d);
		if (fp->p == NULL) {
			for (size_t k = 0; k < d.n; k++)
				fprintf(stderr, "%s\n", d.msgs[k]);
			fprintf(stderr, "fuzz_txn: cannot load %s\n", path);
			abort();
		}
		for (size_t k = 0; k < sizeof fuzz_dns_attrs /
		    sizeof fuzz_dns_attrs[0]; k++)
			if (tg_policy_uses(fp->p, fuzz_dns_attrs[k])) {
				fprintf(stderr, "fuzz_txn: %s reads DNS "
				    "(%s)\n", fp->file,
				    tg_attrs[fuzz_dns_attrs[k]].name);
				abort();
			}
		tg_diag_free(&d);
		free(path);
	}
}

/* fuzz_run - one connection with the messages given, all counts zero */
static void
fuzz_run(const struct tg_policy *p, const struct txn_conn *conn,
    const struct txn_msg *msgs, size_t n, struct txn_out *outs)
{
	static unsigned runs;

	if (++runs % FUZZ_CLEAR_RUNS == 0)
		tg_store_mem_clear(tg_store_memory());
	fuzz_now += FUZZ_CLOCK_STEP_MS;
	txn_run(p, conn, msgs, n, outs);
}

static void
fuzz_fail(const char *what, const char *why, const struct txn_out *base,
    const struct txn_out *var)
{
	fprintf(stderr, "fuzz_txn: INVARIANT BROKEN (policy %s): %s: %s\n"
	    "--- base message ---\n%s--- %s ---\n%s---\n", fuzz_cur_policy,
	    what, why, base->log != NULL ? base->log : "",
	    what, var != NULL && var->log != NULL ? var->log : "");
	abort();
}

static void
fuzz_replies(const char *what, const struct txn_out *base,
    const struct txn_out *o)
{
	if (o->bad_reply != NULL)
		fuzz_fail(what, o->bad_reply, base, o);
}

/* fuzz_out_join - put first's transcript before o's (o's outcome stays) */
static void
fuzz_out_join(struct txn_out *o, const struct txn_out *first)
{
	char *log = tg_xasprintf("%s--- second message ---\n%s",
	    first->log != NULL ? first->log : "", o->log != NULL ? o->log : "");

	free(o->log);
	o->log = log;
	o->len = o->cap = strlen(log);
}

/* fuzz_no_evasion - invariant 3 for one variant */
static void
fuzz_no_evasion(const char *what, const struct txn_out *base,
    const struct txn_out *var, int same_envelope)
{
	/* Up to DATA (the whole transcript when the message ended before),
	 * a variant of the headers is the same transaction. */
	size_t pre = base->pre_len > 0 ? base->pre_len : base->len;

	if (fuzz_show)
		fprintf(stderr, "--- %s: %s\n", what, var->delivered ?
		    "delivered" : "refused");
	fuzz_replies(what, base, var);
	if (same_envelope && (var->len < pre || (base->pre_len > 0 &&
	    var->pre_len != pre) || memcmp(base->log, var->log, pre) != 0))
		fuzz_fail(what, "the envelope stages answered differently "
		    "for the same envelope", base, var);
	if (!base->delivered && var->delivered)
		fuzz_fail(what, "delivered, but the base message was refused",
		    base, var);
	if (base->delivered && var->delivered &&
	    (var->rcpt_ok & ~base->rcpt_ok) != 0 &&
	    (base->rcpt_ok & ~var->rcpt_ok) == 0)
		fuzz_fail(what, "delivered to a recipient the base message "
		    "was refused for", base, var);
}

/* fuzz_rand - the variants' choices (xorshift32 from the V seed) */
static uint32_t
fuzz_rand(uint32_t *st)
{
	uint32_t x = *st != 0 ? *st : 0x9e3779b9u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *st = x;
}

/* fuzz_pad_value - a filler value of size class c */
static char *
fuzz_pad_value(unsigned c)
{
	static const size_t len[] = { 1, 40, 300, 990, 2000 };
	size_t n = len[c % 5], o = 0;
	char *v = tg_xmalloc(n + 3 * (n / 72) + 1);

	for (size_t i = 0; i < n; i++) {
		/* Class 4 is folded into lines of 72. */
		if (c % 5 == 4 && i > 0 && i % 72 == 0) {
			memcpy(v + o, "\r\n\t", 3);
			o += 3;
		}
		v[o++] = 'p';
	}
	v[o] = '\0';
	return v;
}

/* Variant a: filler headers in up to three blocks. */
static void
fuzz_variant_pad(const struct txn_msg *base, const struct txn_params *par,
    uint32_t *rs, struct txn_msg *v, char *desc, size_t descsz)
{
	size_t at[3], cnt[3], nb = 1 + fuzz_rand(rs) % 3, left, k, num = 0;
	char *val = fuzz_pad_value(par->pad_size), name[24];

	txn_msg_copy(v, base);
	for (size_t i = 0; i < v->nhdr; i++) {
		free(v->hdr[i].name);
		free(v->hdr[i].value);
	}
	v->nhdr = 0;
	left = par->pad_count;
	for (k = 0; k < nb; k++) {
		at[k] = fuzz_rand(rs) % (base->nhdr + 1);
		cnt[k] = k + 1 == nb ? left : fuzz_rand(rs) % (left + 1);
		left -= cnt[k];
	}
	snprintf(desc, descsz, "a (%u filler headers, value class %u, at",
	    par->pad_count, par->pad_size % 5);
	for (size_t i = 0; i <= base->nhdr; i++) {
		for (k = 0; k < nb; k++) {
			if (at[k] != i || cnt[k] == 0)
				continue;
			snprintf(desc + strlen(desc), descsz - strlen(desc),
			    " %zu:%zu", at[k], cnt[k]);
			for (size_t j = 0; j < cnt[k]; j++) {
				snprintf(name, sizeof name, "X-Pad-%zu", num++);
				txn_msg_add_header(v, name, val);
			}
		}
		if (i < base->nhdr)
			txn_msg_add_header(v, base->hdr[i].name,
			    base->hdr[i].value);
	}
	snprintf(desc + strlen(desc), descsz - strlen(desc), ")");
	free(val);
}

/* Variant b: one or two headers repeated. */
static void
fuzz_variant_repeat(const struct txn_msg *base, uint32_t *rs,
    struct txn_msg *v, char *desc, size_t descsz)
{
	size_t n = 1 + fuzz_rand(rs) % 2;

	txn_msg_copy(v, base);
	snprintf(desc, descsz, "b (repeated:");
	for (size_t k = 0; k < n; k++) {
		const struct txn_hdr *h = &base->hdr[fuzz_rand(rs) %
		    base->nhdr];
		size_t at = fuzz_rand(rs) % (v->nhdr + 1);
		int same = fuzz_rand(rs) & 1;
		char *val = same ? tg_xstrdup(h->value) :
		    txn_dict_other_value(h->name, fuzz_rand(rs));

		snprintf(desc + strlen(desc), descsz - strlen(desc),
		    " %s at %zu%s", h->name, at, same ? "" : " other value");
		txn_msg_insert_header(v, at, h->name, val);
		free(val);
	}
	snprintf(desc + strlen(desc), descsz - strlen(desc), ")");
}

/* Variant c: shuffled, but each name's fields keep their order. */
static void
fuzz_variant_reorder(const struct txn_msg *base, uint32_t *rs,
    struct txn_msg *v)
{
	size_t n = base->nhdr, *perm = tg_xmalloc((n + 1) * sizeof *perm);
	char *used = tg_xcalloc(n + 1, 1);

	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	for (size_t i = n; i > 1; i--) {
		size_t j = fuzz_rand(rs) % i, t = perm[i - 1];

		perm[i - 1] = perm[j];
		perm[j] = t;
	}
	txn_msg_copy(v, base);
	for (size_t i = 0; i < v->nhdr; i++) {
		free(v->hdr[i].name);
		free(v->hdr[i].value);
	}
	v->nhdr = 0;
	/* Slot s gets the earliest unused field named like perm[s]. */
	for (size_t s = 0; s < n; s++)
		for (size_t j = 0; j < n; j++)
			if (!used[j] && strcasecmp(base->hdr[j].name,
			    base->hdr[perm[s]].name) == 0) {
				used[j] = 1;
				txn_msg_add_header(v, base->hdr[j].name,
				    base->hdr[j].value);
				break;
			}
	free(perm);
	free(used);
}

/* Variant d: the body in other chunks. */
static void
fuzz_variant_split(const struct txn_msg *base, uint32_t *rs,
    struct txn_msg *v, char *desc, size_t descsz)
{
	size_t len = base->bodylen, mode = fuzz_rand(rs) % 4, step;

	txn_msg_copy(v, base);
	free(v->cut);
	v->cut = NULL;
	v->ncut = 0;
	if (len < 2 || mode == 0) {
		snprintf(desc, descsz, "d (body in one chunk)");
		return;
	}
	v->cut = tg_xmalloc(TXN_CUT_MAX * sizeof *v->cut);
	if (mode == 1) {		/* a few cuts anywhere */
		size_t k = 1 + fuzz_rand(rs) % 8;

		for (size_t i = 0; i < k; i++)
			v->cut[v->ncut++] = 1 + fuzz_rand(rs) % (len - 1);
		/* ascending, no repeats */
		for (size_t i = 1; i < v->ncut; i++)
			for (size_t j = i; j > 0 && v->cut[j - 1] > v->cut[j];
			    j--) {
				size_t t = v->cut[j];

				v->cut[j] = v->cut[j - 1];
				v->cut[j - 1] = t;
			}
		for (size_t i = 1, o = 1; i <= v->ncut; i++)
			if (i == v->ncut) {
				v->ncut = o;
				break;
			} else if (v->cut[i] != v->cut[o - 1])
				v->cut[o++] = v->cut[i];
		snprintf(desc, descsz, "d (body in %zu chunks)", v->ncut + 1);
	} else if (mode == 2) {		/* small steps */
		step = 1 + fuzz_rand(rs) % 7;
		for (size_t e = step; e < len && v->ncut < TXN_CUT_MAX;
		    e += step)
			v->cut[v->ncut++] = e;
		snprintf(desc, descsz, "d (body in chunks of %zu)", step);
	} else {			/* between CR and LF, around LF */
		for (size_t e = 1; e < len && v->ncut < TXN_CUT_MAX; e++)
			if (v->body[e - 1] == '\r' || v->body[e] == '\n' ||
			    v->body[e - 1] == '\n')
				v->cut[v->ncut++] = e;
		snprintf(desc, descsz, "d (body cut at every line break "
		    "byte, %zu chunks)", v->ncut + 1);
	}
}

/* Variant e: another message first, in the same connection. */
static void
fuzz_variant_second(const struct txn_msg *base, unsigned prefix,
    struct txn_msg v[2], char *desc, size_t descsz)
{
	static const char *const kinds[] = { "the same message",
	    "a plain message", "the message from <>" };
	static const char *const ends[] = { "delivered or refused at end",
	    "after MAIL", "after RCPT", "after DATA", "after the headers",
	    "in the body" };
	unsigned kind = prefix % 3, end = prefix / 3 % TXN_END_COUNT;
	int abort_cb = prefix / (3 * TXN_END_COUNT) % 2;

	txn_msg_copy(&v[0], base);
	if (kind == 1) {
		for (size_t i = 0; i < v[0].nhdr; i++) {
			free(v[0].hdr[i].name);
			free(v[0].hdr[i].value);
		}
		v[0].nhdr = 0;
		txn_msg_add_header(&v[0], "From", "Alice <alice@example.org>");
		txn_msg_add_header(&v[0], "To", "bob@example.org");
		txn_msg_add_header(&v[0], "Date",
		    "Mon, 7 Dec 2026 10:00:00 +0000");
		txn_msg_add_header(&v[0], "Subject", "hello");
		txn_msg_add_header(&v[0], "Message-ID", "<0@example.net>");
		free(v[0].body);
		v[0].body = tg_xstrdup("Hello.\r\n");
		v[0].bodylen = strlen(v[0].body);
		free(v[0].cut);
		v[0].cut = NULL;
		v[0].ncut = 0;
	} else if (kind == 2) {
		free(v[0].sender);
		v[0].sender = tg_xstrdup("<>");
	}
	v[0].end = (enum txn_end)end;
	v[0].abort_cb = abort_cb;
	tg_strlcpy(v[0].qid, "4QFUZZ0", sizeof v[0].qid);
	txn_msg_copy(&v[1], base);
	snprintf(desc, descsz, "e (second message, after %s ended %s%s)",
	    kinds[kind], ends[end], end != TXN_END_EOM && abort_cb ?
	    ", with the abort callback" : "");
}

/* Variant f: a parameter of a Content- field repeated. Returns 0 when
 * no Content- field has a parameter. */
static int
fuzz_variant_param(const struct txn_msg *base, uint32_t *rs,
    struct txn_msg *v, char *desc, size_t descsz)
{
	size_t cand[TXN_HDR_MAX], n = 0, i;
	char *val = NULL;

	for (i = 0; i < base->nhdr && n < TXN_HDR_MAX; i++)
		if (strncasecmp(base->hdr[i].name, "Content-", 8) == 0)
			cand[n++] = i;
	for (size_t tries = 0; n > 0 && val == NULL && tries < n; tries++) {
		i = cand[fuzz_rand(rs) % n];
		val = txn_dict_repeat_param(base->hdr[i].value, fuzz_rand(rs));
	}
	if (val == NULL)
		return 0;
	txn_msg_copy(v, base);
	free(v->hdr[i].value);
	v->hdr[i].value = val;
	snprintf(desc, descsz, "f (%s: %.150s)", v->hdr[i].name, val);
	return 1;
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct txn_input in;
	struct txn_out base, out, two[2];
	struct txn_msg v, vv[2];
	const struct tg_policy *p;
	uint32_t rs;
	char desc[256];

	if (!ready) {
		fuzz_init();
		ready = 1;
	}
	txn_decode(data, size, &in);
	p = fuzz_policies[in.policy % FUZZ_NPOL].p;
	fuzz_cur_policy = fuzz_policies[in.policy % FUZZ_NPOL].file;
	rs = in.par.seed;

	fuzz_run(p, &in.conn, &in.msg, 1, &base);
	fuzz_replies("base message", &base, &base);
	if (fuzz_show)
		fprintf(stderr, "--- policy %s, base message:\n%s",
		    fuzz_cur_policy, base.log);

	fuzz_variant_pad(&in.msg, &in.par, &rs, &v, desc, sizeof desc);
	fuzz_run(p, &in.conn, &v, 1, &out);
	fuzz_no_evasion(desc, &base, &out, 1);
	txn_msg_free(&v);
	txn_out_free(&out);

	if (in.msg.nhdr > 0) {
		fuzz_variant_repeat(&in.msg, &rs, &v, desc, sizeof desc);
		fuzz_run(p, &in.conn, &v, 1, &out);
		fuzz_no_evasion(desc, &base, &out, 1);
		txn_msg_free(&v);
		txn_out_free(&out);
	}

	if (in.msg.nhdr > 1) {
		fuzz_variant_reorder(&in.msg, &rs, &v);
		fuzz_run(p, &in.conn, &v, 1, &out);
		fuzz_no_evasion("c (headers reordered, same-name order kept)",
		    &base, &out, 1);
		txn_msg_free(&v);
		txn_out_free(&out);
	}

	if (fuzz_variant_param(&in.msg, &rs, &v, desc, sizeof desc)) {
		fuzz_run(p, &in.conn, &v, 1, &out);
		fuzz_no_evasion(desc, &base, &out, 1);
		txn_msg_free(&v);
		txn_out_free(&out);
	}

	fuzz_variant_split(&in.msg, &rs, &v, desc, sizeof desc);
	fuzz_run(p, &in.conn, &v, 1, &out);
	fuzz_replies(desc, &base, &out);
	if (out.len != base.len || memcmp(out.log, base.log, base.len) != 0)
		fuzz_fail(desc, "a different transcript for the same body",
		    &base, &out);
	txn_msg_free(&v);
	txn_out_free(&out);

	fuzz_variant_second(&in.msg, in.par.prefix, vv, desc, sizeof desc);
	fuzz_run(p, &in.conn, vv, 2, two);
	fuzz_replies(desc, &base, &two[0]);
	/* Shown on failure: both messages of the connection. */
	fuzz_out_join(&two[1], &two[0]);
	fuzz_no_evasion(desc, &base, &two[1], 0);
	txn_msg_free(&vv[0]);
	txn_msg_free(&vv[1]);
	txn_out_free(&two[0]);
	txn_out_free(&two[1]);

	txn_out_free(&base);
	txn_input_free(&in);
	return 0;
}
