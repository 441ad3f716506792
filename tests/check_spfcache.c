/* check_spfcache.c - SPF results kept across sessions (filter/
 * check_spf_cache.c): a result is found again only for the same client
 * address and the same identity, whole; for the same HELO when it was
 * kept for one; within its TTL; never with TTL 0 nor for temperror; and
 * the cache never holds more than its slots. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_ip.h"
#include "../filter/check.h"	/* the cache's internal interface */

static struct tg_ip
ip_of(const char *s)
{
	struct tg_ip ip;

	ck_assert_int_eq(tg_ip_parse(s, &ip), 0);
	return ip;
}

START_TEST(test_spfcache_hit_and_expiry)
{
	struct spf_cache *c = spf_cache_new(64);
	struct tg_ip a = ip_of("198.51.100.7"), b = ip_of("198.51.100.8");
	char res[12];
	uint64_t hits, misses;

	ck_assert_int_eq(spf_cache_get(c, &a, "x@good.test", "h", 1000, res,
	    sizeof res), 0);
	spf_cache_put(c, &a, "x@good.test", NULL, "pass", 60, 1000);
	ck_assert_int_eq(spf_cache_get(c, &a, "x@good.test", "other", 2000,
	    res, sizeof res), 1);
	ck_assert_str_eq(res, "pass");
	/* Another address, another local part, the domain's case: misses. */
	ck_assert_int_eq(spf_cache_get(c, &b, "x@good.test", "h", 2000, res,
	    sizeof res), 0);
	ck_assert_int_eq(spf_cache_get(c, &a, "y@good.test", "h", 2000, res,
	    sizeof res), 0);
	ck_assert_int_eq(spf_cache_get(c, &a, "x@GOOD.test", "h", 2000, res,
	    sizeof res), 0);
	/* 60 s after: gone. */
	ck_assert_int_eq(spf_cache_get(c, &a, "x@good.test", "h", 61000, res,
	    sizeof res), 0);
	spf_cache_stats(c, &hits, &misses);
	ck_assert_uint_eq(hits, 1);
	ck_assert_uint_eq(misses, 5);
	spf_cache_free(c);
}
END_TEST

START_TEST(test_spfcache_helo)
{
	struct spf_cache *c = spf_cache_new(64);
	struct tg_ip a = ip_of("2001:db8::7");
	char res[12];

	/* Kept for the HELO its record read: only that HELO finds it. */
	spf_cache_put(c, &a, "x@h.test", "good.example", "pass", 60, 0);
	ck_assert_int_eq(spf_cache_get(c, &a, "x@h.test", "good.example", 1,
	    res, sizeof res), 1);
	ck_assert_int_eq(spf_cache_get(c, &a, "x@h.test", "bad.example", 1,
	    res, sizeof res), 0);
	ck_assert_int_eq(spf_cache_get(c, &a, "x@h.test", NULL, 1, res,
	    sizeof res), 0);
	/* The other HELO's result replaces it. */
	spf_cache_put(c, &a, "x@h.test", "bad.example", "fail", 60, 0);
	ck_assert_int_eq(spf_cache_get(c, &a, "x@h.test", "bad.example", 1,
	    res, sizeof res), 1);
	ck_assert_str_eq(res, "fail");
	ck_assert_int_eq(spf_cache_get(c, &a, "x@h.test", "good.example", 1,
	    res, sizeof res), 0);
	spf_cache_free(c);
}
END_TEST

START_TEST(test_spfcache_not_kept)
{
	struct spf_cache *c = spf_cache_new(64);
	struct tg_ip a = ip_of("192.0.2.1");
	char res[12];

	spf_cache_put(c, &a, "x@zero.test", NULL, "pass", 0, 0);
	ck_assert_int_eq(spf_cache_get(c, &a, "x@zero.test", NULL, 0, res,
	    sizeof res), 0);
	spf_cache_put(c, &a, "x@err.test", NULL, "temperror", 60, 0);
	ck_assert_int_eq(spf_cache_get(c, &a, "x@err.test", NULL, 0, res,
	    sizeof res), 0);
	spf_cache_free(c);
}
END_TEST

START_TEST(test_spfcache_bounded)
{
	struct spf_cache *c = spf_cache_new(8);
	struct tg_ip a = ip_of("192.0.2.1");
	char from[64], res[12];
	int held = 0;

	for (int i = 0; i < 1000; i++) {
		snprintf(from, sizeof from, "u%d@many.test", i);
		spf_cache_put(c, &a, from, NULL, "pass", 60, 0);
	}
	for (int i = 0; i < 1000; i++) {
		snprintf(from, sizeof from, "u%d@many.test", i);
		held += spf_cache_get(c, &a, from, NULL, 1, res, sizeof res);
	}
	ck_assert_int_le(held, 8);
	ck_assert_int_ge(held, 1);
	/* A long sender is compared whole: its first 600 bytes are not it. */
	{
		char longa[1200], longb[1200];

		memset(longa, 'a', sizeof longa - 1);
		longa[sizeof longa - 1] = '\0';
		memcpy(longb, longa, sizeof longb);
		longb[1000] = 'b';
		spf_cache_put(c, &a, longa, NULL, "pass", 60, 0);
		ck_assert_int_eq(spf_cache_get(c, &a, longa, NULL, 1, res,
		    sizeof res), 1);
		ck_assert_int_eq(spf_cache_get(c, &a, longb, NULL, 1, res,
		    sizeof res), 0);
	}
	spf_cache_free(c);
}
END_TEST

static Suite *
spfcache_suite(void)
{
	Suite *s = suite_create("spfcache");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_spfcache_hit_and_expiry);
	tcase_add_test(tc, test_spfcache_helo);
	tcase_add_test(tc, test_spfcache_not_kept);
	tcase_add_test(tc, test_spfcache_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(spfcache_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
