/* fuzz_engine.c - libFuzzer target: random sequences of what the milter
 * glue does (macros and arguments set, stages evaluated out of order,
 * RSET, abort, headers, body) through the engine against one policy that
 * uses every kind of condition and action (greylisting at rcpt and eom
 * included: a deferral is always 451 4.7.1). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_engine.h"
#include "tg_log.h"
#include "tg_policy.h"
#include "tg_session.h"

static const char fuzz_text[] =
    "store memory { greylist-max-keys 10000 }\n"
    "greylist g1 { delay 1s retry-window 1m }\n"
    "greylist g2 { key client.address/16, sender.domain, rcpt.domain, helo\n"
    "  delay 2s auto-allow 2 for 1h detail-delimiter \"-\" }\n"
    "stage connect {\n"
    " rule c1: client.address in { 10.0.0.0/8, ::1 } and "
    "  not client.name matches \"^mail\\.\" => tempfail 421 4.7.0 "
    "  \"busy ${client_address} ${client_name}\"\n"
    " rule c2: listener.port == 587 => accept\n"
    "}\n"
    "stage helo {\n"
    " rule h1: helo matches \"^[0-9.]+$\" or helo == \"localhost\" => "
    "  reject 550 5.7.1 \"bad helo ${helo}\"\n"
    " rule h2: tls and tls.cipher_bits < 128 => warn \"weak ${helo}\"\n"
    "}\n"
    "stage mail {\n"
    " rule m1 dry-run: not authenticated and listener.port == 587 => "
    "  reject 530 5.7.0 \"Authentication required\"\n"
    " rule m2: size.declared > 10m => reject 552 5.3.4 \"big ${sender}\"\n"
    " rule m3: sender == \"\" and sasl.login => add-header X-Null \"${login}\"\n"
    " rule m4: sender.domain in { \"spam.example\" } => discard\n"
    " rule m5: sasl.author != sender => quarantine \"author ${sender}\"\n"
    "}\n"
    "stage rcpt {\n"
    " rule r1: rcpt.count > 3 => tempfail 452 4.5.3 \"Too many ${rcpt}\"\n"
    " rule r2: rcpt.local == \"nobody\" or rcpt.domain matches \"\\.invalid$\""
    "  => reject 550 5.1.1 \"no ${rcpt}\"\n"
    " rule r3: rcpt.local matches \"^g\" => greylist g1\n"
    "}\n"
    "stage data { rule d1: tls.version == \"TLSv1\" => continue }\n"
    "stage eom {\n"
    " rule e1: size > 1k and not header \"Date\" => reject 554 5.6.0 \"x\"\n"
    " rule e2: header \"Subject\" matches \"(a|b)+c\" => add-header "
    "  X-Rule \"${rule} ${queue_id} ${listener}\"\n"
    " rule e3: sender.local matches \"^g\" => greylist g2 \"wait "
    "  ${greylist_wait} ${sender}\"\n"
    "}\n";

static struct tg_policy *fuzz_policy;

static void
fuzz_quiet(int prio, const char *line)
{
	(void)prio;
	(void)line;
}

/* fuzz_take - the next length-prefixed string of the input. */
static char *
fuzz_take(const uint8_t **p, const uint8_t *end)
{
	size_t n;
	char *s;

	if (*p >= end)
		return tg_xstrdup("");
	n = **p;
	(*p)++;
	if (n > (size_t)(end - *p))
		n = (size_t)(end - *p);
	s = tg_xstrndup((const char *)*p, n);
	*p += n;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct tg_session s;
	struct tg_verdict v;

	if (fuzz_policy == NULL) {
		struct tg_diag d;

		tg_log_set_sink(fuzz_quiet);
		tg_diag_init(&d);
		fuzz_policy = tg_policy_load_string("fuzz.conf", fuzz_text,
		    NULL, &d);
		if (fuzz_policy == NULL)
			abort();
		tg_diag_free(&d);
	}
	tg_session_init(&s, "F");
	while (p < end) {
		uint8_t op = *p++;
		char *a, *b;

		switch (op % 7) {
		case 0:
			a = fuzz_take(&p, end);
			(void)tg_session_set(&s, (enum tg_attr)(op / 7 %
			    TG_A_COUNT), a);
			free(a);
			break;
		case 1:
			tg_engine_eval(fuzz_policy, &s, (enum tg_stage)(op / 7 %
			    TG_STAGE_COUNT), &v);
			if ((v.action == TG_ACT_REJECT && v.code[0] != '5') ||
			    (v.action == TG_ACT_TEMPFAIL && v.code[0] != '4') ||
			    strpbrk(v.text, "\r\n") != NULL)
				abort();
			/* A greylist deferral is 451 4.7.1, never more. */
			if (v.greylisted && (v.action != TG_ACT_TEMPFAIL ||
			    strcmp(v.code, "451") != 0 ||
			    strcmp(v.xcode, "4.7.1") != 0))
				abort();
			break;
		case 2:
			tg_session_reset_message(&s);
			break;
		case 3:
			a = fuzz_take(&p, end);
			b = fuzz_take(&p, end);
			tg_session_add_header(&s, fuzz_policy, a, b);
			free(a);
			free(b);
			break;
		case 4:
			tg_session_add_body(&s, (size_t)op * 97);
			break;
		case 5:
			a = fuzz_take(&p, end);
			tg_session_set_queue_id(&s, a);
			free(a);
			break;
		case 6:
			(void)tg_session_set(&s, (enum tg_attr)(op / 7 %
			    TG_A_COUNT), NULL);
			break;
		}
	}
	tg_session_free(&s);
	return 0;
}
