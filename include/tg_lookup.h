/* tg_lookup.h - table lookups on behalf of conditions: which key an
 * attribute gives and with which fallbacks ("rcpt.domain in local"), and
 * values looked up for comparisons ("size > limits[sasl.login] default
 * 10m"). Threads: read-only on the policy; the session is the caller's. */
#ifndef TG_LOOKUP_H
#define TG_LOOKUP_H

#include "tg_policy.h"
#include "tg_session.h"

/* Look attribute a of s up in t: ip attributes by longest prefix, address
 * attributes with the access(5) fallbacks (a routed recipient only as
 * written: its domain is unknown), domain attributes (rcpt.domain,
 * sender.domain, helo, client.name) with ".parent" subdomain keys, the
 * rest exactly. Returns 1 (found; *value set when value is not NULL), 0
 * (not found, or the attribute is unknown) or -1 (error). */
int	tg_lookup_attr(const struct tg_session *, enum tg_attr a,
	    const struct tg_table *t, const char **value);

/* The value a CMP node with a vtable compares with: the entry of
 * e->vtable for the key attribute e->vattr, else the default. For number
 * attributes *num is set, for the others *str (borrowed from the table
 * or e). Returns 1 (a value), 0 (none: no entry and no default) or -1
 * (the entry is not a number; logged). */
int	tg_lookup_value(const struct tg_session *, const struct tg_expr *e,
	    long long *num, const char **str);
/* The same with the key given (NULL: unknown), for key attributes whose
 * value is not in the session (attachment.extension: check_content.c). */
int	tg_lookup_value_key(const struct tg_session *, const struct tg_expr *e,
	    const char *key, long long *num, const char **str);

#endif
