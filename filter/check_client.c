/* check_client.c - the client's name from DNS: PTR records of its address
 * (client.rdns, client.ptr) and whether one of those names resolves back
 * to the address (client.fcrdns, forward-confirmed reverse DNS). Two
 * rounds at most: the PTR query, then A or AAAA of every name in parallel.
 * Owns: nothing beyond the session's state. Threads: one session. */
#include "config.h"

#include <string.h>

#include "tg.h"
#include "tg_dns.h"
#include "tg_log.h"
#include "check.h"

#define CLIENT_NAMES_MAX	CHECK_CLIENT_NAMES

/* client_forward - does one of the names in ptr resolve to the client? */
static int
client_forward(const struct tg_dns_conf *c, struct tg_session *s,
    const struct tg_dns_query *ptr)
{
	struct tg_dns_query q[CLIENT_NAMES_MAX];
	size_t n = 0;
	int found = 0, failed = 0;

	for (size_t i = 0; i < ptr->n && n < CLIENT_NAMES_MAX; i++)
		if (tg_dns_name_valid(ptr->str[i]) &&
		    tg_dns_query_init(&q[n], ptr->str[i],
		    s->client_ip.family == 4 ? TG_DNS_A : TG_DNS_AAAA) == 0)
			n++;
	(void)tg_dns_resolve(c->dns, q, n);
	for (size_t i = 0; i < n; i++) {
		if (q[i].status == TG_DNS_FAIL)
			failed = 1;
		for (size_t k = 0; k < q[i].n; k++)
			if (q[i].ip[k].family == s->client_ip.family &&
			    memcmp(q[i].ip[k].b, s->client_ip.b,
			    sizeof q[i].ip[k].b) == 0)
				found = 1;
		tg_dns_query_clear(&q[i]);
	}
	/* One confirmed name is enough, whatever happened to the others. */
	return found ? 1 : failed ? CHECK_FAILED : 0;
}

static void
client_lookup(const struct tg_dns_conf *c, struct tg_session *s,
    struct tg_check_state *st)
{
	struct tg_dns_query q;
	char name[TG_DNS_NAME_MAX];

	st->ptr = st->fcrdns = CHECK_FAILED;
	if (!s->client_ip_ok || tg_dns_reverse_name(&s->client_ip, NULL,
	    name, sizeof name) < 0 || tg_dns_query_init(&q, name,
	    TG_DNS_PTR) < 0) {
		st->ptr = st->fcrdns = 0;	/* no address: no name */
		return;
	}
	(void)tg_dns_resolve(c->dns, &q, 1);
	switch (q.status) {
	case TG_DNS_OK:
		st->ptr = 1;
		st->ptr_name = tg_xstrdup(q.str[0]);
		st->fcrdns = client_forward(c, s, &q);
		break;
	case TG_DNS_NXDOMAIN:
	case TG_DNS_NODATA:
		st->ptr = st->fcrdns = 0;
		break;
	default:
		tg_log_warnx("%s: PTR lookup of %s failed", s->id, name);
		break;
	}
	if (st->fcrdns == CHECK_FAILED && st->ptr == 1)
		tg_log_warnx("%s: forward lookup of %s failed", s->id,
		    st->ptr_name);
	tg_dns_query_clear(&q);
}

int
check_client(const struct tg_dns_conf *c, struct tg_session *s,
    struct tg_check_state *st, enum tg_attr a, const char **val,
    const char **why)
{
	int r;

	if (st->ptr == CHECK_UNASKED)
		client_lookup(c, s, st);
	r = a == TG_A_CLIENT_FCRDNS ? st->fcrdns : st->ptr;
	if (r == CHECK_FAILED && a == TG_A_CLIENT_PTR) {
		/* As Postfix: the name is unknown, patterns do not match. */
		*val = NULL;
		return 0;
	}
	if (r == CHECK_FAILED) {
		*why = a == TG_A_CLIENT_FCRDNS ?
		    "forward lookup of the client name failed" :
		    "reverse lookup of the client address failed";
		return -1;
	}
	if (a == TG_A_CLIENT_PTR)
		*val = st->ptr_name != NULL ? st->ptr_name : "";
	else
		*val = r ? "1" : "";
	return 0;
}
