/* conf_dkim.c - the policy grammar of DKIM and DMARC:
 *   dkim-sign {
 *       key-table "KeyTable"                 # NAME DOMAIN:SELECTOR:KEYFILE
 *       signing-table "refile:SigningTable"  # PATTERN NAME
 *       multiple-signatures yes | no         # every matching line signs
 *   }
 *   set public-suffix-list "/usr/share/publicsuffix/public_suffix_list.dafsa"
 * and, once the whole policy is read, what the rules need: verification
 * when a rule or template reads dkim or dmarc, the Public Suffix List
 * (libpsl) for organisational domains, the keys when a rule signs.
 * Owns: the policy's struct tg_dkim_conf until the policy takes it.
 * Threads: one load at a time, like conf_parse.c. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpsl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "tg.h"
#include "tg_dkim.h"
#include "tg_diag.h"
#include "tg_policy.h"
#include "conf.h"

static struct tg_dkim_conf *
conf_dkim_get(struct tg_policy *pol)
{
	if (pol->dkim == NULL)
		pol->dkim = tg_xcalloc(1, sizeof *pol->dkim);
	return pol->dkim;
}

struct tg_dkim_conf *
tg_dkim_conf_free(struct tg_dkim_conf *c)
{
	if (c == NULL)
		return NULL;
	free(c->psl_path);
	if (c->psl != NULL)
		psl_free(c->psl);
	free(c->key_table);
	free(c->signing_table);
	for (size_t i = 0; i < c->nkeys; i++) {
		free(c->keys[i].name);
		free(c->keys[i].domain);
		free(c->keys[i].selector);
		free(c->keys[i].path);
		EVP_PKEY_free(c->keys[i].pkey);
		if (c->keys[i].pem != NULL)
			OPENSSL_cleanse(c->keys[i].pem, c->keys[i].pemlen);
		free(c->keys[i].pem);
	}
	free(c->keys);
	for (size_t i = 0; i < c->nsigners; i++)
		free(c->signers[i].pattern);
	free(c->signers);
	for (size_t i = 0; i < c->nnever; i++)
		free(c->never_sign[i]);
	free(c->never_sign);
	free(c);
	return NULL;
}

int
conf_dkim_psl(struct conf_lex *lx, struct conf_tok *tok,
    struct tg_policy *pol)
{
	struct tg_dkim_conf *c = conf_dkim_get(pol);

	conf_lex_next(lx, tok);
	if (tok->type != CONF_T_STRING) {
		conf_tok_expected(lx, tok, "a quoted path");
		return -1;
	}
	if (c->psl_path != NULL)
		conf_tok_err(lx, tok, "public-suffix-list given twice");
	else
		c->psl_path = conf_tok_take(tok);
	conf_lex_next(lx, tok);
	return 0;
}

/* One "key value" of the dkim-sign block; the key is current. */
static int
conf_dkim_item(struct conf_parser *p, struct tg_dkim_conf *c)
{
	struct conf_tok *t = conf_p_tok(p);
	char key[32], pr[80];
	char **slot = NULL;

	tg_strlcpy(key, t->text, sizeof key);
	if (strcmp(key, "key-table") == 0)
		slot = &c->key_table;
	else if (strcmp(key, "signing-table") == 0)
		slot = &c->signing_table;
	else if (strcmp(key, "multiple-signatures") != 0) {
		conf_tok_err(conf_p_lex(p), t, "unknown dkim-sign setting "
		    "\"%s\" (use key-table, signing-table or "
		    "multiple-signatures)", tg_str_printable(pr, sizeof pr,
		    t->text));
		return -1;
	}
	conf_p_next(p);
	if (t->type != CONF_T_STRING && t->type != CONF_T_WORD) {
		conf_p_expected(p, "a value");
		return -1;
	}
	if (slot == NULL) {
		if (conf_tok_is(t, "yes") || conf_tok_is(t, "no"))
			c->multiple = conf_tok_is(t, "yes");
		else
			conf_tok_err(conf_p_lex(p), t, "multiple-signatures: "
			    "yes or no");
	} else if (*slot != NULL)
		conf_tok_err(conf_p_lex(p), t, "dkim-sign %s given twice",
		    key);
	else if (slot == &c->signing_table &&
	    strncmp(t->text, "refile:", 7) == 0) {
		c->refile = 1;
		*slot = tg_xstrdup(t->text + 7);
	} else
		*slot = conf_tok_take(t);
	conf_p_next(p);
	return 0;
}

void
conf_dkim_sign(struct conf_parser *p)
{
	struct tg_dkim_conf *c = conf_dkim_get(conf_p_policy(p));
	struct conf_tok *t = conf_p_tok(p);

	if (c->sign)
		conf_tok_err(conf_p_lex(p), t, "dkim-sign given twice");
	c->sign = 1;
	c->file = conf_p_file(p);
	c->line = t->line;
	c->col = t->col;
	conf_p_next(p);
	if (t->type != CONF_T_LBRACE) {
		conf_p_expected(p, "'{'");
		conf_p_sync(p);
		return;
	}
	conf_p_next(p);
	while (t->type != CONF_T_RBRACE && t->type != CONF_T_EOF) {
		if (t->type != CONF_T_WORD || conf_dkim_item(p, c) < 0) {
			if (t->type != CONF_T_WORD)
				conf_p_expected(p, "a dkim-sign setting");
			conf_p_sync(p);
			return;
		}
	}
	if (t->type == CONF_T_EOF) {
		conf_p_expected(p, "'}'");
		return;
	}
	conf_p_next(p);
	if (c->key_table == NULL || c->signing_table == NULL) {
		tg_diag_error(conf_p_diag(p), c->file, c->line, c->col,
		    "dkim-sign needs key-table and signing-table");
		return;
	}
	/* Relative to the file that names them, like tables. */
	(void)tg_dkim_keys_load(c, conf_p_dir(p), conf_p_diag(p));
}

/* conf_dkim_scan - what the rules read and do */
static void
conf_dkim_scan(const struct tg_policy *p, struct tg_dkim_conf *c)
{
	static const enum tg_attr dmarc_attrs[] = { TG_A_DMARC,
	    TG_A_DMARC_POLICY, TG_A_DMARC_DOMAIN, TG_A_DMARC_ORG,
	    TG_A_DKIM_ALIGNED };

	for (int a = 0; a < TG_A_COUNT; a++)
		if (tg_dkim_attr((enum tg_attr)a) &&
		    tg_policy_uses(p, (enum tg_attr)a))
			c->verify = 1;
	for (size_t i = 0; i < sizeof dmarc_attrs / sizeof dmarc_attrs[0];
	    i++)
		if (tg_policy_uses(p, dmarc_attrs[i]))
			c->dmarc = 1;
	for (int st = 0; st < TG_STAGE_COUNT; st++)
		for (size_t i = 0; i < p->nrules[st]; i++) {
			const struct tg_rule *r = &p->rules[st][i];

			for (size_t j = 0; j < r->nactions; j++) {
				const struct tg_action_spec *a = &r->actions[j];

				if (a->type == TG_ACT_DKIM_SIGN)
					c->sign_used = 1;
				if (a->text != NULL &&
				    strstr(a->text, "${dkim_") != NULL)
					c->verify = 1;
				if (a->text != NULL &&
				    strstr(a->text, "${dmarc_") != NULL)
					c->verify = c->dmarc = 1;
				if (a->type != TG_ACT_ADD_HEADER)
					continue;
				c->never_sign = tg_xrealloc(c->never_sign,
				    (c->nnever + 1) * sizeof *c->never_sign);
				c->never_sign[c->nnever++] =
				    tg_xstrdup(a->hname);
			}
		}
	c->never_sign = tg_xrealloc(c->never_sign, (c->nnever + 1) *
	    sizeof *c->never_sign);
	c->never_sign[c->nnever++] = tg_xstrdup("Authentication-Results");
}

int
tg_dkim_conf_finish(struct tg_policy *p, struct tg_diag *diag)
{
	struct tg_dkim_conf *c = conf_dkim_get(p);
	const char *path;

	conf_dkim_scan(p, c);
	if (c->sign_used && !c->sign) {
		tg_diag_error(diag, p->path, 0, 0, "a rule says dkim-sign but "
		    "there is no dkim-sign { key-table ... signing-table ... } "
		    "block");
		return -1;
	}
	if (c->verify || c->dmarc) {
		path = c->psl_path != NULL ? c->psl_path : TG_DKIM_PSL_DEFAULT;
		if ((c->psl = psl_load_file(path)) == NULL) {
			tg_diag_error(diag, p->path, 0, 0, "cannot load the "
			    "Public Suffix List %s (Debian: apt-get install "
			    "publicsuffix; or set public-suffix-list)", path);
			return -1;
		}
	}
	return 0;
}
