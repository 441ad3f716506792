/* tg_grey.h - greylisting: the declaration "greylist NAME { ... }", the
 * action "greylist NAME" that answers a first attempt 451 4.7.1 and lets
 * its retry through, the recipients a session keeps for greylisting at
 * data or eom, and the operator commands. The records themselves live in
 * a store (tg_store.h: the memory store's records, or Redis). Owns: a
 * greylist owns its names and key list; the store it names is
 * process-wide. Threads: declarations are read-only in a policy; the
 * per-message recipients belong to their session. */
#ifndef TG_GREY_H
#define TG_GREY_H

#include <stddef.h>
#include <stdint.h>
#include "tg_policy.h"
#include "tg_rate.h"

/* Recipients a message may have for greylisting at data or eom: beyond
 * this many the rule cannot check them all and defers the message
 * (logged). Postfix refuses more by default (smtpd_recipient_limit). */
#define TG_GREY_RCPTS_MAX	1000

/* Defaults of a declaration (doc/policy-language.md, "Greylisting"). */
#define TG_GREY_DELAY_MS	(5LL * 60 * 1000)
#define TG_GREY_WINDOW_MS	(24LL * 3600 * 1000)
#define TG_GREY_EXPIRE_MS	(35LL * 86400 * 1000)

struct tg_session;
struct tg_store;
struct tg_verdict;

struct tg_greylist {
	char			*name;
	char			*prefix;	/* "NAME:greylist" */
	char			*allow_prefix;	/* "NAME:greylist-allow" */
	struct tg_limit_key	 keys[TG_LIMIT_KEYS_MAX];
	size_t			 nkeys;
	int			 client_key;	/* index of client.address in
						 * keys, -1: none */
	int64_t			 delay_ms;	/* a retry passes after it */
	int64_t			 window_ms;	/* ...and within this of the
						 * first attempt */
	int64_t			 expire_ms;	/* a passed triplet, since its
						 * last use */
	int64_t			 allow_n;	/* auto-allow after this many
						 * passes; 0: off */
	int64_t			 allow_ms;	/* ...for this long, since its
						 * last use */
	char			 delim;		/* detail delimiter, 0: none */
	struct tg_store		*store;		/* not owned */
	int			 on_error_skip;	/* fail open */
	const char		*file;		/* in policy->files */
	int			 line;
};

void	tg_greylist_free(struct tg_greylist *);

/* The outcome of one greylisting check. */
enum tg_grey_outcome {
	TG_GREY_DEFER,		/* a first attempt, or a retry too early */
	TG_GREY_PASS,		/* passes: evaluation goes on */
	TG_GREY_FAIL,		/* the store failed and the greylist says
				 * on-error tempfail */
};

/* The action "greylist g" at stage st (rcpt, data or eom): at rcpt the
 * triplet of the current recipient, at data and eom those of every
 * recipient the message has (the message is deferred when any of them
 * is), the client's auto-allow entry first. DEFER sets ${greylist_wait}
 * (tg_grey_wait_var()) for the reply, which the engine builds (451
 * 4.7.1). dry_run: the records are kept as usual and a deferral is only
 * logged (PASS). Every deferral and failure is logged. */
enum tg_grey_outcome tg_grey_apply(const struct tg_policy *p,
	    struct tg_session *s, const struct tg_greylist *g,
	    enum tg_stage st, int dry_run);
/* ${greylist_wait}: the seconds the last deferral of s asked for, or NULL
 * (buf of at least 24 bytes). */
const char *tg_grey_wait_var(const struct tg_session *, char *buf,
	    size_t bufsz);

/* A recipient accepted at rcpt: kept for greylisting at data or eom when
 * policy p has such a rule. Forgotten with the message. */
void	tg_grey_rcpt_note(const struct tg_policy *p, struct tg_session *s);
void	tg_grey_txn_end(struct tg_session *);

/* g's key for this session into key (keysz bytes): "NAME:greylist" and
 * "|PART" per key part as tg_rate_key_part() writes them, the addresses
 * normalised first (tg_grey_addr()), "<>" for a null sender, "\?" for a
 * part that is unknown. rcpt and rcpt_domain stand for the recipient at
 * data and eom (NULL: the session's). TG_OK or TG_ERR_TOOLONG. */
int	tg_grey_key(const struct tg_greylist *g, const struct tg_session *s,
	    const char *rcpt, const char *rcpt_domain, char *key,
	    size_t keysz);
/* The auto-allow key of the client: "NAME:greylist-allow|NET". TG_OK,
 * 1 without a client part or address, or TG_ERR_TOOLONG. */
int	tg_grey_allow_key(const struct tg_greylist *g,
	    const struct tg_session *s, char *key, size_t keysz);
/* An address as greylisting keys it (sender set for the envelope sender:
 * BATV and SRS undone; both: the detail after delim cut off), into out.
 * A quoted or routed local part is kept as it is. TG_OK or
 * TG_ERR_TOOLONG. */
int	tg_grey_addr(const char *addr, int sender, char delim, char *out,
	    size_t outsz);

/* Operator commands on the greylists of policy p (tollgatectl):
 *   greylists
 *   greylist NAME list [COUNT]
 *   greylist NAME show|delete|allow VALUE...        a triplet
 *   greylist NAME show|delete|allow client ADDRESS  its auto-allow entry
 * The answer goes to out. Returns 0, or -1 with the reason in out. */
int	tg_grey_ctl(const struct tg_policy *p, const char *line, char *out,
	    size_t outsz);

#endif
