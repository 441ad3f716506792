/* drive_impl.h - what drive.c (the stages) and drive_macros.c (the MTA's
 * macros) share; no other module includes it. Threads: as tg_drive.h,
 * one thread at a time per connection. */
#ifndef DRIVE_IMPL_H
#define DRIVE_IMPL_H

#include "tg_drive.h"

/* Indexes of drive_macros[] (drive_macros.c), bits of want and warned.
 * The order matters: from M_AUTH_AUTHEN on, a macro the MTA did not send
 * is logged at debug level, not as a warning. */
enum drive_macro_index {
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

/* The macro's value from the front end, NULL when not sent. */
const char *drive_getmacro(const struct tg_drive_conn *, const char *name);
/* Set c->want: the macros to copy for the pinned policy. */
void	drive_want(struct tg_drive_conn *);
/* Copy macro drive_macros[i] into the session, when wanted. */
void	drive_macro(struct tg_drive_conn *, int i);
/* The connect macros beyond the client: listener and MTA name. */
void	drive_listener(struct tg_drive_conn *);
/* The TLS macros. */
void	drive_tls(struct tg_drive_conn *);
/* Warn once when the MTA sends {auth_type} but not {auth_authen}. */
void	drive_auth_check(struct tg_drive_conn *);
/* The queue id ("i"), when the MTA sends one. */
void	drive_queue_id(struct tg_drive_conn *);

#endif
