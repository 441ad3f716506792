/* tg_dkim.h - DKIM (RFC 6376, RFC 8463) verification and signing with
 * libopendkim, and DMARC (RFC 7489) with libopendmarc and libpsl: what the
 * engine, the session and the milter glue call. The policy's part
 * (struct tg_dkim_conf: the Public Suffix List, signing keys) is read-only
 * once loaded; the message's part (struct tg_dkim_msg) belongs to the
 * session. Owns: a conf owns its keys and PSL; a message state owns its
 * libopendkim handles and result strings. Threads: libopendkim's library
 * handle is shared by every thread (it is made for that); everything else
 * is per policy (read-only) or per session. */
#ifndef TG_DKIM_H
#define TG_DKIM_H

#include <stddef.h>
#include "tg_diag.h"
#include "tg_policy.h"

#define TG_DKIM_SIGS_MAX	8	/* DKIM-Signature fields verified */
#define TG_DKIM_SIG_FIELD_MAX	8192	/* longest one verified */
#define TG_DKIM_SIGN_MAX	4	/* signatures added per message */
#define TG_DMARC_DOMAINS_MAX	4	/* author domains evaluated */
#define TG_DKIM_PSL_DEFAULT	"/usr/share/publicsuffix/public_suffix_list.dafsa"

/* A key of the key table: "NAME DOMAIN:SELECTOR:PATH". */
struct tg_dkim_key {
	char	*name;
	char	*domain;
	char	*selector;
	char	*path;
	unsigned char *pem;	/* the key file's text */
	size_t	 pemlen;
	int	 ed25519;	/* else RSA */
	void	*pkey;		/* Ed25519: the EVP_PKEY, parsed once at
				 * load (OpenSSL 3 key decoding is slow) */
	int	 bits;
};

/* A line of the signing table: "PATTERN KEYNAME"; with refile, PATTERN
 * may hold '*' wildcards, else it is an address or a domain. */
struct tg_dkim_signer {
	char	*pattern;
	size_t	 key;		/* index into keys */
};

struct tg_dkim_conf {
	int	 verify;	/* a rule or template reads dkim or dmarc */
	int	 dmarc;		/* ... dmarc */
	char	*psl_path;	/* set public-suffix-list, NULL: default */
	void	*psl;		/* psl_ctx_t *, when dmarc or verify */
	/* dkim-sign { key-table "F" signing-table "[refile:]F" ... } */
	int	 sign;		/* the block was given */
	int	 sign_used;	/* a rule says dkim-sign */
	char	*key_table, *signing_table;
	int	 refile;
	int	 multiple;	/* multiple-signatures yes: every match */
	struct tg_dkim_key *keys;
	size_t	 nkeys;
	struct tg_dkim_signer *signers;
	size_t	 nsigners;
	char	**never_sign;	/* header names tollgate may add: never in
				 * h=, so adding them breaks nothing */
	size_t	 nnever;
	const char *file;	/* where the block was, for errors */
	int	 line, col;
};

struct tg_dkim_msg;
struct tg_session;

struct tg_dkim_conf *tg_dkim_conf_free(struct tg_dkim_conf *);
/* After a policy parsed without errors: load the PSL and the keys, note
 * what the rules read. Returns 0, or -1 after adding errors to diag. */
int	tg_dkim_conf_finish(struct tg_policy *, struct tg_diag *);
/* Does the policy need the message's headers and body for DKIM? */
int	tg_dkim_wanted(const struct tg_policy *);

/* The message, as it arrives. raw is the field's value as received,
 * leading white space included (SMFIP_HDR_LEADSPC), or NULL when only
 * value (without it) is known. removed: tollgate deletes this field at
 * end of message (a forged Authentication-Results): the signer skips it. */
void	tg_dkim_header(struct tg_session *, const struct tg_policy *,
	    const char *name, const char *value, const char *raw, int removed);
void	tg_dkim_eoh(struct tg_session *, const struct tg_policy *);
void	tg_dkim_body(struct tg_session *, const struct tg_policy *,
	    const char *buf, size_t len);
struct tg_dkim_msg *tg_dkim_msg_free(struct tg_dkim_msg *);

/* 1 when a computed attribute is one of these. */
int	tg_dkim_attr(enum tg_attr);
/* Verify (once per message: keys and DMARC records looked up in one
 * round), then give attribute a's text (param: dkim.result's domain).
 * Returns 0 with *val set (NULL: unknown), or -1 with *why on an
 * internal failure. A DNS failure is a temperror result, not -1. */
int	tg_dkim_eval(const struct tg_policy *, struct tg_session *,
	    enum tg_attr a, const char *param, const char **val,
	    const char **why);
/* ${dkim_auth} ${dmarc_auth} ${dmarc_domain}: borrowed, NULL if not
 * ours or unknown. */
const char *tg_dkim_var(const struct tg_policy *, struct tg_session *,
	    const char *name, size_t len);

/* The dkim-sign action matched. */
void	tg_dkim_sign_request(struct tg_session *);
/* At end of message, after every header change of ours: the values of
 * the DKIM-Signature fields to insert at the top (caller frees each and
 * the array). Returns how many (0: nothing to sign, or nothing could be:
 * logged). */
size_t	tg_dkim_sign_finish(const struct tg_policy *, struct tg_session *,
	    char ***values);

/* dkim_keys.c: the tables, for conf_dkim.c and tests. */
int	tg_dkim_keys_load(struct tg_dkim_conf *, const char *dir,
	    struct tg_diag *);
/* The keys for a From address (user@domain): indexes into keys, at most
 * max; returns how many. */
size_t	tg_dkim_keys_for(const struct tg_dkim_conf *, const char *addr,
	    size_t *out, size_t max);

#endif
