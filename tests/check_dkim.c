/* check_dkim.c - DKIM verification without a socket: RFC 8463's own
 * example (Ed25519 and RSA), one byte of the body changed, header fields
 * reordered and respaced within relaxed canonicalisation, and the
 * hostile cases of issue 17: malformed and unknown-algorithm signatures,
 * 50 signatures, a 16 KB key record, several key records, l=, DNS
 * failure, a header block past the caps, a 50 MB body in chunks with
 * bounded memory. Keys are answered from the resolver's cache
 * (dkim_fixture.c). Signing and DMARC: check_dmarc.c. Threads: none. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <opendkim/dkim.h>

#include "tg.h"
#include "tg_check.h"
#include "tg_dkim.h"
#include "tg_dns.h"
#include "tg_policy.h"
#include "tg_session.h"
#include "dkim_fixture.h"

#define VERIFY_POLICY \
    "stage eom { rule r : dkim == \"x\" or dmarc == \"x\" => continue }\n"

static struct tg_policy *
rfc_policy(int ed, int rsa)
{
	struct tg_policy *p = dk_policy(VERIFY_POLICY);

	dk_seed(p, "brisbane._domainkey.football.example.com",
	    ed ? dk_rfc8463_ed25519 : NULL);
	dk_seed(p, "test._domainkey.football.example.com",
	    rsa ? dk_rfc8463_rsa : NULL);
	dk_seed(p, "_dmarc.football.example.com", NULL);
	dk_seed(p, "_dmarc.example.com", NULL);
	return p;
}

/* verify - msg under p; the dkim attribute */
static const char *
verify(struct tg_policy *p, struct tg_session *s, const char *msg)
{
	tg_session_init(s, "t");
	s->in_message = 1;
	dk_feed(p, s, msg, 7);
	return dk_attr(p, s, TG_A_DKIM, NULL);
}

static char *
replace(const char *msg, const char *from, const char *to)
{
	const char *at = strstr(msg, from);

	ck_assert_ptr_nonnull(at);
	return tg_xasprintf("%.*s%s%s", (int)(at - msg), msg, to,
	    at + strlen(from));
}

START_TEST(test_rfc8463)
{
	struct tg_policy *p = rfc_policy(1, 1);
	struct tg_session s;

	verify(p, &s, dk_rfc8463_msg);
	ck_assert_msg(strcmp(dk_attr(p, &s, TG_A_DKIM, NULL), "pass") == 0,
	    "%s\n%s", tg_dkim_var(p, &s, "dkim_auth", 9), dk_log);
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DKIM_RESULT,
	    "football.example.com"), "pass");
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DKIM_RESULT, "example.com"),
	    "none");
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DKIM_DOMAINS, NULL),
	    "football.example.com");
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DKIM_ALIGNED, NULL), "1");
	/* Both signatures, each in Authentication-Results (RFC 8601). */
	ck_assert_str_eq(tg_dkim_var(p, &s, "dkim_auth", 9),
	    "dkim=pass header.d=football.example.com header.s=brisbane "
	    "header.b=\"/gCrinpc\"; dkim=pass header.d=football.example.com "
	    "header.s=test header.b=F45dVWDf");
	tg_session_free(&s);
	tg_policy_unref(p);

	/* The Ed25519 signature alone: the RSA key is gone. */
	p = rfc_policy(1, 0);
	ck_assert_str_eq(verify(p, &s, dk_rfc8463_msg), "pass");
	ck_assert_ptr_nonnull(strstr(tg_dkim_var(p, &s, "dkim_auth", 9),
	    "dkim=permerror (no key) header.d=football.example.com "
	    "header.s=test"));
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_body_byte)
{
	struct tg_policy *p = rfc_policy(1, 1);
	struct tg_session s;
	char *m = replace(dk_rfc8463_msg, "hungry", "hungrY");

	ck_assert_str_eq(verify(p, &s, m), "fail");
	ck_assert_ptr_nonnull(strstr(tg_dkim_var(p, &s, "dkim_auth", 9),
	    "dkim=fail (body hash mismatch) header.d=football.example.com "
	    "header.s=brisbane"));
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DKIM_DOMAINS, NULL), "");
	tg_session_free(&s);
	free(m);
	/* A signed header field changed: fail too. */
	m = replace(dk_rfc8463_msg, "Is dinner", "Is lunch");
	ck_assert_str_eq(verify(p, &s, m), "fail");
	tg_session_free(&s);
	free(m);
	tg_policy_unref(p);
}
END_TEST

/* relaxed/relaxed: field names in any case, runs of white space, folding,
 * trailing white space and empty lines at the end of the body do not
 * matter, nor the order of fields of different names. */
START_TEST(test_relaxed_reorder)
{
	struct tg_policy *p = rfc_policy(1, 1);
	struct tg_session s;
	char *a = replace(dk_rfc8463_msg,
	    "To: Suzie Q <suzie@shopping.example.net>\n"
	    "Subject: Is dinner ready?\n",
	    "SUBJECT:   Is  dinner\n\tready?  \n"
	    "to: Suzie Q <suzie@shopping.example.net>\n");
	char *b = replace(a, "Are you hungry yet?\n\nJoe.\n\n",
	    "Are you hungry   yet?  \n\nJoe.\n\n\n\n");

	ck_assert_str_eq(verify(p, &s, b), "pass");
	tg_session_free(&s);
	tg_policy_unref(p);
	free(a);
	free(b);
}
END_TEST

/* make_sig - a message signed by libopendkim directly, for the cases the
 * signer of tollgate never makes (l=, rsa-sha1); the key is dk_dir/rsa. */
static char *
make_sig(const char *msg, dkim_alg_t alg, ssize_t length)
{
	DKIM_LIB *lib = dkim_init(NULL, NULL);
	unsigned char *key, *sh;
	size_t slen;
	char path[256], *out;
	const char *l = msg;
	DKIM_STAT st;
	DKIM *d;
	FILE *f;
	long n;

	snprintf(path, sizeof path, "%s/rsa.pem", dk_dir);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	key = tg_xmalloc(8192);
	n = (long)fread(key, 1, 8191, f);
	key[n] = '\0';
	fclose(f);
	d = dkim_sign(lib, (unsigned char *)"x", NULL, key,
	    (unsigned char *)"r", (unsigned char *)"example.org",
	    DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, alg, length, &st);
	ck_assert_ptr_nonnull(d);
	while (*l != '\n') {
		const char *e = strchr(l, '\n');

		ck_assert_int_eq(dkim_header(d, (unsigned char *)l,
		    (size_t)(e - l)), DKIM_STAT_OK);
		l = e + 1;
	}
	ck_assert_int_eq(dkim_eoh(d), DKIM_STAT_OK);
	for (const char *b = l + 1; *b != '\0'; b++) {
		if (*b == '\n')
			(void)dkim_body(d, (unsigned char *)"\r", 1);
		(void)dkim_body(d, (unsigned char *)b, 1);
	}
	ck_assert_int_eq(dkim_eom(d, NULL), DKIM_STAT_OK);
	ck_assert_int_eq(dkim_getsighdr_d(d, 16, &sh, &slen), DKIM_STAT_OK);
	out = tg_xasprintf("DKIM-Signature: %.*s\n%s", (int)slen, sh, msg);
	for (char *c = out; *c != '\0'; c++)
		if (*c == '\r')
			*c = ' ';
	dkim_free(d);
	dkim_close(lib);
	free(key);
	return out;
}

static const char plain_msg[] =
    "From: Alice <alice@example.org>\n"
    "To: bob@example.net\n"
    "Subject: hello\n"
    "Date: Sat, 05 Dec 2026 10:00:00 +0000\n"
    "Message-ID: <1@example.org>\n"
    "\n"
    "Hello Bob.\n";

static struct tg_policy *
plain_policy(const char *rec)
{
	struct tg_policy *p = dk_policy(VERIFY_POLICY);

	dk_seed(p, "r._domainkey.example.org", rec);
	dk_seed(p, "_dmarc.example.org", NULL);
	return p;
}

START_TEST(test_length_tag)
{
	char *rec = dk_key("rsa.pem", 1024, NULL);
	struct tg_policy *p = plain_policy(rec);
	struct tg_session s;
	char *m = make_sig(plain_msg, DKIM_SIGN_RSASHA256, 5), *m2;

	/* l=5 over a longer body: the rest is anyone's. */
	ck_assert_str_eq(verify(p, &s, m), "policy");
	ck_assert_ptr_nonnull(strstr(tg_dkim_var(p, &s, "dkim_auth", 9),
	    "dkim=policy (l= leaves part of the body unsigned)"));
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DKIM_DOMAINS, NULL), "");
	tg_session_free(&s);
	free(m);
	/* l= that covers the whole body is a pass. */
	m = make_sig(plain_msg, DKIM_SIGN_RSASHA256, 12);
	ck_assert_str_eq(verify(p, &s, m), "pass");
	tg_session_free(&s);
	/* ... until something is appended after it. */
	m2 = tg_xasprintf("%sPS: pay here\n", m);
	ck_assert_str_eq(verify(p, &s, m2), "policy");
	tg_session_free(&s);
	free(m);
	free(m2);
	/* rsa-sha1: RFC 8301 says a verifier must not accept it. */
	m = make_sig(plain_msg, DKIM_SIGN_RSASHA1, -1);
	ck_assert_str_eq(verify(p, &s, m), "policy");
	tg_session_free(&s);
	free(m);
	tg_policy_unref(p);
	free(rec);
}
END_TEST

START_TEST(test_bad_signatures)
{
	char *rec = dk_key("rsa.pem", 1024, NULL);
	struct tg_policy *p = plain_policy(rec);
	struct tg_session s;
	char *good = make_sig(plain_msg, DKIM_SIGN_RSASHA256, -1), *m;

	/* Malformed: no b=, garbage tags. */
	m = tg_xasprintf("DKIM-Signature: v=1; a=rsa-sha256; d=example.org; "
	    "s=r; h=from; bh=;;;; ===\n%s", plain_msg);
	ck_assert_str_eq(verify(p, &s, m), "permerror");
	tg_session_free(&s);
	free(m);
	/* An unknown algorithm. */
	m = replace(good, "a=rsa-sha256", "a=rsa-sha512");
	ck_assert_str_eq(verify(p, &s, m), "permerror");
	ck_assert_ptr_nonnull(strstr(tg_dkim_var(p, &s, "dkim_auth", 9),
	    "(unknown algorithm)"));
	tg_session_free(&s);
	free(m);
	/* A bad one does not hide a good one. */
	m = tg_xasprintf("DKIM-Signature: garbage\n%s", good);
	verify(p, &s, m);
	ck_assert_msg(strcmp(dk_attr(p, &s, TG_A_DKIM, NULL), "pass") == 0,
	    "%s\n%s", tg_dkim_var(p, &s, "dkim_auth", 9), dk_log);
	tg_session_free(&s);
	free(m);
	/* Not signed at all. */
	ck_assert_str_eq(verify(p, &s, plain_msg), "none");
	ck_assert_str_eq(tg_dkim_var(p, &s, "dkim_auth", 9), "dkim=none");
	tg_session_free(&s);
	free(good);
	tg_policy_unref(p);
	free(rec);
}
END_TEST

/* 50 signatures: the first 8 are verified (one key lookup each, in one
 * DNS round), the rest counted and logged. */
START_TEST(test_fifty_signatures)
{
	char *rec = dk_key("rsa.pem", 1024, NULL);
	struct tg_policy *p = plain_policy(rec);
	struct tg_session s;
	char *good = make_sig(plain_msg, DKIM_SIGN_RSASHA256, -1);
	char *m = tg_xstrdup(good), *t;

	for (int i = 0; i < 49; i++) {
		char name[64];

		snprintf(name, sizeof name, "s._domainkey.x%d.example", i);
		dk_seed(p, name, NULL);
		t = tg_xasprintf("DKIM-Signature: v=1; a=rsa-sha256; "
		    "d=x%d.example; s=s; h=from; bh=AAAA; b=AAAA\n%s", i, m);
		free(m);
		m = t;
	}
	/* the good one is 50th: not verified */
	ck_assert_str_eq(verify(p, &s, m), "permerror");
	{
		const char *ar = tg_dkim_var(p, &s, "dkim_auth", 9);
		int n = 0;

		for (; (ar = strstr(ar, "dkim=")) != NULL; ar++)
			n++;
		ck_assert_int_eq(n, TG_DKIM_SIGS_MAX);
	}
	ck_assert_ptr_nonnull(strstr(dk_log, "42 of 50 signatures not "
	    "verified"));
	tg_session_free(&s);
	free(m);
	free(good);
	tg_policy_unref(p);
	free(rec);
}
END_TEST

START_TEST(test_key_records)
{
	char *rec = dk_key("rsa.pem", 1024, NULL);
	char *good = make_sig(plain_msg, DKIM_SIGN_RSASHA256, -1);
	char big[16 * 1024 + 64];
	struct tg_policy *p;
	struct tg_session s;

	/* 16 KB key record: bounded, refused with a reason. */
	memset(big, 'A', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	memcpy(big, "v=DKIM1; k=rsa; p=", 18);
	p = plain_policy(big);
	ck_assert_str_eq(verify(p, &s, good), "permerror");
	ck_assert_ptr_nonnull(strstr(tg_dkim_var(p, &s, "dkim_auth", 9),
	    "(key record too long)"));
	tg_session_free(&s);
	tg_policy_unref(p);
	/* No key record. */
	p = plain_policy(NULL);
	ck_assert_str_eq(verify(p, &s, good), "permerror");
	tg_session_free(&s);
	tg_policy_unref(p);
	/* The key's lookup failed (nothing answers): temperror, not fail. */
	p = dk_policy(VERIFY_POLICY);
	dk_seed(p, "_dmarc.example.org", NULL);
	ck_assert_str_eq(verify(p, &s, good), "temperror");
	ck_assert_ptr_nonnull(strstr(tg_dkim_var(p, &s, "dkim_auth", 9),
	    "dkim=temperror (key lookup failed)"));
	tg_session_free(&s);
	tg_policy_unref(p);
	free(good);
	free(rec);
}
END_TEST

/* More fields than the session keeps: the verifier did not see them all,
 * so no signature may pass (fail closed, logged). */
START_TEST(test_header_caps)
{
	char *rec = dk_key("rsa.pem", 1024, NULL);
	struct tg_policy *p = plain_policy(rec);
	char *good = make_sig(plain_msg, DKIM_SIGN_RSASHA256, -1), *m, *t;
	struct tg_session s;
	size_t len = strlen(good);
	char *pad = tg_xmalloc(1001 * 16);

	pad[0] = '\0';
	for (int i = 0; i < 1001; i++)
		strcat(pad, "X-Pad: filler\n");
	/* after the body's blank line would be body: insert before it */
	t = strstr(good, "\n\n");
	ck_assert_ptr_nonnull(t);
	m = tg_xasprintf("%.*s\n%s%s", (int)(t - good), good, pad, t + 1);
	ck_assert_str_eq(verify(p, &s, m), "permerror");
	ck_assert_ptr_nonnull(strstr(tg_dkim_var(p, &s, "dkim_auth", 9),
	    "(header block over tollgate's limits)"));
	ck_assert_ptr_nonnull(strstr(dk_log, "signatures not verified"));
	tg_session_free(&s);
	(void)len;
	free(pad);
	free(m);
	free(good);
	tg_policy_unref(p);
	free(rec);
}
END_TEST

/* A 50 MB body in 64 KB chunks: hashed as it streams, memory bounded. */
START_TEST(test_big_body)
{
	char *rec = dk_key("rsa.pem", 1024, NULL);
	struct tg_policy *p = plain_policy(rec);
	char *good = make_sig(plain_msg, DKIM_SIGN_RSASHA256, 12);
	struct tg_session s;
	struct rusage ru0, ru1;
	char *chunk = tg_xmalloc(64 * 1024);
	const char *body;

	memset(chunk, 'a', 64 * 1024);
	for (size_t i = 77; i < 64 * 1024; i += 78) {
		chunk[i - 1] = '\r';
		chunk[i] = '\n';
	}
	getrusage(RUSAGE_SELF, &ru0);
	tg_session_init(&s, "t");
	s.in_message = 1;
	/* the signed part (l=12), then 50 MB more */
	body = strstr(good, "\n\n") + 2;
	{
		char *hdr = tg_xstrndup(good, (size_t)(body - good));

		dk_feed(p, &s, hdr, 4096);
		free(hdr);
	}
	tg_session_add_body_data(&s, p, "Hello Bob.\r\n", 12);
	for (int i = 0; i < 800; i++)
		tg_session_add_body_data(&s, p, chunk, 64 * 1024);
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DKIM, NULL), "policy");
	getrusage(RUSAGE_SELF, &ru1);
	/* ru_maxrss is in KB: the 50 MB never sit in memory. */
	ck_assert_msg(ru1.ru_maxrss - ru0.ru_maxrss < 16 * 1024,
	    "RSS grew by %ld KB", ru1.ru_maxrss - ru0.ru_maxrss);
	tg_session_free(&s);
	free(chunk);
	free(good);
	tg_policy_unref(p);
	free(rec);
}
END_TEST

/* Several key records under one name: ambiguous, not guessed. */
START_TEST(test_two_key_records)
{
	char *rec = dk_key("rsa.pem", 1024, NULL);
	char *good = make_sig(plain_msg, DKIM_SIGN_RSASHA256, -1);
	struct tg_policy *p = dk_policy(VERIFY_POLICY);
	struct tg_dns_query q;
	struct tg_session s;

	ck_assert_int_eq(tg_dns_query_init(&q, "r._domainkey.example.org",
	    TG_DNS_TXT), TG_OK);
	q.status = TG_DNS_OK;
	q.ttl = 60;
	q.str[0] = tg_xstrdup(rec);
	q.str[1] = tg_xstrdup("v=DKIM1; k=rsa; p=MIIB");
	q.n = 2;
	tg_dns_seed(p->dns->dns, &q);
	tg_dns_query_clear(&q);
	dk_seed(p, "_dmarc.example.org", NULL);
	ck_assert_str_eq(verify(p, &s, good), "permerror");
	ck_assert_ptr_nonnull(strstr(tg_dkim_var(p, &s, "dkim_auth", 9),
	    "(several key records)"));
	tg_session_free(&s);
	tg_policy_unref(p);
	free(good);
	free(rec);
}
END_TEST

static Suite *
dkim_suite(void)
{
	Suite *s = suite_create("dkim");
	TCase *tc = tcase_create("verify");

	tcase_add_checked_fixture(tc, dk_setup, dk_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_rfc8463);
	tcase_add_test(tc, test_body_byte);
	tcase_add_test(tc, test_relaxed_reorder);
	tcase_add_test(tc, test_length_tag);
	tcase_add_test(tc, test_bad_signatures);
	tcase_add_test(tc, test_fifty_signatures);
	tcase_add_test(tc, test_key_records);
	tcase_add_test(tc, test_header_caps);
	tcase_add_test(tc, test_big_body);
	tcase_add_test(tc, test_two_key_records);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dkim_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
