/* mproto_impl.h - what the files of tollgate's own milter protocol engine
 * share: mproto_sess.c (one connection's protocol: packets in, answers
 * out, through the shared driver), mproto_block.c (which commands may
 * wait on the network), mproto_loop.c (event loops, sockets, timers) and
 * mproto_work.c (the workers that run commands that may wait). The
 * protocol constants are libmilter's own, from <libmilter/mfdef.h> (a
 * header of constants: nothing of libmilter is linked). Daemon and fuzz
 * target only. Threads: a session belongs to the loop that accepted it;
 * while one of its commands runs on a worker (busy), only that worker
 * touches it. */
#ifndef MPROTO_IMPL_H
#define MPROTO_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <libmilter/mfdef.h>

#include "tg_drive.h"

/* Actions a filter asks for (SMFIF_* of <libmilter/mfapi.h>, which only
 * the libmilter front end includes): the wire's values. */
#define MP_ACT_ADDHDRS		0x001u
#define MP_ACT_CHGHDRS		0x010u
#define MP_ACT_QUARANTINE	0x020u
#define MP_ACT_SETSYMLIST	0x100u
#define MP_ACTIONS	(MP_ACT_ADDHDRS | MP_ACT_CHGHDRS | MP_ACT_QUARANTINE)

/* A packet: 4-byte length (command byte included), command, data. Data
 * longer than MILTER_MAX_DATA_SIZE closes the connection, as libmilter
 * does (neither MTA sends more unless a filter asks for it). */
#define MP_HDRLEN		5
#define MP_DATA_MAX		MILTER_MAX_DATA_SIZE
#define MP_PKT_MAX		(MP_HDRLEN - 1 + MP_DATA_MAX + 1)
/* Replies waiting for the MTA to read them: past this, the session's
 * input is not read until they are written (a peer that writes but does
 * not read cannot make us buffer without end). */
#define MP_OUT_HIGH		(256 * 1024)

/* A growable byte buffer; p is NULL until first used. */
struct mp_buf {
	char	*p;
	size_t	 len, cap;
};

void	mp_buf_add(struct mp_buf *, const void *, size_t);
void	mp_buf_drop(struct mp_buf *, size_t n);	/* the first n bytes */
void	mp_buf_free(struct mp_buf *);

/* Protocol states, in protocol order (the order matters: a state that
 * was negotiated away may be skipped to reach the next). */
enum mp_state {
	MP_ST_INIT, MP_ST_OPTS, MP_ST_CONN, MP_ST_HELO, MP_ST_MAIL,
	MP_ST_RCPT, MP_ST_DATA, MP_ST_HDRS, MP_ST_EOHS, MP_ST_BODY,
	MP_ST_ENDM, MP_ST_QUIT, MP_ST_ABRT, MP_ST_UNKN, MP_ST_QNC,
	MP_ST_COUNT
};

/* The MTA's macros of one connection, by macro stage (TG_DRIVE_M_*):
 * a copy of each stage's last macro packet, NUL-terminated. */
struct mp_macros {
	char		*buf[TG_DRIVE_M_COUNT];
	uint32_t	 len[TG_DRIVE_M_COUNT];
};

struct mp_loop;
struct mp_dns_wait;

/* One MTA connection. */
struct mp_sess {
	int			 fd;		/* -1: none (fuzz target) */
	struct mp_loop		*loop;		/* that accepted it */
	enum mp_state		 state;
	uint32_t		 version;	/* negotiated */
	uint32_t		 actions;	/* negotiated MP_ACT_* */
	uint32_t		 pflags;	/* negotiated SMFIP_* */
	uint32_t		 mta_pflags;	/* what the MTA offered */
	int			 unixsock;	/* no Nagle: no-reply steps */
	struct tg_drive		*conn;		/* NULL before OPTNEG and after
						 * QUIT_NC until CONNECT */
	struct tg_policy	*negpol;	/* the policy negotiated for */
	unsigned		 block;		/* mproto_block.c, for conn */
	unsigned		 block_gen;	/* its policy's generation */
	struct mp_macros	*mac;
	struct mp_buf		 in;		/* bytes not consumed yet */
	struct mp_buf		 out;		/* replies not written yet */
	/* A command handed to a worker: its packet is at the start of in;
	 * busy until the loop takes the session back. */
	int			 busy;
	char			 job_cmd;
	uint32_t		 job_len;	/* data bytes */
	int			 job_closes;	/* the command asked to close */
	int			 job_park;	/* it waits on DNS checks alone:
						 * parked on the loop
						 * (mproto_dns.c), not a
						 * worker */
	struct mp_dns_wait	*dwait;		/* while parked */
	unsigned		 block_nodns;	/* mp_block_mask_nodns() */
	int			 eom_busy;	/* busy at end of message */
	int			 out_clean;	/* nothing was waiting to be
						 * written when it was handed
						 * over: progress may be sent */
	int			 closing;	/* close once out is written */
	int			 hup;		/* the MTA has shut down its
						 * side: nothing more comes */
	unsigned		 evmask;	/* registered with epoll */
	int64_t			 active_ms;	/* last packet (monotonic) */
	int64_t			 progress_ms;	/* last progress sent */
	struct mp_sess		*prev, *next;	/* the loop's timer list */
	void			*tlist;		/* which one (mproto_loop.c) */
	struct mp_sess		*qnext;		/* in the work queue, then in
						 * the loop's finished list */
};

/* What mp_sess_feed() says. */
enum mp_feed {
	MP_FEED_MORE,		/* every complete packet handled */
	MP_FEED_HANDOFF,	/* the packet at *used must run on a worker */
	MP_FEED_CLOSE,		/* close the connection once out is written */
};

/* mproto_sess.c */
/* A session on fd (-1 for none); unixsock: the MTA connects over a unix
 * socket, where the no-reply steps cost no Nagle delay. */
struct mp_sess *mp_sess_new(int fd, int unixsock);
/* Free everything (the driver's connection is closed: its rate-limit
 * holds are given back). The fd is the caller's. */
void	mp_sess_free(struct mp_sess *);
/* Handle the complete packets of buf (len bytes). *used: the bytes
 * handled; on HANDOFF the command at buf + *used (not consumed) must be
 * run by mp_sess_job() and then the session fed again after it. The
 * incomplete packet at the end is left (*used < len). */
enum mp_feed mp_sess_feed(struct mp_sess *, const char *buf, size_t len,
	    size_t *used);
/* Run the handed-off command, whose whole packet is at pkt; returns
 * MP_FEED_MORE or MP_FEED_CLOSE and sets job_len (data bytes). Runs on a
 * worker (or inline, in the fuzz target). */
enum mp_feed mp_sess_job(struct mp_sess *, const char *pkt);
/* The daemon is stopping: from now on no command reaches the driver, and
 * commands that are answered get a tempfail (as milter_guard.c does for
 * libmilter). Process-wide; sessions read it at every command. */
void	mp_sess_stop_all(void);
int	mp_sess_stopping(void);

/* Run the handed-off command (job_cmd != 0) or end the driver's
 * connection (job_cmd 0: closing with rate-limit holds to give back). */
void	mp_sess_close_conn(struct mp_sess *);
int	mp_sess_close_blocks(struct mp_sess *);

/* mproto_work.c: the workers. A session handed over runs there, then goes
 * back to its loop through done (mproto_loop.c's mp_loop_done()). */
int	mp_work_start(int max, void (*done)(struct mp_sess *)); /* 0, -1 */
void	mp_work_submit(struct mp_sess *);
/* Wait at most timeout_ms until no command runs or waits; 0, or -1 when
 * some still do. New submissions are still taken. */
int	mp_work_drain(int timeout_ms);
void	mp_work_stop(void);		/* join the workers */
/* mproto_block.c: events of the pinned policy that may wait on the
 * network (DNS, Redis, a SASL database) and so must not run on a loop
 * thread. Bits by stage (1 << TG_STAGE_*), plus MP_BLOCK_TXN for ending
 * a message or a connection (rate-limit holds given back to Redis). */
#define MP_BLOCK_TXN	(1u << TG_STAGE_COUNT)
unsigned mp_block_mask(const struct tg_policy *);
/* The same without the DNS checks the loops look up ahead (mproto_dns.c):
 * a stage in the first mask only waits on those alone. */
unsigned mp_block_mask_nodns(const struct tg_policy *);

#endif
