/* check_sentinel.c - the Redis store's Sentinel mode without a socket:
 * addresses, the order in which Sentinels are asked, hostile answers
 * refused, a switch told apart from a reconnection, +switch-master
 * messages, the errors that mean the master moved, and the grammar of
 * "store redis { sentinels ... master-name ... }" with its errors at
 * file:line:column (issue 20). tests/sentinel/run.sh drives the same
 * code against real Sentinels. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_store.h"
#include "parser_fixture.h"
#include "../filter/store_sentinel.h"

START_TEST(test_addr)
{
	char h[TG_REDIS_HOST_MAX], big[400];
	int port;

	ck_assert_int_eq(tg_redis_addr_parse("127.0.0.1:26379", h, sizeof h,
	    &port), 0);
	ck_assert_str_eq(h, "127.0.0.1");
	ck_assert_int_eq(port, 26379);
	ck_assert_int_eq(tg_redis_addr_parse("[::1]:1", h, sizeof h, &port),
	    0);
	ck_assert_str_eq(h, "::1");
	ck_assert_int_eq(port, 1);
	ck_assert_int_eq(tg_redis_addr_parse("sentinel-1.example_x:65535", h,
	    sizeof h, &port), 0);
	ck_assert_int_eq(port, 65535);
	static const char *const bad[] = { "127.0.0.1", "h:0", "h:65536",
		"h:12a", ":26379", "ho st:1", "h\r\n:1", "[::1]26379",
		"[::1", "unix:/run/s", "h:123456", "h:", "::1:5", "h:-1",
		"h:+1", "[a b]:1" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(tg_redis_addr_parse(bad[i], h, sizeof h,
		    &port) < 0, "accepted \"%s\"", bad[i]);
	memset(big, 'a', sizeof big);
	memcpy(big + sizeof big - 4, ":99", 4);
	ck_assert_int_lt(tg_redis_addr_parse(big, h, sizeof h, &port), 0);
}
END_TEST

/* The Sentinel that answered is asked first next time; after a failure
 * the others follow in turn. */
START_TEST(test_order)
{
	struct tg_sentinel_state s;

	tg_sentinel_init(&s, 3);
	ck_assert_int_eq(tg_sentinel_order(&s, 0), 0);
	ck_assert_int_eq(tg_sentinel_order(&s, 2), 2);
	ck_assert_int_eq(tg_sentinel_answer(&s, 1, "10.0.0.1", "6379"), 0);
	ck_assert_int_eq(tg_sentinel_order(&s, 0), 1);
	ck_assert_int_eq(tg_sentinel_order(&s, 1), 2);
	ck_assert_int_eq(tg_sentinel_order(&s, 2), 0);
	/* A garbage answer does not move the order. */
	ck_assert_int_lt(tg_sentinel_answer(&s, 2, "x y", "6379"), 0);
	ck_assert_int_eq(tg_sentinel_order(&s, 0), 1);
	/* A round that ran out of time after 2: the next starts with the
	 * one not reached. */
	tg_sentinel_skip(&s, 2);
	ck_assert_int_eq(tg_sentinel_order(&s, 0), 0);
	tg_sentinel_skip(&s, 3);
	ck_assert_int_eq(tg_sentinel_order(&s, 0), 0);
	tg_sentinel_skip(&s, 0);
	ck_assert_int_eq(tg_sentinel_order(&s, 0), 0);
}
END_TEST

/* The state machine: a first master (no switch), a failure, the same
 * master again (a reconnection, no switch), another one (a switch,
 * counted only once a connection found a master there, the old one
 * remembered for the log), garbage ignored. */
START_TEST(test_switches)
{
	struct tg_sentinel_state s;

	tg_sentinel_init(&s, 2);
	ck_assert_int_eq(s.known, 0);
	ck_assert_int_eq(tg_sentinel_answer(&s, 0, "10.0.0.1", "6379"), 0);
	ck_assert_int_eq(s.known, 1);
	ck_assert_str_eq(s.host, "10.0.0.1");
	ck_assert_int_eq(s.port, 6379);
	ck_assert_int_eq(tg_sentinel_confirm(&s, "10.0.0.1", 6379), 0);
	ck_assert_uint_eq(s.switches, 0);
	tg_sentinel_lost(&s);
	ck_assert_int_eq(s.known, 0);
	ck_assert_int_eq(tg_sentinel_answer(&s, 1, "10.0.0.1", "6379"), 0);
	ck_assert_int_eq(tg_sentinel_confirm(&s, "10.0.0.1", 6379), 0);
	ck_assert_uint_eq(s.switches, 0);
	/* A Sentinel names a replica: ROLE refuses it, nothing counted,
	 * and the next round starts with the other Sentinel. */
	tg_sentinel_lost(&s);
	ck_assert_int_eq(tg_sentinel_answer(&s, 1, "10.0.0.3", "6379"), 0);
	ck_assert_int_eq(tg_sentinel_order(&s, 0), 1);
	tg_sentinel_lost(&s);
	ck_assert_int_eq(tg_sentinel_order(&s, 0), 0);
	ck_assert_uint_eq(s.switches, 0);
	/* The real new master. */
	ck_assert_int_eq(tg_sentinel_answer(&s, 0, "10.0.0.2", "6379"), 0);
	ck_assert_int_eq(tg_sentinel_confirm(&s, "10.0.0.2", 6379), 1);
	ck_assert_uint_eq(s.switches, 1);
	ck_assert_str_eq(s.prev_host, "10.0.0.1");
	ck_assert_str_eq(s.last_host, "10.0.0.2");
	/* Another port of the same host is another server. */
	ck_assert_int_eq(tg_sentinel_confirm(&s, "10.0.0.2", 6380), 1);
	ck_assert_uint_eq(s.switches, 2);
	ck_assert_int_eq(s.prev_port, 6379);
	/* Garbage leaves everything as it was, known or not. */
	tg_sentinel_lost(&s);
	ck_assert_int_lt(tg_sentinel_answer(&s, 0, "10.0.0.9", "0"), 0);
	ck_assert_int_eq(s.known, 0);
	ck_assert_str_eq(s.host, "10.0.0.2");
	ck_assert_uint_eq(s.switches, 2);
}
END_TEST

/* What a hostile or broken Sentinel can answer: never used. */
START_TEST(test_hostile_answers)
{
	static const char *const ans[][2] = {
		{ "", "6379" }, { "10.0.0.1", "" }, { "10.0.0.1\r\n", "6379" },
		{ "evil host", "6379" }, { "10.0.0.1", "-1" },
		{ "10.0.0.1", "0" }, { "10.0.0.1", "65536" },
		{ "10.0.0.1", "6379x" }, { "10.0.0.1", "0x10" },
		{ "10.0.0.1", "1234567" }, { "h\"; FLUSHALL", "1" },
		{ "10.0.0.1", " 6379" }, { "10.0.0.1/24", "1" },
	};
	struct tg_sentinel_state s;
	char big[300];

	tg_sentinel_init(&s, 1);
	for (size_t i = 0; i < sizeof ans / sizeof ans[0]; i++)
		ck_assert_msg(tg_sentinel_answer(&s, 0, ans[i][0],
		    ans[i][1]) < 0, "accepted %s %s", ans[i][0], ans[i][1]);
	ck_assert_int_lt(tg_sentinel_answer(&s, 0, NULL, "1"), 0);
	ck_assert_int_lt(tg_sentinel_answer(&s, 0, "h", NULL), 0);
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ck_assert_int_lt(tg_sentinel_answer(&s, 0, big, "1"), 0);
	ck_assert_int_eq(s.known, 0);
	/* A bare IPv6 address is how Sentinels give one. */
	ck_assert_int_eq(tg_sentinel_answer(&s, 0, "2001:db8::1", "6379"), 0);
	ck_assert_str_eq(s.host, "2001:db8::1");
}
END_TEST

START_TEST(test_switch_msg)
{
	struct tg_sentinel_state s;

	tg_sentinel_init(&s, 3);
	ck_assert_int_eq(tg_sentinel_answer(&s, 0, "10.0.0.1", "6379"), 0);
	ck_assert_int_eq(tg_sentinel_confirm(&s, "10.0.0.1", 6379), 0);
	ck_assert_int_eq(tg_sentinel_switch_msg(&s, "tg",
	    "tg 10.0.0.1 6379 10.0.0.2 6380"), 2);
	ck_assert_str_eq(s.host, "10.0.0.2");
	ck_assert_int_eq(s.port, 6380);
	ck_assert_int_eq(s.known, 1);
	/* Told twice (every Sentinel publishes it): still a move until a
	 * connection confirms it, then one switch. */
	ck_assert_int_eq(tg_sentinel_switch_msg(&s, "tg",
	    "tg 10.0.0.1 6379 10.0.0.2 6380"), 2);
	ck_assert_int_eq(tg_sentinel_confirm(&s, "10.0.0.2", 6380), 1);
	ck_assert_int_eq(tg_sentinel_switch_msg(&s, "tg",
	    "tg 10.0.0.1 6379 10.0.0.2 6380"), 1);
	ck_assert_uint_eq(s.switches, 1);
	/* Another master's switch, a name that only starts like ours,
	 * too few or too many fields, a bad address: ignored. */
	static const char *const no[] = {
		"other 10.0.0.2 6380 10.0.0.3 6379",
		"tg2 10.0.0.2 6380 10.0.0.3 6379",
		"t 10.0.0.2 6380 10.0.0.3 6379",
		"tg 10.0.0.2 6380 10.0.0.3",
		"tg 10.0.0.2 6380 10.0.0.3 6379 extra",
		"tg 10.0.0.2 6380 10.0.0.3 0",
		"tg 10.0.0.2 6380 10.0.0.3 99999999999",
		"tg 10.0.0.2 6380 ev\"il 6379",
		"", "tg",
	};
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		ck_assert_msg(tg_sentinel_switch_msg(&s, "tg", no[i]) == 0,
		    "took \"%s\"", no[i]);
	ck_assert_str_eq(s.host, "10.0.0.2");
	ck_assert_int_eq(s.port, 6380);
	ck_assert_uint_eq(s.switches, 1);
	/* A message after a failure makes the master known again. */
	tg_sentinel_lost(&s);
	ck_assert_int_eq(tg_sentinel_switch_msg(&s, "tg",
	    "tg 10.0.0.2 6380 10.0.0.1 6379"), 2);
	ck_assert_int_eq(s.known, 1);
}
END_TEST

START_TEST(test_error_moves)
{
	ck_assert(tg_sentinel_error_moves("READONLY You can't write "
	    "against a read only replica."));
	ck_assert(tg_sentinel_error_moves("MASTERDOWN Link with MASTER is "
	    "down and replica-serve-stale-data is set to 'no'."));
	ck_assert(!tg_sentinel_error_moves("ERR unknown command"));
	ck_assert(!tg_sentinel_error_moves("NOSCRIPT No matching script"));
	ck_assert(!tg_sentinel_error_moves(""));
	ck_assert(!tg_sentinel_error_moves(NULL));
}
END_TEST

/* ---- grammar ------------------------------------------------------- */

START_TEST(test_grammar_valid)
{
	struct tg_policy *p;

	if (!tg_store_redis_available())
		return;
	p = load("store redis {\n"
	    "  sentinels \"10.0.0.1:26379\" \"[2001:db8::1]:26379\"\n"
	    "    \"sentinel-3.example:26379\"\n"
	    "  master-name \"tg-main\"\n"
	    "  sentinel-password \"s3cret\"\n"
	    "  password \"m\"\n"
	    "  timeout 200ms\n"
	    "}\n"
	    "limit l { key sender count messages max 5 per 1h store redis }\n");
	valid(p);
	tg_policy_unref(p);
}
END_TEST

static const struct {
	const char *text, *want;
} grammar_errors[] = {
	{ "store redis {\n  sentinels \"10.0.0.1:26379\" \"10.0.0.2\"\n"
	  "  master-name \"m\" }",
	  "t.conf:2:30: error: invalid Sentinel address \"10.0.0.2\" "
	  "(\"host:port\" or \"[v6]:port\")" },
	{ "store redis { address \"h:1\" sentinels \"h:2\" "
	  "master-name \"m\" }",
	  "t.conf:1:1: error: store redis: give an address or sentinels, "
	  "not both" },
	{ "store redis { sentinels \"h:2\" }",
	  "t.conf:1:1: error: store redis: sentinels need a master-name" },
	{ "store redis { address \"h:1\" master-name \"m\" }",
	  "t.conf:1:1: error: store redis: master-name and "
	  "sentinel-password need sentinels" },
	{ "store redis { sentinels \"h:2\" master-name \"a b\" }",
	  "t.conf:1:43: error: invalid master name \"a b\" (1 to 128 "
	  "letters, digits, '.', '-' or '_')" },
	{ "store redis { sentinels \"h:2\" master-name \"\" }",
	  "t.conf:1:43: error: invalid master name \"\" (1 to 128 "
	  "letters, digits, '.', '-' or '_')" },
	{ "store redis { master-name \"m\" }",
	  "t.conf:1:1: error: store redis: master-name and "
	  "sentinel-password need sentinels" },
	{ "store redis { }",
	  "t.conf:1:1: error: store redis needs an address or sentinels" },
};

START_TEST(test_grammar_errors)
{
	one_error(grammar_errors[_i].text, grammar_errors[_i].want);
}
END_TEST

START_TEST(test_grammar_many)
{
	char text[2048];
	size_t n;

	/* 17 Sentinels: one too many. */
	n = (size_t)snprintf(text, sizeof text, "store redis { sentinels");
	for (int i = 0; i < 17; i++)
		n += (size_t)snprintf(text + n, sizeof text - n,
		    " \"h%d:1\"", i);
	snprintf(text + n, sizeof text - n, " master-name \"m\" }");
	ck_assert_ptr_null(load(text));
	ck_assert(has("error: more than 16 Sentinels"));
	/* No address after the word. */
	ck_assert_ptr_null(load("store redis { sentinels master-name "
	    "\"m\" }"));
	ck_assert(has("expected quoted Sentinel addresses"));
}
END_TEST

static Suite *
sentinel_suite(void)
{
	Suite *s = suite_create("sentinel");
	TCase *tc = tcase_create("state");
	TCase *tg = tcase_create("grammar");

	tcase_add_test(tc, test_addr);
	tcase_add_test(tc, test_order);
	tcase_add_test(tc, test_switches);
	tcase_add_test(tc, test_hostile_answers);
	tcase_add_test(tc, test_switch_msg);
	tcase_add_test(tc, test_error_moves);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tg, setup, teardown);
	tcase_add_test(tg, test_grammar_valid);
	tcase_add_loop_test(tg, test_grammar_errors, 0,
	    sizeof grammar_errors / sizeof grammar_errors[0]);
	tcase_add_test(tg, test_grammar_many);
	suite_add_tcase(s, tg);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(sentinel_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
