/* dkim_ed25519.h - ed25519-sha256 DKIM signatures made with OpenSSL (see
 * dkim_ed25519.c for why not with libopendkim). Internal to filter/.
 * Threads: one signer belongs to one session. */
#ifndef DKIM_ED25519_H
#define DKIM_ED25519_H

#include <stddef.h>

struct dkim_ed;

struct dkim_ed *dkim_ed_new(void);
struct dkim_ed *dkim_ed_free(struct dkim_ed *);	/* NULL */
/* The body, in chunks as it comes (CRLF line ends). */
void	dkim_ed_body(struct dkim_ed *, const char *buf, size_t len);
/* The DKIM-Signature value (folded with LF + TAB; caller frees), or
 * NULL: key is the Ed25519 EVP_PKEY (borrowed); hdrs the message's fields "Name:
 * value" in order; signed_names the names to sign (NULL-terminated),
 * From oversigned. Once per signer. */
char	*dkim_ed_sign(struct dkim_ed *, void *key, const char *domain, const char *selector,
	    char *const *hdrs, size_t nhdrs, const char *const *signed_names);

#endif
