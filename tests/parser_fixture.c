/* parser_fixture.c - the diagnostics and helpers of the policy parser
 * tests (parser_fixture.h). Owns: the diagnostics of the running test,
 * from setup() to teardown(). Threads: one test at a time (Check may
 * fork per test). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "tg.h"
#include "parser_fixture.h"

struct tg_diag diag;

void
setup(void)
{
	tg_diag_init(&diag);
}

void
teardown(void)
{
	tg_diag_free(&diag);
}

void
dump(void)
{
	for (size_t i = 0; i < diag.n; i++)
		fprintf(stderr, "  diag: %s\n", diag.msgs[i]);
}

struct tg_policy *
load(const char *text)
{
	return tg_policy_load_string("t.conf", text, DATA, &diag);
}

/* 1 if some diagnostic contains want. */
int
has(const char *want)
{
	for (size_t i = 0; i < diag.n; i++)
		if (strstr(diag.msgs[i], want) != NULL)
			return 1;
	return 0;
}

/* The policy must fail with exactly one error whose text is want. */
void
one_error(const char *text, const char *want)
{
	struct tg_policy *p = load(text);

	if (p != NULL || diag.n != 1 || strcmp(diag.msgs[0], want) != 0) {
		fprintf(stderr, "policy:\n%s\nwant: %s\n", text, want);
		dump();
	}
	ck_assert_ptr_null(p);
	ck_assert_int_eq(diag.n, 1);
	ck_assert_str_eq(diag.msgs[0], want);
}

void
valid(struct tg_policy *p)
{
	if (p == NULL)
		dump();
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(diag.errors, 0);
}
