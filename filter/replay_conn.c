/* replay_conn.c - the connections of a session being replayed: the
 * macros the MTA would send, opening and closing connections through the
 * front end's driver (tg_drive.h), the MTA's own replies, the effects of
 * an accepted message, and the sinks of the daemon's log and of the rule
 * trace. Owns: the session's connections. Threads: single-threaded
 * program. */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "tg.h"
#include "tg_dkim.h"
#include "tg_drive.h"
#include "tg_engine.h"
#include "tg_ip.h"
#include "tg_log.h"
#include "tg_policy.h"
#include "tg_session.h"
#include "tg_store.h"
#include "tg_trace.h"
#include "replay.h"
#include "replay_impl.h"

static const char *const run_macro_names[RM_COUNT] = {
	"{daemon_name}", "{daemon_port}", "{daemon_addr}", "j",
	"{client_addr}", "{client_name}", "{tls_version}", "{cipher}",
	"{cipher_bits}", "{cert_subject}", "{cert_issuer}", "{verify}",
	"{auth_authen}", "{auth_type}", "{auth_author}", "i",
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

/* replay_line - a line printed under the step (trace, effects, log) */
void
replay_line(struct run *r, const char *fmt, ...)
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
		replay_line(r, "log: %s%s", prio <= LOG_ERR ? "error: " :
		    prio <= LOG_WARNING ? "warning: " : "", line);
}

static void
run_trace_line(void *arg, const char *text)
{
	struct run *r = arg;

	if (r->o->verbose)
		replay_line(r, "%s", text);
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

void
replay_set(struct run *r, enum run_macro m, const char *v)
{
	free(r->c->m[m]);
	r->c->m[m] = v != NULL ? tg_xstrdup(v) : NULL;
}

/* replay_setm - a setting of the session (listener, mta): for the
 * connections made from now on, and the current one's next connect */
void
replay_setm(struct run *r, enum run_macro m, const char *v)
{
	free(r->defm[m]);
	r->defm[m] = v != NULL ? tg_xstrdup(v) : NULL;
	replay_set(r, m, v);
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

/* replay_conn_use - make connection name the current one, a new one with the
 * session's settings if there is none of that name */
void
replay_conn_use(struct run *r, const char *name)
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
	replay_line(r, "+ add-header %s: %s", name, value);
	return 0;
}

static int
run_fx_quarantine(void *arg, const char *reason)
{
	struct run *r = arg;

	free(r->held);
	r->held = tg_xstrdup(reason);
	replay_line(r, "+ quarantine \"%s\"", reason);
	return 0;
}

static int
run_fx_remove(void *arg, const char *name, unsigned index)
{
	replay_line(arg, "+ remove %s #%u", name, index);
	return 0;
}

static int
run_fx_insert(void *arg, const char *name, const char *value)
{
	struct run *r = arg;

	run_added(r, name, value);
	replay_line(r, "+ insert %s: %s", name, value);
	return 0;
}

const struct tg_drive_effects replay_fx = {
	run_fx_add, run_fx_quarantine, run_fx_remove, run_fx_insert,
};

/* ---- replies ------------------------------------------------------------- */


/* replay_mta - the MTA answers by itself */
void
replay_mta(struct run *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->reply, sizeof r->reply, fmt, ap);
	va_end(ap);
	r->asked = 0;
}

/* replay_answer - the reply to a step the filter was asked about; ok is the
 * MTA's reply when the filter lets it pass */
void
replay_answer(struct run *r, enum tg_answer a, const char *ok)
{
	r->asked = 1;
	if (a == TG_ANS_REJECT || a == TG_ANS_TEMPFAIL)
		snprintf(r->reply, sizeof r->reply, "%s %s %s", r->v.code,
		    r->v.xcode, r->v.text);
	else
		snprintf(r->reply, sizeof r->reply, "%s", ok);
}

const char *
replay_mta_name(const struct run *r)
{
	return r->c->m[RM_MTA] != NULL ? r->c->m[RM_MTA] : "localhost";
}

/* ---- steps ------------------------------------------------------------- */

/* replay_close - the current connection ends; the next one starts without
 * TLS and login, unless given again before it */
void
replay_close(struct run *r)
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
		replay_set(r, gone[i], NULL);
}

/* replay_end_session - every connection closes */
void
replay_end_session(struct run *r)
{
	for (size_t i = 0; i < r->nconns; i++) {
		r->c = r->conns[i];
		replay_close(r);
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
	/* Postfix and Sendmail both grant SMFIP_HDR_LEADSPC, which the
	 * glue asks for when the policy verifies or signs DKIM. */
	d->leadspc = tg_dkim_wanted(r->p);
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
		replay_answer(r, a, "");
		return;
	}
	snprintf(r->reply, sizeof r->reply, "220 %s ESMTP", replay_mta_name(r));
	r->asked = 1;
	if (r->v.action == TG_ACT_REJECT || r->v.action == TG_ACT_TEMPFAIL)
		r->note = ", answered at MAIL";
}

void
replay_connect(struct run *r, const char *addr, const char *name)
{
	replay_close(r);
	replay_set(r, RM_CLIENT_ADDR, addr);
	replay_set(r, RM_CLIENT_NAME, name);
	replay_set(r, RM_QUEUE_ID, NULL);
	r->c->connected = 1;
	r->c->in_mail = 0;
	run_connect_reply(r, run_open(r, &r->c->d, addr, name));
}

/* replay_hold - n more connections from the client, open (and counted as
 * sessions) until the session ends */
void
replay_hold(struct run *r, long long n)
{
	enum tg_answer a = TG_ANS_CONTINUE;
	char *addr, *name;

	/* The client of the connection open, else the session's. */
	addr = r->c->connected ? r->c->m[RM_CLIENT_ADDR] : r->connect_addr;
	name = r->c->connected ? r->c->m[RM_CLIENT_NAME] : r->connect_name;
	addr = addr != NULL ? tg_xstrdup(addr) : NULL;
	name = name != NULL ? tg_xstrdup(name) : NULL;
	replay_set(r, RM_CLIENT_ADDR, addr);
	replay_set(r, RM_CLIENT_NAME, name);
	for (long long i = 0; i < n; i++) {
		r->held_conns = tg_xrealloc(r->held_conns, (r->nheld + 1) *
		    sizeof *r->held_conns);
		a = run_open(r, &r->held_conns[r->nheld++], addr, name);
	}
	free(addr);
	free(name);
	run_connect_reply(r, a);
}

void
replay_release(struct run *r)
{
	for (size_t i = 0; i < r->nheld; i++)
		tg_drive_free(&r->held_conns[i]);
	r->nheld = 0;
}

void
replay_sinks(struct run *r, int on)
{
	if (on) {
		/* Counters and greylisting records on the store's clock,
		 * moved on by "wait". */
		tg_store_mem_set_clock(tg_store_memory(), run_clock, NULL);
		tg_store_mem_set_clock(tg_store_memory_grey(), run_clock,
		    NULL);
		tg_trace_init(&r->trace, run_trace_line, r);
		r->trace.rule = run_trace_rule;
		run_cur = r;
		tg_log_set_sink(run_log);
	} else {
		tg_log_set_sink(NULL);
		run_cur = NULL;
		tg_trace_free(&r->trace);
	}
}

void
replay_clock_advance(int64_t ms)
{
	run_clock_offset += ms;
}
