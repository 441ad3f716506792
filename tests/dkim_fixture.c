/* dkim_fixture.c - keys, seeded DNS, and messages fed as the milter glue
 * feeds them, for check_dkim.c and check_dmarc.c (dkim_fixture.h).
 * Threads: one test at a time. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "tg.h"
#include "tg_auth.h"
#include "tg_check.h"
#include "tg_diag.h"
#include "tg_dkim.h"
#include "tg_dns.h"
#include "tg_engine.h"
#include "tg_log.h"
#include "dkim_fixture.h"

char	dk_dir[64];
char	dk_log[8192];

/* RFC 8463 A.3, byte for byte (CRLF added by dk_feed). */
const char dk_rfc8463_msg[] =
    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\n"
    " d=football.example.com; i=@football.example.com;\n"
    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\n"
    " subject : date : message-id : from : subject : date;\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\n"
    " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\n"
    " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\n"
    " d=football.example.com; i=@football.example.com;\n"
    " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\n"
    " date : message-id : from : subject : date;\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\n"
    " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\n"
    " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\n"
    " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\n"
    "From: Joe SixPack <joe@football.example.com>\n"
    "To: Suzie Q <suzie@shopping.example.net>\n"
    "Subject: Is dinner ready?\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\n"
    "\n"
    "Hi.\n"
    "\n"
    "We lost the game.  Are you hungry yet?\n"
    "\n"
    "Joe.\n"
    "\n";
const char dk_rfc8463_ed25519[] = "v=DKIM1; k=ed25519; "
    "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
const char dk_rfc8463_rsa[] = "v=DKIM1; k=rsa; "
    "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk"
    "08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uB"
    "sCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTI"
    "KT+l/K4w3QIDAQAB";

static void
dk_sink(int prio, const char *line)
{
	size_t n = strlen(dk_log), l = strlen(line);

	(void)prio;
	if (n + l + 2 > sizeof dk_log)
		n = 0;		/* keep the latest lines */
	memcpy(dk_log + n, line, l);
	dk_log[n + l] = '\n';
	dk_log[n + l + 1] = '\0';
}

void
dk_setup(void)
{
	tg_strlcpy(dk_dir, "/tmp/tg-dkim-XXXXXX", sizeof dk_dir);
	ck_assert_ptr_nonnull(mkdtemp(dk_dir));
	dk_log[0] = '\0';
	tg_log_set_sink(dk_sink);
	tg_log_set_debug(1);
}

void
dk_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dk_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dk_dir);
	tg_log_set_sink(NULL);
}

void
dk_write(const char *name, const char *text, int mode)
{
	char path[256];
	int fd;

	snprintf(path, sizeof path, "%s/%s", dk_dir, name);
	(void)unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(fchmod(fd, (mode_t)mode), 0);
	close(fd);
}

char *
dk_key(const char *name, int bits, const unsigned char *seed32)
{
	EVP_PKEY *pk;
	unsigned char *der = NULL, raw[32], b64[1024];
	size_t rawlen = sizeof raw;
	char path[256];
	int len;
	FILE *f;

	if (bits > 0)
		pk = EVP_RSA_gen((unsigned)bits);
	else if (seed32 != NULL)
		pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed32,
		    32);
	else
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	ck_assert_ptr_nonnull(pk);
	snprintf(path, sizeof path, "%s/%s", dk_dir, name);
	dk_write(name, "", 0600);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	ck_assert_int_eq(PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL,
	    NULL), 1);
	fclose(f);
	if (bits > 0) {
		len = i2d_PUBKEY(pk, &der);
		ck_assert_int_gt(len, 0);
		EVP_EncodeBlock(b64, der, len);
		OPENSSL_free(der);
	} else {
		ck_assert_int_eq(EVP_PKEY_get_raw_public_key(pk, raw, &rawlen),
		    1);
		EVP_EncodeBlock(b64, raw, (int)rawlen);
	}
	EVP_PKEY_free(pk);
	return tg_xasprintf("v=DKIM1; k=%s; p=%s", bits > 0 ? "rsa" :
	    "ed25519", b64);
}

struct tg_policy *
dk_policy(const char *text)
{
	struct tg_diag diag;
	struct tg_policy *p;
	char *full;

	/* Port 9 (discard): no DNS server there, lookups fail at once or
	 * within 300 ms. */
	full = tg_xasprintf("set resolver \"127.0.0.1@9\"\n"
	    "set dns-timeout 300ms\n%s", text);
	tg_diag_init(&diag);
	p = tg_policy_load_string("test.conf", full, dk_dir, &diag);
	for (size_t i = 0; p == NULL && i < diag.n; i++)
		fprintf(stderr, "%s\n", diag.msgs[i]);
	ck_assert_msg(p != NULL, "policy did not load: %s", text);
	tg_diag_free(&diag);
	free(full);
	return p;
}

void
dk_seed(struct tg_policy *p, const char *name, const char *txt)
{
	struct tg_dns_query q;

	ck_assert_int_eq(tg_dns_query_init(&q, name, TG_DNS_TXT), TG_OK);
	q.ttl = 300;
	if (txt == NULL)
		q.status = TG_DNS_NXDOMAIN;
	else {
		q.status = TG_DNS_OK;
		q.str[0] = tg_xstrdup(txt);
		q.n = 1;
	}
	tg_dns_seed(p->dns->dns, &q);
	tg_dns_query_clear(&q);
}

void
dk_feed(struct tg_policy *p, struct tg_session *s, const char *msg,
    size_t chunk)
{
	const char *l = msg, *body;
	char *crlf, *o;

	while (*l != '\0' && *l != '\n') {
		const char *colon = strchr(l, ':'), *e = strchr(l, '\n');
		char *name, *raw, *v;
		size_t nf;

		ck_assert_ptr_nonnull(colon);
		ck_assert_ptr_nonnull(e);
		/* continuation lines belong to this field */
		while (e[1] == ' ' || e[1] == '\t')
			e = strchr(e + 1, '\n');
		name = tg_xstrndup(l, (size_t)(colon - l));
		raw = tg_xstrndup(colon + 1, (size_t)(e - colon - 1));
		v = raw + strspn(raw, " \t");
		nf = s->nforged;
		tg_session_add_header(s, p, name, v);
		tg_authres_note(p, s, name, v);
		tg_dkim_header(s, p, name, v, raw, s->nforged != nf);
		free(name);
		free(raw);
		l = e + 1;
	}
	tg_dkim_eoh(s, p);
	body = *l == '\n' ? l + 1 : l;
	/* The MTA hands the body over with CRLF line ends. */
	crlf = o = tg_xmalloc(2 * strlen(body) + 1);
	for (; *body != '\0'; body++) {
		if (*body == '\n')
			*o++ = '\r';
		*o++ = *body;
	}
	*o = '\0';
	for (size_t off = 0, n = strlen(crlf); off < n; off += chunk)
		tg_session_add_body_data(s, p, crlf + off,
		    n - off < chunk ? n - off : chunk);
	free(crlf);
}

const char *
dk_attr(struct tg_policy *p, struct tg_session *s, enum tg_attr a,
    const char *param)
{
	const char *why;

	ck_assert_int_eq(tg_check_eval(p, s, a, param, &why), 0);
	return s->val[a] != NULL ? s->val[a] : "";
}

char *
dk_sign(struct tg_policy *p, const char *msg, const char *sender)
{
	struct tg_session s;
	struct tg_verdict v;
	char **vals, *out = tg_xstrdup("");
	size_t n;

	tg_session_init(&s, "sign");
	ck_assert_int_eq(tg_session_set(&s, TG_A_SENDER, sender), TG_OK);
	ck_assert_int_eq(tg_session_set(&s, TG_A_SASL_LOGIN, "alice"), TG_OK);
	s.in_message = 1;
	dk_feed(p, &s, msg, 4096);
	tg_engine_eval(p, &s, TG_STAGE_EOM, &v);
	n = tg_dkim_sign_finish(p, &s, &vals);
	for (size_t i = 0; i < n; i++) {
		char *t = tg_xasprintf("%sDKIM-Signature: %s\n", out, vals[i]);

		free(out);
		out = t;
		free(vals[i]);
	}
	free(vals);
	tg_session_free(&s);
	if (n == 0) {
		free(out);
		return NULL;
	}
	{
		char *t = tg_xasprintf("%s%s", out, msg);

		free(out);
		out = t;
	}
	return out;
}
