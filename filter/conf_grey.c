/* conf_grey.c - the policy grammar of greylisting: the declaration
 * "greylist NAME { ... }" and the action "greylist NAME ["text"]", with
 * the checks that make them meaningful where they are used. Called by
 * conf_parse.c with its lexer and current token. Owns: the greylists it
 * adds to the policy. Threads: one load at a time. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_grey.h"
#include "tg_policy.h"
#include "tg_store.h"
#include "conf.h"
#include "conf_limit.h"

#define GREY_DAY_MS		(86400LL * 1000)
#define GREY_DELAY_MAX_MS	GREY_DAY_MS
#define GREY_WINDOW_MAX_MS	(7 * GREY_DAY_MS)
#define GREY_EXPIRE_MAX_MS	(366 * GREY_DAY_MS)
#define GREY_ALLOW_N_DEFAULT	5
#define GREY_ALLOW_N_MAX	1000

/* Settings seen in a declaration, for the checks at its end. */
enum {
	GREY_SEEN_KEY = 1, GREY_SEEN_ALLOW = 2, GREY_SEEN_WINDOW = 4,
};

struct gp {
	struct conf_lex		*lx;
	struct conf_tok		*tok;
	struct tg_policy	*pol;
};

static void
gp_next(struct gp *c)
{
	conf_lex_next(c->lx, c->tok);
}

static const char *const grey_words[] = { "key", "delay", "retry-window",
	"expire", "auto-allow", "detail-delimiter", "store", "on-error",
	NULL };

/* gp_skip - after an error: on to the next setting word or the '}' */
static void
gp_skip(struct gp *c)
{
	for (;;) {
		if (c->tok->type == CONF_T_EOF || c->tok->type == CONF_T_RBRACE)
			return;
		for (const char *const *w = grey_words; *w != NULL; w++)
			if (conf_tok_is(c->tok, *w))
				return;
		gp_next(c);
	}
}

/* gp_duration - a duration from lo to hi ms (what names it in
 * messages; range its bounds as written) */
static int
gp_duration(struct gp *c, const char *what, long long lo, long long hi,
    const char *range, int64_t *ms)
{
	long long v;
	char pr[48];

	if (c->tok->type != CONF_T_WORD)
		return conf_tok_expected(c->lx, c->tok, "a duration (30s, 5m, "
		    "4h, 35d)");
	if (conf_duration_parse(c->tok->text, &v) < 0 || v < lo || v > hi) {
		conf_tok_err(c->lx, c->tok, "invalid %s \"%s\" (%s)", what,
		    tg_str_printable(pr, sizeof pr, c->tok->text), range);
		gp_next(c);
		return -1;
	}
	*ms = v;
	gp_next(c);
	return 0;
}

/* Attributes a greylist key may hold: who sends (client, HELO, sender)
 * and to whom. */
static int
gp_key_attr_ok(enum tg_attr a)
{
	return a == TG_A_CLIENT_ADDRESS || a == TG_A_CLIENT_NAME ||
	    a == TG_A_HELO || a == TG_A_SENDER || a == TG_A_SENDER_DOMAIN ||
	    a == TG_A_RCPT || a == TG_A_RCPT_DOMAIN;
}

/* key PART [, PART ...]: the first "key" replaces the default */
static int
gp_key(struct gp *c, struct tg_greylist *g, int *seen)
{
	size_t before;
	char pr[48];
	int line, col;

	if (*seen & GREY_SEEN_KEY) {
		conf_tok_err(c->lx, c->tok, "greylist %s: key given twice",
		    g->name);
		return -1;
	}
	*seen |= GREY_SEEN_KEY;
	g->nkeys = 0;
	do {
		gp_next(c);
		before = g->nkeys;
		line = c->tok->line;
		col = c->tok->col;
		if (c->tok->type == CONF_T_WORD)
			tg_str_printable(pr, sizeof pr, c->tok->text);
		if (conf_key_part(c->lx, c->tok, c->pol, g->keys,
		    &g->nkeys) < 0)
			return -1;
		if (!gp_key_attr_ok(g->keys[before].attr)) {
			tg_diag_error(c->lx->diag, c->lx->file, line, col,
			    "\"%s\" cannot be part of a greylist "
			    "key (client.address, client.name, helo, sender, "
			    "sender.domain, rcpt, rcpt.domain)", pr);
			return -1;
		}
		for (size_t i = 0; i < before; i++)
			if (g->keys[i].attr == g->keys[before].attr) {
				tg_diag_error(c->lx->diag, c->lx->file,
				    line, col, "greylist %s: "
				    "%s twice in the key", g->name,
				    tg_attrs[g->keys[i].attr].name);
				return -1;
			}
	} while (c->tok->type == CONF_T_COMMA);
	return 0;
}

/* auto-allow N for DURATION | auto-allow off */
static int
gp_allow(struct gp *c, struct tg_greylist *g, int *seen)
{
	long long n;
	char pr[48];

	*seen |= GREY_SEEN_ALLOW;
	if (conf_tok_is(c->tok, "off")) {
		g->allow_n = 0;
		gp_next(c);
		return 0;
	}
	if (c->tok->type != CONF_T_WORD)
		return conf_tok_expected(c->lx, c->tok, "a number of passes "
		    "or off");
	if (conf_number_parse(c->tok->text, &n) < 0 || n < 1 ||
	    n > GREY_ALLOW_N_MAX) {
		conf_tok_err(c->lx, c->tok, "invalid number of passes \"%s\" "
		    "(1 to %d)", tg_str_printable(pr, sizeof pr,
		    c->tok->text), GREY_ALLOW_N_MAX);
		gp_next(c);
		return -1;
	}
	g->allow_n = n;
	gp_next(c);
	if (!conf_tok_is(c->tok, "for"))
		return conf_tok_expected(c->lx, c->tok, "'for' and a duration "
		    "after the number of passes");
	gp_next(c);
	return gp_duration(c, "auto-allow time", 1000, GREY_EXPIRE_MAX_MS,
	    "1s to 366d", &g->allow_ms);
}

static int
gp_delim(struct gp *c, struct tg_greylist *g)
{
	const char *t = c->tok->text;

	if (conf_tok_is(c->tok, "none")) {
		g->delim = '\0';
	} else if (c->tok->type != CONF_T_STRING)
		return conf_tok_expected(c->lx, c->tok, "a quoted character "
		    "(\"+\") or none");
	else if (t[0] == '\0')
		g->delim = '\0';
	else if (t[1] != '\0' || strchr("+-=_.#", t[0]) == NULL) {
		conf_tok_err(c->lx, c->tok, "a detail delimiter is one of "
		    "+ - = _ . #");
		gp_next(c);
		return -1;
	} else
		g->delim = t[0];
	gp_next(c);
	return 0;
}

static int
gp_store(struct gp *c, struct tg_greylist *g)
{
	if (conf_tok_is(c->tok, "memory"))
		g->store = tg_store_memory_grey();
	else if (conf_tok_is(c->tok, "redis")) {
		if (c->pol->redis == NULL) {
			conf_tok_err(c->lx, c->tok, "store redis is not "
			    "declared (add a store redis { address "
			    "\"host:port\" } statement before the greylist)");
			return -1;
		}
		g->store = c->pol->redis;
	} else
		return conf_tok_expected(c->lx, c->tok, "memory or redis");
	gp_next(c);
	return 0;
}

/* gp_setting - one setting of a greylist block */
static int
gp_setting(struct gp *c, struct tg_greylist *g, int *seen)
{
	if (conf_tok_is(c->tok, "key"))
		return gp_key(c, g, seen);
	if (conf_tok_is(c->tok, "delay")) {
		gp_next(c);
		return gp_duration(c, "delay", 1000, GREY_DELAY_MAX_MS,
		    "1s to 1d", &g->delay_ms);
	}
	if (conf_tok_is(c->tok, "retry-window")) {
		gp_next(c);
		*seen |= GREY_SEEN_WINDOW;
		return gp_duration(c, "retry-window", 2000,
		    GREY_WINDOW_MAX_MS, "2s to 7d", &g->window_ms);
	}
	if (conf_tok_is(c->tok, "expire")) {
		gp_next(c);
		return gp_duration(c, "expire", 1000, GREY_EXPIRE_MAX_MS,
		    "1s to 366d", &g->expire_ms);
	}
	if (conf_tok_is(c->tok, "auto-allow")) {
		gp_next(c);
		return gp_allow(c, g, seen);
	}
	if (conf_tok_is(c->tok, "detail-delimiter")) {
		gp_next(c);
		return gp_delim(c, g);
	}
	if (conf_tok_is(c->tok, "store")) {
		gp_next(c);
		return gp_store(c, g);
	}
	if (conf_tok_is(c->tok, "on-error")) {
		gp_next(c);
		if (conf_tok_is(c->tok, "tempfail"))
			g->on_error_skip = 0;
		else if (conf_tok_is(c->tok, "skip"))
			g->on_error_skip = 1;
		else
			return conf_tok_expected(c->lx, c->tok, "tempfail or "
			    "skip");
		gp_next(c);
		return 0;
	}
	return conf_tok_expected(c->lx, c->tok, "key, delay, retry-window, "
	    "expire, auto-allow, detail-delimiter, store, on-error or '}'");
}

/* gp_check - what a complete greylist must satisfy */
static void
gp_check(struct gp *c, struct tg_greylist *g, int seen, int line, int col)
{
	g->client_key = -1;
	for (size_t i = 0; i < g->nkeys; i++)
		if (g->keys[i].attr == TG_A_CLIENT_ADDRESS)
			g->client_key = (int)i;
	if (g->nkeys == 0)
		tg_diag_error(c->lx->diag, c->lx->file, line, col, "greylist "
		    "%s needs a key", g->name);
	if (g->window_ms <= g->delay_ms)
		tg_diag_error(c->lx->diag, c->lx->file, line, col, "greylist "
		    "%s: retry-window (%llds) must be longer than the delay "
		    "(%llds)%s", g->name, (long long)(g->window_ms / 1000),
		    (long long)(g->delay_ms / 1000), seen & GREY_SEEN_WINDOW ?
		    "" : " (the default retry-window is 24h)");
	if (g->allow_n > 0 && g->client_key < 0) {
		if (seen & GREY_SEEN_ALLOW)
			tg_diag_error(c->lx->diag, c->lx->file, line, col,
			    "greylist %s: auto-allow needs client.address in "
			    "the key (the client it allows)", g->name);
		g->allow_n = 0;
	}
}

static const struct tg_greylist *
gp_find(const struct tg_policy *pol, const char *name)
{
	for (size_t i = 0; i < pol->ngreylists; i++)
		if (strcmp(pol->greylists[i]->name, name) == 0)
			return pol->greylists[i];
	return NULL;
}

/* gp_new - a greylist with the defaults, added to the policy */
static struct tg_greylist *
gp_new(struct gp *c, int line)
{
	struct tg_greylist *g = tg_xcalloc(1, sizeof *g);
	struct tg_policy *pol = c->pol;

	g->name = conf_tok_take(c->tok);
	g->prefix = tg_xasprintf("%s:greylist", g->name);
	g->allow_prefix = tg_xasprintf("%s:greylist-allow", g->name);
	g->file = c->lx->file;
	g->line = line;
	g->keys[0] = (struct tg_limit_key){ TG_A_CLIENT_ADDRESS, 24, 64 };
	g->keys[1] = (struct tg_limit_key){ TG_A_SENDER, 32, 64 };
	g->keys[2] = (struct tg_limit_key){ TG_A_RCPT, 32, 64 };
	g->nkeys = 3;
	g->delay_ms = TG_GREY_DELAY_MS;
	g->window_ms = TG_GREY_WINDOW_MS;
	g->expire_ms = TG_GREY_EXPIRE_MS;
	g->allow_n = GREY_ALLOW_N_DEFAULT;
	g->allow_ms = TG_GREY_EXPIRE_MS;
	g->delim = '+';
	g->store = tg_store_memory_grey();
	pol->greylists = tg_xrealloc(pol->greylists, (pol->ngreylists + 1) *
	    sizeof *pol->greylists);
	pol->greylists[pol->ngreylists++] = g;
	return g;
}

void
conf_grey_decl(struct conf_lex *lx, struct conf_tok *tok,
    struct tg_policy *pol)
{
	struct gp c = { lx, tok, pol };
	int line = tok->line, col = tok->col, seen = 0;
	const struct tg_greylist *o;
	struct tg_greylist *g;
	const char *why;
	char pr[48];

	gp_next(&c);
	if (tok->type != CONF_T_WORD) {
		conf_tok_expected(lx, tok, "a greylist name");
		return;
	}
	tg_str_printable(pr, sizeof pr, tok->text);
	if (conf_name_check(tok->text, &why) < 0)
		conf_tok_err(lx, tok, "greylist name \"%s\" %s", pr, why);
	else if ((o = gp_find(pol, tok->text)) != NULL)
		conf_tok_err(lx, tok, "duplicate greylist name \"%s\" (first "
		    "defined at %s:%d)", pr, o->file, o->line);
	g = gp_new(&c, line);
	gp_next(&c);
	if (tok->type != CONF_T_LBRACE) {
		conf_tok_expected(lx, tok, "'{' after the greylist name");
		return;
	}
	for (gp_next(&c); tok->type != CONF_T_RBRACE &&
	    tok->type != CONF_T_EOF;)
		if (gp_setting(&c, g, &seen) < 0) {
			if (tok->type != CONF_T_RBRACE &&
			    tok->type != CONF_T_EOF)
				gp_next(&c);
			gp_skip(&c);
		}
	if (tok->type != CONF_T_RBRACE) {
		conf_tok_expected(lx, tok, "'}' closing the greylist");
		return;
	}
	gp_next(&c);
	/* The default key's parts are read too (the MTA's macros). */
	for (size_t i = 0; i < g->nkeys; i++)
		tg_policy_use(pol, g->keys[i].attr);
	gp_check(&c, g, seen, line, col);
}

int
conf_grey_action(struct conf_lex *lx, struct conf_tok *tok,
    struct tg_policy *pol, int stage, struct tg_action_spec *a)
{
	const struct tg_greylist *g;
	const char *u;
	char pr[48];

	if (tok->type != CONF_T_WORD)
		return conf_tok_expected(lx, tok, "a greylist name");
	tg_str_printable(pr, sizeof pr, tok->text);
	if ((g = gp_find(pol, tok->text)) == NULL)
		conf_tok_err(lx, tok, "undefined greylist \"%s\" (declare it "
		    "before the rules: greylist NAME { ... })", pr);
	else if (stage >= 0 && stage != TG_STAGE_RCPT &&
	    stage != TG_STAGE_DATA && stage != TG_STAGE_EOM)
		conf_tok_err(lx, tok, "greylist is possible at stage rcpt, "
		    "data or eom, not %s", tg_stage_name((enum tg_stage)stage));
	else if (stage >= 0) {
		for (size_t i = 0; i < g->nkeys; i++) {
			enum tg_attr k = g->keys[i].attr;

			/* At data and eom the recipients are the message's,
			 * kept from rcpt on. */
			if (k == TG_A_RCPT || k == TG_A_RCPT_DOMAIN)
				continue;
			if ((int)tg_attrs[k].first > stage ||
			    (int)tg_attrs[k].last < stage)
				conf_tok_err(lx, tok, "greylist %s is keyed on "
				    "%s, which is not known at stage %s", pr,
				    tg_attrs[k].name, tg_stage_name((enum
				    tg_stage)stage));
		}
		if (stage != TG_STAGE_RCPT)
			pol->grey_rcpts = 1;
	}
	a->grey = g;
	conf_lex_next(lx, tok);
	if (tok->type != CONF_T_STRING)
		return 0;
	/* Its own reply text; the code is 451 4.7.1, never a 5xx. */
	if ((u = tg_template_check(tok->text)) != NULL) {
		size_t n = strcspn(u, "}");

		conf_tok_err(lx, tok, "unknown variable \"%.*s\"",
		    (int)(n < 40 ? n + 1 : 40), u);
	}
	a->text = conf_tok_take(tok);
	conf_lex_next(lx, tok);
	return 0;
}
