/* drive.c - the shared driver (tg_drive.h): each protocol command of one
 * MTA connection copied into its struct tg_session, the engine asked for
 * a verdict at each stage, and the verdict turned into the answer the MTA
 * gets, with one log line and the metrics. Both front ends (milter.c over
 * libmilter, mproto_*.c of our own) call it the same way, so a policy
 * decides the same whichever is in use. Owns: struct tg_drive_conn, which
 * pins one policy generation. Threads: one connection at a time per
 * thread; the id counter is atomic. */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "tg.h"
#include "tg_auth.h"
#include "tg_content.h"
#include "tg_drive.h"
#include "tg_engine.h"
#include "tg_log.h"
#include "tg_metrics.h"
#include "tg_ops.h"
#include "tg_policy.h"
#include "tg_rate.h"
#include "tg_reply.h"
#include "tg_session.h"
#include "drive_impl.h"

static atomic_ullong drive_seq;

void
tg_drive_init(void)
{
	/* Session ids: a counter, started from the clock so that ids of
	 * consecutive daemon runs rarely collide in the logs. */
	atomic_store(&drive_seq, (unsigned long long)time(NULL) << 16);
}

unsigned
tg_drive_needs(const struct tg_policy *p)
{
	unsigned n = 0;
	int size;

	if (p == NULL)
		return TG_DRIVE_NEED_HDRS | TG_DRIVE_NEED_BODY |
		    TG_DRIVE_NEED_HELO | TG_DRIVE_NEED_DATA;
	/* Headers: a header condition, or size, which counts header bytes;
	 * the body: size, or a MIME condition. */
	size = tg_policy_uses(p, TG_A_SIZE);
	if (p->header_used || size || tg_policy_uses(p, TG_A_HEADER) ||
	    tg_policy_uses(p, TG_A_HEADER_COUNT) ||
	    tg_policy_uses(p, TG_A_HEADER_BYTES) ||
	    tg_policy_uses(p, TG_A_HEADER_LONGEST))
		n |= TG_DRIVE_NEED_HDRS;
	if (size || tg_mime_wanted(p))
		n |= TG_DRIVE_NEED_BODY;
	/* A connect refusal (a rule's, or a store failing while connect
	 * counts) is answered at HELO. */
	if (p->nrules[TG_STAGE_CONNECT] > 0)
		n |= TG_DRIVE_NEED_HELO;
	for (size_t i = 0; i < p->nlimits; i++)
		if (p->limits[i]->stage == TG_STAGE_CONNECT)
			n |= TG_DRIVE_NEED_HELO;
	if (p->nrules[TG_STAGE_DATA] > 0)
		n |= TG_DRIVE_NEED_DATA;
	return n;
}

/* drive_hex - n in upper-case hex ("%llX" without snprintf, which cost
 * a fifth of the connection set-up) into buf of size sz >= 17 */
static void
drive_hex(char *buf, size_t sz, unsigned long long n)
{
	char tmp[16];
	size_t i = 0, o = 0;

	do
		tmp[i++] = "0123456789ABCDEF"[n & 15];
	while ((n >>= 4) != 0 && i < sizeof tmp);
	while (i > 0 && o + 1 < sz)
		buf[o++] = tmp[--i];
	buf[o] = '\0';
}

struct tg_drive_conn *
tg_drive_open(const struct tg_drive_mta *mta, void *fe, struct tg_policy *pin)
{
	struct tg_drive_conn *c;
	char id[24];

	/* Not calloc: tg_session_init() clears the session, the bulk of it. */
	c = tg_xmalloc(sizeof *c);
	c->policy = pin != NULL ? pin : tg_policy_current();
	c->neg = TG_DRIVE_NEED_HDRS | TG_DRIVE_NEED_BODY | TG_DRIVE_NEED_HELO |
	    TG_DRIVE_NEED_DATA;
	c->warned = 0;
	c->warned_auth = 0;
	c->mta = mta;
	c->fe = fe;
	drive_want(c);
	drive_hex(id, sizeof id, atomic_fetch_add(&drive_seq, 1));
	tg_session_init(&c->sess, id);
	tg_metrics_session(1);
	return c;
}

void
tg_drive_close(struct tg_drive_conn *c)
{
	if (c == NULL)
		return;
	tg_metrics_session(-1);
	tg_session_free(&c->sess);
	if (c->policy != NULL)
		tg_policy_unref(c->policy);
	free(c);
}

/* drive_field - " key=<value>" for a log line, "" when value is unset */
static void
drive_field(char *dst, size_t dstsz, const char *key, const char *value)
{
	char buf[300];

	if (value == NULL) {
		dst[0] = '\0';
		return;
	}
	snprintf(dst, dstsz, " %s=<%s>", key,
	    tg_str_printable(buf, sizeof buf, value));
}

/* drive_log - one line per verdict that is not CONTINUE or whenever a
 * rule matched. Client-supplied values go through tg_str_printable(). */
static void
drive_log(const struct tg_drive_conn *c, enum tg_stage st,
    const struct tg_verdict *v)
{
	const struct tg_session *s = &c->sess;
	char client[64], sender[300], rcpt[300], reply[TG_REPLY_TEXT_MAX + 20];
	char rule[TG_RULE_NAME_MAX + 8], text[TG_REPLY_TEXT_MAX];
	char limit[TG_RULE_NAME_MAX + 8];

	if (v->action == TG_ACT_CONTINUE && v->rule[0] == '\0' && !v->dry_run)
		return;
	tg_str_printable(client, sizeof client,
	    s->val[TG_A_CLIENT_ADDRESS] != NULL ?
	    s->val[TG_A_CLIENT_ADDRESS] : "unknown");
	sender[0] = rcpt[0] = reply[0] = '\0';
	if (st >= TG_STAGE_MAIL)
		drive_field(sender, sizeof sender, "sender",
		    s->val[TG_A_SENDER]);
	if (st == TG_STAGE_RCPT)
		drive_field(rcpt, sizeof rcpt, "rcpt", s->val[TG_A_RCPT]);
	if (v->action == TG_ACT_REJECT || v->action == TG_ACT_TEMPFAIL)
		snprintf(reply, sizeof reply, " reply=\"%s %s %s\"", v->code,
		    v->xcode, tg_str_printable(text, sizeof text, v->text));
	tg_str_printable(rule, sizeof rule, v->rule[0] != '\0' ? v->rule : "-");
	limit[0] = '\0';
	if (v->limit[0] != '\0')
		snprintf(limit, sizeof limit, " limit=%s", v->limit);
	tg_log_info("%s: %s: stage=%s rule=%s%s action=%s%s client=%s%s%s%s",
	    s->id, s->queue_id != NULL ? s->queue_id : "NOQUEUE",
	    tg_stage_name(st), rule, limit, tg_action_name(v->action),
	    v->dry_run ? " dry-run=yes" : "", client, sender, rcpt, reply);
}

/* drive_setreply - a REJECT/TEMPFAIL reply, as the protocol carries it */
static void
drive_setreply(struct tg_drive_reply *rep, const struct tg_verdict *v)
{
	tg_strlcpy(rep->code, v->code, sizeof rep->code);
	tg_strlcpy(rep->xcode, v->xcode, sizeof rep->xcode);
	tg_reply_milter_escape(rep->text, sizeof rep->text, v->text);
}

/* drive_dry - a global dry run (set dry-run yes, -D) turns v into a log
 * line only; never a tempfail for an error of ours or a syntax reply */
static int
drive_dry(const struct tg_drive_conn *c, const struct tg_verdict *v)
{
	return v->action != TG_ACT_CONTINUE && v->action != TG_ACT_ACCEPT &&
	    !v->internal && tg_ops_dry_run(c->policy);
}

/* drive_deliver - log a verdict and map it to an answer */
static enum tg_drive_answer
drive_deliver(struct tg_drive_conn *c, enum tg_stage st,
    const struct tg_verdict *v, struct tg_drive_reply *rep)
{
	rep->code[0] = '\0';
	if (drive_dry(c, v)) {
		struct tg_verdict dv = *v;

		dv.dry_run = 1;
		drive_log(c, st, &dv);
		return TG_DRIVE_CONTINUE;
	}
	drive_log(c, st, v);
	switch (v->action) {
	case TG_ACT_REJECT:
		drive_setreply(rep, v);
		return TG_DRIVE_REJECT;
	case TG_ACT_TEMPFAIL:
		drive_setreply(rep, v);
		return TG_DRIVE_TEMPFAIL;
	case TG_ACT_DISCARD:
		return st >= TG_STAGE_MAIL ? TG_DRIVE_DISCARD :
		    TG_DRIVE_CONTINUE;
	default:
		return TG_DRIVE_CONTINUE;
	}
}

enum tg_drive_answer
tg_drive_internal(struct tg_drive_conn *c, enum tg_stage st, const char *why,
    struct tg_drive_reply *rep)
{
	struct tg_verdict v;

	tg_log_err("%s: stage=%s internal error: %s",
	    c != NULL ? c->sess.id : "-", tg_stage_name(st), why);
	tg_reply_internal(&v, "Internal error, try again later");
	if (c == NULL) {
		drive_setreply(rep, &v);
		return TG_DRIVE_TEMPFAIL;
	}
	return drive_deliver(c, st, &v, rep);
}

/* drive_eval - evaluate a stage and answer */
static enum tg_drive_answer
drive_eval(struct tg_drive_conn *c, enum tg_stage st,
    struct tg_drive_reply *rep)
{
	struct tg_verdict v;
	uint64_t t0 = tg_metrics_now();
	enum tg_drive_answer a;

	if (c->policy == NULL)
		return tg_drive_internal(c, st, "no policy loaded", rep);
	tg_engine_eval(c->policy, &c->sess, st, &v);
	a = drive_deliver(c, st, &v, rep);
	tg_metrics_stage(st, t0, v.action, !drive_dry(c, &v));
	return a;
}

/* drive_reject - a syntax reply of our own (bad address, bad SIZE=) */
static enum tg_drive_answer
drive_reject(struct tg_drive_conn *c, enum tg_stage st, const char *code,
    const char *xcode, const char *text, struct tg_drive_reply *rep)
{
	struct tg_verdict v;

	memset(&v, 0, sizeof v);
	tg_reply_set(&v, TG_ACT_REJECT, code, xcode, text);
	v.internal = 1;		/* not a policy verdict: no dry run */
	return drive_deliver(c, st, &v, rep);
}

/* drive_client - client.address and client.name */
static void
drive_client(struct tg_drive_conn *c, const char *host,
    const struct sockaddr *sa)
{
	char buf[INET6_ADDRSTRLEN];
	const char *addr = NULL, *name;
	struct tg_ip ip;

	if (sa != NULL && sa->sa_family == AF_INET) {
		/* Already binary: no text to format and parse back. */
		memset(&ip, 0, sizeof ip);
		ip.family = 4;
		memcpy(ip.b, &((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr, 4);
		tg_session_set_client_ip(&c->sess, &ip);
	} else if (sa != NULL && sa->sa_family == AF_INET6)
		/* As text, which keeps "::ffff:a.b.c.d" as the MTA saw it. */
		addr = inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		    buf, sizeof buf);
	if (!c->sess.client_ip_ok && (addr == NULL ||
	    tg_session_set(&c->sess, TG_A_CLIENT_ADDRESS, addr) != TG_OK))
		drive_macro(c, M_CLIENT_ADDR);
	/* An unverified client is named by its address in brackets. */
	name = drive_getmacro(c, "{client_name}");
	if (name == NULL && host != NULL && host[0] != '[')
		name = host;
	if (name != NULL && *name != '\0')
		(void)tg_session_set(&c->sess, TG_A_CLIENT_NAME, name);
}

enum tg_drive_answer
tg_drive_connect(struct tg_drive_conn *c, const char *host,
    const struct sockaddr *sa)
{
	struct tg_verdict v;
	uint64_t t0 = tg_metrics_now();

	drive_client(c, host, sa);
	drive_listener(c);
	drive_queue_id(c);
	if (c->policy == NULL) {
		tg_log_err("%s: no policy loaded; tempfail", c->sess.id);
		return TG_DRIVE_TEMPFAIL;
	}
	/* No reply text is possible here: the engine keeps a reject or
	 * tempfail in sess.conn_verdict and returns it at the next stages. */
	tg_engine_eval(c->policy, &c->sess, TG_STAGE_CONNECT, &v);
	if (drive_dry(c, &v))
		v.dry_run = 1;
	drive_log(c, TG_STAGE_CONNECT, &v);
	tg_metrics_stage(TG_STAGE_CONNECT, t0, v.action, !v.dry_run ||
	    v.action == TG_ACT_CONTINUE);
	return TG_DRIVE_CONTINUE;
}

/* tg_drive_helo - a connect-stage refusal is answered here (the MTA then
 * keeps it for the connection). The helo rules run now, but a refusal of
 * theirs is only logged: the engine keeps it and it is answered at MAIL.
 * Both MTAs take a milter's HELO reject for one of the whole connection
 * (Postfix's milter8 stops asking the milter, Sendmail too), so a new
 * HELO/EHLO, which starts the session over (RFC 5321 4.1.4), could never
 * be judged; and both answer EHLO 250 anyway, the reject at MAIL. */
enum tg_drive_answer
tg_drive_helo(struct tg_drive_conn *c, const char *helo,
    struct tg_drive_reply *rep)
{
	struct tg_verdict v;
	uint64_t t0 = tg_metrics_now();

	rep->code[0] = '\0';
	if (tg_session_set(&c->sess, TG_A_HELO, helo) != TG_OK)
		tg_log_debug("%s: HELO argument not kept", c->sess.id);
	drive_tls(c);
	if (c->policy == NULL || c->sess.conn_verdict != NULL)
		return drive_eval(c, TG_STAGE_HELO, rep);
	tg_engine_eval(c->policy, &c->sess, TG_STAGE_HELO, &v);
	if (drive_dry(c, &v))
		v.dry_run = 1;
	drive_log(c, TG_STAGE_HELO, &v);
	tg_metrics_stage(TG_STAGE_HELO, t0, v.action, !v.dry_run ||
	    v.action == TG_ACT_CONTINUE);
	return TG_DRIVE_CONTINUE;
}

/* drive_repin - at MAIL, move to a newer published policy, unless it
 * needs protocol steps or answers this connection did not negotiate; then
 * keep the old one until the connection ends. Never within a message.
 * Returns 1 when the connection moved. */
static int
drive_repin(struct tg_drive_conn *c)
{
	struct tg_policy *p;

	if ((p = tg_policy_current()) == NULL)
		return 0;
	if (c->policy != NULL && p->generation == c->policy->generation) {
		tg_policy_unref(p);
		return 0;
	}
	if ((tg_drive_needs(p) & ~c->neg) != 0) {
		tg_log_debug("%s: keeping policy generation %u: generation "
		    "%u needs protocol steps not negotiated", c->sess.id,
		    c->policy != NULL ? c->policy->generation : 0,
		    p->generation);
		tg_policy_unref(p);
		return 0;
	}
	if (c->policy != NULL)
		tg_policy_unref(c->policy);
	c->policy = p;
	c->warned = 0;
	drive_want(c);
	return 1;
}

/* drive_size - ESMTP SIZE= among the MAIL parameters; 0 or -1 */
static int
drive_size(struct tg_drive_conn *c, char **argv)
{
	const char *s;
	char *end;
	long long n;
	int i;

	for (i = 1; argv[i] != NULL; i++) {
		if (strncasecmp(argv[i], "SIZE=", 5) != 0)
			continue;
		s = argv[i] + 5;
		if (*s < '0' || *s > '9')
			return -1;
		errno = 0;
		n = strtoll(s, &end, 10);
		if (errno != 0 || *end != '\0' || n < 0)
			return -1;
		if (tg_session_set(&c->sess, TG_A_SIZE_DECLARED, s) != TG_OK)
			return -1;
		c->sess.size_declared = n;
	}
	return 0;
}

enum tg_drive_answer
tg_drive_mail(struct tg_drive_conn *c, char **argv,
    struct tg_drive_reply *rep)
{
	tg_session_reset_message(&c->sess);
	if (drive_repin(c))
		drive_listener(c);
	drive_queue_id(c);
	drive_tls(c);
	drive_macro(c, M_AUTH_AUTHEN);
	drive_macro(c, M_AUTH_TYPE);
	drive_macro(c, M_AUTH_AUTHOR);
	drive_auth_check(c);
	c->sess.in_message = 1;
	if (argv == NULL || argv[0] == NULL ||
	    tg_session_set(&c->sess, TG_A_SENDER, argv[0]) != TG_OK)
		return drive_reject(c, TG_STAGE_MAIL, "501", "5.1.7",
		    "Bad sender address syntax", rep);
	if (drive_size(c, argv) != 0)
		return drive_reject(c, TG_STAGE_MAIL, "501", "5.5.4",
		    "Invalid SIZE parameter", rep);
	return drive_eval(c, TG_STAGE_MAIL, rep);
}

enum tg_drive_answer
tg_drive_rcpt(struct tg_drive_conn *c, char **argv,
    struct tg_drive_reply *rep)
{
	drive_queue_id(c);
	if (argv == NULL || argv[0] == NULL ||
	    tg_session_set(&c->sess, TG_A_RCPT, argv[0]) != TG_OK)
		return drive_reject(c, TG_STAGE_RCPT, "501", "5.1.3",
		    "Bad recipient address syntax", rep);
	return drive_eval(c, TG_STAGE_RCPT, rep);
}

enum tg_drive_answer
tg_drive_data(struct tg_drive_conn *c, struct tg_drive_reply *rep)
{
	drive_queue_id(c);
	return drive_eval(c, TG_STAGE_DATA, rep);
}

void
tg_drive_header(struct tg_drive_conn *c, const char *name, const char *value)
{
	tg_session_add_header(&c->sess, c->policy, name,
	    value != NULL ? value : "");
	tg_authres_note(c->policy, &c->sess, name, value != NULL ? value : "");
}

void
tg_drive_body(struct tg_drive_conn *c, const char *buf, size_t len)
{
	tg_session_add_body_data(&c->sess, c->policy, buf, len);
}

/* drive_apply - the effects recorded for the end of the message */
static enum tg_drive_answer
drive_apply(struct tg_drive_conn *c)
{
	struct tg_session *s = &c->sess;
	size_t i;

	if (tg_ops_dry_run(c->policy) && (s->nadd > 0 ||
	    s->quarantine != NULL || s->discard)) {
		tg_log_info("%s: %s: dry-run=yes: not applied:%s%s%s", s->id,
		    s->queue_id != NULL ? s->queue_id : "NOQUEUE",
		    s->nadd > 0 ? " add-header" : "",
		    s->quarantine != NULL ? " quarantine" : "",
		    s->discard ? " discard" : "");
		return TG_DRIVE_CONTINUE;
	}
	for (i = 0; i < s->nadd; i++)
		if (c->mta->add_header(c->fe, s->add_hdrs[i].name,
		    s->add_hdrs[i].value) != 0)
			tg_log_warnx("%s: adding header %s failed", s->id,
			    s->add_hdrs[i].name);
	if (s->quarantine != NULL &&
	    c->mta->quarantine(c->fe, s->quarantine) != 0)
		tg_log_warnx("%s: quarantine failed", s->id);
	return s->discard ? TG_DRIVE_DISCARD : TG_DRIVE_CONTINUE;
}

/* drive_authres - remove received Authentication-Results that claim our
 * authserv-id, then add ours on top for authenticated mail. Highest index
 * first, so that whether the MTA renumbers after a removal or not, the
 * remaining indexes still name the same headers. */
static enum tg_drive_answer
drive_authres(struct tg_drive_conn *c, struct tg_drive_reply *rep)
{
	struct tg_session *s = &c->sess;
	char value[TG_AUTHRES_ID_MAX + 2 * TG_LOGIN_MAX + 64];

	if (s->forged_overflow)
		return tg_drive_internal(c, TG_STAGE_EOM, "forged "
		    "Authentication-Results headers that cannot be removed "
		    "(too many, or a name with white space before the colon)",
		    rep);
	for (size_t i = s->nforged; i-- > 0;) {
		if (c->mta->del_header(c->fe, "Authentication-Results",
		    (int)s->authres_forged[i]) != 0)
			return tg_drive_internal(c, TG_STAGE_EOM, "removing "
			    "a forged Authentication-Results failed", rep);
		tg_log_info("%s: %s: removed forged Authentication-Results "
		    "#%u", s->id, s->queue_id != NULL ? s->queue_id :
		    "NOQUEUE", s->authres_forged[i]);
	}
	if (tg_authres_value(c->policy, s, value, sizeof value) == 0 &&
	    c->mta->ins_header(c->fe, 0, "Authentication-Results", value) != 0)
		tg_log_warnx("%s: inserting Authentication-Results failed",
		    s->id);
	return TG_DRIVE_CONTINUE;
}

enum tg_drive_answer
tg_drive_eom(struct tg_drive_conn *c, struct tg_drive_reply *rep)
{
	enum tg_drive_answer a;

	drive_queue_id(c);
	a = drive_eval(c, TG_STAGE_EOM, rep);
	if (a == TG_DRIVE_CONTINUE)
		a = drive_apply(c);
	if (a == TG_DRIVE_CONTINUE)
		a = drive_authres(c, rep);
	tg_session_reset_message(&c->sess);
	return a;
}

void
tg_drive_abort(struct tg_drive_conn *c)
{
	tg_session_reset_message(&c->sess);
}
