/* tg_table.h - named lookup tables loaded from files, in the formats
 * Postfix operators already keep. One entry per line, '#' comments, blank
 * lines ignored, CRLF accepted.
 *   cidr: "network/prefix [value]"   (Postfix cidr_table(5) syntax;
 *         IPv4 and IPv6; the longest matching prefix wins)
 *   list: "key"  (an address, @domain or domain; anything after the first
 *         white space is ignored)
 *   map:  "key value..."  (the value is the rest of the line, trimmed)
 * Keys of list and map are case-insensitive.
 * Owns: its entries. Lookups return pointers borrowed from the table, valid
 * while the table lives. Threads: read-only after open, lookups may run
 * concurrently. */
#ifndef TG_TABLE_H
#define TG_TABLE_H

#include <stddef.h>
#include "tg_diag.h"
#include "tg_ip.h"

enum tg_table_type {
	TG_TABLE_CIDR,
	TG_TABLE_LIST,
	TG_TABLE_MAP,
};

struct tg_table;

/* Load path. Errors (missing or unreadable file, malformed line, duplicate
 * key) are added to diag as "path:line:col: error: ..." and NULL is returned
 * when any was found. name is the table's name in the policy. */
struct tg_table *tg_table_open(const char *name, enum tg_table_type,
	    const char *path, struct tg_diag *);
struct tg_table *tg_table_free(struct tg_table *);	/* returns NULL */

const char	*tg_table_name(const struct tg_table *);
enum tg_table_type tg_table_type(const struct tg_table *);
size_t		 tg_table_count(const struct tg_table *);
/* Parse "cidr", "list", "map"; returns 0 or -1. */
int		 tg_table_type_parse(const char *, enum tg_table_type *);

/* list/map: exact, case-insensitive key lookup. Returns 1 (found, *value
 * set to the value or "" for list), 0 (not found) or -1 (error). value may
 * be NULL. */
int	tg_table_lookup(const struct tg_table *, const char *key,
	    const char **value);
/* list/map keyed by address, with the fallbacks Postfix uses for
 * access(5): "user@domain", then "user@", then "@domain", then "domain" and
 * each parent domain, dotted then bare (for "u@a.example.com":
 * "a.example.com", ".example.com", "example.com", ".com", "com"). A bare
 * domain key (no '@') matches any address or domain under it only through
 * that parent-domain walk. Same return values as tg_table_lookup. */
int	tg_table_lookup_addr(const struct tg_table *, const char *addr,
	    const char **value);
/* list/map keyed by a domain: "sub.example.com", then ".example.com"
 * and ".com": a key with a leading dot matches every subdomain of what
 * follows it (not that domain itself), as in Postfix tables. Address
 * literals ("[192.0.2.1]") match only themselves. Same return values. */
int	tg_table_lookup_domain(const struct tg_table *, const char *domain,
	    const char **value);
/* cidr: longest-prefix match. Same return values. */
int	tg_table_lookup_ip(const struct tg_table *, const struct tg_ip *,
	    const char **value);

/* Call fn(arg, value, line) for every entry ("" for entries without a
 * value), for checks at load time; stops at and returns the first non-zero
 * result of fn. */
int	tg_table_each_value(const struct tg_table *,
	    int (*fn)(void *arg, const char *value, int line), void *arg);
const char	*tg_table_path(const struct tg_table *);

#endif
