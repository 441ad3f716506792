/* drive_macros.c - the MTA's macros: which ones the pinned policy needs,
 * and copying them into the session, saying once what a missing one
 * means for the rules. The values come from the front end (tg_drive.h:
 * smfi_getsymval for the libmilter glue, the session file for
 * tollgate-test). Owns: nothing but constant tables. Threads: called for
 * one connection at a time. */
#include "config.h"

#include <string.h>

#include "tg.h"
#include "tg_drive.h"
#include "tg_log.h"
#include "tg_policy.h"
#include "tg_session.h"

/* Macros that feed attributes. When a rule of the pinned policy uses one
 * of the attributes in uses and the MTA did not send the macro, it is said
 * once per session, with what that means for the rules. */
static const struct drive_macro {
	enum tg_attr	 attr;
	const char	*name;
	enum tg_attr	 uses[2];	/* the attributes it feeds */
	const char	*effect;
} drive_macros[] = {
	[TG_M_LISTENER_NAME] = { TG_A_LISTENER_NAME, "{daemon_name}",
	    { TG_A_LISTENER_NAME, TG_A_LISTENER_NAME },
	    "listener.name is unknown" },
	[TG_M_LISTENER_ADDR] = { TG_A_LISTENER_ADDRESS, "{daemon_addr}",
	    { TG_A_LISTENER_ADDRESS, TG_A_HELO_OURS },
	    "listener.address is unknown" },
	[TG_M_LISTENER_PORT] = { TG_A_LISTENER_PORT, "{daemon_port}",
	    { TG_A_LISTENER_PORT, TG_A_LISTENER_PORT },
	    "listener.port is unknown" },
	[TG_M_CLIENT_ADDR] = { TG_A_CLIENT_ADDRESS, "{client_addr}",
	    { TG_A_CLIENT_ADDRESS, TG_A_CLIENT_ADDRESS },
	    "client.address is unknown" },
	[TG_M_AUTH_AUTHEN] = { TG_A_SASL_LOGIN, "{auth_authen}",
	    { TG_A_SASL_LOGIN, TG_A_AUTHENTICATED },
	    "treating the session as unauthenticated" },
	[TG_M_AUTH_TYPE] = { TG_A_SASL_MECHANISM, "{auth_type}",
	    { TG_A_SASL_MECHANISM, TG_A_SASL_MECHANISM },
	    "sasl.mechanism is unknown" },
	[TG_M_AUTH_AUTHOR] = { TG_A_SASL_AUTHOR, "{auth_author}",
	    { TG_A_SASL_AUTHOR, TG_A_SASL_AUTHOR }, "sasl.author is unknown" },
	[TG_M_TLS_VERSION] = { TG_A_TLS_VERSION, "{tls_version}",
	    { TG_A_TLS, TG_A_TLS_VERSION },
	    "treating the session as not using TLS" },
	[TG_M_TLS_CIPHER] = { TG_A_TLS_CIPHER, "{cipher}",
	    { TG_A_TLS_CIPHER, TG_A_TLS_CIPHER }, "tls.cipher is unknown" },
	[TG_M_TLS_BITS] = { TG_A_TLS_BITS, "{cipher_bits}",
	    { TG_A_TLS_BITS, TG_A_TLS_BITS }, "tls.cipher_bits is unknown" },
	[TG_M_CERT_SUBJECT] = { TG_A_TLS_CERT_SUBJECT, "{cert_subject}",
	    { TG_A_TLS_CERT_SUBJECT, TG_A_TLS_CERT_SUBJECT },
	    "tls.cert_subject is unknown" },
	[TG_M_CERT_ISSUER] = { TG_A_TLS_CERT_ISSUER, "{cert_issuer}",
	    { TG_A_TLS_CERT_ISSUER, TG_A_TLS_CERT_ISSUER },
	    "tls.cert_issuer is unknown" },
	[TG_M_VERIFY] = { TG_A_TLS_VERIFY, "{verify}",
	    { TG_A_TLS_VERIFY, TG_A_TLS_VERIFY }, "tls.verify is unknown" },
	[TG_M_MTA_NAME] = { TG_A_MTA_NAME, "j",
	    { TG_A_MTA_NAME, TG_A_HELO_OURS }, "mta.name is unknown" },
};

/* Indexed by enum tg_drive_macro (designated, so an entry cannot slip to
 * another's index); want and warned hold one bit per macro. */
_Static_assert(TG_M_COUNT <= 32, "drive_macros[] outgrows an unsigned");
_Static_assert(sizeof drive_macros / sizeof drive_macros[0] == TG_M_COUNT,
    "drive_macros[] lacks an entry");

/* Read whatever the policy: {client_addr} is the fallback for the
 * connect address; a login must always be seen, since one that is not
 * usable is a tempfail and authentication-results, owned-by and ${login}
 * read it without marking sasl.login as used. */
#define DRIVE_ALWAYS	(1u << TG_M_CLIENT_ADDR | 1u << TG_M_AUTH_AUTHEN)

/* drive_uses - does a rule of the pinned policy read what macro m feeds? */
static int
drive_uses(const struct tg_drive *d, const struct drive_macro *m)
{
	return tg_policy_uses(d->policy, m->uses[0]) ||
	    tg_policy_uses(d->policy, m->uses[1]);
}

/* tg_drive_want - the macros to copy for the pinned policy: fetching and
 * copying every macro at every stage was a third of our instructions per
 * message (tests/bench/README.md). Without a policy, all of them. */
void
tg_drive_want(struct tg_drive *d)
{
	d->want = DRIVE_ALWAYS;
	for (size_t i = 0; i < TG_M_COUNT; i++)
		if (d->policy == NULL || drive_uses(d, &drive_macros[i]))
			d->want |= 1u << i;
}

/* tg_drive_macro - an absent macro leaves the attribute as it was
 * (unknown, or from an earlier stage); a malformed value is logged and
 * leaves it unset. */
void
tg_drive_macro(struct tg_drive *d, enum tg_drive_macro i)
{
	const struct drive_macro *m;
	const char *old, *val;
	char pbuf[256];

	/* Also tells the compiler i is an index (GCC's UBSan builds). */
	if ((unsigned)i >= TG_M_COUNT || !(d->want & (1u << i)))
		return;
	m = &drive_macros[i];
	old = d->sess.val[m->attr];
	val = d->macro(d->macro_arg, m->name);
	if (val == NULL) {
		if (drive_uses(d, m) && !(d->warned & (1u << i))) {
			d->warned |= 1u << i;
			/* The MTAs leave the auth and TLS macros out of
			 * sessions without AUTH or TLS: normal, so debug. */
			tg_log(i >= TG_M_AUTH_AUTHEN ? LOG_DEBUG : LOG_WARNING,
			    "%s: macro %s not sent by the MTA; %s",
			    d->sess.id, m->name, m->effect);
		}
		return;
	}
	/* The MTA repeats TLS macros at MAIL, the login at every MAIL. */
	if (old != NULL && strcmp(old, val) == 0)
		return;
	if (tg_session_set(&d->sess, m->attr, val) != TG_OK)
		tg_log_warnx("%s: macro %s: malformed value \"%s\", ignored",
		    d->sess.id, m->name,
		    tg_str_printable(pbuf, sizeof pbuf, val));
}

void
tg_drive_queue_id(struct tg_drive *d)
{
	const char *qid;

	/* The same queue id comes at RCPT, DATA and end of message. */
	if ((qid = d->macro(d->macro_arg, "i")) != NULL && *qid != '\0' &&
	    (d->sess.queue_id == NULL || strcmp(d->sess.queue_id, qid) != 0))
		tg_session_set_queue_id(&d->sess, qid);
}

/* tg_drive_listener - libmilter keeps the connect macros for the whole
 * connection, so a policy moved to at MAIL that reads more of them can
 * still have them (tg_drive_repin). */
void
tg_drive_listener(struct tg_drive *d)
{
	tg_drive_macro(d, TG_M_LISTENER_NAME);
	tg_drive_macro(d, TG_M_LISTENER_ADDR);
	tg_drive_macro(d, TG_M_LISTENER_PORT);
	tg_drive_macro(d, TG_M_MTA_NAME);
}

void
tg_drive_tls(struct tg_drive *d)
{
	tg_drive_macro(d, TG_M_TLS_VERSION);
	tg_drive_macro(d, TG_M_TLS_CIPHER);
	tg_drive_macro(d, TG_M_TLS_BITS);
	tg_drive_macro(d, TG_M_CERT_SUBJECT);
	tg_drive_macro(d, TG_M_CERT_ISSUER);
	tg_drive_macro(d, TG_M_VERIFY);
}

/* tg_drive_auth - the MTAs leave every auth macro out of sessions without
 * AUTH, so a missing {auth_authen} alone means "not authenticated" (debug
 * level). {auth_type} without {auth_authen} is different: the client did
 * authenticate and the MTA's macro list lacks the login, so the session
 * is treated as unauthenticated and the operator is told. */
void
tg_drive_auth(struct tg_drive *d)
{
	tg_drive_macro(d, TG_M_AUTH_AUTHEN);
	tg_drive_macro(d, TG_M_AUTH_TYPE);
	tg_drive_macro(d, TG_M_AUTH_AUTHOR);
	if (d->warned_auth ||
	    d->macro(d->macro_arg, "{auth_type}") == NULL ||
	    d->macro(d->macro_arg, "{auth_authen}") != NULL)
		return;
	d->warned_auth = 1;
	tg_log_warnx("%s: the MTA sent {auth_type} but not {auth_authen}: "
	    "add {auth_authen} to its milter macros (Postfix "
	    "milter_mail_macros, Sendmail confMILTER_MACROS_ENVFROM); "
	    "treating the session as unauthenticated", d->sess.id);
}
