/* lookup.c - table lookups for conditions: the key each attribute gives
 * and its fallbacks, and per-key limits for comparisons
 * ("rcpt.count > rcpt_limits[sasl.login] default 100").
 * Owns: nothing. Threads: read-only on tables; one session per caller. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "tg.h"
#include "tg_log.h"
#include "tg_lookup.h"
#include "tg_table.h"
#include "conf.h"

static int
lookup_is_domain(enum tg_attr a)
{
	return a == TG_A_RCPT_DOMAIN || a == TG_A_SENDER_DOMAIN ||
	    a == TG_A_HELO || a == TG_A_CLIENT_NAME;
}

int
tg_lookup_attr(const struct tg_session *s, enum tg_attr a,
    const struct tg_table *t, const char **value)
{
	struct tg_ip ip;
	const char *v;

	if (tg_attrs[a].type == TG_T_IP) {
		if (a == TG_A_CLIENT_ADDRESS && s->client_ip_ok)
			ip = s->client_ip;
		else if (a == TG_A_CLIENT_ADDRESS || s->val[a] == NULL ||
		    tg_ip_parse(s->val[a], &ip) != 0)
			return 0;
		return tg_table_lookup_ip(t, &ip, value);
	}
	if ((v = s->val[a]) == NULL)
		return 0;
	/* "user%other@local" must not match "@local" or "local": the MTA
	 * may deliver it to "other". */
	if (a == TG_A_RCPT && s->rcpt_routed)
		return tg_table_lookup(t, v, value);
	if (tg_attrs[a].type == TG_T_ADDR)
		return tg_table_lookup_addr(t, v, value);
	if (lookup_is_domain(a))
		return tg_table_lookup_domain(t, v, value);
	return tg_table_lookup(t, v, value);
}

/* lookup_found - the value of e after its table lookup gave rc and v */
static int
lookup_found(const struct tg_session *s, const struct tg_expr *e, int rc,
    const char *v, long long *num, const char **str)
{
	char pr[64];

	if (rc < 0)
		return -1;
	if (rc == 0) {
		if (!e->has_default)
			return 0;
		*num = e->num;
		*str = e->str;
		return 1;
	}
	if (tg_attrs[e->attr].type != TG_T_NUM) {
		*str = v;
		return 1;
	}
	/* Checked when the policy was loaded; a table that changed since is
	 * only read again with the policy, so this is a bug if it shows. */
	if (conf_number_parse(v, num) < 0) {
		tg_log_warnx("%s: table %s: value \"%s\" is not a number",
		    s->id, tg_table_name(e->vtable),
		    tg_str_printable(pr, sizeof pr, v));
		return -1;
	}
	return 1;
}

int
tg_lookup_value(const struct tg_session *s, const struct tg_expr *e,
    long long *num, const char **str)
{
	const char *v = NULL;
	int rc = tg_lookup_attr(s, e->vattr, e->vtable, &v);

	return lookup_found(s, e, rc, v, num, str);
}

int
tg_lookup_value_key(const struct tg_session *s, const struct tg_expr *e,
    const char *key, long long *num, const char **str)
{
	const char *v = NULL;
	int rc = key != NULL ? tg_table_lookup(e->vtable, key, &v) : 0;

	return lookup_found(s, e, rc, v, num, str);
}
