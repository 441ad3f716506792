/* check_greystore.c - greylisting's records under the fake clock: a full
 * store evicts (expired ones first, then among the least recently used
 * the one that expires first), logs and counts it, and never touches the
 * rate-limit counters; snapshots keep records across a restart with
 * wall-clock ages (the time down counts, a clock set back counts none,
 * records expired meanwhile are dropped, a version 1 file still loads);
 * the operator commands (tollgatectl greylist ...); the grammar's
 * errors. Every case fails if the behaviour it names breaks. Threads:
 * none (Check may fork per test). */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_engine.h"
#include "tg_grey.h"
#include "tg_metrics.h"
#include "tg_policy.h"
#include "tg_rate.h"
#include "tg_session.h"
#include "tg_store.h"
#include "rate_fixture.h"
#include "grey_fixture.h"

#define SEC	1000LL
#define MIN	(60 * SEC)
#define HOUR	(60 * MIN)
#define DAY	(24 * HOUR)

static struct tg_store *
grey(void)
{
	return tg_store_memory_grey();
}

/* first - a first attempt of key on the store's ops */
static void
first(const char *key)
{
	const char *keys[1] = { key };
	struct tg_grey_req q = { NULL, keys, 1, 5 * MIN, 4 * HOUR, 35 * DAY,
	    0, 0 };
	struct tg_grey_out out;
	int allowed;

	ck_assert_int_eq(grey()->grey->check(grey(), &q, &allowed, &out),
	    TG_OK);
	ck_assert_int_eq(out.res, TG_GREY_NEW);
}

static int64_t
state(const char *key)
{
	struct tg_store_rec r;
	int64_t now;

	ck_assert_int_eq(grey()->grey->get(grey(), key, &r, &now), TG_OK);
	return r.state;
}

/* count - records of state st among "PREFIX0".."PREFIX<n-1>" */
static int
count(const char *prefix, int n, int64_t st)
{
	char key[32];
	int c = 0;

	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof key, "%s%d", prefix, i);
		c += state(key) == st;
	}
	return c;
}

/* evictions - tollgate_greylist_evictions_total now */
static uint64_t
evictions(void)
{
	const char *want = "\ntollgate_greylist_evictions_total ";
	char *m, *at;
	uint64_t n;
	size_t len;

	m = tg_metrics_format(&len);
	ck_assert_ptr_nonnull(at = strstr(m, want));
	n = strtoull(at + strlen(want), NULL, 10);
	free(m);
	return n;
}

START_TEST(test_full_store_evicts)
{
	char key[32];
	int64_t v, slot;
	uint64_t e0 = evictions();

	tg_store_mem_set_max_keys(grey(), 1000);
	/* A rate-limit counter: a flood of triplets never evicts it. */
	ck_assert_int_eq(mem()->ops->add(mem(), "lim|x", HOUR, 1, -1, &v,
	    &slot), 1);
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof key, "t%d", i);
		first(key);
		fake_now += SEC;
	}
	rate_logged[0] = '\0';
	first("new");
	/* One went to make room, logged and counted. */
	ck_assert_int_eq(count("t", 1000, TG_GREY_PENDING), 999);
	ck_assert_uint_eq(evictions() - e0, 1);
	ck_assert_int_eq(state("new"), TG_GREY_PENDING);
	ck_assert_ptr_nonnull(strstr(rate_logged, "greylist memory store full "
	    "(greylist-max-keys 1000): 1 record(s) not yet expired evicted"));
	ck_assert_uint_le(tg_store_mem_keys(grey()), 1001);
	ck_assert_int_eq(mem()->ops->get(mem(), "lim|x", HOUR, &v), TG_OK);
	ck_assert_int_eq(v, 1);
	/* Expired records go before any live one, and silently. */
	fake_now += 4 * HOUR;
	rate_logged[0] = '\0';
	first("later");
	ck_assert_ptr_null(strstr(rate_logged, "evicted"));
}
END_TEST

/* Among the least recently used the one that expires first goes: a first
 * attempt (kept for its retry window) before a triplet that passed (kept
 * for weeks), even when the passed one is older. */
START_TEST(test_evicts_first_attempts_first)
{
	char key[32];

	tg_store_mem_set_max_keys(grey(), 1000);
	for (int i = 0; i < 300; i++) {
		snprintf(key, sizeof key, "p%d", i);
		ck_assert_int_eq(grey()->grey->set(grey(), key,
		    TG_GREY_PASSED, 35 * DAY), TG_OK);
	}
	fake_now += SEC;
	for (int i = 0; i < 700; i++) {
		snprintf(key, sizeof key, "t%d", i);
		first(key);
	}
	for (int i = 0; i < 20; i++) {
		snprintf(key, sizeof key, "new%d", i);
		first(key);
	}
	ck_assert_int_eq(count("p", 300, TG_GREY_PASSED), 300);
	ck_assert_int_eq(count("t", 700, TG_GREY_PENDING), 680);
}
END_TEST

/* Threads checking the same triplets at once (two MTA sessions, or the
 * sessions of two recipients): each record changes under its shard's
 * lock, so exactly one check per triplet is its first attempt. */
#define RACE_THREADS	6
#define RACE_KEYS	200

static int race_new[RACE_THREADS];

static void *
race(void *arg)
{
	int id = (int)(intptr_t)arg;
	char key[32];
	const char *keys[1] = { key };
	struct tg_grey_req q = { NULL, keys, 1, 5 * MIN, 4 * HOUR, 35 * DAY,
	    0, 0 };
	struct tg_grey_out out;
	int allowed;

	for (int i = 0; i < RACE_KEYS; i++) {
		snprintf(key, sizeof key, "race%d", i);
		if (grey()->grey->check(grey(), &q, &allowed, &out) == TG_OK &&
		    out.res == TG_GREY_NEW)
			race_new[id]++;
	}
	return NULL;
}

START_TEST(test_concurrent_first_attempts)
{
	pthread_t t[RACE_THREADS];
	int total = 0;

	for (int i = 0; i < RACE_THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, race,
		    (void *)(intptr_t)i), 0);
	for (int i = 0; i < RACE_THREADS; i++) {
		pthread_join(t[i], NULL);
		total += race_new[i];
	}
	ck_assert_int_eq(total, RACE_KEYS);
	ck_assert_int_eq(count("race", RACE_KEYS, TG_GREY_PENDING),
	    RACE_KEYS);
}
END_TEST

/* The store's records: expired ones are forgotten by themselves. */
START_TEST(test_records_expire)
{
	first("k");
	fake_now += 4 * HOUR - 1;
	ck_assert_int_eq(state("k"), TG_GREY_PENDING);
	fake_now += 1;
	ck_assert_int_eq(state("k"), TG_GREY_NONE);
}
END_TEST

static char snapdir[64], snappath[128];

static void
snap_setup(void)
{
	rate_setup();
	tg_strlcpy(snapdir, "/tmp/tg-greysnap.XXXXXX", sizeof snapdir);
	ck_assert_ptr_nonnull(mkdtemp(snapdir));
	snprintf(snappath, sizeof snappath, "%s/counters", snapdir);
}

static void
snap_teardown(void)
{
	unlink(snappath);
	rmdir(snapdir);
	rate_teardown();
}

/* reboot - a restart: empty stores, the monotonic clock elsewhere */
static void
reboot(void)
{
	tg_store_mem_clear(mem());
	tg_store_mem_clear(grey());
	fake_now = 7000000000;
}

START_TEST(test_snapshot_keeps_records)
{
	struct tg_policy *p = policy(
	    "greylist g { delay 5m retry-window 4h auto-allow off }\n"
	    "stage rcpt { rule grey: true => greylist g }\n");
	int64_t wall = 1700000000000LL;
	struct tg_verdict v;

	pass_triplet(p, "192.0.2.1", "old@example.org", "b@example.net");
	ck_assert_int_eq(try_rcpt(p, "192.0.2.1", "new@example.org",
	    "b@example.net", &v), TG_ACT_TEMPFAIL);
	ck_assert_int_eq(tg_store_snap_save(mem(), snappath, wall), TG_OK);
	ck_assert_ptr_nonnull(strstr(rate_logged, "0 counters saved, and 2 "
	    "greylist records"));
	/* Down for 2 minutes: the retry counts from the first attempt. */
	reboot();
	ck_assert_int_eq(tg_store_snap_load(mem(), snappath, wall + 2 * MIN),
	    0);
	ck_assert_ptr_nonnull(strstr(rate_logged, "0 counters restored, and 2 "
	    "greylist records"));
	ck_assert_int_eq(try_rcpt(p, "192.0.2.1", "new@example.org",
	    "b@example.net", &v), TG_ACT_TEMPFAIL);
	ck_assert_str_eq(v.text, "Greylisted, please try again in 180 "
	    "seconds");
	ck_assert_int_eq(try_rcpt(p, "192.0.2.1", "old@example.org",
	    "b@example.net", &v), TG_ACT_CONTINUE);
	fake_now += 3 * MIN;
	ck_assert_int_eq(try_rcpt(p, "192.0.2.1", "new@example.org",
	    "b@example.net", &v), TG_ACT_CONTINUE);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_snapshot_time_down)
{
	struct tg_policy *p = policy(
	    "greylist g { delay 5m retry-window 4h auto-allow off }\n"
	    "stage rcpt { rule grey: true => greylist g }\n");
	int64_t wall = 1700000000000LL;
	struct tg_verdict v;

	ck_assert_int_eq(try_rcpt(p, "192.0.2.1", "a@example.org",
	    "b@example.net", &v), TG_ACT_TEMPFAIL);
	ck_assert_int_eq(tg_store_snap_save(mem(), snappath, wall), TG_OK);
	/* The clock set back a day: no time counted as gone, the delay
	 * is still all there. */
	reboot();
	ck_assert_int_eq(tg_store_snap_load(mem(), snappath, wall - DAY), 0);
	ck_assert_int_eq(try_rcpt(p, "192.0.2.1", "a@example.org",
	    "b@example.net", &v), TG_ACT_TEMPFAIL);
	ck_assert_str_eq(v.text, "Greylisted, please try again in 300 "
	    "seconds");
	/* Down longer than the retry window: the record has expired. */
	reboot();
	ck_assert_int_eq(tg_store_snap_load(mem(), snappath, wall + 5 * HOUR),
	    0);
	ck_assert_uint_eq(tg_store_mem_keys(grey()), 0);
	ck_assert_ptr_nonnull(strstr(rate_logged, "0 counters restored, and 0 "
	    "greylist records"));
	tg_policy_unref(p);
}
END_TEST

/* fnv - the snapshot's checksum of n bytes */
static uint64_t
fnv(const unsigned char *p, size_t n)
{
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

/* A snapshot of the version before greylisting (1, counters only) is
 * read; one with a greylisting record's flag there is not. */
START_TEST(test_snapshot_version_1)
{
	unsigned char buf[4096];
	int64_t v, slot;
	uint64_t h;
	size_t n;
	FILE *fp;

	ck_assert_int_eq(mem()->ops->add(mem(), "lim|x", HOUR, 3, -1, &v,
	    &slot), 1);
	ck_assert_int_eq(tg_store_snap_save(mem(), snappath, 1), TG_OK);
	ck_assert_ptr_nonnull(fp = fopen(snappath, "rb"));
	n = fread(buf, 1, sizeof buf, fp);
	fclose(fp);
	ck_assert_uint_eq(buf[8], 2);
	buf[8] = 1;
	h = fnv(buf, n - 8);
	for (int i = 0; i < 8; i++)
		buf[n - 8 + i] = (unsigned char)(h >> (8 * i));
	ck_assert_ptr_nonnull(fp = fopen(snappath, "wb"));
	ck_assert_uint_eq(fwrite(buf, 1, n, fp), n);
	fclose(fp);
	reboot();
	ck_assert_int_eq(tg_store_snap_load(mem(), snappath, 1), 1);
	ck_assert_int_eq(mem()->ops->get(mem(), "lim|x", HOUR, &v), TG_OK);
	ck_assert_int_eq(v, 3);
}
END_TEST

/* ctl - the answer to a tollgatectl command line under p, which must
 * succeed (ok) or fail */
static const char *
ctl(struct tg_policy *p, const char *line, int ok)
{
	static char out[65536];

	ck_assert_int_eq(tg_grey_ctl(p, line, out, sizeof out), ok ? 0 : -1);
	return out;
}

START_TEST(test_ctl)
{
	struct tg_policy *p = policy(
	    "greylist g { delay 5m retry-window 4h auto-allow 2 for 7d }\n"
	    "stage rcpt { rule grey: true => greylist g }\n");
	struct tg_verdict v;

	ck_assert_str_eq(ctl(p, "greylists", 1), "g: delay 300s, retry-window "
	    "14400s, expire 3024000s, auto-allow 2 passes for 604800s (store "
	    "memory)\n");
	ck_assert_int_eq(try_rcpt(p, "192.0.2.1", "a@example.org",
	    "b@example.net", &v), TG_ACT_TEMPFAIL);
	fake_now += 60 * SEC;
	ck_assert_str_eq(ctl(p, "greylist g show 192.0.2.77 A@example.org "
	    "b+x@example.net", 1), "g:greylist|192.0.2.0/24|a@example.org|"
	    "b@example.net: first attempt 60s ago, a retry passes in 240s, "
	    "forgotten in 14340s\n");
	ck_assert_str_eq(ctl(p, "greylist g list", 1), "g:greylist|"
	    "192.0.2.0/24|a@example.org|b@example.net: first attempt 60s ago, "
	    "a retry passes in 240s, forgotten in 14340s\n1 record(s) "
	    "shown\n");
	/* A support desk lets the triplet through now. */
	ck_assert_str_eq(ctl(p, "greylist g allow 192.0.2.1 a@example.org "
	    "b@example.net", 1), "g:greylist|192.0.2.0/24|a@example.org|"
	    "b@example.net: passed, forgotten in 3024000s unless used\n");
	ck_assert_int_eq(try_rcpt(p, "192.0.2.1", "a@example.org",
	    "b@example.net", &v), TG_ACT_CONTINUE);
	ck_assert_str_eq(ctl(p, "greylist g delete 192.0.2.1 a@example.org "
	    "b@example.net", 1), "g:greylist|192.0.2.0/24|a@example.org|"
	    "b@example.net: not known\n");
	ck_assert_int_eq(try_rcpt(p, "192.0.2.1", "a@example.org",
	    "b@example.net", &v), TG_ACT_TEMPFAIL);
	/* ... or the client, whatever it sends. */
	ck_assert_str_eq(ctl(p, "greylist g show client 192.0.2.9", 1),
	    "g:greylist-allow|192.0.2.0/24: not known\n");
	ck_assert_str_eq(ctl(p, "greylist g allow client ::ffff:192.0.2.9",
	    1), "g:greylist-allow|192.0.2.0/24: allowed, for 604800s unless "
	    "used\n");
	ck_assert_int_eq(try_rcpt(p, "192.0.2.200", "z@example.com",
	    "y@example.net", &v), TG_ACT_CONTINUE);
	ck_assert_str_eq(ctl(p, "greylist g delete client 192.0.2.9", 1),
	    "g:greylist-allow|192.0.2.0/24: not known\n");
	ck_assert_int_eq(try_rcpt(p, "192.0.2.200", "z@example.com",
	    "y@example.net", &v), TG_ACT_TEMPFAIL);
	/* A bounce's triplet is named with <>. */
	ck_assert_int_eq(try_rcpt(p, "192.0.2.1", "<>", "b@example.net", &v),
	    TG_ACT_TEMPFAIL);
	ck_assert_ptr_nonnull(strstr(ctl(p, "greylist g show 192.0.2.1 <> "
	    "b@example.net", 1), "|<>|b@example.net: first attempt"));
	/* Errors. */
	ck_assert_str_eq(ctl(p, "greylist nosuch list", 0),
	    "error: no greylist \"nosuch\"\n");
	ck_assert_str_eq(ctl(p, "greylist g show 192.0.2.1", 0), "error: "
	    "greylist g is keyed on 3 value(s), got 1\n");
	ck_assert_str_eq(ctl(p, "greylist g show client x.example", 0),
	    "error: invalid value for greylist g\n");
	ck_assert_str_eq(ctl(p, "greylist g list 0", 0),
	    "error: COUNT is 1 to 500\n");
	ck_assert_ptr_nonnull(strstr(ctl(p, "greylist g frob", 0),
	    "unknown command"));
	ck_assert_str_eq(ctl(NULL, "greylists", 1), "no greylists\n");
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_ctl_list_bounded)
{
	struct tg_policy *p = policy("greylist g { auto-allow off }\n"
	    "stage rcpt { rule grey: true => greylist g }\n");
	struct tg_verdict v;
	char from[64];

	for (int i = 0; i < 30; i++) {
		snprintf(from, sizeof from, "s%d@example.org", i);
		ck_assert_int_eq(try_rcpt(p, "192.0.2.1", from,
		    "b@example.net", &v), TG_ACT_TEMPFAIL);
	}
	ck_assert_ptr_nonnull(strstr(ctl(p, "greylist g list 10", 1),
	    "10 record(s) shown; more not listed\n"));
	ck_assert_ptr_nonnull(strstr(ctl(p, "greylist g list 30", 1),
	    "30 record(s) shown\n"));
	tg_policy_unref(p);
}
END_TEST

static const char *
load_error(const char *text)
{
	static char msg[512];
	struct tg_policy *p;
	struct tg_diag d;

	tg_diag_init(&d);
	p = tg_policy_load_string("grey.conf", text, NULL, &d);
	msg[0] = '\0';
	if (p == NULL && d.n > 0)
		tg_strlcpy(msg, d.msgs[0], sizeof msg);
	tg_policy_unref(p);
	tg_diag_free(&d);
	return msg;
}

static const struct {
	const char	*text, *error;
} grammar_errors[] = {
	{ "greylist g { delay 10m retry-window 5m }",
	  "retry-window (300s) must be longer than the delay (600s)" },
	{ "greylist g { delay 2d }", "invalid delay \"2d\" (1s to 1d)" },
	{ "greylist g { delay 0s }", "invalid delay \"0s\"" },
	{ "greylist g { expire 400d }", "invalid expire" },
	{ "greylist g { key sasl.login }",
	  "\"sasl.login\" cannot be part of a greylist key" },
	{ "greylist g { key sender, sender }", "sender twice in the key" },
	{ "greylist g { key sender, rcpt auto-allow 3 for 1d }",
	  "auto-allow needs client.address in the key" },
	{ "greylist g { auto-allow 0 for 1d }",
	  "invalid number of passes \"0\"" },
	{ "greylist g { auto-allow 3 }", "expected 'for' and a duration" },
	{ "greylist g { detail-delimiter \"ab\" }",
	  "a detail delimiter is one of" },
	{ "greylist g { store redis }", "store redis is not declared" },
	{ "greylist g { frob }", "expected key, delay, retry-window" },
	{ "greylist g { } greylist g { }", "duplicate greylist name \"g\"" },
	{ "stage rcpt { rule r: true => greylist g }",
	  "undefined greylist \"g\"" },
	{ "greylist g { } stage mail { rule r: true => greylist g }",
	  "greylist is possible at stage rcpt, data or eom, not mail" },
	{ "greylist g { key helo, rcpt } stage connect { rule r: true => "
	  "greylist g }", "greylist is not possible at stage connect" },
	{ "greylist g { } stage rcpt { rule r: true => greylist g, warn "
	  "\"x\" }", "greylist must be the last action of its rule" },
	{ "greylist g { } stage rcpt { rule r: true => greylist g "
	  "\"${nope}\" }", "unknown variable \"${nope}\"" },
	{ "store memory { greylist-max-keys 10 }",
	  "invalid number of greylist records \"10\"" },
};

START_TEST(test_grammar_errors)
{
	const char *got = load_error(grammar_errors[_i].text);

	ck_assert_msg(strstr(got, grammar_errors[_i].error) != NULL,
	    "%s: got \"%s\", want \"%s\"", grammar_errors[_i].text, got,
	    grammar_errors[_i].error);
}
END_TEST

START_TEST(test_grammar_ok)
{
	struct tg_policy *p = policy(
	    "store memory { greylist-max-keys 5000 }\n"
	    "greylist g { key client.address/16/48, sender.domain, rcpt\n"
	    "  delay 90s retry-window 2h expire 10d auto-allow 10 for 3d\n"
	    "  detail-delimiter \"-\" on-error skip }\n"
	    "greylist h { auto-allow off }\n"
	    "stage rcpt { rule a: true => greylist g }\n"
	    "stage data { rule b: true => greylist h \"wait ${greylist_wait}\" "
	    "}\n");
	const struct tg_greylist *g = p->greylists[0];

	ck_assert_uint_eq(p->ngreylists, 2);
	ck_assert_int_eq(g->keys[0].v4, 16);
	ck_assert_int_eq(g->keys[0].v6, 48);
	ck_assert_int_eq(g->delay_ms, 90 * SEC);
	ck_assert_int_eq(g->window_ms, 2 * HOUR);
	ck_assert_int_eq(g->expire_ms, 10 * DAY);
	ck_assert_int_eq(g->allow_n, 10);
	ck_assert_int_eq(g->allow_ms, 3 * DAY);
	ck_assert_int_eq(g->delim, '-');
	ck_assert_int_eq(g->on_error_skip, 1);
	ck_assert_int_eq(p->greylists[1]->allow_n, 0);
	/* The defaults. */
	ck_assert_int_eq(p->greylists[1]->delay_ms, 5 * MIN);
	ck_assert_int_eq(p->greylists[1]->window_ms, DAY);
	ck_assert_int_eq(p->greylists[1]->expire_ms, 35 * DAY);
	ck_assert_int_eq(p->greylists[1]->delim, '+');
	ck_assert_int_eq(p->grey_rcpts, 1);
	ck_assert_ptr_eq(g->store, grey());
	/* The cap takes effect when the policy is put in service. */
	tg_rate_publish(p);
	ck_assert_uint_eq(tg_store_mem_max_keys(grey()), 5000);
	tg_policy_unref(p);
	p = policy("greylist g { }\n");
	tg_rate_publish(p);
	ck_assert_uint_eq(tg_store_mem_max_keys(grey()), 1000000);
	tg_policy_unref(p);
}
END_TEST

static Suite *
greystore_suite(void)
{
	Suite *s = suite_create("greystore");
	TCase *tc = tcase_create("store");
	TCase *ts = tcase_create("snapshot");
	TCase *tg = tcase_create("ctl-grammar");

	tcase_add_checked_fixture(tc, rate_setup, rate_teardown);
	tcase_add_test(tc, test_full_store_evicts);
	tcase_add_test(tc, test_evicts_first_attempts_first);
	tcase_add_test(tc, test_concurrent_first_attempts);
	tcase_add_test(tc, test_records_expire);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(ts, snap_setup, snap_teardown);
	tcase_add_test(ts, test_snapshot_keeps_records);
	tcase_add_test(ts, test_snapshot_time_down);
	tcase_add_test(ts, test_snapshot_version_1);
	suite_add_tcase(s, ts);
	tcase_add_checked_fixture(tg, rate_setup, rate_teardown);
	tcase_add_test(tg, test_ctl);
	tcase_add_test(tg, test_ctl_list_bounded);
	tcase_add_loop_test(tg, test_grammar_errors, 0,
	    sizeof grammar_errors / sizeof grammar_errors[0]);
	tcase_add_test(tg, test_grammar_ok);
	suite_add_tcase(s, tg);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(greystore_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
