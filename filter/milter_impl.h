/* milter_impl.h - what milter.c (the callbacks) and milter_macros.c (the
 * MTA's macros) share; no other module includes it. Daemon only.
 * Threads: callbacks of one connection never overlap, so a struct
 * milter_conn is only ever used by one thread at a time. */
#ifndef MILTER_IMPL_H
#define MILTER_IMPL_H

#include <libmilter/mfapi.h>

#include "tg_policy.h"
#include "tg_session.h"

/* Per-connection state, owned by milter.c: created at negotiate or
 * connect, freed only in close. */
struct milter_conn {
	struct tg_policy	*policy;	/* pinned; re-pinned at MAIL only */
	struct tg_session	 sess;
	int			 neg_hdrs;	/* the MTA sends headers */
	int			 neg_body;	/* the MTA sends the body */
	int			 leadspc;	/* header values come with their
						 * leading white space
						 * (SMFIP_HDR_LEADSPC) */
	unsigned		 warned;	/* milter_macros[] reported missing */
	unsigned		 want;		/* milter_macros[] the policy reads */
	int			 warned_auth;	/* {auth_type} without login said */
};

/* Indexes of milter_macros[] (milter_macros.c), bits of want and warned.
 * The order matters: from M_AUTH_AUTHEN on, a macro the MTA did not send
 * is logged at debug level, not as a warning. */
enum milter_macro_index {
	M_LISTENER_NAME,	/* {daemon_name} */
	M_LISTENER_ADDR,	/* {daemon_addr} */
	M_LISTENER_PORT,	/* {daemon_port} */
	M_CLIENT_ADDR,		/* {client_addr} */
	M_AUTH_AUTHEN,		/* {auth_authen} */
	M_AUTH_TYPE,		/* {auth_type} */
	M_AUTH_AUTHOR,		/* {auth_author} */
	M_TLS_VERSION,		/* {tls_version} */
	M_TLS_CIPHER,		/* {cipher} */
	M_TLS_BITS,		/* {cipher_bits} */
	M_CERT_SUBJECT,		/* {cert_subject} */
	M_CERT_ISSUER,		/* {cert_issuer} */
	M_VERIFY,		/* {verify} */
	M_MTA_NAME,		/* j */
	M_COUNT
};

/* Ask the MTA for the macros read at each stage (smfi_setsymlist), at
 * negotiate; steps are the protocol steps agreed (SMFIP_*). */
void	milter_setsymlists(SMFICTX *, const struct milter_conn *,
	    unsigned long steps);
/* Set c->want: the macros to copy for the pinned policy. */
void	milter_want(struct milter_conn *);
/* Copy macro milter_macros[i] into the session, when wanted. */
void	milter_macro(SMFICTX *, struct milter_conn *, int i);
/* The connect macros beyond the client: listener and MTA name. */
void	milter_listener(SMFICTX *, struct milter_conn *);
/* The TLS macros. */
void	milter_tls(SMFICTX *, struct milter_conn *);
/* Warn once when the MTA sends {auth_type} but not {auth_authen}. */
void	milter_auth_check(SMFICTX *, struct milter_conn *);
/* The queue id ("i"), when the MTA sends one. */
void	milter_queue_id(SMFICTX *, struct milter_conn *);

#endif
