/* tg_check.h - attributes computed on demand (DNS lists, client name,
 * HELO, SPF): the policy's DNS settings and the per-session results.
 * A computed attribute is looked up only when a rule reaches it, and its
 * result is kept for the rest of the session (SPF: of the message).
 * Owns: struct tg_dns_conf belongs to its policy (read-only once loaded);
 * struct tg_check_state to its session. Threads: as policy and session. */
#ifndef TG_CHECK_H
#define TG_CHECK_H

#include <stddef.h>
#include "tg_diag.h"
#include "tg_dns.h"
#include "tg_policy.h"

/* What a DNS list is asked about. */
enum tg_dnslist_key {
	TG_DNSL_CLIENT,		/* the client address, reversed */
	TG_DNSL_HELO,		/* the HELO name (a domain list) */
	TG_DNSL_SENDER,		/* the sender's domain */
};

struct tg_dnslist {
	char			*name;
	char			*zone;
	enum tg_dnslist_key	 key;
	struct tg_dns_match	*match;		/* none: any 127/8 answer */
	size_t			 nmatch;
	int			 weight;	/* towards dnslist.score */
	int			 tempfail;	/* on-error tempfail (else skip) */
	const char		*file;
	int			 line;
};

struct tg_dns_conf {
	unsigned long long	 serial;	/* unique in the process: never
						 * reused, unlike the address */
	char			*resolver;	/* "addr[@port]", NULL: system */
	int			 timeout_ms;
	struct tg_dnslist	*lists;
	size_t			 nlists;
	struct tg_dns		*dns;		/* from tg_dns_conf_finish() */
	void			*spf;		/* SPF_server_t *, when used */
};

struct tg_check_state;
struct tg_session;

struct tg_dns_conf *tg_dns_conf_new(void);
void	 tg_dns_conf_free(struct tg_dns_conf *);
/* After a policy parsed without errors: give it a DNS configuration (the
 * defaults if it set nothing), its resolver and, if a rule reads spf, an
 * SPF server. Returns 0, or -1 after adding errors to diag. */
int	 tg_dns_conf_finish(struct tg_policy *, struct tg_diag *);
const struct tg_dnslist *tg_dnslist_find(const struct tg_dns_conf *,
	    const char *name);
/* The first stage at which a list's key is known. */
enum tg_stage tg_dnslist_stage(const struct tg_dnslist *);

/* 1 when the attribute is computed here, not set from the MTA. */
int	 tg_check_computed(enum tg_attr);
/* Compute attribute a (param: the list name of dnslist) for the session
 * and leave its text in s->val[a]: "1" or "" for booleans, decimal for
 * numbers, NULL when unknown. Returns 0, or -1 when it cannot be decided
 * (a DNS failure where the policy says tempfail); *why then says which
 * lookup failed (static text). */
int	 tg_check_eval(const struct tg_policy *, struct tg_session *,
	    enum tg_attr a, const char *param, const char **why);
/* Template variables of these checks (spf, spf_auth, spf_received,
 * dnslist, dnslist_reason, mta_name): the value, borrowed from the
 * session, or NULL when unknown or not one of ours. */
const char *tg_check_var(const struct tg_policy *, struct tg_session *,
	    const char *name, size_t len);
struct tg_check_state *tg_check_state_free(struct tg_check_state *);
/* For the trace: the DNS answers behind attribute a (param: a list's
 * name) as one line of text, from what the session looked up. */
void	 tg_check_describe(const struct tg_policy *,
	    const struct tg_session *, enum tg_attr a, const char *param,
	    char *out, size_t outsz);

/* check_prefetch.c: the lookups of these checks, ahead of an evaluation
 * (the native engine's loops resolve them without waiting, then evaluate
 * with the answers in a book: tg_dns.h). Which checks the rules of stage
 * st read (TG_CHECK_NEED_*; 0: none). */
#define TG_CHECK_NEED_CLIENT	1u	/* client.ptr, .rdns, .fcrdns */
#define TG_CHECK_NEED_HELO	2u	/* helo.resolves */
#define TG_CHECK_NEED_LISTS	4u	/* dnslist, dnslist.score */
unsigned tg_check_dns_needs(const struct tg_policy *, enum tg_stage st);
/* The one of them attribute a is (0: none). */
unsigned tg_check_attr_need(enum tg_attr a);
/* The next round of questions the checks in needs would ask of the
 * session, given the answers already in bk: at most max into q (each
 * set up by tg_dns_query_init()); 0 when the book holds all they can ask.
 * Exactly the names and types check_client.c, check_helo.c and
 * check_dnsbl.c ask, in as many rounds (PTR, then A/AAAA of its names;
 * A of a HELO name, then AAAA and MX; A of each list, then TXT of those
 * that list the key); what the session already knows is not asked
 * again. ip and helo: the values the command about to run sets (NULL:
 * the session's). */
size_t	 tg_check_prefetch(const struct tg_policy *,
	    const struct tg_session *, unsigned needs, const struct tg_ip *ip,
	    const char *helo, const struct tg_dns_book *bk,
	    struct tg_dns_query *q, size_t max);

#endif
