/* dkim_fixture.h - what the DKIM and DMARC tests (check_dkim.c,
 * check_dmarc.c) share: a scratch directory with keys made for the run
 * (RSA and Ed25519, mode 0600), DNS answers seeded into the policy's
 * resolver cache (no server, no socket: the resolver points at a port
 * where nothing answers, so anything not seeded fails), and a message fed
 * to the session as the milter glue feeds it. Threads: one test at a time
 * (Check may fork per test). */
#ifndef DKIM_FIXTURE_H
#define DKIM_FIXTURE_H

#include <stddef.h>
#include "tg_policy.h"
#include "tg_session.h"

extern char	dk_dir[64];

/* Check fixture: dk_dir, the log kept in dk_log (last lines). */
void	dk_setup(void);
void	dk_teardown(void);
extern char	dk_log[8192];

/* Write text to dk_dir/name with mode. */
void	dk_write(const char *name, const char *text, int mode);
/* A key in dk_dir/name (PEM, 0600): RSA of bits, or Ed25519 when bits
 * is 0 (from seed32 when not NULL). Returns its DNS record text
 * "v=DKIM1; k=...; p=..." (caller frees). */
char	*dk_key(const char *name, int bits, const unsigned char *seed32);
/* A policy from text (tables and keys relative to dk_dir), which must
 * load; its resolver answers nothing but what is seeded. */
struct tg_policy *dk_policy(const char *text);
/* Seed a TXT answer (txt NULL: NXDOMAIN) for name. */
void	dk_seed(struct tg_policy *, const char *name, const char *txt);
/* Feed msg ("\n" line ends, header, empty line, body) to s as the
 * milter glue does: fields with their leading white space, the end of
 * the header, then the body in chunks of chunk bytes. */
void	dk_feed(struct tg_policy *, struct tg_session *, const char *msg,
	    size_t chunk);
/* The text of attribute a (param for dkim.result), "" when unknown. */
const char *dk_attr(struct tg_policy *, struct tg_session *, enum tg_attr a,
	    const char *param);
/* Sign msg under p (which must hold a dkim-sign rule at eom): the
 * message with the DKIM-Signature fields on top ("\n" line ends), or NULL
 * when nothing was signed. Caller frees. */
char	*dk_sign(struct tg_policy *, const char *msg, const char *sender);
/* RFC 8463 Appendix A.3, and its two keys' records (A.2). */
extern const char dk_rfc8463_msg[];
extern const char dk_rfc8463_ed25519[], dk_rfc8463_rsa[];

#endif
