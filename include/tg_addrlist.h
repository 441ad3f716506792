/* tg_addrlist.h - RFC 5322 address lists (From:, Sender:, Reply-To:) for
 * the sender ownership check: the addresses, and every address-like text
 * a reader would see in display names and comments (encoded words
 * decoded), so that neither can carry a forged identity past the check.
 * Owns: the strings in a struct tg_addrlist. Threads: pure functions. */
#ifndef TG_ADDRLIST_H
#define TG_ADDRLIST_H

#include <stddef.h>

#define TG_ADDRLIST_MAX		100	/* addresses (and shown ones) kept */
#define TG_ADDRLIST_IN_MAX	(64 * 1024)	/* longest header value */

struct tg_addrlist {
	char	**addr;		/* mailboxes, normalised as by tg_addr.h */
	size_t	  naddr;
	char	**shown;	/* addresses seen in display names, comments
				 * and encoded words, normalised */
	size_t	  nshown;
};

/* Parse an unfolded header value as an RFC 5322 address-list (groups,
 * display names, comments, quoted strings, source routes, the obsolete
 * empty members). Returns TG_OK, TG_ERR_SYNTAX for anything that is not
 * an address list (it is then empty), or TG_ERR_TOOLONG past the limits
 * above. The caller frees with tg_addrlist_free() in every case. */
int	tg_addrlist_parse(const char *value, struct tg_addrlist *);
void	tg_addrlist_free(struct tg_addrlist *);

/* Decode RFC 2047 encoded words in text (B and Q, any charset: the bytes
 * are kept as they are) into out, always terminated. Returns the length
 * written. Malformed encoded words are copied undecoded. */
size_t	tg_addrlist_decode(const char *text, char *out, size_t outsz);

#endif
