/* drive.c - a front end's half of one MTA connection (tg_drive.h): copy
 * what the MTA tells (arguments, macros through drive_macros.c) into the
 * session, ask the engine for a verdict at each stage, log it, count it,
 * and say what to answer. Both front ends of the daemon (milter.c over
 * libmilter, mproto_*.c of our own), tollgate-test and the fuzz target of
 * whole transactions all come through here, so a policy decides the same
 * whichever engine is in use, and the tool and the tests judge a session
 * exactly as the daemon does.
 * Owns: the connection's session and its policy reference. Threads: one
 * connection's calls never overlap; connections share nothing but the
 * atomic id counter. */
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
#include "tg_dkim.h"
#include "tg_drive.h"
#include "tg_engine.h"
#include "tg_log.h"
#include "tg_metrics.h"
#include "tg_ops.h"
#include "tg_policy.h"
#include "tg_rate.h"
#include "tg_reply.h"
#include "tg_session.h"

unsigned
tg_drive_needs(const struct tg_policy *p)
{
	unsigned n = 0;
	int size;

	if (p == NULL)
		return TG_DRIVE_NEED_ALL;
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
	/* DKIM verifies and signs the whole message. */
	if (tg_dkim_wanted(p))
		n |= TG_DRIVE_NEED_HDRS | TG_DRIVE_NEED_BODY;
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

void
tg_drive_init(struct tg_drive *d, struct tg_policy *p, const char *id,
    tg_drive_macro_fn macro, void *macro_arg)
{
	/* Field by field: tg_session_init() clears the session, the bulk. */
	d->policy = p;
	d->macro = macro;
	d->macro_arg = macro_arg;
	d->neg = TG_DRIVE_NEED_ALL;
	d->leadspc = 0;
	d->warned = 0;
	d->warned_auth = 0;
	tg_drive_want(d);
	tg_session_init(&d->sess, id);
}

void
tg_drive_free(struct tg_drive *d)
{
	tg_session_free(&d->sess);
	if (d->policy != NULL)
		tg_policy_unref(d->policy);
	d->policy = NULL;
}

static atomic_ullong drive_seq;

void
tg_drive_ids_init(void)
{
	/* Session ids: a counter, started from the clock so that ids of
	 * consecutive daemon runs rarely collide in the logs. */
	atomic_store(&drive_seq, (unsigned long long)time(NULL) << 16);
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

struct tg_drive *
tg_drive_open(struct tg_policy *pin, tg_drive_macro_fn macro,
    void *macro_arg)
{
	struct tg_drive *d;
	char id[24];

	/* Not calloc: tg_drive_init() clears the session, the bulk of it. */
	d = tg_xmalloc(sizeof *d);
	drive_hex(id, sizeof id, atomic_fetch_add(&drive_seq, 1));
	tg_drive_init(d, pin != NULL ? pin : tg_policy_current(), id, macro,
	    macro_arg);
	tg_metrics_session(1);
	return d;
}

void
tg_drive_close(struct tg_drive *d)
{
	if (d == NULL)
		return;
	tg_metrics_session(-1);
	tg_drive_free(d);
	free(d);
}

void
tg_drive_reply(const struct tg_verdict *v, struct tg_drive_reply *rep)
{
	tg_strlcpy(rep->code, v->code, sizeof rep->code);
	tg_strlcpy(rep->xcode, v->xcode, sizeof rep->xcode);
	tg_reply_milter_escape(rep->text, sizeof rep->text, v->text);
}

void
tg_drive_nostate(enum tg_stage st, struct tg_verdict *v)
{
	tg_log_err("-: stage=%s internal error: no state", tg_stage_name(st));
	tg_reply_internal(v, "Internal error, try again later");
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
drive_log(const struct tg_drive *d, enum tg_stage st,
    const struct tg_verdict *v)
{
	const struct tg_session *s = &d->sess;
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

int
tg_drive_dry(const struct tg_drive *d, const struct tg_verdict *v)
{
	return v->action != TG_ACT_CONTINUE && v->action != TG_ACT_ACCEPT &&
	    !v->internal && tg_ops_dry_run(d->policy);
}

/* drive_answer - log a verdict and say what to answer; a verdict only
 * logged (dry: a global dry run) is marked so in v */
static enum tg_answer
drive_answer(struct tg_drive *d, enum tg_stage st, struct tg_verdict *v,
    int dry)
{
	if (dry) {
		v->dry_run = 1;
		drive_log(d, st, v);
		return TG_ANS_CONTINUE;
	}
	drive_log(d, st, v);
	switch (v->action) {
	case TG_ACT_REJECT:
		return TG_ANS_REJECT;
	case TG_ACT_TEMPFAIL:
		return TG_ANS_TEMPFAIL;
	case TG_ACT_DISCARD:
		return st >= TG_STAGE_MAIL ? TG_ANS_DISCARD : TG_ANS_CONTINUE;
	default:
		return TG_ANS_CONTINUE;
	}
}

static enum tg_answer
drive_deliver(struct tg_drive *d, enum tg_stage st, struct tg_verdict *v)
{
	return drive_answer(d, st, v, tg_drive_dry(d, v));
}

/* drive_internal - something on our side broke: 451 4.3.0, never accept */
static enum tg_answer
drive_internal(struct tg_drive *d, enum tg_stage st, const char *why,
    struct tg_verdict *v)
{
	tg_log_err("%s: stage=%s internal error: %s", d->sess.id,
	    tg_stage_name(st), why);
	tg_reply_internal(v, "Internal error, try again later");
	return drive_deliver(d, st, v);
}

/* drive_eval - evaluate a stage and answer */
static enum tg_answer
drive_eval(struct tg_drive *d, enum tg_stage st, struct tg_verdict *v)
{
	uint64_t t0 = tg_metrics_now();
	enum tg_answer a;
	int dry;

	if (d->policy == NULL)
		return drive_internal(d, st, "no policy loaded", v);
	tg_engine_eval(d->policy, &d->sess, st, v);
	dry = tg_drive_dry(d, v);
	a = drive_answer(d, st, v, dry);
	tg_metrics_stage(st, t0, v->action, !dry);
	return a;
}

/* drive_reject - a syntax reply of our own (bad address, bad SIZE=) */
static enum tg_answer
drive_reject(struct tg_drive *d, enum tg_stage st, const char *code,
    const char *xcode, const char *text, struct tg_verdict *v)
{
	memset(v, 0, sizeof *v);
	tg_reply_set(v, TG_ACT_REJECT, code, xcode, text);
	v->internal = 1;	/* not a policy verdict: no dry run */
	return drive_deliver(d, st, v);
}

/* drive_logged - run the rules of a stage whose refusal is kept by the
 * engine and answered later (connect, helo): log and count only */
static void
drive_logged(struct tg_drive *d, enum tg_stage st, uint64_t t0,
    struct tg_verdict *v)
{
	tg_engine_eval(d->policy, &d->sess, st, v);
	if (tg_drive_dry(d, v))
		v->dry_run = 1;
	drive_log(d, st, v);
	tg_metrics_stage(st, t0, v->action, !v->dry_run ||
	    v->action == TG_ACT_CONTINUE);
}

/* drive_connect_facts - the client, the listener and the queue id */
static void
drive_connect_facts(struct tg_drive *d, const struct tg_ip *ip,
    const char *addr, const char *host)
{
	const char *name;

	if (ip != NULL)
		/* Already binary: no text to format and parse back. */
		tg_session_set_client_ip(&d->sess, ip);
	/* An IPv6 address as text, which keeps "::ffff:a.b.c.d" as the MTA
	 * saw it; failing both, the macro. */
	if (!d->sess.client_ip_ok && (addr == NULL ||
	    tg_session_set(&d->sess, TG_A_CLIENT_ADDRESS, addr) != TG_OK))
		tg_drive_macro(d, TG_M_CLIENT_ADDR);
	/* An unverified client is named by its address in brackets. */
	name = d->macro(d->macro_arg, "{client_name}");
	if (name == NULL && host != NULL && host[0] != '[')
		name = host;
	if (name != NULL && *name != '\0')
		(void)tg_session_set(&d->sess, TG_A_CLIENT_NAME, name);
	tg_drive_listener(d);
	tg_drive_queue_id(d);
}

enum tg_answer
tg_drive_connect(struct tg_drive *d, const struct tg_ip *ip,
    const char *addr, const char *host, struct tg_verdict *v)
{
	uint64_t t0 = tg_metrics_now();

	drive_connect_facts(d, ip, addr, host);
	if (d->policy == NULL) {
		tg_log_err("%s: no policy loaded; tempfail", d->sess.id);
		tg_reply_internal(v, "Internal error, try again later");
		return TG_ANS_TEMPFAIL;
	}
	/* No reply text is possible here: the engine keeps a reject or
	 * tempfail in sess.conn_verdict and returns it at the next stages. */
	drive_logged(d, TG_STAGE_CONNECT, t0, v);
	return TG_ANS_CONTINUE;
}

/* drive_sa_ip - the client address of sa as tg_drive_connect() takes
 * it: IPv4 binary (returned, in *ip), IPv6 as text (in *addr, from buf) */
static const struct tg_ip *
drive_sa_ip(const struct sockaddr *sa, struct tg_ip *ip, char *buf,
    size_t n, const char **addr)
{
	*addr = NULL;
	if (sa != NULL && sa->sa_family == AF_INET) {
		memset(ip, 0, sizeof *ip);
		ip->family = 4;
		memcpy(ip->b, &((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr, 4);
		return ip;
	}
	if (sa != NULL && sa->sa_family == AF_INET6)
		*addr = inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		    buf, (socklen_t)n);
	return NULL;
}

enum tg_answer
tg_drive_connect_sa(struct tg_drive *d, const char *host,
    const struct sockaddr *sa, struct tg_verdict *v)
{
	char buf[INET6_ADDRSTRLEN];
	const char *addr;
	struct tg_ip ip;
	const struct tg_ip *ipp = drive_sa_ip(sa, &ip, buf, sizeof buf, &addr);

	return tg_drive_connect(d, ipp, addr, host, v);
}

void
tg_drive_connect_facts_sa(struct tg_drive *d, const char *host,
    const struct sockaddr *sa)
{
	char buf[INET6_ADDRSTRLEN];
	const char *addr;
	struct tg_ip ip;
	const struct tg_ip *ipp = drive_sa_ip(sa, &ip, buf, sizeof buf, &addr);

	drive_connect_facts(d, ipp, addr, host);
}

void
tg_drive_helo_facts(struct tg_drive *d, const char *helo)
{
	if (tg_session_set(&d->sess, TG_A_HELO, helo) != TG_OK)
		tg_log_debug("%s: HELO argument not kept", d->sess.id);
	tg_drive_tls(d);
}

/* tg_drive_helo - a connect-stage refusal is answered here (the MTA then
 * keeps it for the connection). The helo rules run now, but a refusal of
 * theirs is only logged: the engine keeps it and it is answered at MAIL.
 * Both MTAs take a milter's HELO reject for one of the whole connection
 * (Postfix's milter8 stops asking the milter, Sendmail too), so a new
 * HELO/EHLO, which starts the session over (RFC 5321 4.1.4), could never
 * be judged; and both answer EHLO 250 anyway, the reject at MAIL. */
enum tg_answer
tg_drive_helo(struct tg_drive *d, const char *helo, struct tg_verdict *v)
{
	uint64_t t0 = tg_metrics_now();

	tg_drive_helo_facts(d, helo);
	if (d->policy == NULL || d->sess.conn_verdict != NULL)
		return drive_eval(d, TG_STAGE_HELO, v);
	drive_logged(d, TG_STAGE_HELO, t0, v);
	return TG_ANS_CONTINUE;
}

/* tg_drive_repin - never within a message: the front end calls it at
 * MAIL. A policy that needs protocol steps this connection did not
 * negotiate is not taken; the old one is kept until the connection
 * ends. */
int
tg_drive_repin(struct tg_drive *d, struct tg_policy *p)
{
	if (p == NULL)
		return 0;
	if (d->policy != NULL && p->generation == d->policy->generation) {
		tg_policy_unref(p);
		return 0;
	}
	if ((tg_drive_needs(p) & ~d->neg) != 0) {
		tg_log_debug("%s: keeping policy generation %u: generation "
		    "%u needs protocol steps not negotiated", d->sess.id,
		    d->policy != NULL ? d->policy->generation : 0,
		    p->generation);
		tg_policy_unref(p);
		return 0;
	}
	/* The message state (rate-limit holds) refers to the old policy,
	 * which may be freed below. */
	tg_session_reset_message(&d->sess);
	if (d->policy != NULL)
		tg_policy_unref(d->policy);
	d->policy = p;
	d->warned = 0;
	tg_drive_want(d);
	/* A policy that reads more connect macros can still have them. */
	tg_drive_listener(d);
	return 1;
}

/* drive_size - ESMTP SIZE= among the MAIL parameters; 0 or -1 */
static int
drive_size(struct tg_drive *d, char *const *argv)
{
	const char *s;
	char *end;
	long long n;

	for (int i = 1; argv[i] != NULL; i++) {
		if (strncasecmp(argv[i], "SIZE=", 5) != 0)
			continue;
		s = argv[i] + 5;
		if (*s < '0' || *s > '9')
			return -1;
		errno = 0;
		n = strtoll(s, &end, 10);
		if (errno != 0 || *end != '\0' || n < 0)
			return -1;
		if (tg_session_set(&d->sess, TG_A_SIZE_DECLARED, s) != TG_OK)
			return -1;
		d->sess.size_declared = n;
	}
	return 0;
}

enum tg_answer
tg_drive_mail(struct tg_drive *d, char *const *argv, struct tg_verdict *v)
{
	tg_session_reset_message(&d->sess);
	tg_drive_queue_id(d);
	tg_drive_tls(d);
	tg_drive_auth(d);
	d->sess.in_message = 1;
	if (argv[0] == NULL ||
	    tg_session_set(&d->sess, TG_A_SENDER, argv[0]) != TG_OK)
		return drive_reject(d, TG_STAGE_MAIL, "501", "5.1.7",
		    "Bad sender address syntax", v);
	if (drive_size(d, argv) != 0)
		return drive_reject(d, TG_STAGE_MAIL, "501", "5.5.4",
		    "Invalid SIZE parameter", v);
	return drive_eval(d, TG_STAGE_MAIL, v);
}

enum tg_answer
tg_drive_rcpt(struct tg_drive *d, char *const *argv, struct tg_verdict *v)
{
	tg_drive_queue_id(d);
	if (argv[0] == NULL ||
	    tg_session_set(&d->sess, TG_A_RCPT, argv[0]) != TG_OK)
		return drive_reject(d, TG_STAGE_RCPT, "501", "5.1.3",
		    "Bad recipient address syntax", v);
	return drive_eval(d, TG_STAGE_RCPT, v);
}

enum tg_answer
tg_drive_data(struct tg_drive *d, struct tg_verdict *v)
{
	tg_drive_queue_id(d);
	return drive_eval(d, TG_STAGE_DATA, v);
}

void
tg_drive_header(struct tg_drive *d, const char *name, const char *value)
{
	const char *v = value;
	size_t nforged = d->sess.nforged;

	/* With SMFIP_HDR_LEADSPC the value keeps the white space after the
	 * colon; without it the MTA took it off (and DKIM gets one space). */
	if (d->leadspc)
		v += strspn(v, " \t");
	tg_session_add_header(&d->sess, d->policy, name, v);
	tg_authres_note(d->policy, &d->sess, name, v);
	/* A forged Authentication-Results we remove is not signed. */
	tg_dkim_header(&d->sess, d->policy, name, v,
	    d->leadspc ? value : NULL, d->sess.nforged != nforged);
}

void
tg_drive_eoh(struct tg_drive *d)
{
	tg_dkim_eoh(&d->sess, d->policy);
}

void
tg_drive_body(struct tg_drive *d, const void *chunk, size_t len)
{
	tg_session_add_body_data(&d->sess, d->policy, chunk, len);
}

/* drive_apply - the effects recorded for the end of the message; in a
 * global dry run they are only logged */
static enum tg_answer
drive_apply(struct tg_drive *d, const struct tg_drive_effects *fx,
    void *arg)
{
	struct tg_session *s = &d->sess;

	if (tg_ops_dry_run(d->policy) && (s->nadd > 0 ||
	    s->quarantine != NULL || s->discard)) {
		tg_log_info("%s: %s: dry-run=yes: not applied:%s%s%s", s->id,
		    s->queue_id != NULL ? s->queue_id : "NOQUEUE",
		    s->nadd > 0 ? " add-header" : "",
		    s->quarantine != NULL ? " quarantine" : "",
		    s->discard ? " discard" : "");
		return TG_ANS_CONTINUE;
	}
	for (size_t i = 0; i < s->nadd; i++)
		if (fx->add_header(arg, s->add_hdrs[i].name,
		    s->add_hdrs[i].value) != 0)
			tg_log_warnx("%s: adding header %s failed", s->id,
			    s->add_hdrs[i].name);
	if (s->quarantine != NULL && fx->quarantine(arg, s->quarantine) != 0)
		tg_log_warnx("%s: quarantine failed", s->id);
	return s->discard ? TG_ANS_DISCARD : TG_ANS_CONTINUE;
}

/* drive_authres - remove received Authentication-Results that claim our
 * authserv-id, then add ours on top for authenticated mail. Highest index
 * first, so that whether the MTA renumbers after a removal or not, the
 * remaining indexes still name the same headers. */
static enum tg_answer
drive_authres(struct tg_drive *d, const struct tg_drive_effects *fx,
    void *arg, struct tg_verdict *v)
{
	struct tg_session *s = &d->sess;
	char value[TG_AUTHRES_ID_MAX + 2 * TG_LOGIN_MAX + 64];

	if (s->forged_overflow)
		return drive_internal(d, TG_STAGE_EOM, "forged "
		    "Authentication-Results headers that cannot be removed "
		    "(too many, or a name with white space before the colon)",
		    v);
	for (size_t i = s->nforged; i-- > 0;) {
		if (fx->remove_header(arg, "Authentication-Results",
		    s->authres_forged[i]) != 0)
			return drive_internal(d, TG_STAGE_EOM, "removing a "
			    "forged Authentication-Results failed", v);
		tg_log_info("%s: %s: removed forged Authentication-Results "
		    "#%u", s->id, s->queue_id != NULL ? s->queue_id :
		    "NOQUEUE", s->authres_forged[i]);
	}
	if (tg_authres_value(d->policy, s, value, sizeof value) == 0 &&
	    fx->insert_header(arg, "Authentication-Results", value) != 0)
		tg_log_warnx("%s: inserting Authentication-Results failed",
		    s->id);
	return TG_ANS_CONTINUE;
}

/* drive_dkim_sign - the DKIM-Signature fields, last: after every header
 * change of ours, so none breaks them. A signature that cannot be made is
 * logged; the message goes unsigned rather than deferred. */
static void
drive_dkim_sign(struct tg_drive *d, const struct tg_drive_effects *fx,
    void *arg)
{
	struct tg_session *s = &d->sess;
	char **v;
	size_t n;

	if (tg_ops_dry_run(d->policy) && s->dkim != NULL) {
		tg_log_info("%s: dry-run=yes: not signed", s->id);
		return;
	}
	n = tg_dkim_sign_finish(d->policy, s, &v);
	for (size_t i = n; i-- > 0;) {
		if (fx->insert_header(arg, "DKIM-Signature", v[i]) != 0)
			tg_log_warnx("%s: inserting DKIM-Signature failed",
			    s->id);
		free(v[i]);
	}
	free(v);
}

enum tg_answer
tg_drive_eom(struct tg_drive *d, const struct tg_drive_effects *fx,
    void *fx_arg, struct tg_verdict *v)
{
	enum tg_answer a;

	tg_drive_queue_id(d);
	a = drive_eval(d, TG_STAGE_EOM, v);
	if (a == TG_ANS_CONTINUE && d->policy != NULL)
		a = drive_apply(d, fx, fx_arg);
	if (a == TG_ANS_CONTINUE && d->policy != NULL)
		a = drive_authres(d, fx, fx_arg, v);
	if (a == TG_ANS_CONTINUE && d->policy != NULL)
		drive_dkim_sign(d, fx, fx_arg);
	tg_session_reset_message(&d->sess);
	return a;
}

void
tg_drive_abort(struct tg_drive *d)
{
	tg_session_reset_message(&d->sess);
}
