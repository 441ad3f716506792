/* milter_macros.c - the MTA's macros: which ones tollgate asks for at each
 * stage (smfi_setsymlist), which ones the pinned policy needs, and copying
 * them into the session, saying once what a missing one means for the
 * rules. Part of the libmilter glue (milter.c owns the connection state,
 * milter_impl.h); daemon only. Owns: nothing but constant tables.
 * Threads: called from one connection's callbacks, which never overlap. */
#include "config.h"

#include <string.h>

#include <libmilter/mfapi.h>

#include "tg.h"
#include "tg_log.h"
#include "tg_policy.h"
#include "tg_session.h"
#include "milter_impl.h"

/* Macros that feed attributes. When a rule of the pinned policy uses one
 * of the attributes in uses and the MTA did not send the macro, it is said
 * once per session, with what that means for the rules. */
static const struct milter_macro {
	enum tg_attr	 attr;
	const char	*name;
	enum tg_attr	 uses[2];	/* the attributes it feeds */
	const char	*effect;
} milter_macros[] = {
	[M_LISTENER_NAME] = { TG_A_LISTENER_NAME, "{daemon_name}",
	    { TG_A_LISTENER_NAME, TG_A_LISTENER_NAME },
	    "listener.name is unknown" },
	[M_LISTENER_ADDR] = { TG_A_LISTENER_ADDRESS, "{daemon_addr}",
	    { TG_A_LISTENER_ADDRESS, TG_A_HELO_OURS },
	    "listener.address is unknown" },
	[M_LISTENER_PORT] = { TG_A_LISTENER_PORT, "{daemon_port}",
	    { TG_A_LISTENER_PORT, TG_A_LISTENER_PORT },
	    "listener.port is unknown" },
	[M_CLIENT_ADDR] = { TG_A_CLIENT_ADDRESS, "{client_addr}",
	    { TG_A_CLIENT_ADDRESS, TG_A_CLIENT_ADDRESS },
	    "client.address is unknown" },
	[M_AUTH_AUTHEN] = { TG_A_SASL_LOGIN, "{auth_authen}",
	    { TG_A_SASL_LOGIN, TG_A_AUTHENTICATED },
	    "treating the session as unauthenticated" },
	[M_AUTH_TYPE] = { TG_A_SASL_MECHANISM, "{auth_type}",
	    { TG_A_SASL_MECHANISM, TG_A_SASL_MECHANISM },
	    "sasl.mechanism is unknown" },
	[M_AUTH_AUTHOR] = { TG_A_SASL_AUTHOR, "{auth_author}",
	    { TG_A_SASL_AUTHOR, TG_A_SASL_AUTHOR }, "sasl.author is unknown" },
	[M_TLS_VERSION] = { TG_A_TLS_VERSION, "{tls_version}",
	    { TG_A_TLS, TG_A_TLS_VERSION },
	    "treating the session as not using TLS" },
	[M_TLS_CIPHER] = { TG_A_TLS_CIPHER, "{cipher}",
	    { TG_A_TLS_CIPHER, TG_A_TLS_CIPHER }, "tls.cipher is unknown" },
	[M_TLS_BITS] = { TG_A_TLS_BITS, "{cipher_bits}",
	    { TG_A_TLS_BITS, TG_A_TLS_BITS }, "tls.cipher_bits is unknown" },
	[M_CERT_SUBJECT] = { TG_A_TLS_CERT_SUBJECT, "{cert_subject}",
	    { TG_A_TLS_CERT_SUBJECT, TG_A_TLS_CERT_SUBJECT },
	    "tls.cert_subject is unknown" },
	[M_CERT_ISSUER] = { TG_A_TLS_CERT_ISSUER, "{cert_issuer}",
	    { TG_A_TLS_CERT_ISSUER, TG_A_TLS_CERT_ISSUER },
	    "tls.cert_issuer is unknown" },
	[M_VERIFY] = { TG_A_TLS_VERIFY, "{verify}",
	    { TG_A_TLS_VERIFY, TG_A_TLS_VERIFY }, "tls.verify is unknown" },
	[M_MTA_NAME] = { TG_A_MTA_NAME, "j",
	    { TG_A_MTA_NAME, TG_A_HELO_OURS }, "mta.name is unknown" },
};

/* Indexed by enum milter_macro_index (designated, so an entry cannot slip
 * to another's index); want and warned hold one bit per macro. */
_Static_assert(M_COUNT <= 32, "milter_macros[] outgrows an unsigned");
_Static_assert(sizeof milter_macros / sizeof milter_macros[0] == M_COUNT,
    "milter_macros[] lacks an entry");

/* milter_macros[] read whatever the policy: {client_addr} is the fallback
 * for the connect address; a login must always be seen, since one that
 * is not usable is a tempfail and authentication-results, owned-by and
 * ${login} read it without marking sasl.login as used. */
#define M_ALWAYS	(1u << M_CLIENT_ADDR | 1u << M_AUTH_AUTHEN)

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
void
milter_setsymlists(SMFICTX *ctx, const struct milter_conn *c,
    unsigned long steps)
{
	size_t i;

	for (i = 0; i < sizeof milter_symlists / sizeof milter_symlists[0];
	    i++)
		/* Nothing to ask for at a step not negotiated. */
		if ((milter_symlists[i].stage != SMFIM_EOH ||
		    (steps & SMFIP_NOEOH) == 0) &&
		    smfi_setsymlist(ctx, milter_symlists[i].stage,
		    (char *)milter_symlists[i].list) != MI_SUCCESS)
			tg_log_warnx("%s: smfi_setsymlist failed",
			    c->sess.id);
}

/* milter_uses - does a rule of the pinned policy read what macro m feeds? */
static int
milter_uses(const struct milter_conn *c, const struct milter_macro *m)
{
	return tg_policy_uses(c->policy, m->uses[0]) ||
	    tg_policy_uses(c->policy, m->uses[1]);
}

/* milter_want - the macros to copy for the pinned policy: fetching and
 * copying every macro at every stage was a third of our instructions per
 * message (tests/bench/README.md). Without a policy, all of them. */
void
milter_want(struct milter_conn *c)
{
	size_t i;

	c->want = M_ALWAYS;
	for (i = 0; i < sizeof milter_macros / sizeof milter_macros[0]; i++)
		if (c->policy == NULL || milter_uses(c, &milter_macros[i]))
			c->want |= 1u << i;
}

/* milter_macro - copy macro milter_macros[i] into the session. An absent
 * macro leaves the attribute as it was (unknown, or from an earlier
 * stage); a malformed value is logged and leaves it unset. */
void
milter_macro(SMFICTX *ctx, struct milter_conn *c, int i)
{
	const struct milter_macro *m = &milter_macros[i];
	const char *old = c->sess.val[m->attr];
	char pbuf[256];
	char *val;

	if (!(c->want & (1u << i)))
		return;
	val = smfi_getsymval(ctx, (char *)m->name);
	if (val == NULL) {
		if (milter_uses(c, m) && !(c->warned & (1u << i))) {
			c->warned |= 1u << i;
			/* The MTAs leave the auth and TLS macros out of
			 * sessions without AUTH or TLS: normal, so debug. */
			tg_log(i >= M_AUTH_AUTHEN ? LOG_DEBUG : LOG_WARNING,
			    "%s: macro %s not sent by the MTA; %s",
			    c->sess.id, m->name, m->effect);
		}
		return;
	}
	/* The MTA repeats TLS macros at MAIL, the login at every MAIL. */
	if (old != NULL && strcmp(old, val) == 0)
		return;
	if (tg_session_set(&c->sess, m->attr, val) != TG_OK)
		tg_log_warnx("%s: macro %s: malformed value \"%s\", ignored",
		    c->sess.id, m->name,
		    tg_str_printable(pbuf, sizeof pbuf, val));
}

void
milter_queue_id(SMFICTX *ctx, struct milter_conn *c)
{
	char *qid;

	/* The same queue id comes at RCPT, DATA and end of message. */
	if ((qid = smfi_getsymval(ctx, "i")) != NULL && *qid != '\0' &&
	    (c->sess.queue_id == NULL || strcmp(c->sess.queue_id, qid) != 0))
		tg_session_set_queue_id(&c->sess, qid);
}

/* milter_listener - the connect macros beyond the client; libmilter
 * keeps them for the whole connection, so a policy moved to at MAIL that
 * reads more of them can still have them (milter_repin). */
void
milter_listener(SMFICTX *ctx, struct milter_conn *c)
{
	milter_macro(ctx, c, M_LISTENER_NAME);
	milter_macro(ctx, c, M_LISTENER_ADDR);
	milter_macro(ctx, c, M_LISTENER_PORT);
	milter_macro(ctx, c, M_MTA_NAME);
}

/* milter_tls - TLS macros, sent at HELO (again after STARTTLS) */
void
milter_tls(SMFICTX *ctx, struct milter_conn *c)
{
	milter_macro(ctx, c, M_TLS_VERSION);
	milter_macro(ctx, c, M_TLS_CIPHER);
	milter_macro(ctx, c, M_TLS_BITS);
	milter_macro(ctx, c, M_CERT_SUBJECT);
	milter_macro(ctx, c, M_CERT_ISSUER);
	milter_macro(ctx, c, M_VERIFY);
}

/* milter_auth_check - the MTAs leave every auth macro out of sessions
 * without AUTH, so a missing {auth_authen} alone means "not authenticated"
 * (debug level). {auth_type} without {auth_authen} is different: the
 * client did authenticate and the MTA's macro list lacks the login, so
 * the session is treated as unauthenticated and the operator is told. */
void
milter_auth_check(SMFICTX *ctx, struct milter_conn *c)
{
	if (c->warned_auth || smfi_getsymval(ctx, "{auth_type}") == NULL ||
	    smfi_getsymval(ctx, "{auth_authen}") != NULL)
		return;
	c->warned_auth = 1;
	tg_log_warnx("%s: the MTA sent {auth_type} but not {auth_authen}: "
	    "add {auth_authen} to its milter macros (Postfix "
	    "milter_mail_macros, Sendmail confMILTER_MACROS_ENVFROM); "
	    "treating the session as unauthenticated", c->sess.id);
}
