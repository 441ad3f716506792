/* milter.c - the libmilter glue, which with milter_guard.c is the only
 * code that includes mfapi.h. Each callback hands what the MTA tells to
 * the connection's struct tg_drive (drive.c: session, macros, engine,
 * log lines), then turns the answer into an SMFIS_* code with
 * smfi_setreply(), and the end-of-message effects into smfi_* calls.
 * Owns: one struct tg_drive per connection (created at negotiate or
 * connect, freed only in close), which pins one policy generation.
 * Threads: callbacks of one connection never overlap; nothing here is
 * shared between connections. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libmilter/mfapi.h>

#include "tg.h"
#include "tg_dkim.h"
#include "tg_drive.h"
#include "tg_engine.h"
#include "tg_log.h"
#include "tg_policy.h"
#include "milter.h"
#include "milter_guard.h"

#define MILTER_ACTIONS	(SMFIF_ADDHDRS | SMFIF_QUARANTINE | SMFIF_CHGHDRS)

/* The macro stages of drive_macros.c's lists (tg_drive_symlist), as
 * libmilter numbers them. */
static const int milter_mstages[TG_DRIVE_M_COUNT] = {
	[TG_DRIVE_M_CONNECT] = SMFIM_CONNECT, [TG_DRIVE_M_HELO] = SMFIM_HELO,
	[TG_DRIVE_M_MAIL] = SMFIM_ENVFROM, [TG_DRIVE_M_RCPT] = SMFIM_ENVRCPT,
	[TG_DRIVE_M_DATA] = SMFIM_DATA, [TG_DRIVE_M_EOM] = SMFIM_EOM,
	[TG_DRIVE_M_EOH] = SMFIM_EOH,
};

/* milter_setsymlists - ask for the driver's macro lists, at negotiate,
 * of an MTA that offered SMFIF_SETSYMLIST; a failure is logged and the
 * MTA's own lists stand */
static void
milter_setsymlists(SMFICTX *ctx, const struct tg_drive *d,
    unsigned long steps)
{
	for (int i = 0; i < TG_DRIVE_M_COUNT; i++)
		/* Nothing to ask for at a step not negotiated. */
		if ((i != TG_DRIVE_M_EOH || (steps & SMFIP_NOEOH) == 0) &&
		    smfi_setsymlist(ctx, milter_mstages[i],
		    (char *)tg_drive_symlist((enum tg_drive_mstage)i)) !=
		    MI_SUCCESS)
			tg_log_warnx("%s: smfi_setsymlist failed", d->sess.id);
}

/* milter_symval - the drive's macro source: libmilter's value */
static const char *
milter_symval(void *ctx, const char *name)
{
	return smfi_getsymval(ctx, (char *)name);
}

/* milter_conn_new - per-connection state, attached to ctx */
static struct tg_drive *
milter_conn_new(SMFICTX *ctx)
{
	struct tg_drive *d = tg_drive_open(NULL, milter_symval, ctx);

	if (smfi_setpriv(ctx, d) != MI_SUCCESS) {
		tg_log_warnx("%s: smfi_setpriv failed", d->sess.id);
		tg_drive_close(d);
		return NULL;
	}
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
	struct tg_drive_reply rep;

	tg_drive_reply(v, &rep);
	if (smfi_setreply(ctx, rep.code, rep.xcode, rep.text) != MI_SUCCESS)
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

	tg_drive_nostate(st, &v);
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
	unsigned needs;

	if ((d = milter_conn_new(ctx)) == NULL)
		return SMFIS_ALL_OPTS;
	/* Never SMFIP_NODATA: an inet socket then stalls ~40 ms per message
	 * in Postfix (MTA-NOTES). Headers and body only when a rule of the
	 * pinned policy reads them. */
	needs = tg_drive_needs(d->policy);
	if (!(needs & TG_DRIVE_NEED_HDRS))
		steps |= SMFIP_NOHDRS | SMFIP_NOEOH;
	if (!(needs & TG_DRIVE_NEED_BODY))
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
	/* Answers at HELO and DATA are always given. */
	d->neg = TG_DRIVE_NEED_HELO | TG_DRIVE_NEED_DATA;
	if ((*pf1 & SMFIP_NOHDRS) == 0)
		d->neg |= TG_DRIVE_NEED_HDRS;
	if ((*pf1 & SMFIP_NOBODY) == 0)
		d->neg |= TG_DRIVE_NEED_BODY;
	if (f0 & SMFIF_SETSYMLIST)
		milter_setsymlists(ctx, d, *pf1);
	return SMFIS_CONTINUE;
}

static sfsistat
milter_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	struct tg_drive *d;
	struct tg_verdict v;

	if ((d = milter_conn_get(ctx)) == NULL &&
	    (d = milter_conn_new(ctx)) == NULL) {
		tg_log_err("connect: no connection state; tempfail");
		return SMFIS_TEMPFAIL;
	}
	/* No reply text is possible at connect: a refusal is kept and
	 * answered from HELO on; TEMPFAIL only without a policy. */
	return tg_drive_connect_sa(d, host, sa, &v) == TG_ANS_CONTINUE ?
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
	tg_drive_close(d);
	return SMFIS_CONTINUE;
}

int
tg_milter_register(void)
{
	struct smfiDesc desc;

	tg_drive_ids_init();
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
