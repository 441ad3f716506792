/* check_parser.c - unit tests for the policy lexer and parser: the AST of
 * valid policies, the exact text and position of every kind of error,
 * CR/LF, strings and words. Includes and what a policy file may hold
 * (NUL bytes, huge lines, random bytes): check_conffile.c. Data in
 * SRCDIR/data/parser. Threads: none (Check may fork per test). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_policy.h"
#include "parser_fixture.h"

static const char full_policy[] =
    "# every statement, operator and action\n"
    "table nets cidr \"nets.cidr\"\n"
    "table bad list \"senders.list\"\n"
    "table rcpts map \"rcpts.map\"\n"
    "stage connect {\n"
    "  rule local: client.address in { 127.0.0.1, ::1, 10.0.0.0/8 }"
    " => accept\n"
    "  rule lan: client.address in nets and not client.name => continue\n"
    "  rule port dry-run: listener.port == 587 or listener.port != 25 =>"
    " warn \"port ${listener}\"\n"
    "}\n"
    "stage helo {\n"
    "  rule nohelo: not helo or helo matches \"^\\d+$\" =>\n"
    "      tempfail 450 4.7.1 \"bad helo ${helo}\"\n"
    "  rule weak: tls and tls.cipher_bits < 128 => warn \"weak\"\n"
    "}\n"
    "stage mail {\n"
    "  rule big: size.declared > 10m and size.declared >= 1k and\n"
    "      size.declared <= 1g => reject 552 5.3.4 \"too big\"\n"
    "  rule spam: (sender in bad or sender.domain == \"x.example\")"
    " and not authenticated => discard\n"
    "  rule auth: authenticated => add-header X-Auth \"${login}\","
    " continue\n"
    "}\n"
    "stage rcpt {\n"
    "  rule many: rcpt.count > 100 => tempfail 452 4.5.3 \"too many\"\n"
    "  rule known: rcpt not in rcpts and rcpt.domain not in {"
    " example.com, \"Example.ORG\", } => reject 550 5.1.1 \"no ${rcpt}\"\n"
    "  rule hold: rcpt.local not matches \"^[a-z]+$\" =>"
    " quarantine \"odd ${rcpt}\"\n"
    "}\n"
    "stage data { rule t: true => continue }\n"
    "stage eom {\n"
    "  rule subj: header \"Subject\" matches \"viagra\" or size >= 5m"
    " => quarantine \"spam\"\n"
    "  rule never: false => accept\n"
    "}\n"
    "stage connect { rule last: true => continue }\n";

START_TEST(test_valid_full)
{
	struct tg_policy *p = load(full_policy);
	const struct tg_rule *r;
	const struct tg_expr *e;

	valid(p);
	ck_assert_int_eq(atomic_load(&p->refs), 1);
	ck_assert_uint_eq(p->nfiles, 1);
	ck_assert_str_eq(p->files[0], "t.conf");
	ck_assert_uint_eq(p->ntables, 3);
	ck_assert_uint_eq(p->nrules[TG_STAGE_CONNECT], 4);
	ck_assert_uint_eq(p->nrules[TG_STAGE_HELO], 2);
	ck_assert_uint_eq(p->nrules[TG_STAGE_MAIL], 3);
	ck_assert_uint_eq(p->nrules[TG_STAGE_RCPT], 3);
	ck_assert_uint_eq(p->nrules[TG_STAGE_DATA], 1);
	ck_assert_uint_eq(p->nrules[TG_STAGE_EOM], 2);

	/* Rule order is file order, across repeated stages. */
	r = p->rules[TG_STAGE_CONNECT];
	ck_assert_str_eq(r[0].name, "local");
	ck_assert_str_eq(r[1].name, "lan");
	ck_assert_str_eq(r[2].name, "port");
	ck_assert_str_eq(r[3].name, "last");
	ck_assert_int_eq(r[0].line, 6);
	ck_assert_ptr_eq(r[0].file, p->files[0]);
	ck_assert_int_eq(r[0].stage, TG_STAGE_CONNECT);
	ck_assert_int_eq(r[2].dry_run, 1);
	ck_assert_int_eq(r[0].dry_run, 0);

	e = r[0].cond;
	ck_assert_int_eq(e->op, TG_E_IN_SET);
	ck_assert_int_eq(e->attr, TG_A_CLIENT_ADDRESS);
	ck_assert_uint_eq(e->set->nnet, 3);
	ck_assert_int_eq(e->set->prefix[0], 32);
	ck_assert_int_eq(e->set->prefix[1], 128);
	ck_assert_int_eq(e->set->prefix[2], 8);
	ck_assert_int_eq(e->line, 6);
	ck_assert_int_eq(e->col, 15);
	ck_assert_int_eq(r[0].actions[0].type, TG_ACT_ACCEPT);

	e = r[1].cond;
	ck_assert_int_eq(e->op, TG_E_AND);
	ck_assert_int_eq(e->left->op, TG_E_IN_TABLE);
	ck_assert_ptr_eq(e->left->table, p->tables[0]);
	ck_assert_int_eq(e->right->op, TG_E_NOT);
	ck_assert_int_eq(e->right->left->op, TG_E_BOOL);
	ck_assert_int_eq(e->right->left->attr, TG_A_CLIENT_NAME);

	e = r[2].cond;
	ck_assert_int_eq(e->op, TG_E_OR);
	ck_assert_int_eq(e->left->cmp, TG_CMP_EQ);
	ck_assert_int_eq(e->left->num, 587);
	ck_assert_int_eq(e->right->cmp, TG_CMP_NE);
	ck_assert_int_eq(r[2].actions[0].type, TG_ACT_WARN);
	ck_assert_str_eq(r[2].actions[0].text, "port ${listener}");

	r = p->rules[TG_STAGE_HELO];
	e = r[0].cond;
	ck_assert_int_eq(e->op, TG_E_OR);
	ck_assert_int_eq(e->right->op, TG_E_MATCH);
	ck_assert_str_eq(e->right->str, "^\\d+$");
	ck_assert_ptr_nonnull(e->right->re);
	ck_assert_int_eq(r[0].actions[0].type, TG_ACT_TEMPFAIL);
	ck_assert_str_eq(r[0].actions[0].code, "450");
	ck_assert_str_eq(r[0].actions[0].xcode, "4.7.1");
	ck_assert_str_eq(r[0].actions[0].text, "bad helo ${helo}");
	ck_assert_int_eq(r[1].cond->left->op, TG_E_BOOL);
	ck_assert_int_eq(r[1].cond->right->cmp, TG_CMP_LT);

	r = p->rules[TG_STAGE_MAIL];
	e = r[0].cond;	/* ((a and b) and c): left-associative */
	ck_assert_int_eq(e->op, TG_E_AND);
	ck_assert_int_eq(e->right->cmp, TG_CMP_LE);
	ck_assert_int_eq(e->right->num, 1024LL * 1024 * 1024);
	ck_assert_int_eq(e->left->left->cmp, TG_CMP_GT);
	ck_assert_int_eq(e->left->left->num, 10LL * 1024 * 1024);
	ck_assert_int_eq(e->left->right->num, 1024);
	ck_assert_int_eq(r[0].actions[0].type, TG_ACT_REJECT);
	ck_assert_str_eq(r[0].actions[0].code, "552");
	ck_assert_str_eq(r[0].actions[0].xcode, "5.3.4");
	e = r[1].cond;
	ck_assert_int_eq(e->op, TG_E_AND);
	ck_assert_int_eq(e->left->op, TG_E_OR);
	ck_assert_str_eq(e->left->right->str, "x.example");
	ck_assert_int_eq(r[1].actions[0].type, TG_ACT_DISCARD);
	ck_assert_uint_eq(r[2].nactions, 2);
	ck_assert_int_eq(r[2].actions[0].type, TG_ACT_ADD_HEADER);
	ck_assert_str_eq(r[2].actions[0].hname, "X-Auth");
	ck_assert_str_eq(r[2].actions[0].text, "${login}");
	ck_assert_int_eq(r[2].actions[1].type, TG_ACT_CONTINUE);

	r = p->rules[TG_STAGE_RCPT];
	e = r[1].cond;
	ck_assert_int_eq(e->left->op, TG_E_NOT);
	ck_assert_int_eq(e->left->left->op, TG_E_IN_TABLE);
	ck_assert_ptr_eq(e->left->left->table, p->tables[2]);
	ck_assert_int_eq(e->right->left->op, TG_E_IN_SET);
	ck_assert_uint_eq(e->right->left->set->nstr, 2);
	ck_assert_str_eq(e->right->left->set->str[1], "Example.ORG");
	ck_assert_int_eq(r[2].cond->op, TG_E_NOT);
	ck_assert_int_eq(r[2].cond->left->op, TG_E_MATCH);
	ck_assert_int_eq(r[2].actions[0].type, TG_ACT_QUARANTINE);
	ck_assert_str_eq(r[2].actions[0].text, "odd ${rcpt}");

	r = p->rules[TG_STAGE_EOM];
	ck_assert_int_eq(r[0].cond->left->attr, TG_A_HEADER);
	ck_assert_str_eq(r[0].cond->left->param, "Subject");
	ck_assert_int_eq(r[1].cond->op, TG_E_FALSE);
	ck_assert_int_eq(p->rules[TG_STAGE_DATA][0].cond->op, TG_E_TRUE);

	ck_assert_int_eq(p->header_used, 1);
	ck_assert(tg_policy_uses(p, TG_A_HEADER));
	ck_assert(tg_policy_uses(p, TG_A_RCPT_COUNT));
	ck_assert(tg_policy_uses(p, TG_A_TLS));
	ck_assert(!(tg_policy_uses(p, TG_A_SASL_LOGIN)));
	ck_assert(tg_policy_uses(p, TG_A_HELO));
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_no_header)
{
	struct tg_policy *p = load("stage connect { rule a: helo => accept "
	    "}\nstage helo{rule b:helo==x=>accept}");

	ck_assert_ptr_null(p);	/* helo at connect */
	ck_assert(has("t.conf:1:25: error: helo is not known at stage "
	    "connect"));
	ck_assert_int_eq(diag.errors, 1);
	tg_diag_free(&diag);
	p = load("stage helo{rule b:helo==x=>accept}");
	valid(p);
	ck_assert_int_eq(p->header_used, 0);
	for (int a = 0; a < TG_A_COUNT; a++)
		ck_assert_int_eq(tg_policy_uses(p, (enum tg_attr)a),
		    a == TG_A_HELO);
	ck_assert_str_eq(p->rules[TG_STAGE_HELO][0].cond->str, "x");
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_table_errors)
{
	one_error("table nets cidr \"nets.cidr\"\ntable nets list "
	    "\"senders.list\"\n",
	    "t.conf:2:7: error: duplicate table name \"nets\" (first "
	    "defined at t.conf:1)");
	tg_diag_free(&diag);
	one_error("stage mail { rule a: sender in nope => accept }",
	    "t.conf:1:32: error: undefined table \"nope\"");
	tg_diag_free(&diag);
	one_error("table nets cidr \"nets.cidr\"\n"
	    "stage mail { rule a: sender in nets => accept }",
	    "t.conf:2:32: error: cidr table \"nets\" used with sender, "
	    "which is not an ip attribute");
	tg_diag_free(&diag);
	one_error("table bad list \"senders.list\"\n"
	    "stage mail { rule a: client.address in bad => accept }",
	    "t.conf:2:40: error: list table \"bad\" used with "
	    "client.address, which is an ip attribute (use a cidr table)");
	tg_diag_free(&diag);
	one_error("table m map \"rcpts.map\"\n"
	    "stage mail { rule a: listener.address not in m => accept }",
	    "t.conf:2:46: error: map table \"m\" used with "
	    "listener.address, which is an ip attribute (use a cidr table)");
	tg_diag_free(&diag);
	one_error("table x hash \"rcpts.map\"\n"
	    "stage mail { rule a: sender in x => accept }",
	    "t.conf:1:9: error: unknown table type \"hash\" "
	    "(use cidr, list or map)");
	tg_diag_free(&diag);
	/* A table that fails to open: its own error, its uses are quiet. */
	ck_assert_ptr_null(load("table x list \"missing.list\"\n"
	    "stage mail { rule a: sender in x => accept }"));
	ck_assert_int_eq(diag.errors, 1);
	ck_assert(has("missing.list"));
	/* ... given where the table was declared. */
	ck_assert(has("t.conf:1:14: error: table \"x\": cannot read "));
	tg_diag_free(&diag);
	one_error("table 9x list \"senders.list\"",
	    "t.conf:1:7: error: table name \"9x\" must start with a letter");
}
END_TEST

/* The first error must start with want; a leading '+' allows more errors
 * after it (cascades that no parser can avoid). */
struct err_case {
	const char	*text;
	const char	*want;
};

static const struct err_case err_cases[] = {
	{ "stage foo {\n}",
	    "t.conf:1:7: error: unknown stage \"foo\" (use connect, helo, "
	    "mail, rcpt, data or eom)" },
	{ "stage mail {\n\trule a: sender.dom == x => accept\n}",
	    "t.conf:2:10: error: unknown attribute \"sender.dom\"" },
	{ "stage mail { rule a: rcpt == x => accept }",
	    "t.conf:1:22: error: rcpt is not known at stage mail" },
	{ "stage eom { rule a: rcpt.domain == x => accept }",
	    "t.conf:1:21: error: rcpt.domain is not known at stage eom" },
	{ "stage mail { rule a: header \"Subject\" == x => accept }",
	    "t.conf:1:22: error: header \"Subject\" is not known at stage "
	    "mail" },
	{ "stage eom { rule a: header \"Sub ject\" == x => accept }",
	    "t.conf:1:28: error: invalid header name \"Sub ject\"" },
	{ "stage mail { rule a: sender < x => accept }",
	    "t.conf:1:29: error: '<' is only for numbers, but sender is an "
	    "address attribute" },
	{ "stage helo { rule a: helo >= 5 => accept }",
	    "t.conf:1:27: error: '>=' is only for numbers, but helo is a "
	    "string attribute" },
	{ "stage mail { rule a: size.declared > ten => accept }",
	    "t.conf:1:38: error: number attribute size.declared compared "
	    "with a non-number \"ten\"" },
	{ "stage mail { rule a: size.declared == 10x => accept }",
	    "t.conf:1:39: error: number attribute size.declared compared "
	    "with a non-number \"10x\"" },
	{ "stage mail { rule a: size.declared == 99999999999999999999"
	    " => accept }",
	    "t.conf:1:39: error: number attribute size.declared compared "
	    "with a non-number \"99999999999999999999\"" },
	{ "stage rcpt { rule a: rcpt.count in { 1, two } => accept }",
	    "t.conf:1:41: error: number attribute rcpt.count compared "
	    "with a non-number \"two\"" },
	{ "stage mail { rule a: authenticated == yes => accept }",
	    "t.conf:1:36: error: authenticated is a boolean attribute: use "
	    "it bare, as in \"authenticated\" or \"not authenticated\"" },
	{ "stage mail { rule a: tls in { x } => accept }",
	    "t.conf:1:26: error: tls is a boolean attribute: use it bare, "
	    "as in \"tls\" or \"not tls\"" },
	{ "stage mail { rule a: tls not matches \"x\" => accept }",
	    "t.conf:1:30: error: tls is a boolean attribute: use it bare, "
	    "as in \"tls\" or \"not tls\"" },
	{ "stage connect { rule a: client.address in { 10.0.0.1/8 } =>"
	    " accept }",
	    "t.conf:1:45: error: invalid network \"10.0.0.1/8\": " },
	{ "stage connect { rule a: client.address in { ::1, bogus } =>"
	    " accept }",
	    "t.conf:1:50: error: invalid network \"bogus\": " },
	{ "stage connect { rule a: client.address == 1.2.3 => accept }",
	    "t.conf:1:43: error: invalid ip address \"1.2.3\"" },
	{ "stage helo { rule a: helo matches \"a(b\" => accept }",
	    "t.conf:1:35: error: invalid regular expression: missing closing "
	    "parenthesis (at offset 3)" },
	{ "stage mail { rule a: true => reject 450 5.7.1 \"x\" }",
	    "t.conf:1:37: error: reject needs a 5xx code, got 450" },
	{ "stage mail { rule a: true => tempfail 550 4.7.1 \"x\" }",
	    "t.conf:1:39: error: tempfail needs a 4xx code, got 550" },
	{ "stage mail { rule a: true => reject 550 4.7.1 \"x\" }",
	    "t.conf:1:41: error: reject needs a 5.x.x enhanced status code, "
	    "got 4.7.1" },
	{ "stage mail { rule a: true => reject 550 5.7 \"x\" }",
	    "t.conf:1:41: error: the enhanced status code must be "
	    "class.subject.detail" },
	{ "stage mail { rule a: true => reject 5x0 5.7.1 \"x\" }",
	    "t.conf:1:37: error: invalid reply code \"5x0\"" },
	{ "stage mail { rule a: true => reject 550 \"x\" }",
	    "t.conf:1:41: error: expected an enhanced status code (5.x.x), "
	    "got string \"x\"" },
	{ "stage mail { rule a: true => reject 550 5.7.1 \"${nope} x\" }",
	    "t.conf:1:47: error: unknown variable \"${nope}\"" },
	{ "stage mail { rule a: true => warn \"a ${rcpt} ${bad\" }",
	    "t.conf:1:35: error: unknown variable \"${bad\"" },
	{ "stage eom { rule a: true => add-header X-A \"${x}\" }",
	    "t.conf:1:44: error: unknown variable \"${x}\"" },
	{ "stage mail { rule a: true => bounce }",
	    "t.conf:1:30: error: unknown action \"bounce\"" },
	{ "stage connect { rule a: true => discard }",
	    "t.conf:1:33: error: discard is not possible at stage connect: "
	    "there is no message yet" },
	{ "stage helo { rule a: true => quarantine \"q\" }",
	    "t.conf:1:30: error: quarantine is not possible at stage helo: "
	    "there is no message yet" },
	{ "stage connect { rule a: true => add-header X-A \"v\" }",
	    "t.conf:1:33: error: add-header is not possible at stage "
	    "connect: there is no message yet" },
	{ "stage eom { rule a: true => add-header \"X:A\" \"v\" }",
	    "t.conf:1:40: error: invalid header name \"X:A\"" },
	{ "stage eom { rule a: true => add-header \"X A\" \"v\" }",
	    "t.conf:1:40: error: invalid header name \"X A\"" },
	{ "stage mail { rule a: true => reject 550 5.7.1 \"x\", warn \"w\","
	    " accept }",
	    "t.conf:1:52: error: actions after reject are never reached" },
	{ "stage mail { rule a: true => accept, accept }",
	    "t.conf:1:38: error: actions after accept are never reached" },
	{ "stage mail { rule a123456789b123456789c123456789d123456789"
	    "e123456789f123456789g1234: true => accept }",
	    "t.conf:1:19: error: rule name \"a123456789b123456789c123456789d"
	    "123456789e123...\" is too long (more than 63 characters)" },
	{ "stage mail { rule a@b: true => accept }",
	    "t.conf:1:19: error: rule name \"a@b\" may only hold letters, "
	    "digits, '_', '-' and '.'" },
	{ "stage mail { rule a: sender in { } => accept }",
	    "t.conf:1:32: error: empty value list" },
	{ "stage mail { rule a: true => accept }\n"
	    "stage rcpt { rule a: true => accept }",
	    "t.conf:2:19: error: duplicate rule name \"a\" (first defined "
	    "at t.conf:1)" },
	{ "stage mail { rule a sender => accept }",
	    "t.conf:1:21: error: expected ':' after the rule name, got "
	    "\"sender\"" },
	{ "stage mail { rule a: sender accept }",
	    "t.conf:1:29: error: expected '=>' or 'and'/'or' after the "
	    "condition, got \"accept\"" },
	{ "stage mail { rule a: => accept }",
	    "t.conf:1:22: error: expected a condition, got '=>'" },
	{ "stage mail { rule a: (true => accept }",
	    "t.conf:1:28: error: expected ')', got '=>'" },
	{ "stage mail { rule a: sender not == x => accept }",
	    "t.conf:1:33: error: expected 'in', 'matches' or 'owned-by' "
	    "after 'not', got '=='" },
	{ "stage mail { rule a: sender = x => accept }",
	    "t.conf:1:29: error: unexpected '=' (did you mean '=='?)" },
	{ "stage mail { rule a: true => accept; }",
	    "t.conf:1:36: error: unexpected character ';'" },
	{ "stage mail { rule a: true => accept \"x\" }",
	    "t.conf:1:37: error: expected ',' or a new rule after the action, "
	    "got string \"x\"" },
	{ "rule a: true => accept",
	    "t.conf:1:1: error: rule outside of a stage" },
	{ "stage mail { rule a: true => accept }\n}",
	    "t.conf:2:1: error: unbalanced '}'" },
	{ "stage mail {\n rule a: true => accept\n",
	    "t.conf:3:1: error: missing '}' closing the stage opened at "
	    "line 1" },
	{ "stage mail {\n rule a: true => accept\nstage rcpt {}",
	    "t.conf:3:1: error: missing '}' closing the stage opened at "
	    "line 1" },
	{ "stage mail { rule a: sender in { a, b => accept }\n"
	    "  rule b: true => accept }",
	    "t.conf:1:39: error: expected ',' or '}', got '=>'" },
	{ "stage mail { rule a: helo == \"x\n\" => accept }",
	    "+t.conf:1:30: error: unterminated string (missing '\"' before "
	    "the end of line)" },
	{ "stage mail { rule a: helo == \"x",
	    "+t.conf:1:30: error: unterminated string (missing '\"' before "
	    "the end of file)" },
	{ "stage mail { rule a: helo == \xc3\xa9t\xc3\xa9 => accept }",
	    "t.conf:1:30: error: unexpected byte 0xc3" },
	{ "stages mail { }",
	    "t.conf:1:1: error: expected a statement (include, table, stage, "
	    "...), got "
	    "\"stages\"" },
	{ "stage mail { rule a: (((((((((((((((((((((((((((((((((((((((((((("
	    "(((((((((((((((((((((((true => accept }",
	    "t.conf:1:86: error: condition nested too deeply (more than 64 "
	    "levels)" },
};

START_TEST(test_error)
{
	const struct err_case *c = &err_cases[_i];
	struct tg_policy *p = load(c->text);
	int more = c->want[0] == '+';
	const char *want = c->want + more;

	if (p != NULL || (diag.n != 1 && !more) ||
	    strncmp(diag.msgs[0], want, strlen(want)) != 0) {
		fprintf(stderr, "case %d: %s\n  want: %s\n", _i, c->text,
		    want);
		dump();
	}
	ck_assert_ptr_null(p);
	if (!more)
		ck_assert_uint_eq(diag.n, 1);
	ck_assert_int_eq(strncmp(diag.msgs[0], want, strlen(want)), 0);
}
END_TEST

/* Every error of a file is reported in one run, syntax and semantic
 * ones alike, and recovery resumes at the next rule. */
START_TEST(test_many_errors)
{
	static const char text[] =
	    "stage connect {\n"
	    "  rule a: helo == x => accept\n"		/* 2: helo at connect */
	    "  rule b: client.address => nonsense\n"	/* 3: unknown action */
	    "  rule c: true => accept\n"
	    "  rule d: ( true => accept\n"		/* 5: expected ')' */
	    "  rule c: true => discard\n"		/* 6: dup, discard */
	    "}\n"
	    "junk here\n"				/* 8 */
	    "stage bogus { rule e: true => accept }\n"	/* 9 */
	    "stage mail { rule f: sender in { } =>"	/* 10: empty */
	    " reject 450 5.7.1 \"x\" }\n"		/* 10: 450 */
	    "table t list \"senders.list\"\n"
	    "stage rcpt { rule g: client.address in t => accept }\n"; /* 12 */
	struct tg_policy *p = load(text);
	static const char *const want[] = {
		"t.conf:2:11: error: helo is not known at stage connect",
		"t.conf:3:29: error: unknown action \"nonsense\"",
		"t.conf:5:18: error: expected ')', got '=>'",
		"t.conf:6:8: error: duplicate rule name \"c\" (first defined "
		    "at t.conf:4)",
		"t.conf:6:19: error: discard is not possible at stage "
		    "connect: there is no message yet",
		"t.conf:8:1: error: expected a statement (include, table, "
		    "stage, ...), "
		    "got \"junk\"",
		"t.conf:9:7: error: unknown stage \"bogus\"",
		"t.conf:10:32: error: empty value list",
		"t.conf:10:46: error: reject needs a 5xx code, got 450",
		"t.conf:12:40: error: list table \"t\" used with "
		    "client.address",
	};

	ck_assert_ptr_null(p);
	if (diag.n != sizeof want / sizeof want[0])
		dump();
	ck_assert_uint_eq(diag.n, sizeof want / sizeof want[0]);
	ck_assert_int_eq(diag.errors, (int)diag.n);
	for (size_t i = 0; i < diag.n; i++)
		ck_assert_msg(strncmp(diag.msgs[i], want[i],
		    strlen(want[i])) == 0, "error %zu: got %s, want %s", i,
		    diag.msgs[i], want[i]);
}
END_TEST

START_TEST(test_crlf)
{
	struct tg_policy *p = load("# crlf\r\nstage mail {\r\n"
	    "  rule a: sender == \"x@y\" or\r\n"
	    "    sender.domain in { a.example, b.example }\r\n"
	    "    => reject 550 5.7.1 \"no\"\r\n}\r\n");

	valid(p);
	ck_assert_uint_eq(p->nrules[TG_STAGE_MAIL], 1);
	ck_assert_int_eq(p->rules[TG_STAGE_MAIL][0].line, 3);
	ck_assert_str_eq(p->rules[TG_STAGE_MAIL][0].actions[0].text, "no");
	ck_assert_int_eq(p->rules[TG_STAGE_MAIL][0].cond->right->line, 4);
	ck_assert_int_eq(p->rules[TG_STAGE_MAIL][0].cond->right->col, 5);
	tg_policy_unref(p);
	/* Positions stay right after CR bytes. */
	one_error("stage mail {\r\n  rule a: nope => accept\r\n}\r\n",
	    "t.conf:2:11: error: unknown attribute \"nope\"");
}
END_TEST

START_TEST(test_strings)
{
	struct tg_policy *p = load("stage eom { rule a: header \"X-A\" == "
	    "\"a \\\"q\\\" \\\\ \\d \xc3\xa9\" => warn \"\", add-header "
	    "X-Tollgate-Rule \"${rule}\" }");
	const struct tg_rule *r;

	valid(p);
	r = &p->rules[TG_STAGE_EOM][0];
	/* \" and \\ are escapes; other backslashes stay, 8-bit bytes too. */
	ck_assert_str_eq(r->cond->str, "a \"q\" \\ \\d \xc3\xa9");
	ck_assert_str_eq(r->actions[0].text, "");
	ck_assert_str_eq(r->actions[1].hname, "X-Tollgate-Rule");
	tg_policy_unref(p);
	one_error("stage eom { rule a: true => warn \"a\tb\x01\" }",
	    "t.conf:1:38: error: control character 0x01 in string");
}
END_TEST

START_TEST(test_words)
{
	/* IPv6 words keep their colons; other words end before one. */
	struct tg_policy *p = load("stage connect {\n"
	    " rule bad:client.address in { ::1, 2001:db8::/32, "
	    "::ffff:10.0.0.0/104, fe80:0:0:0:0:0:0:1 } => accept\n"
	    " rule cafe :true => accept\n"
	    " rule dead:listener.port<=25k=>continue\n}");
	const struct tg_rule *r;

	valid(p);
	r = p->rules[TG_STAGE_CONNECT];
	ck_assert_str_eq(r[0].name, "bad");
	ck_assert_uint_eq(r[0].cond->set->nnet, 4);
	ck_assert_int_eq(r[0].cond->set->prefix[1], 32);
	ck_assert_str_eq(r[2].name, "dead");
	ck_assert_int_eq(r[2].cond->num, 25 * 1024);
	ck_assert_int_eq(r[2].cond->cmp, TG_CMP_LE);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_unbalanced)
{
	struct tg_policy *p = load("stage mail {\n"
	    "  rule a: sender in { x, y => accept\n"
	    "  rule b: true => accept\n"
	    "}\n"
	    "stage rcpt {\n"
	    "  rule c: (true => accept\n"
	    "}}}\n");

	ck_assert_ptr_null(p);
	if (diag.n != 3)
		dump();
	ck_assert_uint_eq(diag.n, 3);
	ck_assert_str_eq(diag.msgs[0], "t.conf:2:28: error: expected ',' or "
	    "'}', got '=>'");
	ck_assert_str_eq(diag.msgs[1], "t.conf:6:17: error: expected ')', "
	    "got '=>'");
	/* One error for the run of extra braces. */
	ck_assert_str_eq(diag.msgs[2], "t.conf:7:2: error: unbalanced '}'");
}
END_TEST

static Suite *
parser_suite(void)
{
	Suite *s = suite_create("parser");
	TCase *tc = tcase_create("valid");
	TCase *te = tcase_create("errors");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_valid_full);
	tcase_add_test(tc, test_no_header);
	tcase_add_test(tc, test_crlf);
	tcase_add_test(tc, test_strings);
	tcase_add_test(tc, test_words);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(te, setup, teardown);
	tcase_add_loop_test(te, test_error, 0,
	    sizeof err_cases / sizeof err_cases[0]);
	tcase_add_test(te, test_many_errors);
	tcase_add_test(te, test_table_errors);
	tcase_add_test(te, test_unbalanced);
	suite_add_tcase(s, te);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(parser_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
