/* tg_auth.h - what an outgoing (submission) server asks about SMTP AUTH:
 * the SASL login canonicalised as Cyrus SASL does it, sender ownership
 * (who may use which envelope and header addresses), the account check
 * through Cyrus SASL's auxprop interface, and Authentication-Results.
 * Owns: struct tg_auth_conf, part of a policy. Threads: read-only once
 * loaded; the Cyrus lookups serialise themselves. */
#ifndef TG_AUTH_H
#define TG_AUTH_H

#include <stddef.h>
#include "tg_diag.h"
#include "tg_policy.h"
#include "tg_table.h"

#define TG_LOGIN_MAX		255	/* longest SASL login accepted */
#define TG_AUTHRES_ID_MAX	255	/* longest authserv-id */

/* The policy's "sasl { ... }" and "authentication-results" statements. */
struct tg_auth_conf {
	char	*service;	/* Cyrus application name: SERVICE.conf */
	char	*config_path;	/* directory of SERVICE.conf, NULL: Cyrus's */
	char	*realm;		/* appended to logins without one */
	char	*sasldb;	/* sasldb file the account check reads, when
				 * SERVICE.conf uses the sasldb plugin */
	char	*authres_id;	/* authserv-id, NULL: no header */
	int	 sasl_block;	/* a sasl { } block was given */
	const char *sasl_file;	/* where, for diagnostics (policy->files) */
	int	 sasl_line, sasl_col;
	const struct tg_table **owner_maps;	/* checked once at load */
	size_t	 nowner_maps;
};

struct tg_session;

struct tg_auth_conf *tg_auth_conf_free(struct tg_auth_conf *);	/* NULL */

/* Store the {auth_authen} value in the session as sasl.login: white space
 * around it removed (as Cyrus SASL does); "" means not authenticated.
 * Control bytes, invalid UTF-8 and logins longer than TG_LOGIN_MAX are
 * not stored and mark the login unusable (s->login_bad), which the engine
 * answers with a tempfail. Returns TG_OK, TG_ERR_SYNTAX or
 * TG_ERR_TOOLONG. */
int	tg_auth_set_login(struct tg_session *, const char *value);

/* Canonical form of a stored login: itself when it holds an '@', else
 * "login@realm" when a realm is given, else the login. Returns TG_OK or
 * TG_ERR_TOOLONG. */
int	tg_auth_canon(const char *login, const char *realm, char *out,
	    size_t outsz);
/* Derive sasl.canonical, sasl.user and sasl.realm from sasl.login under
 * the policy's realm (at MAIL, when the policy is pinned). */
void	tg_auth_derive(const struct tg_policy *, struct tg_session *);

/* "ATTR owned-by MAP": the map's value for the address (user@domain,
 * user@, @domain, domain and parents, then "*") lists the logins that may
 * use it, separated by commas or blanks; "@realm" stands for every login
 * of that realm. Every address must be owned; "<>", an unauthenticated
 * session or an unparsable header list is not owned. Returns 1, 0, or
 * -1 when the map lookup failed. */
int	tg_auth_owned(const struct tg_policy *, const struct tg_session *,
	    const struct tg_expr *);
/* Check the keys and owner lists of a map used with owned-by; errors go
 * to diag with the file position. Returns the number of errors. */
int	tg_auth_owner_map_check(const struct tg_table *, struct tg_diag *);

/* sasl.account: does Cyrus SASL's account database (auxprop, sasldb by
 * default) still know the canonical login? Returns 1, 0 (unknown or
 * disabled account) or -1 (lookup failed: the caller tempfails). */
int	tg_sasl_account(const struct tg_auth_conf *, const char *login);
/* Read SERVICE.conf in the config path at policy load: its sasldb_path
 * when the sasldb plugin is in use. Errors go to diag at file:line. */
void	tg_sasl_conf_check(struct tg_auth_conf *, const char *file, int line,
	    int col, struct tg_diag *);

/* Authentication-Results (RFC 8601). Is this header value's authserv-id
 * ours (a forgery when it reaches us from outside)? 1 or 0. */
int	tg_authres_is_ours(const char *value, const char *authserv_id);
/* Note one received header, remembering the index of every forged
 * Authentication-Results for removal at end of message. */
void	tg_authres_note(const struct tg_policy *, struct tg_session *,
	    const char *name, const char *value);
/* How a client value is written into Authentication-Results (RFC 8601)
 * or Received-SPF (RFC 7208 9.1). */
enum tg_authres_quote {
	TG_AQ_PVALUE,	/* pvalue: a token or local-part@domain */
	TG_AQ_DOMAIN,	/* smtp.helo: a domain name */
	TG_AQ_DOT_ATOM,	/* Received-SPF key=value: a dot-atom */
};
/* v as it is when it already has that form, else as a quoted-string ('"'
 * and '\' escaped, control bytes replaced by '?'), so that no client
 * value can end a result or add one. Caller frees. */
char	*tg_authres_quote(const char *v, enum tg_authres_quote how);
/* The value of our header for an authenticated session into out; returns
 * 0, or -1 when there is nothing to add (no authserv-id, no login). */
int	tg_authres_value(const struct tg_policy *, const struct tg_session *,
	    char *out, size_t outsz);

#endif
