/* milter.c - the libmilter glue, which with milter_macros.c (the MTA's
 * macros) and milter_guard.c is the only code that includes mfapi.h.
 * Callbacks copy what the MTA tells (arguments, macros) into a struct
 * tg_session, ask the engine for a verdict at each stage and turn it into
 * an SMFIS_* answer with smfi_setreply(). Owns: one struct milter_conn per
 * connection (milter_impl.h; created at negotiate or connect, freed only
 * in close), which pins one policy generation. Threads: callbacks of one
 * connection never overlap; nothing here is shared between connections
 * but the id counter. */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libmilter/mfapi.h>

#include "tg.h"
#include "tg_auth.h"
#include "tg_content.h"
#include "tg_dkim.h"
#include "tg_engine.h"
#include "tg_log.h"
#include "tg_metrics.h"
#include "tg_ops.h"
#include "tg_policy.h"
#include "tg_reply.h"
#include "tg_session.h"
#include "milter.h"
#include "milter_guard.h"
#include "milter_impl.h"

#define MILTER_ACTIONS	(SMFIF_ADDHDRS | SMFIF_QUARANTINE | SMFIF_CHGHDRS)

static atomic_ullong milter_seq;

/* milter_needs - protocol steps a policy's rules need beyond the envelope:
 * headers (a header condition, or size, which counts header bytes) and
 * the body (size). */
static void
milter_needs(const struct tg_policy *p, int *hdrs, int *body)
{
	int size;

	if (p == NULL) {
		*hdrs = *body = 1;
		return;
	}
	size = tg_policy_uses(p, TG_A_SIZE);
	*hdrs = p->header_used || size || tg_policy_uses(p, TG_A_HEADER) ||
	    tg_policy_uses(p, TG_A_HEADER_COUNT) ||
	    tg_policy_uses(p, TG_A_HEADER_BYTES) ||
	    tg_policy_uses(p, TG_A_HEADER_LONGEST);
	*body = size || tg_mime_wanted(p);
	/* DKIM verifies and signs the whole message. */
	if (tg_dkim_wanted(p))
		*hdrs = *body = 1;
}

/* milter_hex - n in upper-case hex ("%llX" without snprintf, which cost
 * a fifth of the connection set-up) into buf of size sz >= 17 */
static void
milter_hex(char *buf, size_t sz, unsigned long long n)
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

/* milter_conn_new - per-connection state, attached to ctx */
static struct milter_conn *
milter_conn_new(SMFICTX *ctx)
{
	struct milter_conn *c;
	char id[24];

	/* Not calloc: tg_session_init() clears the session, the bulk of it. */
	c = tg_xmalloc(sizeof *c);
	c->policy = tg_policy_current();
	c->neg_hdrs = c->neg_body = 1;
	c->warned = 0;
	c->warned_auth = 0;
	milter_want(c);
	milter_hex(id, sizeof id, atomic_fetch_add(&milter_seq, 1));
	tg_session_init(&c->sess, id);
	if (smfi_setpriv(ctx, c) != MI_SUCCESS) {
		tg_log_warnx("%s: smfi_setpriv failed", id);
		tg_session_free(&c->sess);
		if (c->policy != NULL)
			tg_policy_unref(c->policy);
		free(c);
		return NULL;
	}
	tg_metrics_session(1);
	return c;
}

static struct milter_conn *
milter_conn_get(SMFICTX *ctx)
{
	return smfi_getpriv(ctx);
}

/* milter_field - " key=<value>" for a log line, "" when value is unset */
static void
milter_field(char *dst, size_t dstsz, const char *key, const char *value)
{
	char buf[300];

	if (value == NULL) {
		dst[0] = '\0';
		return;
	}
	snprintf(dst, dstsz, " %s=<%s>", key,
	    tg_str_printable(buf, sizeof buf, value));
}

/* milter_log - one line per verdict that is not CONTINUE or whenever a
 * rule matched. Client-supplied values go through tg_str_printable(). */
static void
milter_log(const struct milter_conn *c, enum tg_stage st,
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
		milter_field(sender, sizeof sender, "sender",
		    s->val[TG_A_SENDER]);
	if (st == TG_STAGE_RCPT)
		milter_field(rcpt, sizeof rcpt, "rcpt", s->val[TG_A_RCPT]);
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

/* milter_setreply - hand a REJECT/TEMPFAIL reply to libmilter. A failure
 * is logged; the verdict stands (the MTA then uses its generic text). */
static void
milter_setreply(SMFICTX *ctx, const struct milter_conn *c,
    const struct tg_verdict *v)
{
	char text[2 * TG_REPLY_TEXT_MAX + 1];

	tg_reply_milter_escape(text, sizeof text, v->text);
	if (smfi_setreply(ctx, (char *)v->code, (char *)v->xcode, text) !=
	    MI_SUCCESS)
		tg_log_warnx("%s: smfi_setreply(%s %s) failed",
		    c != NULL ? c->sess.id : "-", v->code, v->xcode);
}

/* milter_dry - a global dry run (set dry-run yes, -D) turns v into a log
 * line only; never a tempfail for an error of ours or a syntax reply */
static int
milter_dry(const struct milter_conn *c, const struct tg_verdict *v)
{
	return v->action != TG_ACT_CONTINUE && v->action != TG_ACT_ACCEPT &&
	    !v->internal && tg_ops_dry_run(c->policy);
}

/* milter_deliver - log a verdict and map it to an SMFIS_* answer */
static sfsistat
milter_deliver(SMFICTX *ctx, struct milter_conn *c, enum tg_stage st,
    const struct tg_verdict *v)
{
	if (milter_dry(c, v)) {
		struct tg_verdict dv = *v;

		dv.dry_run = 1;
		milter_log(c, st, &dv);
		return SMFIS_CONTINUE;
	}
	milter_log(c, st, v);
	switch (v->action) {
	case TG_ACT_REJECT:
		milter_setreply(ctx, c, v);
		return SMFIS_REJECT;
	case TG_ACT_TEMPFAIL:
		milter_setreply(ctx, c, v);
		return SMFIS_TEMPFAIL;
	case TG_ACT_DISCARD:
		return st >= TG_STAGE_MAIL ? SMFIS_DISCARD : SMFIS_CONTINUE;
	default:
		return SMFIS_CONTINUE;
	}
}

/* milter_internal - something on our side broke: 451 4.3.0, never accept */
static sfsistat
milter_internal(SMFICTX *ctx, struct milter_conn *c, enum tg_stage st,
    const char *why)
{
	struct tg_verdict v;

	tg_log_err("%s: stage=%s internal error: %s",
	    c != NULL ? c->sess.id : "-", tg_stage_name(st), why);
	tg_reply_internal(&v, "Internal error, try again later");
	if (c == NULL) {
		milter_setreply(ctx, NULL, &v);
		return SMFIS_TEMPFAIL;
	}
	return milter_deliver(ctx, c, st, &v);
}

/* milter_eval - evaluate a stage and answer */
static sfsistat
milter_eval(SMFICTX *ctx, struct milter_conn *c, enum tg_stage st)
{
	struct tg_verdict v;
	uint64_t t0 = tg_metrics_now();
	sfsistat rc;

	if (c->policy == NULL)
		return milter_internal(ctx, c, st, "no policy loaded");
	tg_engine_eval(c->policy, &c->sess, st, &v);
	rc = milter_deliver(ctx, c, st, &v);
	tg_metrics_stage(st, t0, v.action, !milter_dry(c, &v));
	return rc;
}

/* milter_reject - a syntax reply of our own (bad address, bad SIZE=) */
static sfsistat
milter_reject(SMFICTX *ctx, struct milter_conn *c, enum tg_stage st,
    const char *code, const char *xcode, const char *text)
{
	struct tg_verdict v;

	memset(&v, 0, sizeof v);
	tg_reply_set(&v, TG_ACT_REJECT, code, xcode, text);
	v.internal = 1;		/* not a policy verdict: no dry run */
	return milter_deliver(ctx, c, st, &v);
}

static sfsistat
milter_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	struct milter_conn *c;
	unsigned long steps = SMFIP_NOUNKNOWN;
	int hdrs, body;

	if ((c = milter_conn_new(ctx)) == NULL)
		return SMFIS_ALL_OPTS;
	/* Never SMFIP_NODATA: an inet socket then stalls ~40 ms per message
	 * in Postfix (MTA-NOTES). Headers and body only when a rule of the
	 * pinned policy reads them. */
	milter_needs(c->policy, &hdrs, &body);
	if (!hdrs)
		steps |= SMFIP_NOHDRS | SMFIP_NOEOH;
	if (!body)
		steps |= SMFIP_NOBODY;
	/* Header values as received, leading white space included, when
	 * DKIM will see them: its simple header canonicalisation needs it
	 * (the session strips it; the values we add then carry their own). */
	if (tg_dkim_wanted(c->policy))
		steps |= SMFIP_HDR_LEADSPC;
	*pf0 = (MILTER_ACTIONS | SMFIF_SETSYMLIST) & f0;
	*pf1 = steps & f1;
	c->leadspc = (*pf1 & SMFIP_HDR_LEADSPC) != 0;
	*pf2 = *pf3 = 0;
	c->neg_hdrs = (*pf1 & SMFIP_NOHDRS) == 0;
	c->neg_body = (*pf1 & SMFIP_NOBODY) == 0;
	if (f0 & SMFIF_SETSYMLIST)
		milter_setsymlists(ctx, c, *pf1);
	return SMFIS_CONTINUE;
}

/* milter_client - client.address and client.name */
static void
milter_client(SMFICTX *ctx, struct milter_conn *c, const char *host,
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
		milter_macro(ctx, c, M_CLIENT_ADDR);
	/* An unverified client is named by its address in brackets. */
	name = smfi_getsymval(ctx, "{client_name}");
	if (name == NULL && host != NULL && host[0] != '[')
		name = host;
	if (name != NULL && *name != '\0')
		(void)tg_session_set(&c->sess, TG_A_CLIENT_NAME, name);
}

static sfsistat
milter_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	struct milter_conn *c;
	struct tg_verdict v;
	uint64_t t0 = tg_metrics_now();

	if ((c = milter_conn_get(ctx)) == NULL &&
	    (c = milter_conn_new(ctx)) == NULL) {
		tg_log_err("connect: no connection state; tempfail");
		return SMFIS_TEMPFAIL;
	}
	milter_client(ctx, c, host, sa);
	milter_listener(ctx, c);
	milter_queue_id(ctx, c);
	if (c->policy == NULL) {
		tg_log_err("%s: no policy loaded; tempfail", c->sess.id);
		return SMFIS_TEMPFAIL;
	}
	/* No reply text is possible here: the engine keeps a reject or
	 * tempfail in sess.conn_verdict and returns it at the next stages. */
	tg_engine_eval(c->policy, &c->sess, TG_STAGE_CONNECT, &v);
	if (milter_dry(c, &v))
		v.dry_run = 1;
	milter_log(c, TG_STAGE_CONNECT, &v);
	tg_metrics_stage(TG_STAGE_CONNECT, t0, v.action, !v.dry_run ||
	    v.action == TG_ACT_CONTINUE);
	return SMFIS_CONTINUE;
}

/* milter_helo - a connect-stage refusal is answered here (the MTA then
 * keeps it for the connection). The helo rules run now, but a refusal of
 * theirs is only logged: the engine keeps it and it is answered at MAIL.
 * Both MTAs take a milter's HELO reject for one of the whole connection
 * (Postfix's milter8 stops asking the milter, Sendmail too), so a new
 * HELO/EHLO, which starts the session over (RFC 5321 4.1.4), could never
 * be judged; and both answer EHLO 250 anyway, the reject at MAIL. */
static sfsistat
milter_helo(SMFICTX *ctx, char *helo)
{
	struct milter_conn *c;
	struct tg_verdict v;
	uint64_t t0 = tg_metrics_now();

	if ((c = milter_conn_get(ctx)) == NULL)
		return milter_internal(ctx, c, TG_STAGE_HELO, "no state");
	if (tg_session_set(&c->sess, TG_A_HELO, helo) != TG_OK)
		tg_log_debug("%s: HELO argument not kept", c->sess.id);
	milter_tls(ctx, c);
	if (c->policy == NULL || c->sess.conn_verdict != NULL)
		return milter_eval(ctx, c, TG_STAGE_HELO);
	tg_engine_eval(c->policy, &c->sess, TG_STAGE_HELO, &v);
	if (milter_dry(c, &v))
		v.dry_run = 1;
	milter_log(c, TG_STAGE_HELO, &v);
	tg_metrics_stage(TG_STAGE_HELO, t0, v.action, !v.dry_run ||
	    v.action == TG_ACT_CONTINUE);
	return SMFIS_CONTINUE;
}

/* milter_repin - at MAIL, move to a newer published policy, unless it
 * needs protocol steps this connection did not negotiate; then keep the
 * old one until the connection ends. Never within a message. Returns 1
 * when the connection moved. */
static int
milter_repin(struct milter_conn *c)
{
	struct tg_policy *p;
	int hdrs, body;

	if ((p = tg_policy_current()) == NULL)
		return 0;
	if (c->policy != NULL && p->generation == c->policy->generation) {
		tg_policy_unref(p);
		return 0;
	}
	milter_needs(p, &hdrs, &body);
	if ((hdrs && !c->neg_hdrs) || (body && !c->neg_body)) {
		tg_log_debug("%s: keeping policy generation %u: generation "
		    "%u needs message content not negotiated", c->sess.id,
		    c->policy != NULL ? c->policy->generation : 0,
		    p->generation);
		tg_policy_unref(p);
		return 0;
	}
	if (c->policy != NULL)
		tg_policy_unref(c->policy);
	c->policy = p;
	c->warned = 0;
	milter_want(c);
	return 1;
}

/* milter_size - ESMTP SIZE= among the MAIL parameters; 0 or -1 */
static int
milter_size(struct milter_conn *c, char **argv)
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

static sfsistat
milter_envfrom(SMFICTX *ctx, char **argv)
{
	struct milter_conn *c;

	if ((c = milter_conn_get(ctx)) == NULL)
		return milter_internal(ctx, c, TG_STAGE_MAIL, "no state");
	tg_session_reset_message(&c->sess);
	if (milter_repin(c))
		milter_listener(ctx, c);
	milter_queue_id(ctx, c);
	milter_tls(ctx, c);
	milter_macro(ctx, c, M_AUTH_AUTHEN);
	milter_macro(ctx, c, M_AUTH_TYPE);
	milter_macro(ctx, c, M_AUTH_AUTHOR);
	milter_auth_check(ctx, c);
	c->sess.in_message = 1;
	if (argv[0] == NULL ||
	    tg_session_set(&c->sess, TG_A_SENDER, argv[0]) != TG_OK)
		return milter_reject(ctx, c, TG_STAGE_MAIL, "501", "5.1.7",
		    "Bad sender address syntax");
	if (milter_size(c, argv) != 0)
		return milter_reject(ctx, c, TG_STAGE_MAIL, "501", "5.5.4",
		    "Invalid SIZE parameter");
	return milter_eval(ctx, c, TG_STAGE_MAIL);
}

static sfsistat
milter_envrcpt(SMFICTX *ctx, char **argv)
{
	struct milter_conn *c;

	if ((c = milter_conn_get(ctx)) == NULL)
		return milter_internal(ctx, c, TG_STAGE_RCPT, "no state");
	milter_queue_id(ctx, c);
	if (argv[0] == NULL ||
	    tg_session_set(&c->sess, TG_A_RCPT, argv[0]) != TG_OK)
		return milter_reject(ctx, c, TG_STAGE_RCPT, "501", "5.1.3",
		    "Bad recipient address syntax");
	return milter_eval(ctx, c, TG_STAGE_RCPT);
}

static sfsistat
milter_data(SMFICTX *ctx)
{
	struct milter_conn *c;

	if ((c = milter_conn_get(ctx)) == NULL)
		return milter_internal(ctx, c, TG_STAGE_DATA, "no state");
	milter_queue_id(ctx, c);
	return milter_eval(ctx, c, TG_STAGE_DATA);
}

static sfsistat
milter_header(SMFICTX *ctx, char *name, char *value)
{
	struct milter_conn *c;

	const char *raw = value != NULL ? value : "", *v = raw;
	size_t nforged;

	if ((c = milter_conn_get(ctx)) == NULL)
		return milter_internal(ctx, c, TG_STAGE_DATA, "no state");
	/* With SMFIP_HDR_LEADSPC the value keeps the white space after the
	 * colon; without it the MTA took it off (and DKIM gets one space). */
	if (c->leadspc)
		v += strspn(v, " \t");
	nforged = c->sess.nforged;
	tg_session_add_header(&c->sess, c->policy, name, v);
	tg_authres_note(c->policy, &c->sess, name, v);
	/* A forged Authentication-Results we remove is not signed. */
	tg_dkim_header(&c->sess, c->policy, name, v, c->leadspc ? raw : NULL,
	    c->sess.nforged != nforged);
	return SMFIS_CONTINUE;
}

static sfsistat
milter_eoh(SMFICTX *ctx)
{
	struct milter_conn *c;

	if ((c = milter_conn_get(ctx)) == NULL)
		return milter_internal(ctx, NULL, TG_STAGE_DATA, "no state");
	tg_dkim_eoh(&c->sess, c->policy);
	return SMFIS_CONTINUE;
}

static sfsistat
milter_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct milter_conn *c;

	if ((c = milter_conn_get(ctx)) == NULL)
		return milter_internal(ctx, c, TG_STAGE_DATA, "no state");
	tg_session_add_body_data(&c->sess, c->policy, (const char *)chunk,
	    len);
	return SMFIS_CONTINUE;
}

/* milter_hdr_add, milter_hdr_ins - smfi_addheader and smfi_insheader
 * with the value as the MTA expects it: with SMFIP_HDR_LEADSPC
 * negotiated, the MTA writes "Name:" and the value as given, so the
 * space after the colon is ours to put. */
static int
milter_hdr_put(SMFICTX *ctx, const struct milter_conn *c, int ins,
    const char *name, const char *value)
{
	char *v = c->leadspc ? tg_xasprintf(" %s", value) : (char *)value;
	int rc = ins ? smfi_insheader(ctx, 0, (char *)name, v) :
	    smfi_addheader(ctx, (char *)name, v);

	if (v != value)
		free(v);
	return rc;
}

/* milter_apply - the effects recorded for the end of the message */
static sfsistat
milter_apply(SMFICTX *ctx, struct milter_conn *c)
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
		return SMFIS_CONTINUE;
	}
	for (i = 0; i < s->nadd; i++)
		if (milter_hdr_put(ctx, c, 0, s->add_hdrs[i].name,
		    s->add_hdrs[i].value) != MI_SUCCESS)
			tg_log_warnx("%s: smfi_addheader(%s) failed", s->id,
			    s->add_hdrs[i].name);
	if (s->quarantine != NULL &&
	    smfi_quarantine(ctx, s->quarantine) != MI_SUCCESS)
		tg_log_warnx("%s: smfi_quarantine failed", s->id);
	return s->discard ? SMFIS_DISCARD : SMFIS_CONTINUE;
}

/* milter_authres - remove received Authentication-Results that claim our
 * authserv-id, then add ours on top for authenticated mail. Highest index
 * first, so that whether the MTA renumbers after a removal or not, the
 * remaining indexes still name the same headers. */
static sfsistat
milter_authres(SMFICTX *ctx, struct milter_conn *c)
{
	struct tg_session *s = &c->sess;
	char value[TG_AUTHRES_ID_MAX + 2 * TG_LOGIN_MAX + 64];

	if (s->forged_overflow)
		return milter_internal(ctx, c, TG_STAGE_EOM, "forged "
		    "Authentication-Results headers that cannot be removed "
		    "(too many, or a name with white space before the colon)");
	for (size_t i = s->nforged; i-- > 0;) {
		if (smfi_chgheader(ctx, "Authentication-Results",
		    (int)s->authres_forged[i], NULL) != MI_SUCCESS)
			return milter_internal(ctx, c, TG_STAGE_EOM,
			    "smfi_chgheader failed on a forged "
			    "Authentication-Results");
		tg_log_info("%s: %s: removed forged Authentication-Results "
		    "#%u", s->id, s->queue_id != NULL ? s->queue_id :
		    "NOQUEUE", s->authres_forged[i]);
	}
	if (tg_authres_value(c->policy, s, value, sizeof value) == 0 &&
	    milter_hdr_put(ctx, c, 1, "Authentication-Results", value) !=
	    MI_SUCCESS)
		tg_log_warnx("%s: smfi_insheader(Authentication-Results) "
		    "failed", s->id);
	return SMFIS_CONTINUE;
}

/* milter_dkim_sign - the DKIM-Signature fields, last: after every header
 * change of ours, so none breaks them. A signature that cannot be made is
 * logged; the message goes unsigned rather than deferred. */
static void
milter_dkim_sign(SMFICTX *ctx, struct milter_conn *c)
{
	struct tg_session *s = &c->sess;
	char **v;
	size_t n;

	if (tg_ops_dry_run(c->policy) && s->dkim != NULL) {
		tg_log_info("%s: dry-run=yes: not signed", s->id);
		return;
	}
	n = tg_dkim_sign_finish(c->policy, s, &v);
	for (size_t i = n; i-- > 0;) {
		if (milter_hdr_put(ctx, c, 1, "DKIM-Signature", v[i]) !=
		    MI_SUCCESS)
			tg_log_warnx("%s: smfi_insheader(DKIM-Signature) "
			    "failed", s->id);
		free(v[i]);
	}
	free(v);
}

static sfsistat
milter_eom(SMFICTX *ctx)
{
	struct milter_conn *c;
	sfsistat rc;

	if ((c = milter_conn_get(ctx)) == NULL)
		return milter_internal(ctx, c, TG_STAGE_EOM, "no state");
	milter_queue_id(ctx, c);
	rc = milter_eval(ctx, c, TG_STAGE_EOM);
	if (rc == SMFIS_CONTINUE)
		rc = milter_apply(ctx, c);
	if (rc == SMFIS_CONTINUE)
		rc = milter_authres(ctx, c);
	if (rc == SMFIS_CONTINUE)
		milter_dkim_sign(ctx, c);
	tg_session_reset_message(&c->sess);
	return rc;
}

static sfsistat
milter_abort(SMFICTX *ctx)
{
	struct milter_conn *c;

	if ((c = milter_conn_get(ctx)) != NULL)
		tg_session_reset_message(&c->sess);
	return SMFIS_CONTINUE;
}

static sfsistat
milter_close(SMFICTX *ctx)
{
	struct milter_conn *c;

	if ((c = milter_conn_get(ctx)) == NULL)
		return SMFIS_CONTINUE;
	(void)smfi_setpriv(ctx, NULL);
	tg_metrics_session(-1);
	tg_session_free(&c->sess);
	if (c->policy != NULL)
		tg_policy_unref(c->policy);
	free(c);
	return SMFIS_CONTINUE;
}

int
tg_milter_register(void)
{
	struct smfiDesc desc;

	/* Session ids: a counter, started from the clock so that ids of
	 * consecutive daemon runs rarely collide in the logs. */
	atomic_store(&milter_seq, (unsigned long long)time(NULL) << 16);
	memset(&desc, 0, sizeof desc);
	desc.xxfi_name = "tollgate";
	desc.xxfi_version = SMFI_VERSION;
	desc.xxfi_flags = MILTER_ACTIONS;
	desc.xxfi_connect = milter_connect;
	desc.xxfi_helo = milter_helo;
	desc.xxfi_envfrom = milter_envfrom;
	desc.xxfi_envrcpt = milter_envrcpt;
	desc.xxfi_header = milter_header;
	desc.xxfi_eoh = milter_eoh;
	desc.xxfi_body = milter_body;
	desc.xxfi_eom = milter_eom;
	desc.xxfi_abort = milter_abort;
	desc.xxfi_close = milter_close;
	desc.xxfi_data = milter_data;
	desc.xxfi_negotiate = milter_negotiate;
	tg_milter_guard(&desc);		/* milter_guard.c: orderly stop */
	if (smfi_register(desc) != MI_SUCCESS) {
		tg_log_err("smfi_register failed");
		return -1;
	}
	return 0;
}
