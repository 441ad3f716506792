/* check_dnslocal.c - DNS answers from a file of records (filter/
 * dns_local.c, tollgate-test -z) through dns.c's backend hook: every
 * record type the checks ask for, in rounds of several, NXDOMAIN and NODATA for
 * what the file lacks, TTLs as written, nothing sent (the resolver given
 * is a port where nothing answers), errors with file:line:column, and the
 * network again once the records are cleared. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_dns.h"

static char path[64];

static void
write_file(const char *text)
{
	FILE *fp;
	int fd;

	strcpy(path, "/tmp/check_dnslocal.XXXXXX");
	ck_assert_int_ge(fd = mkstemp(path), 0);
	ck_assert_ptr_nonnull(fp = fdopen(fd, "w"));
	fputs(text, fp);
	fclose(fp);
}

static const char records[] =
    "# records for the tests\n"
    "server:\n"
    "local-zone: \"bl.test.\" static\n"
    "local-data: \"2.0.0.127.bl.test. 300 IN A 127.0.0.2\"\n"
    "2.0.0.127.bl.test. 300 IN TXT \"listed for tests\"\n"
    "mail.good.test. 600 IN A 192.0.2.10\n"
    "mail.good.test. 120 IN A 192.0.2.11\n"
    "good.test. 600 IN TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n"
    "good.test. 600 IN MX 10 mail.good.test.\n"
    "10.2.0.192.in-addr.arpa. 600 IN PTR mail.good.test.\n";

static void
lookup(struct tg_dns *d, struct tg_dns_query *q, const char *name,
    enum tg_dns_type type)
{
	ck_assert_int_eq(tg_dns_query_init(q, name, type), TG_OK);
	ck_assert_int_eq(tg_dns_resolve(d, q, 1), TG_OK);
}

START_TEST(test_local_answers)
{
	struct tg_diag diag;
	struct tg_dns_query q[3];
	const char *why;
	struct tg_dns *d;
	char buf[64];

	write_file(records);
	tg_diag_init(&diag);
	ck_assert_int_eq(tg_dns_local_load(path, &diag), 0);
	ck_assert_int_eq(tg_dns_local_active(), 1);
	/* Port 9 (discard): a query sent there would time out. */
	ck_assert_ptr_nonnull(d = tg_dns_new("127.0.0.1@9", 300, &why));

	lookup(d, &q[0], "2.0.0.127.bl.test", TG_DNS_A);
	ck_assert_int_eq(q[0].status, TG_DNS_OK);
	ck_assert_uint_eq(q[0].n, 1);
	ck_assert_str_eq(tg_ip_format(&q[0].ip[0], buf, sizeof buf),
	    "127.0.0.2");
	ck_assert_uint_eq(q[0].ttl, 300);
	tg_dns_query_clear(&q[0]);

	/* A round of several; the smallest TTL of a record set. */
	ck_assert_int_eq(tg_dns_query_init(&q[0], "mail.good.test",
	    TG_DNS_A), TG_OK);
	ck_assert_int_eq(tg_dns_query_init(&q[1], "good.test", TG_DNS_TXT),
	    TG_OK);
	ck_assert_int_eq(tg_dns_query_init(&q[2], "good.test", TG_DNS_MX),
	    TG_OK);
	ck_assert_int_eq(tg_dns_resolve(d, q, 3), TG_OK);
	ck_assert_int_eq(q[0].status, TG_DNS_OK);
	ck_assert_uint_eq(q[0].n, 2);
	ck_assert_uint_eq(q[0].ttl, 120);
	ck_assert_int_eq(q[1].status, TG_DNS_OK);
	ck_assert_str_eq(q[1].str[0], "v=spf1 ip4:192.0.2.0/24 -all");
	ck_assert_int_eq(q[2].status, TG_DNS_OK);
	ck_assert_str_eq(q[2].str[0], "mail.good.test");
	for (int i = 0; i < 3; i++)
		tg_dns_query_clear(&q[i]);

	lookup(d, &q[0], "10.2.0.192.in-addr.arpa", TG_DNS_PTR);
	ck_assert_int_eq(q[0].status, TG_DNS_OK);
	ck_assert_str_eq(q[0].str[0], "mail.good.test");
	tg_dns_query_clear(&q[0]);

	/* What the file lacks: a name (NXDOMAIN), a type (NODATA). */
	lookup(d, &q[0], "3.0.0.127.bl.test", TG_DNS_A);
	ck_assert_int_eq(q[0].status, TG_DNS_NXDOMAIN);
	lookup(d, &q[0], "nowhere.example", TG_DNS_A);
	ck_assert_int_eq(q[0].status, TG_DNS_NXDOMAIN);
	lookup(d, &q[0], "mail.good.test", TG_DNS_AAAA);
	ck_assert_int_eq(q[0].status, TG_DNS_NODATA);

	/* Cleared: the network again, where nothing answers. The answer
	 * cache belongs to d, so a new resolver. */
	tg_dns_local_clear();
	ck_assert_int_eq(tg_dns_local_active(), 0);
	tg_dns_free(d);
	ck_assert_ptr_nonnull(d = tg_dns_new("127.0.0.1@9", 300, &why));
	lookup(d, &q[0], "mail.good.test", TG_DNS_A);
	ck_assert_int_eq(q[0].status, TG_DNS_FAIL);
	tg_dns_free(d);
	tg_diag_free(&diag);
	unlink(path);
}
END_TEST

START_TEST(test_local_errors)
{
	struct tg_diag diag;

	write_file("mail.good.test. 600 IN A 192.0.2.10\n"
	    "local-data: \"broken. 600 IN A\n"
	    "this is not a record\n");
	tg_diag_init(&diag);
	ck_assert_int_eq(tg_dns_local_load(path, &diag), -1);
	ck_assert_int_eq(tg_dns_local_active(), 0);
	ck_assert_int_eq(diag.errors, 2);
	ck_assert_ptr_nonnull(strstr(diag.msgs[0], ":2:"));
	ck_assert_ptr_nonnull(strstr(diag.msgs[1], ":3:"));
	tg_diag_free(&diag);
	tg_dns_local_clear();
	unlink(path);

	tg_diag_init(&diag);
	ck_assert_int_eq(tg_dns_local_load("/nonexistent/zones", &diag), -1);
	ck_assert_int_eq(diag.errors, 1);
	tg_diag_free(&diag);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("dnslocal");
	TCase *tc = tcase_create("local");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_local_answers);
	tcase_add_test(tc, test_local_errors);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
