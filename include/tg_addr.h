/* tg_addr.h - envelope address normalisation (RFC 5321 mailbox syntax).
 * Threads: pure functions. */
#ifndef TG_ADDR_H
#define TG_ADDR_H

#include <stddef.h>

#define TG_ADDR_MAX	512	/* longest address we store (RFC 5321: 256) */

/* Normalise one MAIL FROM / RCPT TO argument as the MTA passes it
 * ("<user@Example.COM>", "user@example.com", "<>", "<@a,@b:user@c>").
 * On success writes the bare address into out (angle brackets and source
 * route removed, domain lower-cased, local part in its one canonical form:
 * unquoted when its content is a dot-atom, "\"alice\"" and "al\\ice"
 * quoted both becoming "alice", else quoted with only '"' and '\\'
 * escaped, e.g. "\"a b\"", "\"a..b\""; case kept) and returns 0;
 * "<>" gives the empty string. Returns TG_ERR_SYNTAX for input that is not
 * an address (NUL/CR/LF or other control bytes, unbalanced brackets or
 * quotes, empty local part or domain, more than one unquoted '@') and
 * TG_ERR_TOOLONG when it does not fit out (size outsz). */
int	tg_addr_normalize(const char *in, char *out, size_t outsz);
/* The same, and *routed (when not NULL) tells whether the address asks
 * for routing the MTA might follow: a source route (stripped from out),
 * or '%', '!' or '@' anywhere in the local part ("user%other@local",
 * "other!user@local", "\"user@other\"@local"). Such an address may end up
 * at a domain other than the one after its '@'. Address literals are
 * checked ("[1.2.3.4]", "[IPv6:...]") and written in one canonical form. */
int	tg_addr_parse(const char *in, char *out, size_t outsz, int *routed);
/* The same, and *domain (when not NULL) is what tg_addr_domain(out) would
 * return, without scanning out again. */
int	tg_addr_parse_domain(const char *in, char *out, size_t outsz,
	    int *routed, const char **domain);
/* A lookup-table key ("local@domain", "local@", "local") with its local
 * part in the canonical form above, the rest as written, so that a key
 * written "\"alice\"@example.org" matches the address alice@example.org.
 * Writes it into out (size outsz) and returns its length; TG_ERR_SYNTAX
 * when the local part is not one (quotes, '\\', '@'), TG_ERR_TOOLONG. */
int	tg_addr_canon_key(const char *key, size_t len, char *out,
	    size_t outsz);
/* Split a normalised address: pointer to the domain after the last
 * unquoted '@', or NULL if there is none. */
const char *tg_addr_domain(const char *addr);

#endif
