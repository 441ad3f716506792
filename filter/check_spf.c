/* check_spf.c - SPF (RFC 7208) with libspf2: the envelope sender, or
 * postmaster@HELO for "<>", against the client address. libspf2 resolves
 * through a DNS layer of ours (SPF_dns_server_t with our lookup function)
 * that asks the policy's resolver (dns.c): the same server, timeout and
 * cache as the other checks, and the tests' local DNS server. Results are
 * kept across sessions (check_spf_cache.c) for the shortest TTL of the
 * answers they were made of, which the DNS layer notes per evaluation,
 * with whether a record used the HELO name (%{h}).
 * Owns: the SPF server (per policy), its DNS layer and result cache.
 * Threads: libspf2's server is shared read-only; each check has its own
 * request, evaluated in one thread (its notes are thread-local). */
#include "config.h"

#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <pthread.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <spf2/spf.h>
#include <spf2/spf_dns.h>
#include <spf2/spf_dns_rr.h>

#include "tg.h"
#include "tg_auth.h"
#include "tg_dns.h"
#include "tg_log.h"
#include "check.h"

#define SPF_CACHE_SLOTS		16384	/* results kept across sessions */
#define SPF_CACHE_TTL_MAX	86400	/* s; whatever the records say */

struct spf_srv {
	SPF_server_t		*srv;
	SPF_dns_server_t	 layer;
	char			 host[256];	/* Received-SPF's receiver */
	struct spf_cache	*cache;
};

/* What the DNS layer notes during one evaluation (this thread's). */
struct spf_notes {
	unsigned	 lookups;
	unsigned	 ttl;		/* the shortest */
	int		 failed;	/* a lookup failed: keep nothing */
	int		 helo;		/* a record read the HELO name */
};
static _Thread_local struct spf_notes *spf_notes;

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
	if (spf_notes != NULL) {
		spf_notes->lookups++;
		if (q.status == TG_DNS_FAIL || q.status == TG_DNS_PENDING)
			spf_notes->failed = 1;
		else if (q.ttl < spf_notes->ttl)
			spf_notes->ttl = q.ttl;
		/* %{h}, %{h...}: the macro of the HELO name (RFC 7208 7.2;
		 * the letter in either case). */
		for (size_t i = 0; t == TG_DNS_TXT && i < q.n; i++)
			if (strstr(q.str[i], "%{h") != NULL ||
			    strstr(q.str[i], "%{H") != NULL)
				spf_notes->helo = 1;
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
	s->cache = spf_cache_new(SPF_CACHE_SLOTS);
	/* libspf2's receiving domain (gethostname) names us in the
	 * Received-SPF comment; anything but a domain name is not used. */
	if (s->srv->rec_dom == NULL ||
	    tg_helo_kind(s->srv->rec_dom) != TG_HELO_DOMAIN ||
	    tg_strlcpy(s->host, s->srv->rec_dom, sizeof s->host) >=
	    sizeof s->host)
		tg_strlcpy(s->host, "localhost", sizeof s->host);
	return s;
}

void
check_spf_server_free(void *p)
{
	struct spf_srv *s = p;

	if (s == NULL)
		return;
	SPF_server_free(s->srv);
	spf_cache_free(s->cache);
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

/* spf_query - SPF_request_query_mailfrom() without its first step:
 * libspf2 answers "pass" for any client on 127.0.0.0/8 or ::1 before it
 * fetches a record ("localhost is always allowed"), which RFC 7208 does
 * not say; mail relayed over loopback (a content filter, a proxy) would
 * get spf=pass for any sender. The rest is the same public calls: the
 * record of the sender's domain, then its evaluation. Whoever wants to
 * exempt loopback says so in a rule (doc/policy-language.md). */
static SPF_errcode_t
spf_query(SPF_server_t *srv, SPF_request_t *req, SPF_response_t **respp)
{
	SPF_record_t *rec = NULL;
	SPF_errcode_t err;

	if ((*respp = SPF_response_new(req)) == NULL)
		return SPF_E_NO_MEMORY;
	req->use_helo = 0;
	req->cur_dom = req->env_from_dp;	/* RFC 7208 4.1 <domain> */
	if (req->cur_dom == NULL)
		return SPF_E_NOT_CONFIG;
	err = SPF_server_get_record(srv, req, *respp, &rec);
	if (err != SPF_E_SUCCESS) {
		if (rec != NULL)
			SPF_record_free(rec);
		return err;
	}
	/* The explanation (exp=) is looked up in this record. */
	(*respp)->spf_record_exp = rec;
	err = SPF_record_interpret(rec, req, *respp, 0);
	SPF_record_free(rec);
	(*respp)->spf_record_exp = NULL;
	return err;
}

/* spf_eval - evaluate from (a mailbox) for the client; the result name. */
static const char *
spf_eval(struct spf_srv *srv, const struct tg_session *s, const char *from,
    const char *helo)
{
	SPF_request_t *req = SPF_request_new(srv->srv);
	SPF_response_t *resp = NULL;
	const char *res = "none";
	SPF_errcode_t err;
	int ok;

	if (req == NULL)
		return "temperror";
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
		err = spf_query(srv->srv, req, &resp);
		if (resp != NULL)
			res = spf_result_name(SPF_response_result(resp));
		/* libspf2 1.2.10 calls a failed lookup of the sender's own
		 * record permerror; RFC 7208 4.4 says temperror. */
		if (err == SPF_E_DNS_ERROR || (resp != NULL &&
		    spf_dns_failed(resp)))
			res = "temperror";
		else if (err == SPF_E_NO_MEMORY || err == SPF_E_NOT_CONFIG)
			res = "temperror";
	}
	if (resp != NULL)
		SPF_response_free(resp);
	SPF_request_free(req);
	return res;
}

static int64_t
spf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* spf_run - the result for from and the client: kept from an earlier
 * session, or evaluated (and kept when its answers allow) */
static const char *
spf_run(struct spf_srv *srv, const struct tg_session *s, const char *from,
    const char *helo, char *res, size_t ressz)
{
	struct spf_notes notes = { 0, UINT_MAX, 0, 0 };
	int64_t now = spf_now_ms();
	unsigned ttl;

	if (spf_cache_get(srv->cache, &s->client_ip, from, helo, now, res,
	    ressz)) {
		tg_log_debug("%s: spf: result kept from an earlier session",
		    s->id);
		return res;
	}
	spf_notes = &notes;
	tg_strlcpy(res, spf_eval(srv, s, from, helo), ressz);
	spf_notes = NULL;
	ttl = notes.ttl < SPF_CACHE_TTL_MAX ? notes.ttl : SPF_CACHE_TTL_MAX;
	if (notes.lookups > 0 && !notes.failed)
		spf_cache_put(srv->cache, &s->client_ip, from,
		    notes.helo ? (helo != NULL ? helo : "") : NULL, res, ttl,
		    now);
	return res;
}

/* spf_comment - the text of the Received-SPF comment (RFC 7208 9.1),
 * as the RFC's examples word it. */
static const char *
spf_comment(const char *res)
{
	if (strcmp(res, "pass") == 0)
		return "designates";
	if (strcmp(res, "fail") == 0 || strcmp(res, "softfail") == 0)
		return "does not designate";
	if (strcmp(res, "neutral") == 0)
		return "neither permits nor denies";
	return NULL;
}

/* spf_received - our Received-SPF value (RFC 7208 9.1), every client
 * value quoted unless it is a dot-atom, helo= only for a valid domain:
 * RESULT (HOST: why) client-ip=IP; envelope-from="FROM"; helo=NAME;
 * identity=mailfrom|helo; */
static char *
spf_received(const struct spf_srv *srv, const struct tg_session *s,
    const char *res, const char *from, const char *helo, int by_helo)
{
	const char *dom, *verb;
	char ipbuf[64], *why, *ip, *env, *out;
	int hv = helo != NULL && tg_helo_kind(helo) == TG_HELO_DOMAIN;

	dom = (dom = strrchr(from, '@')) != NULL ? dom + 1 : "";
	tg_ip_format(&s->client_ip, ipbuf, sizeof ipbuf);
	/* The domain goes into a comment: only a valid domain name. */
	if (tg_helo_kind(dom) != TG_HELO_DOMAIN)
		why = tg_xstrdup(*from == '\0' ? "no domain to check" :
		    "the sender's domain is not a domain name");
	else if ((verb = spf_comment(res)) != NULL)
		why = tg_xasprintf("domain of %s %s %s as permitted sender",
		    dom, verb, ipbuf);
	else if (strcmp(res, "none") == 0)
		why = tg_xasprintf("domain of %s does not publish SPF", dom);
	else
		why = tg_xasprintf("%s in the SPF record of %s",
		    strcmp(res, "temperror") == 0 ? "DNS error" : "error",
		    dom);
	ip = tg_authres_quote(ipbuf, TG_AQ_DOT_ATOM);
	env = *from != '\0' ? tg_authres_quote(from, TG_AQ_DOT_ATOM) : NULL;
	out = tg_xasprintf("%s (%s: %s) client-ip=%s;%s%s%s%s%s%s%s", res,
	    srv->host, why, ip, env != NULL ? " envelope-from=" : "",
	    env != NULL ? env : "", env != NULL ? ";" : "",
	    hv ? " helo=" : "", hv ? helo : "", hv ? ";" : "",
	    *from == '\0' ? "" : by_helo ? " identity=helo;" :
	    " identity=mailfrom;");
	free(why);
	free(ip);
	free(env);
	return out;
}

/* spf_same - NULL-safe string equality */
static int
spf_same(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

/* spf_cached - does the session's result belong to exactly these
 * values? Each is compared whole: a key built by joining them into a
 * fixed buffer once cut a long HELO's sender off, and a later sender of
 * the connection inherited the first one's result (F2, 2026-12). */
static int
spf_cached(const struct tg_check_state *st, const struct tg_session *s,
    const char *sender, const char *helo)
{
	return st->spf[0] != '\0' && st->spf_sender != NULL &&
	    st->spf_ip.family == s->client_ip.family &&
	    memcmp(st->spf_ip.b, s->client_ip.b, sizeof st->spf_ip.b) == 0 &&
	    strcmp(st->spf_sender, sender) == 0 && spf_same(st->spf_helo, helo);
}

int
check_spf(const struct tg_dns_conf *c, struct tg_session *s,
    struct tg_check_state *st, const char **val, const char **why)
{
	const char *sender = s->val[TG_A_SENDER], *helo = s->val[TG_A_HELO];
	char *from, *q, pbuf[300];
	int by_helo = 0;

	*val = NULL;
	if (c->spf != NULL && sender != NULL && s->client_ip_ok &&
	    spf_cached(st, s, sender, helo)) {
		*val = st->spf;
		return 0;
	}
	/* Forget the old result before anything else: nothing of one
	 * sender's may be reported for another. */
	st->spf[0] = '\0';
	st->spf_sender = tg_free(st->spf_sender);
	st->spf_helo = tg_free(st->spf_helo);
	st->spf_auth = tg_free(st->spf_auth);
	st->spf_received = tg_free(st->spf_received);
	if (c->spf == NULL || sender == NULL || !s->client_ip_ok)
		return 0;	/* unknown */
	if (*sender != '\0')
		from = tg_xstrdup(sender);
	else if (helo != NULL && tg_helo_kind(helo) == TG_HELO_DOMAIN) {
		/* RFC 7208 2.4: the null sender is checked as postmaster
		 * at the HELO domain. */
		from = tg_xasprintf("postmaster@%s", helo);
		by_helo = 1;
	} else
		from = tg_xstrdup("");
	if (*from != '\0')
		(void)spf_run(c->spf, s, from, helo, st->spf, sizeof st->spf);
	else
		tg_strlcpy(st->spf, "none", sizeof st->spf);
	st->spf_received = spf_received(c->spf, s, st->spf, from, helo,
	    by_helo);
	/* RFC 8601 resinfo for Authentication-Results. */
	if (*sender != '\0') {
		q = tg_authres_quote(sender, TG_AQ_PVALUE);
		st->spf_auth = tg_xasprintf("spf=%s smtp.mailfrom=%s",
		    st->spf, q);
	} else {
		q = helo != NULL ? tg_authres_quote(helo, TG_AQ_DOMAIN) : NULL;
		st->spf_auth = tg_xasprintf("spf=%s smtp.helo=%s", st->spf,
		    q != NULL ? q : "unknown");
	}
	free(q);
	st->spf_ip = s->client_ip;
	st->spf_sender = tg_xstrdup(sender);
	st->spf_helo = helo != NULL ? tg_xstrdup(helo) : NULL;
	tg_log_debug("%s: spf <%s>: %s", s->id, tg_str_printable(pbuf,
	    sizeof pbuf, from), st->spf);
	free(from);
	*val = st->spf;
	return 0;
}
