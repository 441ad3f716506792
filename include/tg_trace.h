/* tg_trace.h - a record of how the engine came to a verdict: every rule
 * tried, whether it matched, and for each condition the values that
 * decided it (attribute values, table hits, DNS answers, the SPF result,
 * rate-limit counts). tollgate-test -v prints it. Off unless a session's
 * trace pointer is set; the engine then pays one pointer test per rule
 * and per condition, nothing else.
 * Owns: a struct tg_trace owns the lines it holds for the rule being
 * evaluated. Threads: belongs to one session. */
#ifndef TG_TRACE_H
#define TG_TRACE_H

#include <stddef.h>

#include "tg.h"
#include "tg_policy.h"

struct tg_trace {
	/* Receives each line, without line end; arg is the caller's. A
	 * rule's line comes first ("rule NAME (FILE:LINE): matched => ..."),
	 * then one line per condition evaluated, indented by two blanks:
	 * "LINE:COL CONDITION -> true|false|undecided [VALUES]". Notes (a
	 * verdict kept from an earlier stage, rules skipped) start with
	 * "note: ". */
	void	(*line)(void *arg, const char *text);
	/* Optional: each rule's result (1 matched, 0 not, -1 undecided). */
	void	(*rule)(void *arg, const struct tg_rule *r, int result);
	void	*arg;
	/* Private: the conditions of the rule being evaluated, sent once
	 * the rule's result is known. */
	char	*buf;
	size_t	 len, cap;
};

void	tg_trace_init(struct tg_trace *t, void (*line)(void *, const char *),
	    void *arg);
void	tg_trace_free(struct tg_trace *t);

/* Called by the engine: before a rule (result -2) and after it (1
 * matched, 0 not, -1 undecided). */
void	tg_trace_rule(struct tg_trace *t, const struct tg_rule *r,
	    int result);
void	tg_trace_note(struct tg_trace *t, const char *fmt, ...)
	    TG_PRINTFLIKE(2, 3);

/* A condition as written (without the "not" of "not in", "not matches",
 * "not owned-by", which the parser makes a separate node): "rcpt.domain
 * in local_domains", "size.declared > 20480". */
void	tg_trace_expr(const struct tg_expr *e, char *buf, size_t bufsz);

#endif
