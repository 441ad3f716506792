/* parser_fixture.h - what the policy parser tests (check_parser.c,
 * check_conffile.c) share: the diagnostics of a load, and helpers that
 * load a policy from text and check its errors. A failed check fails the
 * test, with the diagnostics on stderr. Threads: one test at a time
 * (Check may fork per test). */
#ifndef PARSER_FIXTURE_H
#define PARSER_FIXTURE_H

#include "tg_diag.h"
#include "tg_policy.h"

/* The test data: tables and policies to include. */
#define DATA	SRCDIR "/data/parser"

/* The diagnostics of the loads of the running test. */
extern struct tg_diag	diag;

/* The Check fixture: diag initialised, then freed. */
void	setup(void);
void	teardown(void);

/* Every diagnostic, on stderr. */
void	dump(void);
/* A policy from text, as "t.conf" in DATA; NULL when it does not load. */
struct tg_policy *load(const char *text);
/* 1 if some diagnostic contains want. */
int	has(const char *want);
/* The policy must fail with exactly one error whose text is want. */
void	one_error(const char *text, const char *want);
/* p must have loaded, without an error. */
void	valid(struct tg_policy *p);

#endif
