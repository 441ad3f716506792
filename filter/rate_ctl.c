/* rate_ctl.c - operator commands on rate-limit counters: list the limits
 * of a policy, show or reset the counter of one key. The daemon's control
 * socket (control.c) and the tests call tg_rate_ctl(). Owns: nothing.
 * Threads: reads the policy; the stores are thread-safe. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "tg.h"
#include "ctl_cmd.h"
#include "tg_rate.h"
#include "tg_session.h"
#include "tg_store.h"

#define CTL_WORDS	(TG_LIMIT_KEYS_MAX + 2)

static const struct tg_limit *
ctl_limit(const struct tg_policy *p, const char *name)
{
	for (size_t i = 0; p != NULL && i < p->nlimits; i++)
		if (strcmp(p->limits[i]->name, name) == 0)
			return p->limits[i];
	return NULL;
}

/* ctl_list - one line per limit */
static int
ctl_list(const struct tg_policy *p, char *out, size_t outsz)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; p != NULL && i < p->nlimits && o < outsz; i++) {
		const struct tg_limit *l = p->limits[i];
		int n;

		n = snprintf(out + o, outsz - o, "%s: %lld %s per %llds "
		    "(store %s)\n", l->name, (long long)l->max,
		    tg_rate_count_name(l->count),
		    (long long)(l->window_ms / 1000), l->store->ops->name);
		o = n > 0 ? o + (size_t)n : o;
	}
	if (o == 0)
		return tg_ctl_say(out, outsz, 0, "no limits\n");
	return 0;
}

int
tg_rate_ctl(const struct tg_policy *p, const char *line, char *out,
    size_t outsz)
{
	char buf[TG_LIMIT_KEY_MAX], key[TG_LIMIT_KEY_MAX], *w[CTL_WORDS];
	const struct tg_limit *l;
	struct tg_session s;
	int64_t value;
	int n, rc;

	if (tg_strlcpy(buf, line, sizeof buf) >= sizeof buf ||
	    (n = tg_ctl_split(buf, w, CTL_WORDS)) < 0)
		return tg_ctl_say(out, outsz, -1, "error: command too long\n");
	if (n == 1 && strcmp(w[0], "limits") == 0)
		return ctl_list(p, out, outsz);
	if (n < 2 || (strcmp(w[0], "show") != 0 && strcmp(w[0], "reset") != 0))
		return tg_ctl_say(out, outsz, -1, "error: usage: limits | show "
		    "LIMIT VALUE... | reset LIMIT VALUE...\n");
	if ((l = ctl_limit(p, w[1])) == NULL)
		return tg_ctl_say(out, outsz, -1, "error: no limit \"%.64s\"\n",
		    w[1]);
	if ((size_t)n - 2 != l->nkeys)
		return tg_ctl_say(out, outsz, -1, "error: limit %s is keyed on "
		    "%zu value(s), got %d\n", l->name, l->nkeys, n - 2);
	/* The key is built as for a session with these values, so it is
	 * normalised (addresses, ip prefixes) the same way. */
	tg_session_init(&s, "ctl");
	rc = 0;
	for (size_t i = 0; i < l->nkeys; i++)
		if (tg_session_set(&s, l->keys[i].attr, w[2 + i]) != TG_OK)
			rc = -1;
	if (rc == 0)
		rc = tg_rate_key(l, &s, key, sizeof key);
	tg_session_free(&s);
	if (rc == TG_ERR_TOOLONG)
		return tg_ctl_say(out, outsz, -1, "error: key too long for "
		    "limit %s\n", l->name);
	if (rc != 0)
		return tg_ctl_say(out, outsz, -1, "error: invalid value for "
		    "limit %s\n", l->name);
	if (strcmp(w[0], "reset") == 0) {
		if (l->store->ops->reset(l->store, key) < 0)
			return tg_ctl_say(out, outsz, -1, "error: %s store "
			    "unavailable\n", l->store->ops->name);
		return tg_ctl_say(out, outsz, 0, "%s: reset\n", key);
	}
	if (l->store->ops->get(l->store, key, l->window_ms, &value) < 0)
		return tg_ctl_say(out, outsz, -1,
		    "error: %s store unavailable\n", l->store->ops->name);
	return tg_ctl_say(out, outsz, 0, "%s: %lld of %lld\n", key,
	    (long long)value, (long long)l->max);
}

/* tg_rate_describe - what "limit NAME exceeded" looked at, for the trace
 * (tollgate-test -v): the counter's key and its value now, in the words
 * of "tollgatectl show"; the counter is only read */
void
tg_rate_describe(const struct tg_session *s, const struct tg_limit *l,
    enum tg_stage st, char *out, size_t outsz)
{
	char key[TG_LIMIT_KEY_MAX], pkey[300];
	int64_t value;
	int rc;

	if ((rc = tg_rate_key(l, s, key, sizeof key)) > 0) {
		tg_ctl_say(out, outsz, 0, "a part of the key is unknown: not "
		    "counted");
		return;
	}
	if (rc < 0 || l->store->ops->get(l->store, key, l->window_ms,
	    &value) < 0) {
		tg_ctl_say(out, outsz, 0, "%s store lookup failed",
		    l->store->ops->name);
		return;
	}
	tg_str_printable(pkey, sizeof pkey, key);
	tg_ctl_say(out, outsz, 0, "%s: %lld of %lld%s", pkey, (long long)value,
	    (long long)l->max, st == l->stage ? ", this event included if "
	    "there was room" : ", read only at this stage");
}
