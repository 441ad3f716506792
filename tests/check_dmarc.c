/* check_dmarc.c - DKIM signing and DMARC without a socket: messages
 * signed by tollgate (rsa-sha256 and ed25519-sha256, relaxed/relaxed,
 * From oversigned) verify with tollgate and with an independent verifier
 * from Debian (python3-dkim); what is never signed; the key and signing
 * tables' errors; DMARC pass, fail with p=reject, quarantine, sp= for
 * subdomains, strict alignment, the Public Suffix List, pct, SPF
 * alignment, and the From fields that leave no author domain.
 * Verification cases: check_dkim.c. Threads: none. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tg.h"
#include "tg_check.h"
#include "tg_diag.h"
#include "tg_dkim.h"
#include "tg_dns.h"
#include "tg_policy.h"
#include "tg_session.h"
#include "dkim_fixture.h"

#define SIGN_BLOCK \
    "dkim-sign { key-table \"keys.tab\" signing-table " \
    "\"refile:signers.tab\" multiple-signatures yes }\n"
#define VERIFY_RULES \
    "stage eom { rule r : dkim == \"x\" or dmarc == \"x\" => continue }\n"
#define CHECK_RULES \
    "stage eom {\n" \
    "  rule r : dkim == \"x\" or dmarc == \"x\" => continue\n" \
    "  rule sign : authenticated => dkim-sign\n" \
    "  rule tag : true => add-header X-Tollgate \"seen\"\n" \
    "}\n"

static const char msg[] =
    "From: Alice <alice@example.org>\n"
    "To: bob@example.net\n"
    "Subject: hello\n"
    "Date: Sat, 05 Dec 2026 10:00:00 +0000\n"
    "Message-ID: <1@example.org>\n"
    "\n"
    "Hello Bob.\n"
    "\n"
    "  Alice\n";

static char *rsa_rec, *ed_rec;

/* keys - an RSA 2048 and an Ed25519 key for example.org, both signing
 * every address of the domain */
static struct tg_policy *
keys(const char *extra)
{
	struct tg_policy *p;
	char *t;

	rsa_rec = dk_key("rsa.pem", 2048, NULL);
	ed_rec = dk_key("ed.pem", 0, NULL);
	dk_write("keys.tab", "# name  domain:selector:file\n"
	    "rsa  example.org:r2048:rsa.pem\n"
	    "ed   example.org:ed1:ed.pem\n", 0644);
	dk_write("signers.tab", "*@example.org rsa\n*@example.org ed\n",
	    0644);
	t = tg_xasprintf("%s%s%s", SIGN_BLOCK, CHECK_RULES, extra);
	p = dk_policy(t);
	free(t);
	dk_seed(p, "r2048._domainkey.example.org", rsa_rec);
	dk_seed(p, "ed1._domainkey.example.org", ed_rec);
	return p;
}

static void
keys_free(void)
{
	free(rsa_rec);
	free(ed_rec);
	rsa_rec = ed_rec = NULL;
}

/* check - feed m under p; s is left for the caller to read and free */
static void
check(struct tg_policy *p, struct tg_session *s, const char *m,
    const char *sender)
{
	tg_session_init(s, "t");
	if (sender != NULL)
		ck_assert_int_eq(tg_session_set(s, TG_A_SENDER, sender), TG_OK);
	s->in_message = 1;
	dk_feed(p, s, m, 11);
}

START_TEST(test_sign_verify)
{
	struct tg_policy *p = keys("");
	struct tg_session s;
	char *signed_msg = dk_sign(p, msg, "alice@example.org");
	const char *h;

	ck_assert_ptr_nonnull(signed_msg);
	ck_assert_ptr_nonnull(strstr(signed_msg, "a=rsa-sha256"));
	ck_assert_ptr_nonnull(strstr(signed_msg, "a=ed25519-sha256"));
	ck_assert_ptr_nonnull(strstr(signed_msg, "c=relaxed/relaxed"));
	/* From oversigned; our own fields never in h=. */
	ck_assert_ptr_nonnull(h = strstr(signed_msg, "h=From:"));
	ck_assert_ptr_nonnull(strcasestr(h, ":from;"));
	ck_assert_ptr_null(strcasestr(signed_msg, "x-tollgate"));
	ck_assert_ptr_null(strcasestr(signed_msg, "authentication-results"));
	dk_seed(p, "_dmarc.example.org", "v=DMARC1; p=reject");
	check(p, &s, signed_msg, NULL);
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DKIM, NULL), "pass");
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC, NULL), "pass");
	ck_assert_msg(strstr(tg_dkim_var(p, &s, "dkim_auth", 9),
	    "dkim=pass header.d=example.org header.s=r2048") != NULL &&
	    strstr(tg_dkim_var(p, &s, "dkim_auth", 9),
	    "dkim=pass header.d=example.org header.s=ed1") != NULL, "%s",
	    tg_dkim_var(p, &s, "dkim_auth", 9));
	ck_assert_str_eq(tg_dkim_var(p, &s, "dmarc_auth", 10),
	    "dmarc=pass (p=reject sp=reject pct=100) header.from=example.org");
	tg_session_free(&s);
	free(signed_msg);
	tg_policy_unref(p);
	keys_free();
}
END_TEST

/* An independent verifier (Debian's python3-dkim, the module behind
 * dkimverify) checks both signatures of a message tollgate signed. */
START_TEST(test_python_verifies)
{
	struct tg_policy *p = keys("");
	char *signed_msg = dk_sign(p, msg, "alice@example.org");
	char path[256], *script, *recs;
	int rc;

	if (system("/usr/bin/python3 -c 'import dkim' 2>/dev/null") != 0) {
		fprintf(stderr, "SKIP: python3-dkim not installed\n");
		goto out;
	}
	ck_assert_ptr_nonnull(signed_msg);
	dk_write("signed.eml", signed_msg, 0644);
	recs = tg_xasprintf("r2048._domainkey.example.org. %s\n"
	    "ed1._domainkey.example.org. %s\n", rsa_rec, ed_rec);
	dk_write("records", recs, 0644);
	free(recs);
	script = tg_xasprintf(
	    "import dkim, sys\n"
	    "recs = dict(l.split(' ', 1) for l in open('%s/records').read()"
	    ".splitlines())\n"
	    "def dns(name, timeout=5):\n"
	    "    return recs[name.decode()].encode()\n"
	    "m = open('%s/signed.eml', 'rb').read().replace(b'\\n', b'\\r\\n')\n"
	    "d = dkim.DKIM(m)\n"
	    "ok = [d.verify(idx=i, dnsfunc=dns) for i in range(2)]\n"
	    "bad = dkim.DKIM(m.replace(b'Hello Bob', b'Hello Bo!'))\n"
	    "def fails(i):\n"
	    "    try:\n"
	    "        return not bad.verify(idx=i, dnsfunc=dns)\n"
	    "    except dkim.ValidationError:\n"
	    "        return True\n"
	    "ok += [fails(i) for i in range(2)]\n"
	    "sys.exit(0 if all(ok) else 1)\n", dk_dir, dk_dir);
	dk_write("verify.py", script, 0644);
	free(script);
	snprintf(path, sizeof path, "/usr/bin/python3 %s/verify.py", dk_dir);
	rc = system(path);
	ck_assert_msg(rc == 0, "python3-dkim: %d\n%s", rc, signed_msg);
out:
	free(signed_msg);
	tg_policy_unref(p);
	keys_free();
}
END_TEST

/* Ed25519 with RFC 8463's key (A.2): the body hash is the RFC's, and the
 * signature verifies against the RFC's published key; bodies that test
 * relaxed body canonicalisation verify too (libopendkim checks what
 * dkim_ed25519.c signs). */
START_TEST(test_ed25519_rfc_key)
{
	static const unsigned char seed[32] = {
	    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a,
	    0xf4, 0x92, 0xec, 0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32,
	    0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60 };
	static const char *const bodies[] = { "", "\n\n\n", "a  \t b \n\n",
	    "no newline at the end", "  lead\n\n\nmid\n \t\n", "cr\ronly\n" };
	const char *rfc = strstr(dk_rfc8463_msg, "From: Joe");
	char *rec = dk_key("ed.pem", 0, seed), *out, *m;
	struct tg_policy *p;
	struct tg_session s;

	ck_assert_str_eq(rec, dk_rfc8463_ed25519);
	dk_write("keys.tab", "brisbane football.example.com:brisbane:ed.pem\n",
	    0644);
	dk_write("signers.tab", "*@football.example.com brisbane\n", 0644);
	p = dk_policy(SIGN_BLOCK CHECK_RULES);
	dk_seed(p, "brisbane._domainkey.football.example.com",
	    dk_rfc8463_ed25519);
	dk_seed(p, "_dmarc.football.example.com", NULL);
	dk_seed(p, "_dmarc.example.com", NULL);
	out = dk_sign(p, rfc, "joe@football.example.com");
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(strstr(out, "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=")
	    != NULL, "%s", out);
	check(p, &s, out, NULL);
	ck_assert_msg(strcmp(dk_attr(p, &s, TG_A_DKIM, NULL), "pass") == 0,
	    "%s\n%s", out, tg_dkim_var(p, &s, "dkim_auth", 9));
	tg_session_free(&s);
	free(out);
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		m = tg_xasprintf("From: joe@football.example.com\n"
		    "Subject: a: b  c\t \n\tfolded\n\n%s", bodies[i]);
		out = dk_sign(p, m, "joe@football.example.com");
		ck_assert_ptr_nonnull(out);
		check(p, &s, out, NULL);
		ck_assert_msg(strcmp(dk_attr(p, &s, TG_A_DKIM, NULL), "pass") ==
		    0, "body %zu:\n%s\n%s", i, out,
		    tg_dkim_var(p, &s, "dkim_auth", 9));
		tg_session_free(&s);
		free(out);
		free(m);
	}
	tg_policy_unref(p);
	free(rec);
}
END_TEST

START_TEST(test_sign_refused)
{
	struct tg_policy *p = keys("");
	char *m;

	/* Two From fields: ambiguous, not signed. */
	m = tg_xasprintf("From: x@example.org\n%s", msg);
	ck_assert_ptr_null(dk_sign(p, m, "alice@example.org"));
	ck_assert_ptr_nonnull(strstr(dk_log, "not signed: several From"));
	free(m);
	/* No key for the address. */
	m = tg_xasprintf("From: a@other.example\nSubject: x\n\nhi\n");
	ck_assert_ptr_null(dk_sign(p, m, "a@other.example"));
	ck_assert_ptr_nonnull(strstr(dk_log, "no key in the signing table"));
	free(m);
	tg_policy_unref(p);
	keys_free();
}
END_TEST

/* A forged Authentication-Results that tollgate removes is not signed:
 * the message as delivered, without it, verifies. */
START_TEST(test_sign_after_removal)
{
	struct tg_policy *p = keys("authentication-results \"mail.example.org\"\n");
	struct tg_session s;
	char *in = tg_xasprintf("Authentication-Results: mail.example.org; "
	    "dkim=pass\n%s", msg);
	char *out = dk_sign(p, in, "alice@example.org"), *delivered, *ar;

	ck_assert_ptr_nonnull(out);
	ar = strstr(out, "Authentication-Results:");
	ck_assert_ptr_nonnull(ar);
	delivered = tg_xasprintf("%.*s%s", (int)(ar - out), out,
	    strchr(ar, '\n') + 1);
	dk_seed(p, "_dmarc.example.org", NULL);
	check(p, &s, delivered, NULL);
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DKIM, NULL), "pass");
	tg_session_free(&s);
	free(in);
	free(out);
	free(delivered);
	tg_policy_unref(p);
	keys_free();
}
END_TEST

START_TEST(test_dmarc)
{
	struct tg_policy *p = keys("");
	struct tg_session s;
	char *signed_msg = dk_sign(p, msg, "alice@example.org"), *bad;

	bad = tg_xstrdup(signed_msg);
	*strstr(bad, "Hello Bob") = 'J';
	dk_seed(p, "_dmarc.example.org", "v=DMARC1; p=reject; rua=mailto:d@"
	    "example.org");
	check(p, &s, bad, NULL);
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DKIM, NULL), "fail");
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC, NULL), "fail");
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC_POLICY, NULL), "reject");
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC_DOMAIN, NULL),
	    "example.org");
	ck_assert_str_eq(tg_dkim_var(p, &s, "dmarc_auth", 10), "dmarc=fail "
	    "(p=reject sp=reject pct=100 dis=reject) header.from=example.org");
	tg_session_free(&s);
	tg_policy_unref(p);

	/* p=quarantine; pct=0 takes it one step down. */
	p = dk_policy(VERIFY_RULES);
	dk_seed(p, "r2048._domainkey.example.org", rsa_rec);
	dk_seed(p, "ed1._domainkey.example.org", ed_rec);
	dk_seed(p, "_dmarc.example.org", "v=DMARC1; p=quarantine");
	check(p, &s, bad, NULL);
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC_POLICY, NULL),
	    "quarantine");
	tg_session_free(&s);
	tg_policy_unref(p);
	p = dk_policy(VERIFY_RULES);
	dk_seed(p, "r2048._domainkey.example.org", rsa_rec);
	dk_seed(p, "ed1._domainkey.example.org", ed_rec);
	dk_seed(p, "_dmarc.example.org", "v=DMARC1; p=reject; pct=0");
	check(p, &s, bad, NULL);
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC, NULL), "fail");
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC_POLICY, NULL),
	    "quarantine");
	tg_session_free(&s);
	/* No record: none, no policy. */
	tg_policy_unref(p);
	p = dk_policy(VERIFY_RULES);
	dk_seed(p, "r2048._domainkey.example.org", rsa_rec);
	dk_seed(p, "ed1._domainkey.example.org", ed_rec);
	dk_seed(p, "_dmarc.example.org", NULL);
	check(p, &s, bad, NULL);
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC, NULL), "none");
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC_POLICY, NULL), "");
	tg_session_free(&s);
	tg_policy_unref(p);
	/* The record's lookup failed: temperror. */
	p = dk_policy(VERIFY_RULES);
	check(p, &s, bad, NULL);
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC, NULL), "temperror");
	tg_session_free(&s);
	tg_policy_unref(p);
	/* Two records: not evaluated (RFC 7489 6.6.3). */
	p = dk_policy(VERIFY_RULES);
	dk_seed(p, "r2048._domainkey.example.org", rsa_rec);
	dk_seed(p, "ed1._domainkey.example.org", ed_rec);
	{
		struct tg_dns_query q;

		tg_dns_query_init(&q, "_dmarc.example.org", TG_DNS_TXT);
		q.status = TG_DNS_OK;
		q.ttl = 60;
		q.n = 2;
		q.str[0] = tg_xstrdup("v=DMARC1; p=none");
		q.str[1] = tg_xstrdup("v=DMARC1; p=reject");
		tg_dns_seed(p->dns->dns, &q);
		tg_dns_query_clear(&q);
	}
	check(p, &s, bad, NULL);
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC, NULL), "permerror");
	tg_session_free(&s);
	tg_policy_unref(p);
	free(bad);
	free(signed_msg);
	keys_free();
}
END_TEST

/* Subdomains: relaxed alignment through the organisational domain, sp=
 * from the organisational domain's record, adkim=s, and a public suffix
 * (github.io) that aligns with nothing under it. */
START_TEST(test_dmarc_alignment)
{
	struct tg_policy *p = keys("");
	struct tg_session s;
	char *sub, *signed_msg, *gh, *ghs;

	sub = tg_xasprintf("From: news@news.example.org\n%s",
	    strchr(msg, '\n') + 1);
	/* signed by example.org (the keys sign *@example.org: sign as
	 * alice, then swap From back, which From oversigning forbids; so
	 * sign a message whose From is already the subdomain) */
	dk_write("signers.tab", "*@news.example.org rsa\n", 0644);
	tg_policy_unref(p);
	p = dk_policy(SIGN_BLOCK CHECK_RULES);
	dk_seed(p, "r2048._domainkey.example.org", rsa_rec);
	signed_msg = dk_sign(p, sub, "news@news.example.org");
	ck_assert_ptr_nonnull(signed_msg);
	dk_seed(p, "_dmarc.news.example.org", NULL);
	dk_seed(p, "_dmarc.example.org", "v=DMARC1; p=reject; sp=quarantine");
	check(p, &s, signed_msg, NULL);
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC, NULL), "pass");
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC_ORG, NULL), "example.org");
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DKIM_ALIGNED, NULL), "1");
	tg_session_free(&s);
	/* unsigned: fails, and sp= applies to the subdomain */
	check(p, &s, sub, NULL);
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC, NULL), "fail");
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC_POLICY, NULL),
	    "quarantine");
	tg_session_free(&s);
	tg_policy_unref(p);
	/* adkim=s: d=example.org is not news.example.org */
	p = dk_policy(VERIFY_RULES);
	dk_seed(p, "r2048._domainkey.example.org", rsa_rec);
	dk_seed(p, "_dmarc.news.example.org", "v=DMARC1; p=reject; adkim=s");
	check(p, &s, signed_msg, NULL);
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DKIM, NULL), "pass");
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC, NULL), "fail");
	tg_session_free(&s);
	tg_policy_unref(p);

	/* github.io is a public suffix: d=github.io does not align with
	 * victim.github.io (libopendmarc's own test says it does). */
	dk_write("keys.tab", "gh github.io:s:rsa.pem\n", 0644);
	dk_write("signers.tab", "*@victim.github.io gh\n", 0644);
	p = dk_policy(SIGN_BLOCK CHECK_RULES);
	gh = tg_xasprintf("From: v@victim.github.io\n%s",
	    strchr(msg, '\n') + 1);
	ghs = dk_sign(p, gh, "v@victim.github.io");
	ck_assert_ptr_nonnull(ghs);
	dk_seed(p, "s._domainkey.github.io", rsa_rec);
	dk_seed(p, "_dmarc.victim.github.io", "v=DMARC1; p=reject");
	check(p, &s, ghs, NULL);
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DKIM, NULL), "pass");
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC_ORG, NULL),
	    "victim.github.io");
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC, NULL), "fail");
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DKIM_ALIGNED, NULL), "");
	tg_session_free(&s);
	tg_policy_unref(p);
	free(gh);
	free(ghs);
	free(sub);
	free(signed_msg);
	keys_free();
}
END_TEST

/* SPF that passes for an aligned MAIL FROM domain is enough. */
START_TEST(test_dmarc_spf)
{
	struct tg_policy *p = dk_policy(VERIFY_RULES);
	struct tg_session s;

	dk_seed(p, "example.org", "v=spf1 ip4:192.0.2.1 -all");
	dk_seed(p, "_dmarc.example.org", "v=DMARC1; p=reject");
	tg_session_init(&s, "t");
	ck_assert_int_eq(tg_session_set(&s, TG_A_CLIENT_ADDRESS, "192.0.2.1"),
	    TG_OK);
	ck_assert_int_eq(tg_session_set(&s, TG_A_HELO, "mx.example.org"),
	    TG_OK);
	ck_assert_int_eq(tg_session_set(&s, TG_A_SENDER, "b@example.org"),
	    TG_OK);
	s.in_message = 1;
	dk_feed(p, &s, msg, 64);
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DKIM, NULL), "none");
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC, NULL), "pass");
	tg_session_free(&s);
	/* the same from another address: fail, p=reject */
	tg_session_init(&s, "t");
	ck_assert_int_eq(tg_session_set(&s, TG_A_CLIENT_ADDRESS,
	    "198.51.100.1"), TG_OK);
	ck_assert_int_eq(tg_session_set(&s, TG_A_SENDER, "b@example.org"),
	    TG_OK);
	s.in_message = 1;
	dk_feed(p, &s, msg, 64);
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC, NULL), "fail");
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC_POLICY, NULL), "reject");
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

/* From fields that name no single author domain (RFC 7489 6.6.1). */
START_TEST(test_dmarc_from)
{
	struct tg_policy *p = dk_policy(VERIFY_RULES);
	struct tg_session s;
	char *m;

	dk_seed(p, "_dmarc.example.org", "v=DMARC1; p=none");
	dk_seed(p, "_dmarc.example.net", "v=DMARC1; p=reject");
	m = tg_xasprintf("From: b@example.net\n%s", msg);
	check(p, &s, m, NULL);
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC, NULL), "fail");
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC_POLICY, NULL), "reject");
	ck_assert_str_eq(tg_dkim_var(p, &s, "dmarc_auth", 10),
	    "dmarc=fail (several From fields)");
	tg_session_free(&s);
	free(m);
	check(p, &s, strchr(msg, '\n') + 1, NULL);
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC, NULL), "fail");
	ck_assert_str_eq(tg_dkim_var(p, &s, "dmarc_auth", 10),
	    "dmarc=fail (no From field)");
	tg_session_free(&s);
	/* Two addresses, two domains: each evaluated, the strictest
	 * failing policy applies (example.net's reject). */
	m = tg_xasprintf("From: a@example.org, b@example.net\n%s",
	    strchr(msg, '\n') + 1);
	check(p, &s, m, NULL);
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC, NULL), "fail");
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC_POLICY, NULL), "reject");
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC_DOMAIN, NULL),
	    "example.org example.net");
	tg_session_free(&s);
	free(m);
	m = tg_xasprintf("From: undisclosed\n%s", strchr(msg, '\n') + 1);
	check(p, &s, m, NULL);
	ck_assert_str_eq(dk_attr(p, &s, TG_A_DMARC, NULL), "fail");
	tg_session_free(&s);
	free(m);
	tg_policy_unref(p);
}
END_TEST

/* load_errors - the diagnostics of a policy that must not load */
static char *
load_errors(const char *text)
{
	struct tg_diag diag;
	struct tg_policy *p;
	char *all = tg_xstrdup(""), *t;

	tg_diag_init(&diag);
	p = tg_policy_load_string("test.conf", text, dk_dir, &diag);
	ck_assert_ptr_null(p);
	for (size_t i = 0; i < diag.n; i++) {
		t = tg_xasprintf("%s%s\n", all, diag.msgs[i]);
		free(all);
		all = t;
	}
	tg_diag_free(&diag);
	return all;
}

START_TEST(test_key_errors)
{
	char *e, want[256];

	free(dk_key("rsa.pem", 1024, NULL));
	dk_write("signers.tab", "*@example.org rsa\n", 0644);
	/* readable by others */
	dk_write("keys.tab", "rsa example.org:s:rsa.pem\n", 0644);
	chmod(strcat(strcpy(want, dk_dir), "/rsa.pem"), 0644);
	e = load_errors(SIGN_BLOCK CHECK_RULES);
	snprintf(want, sizeof want, "%s/keys.tab:1:19: error: key file %s/"
	    "rsa.pem: readable or writable by others", dk_dir, dk_dir);
	ck_assert_msg(strstr(e, want) != NULL, "%s", e);
	free(e);
	/* missing */
	dk_write("keys.tab", "rsa example.org:s:gone.pem\n", 0644);
	e = load_errors(SIGN_BLOCK CHECK_RULES);
	ck_assert_msg(strstr(e, "gone.pem: no such file") != NULL, "%s", e);
	free(e);
	/* a signing table naming no key */
	chmod(strcat(strcpy(want, dk_dir), "/rsa.pem"), 0600);
	dk_write("keys.tab", "rsa example.org:s:rsa.pem\n", 0644);
	dk_write("signers.tab", "*@example.org nokey\n", 0644);
	e = load_errors(SIGN_BLOCK CHECK_RULES);
	ck_assert_msg(strstr(e, "signers.tab:1:15: error: key \"nokey\" is "
	    "not in the key table") != NULL, "%s", e);
	free(e);
	/* dkim-sign without the block */
	e = load_errors(CHECK_RULES);
	ck_assert_msg(strstr(e, "no dkim-sign {") != NULL, "%s", e);
	free(e);
	/* not a key */
	dk_write("bad.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n", 0600);
	dk_write("keys.tab", "rsa example.org:s:bad.pem\n", 0644);
	dk_write("signers.tab", "*@example.org rsa\n", 0644);
	e = load_errors(SIGN_BLOCK CHECK_RULES);
	ck_assert_msg(strstr(e, "not a PEM private key") != NULL, "%s", e);
	free(e);
}
END_TEST

static Suite *
dmarc_suite(void)
{
	Suite *s = suite_create("dmarc");
	TCase *tc = tcase_create("sign+dmarc");

	tcase_add_checked_fixture(tc, dk_setup, dk_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_sign_verify);
	tcase_add_test(tc, test_python_verifies);
	tcase_add_test(tc, test_ed25519_rfc_key);
	tcase_add_test(tc, test_sign_refused);
	tcase_add_test(tc, test_sign_after_removal);
	tcase_add_test(tc, test_dmarc);
	tcase_add_test(tc, test_dmarc_alignment);
	tcase_add_test(tc, test_dmarc_spf);
	tcase_add_test(tc, test_dmarc_from);
	tcase_add_test(tc, test_key_errors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dmarc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
