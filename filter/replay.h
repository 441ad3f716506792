/* replay.h - tollgate-test: SMTP sessions described in a session file
 * (replay_parse.c) replayed through the engine as the daemon's libmilter
 * glue drives it (tg_drive.h), with Postfix's own replies where the MTA
 * answers without asking the filter (replay_run.c), checked against the
 * file's expectations; replay_main.c has the options and the output.
 * The format is documented in tollgate-test(8).
 * Owns: a struct replay_file owns everything parsed from it.
 * Threads: single-threaded program. */
#ifndef REPLAY_H
#define REPLAY_H

#include <stddef.h>
#include <stdio.h>

#include "tg_diag.h"
#include "tg_policy.h"

#define REPLAY_MSG_MAX	(64L * 1024 * 1024)	/* bytes of one message */
#define REPLAY_PAD_MAX	(4LL * 1024 * 1024 * 1024)	/* data pad */
#define REPLAY_REPEAT_MAX	100000	/* repeat N, hold N */

enum replay_cmd {
	R_LISTENER,	/* listener NAME [port N] [address IP] */
	R_MTA,		/* mta NAME (macro j) */
	R_CLIENT,	/* client ADDRESS [NAME]: for the next connect */
	R_CONNECT,	/* connect [ADDRESS [NAME]] */
	R_CONNECTION,	/* connection NAME: the steps after it go there */
	R_HELO,		/* helo NAME, ehlo NAME */
	R_TLS,		/* tls VERSION CIPHER BITS [subject S] [issuer I]
			 * [verify V] | tls off */
	R_AUTH,		/* auth LOGIN [MECHANISM] [author ADDRESS] | auth off */
	R_MAIL,		/* mail ADDRESS [PARAM...] */
	R_RCPT,		/* rcpt ADDRESS [PARAM...] */
	R_DATA,		/* data [FILE] [pad BYTES], inline message to "." */
	R_RSET,
	R_QUIT,
	R_WAIT,		/* wait DURATION: the clock of the counters moves */
	R_HOLD,		/* hold N: N more connections stay open */
	R_REPEAT,	/* repeat N: the steps up to "end", N times */
	R_END,
};

enum replay_exp {
	X_REPLY,	/* CODE [XCODE ["TEXT"]]: what the client got */
	X_ACTION,	/* accept|continue|reject|tempfail|discard|quarantine */
	X_RULE,		/* rule NAME (or "-": no rule decided) */
	X_LIMIT,	/* limit NAME: the limit that tripped */
	X_DRY_RUN,	/* dry-run: the verdict was only logged */
	X_HEADER,	/* header "Name: value": added at end of message */
	X_NO_HEADER,	/* no-header Name */
	X_MATCHED,	/* matched RULE: the rule matched at this step */
	X_NOT_MATCHED,	/* not-matched RULE */
	X_HELD,		/* held "reason": quarantined with this reason */
};

struct replay_expect {
	enum replay_exp	 kind;
	char		*a, *b, *c;	/* X_REPLY: code, xcode, text; else
					 * the name or text in a */
	char		*src;		/* the line as written, for the diff */
	int		 line;
};

struct replay_hdr {
	char	*name;
	char	*value;		/* as received: the blanks after the colon
				 * kept (the MTA passes them only with
				 * SMFIP_HDR_LEADSPC), folds as "\r\n" and
				 * the next line */
};

/* A message: given inline (parsed when the file is read) or as a file
 * (read when the step runs). */
struct replay_msg {
	struct replay_hdr *hdr;
	size_t		 nhdr;
	char		*body;		/* CR LF line ends, as the MTA sends */
	size_t		 bodylen;
};

struct replay_step {
	enum replay_cmd	 cmd;
	int		 line;
	char		*word;		/* the command as written (helo, ehlo) */
	char		**arg;		/* the words after the command */
	size_t		 narg;
	struct replay_msg *msg;		/* R_DATA inline; NULL with file */
	char		*file;		/* R_DATA FILE, resolved */
	int		 file_col;
	long long	 pad;		/* R_DATA pad BYTES */
	long long	 wait_ms;	/* R_WAIT */
	long long	 count;		/* R_HOLD, R_REPEAT */
	size_t		 end;		/* R_REPEAT: index of its R_END */
	struct replay_expect *ex;
	size_t		 nex;
};

struct replay_session {
	char		*name;
	int		 line;
	struct replay_step *steps;
	size_t		 nsteps;
};

struct replay_file {
	char		*path;
	char		*policy;	/* policy "FILE", resolved; or NULL */
	int		 policy_line;
	char		*dns;		/* dns "FILE", resolved; or NULL */
	int		 dns_line;
	struct replay_step *defaults;	/* listener, mta, client lines
					 * before the first session */
	size_t		 ndefaults;
	struct replay_session *s;
	size_t		 ns;
};

/* replay_parse.c: read a session file; NULL after adding every error
 * (file:line:column) to diag. */
struct replay_file *replay_parse(const char *path, struct tg_diag *diag);
/* The same from len bytes of buf (any bytes), named path; relative file
 * names are taken from path's directory. */
struct replay_file *replay_parse_buffer(const char *path, const char *buf,
	    size_t len, struct tg_diag *diag);
void	replay_file_free(struct replay_file *);
void	replay_msg_free(struct replay_msg *);
/* Read a message file (a saved .eml, any line ends, any bytes) as an MTA
 * would receive it: headers up to the first empty line (a line without a
 * colon ends them, as in Postfix), the body with CR LF line ends. NULL
 * with *why set when it cannot be read or is over REPLAY_MSG_MAX. */
struct replay_msg *replay_msg_read(const char *path, const char **why);
/* replay_msg.c: one line (without its line end) of a message being
 * built: a header, a continuation, the empty line, or the body. With
 * strict (an inline message), a line without a colon among the headers
 * is -1 with *col set, and the rest is read as body; otherwise it starts
 * the body, as in Postfix. hcap, bcap and in_hdrs start at 0, 0, 1. */
int	replay_msg_line(struct replay_msg *m, size_t *hcap, size_t *bcap,
	    int *in_hdrs, const char *line, size_t n, int strict, int *col);
/* Parse "30s", "5m", "2h", "1d", "250ms"; -1 when malformed. */
long long replay_duration(const char *);

/* What the output shows (replay_main.c). */
struct replay_opts {
	int	 verbose;	/* -v: the trace of every rule */
	int	 quiet;		/* -q: only the verdict lines */
	int	 stop;		/* -x: stop at the first failure */
	FILE	*out;
};

/* What a run came to; rules matched are counted by rule for -u. */
struct replay_result {
	unsigned	 sessions, steps, expects, failed;
};

/* replay_run.c: run every session of f under policy p; results are
 * added to res. */
void	replay_run_file(const struct replay_file *f, struct tg_policy *p,
	    const struct replay_opts *o, struct replay_result *res);
/* The rules that matched at least once since the program started, as a
 * count per rule of p (p's rules in stage order); caller frees. */
unsigned *replay_rule_hits(const struct tg_policy *p);

#endif
