/* sasl.c - the account check through Cyrus SASL: sasl_server_init() once
 * per process with the policy's service name and config path, then per
 * lookup sasl_server_new() and sasl_user_exists(), which asks the auxprop
 * plugins (sasldb by default, SQL or LDAP as configured in SERVICE.conf).
 * Owns: the process's Cyrus SASL state. Threads: every Cyrus call runs
 * under one mutex (Cyrus's own locking depends on how it was built, and
 * lookups are one per MAIL of an authenticated session). */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sasl/sasl.h>

#include "tg.h"
#include "tg_auth.h"
#include "tg_log.h"

#define SASL_DEFAULT_SASLDB	"/etc/sasldb2"
#define SASL_CONF_LINE_MAX	1024

static pthread_mutex_t sasl_lock = PTHREAD_MUTEX_INITIALIZER;
static int sasl_state;			/* 0 not yet, 1 ready, -1 failed */
static char sasl_service[128];
static char sasl_path[PATH_MAX];	/* "" when Cyrus's default */
static int sasl_warned;

static int
sasl_getconfpath(void *ctx, char **path)
{
	*path = sasl_path;
	return SASL_OK;
}

static int
sasl_log(void *ctx, int level, const char *msg)
{
	char pr[512];

	tg_str_printable(pr, sizeof pr, msg != NULL ? msg : "");
	if (level <= SASL_LOG_WARN)
		tg_log_warnx("cyrus sasl: %s", pr);
	else
		tg_log_debug("cyrus sasl: %s", pr);
	return SASL_OK;
}

typedef int (*sasl_cb_fn)(void);

static sasl_callback_t sasl_cbs_path[] = {
	{ SASL_CB_GETCONFPATH, (sasl_cb_fn)(void (*)(void))sasl_getconfpath,
	  NULL },
	{ SASL_CB_LOG, (sasl_cb_fn)(void (*)(void))sasl_log, NULL },
	{ SASL_CB_LIST_END, NULL, NULL },
};

/* sasl_init - once per process, under sasl_lock. Cyrus reads SERVICE.conf
 * only here, so a reload that changes the service or the path cannot take
 * effect before a restart: lookups then fail (tempfail) and say so. */
static int
sasl_init(const struct tg_auth_conf *a)
{
	const char *path = a->config_path != NULL ? a->config_path : "";
	int rc;

	if (sasl_state == 0) {
		tg_strlcpy(sasl_service, a->service, sizeof sasl_service);
		tg_strlcpy(sasl_path, path, sizeof sasl_path);
		rc = sasl_server_init(sasl_cbs_path + (*path == '\0' ? 1 : 0),
		    sasl_service);
		if (rc != SASL_OK) {
			tg_log_err("cyrus sasl: sasl_server_init(%s): %s",
			    sasl_service, sasl_errstring(rc, NULL, NULL));
			sasl_state = -1;
			return -1;
		}
		sasl_state = 1;
	}
	if (sasl_state < 0)
		return -1;
	if (strcmp(sasl_service, a->service) != 0 ||
	    strcmp(sasl_path, path) != 0) {
		if (!sasl_warned)
			tg_log_err("cyrus sasl: the policy names service %s in "
			    "\"%s\", but this process was started with %s in "
			    "\"%s\": restart tollgate; account checks fail "
			    "until then", a->service, path, sasl_service,
			    sasl_path);
		sasl_warned = 1;
		return -1;
	}
	return 0;
}

static int
sasl_lookup(const struct tg_auth_conf *a, const char *login)
{
	sasl_conn_t *conn = NULL;
	char pr[TG_LOGIN_MAX * 4 + 8], host[256];
	int rc;

	/* A missing or unreadable sasldb reads as "no such user" through
	 * Cyrus: check it first, so that it is a tempfail instead. */
	if (a->sasldb != NULL && access(a->sasldb, R_OK) != 0) {
		tg_log_warnx("cyrus sasl: sasldb %s: %s; tempfail", a->sasldb,
		    strerror(errno));
		return -1;
	}
	/* Our host name, not NULL: with NULL Cyrus resolves the name through
	 * getaddrinfo (DNS on the mail path, and per-thread resolver state
	 * that libmilter's threads leak). It is the realm of logins without
	 * one when no realm is set, as Postfix's $myhostname is. */
	if (gethostname(host, sizeof host) != 0)
		tg_strlcpy(host, "localhost", sizeof host);
	host[sizeof host - 1] = '\0';
	rc = sasl_server_new(sasl_service, host, a->realm, NULL, NULL, NULL, 0,
	    &conn);
	if (rc != SASL_OK) {
		tg_log_warnx("cyrus sasl: sasl_server_new: %s; tempfail",
		    sasl_errstring(rc, NULL, NULL));
		return -1;
	}
	rc = sasl_user_exists(conn, NULL, a->realm, login);
	tg_str_printable(pr, sizeof pr, login);
	switch (rc) {
	case SASL_OK:
		rc = 1;
		break;
	case SASL_NOUSER:
	case SASL_DISABLED:
		tg_log_debug("cyrus sasl: account %s: %s", pr,
		    sasl_errstring(rc, NULL, NULL));
		rc = 0;
		break;
	default:
		tg_log_warnx("cyrus sasl: account %s: %s; tempfail", pr,
		    sasl_errdetail(conn));
		rc = -1;
		break;
	}
	sasl_dispose(&conn);
	return rc;
}

int
tg_sasl_account(const struct tg_auth_conf *a, const char *login)
{
	int rc;

	if (login == NULL || *login == '\0')
		return 0;
	if (a == NULL || a->service == NULL)
		return -1;
	pthread_mutex_lock(&sasl_lock);
	rc = sasl_init(a) < 0 ? -1 : sasl_lookup(a, login);
	pthread_mutex_unlock(&sasl_lock);
	return rc;
}

/* sasl_conf_value - "key: value" of a SERVICE.conf line, or NULL. */
static const char *
sasl_conf_value(char *line, const char *key)
{
	size_t n = strlen(key);
	char *v, *e;

	if (strncmp(line, key, n) != 0 || line[n] != ':')
		return NULL;
	for (v = line + n + 1; *v == ' ' || *v == '\t'; v++)
		;
	for (e = v + strlen(v); e > v && (e[-1] == '\n' || e[-1] == '\r' ||
	    e[-1] == ' ' || e[-1] == '\t'); e--)
		;
	*e = '\0';
	return v;
}

void
tg_sasl_conf_check(struct tg_auth_conf *a, const char *file, int line,
    int col, struct tg_diag *diag)
{
	char path[PATH_MAX], buf[SASL_CONF_LINE_MAX], plugin[256] = "";
	char method[256] = "auxprop", db[PATH_MAX] = SASL_DEFAULT_SASLDB;
	const char *v;
	FILE *fp;

	if (a->config_path == NULL) {
		tg_diag_error(diag, file, line, col, "sasl.account needs the "
		    "Cyrus SASL config-path in a sasl { } block");
		return;
	}
	snprintf(path, sizeof path, "%s/%s.conf", a->config_path, a->service);
	if ((fp = fopen(path, "r")) == NULL) {
		tg_diag_error(diag, file, line, col, "sasl.account: cannot "
		    "read %s: %s", path, strerror(errno));
		return;
	}
	while (fgets(buf, sizeof buf, fp) != NULL) {
		if ((v = sasl_conf_value(buf, "auxprop_plugin")) != NULL)
			tg_strlcpy(plugin, v, sizeof plugin);
		else if ((v = sasl_conf_value(buf, "pwcheck_method")) != NULL)
			tg_strlcpy(method, v, sizeof method);
		else if ((v = sasl_conf_value(buf, "sasldb_path")) != NULL)
			tg_strlcpy(db, v, sizeof db);
	}
	fclose(fp);
	if (strstr(method, "auxprop") == NULL)
		tg_diag_error(diag, file, line, col, "sasl.account: %s has "
		    "pwcheck_method \"%s\"; accounts can only be looked up "
		    "through auxprop", path, method);
	/* Without auxprop_plugin Cyrus tries every plugin, sasldb too. */
	a->sasldb = tg_free(a->sasldb);
	if (*plugin == '\0' || strstr(plugin, "sasldb") != NULL)
		a->sasldb = tg_xstrdup(db);
}
