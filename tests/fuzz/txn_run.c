/* txn_run.c - replay a connection through the engine the way the milter
 * glue (filter/milter.c) does it, without libmilter: the same session
 * calls, in the same order, with the same macro filtering and the same
 * mapping of verdicts to answers (dry runs, discard before MAIL, effects
 * applied at end of message). Each function below is named after the
 * milter.c callback it stands for; keep them in step when milter.c or
 * milter_macros.c changes. Owns: the session of the connection being replayed.
 * Threads: one replay at a time. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_auth.h"
#include "tg_dkim.h"
#include "tg_content.h"
#include "tg_engine.h"
#include "tg_ip.h"
#include "tg_ops.h"
#include "tg_policy.h"
#include "tg_reply.h"
#include "tg_session.h"
#include "txn.h"

/* The glue's answer to the MTA (SMFIS_*). */
enum txn_ans { ANS_CONTINUE, ANS_REJECT, ANS_TEMPFAIL, ANS_DISCARD };

static const char *const txn_ans_names[] = { "continue", "reject",
    "tempfail", "discard" };

struct txn_ctx {
	const struct tg_policy	*p;
	const struct txn_conn	*conn;
	struct tg_session	 sess;
	unsigned		 want;		/* macros copied (milter_want) */
	int			 neg_hdrs, neg_body;
	struct txn_out		*out;		/* current message's */
};

/* milter_macros[] of milter_macros.c: the attribute a macro sets and the two
 * attributes whose use makes the glue copy it. */
static const struct txn_macro {
	enum tg_attr	 attr;
	size_t		 off;		/* in struct txn_conn */
	enum tg_attr	 uses[2];
} txn_macros[] = {
#define M_LISTENER_NAME	0
	{ TG_A_LISTENER_NAME, offsetof(struct txn_conn, daemon_name),
	  { TG_A_LISTENER_NAME, TG_A_LISTENER_NAME } },
#define M_LISTENER_ADDR	1
	{ TG_A_LISTENER_ADDRESS, offsetof(struct txn_conn, daemon_addr),
	  { TG_A_LISTENER_ADDRESS, TG_A_HELO_OURS } },
#define M_LISTENER_PORT	2
	{ TG_A_LISTENER_PORT, offsetof(struct txn_conn, daemon_port),
	  { TG_A_LISTENER_PORT, TG_A_LISTENER_PORT } },
#define M_CLIENT_ADDR	3
	{ TG_A_CLIENT_ADDRESS, offsetof(struct txn_conn, client_addr),
	  { TG_A_CLIENT_ADDRESS, TG_A_CLIENT_ADDRESS } },
#define M_AUTH_AUTHEN	4
	{ TG_A_SASL_LOGIN, offsetof(struct txn_conn, auth_authen),
	  { TG_A_SASL_LOGIN, TG_A_AUTHENTICATED } },
#define M_AUTH_TYPE	5
	{ TG_A_SASL_MECHANISM, offsetof(struct txn_conn, auth_type),
	  { TG_A_SASL_MECHANISM, TG_A_SASL_MECHANISM } },
#define M_AUTH_AUTHOR	6
	{ TG_A_SASL_AUTHOR, offsetof(struct txn_conn, auth_author),
	  { TG_A_SASL_AUTHOR, TG_A_SASL_AUTHOR } },
#define M_TLS_VERSION	7
	{ TG_A_TLS_VERSION, offsetof(struct txn_conn, tls_version),
	  { TG_A_TLS, TG_A_TLS_VERSION } },
#define M_TLS_CIPHER	8
	{ TG_A_TLS_CIPHER, offsetof(struct txn_conn, tls_cipher),
	  { TG_A_TLS_CIPHER, TG_A_TLS_CIPHER } },
#define M_TLS_BITS	9
	{ TG_A_TLS_BITS, offsetof(struct txn_conn, tls_bits),
	  { TG_A_TLS_BITS, TG_A_TLS_BITS } },
#define M_MTA_NAME	10
	{ TG_A_MTA_NAME, offsetof(struct txn_conn, mta_name),
	  { TG_A_MTA_NAME, TG_A_HELO_OURS } },
};
#define M_ALWAYS	(1u << M_CLIENT_ADDR | 1u << M_AUTH_AUTHEN)

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

/* txn_needs - milter_needs(): the protocol steps the policy's rules need */
static void
txn_needs(const struct tg_policy *p, int *hdrs, int *body)
{
	int size = tg_policy_uses(p, TG_A_SIZE);

	*hdrs = p->header_used || size || tg_policy_uses(p, TG_A_HEADER) ||
	    tg_policy_uses(p, TG_A_HEADER_COUNT) ||
	    tg_policy_uses(p, TG_A_HEADER_BYTES) ||
	    tg_policy_uses(p, TG_A_HEADER_LONGEST);
	*body = size || tg_mime_wanted(p);
	if (tg_dkim_wanted(p))
		*hdrs = *body = 1;
}

/* txn_want - milter_want() */
static unsigned
txn_want(const struct tg_policy *p)
{
	unsigned want = M_ALWAYS;

	for (size_t i = 0; i < sizeof txn_macros / sizeof txn_macros[0]; i++)
		if (tg_policy_uses(p, txn_macros[i].uses[0]) ||
		    tg_policy_uses(p, txn_macros[i].uses[1]))
			want |= 1u << i;
	return want;
}

/* txn_macro - milter_macro(): absent leaves the attribute as it was, an
 * unchanged value is not set again, a malformed one leaves it unset */
static void
txn_macro(struct txn_ctx *c, int i)
{
	const struct txn_macro *m = &txn_macros[i];
	const char *val = *(const char *const *)(const void *)
	    ((const char *)c->conn + m->off);
	const char *old = c->sess.val[m->attr];

	if (!(c->want & (1u << i)) || val == NULL)
		return;
	if (old != NULL && strcmp(old, val) == 0)
		return;
	(void)tg_session_set(&c->sess, m->attr, val);
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

/* txn_deliver - milter_deliver() (with milter_dry()): the answer to the
 * MTA, and a transcript line */
static enum txn_ans
txn_deliver(struct txn_ctx *c, enum tg_stage st, const char *what,
    const struct tg_verdict *v)
{
	enum txn_ans a = ANS_CONTINUE;
	int dry = v->action != TG_ACT_CONTINUE &&
	    v->action != TG_ACT_ACCEPT && !v->internal && tg_ops_dry_run(c->p);
	const char *bad;

	if ((bad = txn_reply_ok(v)) != NULL && c->out != NULL &&
	    c->out->bad_reply == NULL)
		c->out->bad_reply = bad;
	if (!dry)
		switch (v->action) {
		case TG_ACT_REJECT:
			a = ANS_REJECT;
			break;
		case TG_ACT_TEMPFAIL:
			a = ANS_TEMPFAIL;
			break;
		case TG_ACT_DISCARD:
			a = st >= TG_STAGE_MAIL ? ANS_DISCARD : ANS_CONTINUE;
			break;
		default:
			break;
		}
	txn_log(c, "%s: %s", what, tg_action_name(v->action));
	if (v->action == TG_ACT_REJECT || v->action == TG_ACT_TEMPFAIL)
		txn_log(c, " %s %s \"%s\"", v->code, v->xcode, v->text);
	txn_log(c, " rule=%s%s%s%s => %s\n", v->rule[0] != '\0' ? v->rule :
	    "-", v->limit[0] != '\0' ? " limit=" : "", v->limit,
	    dry || v->dry_run ? " dry-run" : "", txn_ans_names[a]);
	return a;
}

/* txn_eval - milter_eval() */
static enum txn_ans
txn_eval(struct txn_ctx *c, enum tg_stage st, const char *what)
{
	struct tg_verdict v;

	tg_engine_eval(c->p, &c->sess, st, &v);
	return txn_deliver(c, st, what, &v);
}

/* txn_reject - milter_reject(): a syntax reply of the glue's own */
static enum txn_ans
txn_reject(struct txn_ctx *c, enum tg_stage st, const char *what,
    const char *code, const char *xcode, const char *text)
{
	struct tg_verdict v;

	memset(&v, 0, sizeof v);
	tg_reply_set(&v, TG_ACT_REJECT, code, xcode, text);
	v.internal = 1;
	return txn_deliver(c, st, what, &v);
}

/* txn_connect - milter_negotiate() and milter_connect() */
static void
txn_connect(struct txn_ctx *c)
{
	const struct txn_conn *k = c->conn;
	struct tg_verdict v;
	struct tg_ip ip;

	c->want = txn_want(c->p);
	txn_needs(c->p, &c->neg_hdrs, &c->neg_body);
	tg_session_init(&c->sess, "FUZZ");
	/* milter_client(): an IPv4 socket address arrives in binary, an
	 * IPv6 one as text; {client_addr} when neither gave an address. */
	if (k->client_addr != NULL && strchr(k->client_addr, ':') == NULL &&
	    tg_ip_parse(k->client_addr, &ip) == 0 && ip.family == 4)
		tg_session_set_client_ip(&c->sess, &ip);
	else if (k->client_addr != NULL && strchr(k->client_addr, ':') != NULL)
		(void)tg_session_set(&c->sess, TG_A_CLIENT_ADDRESS,
		    k->client_addr);
	if (!c->sess.client_ip_ok)
		txn_macro(c, M_CLIENT_ADDR);
	if (k->client_name != NULL && *k->client_name != '\0')
		(void)tg_session_set(&c->sess, TG_A_CLIENT_NAME,
		    k->client_name);
	/* milter_listener() */
	txn_macro(c, M_LISTENER_NAME);
	txn_macro(c, M_LISTENER_ADDR);
	txn_macro(c, M_LISTENER_PORT);
	txn_macro(c, M_MTA_NAME);
	/* The answer at connect is always continue: a refusal is kept in
	 * the session and repeated at the next stages. */
	tg_engine_eval(c->p, &c->sess, TG_STAGE_CONNECT, &v);
	(void)txn_deliver(c, TG_STAGE_CONNECT, "connect", &v);
}

/* txn_tls - milter_tls() */
static void
txn_tls(struct txn_ctx *c)
{
	txn_macro(c, M_TLS_VERSION);
	txn_macro(c, M_TLS_CIPHER);
	txn_macro(c, M_TLS_BITS);
}

/* txn_helo - milter_helo() */
static void
txn_helo(struct txn_ctx *c)
{
	(void)tg_session_set(&c->sess, TG_A_HELO, c->conn->helo);
	txn_tls(c);
	(void)txn_eval(c, TG_STAGE_HELO, "helo");
}

/* txn_envfrom - milter_envfrom() (no re-pinning: one policy) */
static enum txn_ans
txn_envfrom(struct txn_ctx *c, const struct txn_msg *m)
{
	tg_session_reset_message(&c->sess);
	tg_session_set_queue_id(&c->sess, m->qid);
	txn_tls(c);
	txn_macro(c, M_AUTH_AUTHEN);
	txn_macro(c, M_AUTH_TYPE);
	txn_macro(c, M_AUTH_AUTHOR);
	c->sess.in_message = 1;
	if (tg_session_set(&c->sess, TG_A_SENDER, m->sender) != TG_OK)
		return txn_reject(c, TG_STAGE_MAIL, "mail", "501", "5.1.7",
		    "Bad sender address syntax");
	/* milter_size() */
	if (m->size != NULL) {
		char *end;
		long long n;

		if (m->size[0] < '0' || m->size[0] > '9' ||
		    (n = strtoll(m->size, &end, 10)) < 0 || *end != '\0' ||
		    tg_session_set(&c->sess, TG_A_SIZE_DECLARED, m->size) !=
		    TG_OK)
			return txn_reject(c, TG_STAGE_MAIL, "mail", "501",
			    "5.5.4", "Invalid SIZE parameter");
		c->sess.size_declared = n;
	}
	return txn_eval(c, TG_STAGE_MAIL, "mail");
}

/* txn_envrcpt - milter_envrcpt() */
static enum txn_ans
txn_envrcpt(struct txn_ctx *c, const char *rcpt, size_t i)
{
	char what[16];

	snprintf(what, sizeof what, "rcpt%zu", i);
	if (tg_session_set(&c->sess, TG_A_RCPT, rcpt) != TG_OK)
		return txn_reject(c, TG_STAGE_RCPT, what, "501", "5.1.3",
		    "Bad recipient address syntax");
	return txn_eval(c, TG_STAGE_RCPT, what);
}

/* txn_eom - milter_eom(), milter_apply() and milter_authres() */
static enum txn_ans
txn_eom(struct txn_ctx *c)
{
	struct tg_session *s = &c->sess;
	char value[TG_AUTHRES_ID_MAX + 2 * TG_LOGIN_MAX + 64];
	enum txn_ans a;
	int held = 0;

	a = txn_eval(c, TG_STAGE_EOM, "eom");
	if (a == ANS_CONTINUE && !(tg_ops_dry_run(c->p) && (s->nadd > 0 ||
	    s->quarantine != NULL || s->discard))) {
		for (size_t i = 0; i < s->nadd; i++)
			txn_log(c, "add-header: %s: %s\n", s->add_hdrs[i].name,
			    s->add_hdrs[i].value);
		if (s->quarantine != NULL) {
			txn_log(c, "quarantine: %s\n", s->quarantine);
			held = 1;
		}
		if (s->discard)
			a = ANS_DISCARD;
	}
	if (a == ANS_CONTINUE) {
		if (s->forged_overflow) {
			struct tg_verdict v;

			tg_reply_internal(&v, "Internal error, try again later");
			a = txn_deliver(c, TG_STAGE_EOM, "authres", &v);
		} else {
			for (size_t i = s->nforged; i-- > 0;)
				txn_log(c, "remove: Authentication-Results "
				    "#%u\n", s->authres_forged[i]);
			if (tg_authres_value(c->p, s, value, sizeof value) == 0)
				txn_log(c, "insert: Authentication-Results: "
				    "%s\n", value);
		}
	}
	if (a == ANS_CONTINUE && !tg_ops_dry_run(c->p)) {
		/* milter_dkim_sign(): the values hold the time (t=), so
		 * only their number goes into the transcript. */
		char **sv;
		size_t n = tg_dkim_sign_finish(c->p, s, &sv);

		for (size_t i = 0; i < n; i++)
			free(sv[i]);
		free(sv);
		if (n > 0)
			txn_log(c, "insert: %zu DKIM-Signature\n", n);
	}
	txn_log(c, "end: %s%s\n", txn_ans_names[a], held ? " (held)" : "");
	if (c->out != NULL)
		c->out->delivered = a == ANS_CONTINUE && !held;
	tg_session_reset_message(s);
	return a;
}

/* txn_abort - milter_abort() */
static void
txn_abort(struct txn_ctx *c)
{
	tg_session_reset_message(&c->sess);
}

/* txn_message - one message, as the MTA goes through it: a refused MAIL
 * or DATA, a discard or no accepted recipient ends it. */
static void
txn_message(struct txn_ctx *c, const struct txn_msg *m)
{
	enum txn_ans a;
	size_t i, off = 0;

	if ((a = txn_envfrom(c, m)) != ANS_CONTINUE ||
	    m->end == TXN_END_AFTER_MAIL)
		goto early;
	for (i = 0; i < m->nrcpt; i++) {
		tg_session_set_queue_id(&c->sess, m->qid);
		if ((a = txn_envrcpt(c, m->rcpt[i], i)) == ANS_DISCARD)
			goto early;
		if (a == ANS_CONTINUE)
			c->out->rcpt_ok |= 1u << i;
	}
	if (c->out->rcpt_ok == 0 || m->end == TXN_END_AFTER_RCPT) {
		a = c->out->rcpt_ok == 0 ? ANS_REJECT : ANS_CONTINUE;
		goto early;
	}
	/* milter_data() */
	tg_session_set_queue_id(&c->sess, m->qid);
	if ((a = txn_eval(c, TG_STAGE_DATA, "data")) != ANS_CONTINUE ||
	    m->end == TXN_END_AFTER_DATA)
		goto early;
	c->out->pre_len = c->out->len;
	/* milter_header(): only when negotiated. */
	for (i = 0; c->neg_hdrs && i < m->nhdr; i++) {
		size_t nf = c->sess.nforged;

		tg_session_add_header(&c->sess, c->p, m->hdr[i].name,
		    m->hdr[i].value);
		tg_authres_note(c->p, &c->sess, m->hdr[i].name,
		    m->hdr[i].value);
		tg_dkim_header(&c->sess, c->p, m->hdr[i].name,
		    m->hdr[i].value, NULL, c->sess.nforged != nf);
	}
	/* milter_eoh() */
	if (c->neg_hdrs)
		tg_dkim_eoh(&c->sess, c->p);
	if (m->end == TXN_END_AFTER_HEADERS)
		goto early;
	/* milter_body(), chunk by chunk */
	for (i = 0; c->neg_body && i <= m->ncut; i++) {
		size_t e = i < m->ncut ? m->cut[i] : m->bodylen;

		if (m->end == TXN_END_MID_BODY && 2 * e > m->bodylen)
			goto early;
		if (e > off)
			tg_session_add_body_data(&c->sess, c->p, m->body + off,
			    e - off);
		off = e;
	}
	tg_session_set_queue_id(&c->sess, m->qid);
	(void)txn_eom(c);
	return;
early:
	txn_log(c, "end: %s (early)\n", txn_ans_names[a]);
	c->out->delivered = 0;
	if (m->abort_cb || a != ANS_CONTINUE)
		txn_abort(c);
}

void
txn_run(const struct tg_policy *p, const struct txn_conn *conn,
    const struct txn_msg *msgs, size_t n, struct txn_out *outs)
{
	struct txn_ctx c;

	memset(&c, 0, sizeof c);
	c.p = p;
	c.conn = conn;
	for (size_t i = 0; i < n; i++)
		memset(&outs[i], 0, sizeof outs[i]);
	/* Connection-level lines go into the first message's transcript. */
	c.out = n > 0 ? &outs[0] : NULL;
	txn_connect(&c);
	if (conn->helo != NULL)
		txn_helo(&c);
	for (size_t i = 0; i < n; i++) {
		c.out = &outs[i];
		txn_message(&c, &msgs[i]);
	}
	/* milter_close() */
	tg_session_free(&c.sess);
}
