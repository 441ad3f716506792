/* mload.h - milterload: the MTA side of the milter protocol (version 6),
 * as a load generator and as a test client that asserts replies.
 * Owns: nothing global but the scenario (read-only once parsed) and the
 * run totals (merged under a mutex). Threads: one per connection slot. */
#ifndef MLOAD_H
#define MLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

/* Stages timed and counted; a reply is attributed to the command it
 * answers. ST_MSG is MAIL to the end-of-message reply. */
enum mload_stage {
	ST_NEG, ST_CONN, ST_HELO, ST_MAIL, ST_RCPT, ST_DATA, ST_HDR, ST_EOH,
	ST_BODY, ST_EOM, ST_MSG, ST_NSTAGES
};
extern const char *const mload_stage_name[ST_NSTAGES];

/* Macro stages, in SMFIM_* order (connect helo mail rcpt data eom eoh). */
#define MLOAD_NMSTAGES	7

struct mload_macro {
	int		 stage;		/* SMFIM_* */
	char		*name;
	char		*value;		/* may hold %C %M %Q, see expand */
};

/* What an "expect" line wants of the reply to the step before it. */
struct mload_expect {
	int		 line;		/* scenario line, for messages */
	char		 type;		/* SMFIR_* letter, or 0 */
	char		*text;		/* SMFIR_REPLYCODE text; '*' = prefix */
};

struct mload_step {
	int		 stage;		/* ST_RCPT or ST_HDR */
	char		*a, *b;		/* rcpt: address, args; hdr: name, value */
	struct mload_expect exp;
};

struct mload_msg {
	char		*from, *from_args;
	struct mload_expect from_exp;
	struct mload_step *steps;	/* recipients, then headers */
	size_t		 nsteps;
	size_t		 body;		/* bytes of generated body */
	struct mload_expect data_exp, eoh_exp, body_exp, eom_exp;
	int		 line;
};

struct mload_scn {
	char		*host;		/* client name, %C expands */
	char		*addr;		/* client address, "%IP" = per conn */
	int		 family;	/* '4', '6' or 'U' */
	unsigned	 port;
	char		*helo;
	struct mload_expect conn_exp, helo_exp;
	struct mload_macro *macros;
	size_t		 nmacros;
	struct mload_msg *msgs;
	size_t		 nmsgs;
	int		 nexpect;	/* number of expect lines */
};

int	mload_scn_read(struct mload_scn *, const char *path);
void	mload_scn_default(struct mload_scn *);
/* -k: %IP, %NET and %BIP cycle over this many addresses (0: no limit). */
void	mload_addr_pool(unsigned long);
size_t	mload_expand(char *dst, size_t len, const char *src,
	    unsigned long conn, unsigned long msg);

/* Latency histogram: log-linear buckets in nanoseconds, 32 steps per
 * power of two (about 3 % resolution), so percentiles need no sample
 * storage however long the run. */
#define HIST_SUB	32
#define HIST_N		(64 + 40 * HIST_SUB)
struct mload_hist {
	uint64_t	 n[HIST_N];
	uint64_t	 count, max;
};
void	mload_hist_add(struct mload_hist *, uint64_t ns);
void	mload_hist_merge(struct mload_hist *, const struct mload_hist *);
uint64_t mload_hist_pct(const struct mload_hist *, double pct);

/* Run-wide options, read-only once the threads start. */
struct mload_opt {
	const char	*sock;
	int		 conns;		/* concurrent connections */
	unsigned long	 msgs;		/* messages in total */
	unsigned long	 per_conn;	/* messages per connection */
	int		 hold;		/* seconds to pause inside the first
					 * message, for memory measurements */
	int		 timeout;	/* seconds per reply */
	int		 verbose;
	double		 rate;		/* messages/s to pace at; 0: flat out */
	int		 require_accept;
	unsigned long	 offer_proto;	/* SMFIP_* steps the MTA offers to
					 * skip; the milter chooses */
};

/* A reply counted by stage and text ("continue", "554 5.7.1 ..."). */
#define MLOAD_NREPLY	64
struct mload_reply {
	int		 stage;
	char		 text[96];
	unsigned long	 n;
};

/* Per-thread results, merged at the end. */
struct mload_stats {
	struct mload_hist h[ST_NSTAGES];
	unsigned long	 msgs_done, msgs_ok, sessions, errors, expect_fail;
	struct mload_reply replies[MLOAD_NREPLY];
	size_t		 nreplies;
	unsigned long	 replies_lost;	/* beyond MLOAD_NREPLY kinds */
	unsigned long	 neg_proto, neg_actions;
};

struct mload_conn;
struct mload_run {
	const struct mload_opt *opt;
	const struct mload_scn *scn;
	pthread_mutex_t	 lock;
	unsigned long	 next_msg;	/* claimed under lock */
	unsigned long	 next_conn;
	int		 failed;	/* cannot connect: stop the run */
	uint64_t	 start_ns;	/* CLOCK_MONOTONIC, for pacing */
	pthread_mutex_t	 hold_lock;
	pthread_cond_t	 hold_cond;
	int		 held;
	int		 hold_done;
	char		*body;		/* generated body, read-only */
	size_t		 body_len;
};

int	mload_session(struct mload_run *, struct mload_stats *,
	    unsigned long conn_no);
void	mload_hold(struct mload_run *);
void	mload_count(struct mload_stats *, int stage, const char *text);

#endif
