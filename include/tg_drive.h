/* tg_drive.h - a front end's half of one MTA connection, without
 * libmilter: the session calls, their order, the MTA's macros copied into
 * the session, the syntax replies of our own (bad address, bad SIZE=),
 * dry runs, verdict log lines, metrics, and the effects of the end of a
 * message (headers to add, quarantine, Authentication-Results). The
 * libmilter glue (milter.c) is one front end; the policy test tool
 * (tollgate-test) and the fuzz target of whole transactions are others,
 * so all of them judge a session the same way. A front end maps the
 * answers to its protocol (SMFIS_*, SMTP replies).
 * Owns: a struct tg_drive owns its session and one reference to its
 * policy. Threads: a struct tg_drive is used by one thread at a time (a
 * connection's events never overlap); different ones run in parallel. */
#ifndef TG_DRIVE_H
#define TG_DRIVE_H

#include <stddef.h>

#include "tg_engine.h"
#include "tg_ip.h"
#include "tg_policy.h"
#include "tg_session.h"

/* What the front end tells the MTA. */
enum tg_answer {
	TG_ANS_CONTINUE,
	TG_ANS_REJECT,		/* with the verdict's reply */
	TG_ANS_TEMPFAIL,	/* with the verdict's reply */
	TG_ANS_DISCARD,		/* accept the message, deliver it nowhere */
};

/* The value of the MTA's macro name ("{daemon_name}", "j", "i"), or NULL
 * when the MTA did not send it. The string must stay valid until the
 * drive call that asked for it returns. */
typedef const char *(*tg_drive_macro_fn)(void *arg, const char *name);

/* What the end of a message asks of the MTA; arg is the one given to
 * tg_drive_eom(). Each returns 0, or -1 when the MTA refused. */
struct tg_drive_effects {
	int	(*add_header)(void *arg, const char *name, const char *value);
	int	(*quarantine)(void *arg, const char *reason);
	/* Remove the index-th (1-based) header called name. */
	int	(*remove_header)(void *arg, const char *name, unsigned index);
	/* Insert a header above all the others. */
	int	(*insert_header)(void *arg, const char *name,
		    const char *value);
};

/* What a policy needs the MTA to send or to wait for (tg_drive_needs):
 * the protocol steps a front end must not negotiate away. */
#define TG_DRIVE_NEED_HDRS	0x01u	/* headers (and end of headers) */
#define TG_DRIVE_NEED_BODY	0x02u	/* the body */
#define TG_DRIVE_NEED_HELO	0x04u	/* an answer at HELO: a connect
					 * refusal is given there */
#define TG_DRIVE_NEED_DATA	0x08u	/* an answer at DATA */
#define TG_DRIVE_NEED_ALL	0x0fu

struct tg_drive {
	struct tg_policy	*policy;	/* pinned; NULL: none loaded */
	struct tg_session	 sess;
	tg_drive_macro_fn	 macro;
	void			*macro_arg;
	unsigned		 neg;		/* TG_DRIVE_NEED_* the front end
						 * negotiated: a policy is
						 * re-pinned only within them */
	int			 leadspc;	/* header values come with their
						 * leading white space
						 * (SMFIP_HDR_LEADSPC) */
	unsigned		 want;		/* macros the policy reads */
	unsigned		 warned;	/* macros reported missing */
	int			 warned_auth;	/* {auth_type} without login */
};

/* The TG_DRIVE_NEED_* of policy p: headers (a header condition, or
 * size, which counts header bytes, or DKIM), the body (size, MIME, DKIM),
 * an answer at HELO (connect rules or limits, refused there) and at DATA
 * (data rules). Without a policy, all of them. */
unsigned tg_drive_needs(const struct tg_policy *p);

/* Start a connection: d takes over the reference to p (NULL: no policy,
 * every stage is answered 451 4.3.0); id names the session in log lines.
 * Every step counts as negotiated (neg) until the front end says
 * otherwise. */
void	tg_drive_init(struct tg_drive *d, struct tg_policy *p, const char *id,
	    tg_drive_macro_fn macro, void *macro_arg);
/* End of the connection: the session and the policy reference go. */
void	tg_drive_free(struct tg_drive *d);

/* The daemon's connections: session ids from a counter started from the
 * clock (tg_drive_ids_init, once, before the first open). tg_drive_open
 * allocates and starts one with policy pin pinned (the reference is taken
 * over; NULL: the published policy) and counts a session in the metrics;
 * tg_drive_close ends and frees it (NULL: nothing). */
void	tg_drive_ids_init(void);
struct tg_drive *tg_drive_open(struct tg_policy *pin, tg_drive_macro_fn macro,
	    void *macro_arg);
void	tg_drive_close(struct tg_drive *d);

/* An SMTP reply as the milter protocol carries it: the text with '%'
 * doubled (both MTAs read it as a format). code[0] is '\0' when the
 * verdict has no reply of its own. */
struct tg_drive_reply {
	char	code[4];
	char	xcode[12];
	char	text[2 * TG_REPLY_TEXT_MAX + 1];
};
/* The reply of a REJECT or TEMPFAIL answer's verdict v, for either front
 * end (smfi_setreply, SMFIR_REPLYCODE). */
void	tg_drive_reply(const struct tg_verdict *v, struct tg_drive_reply *rep);
/* The verdict of a stage answered without a connection (its state could
 * not be made): 451 4.3.0, logged. */
void	tg_drive_nostate(enum tg_stage st, struct tg_verdict *v);

/* The events, in the order the MTA sends them. v gets the verdict that
 * led to the answer (for REJECT and TEMPFAIL: the reply to give). */

/* The client: ip from the socket address when it is IPv4 (binary, NULL
 * otherwise), addr its text form for IPv6 (NULL otherwise); failing
 * both, the {client_addr} macro. host is the MTA's name for the client
 * ("[addr]" when unverified). The connect rules run now, but a refusal
 * cannot be answered at connect: it is kept and answered from HELO on, so
 * the answer is CONTINUE (TEMPFAIL without a policy). */
enum tg_answer tg_drive_connect(struct tg_drive *d, const struct tg_ip *ip,
	    const char *addr, const char *host, struct tg_verdict *v);
/* The same from the socket address the MTA sent (NULL: unknown). */
struct sockaddr;
enum tg_answer tg_drive_connect_sa(struct tg_drive *d, const char *host,
	    const struct sockaddr *sa, struct tg_verdict *v);
/* HELO/EHLO: a kept connect refusal is answered here; a refusal of the
 * helo rules is only logged (answered at MAIL, see milter.c). */
enum tg_answer tg_drive_helo(struct tg_drive *d, const char *helo,
	    struct tg_verdict *v);
/* What tg_drive_connect_sa() and tg_drive_helo() put in the session
 * before their rules run, and only that: the native engine's DNS
 * prefetch sets it ahead so that the rules' guards on the client and the
 * HELO name are known to the plan (setting it again is the same). */
void	tg_drive_connect_facts_sa(struct tg_drive *d, const char *host,
	    const struct sockaddr *sa);
void	tg_drive_helo_facts(struct tg_drive *d, const char *helo);
/* At MAIL, before tg_drive_mail(): move to policy p (the reference is
 * taken over; NULL is ignored) unless it is the one pinned or needs
 * protocol steps not negotiated (neg). Returns 1 when the connection
 * moved. */
int	tg_drive_repin(struct tg_drive *d, struct tg_policy *p);
/* MAIL FROM: argv[0] the address, then the ESMTP parameters. */
enum tg_answer tg_drive_mail(struct tg_drive *d, char *const *argv,
	    struct tg_verdict *v);
/* RCPT TO: argv[0] the address, then the ESMTP parameters. */
enum tg_answer tg_drive_rcpt(struct tg_drive *d, char *const *argv,
	    struct tg_verdict *v);
enum tg_answer tg_drive_data(struct tg_drive *d, struct tg_verdict *v);
/* One header as the MTA passes it: the value without the leading space,
 * or with it when the front end set leadspc (the MTA then keeps it). */
void	tg_drive_header(struct tg_drive *d, const char *name,
	    const char *value);
/* The end of the headers. */
void	tg_drive_eoh(struct tg_drive *d);
void	tg_drive_body(struct tg_drive *d, const void *chunk, size_t len);
/* End of the message: the eom rules, then (when the message is kept)
 * its effects through fx, then the message state is cleared. A failed
 * removal of a forged Authentication-Results is 451 4.3.0. */
enum tg_answer tg_drive_eom(struct tg_drive *d,
	    const struct tg_drive_effects *fx, void *fx_arg,
	    struct tg_verdict *v);
/* The MTA abandoned the message (RSET, a refusal, a dropped DATA). */
void	tg_drive_abort(struct tg_drive *d);

/* A global dry run turns verdict v into a log line only (never a tempfail
 * for an error of ours or a syntax reply). */
int	tg_drive_dry(const struct tg_drive *d, const struct tg_verdict *v);

/* drive_macros.c: the MTA's macros. Indexes of the macro table, bits of
 * want and warned. The order matters: from TG_M_AUTH_AUTHEN on, a macro
 * the MTA did not send is logged at debug level, not as a warning. */
enum tg_drive_macro {
	TG_M_LISTENER_NAME,	/* {daemon_name} */
	TG_M_LISTENER_ADDR,	/* {daemon_addr} */
	TG_M_LISTENER_PORT,	/* {daemon_port} */
	TG_M_CLIENT_ADDR,	/* {client_addr} */
	TG_M_AUTH_AUTHEN,	/* {auth_authen} */
	TG_M_AUTH_TYPE,		/* {auth_type} */
	TG_M_AUTH_AUTHOR,	/* {auth_author} */
	TG_M_TLS_VERSION,	/* {tls_version} */
	TG_M_TLS_CIPHER,	/* {cipher} */
	TG_M_TLS_BITS,		/* {cipher_bits} */
	TG_M_CERT_SUBJECT,	/* {cert_subject} */
	TG_M_CERT_ISSUER,	/* {cert_issuer} */
	TG_M_VERIFY,		/* {verify} */
	TG_M_MTA_NAME,		/* j */
	TG_M_COUNT
};

/* The stages of the milter protocol's macro lists, numbered as it numbers
 * them (SMFIM_*), and the macros tollgate asks for at each (the list for
 * the MTA's setsymlist), whatever the policy. */
enum tg_drive_mstage {
	TG_DRIVE_M_CONNECT, TG_DRIVE_M_HELO, TG_DRIVE_M_MAIL,
	TG_DRIVE_M_RCPT, TG_DRIVE_M_DATA, TG_DRIVE_M_EOM, TG_DRIVE_M_EOH,
	TG_DRIVE_M_COUNT
};
const char *tg_drive_symlist(enum tg_drive_mstage st);

/* Set d->want: the macros to copy for the pinned policy. */
void	tg_drive_want(struct tg_drive *d);
/* Copy macro i into the session, when wanted; a missing one is said once
 * per session when a rule reads what it feeds. */
void	tg_drive_macro(struct tg_drive *d, enum tg_drive_macro i);
/* The connect macros beyond the client: listener and MTA name. */
void	tg_drive_listener(struct tg_drive *d);
/* The TLS macros (sent at HELO, again after STARTTLS). */
void	tg_drive_tls(struct tg_drive *d);
/* The SASL macros, at MAIL; warn once when {auth_type} comes without
 * {auth_authen}. */
void	tg_drive_auth(struct tg_drive *d);
/* The queue id ("i"), when the MTA sends one. */
void	tg_drive_queue_id(struct tg_drive *d);

#endif
