/* tg_policy.h - the loaded policy: tables, and named rules per stage.
 * A policy is an immutable snapshot once loaded, shared by every session
 * and reference-counted; see tg_policy_current() for the published one.
 * Threads: read-only after load; ref/unref are atomic. */
#ifndef TG_POLICY_H
#define TG_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include "tg_diag.h"
#include "tg_ip.h"
#include "tg_table.h"

struct tg_limit;
struct tg_greylist;
struct tg_store;
struct tg_dns_conf;
struct tg_dkim_conf;
struct tg_rule_stats;

enum tg_stage {
	TG_STAGE_CONNECT,
	TG_STAGE_HELO,
	TG_STAGE_MAIL,
	TG_STAGE_RCPT,
	TG_STAGE_DATA,
	TG_STAGE_EOM,
	TG_STAGE_COUNT
};

/* Value types of attributes. */
enum tg_vtype {
	TG_T_BOOL,	/* true when present and not "" */
	TG_T_NUM,	/* signed 64-bit */
	TG_T_STR,	/* compared case-insensitively */
	TG_T_IP,	/* compared with CIDR sets and cidr tables */
	TG_T_ADDR,	/* mail address: table lookups use address fallbacks */
};

/* Everything a condition can ask about the session or message. The names
 * used in policy files are in tg_attrs[]. */
enum tg_attr {
	TG_A_CLIENT_ADDRESS,	/* client.address   ip      connect.. */
	TG_A_CLIENT_NAME,	/* client.name      str     connect.. */
	TG_A_HELO,		/* helo             str     helo.. */
	TG_A_LISTENER_NAME,	/* listener.name    str     {daemon_name} */
	TG_A_LISTENER_ADDRESS,	/* listener.address ip      {daemon_addr} */
	TG_A_LISTENER_PORT,	/* listener.port    num     {daemon_port} */
	TG_A_AUTHENTICATED,	/* authenticated    bool    mail.. */
	TG_A_SASL_LOGIN,	/* sasl.login       str     {auth_authen} */
	TG_A_SASL_MECHANISM,	/* sasl.mechanism   str     {auth_type} */
	TG_A_SASL_AUTHOR,	/* sasl.author      addr    {auth_author} */
	TG_A_TLS,		/* tls              bool    helo.. */
	TG_A_TLS_VERSION,	/* tls.version      str     {tls_version} */
	TG_A_TLS_CIPHER,	/* tls.cipher       str     {cipher} */
	TG_A_TLS_BITS,		/* tls.cipher_bits  num     {cipher_bits} */
	TG_A_SENDER,		/* sender           addr    mail.. ("" for <>) */
	TG_A_SENDER_LOCAL,	/* sender.local     str */
	TG_A_SENDER_DOMAIN,	/* sender.domain    str */
	TG_A_RCPT,		/* rcpt             addr    rcpt only */
	TG_A_RCPT_LOCAL,	/* rcpt.local       str */
	TG_A_RCPT_DOMAIN,	/* rcpt.domain      str */
	TG_A_RCPT_COUNT,	/* rcpt.count       num     rcpt.. (this one included) */
	TG_A_SIZE_DECLARED,	/* size.declared    num     mail.. (ESMTP SIZE=, 0 if none) */
	TG_A_SIZE,		/* size             num     eom (header + body bytes) */
	TG_A_HEADER,		/* header "Name"    str     eom (first occurrence) */
	TG_A_RCPT_ROUTED,	/* rcpt.routed      bool    rcpt only (tg_addr_parse) */
	TG_A_HEADER_COUNT,	/* header.count     num     eom (every header) */
	TG_A_HEADER_BYTES,	/* header.bytes     num     eom ("Name: value\r\n") */
	TG_A_HEADER_LONGEST,	/* header.longest   num     eom (longest line) */
	TG_A_TLS_CERT_SUBJECT,	/* tls.cert_subject str     {cert_subject} */
	TG_A_TLS_CERT_ISSUER,	/* tls.cert_issuer  str     {cert_issuer} */
	TG_A_TLS_VERIFY,	/* tls.verify       str     {verify} */
	TG_A_SASL_CANONICAL,	/* sasl.canonical   str     login@realm */
	TG_A_SASL_USER,		/* sasl.user        str     before the '@' */
	TG_A_SASL_REALM,	/* sasl.realm       str     after the '@' */
	TG_A_SASL_ACCOUNT,	/* sasl.account     bool    Cyrus SASL auxprop */
	TG_A_HEADER_FROM,	/* header.from      str     eom, owned-by */
	TG_A_HEADER_SENDER,	/* header.sender    str     eom, owned-by */
	/* Computed on demand (tg_check.h), from DNS and the HELO name. */
	TG_A_MTA_NAME,		/* mta.name         str     macro j */
	TG_A_CLIENT_PTR,	/* client.ptr       str     connect.. (DNS) */
	TG_A_CLIENT_RDNS,	/* client.rdns      bool    connect.. (DNS) */
	TG_A_CLIENT_FCRDNS,	/* client.fcrdns    bool    connect.. (DNS) */
	TG_A_HELO_VALID,	/* helo.valid       bool    helo.. */
	TG_A_HELO_FQDN,		/* helo.fqdn        bool    helo.. */
	TG_A_HELO_BARE_IP,	/* helo.bare_ip     bool    helo.. */
	TG_A_HELO_OURS,		/* helo.ours        bool    helo.. */
	TG_A_HELO_RESOLVES,	/* helo.resolves    bool    helo.. (DNS) */
	TG_A_DNSLIST,		/* dnslist "NAME"   bool    per list (DNS) */
	TG_A_DNSLIST_SCORE,	/* dnslist.score    num     connect.. (DNS) */
	TG_A_SPF,		/* spf              str     mail.. (DNS) */
	TG_A_HEADER_OCCURS,	/* header.occurrences "Name" num eom */
	TG_A_HEADER_DECODED,	/* header.decoded "Name" str  eom (RFC 2047) */
	TG_A_MIME_MALFORMED,	/* mime.malformed   bool    eom */
	TG_A_MIME_PARTS,	/* mime.parts       num     eom (leaf parts) */
	TG_A_ATT_NAME,		/* attachment.name  str     eom, per part */
	TG_A_ATT_EXT,		/* attachment.extension       str */
	TG_A_ATT_INNER_EXT,	/* attachment.inner_extension str */
	TG_A_ATT_TYPE,		/* attachment.type  str     declared media type */
	TG_A_ATT_SHA256,	/* attachment.sha256 str    hex, decoded content */
	TG_A_ATT_SIZE,		/* attachment.size  num     decoded bytes */
	TG_A_ATT_ARCHIVE,	/* attachment.archive bool  by name or type */
	TG_A_ATT_MALFORMED,	/* attachment.malformed bool */
	TG_A_ATT_NAME_SPOOFED,	/* attachment.name_spoofed bool (mime_name.c) */
	/* DKIM and DMARC, computed at end of message (tg_dkim.h). */
	TG_A_DKIM,		/* dkim             str     pass fail ... none */
	TG_A_DKIM_RESULT,	/* dkim.result "D"  str     that domain's result */
	TG_A_DKIM_DOMAINS,	/* dkim.domains     str     d= that passed */
	TG_A_DKIM_ALIGNED,	/* dkim.aligned     bool    one aligns with From */
	TG_A_DMARC,		/* dmarc            str     pass fail none ... */
	TG_A_DMARC_POLICY,	/* dmarc.policy     str     none quarantine reject */
	TG_A_DMARC_DOMAIN,	/* dmarc.domain     str     the From domain */
	TG_A_DMARC_ORG,		/* dmarc.org_domain str     its organisational one */
	TG_A_COUNT
};

struct tg_auth_conf;

struct tg_attr_info {
	const char	*name;
	enum tg_vtype	 type;
	enum tg_stage	 first;		/* earliest stage it is known at */
	enum tg_stage	 last;		/* latest stage it is known at */
	int		 param;		/* followed by a quoted parameter, as in
					 * header "Subject" */
};
extern const struct tg_attr_info tg_attrs[TG_A_COUNT];
/* Look an attribute up by its policy name; returns 0 or -1. */
int		 tg_attr_lookup(const char *name, enum tg_attr *);
const char	*tg_stage_name(enum tg_stage);
int		 tg_stage_parse(const char *, enum tg_stage *);

enum tg_expr_op {
	TG_E_TRUE,
	TG_E_FALSE,
	TG_E_AND,	/* left and right */
	TG_E_OR,	/* left or right */
	TG_E_NOT,	/* not left */
	TG_E_BOOL,	/* attr is true (bool) or present and non-empty */
	TG_E_CMP,	/* attr cmp (num | str) */
	TG_E_IN_TABLE,	/* attr in table */
	TG_E_IN_SET,	/* attr in { ... } */
	TG_E_MATCH,	/* attr matches "regex" (PCRE2, caseless) */
	TG_E_OWNED_BY,	/* attr owned-by map (the SASL login owns it) */
	TG_E_LIMIT,	/* limit NAME exceeded (tg_rate.h) */
};

enum tg_cmp { TG_CMP_EQ, TG_CMP_NE, TG_CMP_LT, TG_CMP_LE, TG_CMP_GT, TG_CMP_GE };

/* An inline set: strings (compared case-insensitively) and, for IP
 * attributes, networks. */
struct tg_set {
	char		**str;
	size_t		  nstr;
	struct tg_ip	 *net;
	int		 *prefix;
	size_t		  nnet;
};

struct tg_expr {
	enum tg_expr_op	 op;
	struct tg_expr	*left, *right;	/* AND, OR, NOT */
	enum tg_attr	 attr;		/* BOOL, CMP, IN_*, MATCH */
	char		*param;		/* the quoted parameter of attributes that
					 * take one: header "Name" */
	size_t		 hname;		/* header "Name", header.decoded,
					 * header.occurrences, header.from,
					 * header.sender: 1 + the name's index
					 * in policy hdr_names; 0 otherwise */
	enum tg_cmp	 cmp;		/* CMP */
	long long	 num;		/* CMP on a TG_T_NUM attribute */
	char		*str;		/* CMP on a string; MATCH: the pattern */
	const struct tg_table *table;	/* IN_TABLE (owned by the policy) */
	struct tg_set	*set;		/* IN_SET */
	void		*re;		/* MATCH: pcre2_code * */
	int		 line, col;	/* where it was written */
	/* CMP whose value is looked up: "size > limits[sasl.login]
	 * default 10m". vtable is NULL for a plain value; the default, when
	 * has_default, is in num or str as for a plain value. */
	const struct tg_table *vtable;	/* map or cidr, owned by the policy */
	enum tg_attr	 vattr;		/* the key */
	int		 has_default;
	const struct tg_limit *limit;	/* LIMIT (owned by the policy) */
};

enum tg_action {
	TG_ACT_CONTINUE,	/* go on with the next rule */
	TG_ACT_ACCEPT,		/* stop evaluating for this message (or, at
				 * connect and helo, this connection) */
	TG_ACT_REJECT,		/* 5xx */
	TG_ACT_TEMPFAIL,	/* 4xx */
	TG_ACT_DISCARD,		/* accept and drop the message silently */
	TG_ACT_QUARANTINE,	/* hold in the MTA's queue, with a reason */
	TG_ACT_ADD_HEADER,	/* add NAME: value at end of message */
	TG_ACT_WARN,		/* log a line, go on */
	TG_ACT_DKIM_SIGN,	/* sign at end of message (tg_dkim.h), go on */
	TG_ACT_GREYLIST,	/* a first attempt: 451 4.7.1; a retry in
				 * its window, a known triplet or an
				 * allow-listed client: go on (tg_grey.h) */
};
/* How many actions there are: arrays indexed by an action (the metrics'
 * counters, the names) are this long. The last action above + 1. */
#define TG_ACT_COUNT	(TG_ACT_GREYLIST + 1)

struct tg_action_spec {
	enum tg_action	 type;
	char		 code[4];	/* REJECT/TEMPFAIL: "554" */
	char		 xcode[12];	/* REJECT/TEMPFAIL: "5.7.1" */
	char		*text;		/* template: reply text, quarantine
					 * reason, header value, warn text */
	char		*hname;		/* ADD_HEADER: header name */
	const struct tg_greylist *grey;	/* GREYLIST (owned by the policy);
					 * text is its reply, NULL: the
					 * default */
};

struct tg_rule {
	char			*name;
	enum tg_stage		 stage;
	int			 dry_run;	/* log what would happen only */
	struct tg_expr		*cond;
	struct tg_action_spec	*actions;
	size_t			 nactions;
	const char		*file;		/* points into policy->files */
	int			 line;
	struct tg_rule_stats	*stats;		/* tg_metrics.h; NULL until
						 * published */
};

struct tg_policy {
	atomic_int	  refs;
	unsigned	  generation;	/* set when published */
	char		 *path;		/* main file */
	char		**files;	/* every file read, for diagnostics */
	size_t		  nfiles;
	struct tg_table	**tables;
	size_t		  ntables;
	struct tg_rule	 *rules[TG_STAGE_COUNT];
	size_t		  nrules[TG_STAGE_COUNT];
	uint64_t	  attrs_used[(TG_A_COUNT + 63) / 64];
					/* attributes some rule reads:
					 * tg_policy_uses() */
	int		  header_used;	/* some rule reads a header */
	char		**hdr_names;	/* the header names rules read, each
					 * once: counted even past what the
					 * session keeps (tg_session.h) */
	size_t		  nhdr_names;
	struct tg_auth_conf *auth;	/* sasl { }, authentication-results;
					 * NULL when neither is given */
	struct tg_limit	**limits;	/* limit declarations (tg_rate.h) */
	size_t		  nlimits;
	struct tg_store	 *redis;	/* store redis { }: process-wide */
	uint64_t	  mem_max_keys;	/* store memory { max-keys }, 0;
					 * applied when published */
	struct tg_dns_conf *dns;	/* set and dnslist statements; DNS */
	struct tg_dkim_conf *dkim;	/* DKIM and DMARC (tg_dkim.h) */
	struct tg_set	 *mime_hash_types;	/* `mime hash-types {...}`, or
						 * NULL: hash every part */
	int		  dry_run;	/* set dry-run yes: log, never enforce */
	int		  log_level;	/* set log-level: LOG_* + 1, 0 unset */
	struct tg_greylist **greylists;	/* greylist declarations (tg_grey.h) */
	size_t		  ngreylists;
	int		  grey_rcpts;	/* a greylist action at data or eom:
					 * sessions keep the recipients */
	uint64_t	  grey_max_keys; /* store memory { greylist-max-keys },
					 * 0; applied when published */
	char		 *mem_snapshot;	/* store memory { snapshot }, NULL */
	int64_t		  mem_snapshot_ms; /* snapshot-interval, 0: none */
};

/* Mark attribute a as read by some rule; does a rule read a? */
void	tg_policy_use(struct tg_policy *, enum tg_attr a);
/* Note that a rule reads header name; returns its tg_expr hname. */
size_t	tg_policy_header_name(struct tg_policy *, const char *name);
/* Inline: asked several times per macro and stage. */
static inline int
tg_policy_uses(const struct tg_policy *p, enum tg_attr a)
{
	return p != NULL && (p->attrs_used[a / 64] >> (a % 64) & 1) != 0;
}

/* Load and check a policy file, following include statements. Every error
 * found is added to diag; NULL is returned when there was any. The result
 * has one reference. */
struct tg_policy *tg_policy_load(const char *path, struct tg_diag *);
/* The same from a string; name is used in diagnostics, and relative table
 * and include paths are resolved against dir (NULL: the working
 * directory). For tests and tools. */
struct tg_policy *tg_policy_load_string(const char *name, const char *text,
	    const char *dir, struct tg_diag *);

struct tg_policy *tg_policy_ref(struct tg_policy *);
void	tg_policy_unref(struct tg_policy *);	/* frees at zero */

/* The published snapshot. tg_policy_current() returns it with a reference
 * taken (NULL if none); tg_policy_publish() takes over the caller's
 * reference to p, gives it the next generation and drops the old one, which
 * is freed once its last session lets go. */
struct tg_policy *tg_policy_current(void);
void	tg_policy_publish(struct tg_policy *p);

/* Reply templates: ${name} variables. Returns NULL if every variable in
 * text is known, else a pointer to the first unknown "${". */
const char *tg_template_check(const char *text);

#endif
