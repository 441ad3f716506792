/* conf_auth.c - the policy grammar of the submission features:
 *   sasl { service "smtpd"  config-path "DIR"  realm "example.org" }
 *   authentication-results "mail.example.org"
 *   ATTR [not] owned-by MAP
 * and the checks that need the whole policy (sasl.account needs a Cyrus
 * SASL config to read). Owns: the policy's struct tg_auth_conf until the
 * policy takes it. Threads: one load at a time, like conf_parse.c. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tg.h"
#include "tg_auth.h"
#include "tg_diag.h"
#include "tg_policy.h"
#include "tg_table.h"
#include "conf.h"

#define CONF_AUTH_SERVICE_MAX	64

static struct tg_auth_conf *
conf_auth_get(struct tg_policy *pol)
{
	if (pol->auth == NULL)
		pol->auth = tg_xcalloc(1, sizeof *pol->auth);
	return pol->auth;
}

/* conf_auth_word_ok - service names and authserv-ids: a token of letters,
 * digits and ".-_" (no quoting needed in the header, no path in the
 * Cyrus file name). */
static int
conf_auth_word_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr(".-_", *s) != NULL))
			return 0;
	return 1;
}

/* One "key value" of the sasl block; the key is current. */
static int
conf_auth_sasl_item(struct conf_parser *p, struct tg_auth_conf *a)
{
	struct conf_tok *t = conf_p_tok(p);
	char key[32], pr[80];
	char **slot;

	tg_strlcpy(key, t->text, sizeof key);
	if (strcmp(key, "service") == 0)
		slot = &a->service;
	else if (strcmp(key, "config-path") == 0)
		slot = &a->config_path;
	else if (strcmp(key, "realm") == 0)
		slot = &a->realm;
	else {
		conf_tok_err(conf_p_lex(p), t, "unknown sasl setting \"%s\" "
		    "(use service, config-path or realm)",
		    tg_str_printable(pr, sizeof pr, t->text));
		return -1;
	}
	conf_p_next(p);
	if (t->type != CONF_T_STRING && t->type != CONF_T_WORD) {
		conf_p_expected(p, "a quoted value");
		return -1;
	}
	tg_str_printable(pr, sizeof pr, t->text);
	if (*slot != NULL)
		conf_tok_err(conf_p_lex(p), t, "sasl %s given twice", key);
	else if (slot == &a->service &&
	    !conf_auth_word_ok(t->text, CONF_AUTH_SERVICE_MAX))
		conf_tok_err(conf_p_lex(p), t, "invalid sasl service name "
		    "\"%s\"", pr);
	else if (slot == &a->realm && (!conf_auth_word_ok(t->text,
	    TG_LOGIN_MAX)))
		conf_tok_err(conf_p_lex(p), t, "invalid sasl realm \"%s\"", pr);
	else if (slot == &a->config_path) {
		struct stat st;

		*slot = conf_file_join(conf_p_dir(p), t->text);
		if (stat(*slot, &st) != 0 || !S_ISDIR(st.st_mode))
			conf_tok_err(conf_p_lex(p), t, "sasl config-path "
			    "\"%s\" is not a directory", pr);
	} else
		*slot = conf_tok_take(t);
	conf_p_next(p);
	return 0;
}

void
conf_auth_sasl(struct conf_parser *p)
{
	struct tg_policy *pol = conf_p_policy(p);
	struct conf_tok *t = conf_p_tok(p);
	struct tg_auth_conf *a = conf_auth_get(pol);

	if (a->sasl_block)
		conf_tok_err(conf_p_lex(p), t, "a second sasl block (first "
		    "at %s:%d)", a->sasl_file, a->sasl_line);
	a->sasl_block = 1;
	a->sasl_file = conf_p_file(p);
	a->sasl_line = t->line;
	a->sasl_col = t->col;
	conf_p_next(p);
	if (t->type != CONF_T_LBRACE) {
		conf_p_expected(p, "'{' after sasl");
		conf_p_sync(p);
		return;
	}
	for (conf_p_next(p); t->type != CONF_T_RBRACE;) {
		if (t->type != CONF_T_WORD) {
			conf_p_expected(p, "a sasl setting or '}'");
			conf_p_sync(p);
			return;
		}
		if (conf_auth_sasl_item(p, a) < 0) {
			conf_p_sync(p);
			return;
		}
	}
	conf_p_next(p);
	if (a->service == NULL)
		a->service = tg_xstrdup("smtpd");
}

void
conf_auth_authres(struct conf_parser *p)
{
	struct tg_auth_conf *a = conf_auth_get(conf_p_policy(p));
	struct conf_tok *t = conf_p_tok(p);
	char pr[80];

	conf_p_next(p);
	if (t->type != CONF_T_STRING && t->type != CONF_T_WORD) {
		conf_p_expected(p, "a quoted authserv-id (this host's name)");
		conf_p_sync(p);
		return;
	}
	if (a->authres_id != NULL)
		conf_tok_err(conf_p_lex(p), t, "authentication-results "
		    "given twice");
	else if (!conf_auth_word_ok(t->text, TG_AUTHRES_ID_MAX))
		conf_tok_err(conf_p_lex(p), t, "invalid authserv-id \"%s\" "
		    "(a host name)", tg_str_printable(pr, sizeof pr, t->text));
	else
		a->authres_id = conf_tok_take(t);
	conf_p_next(p);
}

void
conf_auth_owned_by(struct conf_parser *p, struct tg_expr *e,
    const char *name)
{
	struct tg_auth_conf *a = conf_auth_get(conf_p_policy(p));
	size_t i;

	e->op = TG_E_OWNED_BY;
	if (tg_attrs[e->attr].type != TG_T_ADDR &&
	    e->attr != TG_A_HEADER_FROM && e->attr != TG_A_HEADER_SENDER) {
		tg_diag_error(conf_p_diag(p), conf_p_file(p), e->line,
		    e->col, "owned-by needs an address: "
		    "sender, sasl.author, rcpt, header.from or header.sender, "
		    "not %s", name);
		return;
	}
	if (e->table == NULL)
		return;		/* undefined or broken: already reported */
	if (tg_table_type(e->table) != TG_TABLE_MAP) {
		tg_diag_error(conf_p_diag(p), conf_p_file(p), e->line,
		    e->col, "owned-by needs a map table "
		    "(address owners...), but \"%s\" is not one",
		    tg_table_name(e->table));
		return;
	}
	for (i = 0; i < a->nowner_maps; i++)
		if (a->owner_maps[i] == e->table)
			return;
	a->owner_maps = tg_xrealloc(a->owner_maps, (a->nowner_maps + 1) *
	    sizeof *a->owner_maps);
	a->owner_maps[a->nowner_maps++] = e->table;
	tg_auth_owner_map_check(e->table, conf_p_diag(p));
}

void
conf_auth_finish(struct tg_policy *pol, struct tg_diag *diag)
{
	struct tg_auth_conf *a = pol->auth;

	if (tg_policy_uses(pol, TG_A_HEADER_FROM) ||
	    tg_policy_uses(pol, TG_A_HEADER_SENDER) ||
	    (a != NULL && a->authres_id != NULL))
		pol->header_used = 1;	/* the MTA must send the headers */
	if (!tg_policy_uses(pol, TG_A_SASL_ACCOUNT))
		return;
	if (a == NULL || !a->sasl_block) {
		tg_diag_error(diag, pol->path, 0, 0, "sasl.account is used, "
		    "but no sasl { config-path \"...\" } block says where "
		    "Cyrus SASL's configuration is");
		return;
	}
	tg_sasl_conf_check(a, a->sasl_file, a->sasl_line, a->sasl_col, diag);
}
