/* conf_dns.c - the policy statements of the DNS checks, called by
 * conf_parse.c: "set NAME VALUE" (resolver, dns-timeout) and
 * "dnslist NAME "zone" [options]". Errors go to the lexer's diag.
 * Owns: nothing; what it builds goes into the policy's tg_dns_conf.
 * Threads: one load at a time. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_check.h"
#include "tg_dns.h"
#include "conf.h"

#define CONF_DNS_TIMEOUT_MIN	100		/* ms */
#define CONF_DNS_TIMEOUT_MAX	20000		/* well under milter timeouts */
#define CONF_DNS_WEIGHT_MAX	1000

struct conf_dns {
	struct conf_lex		*lx;
	struct conf_tok		*tok;
	struct tg_dns_conf	*c;
};

static void
conf_dns_next(struct conf_dns *d)
{
	conf_lex_next(d->lx, d->tok);
}

static int
conf_dns_value(struct conf_dns *d, const char *what)
{
	if (d->tok->type == CONF_T_WORD || d->tok->type == CONF_T_STRING)
		return 0;
	return conf_tok_expected(d->lx, d->tok, what);
}

static struct tg_dns_conf *
conf_dns_conf(struct tg_policy *pol)
{
	if (pol->dns == NULL)
		pol->dns = tg_dns_conf_new();
	return pol->dns;
}

int
conf_dns_set(struct conf_lex *lx, struct conf_tok *tok, struct tg_policy *pol)
{
	struct conf_dns d = { lx, tok, conf_dns_conf(pol) };
	const char *why;
	char name[32], pr[64];
	long long ms;

	conf_dns_next(&d);
	if (conf_dns_value(&d, "a setting name (resolver, dns-timeout)") < 0)
		return -1;
	tg_strlcpy(name, tok->text, sizeof name);
	if (conf_ops_known(name))	/* log-level, dry-run */
		return conf_ops_set(lx, tok, pol, name);
	if (strcmp(name, "public-suffix-list") == 0)	/* DMARC */
		return conf_dkim_psl(lx, tok, pol);
	if (strcmp(name, "resolver") != 0 && strcmp(name, "dns-timeout") != 0) {
		conf_tok_err(lx, tok, "unknown setting \"%s\" (use resolver, "
		    "dns-timeout, log-level or dry-run)",
		    tg_str_printable(pr, sizeof pr, tok->text));
		return -1;
	}
	conf_dns_next(&d);
	if (conf_dns_value(&d, "a value") < 0)
		return -1;
	tg_str_printable(pr, sizeof pr, tok->text);
	if (strcmp(name, "resolver") == 0) {
		struct tg_dns *probe = tg_dns_new(tok->text, 0, &why);

		if (probe == NULL)
			conf_tok_err(lx, tok, "resolver \"%s\": %s", pr, why);
		else {
			tg_dns_free(probe);
			free(d.c->resolver);
			d.c->resolver = conf_tok_take(tok);
		}
	} else {
		if (conf_duration_parse(tok->text, &ms) < 0 ||
		    ms < CONF_DNS_TIMEOUT_MIN || ms > CONF_DNS_TIMEOUT_MAX)
			conf_tok_err(lx, tok, "dns-timeout \"%s\": give 100ms "
			    "to 20s (e.g. 2s or 1500ms)", pr);
		else
			d.c->timeout_ms = (int)ms;
	}
	conf_dns_next(&d);
	return 0;
}

/* returns { m, ... }; the '{' is current. */
static int
conf_dns_returns(struct conf_dns *d, struct tg_dnslist *l)
{
	const char *why;
	char pr[64];

	conf_dns_next(d);
	while (d->tok->type != CONF_T_RBRACE) {
		if (conf_dns_value(d, "an address, range or &mask") < 0)
			return -1;
		l->match = tg_xrealloc(l->match, (l->nmatch + 1) *
		    sizeof *l->match);
		if (tg_dns_match_parse(d->tok->text, &l->match[l->nmatch],
		    &why) < 0)
			conf_tok_err(d->lx, d->tok, "\"%s\": %s",
			    tg_str_printable(pr, sizeof pr, d->tok->text), why);
		else
			l->nmatch++;
		conf_dns_next(d);
		if (d->tok->type == CONF_T_COMMA)
			conf_dns_next(d);
	}
	conf_dns_next(d);
	return 0;
}

/* One option of a dnslist; the option's word is current. */
static int
conf_dns_option(struct conf_dns *d, struct tg_dnslist *l)
{
	char opt[16], pr[64];
	long v;
	char *end;

	tg_strlcpy(opt, d->tok->text, sizeof opt);
	conf_dns_next(d);
	if (strcmp(opt, "returns") == 0) {
		if (d->tok->type != CONF_T_LBRACE) {
			conf_tok_err(d->lx, d->tok, "expected '{' after "
			    "returns");
			return -1;
		}
		return conf_dns_returns(d, l);
	}
	if (conf_dns_value(d, "a value") < 0)
		return -1;
	tg_str_printable(pr, sizeof pr, d->tok->text);
	if (strcmp(opt, "lookup") == 0) {
		if (conf_tok_is(d->tok, "client"))
			l->key = TG_DNSL_CLIENT;
		else if (conf_tok_is(d->tok, "helo"))
			l->key = TG_DNSL_HELO;
		else if (conf_tok_is(d->tok, "sender.domain"))
			l->key = TG_DNSL_SENDER;
		else
			conf_tok_err(d->lx, d->tok, "lookup \"%s\": use "
			    "client, helo or sender.domain", pr);
	} else if (strcmp(opt, "weight") == 0) {
		errno = 0;
		v = strtol(d->tok->text, &end, 10);
		if (errno != 0 || *end != '\0' || end == d->tok->text ||
		    v < -CONF_DNS_WEIGHT_MAX || v > CONF_DNS_WEIGHT_MAX)
			conf_tok_err(d->lx, d->tok, "weight \"%s\": give a "
			    "whole number from -%d to %d", pr,
			    CONF_DNS_WEIGHT_MAX, CONF_DNS_WEIGHT_MAX);
		else
			l->weight = (int)v;
	} else if (conf_tok_is(d->tok, "skip") ||
	    conf_tok_is(d->tok, "tempfail"))
		l->tempfail = conf_tok_is(d->tok, "tempfail");
	else
		conf_tok_err(d->lx, d->tok, "on-error \"%s\": use skip or "
		    "tempfail", pr);
	conf_dns_next(d);
	return 0;
}

static int
conf_dns_is_option(const struct conf_tok *t)
{
	return conf_tok_is(t, "lookup") || conf_tok_is(t, "returns") ||
	    conf_tok_is(t, "weight") || conf_tok_is(t, "on-error");
}

int
conf_dns_list(struct conf_lex *lx, struct conf_tok *tok, struct tg_policy *pol)
{
	struct conf_dns d = { lx, tok, conf_dns_conf(pol) };
	const struct tg_dnslist *o;
	struct tg_dnslist l;
	const char *why;
	char pr[64];
	int ok = 1;

	memset(&l, 0, sizeof l);
	l.weight = 1;
	l.file = lx->file;
	conf_dns_next(&d);
	if (conf_dns_value(&d, "a list name") < 0)
		return -1;
	l.line = tok->line;
	tg_str_printable(pr, sizeof pr, tok->text);
	if (conf_name_check(tok->text, &why) < 0) {
		conf_tok_err(lx, tok, "dnslist name \"%s\" %s", pr, why);
		ok = 0;
	} else if ((o = tg_dnslist_find(d.c, tok->text)) != NULL) {
		conf_tok_err(lx, tok, "duplicate dnslist name \"%s\" (first "
		    "defined at %s:%d)", pr, o->file, o->line);
		ok = 0;
	}
	l.name = conf_tok_take(tok);
	conf_dns_next(&d);
	if (tok->type != CONF_T_STRING) {
		conf_dns_value(&d, "the list's quoted DNS zone");
		if (tok->type == CONF_T_WORD)
			conf_tok_err(lx, tok, "quote the DNS zone");
		free(l.name);
		return -1;
	}
	if (!tg_dns_name_valid(tok->text)) {
		conf_tok_err(lx, tok, "invalid DNS zone \"%s\"",
		    tg_str_printable(pr, sizeof pr, tok->text));
		ok = 0;
	}
	l.zone = conf_tok_take(tok);
	/* A final dot would give "...zone.." once appended. */
	if (l.zone[0] != '\0' && l.zone[strlen(l.zone) - 1] == '.')
		l.zone[strlen(l.zone) - 1] = '\0';
	conf_dns_next(&d);
	while (tok->type == CONF_T_WORD && conf_dns_is_option(tok))
		if (conf_dns_option(&d, &l) < 0) {
			ok = -1;
			break;
		}
	if (ok == 1) {
		d.c->lists = tg_xrealloc(d.c->lists, (d.c->nlists + 1) *
		    sizeof *d.c->lists);
		d.c->lists[d.c->nlists++] = l;
		return 0;
	}
	free(l.name);
	free(l.zone);
	free(l.match);
	return ok;
}

int
conf_dns_list_use(const struct tg_policy *pol, const char *name, int stage,
    char *msg, size_t msgsz)
{
	const struct tg_dnslist *l = tg_dnslist_find(pol->dns, name);
	char pr[64];

	tg_str_printable(pr, sizeof pr, name);
	if (l == NULL) {
		snprintf(msg, msgsz, "undefined dnslist \"%s\" (declare it "
		    "with dnslist before the rules that use it)", pr);
		return -1;
	}
	if (stage >= 0 && (int)tg_dnslist_stage(l) > stage) {
		snprintf(msg, msgsz, "dnslist \"%s\" looks up the %s, which is "
		    "not known at stage %s", pr, l->key == TG_DNSL_HELO ?
		    "HELO name" : "sender domain",
		    tg_stage_name((enum tg_stage)stage));
		return -1;
	}
	return 0;
}
