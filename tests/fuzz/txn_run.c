/* txn_run.c - replay a connection through the engine the way the milter
 * glue does it: through the front end's driver (filter/drive.c, which
 * filter/milter.c uses too), playing the MTA: the macros of struct
 * txn_conn, the callbacks in the MTA's order, a refused MAIL or DATA
 * ending the message. This file only adds the transcript and the outcome
 * the invariants of fuzz_txn.c compare. Owns: the driver of the
 * connection being replayed. Threads: one replay at a time. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tg.h"
#include "tg_drive.h"
#include "tg_engine.h"
#include "tg_ip.h"
#include "tg_policy.h"
#include "tg_session.h"
#include "txn.h"

static const char *const txn_ans_names[] = {
	[TG_ANS_CONTINUE] = "continue", [TG_ANS_REJECT] = "reject",
	[TG_ANS_TEMPFAIL] = "tempfail", [TG_ANS_DISCARD] = "discard",
};

struct txn_ctx {
	const struct txn_conn	*conn;
	const struct txn_msg	*msg;		/* current message, for "i" */
	struct tg_drive		 d;
	struct txn_out		*out;		/* current message's */
	int			 held;		/* quarantined at eom */
};

static void	txn_log(struct txn_ctx *, const char *, ...)
		    TG_PRINTFLIKE(2, 3);

/* txn_log - append to the current message's transcript */
static void
txn_log(struct txn_ctx *c, const char *fmt, ...)
{
	struct txn_out *o = c->out;
	va_list ap;
	int n;

	if (o == NULL)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->log != NULL ? o->log + o->len : NULL,
		    o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			abort();
		if ((size_t)n < o->cap - o->len)
			break;
		o->cap = o->cap * 2 + (size_t)n + 256;
		o->log = tg_xrealloc(o->log, o->cap);
	}
	o->len += (size_t)n;
}

void
txn_out_free(struct txn_out *o)
{
	free(o->log);
	memset(o, 0, sizeof *o);
}

/* txn_reply_ok - what tg_engine.h promises of a verdict's reply */
static const char *
txn_reply_ok(const struct tg_verdict *v)
{
	char want;

	if (v->action != TG_ACT_REJECT && v->action != TG_ACT_TEMPFAIL)
		return NULL;
	want = v->action == TG_ACT_REJECT ? '5' : '4';
	if (strlen(v->code) != 3 || v->code[0] != want ||
	    v->code[1] < '0' || v->code[1] > '9' ||
	    v->code[2] < '0' || v->code[2] > '9')
		return "reply code does not match the action";
	if (v->xcode[0] != want || v->xcode[1] != '.')
		return "enhanced status code does not match the action";
	for (const char *t = v->text; *t != '\0'; t++)
		if ((unsigned char)*t < 0x20 || (unsigned char)*t > 0x7e)
			return "reply text not one line of printable ASCII";
	return NULL;
}

/* txn_macro - the MTA's macros, from the connection's description; the
 * queue id is the current message's */
static const char *
txn_macro(void *arg, const char *name)
{
	const struct txn_ctx *c = arg;
	const struct txn_conn *k = c->conn;
	static const struct {
		const char	*name;
		size_t		 off;
	} map[] = {
		{ "{daemon_name}", offsetof(struct txn_conn, daemon_name) },
		{ "{daemon_addr}", offsetof(struct txn_conn, daemon_addr) },
		{ "{daemon_port}", offsetof(struct txn_conn, daemon_port) },
		{ "{client_addr}", offsetof(struct txn_conn, client_addr) },
		{ "{auth_authen}", offsetof(struct txn_conn, auth_authen) },
		{ "{auth_type}", offsetof(struct txn_conn, auth_type) },
		{ "{auth_author}", offsetof(struct txn_conn, auth_author) },
		{ "{tls_version}", offsetof(struct txn_conn, tls_version) },
		{ "{cipher}", offsetof(struct txn_conn, tls_cipher) },
		{ "{cipher_bits}", offsetof(struct txn_conn, tls_bits) },
		{ "j", offsetof(struct txn_conn, mta_name) },
	};

	if (strcmp(name, "i") == 0)
		return c->msg != NULL ? c->msg->qid : NULL;
	if (strcmp(name, "{client_name}") == 0)
		return k->client_name != NULL && *k->client_name != '\0' ?
		    k->client_name : NULL;
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(name, map[i].name) == 0)
			return *(const char *const *)(const void *)
			    ((const char *)k + map[i].off);
	return NULL;
}

/* txn_deliver - the transcript line of an answer */
static enum tg_answer
txn_deliver(struct txn_ctx *c, const char *what, enum tg_answer a,
    const struct tg_verdict *v)
{
	const char *bad;

	if ((bad = txn_reply_ok(v)) != NULL && c->out != NULL &&
	    c->out->bad_reply == NULL)
		c->out->bad_reply = bad;
	txn_log(c, "%s: %s", what, tg_action_name(v->action));
	if (v->action == TG_ACT_REJECT || v->action == TG_ACT_TEMPFAIL)
		txn_log(c, " %s %s \"%s\"", v->code, v->xcode, v->text);
	txn_log(c, " rule=%s%s%s%s => %s\n", v->rule[0] != '\0' ? v->rule :
	    "-", v->limit[0] != '\0' ? " limit=" : "", v->limit,
	    v->dry_run ? " dry-run" : "", txn_ans_names[a]);
	return a;
}

/* The effects of the end of a message, into the transcript. */
static int
txn_fx_add(void *arg, const char *name, const char *value)
{
	txn_log(arg, "add-header: %s: %s\n", name, value);
	return 0;
}

static int
txn_fx_quarantine(void *arg, const char *reason)
{
	struct txn_ctx *c = arg;

	txn_log(c, "quarantine: %s\n", reason);
	c->held = 1;
	return 0;
}

static int
txn_fx_remove(void *arg, const char *name, unsigned index)
{
	txn_log(arg, "remove: %s #%u\n", name, index);
	return 0;
}

static int
txn_fx_insert(void *arg, const char *name, const char *value)
{
	/* A DKIM-Signature holds the time (t=): only its name goes into the
	 * transcript, which variants of one message must share. */
	if (strcasecmp(name, "DKIM-Signature") == 0)
		value = "(signature)";
	txn_log(arg, "insert: %s: %s\n", name, value);
	return 0;
}

static const struct tg_drive_effects txn_fx = {
	txn_fx_add, txn_fx_quarantine, txn_fx_remove, txn_fx_insert,
};

/* txn_connect - the client and the connect and HELO events */
static void
txn_connect(struct txn_ctx *c)
{
	const struct txn_conn *k = c->conn;
	struct tg_verdict v;
	struct tg_ip ip;
	enum tg_answer a;

	/* As libmilter gives it: an IPv4 socket address in binary, an
	 * IPv6 one as text; {client_addr} when neither gave an address. */
	if (k->client_addr != NULL && strchr(k->client_addr, ':') == NULL &&
	    tg_ip_parse(k->client_addr, &ip) == 0 && ip.family == 4)
		a = tg_drive_connect(&c->d, &ip, NULL, NULL, &v);
	else
		a = tg_drive_connect(&c->d, NULL, k->client_addr != NULL &&
		    strchr(k->client_addr, ':') != NULL ? k->client_addr :
		    NULL, NULL, &v);
	(void)txn_deliver(c, "connect", a, &v);
	if (k->helo != NULL) {
		a = tg_drive_helo(&c->d, k->helo, &v);
		(void)txn_deliver(c, "helo", a, &v);
	}
}

/* txn_eom - the end of the message and its effects */
static enum tg_answer
txn_eom(struct txn_ctx *c)
{
	struct tg_verdict v;
	enum tg_answer a;

	c->held = 0;
	/* The effects' lines come first: the drive applies them before it
	 * returns the verdict that kept the message. */
	a = tg_drive_eom(&c->d, &txn_fx, c, &v);
	(void)txn_deliver(c, "eom", a, &v);
	txn_log(c, "end: %s%s\n", txn_ans_names[a], c->held ? " (held)" : "");
	if (c->out != NULL)
		c->out->delivered = a == TG_ANS_CONTINUE && !c->held;
	return a;
}

/* txn_message - one message, as the MTA goes through it: a refused MAIL
 * or DATA, a discard or no accepted recipient ends it. */
static void
txn_message(struct txn_ctx *c, const struct txn_msg *m)
{
	struct tg_verdict v;
	enum tg_answer a;
	char what[16];
	char *argv[3];
	size_t i, off = 0;

	c->msg = m;
	argv[0] = m->sender;
	argv[1] = m->size != NULL ? tg_xasprintf("SIZE=%s", m->size) : NULL;
	argv[2] = NULL;
	a = txn_deliver(c, "mail", tg_drive_mail(&c->d, argv, &v), &v);
	free(argv[1]);
	if (a != TG_ANS_CONTINUE || m->end == TXN_END_AFTER_MAIL)
		goto early;
	for (i = 0; i < m->nrcpt; i++) {
		argv[0] = m->rcpt[i];
		argv[1] = NULL;
		snprintf(what, sizeof what, "rcpt%zu", i);
		a = txn_deliver(c, what, tg_drive_rcpt(&c->d, argv, &v), &v);
		if (a == TG_ANS_DISCARD)
			goto early;
		if (a == TG_ANS_CONTINUE)
			c->out->rcpt_ok |= 1u << i;
	}
	if (c->out->rcpt_ok == 0 || m->end == TXN_END_AFTER_RCPT) {
		a = c->out->rcpt_ok == 0 ? TG_ANS_REJECT : TG_ANS_CONTINUE;
		goto early;
	}
	a = txn_deliver(c, "data", tg_drive_data(&c->d, &v), &v);
	if (a != TG_ANS_CONTINUE || m->end == TXN_END_AFTER_DATA)
		goto early;
	c->out->pre_len = c->out->len;
	/* Headers and body only when negotiated. */
	for (i = 0; c->d.neg_hdrs && i < m->nhdr; i++)
		tg_drive_header(&c->d, m->hdr[i].name, m->hdr[i].value);
	if (c->d.neg_hdrs)
		tg_drive_eoh(&c->d);
	if (m->end == TXN_END_AFTER_HEADERS)
		goto early;
	for (i = 0; c->d.neg_body && i <= m->ncut; i++) {
		size_t e = i < m->ncut ? m->cut[i] : m->bodylen;

		if (m->end == TXN_END_MID_BODY && 2 * e > m->bodylen)
			goto early;
		if (e > off)
			tg_drive_body(&c->d, m->body + off, e - off);
		off = e;
	}
	(void)txn_eom(c);
	return;
early:
	txn_log(c, "end: %s (early)\n", txn_ans_names[a]);
	c->out->delivered = 0;
	if (m->abort_cb || a != TG_ANS_CONTINUE)
		tg_drive_abort(&c->d);
}

void
txn_run(const struct tg_policy *p, const struct txn_conn *conn,
    const struct txn_msg *msgs, size_t n, struct txn_out *outs)
{
	struct txn_ctx c;
	int hdrs, body;

	memset(&c, 0, sizeof c);
	c.conn = conn;
	for (size_t i = 0; i < n; i++)
		memset(&outs[i], 0, sizeof outs[i]);
	/* The drive holds a reference, as a milter connection does; the
	 * caller's policy outlives the replay. */
	tg_drive_init(&c.d, tg_policy_ref((struct tg_policy *)(uintptr_t)p),
	    "FUZZ", txn_macro, &c);
	/* What the glue negotiates for this policy. */
	tg_drive_needs(p, &hdrs, &body);
	c.d.neg_hdrs = hdrs;
	c.d.neg_body = body;
	/* Connection-level lines go into the first message's transcript. */
	c.out = n > 0 ? &outs[0] : NULL;
	txn_connect(&c);
	for (size_t i = 0; i < n; i++) {
		c.out = &outs[i];
		txn_message(&c, &msgs[i]);
	}
	tg_drive_free(&c.d);
}
