/* tg_drive.h - driving the engine through one MTA connection: the part
 * both front ends share (the libmilter glue, milter.c, and tollgate's own
 * protocol engine, mproto_*.c). Pinning a policy (and moving to a newer
 * one at MAIL), copying the MTA's macros into the session, running each
 * stage and turning its verdict into the answer the MTA gets, with its
 * log line and metrics, and the changes made at end of message. No
 * protocol types here: a front end hands in the MTA's macros and carries
 * out header changes through struct tg_drive_mta, and sends the answer.
 * Owns: a struct tg_drive_conn per MTA connection (its session, its
 * reference to the pinned policy). Threads: one connection is driven by
 * one thread at a time; different connections share nothing but the id
 * counter and the published policy. */
#ifndef TG_DRIVE_H
#define TG_DRIVE_H

#include <stddef.h>
#include "tg_engine.h"
#include "tg_policy.h"
#include "tg_session.h"

struct sockaddr;

/* What the front end does for the driver. fe is its own context. */
struct tg_drive_mta {
	/* The value of macro name ("i", "{daemon_name}"), NULL when the
	 * MTA did not send it. Borrowed until the next protocol command. */
	const char *(*macro)(void *fe, const char *name);
	/* End of message only; each returns 0, or -1 (logged by the
	 * driver). index is 1-based among the fields of that name (del),
	 * or the position to insert at (ins, 0: on top). */
	int	(*add_header)(void *fe, const char *name, const char *value);
	int	(*ins_header)(void *fe, int index, const char *name,
		    const char *value);
	int	(*del_header)(void *fe, const char *name, int index);
	int	(*quarantine)(void *fe, const char *reason);
};

/* The answer to one protocol command. */
enum tg_drive_answer {
	TG_DRIVE_CONTINUE,
	TG_DRIVE_REJECT,	/* with the reply in struct tg_drive_reply */
	TG_DRIVE_TEMPFAIL,	/* the same; no reply: the MTA's own 4xx */
	TG_DRIVE_DISCARD,	/* accept and drop the message */
};

/* An SMTP reply as the milter protocol carries it: the text with '%'
 * doubled (both MTAs read it as a format). code[0] is '\0' when the
 * answer has no reply of its own. */
struct tg_drive_reply {
	char	code[4];
	char	xcode[12];
	char	text[2 * TG_REPLY_TEXT_MAX + 1];
};

/* What a policy needs the MTA to send or to wait for (tg_drive_needs):
 * the protocol steps a front end must not negotiate away. */
#define TG_DRIVE_NEED_HDRS	0x01u	/* headers (and end of headers) */
#define TG_DRIVE_NEED_BODY	0x02u	/* the body */
#define TG_DRIVE_NEED_HELO	0x04u	/* an answer at HELO: a connect
					 * refusal is given there */
#define TG_DRIVE_NEED_DATA	0x08u	/* an answer at DATA */

struct tg_drive_conn {
	struct tg_policy	*policy;	/* pinned; re-pinned at MAIL */
	struct tg_session	 sess;
	unsigned		 neg;		/* TG_DRIVE_NEED_* the front end
						 * negotiated (new policies are
						 * pinned only within them) */
	unsigned		 warned;	/* macros reported missing */
	unsigned		 want;		/* macros the policy reads */
	int			 warned_auth;	/* {auth_type} without login */
	const struct tg_drive_mta *mta;
	void			*fe;
};

/* Session ids: a counter started from the clock (once, at start). */
void	tg_drive_init(void);
/* A connection with policy pin pinned (the connection takes over the
 * caller's reference; NULL: the published policy); counts a session in
 * the metrics. neg starts as every TG_DRIVE_NEED_* (nothing skipped). */
struct tg_drive_conn *tg_drive_open(const struct tg_drive_mta *, void *fe,
	    struct tg_policy *pin);
void	tg_drive_close(struct tg_drive_conn *);
/* The TG_DRIVE_NEED_* of policy p (NULL: all of them). */
unsigned tg_drive_needs(const struct tg_policy *p);

/* The protocol commands. sa is the client's address as the MTA gave it
 * (NULL: unknown); argv is the command's arguments, argv[0] the address,
 * NULL-terminated. Each fills rep when the answer has a reply. */
enum tg_drive_answer tg_drive_connect(struct tg_drive_conn *,
	    const char *host, const struct sockaddr *sa);
enum tg_drive_answer tg_drive_helo(struct tg_drive_conn *, const char *helo,
	    struct tg_drive_reply *rep);
enum tg_drive_answer tg_drive_mail(struct tg_drive_conn *, char **argv,
	    struct tg_drive_reply *rep);
enum tg_drive_answer tg_drive_rcpt(struct tg_drive_conn *, char **argv,
	    struct tg_drive_reply *rep);
enum tg_drive_answer tg_drive_data(struct tg_drive_conn *,
	    struct tg_drive_reply *rep);
void	tg_drive_header(struct tg_drive_conn *, const char *name,
	    const char *value);
void	tg_drive_body(struct tg_drive_conn *, const char *buf, size_t len);
/* End of message: the verdict, then (when it lets the message through)
 * the headers to add, the quarantine and Authentication-Results through
 * the front end's operations. */
enum tg_drive_answer tg_drive_eom(struct tg_drive_conn *,
	    struct tg_drive_reply *rep);
void	tg_drive_abort(struct tg_drive_conn *);
/* An answer for a connection without state (or a refusal of the front
 * end's own): 451 4.3.0, logged with why. c may be NULL. */
enum tg_drive_answer tg_drive_internal(struct tg_drive_conn *c,
	    enum tg_stage, const char *why, struct tg_drive_reply *rep);

/* The MTA's macros (drive_macros.c). The stages of the milter protocol's
 * macro lists, numbered as it numbers them (SMFIM_*). */
enum tg_drive_mstage {
	TG_DRIVE_M_CONNECT, TG_DRIVE_M_HELO, TG_DRIVE_M_MAIL,
	TG_DRIVE_M_RCPT, TG_DRIVE_M_DATA, TG_DRIVE_M_EOM, TG_DRIVE_M_EOH,
	TG_DRIVE_M_COUNT
};
/* The macros tollgate asks for at stage st (the list for the MTA's
 * setsymlist), whatever the policy. */
const char *tg_drive_symlist(enum tg_drive_mstage st);

#endif
