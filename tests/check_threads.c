/* check_threads.c - the daemon's concurrency, without libmilter: worker
 * threads pin the published policy, run whole sessions through
 * tg_engine_eval() and let go, while another thread keeps publishing new
 * generations (as SIGHUP does); plus concurrent memory-store counters.
 * Meant for the ThreadSanitizer build (configure --enable-tsan), where a
 * data race fails the test; the verdict checks hold in every build. */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_engine.h"
#include "tg_log.h"
#include "tg_policy.h"
#include "tg_session.h"
#include "tg_store.h"

#define THR_WORKERS	6
#define THR_SESSIONS	300	/* per worker */
#define THR_RELOADS	200

/* Two generations that give different replies for the same bad HELO, so
 * a worker sees which one it pinned; the limits go through the shared
 * memory store. */
static const char *const thr_policies[2] = {
	"limit conc { key client.address count sessions max 100000 }\n"
	"limit rc { key client.address count recipients max 100000000 "
	"per 1h }\n"
	"stage connect { rule c: limit conc exceeded =>\n"
	"  tempfail 421 4.7.0 \"busy\" }\n"
	"stage helo { rule h: helo == \"bad.example\" =>\n"
	"  reject 550 5.7.1 \"gen A\" }\n"
	"stage rcpt { rule r: limit rc exceeded => tempfail 450 4.7.1 \"slow\"\n"
	"  rule nr: rcpt.domain == \"nowhere.example\" =>\n"
	"  reject 550 5.1.1 \"no such domain\" }\n",
	"limit conc { key client.address count sessions max 100000 }\n"
	"stage connect { rule c: limit conc exceeded =>\n"
	"  tempfail 421 4.7.0 \"busy\" }\n"
	"stage helo { rule h: helo == \"bad.example\" =>\n"
	"  reject 550 5.7.1 \"gen B\" }\n"
	"stage rcpt { rule nr: rcpt.domain == \"nowhere.example\" =>\n"
	"  reject 550 5.1.1 \"no such domain\" }\n",
};

static atomic_int thr_stop;
static atomic_long thr_bad;	/* wrong verdicts seen by the workers */

static void
thr_sink(int prio, const char *line)
{
	(void)prio;
	(void)line;
}

static struct tg_policy *
thr_load(const char *text)
{
	struct tg_policy *p;
	struct tg_diag d;

	tg_diag_init(&d);
	p = tg_policy_load_string("threads.conf", text, NULL, &d);
	ck_assert_msg(p != NULL && d.errors == 0, "policy: %s",
	    d.n ? d.msgs[0] : "(no message)");
	tg_diag_free(&d);
	return p;
}

/* thr_session - one SMTP session as the glue drives it; 0 when every
 * verdict was the expected one */
static int
thr_session(int worker, int n)
{
	struct tg_policy *p;
	struct tg_session s;
	struct tg_verdict v;
	char id[32], ip[32];
	int bad = 0;

	if ((p = tg_policy_current()) == NULL)
		return 1;
	snprintf(id, sizeof id, "W%dS%d", worker, n);
	snprintf(ip, sizeof ip, "198.51.100.%d", worker + 1);
	tg_session_init(&s, id);
	bad |= tg_session_set(&s, TG_A_CLIENT_ADDRESS, ip) != TG_OK;
	bad |= tg_engine_eval(p, &s, TG_STAGE_CONNECT, &v) != TG_ACT_CONTINUE;
	if (n % 3 == 0) {
		bad |= tg_session_set(&s, TG_A_HELO, "bad.example") != TG_OK;
		bad |= tg_engine_eval(p, &s, TG_STAGE_HELO, &v) !=
		    TG_ACT_REJECT;
		/* The pinned generation answers, whatever was published
		 * since. */
		bad |= strcmp(v.text,
		    p->rules[TG_STAGE_HELO][0].actions[0].text) != 0;
		goto out;
	}
	bad |= tg_session_set(&s, TG_A_HELO, "good.example") != TG_OK;
	bad |= tg_engine_eval(p, &s, TG_STAGE_HELO, &v) != TG_ACT_CONTINUE;
	for (int m = 0; m < 2; m++) {
		tg_session_reset_message(&s);
		bad |= tg_session_set(&s, TG_A_SENDER, "<a@example.net>") !=
		    TG_OK;
		bad |= tg_engine_eval(p, &s, TG_STAGE_MAIL, &v) !=
		    TG_ACT_CONTINUE;
		bad |= tg_session_set(&s, TG_A_RCPT, "<b@example.org>") !=
		    TG_OK;
		bad |= tg_engine_eval(p, &s, TG_STAGE_RCPT, &v) !=
		    TG_ACT_CONTINUE;
		bad |= tg_session_set(&s, TG_A_RCPT, "<c@nowhere.example>") !=
		    TG_OK;
		bad |= tg_engine_eval(p, &s, TG_STAGE_RCPT, &v) !=
		    TG_ACT_REJECT || strcmp(v.code, "550") != 0;
		tg_session_add_header(&s, p, "Subject", "hello");
		tg_session_add_body(&s, 100);
		bad |= tg_engine_eval(p, &s, TG_STAGE_EOM, &v) !=
		    TG_ACT_CONTINUE;
	}
out:
	tg_session_free(&s);
	tg_policy_unref(p);
	return bad;
}

static void *
thr_worker(void *arg)
{
	int w = (int)(intptr_t)arg;

	for (int n = 0; n < THR_SESSIONS; n++)
		if (thr_session(w, n) != 0)
			atomic_fetch_add(&thr_bad, 1);
	return NULL;
}

/* thr_publisher - SIGHUP in a loop: load off the session threads,
 * publish, and let the old generation go when its last session ends */
static void *
thr_publisher(void *arg)
{
	(void)arg;
	for (int i = 0; i < THR_RELOADS && !atomic_load(&thr_stop); i++)
		tg_policy_publish(thr_load(thr_policies[i % 2]));
	return NULL;
}

START_TEST(test_sessions_during_reloads)
{
	pthread_t w[THR_WORKERS], pub;

	tg_log_set_sink(thr_sink);
	atomic_store(&thr_bad, 0);
	atomic_store(&thr_stop, 0);
	tg_policy_publish(thr_load(thr_policies[0]));
	ck_assert_int_eq(pthread_create(&pub, NULL, thr_publisher, NULL), 0);
	for (int i = 0; i < THR_WORKERS; i++)
		ck_assert_int_eq(pthread_create(&w[i], NULL, thr_worker,
		    (void *)(intptr_t)i), 0);
	for (int i = 0; i < THR_WORKERS; i++)
		pthread_join(w[i], NULL);
	atomic_store(&thr_stop, 1);
	pthread_join(pub, NULL);
	ck_assert_msg(atomic_load(&thr_bad) == 0, "%ld sessions got a wrong "
	    "verdict", atomic_load(&thr_bad));
	tg_policy_publish(NULL);
	ck_assert_ptr_null(tg_policy_current());
	tg_log_set_sink(NULL);
}
END_TEST

#define THR_ADDS	2000

static void *
thr_adder(void *arg)
{
	struct tg_store *st = tg_store_memory();
	char key[32];
	int64_t val, slot;

	for (int i = 0; i < THR_ADDS; i++) {
		/* One key all threads share, one of their own. */
		(void)st->ops->add(st, "shared", 3600000, 1, -1, &val, &slot);
		snprintf(key, sizeof key, "own-%d-%d", (int)(intptr_t)arg,
		    i % 50);
		(void)st->ops->add(st, key, 3600000, 1, -1, &val, &slot);
		if (i % 10 == 0)
			(void)st->ops->release(st, key, 3600000, 1, slot);
	}
	return NULL;
}

START_TEST(test_store_concurrent_adds)
{
	struct tg_store *st = tg_store_memory();
	pthread_t t[THR_WORKERS];
	int64_t val = -1;

	tg_store_mem_clear(st);
	for (int i = 0; i < THR_WORKERS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, thr_adder,
		    (void *)(intptr_t)i), 0);
	for (int i = 0; i < THR_WORKERS; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(st->ops->get(st, "shared", 3600000, &val), TG_OK);
	ck_assert_msg(val == (int64_t)THR_WORKERS * THR_ADDS,
	    "shared counter: got %lld, want %d", (long long)val,
	    THR_WORKERS * THR_ADDS);
	tg_store_mem_clear(st);
}
END_TEST

/* thr_newkeys - only keys never seen before, in a full store: every add
 * evicts (issue 14, F4), under the shard lock, while other threads do
 * the same and one reads the store whole (as a snapshot does) */
static void *
thr_newkeys(void *arg)
{
	struct tg_store *st = tg_store_memory();
	char key[48];
	int64_t val, slot;

	for (int i = 0; i < THR_ADDS; i++) {
		snprintf(key, sizeof key, "new-%d-%d", (int)(intptr_t)arg, i);
		if (st->ops->add(st, key, 3600000, 1, -1, &val, &slot) != 1)
			atomic_fetch_add(&thr_bad, 1);
		if (i % 7 == 0)
			(void)st->ops->release(st, key, 3600000, 1, slot);
	}
	return NULL;
}

static int
thr_count(const struct tg_store_mem_dump *d, void *arg)
{
	(void)d;
	(*(size_t *)arg)++;
	return 0;
}

static void *
thr_dumper(void *arg)
{
	size_t n;

	(void)arg;
	for (int i = 0; i < 20; i++) {
		n = 0;
		(void)tg_store_mem_each(tg_store_memory(), thr_count, &n);
	}
	return NULL;
}

static void
thr_quiet(int prio, const char *line)
{
	(void)prio;
	(void)line;
}

START_TEST(test_store_full_concurrent_evictions)
{
	struct tg_store *st = tg_store_memory();
	pthread_t t[THR_WORKERS], d;

	tg_store_mem_clear(st);
	tg_store_mem_set_max_keys(st, 1000);
	tg_log_set_sink(thr_quiet);
	atomic_store(&thr_bad, 0);
	ck_assert_int_eq(pthread_create(&d, NULL, thr_dumper, NULL), 0);
	for (int i = 0; i < THR_WORKERS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, thr_newkeys,
		    (void *)(intptr_t)i), 0);
	for (int i = 0; i < THR_WORKERS; i++)
		pthread_join(t[i], NULL);
	pthread_join(d, NULL);
	tg_log_set_sink(NULL);
	ck_assert_int_eq(atomic_load(&thr_bad), 0);
	/* The cap holds, give or take one key per shard and thread. */
	ck_assert_uint_le(tg_store_mem_keys(st), 1000 + 64 + THR_WORKERS);
	tg_store_mem_set_max_keys(st, 0);
	tg_store_mem_clear(st);
}
END_TEST

static Suite *
threads_suite(void)
{
	Suite *s = suite_create("threads");
	TCase *tc = tcase_create("concurrency");

	/* ThreadSanitizer slows everything down several times. */
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_sessions_during_reloads);
	tcase_add_test(tc, test_store_concurrent_adds);
	tcase_add_test(tc, test_store_full_concurrent_evictions);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(threads_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
