/* milter.c - the libmilter front end: libmilter's callbacks handed to the
 * shared driver (tg_drive.h), its answers turned into SMFIS_* codes and
 * smfi_setreply(), its header changes into smfi_* calls. With
 * milter_guard.c the only code that includes mfapi.h. Owns: nothing of its
 * own; each connection's struct tg_drive_conn is attached with
 * smfi_setpriv() at negotiate or connect and freed only in close.
 * Threads: libmilter's; callbacks of one connection never overlap. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmilter/mfapi.h>

#include "tg.h"
#include "tg_drive.h"
#include "tg_log.h"
#include "tg_policy.h"
#include "milter.h"
#include "milter_guard.h"

#define MILTER_ACTIONS	(SMFIF_ADDHDRS | SMFIF_QUARANTINE | SMFIF_CHGHDRS)

/* The protocol's macro-list stages, in tg_drive_mstage order. */
static const int milter_mstages[TG_DRIVE_M_COUNT] = {
	SMFIM_CONNECT, SMFIM_HELO, SMFIM_ENVFROM, SMFIM_ENVRCPT, SMFIM_DATA,
	SMFIM_EOM, SMFIM_EOH,
};

static const char *
milter_getmacro(void *fe, const char *name)
{
	return smfi_getsymval(fe, (char *)name);
}

static int
milter_addheader(void *fe, const char *name, const char *value)
{
	return smfi_addheader(fe, (char *)name, (char *)value) == MI_SUCCESS ?
	    0 : -1;
}

static int
milter_insheader(void *fe, int idx, const char *name, const char *value)
{
	return smfi_insheader(fe, idx, (char *)name, (char *)value) ==
	    MI_SUCCESS ? 0 : -1;
}

static int
milter_delheader(void *fe, const char *name, int idx)
{
	return smfi_chgheader(fe, (char *)name, idx, NULL) == MI_SUCCESS ?
	    0 : -1;
}

static int
milter_quarantine(void *fe, const char *reason)
{
	return smfi_quarantine(fe, (char *)reason) == MI_SUCCESS ? 0 : -1;
}

/* The SMFICTX is the front end's context: libmilter passes a new one to
 * no callback of the same connection, and the macros live in it. */
static const struct tg_drive_mta milter_mta = {
	milter_getmacro, milter_addheader, milter_insheader, milter_delheader,
	milter_quarantine,
};

static struct tg_drive_conn *
milter_conn_get(SMFICTX *ctx)
{
	struct tg_drive_conn *c = smfi_getpriv(ctx);

	if (c != NULL)
		c->fe = ctx;	/* the same, in every libmilter we know */
	return c;
}

/* milter_conn_new - per-connection state, attached to ctx */
static struct tg_drive_conn *
milter_conn_new(SMFICTX *ctx)
{
	struct tg_drive_conn *c = tg_drive_open(&milter_mta, ctx, NULL);

	if (smfi_setpriv(ctx, c) != MI_SUCCESS) {
		tg_log_warnx("%s: smfi_setpriv failed", c->sess.id);
		tg_drive_close(c);
		return NULL;
	}
	return c;
}

/* milter_answer - a driver answer as an SMFIS_* code, its reply (if any)
 * handed to libmilter. A failed smfi_setreply() is logged; the answer
 * stands (the MTA then uses its generic text). */
static sfsistat
milter_answer(SMFICTX *ctx, const struct tg_drive_conn *c,
    enum tg_drive_answer a, const struct tg_drive_reply *rep)
{
	if ((a == TG_DRIVE_REJECT || a == TG_DRIVE_TEMPFAIL) &&
	    rep->code[0] != '\0' && smfi_setreply(ctx, (char *)rep->code,
	    (char *)rep->xcode, (char *)rep->text) != MI_SUCCESS)
		tg_log_warnx("%s: smfi_setreply(%s %s) failed",
		    c != NULL ? c->sess.id : "-", rep->code, rep->xcode);
	switch (a) {
	case TG_DRIVE_REJECT:
		return SMFIS_REJECT;
	case TG_DRIVE_TEMPFAIL:
		return SMFIS_TEMPFAIL;
	case TG_DRIVE_DISCARD:
		return SMFIS_DISCARD;
	default:
		return SMFIS_CONTINUE;
	}
}

/* milter_nostate - a callback without its connection state */
static sfsistat
milter_nostate(SMFICTX *ctx, enum tg_stage st)
{
	struct tg_drive_reply rep;

	return milter_answer(ctx, NULL, tg_drive_internal(NULL, st,
	    "no state", &rep), &rep);
}

static sfsistat
milter_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	struct tg_drive_conn *c;
	unsigned long steps = SMFIP_NOUNKNOWN;
	unsigned needs;

	(void)f2;
	(void)f3;
	if ((c = milter_conn_new(ctx)) == NULL)
		return SMFIS_ALL_OPTS;
	/* Never SMFIP_NODATA: an inet socket then stalls ~40 ms per message
	 * in Postfix (MTA-NOTES). Headers and body only when a rule of the
	 * pinned policy reads them. */
	needs = tg_drive_needs(c->policy);
	if (!(needs & TG_DRIVE_NEED_HDRS))
		steps |= SMFIP_NOHDRS | SMFIP_NOEOH;
	if (!(needs & TG_DRIVE_NEED_BODY))
		steps |= SMFIP_NOBODY;
	*pf0 = (MILTER_ACTIONS | SMFIF_SETSYMLIST) & f0;
	*pf1 = steps & f1;
	*pf2 = *pf3 = 0;
	c->neg = TG_DRIVE_NEED_HELO | TG_DRIVE_NEED_DATA;
	if ((*pf1 & SMFIP_NOHDRS) == 0)
		c->neg |= TG_DRIVE_NEED_HDRS;
	if ((*pf1 & SMFIP_NOBODY) == 0)
		c->neg |= TG_DRIVE_NEED_BODY;
	if (!(f0 & SMFIF_SETSYMLIST))
		return SMFIS_CONTINUE;
	/* A failure is logged and the MTA's own lists stand. Nothing to
	 * ask for at a step not negotiated. */
	for (int i = 0; i < TG_DRIVE_M_COUNT; i++)
		if ((i != TG_DRIVE_M_EOH || (*pf1 & SMFIP_NOEOH) == 0) &&
		    smfi_setsymlist(ctx, milter_mstages[i],
		    (char *)tg_drive_symlist(i)) != MI_SUCCESS)
			tg_log_warnx("%s: smfi_setsymlist failed",
			    c->sess.id);
	return SMFIS_CONTINUE;
}

static sfsistat
milter_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	struct tg_drive_conn *c;
	struct tg_drive_reply rep;

	if ((c = milter_conn_get(ctx)) == NULL &&
	    (c = milter_conn_new(ctx)) == NULL) {
		tg_log_err("connect: no connection state; tempfail");
		return SMFIS_TEMPFAIL;
	}
	rep.code[0] = '\0';	/* no reply text is possible at connect */
	return milter_answer(ctx, c, tg_drive_connect(c, host, sa), &rep);
}

static sfsistat
milter_helo(SMFICTX *ctx, char *helo)
{
	struct tg_drive_conn *c;
	struct tg_drive_reply rep;

	if ((c = milter_conn_get(ctx)) == NULL)
		return milter_nostate(ctx, TG_STAGE_HELO);
	return milter_answer(ctx, c, tg_drive_helo(c, helo, &rep), &rep);
}

static sfsistat
milter_envfrom(SMFICTX *ctx, char **argv)
{
	struct tg_drive_conn *c;
	struct tg_drive_reply rep;

	if ((c = milter_conn_get(ctx)) == NULL)
		return milter_nostate(ctx, TG_STAGE_MAIL);
	return milter_answer(ctx, c, tg_drive_mail(c, argv, &rep), &rep);
}

static sfsistat
milter_envrcpt(SMFICTX *ctx, char **argv)
{
	struct tg_drive_conn *c;
	struct tg_drive_reply rep;

	if ((c = milter_conn_get(ctx)) == NULL)
		return milter_nostate(ctx, TG_STAGE_RCPT);
	return milter_answer(ctx, c, tg_drive_rcpt(c, argv, &rep), &rep);
}

static sfsistat
milter_data(SMFICTX *ctx)
{
	struct tg_drive_conn *c;
	struct tg_drive_reply rep;

	if ((c = milter_conn_get(ctx)) == NULL)
		return milter_nostate(ctx, TG_STAGE_DATA);
	return milter_answer(ctx, c, tg_drive_data(c, &rep), &rep);
}

static sfsistat
milter_header(SMFICTX *ctx, char *name, char *value)
{
	struct tg_drive_conn *c;

	if ((c = milter_conn_get(ctx)) == NULL)
		return milter_nostate(ctx, TG_STAGE_DATA);
	tg_drive_header(c, name, value);
	return SMFIS_CONTINUE;
}

static sfsistat
milter_eoh(SMFICTX *ctx)
{
	if (milter_conn_get(ctx) == NULL)
		return milter_nostate(ctx, TG_STAGE_DATA);
	return SMFIS_CONTINUE;
}

static sfsistat
milter_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct tg_drive_conn *c;

	if ((c = milter_conn_get(ctx)) == NULL)
		return milter_nostate(ctx, TG_STAGE_DATA);
	tg_drive_body(c, (const char *)chunk, len);
	return SMFIS_CONTINUE;
}

static sfsistat
milter_eom(SMFICTX *ctx)
{
	struct tg_drive_conn *c;
	struct tg_drive_reply rep;

	if ((c = milter_conn_get(ctx)) == NULL)
		return milter_nostate(ctx, TG_STAGE_EOM);
	return milter_answer(ctx, c, tg_drive_eom(c, &rep), &rep);
}

static sfsistat
milter_abort(SMFICTX *ctx)
{
	struct tg_drive_conn *c;

	if ((c = milter_conn_get(ctx)) != NULL)
		tg_drive_abort(c);
	return SMFIS_CONTINUE;
}

static sfsistat
milter_close(SMFICTX *ctx)
{
	struct tg_drive_conn *c;

	if ((c = milter_conn_get(ctx)) == NULL)
		return SMFIS_CONTINUE;
	(void)smfi_setpriv(ctx, NULL);
	tg_drive_close(c);
	return SMFIS_CONTINUE;
}

int
tg_milter_register(void)
{
	struct smfiDesc desc;

	tg_drive_init();
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
