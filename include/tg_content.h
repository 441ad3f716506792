/* tg_content.h - message content attributes for the engine (check_content.c):
 * header.occurrences, header.decoded, mime.* and the per-part attachment.*.
 * Borrowed results point into the session. Threads: as the session. */
#ifndef TG_CONTENT_H
#define TG_CONTENT_H

#include <stddef.h>
#include "tg_mime.h"
#include "tg_policy.h"
#include "tg_session.h"

/* The attachment a rule is being evaluated for: part, and which of its
 * file names (a part that declares two names is tried with each). */
struct tg_content_cur {
	const struct tg_mime_part	*part;
	size_t				 name;
};

/* Does a rule of p read MIME facts (so the body must be parsed)? */
int	tg_mime_wanted(const struct tg_policy *);
int	tg_content_attr(enum tg_attr);		/* one of ours? */
int	tg_content_part_attr(enum tg_attr);	/* attachment.* */
/* Does the condition use attachment.* (the rule runs once per part)? */
int	tg_content_per_part(const struct tg_expr *);
/* Values; NULL or -1 when unknown. */
const char *tg_content_str(const struct tg_session *,
	    const struct tg_content_cur *, const struct tg_expr *);
int	tg_content_num(const struct tg_session *,
	    const struct tg_content_cur *, const struct tg_expr *,
	    long long *);
int	tg_content_bool(const struct tg_session *,
	    const struct tg_content_cur *, const struct tg_expr *);
/* The value a CMP node with a vtable compares with, when its key e->vattr
 * is a content attribute (attachment.extension): as tg_lookup_value(). */
int	tg_content_lookup_value(const struct tg_session *,
	    const struct tg_content_cur *, const struct tg_expr *,
	    long long *num, const char **str);
/* 1 when e reads a header whose value depends on fields the session did
 * not keep (past its caps): header "X", header.decoded, header.from and
 * header.sender whose first field was dropped, header.occurrences of a
 * name not counted. The condition cannot be decided; logged once per
 * message. */
int	tg_content_header_lost(struct tg_session *, const struct tg_expr *);
/* 1 when the current part is opaque (its headers were lost to malformed
 * MIME) and e tests one of its facts: the test is then taken as true. */
int	tg_content_suspicious(const struct tg_content_cur *,
	    const struct tg_expr *);

#endif
