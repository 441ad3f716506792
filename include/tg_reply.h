/* tg_reply.h - the one place SMTP reply text is built and checked.
 * Threads: pure functions. */
#ifndef TG_REPLY_H
#define TG_REPLY_H

#include <stddef.h>
#include "tg_engine.h"

/* Check a configured reply: code is 4xx for TEMPFAIL and 5xx for REJECT,
 * xcode is class.subject.detail (RFC 3463) with the class equal to the
 * code's first digit. Returns NULL or a static text saying what is wrong. */
const char *tg_reply_check(enum tg_action, const char *code,
	    const char *xcode);
/* Set v to a REJECT or TEMPFAIL with this reply; the text is made safe
 * (control bytes and non-ASCII become '?', CR/LF removed, bounded). If the
 * code and xcode do not agree with the action, v becomes the generic
 * 451 4.3.0 tempfail instead and the mismatch is logged. */
void	tg_reply_set(struct tg_verdict *v, enum tg_action, const char *code,
	    const char *xcode, const char *text);
/* Internal error: TEMPFAIL 451 4.3.0 with text. Never accept. */
void	tg_reply_internal(struct tg_verdict *v, const char *text);
/* Copy text for smfi_setreply(): '%' doubled, bounded by dstsz. */
char	*tg_reply_milter_escape(char *dst, size_t dstsz, const char *text);

#endif
