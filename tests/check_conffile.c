/* check_conffile.c - policy files: include (paths relative to the file
 * that includes, loops, nesting depth, files that cannot be read) and
 * what a file may hold (nothing at all, NUL bytes, a 1 MB line, word or
 * string, random bytes: errors, never a crash). The parser's AST and
 * messages: check_parser.c. Data in SRCDIR/data/parser, scratch files in
 * a temp dir. Threads: none (Check may fork per test). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_policy.h"
#include "tg_table.h"
#include "parser_fixture.h"

static char tmpdir[64];

static void
tmp_setup(void)
{
	setup();
	snprintf(tmpdir, sizeof tmpdir, "/tmp/check_parser.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
tmp_teardown(void)
{
	char cmd[128];

	teardown();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

/* Write len bytes to tmpdir/name; returns the path (static storage). */
static const char *
put(const char *name, const char *data, size_t len)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "wb"));
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

START_TEST(test_include_relative)
{
	struct tg_policy *p = tg_policy_load(DATA "/main.conf", &diag);
	const struct tg_rule *r;

	valid(p);
	ck_assert_uint_eq(p->nfiles, 2);
	ck_assert_str_eq(p->files[0], DATA "/main.conf");
	ck_assert_str_eq(p->files[1], DATA "/sub/rules.conf");
	ck_assert_str_eq(p->path, DATA "/main.conf");
	ck_assert_uint_eq(p->ntables, 2);
	ck_assert_str_eq(tg_table_name(p->tables[1]), "friends");
	ck_assert_uint_eq(tg_table_count(p->tables[1]), 1);
	ck_assert_int_eq(tg_table_type(p->tables[0]), TG_TABLE_CIDR);
	r = p->rules[TG_STAGE_MAIL];
	ck_assert_uint_eq(p->nrules[TG_STAGE_MAIL], 2);
	ck_assert_ptr_eq(r[0].file, p->files[1]);
	ck_assert_int_eq(r[0].line, 5);
	/* A table of the main file, used in the included one. */
	ck_assert_ptr_eq(r[1].cond->left->table, p->tables[0]);
	ck_assert_ptr_eq(p->rules[TG_STAGE_CONNECT][0].file, p->files[0]);
	ck_assert_int_eq(p->rules[TG_STAGE_CONNECT][0].line, 7);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_include_from_string)
{
	struct tg_policy *p = load("include \"sub/rules.conf\"\n"
	    "table nets cidr \"nets.cidr\"\n");

	/* nets is used by sub/rules.conf before it is declared. */
	ck_assert_ptr_null(p);
	ck_assert(has(DATA "/sub/rules.conf:6:36: error: undefined table "
	    "\"nets\""));
	ck_assert_int_eq(diag.errors, 1);
}
END_TEST

START_TEST(test_include_loop)
{
	struct tg_policy *p = load("include \"loop1.conf\"");

	ck_assert_ptr_null(p);
	ck_assert_int_eq(diag.errors, 1);
	ck_assert_str_eq(diag.msgs[0], DATA "/loop2.conf:2:11: error: "
	    "include loop: \"" DATA "/loop1.conf\" is already being read");
}
END_TEST

START_TEST(test_include_depth)
{
	char name[32], text[128];
	struct tg_policy *p;

	/* f0 includes f1 ... f17: f17 would be the 17th nested level. */
	for (int i = 0; i <= 17; i++) {
		snprintf(name, sizeof name, "f%d.conf", i);
		snprintf(text, sizeof text, "include \"f%d.conf\"\n", i + 1);
		put(name, text, strlen(text));
	}
	snprintf(text, sizeof text, "%s/f0.conf", tmpdir);
	p = tg_policy_load(text, &diag);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(diag.errors, 1);
	ck_assert(has("/f16.conf:1:9: error: includes nested too deeply "
	    "(more than 16 levels)"));

	/* 16 levels are fine. */
	tg_diag_free(&diag);
	put("f16.conf", "# last\n", 7);
	p = tg_policy_load(text, &diag);
	valid(p);
	ck_assert_uint_eq(p->nfiles, 17);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_include_missing)
{
	one_error("\n include \"nope.conf\"",
	    "t.conf:2:10: error: cannot read \"" DATA "/nope.conf\": "
	    "No such file or directory");
	tg_diag_free(&diag);
	ck_assert_ptr_null(tg_policy_load("/nonexistent/x.conf", &diag));
	ck_assert_str_eq(diag.msgs[0], "/nonexistent/x.conf: error: "
	    "cannot read: No such file or directory");
}
END_TEST

START_TEST(test_empty)
{
	struct tg_policy *p = load("");

	valid(p);
	for (int s = 0; s < TG_STAGE_COUNT; s++)
		ck_assert_uint_eq(p->nrules[s], 0);
	ck_assert_uint_eq(p->nfiles, 1);
	tg_policy_unref(p);
	p = load("# only\n  # comments\n#\n\n\t\n# no newline at the end");
	valid(p);
	ck_assert_uint_eq(p->ntables, 0);
	tg_policy_unref(p);
	/* An empty file on disk, and a stage with no rules. */
	p = tg_policy_load(put("empty.conf", "", 0), &diag);
	valid(p);
	tg_policy_unref(p);
	p = load("stage eom { }");
	valid(p);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_nul_bytes)
{
	static const char text[] = "stage mail {\n rule a: true\0\0 => accept\n"
	    " rule b: helo == \"x\0y\" => accept\n}\n";
	struct tg_policy *p;

	p = tg_policy_load(put("nul.conf", text, sizeof text - 1), &diag);
	ck_assert_ptr_null(p);
	if (diag.n != 2)
		dump();
	ck_assert_uint_eq(diag.n, 2);
	ck_assert(strstr(diag.msgs[0], "nul.conf:2:14: error: NUL byte in "
	    "file") != NULL);
	ck_assert(strstr(diag.msgs[1], "nul.conf:3:20: error: NUL byte in "
	    "string") != NULL);
}
END_TEST

START_TEST(test_huge_line)
{
	size_t n = 1 << 20;
	char *buf = malloc(n + 64);
	struct tg_policy *p;

	ck_assert_ptr_nonnull(buf);
	/* A 1 MB comment is fine. */
	memset(buf, 'x', n);
	buf[0] = '#';
	memcpy(buf + n, "\nstage eom{}\n", 14);
	p = tg_policy_load(put("long.conf", buf, n + 13), &diag);
	valid(p);
	tg_policy_unref(p);
	/* A 1 MB word is not; one error, and the line after it counts. */
	memcpy(buf, "stage ", 6);
	memcpy(buf + n, "\nstage eom{ rule x:nope=>accept}\n", 34);
	p = tg_policy_load(put("long.conf", buf, n + 33), &diag);
	ck_assert_ptr_null(p);
	if (diag.n != 2)
		dump();
	ck_assert_uint_eq(diag.n, 2);
	ck_assert(strstr(diag.msgs[0], "long.conf:1:7: error: word too long "
	    "(more than 4096 bytes)") != NULL);
	ck_assert(strstr(diag.msgs[1], "long.conf:2:19: error: unknown "
	    "attribute \"nope\"") != NULL);
	tg_diag_free(&diag);
	/* A 1 MB string. */
	memset(buf, 'y', n);
	memcpy(buf, "stage eom{rule x:helo==\"", 24);
	memcpy(buf + n, "\"=>accept}\n", 12);
	p = tg_policy_load(put("long.conf", buf, n + 11), &diag);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(diag.n, 1);
	ck_assert(strstr(diag.msgs[0], "long.conf:1:24: error: string too "
	    "long") != NULL);
	free(buf);
}
END_TEST

START_TEST(test_binary_junk)
{
	char buf[4096];
	struct tg_policy *p;
	unsigned seed = 12345;

	/* Random bytes: errors, never a crash, and a bounded count. */
	for (size_t i = 0; i < sizeof buf; i++) {
		seed = seed * 1103515245 + 12345;
		buf[i] = (char)(seed >> 16);
	}
	p = tg_policy_load(put("junk.conf", buf, sizeof buf), &diag);
	ck_assert_ptr_null(p);
	ck_assert_int_gt(diag.errors, 0);
	ck_assert_int_lt(diag.errors, (int)sizeof buf);
}
END_TEST

static Suite *
conffile_suite(void)
{
	Suite *s = suite_create("conffile");
	TCase *ti = tcase_create("include");
	TCase *tf = tcase_create("files");

	tcase_add_checked_fixture(ti, setup, teardown);
	tcase_add_test(ti, test_include_relative);
	tcase_add_test(ti, test_include_from_string);
	tcase_add_test(ti, test_include_loop);
	tcase_add_test(ti, test_include_missing);
	suite_add_tcase(s, ti);

	tcase_add_checked_fixture(tf, tmp_setup, tmp_teardown);
	tcase_add_test(tf, test_empty);
	tcase_add_test(tf, test_include_depth);
	tcase_add_test(tf, test_nul_bytes);
	tcase_add_test(tf, test_huge_line);
	tcase_add_test(tf, test_binary_junk);
	tcase_set_timeout(tf, 30);
	suite_add_tcase(s, tf);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(conffile_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
