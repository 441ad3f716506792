/* reply.c - the single choke point for SMTP replies: codes agree with the
 * action (RFC 5321 reply codes, RFC 3463 enhanced codes), text is made
 * safe for the wire and for libmilter. Threads: pure functions. */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "tg.h"
#include "tg_log.h"
#include "tg_metrics.h"
#include "tg_reply.h"

/* reply_digits - count of leading digits in s, at most max+1. */
static size_t
reply_digits(const char *s, size_t max)
{
	size_t n = 0;

	while (n <= max && isdigit((unsigned char)s[n]))
		n++;
	return n;
}

const char *
tg_reply_check(enum tg_action action, const char *code, const char *xcode)
{
	char want;
	size_t n;

	if (action == TG_ACT_REJECT)
		want = '5';
	else if (action == TG_ACT_TEMPFAIL)
		want = '4';
	else
		return "only reject and tempfail carry a reply code";
	if (code == NULL || reply_digits(code, 3) != 3 || code[3] != '\0')
		return "the reply code must be three digits";
	if (code[0] != want)
		return want == '5' ? "reject needs a 5xx reply code" :
		    "tempfail needs a 4xx reply code";
	if (code[1] > '5')
		return "the second digit of a reply code is 0 to 5";
	/* RFC 3463: class "." subject (1-3 digits) "." detail (1-3 digits) */
	if (xcode == NULL || xcode[0] != want || xcode[1] != '.')
		return want == '5' ? "reject needs a 5.x.x enhanced status code" :
		    "tempfail needs a 4.x.x enhanced status code";
	n = reply_digits(xcode + 2, 3);
	if (n < 1 || n > 3 || xcode[2 + n] != '.')
		return "the enhanced status code must be class.subject.detail";
	xcode += 3 + n;
	n = reply_digits(xcode, 3);
	if (n < 1 || n > 3 || xcode[n] != '\0')
		return "the enhanced status code must be class.subject.detail";
	return NULL;
}

/* reply_clean - copy text, printable ASCII only: CR, LF, other control
 * bytes and 8-bit bytes become '?' so nothing can end the reply line or
 * start a new one. */
static void
reply_clean(char *dst, size_t dstsz, const char *text)
{
	size_t o = 0;

	for (; text != NULL && *text != '\0' && o + 1 < dstsz; text++) {
		unsigned char c = (unsigned char)*text;

		dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[o] = '\0';
}

void
tg_reply_set(struct tg_verdict *v, enum tg_action action, const char *code,
    const char *xcode, const char *text)
{
	const char *why;

	if ((why = tg_reply_check(action, code, xcode)) != NULL) {
		tg_log_err("invalid reply \"%s %s\" for %s: %s; answering "
		    "451 4.3.0 instead", code ? code : "", xcode ? xcode : "",
		    tg_action_name(action), why);
		tg_reply_internal(v, "Temporary local problem, try again later");
		return;
	}
	v->action = action;
	tg_strlcpy(v->code, code, sizeof v->code);
	tg_strlcpy(v->xcode, xcode, sizeof v->xcode);
	reply_clean(v->text, sizeof v->text, text);
}

void
tg_reply_internal(struct tg_verdict *v, const char *text)
{
	v->action = TG_ACT_TEMPFAIL;
	v->internal = 1;
	tg_metrics_error(TG_M_INTERNAL_ERROR);
	tg_strlcpy(v->code, "451", sizeof v->code);
	tg_strlcpy(v->xcode, "4.3.0", sizeof v->xcode);
	reply_clean(v->text, sizeof v->text, text);
}

char *
tg_reply_milter_escape(char *dst, size_t dstsz, const char *text)
{
	size_t o = 0;

	if (dstsz == 0)
		return dst;
	for (; *text != '\0'; text++) {
		size_t need = *text == '%' ? 2 : 1;

		if (o + need + 1 > dstsz)
			break;
		dst[o++] = *text;
		if (*text == '%')
			dst[o++] = '%';
	}
	dst[o] = '\0';
	return dst;
}
