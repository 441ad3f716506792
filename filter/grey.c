/* grey.c - greylisting: builds a greylist's keys from the session (the
 * rate-limit key parts of rate.c, the addresses normalised first), runs
 * the check in the greylist's store, and says whether the rule defers.
 * At data and eom the triplets are those of every recipient the message
 * has, which the session keeps from rcpt on. Owns: the per-message state
 * (struct tg_grey_state). Threads: a session's state is used by its
 * connection only; stores are shared and thread-safe. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tg.h"
#include "tg_grey.h"
#include "tg_log.h"
#include "tg_metrics.h"
#include "tg_session.h"
#include "tg_store.h"

/* A recipient as it was at rcpt: its address and rcpt.domain (NULL when
 * unknown: a routed address). */
struct grey_rcpt {
	char	*addr;
	char	*domain;
};

struct tg_grey_state {
	struct grey_rcpt *r;
	size_t		  n, cap;
	int		  overflow;	/* more than TG_GREY_RCPTS_MAX */
	long long	  wait_s;	/* ${greylist_wait}, -1: none */
};

void
tg_greylist_free(struct tg_greylist *g)
{
	if (g == NULL)
		return;
	free(g->name);
	free(g->prefix);
	free(g->allow_prefix);
	free(g);
}

static struct tg_grey_state *
grey_state(struct tg_session *s)
{
	if (s->grey == NULL) {
		s->grey = tg_xcalloc(1, sizeof *s->grey);
		s->grey->wait_s = -1;
	}
	return s->grey;
}

void
tg_grey_txn_end(struct tg_session *s)
{
	struct tg_grey_state *gs = s->grey;

	if (gs == NULL)
		return;
	for (size_t i = 0; i < gs->n; i++) {
		free(gs->r[i].addr);
		free(gs->r[i].domain);
	}
	free(gs->r);
	free(gs);
	s->grey = NULL;
}

void
tg_grey_rcpt_note(const struct tg_policy *p, struct tg_session *s)
{
	struct tg_grey_state *gs;
	const char *a = s->val[TG_A_RCPT], *d = s->val[TG_A_RCPT_DOMAIN];

	if (p == NULL || !p->grey_rcpts || a == NULL)
		return;
	gs = grey_state(s);
	if (gs->n >= TG_GREY_RCPTS_MAX) {
		/* Not kept: a greylist rule at data or eom would not see
		 * this recipient's triplet, so it defers (tg_grey_apply). */
		if (!gs->overflow)
			tg_log_warnx("%s: more than %d recipients: greylisting "
			    "at data or eom cannot check them all", s->id,
			    TG_GREY_RCPTS_MAX);
		gs->overflow = 1;
		return;
	}
	if (gs->n == gs->cap) {
		gs->cap = gs->cap ? 2 * gs->cap : 8;
		gs->r = tg_xrealloc(gs->r, gs->cap * sizeof *gs->r);
	}
	gs->r[gs->n].addr = tg_xstrdup(a);
	gs->r[gs->n].domain = d != NULL ? tg_xstrdup(d) : NULL;
	gs->n++;
}

const char *
tg_grey_wait_var(const struct tg_session *s, char *buf, size_t bufsz)
{
	if (s->grey == NULL || s->grey->wait_s < 0)
		return NULL;
	snprintf(buf, bufsz, "%lld", s->grey->wait_s);
	return buf;
}

/* grey_prefixed - s starts with the word w (case-insensitive) followed by
 * one of the separators in seps; the rest after it, or NULL */
static const char *
grey_prefixed(const char *s, size_t len, const char *w, const char *seps)
{
	size_t n = strlen(w);

	if (len <= n || strncasecmp(s, w, n) != 0 ||
	    strchr(seps, s[n]) == NULL)
		return NULL;
	return s + n + 1;
}

/* grey_srs - an SRS address's original sender: SRS0=HHH=TT=domain=local
 * and SRS1=HHH=forwarder==HHH=TT=domain=local (the separator after SRS0
 * or SRS1 may be '=', '+' or '-'). 0 with the local part (*l, *ll) and
 * domain (*d, *dl) set, -1 when local (len bytes) is not one. */
static int
grey_srs(const char *local, size_t len, const char **l, size_t *ll,
    const char **d, size_t *dl)
{
	const char *end = local + len, *p, *f[3];

	if ((p = grey_prefixed(local, len, "srs1", "=+-")) != NULL) {
		/* Past the first forwarder: "HHH=forwarder" then the
		 * separator and the SRS0 fields. */
		if ((p = memchr(p, '=', (size_t)(end - p))) == NULL)
			return -1;
		for (p++; p + 1 < end; p++)
			if (p[0] == '=' && strchr("=+-", p[1]) != NULL)
				break;
		if (p + 1 >= end)
			return -1;
		p += 2;
	} else if ((p = grey_prefixed(local, len, "srs0", "=+-")) == NULL)
		return -1;
	/* hash = timestamp = domain = local */
	for (int i = 0; i < 3; i++) {
		if ((f[i] = memchr(p, '=', (size_t)(end - p))) == NULL)
			return -1;
		p = f[i] + 1;
	}
	*d = f[1] + 1;
	*dl = (size_t)(f[2] - *d);
	*l = f[2] + 1;
	*ll = (size_t)(end - *l);
	if (*dl == 0 || *ll == 0 || memchr(*d, '@', *dl) != NULL ||
	    memchr(*l, '"', *ll) != NULL)
		return -1;
	return 0;
}

/* grey_batv - a BATV address's mailbox: prvs=TAG=local; 0 or -1 */
static int
grey_batv(const char *local, size_t len, const char **l, size_t *ll)
{
	const char *p = grey_prefixed(local, len, "prvs", "="), *end;

	if (p == NULL || (end = memchr(p, '=', len - 5)) == NULL ||
	    end == p || end + 1 >= local + len)
		return -1;
	*l = end + 1;
	*ll = (size_t)(local + len - *l);
	return 0;
}

int
tg_grey_addr(const char *addr, int sender, char delim, char *out,
    size_t outsz)
{
	const char *at = strrchr(addr, '@'), *l = addr, *d = NULL, *q;
	size_t ll = at != NULL ? (size_t)(at - addr) : strlen(addr), dl = 0;

	if (at != NULL) {
		d = at + 1;
		dl = strlen(d);
	}
	/* Quoted or routed local parts are kept whole: what they name is
	 * the MTA's business, and cutting them could merge mailboxes. */
	if (ll > 0 && l[0] != '"' && memchr(l, '%', ll) == NULL &&
	    memchr(l, '!', ll) == NULL) {
		/* SRS: the forwarder's rewriting of the original sender,
		 * new every day; BATV: a tag new for every message. */
		if (sender && grey_srs(l, ll, &l, &ll, &d, &dl) == 0)
			(void)grey_batv(l, ll, &l, &ll);
		else if (sender)
			(void)grey_batv(l, ll, &l, &ll);
		/* Detail: list+bounces-123=example.org is one sender. */
		if (delim != '\0' && (q = memchr(l, delim, ll)) != NULL &&
		    q > l)
			ll = (size_t)(q - l);
	}
	/* By hand: snprintf here was a fifth of a check's instructions. */
	if (ll + (d != NULL ? 1 + dl : 0) >= outsz)
		return TG_ERR_TOOLONG;
	memcpy(out, l, ll);
	if (d != NULL) {
		out[ll++] = '@';
		memcpy(out + ll, d, dl);
		ll += dl;
	}
	out[ll] = '\0';
	return TG_OK;
}

/* grey_part - the value of key part k (NULL: unknown); buf holds it when
 * it had to be made */
static const char *
grey_part(const struct tg_greylist *g, const struct tg_limit_key *k,
    const struct tg_session *s, const char *rcpt, const char *rcpt_domain,
    char *buf, size_t bufsz)
{
	const char *v = s->val[k->attr], *at;
	struct tg_ip ip;

	switch (k->attr) {
	case TG_A_SENDER:
	case TG_A_SENDER_DOMAIN:
		/* The domain of the normalised sender: SRS's original. */
		if ((v = s->val[TG_A_SENDER]) == NULL)
			return NULL;
		/* A bounce: keyed by client and recipient only. */
		if (*v == '\0')
			return "<>";
		if (tg_grey_addr(v, 1, g->delim, buf, bufsz) < 0)
			return NULL;
		if (k->attr == TG_A_SENDER)
			return buf;
		return (at = strrchr(buf, '@')) != NULL ? at + 1 : "";
	case TG_A_RCPT:
		if ((v = rcpt != NULL ? rcpt : v) == NULL ||
		    tg_grey_addr(v, 0, g->delim, buf, bufsz) < 0)
			return NULL;
		return buf;
	case TG_A_RCPT_DOMAIN:
		return rcpt != NULL ? rcpt_domain : v;
	default:
		break;
	}
	if (tg_attrs[k->attr].type != TG_T_IP)
		return v;
	if (k->attr == TG_A_CLIENT_ADDRESS && s->client_ip_ok)
		ip = s->client_ip;
	else if (v == NULL || tg_ip_parse(v, &ip) != 0)
		return NULL;
	tg_rate_key_ip(&ip, k, buf, bufsz);
	return buf;
}

int
tg_grey_key(const struct tg_greylist *g, const struct tg_session *s,
    const char *rcpt, const char *rcpt_domain, char *key, size_t keysz)
{
	size_t o = strlen(g->prefix);
	char buf[TG_LIMIT_KEY_MAX];
	const char *v;

	if (o + 1 >= keysz)
		return TG_ERR_TOOLONG;
	memcpy(key, g->prefix, o + 1);
	for (size_t i = 0; i < g->nkeys; i++) {
		v = grey_part(g, &g->keys[i], s, rcpt, rcpt_domain, buf,
		    sizeof buf);
		if (v != NULL) {
			if (tg_rate_key_part(key, keysz, &o, v) < 0)
				return TG_ERR_TOOLONG;
			continue;
		}
		/* Unknown: "\?", which no written value can be (a value's
		 * '\' is doubled), so such clients share one triplet and
		 * are greylisted all the same, never let through. */
		if (o + 3 >= keysz)
			return TG_ERR_TOOLONG;
		memcpy(key + o, "|\\?", 4);
		o += 3;
	}
	return TG_OK;
}

int
tg_grey_allow_key(const struct tg_greylist *g, const struct tg_session *s,
    char *key, size_t keysz)
{
	size_t o = strlen(g->allow_prefix);
	char buf[80];
	const char *v;

	if (g->client_key < 0)
		return 1;
	if ((v = grey_part(g, &g->keys[g->client_key], s, NULL, NULL, buf,
	    sizeof buf)) == NULL)
		return 1;
	if (o + 1 >= keysz)
		return TG_ERR_TOOLONG;
	memcpy(key, g->allow_prefix, o + 1);
	return tg_rate_key_part(key, keysz, &o, v);
}

static int
grey_keycmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* grey_failed - the store failed (or a key could not be built): logged
 * loudly and counted; FAIL when the greylist fails closed */
static enum tg_grey_outcome
grey_failed(const struct tg_session *s, const struct tg_greylist *g,
    const char *why, int dry_run)
{
	tg_metrics_error(TG_M_STORE_ERROR);
	tg_metrics_grey(TG_M_GREY_FAILED);
	tg_log_err("%s: greylist %s: %s; %s", s->id, g->name, why,
	    g->on_error_skip || dry_run ? "not greylisted, mail passes" :
	    "tempfail");
	return g->on_error_skip || dry_run ? TG_GREY_PASS : TG_GREY_FAIL;
}

/* grey_log - one line per check that deferred or passed after its delay
 * (a known triplet or an allowed client: at debug level) */
static void
grey_log(const struct tg_session *s, const struct tg_greylist *g,
    const char *what, const char *key, size_t n, int dry_run)
{
	char pr[256];

	tg_log_info("%s: %s: greylist %s: %s%s %s%s", s->id,
	    s->queue_id != NULL ? s->queue_id : "NOQUEUE", g->name,
	    dry_run ? "dry-run: would be " : "", what,
	    tg_str_printable(pr, sizeof pr, key), n > 1 ? " (and other "
	    "recipients)" : "");
}

/* grey_keys - the triplet keys of this check into keys (n, each
 * allocated), sorted and each once; TG_OK or TG_ERR_TOOLONG */
static int
grey_keys(const struct tg_greylist *g, struct tg_session *s,
    enum tg_stage st, char ***keys, size_t *n)
{
	struct tg_grey_state *gs = s->grey;
	char key[TG_LIMIT_KEY_MAX];
	size_t want = st == TG_STAGE_RCPT ? 1 : gs->n, k = 0;
	int rc = TG_OK;

	*keys = tg_xcalloc(want, sizeof **keys);
	for (size_t i = 0; i < want && rc == TG_OK; i++) {
		rc = st == TG_STAGE_RCPT ? tg_grey_key(g, s, NULL, NULL, key,
		    sizeof key) : tg_grey_key(g, s, gs->r[i].addr,
		    gs->r[i].domain, key, sizeof key);
		if (rc == TG_OK)
			(*keys)[k++] = tg_xstrdup(key);
	}
	/* Two recipients with one key (bob and Bob+x) are one triplet. */
	qsort(*keys, k, sizeof **keys, grey_keycmp);
	*n = 0;
	for (size_t i = 0; i < k; i++) {
		if (*n > 0 && strcmp((*keys)[*n - 1], (*keys)[i]) == 0)
			free((*keys)[i]);
		else
			(*keys)[(*n)++] = (*keys)[i];
	}
	return rc;
}

static void
grey_keys_free(char **keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
}

/* grey_result - what the store found for the n triplets: PASS unless one
 * is new or early, then DEFER with the longest wait; logged, counted */
static enum tg_grey_outcome
grey_result(struct tg_session *s, const struct tg_greylist *g,
    char *const *keys, const struct tg_grey_out *out, size_t n, int dry_run)
{
	static const enum tg_metric_grey m[] = {
		[TG_GREY_NEW] = TG_M_GREY_DEFERRED,
		[TG_GREY_EARLY] = TG_M_GREY_EARLY,
		[TG_GREY_RETRIED] = TG_M_GREY_PASSED,
		[TG_GREY_KNOWN] = TG_M_GREY_KNOWN,
	};
	int64_t wait = -1;
	size_t first = n, retried = n;
	char what[96];

	for (size_t i = 0; i < n; i++) {
		tg_metrics_grey(m[out[i].res]);
		if (out[i].res == TG_GREY_NEW || out[i].res == TG_GREY_EARLY) {
			if (out[i].wait_ms > wait)
				wait = out[i].wait_ms;
			if (first == n)
				first = i;
		} else if (out[i].res == TG_GREY_RETRIED && retried == n)
			retried = i;
	}
	if (wait < 0) {
		if (retried < n)
			grey_log(s, g, "passed after its delay:", keys[retried],
			    n, 0);
		else
			tg_log_debug("%s: greylist %s: known triplet %s",
			    s->id, g->name, keys[0]);
		return TG_GREY_PASS;
	}
	/* Rounded up, at least 1: "try again in 0 seconds" would be
	 * retried before it passes. */
	(void)grey_state(s);
	s->grey->wait_s = (wait + 999) / 1000 > 0 ? (wait + 999) / 1000 : 1;
	snprintf(what, sizeof what, "%s, %llds left:",
	    out[first].res == TG_GREY_NEW ? "first attempt deferred" :
	    "retried too early, deferred", s->grey->wait_s);
	grey_log(s, g, what, keys[first], n, dry_run);
	return dry_run ? TG_GREY_PASS : TG_GREY_DEFER;
}

enum tg_grey_outcome
tg_grey_apply(const struct tg_policy *p, struct tg_session *s,
    const struct tg_greylist *g, enum tg_stage st, int dry_run)
{
	struct tg_grey_state *gs = s->grey;
	struct tg_grey_req req;
	struct tg_grey_out out1, *out = &out1;
	char allow[TG_LIMIT_KEY_MAX], key1[TG_LIMIT_KEY_MAX], *k1 = key1;
	char **keys = &k1;
	enum tg_grey_outcome rc;
	size_t n = 1;
	int allowed, arc, krc;

	(void)p;
	if (gs != NULL)
		gs->wait_s = -1;
	if (st != TG_STAGE_RCPT && (gs == NULL || gs->overflow ||
	    gs->n == 0)) {
		/* Triplets not all known: the worst case, a deferral. No
		 * record is made, so the retry meets the same: send fewer
		 * recipients, or greylist at rcpt. */
		gs = grey_state(s);
		gs->wait_s = g->delay_ms / 1000;
		tg_log_warnx("%s: greylist %s: %s; %sdeferred", s->id, g->name,
		    gs->overflow ? "more recipients than greylisting at "
		    "data or eom can check" : "no recipient known",
		    dry_run ? "dry-run: would be " : "");
		tg_metrics_grey(TG_M_GREY_DEFERRED);
		return dry_run ? TG_GREY_PASS : TG_GREY_DEFER;
	}
	if (g->store == NULL || g->store->grey == NULL)
		return grey_failed(s, g, "its store keeps no greylisting",
		    dry_run);
	arc = g->allow_n > 0 ? tg_grey_allow_key(g, s, allow, sizeof allow) :
	    1;
	/* At rcpt one triplet, on the stack: the common case allocates
	 * nothing. */
	krc = st == TG_STAGE_RCPT ? tg_grey_key(g, s, NULL, NULL, key1,
	    sizeof key1) : grey_keys(g, s, st, &keys, &n);
	if (krc < 0 || arc < 0) {
		if (keys != &k1)
			grey_keys_free(keys, n);
		return grey_failed(s, g, "key too long", dry_run);
	}
	memset(&req, 0, sizeof req);
	req.allow_key = arc == TG_OK ? allow : NULL;
	req.keys = (const char *const *)keys;
	req.nkeys = n;
	req.delay_ms = g->delay_ms;
	req.window_ms = g->window_ms;
	req.expire_ms = g->expire_ms;
	req.allow_n = g->allow_n;
	req.allow_ms = g->allow_ms;
	if (n > 1)
		out = tg_xcalloc(n, sizeof *out);
	if (g->store->grey->check(g->store, &req, &allowed, out) < 0) {
		char why[64];

		snprintf(why, sizeof why, "%s store unavailable",
		    g->store->ops->name);
		rc = grey_failed(s, g, why, dry_run);
	} else if (allowed) {
		tg_metrics_grey(TG_M_GREY_ALLOWED);
		tg_log_debug("%s: greylist %s: client on the auto-allow list "
		    "(%s)", s->id, g->name, allow);
		rc = TG_GREY_PASS;
	} else
		rc = grey_result(s, g, keys, out, n, dry_run);
	if (out != &out1)
		free(out);
	if (keys != &k1)
		grey_keys_free(keys, n);
	return rc;
}
