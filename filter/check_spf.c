/* check_spf.c - SPF (RFC 7208) with libspf2: the envelope sender, or
 * postmaster@HELO for "<>", against the client address. libspf2 resolves
 * through a DNS layer of ours (SPF_dns_server_t with our lookup function)
 * that asks the policy's resolver (dns.c): the same server, timeout and
 * cache as the other checks, and the tests' local DNS server.
 * Owns: the SPF server (per policy) and its DNS layer. Threads: libspf2's
 * server is shared read-only; each check has its own request. */
#include "config.h"

#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spf2/spf.h>
#include <spf2/spf_dns.h>
#include <spf2/spf_dns_rr.h>

#include "tg.h"
#include "tg_dns.h"
#include "tg_log.h"
#include "check.h"

struct spf_srv {
	SPF_server_t		*srv;
	SPF_dns_server_t	 layer;
};

static pthread_once_t spf_once = PTHREAD_ONCE_INIT;

/* libspf2 prints its warnings to stderr by default. */
static void
spf_log(const char *file, int line, const char *msg)
{
	tg_log_debug("libspf2: %s", msg != NULL ? msg : "");
}

static void
spf_init(void)
{
	SPF_warning_handler = spf_log;
	SPF_info_handler = spf_log;
	SPF_debug_handler = spf_log;
}

static int
spf_type(ns_type t, enum tg_dns_type *out)
{
	switch ((int)t) {
	case ns_t_a:	*out = TG_DNS_A;	return 0;
	case ns_t_aaaa:	*out = TG_DNS_AAAA;	return 0;
	case ns_t_txt:	*out = TG_DNS_TXT;	return 0;
	case ns_t_ptr:	*out = TG_DNS_PTR;	return 0;
	case ns_t_mx:	*out = TG_DNS_MX;	return 0;
	default:	return -1;	/* type SPF (99): obsolete */
	}
}

/* spf_lookup - libspf2's DNS layer: one lookup through our resolver,
 * turned into libspf2's record set (its herrno tells the outcome). */
static SPF_dns_rr_t *
spf_lookup(SPF_dns_server_t *layer, const char *domain, ns_type type,
    int should_cache)
{
	struct tg_dns_query q;
	enum tg_dns_type t;
	SPF_dns_rr_t *rr;
	int herrno;

	if (spf_type(type, &t) < 0 || tg_dns_query_init(&q, domain, t) < 0)
		return SPF_dns_rr_new_init(layer, domain, type, 0, NO_DATA);
	(void)tg_dns_resolve(layer->hook, &q, 1);
	switch (q.status) {
	case TG_DNS_OK:		herrno = NETDB_SUCCESS;		break;
	case TG_DNS_NXDOMAIN:	herrno = HOST_NOT_FOUND;	break;
	case TG_DNS_NODATA:	herrno = NO_DATA;		break;
	default:		herrno = TRY_AGAIN;		break;
	}
	rr = SPF_dns_rr_new_init(layer, domain, type, (int)q.ttl, herrno);
	for (size_t i = 0; rr != NULL && i < q.n; i++) {
		size_t len = t == TG_DNS_A ? sizeof(struct in_addr) :
		    t == TG_DNS_AAAA ? sizeof(struct in6_addr) :
		    strlen(q.str[i]) + 1;

		if (SPF_dns_rr_buf_realloc(rr, (int)i, len) != SPF_E_SUCCESS)
			break;
		if (t == TG_DNS_A || t == TG_DNS_AAAA)
			memcpy(rr->rr[i], q.ip[i].b, len);
		else
			memcpy(rr->rr[i], q.str[i], len);
		rr->num_rr = (int)i + 1;
	}
	tg_dns_query_clear(&q);
	return rr;
}

void *
check_spf_server_new(struct tg_dns *dns)
{
	struct spf_srv *s = tg_xcalloc(1, sizeof *s);

	pthread_once(&spf_once, spf_init);
	/* No destroy function: the layer is ours, freed with s. */
	s->layer.lookup = spf_lookup;
	s->layer.name = "tollgate";
	s->layer.hook = dns;
	if ((s->srv = SPF_server_new_dns(&s->layer, 0)) == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

void
check_spf_server_free(void *p)
{
	struct spf_srv *s = p;

	if (s == NULL)
		return;
	SPF_server_free(s->srv);
	free(s);
}

static const char *
spf_result_name(SPF_result_t r)
{
	switch (r) {
	case SPF_RESULT_PASS:		return "pass";
	case SPF_RESULT_FAIL:		return "fail";
	case SPF_RESULT_SOFTFAIL:	return "softfail";
	case SPF_RESULT_NEUTRAL:	return "neutral";
	case SPF_RESULT_NONE:		return "none";
	case SPF_RESULT_TEMPERROR:	return "temperror";
	default:			return "permerror";
	}
}

static int
spf_dns_failed(SPF_response_t *resp)
{
	for (int i = 0; i < SPF_response_messages(resp); i++)
		if (SPF_error_code(SPF_response_message(resp, i)) ==
		    SPF_E_DNS_ERROR)
			return 1;
	return 0;
}

/* spf_run - evaluate and fill st's SPF fields. */
static void
spf_run(struct spf_srv *srv, const struct tg_session *s,
    struct tg_check_state *st, const char *from, const char *helo)
{
	SPF_request_t *req = SPF_request_new(srv->srv);
	SPF_response_t *resp = NULL;
	const char *res = "none", *rv;
	int ok;

	if (req == NULL) {
		tg_strlcpy(st->spf, "temperror", sizeof st->spf);
		return;
	}
	if (s->client_ip.family == 4) {
		struct in_addr a;

		memcpy(&a, s->client_ip.b, 4);
		ok = SPF_request_set_ipv4(req, a) == SPF_E_SUCCESS;
	} else {
		struct in6_addr a;

		memcpy(&a, s->client_ip.b, 16);
		ok = SPF_request_set_ipv6(req, a) == SPF_E_SUCCESS;
	}
	if (ok && helo != NULL)
		ok = SPF_request_set_helo_dom(req, helo) == SPF_E_SUCCESS;
	/* A sender libspf2 cannot take (no domain) has no SPF policy. */
	if (ok && SPF_request_set_env_from(req, from) == 0) {
		SPF_errcode_t err = SPF_request_query_mailfrom(req, &resp);

		if (resp != NULL)
			res = spf_result_name(SPF_response_result(resp));
		/* libspf2 1.2.10 calls a failed lookup of the sender's own
		 * record permerror; RFC 7208 4.4 says temperror. */
		if (err == SPF_E_DNS_ERROR || (resp != NULL &&
		    spf_dns_failed(resp)))
			res = "temperror";
	}
	tg_strlcpy(st->spf, res, sizeof st->spf);
	if (resp != NULL && (rv = SPF_response_get_received_spf_value(resp))
	    != NULL)
		st->spf_received = tg_xstrdup(rv);
	if (resp != NULL)
		SPF_response_free(resp);
	SPF_request_free(req);
}

int
check_spf(const struct tg_dns_conf *c, struct tg_session *s,
    struct tg_check_state *st, const char **val, const char **why)
{
	const char *sender = s->val[TG_A_SENDER], *helo = s->val[TG_A_HELO];
	char from[600], key[700], ipbuf[64];

	*val = NULL;
	if (c->spf == NULL || sender == NULL || !s->client_ip_ok)
		return 0;
	if (*sender != '\0')
		tg_strlcpy(from, sender, sizeof from);
	else if (helo != NULL && tg_helo_kind(helo) == TG_HELO_DOMAIN)
		/* RFC 7208 2.4: the null sender is checked as postmaster
		 * at the HELO domain. */
		snprintf(from, sizeof from, "postmaster@%s", helo);
	else
		from[0] = '\0';
	snprintf(key, sizeof key, "%s %s %s", tg_ip_format(&s->client_ip,
	    ipbuf, sizeof ipbuf), helo != NULL ? helo : "", from);
	if (st->spf_key == NULL || strcmp(st->spf_key, key) != 0) {
		free(st->spf_key);
		st->spf_key = tg_xstrdup(key);
		st->spf_auth = tg_free(st->spf_auth);
		st->spf_received = tg_free(st->spf_received);
		if (from[0] == '\0')
			tg_strlcpy(st->spf, "none", sizeof st->spf);
		else
			spf_run(c->spf, s, st, from, helo);
		/* RFC 8601 resinfo for Authentication-Results. */
		if (*sender != '\0')
			st->spf_auth = tg_xasprintf("spf=%s smtp.mailfrom=%s",
			    st->spf, sender);
		else
			st->spf_auth = tg_xasprintf("spf=%s smtp.helo=%s",
			    st->spf, helo != NULL ? helo : "unknown");
		tg_log_debug("%s: spf %s: %s; Received-SPF: %s", s->id, from,
		    st->spf, st->spf_received != NULL ? st->spf_received : "-");
	}
	*val = st->spf;
	return 0;
}
