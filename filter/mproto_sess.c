/* mproto_sess.c - one MTA connection of the native milter engine: the
 * protocol's state machine (versions 2 to 6 as Postfix and Sendmail speak
 * them), option negotiation from what the pinned policy needs, macros per
 * stage, each command handed to the shared driver (tg_drive.h) and its
 * answer encoded (the reply through tg_drive_reply(), as the libmilter
 * glue gives it), header changes and quarantine at end of message, and
 * SMFIC_QUIT_NC. It reads no socket: mproto_loop.c feeds it bytes and
 * writes what it queues in out; a command that may wait on the network
 * (mproto_block.c) is handed back to the loop, which runs it on a worker.
 * What the peer sends is hostile: a malformed or misplaced packet closes
 * the connection with a log line (libmilter closes it, or ignores the
 * command and leaves the MTA waiting for an answer: never that).
 * Owns: its driver connection, macros and buffers. Threads: one at a
 * time, the loop's or a worker's (see mproto_impl.h). */
#include "config.h"

#include <sys/socket.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_dkim.h"
#include "tg_drive.h"
#include "tg_log.h"
#include "tg_policy.h"
#include "mproto_impl.h"
#include "mproto_wire.h"

#define MP_ARGS_MAX	64	/* MAIL/RCPT arguments looked at */

static atomic_int mp_stopping;

void
mp_sess_stop_all(void)
{
	atomic_store(&mp_stopping, 1);
}

int
mp_sess_stopping(void)
{
	return atomic_load_explicit(&mp_stopping, memory_order_relaxed);
}

/* ---- The driver's view of the MTA -------------------------------------- */

static const char *
mp_getmacro(void *fe, const char *name)
{
	return mp_macros_get(((struct mp_sess *)fe)->mac, name);
}

/* mp_hdr_put - SMFIR_ADDHEADER, or SMFIR_INSHEADER at the top, with the
 * value as the MTA expects it: with SMFIP_HDR_LEADSPC negotiated, the MTA
 * writes "Name:" and the value as given, so the space after the colon is
 * ours to put (as milter.c does). */
static int
mp_hdr_put(struct mp_sess *s, char cmd, const char *name, const char *value)
{
	char *v;
	int rc;

	if (!(s->actions & MP_ACT_ADDHDRS) || *name == '\0')
		return -1;
	v = s->conn != NULL && s->conn->leadspc ?
	    tg_xasprintf(" %s", value) : (char *)value;
	rc = mp_put_strs(&s->out, cmd, cmd == SMFIR_INSHEADER ? 0 : -1, name,
	    v);
	if (v != value)
		free(v);
	return rc;
}

/* The end of message's changes: called from tg_drive_eom() only, and only
 * the actions the MTA agreed to. */
static int
mp_fx_add(void *fe, const char *name, const char *value)
{
	return mp_hdr_put(fe, SMFIR_ADDHEADER, name, value);
}

static int
mp_fx_insert(void *fe, const char *name, const char *value)
{
	return mp_hdr_put(fe, SMFIR_INSHEADER, name, value);
}

static int
mp_fx_remove(void *fe, const char *name, unsigned idx)
{
	struct mp_sess *s = fe;

	/* An empty value removes the field. */
	if (!(s->actions & MP_ACT_CHGHDRS) || *name == '\0' ||
	    idx > INT32_MAX)
		return -1;
	return mp_put_strs(&s->out, SMFIR_CHGHEADER, (int)idx, name, "");
}

static int
mp_fx_quarantine(void *fe, const char *reason)
{
	struct mp_sess *s = fe;

	if (!(s->actions & MP_ACT_QUARANTINE) || *reason == '\0')
		return -1;
	return mp_put_strs(&s->out, SMFIR_QUARANTINE, -1, reason, NULL);
}

static const struct tg_drive_effects mp_fx = {
	mp_fx_add, mp_fx_quarantine, mp_fx_remove, mp_fx_insert,
};

/* ---- Sessions ---------------------------------------------------------- */

static unsigned mp_mask(struct mp_sess *, const struct tg_policy *);

/* mp_neg - the TG_DRIVE_NEED_* the negotiated steps allow: what the
 * connection may need of a policy it moves to */
static unsigned
mp_neg(const struct mp_sess *s)
{
	unsigned neg = TG_DRIVE_NEED_ALL;

	if (s->pflags & SMFIP_NOHDRS)
		neg &= ~TG_DRIVE_NEED_HDRS;
	if (s->pflags & SMFIP_NOBODY)
		neg &= ~TG_DRIVE_NEED_BODY;
	if (s->pflags & SMFIP_NR_HELO)
		neg &= ~TG_DRIVE_NEED_HELO;
	if (s->pflags & (SMFIP_NODATA | SMFIP_NR_DATA))
		neg &= ~TG_DRIVE_NEED_DATA;
	return neg;
}

/* mp_open - the driver's connection, pinning pin (NULL: the published
 * policy), within the steps negotiated */
static void
mp_open(struct mp_sess *s, struct tg_policy *pin)
{
	s->conn = tg_drive_open(pin, mp_getmacro, s);
	s->conn->neg = mp_neg(s);
	s->conn->leadspc = (s->pflags & SMFIP_HDR_LEADSPC) != 0;
}

struct mp_sess *
mp_sess_new(int fd, int unixsock)
{
	struct mp_sess *s = tg_xcalloc(1, sizeof *s);

	s->fd = fd;
	s->unixsock = unixsock;
	s->state = MP_ST_INIT;
	return s;
}

/* mp_sess_end - the driver's connection ends (rate-limit holds given
 * back); the negotiated policy is kept for a QUIT_NC's next connection */
static void
mp_sess_end(struct mp_sess *s, int keep)
{
	if (s->conn == NULL)
		return;
	if (keep && s->negpol == NULL && s->conn->policy != NULL)
		s->negpol = tg_policy_ref(s->conn->policy);
	tg_drive_close(s->conn);
	s->conn = NULL;
}

void
mp_sess_close_conn(struct mp_sess *s)
{
	mp_sess_end(s, 0);
}

/* mp_sess_close_blocks - ending the connection gives rate-limit holds
 * back to a store that may wait on the network */
int
mp_sess_close_blocks(struct mp_sess *s)
{
	return s->conn != NULL && !mp_sess_stopping() &&
	    (mp_mask(s, s->conn->policy) & MP_BLOCK_TXN) != 0;
}

void
mp_sess_free(struct mp_sess *s)
{
	if (s == NULL)
		return;
	mp_sess_end(s, 0);
	if (s->negpol != NULL)
		tg_policy_unref(s->negpol);
	mp_macros_free(s->mac);
	mp_buf_free(&s->in);
	mp_buf_free(&s->out);
	free(s);
}

/* ---- States ------------------------------------------------------------ */

#define B(st)	(1u << (st))

/* The states each state may go on to (the protocol's order of steps). */
static const unsigned mp_next[MP_ST_COUNT] = {
	[MP_ST_INIT] = B(MP_ST_OPTS),
	[MP_ST_OPTS] = B(MP_ST_CONN) | B(MP_ST_UNKN),
	[MP_ST_CONN] = B(MP_ST_HELO) | B(MP_ST_MAIL) | B(MP_ST_UNKN),
	[MP_ST_HELO] = B(MP_ST_HELO) | B(MP_ST_MAIL) | B(MP_ST_UNKN),
	[MP_ST_MAIL] = B(MP_ST_RCPT) | B(MP_ST_ABRT) | B(MP_ST_UNKN),
	[MP_ST_RCPT] = B(MP_ST_HDRS) | B(MP_ST_EOHS) | B(MP_ST_DATA) |
	    B(MP_ST_BODY) | B(MP_ST_ENDM) | B(MP_ST_RCPT) | B(MP_ST_ABRT) |
	    B(MP_ST_UNKN),
	[MP_ST_DATA] = B(MP_ST_EOHS) | B(MP_ST_HDRS) | B(MP_ST_ABRT),
	[MP_ST_HDRS] = B(MP_ST_EOHS) | B(MP_ST_HDRS) | B(MP_ST_ABRT),
	[MP_ST_EOHS] = B(MP_ST_BODY) | B(MP_ST_ENDM) | B(MP_ST_ABRT),
	[MP_ST_BODY] = B(MP_ST_ENDM) | B(MP_ST_BODY) | B(MP_ST_ABRT),
	[MP_ST_ENDM] = B(MP_ST_QUIT) | B(MP_ST_MAIL) | B(MP_ST_UNKN) |
	    B(MP_ST_QNC),
	[MP_ST_QUIT] = 0,
	[MP_ST_ABRT] = 0,
	[MP_ST_UNKN] = B(MP_ST_HELO) | B(MP_ST_MAIL) | B(MP_ST_RCPT) |
	    B(MP_ST_ABRT) | B(MP_ST_DATA) | B(MP_ST_BODY) | B(MP_ST_UNKN) |
	    B(MP_ST_QUIT) | B(MP_ST_QNC),
	[MP_ST_QNC] = B(MP_ST_CONN) | B(MP_ST_UNKN),
};

/* mp_skippable - a state whose step was negotiated away: the MTA goes
 * past it without a word */
static int
mp_skippable(const struct mp_sess *s, enum mp_state st)
{
	static const uint32_t flag[MP_ST_COUNT] = {
		[MP_ST_CONN] = SMFIP_NOCONNECT, [MP_ST_HELO] = SMFIP_NOHELO,
		[MP_ST_MAIL] = SMFIP_NOMAIL, [MP_ST_RCPT] = SMFIP_NORCPT,
		[MP_ST_DATA] = SMFIP_NODATA, [MP_ST_HDRS] = SMFIP_NOHDRS,
		[MP_ST_EOHS] = SMFIP_NOEOH, [MP_ST_BODY] = SMFIP_NOBODY,
		[MP_ST_UNKN] = SMFIP_NOUNKNOWN,
	};

	return flag[st] != 0 && (s->pflags & flag[st]) != 0;
}

/* mp_trans - may the session go from state from to state to? */
static int
mp_trans(const struct mp_sess *s, enum mp_state from, enum mp_state to)
{
	unsigned st = from;

	for (;;) {
		if (mp_next[st] & B(to))
			return 1;
		/* The states are in protocol order: past a skipped one. */
		if (st + 1 >= MP_ST_QUIT || !mp_skippable(s, st + 1))
			return 0;
		st++;
	}
}

/* mp_cmd_state - the state a command leads to; MP_ST_COUNT: none (a
 * macro list), -1: not a command */
static int
mp_cmd_state(char cmd)
{
	switch (cmd) {
	case SMFIC_ABORT:	return MP_ST_ABRT;
	case SMFIC_BODY:	return MP_ST_BODY;
	case SMFIC_CONNECT:	return MP_ST_CONN;
	case SMFIC_BODYEOB:	return MP_ST_ENDM;
	case SMFIC_HELO:	return MP_ST_HELO;
	case SMFIC_HEADER:	return MP_ST_HDRS;
	case SMFIC_MAIL:	return MP_ST_MAIL;
	case SMFIC_OPTNEG:	return MP_ST_OPTS;
	case SMFIC_EOH:		return MP_ST_EOHS;
	case SMFIC_QUIT:	return MP_ST_QUIT;
	case SMFIC_DATA:	return MP_ST_DATA;
	case SMFIC_RCPT:	return MP_ST_RCPT;
	case SMFIC_UNKNOWN:	return MP_ST_UNKN;
	case SMFIC_QUIT_NC:	return MP_ST_QNC;
	case SMFIC_MACRO:	return MP_ST_COUNT;
	default:		return -1;
	}
}

/* In a message: an abort is due when it ends early. */
#define MP_IN_MAIL(st)	((st) >= MP_ST_MAIL && (st) < MP_ST_ENDM)

#define MP_PLAN_CLOSE	(-1)	/* no state allows it: close */
#define MP_PLAN_IGNORE	(-2)	/* out of order, and no answer is due */

/* mp_plan - where a command takes the session: its new state, and
 * whether the message in progress must be aborted first (a command out
 * of order that a fresh start after HELO allows, as libmilter does).
 * QUIT is taken in any state, QUIT_NC in any after connect; an ABORT
 * with no message to abort is ignored. */
static int
mp_plan(const struct mp_sess *s, char cmd, int *abort_first)
{
	int to = mp_cmd_state(cmd);
	int fresh = s->state == MP_ST_INIT || s->state == MP_ST_OPTS ||
	    s->state == MP_ST_QNC;

	*abort_first = 0;
	if (to < 0)
		return MP_PLAN_CLOSE;
	if (to == MP_ST_COUNT || mp_trans(s, s->state, (enum mp_state)to))
		return to;
	if (to == MP_ST_QUIT || (to == MP_ST_QNC && !fresh)) {
		*abort_first = MP_IN_MAIL(s->state);
		return to;
	}
	if (to == MP_ST_ABRT)
		return MP_PLAN_IGNORE;
	if (fresh || !mp_trans(s, MP_ST_HELO, (enum mp_state)to))
		return MP_PLAN_CLOSE;
	*abort_first = MP_IN_MAIL(s->state);
	return to;
}

/* ---- What may wait ----------------------------------------------------- */

/* mp_mask - mproto_block.c's mask for the pinned policy, kept while the
 * same generation is pinned (unpublished policies, generation 0, are the
 * fuzz target's one and only) */
static unsigned
mp_mask(struct mp_sess *s, const struct tg_policy *p)
{
	if (p == NULL)
		return 0;
	if (s->block_gen != p->generation || s->block_gen == 0) {
		s->block = mp_block_mask(p);
		s->block_nodns = mp_block_mask_nodns(p);
		s->block_gen = p->generation;
	}
	return s->block;
}

/* mp_blocks - must the command run on a worker? job_park says whether
 * it waits on the DNS checks the loops look up ahead, and nothing else:
 * a command of the pinned policy's (MAIL may re-pin, and CONNECT after
 * QUIT_NC pins anew: those stay on workers) at a stage with no SPF,
 * SASL, DKIM or Redis */
static int
mp_blocks(struct mp_sess *s, char cmd)
{
	const struct tg_policy *p = s->conn != NULL ? s->conn->policy : NULL;
	struct tg_policy *pub = NULL;
	unsigned m, need;
	int to, abort_first;

	if (mp_sess_stopping() ||
	    (to = mp_plan(s, cmd, &abort_first)) < 0)
		return 0;
	switch (cmd) {
	case SMFIC_CONNECT:	need = 1u << TG_STAGE_CONNECT; break;
	case SMFIC_HELO:	need = 1u << TG_STAGE_HELO; break;
	case SMFIC_MAIL:	need = 1u << TG_STAGE_MAIL; break;
	case SMFIC_RCPT:	need = 1u << TG_STAGE_RCPT; break;
	case SMFIC_DATA:	need = 1u << TG_STAGE_DATA; break;
	case SMFIC_BODYEOB:	need = 1u << TG_STAGE_EOM; break;
	case SMFIC_ABORT:
	case SMFIC_QUIT:
	case SMFIC_QUIT_NC:	need = MP_BLOCK_TXN; break;
	default:		need = 0; break;
	}
	if (abort_first)
		need |= MP_BLOCK_TXN;
	if (need == 0)
		return 0;
	/* A connect after QUIT_NC pins the published policy; MAIL may move
	 * to it (drive.c): its needs count too. */
	if ((cmd == SMFIC_CONNECT && s->conn == NULL) || cmd == SMFIC_MAIL)
		pub = tg_policy_current();
	m = mp_mask(s, p);
	s->job_park = pub == NULL && p != NULL && (s->block_nodns & need) == 0 &&
	    (cmd == SMFIC_CONNECT || cmd == SMFIC_HELO || cmd == SMFIC_RCPT ||
	    cmd == SMFIC_DATA || cmd == SMFIC_BODYEOB);
	if (pub != NULL && (p == NULL || pub->generation != p->generation))
		m |= mp_block_mask(pub);
	if (pub != NULL)
		tg_policy_unref(pub);
	return (m & need) != 0;
}

/* ---- Answers ----------------------------------------------------------- */

/* The "no reply" flag of the step a state stands for. */
static uint32_t
mp_nr_flag(enum mp_state st)
{
	switch (st) {
	case MP_ST_CONN: return SMFIP_NR_CONN;
	case MP_ST_HELO: return SMFIP_NR_HELO;
	case MP_ST_MAIL: return SMFIP_NR_MAIL;
	case MP_ST_RCPT: return SMFIP_NR_RCPT;
	case MP_ST_DATA: return SMFIP_NR_DATA;
	case MP_ST_UNKN: return SMFIP_NR_UNKN;
	case MP_ST_HDRS: return SMFIP_NR_HDR;
	case MP_ST_EOHS: return SMFIP_NR_EOH;
	case MP_ST_BODY: return SMFIP_NR_BODY;
	default: return 0;
	}
}

/* mp_answer - queue the answer to the command that took the session to
 * its state, unless that step was negotiated as one without answers; a
 * refusal ends the message (except at RCPT, which refuses a recipient) */
static void
mp_answer(struct mp_sess *s, enum tg_answer a, const struct tg_verdict *v)
{
	uint32_t nr = mp_nr_flag(s->state);
	struct tg_drive_reply rep;
	char buf[sizeof rep.code + sizeof rep.xcode + sizeof rep.text + 4];
	size_t len;

	if (a != TG_ANS_CONTINUE && s->state != MP_ST_RCPT)
		s->state = MP_ST_HELO;
	if (nr != 0 && (s->pflags & nr) != 0) {
		if (a != TG_ANS_CONTINUE)
			tg_log_err("%s: an answer at a step negotiated "
			    "without answers was dropped", s->conn != NULL ?
			    s->conn->sess.id : "-");
		return;
	}
	switch (a) {
	case TG_ANS_REJECT:
	case TG_ANS_TEMPFAIL:
		if (v == NULL || v->code[0] == '\0') {
			mp_put(&s->out, a == TG_ANS_REJECT ? SMFIR_REJECT :
			    SMFIR_TEMPFAIL, NULL, 0);
			break;
		}
		tg_drive_reply(v, &rep);
		len = (size_t)snprintf(buf, sizeof buf, "%s %s %s", rep.code,
		    rep.xcode, rep.text);
		mp_put(&s->out, SMFIR_REPLYCODE, buf, len + 1);
		break;
	case TG_ANS_DISCARD:
		mp_put(&s->out, SMFIR_DISCARD, NULL, 0);
		break;
	default:
		mp_put(&s->out, SMFIR_CONTINUE, NULL, 0);
		break;
	}
}

/* mp_bad - a packet we cannot take: logged, the connection closed */
static enum mp_feed
mp_bad(struct mp_sess *s, char cmd, const char *why)
{
	tg_log_warnx("%s: milter protocol: command '%c' (0x%02x): %s; "
	    "closing the connection", s->conn != NULL ? s->conn->sess.id :
	    "-", cmd > 0x20 && cmd < 0x7f ? cmd : '?', (unsigned char)cmd,
	    why);
	return MP_FEED_CLOSE;
}

/* ---- Negotiation ------------------------------------------------------- */

/* mp_optneg - the MTA's version, actions and steps; our choice of steps
 * from what the pinned policy needs. On an inet socket only the steps
 * the libmilter front end also skips: Postfix does not set TCP_NODELAY
 * on its milter connection, so a command we do not answer leaves its
 * next write waiting ~40 ms for our delayed ACK (MTA-NOTES). On a unix
 * socket also the answers no rule can change. */
static enum mp_feed
mp_optneg(struct mp_sess *s, const char *data, size_t len)
{
	uint32_t ver, act, proto, want = SMFIP_NOUNKNOWN;
	struct tg_policy *p;
	unsigned needs;
	unsigned char buf[12];

	if (len < 12)
		return mp_bad(s, SMFIC_OPTNEG, "negotiation too short");
	ver = mp_get32(data);
	act = mp_get32(data + 4);
	proto = mp_get32(data + 8);
	if (ver < 2)
		return mp_bad(s, SMFIC_OPTNEG, "protocol version below 2");
	/* No flags: what version 1 had. */
	if (act == 0)
		act = SMFI_V1_ACTS;
	if (proto == 0)
		proto = SMFI_V1_PROT;
	mp_macros_clear(s->mac, 0);
	mp_sess_end(s, 0);
	if (s->negpol != NULL) {
		tg_policy_unref(s->negpol);
		s->negpol = NULL;
	}
	p = tg_policy_current();
	needs = tg_drive_needs(p);
	if (!(needs & TG_DRIVE_NEED_HDRS))
		want |= SMFIP_NOHDRS | SMFIP_NOEOH;
	if (!(needs & TG_DRIVE_NEED_BODY))
		want |= SMFIP_NOBODY;
	if (s->unixsock) {
		want |= SMFIP_NR_CONN;
		if (!(needs & TG_DRIVE_NEED_HELO))
			want |= SMFIP_NR_HELO;
		if (!(needs & TG_DRIVE_NEED_DATA))
			want |= SMFIP_NODATA;
		if (needs & TG_DRIVE_NEED_HDRS)
			want |= SMFIP_NR_HDR | SMFIP_NR_EOH;
		if (needs & TG_DRIVE_NEED_BODY)
			want |= SMFIP_NR_BODY;
	}
	/* Header values as received, leading white space included, when
	 * DKIM will see them: its simple header canonicalisation needs it
	 * (the driver strips it for the rest; the values we add then carry
	 * their own). */
	if (tg_dkim_wanted(p))
		want |= SMFIP_HDR_LEADSPC;
	s->mta_pflags = proto;
	s->version = ver < SMFI_PROT_VERSION ? ver : SMFI_PROT_VERSION;
	s->actions = (MP_ACTIONS | MP_ACT_SETSYMLIST) & act;
	s->pflags = want & proto;
	/* What the connection may need of a policy it moves to at MAIL. */
	mp_open(s, p);
	mp_set32(buf, s->version);
	mp_set32(buf + 4, s->actions);
	mp_set32(buf + 8, s->pflags);
	if (s->version >= 6 && (s->actions & MP_ACT_SETSYMLIST)) {
		struct mp_buf d = { NULL, 0, 0 };

		mp_buf_add(&d, buf, sizeof buf);
		for (int i = 0; i < TG_DRIVE_M_COUNT; i++) {
			unsigned char idx[4];
			const char *l = tg_drive_symlist(i);

			/* Nothing to ask for at a step not sent. */
			if ((i == TG_DRIVE_M_EOH && (s->pflags & SMFIP_NOEOH)) ||
			    (i == TG_DRIVE_M_DATA &&
			    (s->pflags & SMFIP_NODATA)))
				continue;
			mp_set32(idx, (uint32_t)i);
			mp_buf_add(&d, idx, sizeof idx);
			mp_buf_add(&d, l, strlen(l) + 1);
		}
		mp_put(&s->out, SMFIC_OPTNEG, d.p, d.len);
		mp_buf_free(&d);
	} else
		mp_put(&s->out, SMFIC_OPTNEG, buf, sizeof buf);
	return MP_FEED_MORE;
}

/* mp_reopen - CONNECT after QUIT_NC: a new SMTP session on the same MTA
 * connection, with the steps negotiated for the old one. The published
 * policy is pinned unless it needs more than those; then the one they
 * were negotiated for stays. */
static void
mp_reopen(struct mp_sess *s)
{
	struct tg_policy *p = tg_policy_current();

	if ((tg_drive_needs(p) & ~mp_neg(s)) != 0 && s->negpol != NULL) {
		if (p != NULL)
			tg_policy_unref(p);
		p = tg_policy_ref(s->negpol);
	}
	mp_open(s, p);
}

/* ---- Commands ---------------------------------------------------------- */

/* mp_stopped - the daemon is stopping: nothing reaches the driver, an
 * answer is a plain tempfail (the MTA's own 4xx) */
static enum mp_feed
mp_stopped(struct mp_sess *s, char cmd)
{
	switch (cmd) {
	case SMFIC_OPTNEG:
		return mp_bad(s, cmd, "the daemon is stopping");
	case SMFIC_QUIT:
	case SMFIC_QUIT_NC:
		return MP_FEED_CLOSE;
	case SMFIC_MACRO:
	case SMFIC_ABORT:
		return MP_FEED_MORE;
	default:
		mp_answer(s, TG_ANS_TEMPFAIL, NULL);
		return MP_FEED_MORE;
	}
}

/* mp_args - MAIL and RCPT: the address and its ESMTP parameters */
static int
mp_args(const char *data, size_t len, char **argv)
{
	return mp_argv(data, len, (const char **)argv, MP_ARGS_MAX) > 0 ?
	    0 : -1;
}

/* mp_exec - carry out one command; the packet is whole */
static enum mp_feed
mp_exec(struct mp_sess *s, char cmd, const char *data, size_t len)
{
	struct tg_verdict v;
	struct sockaddr_storage ss;
	char *argv[MP_ARGS_MAX];
	const char *host, *hv;
	enum tg_answer a;
	int to, abort_first, known;

	if ((to = mp_plan(s, cmd, &abort_first)) == MP_PLAN_IGNORE)
		return MP_FEED_MORE;
	if (to < 0)
		return mp_bad(s, cmd, mp_cmd_state(cmd) < 0 ?
		    "unknown command" : "out of order");
	if (mp_sess_stopping())
		return mp_stopped(s, cmd);
	if (cmd == SMFIC_MACRO) {
		/* One that names no stage is ignored, as libmilter does. */
		(void)mp_macros_set(&s->mac, data, len);
		return MP_FEED_MORE;
	}
	if (abort_first && s->conn != NULL)
		tg_drive_abort(s->conn);
	s->state = (enum mp_state)to;
	if (s->conn == NULL && cmd != SMFIC_OPTNEG && cmd != SMFIC_CONNECT &&
	    cmd != SMFIC_UNKNOWN && cmd != SMFIC_QUIT)
		return mp_bad(s, cmd, "no connection information yet");
	switch (cmd) {
	case SMFIC_OPTNEG:
		return mp_optneg(s, data, len);
	case SMFIC_CONNECT:
		if (mp_connect_parse(data, len, &host, &ss, &known) != 0)
			return mp_bad(s, cmd, "malformed connect information");
		mp_macros_clear(s->mac, TG_DRIVE_M_CONNECT + 1);
		if (s->conn == NULL)
			mp_reopen(s);
		/* No reply text is possible at connect: a refusal is kept
		 * and answered from HELO on; TEMPFAIL (the MTA's own 4xx)
		 * only without a policy. */
		a = tg_drive_connect_sa(s->conn, host,
		    known ? (const struct sockaddr *)&ss : NULL, &v);
		mp_answer(s, a, NULL);
		return MP_FEED_MORE;
	case SMFIC_HELO:
		if (len == 0 || data[len - 1] != '\0')
			return mp_bad(s, cmd, "HELO argument not terminated");
		mp_macros_clear(s->mac, TG_DRIVE_M_HELO + 1);
		mp_answer(s, tg_drive_helo(s->conn, data, &v), &v);
		return MP_FEED_MORE;
	case SMFIC_MAIL:
	case SMFIC_RCPT:
		if (mp_args(data, len, argv) != 0)
			return mp_bad(s, cmd, "no address");
		mp_macros_clear(s->mac, cmd == SMFIC_MAIL ?
		    TG_DRIVE_M_MAIL + 1 : TG_DRIVE_M_RCPT + 1);
		/* A reload published since the last message applies from
		 * MAIL on. */
		if (cmd == SMFIC_MAIL)
			(void)tg_drive_repin(s->conn, tg_policy_current());
		a = cmd == SMFIC_MAIL ? tg_drive_mail(s->conn, argv, &v) :
		    tg_drive_rcpt(s->conn, argv, &v);
		mp_answer(s, a, &v);
		return MP_FEED_MORE;
	case SMFIC_DATA:
		mp_answer(s, tg_drive_data(s->conn, &v), &v);
		return MP_FEED_MORE;
	case SMFIC_HEADER:
		/* name NUL value NUL, the name not empty */
		if (len < 3 || data[len - 1] != '\0' || data[0] == '\0' ||
		    (hv = memchr(data, '\0', len)) == data + len - 1)
			return mp_bad(s, cmd, "malformed header");
		tg_drive_header(s->conn, data, hv + 1);
		mp_answer(s, TG_ANS_CONTINUE, NULL);
		return MP_FEED_MORE;
	case SMFIC_EOH:
		tg_drive_eoh(s->conn);
		mp_answer(s, TG_ANS_CONTINUE, NULL);
		return MP_FEED_MORE;
	case SMFIC_BODY:
		tg_drive_body(s->conn, data, len);
		mp_answer(s, TG_ANS_CONTINUE, NULL);
		return MP_FEED_MORE;
	case SMFIC_BODYEOB:
		/* A last piece of body may come with it. */
		if (len > 0)
			tg_drive_body(s->conn, data, len);
		mp_answer(s, tg_drive_eom(s->conn, &mp_fx, s, &v), &v);
		return MP_FEED_MORE;
	case SMFIC_ABORT:
		tg_drive_abort(s->conn);
		return MP_FEED_MORE;
	case SMFIC_UNKNOWN:
		mp_answer(s, TG_ANS_CONTINUE, NULL);
		return MP_FEED_MORE;
	case SMFIC_QUIT_NC:
		mp_sess_end(s, 1);
		mp_macros_clear(s->mac, 0);
		return MP_FEED_MORE;
	case SMFIC_QUIT:
	default:
		mp_sess_end(s, 0);
		mp_macros_clear(s->mac, 0);
		return MP_FEED_CLOSE;
	}
}

enum mp_feed
mp_sess_feed(struct mp_sess *s, const char *buf, size_t len, size_t *used)
{
	size_t off = 0;
	enum mp_feed r = MP_FEED_MORE;
	uint32_t n;

	while (r == MP_FEED_MORE && len - off >= 4) {
		n = mp_get32(buf + off);
		/* A length of 0 has no command; past the limit, libmilter
		 * closes the connection too. */
		if (n == 0 || n - 1 > MP_DATA_MAX) {
			*used = off;
			return mp_bad(s, len - off > 4 ? buf[off + 4] : '?',
			    n == 0 ? "packet of length 0" :
			    "packet longer than the protocol's limit");
		}
		if (len - off < 4 + (size_t)n)
			break;
		if (mp_blocks(s, buf[off + 4])) {
			*used = off;
			return MP_FEED_HANDOFF;
		}
		r = mp_exec(s, buf[off + 4], buf + off + MP_HDRLEN, n - 1);
		off += 4 + (size_t)n;
	}
	*used = off;
	return r;
}

enum mp_feed
mp_sess_job(struct mp_sess *s, const char *pkt)
{
	uint32_t n = mp_get32(pkt);

	s->job_cmd = pkt[4];
	s->job_len = n - 1;
	return mp_exec(s, pkt[4], pkt + MP_HDRLEN, n - 1);
}
