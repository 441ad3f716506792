/* dkim_impl.h - what dkim.c (the message's feed and the attributes),
 * dkim_verify.c (keys and results), dmarc.c and dkim_sign.c share: the
 * per-message state. Internal to filter/. Threads: one session's state is
 * used by its connection only. */
#ifndef DKIM_IMPL_H
#define DKIM_IMPL_H

#include <stddef.h>
#include <opendkim/dkim.h>

#include "tg_dkim.h"
#include "tg_dns.h"

#define DKIM_FROM_KEPT		2	/* From field values kept (all are
					 * counted) */
#define DKIM_QUERIES_MAX	(TG_DKIM_SIGS_MAX + 2 * TG_DMARC_DOMAINS_MAX)

/* One signature's result, as reported. */
struct dkim_sigres {
	char	*d;		/* d=, as written (NULL: unreadable) */
	char	*s;		/* s= */
	char	*b;		/* the first 8 characters of b= */
	char	 result[12];	/* pass fail neutral policy temperror
				 * permerror */
	const char *why;	/* static text for the comment, or NULL */
};

/* One TXT lookup of the round made at end of message. */
struct dkim_query {
	struct tg_dns_query q;
};

/* A signature being made (dkim_sign.c). */
struct dkim_ed;
struct dkim_signing {
	DKIM	*h[TG_DKIM_SIGN_MAX];		/* RSA: libopendkim */
	struct dkim_ed *ed[TG_DKIM_SIGN_MAX];	/* Ed25519 (dkim_ed25519.c) */
	size_t	 key[TG_DKIM_SIGN_MAX];
	size_t	 n;
};

struct tg_dkim_msg {
	/* Verification: the fields go to libopendkim as they come, within
	 * the same caps as the session's (TG_HEADER_MAX_*). */
	DKIM	*v;
	int	 v_state;	/* 0 headers, 1 after eoh, 2 done */
	int	 v_error;	/* libopendkim failed: internal error */
	const char *v_why;
	size_t	 nhdr, hbytes;	/* fields and bytes given to it */
	int	 hdr_over;	/* some were not: fail closed */
	unsigned nsigf;		/* DKIM-Signature fields, all */
	unsigned nskip;		/* ... not verified (over the caps) */
	unsigned nbad;		/* ... libopendkim could not parse */
	char	*from[DKIM_FROM_KEPT];	/* From field values */
	unsigned nfrom;		/* From fields, all */

	struct tg_dns_query *q;	/* the end-of-message round */
	size_t	 nq;

	/* Results, once evaluated. */
	int	 done;
	struct dkim_sigres *sig;
	size_t	 nsig;
	char	 dkim[12];
	char	*pass_domains;	/* passing d= values, space-separated */
	int	 aligned;	/* one aligns with the From domain */
	char	 dmarc[12];	/* "" before */
	char	 dmarc_policy[12];	/* "": unknown */
	char	*dom[TG_DMARC_DOMAINS_MAX];	/* author domains */
	size_t	 ndom;
	const char *from_bad;	/* why there is no author domain to
				 * evaluate (DMARC fails), or NULL */
	char	*author;	/* the From domain(s), space-separated */
	char	*org;		/* its organisational domain */
	char	*dkim_auth;	/* RFC 8601 resinfo(s) */
	char	*dmarc_auth;
	const char *dmarc_why;

	/* Signing (dkim_sign.c): the fields are kept until the keys are
	 * known (From), then given to each signer. */
	int	 sign_req;	/* a dkim-sign action matched */
	char	**shdr;		/* "Name: value" for the signer */
	size_t	 nshdr, shcap, sbytes;
	int	 s_over;	/* past the caps: not signed */
	int	 s_started;
	struct dkim_signing signing;
};

/* dkim.c */
DKIM_LIB *dkim_lib(void);
/* The organisational domain of d (libpsl), into out; d itself when it
 * is a public suffix or libpsl cannot tell. */
void	dkim_org_domain(const struct tg_dkim_conf *, const char *d,
	    char *out, size_t outsz);
/* RFC 7489 3.1 alignment of a with b: strict (exact) or relaxed (same
 * organisational domain). */
int	dkim_aligned(const struct tg_dkim_conf *, const char *a,
	    const char *b, int strict);

/* dkim_verify.c */
/* The TXT queries for the signatures' keys (appended to m->q). */
void	dkim_verify_queries(struct tg_dkim_msg *);
/* dkim_eom and the per-signature results; 0 or -1 (internal). */
int	dkim_verify_finish(const struct tg_dkim_conf *, struct tg_dkim_msg *,
	    const char *qid);
/* libopendkim's key lookup, answered from m->q. */
DKIM_CBSTAT dkim_verify_key_lookup(DKIM *, DKIM_SIGINFO *, unsigned char *,
	    size_t);
/* The query named name in m->q, or NULL. */
struct tg_dns_query *dkim_query_find(struct tg_dkim_msg *, const char *);
void	dkim_query_add(struct tg_dkim_msg *, const char *name);

/* dmarc.c */
/* The author domains (from m->from) and the _dmarc queries. */
void	dmarc_queries(const struct tg_dkim_conf *, struct tg_dkim_msg *);
void	dmarc_evaluate(const struct tg_dkim_conf *, struct tg_dkim_msg *,
	    const char *spf, const char *spf_domain, const char *qid);

#endif
