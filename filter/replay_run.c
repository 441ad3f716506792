/* replay_run.c - run the sessions of a session file: each step goes
 * through the front end's driver (tg_drive.h) exactly as the libmilter
 * glue sends it, with the macros the session describes; where an MTA
 * answers by itself (banner, a second MAIL, DATA without recipients,
 * RSET, QUIT) the reply is Postfix's. Prints one line per step (the reply
 * and the verdict behind it), the end-of-message effects, the trace with
 * -v, and checks the step's expectations. Owns: the connection being
 * replayed. Threads: single-threaded program. */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#include "tg.h"
#include "tg_drive.h"
#include "tg_engine.h"
#include "tg_ip.h"
#include "tg_log.h"
#include "tg_policy.h"
#include "tg_rate.h"
#include "tg_session.h"
#include "tg_store.h"
#include "tg_trace.h"
#include "replay.h"

#define RUN_CHUNK	65535	/* body bytes per milter packet (Postfix) */

/* The MTA's macros, as the session set them (NULL: not sent). */
enum run_macro {
	RM_DAEMON_NAME, RM_DAEMON_PORT, RM_DAEMON_ADDR, RM_MTA, RM_CLIENT_ADDR,
	RM_CLIENT_NAME, RM_TLS_VERSION, RM_CIPHER, RM_CIPHER_BITS,
	RM_CERT_SUBJECT, RM_CERT_ISSUER, RM_VERIFY, RM_AUTH_AUTHEN,
	RM_AUTH_TYPE, RM_AUTH_AUTHOR, RM_QUEUE_ID, RM_COUNT
};

static const char *const run_macro_names[RM_COUNT] = {
	"{daemon_name}", "{daemon_port}", "{daemon_addr}", "j",
	"{client_addr}", "{client_name}", "{tls_version}", "{cipher}",
	"{cipher_bits}", "{cert_subject}", "{cert_issuer}", "{verify}",
	"{auth_authen}", "{auth_type}", "{auth_author}", "i",
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

/* Rules that matched, over the whole run, for -u. */
static struct run_hit *run_total;
static size_t run_ntotal;

/* The clock of the memory store: real at start, moved on by "wait". */
static int64_t run_clock_offset;

static int64_t
run_clock(void *arg)
{
	return tg_clock_now_ms(arg) + run_clock_offset;
}

static struct run *run_cur;	/* for the log sink */

static void	run_line(struct run *, const char *, ...) TG_PRINTFLIKE(2, 3);

/* run_line - a line printed under the step (trace, effects, log) */
static void
run_line(struct run *r, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	r->lines = tg_xrealloc(r->lines, (r->nlines + 1) * sizeof *r->lines);
	r->lines[r->nlines++] = tg_xstrdup(buf);
}

/* run_log - the daemon's log lines: warnings under the step, the rest
 * with -v */
static void
run_log(int prio, const char *line)
{
	struct run *r = run_cur;

	if (r == NULL || r->o->quiet)
		return;
	if (prio <= LOG_WARNING || r->o->verbose)
		run_line(r, "log: %s%s", prio <= LOG_ERR ? "error: " :
		    prio <= LOG_WARNING ? "warning: " : "", line);
}

static void
run_trace_line(void *arg, const char *text)
{
	struct run *r = arg;

	if (r->o->verbose)
		run_line(r, "%s", text);
}

static void
run_trace_rule(void *arg, const struct tg_rule *rule, int result)
{
	struct run *r = arg;
	size_t i;

	r->hits = tg_xrealloc(r->hits, (r->nhits + 1) * sizeof *r->hits);
	r->hits[r->nhits].r = rule;
	r->hits[r->nhits++].result = result;
	if (result != 1)
		return;
	for (i = 0; i < run_ntotal; i++)
		if (run_total[i].r == rule)
			break;
	if (i == run_ntotal) {
		run_total = tg_xrealloc(run_total, (run_ntotal + 1) *
		    sizeof *run_total);
		run_total[run_ntotal].r = rule;
		run_total[run_ntotal++].result = 0;
	}
	run_total[i].result++;
}

unsigned *
replay_rule_hits(const struct tg_policy *p)
{
	size_t n = 0, k = 0;
	unsigned *hits;

	for (int st = 0; st < TG_STAGE_COUNT; st++)
		n += p->nrules[st];
	hits = tg_xcalloc(n > 0 ? n : 1, sizeof *hits);
	for (int st = 0; st < TG_STAGE_COUNT; st++)
		for (size_t i = 0; i < p->nrules[st]; i++, k++)
			for (size_t j = 0; j < run_ntotal; j++)
				if (run_total[j].r == &p->rules[st][i])
					hits[k] = (unsigned)run_total[j].result;
	return hits;
}

static void
run_set(struct run *r, enum run_macro m, const char *v)
{
	free(r->c->m[m]);
	r->c->m[m] = v != NULL ? tg_xstrdup(v) : NULL;
}

/* run_setm - a setting of the session (listener, mta): for the
 * connections made from now on, and the current one's next connect */
static void
run_setm(struct run *r, enum run_macro m, const char *v)
{
	free(r->defm[m]);
	r->defm[m] = v != NULL ? tg_xstrdup(v) : NULL;
	run_set(r, m, v);
}

/* run_macro - the drive's macro source: the connection's */
static const char *
run_macro(void *arg, const char *name)
{
	const struct run_conn *c = arg;

	for (int i = 0; i < RM_COUNT; i++)
		if (strcmp(name, run_macro_names[i]) == 0)
			return c->m[i];
	return NULL;
}

/* run_conn_use - make connection name the current one, a new one with the
 * session's settings if there is none of that name */
static void
run_conn_use(struct run *r, const char *name)
{
	struct run_conn *c;

	for (size_t i = 0; i < r->nconns; i++)
		if (strcmp(r->conns[i]->name, name) == 0) {
			r->c = r->conns[i];
			return;
		}
	c = tg_xcalloc(1, sizeof *c);
	c->name = tg_xstrdup(name);
	for (int i = 0; i < RM_COUNT; i++)
		c->m[i] = r->defm[i] != NULL ? tg_xstrdup(r->defm[i]) : NULL;
	r->conns = tg_xrealloc(r->conns, (r->nconns + 1) * sizeof *r->conns);
	r->conns[r->nconns++] = c;
	r->c = c;
}

/* ---- the end of a message, as the MTA carries it out -------------------- */

static void
run_added(struct run *r, const char *name, const char *value)
{
	r->added = tg_xrealloc(r->added, (r->nadded + 1) * sizeof *r->added);
	r->added[r->nadded].name = tg_xstrdup(name);
	r->added[r->nadded++].value = tg_xstrdup(value);
}

static int
run_fx_add(void *arg, const char *name, const char *value)
{
	struct run *r = arg;

	run_added(r, name, value);
	run_line(r, "+ add-header %s: %s", name, value);
	return 0;
}

static int
run_fx_quarantine(void *arg, const char *reason)
{
	struct run *r = arg;

	free(r->held);
	r->held = tg_xstrdup(reason);
	run_line(r, "+ quarantine \"%s\"", reason);
	return 0;
}

static int
run_fx_remove(void *arg, const char *name, unsigned index)
{
	run_line(arg, "+ remove %s #%u", name, index);
	return 0;
}

static int
run_fx_insert(void *arg, const char *name, const char *value)
{
	struct run *r = arg;

	run_added(r, name, value);
	run_line(r, "+ insert %s: %s", name, value);
	return 0;
}

static const struct tg_drive_effects run_fx = {
	run_fx_add, run_fx_quarantine, run_fx_remove, run_fx_insert,
};

/* ---- replies ------------------------------------------------------------- */

static void	run_mta(struct run *, const char *, ...) TG_PRINTFLIKE(2, 3);

/* run_mta - the MTA answers by itself */
static void
run_mta(struct run *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->reply, sizeof r->reply, fmt, ap);
	va_end(ap);
	r->asked = 0;
}

/* run_answer - the reply to a step the filter was asked about; ok is the
 * MTA's reply when the filter lets it pass */
static void
run_answer(struct run *r, enum tg_answer a, const char *ok)
{
	r->asked = 1;
	if (a == TG_ANS_REJECT || a == TG_ANS_TEMPFAIL)
		snprintf(r->reply, sizeof r->reply, "%s %s %s", r->v.code,
		    r->v.xcode, r->v.text);
	else
		snprintf(r->reply, sizeof r->reply, "%s", ok);
}

static const char *
run_mta_name(const struct run *r)
{
	return r->c->m[RM_MTA] != NULL ? r->c->m[RM_MTA] : "localhost";
}

/* ---- steps ------------------------------------------------------------- */

/* run_close - the current connection ends; the next one starts without
 * TLS and login, unless given again before it */
static void
run_close(struct run *r)
{
	static const enum run_macro gone[] = { RM_TLS_VERSION, RM_CIPHER,
	    RM_CIPHER_BITS, RM_CERT_SUBJECT, RM_CERT_ISSUER, RM_VERIFY,
	    RM_AUTH_AUTHEN, RM_AUTH_TYPE, RM_AUTH_AUTHOR };

	if (!r->c->connected)
		return;
	if (r->c->in_mail)
		tg_drive_abort(&r->c->d);
	tg_drive_free(&r->c->d);
	r->c->connected = 0;
	r->c->in_mail = 0;
	r->c->refused = 0;
	for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
		run_set(r, gone[i], NULL);
}

/* run_end_session - every connection closes */
static void
run_end_session(struct run *r)
{
	for (size_t i = 0; i < r->nconns; i++) {
		r->c = r->conns[i];
		run_close(r);
		for (int k = 0; k < RM_COUNT; k++)
			free(r->c->m[k]);
		free(r->c->name);
		free(r->c);
	}
	r->nconns = 0;
	r->c = NULL;
}

/* run_open - a connection of the session from addr (name: verified host
 * name), as the MTA opens it: its connect verdict in r->v */
static enum tg_answer
run_open(struct run *r, struct tg_drive *d, const char *addr,
    const char *name)
{
	struct tg_ip ip;
	char id[24];
	int hdrs, body;

	snprintf(id, sizeof id, "T%u", ++r->conn_n);
	tg_drive_init(d, tg_policy_ref(r->p), id, run_macro, r->c);
	/* What the glue negotiates: headers and body only when read. */
	tg_drive_needs(r->p, &hdrs, &body);
	d->neg_hdrs = hdrs;
	d->neg_body = body;
	d->sess.trace = &r->trace;
	/* As libmilter gives it: IPv4 in binary, IPv6 as text. */
	if (addr != NULL && tg_ip_parse(addr, &ip) == 0 && ip.family == 4)
		return tg_drive_connect(d, &ip, NULL, name, &r->v);
	return tg_drive_connect(d, NULL, addr, name, &r->v);
}

/* run_connect_reply - the banner, or the tempfail of a connection that
 * has no policy */
static void
run_connect_reply(struct run *r, enum tg_answer a)
{
	if (a == TG_ANS_TEMPFAIL) {
		run_answer(r, a, "");
		return;
	}
	snprintf(r->reply, sizeof r->reply, "220 %s ESMTP", run_mta_name(r));
	r->asked = 1;
	if (r->v.action == TG_ACT_REJECT || r->v.action == TG_ACT_TEMPFAIL)
		r->note = ", answered at MAIL";
}

static void
run_connect(struct run *r, const char *addr, const char *name)
{
	run_close(r);
	run_set(r, RM_CLIENT_ADDR, addr);
	run_set(r, RM_CLIENT_NAME, name);
	run_set(r, RM_QUEUE_ID, NULL);
	r->c->connected = 1;
	r->c->in_mail = 0;
	run_connect_reply(r, run_open(r, &r->c->d, addr, name));
}

/* run_hold - n more connections from the client, open (and counted as
 * sessions) until the session ends */
static void
run_hold(struct run *r, long long n)
{
	enum tg_answer a = TG_ANS_CONTINUE;
	char *addr, *name;

	/* The client of the connection open, else the session's. */
	addr = r->c->connected ? r->c->m[RM_CLIENT_ADDR] : r->connect_addr;
	name = r->c->connected ? r->c->m[RM_CLIENT_NAME] : r->connect_name;
	addr = addr != NULL ? tg_xstrdup(addr) : NULL;
	name = name != NULL ? tg_xstrdup(name) : NULL;
	run_set(r, RM_CLIENT_ADDR, addr);
	run_set(r, RM_CLIENT_NAME, name);
	for (long long i = 0; i < n; i++) {
		r->held_conns = tg_xrealloc(r->held_conns, (r->nheld + 1) *
		    sizeof *r->held_conns);
		a = run_open(r, &r->held_conns[r->nheld++], addr, name);
	}
	free(addr);
	free(name);
	run_connect_reply(r, a);
}

static void
run_release(struct run *r)
{
	for (size_t i = 0; i < r->nheld; i++)
		tg_drive_free(&r->held_conns[i]);
	r->nheld = 0;
}

/* run_helo - HELO/EHLO. The filter's refusal here (a connect refusal,
 * kept) is not the EHLO's reply: Postfix answers 250, gives the refusal
 * to every MAIL of the connection and asks the filter nothing more (so
 * does Sendmail); a refusal of the helo rules is only kept by the engine
 * and answered at MAIL (tg_drive_helo). */
static void
run_helo(struct run *r, const char *name)
{
	enum tg_answer a;
	char ok[300];

	snprintf(ok, sizeof ok, "250 %s", run_mta_name(r));
	if (r->c->refused) {
		run_mta(r, "%s", ok);
		r->note = ", the MTA no longer asks tollgate";
		return;
	}
	a = tg_drive_helo(&r->c->d, name, &r->v);
	run_answer(r, a, ok);
	if (a == TG_ANS_REJECT || a == TG_ANS_TEMPFAIL) {
		r->c->refused = 1;
		r->c->refusal = r->v;
		snprintf(r->reply, sizeof r->reply, "%s", ok);
	}
	if (r->v.action == TG_ACT_REJECT || r->v.action == TG_ACT_TEMPFAIL)
		r->note = ", answered at MAIL";
}

static void
run_mail(struct run *r, const struct replay_step *st)
{
	char **argv = tg_xcalloc(st->narg + 1, sizeof *argv);
	enum tg_answer a;
	char qid[16];

	if (r->c->in_mail) {
		run_mta(r, "503 5.5.1 Error: nested MAIL command");
		free(argv);
		return;
	}
	if (r->c->refused) {
		/* The refusal the filter gave at HELO, from the MTA. */
		r->v = r->c->refusal;
		r->asked = 1;
		snprintf(r->reply, sizeof r->reply, "%s %s %s", r->v.code,
		    r->v.xcode, r->v.text);
		r->note = ", given at HELO";
		free(argv);
		return;
	}
	/* The MTA hands the address in angle brackets. */
	argv[0] = st->arg[0][0] == '<' ? tg_xstrdup(st->arg[0]) :
	    tg_xasprintf("<%s>", st->arg[0]);
	for (size_t i = 1; i < st->narg; i++)
		argv[i] = st->arg[i];
	snprintf(qid, sizeof qid, "4TEST%04X", ++r->msg_n);
	run_set(r, RM_QUEUE_ID, qid);
	a = tg_drive_mail(&r->c->d, argv, &r->v);
	free(argv[0]);
	free(argv);
	run_answer(r, a, "250 2.1.0 Ok");
	r->c->rcpt_given = r->c->rcpt_ok = 0;
	r->c->discarded = a == TG_ANS_DISCARD;
	r->c->in_mail = a == TG_ANS_CONTINUE || a == TG_ANS_DISCARD;
	if (!r->c->in_mail)
		tg_drive_abort(&r->c->d);
}

static void
run_rcpt(struct run *r, const struct replay_step *st)
{
	char **argv;
	enum tg_answer a;

	if (!r->c->in_mail) {
		run_mta(r, "503 5.5.1 Error: need MAIL command");
		return;
	}
	r->c->rcpt_given++;
	if (r->c->discarded) {
		run_mta(r, "250 2.1.5 Ok");
		r->c->rcpt_ok++;
		return;
	}
	argv = tg_xcalloc(st->narg + 1, sizeof *argv);
	argv[0] = st->arg[0][0] == '<' ? tg_xstrdup(st->arg[0]) :
	    tg_xasprintf("<%s>", st->arg[0]);
	for (size_t i = 1; i < st->narg; i++)
		argv[i] = st->arg[i];
	a = tg_drive_rcpt(&r->c->d, argv, &r->v);
	free(argv[0]);
	free(argv);
	run_answer(r, a, "250 2.1.5 Ok");
	if (a == TG_ANS_CONTINUE || a == TG_ANS_DISCARD)
		r->c->rcpt_ok++;
	if (a == TG_ANS_DISCARD)
		r->c->discarded = 1;
}

/* run_pad - about n bytes of filler lines (76 x and CR LF) at the end of
 * the body, sent in chunks without being built */
static void
run_pad(struct run *r, long long n)
{
	static char chunk[840 * 78];	/* whole lines, under RUN_CHUNK */
	long long lines = (n + 77) / 78, per = sizeof chunk / 78;

	if (chunk[0] == '\0')
		for (size_t i = 0; i < sizeof chunk; i += 78) {
			memset(chunk + i, 'x', 76);
			memcpy(chunk + i + 76, "\r\n", 2);
		}
	for (; lines > 0; lines -= per)
		tg_drive_body(&r->c->d, chunk, (size_t)(lines < per ? lines :
		    per) * 78);
}

/* run_message - headers, body and the end of the message */
static void
run_message(struct run *r, const struct replay_step *st)
{
	struct replay_msg *m = st->msg, *own = NULL;
	const char *why;
	char ok[64];
	enum tg_answer a;

	if (m == NULL && (own = m = replay_msg_read(st->file, &why)) == NULL) {
		run_mta(r, "451 4.3.0 Error: message file not readable");
		run_line(r, "error: data %s: %s", st->file, why);
		tg_drive_abort(&r->c->d);
		r->c->in_mail = 0;
		return;
	}
	/* Only what the glue negotiated reaches the filter. */
	for (size_t i = 0; r->c->d.neg_hdrs && i < m->nhdr; i++)
		tg_drive_header(&r->c->d, m->hdr[i].name, m->hdr[i].value);
	for (size_t off = 0; r->c->d.neg_body && off < m->bodylen;
	    off += RUN_CHUNK)
		tg_drive_body(&r->c->d, m->body + off, m->bodylen - off >
		    RUN_CHUNK ? RUN_CHUNK : m->bodylen - off);
	if (r->c->d.neg_body && st->pad > 0)
		run_pad(r, st->pad);
	snprintf(ok, sizeof ok, "250 2.0.0 Ok: queued as %s",
	    r->c->m[RM_QUEUE_ID]);
	a = tg_drive_eom(&r->c->d, &run_fx, r, &r->v);
	run_answer(r, a, ok);
	if (a == TG_ANS_DISCARD) {
		snprintf(r->reply, sizeof r->reply, "%s", ok);
		r->note = ", discarded";
	} else if (a == TG_ANS_CONTINUE && r->held != NULL)
		r->note = ", held";
	r->c->in_mail = 0;
	replay_msg_free(own);
}

static void	run_print_line(struct run *, const struct replay_step *,
		    const char *);
static void	run_step_reset(struct run *);

/* run_data - DATA and, when the filter lets it pass, the message; text is
 * the DATA step's, printed here before the message is sent. Returns 1
 * when the message was sent (the reply is then its end's). */
static int
run_data(struct run *r, const struct replay_step *st, const char *text)
{
	char ok[64];
	enum tg_answer a;

	if (!r->c->in_mail) {
		run_mta(r, "503 5.5.1 Error: need MAIL command");
		return 0;
	}
	if (r->c->rcpt_given == 0) {
		run_mta(r, "503 5.5.1 Error: need RCPT command");
		return 0;
	}
	if (r->c->rcpt_ok == 0) {
		run_mta(r, "554 5.5.1 Error: no valid recipients");
		tg_drive_abort(&r->c->d);
		r->c->in_mail = 0;
		return 0;
	}
	if (r->c->discarded) {
		/* The MTA takes the message and asks the filter no more. */
		run_mta(r, "354 End data with <CR><LF>.<CR><LF>");
		run_print_line(r, st, text);
		run_step_reset(r);
		snprintf(ok, sizeof ok, "250 2.0.0 Ok: queued as %s",
		    r->c->m[RM_QUEUE_ID]);
		run_mta(r, "%s", ok);
		r->note = ", discarded";
		r->c->in_mail = 0;
		return 1;
	}
	a = tg_drive_data(&r->c->d, &r->v);
	if (a != TG_ANS_CONTINUE) {
		run_answer(r, a, "");
		tg_drive_abort(&r->c->d);
		r->c->in_mail = 0;
		return 0;
	}
	run_answer(r, a, "354 End data with <CR><LF>.<CR><LF>");
	run_print_line(r, st, text);
	run_step_reset(r);
	run_message(r, st);
	return 1;
}

static void
run_tls(struct run *r, const struct replay_step *st)
{
	static const char *const keys[] = { "subject", "issuer", "verify" };
	static const enum run_macro macs[] = { RM_CERT_SUBJECT,
	    RM_CERT_ISSUER, RM_VERIFY };
	int off = st->narg == 1 && strcmp(st->arg[0], "off") == 0;

	run_set(r, RM_TLS_VERSION, off ? NULL : st->arg[0]);
	run_set(r, RM_CIPHER, off ? NULL : st->arg[1]);
	run_set(r, RM_CIPHER_BITS, off ? NULL : st->arg[2]);
	for (size_t k = 0; k < 3; k++) {
		run_set(r, macs[k], NULL);
		for (size_t i = 3; !off && i + 1 < st->narg; i += 2)
			if (strcmp(st->arg[i], keys[k]) == 0)
				run_set(r, macs[k], st->arg[i + 1]);
	}
	run_mta(r, "220 2.0.0 Ready to start TLS");
}

static void
run_auth(struct run *r, const struct replay_step *st)
{
	int off = st->narg == 1 && strcmp(st->arg[0], "off") == 0;
	size_t i = 1;

	run_set(r, RM_AUTH_AUTHEN, off ? NULL : st->arg[0]);
	run_set(r, RM_AUTH_TYPE, off ? NULL : "PLAIN");
	run_set(r, RM_AUTH_AUTHOR, NULL);
	if (!off && st->narg > 1 && strcmp(st->arg[1], "author") != 0)
		run_set(r, RM_AUTH_TYPE, st->arg[i++]);
	if (!off && i + 1 < st->narg)
		run_set(r, RM_AUTH_AUTHOR, st->arg[i + 1]);
	run_mta(r, "235 2.7.0 Authentication successful");
}

/* run_setting - listener, mta, client: also the file's defaults */
static void
run_setting(struct run *r, const struct replay_step *st)
{
	switch (st->cmd) {
	case R_LISTENER:
		run_setm(r, RM_DAEMON_NAME, st->arg[0]);
		run_setm(r, RM_DAEMON_PORT, NULL);
		run_setm(r, RM_DAEMON_ADDR, NULL);
		for (size_t i = 1; i + 1 < st->narg; i += 2)
			run_setm(r, strcmp(st->arg[i], "port") == 0 ?
			    RM_DAEMON_PORT : RM_DAEMON_ADDR, st->arg[i + 1]);
		break;
	case R_MTA:
		run_setm(r, RM_MTA, st->arg[0]);
		break;
	case R_CLIENT:
		free(r->connect_addr);
		free(r->connect_name);
		r->connect_addr = tg_xstrdup(st->arg[0]);
		r->connect_name = st->narg > 1 ? tg_xstrdup(st->arg[1]) : NULL;
		break;
	default:
		break;
	}
}

/* ---- output and expectations --------------------------------------------- */

/* run_verdict - "[reject rule=no-relay]": what decided the reply */
static void
run_verdict(const struct run *r, char *out, size_t outsz)
{
	const struct tg_verdict *v = &r->v;

	if (!r->asked) {
		snprintf(out, outsz, "[mta%s]", r->note != NULL ? r->note : "");
		return;
	}
	snprintf(out, outsz, "[%s%s%s%s%s%s%s%s]", tg_action_name(v->action),
	    v->rule[0] != '\0' ? " rule=" : "", v->rule,
	    v->limit[0] != '\0' ? " limit=" : "", v->limit,
	    v->dry_run ? " dry-run" : "", v->internal && v->rule[0] == '\0' &&
	    v->action != TG_ACT_CONTINUE ? " internal" : "",
	    r->note != NULL ? r->note : "");
}

/* run_step_text - the step as written */
/* run_step_text - the step as written; for the end of a message (eom),
 * "." and what the message was */
static void
run_step_text(const struct replay_step *st, char *out, size_t outsz,
    int eom)
{
	size_t o;

	if (eom) {
		if (st->msg != NULL)
			o = (size_t)snprintf(out, outsz, ". (%zu header%s, %zu "
			    "body bytes", st->msg->nhdr, st->msg->nhdr == 1 ?
			    "" : "s", st->msg->bodylen);
		else
			o = (size_t)snprintf(out, outsz, ". (%s",
			    st->file != NULL ? st->file : "");
		if (o < outsz && st->pad > 0)
			o += (size_t)snprintf(out + o, outsz - o, ", %lld "
			    "bytes of padding", st->pad);
		if (o < outsz)
			snprintf(out + o, outsz - o, ")");
		return;
	}
	o = (size_t)snprintf(out, outsz, "%s", st->word);
	for (size_t i = 0; i < st->narg && o < outsz; i++) {
		int n = snprintf(out + o, outsz - o, " %s", st->arg[i]);

		o = n > 0 ? o + (size_t)n : o;
	}
}

static int
run_rule_exists(const struct tg_policy *p, const char *name)
{
	for (int st = 0; st < TG_STAGE_COUNT; st++)
		for (size_t i = 0; i < p->nrules[st]; i++)
			if (strcmp(p->rules[st][i].name, name) == 0)
				return 1;
	return 0;
}

static int
run_limit_exists(const struct tg_policy *p, const char *name)
{
	for (size_t i = 0; i < p->nlimits; i++)
		if (strcmp(p->limits[i]->name, name) == 0)
			return 1;
	return 0;
}

/* run_reply_ok - "CODE [XCODE [TEXT]]" against the reply */
static int
run_reply_ok(const struct replay_expect *x, const char *reply)
{
	size_t cl = strlen(x->b != NULL ? x->b : "");
	const char *rest = reply + 4;

	if (strlen(reply) < 3 || reply[0] != x->a[0] ||
	    (strcmp(x->a + 1, "xx") != 0 && strncmp(reply, x->a, 3) != 0))
		return 0;
	if (x->b == NULL)
		return 1;
	if (strlen(reply) < 4 || strncmp(rest, x->b, cl) != 0 ||
	    (rest[cl] != ' ' && rest[cl] != '\0'))
		return 0;
	if (x->c == NULL)
		return 1;
	return rest[cl] == ' ' && strcmp(rest + cl + 1, x->c) == 0;
}

/* run_matched - the rule's result at this step: 1, 0, -1; -2 not tried */
static int
run_matched(const struct run *r, const char *name)
{
	int res = -2;

	for (size_t i = 0; i < r->nhits; i++)
		if (strcmp(r->hits[i].r->name, name) == 0 &&
		    r->hits[i].result > res)
			res = r->hits[i].result;
	return res;
}

/* run_header - an added header "Name: value" (name case-insensitive) or,
 * with value NULL, any header of that name */
static int
run_header(const struct run *r, const char *name, size_t nlen,
    const char *value)
{
	for (size_t i = 0; i < r->nadded; i++)
		if (strlen(r->added[i].name) == nlen &&
		    strncasecmp(r->added[i].name, name, nlen) == 0 &&
		    (value == NULL || strcmp(r->added[i].value, value) == 0))
			return 1;
	return 0;
}

/* run_expect - does x hold? got says what there was */
static int
run_expect(const struct run *r, const struct replay_expect *x, char *got,
    size_t gotsz)
{
	const struct tg_verdict *v = &r->v;
	const char *colon, *val;
	char verdict[512];
	int m;

	run_verdict(r, verdict, sizeof verdict);
	snprintf(got, gotsz, "%s %s", r->reply, verdict);
	if (r->reply[0] == '\0') {
		snprintf(got, gotsz, "no reply at this step (a setting before "
		    "the connection)");
		return 0;
	}
	switch (x->kind) {
	case X_REPLY:
		return run_reply_ok(x, r->reply);
	case X_ACTION:
		return r->asked && strcmp(tg_action_name(v->action), x->a) == 0;
	case X_RULE:
		if (strcmp(x->a, "-") != 0 && !run_rule_exists(r->p, x->a)) {
			snprintf(got, gotsz, "the policy has no rule %s", x->a);
			return 0;
		}
		return r->asked && strcmp(v->rule[0] != '\0' ? v->rule : "-",
		    x->a) == 0;
	case X_LIMIT:
		if (!run_limit_exists(r->p, x->a)) {
			snprintf(got, gotsz, "the policy has no limit %s",
			    x->a);
			return 0;
		}
		return r->asked && strcmp(v->limit, x->a) == 0;
	case X_DRY_RUN:
		return r->asked && v->dry_run;
	case X_HEADER:
	case X_NO_HEADER:
		colon = strchr(x->a, ':');
		if (r->nadded == 0)
			snprintf(got, gotsz, "no header added");
		else {
			size_t o = 0;

			for (size_t i = 0; i < r->nadded && o < gotsz; i++) {
				int n = snprintf(got + o, gotsz - o, "%s%s: %s",
				    i > 0 ? " | " : "", r->added[i].name,
				    r->added[i].value);

				o = n > 0 ? o + (size_t)n : o;
			}
		}
		if (x->kind == X_NO_HEADER)
			return !run_header(r, x->a, strlen(x->a), NULL);
		val = colon + 1 + strspn(colon + 1, " ");
		return run_header(r, x->a, (size_t)(colon - x->a), val);
	case X_MATCHED:
	case X_NOT_MATCHED:
		if (!run_rule_exists(r->p, x->a)) {
			snprintf(got, gotsz, "the policy has no rule %s", x->a);
			return 0;
		}
		m = run_matched(r, x->a);
		snprintf(got, gotsz, "rule %s %s at this step", x->a,
		    m == 1 ? "matched" : m == 0 ? "did not match" : m == -1 ?
		    "could not be decided" : "was not tried");
		return x->kind == X_MATCHED ? m == 1 : m != 1;
	case X_HELD:
		snprintf(got, gotsz, "%s%s%s", r->held != NULL ?
		    "held \"" : "not held", r->held != NULL ? r->held : "",
		    r->held != NULL ? "\"" : "");
		return r->held != NULL && strcmp(r->held, x->a) == 0;
	}
	return 0;
}

/* run_step_reset - nothing of the last step is left */
static void
run_step_reset(struct run *r)
{
	for (size_t i = 0; i < r->nlines; i++)
		free(r->lines[i]);
	r->nlines = 0;
	for (size_t i = 0; i < r->nadded; i++) {
		free(r->added[i].name);
		free(r->added[i].value);
	}
	r->nadded = 0;
	r->held = tg_free(r->held);
	r->nhits = 0;
	r->reply[0] = '\0';
	r->asked = 0;
	r->note = NULL;
	memset(&r->v, 0, sizeof r->v);
}

/* run_print - the step's line and what goes under it; then its
 * expectations */
/* run_print_line - the step's line and what goes under it */
static void
run_print_line(struct run *r, const struct replay_step *st, const char *text)
{
	FILE *out = r->o->out;
	char verdict[512];

	if (r->reply[0] != '\0') {
		run_verdict(r, verdict, sizeof verdict);
		fprintf(out, "%s:%d: %s: %s %s\n", r->f->path, st->line, text,
		    r->reply, verdict);
		r->res->steps++;
	} else if (!r->o->quiet)
		fprintf(out, "%s:%d: %s\n", r->f->path, st->line, text);
	for (size_t i = 0; !r->o->quiet && i < r->nlines; i++)
		fprintf(out, "    %s\n", r->lines[i]);
}

static void
run_print(struct run *r, const struct replay_step *st, const char *text)
{
	FILE *out = r->o->out;
	char got[4096];

	run_print_line(r, st, text);
	for (size_t i = 0; i < st->nex; i++) {
		const struct replay_expect *x = &st->ex[i];

		r->res->expects++;
		if (run_expect(r, x, got, sizeof got))
			continue;
		r->res->failed++;
		fprintf(out, "%s:%d: expectation failed\n-%s\n+%s\n",
		    r->f->path, x->line, x->src, got);
	}
}

/* run_subst - the step's words with "%n" as the iteration of its repeat
 * (and "%%" as "%"); caller frees the array and its strings */
static char **
run_subst(const struct replay_step *st, long long iter)
{
	char **out = tg_xcalloc(st->narg + 1, sizeof *out);
	char num[24];

	snprintf(num, sizeof num, "%lld", iter);
	for (size_t i = 0; i < st->narg; i++) {
		const char *a = st->arg[i];
		size_t o = 0, cap = strlen(a) * (strlen(num) + 1) + 1;

		out[i] = tg_xmalloc(cap);
		for (; *a != '\0'; a++) {
			if (a[0] == '%' && a[1] == 'n') {
				memcpy(out[i] + o, num, strlen(num));
				o += strlen(num);
				a++;
			} else if (a[0] == '%' && a[1] == '%') {
				out[i][o++] = '%';
				a++;
			} else
				out[i][o++] = *a;
		}
		out[i][o] = '\0';
	}
	return out;
}

static void	run_step1(struct run *, const struct replay_step *,
		    const char *);

/* run_step - one step of a session; iter > 0: the iteration of the
 * repeat it is in, of count */
static void
run_step(struct run *r, const struct replay_step *st, long long iter,
    long long count)
{
	struct replay_step tmp;
	char prefix[48];

	if (iter == 0) {
		run_step1(r, st, "");
		return;
	}
	tmp = *st;
	tmp.arg = run_subst(st, iter);
	snprintf(prefix, sizeof prefix, "[%lld/%lld] ", iter, count);
	run_step1(r, &tmp, prefix);
	for (size_t i = 0; i < tmp.narg; i++)
		free(tmp.arg[i]);
	free(tmp.arg);
}

/* run_step1 - one step; prefix goes before its text */
static void
run_step1(struct run *r, const struct replay_step *st, const char *prefix0)
{
	char text[1024], prefix[160];
	size_t pl;

	/* Steps name their connection once the session has several. */
	if (r->nconns > 1 || strcmp(r->c->name, "1") != 0)
		snprintf(prefix, sizeof prefix, "%s[%s] ", prefix0,
		    r->c->name);
	else
		snprintf(prefix, sizeof prefix, "%s", prefix0);
	pl = strlen(prefix);

	if (st->cmd == R_LISTENER || st->cmd == R_MTA || st->cmd == R_CLIENT) {
		run_setting(r, st);
		return;
	}
	if (st->cmd == R_CONNECTION || st->cmd == R_WAIT) {
		if (st->cmd == R_CONNECTION)
			run_conn_use(r, st->arg[0]);
		else
			run_clock_offset += st->wait_ms;
		run_step_reset(r);
		memcpy(text, prefix, pl + 1);
		run_step_text(st, text + pl, sizeof text - pl, 0);
		run_print(r, st, text);
		return;
	}
	/* TLS on connect, or a login known before: settings only. */
	if ((st->cmd == R_TLS || st->cmd == R_AUTH) && !r->c->connected) {
		run_step_reset(r);
		if (st->cmd == R_TLS)
			run_tls(r, st);
		else
			run_auth(r, st);
		r->reply[0] = '\0';
		memcpy(text, prefix, pl + 1);
		run_step_text(st, text + pl, sizeof text - pl, 0);
		run_print(r, st, text);
		return;
	}
	if (st->cmd != R_CONNECT && st->cmd != R_QUIT && st->cmd != R_HOLD &&
	    !r->c->connected) {
		/* The connection the command needs, on a line of its own. */
		run_step_reset(r);
		run_connect(r, r->connect_addr, r->connect_name);
		snprintf(text, sizeof text, "(connect %s%s%s)",
		    r->connect_addr != NULL ? r->connect_addr : "unknown",
		    r->connect_name != NULL ? " " : "",
		    r->connect_name != NULL ? r->connect_name : "");
		fprintf(r->o->out, "%s:%d: %s: %s", r->f->path, st->line, text,
		    r->reply);
		run_verdict(r, text, sizeof text);
		fprintf(r->o->out, " %s\n", text);
		for (size_t i = 0; !r->o->quiet && i < r->nlines; i++)
			fprintf(r->o->out, "    %s\n", r->lines[i]);
		r->res->steps++;
	}
	run_step_reset(r);
	switch (st->cmd) {
	case R_CONNECT:
		run_connect(r, st->narg > 0 ? st->arg[0] : r->connect_addr,
		    st->narg > 1 ? st->arg[1] : st->narg > 0 ? NULL :
		    r->connect_name);
		break;
	case R_HELO:
		run_helo(r, st->arg[0]);
		break;
	case R_TLS:
		run_tls(r, st);
		break;
	case R_AUTH:
		run_auth(r, st);
		break;
	case R_MAIL:
		run_mail(r, st);
		break;
	case R_RCPT:
		run_rcpt(r, st);
		break;
	case R_DATA:
		memcpy(text, prefix, pl + 1);
		run_step_text(st, text + pl, sizeof text - pl, 0);
		if (run_data(r, st, text)) {
			memcpy(text, prefix, pl + 1);
			run_step_text(st, text + pl, sizeof text - pl, 1);
			run_print(r, st, text);
			return;
		}
		break;
	case R_RSET:
		if (r->c->in_mail)
			tg_drive_abort(&r->c->d);
		r->c->in_mail = 0;
		run_mta(r, "250 2.0.0 Ok");
		break;
	case R_QUIT:
		run_mta(r, "221 2.0.0 Bye");
		run_close(r);
		break;
	case R_HOLD:
		run_hold(r, st->count);
		break;
	default:
		break;
	}
	memcpy(text, prefix, pl + 1);
	run_step_text(st, text + pl, sizeof text - pl, 0);
	run_print(r, st, text);
}

void
replay_run_file(const struct replay_file *f, struct tg_policy *p,
    const struct replay_opts *o, struct replay_result *res)
{
	struct run r;

	/* Every file starts from empty counters, on the store's clock. */
	tg_store_mem_clear(tg_store_memory());
	tg_store_mem_set_clock(tg_store_memory(), run_clock, NULL);
	memset(&r, 0, sizeof r);
	r.f = f;
	r.p = p;
	r.o = o;
	r.res = res;
	tg_trace_init(&r.trace, run_trace_line, &r);
	r.trace.rule = run_trace_rule;
	run_cur = &r;
	tg_log_set_sink(run_log);
	for (size_t i = 0; i < f->ns && !(o->stop && res->failed > 0); i++) {
		const struct replay_session *s = &f->s[i];

		for (int k = 0; k < RM_COUNT; k++)
			r.defm[k] = tg_free(r.defm[k]);
		r.connect_addr = tg_free(r.connect_addr);
		r.connect_name = tg_free(r.connect_name);
		run_conn_use(&r, "1");
		for (size_t k = 0; k < f->ndefaults; k++)
			run_setting(&r, &f->defaults[k]);
		if (!o->quiet)
			fprintf(o->out, "%s:%d: session %s\n", f->path, s->line,
			    s->name);
		res->sessions++;
		for (size_t k = 0; k < s->nsteps && !(o->stop &&
		    res->failed > 0); k++) {
			const struct replay_step *st = &s->steps[k];

			if (st->cmd != R_REPEAT) {
				run_step(&r, st, 0, 0);
				continue;
			}
			for (long long n = 1; n <= st->count && !(o->stop &&
			    res->failed > 0); n++)
				for (size_t j = k + 1; j < st->end; j++)
					run_step(&r, &s->steps[j], n,
					    st->count);
			k = st->end;
		}
		run_release(&r);
		run_end_session(&r);
	}
	tg_log_set_sink(NULL);
	run_cur = NULL;
	run_step_reset(&r);
	free(r.lines);
	free(r.held_conns);
	free(r.added);
	free(r.hits);
	for (int k = 0; k < RM_COUNT; k++)
		free(r.defm[k]);
	free(r.conns);
	free(r.connect_addr);
	free(r.connect_name);
	tg_trace_free(&r.trace);
}
