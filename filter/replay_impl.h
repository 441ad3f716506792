/* replay_impl.h - what the files of tollgate-test's replay share
 * (replay_conn.c: connections, macros, effects, sinks; replay_run.c: the
 * commands, as an MTA carries them out; replay_out.c: output and
 * expectations): the state of the session being run. Internal to
 * tollgate-test. Threads: single-threaded program. */
#ifndef REPLAY_IMPL_H
#define REPLAY_IMPL_H

#include <stdint.h>

#include "tg.h"
#include "tg_drive.h"
#include "tg_engine.h"
#include "tg_trace.h"
#include "replay.h"

/* The MTA's macros, as the session set them (NULL: not sent). */
enum run_macro {
	RM_DAEMON_NAME, RM_DAEMON_PORT, RM_DAEMON_ADDR, RM_MTA, RM_CLIENT_ADDR,
	RM_CLIENT_NAME, RM_TLS_VERSION, RM_CIPHER, RM_CIPHER_BITS,
	RM_CERT_SUBJECT, RM_CERT_ISSUER, RM_VERIFY, RM_AUTH_AUTHEN,
	RM_AUTH_TYPE, RM_AUTH_AUTHOR, RM_QUEUE_ID, RM_COUNT
};


/* A rule's result at the step being run. */
struct run_hit {
	const struct tg_rule	*r;
	int			 result;
};

/* A connection of the session ("connection NAME"; the first is "1"). */
struct run_conn {
	char			*name;
	char			*m[RM_COUNT];	/* its macros */
	struct tg_drive		 d;
	int			 connected;
	int			 refused;	/* the filter refused at HELO */
	struct tg_verdict	 refusal;	/* what it said */
	/* The message, as the MTA sees it. */
	int			 in_mail;	/* MAIL accepted */
	int			 discarded;	/* a discard: no more asking */
	unsigned		 rcpt_given, rcpt_ok;
};

struct run {
	const struct replay_file *f;
	struct tg_policy	*p;
	const struct replay_opts *o;
	struct replay_result	*res;
	char			*defm[RM_COUNT];	/* listener, mta */
	char			*connect_addr, *connect_name;	/* client */

	struct run_conn		**conns;
	size_t			 nconns;
	struct run_conn		*c;		/* the current one */
	struct tg_drive		*held_conns;	/* hold N */
	size_t			 nheld;
	struct tg_trace		 trace;
	unsigned		 conn_n, msg_n;

	/* The step being run. */
	char			 reply[600];
	int			 asked;		/* the filter gave the reply */
	struct tg_verdict	 v;
	const char		*note;		/* ", answered at MAIL" */
	char			**lines;	/* trace, effects, log lines */
	size_t			 nlines;
	struct replay_hdr	*added;		/* headers the message got */
	size_t			 nadded;
	char			*held;		/* quarantine reason */
	struct run_hit		*hits;
	size_t			 nhits;
};


/* replay_conn.c */
/* A line printed under the step (trace, effects, log). */
void	replay_line(struct run *, const char *, ...) TG_PRINTFLIKE(2, 3);
/* Set macro m of the current connection; setm: of the session too. */
void	replay_set(struct run *, enum run_macro m, const char *v);
void	replay_setm(struct run *, enum run_macro m, const char *v);
/* Make connection name the current one (new: the session's settings). */
void	replay_conn_use(struct run *, const char *name);
/* The current connection ends; every connection ends. */
void	replay_close(struct run *);
void	replay_end_session(struct run *);
/* Open the current connection from addr (name: verified); n more held. */
void	replay_connect(struct run *, const char *addr, const char *name);
void	replay_hold(struct run *, long long n);
void	replay_release(struct run *);
/* The MTA answers by itself; the reply to a step the filter answered. */
void	replay_mta(struct run *, const char *, ...) TG_PRINTFLIKE(2, 3);
void	replay_answer(struct run *, enum tg_answer a, const char *ok);
const char *replay_mta_name(const struct run *);
/* The MTA's end-of-message effects, shown and kept for expectations. */
extern const struct tg_drive_effects replay_fx;
/* The log, trace and clock of a session file's run, on and off. */
void	replay_sinks(struct run *, int on);
void	replay_clock_advance(int64_t ms);

/* replay_out.c */
void	replay_verdict(const struct run *, char *out, size_t outsz);
void	replay_step_text(const struct replay_step *, char *out, size_t outsz,
	    int eom);
void	replay_step_reset(struct run *);
/* The step's line and what goes under it; print adds its expectations. */
void	replay_print_line(struct run *, const struct replay_step *,
	    const char *text);
void	replay_print(struct run *, const struct replay_step *,
	    const char *text);

#endif
