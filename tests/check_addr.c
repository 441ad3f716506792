/* check_addr.c - unit tests for addr.c: envelope address normalisation
 * with hostile input. Threads: none (Check may fork per test). */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tg.h"
#include "tg_addr.h"

struct norm_case {
	const char	*in;
	int		 rc;
	const char	*out;
};

static const struct norm_case norm_cases[] = {
	{ "<user@Example.COM>", TG_OK, "user@example.com" },
	{ "User@Example.COM", TG_OK, "User@example.com" },
	{ "<>", TG_OK, "" },
	{ "", TG_OK, "" },
	{ "<@a,@b:user@c>", TG_OK, "user@c" },
	{ "<@a.example:User@C.Example>", TG_OK, "User@c.example" },
	{ "@a,@b:user@c", TG_OK, "user@c" },
	{ "<\"john smith\"@x>", TG_OK, "\"john smith\"@x" },
	{ "\"a@b\"@c", TG_OK, "\"a@b\"@c" },
	{ "\"a\\\"@b\"@C", TG_OK, "\"a\\\"@b\"@c" },
	{ "user@example.com.", TG_OK, "user@example.com" },
	{ "<user@Example.COM.>", TG_OK, "user@example.com" },
	{ "user@[1.2.3.4]", TG_OK, "user@[1.2.3.4]" },
	{ "user@[IPv6:::1]", TG_OK, "user@[ipv6:::1]" },
	{ "postmaster", TG_OK, "postmaster" },
	{ "<Postmaster>", TG_OK, "Postmaster" },
	{ "  <user@x>  ", TG_OK, "user@x" },
	{ "j\xc3\xb6rg@\xc3\xa4.EXAMPLE", TG_OK,
	    "j\xc3\xb6rg@\xc3\xa4.example" },
	{ "a+tag@x", TG_OK, "a+tag@x" },
	{ "user@other@local", TG_ERR_SYNTAX, NULL },
	{ "<user@other@local>", TG_ERR_SYNTAX, NULL },
	{ "user@x\r", TG_ERR_SYNTAX, NULL },
	{ "user@x\n", TG_ERR_SYNTAX, NULL },
	{ "us\ter@x", TG_ERR_SYNTAX, NULL },
	{ "user@x\x7f", TG_ERR_SYNTAX, NULL },
	{ "<user@x", TG_ERR_SYNTAX, NULL },
	{ "user@x>", TG_ERR_SYNTAX, NULL },
	{ "<", TG_ERR_SYNTAX, NULL },
	{ ">", TG_ERR_SYNTAX, NULL },
	{ "<<user@x>>", TG_ERR_SYNTAX, NULL },
	{ "\"unbalanced@x", TG_ERR_SYNTAX, NULL },
	{ "\"a\\\"@x", TG_ERR_SYNTAX, NULL },
	{ "\"ends in backslash\\", TG_ERR_SYNTAX, NULL },
	{ "user@\"quoted.domain\"", TG_ERR_SYNTAX, NULL },
	{ "user@[1.2.3.4", TG_ERR_SYNTAX, NULL },
	{ "user@1.2.3.4]", TG_ERR_SYNTAX, NULL },
	{ "user@[[1.2.3.4]]", TG_ERR_SYNTAX, NULL },
	{ "user@[]", TG_ERR_SYNTAX, NULL },
	{ "@x", TG_ERR_SYNTAX, NULL },
	{ "<@x>", TG_ERR_SYNTAX, NULL },
	{ "user@", TG_ERR_SYNTAX, NULL },
	{ "user@.", TG_ERR_SYNTAX, NULL },
	{ "user@x..", TG_ERR_SYNTAX, NULL },
	{ "user@.x", TG_ERR_SYNTAX, NULL },
	{ "user@a..b", TG_ERR_SYNTAX, NULL },
	{ "<@a,@b>", TG_ERR_SYNTAX, NULL },
	{ "<@a:>", TG_ERR_SYNTAX, NULL },
	{ "<@:user@c>", TG_ERR_SYNTAX, NULL },
	{ "<@a,b:user@c>", TG_ERR_SYNTAX, NULL },
	{ "john smith@x", TG_ERR_SYNTAX, NULL },
	{ "<user@x> SIZE=100", TG_ERR_SYNTAX, NULL },
	{ "us\\er@x", TG_ERR_SYNTAX, NULL },
	/* Quoted local parts in their one canonical form (RFC 5321 4.1.2,
	 * RFC 5322 3.4.1): unquoted when the content is a dot-atom. */
	{ "<\"alice\"@Example.ORG>", TG_OK, "alice@example.org" },
	{ "\"al\\ice\"@example.org", TG_OK, "alice@example.org" },
	{ "\"a.b\"@x", TG_OK, "a.b@x" },
	{ "\"a\".\"b\"@x", TG_OK, "a.b@x" },
	{ "\"al\"ice@x", TG_OK, "alice@x" },
	{ "\"bob\"@example.org", TG_OK, "bob@example.org" },
	{ "\"Postmaster\"", TG_OK, "Postmaster" },
	{ "\"j\xc3\xb6rg\"@x", TG_OK, "j\xc3\xb6rg@x" },
	{ "\"a+tag\"@x", TG_OK, "a+tag@x" },
	/* Not dot-atoms: quoted, only '"' and '\\' escaped. */
	{ "\"a..b\"@x", TG_OK, "\"a..b\"@x" },
	{ "a..b@x", TG_OK, "\"a..b\"@x" },
	{ "\"a b\"@x", TG_OK, "\"a b\"@x" },
	{ "\"a\\ b\"@x", TG_OK, "\"a b\"@x" },
	{ "\".a\"@x", TG_OK, "\".a\"@x" },
	{ "\"a.\"@x", TG_OK, "\"a.\"@x" },
	{ "\"a@b\"@x", TG_OK, "\"a@b\"@x" },
	{ "\"a\\\\b\"@x", TG_OK, "\"a\\\\b\"@x" },
	{ "\"a,b\"@x", TG_OK, "\"a,b\"@x" },
	{ "a,b@x", TG_OK, "\"a,b\"@x" },
	{ "\"\"@x", TG_OK, "\"\"@x" },
};

START_TEST(test_normalize)
{
	const struct norm_case *c = &norm_cases[_i];
	char out[TG_ADDR_MAX + 1];
	int rc;

	rc = tg_addr_normalize(c->in, out, sizeof out);
	ck_assert_msg(rc == c->rc, "case %d: got rc %d, want %d", _i, rc,
	    c->rc);
	if (rc == TG_OK)
		ck_assert_msg(strcmp(out, c->out) == 0,
		    "case %d: got \"%s\", want \"%s\"", _i, out, c->out);
}
END_TEST

/* tg_addr_parse_domain: the same result, and the domain tg_addr_domain()
 * finds in it (session.c relies on that). */
START_TEST(test_parse_domain)
{
	const struct norm_case *c = &norm_cases[_i];
	char out[TG_ADDR_MAX + 1];
	const char *dom = "unset";
	int rc, routed;

	rc = tg_addr_parse_domain(c->in, out, sizeof out, &routed, &dom);
	ck_assert_msg(rc == c->rc, "case %d: got rc %d, want %d", _i, rc,
	    c->rc);
	if (rc != TG_OK)
		return;
	ck_assert_str_eq(out, c->out);
	ck_assert_msg(dom == tg_addr_domain(out),
	    "case %d: domain \"%s\", tg_addr_domain \"%s\"", _i,
	    dom ? dom : "(null)",
	    tg_addr_domain(out) ? tg_addr_domain(out) : "(null)");
}
END_TEST

/* Every control byte, anywhere, is a syntax error. */
START_TEST(test_normalize_ctl)
{
	int c = _i == 0x20 ? 0x7f : _i;
	char in[16], out[64];
	int rc;

	if (c == 0)
		return;
	memcpy(in, "<a?b@x>", 8);
	in[2] = (char)c;
	rc = tg_addr_normalize(in, out, sizeof out);
	ck_assert_msg(rc == TG_ERR_SYNTAX, "byte 0x%02x: got %d, want %d", c,
	    rc, TG_ERR_SYNTAX);
}
END_TEST

static char *
make_addr(size_t local, const char *domain)
{
	size_t dlen = strlen(domain);
	char *s = tg_xmalloc(local + dlen + 2);

	memset(s, 'a', local);
	s[local] = '@';
	memcpy(s + local + 1, domain, dlen + 1);
	return s;
}

START_TEST(test_normalize_lengths)
{
	char out[TG_ADDR_MAX + 1], small[8];
	char *s;
	int rc;

	/* Exactly TG_ADDR_MAX bytes fit. */
	s = make_addr(TG_ADDR_MAX - 4, "x.y");
	rc = tg_addr_normalize(s, out, sizeof out);
	ck_assert_msg(rc == TG_OK, "max: got %d, want OK", rc);
	ck_assert_msg(strlen(out) == TG_ADDR_MAX, "max: got length %zu",
	    strlen(out));
	free(s);
	s = make_addr(TG_ADDR_MAX - 3, "x.y");
	rc = tg_addr_normalize(s, out, sizeof out);
	ck_assert_msg(rc == TG_ERR_TOOLONG, "max+1: got %d, want TOOLONG", rc);
	free(s);

	/* 100 KB line. */
	s = make_addr(100 * 1024, "x.y");
	rc = tg_addr_normalize(s, out, sizeof out);
	ck_assert_msg(rc == TG_ERR_TOOLONG, "100 KB: got %d, want TOOLONG",
	    rc);
	free(s);

	/* outsz smaller than the result; then exactly large enough. */
	rc = tg_addr_normalize("<abc@def>", small, 7);
	ck_assert_msg(rc == TG_ERR_TOOLONG, "outsz 7: got %d, want TOOLONG",
	    rc);
	rc = tg_addr_normalize("<abc@def>", small, 8);
	ck_assert_msg(rc == TG_OK && strcmp(small, "abc@def") == 0,
	    "outsz 8: got %d \"%s\", want OK \"abc@def\"", rc, small);
	rc = tg_addr_normalize("<>", small, 0);
	ck_assert_msg(rc == TG_ERR_TOOLONG, "outsz 0: got %d, want TOOLONG",
	    rc);
}
END_TEST

struct domain_case {
	const char	*addr;
	const char	*domain;	/* NULL: none */
};

static const struct domain_case domain_cases[] = {
	{ "user@example.com", "example.com" },
	{ "\"a@b\"@c", "c" },
	{ "\"a\\\"@b\"@c", "c" },
	{ "postmaster", NULL },
	{ "", NULL },
	{ "\"only@quoted\"", NULL },
	{ "user@", "" },
};

START_TEST(test_domain)
{
	const struct domain_case *c = &domain_cases[_i];
	const char *d = tg_addr_domain(c->addr);

	if (c->domain == NULL)
		ck_assert_msg(d == NULL, "case %d: got \"%s\", want NULL", _i,
		    d);
	else
		ck_assert_msg(d != NULL && strcmp(d, c->domain) == 0,
		    "case %d: got \"%s\", want \"%s\"", _i,
		    d ? d : "(null)", c->domain);
}
END_TEST

/* Spellings of one mailbox give one address; different mailboxes never
 * do: a quoted "bob" is bob, and "a..b", "a b", ".a", "a@b" are none of
 * a.b, ab or a. */
static const char *const same_mailbox[][4] = {
	{ "alice@example.org", "\"alice\"@example.org",
	  "\"al\\ice\"@example.org", "<\"a\"lice@EXAMPLE.org>" },
	{ "a.b@x", "\"a.b\"@x", "\"a\".b@x", "a.\"b\"@x" },
	{ "\"a..b\"@x", "a..b@x", "\"a.\".\"b\"@x", "\"a\\.\\.b\"@x" },
	{ "\"a b\"@x", "\"a\\ b\"@x", "\"a \"b@x", NULL },
	{ "ab@x", "\"ab\"@x", "a\"b\"@x", NULL },
	{ "\".a\"@x", NULL },
	{ "a@x", "\"a\"@x", NULL },
	{ "\"a@b\"@x", NULL },
	{ "bob@example.org", "\"bob\"@example.org", NULL },
};

START_TEST(test_canonical_mailbox)
{
	const size_t ng = sizeof same_mailbox / sizeof same_mailbox[0];
	char first[ng][TG_ADDR_MAX + 1], out[TG_ADDR_MAX + 1];
	int rc;

	for (size_t g = 0; g < ng; g++) {
		rc = tg_addr_normalize(same_mailbox[g][0], first[g],
		    sizeof first[g]);
		ck_assert_msg(rc == TG_OK, "%s: got %d", same_mailbox[g][0], rc);
		for (size_t i = 1; i < 4 && same_mailbox[g][i] != NULL; i++) {
			rc = tg_addr_normalize(same_mailbox[g][i], out,
			    sizeof out);
			ck_assert_msg(rc == TG_OK && strcmp(out, first[g]) == 0,
			    "%s: got %d \"%s\", want \"%s\"",
			    same_mailbox[g][i], rc, out, first[g]);
		}
		for (size_t h = 0; h < g; h++)
			ck_assert_msg(strcasecmp(first[h], first[g]) != 0,
			    "%s and %s both give \"%s\"", same_mailbox[h][0],
			    same_mailbox[g][0], first[g]);
	}
}
END_TEST

/* Table keys with quotes take the same form; the rest as written. */
static const struct norm_case key_cases[] = {
	{ "\"alice\"@Example.org", TG_OK, "alice@Example.org" },
	{ "\"alice\"@", TG_OK, "alice@" },
	{ "\"a..b\"@", TG_OK, "\"a..b\"@" },
	{ "\"al\\ice\"", TG_OK, "alice" },
	{ "@example.org", TG_OK, "@example.org" },
	{ "\"unbalanced@x", TG_ERR_SYNTAX, NULL },
	{ "a\"b@x", TG_ERR_SYNTAX, NULL },
	{ "a@\"b\"", TG_ERR_SYNTAX, NULL },
	{ "\"a\"@b@c", TG_ERR_SYNTAX, NULL },
};

START_TEST(test_canon_key)
{
	const struct norm_case *c = &key_cases[_i];
	char out[TG_ADDR_MAX + 1];
	int rc = tg_addr_canon_key(c->in, strlen(c->in), out, sizeof out);

	if (c->rc != TG_OK) {
		ck_assert_msg(rc == c->rc, "case %d: got %d, want %d", _i, rc,
		    c->rc);
		return;
	}
	ck_assert_msg(rc == (int)strlen(c->out) && strcmp(out, c->out) == 0,
	    "case %d: got %d \"%s\", want \"%s\"", _i, rc, out, c->out);
}
END_TEST

/* Random strings over the bytes that matter to the parser: nothing may
 * crash, and an accepted address normalises to itself. */
START_TEST(test_normalize_random)
{
	static const char alphabet[] = "@\"<>.,:[] \\aB\x80\xff\r";
	char in[64], out[TG_ADDR_MAX + 1], again[TG_ADDR_MAX + 1];
	unsigned int seed = 12345;

	for (int n = 0; n < 200000; n++) {
		size_t len;
		int rc;

		seed = seed * 1103515245u + 12345u;
		len = (seed >> 16) % (sizeof in - 1);
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
		}
		in[len] = '\0';
		if ((rc = tg_addr_normalize(in, out, sizeof out)) != TG_OK) {
			ck_assert_msg(rc == TG_ERR_SYNTAX,
			    "\"%s\": got %d, want OK or SYNTAX", in, rc);
			continue;
		}
		rc = tg_addr_normalize(out, again, sizeof again);
		ck_assert_msg(rc == TG_OK && strcmp(out, again) == 0,
		    "\"%s\": got \"%s\" then %d \"%s\"", in, out, rc, again);
	}
}
END_TEST

static Suite *
addr_suite(void)
{
	Suite *s = suite_create("addr");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_normalize, 0,
	    sizeof norm_cases / sizeof norm_cases[0]);
	tcase_add_loop_test(tc, test_parse_domain, 0,
	    sizeof norm_cases / sizeof norm_cases[0]);
	tcase_add_loop_test(tc, test_normalize_ctl, 0, 0x21);
	tcase_add_test(tc, test_normalize_lengths);
	tcase_add_loop_test(tc, test_domain, 0,
	    sizeof domain_cases / sizeof domain_cases[0]);
	tcase_add_test(tc, test_normalize_random);
	tcase_add_test(tc, test_canonical_mailbox);
	tcase_add_loop_test(tc, test_canon_key, 0,
	    sizeof key_cases / sizeof key_cases[0]);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(addr_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
