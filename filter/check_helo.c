/* check_helo.c - HELO/EHLO conditions: syntax (RFC 5321 domain or address
 * literal), fully qualified, a bare IP without brackets, a claim to be us
 * (our host name or the address the client connected to), and whether
 * the name resolves (A, AAAA or MX, as Postfix's
 * reject_unknown_helo_hostname asks; A first, the others only without).
 * Owns: nothing beyond the session's state. Threads: one session. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tg.h"
#include "tg_dns.h"
#include "tg_log.h"
#include "check.h"

static const unsigned char helo_loopback6[16] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
};

/* helo_ours - HELO is our name, or an address of ours. */
static int
helo_ours(const struct tg_session *s, const char *helo)
{
	const char *me = s->val[TG_A_MTA_NAME];
	const char *la = s->val[TG_A_LISTENER_ADDRESS];
	struct tg_ip hip, lip;
	size_t len = strlen(helo);

	if (me != NULL && *me != '\0' && (strcasecmp(helo, me) == 0 ||
	    (len > 0 && helo[len - 1] == '.' && strlen(me) == len - 1 &&
	    strncasecmp(helo, me, len - 1) == 0)))
		return 1;
	/* tg_ip_parse() takes "[1.2.3.4]" and "[IPv6:...]" too, in any
	 * spelling (zeros written out or not), and folds IPv4-mapped
	 * IPv6 (::ffff:127.0.0.1) into IPv4. */
	if (tg_ip_parse(helo, &hip) < 0)
		return 0;
	/* A loopback address is never the client's: 127/8 and ::1. */
	if (hip.family == 4 && hip.b[0] == 127)
		return 1;
	if (hip.family == 6 && memcmp(hip.b, helo_loopback6, 16) == 0)
		return 1;
	if (la != NULL && tg_ip_parse(la, &lip) == 0 &&
	    hip.family == lip.family && memcmp(hip.b, lip.b, 16) == 0)
		return 1;
	return 0;
}

/* helo_resolve - A of the HELO name first: most names have one, and
 * then one query is enough. Only when the name exists without one
 * (NODATA) AAAA and MX in parallel. NXDOMAIN means the name has no
 * record of any type; a failed A lookup tempfails at once, as a failed
 * AAAA or MX lookup does, rather than wait for a second timeout. */
static int
helo_resolve(const struct tg_dns_conf *c, const struct tg_session *s,
    const char *helo)
{
	struct tg_dns_query q[2];
	int found = 0, failed = 0;

	(void)tg_dns_query_init(&q[0], helo, TG_DNS_A);
	(void)tg_dns_resolve(c->dns, q, 1);
	if (q[0].status == TG_DNS_OK)
		found = 1;
	else if (q[0].status == TG_DNS_FAIL)
		failed = 1;
	else if (q[0].status == TG_DNS_NODATA) {
		tg_dns_query_clear(&q[0]);
		(void)tg_dns_query_init(&q[0], helo, TG_DNS_AAAA);
		(void)tg_dns_query_init(&q[1], helo, TG_DNS_MX);
		(void)tg_dns_resolve(c->dns, q, 2);
		for (size_t i = 0; i < 2; i++) {
			if (q[i].status == TG_DNS_OK)
				found = 1;
			else if (q[i].status == TG_DNS_FAIL)
				failed = 1;
		}
		tg_dns_query_clear(&q[1]);
	}
	tg_dns_query_clear(&q[0]);
	if (!found && failed)
		tg_log_warnx("%s: lookup of HELO name failed", s->id);
	return found ? 1 : failed ? CHECK_FAILED : 0;
}

int
check_helo(const struct tg_dns_conf *c, struct tg_session *s,
    struct tg_check_state *st, enum tg_attr a, const char **val,
    const char **why)
{
	const char *helo = s->val[TG_A_HELO];
	enum tg_helo_kind kind;
	int r = 0;

	*val = NULL;
	if (helo == NULL)	/* no HELO (yet): unknown */
		return 0;
	kind = tg_helo_kind(helo);
	switch (a) {
	case TG_A_HELO_VALID:
		r = kind == TG_HELO_DOMAIN || kind == TG_HELO_LITERAL;
		break;
	case TG_A_HELO_FQDN:
		/* RFC 5321 4.1.4 allows an address literal instead. */
		r = kind == TG_HELO_LITERAL || tg_helo_fqdn(helo);
		break;
	case TG_A_HELO_BARE_IP:
		r = kind == TG_HELO_BARE_IP;
		break;
	case TG_A_HELO_OURS:
		r = helo_ours(s, helo);
		break;
	case TG_A_HELO_RESOLVES:
		/* An address literal names an address: nothing to look up.
		 * What is not a domain cannot resolve. */
		if (kind != TG_HELO_DOMAIN) {
			r = kind == TG_HELO_LITERAL;
			break;
		}
		if (st->helo_key == NULL || strcmp(st->helo_key, helo) != 0) {
			free(st->helo_key);
			st->helo_key = tg_xstrdup(helo);
			st->helo_resolves = helo_resolve(c, s, helo);
		}
		if ((r = st->helo_resolves) == CHECK_FAILED) {
			*why = "lookup of the HELO name failed";
			return -1;
		}
		break;
	default:
		return 0;
	}
	*val = r ? "1" : "";
	return 0;
}
