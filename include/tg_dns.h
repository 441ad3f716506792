/* tg_dns.h - DNS resolution (c-ares, dns.c) and the pure helpers of the DNS
 * checks: reversed names for DNS lists, A-record matching, HELO syntax.
 * Owns: a struct tg_dns owns its cache (channels are per thread); a query owns
 * its answer until tg_dns_query_clear(); a book its copies; an async
 * instance its channels. Threads: tg_dns_resolve() may be called from
 * many threads at once on one struct tg_dns; a book and an async instance
 * belong to one thread at a time (an event loop's). */
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
 * (dns_cache.c). Returns TG_OK, or TG_ERR_RETRY when the resolver
 * could not be set up (every query is then TG_DNS_FAIL). */
int		 tg_dns_resolve(struct tg_dns *, struct tg_dns_query *q,
		    size_t n);
/* For tests without a DNS server: keep q's answer (status, records,
 * TTL > 0) as if the server had just given it. */
void		 tg_dns_seed(struct tg_dns *, const struct tg_dns_query *q);
/* Another way to answer lookups than the network: tollgate-test -z
 * answers from a file of records (dns_local.c). The backend is called with
 * the queries of a round that neither the cache nor an earlier round
 * answered (status TG_DNS_PENDING) and answers each through
 * tg_dns_answer(); one it leaves pending fails. Set before the first
 * lookup of the process; NULL: the network (c-ares). */
typedef void	(*tg_dns_backend_fn)(struct tg_dns_query *q, size_t n);
void		 tg_dns_set_backend(tg_dns_backend_fn);
/* q's answer from a whole DNS reply (rcode its RCODE) read as a server's
 * is: records of the name asked (or its CNAME targets) only, TTL, SOA of
 * a negative answer. A malformed reply, or an RCODE other than NOERROR
 * and NXDOMAIN, is TG_DNS_FAIL. */
void		 tg_dns_answer(struct tg_dns_query *q, int rcode,
		    const unsigned char *pkt, size_t len);
/* dns_local.c (its own library, libtgdnslocal.a, with libunbound, linked
 * only by the programs that answer from a file): read the records of
 * path (lines of unbound.conf's local-zone: and local-data:, or bare
 * records), then answer every lookup from them through the backend hook:
 * libunbound's local data, in process, nothing sent. Returns 0, or -1
 * with the errors (file:line:column) in diag. */
int		 tg_dns_local_load(const char *path, struct tg_diag *diag);
int		 tg_dns_local_active(void);
void		 tg_dns_local_clear(void);
/* Prepare q for name and type (TG_ERR_TOOLONG if the name does not fit);
 * clear frees an answer's strings. */
int		 tg_dns_query_init(struct tg_dns_query *q, const char *name,
		    enum tg_dns_type);
void		 tg_dns_query_clear(struct tg_dns_query *q);

/* For an event loop that resolves without waiting (dns_async.c, the
 * native milter engine): the answers a session's evaluation will ask for
 * are looked up ahead and kept in a book (dns_book.c); while the book is
 * this thread's, tg_dns_resolve() answers from it before the cache, so
 * the answers count even with TTL 0 and a timeout is the same failure.
 * On a thread marked as a loop, a lookup neither the book nor the cache
 * answers is still resolved (synchronously: the verdict is the same) but
 * counted, metric and log line: the loop waited for it. */
struct tg_dns_book;
struct tg_dns_book *tg_dns_book_new(void);
struct tg_dns_book *tg_dns_book_free(struct tg_dns_book *);
/* Keep a copy of q's answer (replacing one for the same name and type). */
void	tg_dns_book_put(struct tg_dns_book *, const struct tg_dns_query *q);
/* The answer held for name and type, or NULL. */
const struct tg_dns_query *tg_dns_book_find(const struct tg_dns_book *,
	    const char *name, enum tg_dns_type);
/* 1 with q's answer filled in from the book (a copy), else 0. */
int	tg_dns_book_get(const struct tg_dns_book *, struct tg_dns_query *q);
void	tg_dns_use_book(struct tg_dns_book *);	/* this thread's; NULL */
void	tg_dns_on_loop(int);			/* this thread is a loop */
unsigned long long tg_dns_loop_misses(void);	/* process-wide */
/* What tg_dns_resolve() does around the network, for answers got
 * elsewhere: cached answers (1, q filled) and, once answered, the
 * cache and the DNS error count. */
int	tg_dns_cached(struct tg_dns *, struct tg_dns_query *q);
void	tg_dns_settle(struct tg_dns *, const struct tg_dns_query *q);
unsigned long long tg_dns_serial(const struct tg_dns *);

/* dns_async.c: c-ares channels driven by an event loop (one per loop
 * thread, used by it only). The loop is told which sockets to watch
 * through watch(arg, fd, tag, rd, wr) (rd and wr both 0: no longer) and
 * passes readiness back with tg_dns_async_ready(tag, ...); it calls
 * tg_dns_async_tick() when tg_dns_async_timeout() ms have passed. */
struct tg_dns_async;
struct tg_dns_ask;
typedef void	(*tg_dns_watch_fn)(void *arg, int fd, void *tag, int rd,
		    int wr);
typedef void	(*tg_dns_done_fn)(void *arg, struct tg_dns_query *q);
struct tg_dns_async *tg_dns_async_new(tg_dns_watch_fn, void *arg);
/* Every ask not forgotten is answered TG_DNS_FAIL, then all goes. */
void	tg_dns_async_free(struct tg_dns_async *);
int	tg_dns_async_owns(const struct tg_dns_async *, const void *tag);
void	tg_dns_async_ready(struct tg_dns_async *, void *tag, int rd, int wr);
int	tg_dns_async_timeout(struct tg_dns_async *);	/* ms, -1: none */
void	tg_dns_async_tick(struct tg_dns_async *);
/* Send q (status TG_DNS_PENDING) to d's resolver; done(arg, q) is called
 * once with q answered (TG_DNS_FAIL after c-ares's tries), possibly
 * before this returns. q must live until then, or until forgotten. */
struct tg_dns_ask *tg_dns_async_ask(struct tg_dns_async *, struct tg_dns *d,
	    struct tg_dns_query *q, tg_dns_done_fn done, void *arg);
/* The asker no longer waits: done is not called, q not touched. */
void	tg_dns_async_forget(struct tg_dns_ask *);

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
