/* check.h - what the computed-attribute checks (check*.c) share: the
 * per-session results. Internal to filter/. Threads: one session's state
 * is used by its connection only. */
#ifndef FILTER_CHECK_H	/* not CHECK_H: the Check library's guard */
#define FILTER_CHECK_H

#include "tg_check.h"
#include <stdint.h>

#include "tg_session.h"

#define CHECK_FAILED	(-1)	/* lookup failed */
#define CHECK_UNASKED	(-2)	/* not looked up yet */

struct check_list_res {
	int	 listed;	/* CHECK_UNASKED, CHECK_FAILED, 0, 1 */
	char	*key;		/* the name looked up (changes with helo or
				 * sender for domain lists) */
	char	*reason;	/* its TXT record, if any */
};

struct tg_check_state {
	unsigned long long	 conf;	/* lists[] belongs to the dns conf
					 * with this serial (0: none) */
	struct check_list_res	*lists;
	size_t			 nlists;
	char			*last_list;	/* the last list that matched */
	char			*last_reason;
	char			 score[24];

	int			 ptr;		/* CHECK_UNASKED, CHECK_FAILED,
						 * 0 none, 1 found */
	char			*ptr_name;	/* the first PTR name */
	int			 fcrdns;	/* CHECK_* or 0/1 */

	char			*helo_key;	/* helo_resolves is for it */
	int			 helo_resolves;	/* CHECK_* or 0/1 */

	/* SPF: the result is for exactly these client address, HELO and
	 * sender (check_spf.c compares each whole, never a joined key). */
	struct tg_ip		 spf_ip;
	char			*spf_helo;	/* NULL: no HELO */
	char			*spf_sender;	/* "" for <> */
	char			 spf[12];	/* the result, "" before */
	char			*spf_auth;	/* Authentication-Results part */
	char			*spf_received;	/* Received-SPF value */
};

/* check_dnsbl.c: the name list l is asked under for these keys (NULL:
 * not known); 0, or -1 when there is none to ask. */
int	check_dnsl_name(const struct tg_dnslist *l, const struct tg_ip *ip,
	    const char *helo, const char *sender_domain, char *buf,
	    size_t bufsz);
/* check_client.c: the PTR names checked forward, at most. */
#define CHECK_CLIENT_NAMES	4

/* Each returns 0 with *val set (NULL: unknown), or -1 with *why set. */
int	check_dnslist(const struct tg_dns_conf *, struct tg_session *,
	    struct tg_check_state *, const char *name, const char **val,
	    const char **why);
int	check_dnslist_score(const struct tg_dns_conf *, struct tg_session *,
	    struct tg_check_state *, const char **val, const char **why);
int	check_client(const struct tg_dns_conf *, struct tg_session *,
	    struct tg_check_state *, enum tg_attr, const char **val,
	    const char **why);
int	check_helo(const struct tg_dns_conf *, struct tg_session *,
	    struct tg_check_state *, enum tg_attr, const char **val,
	    const char **why);
int	check_spf(const struct tg_dns_conf *, struct tg_session *,
	    struct tg_check_state *, const char **val, const char **why);

/* check_spf_cache.c: SPF results across sessions, slots fixed at new.
 * get: 1 with the result in res when one is held for (ip, from) and,
 * unless it was kept for any HELO, for helo; put keeps res for ttl
 * seconds (helo NULL: the evaluation did not read the HELO), not when
 * ttl is 0 or res is temperror. Times in ms of the monotonic clock. */
struct spf_cache;
struct spf_cache *spf_cache_new(size_t slots);
void	spf_cache_free(struct spf_cache *);
int	spf_cache_get(struct spf_cache *, const struct tg_ip *ip,
	    const char *from, const char *helo, int64_t now_ms, char *res,
	    size_t ressz);
void	spf_cache_put(struct spf_cache *, const struct tg_ip *ip,
	    const char *from, const char *helo, const char *res,
	    unsigned ttl, int64_t now_ms);
void	spf_cache_stats(struct spf_cache *, uint64_t *hits,
	    uint64_t *misses);

/* check_spf.c: an SPF server resolving through dns; NULL on failure. */
void	*check_spf_server_new(struct tg_dns *dns);
void	 check_spf_server_free(void *);

#endif
