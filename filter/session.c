/* session.c - the engine's view of one connection and its current message.
 * Owns: copies of every string set into it. Threads: used by one
 * connection at a time (libmilter never overlaps one connection's
 * callbacks), so no locking. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_addr.h"
#include "tg_auth.h"
#include "tg_content.h"
#include "tg_dkim.h"
#include "tg_mime.h"
#include "tg_grey.h"
#include "tg_rate.h"
#include "tg_check.h"
#include "tg_session.h"

#define SESSION_VALUE_MAX	1024	/* longest non-address value kept */

/* Attributes that belong to the message; tg_session_reset_message clears
 * them. Everything else belongs to the connection. */
static const enum tg_attr session_msg_attrs[] = {
	TG_A_SENDER, TG_A_SENDER_LOCAL, TG_A_SENDER_DOMAIN,
	TG_A_RCPT, TG_A_RCPT_LOCAL, TG_A_RCPT_DOMAIN, TG_A_SIZE_DECLARED,
	/* The SASL login stays: authentication survives RSET. */
};

void
tg_session_init(struct tg_session *s, const char *id)
{
	memset(s, 0, sizeof *s);
	tg_strlcpy(s->id, id, sizeof s->id);
	s->listener_port = -1;
	s->tls_bits = -1;
}

/* session_derived - .local and .domain of sender and rcpt point into
 * their address's allocation (session_set_addr), so they are never freed
 * on their own. */
static int
session_derived(enum tg_attr a)
{
	return a == TG_A_SENDER_LOCAL || a == TG_A_SENDER_DOMAIN ||
	    a == TG_A_RCPT_LOCAL || a == TG_A_RCPT_DOMAIN;
}

/* session_unset - forget attribute a; an address takes its .local and
 * .domain along. */
static void
session_unset(struct tg_session *s, enum tg_attr a)
{
	if (s->val[a] == NULL)		/* then so are .local and .domain */
		return;
	if (a == TG_A_SENDER || a == TG_A_RCPT)
		s->val[a + 1] = s->val[a + 2] = NULL;
	if (!session_derived(a))
		free(s->val[a]);
	s->val[a] = NULL;
}

static void
session_free_headers(struct tg_header *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].value);
		free(h[i].decoded);
	}
}

void
tg_session_reset_message(struct tg_session *s)
{
	for (size_t i = 0; i < sizeof session_msg_attrs /
	    sizeof session_msg_attrs[0]; i++)
		session_unset(s, session_msg_attrs[i]);
	s->queue_id = tg_free(s->queue_id);
	session_free_headers(s->hdrs, s->nhdrs);
	s->nhdrs = 0;
	s->hdr_bytes = 0;
	s->mime = tg_mime_free(s->mime);
	session_free_headers(s->add_hdrs, s->nadd);
	s->nadd = 0;
	s->quarantine = tg_free(s->quarantine);
	s->in_message = 0;
	s->size_declared = 0;
	s->size = 0;
	s->rcpt_count = 0;
	s->rcpt_routed = 0;
	s->hdr_count = s->hdr_total = s->hdr_longest = 0;
	s->discard = 0;
	s->msg_accepted = 0;
	s->hdrs_dropped = 0;
	s->hdr_lost = tg_free(s->hdr_lost);
	s->nhdr_lost = 0;
	s->hdr_lost_blind = s->hdr_lost_logged = 0;
	for (int i = 0; i < TG_MIME_TOP_COUNT; i++) {
		s->ctop_count[i] = 0;
		s->ctop_obs[i] = 0;
		s->ctop_other[i] = tg_free(s->ctop_other[i]);
	}
	s->authres_seen = 0;
	s->authres_forged = tg_free(s->authres_forged);
	s->nforged = 0;
	s->forged_overflow = 0;
	s->dkim = tg_dkim_msg_free(s->dkim);
	/* Recipients held for a message that was not accepted. */
	tg_rate_txn_end(s);
	tg_grey_txn_end(s);
}

void
tg_session_free(struct tg_session *s)
{
	tg_session_reset_message(s);
	tg_rate_conn_end(s);
	for (int i = 0; i < TG_A_COUNT; i++)
		session_unset(s, (enum tg_attr)i);
	free(s->hdrs);
	free(s->add_hdrs);
	free(s->conn_verdict);
	free(s->helo_verdict);
	tg_check_state_free(s->chk);
	memset(s, 0, sizeof *s);
}

/* session_number - parse a non-negative decimal; -1 if malformed. */
static long long
session_number(const char *v)
{
	char *end;
	long long n;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	return n;
}

/* session_set_addr - one allocation holds the address, then its .local
 * and .domain ("u@d.example\0u\0d.example"): a third of the malloc and
 * free calls of copying them one by one (tests/bench/README.md). */
static int
session_set_addr(struct tg_session *s, enum tg_attr a, const char *value)
{
	char addr[TG_ADDR_MAX];
	const char *dom;
	size_t len, llen;
	char *buf;
	int rc, routed;

	if ((rc = tg_addr_parse_domain(value, addr, sizeof addr, &routed,
	    &dom)) != TG_OK)
		return rc;
	if (a == TG_A_SASL_AUTHOR) {
		s->val[a] = tg_xstrdup(addr);
		return TG_OK;
	}
	len = strlen(addr);
	llen = dom != NULL ? (size_t)(dom - 1 - addr) : len;
	buf = tg_xmalloc(2 * len + 3);
	memcpy(buf, addr, len + 1);
	/* sender.local/.domain and rcpt.local/.domain follow their address
	 * in the enum. */
	s->val[a] = buf;
	s->val[a + 1] = buf + len + 1;
	memcpy(s->val[a + 1], addr, llen);
	s->val[a + 1][llen] = '\0';
	/* Where a routed recipient ends up depends on the MTA: its domain
	 * is unknown, which no "in local_domains" matches, so the anti-relay
	 * rule refuses it unless the client may relay anyway. */
	if (a == TG_A_RCPT && routed)
		s->rcpt_routed = 1;
	else {
		s->val[a + 2] = s->val[a + 1] + llen + 1;
		tg_strlcpy(s->val[a + 2], dom != NULL ? dom : "",
		    len - llen + 1);
	}
	return TG_OK;
}

int
tg_session_set(struct tg_session *s, enum tg_attr a, const char *value)
{
	long long n = 0;

	if (a == TG_A_SASL_LOGIN && value != NULL)
		return tg_auth_set_login(s, value);
	if (session_derived(a))		/* set with their address only */
		return TG_ERR_SYNTAX;
	session_unset(s, a);
	if (a == TG_A_RCPT)
		s->rcpt_routed = 0;
	if (a == TG_A_CLIENT_ADDRESS)
		s->client_ip_ok = 0;
	if (a == TG_A_LISTENER_PORT)
		s->listener_port = -1;
	if (a == TG_A_TLS_BITS)
		s->tls_bits = -1;
	if (a == TG_A_SIZE_DECLARED)
		s->size_declared = 0;
	if (value == NULL)
		return TG_OK;

	switch (tg_attrs[a].type) {
	case TG_T_ADDR:
		return session_set_addr(s, a, value);
	case TG_T_NUM:
		if ((n = session_number(value)) < 0)
			return TG_ERR_SYNTAX;
		break;
	case TG_T_IP:
		if (a == TG_A_CLIENT_ADDRESS) {
			if (tg_ip_parse(value, &s->client_ip) != 0)
				return TG_ERR_SYNTAX;
			s->client_ip_ok = 1;
		}
		break;
	default:
		break;
	}
	if (strlen(value) > SESSION_VALUE_MAX) {
		s->client_ip_ok = a == TG_A_CLIENT_ADDRESS ? 0 : s->client_ip_ok;
		return TG_ERR_TOOLONG;
	}
	if (a == TG_A_LISTENER_PORT)
		s->listener_port = n;
	else if (a == TG_A_TLS_BITS)
		s->tls_bits = n;
	else if (a == TG_A_SIZE_DECLARED)
		s->size_declared = n;
	s->val[a] = tg_xstrdup(value);
	return TG_OK;
}

void
tg_session_set_client_ip(struct tg_session *s, const struct tg_ip *ip)
{
	char buf[64];

	session_unset(s, TG_A_CLIENT_ADDRESS);
	tg_ip_format(ip, buf, sizeof buf);
	s->client_ip = *ip;
	s->client_ip_ok = 1;
	s->val[TG_A_CLIENT_ADDRESS] = tg_xstrdup(buf);
}

void
tg_session_set_queue_id(struct tg_session *s, const char *id)
{
	s->queue_id = tg_free(s->queue_id);
	if (id != NULL && *id != '\0')
		s->queue_id = tg_xstrndup(id, 64);
}

/* Header limits: counted for every header, also those past what is kept,
 * so that a flood of headers cannot hide. A folded value holds its line
 * breaks as the MTA passes them ("\n" or "\r\n" before the white space);
 * the first line starts with "Name: ". */
static void
session_count_header(struct tg_session *s, size_t nlen, const char *value)
{
	long long line = (long long)nlen + 2;
	const char *p;

	s->hdr_count++;
	s->hdr_total += (long long)(nlen + 2 + strlen(value) + 2);
	for (p = value;; p++) {
		if (*p == '\n' || *p == '\0') {
			if (line > s->hdr_longest)
				s->hdr_longest = line;
			if (*p == '\0')
				break;
			line = 0;
		} else if (*p != '\r')
			line++;
	}
}

/* session_ctop - is name one of the message's own Content- fields? Its
 * index, or -1. */
static int
session_ctop(const char *name)
{
	for (int i = 0; i < TG_MIME_TOP_COUNT; i++)
		if (tg_str_iequal(name, tg_mime_top_names[i]))
			return i;
	return -1;
}

/* session_lost - a field not kept: count it under the names rules read,
 * so that header.occurrences stays exact and a rule reading a field that
 * is gone can tell (the policy bounds the names; the client does not). */
static void
session_lost(struct tg_session *s, const struct tg_policy *p,
    const char *name)
{
	s->hdrs_dropped++;
	if (p == NULL || (s->hdr_lost != NULL &&
	    s->nhdr_lost != p->nhdr_names)) {
		s->hdr_lost_blind = 1;
		return;
	}
	if (s->hdr_lost == NULL) {
		s->nhdr_lost = p->nhdr_names;
		s->hdr_lost = tg_xcalloc(s->nhdr_lost + 1,
		    sizeof *s->hdr_lost);
	}
	for (size_t i = 0; i < p->nhdr_names; i++)
		if (tg_str_iequal(name, p->hdr_names[i]))
			s->hdr_lost[i]++;
}

static void
session_keep(struct tg_session *s, const char *name, const char *value)
{
	size_t nlen = strlen(name), vlen = strlen(value);

	if (s->nhdrs == s->hdrcap) {
		s->hdrcap = s->hdrcap ? s->hdrcap * 2 : 16;
		s->hdrs = tg_xrealloc(s->hdrs, s->hdrcap * sizeof *s->hdrs);
	}
	s->hdrs[s->nhdrs].name = tg_xstrdup(name);
	s->hdrs[s->nhdrs].value = tg_xstrdup(value);
	/* Decoded once here, not at every rule that reads it. */
	s->hdrs[s->nhdrs].decoded = strstr(value, "=?") != NULL ||
	    strpbrk(value, "\r\n") != NULL ?
	    tg_mime_decode_words(value) : NULL;
	s->nhdrs++;
	s->hdr_bytes += nlen + vlen;
}

/* session_add_named - keep or count one field under its bare name */
static void
session_add_named(struct tg_session *s, const struct tg_policy *p, int top,
    const char *name, const char *value)
{
	size_t nlen = strlen(name), vlen = strlen(value);

	if (top >= 0 && s->ctop_count[top]++ == 0) {
		/* The MIME parser starts from these: whatever came before,
		 * the first of each is kept (three fields at most, each
		 * bounded by the MTA's header size). */
		session_keep(s, name, value);
		return;
	}
	if (top >= 0 && s->ctop_other[top] == NULL &&
	    strcmp(value, tg_session_header(s, name)) != 0)
		s->ctop_other[top] = tg_xstrdup(value);
	if (s->hdrs_dropped > 0 || s->nhdrs >= TG_HEADER_MAX_COUNT ||
	    s->hdr_bytes + nlen + vlen > TG_HEADER_MAX_BYTES) {
		session_lost(s, p, name);
		return;
	}
	session_keep(s, name, value);
}

void
tg_session_add_header(struct tg_session *s, const struct tg_policy *p,
    const char *name, const char *value)
{
	size_t nlen = strlen(name), vlen = strlen(value), trim = nlen;
	char *bare = NULL;
	int top;

	/* "Name: value\r\n", as the MTA counts it into the message. */
	s->size += (long long)(nlen + 2 + vlen + 2);
	session_count_header(s, nlen, value);
	/* "Subject :" is the obsolete syntax of "Subject:" (RFC 5322
	 * 4.5.3), which Postfix strips before the milter sees it and other
	 * MTAs may not: the same field for every rule, so that it cannot
	 * hide a repeat; a top-level Content- field so written also makes
	 * the MIME structure malformed (readers disagree on it). */
	while (trim > 0 && (name[trim - 1] == ' ' || name[trim - 1] == '\t'))
		trim--;
	if (trim < nlen && trim > 0)
		name = bare = tg_xstrndup(name, trim);
	top = session_ctop(name);
	if (top >= 0 && bare != NULL)
		s->ctop_obs[top] = 1;
	session_add_named(s, p, top, name, value);
	free(bare);
}

long long
tg_session_header_lost(const struct tg_session *s, size_t hname)
{
	if (s->hdrs_dropped == 0)
		return 0;
	if (s->hdr_lost_blind || hname == 0 || hname > s->nhdr_lost ||
	    s->hdr_lost == NULL)
		return -1;
	return (long long)s->hdr_lost[hname - 1];
}

void
tg_session_add_body(struct tg_session *s, size_t len)
{
	s->size += (long long)len;
}

static struct tg_mime *
session_mime_start(struct tg_session *s, const struct tg_policy *p)
{
	struct tg_mime_top top[TG_MIME_TOP_COUNT];
	struct tg_mime_conf conf;

	if (s->mime != NULL || p == NULL || !tg_mime_wanted(p))
		return s->mime;
	conf.hash = tg_policy_uses(p, TG_A_ATT_SHA256);
	conf.hash_types = p->mime_hash_types;
	for (int i = 0; i < TG_MIME_TOP_COUNT; i++) {
		top[i].value = tg_session_header(s, tg_mime_top_names[i]);
		top[i].other = s->ctop_other[i];
		top[i].count = s->ctop_count[i];
		top[i].obs = s->ctop_obs[i];
	}
	s->mime = tg_mime_new_top(&conf, top);
	return s->mime;
}

void
tg_session_add_body_data(struct tg_session *s, const struct tg_policy *p,
    const char *buf, size_t len)
{
	tg_session_add_body(s, len);
	tg_dkim_body(s, p, buf, len);
	if (session_mime_start(s, p) != NULL)
		tg_mime_feed(s->mime, buf, len);
}

struct tg_mime *
tg_session_mime(struct tg_session *s, const struct tg_policy *p)
{
	if (session_mime_start(s, p) != NULL)
		tg_mime_finish(s->mime);
	return s->mime;
}

const char *
tg_session_header(const struct tg_session *s, const char *name)
{
	for (size_t i = 0; i < s->nhdrs; i++)
		if (tg_str_iequal(s->hdrs[i].name, name))
			return s->hdrs[i].value;
	return NULL;
}
