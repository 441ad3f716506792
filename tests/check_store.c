/* check_store.c - the memory store under a fake clock: exact windows, no
 * burst at window edges, releases and gauges; a full store evicts (idle
 * counters first, small counts first), logs and counts it; keys spread
 * by a keyed hash; counters given back to zero go at once (issue 14, F4);
 * SipHash against the paper's vectors. Every case fails if the behaviour
 * it names breaks. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_hash.h"
#include "tg_log.h"
#include "tg_metrics.h"
#include "tg_store.h"
#include "rate_fixture.h"

START_TEST(test_mem_window_exact)
{
	struct tg_store *st = mem();
	int64_t v, slot;

	/* 3 per 10s: the 4th in the same window is refused. */
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(st->ops->add(st, "k", 10000, 1, 3, &v,
		    &slot), 1);
	ck_assert_int_eq(st->ops->add(st, "k", 10000, 1, 3, &v, &slot), 0);
	ck_assert_int_eq(v, 3);
	/* Still counted just before the window has passed... */
	fake_now += 9999;
	ck_assert_int_eq(st->ops->add(st, "k", 10000, 1, 3, &v, &slot), 0);
	/* ...and gone one slot (1/10 window) after it. */
	fake_now += 1001;
	ck_assert_int_eq(st->ops->get(st, "k", 10000, &v), TG_OK);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(st->ops->add(st, "k", 10000, 1, 3, &v, &slot), 1);
}
END_TEST

/* In no period of one window length are more than max events admitted,
 * whatever the timing: events at the end of a window do not free room
 * at the start of the next (no burst at the edge). */
START_TEST(test_mem_no_edge_burst)
{
	struct tg_store *st = mem();
	int64_t admitted[4000], v, slot, start = fake_now;
	size_t n = 0;

	for (int i = 0; i < 4000; i++) {
		/* Irregular steps: bunches near slot and window edges. */
		fake_now += 37 + (i % 13 == 0 ? 900 : 0);
		if (st->ops->add(st, "edge", 60000, 1, 50, &v, &slot) == 1)
			admitted[n++] = fake_now;
	}
	ck_assert_uint_gt(n, 50);
	for (size_t i = 0; i < n; i++) {
		size_t in = 0;

		for (size_t j = i; j < n && admitted[j] < admitted[i] + 60000;
		    j++)
			in++;
		ck_assert_msg(in <= 50, "%zu events within 60s from t=%lld",
		    in, (long long)(admitted[i] - start));
	}
}
END_TEST

START_TEST(test_mem_release_and_gauge)
{
	struct tg_store *st = mem();
	int64_t v, slot, s1, s2;

	ck_assert_int_eq(st->ops->add(st, "w", 60000, 5, 10, &v, &s1), 1);
	ck_assert_int_eq(st->ops->add(st, "w", 60000, 5, 10, &v, &s2), 1);
	ck_assert_int_eq(st->ops->add(st, "w", 60000, 1, 10, &v, &slot), 0);
	ck_assert_int_eq(st->ops->release(st, "w", 60000, 5, s1), TG_OK);
	ck_assert_int_eq(st->ops->add(st, "w", 60000, 1, 10, &v, &slot), 1);
	ck_assert_int_eq(v, 6);
	/* A gauge: two sessions, a third refused, one leaves. */
	ck_assert_int_eq(st->ops->add(st, "g", 0, 1, 2, &v, &slot), 1);
	ck_assert_int_eq(st->ops->add(st, "g", 0, 1, 2, &v, &slot), 1);
	ck_assert_int_eq(st->ops->add(st, "g", 0, 1, 2, &v, &slot), 0);
	fake_now += 86400000;		/* gauges do not expire */
	ck_assert_int_eq(st->ops->add(st, "g", 0, 1, 2, &v, &slot), 0);
	ck_assert_int_eq(st->ops->release(st, "g", 0, 1, slot), TG_OK);
	ck_assert_int_eq(st->ops->add(st, "g", 0, 1, 2, &v, &slot), 1);
	ck_assert_int_eq(st->ops->reset(st, "g"), TG_OK);
	ck_assert_int_eq(st->ops->get(st, "g", 0, &v), TG_OK);
	ck_assert_int_eq(v, 0);
}
END_TEST

/* evictions - tollgate_store_evictions_total now */
static unsigned long long
evictions(void)
{
	size_t len;
	char *text = tg_metrics_format(&len), *p;
	unsigned long long n = 0;

	p = strstr(text, "\ntollgate_store_evictions_total ");
	ck_assert_ptr_nonnull(p);
	n = strtoull(p + strlen("\ntollgate_store_evictions_total "), NULL,
	    10);
	free(text);
	return n;
}

/* count_logged - lines of rate_logged holding s */
static int
count_logged(const char *s)
{
	int n = 0;

	for (const char *p = rate_logged; (p = strstr(p, s)) != NULL; p++)
		n++;
	return n;
}

/* Issue 14 (F4): a full store no longer refuses a new key; it evicts,
 * first what counts nothing, then little-used counters, logs it (once a
 * minute at most) and counts it in tollgate_store_evictions_total. */
START_TEST(test_mem_full_evicts)
{
	struct tg_store *st = mem();
	unsigned long long e0 = evictions();
	char key[32];
	int64_t v, slot;

	tg_store_mem_set_max_keys(st, 1000);
	for (int i = 0; i < 3000; i++) {
		snprintf(key, sizeof key, "k%d", i);
		ck_assert_int_eq(st->ops->add(st, key, 1000, 1, 10, &v, &slot),
		    1);
	}
	/* The cap is the store's: a shard with nothing to evict may take
	 * one key more. */
	ck_assert_uint_le(tg_store_mem_keys(st), 1000 + 64);
	ck_assert_uint_ge(tg_store_mem_keys(st), 1000);
	ck_assert_uint_ge(evictions() - e0, 1900);
	ck_assert_int_eq(count_logged("memory store full (max-keys 1000)"),
	    1);
	/* The latest keys still count. */
	ck_assert_int_eq(st->ops->get(st, "k2999", 1000, &v), TG_OK);
	ck_assert_int_eq(v, 1);
	/* A minute later, the next eviction is logged with how many went. */
	fake_now += 60000;
	e0 = evictions();
	for (int i = 3000; i < 3100; i++) {
		snprintf(key, sizeof key, "k%d", i);
		ck_assert_int_eq(st->ops->add(st, key, 60000000, 1, 10, &v,
		    &slot), 1);
	}
	/* The old keys' windows have passed: they went first, quietly. */
	ck_assert_uint_eq(evictions(), e0);
	ck_assert_int_eq(count_logged("memory store full"), 1);
}
END_TEST

/* The keys the old store put in one shard (the top 6 bits of FNV-1a):
 * 1/64 of max-keys of them filled it, and every new key of that shard
 * was refused ("store is full") for the whole window. Keyed hashing
 * spreads them; 40 keys in a store of 1,000 fill nothing. */
static uint32_t
old_fnv(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

START_TEST(test_mem_shard_not_targetable)
{
	struct tg_store *st = mem();
	const char *victim = "rcpts-per-sender:recipients:3600|ceo@victim";
	uint32_t vs = old_fnv(victim) >> 26;
	char key[96];
	int64_t v, slot;
	int found = 0;

	tg_store_mem_set_max_keys(st, 1000);
	for (int i = 0; found < 40; i++) {
		snprintf(key, sizeof key, "rcpts-per-sender:recipients:3600|"
		    "x%d@attacker", i);
		if (old_fnv(key) >> 26 != vs)
			continue;
		found++;
		ck_assert_int_eq(st->ops->add(st, key, 3600000, 1, 1000, &v,
		    &slot), 1);
	}
	ck_assert_int_eq(st->ops->add(st, victim, 3600000, 1, 1000, &v,
	    &slot), 1);
	ck_assert_int_eq(v, 1);
	ck_assert_uint_eq(tg_store_mem_keys(st), 41);
	ck_assert_ptr_null(strstr(rate_logged, "full"));
}
END_TEST

/* A windowed counter given back to zero goes at once: transactions that
 * count nothing (MAIL, RCPT, RSET) leave no key behind to fill the store
 * with for the rest of the window. */
START_TEST(test_mem_released_keys_go)
{
	struct tg_store *st = mem();
	char key[32];
	int64_t v, slot, s1, s2;

	tg_store_mem_set_max_keys(st, 1000);
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof key, "k%d", i);
		ck_assert_int_eq(st->ops->add(st, key, 3600000, 1, 10, &v,
		    &slot), 1);
		ck_assert_int_eq(st->ops->release(st, key, 3600000, 1, slot),
		    TG_OK);
	}
	ck_assert_uint_eq(tg_store_mem_keys(st), 0);
	/* Not while some of it still counts. */
	ck_assert_int_eq(st->ops->add(st, "w", 3600000, 2, 10, &v, &s1), 1);
	fake_now += 600000;
	ck_assert_int_eq(st->ops->add(st, "w", 3600000, 3, 10, &v, &s2), 1);
	ck_assert_int_eq(st->ops->release(st, "w", 3600000, 3, s2), TG_OK);
	ck_assert_uint_eq(tg_store_mem_keys(st), 1);
	ck_assert_int_eq(st->ops->get(st, "w", 3600000, &v), TG_OK);
	ck_assert_int_eq(v, 2);
	ck_assert_int_eq(st->ops->release(st, "w", 3600000, 2, s1), TG_OK);
	ck_assert_uint_eq(tg_store_mem_keys(st), 0);
	ck_assert_ptr_null(strstr(rate_logged, "full"));
}
END_TEST

/* Eviction takes small counts first: a flood of new keys (one event
 * each) does not push out a key near its limit, which would let it start
 * again from zero. */
START_TEST(test_mem_eviction_spares_heavy)
{
	struct tg_store *st = mem();
	char key[32];
	int64_t v, slot;

	tg_store_mem_set_max_keys(st, 1000);
	ck_assert_int_eq(st->ops->add(st, "heavy", 3600000, 50, 50, &v,
	    &slot), 1);
	for (int i = 0; i < 20000; i++) {
		snprintf(key, sizeof key, "flood%d", i);
		ck_assert_int_eq(st->ops->add(st, key, 3600000, 1, 50, &v,
		    &slot), 1);
	}
	ck_assert_int_eq(st->ops->add(st, "heavy", 3600000, 1, 50, &v, &slot),
	    0);
	ck_assert_int_eq(v, 50);
}
END_TEST

/* SipHash-2-4, the reference vectors of the paper: key 00..0f, message
 * 00..(n-1). */
START_TEST(test_hash_siphash_vectors)
{
	static const struct {
		size_t		 n;
		uint64_t	 want;
	} v[] = {
		{ 0, 0x726fdb47dd0e0e31ULL },
		{ 1, 0x74f839c593dc67fdULL },
		{ 8, 0x93f5f5799a932462ULL },
		{ 15, 0xa129ca6149be45e5ULL },
	};
	uint8_t k[TG_HASH_KEY_LEN], m[64], k2[TG_HASH_KEY_LEN];

	for (int i = 0; i < TG_HASH_KEY_LEN; i++)
		k[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		m[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		ck_assert_msg(tg_hash_sip(k, m, v[i].n) == v[i].want,
		    "%zu bytes: got %016llx, want %016llx", v[i].n,
		    (unsigned long long)tg_hash_sip(k, m, v[i].n),
		    (unsigned long long)v[i].want);
	/* Two random keys differ. */
	tg_hash_key_new(k);
	tg_hash_key_new(k2);
	ck_assert(memcmp(k, k2, sizeof k) != 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("memory");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, rate_setup, rate_teardown);
	tcase_add_test(tc, test_mem_window_exact);
	tcase_add_test(tc, test_mem_no_edge_burst);
	tcase_add_test(tc, test_mem_release_and_gauge);
	tcase_add_test(tc, test_mem_full_evicts);
	tcase_add_test(tc, test_mem_shard_not_targetable);
	tcase_add_test(tc, test_mem_released_keys_go);
	tcase_add_test(tc, test_mem_eviction_spares_heavy);
	tcase_add_test(tc, test_hash_siphash_vectors);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
