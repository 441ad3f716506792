/* drive_macros.c - the MTA's macros: which ones tollgate asks for at each
 * stage (the milter protocol's setsymlist), which ones the pinned policy
 * needs, and copying them into the session, saying once what a missing
 * one means for the rules. Part of the shared driver (tg_drive.h; drive.c
 * owns the connection, drive_impl.h); the front end reads the macros.
 * Owns: nothing but constant tables. Threads: called for one connection
 * by one thread at a time. */
#include "config.h"

#include <string.h>

#include "tg.h"
#include "tg_log.h"
#include "tg_policy.h"
#include "tg_session.h"
#include "drive_impl.h"

/* Macros that feed attributes. When a rule of the pinned policy uses one
 * of the attributes in uses and the MTA did not send the macro, it is said
 * once per session, with what that means for the rules. */
static const struct drive_macro {
	enum tg_attr	 attr;
	const char	*name;
	enum tg_attr	 uses[2];	/* the attributes it feeds */
	const char	*effect;
} drive_macros[] = {
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

/* Indexed by enum drive_macro_index (designated, so an entry cannot slip
 * to another's index); want and warned hold one bit per macro. */
_Static_assert(M_COUNT <= 32, "drive_macros[] outgrows an unsigned");
_Static_assert(sizeof drive_macros / sizeof drive_macros[0] == M_COUNT,
    "drive_macros[] lacks an entry");

/* drive_macros[] read whatever the policy: {client_addr} is the fallback
 * for the connect address; a login must always be seen, since one that
 * is not usable is a tempfail and authentication-results, owned-by and
 * ${login} read it without marking sasl.login as used. */
#define M_ALWAYS	(1u << M_CLIENT_ADDR | 1u << M_AUTH_AUTHEN)

/* The macros asked for at each stage. In Postfix a list replaces the
 * stage's default, so each names everything read at that stage. The lists
 * do not depend on the policy: a reload may publish one that reads macros
 * the pinned one did not, and the connection moves to it at the next
 * MAIL. Nothing reads "_", {client_ptr} (client.ptr is a DNS lookup),
 * {mail_addr} or {rcpt_addr} (the commands' arguments), so they are not
 * asked for. */
static const char *const drive_symlists[TG_DRIVE_M_COUNT] = {
	[TG_DRIVE_M_CONNECT] = "j {daemon_name} {daemon_addr} {daemon_port} "
	    "{client_addr} {client_name}",
	[TG_DRIVE_M_HELO] = "{tls_version} {cipher} {cipher_bits} "
	    "{cert_subject} {cert_issuer} {verify}",
	[TG_DRIVE_M_MAIL] = "i {auth_type} {auth_authen} {auth_author}",
	[TG_DRIVE_M_RCPT] = "i",
	[TG_DRIVE_M_DATA] = "i",
	[TG_DRIVE_M_EOM] = "i",
	[TG_DRIVE_M_EOH] = "i",
};

const char *
tg_drive_symlist(enum tg_drive_mstage st)
{
	return st < TG_DRIVE_M_COUNT ? drive_symlists[st] : NULL;
}

const char *
drive_getmacro(const struct tg_drive_conn *c, const char *name)
{
	return c->mta->macro(c->fe, name);
}

/* drive_uses - does a rule of the pinned policy read what macro m feeds? */
static int
drive_uses(const struct tg_drive_conn *c, const struct drive_macro *m)
{
	return tg_policy_uses(c->policy, m->uses[0]) ||
	    tg_policy_uses(c->policy, m->uses[1]);
}

/* drive_want - the macros to copy for the pinned policy: fetching and
 * copying every macro at every stage was a third of our instructions per
 * message (tests/bench/README.md). Without a policy, all of them. */
void
drive_want(struct tg_drive_conn *c)
{
	size_t i;

	c->want = M_ALWAYS;
	for (i = 0; i < sizeof drive_macros / sizeof drive_macros[0]; i++)
		if (c->policy == NULL || drive_uses(c, &drive_macros[i]))
			c->want |= 1u << i;
}

/* drive_macro - copy macro drive_macros[i] into the session. An absent
 * macro leaves the attribute as it was (unknown, or from an earlier
 * stage); a malformed value is logged and leaves it unset. */
void
drive_macro(struct tg_drive_conn *c, int i)
{
	const struct drive_macro *m = &drive_macros[i];
	const char *old = c->sess.val[m->attr];
	const char *val;
	char pbuf[256];

	if (!(c->want & (1u << i)))
		return;
	val = drive_getmacro(c, m->name);
	if (val == NULL) {
		if (drive_uses(c, m) && !(c->warned & (1u << i))) {
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
drive_queue_id(struct tg_drive_conn *c)
{
	const char *qid;

	/* The same queue id comes at RCPT, DATA and end of message. */
	if ((qid = drive_getmacro(c, "i")) != NULL && *qid != '\0' &&
	    (c->sess.queue_id == NULL || strcmp(c->sess.queue_id, qid) != 0))
		tg_session_set_queue_id(&c->sess, qid);
}

/* drive_listener - the connect macros beyond the client; the front ends
 * keep them for the whole connection, so a policy moved to at MAIL that
 * reads more of them can still have them (drive_repin). */
void
drive_listener(struct tg_drive_conn *c)
{
	drive_macro(c, M_LISTENER_NAME);
	drive_macro(c, M_LISTENER_ADDR);
	drive_macro(c, M_LISTENER_PORT);
	drive_macro(c, M_MTA_NAME);
}

/* drive_tls - TLS macros, sent at HELO (again after STARTTLS) */
void
drive_tls(struct tg_drive_conn *c)
{
	drive_macro(c, M_TLS_VERSION);
	drive_macro(c, M_TLS_CIPHER);
	drive_macro(c, M_TLS_BITS);
	drive_macro(c, M_CERT_SUBJECT);
	drive_macro(c, M_CERT_ISSUER);
	drive_macro(c, M_VERIFY);
}

/* drive_auth_check - the MTAs leave every auth macro out of sessions
 * without AUTH, so a missing {auth_authen} alone means "not authenticated"
 * (debug level). {auth_type} without {auth_authen} is different: the
 * client did authenticate and the MTA's macro list lacks the login, so
 * the session is treated as unauthenticated and the operator is told. */
void
drive_auth_check(struct tg_drive_conn *c)
{
	if (c->warned_auth || drive_getmacro(c, "{auth_type}") == NULL ||
	    drive_getmacro(c, "{auth_authen}") != NULL)
		return;
	c->warned_auth = 1;
	tg_log_warnx("%s: the MTA sent {auth_type} but not {auth_authen}: "
	    "add {auth_authen} to its milter macros (Postfix "
	    "milter_mail_macros, Sendmail confMILTER_MACROS_ENVFROM); "
	    "treating the session as unauthenticated", c->sess.id);
}
