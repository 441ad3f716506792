/* conf_limit.c - the policy grammar of rate limits: "store memory|redis
 * { ... }" and "limit NAME { ... }" statements, and the condition
 * "limit NAME exceeded". Called by conf_parse.c with its lexer and
 * current token. Owns: the limits it adds to the policy. Threads: one
 * load at a time. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_policy.h"
#include "tg_rate.h"
#include "tg_store.h"
#include "conf.h"
#include "conf_limit.h"
#include "store_sentinel.h"

#define LIM_WINDOW_MAX_MS	(31LL * 86400 * 1000)	/* a month */

struct lim {
	struct conf_lex		*lx;
	struct conf_tok		*tok;
	struct tg_policy	*pol;
};

static void
lim_next(struct lim *c)
{
	conf_lex_next(c->lx, c->tok);
}

static const char *
lim_pr(char *buf, size_t bufsz, const char *s)
{
	return tg_str_printable(buf, bufsz, s);
}

/* lim_skip - after an error: on to the next setting word or the '}' */
static void
lim_skip(struct lim *c, const char *const *words)
{
	for (;;) {
		if (c->tok->type == CONF_T_EOF || c->tok->type == CONF_T_RBRACE)
			return;
		for (const char *const *w = words; *w != NULL; w++)
			if (conf_tok_is(c->tok, *w))
				return;
		lim_next(c);
	}
}

/* lim_number - a number setting; the value token is current */
static int
lim_number(struct lim *c, const char *what, long long lo, long long hi,
    long long *v)
{
	char pr[48];

	if (c->tok->type != CONF_T_WORD)
		return conf_tok_expected(c->lx, c->tok, what);
	if (conf_number_parse(c->tok->text, v) < 0 || *v < lo || *v > hi) {
		conf_tok_err(c->lx, c->tok, "invalid %s \"%s\" (%lld to %lld)",
		    what, lim_pr(pr, sizeof pr, c->tok->text), lo, hi);
		lim_next(c);
		return -1;
	}
	lim_next(c);
	return 0;
}

static int
lim_string(struct lim *c, const char *what, char **v)
{
	if (c->tok->type != CONF_T_STRING)
		return conf_tok_expected(c->lx, c->tok, what);
	free(*v);
	*v = conf_tok_take(c->tok);
	lim_next(c);
	return 0;
}

/* A master name goes into Sentinel commands and is matched against the
 * words of +switch-master messages: one word of safe characters. */
static int
lim_master_name_ok(const char *n)
{
	size_t len = strlen(n);

	if (len == 0 || len > 128)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= 'A' &&
		    n[i] <= 'Z') || (n[i] >= '0' && n[i] <= '9') ||
		    n[i] == '.' || n[i] == '-' || n[i] == '_'))
			return 0;
	return 1;
}

/* sentinels "host:port" ... : one or more quoted addresses */
static int
lim_sentinels(struct lim *c, struct tg_redis_conf *rc)
{
	char host[TG_REDIS_HOST_MAX], pr[48];
	int port, bad = 0;

	/* Errors are reported here, at their token; the block goes on. */
	if (rc->nsentinels > 0) {
		conf_tok_err(c->lx, c->tok, "sentinels given twice");
		bad = 1;
	}
	if (c->tok->type != CONF_T_STRING)
		return conf_tok_expected(c->lx, c->tok, "quoted Sentinel "
		    "addresses (\"host:port\" ...)");
	for (; c->tok->type == CONF_T_STRING; lim_next(c)) {
		if (tg_redis_addr_parse(c->tok->text, host, sizeof host,
		    &port) < 0) {
			conf_tok_err(c->lx, c->tok, "invalid Sentinel address "
			    "\"%s\" (\"host:port\" or \"[v6]:port\")",
			    lim_pr(pr, sizeof pr, c->tok->text));
			bad = 1;
		} else if (rc->nsentinels >= TG_REDIS_SENTINELS_MAX) {
			if (!bad)
				conf_tok_err(c->lx, c->tok, "more than %d "
				    "Sentinels", TG_REDIS_SENTINELS_MAX);
			bad = 1;
		} else if (!bad)
			rc->sentinels[rc->nsentinels++] = tg_xstrdup(
			    c->tok->text);
	}
	/* -2: reported, and already on the next setting. */
	return bad ? -2 : 0;
}

static int
lim_redis_setting(struct lim *c, struct tg_redis_conf *rc)
{
	long long v, ms;
	char pr[48];

	if (conf_tok_is(c->tok, "address")) {
		lim_next(c);
		return lim_string(c, "a quoted address (\"host:port\" or "
		    "\"unix:/path\")", &rc->address);
	}
	if (conf_tok_is(c->tok, "user")) {
		lim_next(c);
		return lim_string(c, "a quoted user name", &rc->user);
	}
	if (conf_tok_is(c->tok, "password")) {
		lim_next(c);
		return lim_string(c, "a quoted password", &rc->password);
	}
	if (conf_tok_is(c->tok, "prefix")) {
		lim_next(c);
		return lim_string(c, "a quoted key prefix", &rc->prefix);
	}
	if (conf_tok_is(c->tok, "sentinels")) {
		lim_next(c);
		return lim_sentinels(c, rc);
	}
	if (conf_tok_is(c->tok, "master-name")) {
		lim_next(c);
		if (c->tok->type == CONF_T_STRING && !lim_master_name_ok(
		    c->tok->text)) {
			conf_tok_err(c->lx, c->tok, "invalid master name "
			    "\"%s\" (1 to 128 letters, digits, '.', '-' or "
			    "'_')", lim_pr(pr, sizeof pr, c->tok->text));
			lim_next(c);
			return -1;
		}
		return lim_string(c, "a quoted master name",
		    &rc->master_name);
	}
	if (conf_tok_is(c->tok, "sentinel-password")) {
		lim_next(c);
		return lim_string(c, "a quoted password",
		    &rc->sentinel_password);
	}
	if (conf_tok_is(c->tok, "database")) {
		lim_next(c);
		if (lim_number(c, "database number", 0, 1023, &v) < 0)
			return -1;
		rc->database = (int)v;
		return 0;
	}
	if (conf_tok_is(c->tok, "connections")) {
		lim_next(c);
		if (lim_number(c, "number of connections", 1, 1024, &v) < 0)
			return -1;
		rc->connections = (int)v;
		return 0;
	}
	if (conf_tok_is(c->tok, "timeout")) {
		lim_next(c);
		if (c->tok->type != CONF_T_WORD)
			return conf_tok_expected(c->lx, c->tok, "a duration "
			    "(250ms, 1s)");
		if (conf_duration_parse(c->tok->text, &ms) < 0 || ms < 1 ||
		    ms > 10000) {
			conf_tok_err(c->lx, c->tok, "invalid timeout \"%s\" "
			    "(1ms to 10s)", lim_pr(pr, sizeof pr,
			    c->tok->text));
			lim_next(c);
			return -1;
		}
		rc->timeout_ms = (int)ms;
		lim_next(c);
		return 0;
	}
	return conf_tok_expected(c->lx, c->tok, "address, sentinels, "
	    "master-name, user, password, sentinel-password, database, "
	    "prefix, timeout, connections or '}'");
}

static const char *const lim_redis_words[] = { "address", "user",
	"password", "database", "prefix", "timeout", "connections",
	"sentinels", "master-name", "sentinel-password", NULL };

/* store redis { ... } */
static void
lim_store_redis(struct lim *c, int line, int col)
{
	struct tg_redis_conf rc;
	const char *why = NULL;
	int bad = 0, rv;

	memset(&rc, 0, sizeof rc);
	while (c->tok->type != CONF_T_RBRACE && c->tok->type != CONF_T_EOF)
		if ((rv = lim_redis_setting(c, &rc)) == -2)
			bad = 1;
		else if (rv < 0) {
			bad = 1;
			if (c->tok->type != CONF_T_RBRACE)
				lim_next(c);
			lim_skip(c, lim_redis_words);
		}
	if (c->tok->type == CONF_T_RBRACE)
		lim_next(c);
	else
		conf_tok_expected(c->lx, c->tok, "'}'");
	/* After an error in the block, what is missing may be what was
	 * wrong: reported once is enough. */
	if (c->pol->redis != NULL)
		tg_diag_error(c->lx->diag, c->lx->file, line, col, "store "
		    "redis is already declared");
	else if (rc.address != NULL && rc.nsentinels > 0)
		tg_diag_error(c->lx->diag, c->lx->file, line, col, "store "
		    "redis: give an address or sentinels, not both");
	else if (rc.nsentinels > 0 && rc.master_name == NULL) {
		if (!bad)
			tg_diag_error(c->lx->diag, c->lx->file, line, col,
			    "store redis: sentinels need a master-name");
	} else if (rc.nsentinels == 0 && (rc.master_name != NULL ||
	    rc.sentinel_password != NULL)) {
		if (!bad)
			tg_diag_error(c->lx->diag, c->lx->file, line, col,
			    "store redis: master-name and sentinel-password "
			    "need sentinels");
	} else if (rc.address == NULL && rc.nsentinels == 0) {
		if (!bad)
			tg_diag_error(c->lx->diag, c->lx->file, line, col,
			    "store redis needs an address or sentinels");
	}
	else if ((c->pol->redis = tg_store_redis(&rc, &why)) == NULL)
		tg_diag_error(c->lx->diag, c->lx->file, line, col, "store "
		    "redis: %s", why);
	free(rc.address);
	for (int i = 0; i < rc.nsentinels; i++)
		free(rc.sentinels[i]);
	free(rc.master_name);
	free(rc.sentinel_password);
	free(rc.user);
	free(rc.password);
	free(rc.prefix);
}

/* snapshot "/path" | snapshot-interval DURATION, in store memory { } */
static void
lim_snapshot(struct lim *c)
{
	char pr[48];
	long long ms;

	if (conf_tok_is(c->tok, "snapshot")) {
		lim_next(c);
		if (c->tok->type == CONF_T_STRING && c->tok->text[0] != '/')
			conf_tok_err(c->lx, c->tok, "snapshot path \"%s\" must "
			    "be absolute (the daemon runs in /)", lim_pr(pr,
			    sizeof pr, c->tok->text));
		if (lim_string(c, "a quoted file path",
		    &c->pol->mem_snapshot) < 0)
			lim_next(c);
		return;
	}
	lim_next(c);
	if (c->tok->type != CONF_T_WORD) {
		conf_tok_expected(c->lx, c->tok, "a duration (30s, 5m, 1h)");
		lim_next(c);
		return;
	}
	if (conf_duration_parse(c->tok->text, &ms) < 0 || ms < 10000 ||
	    ms > 86400000)
		conf_tok_err(c->lx, c->tok, "invalid snapshot-interval \"%s\" "
		    "(10s to 1d)", lim_pr(pr, sizeof pr, c->tok->text));
	else
		c->pol->mem_snapshot_ms = ms;
	lim_next(c);
}

void
conf_store_decl(struct conf_lex *lx, struct conf_tok *tok,
    struct tg_policy *pol)
{
	struct lim c = { lx, tok, pol };
	int line = tok->line, col = tok->col;
	long long v;
	char pr[48];

	lim_next(&c);
	if (conf_tok_is(tok, "redis")) {
		lim_next(&c);
		if (tok->type != CONF_T_LBRACE) {
			conf_tok_expected(lx, tok, "'{' after store redis");
			return;
		}
		lim_next(&c);
		lim_store_redis(&c, line, col);
		return;
	}
	if (!conf_tok_is(tok, "memory")) {
		if (tok->type == CONF_T_WORD)
			conf_tok_err(lx, tok, "unknown store \"%s\" (use "
			    "memory or redis)", lim_pr(pr, sizeof pr,
			    tok->text));
		else
			conf_tok_expected(lx, tok, "a store type (memory or "
			    "redis)");
		return;
	}
	lim_next(&c);
	if (tok->type != CONF_T_LBRACE) {
		conf_tok_expected(lx, tok, "'{' after store memory");
		return;
	}
	for (lim_next(&c); tok->type != CONF_T_RBRACE &&
	    tok->type != CONF_T_EOF;) {
		if (conf_tok_is(tok, "snapshot") ||
		    conf_tok_is(tok, "snapshot-interval")) {
			lim_snapshot(&c);
			continue;
		}
		if (conf_tok_is(tok, "greylist-max-keys")) {
			lim_next(&c);
			if (lim_number(&c, "number of greylist records", 1000,
			    1LL << 32, &v) == 0)
				pol->grey_max_keys = (uint64_t)v;
			continue;
		}
		if (!conf_tok_is(tok, "max-keys")) {
			conf_tok_expected(lx, tok, "max-keys, "
			    "greylist-max-keys, snapshot, snapshot-interval or "
			    "'}'");
			lim_next(&c);
			continue;
		}
		lim_next(&c);
		if (lim_number(&c, "number of keys", 1000, 1LL << 32, &v) == 0)
			pol->mem_max_keys = (uint64_t)v;
	}
	if (tok->type == CONF_T_RBRACE)
		lim_next(&c);
	else
		conf_tok_expected(lx, tok, "'}'");
	if (pol->mem_snapshot_ms != 0 && pol->mem_snapshot == NULL)
		tg_diag_error(lx->diag, lx->file, line, col, "store memory: "
		    "snapshot-interval without a snapshot path");
}

/* Attributes that can be part of a key: those with a text value. */
static int
lim_key_attr_ok(enum tg_attr a)
{
	return a != TG_A_AUTHENTICATED && a != TG_A_TLS &&
	    a != TG_A_RCPT_COUNT && a != TG_A_SIZE && !tg_attrs[a].param;
}

int
conf_key_part(struct conf_lex *lx, struct conf_tok *tok,
    struct tg_policy *pol, struct tg_limit_key *keys, size_t *nkeys)
{
	struct lim lc = { lx, tok, pol }, *c = &lc;
	struct tg_limit_key *k;
	char name[80], pr[48], *slash, *end;
	long v4, v6;

	if (c->tok->type != CONF_T_WORD)
		return conf_tok_expected(c->lx, c->tok, "an attribute");
	if (*nkeys == TG_LIMIT_KEYS_MAX) {
		conf_tok_err(c->lx, c->tok, "a key has at most %d parts",
		    TG_LIMIT_KEYS_MAX);
		return -1;
	}
	k = &keys[*nkeys];
	tg_strlcpy(name, c->tok->text, sizeof name);
	if ((slash = strchr(name, '/')) != NULL)
		*slash++ = '\0';
	lim_pr(pr, sizeof pr, name);
	if (tg_attr_lookup(name, &k->attr) < 0 || !lim_key_attr_ok(k->attr)) {
		conf_tok_err(c->lx, c->tok, "\"%s\" cannot be part of a key",
		    pr);
		return -1;
	}
	/* A host moves freely inside its /64: a whole IPv6 address makes a
	 * poor key, so /64 is the default. */
	k->v4 = 32;
	k->v6 = 64;
	if (slash != NULL) {
		v4 = strtol(slash, &end, 10);
		v6 = k->v6;
		if (*end == '/')
			v6 = strtol(end + 1, &end, 10);
		if (tg_attrs[k->attr].type != TG_T_IP) {
			conf_tok_err(c->lx, c->tok, "a prefix length is only "
			    "for ip attributes, and %s is not one", pr);
			return -1;
		}
		if (*end != '\0' || end == slash || v4 < 0 || v4 > 32 ||
		    v6 < 0 || v6 > 128) {
			conf_tok_err(c->lx, c->tok, "invalid prefix lengths "
			    "\"/%s\" (IPv4 0-32, then optionally /IPv6 0-128)",
			    slash);
			return -1;
		}
		k->v4 = (int)v4;
		k->v6 = (int)v6;
	}
	(*nkeys)++;
	tg_policy_use(c->pol, k->attr);
	lim_next(c);
	return 0;
}

/* lim_key_part - one part of a limit's key */
static int
lim_key_part(struct lim *c, struct tg_limit *l)
{
	return conf_key_part(c->lx, c->tok, c->pol, l->keys, &l->nkeys);
}

static int
lim_count(struct lim *c, struct tg_limit *l, int *have)
{
	char pr[48];

	if (c->tok->type != CONF_T_WORD)
		return conf_tok_expected(c->lx, c->tok, "what to count");
	for (int i = TG_RATE_CONNECTIONS; i <= TG_RATE_BYTES; i++)
		if (strcmp(c->tok->text, tg_rate_count_name(
		    (enum tg_rate_count)i)) == 0) {
			l->count = (enum tg_rate_count)i;
			l->stage = tg_rate_count_stage(l->count);
			/* Bytes are the message's size: the glue must ask
			 * the MTA for headers and body (tg_drive_needs), or
			 * every message would count 0 (tollgate-test found
			 * it: isp-outbound's bytes quota never tripped). */
			if (l->count == TG_RATE_BYTES)
				tg_policy_use(c->pol, TG_A_SIZE);
			*have = 1;
			lim_next(c);
			return 0;
		}
	conf_tok_err(c->lx, c->tok, "unknown count \"%s\" (use connections, "
	    "sessions, messages, recipients or bytes)", lim_pr(pr, sizeof pr,
	    c->tok->text));
	return -1;
}

/* max N [per DURATION] */
static int
lim_max(struct lim *c, struct tg_limit *l, int *have)
{
	long long v, ms;
	char pr[48];

	if (lim_number(c, "maximum", 0, LLONG_MAX / 4, &v) < 0)
		return -1;
	l->max = v;
	*have = 1;
	if (!conf_tok_is(c->tok, "per"))
		return 0;
	lim_next(c);
	if (c->tok->type != CONF_T_WORD)
		return conf_tok_expected(c->lx, c->tok, "a duration (90s, 30m, "
		    "1h, 1d)");
	if (conf_duration_parse(c->tok->text, &ms) < 0 || ms < 1000 ||
	    ms > LIM_WINDOW_MAX_MS) {
		conf_tok_err(c->lx, c->tok, "invalid window \"%s\" (1s to 31d, "
		    "as 90s, 30m, 1h, 1d)", lim_pr(pr, sizeof pr,
		    c->tok->text));
		lim_next(c);
		return -1;
	}
	l->window_ms = ms;
	lim_next(c);
	return 0;
}

static int
lim_store_use(struct lim *c, struct tg_limit *l)
{
	char pr[48];

	if (conf_tok_is(c->tok, "memory"))
		l->store = tg_store_memory();
	else if (conf_tok_is(c->tok, "redis")) {
		if (c->pol->redis == NULL) {
			conf_tok_err(c->lx, c->tok, "store redis is not "
			    "declared (add a store redis { address "
			    "\"host:port\" } statement before the limit)");
			return -1;
		}
		l->store = c->pol->redis;
	} else {
		if (c->tok->type != CONF_T_WORD)
			return conf_tok_expected(c->lx, c->tok, "memory or "
			    "redis");
		conf_tok_err(c->lx, c->tok, "unknown store \"%s\" (use memory "
		    "or redis)", lim_pr(pr, sizeof pr, c->tok->text));
		return -1;
	}
	lim_next(c);
	return 0;
}

static int
lim_on_error(struct lim *c, struct tg_limit *l)
{
	if (conf_tok_is(c->tok, "tempfail"))
		l->on_error_skip = 0;
	else if (conf_tok_is(c->tok, "skip"))
		l->on_error_skip = 1;
	else
		return conf_tok_expected(c->lx, c->tok, "tempfail or skip");
	lim_next(c);
	return 0;
}

static const char *const lim_words[] = { "key", "count", "max", "store",
	"on-error", "count-refused", NULL };

/* lim_setting - one setting of a limit block; seen: bits of those given */
static int
lim_setting(struct lim *c, struct tg_limit *l, int *seen)
{
	int have = 0;

	if (conf_tok_is(c->tok, "key")) {
		do {
			lim_next(c);
			if (lim_key_part(c, l) < 0)
				return -1;
		} while (c->tok->type == CONF_T_COMMA);
		*seen |= 1;
		return 0;
	}
	if (conf_tok_is(c->tok, "count")) {
		lim_next(c);
		if (lim_count(c, l, &have) < 0)
			return -1;
		*seen |= 2;
		return 0;
	}
	if (conf_tok_is(c->tok, "max")) {
		lim_next(c);
		if (lim_max(c, l, &have) < 0)
			return -1;
		*seen |= 4;
		return 0;
	}
	if (conf_tok_is(c->tok, "store")) {
		lim_next(c);
		return lim_store_use(c, l);
	}
	if (conf_tok_is(c->tok, "on-error")) {
		lim_next(c);
		return lim_on_error(c, l);
	}
	if (conf_tok_is(c->tok, "count-refused")) {
		lim_next(c);
		l->count_refused = 1;
		return 0;
	}
	return conf_tok_expected(c->lx, c->tok, "key, count, max, store, "
	    "on-error, count-refused or '}'");
}

/* lim_check - what a complete limit must satisfy */
static void
lim_check(struct lim *c, struct tg_limit *l, int seen, int line, int col)
{
	const char *need = !(seen & 1) ? "a key" : !(seen & 2) ?
	    "a count" : !(seen & 4) ? "a max" : NULL;

	if (need != NULL) {
		tg_diag_error(c->lx->diag, c->lx->file, line, col, "limit %s "
		    "needs %s", l->name, need);
		return;
	}
	if (l->count == TG_RATE_SESSIONS && l->window_ms != 0)
		tg_diag_error(c->lx->diag, c->lx->file, line, col, "limit %s "
		    "counts sessions, which have no window: write max N "
		    "without per", l->name);
	if (l->count != TG_RATE_SESSIONS && l->window_ms == 0)
		tg_diag_error(c->lx->diag, c->lx->file, line, col, "limit %s "
		    "needs a window: max N per DURATION", l->name);
	for (size_t i = 0; i < l->nkeys; i++) {
		enum tg_attr a = l->keys[i].attr;

		if (tg_attrs[a].first > l->stage || tg_attrs[a].last <
		    l->stage)
			tg_diag_error(c->lx->diag, c->lx->file, line, col,
			    "limit %s counts %s at stage %s, where %s is not "
			    "known", l->name, tg_rate_count_name(l->count),
			    tg_stage_name(l->stage), tg_attrs[a].name);
	}
}

static const struct tg_limit *
lim_find(const struct tg_policy *pol, const char *name)
{
	for (size_t i = 0; i < pol->nlimits; i++)
		if (strcmp(pol->limits[i]->name, name) == 0)
			return pol->limits[i];
	return NULL;
}

/* limit NAME { settings } */
void
conf_limit_decl(struct conf_lex *lx, struct conf_tok *tok,
    struct tg_policy *pol)
{
	struct lim c = { lx, tok, pol };
	int line = tok->line, col = tok->col, seen = 0;
	const struct tg_limit *o;
	struct tg_limit *l;
	const char *why;
	char pr[48];

	lim_next(&c);
	if (tok->type != CONF_T_WORD) {
		conf_tok_expected(lx, tok, "a limit name");
		return;
	}
	lim_pr(pr, sizeof pr, tok->text);
	if (conf_name_check(tok->text, &why) < 0)
		conf_tok_err(lx, tok, "limit name \"%s\" %s", pr, why);
	else if ((o = lim_find(pol, tok->text)) != NULL)
		conf_tok_err(lx, tok, "duplicate limit name \"%s\" (first "
		    "defined at %s:%d)", pr, o->file, o->line);
	l = tg_xcalloc(1, sizeof *l);
	l->name = conf_tok_take(tok);
	l->file = lx->file;
	l->line = line;
	l->store = tg_store_memory();
	pol->limits = tg_xrealloc(pol->limits, (pol->nlimits + 1) *
	    sizeof *pol->limits);
	pol->limits[pol->nlimits++] = l;
	lim_next(&c);
	if (tok->type != CONF_T_LBRACE) {
		conf_tok_expected(lx, tok, "'{' after the limit name");
		return;
	}
	for (lim_next(&c); tok->type != CONF_T_RBRACE &&
	    tok->type != CONF_T_EOF;)
		if (lim_setting(&c, l, &seen) < 0) {
			if (tok->type != CONF_T_RBRACE &&
			    tok->type != CONF_T_EOF)
				lim_next(&c);
			lim_skip(&c, lim_words);
		}
	tg_limit_set_prefix(l);
	if (tok->type != CONF_T_RBRACE) {
		conf_tok_expected(lx, tok, "'}' closing the limit");
		return;
	}
	lim_next(&c);
	lim_check(&c, l, seen, line, col);
}

/* limit NAME exceeded: "limit" is current */
struct tg_expr *
conf_limit_cond(struct conf_lex *lx, struct conf_tok *tok,
    struct tg_policy *pol, int stage)
{
	struct lim c = { lx, tok, pol };
	const struct tg_limit *l;
	struct tg_expr *e;
	char pr[48];

	e = tg_xcalloc(1, sizeof *e);
	e->op = TG_E_LIMIT;
	e->line = tok->line;
	e->col = tok->col;
	lim_next(&c);
	if (tok->type != CONF_T_WORD) {
		conf_tok_expected(lx, tok, "a limit name");
		free(e);
		return NULL;
	}
	lim_pr(pr, sizeof pr, tok->text);
	if ((l = lim_find(pol, tok->text)) == NULL)
		conf_tok_err(lx, tok, "undefined limit \"%s\"", pr);
	else if (stage >= 0)
		for (size_t i = 0; i < l->nkeys; i++) {
			const struct tg_attr_info *a =
			    &tg_attrs[l->keys[i].attr];

			if ((int)a->first > stage || (int)a->last < stage) {
				conf_tok_err(lx, tok, "limit %s is keyed on "
				    "%s, which is not known at stage %s", pr,
				    a->name, tg_stage_name((enum
				    tg_stage)stage));
				break;
			}
		}
	e->limit = l;
	lim_next(&c);
	if (!conf_tok_is(tok, "exceeded")) {
		conf_tok_expected(lx, tok, "'exceeded' after the limit name");
		free(e);
		return NULL;
	}
	lim_next(&c);
	return e;
}
