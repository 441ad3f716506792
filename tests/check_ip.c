/* check_ip.c - unit tests for ip.c: parsing, CIDR, prefix match, format.
 * Threads: none (Check may fork per test). */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_ip.h"

struct parse_case {
	const char	*in;
	int		 rc;
	int		 family;
	const char	*text;		/* tg_ip_format() of the result */
};

static const struct parse_case parse_cases[] = {
	{ "1.2.3.4", 0, 4, "1.2.3.4" },
	{ "0.0.0.0", 0, 4, "0.0.0.0" },
	{ "255.255.255.255", 0, 4, "255.255.255.255" },
	{ "::1", 0, 6, "::1" },
	{ "::", 0, 6, "::" },
	{ "2001:DB8::1", 0, 6, "2001:db8::1" },
	{ "[1.2.3.4]", 0, 4, "1.2.3.4" },
	{ "[IPv6:::1]", 0, 6, "::1" },
	{ "[ipv6:2001:db8::2]", 0, 6, "2001:db8::2" },
	{ "IPv6:::1", 0, 6, "::1" },
	{ "[::1]", 0, 6, "::1" },
	{ "::ffff:1.2.3.4", 0, 4, "1.2.3.4" },
	{ "::FFFF:0102:0304", 0, 4, "1.2.3.4" },
	{ "[IPv6:::ffff:10.0.0.1]", 0, 4, "10.0.0.1" },
	{ "::fffe:1.2.3.4", 0, 6, "::fffe:102:304" },
	{ "::1.2.3.4", 0, 6, "::1.2.3.4" },
	{ "", -1, 0, NULL },
	{ "1.2.3", -1, 0, NULL },
	{ "1.2.3.4.5", -1, 0, NULL },
	{ "256.1.1.1", -1, 0, NULL },
	{ " 1.2.3.4", -1, 0, NULL },
	{ "1.2.3.4 ", -1, 0, NULL },
	{ "[1.2.3.4", -1, 0, NULL },
	{ "1.2.3.4]", -1, 0, NULL },
	{ "[]", -1, 0, NULL },
	{ "[", -1, 0, NULL },
	{ "IPv6:", -1, 0, NULL },
	{ "IPv6:1.2.3.4", -1, 0, NULL },
	{ "1.2.3.4/32", -1, 0, NULL },
	{ "fe80::1%eth0", -1, 0, NULL },
	{ "1:2:3:4:5:6:7:8:9", -1, 0, NULL },
	{ "example.com", -1, 0, NULL },
	{ "0x7f.1", -1, 0, NULL },
};

START_TEST(test_ip_parse)
{
	const struct parse_case *c = &parse_cases[_i];
	struct tg_ip ip;
	char buf[64];
	int rc;

	memset(&ip, 0xaa, sizeof ip);
	rc = tg_ip_parse(c->in, &ip);
	ck_assert_msg(rc == c->rc, "case %d \"%s\": got rc %d, want %d",
	    _i, c->in, rc, c->rc);
	if (rc != 0)
		return;
	ck_assert_msg(ip.family == c->family,
	    "case %d \"%s\": got family %d, want %d", _i, c->in, ip.family,
	    c->family);
	tg_ip_format(&ip, buf, sizeof buf);
	ck_assert_msg(strcmp(buf, c->text) == 0,
	    "case %d \"%s\": got \"%s\", want \"%s\"", _i, c->in, buf,
	    c->text);
	if (ip.family == 4) {
		static const uint8_t zero[12];

		/* Unused bytes are zero so that equal addresses compare
		 * equal with memcmp. */
		ck_assert_msg(memcmp(ip.b + 4, zero, 12) == 0,
		    "case %d \"%s\": got junk after the IPv4 bytes", _i,
		    c->in);
	}
}
END_TEST

START_TEST(test_ip_parse_long)
{
	char big[4096];
	struct tg_ip ip;

	memset(big, '1', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ck_assert_msg(tg_ip_parse(big, &ip) == -1, "got success, want -1");
	ck_assert_msg(tg_ip_parse(NULL, &ip) == -1, "NULL: got success");
}
END_TEST

struct cidr_case {
	const char	*in;
	int		 rc;
	const char	*net;		/* formatted network */
	int		 plen;
	const char	*why;		/* substring of the error text */
};

static const struct cidr_case cidr_cases[] = {
	{ "10.0.0.0/8", 0, "10.0.0.0", 8, NULL },
	{ "0.0.0.0/0", 0, "0.0.0.0", 0, NULL },
	{ "1.2.3.4", 0, "1.2.3.4", 32, NULL },
	{ "1.2.3.4/32", 0, "1.2.3.4", 32, NULL },
	{ "192.168.1.128/25", 0, "192.168.1.128", 25, NULL },
	{ "::1", 0, "::1", 128, NULL },
	{ "::/0", 0, "::", 0, NULL },
	{ "2001:db8::/32", 0, "2001:db8::", 32, NULL },
	{ "2001:db8:8000::/33", 0, "2001:db8:8000::", 33, NULL },
	{ "[2001:db8::]/32", 0, "2001:db8::", 32, NULL },
	{ "[1.2.3.0]/24", 0, "1.2.3.0", 24, NULL },
	{ "::ffff:1.2.3.0/120", 0, "1.2.3.0", 24, NULL },
	{ "::ffff:0.0.0.0/96", 0, "0.0.0.0", 0, NULL },
	{ "::ffff:1.2.3.4", 0, "1.2.3.4", 32, NULL },
	{ "10.1.2.3/8", -1, NULL, 0, "host bits" },
	{ "10.0.0.1/31", -1, NULL, 0, "host bits" },
	{ "2001:db8::1/32", -1, NULL, 0, "host bits" },
	{ "::ffff:1.2.3.4/120", -1, NULL, 0, "host bits" },
	{ "::ffff:0.0.0.0/80", -1, NULL, 0, "host bits" },
	{ "10.0.0.0/33", -1, NULL, 0, "prefix length" },
	{ "::/129", -1, NULL, 0, "prefix length" },
	{ "10.0.0.0/", -1, NULL, 0, "prefix length" },
	{ "10.0.0.0/x", -1, NULL, 0, "prefix length" },
	{ "10.0.0.0/8x", -1, NULL, 0, "prefix length" },
	{ "10.0.0.0/-8", -1, NULL, 0, "prefix length" },
	{ "10.0.0.0/+8", -1, NULL, 0, "prefix length" },
	{ "10.0.0.0/ 8", -1, NULL, 0, "prefix length" },
	{ "10.0.0.0/99999999999999999999", -1, NULL, 0, "prefix length" },
	{ "10.0.0.0/8/8", -1, NULL, 0, "prefix length" },
	{ "/8", -1, NULL, 0, "invalid address" },
	{ "", -1, NULL, 0, "invalid address" },
	{ "10.0.0/8", -1, NULL, 0, "invalid address" },
	{ "example.com/8", -1, NULL, 0, "invalid address" },
};

START_TEST(test_cidr_parse)
{
	const struct cidr_case *c = &cidr_cases[_i];
	const char *why = NULL;
	struct tg_ip net;
	int rc, plen = -1;
	char buf[64];

	rc = tg_cidr_parse(c->in, &net, &plen, &why);
	ck_assert_msg(rc == c->rc, "case %d \"%s\": got rc %d (%s), want %d",
	    _i, c->in, rc, why ? why : "no why", c->rc);
	if (rc != 0) {
		ck_assert_msg(why != NULL && strstr(why, c->why) != NULL,
		    "case %d \"%s\": got why \"%s\", want \"%s\"", _i, c->in,
		    why ? why : "(null)", c->why);
		return;
	}
	tg_ip_format(&net, buf, sizeof buf);
	ck_assert_msg(strcmp(buf, c->net) == 0 && plen == c->plen,
	    "case %d \"%s\": got %s/%d, want %s/%d", _i, c->in, buf, plen,
	    c->net, c->plen);
}
END_TEST

struct in_case {
	const char	*ip;
	const char	*net;		/* "net/len" */
	int		 want;
};

static const struct in_case in_cases[] = {
	{ "10.1.2.3", "10.0.0.0/8", 1 },
	{ "11.1.2.3", "10.0.0.0/8", 0 },
	{ "192.168.1.200", "192.168.1.128/25", 1 },
	{ "192.168.1.127", "192.168.1.128/25", 0 },
	{ "1.2.3.4", "0.0.0.0/0", 1 },
	{ "1.2.3.4", "1.2.3.4/32", 1 },
	{ "1.2.3.5", "1.2.3.4/32", 0 },
	{ "::ffff:10.9.9.9", "10.0.0.0/8", 1 },
	{ "10.9.9.9", "::ffff:10.0.0.0/104", 1 },
	{ "2001:db8:1::5", "2001:db8::/32", 1 },
	{ "2001:db9::5", "2001:db8::/32", 0 },
	{ "2001:db8:8000::1", "2001:db8:8000::/33", 1 },
	{ "2001:db8:7fff::1", "2001:db8:8000::/33", 0 },
	{ "::1", "::/0", 1 },
	{ "1.2.3.4", "::/0", 0 },
	{ "::1", "0.0.0.0/0", 0 },
};

START_TEST(test_ip_in_prefix)
{
	const struct in_case *c = &in_cases[_i];
	struct tg_ip ip, net;
	const char *why;
	int plen, got;

	ck_assert_msg(tg_ip_parse(c->ip, &ip) == 0, "case %d: bad ip %s",
	    _i, c->ip);
	ck_assert_msg(tg_cidr_parse(c->net, &net, &plen, &why) == 0,
	    "case %d: bad net %s", _i, c->net);
	got = tg_ip_in_prefix(&ip, &net, plen);
	ck_assert_msg(got == c->want, "case %d: %s in %s: got %d, want %d",
	    _i, c->ip, c->net, got, c->want);
}
END_TEST

START_TEST(test_ip_in_prefix_bad_len)
{
	struct tg_ip ip;

	tg_ip_parse("1.2.3.4", &ip);
	ck_assert_msg(tg_ip_in_prefix(&ip, &ip, 33) == 0, "got 1 for /33");
	ck_assert_msg(tg_ip_in_prefix(&ip, &ip, -1) == 0, "got 1 for /-1");
}
END_TEST

START_TEST(test_ip_format_small)
{
	struct tg_ip ip;
	char buf[46], tiny[4];

	tg_ip_parse("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", &ip);
	tg_ip_format(&ip, buf, sizeof buf);
	ck_assert_msg(strcmp(buf, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
	    == 0, "got \"%s\"", buf);
	tg_ip_parse("1.2.3.4", &ip);
	tg_ip_format(&ip, tiny, sizeof tiny);
	ck_assert_msg(strlen(tiny) < sizeof tiny, "got unterminated text");
	/* The hand-written IPv4 form: every digit count, exact fits. */
	tg_ip_parse("0.9.10.99", &ip);
	ck_assert_str_eq(tg_ip_format(&ip, buf, sizeof buf), "0.9.10.99");
	tg_ip_parse("100.199.200.255", &ip);
	ck_assert_str_eq(tg_ip_format(&ip, buf, sizeof buf),
	    "100.199.200.255");
	ck_assert_str_eq(tg_ip_format(&ip, buf, 16), "100.199.200.255");
	ck_assert_str_eq(tg_ip_format(&ip, buf, 15), "?");
	tg_ip_parse("1.2.3.4", &ip);
	ck_assert_str_eq(tg_ip_format(&ip, buf, 8), "1.2.3.4");
	ck_assert_str_eq(tg_ip_format(&ip, buf, 7), "?");
	ip.family = 5;
	tg_ip_format(&ip, buf, sizeof buf);
	ck_assert_msg(strcmp(buf, "?") == 0, "got \"%s\", want \"?\"", buf);
}
END_TEST

static Suite *
ip_suite(void)
{
	Suite *s = suite_create("ip");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_ip_parse, 0,
	    sizeof parse_cases / sizeof parse_cases[0]);
	tcase_add_test(tc, test_ip_parse_long);
	tcase_add_loop_test(tc, test_cidr_parse, 0,
	    sizeof cidr_cases / sizeof cidr_cases[0]);
	tcase_add_loop_test(tc, test_ip_in_prefix, 0,
	    sizeof in_cases / sizeof in_cases[0]);
	tcase_add_test(tc, test_ip_in_prefix_bad_len);
	tcase_add_test(tc, test_ip_format_small);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ip_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
