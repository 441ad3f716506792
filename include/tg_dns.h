/* tg_dns.h - DNS resolution (libunbound) and the pure helpers of the DNS
 * checks: reversed names for DNS lists, A-record matching, HELO syntax.
 * Owns: a struct tg_dns owns its unbound context and cache; a query owns
 * its answer until tg_dns_query_clear(). Threads: tg_dns_resolve() may be
 * called from many threads at once on one struct tg_dns. */
#ifndef TG_DNS_H
#define TG_DNS_H

#include <stddef.h>
#include <stdint.h>
#include "tg_ip.h"

#define TG_DNS_NAME_MAX		256	/* a query name, with its NUL */
#define TG_DNS_RR_MAX		32	/* records kept per answer */
#define TG_DNS_TIMEOUT_MS	3000	/* default per-lookup timeout */

enum tg_dns_type { TG_DNS_A, TG_DNS_AAAA, TG_DNS_TXT, TG_DNS_PTR, TG_DNS_MX };

enum tg_dns_status {
	TG_DNS_PENDING,		/* not answered (yet) */
	TG_DNS_OK,		/* records in ip[] or str[] */
	TG_DNS_NXDOMAIN,	/* the name does not exist */
	TG_DNS_NODATA,		/* the name exists, no record of the type */
	TG_DNS_FAIL,		/* SERVFAIL, REFUSED, timeout, bad answer */
};

struct tg_dns_query {
	char			 name[TG_DNS_NAME_MAX];	/* in: the name */
	enum tg_dns_type	 type;			/* in */
	enum tg_dns_status	 status;		/* out */
	size_t			 n;		/* out: records in ip or str */
	struct tg_ip		 ip[TG_DNS_RR_MAX];	/* A, AAAA */
	char			*str[TG_DNS_RR_MAX];	/* TXT, PTR, MX names
							 * (owned) */
	unsigned		 ttl;
};

struct tg_dns;
struct tg_diag;
struct ub_ctx;

/* A resolver. server is "address" or "address@port" of a forwarder, or
 * NULL for the system's (/etc/resolv.conf); timeout_ms bounds each call
 * of tg_dns_resolve(). Nothing is sent before the first lookup. Returns
 * NULL with *why set when server is not a valid address. */
struct tg_dns	*tg_dns_new(const char *server, int timeout_ms,
		    const char **why);
void		 tg_dns_free(struct tg_dns *);
int		 tg_dns_timeout(const struct tg_dns *);
/* Resolve the n queries in parallel, waiting at most the timeout; those
 * not answered by then are TG_DNS_FAIL. Answers are cached for their TTL
 * (dns_cache.c, then libunbound's own cache). Returns TG_OK, or TG_ERR_RETRY when the resolver
 * could not be set up (every query is then TG_DNS_FAIL). */
int		 tg_dns_resolve(struct tg_dns *, struct tg_dns_query *q,
		    size_t n);
/* For tests without a DNS server: keep q's answer (status, records,
 * TTL > 0) as if the server had just given it. */
void		 tg_dns_seed(struct tg_dns *, const struct tg_dns_query *q);
/* dns_local.c: answer every lookup of every resolver from the records of
 * the file path (lines of unbound.conf's local-zone: and local-data:, or
 * bare records) instead of any server; nothing is sent. Call before the
 * first lookup. Returns 0, or -1 with the errors (file:line:column) in
 * diag. */
int		 tg_dns_local_load(const char *path, struct tg_diag *diag);
int		 tg_dns_local_active(void);
void		 tg_dns_local_clear(void);
/* For dns.c: set up a new resolver context from the records; an unbound
 * error code. */
int		 tg_dns_local_setup(struct ub_ctx *ctx);
/* Prepare q for name and type (TG_ERR_TOOLONG if the name does not fit);
 * clear frees an answer's strings. */
int		 tg_dns_query_init(struct tg_dns_query *q, const char *name,
		    enum tg_dns_type);
void		 tg_dns_query_clear(struct tg_dns_query *q);

/* dns_cache.c, used by dns.c: answers by name and type for their TTL
 * (negative ones briefly), shared by threads; bounded. get fills q's
 * answer and returns 1 on a hit, else 0; put keeps a copy of q's answer
 * (not failures, nor TTL 0). */
struct tg_dns_cache;
struct tg_dns_cache *tg_dns_cache_new(void);
void	tg_dns_cache_free(struct tg_dns_cache *);
int	tg_dns_cache_get(struct tg_dns_cache *, struct tg_dns_query *q);
void	tg_dns_cache_put(struct tg_dns_cache *, const struct tg_dns_query *q);
void	tg_dns_cache_seed(struct tg_dns_cache *, const struct tg_dns_query *q);
/* Answers held and the bytes they take (for tests and the docs). */
void	tg_dns_cache_usage(struct tg_dns_cache *, size_t *count,
	    size_t *bytes);

/* Pure helpers (dns_util.c). */

/* The name to look ip up under zone: "4.3.2.1.zone" for IPv4, 32 nibbles
 * for IPv6; zone NULL or "" gives the in-addr.arpa/ip6.arpa name. Returns
 * TG_OK or TG_ERR_TOOLONG. */
int	tg_dns_reverse_name(const struct tg_ip *, const char *zone, char *buf,
	    size_t bufsz);
/* A domain name fit for a query: labels of 1-63 letters, digits, '-' and
 * '_', total at most 253, an optional final dot. 1 yes, 0 no. */
int	tg_dns_name_valid(const char *);
/* Decode an uncompressed wire-format name (rdata of PTR, the name of MX)
 * into dotted text without the final dot. Returns the bytes used, or -1
 * when malformed or too long for buf. */
int	tg_dns_wire_name(const unsigned char *rd, size_t len, char *buf,
	    size_t bufsz);

/* What a DNS list's A records must hold to count: an address range
 * (a single address is lo == hi) or, as rspamd and Postfix's "&" do, any
 * bit of a mask. IPv4 only, as DNS lists answer. */
struct tg_dns_match {
	int		 mask;		/* 1: (a & lo) != 0; 0: lo <= a <= hi */
	uint32_t	 lo, hi;
};
/* Parse "127.0.0.2", "127.0.0.4-127.0.0.7", "127.0.0.0/24" or
 * "&0.0.0.4". Returns 0, or -1 with *why set. */
int	tg_dns_match_parse(const char *, struct tg_dns_match *,
	    const char **why);
/* 1 when one of the n addresses satisfies one of the nm matches; with no
 * matches (nm == 0) any 127.0.0.0/8 address counts (a list's answers
 * outside it, such as 127.255.255.254 from Spamhaus for public
 * resolvers, are errors, not listings, so no match gives 0 then). */
int	tg_dns_match_any(const struct tg_dns_match *m, size_t nm,
	    const struct tg_ip *ips, size_t n);

/* HELO/EHLO argument syntax (RFC 5321 4.1.2 Domain / address-literal). */
enum tg_helo_kind {
	TG_HELO_INVALID,	/* neither */
	TG_HELO_DOMAIN,		/* a syntactically valid domain */
	TG_HELO_LITERAL,	/* [1.2.3.4] or [IPv6:...] */
	TG_HELO_BARE_IP,	/* an address without the brackets */
};
enum tg_helo_kind tg_helo_kind(const char *);
/* 1 when a valid domain has at least two labels and a top label that is
 * not all digits (Postfix reject_non_fqdn_helo_hostname). */
int	tg_helo_fqdn(const char *);

#endif
