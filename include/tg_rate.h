/* tg_rate.h - rate and concurrency limits: what a limit declaration
 * holds, the check behind the condition "limit NAME exceeded", and the
 * counting the engine does at the end of each stage. Owns: a limit owns
 * its key list; the store it names is process-wide (tg_store.h).
 * Threads: limits are read-only in a policy; the per-session state
 * belongs to its session. */
#ifndef TG_RATE_H
#define TG_RATE_H

#include <stddef.h>
#include <stdint.h>
#include "tg_policy.h"

#define TG_LIMIT_KEYS_MAX	4
#define TG_LIMIT_KEY_MAX	1024	/* bytes of a built key, with NUL */
/* A key part that would take more bytes than this is written as its
 * SHA-256 (tg_rate_key): the longest key, a 63-character name, its count
 * and window and four parts, then always fits in TG_LIMIT_KEY_MAX. */
#define TG_LIMIT_PART_MAX	200

struct tg_session;
struct tg_store;
struct tg_verdict;

/* What a limit counts, and at which stage (see doc/policy-language.md). */
enum tg_rate_count {
	TG_RATE_CONNECTIONS,	/* connect, when not refused */
	TG_RATE_SESSIONS,	/* simultaneous: connect until close */
	TG_RATE_MESSAGES,	/* eom, when accepted */
	TG_RATE_RECIPIENTS,	/* rcpt when accepted; taken back if the
				 * message is then refused or aborted */
	TG_RATE_BYTES,		/* eom: the size, when accepted */
};

struct tg_limit_key {
	enum tg_attr	 attr;
	int		 v4, v6;	/* prefix lengths of ip attributes */
};

struct tg_limit {
	char			*name;
	char			*prefix;	/* every key's start: see
						 * tg_limit_set_prefix() */
	size_t			 prefixlen;
	struct tg_limit_key	 keys[TG_LIMIT_KEYS_MAX];
	size_t			 nkeys;
	enum tg_rate_count	 count;
	enum tg_stage		 stage;		/* counted at */
	int64_t			 max;
	int64_t			 window_ms;	/* 0 for sessions */
	struct tg_store		*store;		/* not owned */
	int			 on_error_skip;	/* fail open */
	int			 count_refused;	/* refused count */
	const char		*file;		/* in policy->files */
	int			 line;
	struct tg_limit_stats	*stats;		/* refusals (metrics_ops.c),
						 * set when published */
};

void	tg_limit_free(struct tg_limit *);
/* Once l's name, count and window are set (the parser does it when the
 * declaration is complete): builds "NAME:count:window", with which each
 * of l's keys starts, so that a reload that changes what a limit counts
 * starts afresh. Until then tg_rate_key() fails for l. */
void	tg_limit_set_prefix(struct tg_limit *l);
/* p is about to be published: its store memory { max-keys } (the default
 * when it has none) becomes the memory store's cap. Loading a policy
 * changes nothing shared: a policy only checked, or one that a failed
 * reload threw away, leaves the running daemon's cap as it was. */
void	tg_rate_publish(const struct tg_policy *p);
const char *tg_rate_count_name(enum tg_rate_count);
/* The stage at which events of this kind are counted. */
enum tg_stage tg_rate_count_stage(enum tg_rate_count);

/* "limit NAME exceeded" at stage st. At the limit's counting stage the
 * event is added if there is room (atomically: exact across MTAs that
 * share a store) and 1 is returned when there is none; at other stages
 * the counter is only read. Returns 1, 0, or -1 when the store failed (or
 * the key could not be built) and the limit says on-error tempfail. A key
 * with an unknown part: 0. */
int	tg_rate_check(struct tg_session *, const struct tg_limit *,
	    enum tg_stage st);
/* Called by the engine around each stage's rules. stage_end counts the
 * events of limits no rule checked, takes back what a refused event had
 * reserved, and may turn v into 451 4.3.0 when a store failed. */
void	tg_rate_stage_begin(struct tg_session *);
void	tg_rate_stage_end(const struct tg_policy *, struct tg_session *,
	    enum tg_stage, struct tg_verdict *v);
/* The name of the limit that made the last condition true, or NULL;
 * clear before each rule. */
const char *tg_rate_tripped(const struct tg_session *);
void	tg_rate_clear_tripped(struct tg_session *);
/* End of a message without acceptance (abort, RSET, refused at eom):
 * recipients reserved for it are taken back. End of the connection:
 * sessions are released too; frees the state. */
void	tg_rate_txn_end(struct tg_session *);
void	tg_rate_conn_end(struct tg_session *);
/* For tests: the holds a session keeps (events that may still be taken
 * back) and how many times the stage, message and connection ends have
 * looked at one, since the session began. */
void	tg_rate_stats(const struct tg_session *, size_t *holds,
	    uint64_t *visits);

/* l's key for this session into key: "NAME:count:window" and "|PART"
 * for each part, lower case, '\' and '|' in a part escaped by a '\', a
 * part longer than TG_LIMIT_PART_MAX as "\#" and its SHA-256 in hex.
 * TG_OK; 1 when a part is unknown (the limit then does not apply);
 * TG_ERR_TOOLONG when the key does not fit in keysz (the caller treats
 * that as a store failure: never a cut key, never a silent skip). */
int	tg_rate_key(const struct tg_limit *l, const struct tg_session *s,
	    char *key, size_t keysz);
/* The pieces of tg_rate_key(), shared with greylisting (tg_grey.h) so
 * that both kinds of key write a value the same way and one escaping
 * keeps different values apart. tg_rate_key_part() appends '|' and part
 * at key + *o (lower case, '\' and '|' escaped, longer than
 * TG_LIMIT_PART_MAX: "\#" and its SHA-256); TG_OK, or TG_ERR_TOOLONG
 * when keysz has no room. tg_rate_key_ip() writes ip masked to k's prefix
 * lengths as "net/len" into buf (at least 64 bytes). */
struct tg_ip;
int	tg_rate_key_part(char *key, size_t keysz, size_t *o,
	    const char *part);
void	tg_rate_key_ip(const struct tg_ip *ip, const struct tg_limit_key *k,
	    char *buf, size_t bufsz);

/* Operator commands on the counters of policy p:
 *   show LIMIT VALUE [VALUE...]    reset LIMIT VALUE [VALUE...]
 *   limits
 * VALUEs are the key's parts in order (an address for an ip part). The
 * answer, one or more lines, goes to out. Returns 0, or -1 with the
 * reason in out. */
int	tg_rate_ctl(const struct tg_policy *p, const char *line, char *out,
	    size_t outsz);
/* For the trace: the key limit l has for session s and its count now,
 * as one line of text (the counter is only read). */
void	tg_rate_describe(const struct tg_session *s, const struct tg_limit *l,
	    enum tg_stage st, char *out, size_t outsz);

#endif
