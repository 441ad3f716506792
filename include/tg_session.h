/* tg_session.h - what the engine knows about one SMTP connection and its
 * current message, filled in by the milter glue from macros and callback
 * arguments. No libmilter types here: the unit tests fill it directly.
 * Owns: copies of every string it holds. Threads: one connection's
 * callbacks never overlap, so no locking; never shared between sessions. */
#ifndef TG_SESSION_H
#define TG_SESSION_H

#include <stddef.h>
#include "tg_ip.h"
#include "tg_policy.h"
#include "tg_engine.h"
#include "tg_mime.h"

#define TG_HEADER_MAX_COUNT	1000	/* headers kept for conditions */
#define TG_HEADER_MAX_BYTES	(256 * 1024)	/* header text kept */

struct tg_rate_state;
struct tg_dkim_msg;
struct tg_trace;
struct tg_grey_state;

struct tg_header {
	char	*name;
	char	*value;
	char	*decoded;	/* RFC 2047 words decoded, NULL: as value */
};

struct tg_mime;

struct tg_session {
	char		 id[24];	/* session id for log lines */
	char		*queue_id;	/* the MTA's, once known */

	/* String values of attributes, NULL when unknown (the macro was not
	 * sent). Numbers and booleans are derived or kept below. */
	char		*val[TG_A_COUNT];
	struct tg_ip	 client_ip;
	int		 client_ip_ok;
	long long	 listener_port;	/* -1 unknown */
	long long	 tls_bits;	/* -1 unknown */

	/* Current message. */
	int		 in_message;	/* MAIL seen, not yet finished */
	long long	 size_declared;	/* SIZE=, 0 if not given */
	long long	 size;		/* header + body bytes received */
	unsigned	 rcpt_count;	/* recipients not rejected by us */
	struct tg_header *hdrs;
	size_t		 nhdrs, hdrcap;
	size_t		 hdr_bytes;	/* name + value bytes kept in hdrs */
	int		 rcpt_routed;	/* rcpt asks for routing: its domain is
					 * unknown (tg_addr_parse) */
	long long	 hdr_count;	/* every header, kept or not */
	long long	 hdr_total;	/* their bytes, "Name: value\r\n" */
	long long	 hdr_longest;	/* longest physical header line */
	struct tg_mime	*mime;		/* body parser, when a rule needs it */

	/* Results that outlive one stage. */
	struct tg_header *add_hdrs;	/* headers to add at end of message */
	size_t		 nadd, addcap;
	char		*quarantine;	/* reason, applied at end of message */
	int		 discard;	/* discard the message at end */
	int		 msg_accepted;	/* an accept rule matched (message) */
	int		 conn_accepted;	/* an accept rule matched at connect */
	int		 helo_accepted;	/* ... at helo, until the next HELO */
	int		 helo_seen;	/* the helo rules ran (at HELO/EHLO, or
					 * at MAIL for a client that sent
					 * none) */
	struct tg_verdict *conn_verdict; /* a connect reject or tempfail,
					 * repeated at every later stage; NULL
					 * if none. On the heap: inline, it
					 * made the connection state too big
					 * for malloc's per-thread cache */
	struct tg_verdict *helo_verdict; /* the same for the helo rules,
					 * until the next HELO/EHLO */

	/* Headers past TG_HEADER_MAX_COUNT or TG_HEADER_MAX_BYTES are
	 * counted, not kept; once one is dropped every later one is, so a
	 * kept field is always the first of its name. Except: the first
	 * top-level Content-Type, -Transfer-Encoding and -Disposition are
	 * always kept, because the MIME parser starts from them. */
	size_t		 hdrs_dropped;	/* headers counted but not kept */
	unsigned long	*hdr_lost;	/* per header name a rule reads (policy
					 * hdr_names): fields not kept; NULL
					 * until one is dropped */
	size_t		 nhdr_lost;
	int		 hdr_lost_blind; /* dropped without a policy to name
					 * what: every count is unknown */
	int		 hdr_lost_logged; /* "cannot decide" logged */
	unsigned long	 ctop_count[TG_MIME_TOP_COUNT];	/* fields of each */
	char		*ctop_other[TG_MIME_TOP_COUNT];	/* first later value
					 * that differs from the first */
	int		 ctop_obs[TG_MIME_TOP_COUNT];	/* one came with white
					 * space before its colon */

	/* SMTP AUTH (auth.c, authres.c). */
	int		 login_bad;	/* {auth_authen} unusable: tempfail */
	unsigned	 authres_seen;	/* Authentication-Results so far */
	unsigned	*authres_forged; /* their 1-based indexes claiming our
					 * authserv-id, for smfi_chgheader */
	size_t		 nforged;
	int		 forged_overflow; /* some cannot be removed: too many
					 * to remember, or a name written
					 * with white space before the colon */
	struct tg_rate_state *rate;	/* rate.c: counts to take back */
	struct tg_grey_state *grey;	/* grey.c: the message's recipients
					 * for greylisting at data or eom */
	struct tg_check_state *chk;	/* DNS and SPF results (tg_check.h) */
	struct tg_dkim_msg *dkim;	/* DKIM and DMARC of the message
					 * (tg_dkim.h) */
	struct tg_trace	*trace;		/* tg_trace.h: record each rule and
					 * condition (tollgate-test -v);
					 * NULL, the daemon's case: off */
};

void	tg_session_init(struct tg_session *, const char *id);
/* Per-message state back to empty: at MAIL, after end of message, on
 * abort. Connection state (client, helo, auth, TLS) stays. Idempotent. */
void	tg_session_reset_message(struct tg_session *);
void	tg_session_free(struct tg_session *);

/* Set an attribute from its text form (NULL clears it). Addresses
 * (sender, rcpt, sasl.author) are normalised first; their .local and
 * .domain parts are derived (and cannot be set on their own: one
 * allocation holds all three). client.address is parsed as an IP. Numbers
 * are parsed as decimal. Returns TG_OK, or TG_ERR_SYNTAX / TG_ERR_TOOLONG
 * when the value is malformed: the attribute is then left unset. */
int	tg_session_set(struct tg_session *, enum tg_attr, const char *value);
/* client.address from an address already parsed (the connection's
 * socket address); its text form is the canonical one. */
void	tg_session_set_client_ip(struct tg_session *, const struct tg_ip *);
void	tg_session_set_queue_id(struct tg_session *, const char *);
/* Record one header (name and unfolded value as received). Counts its
 * bytes into size. Headers past TG_HEADER_MAX_COUNT or TG_HEADER_MAX_BYTES
 * are counted, not kept; for the header names the rules of p read, they
 * are counted by name (p NULL: those counts are unknown). */
void	tg_session_add_header(struct tg_session *, const struct tg_policy *p,
	    const char *name, const char *value);
/* Fields not kept of the header name a rule reads (tg_expr hname): 0 when
 * none was dropped, -1 when unknown. */
long long tg_session_header_lost(const struct tg_session *, size_t hname);
void	tg_session_add_body(struct tg_session *, size_t len);
/* Body bytes: counted into size and, when a rule of policy p reads
 * MIME facts, fed to the MIME parser (started on the first call from the
 * top-level Content- headers). */
void	tg_session_add_body_data(struct tg_session *,
	    const struct tg_policy *p, const char *buf, size_t len);
/* The MIME parser, finished (started on an empty body if need be), or
 * NULL when p has no MIME rule. */
struct tg_mime *tg_session_mime(struct tg_session *,
	    const struct tg_policy *p);
/* The first field called name, NULL if none was kept (see hdrs_dropped
 * and tg_session_header_lost() for whether it exists). */
const char *tg_session_header(const struct tg_session *, const char *name);

#endif
