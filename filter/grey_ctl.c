/* grey_ctl.c - operator commands on greylisting records: list the
 * greylists of a policy, list a greylist's records, show, delete or allow
 * one triplet or one client's auto-allow entry (a support desk lets a
 * customer's partner through without waiting for its retry). The daemon's
 * control socket (control.c) and the tests call tg_grey_ctl(). Owns:
 * nothing. Threads: reads the policy; the stores are thread-safe. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "ctl_cmd.h"
#include "tg_addr.h"
#include "tg_grey.h"
#include "tg_session.h"
#include "tg_store.h"

#define GCTL_WORDS	(TG_LIMIT_KEYS_MAX + 4)
#define GCTL_LIST_DEFAULT	100
#define GCTL_LIST_MAX		500

static const struct tg_greylist *
gctl_find(const struct tg_policy *p, const char *name)
{
	for (size_t i = 0; p != NULL && i < p->ngreylists; i++)
		if (strcmp(p->greylists[i]->name, name) == 0)
			return p->greylists[i];
	return NULL;
}

/* gctl_secs - ms as whole seconds, rounded up */
static long long
gctl_secs(int64_t ms)
{
	return ms <= 0 ? 0 : (long long)((ms + 999) / 1000);
}

/* gctl_describe - one record as a line into out */
static void
gctl_describe(const struct tg_greylist *g, const char *key,
    const struct tg_store_rec *r, int64_t now, char *out, size_t outsz)
{
	long long left = gctl_secs(r->expires - now);

	switch (r->state) {
	case TG_GREY_PENDING:
		if (now - r->since < g->delay_ms)
			snprintf(out, outsz, "%s: first attempt %llds ago, a "
			    "retry passes in %llds, forgotten in %llds\n", key,
			    (long long)((now - r->since) / 1000),
			    gctl_secs(g->delay_ms - (now - r->since)), left);
		else
			snprintf(out, outsz, "%s: first attempt %llds ago, a "
			    "retry passes now, forgotten in %llds\n", key,
			    (long long)((now - r->since) / 1000), left);
		break;
	case TG_GREY_PASSED:
		snprintf(out, outsz, "%s: passed, forgotten in %llds unless "
		    "used\n", key, left);
		break;
	case TG_GREY_COUNTING:
		snprintf(out, outsz, "%s: %lld of %lld passes towards "
		    "auto-allow, forgotten in %llds\n", key, (long long)r->n,
		    (long long)g->allow_n, left);
		break;
	case TG_GREY_ALLOWED:
		snprintf(out, outsz, "%s: allowed, for %llds unless used\n",
		    key, left);
		break;
	default:
		snprintf(out, outsz, "%s: not known\n", key);
	}
}

static int
gctl_greylists(const struct tg_policy *p, char *out, size_t outsz)
{
	size_t o = 0;
	int n;

	out[0] = '\0';
	for (size_t i = 0; p != NULL && i < p->ngreylists && o < outsz; i++) {
		const struct tg_greylist *g = p->greylists[i];
		char allow[64];

		if (g->allow_n > 0)
			snprintf(allow, sizeof allow, "%lld passes for %llds",
			    (long long)g->allow_n,
			    (long long)(g->allow_ms / 1000));
		else
			tg_strlcpy(allow, "off", sizeof allow);
		n = snprintf(out + o, outsz - o, "%s: delay %llds, "
		    "retry-window %llds, expire %llds, auto-allow %s (store "
		    "%s)\n", g->name, (long long)(g->delay_ms / 1000),
		    (long long)(g->window_ms / 1000),
		    (long long)(g->expire_ms / 1000), allow,
		    g->store->ops->name);
		o = n > 0 ? o + (size_t)n : o;
	}
	if (o == 0)
		return tg_ctl_say(out, outsz, 0, "no greylists\n");
	return 0;
}

struct gctl_list {
	const struct tg_greylist *g;
	char		*out;
	size_t		 outsz, o, shown, want;
	int		 more;
};

static int
gctl_list_one(const char *key, const struct tg_store_rec *r, int64_t now,
    void *arg)
{
	struct gctl_list *l = arg;
	char line[TG_LIMIT_KEY_MAX + 160];
	size_t n;

	if (l->shown == l->want) {
		l->more = 1;
		return -1;
	}
	gctl_describe(l->g, key, r, now, line, sizeof line);
	n = strlen(line);
	if (l->o + n + 64 >= l->outsz) {
		l->more = 1;
		return -1;
	}
	memcpy(l->out + l->o, line, n + 1);
	l->o += n;
	l->shown++;
	return 0;
}

static int
gctl_list(const struct tg_greylist *g, const char *count, char *out,
    size_t outsz)
{
	struct gctl_list l = { g, out, outsz, 0, 0, GCTL_LIST_DEFAULT, 0 };
	long long n;
	char *end;

	if (count != NULL) {
		n = strtoll(count, &end, 10);
		if (*end != '\0' || n < 1 || n > GCTL_LIST_MAX)
			return tg_ctl_say(out, outsz, -1,
			    "error: COUNT is 1 to %d\n", GCTL_LIST_MAX);
		l.want = (size_t)n;
	}
	out[0] = '\0';
	if (g->store->grey->list(g->store, g->prefix, l.want + 1,
	    gctl_list_one, &l) < 0)
		return tg_ctl_say(out, outsz, -1, "error: %s store "
		    "unavailable\n", g->store->ops->name);
	snprintf(out + l.o, outsz - l.o, "%zu record(s) shown%s\n", l.shown,
	    l.more ? "; more not listed" : "");
	return 0;
}

/* gctl_key - the key the values name (client: the auto-allow entry of
 * one address), built as for a session with them */
static int
gctl_key(const struct tg_greylist *g, int client, char **v, int nv,
    char *key, size_t keysz, char *out, size_t outsz)
{
	struct tg_session s;
	char buf[2 * TG_ADDR_MAX];
	int rc = 0;

	if (client ? nv != 1 : (size_t)nv != g->nkeys)
		return tg_ctl_say(out, outsz, -1, client ?
		    "error: client takes one address\n" :
		    "error: greylist %s is keyed on %zu value(s), got %d\n",
		    g->name, g->nkeys, nv);
	if (client && g->client_key < 0)
		return tg_ctl_say(out, outsz, -1, "error: greylist %s has no "
		    "client.address in its key, so no auto-allow entries\n",
		    g->name);
	tg_session_init(&s, "ctl");
	for (int i = 0; i < nv && rc == 0; i++) {
		enum tg_attr a = client ? TG_A_CLIENT_ADDRESS :
		    g->keys[i].attr;

		/* A domain is set through an address of it. */
		if (a == TG_A_SENDER_DOMAIN || a == TG_A_RCPT_DOMAIN) {
			snprintf(buf, sizeof buf, "x@%s", v[i]);
			rc = tg_session_set(&s, a == TG_A_RCPT_DOMAIN ?
			    TG_A_RCPT : TG_A_SENDER, buf);
		} else
			rc = tg_session_set(&s, a, v[i]);
	}
	if (rc == 0)
		rc = client ? tg_grey_allow_key(g, &s, key, keysz) :
		    tg_grey_key(g, &s, NULL, NULL, key, keysz);
	tg_session_free(&s);
	if (rc != 0)
		return tg_ctl_say(out, outsz, -1, "error: invalid value for "
		    "greylist %s\n", g->name);
	return 0;
}

/* gctl_record - show, delete or allow one record */
static int
gctl_record(const struct tg_greylist *g, const char *verb, char **v, int nv,
    char *out, size_t outsz)
{
	struct tg_store *st = g->store;
	char key[TG_LIMIT_KEY_MAX];
	struct tg_store_rec r;
	int client = nv > 0 && strcmp(v[0], "client") == 0;
	int64_t now;
	int rc;

	if (gctl_key(g, client, v + client, nv - client, key, sizeof key,
	    out, outsz) < 0)
		return -1;
	if (strcmp(verb, "delete") == 0)
		rc = st->ops->reset(st, key);
	else if (strcmp(verb, "allow") == 0)
		rc = client ? st->grey->set(st, key, TG_GREY_ALLOWED,
		    g->allow_ms > 0 ? g->allow_ms : g->expire_ms) :
		    st->grey->set(st, key, TG_GREY_PASSED, g->expire_ms);
	else
		rc = TG_OK;
	if (rc == TG_OK)
		rc = st->grey->get(st, key, &r, &now);
	if (rc < 0)
		return tg_ctl_say(out, outsz, -1, "error: %s store "
		    "unavailable\n", st->ops->name);
	gctl_describe(g, key, &r, now, out, outsz);
	return 0;
}

int
tg_grey_ctl(const struct tg_policy *p, const char *line, char *out,
    size_t outsz)
{
	char buf[TG_LIMIT_KEY_MAX], *w[GCTL_WORDS];
	const struct tg_greylist *g;
	int n;

	if (tg_strlcpy(buf, line, sizeof buf) >= sizeof buf ||
	    (n = tg_ctl_split(buf, w, GCTL_WORDS)) < 0)
		return tg_ctl_say(out, outsz, -1, "error: command too long\n");
	if (n == 1 && strcmp(w[0], "greylists") == 0)
		return gctl_greylists(p, out, outsz);
	if (n < 3 || strcmp(w[0], "greylist") != 0)
		return tg_ctl_say(out, outsz, -1, "error: usage: greylists | "
		    "greylist NAME list [COUNT] | greylist NAME "
		    "show|delete|allow VALUE... | greylist NAME "
		    "show|delete|allow client ADDRESS\n");
	if ((g = gctl_find(p, w[1])) == NULL)
		return tg_ctl_say(out, outsz, -1, "error: no greylist "
		    "\"%.64s\"\n", w[1]);
	if (g->store == NULL || g->store->grey == NULL)
		return tg_ctl_say(out, outsz, -1, "error: greylist %s has no "
		    "store\n", g->name);
	if (strcmp(w[2], "list") == 0 && n <= 4)
		return gctl_list(g, n == 4 ? w[3] : NULL, out, outsz);
	if (strcmp(w[2], "show") == 0 || strcmp(w[2], "delete") == 0 ||
	    strcmp(w[2], "allow") == 0)
		return gctl_record(g, w[2], w + 3, n - 3, out, outsz);
	return tg_ctl_say(out, outsz, -1, "error: greylist %s: unknown command "
	    "\"%.32s\" (list, show, delete, allow)\n", g->name, w[2]);
}
