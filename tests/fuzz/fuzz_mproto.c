/* fuzz_mproto.c - libFuzzer target: raw milter packets from the MTA's
 * side into the native engine's session (filter/mproto_sess.c), as the
 * event loop feeds it: in pieces of every size (an incomplete packet kept
 * for the next read), commands handed off run at once, and between pieces
 * a new policy may be published (the session moves to it at MAIL, or
 * keeps the old one when it needs steps not negotiated). Lengths,
 * truncation, odd macro lists, commands out of order, version and flag
 * combinations come from the input. Checked on every answer: each is a
 * whole packet of a command the protocol allows, a reply code's text is
 * one printable line with the right first digit, and what the session
 * keeps of the input never grows past one packet.
 * Input: byte 0 the socket kind (bit 0: unix) and the first policy (bit
 * 1); byte 1 seeds the sizes of the pieces; the rest is the stream. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_log.h"
#include "tg_policy.h"
#include "mproto_impl.h"
#include "mproto_wire.h"

/* Everything a message can meet: rules at every stage (connect rules make
 * HELO answered, a DATA rule keeps DATA), headers and body (MIME), limits
 * in the memory store, every action, Authentication-Results. */
static const char fuzz_full[] =
    "authentication-results \"mx.example\"\n"
    "store memory { max-keys 1000 }\n"
    "limit conn { key client.address/24 count connections max 50 per 1m }\n"
    "limit rc { key client.address count recipients max 30 per 1m }\n"
    "stage connect {\n"
    " rule c1: client.address in { 10.0.0.0/8 } => reject 550 5.7.1 \"no\"\n"
    " rule c2: limit conn exceeded => tempfail 421 4.7.0 \"busy\"\n"
    "}\n"
    "stage helo { rule h1: not helo.valid => reject 501 5.5.2 \"helo %\" }\n"
    "stage mail {\n"
    " rule m1: size.declared > 10m => reject 552 5.3.4 \"big ${sender}\"\n"
    " rule m2: sender.domain == \"discard.example\" => discard\n"
    " rule m3: sender.domain == \"hold.example\" => quarantine \"held\"\n"
    "}\n"
    "stage rcpt {\n"
    " rule r1: rcpt.count > 5 => tempfail 452 4.5.3 \"Too many ${rcpt}\"\n"
    " rule r2: limit rc exceeded => tempfail 450 4.7.1 \"rate\"\n"
    " rule r3: rcpt.local == \"nobody\" => reject 550 5.1.1 \"no ${rcpt}\"\n"
    "}\n"
    "stage data { rule d1: tls.version == \"TLSv1\" => reject 554 5.7.0 \"x\" }\n"
    "stage eom {\n"
    " rule e1: header.count > 50 => reject 554 5.6.0 \"headers\"\n"
    " rule e2: attachment.extension in { \"exe\" } => reject 554 5.7.1 \"exe\"\n"
    " rule e3: header \"Subject\" matches \"^spam\" => add-header "
    "  X-Spam \"yes ${queue_id}\"\n"
    " rule e4: size > 100k => quarantine \"large\"\n"
    "}\n";

/* Nothing beyond the envelope: headers, body and DATA are skipped. */
static const char fuzz_env[] =
    "stage mail { rule m1: sender == \"\" => reject 550 5.7.1 \"null\" }\n"
    "stage rcpt { rule r1: rcpt.domain == \"x.example\" => accept }\n";

static struct tg_policy *fuzz_pol[2];
static unsigned fuzz_cur;

static void
fuzz_quiet(int prio, const char *line)
{
	(void)prio;
	(void)line;
}

static struct tg_policy *
fuzz_load(const char *text)
{
	struct tg_diag d;
	struct tg_policy *p;

	tg_diag_init(&d);
	p = tg_policy_load_string("fuzz.conf", text, NULL, &d);
	if (p == NULL || d.errors > 0)
		abort();
	tg_diag_free(&d);
	return p;
}

/* fuzz_publish - make policy i the published one (a reload) */
static void
fuzz_publish(unsigned i)
{
	fuzz_cur = i;
	tg_policy_publish(tg_policy_ref(fuzz_pol[i]));
}

/* fuzz_check_out - every answer queued is a whole, allowed packet */
static void
fuzz_check_out(struct mp_sess *s)
{
	const char *p = s->out.p;
	size_t len = s->out.len, off = 0;

	while (off < len) {
		uint32_t n;
		char c;

		if (len - off < MP_HDRLEN)
			abort();
		n = mp_get32(p + off);
		if (n == 0 || n - 1 > MP_DATA_MAX || len - off - 4 < n)
			abort();
		c = p[off + 4];
		if (strchr("Ocrtydhimqp", c) == NULL)
			abort();
		if (c == SMFIR_REPLYCODE) {
			const char *t = p + off + MP_HDRLEN;
			size_t tl = n - 1;

			if (tl < 5 || t[tl - 1] != '\0' || (t[0] != '4' &&
			    t[0] != '5') || t[3] != ' ')
				abort();
			for (size_t i = 0; i + 1 < tl; i++)
				if ((unsigned char)t[i] < 0x20 ||
				    (unsigned char)t[i] > 0x7e)
					abort();
		}
		off += 4 + n;
	}
	mp_buf_drop(&s->out, len);
}

/* fuzz_run - feed buf (len bytes: what is kept plus a new piece); the
 * loop's work done inline. Returns 0 when the session ended. */
static int
fuzz_run(struct mp_sess *s, struct mp_buf *keep)
{
	enum mp_feed r;
	size_t used;

	for (;;) {
		r = mp_sess_feed(s, keep->p, keep->len, &used);
		mp_buf_drop(keep, used);
		fuzz_check_out(s);
		if (r == MP_FEED_CLOSE)
			return 0;
		if (r == MP_FEED_MORE)
			break;
		/* Handed off: the packet is whole at the start. */
		r = mp_sess_job(s, keep->p);
		mp_buf_drop(keep, MP_HDRLEN + s->job_len);
		fuzz_check_out(s);
		if (r == MP_FEED_CLOSE)
			return 0;
	}
	/* Only an incomplete packet stays. */
	if (keep->len > MP_PKT_MAX + 4)
		abort();
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_buf keep = { NULL, 0, 0 };
	struct mp_sess *s;
	uint32_t seed;
	size_t off = 2;

	if (size < 2)
		return 0;
	if (fuzz_pol[0] == NULL) {
		tg_log_set_sink(fuzz_quiet);
		fuzz_pol[0] = fuzz_load(fuzz_full);
		fuzz_pol[1] = fuzz_load(fuzz_env);
	}
	fuzz_publish((data[0] >> 1) & 1);
	seed = data[1] * 2654435761u + 1;
	s = mp_sess_new(-1, data[0] & 1);
	while (off < size) {
		size_t n;

		seed = seed * 1103515245u + 12345u;
		/* Mostly whole reads, sometimes a byte or a few at a time. */
		n = seed >> 28 == 0 ? 1 : seed >> 28 < 4 ? (seed >> 16 & 15) + 1 :
		    size - off;
		if (n > size - off)
			n = size - off;
		mp_buf_add(&keep, data + off, n);
		off += n;
		if (!fuzz_run(s, &keep))
			break;
		/* Now and then a reload between two reads. */
		if ((seed >> 8 & 31) == 0)
			fuzz_publish(fuzz_cur ^ 1);
	}
	mp_sess_free(s);
	mp_buf_free(&keep);
	return 0;
}
