/* milter.c - the libmilter glue, which with milter_guard.c is the only
 * code that includes mfapi.h. Each callback hands what the MTA tells to
 * the connection's struct tg_drive (drive.c: session, macros, engine,
 * log lines), then turns the answer into an SMFIS_* code with
 * smfi_setreply(), and the end-of-message effects into smfi_* calls.
 * Owns: one struct tg_drive per connection (created at negotiate or
 * connect, freed only in close), which pins one policy generation.
 * Threads: callbacks of one connection never overlap; nothing here is
 * shared between connections but the id counter. */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmilter/mfapi.h>

#include "tg.h"
#include "tg_dkim.h"
#include "tg_drive.h"
#include "tg_engine.h"
#include "tg_log.h"
#include "tg_metrics.h"
#include "tg_policy.h"
#include "tg_reply.h"
#include "milter.h"
#include "milter_guard.h"

#define MILTER_ACTIONS	(SMFIF_ADDHDRS | SMFIF_QUARANTINE | SMFIF_CHGHDRS)

static atomic_ullong milter_seq;

/* Macros asked for with smfi_setsymlist(). In Postfix the list replaces
 * the stage's default, so each list names everything read at that stage.
 * The lists do not depend on the policy: a reload may publish one that
 * reads macros the pinned one did not, and the connection moves to it
 * at the next MAIL. Nothing reads "_", {client_ptr} (client.ptr is a DNS
 * lookup), {mail_addr} or {rcpt_addr} (the callbacks' arguments), so
 * they are not asked for. */
static const struct {
	int		 stage;
	const char	*list;
} milter_symlists[] = {
	{ SMFIM_CONNECT, "j {daemon_name} {daemon_addr} {daemon_port} "
	    "{client_addr} {client_name}" },
	{ SMFIM_HELO, "{tls_version} {cipher} {cipher_bits} {cert_subject} "
	    "{cert_issuer} {verify}" },
	{ SMFIM_ENVFROM, "i {auth_type} {auth_authen} {auth_author}" },
	{ SMFIM_ENVRCPT, "i" },
	{ SMFIM_DATA, "i" },
	{ SMFIM_EOH, "i" },
	{ SMFIM_EOM, "i" },
};

/* milter_setsymlists - ask for milter_symlists[], at negotiate, of an MTA
 * that offered SMFIF_SETSYMLIST; a failure is logged and the MTA's own
 * lists stand */
static void
milter_setsymlists(SMFICTX *ctx, const struct tg_drive *d,
    unsigned long steps)
{
	for (size_t i = 0; i < sizeof milter_symlists /
	    sizeof milter_symlists[0]; i++)
		/* Nothing to ask for at a step not negotiated. */
		if ((milter_symlists[i].stage != SMFIM_EOH ||
		    (steps & SMFIP_NOEOH) == 0) &&
		    smfi_setsymlist(ctx, milter_symlists[i].stage,
		    (char *)milter_symlists[i].list) != MI_SUCCESS)
			tg_log_warnx("%s: smfi_setsymlist failed", d->sess.id);
}

/* milter_symval - the drive's macro source: libmilter's value */
static const char *
milter_symval(void *ctx, const char *name)
{
	return smfi_getsymval(ctx, (char *)name);
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
static struct tg_drive *
milter_conn_new(SMFICTX *ctx)
{
	struct tg_drive *d;
	char id[24];

	/* Not calloc: tg_drive_init() clears the session, the bulk of it. */
	d = tg_xmalloc(sizeof *d);
	milter_hex(id, sizeof id, atomic_fetch_add(&milter_seq, 1));
	tg_drive_init(d, tg_policy_current(), id, milter_symval, ctx);
	if (smfi_setpriv(ctx, d) != MI_SUCCESS) {
		tg_log_warnx("%s: smfi_setpriv failed", id);
		tg_drive_free(d);
		free(d);
		return NULL;
	}
	tg_metrics_session(1);
	return d;
}

static struct tg_drive *
milter_conn_get(SMFICTX *ctx)
{
	return smfi_getpriv(ctx);
}

/* milter_setreply - hand a REJECT/TEMPFAIL reply to libmilter. A failure
 * is logged; the verdict stands (the MTA then uses its generic text). */
static void
milter_setreply(SMFICTX *ctx, const char *id, const struct tg_verdict *v)
{
	char text[2 * TG_REPLY_TEXT_MAX + 1];

	tg_reply_milter_escape(text, sizeof text, v->text);
	if (smfi_setreply(ctx, (char *)v->code, (char *)v->xcode, text) !=
	    MI_SUCCESS)
		tg_log_warnx("%s: smfi_setreply(%s %s) failed", id, v->code,
		    v->xcode);
}

/* milter_answer - the drive's answer as an SMFIS_* code */
static sfsistat
milter_answer(SMFICTX *ctx, const struct tg_drive *d, enum tg_answer a,
    const struct tg_verdict *v)
{
	switch (a) {
	case TG_ANS_REJECT:
		milter_setreply(ctx, d->sess.id, v);
		return SMFIS_REJECT;
	case TG_ANS_TEMPFAIL:
		milter_setreply(ctx, d->sess.id, v);
		return SMFIS_TEMPFAIL;
	case TG_ANS_DISCARD:
		return SMFIS_DISCARD;
	default:
		return SMFIS_CONTINUE;
	}
}

/* milter_nostate - a callback without connection state (it could not be
 * made): 451 4.3.0, never accept */
static sfsistat
milter_nostate(SMFICTX *ctx, enum tg_stage st)
{
	struct tg_verdict v;

	tg_log_err("-: stage=%s internal error: no state", tg_stage_name(st));
	tg_reply_internal(&v, "Internal error, try again later");
	milter_setreply(ctx, "-", &v);
	return SMFIS_TEMPFAIL;
}

static sfsistat
milter_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	struct tg_drive *d;
	unsigned long steps = SMFIP_NOUNKNOWN;
	int hdrs, body;

	if ((d = milter_conn_new(ctx)) == NULL)
		return SMFIS_ALL_OPTS;
	/* Never SMFIP_NODATA: an inet socket then stalls ~40 ms per message
	 * in Postfix (MTA-NOTES). Headers and body only when a rule of the
	 * pinned policy reads them. */
	tg_drive_needs(d->policy, &hdrs, &body);
	if (!hdrs)
		steps |= SMFIP_NOHDRS | SMFIP_NOEOH;
	if (!body)
		steps |= SMFIP_NOBODY;
	/* Header values as received, leading white space included, when
	 * DKIM will see them: its simple header canonicalisation needs it
	 * (the session strips it; the values we add then carry their own). */
	if (tg_dkim_wanted(d->policy))
		steps |= SMFIP_HDR_LEADSPC;
	*pf0 = (MILTER_ACTIONS | SMFIF_SETSYMLIST) & f0;
	*pf1 = steps & f1;
	d->leadspc = (*pf1 & SMFIP_HDR_LEADSPC) != 0;
	*pf2 = *pf3 = 0;
	d->neg_hdrs = (*pf1 & SMFIP_NOHDRS) == 0;
	d->neg_body = (*pf1 & SMFIP_NOBODY) == 0;
	if (f0 & SMFIF_SETSYMLIST)
		milter_setsymlists(ctx, d, *pf1);
	return SMFIS_CONTINUE;
}

static sfsistat
milter_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	struct tg_drive *d;
	struct tg_verdict v;
	char buf[INET6_ADDRSTRLEN];
	const char *addr = NULL;
	struct tg_ip ip, *ipp = NULL;

	if ((d = milter_conn_get(ctx)) == NULL &&
	    (d = milter_conn_new(ctx)) == NULL) {
		tg_log_err("connect: no connection state; tempfail");
		return SMFIS_TEMPFAIL;
	}
	if (sa != NULL && sa->sa_family == AF_INET) {
		memset(&ip, 0, sizeof ip);
		ip.family = 4;
		memcpy(ip.b, &((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr, 4);
		ipp = &ip;
	} else if (sa != NULL && sa->sa_family == AF_INET6)
		addr = inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		    buf, sizeof buf);
	/* No reply text is possible at connect: a refusal is kept and
	 * answered from HELO on; TEMPFAIL only without a policy. */
	return tg_drive_connect(d, ipp, addr, host, &v) == TG_ANS_CONTINUE ?
	    SMFIS_CONTINUE : SMFIS_TEMPFAIL;
}

static sfsistat
milter_helo(SMFICTX *ctx, char *helo)
{
	struct tg_drive *d;
	struct tg_verdict v;

	if ((d = milter_conn_get(ctx)) == NULL)
		return milter_nostate(ctx, TG_STAGE_HELO);
	return milter_answer(ctx, d, tg_drive_helo(d, helo, &v), &v);
}

static sfsistat
milter_envfrom(SMFICTX *ctx, char **argv)
{
	struct tg_drive *d;
	struct tg_verdict v;

	if ((d = milter_conn_get(ctx)) == NULL)
		return milter_nostate(ctx, TG_STAGE_MAIL);
	/* A reload published since the last message applies from here. */
	(void)tg_drive_repin(d, tg_policy_current());
	return milter_answer(ctx, d, tg_drive_mail(d, argv, &v), &v);
}

static sfsistat
milter_envrcpt(SMFICTX *ctx, char **argv)
{
	struct tg_drive *d;
	struct tg_verdict v;

	if ((d = milter_conn_get(ctx)) == NULL)
		return milter_nostate(ctx, TG_STAGE_RCPT);
	return milter_answer(ctx, d, tg_drive_rcpt(d, argv, &v), &v);
}

static sfsistat
milter_data(SMFICTX *ctx)
{
	struct tg_drive *d;
	struct tg_verdict v;

	if ((d = milter_conn_get(ctx)) == NULL)
		return milter_nostate(ctx, TG_STAGE_DATA);
	return milter_answer(ctx, d, tg_drive_data(d, &v), &v);
}

static sfsistat
milter_header(SMFICTX *ctx, char *name, char *value)
{
	struct tg_drive *d;

	if ((d = milter_conn_get(ctx)) == NULL)
		return milter_nostate(ctx, TG_STAGE_DATA);
	tg_drive_header(d, name, value != NULL ? value : "");
	return SMFIS_CONTINUE;
}

static sfsistat
milter_eoh(SMFICTX *ctx)
{
	struct tg_drive *d;

	if ((d = milter_conn_get(ctx)) == NULL)
		return milter_nostate(ctx, TG_STAGE_DATA);
	tg_drive_eoh(d);
	return SMFIS_CONTINUE;
}

static sfsistat
milter_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct tg_drive *d;

	if ((d = milter_conn_get(ctx)) == NULL)
		return milter_nostate(ctx, TG_STAGE_DATA);
	tg_drive_body(d, chunk, len);
	return SMFIS_CONTINUE;
}

/* milter_hdr_put - smfi_addheader or smfi_insheader (at the top) with
 * the value as the MTA expects it: with SMFIP_HDR_LEADSPC negotiated,
 * the MTA writes "Name:" and the value as given, so the space after the
 * colon is ours to put. */
static int
milter_hdr_put(SMFICTX *ctx, int ins, const char *name, const char *value)
{
	struct tg_drive *d = milter_conn_get(ctx);
	char *v = d != NULL && d->leadspc ? tg_xasprintf(" %s", value) :
	    (char *)value;
	int rc = ins ? smfi_insheader(ctx, 0, (char *)name, v) :
	    smfi_addheader(ctx, (char *)name, v);

	if (v != value)
		free(v);
	return rc == MI_SUCCESS ? 0 : -1;
}

/* The effects of the end of a message, through libmilter. */
static int
milter_fx_add(void *ctx, const char *name, const char *value)
{
	return milter_hdr_put(ctx, 0, name, value);
}

static int
milter_fx_quarantine(void *ctx, const char *reason)
{
	return smfi_quarantine(ctx, (char *)reason) == MI_SUCCESS ? 0 : -1;
}

static int
milter_fx_remove(void *ctx, const char *name, unsigned index)
{
	return smfi_chgheader(ctx, (char *)name, (int)index, NULL) ==
	    MI_SUCCESS ? 0 : -1;
}

static int
milter_fx_insert(void *ctx, const char *name, const char *value)
{
	return milter_hdr_put(ctx, 1, name, value);
}

static const struct tg_drive_effects milter_fx = {
	milter_fx_add, milter_fx_quarantine, milter_fx_remove,
	milter_fx_insert,
};

static sfsistat
milter_eom(SMFICTX *ctx)
{
	struct tg_drive *d;
	struct tg_verdict v;

	if ((d = milter_conn_get(ctx)) == NULL)
		return milter_nostate(ctx, TG_STAGE_EOM);
	return milter_answer(ctx, d, tg_drive_eom(d, &milter_fx, ctx, &v),
	    &v);
}

static sfsistat
milter_abort(SMFICTX *ctx)
{
	struct tg_drive *d;

	if ((d = milter_conn_get(ctx)) != NULL)
		tg_drive_abort(d);
	return SMFIS_CONTINUE;
}

static sfsistat
milter_close(SMFICTX *ctx)
{
	struct tg_drive *d;

	if ((d = milter_conn_get(ctx)) == NULL)
		return SMFIS_CONTINUE;
	(void)smfi_setpriv(ctx, NULL);
	tg_metrics_session(-1);
	tg_drive_free(d);
	free(d);
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
