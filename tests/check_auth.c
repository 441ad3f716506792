/* check_auth.c - the submission features without a socket: RFC 5322
 * address lists, SASL login checks and canonicalisation, owned-by over
 * envelope and header addresses, the policy grammar and its errors, and
 * the Cyrus SASL account check against a sasldb made here with
 * saslpasswd2. Authentication-Results: check_authres.c. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg.h"
#include "tg_addrlist.h"
#include "tg_auth.h"
#include "tg_diag.h"
#include "tg_engine.h"
#include "tg_log.h"
#include "tg_policy.h"
#include "tg_session.h"
#include "auth_fixture.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* ---- address lists ------------------------------------------------ */

struct al_case {
	const char	*in;
	int		 rc;
	const char	*addrs;		/* space-separated */
	const char	*shown;
};

static const struct al_case al_cases[] = {
	{ "alice@example.org", TG_OK, "alice@example.org", "" },
	{ "Alice <alice@Example.ORG>", TG_OK, "alice@example.org", "" },
	{ "\"Smith, Alice\" <alice@example.org>", TG_OK,
	  "alice@example.org", "" },
	{ "alice@example.org (Alice Smith)", TG_OK, "alice@example.org", "" },
	{ "a@x.org, B <b@y.org>,c@z.org", TG_OK, "a@x.org b@y.org c@z.org",
	  "" },
	{ "team: a@x.org, b@y.org;, c@z.org", TG_OK,
	  "a@x.org b@y.org c@z.org", "" },
	{ "<@relay.example:alice@example.org>", TG_OK, "alice@example.org",
	  "" },
	{ "\"alice\"@example.org", TG_OK, "alice@example.org", "" },
	{ "Alice <\"al\\ice\"@example.org>", TG_OK, "alice@example.org", "" },
	{ "\"a\".b@x.org, \"a..b\"@x.org", TG_OK, "a.b@x.org \"a..b\"@x.org",
	  "" },
	{ "a@x.org,,", TG_OK, "a@x.org", "" },
	/* Identities shown to the reader. */
	{ "\"boss@bank.example\" <m@evil.example>", TG_OK, "m@evil.example",
	  "boss@bank.example" },
	{ "m@evil.example (boss@bank.example)", TG_OK, "m@evil.example",
	  "boss@bank.example" },
	{ "=?UTF-8?B?Ym9zc0BiYW5rLmV4YW1wbGU=?= <m@evil.example>", TG_OK,
	  "m@evil.example", "boss@bank.example" },
	{ "=?utf-8?q?boss=40bank.example?= <m@evil.example>", TG_OK,
	  "m@evil.example", "boss@bank.example" },
	{ "boss\xef\xbc\xa0" "bank.example <m@evil.example>", TG_OK,
	  "m@evil.example", "boss@bank.example" },
	{ "=?UTF-8?Q?J=C3=B6rg?= <j@example.org>", TG_OK, "j@example.org",
	  "" },
	/* Not address lists. */
	{ "", TG_ERR_SYNTAX },
	{ "undisclosed-recipients:;", TG_ERR_SYNTAX },
	{ "Alice", TG_ERR_SYNTAX },
	{ "alice smith@example.org", TG_ERR_SYNTAX },
	{ "<alice@example.org", TG_ERR_SYNTAX },
	{ "Alice <>", TG_ERR_SYNTAX },
	{ "\"unterminated <a@x.org>", TG_ERR_SYNTAX },
	{ "a@x.org (unterminated", TG_ERR_SYNTAX },
	{ "a@x.org b@y.org", TG_ERR_SYNTAX },
	{ "a@", TG_ERR_SYNTAX },
	{ "@x.org", TG_ERR_SYNTAX },
	{ "g1: g2: a@x.org;;", TG_ERR_SYNTAX },
	{ "a@x.org; b@y.org", TG_ERR_SYNTAX },
	{ "a\x01@x.org", TG_ERR_SYNTAX },
	{ "<a@x.org> <b@y.org>", TG_ERR_SYNTAX },
};

static void
al_join(char **v, size_t n, char *out, size_t outsz)
{
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			strncat(out, " ", outsz - strlen(out) - 1);
		strncat(out, v[i], outsz - strlen(out) - 1);
	}
}

START_TEST(test_addrlist_case)
{
	const struct al_case *c = &al_cases[_i];
	struct tg_addrlist l;
	char got[512];
	int rc;

	rc = tg_addrlist_parse(c->in, &l);
	ck_assert_msg(rc == c->rc, "case %d <%s>: got %d, want %d", _i,
	    c->in, rc, c->rc);
	if (rc == TG_OK) {
		al_join(l.addr, l.naddr, got, sizeof got);
		ck_assert_msg(strcmp(got, c->addrs) == 0, "case %d: addrs "
		    "got \"%s\", want \"%s\"", _i, got, c->addrs);
		al_join(l.shown, l.nshown, got, sizeof got);
		ck_assert_msg(strcmp(got, c->shown) == 0, "case %d: shown "
		    "got \"%s\", want \"%s\"", _i, got, c->shown);
	} else
		ck_assert_uint_eq(l.naddr, 0);
	tg_addrlist_free(&l);
}
END_TEST

START_TEST(test_addrlist_limits)
{
	struct tg_addrlist l;
	char *big = malloc(TG_ADDRLIST_IN_MAX + 2);
	size_t o = 0;

	memset(big, 'a', TG_ADDRLIST_IN_MAX + 1);
	big[TG_ADDRLIST_IN_MAX + 1] = '\0';
	ck_assert_int_eq(tg_addrlist_parse(big, &l), TG_ERR_TOOLONG);
	tg_addrlist_free(&l);
	/* More addresses than kept: refused, not truncated. */
	for (int i = 0; i <= TG_ADDRLIST_MAX; i++)
		o += (size_t)snprintf(big + o, 64, "u%d@x.org,", i);
	ck_assert_int_eq(tg_addrlist_parse(big, &l), TG_ERR_TOOLONG);
	tg_addrlist_free(&l);
	/* Deeply nested comments. */
	memset(big, '(', 100);
	tg_strlcpy(big + 100, "a@x.org", 20);
	ck_assert_int_eq(tg_addrlist_parse(big, &l), TG_ERR_SYNTAX);
	tg_addrlist_free(&l);
	free(big);
}
END_TEST

/* ---- logins -------------------------------------------------------- */

START_TEST(test_login_set)
{
	struct tg_session s;
	char longer[TG_LOGIN_MAX + 2];

	tg_session_init(&s, "t");
	ck_assert_int_eq(tg_session_set(&s, TG_A_SASL_LOGIN, "  alice \t"),
	    TG_OK);
	ck_assert_str_eq(s.val[TG_A_SASL_LOGIN], "alice");
	ck_assert_int_eq(s.login_bad, 0);
	ck_assert_int_eq(tg_session_set(&s, TG_A_SASL_LOGIN, "   "), TG_OK);
	ck_assert_str_eq(s.val[TG_A_SASL_LOGIN], "");
	ck_assert_int_eq(tg_session_set(&s, TG_A_SASL_LOGIN,
	    "j\xc3\xb6rg@example.org"), TG_OK);		/* UTF-8: fine */
	ck_assert_int_eq(tg_session_set(&s, TG_A_SASL_LOGIN, "j\xf6rg"),
	    TG_ERR_SYNTAX);				/* Latin-1 */
	ck_assert_ptr_null(s.val[TG_A_SASL_LOGIN]);
	ck_assert_int_eq(s.login_bad, 1);
	ck_assert_int_eq(tg_session_set(&s, TG_A_SASL_LOGIN, "a\x01" "b"),
	    TG_ERR_SYNTAX);
	ck_assert_int_eq(tg_session_set(&s, TG_A_SASL_LOGIN, "\xc0\xaf"),
	    TG_ERR_SYNTAX);				/* overlong */
	memset(longer, 'x', sizeof longer - 1);
	longer[sizeof longer - 1] = '\0';
	ck_assert_int_eq(tg_session_set(&s, TG_A_SASL_LOGIN, longer),
	    TG_ERR_TOOLONG);
	longer[TG_LOGIN_MAX] = '\0';
	ck_assert_int_eq(tg_session_set(&s, TG_A_SASL_LOGIN, longer), TG_OK);
	ck_assert_int_eq(s.login_bad, 0);
	tg_session_free(&s);
}
END_TEST

START_TEST(test_login_canon)
{
	char out[64];

	ck_assert_int_eq(tg_auth_canon("alice", "example.org", out,
	    sizeof out), TG_OK);
	ck_assert_str_eq(out, "alice@example.org");
	ck_assert_int_eq(tg_auth_canon("alice@other.org", "example.org", out,
	    sizeof out), TG_OK);
	ck_assert_str_eq(out, "alice@other.org");
	ck_assert_int_eq(tg_auth_canon("alice", NULL, out, sizeof out), TG_OK);
	ck_assert_str_eq(out, "alice");
	ck_assert_int_eq(tg_auth_canon("alice", "example.org", out, 10),
	    TG_ERR_TOOLONG);
}
END_TEST

/* ---- the engine with owned-by -------------------------------------- */

#define SUBMIT \
	"sasl { realm \"example.org\" }\n" \
	"table logins map \"logins.map\"\n" \
	"stage mail {\n" \
	" rule need-auth: not authenticated\n" \
	"   => reject 530 5.7.0 \"Authentication required\"\n" \
	" rule null: sender == \"\" => accept\n" \
	" rule mine: sender not owned-by logins\n" \
	"   => reject 553 5.7.1 \"Sender address rejected: not owned by " \
	"user ${login}\"\n" \
	"}\n" \
	"stage eom {\n" \
	" rule from: header.from not owned-by logins\n" \
	"   => reject 553 5.7.1 \"From: not owned by user ${login}\"\n" \
	" rule sender-hdr: header.sender and header.sender not owned-by " \
	"logins\n" \
	"   => reject 553 5.7.1 \"Sender: not owned by user ${login}\"\n" \
	"}\n"

struct own_case {
	const char	*login;		/* NULL: not authenticated */
	const char	*sender;
	const char	*hdrs[3];	/* "Name: value" */
	enum tg_stage	 stage;
	const char	*reply;		/* NULL: passes */
};

static const struct own_case own_cases[] = {
	/* 0: envelope */
	{ NULL, "<alice@example.org>", {}, TG_STAGE_MAIL,
	  "530 5.7.0 Authentication required" },
	{ "alice", "<alice@example.org>", {}, TG_STAGE_MAIL, NULL },
	{ "alice@example.org", "<alice@example.org>", {}, TG_STAGE_MAIL, NULL },
	{ "ALICE@Example.org", "<Alice@example.org>", {}, TG_STAGE_MAIL, NULL },
	{ "bob", "<alice@example.org>", {}, TG_STAGE_MAIL,
	  "553 5.7.1 Sender address rejected: not owned by user bob" },
	/* 5: two owners, "@realm" owners, user@, catch-all */
	{ "bob", "<sales@example.org>", {}, TG_STAGE_MAIL, NULL },
	{ "dave@example.org", "<x@shared.example>", {}, TG_STAGE_MAIL, NULL },
	{ "dave@other.org", "<x@shared.example>", {}, TG_STAGE_MAIL,
	  "553 5.7.1 Sender address rejected: not owned by user "
	  "dave@other.org" },
	{ "carol", "<postmaster@anything.example>", {}, TG_STAGE_MAIL, NULL },
	{ "admin", "<nobody@nowhere.example>", {}, TG_STAGE_MAIL, NULL },
	/* 10: the policy lets <> through, login or not */
	{ "bob", "<>", {}, TG_STAGE_MAIL, NULL },
	{ "bob", "<nobody@nowhere.example>", {}, TG_STAGE_MAIL,
	  "553 5.7.1 Sender address rejected: not owned by user bob" },
	/* 12: headers */
	{ "alice", "<alice@example.org>", { "From: Alice <alice@example.org>" },
	  TG_STAGE_EOM, NULL },
	{ "alice", "<alice@example.org>", { "From: bob@example.org" },
	  TG_STAGE_EOM, "553 5.7.1 From: not owned by user alice" },
	{ "alice", "<alice@example.org>",
	  { "From: alice@example.org, bob@example.org" }, TG_STAGE_EOM,
	  "553 5.7.1 From: not owned by user alice" },
	/* 15 */
	{ "alice", "<alice@example.org>",
	  { "From: alice@example.org", "From: bob@example.org" },
	  TG_STAGE_EOM, "553 5.7.1 From: not owned by user alice" },
	{ "alice", "<alice@example.org>",
	  { "From: \"bob@example.org\" <alice@example.org>" }, TG_STAGE_EOM,
	  "553 5.7.1 From: not owned by user alice" },
	{ "alice", "<alice@example.org>",
	  { "From: =?utf-8?B?Ym9iQGV4YW1wbGUub3Jn?= <alice@example.org>" },
	  TG_STAGE_EOM, "553 5.7.1 From: not owned by user alice" },
	{ "alice", "<alice@example.org>",
	  { "From: alice@example.org (bob@example.org)" }, TG_STAGE_EOM,
	  "553 5.7.1 From: not owned by user alice" },
	{ "alice", "<alice@example.org>", { "From: Alice" }, TG_STAGE_EOM,
	  "553 5.7.1 From: not owned by user alice" },
	/* 20 */
	{ "alice", "<alice@example.org>", { "Subject: no From" },
	  TG_STAGE_EOM, "553 5.7.1 From: not owned by user alice" },
	{ "alice", "<alice@example.org>", { "From: sales: alice@example.org, "
	  "sales@example.org;" }, TG_STAGE_EOM, NULL },
	{ "alice", "<alice@example.org>", { "From: alice@example.org",
	  "Sender: bob@example.org" }, TG_STAGE_EOM,
	  "553 5.7.1 Sender: not owned by user alice" },
	{ "bob", "<sales@example.org>", { "From: sales@example.org",
	  "Sender: Bob <bob@example.org>" }, TG_STAGE_EOM, NULL },
	{ "bob", "<bob@example.org>", { "From: alice@example.org",
	  "Sender: Bob <bob@example.org>" }, TG_STAGE_EOM,
	  "553 5.7.1 From: not owned by user bob" },
	/* 25: quoted local parts are the mailbox they spell, no more */
	{ "alice", "<\"alice\"@example.org>", {}, TG_STAGE_MAIL, NULL },
	{ "alice", "<\"al\\ice\"@example.org>", {}, TG_STAGE_MAIL, NULL },
	{ "alice", "<\"bob\"@example.org>", {}, TG_STAGE_MAIL,
	  "553 5.7.1 Sender address rejected: not owned by user alice" },
	{ "bob", "<\"bob\"@example.org>", {}, TG_STAGE_MAIL, NULL },
	{ "carol", "<\"postmaster\"@anything.example>", {}, TG_STAGE_MAIL,
	  NULL },
	/* 30: a.b is dot's, "a..b" (also written a..b) is dots' */
	{ "dot", "<\"a.b\"@example.org>", {}, TG_STAGE_MAIL, NULL },
	{ "dot", "<\"a..b\"@example.org>", {}, TG_STAGE_MAIL,
	  "553 5.7.1 Sender address rejected: not owned by user dot" },
	{ "dots", "<a..b@example.org>", {}, TG_STAGE_MAIL, NULL },
	{ "dots", "<\"a.b\"@example.org>", {}, TG_STAGE_MAIL,
	  "553 5.7.1 Sender address rejected: not owned by user dots" },
	{ "dot", "<\"ab\"@example.org>", {}, TG_STAGE_MAIL,
	  "553 5.7.1 Sender address rejected: not owned by user dot" },
	/* 35 */
	{ "dot", "<\".a.b\"@example.org>", {}, TG_STAGE_MAIL,
	  "553 5.7.1 Sender address rejected: not owned by user dot" },
	{ "dot", "<\"a b\"@example.org>", {}, TG_STAGE_MAIL,
	  "553 5.7.1 Sender address rejected: not owned by user dot" },
	{ "dot", "<\"a.b@example.org\"@example.org>", {}, TG_STAGE_MAIL,
	  "553 5.7.1 Sender address rejected: not owned by user dot" },
	{ "alice", "<alice@example.org>", { "From: \"alice\"@example.org" },
	  TG_STAGE_EOM, NULL },
	{ "alice", "<alice@example.org>",
	  { "From: Alice <\"al\\ice\"@example.org>" }, TG_STAGE_EOM, NULL },
	/* 40 */
	{ "alice", "<alice@example.org>", { "From: \"bob\"@example.org" },
	  TG_STAGE_EOM, "553 5.7.1 From: not owned by user alice" },
	{ "alice", "<alice@example.org>",
	  { "From: Bob <\"bob\"@example.org>" }, TG_STAGE_EOM,
	  "553 5.7.1 From: not owned by user alice" },
};

static void
auth_reply(const struct tg_verdict *v, char *out, size_t outsz)
{
	if (v->action == TG_ACT_REJECT || v->action == TG_ACT_TEMPFAIL)
		snprintf(out, outsz, "%s %s %s", v->code, v->xcode, v->text);
	else
		snprintf(out, outsz, "(%s)", tg_action_name(v->action));
}

START_TEST(test_owned_case)
{
	const struct own_case *c = &own_cases[_i];
	struct tg_policy *p = auth_policy(SUBMIT);
	struct tg_session s;
	struct tg_verdict v;
	char got[512];

	tg_session_init(&s, "t");
	if (c->login != NULL)
		ck_assert_int_eq(tg_session_set(&s, TG_A_SASL_LOGIN, c->login),
		    TG_OK);
	ck_assert_int_eq(tg_session_set(&s, TG_A_SENDER, c->sender), TG_OK);
	tg_engine_eval(p, &s, TG_STAGE_MAIL, &v);
	if (c->stage == TG_STAGE_EOM) {
		ck_assert_int_eq(v.action, TG_ACT_CONTINUE);
		for (int i = 0; i < 3 && c->hdrs[i] != NULL; i++) {
			char name[32];
			const char *colon = strchr(c->hdrs[i], ':');

			snprintf(name, sizeof name, "%.*s",
			    (int)(colon - c->hdrs[i]), c->hdrs[i]);
			tg_session_add_header(&s, p, name, colon + 2);
		}
		tg_engine_eval(p, &s, TG_STAGE_EOM, &v);
	}
	auth_reply(&v, got, sizeof got);
	if (c->reply == NULL)
		ck_assert_msg(v.action == TG_ACT_CONTINUE ||
		    v.action == TG_ACT_ACCEPT, "case %d: got %s, want to pass",
		    _i, got);
	else
		ck_assert_msg(strcmp(got, c->reply) == 0, "case %d: got \"%s\", "
		    "want \"%s\"", _i, got, c->reply);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_owned_attrs_and_reset)
{
	struct tg_policy *p = auth_policy(SUBMIT);
	struct tg_session s;
	struct tg_verdict v;

	tg_session_init(&s, "t");
	ck_assert_int_eq(tg_session_set(&s, TG_A_SASL_LOGIN, "alice"), TG_OK);
	ck_assert_int_eq(tg_session_set(&s, TG_A_SENDER, "<alice@example.org>"),
	    TG_OK);
	tg_engine_eval(p, &s, TG_STAGE_MAIL, &v);
	ck_assert_str_eq(s.val[TG_A_SASL_CANONICAL], "alice@example.org");
	ck_assert_str_eq(s.val[TG_A_SASL_USER], "alice");
	ck_assert_str_eq(s.val[TG_A_SASL_REALM], "example.org");
	/* RSET: the message goes, the login stays and still works. */
	tg_session_reset_message(&s);
	ck_assert_ptr_null(s.val[TG_A_SENDER]);
	ck_assert_str_eq(s.val[TG_A_SASL_LOGIN], "alice");
	ck_assert_int_eq(tg_session_set(&s, TG_A_SENDER, "<bob@example.org>"),
	    TG_OK);
	tg_engine_eval(p, &s, TG_STAGE_MAIL, &v);
	ck_assert_int_eq(v.action, TG_ACT_REJECT);
	ck_assert_str_eq(v.code, "553");
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

/* Address literals in rules take the canonical form too: a rule written
 * with "\"alice\"@example.org" is about alice@example.org, however the
 * client spells it; a quoted literal that is no address is an error. */
START_TEST(test_quoted_literals)
{
	static const char *const senders[] = { "<alice@example.org>",
	    "<\"alice\"@example.org>", "<\"al\\ice\"@Example.org>" };
	struct tg_policy *p = auth_policy(
	    "stage mail {\n"
	    " rule eq: sender == \"\\\"alice\\\"@example.org\" => "
	    "reject 550 5.7.1 \"eq\"\n"
	    "}\n"
	    "stage rcpt {\n"
	    " rule set: rcpt in { \"\\\"a.b\\\"@example.org\", "
	    "\"\\\"c..d\\\"@example.org\" } => reject 550 5.7.1 \"set\"\n"
	    "}\n");
	static const struct { const char *rcpt; int hit; } rcpts[] = {
		{ "<a.b@example.org>", 1 }, { "<\"a.b\"@example.org>", 1 },
		{ "<c..d@example.org>", 1 }, { "<c.d@example.org>", 0 },
		{ "<ab@example.org>", 0 },
	};
	struct tg_session s;
	struct tg_verdict v;
	struct tg_diag d;

	for (size_t i = 0; i < sizeof senders / sizeof *senders; i++) {
		tg_session_init(&s, "t");
		ck_assert_int_eq(tg_session_set(&s, TG_A_SENDER, senders[i]),
		    TG_OK);
		tg_engine_eval(p, &s, TG_STAGE_MAIL, &v);
		ck_assert_msg(v.action == TG_ACT_REJECT, "%s: got %s, want "
		    "reject", senders[i], tg_action_name(v.action));
		tg_session_free(&s);
	}
	for (size_t i = 0; i < sizeof rcpts / sizeof *rcpts; i++) {
		tg_session_init(&s, "t");
		ck_assert_int_eq(tg_session_set(&s, TG_A_SENDER, "<x@y.org>"),
		    TG_OK);
		ck_assert_int_eq(tg_session_set(&s, TG_A_RCPT, rcpts[i].rcpt),
		    TG_OK);
		tg_engine_eval(p, &s, TG_STAGE_RCPT, &v);
		ck_assert_msg((v.action == TG_ACT_REJECT) == rcpts[i].hit,
		    "%s: got %s", rcpts[i].rcpt, tg_action_name(v.action));
		tg_session_free(&s);
	}
	tg_policy_unref(p);

	tg_diag_init(&d);
	p = tg_policy_load_string("test.conf", "stage mail { rule r: sender "
	    "== \"\\\"open@x.org\" => accept }\n", auth_dir, &d);
	ck_assert_ptr_null(p);
	ck_assert_msg(d.n > 0 && strstr(d.msgs[0], "is not an address with "
	    "a quoted local part") != NULL, "got: %s", d.n ? d.msgs[0] : "");
	tg_diag_free(&d);
}
END_TEST

START_TEST(test_bad_login_tempfails)
{
	struct tg_policy *p = auth_policy(SUBMIT);
	struct tg_session s;
	struct tg_verdict v;
	char got[512];

	tg_session_init(&s, "t");
	ck_assert_int_eq(tg_session_set(&s, TG_A_SASL_LOGIN, "al\x7f" "ice"),
	    TG_ERR_SYNTAX);
	ck_assert_int_eq(tg_session_set(&s, TG_A_SENDER, "<alice@example.org>"),
	    TG_OK);
	tg_engine_eval(p, &s, TG_STAGE_MAIL, &v);
	auth_reply(&v, got, sizeof got);
	ck_assert_str_eq(got, "451 4.7.0 SASL login not usable, try again "
	    "later");
	/* An empty login is no login at all: unauthenticated. */
	ck_assert_int_eq(tg_session_set(&s, TG_A_SASL_LOGIN, ""), TG_OK);
	tg_engine_eval(p, &s, TG_STAGE_MAIL, &v);
	auth_reply(&v, got, sizeof got);
	ck_assert_str_eq(got, "530 5.7.0 Authentication required");
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_dropped_headers_not_owned)
{
	struct tg_policy *p = auth_policy(SUBMIT);
	struct tg_session s;
	struct tg_verdict v;

	tg_session_init(&s, "t");
	ck_assert_int_eq(tg_session_set(&s, TG_A_SASL_LOGIN, "alice"), TG_OK);
	ck_assert_int_eq(tg_session_set(&s, TG_A_SENDER, "<alice@example.org>"),
	    TG_OK);
	tg_engine_eval(p, &s, TG_STAGE_MAIL, &v);
	tg_session_add_header(&s, p, "From", "alice@example.org");
	for (int i = 0; i < TG_HEADER_MAX_COUNT; i++)
		tg_session_add_header(&s, p, "X-Filler", "x");
	/* A second From: past the kept headers could be the forged one. */
	tg_session_add_header(&s, p, "From", "bob@example.org");
	tg_engine_eval(p, &s, TG_STAGE_EOM, &v);
	ck_assert_int_eq(v.action, TG_ACT_REJECT);
	tg_session_free(&s);

	/* Dropped fields of other names do not matter: the only From was
	 * kept (they are counted by name). */
	tg_session_init(&s, "t");
	ck_assert_int_eq(tg_session_set(&s, TG_A_SASL_LOGIN, "alice"), TG_OK);
	ck_assert_int_eq(tg_session_set(&s, TG_A_SENDER, "<alice@example.org>"),
	    TG_OK);
	tg_engine_eval(p, &s, TG_STAGE_MAIL, &v);
	tg_session_add_header(&s, p, "From", "alice@example.org");
	for (int i = 0; i < TG_HEADER_MAX_COUNT + 10; i++)
		tg_session_add_header(&s, p, "X-Filler", "x");
	tg_engine_eval(p, &s, TG_STAGE_EOM, &v);
	ck_assert_int_eq(v.action, TG_ACT_CONTINUE);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

/* ---- grammar and its errors ---------------------------------------- */

struct conf_case {
	const char	*text;
	const char	*err;	/* first diagnostic; NULL: loads */
};

static const struct conf_case conf_cases[] = {
	{ "sasl { service \"smtpd\" realm \"example.org\" }\n"
	  "authentication-results \"mx.example.org\"\n", NULL },
	{ "table l list \"logins.map\"\n"
	  "stage mail { rule a: sender owned-by l => accept }",
	  "test.conf:2:22: error: owned-by needs a map table (address "
	  "owners...), but \"l\" is not one" },
	{ "table l map \"logins.map\"\n"
	  "stage mail { rule a: helo owned-by l => accept }",
	  "test.conf:2:22: error: owned-by needs an address: sender, "
	  "sasl.author, rcpt, header.from or header.sender, not helo" },
	{ "table l map \"logins.map\"\n"
	  "stage mail { rule a: header.from owned-by l => accept }",
	  "test.conf:2:22: error: header.from is not known at stage mail" },
	{ "stage mail { rule a: sender owned-by nope => accept }",
	  "test.conf:1:38: error: undefined table \"nope\"" },
	{ "stage mail { rule a: sender owned-by \"x\" => accept }",
	  "test.conf:1:38: error: expected a map table name, got string "
	  "\"x\"" },
	{ "sasl { color \"red\" }",
	  "test.conf:1:8: error: unknown sasl setting \"color\" (use service, "
	  "config-path or realm)" },
	{ "sasl { realm \"a@b\" }",
	  "test.conf:1:14: error: invalid sasl realm \"a@b\"" },
	{ "sasl { service \"../x\" }",
	  "test.conf:1:16: error: invalid sasl service name \"../x\"" },
	{ "sasl { config-path \"nowhere\" }",
	  "test.conf:1:20: error: sasl config-path \"nowhere\" is not a "
	  "directory" },
	{ "sasl { }\nsasl { }",
	  "test.conf:2:1: error: a second sasl block (first at test.conf:1)" },
	{ "authentication-results \"a b\"",
	  "test.conf:1:24: error: invalid authserv-id \"a b\" (a host name)" },
	{ "stage mail { rule a: authenticated and not sasl.account => "
	  "reject 535 5.7.8 \"gone\" }",
	  "test.conf: error: sasl.account is used, but no sasl { config-path "
	  "\"...\" } block says where Cyrus SASL's configuration is" },
	{ "sasl { config-path \".\" service \"nosuch\" }\n"
	  "stage mail { rule a: not sasl.account => accept }",
	  "test.conf:1:1: error: sasl.account: cannot read " },
};

START_TEST(test_conf_case)
{
	const struct conf_case *c = &conf_cases[_i];
	struct tg_policy *p;
	struct tg_diag d;

	tg_diag_init(&d);
	p = tg_policy_load_string("test.conf", c->text, auth_dir, &d);
	if (c->err == NULL) {
		ck_assert_msg(p != NULL, "case %d: %s", _i,
		    d.n ? d.msgs[0] : "?");
		ck_assert_ptr_nonnull(p->auth);
		ck_assert_str_eq(p->auth->service, "smtpd");
		ck_assert_str_eq(p->auth->realm, "example.org");
		ck_assert_str_eq(p->auth->authres_id, "mx.example.org");
	} else {
		ck_assert_msg(p == NULL && d.n > 0, "case %d: loaded", _i);
		ck_assert_msg(strncmp(d.msgs[0], c->err, strlen(c->err)) == 0,
		    "case %d: got \"%s\", want \"%s\"", _i, d.msgs[0], c->err);
	}
	tg_policy_unref(p);
	tg_diag_free(&d);
}
END_TEST

START_TEST(test_owner_map_errors)
{
	struct tg_policy *p;
	struct tg_diag d;

	auth_write("bad.map",
	    "alice@example.org alice\n"
	    "a@b@c alice\n"
	    "bob@example.org bob, carol@, @\n");
	tg_diag_init(&d);
	p = tg_policy_load_string("test.conf", "table l map \"bad.map\"\n"
	    "stage mail { rule a: sender owned-by l => accept }", auth_dir,
	    &d);
	ck_assert_ptr_null(p);
	/* A missing value is the map loader's error (check_table). */
	ck_assert_int_eq(d.n, 3);
	ck_assert_msg(strstr(d.msgs[0], "bad.map:2:1: error: owner map key "
	    "\"a@b@c\" is not an address") != NULL, "%s", d.msgs[0]);
	ck_assert_msg(strstr(d.msgs[1], "bad.map:3:22: error: invalid login "
	    "\"carol@\"") != NULL, "%s", d.msgs[1]);
	ck_assert_msg(strstr(d.msgs[2], "bad.map:3:30: error: invalid login "
	    "\"@\"") != NULL, "%s", d.msgs[2]);
	tg_diag_free(&d);
}
END_TEST

/* ---- Cyrus SASL auxprop (sasldb) ------------------------------------ */

#define ACCOUNT \
	"sasl { service \"tgtest\" config-path \".\" realm \"example.org\" }\n" \
	"stage mail {\n" \
	" rule gone: authenticated and not sasl.account\n" \
	"   => reject 535 5.7.8 \"Account ${login} no longer valid\"\n" \
	"}\n"

static int
auth_sasldb(void)
{
	char cmd[512], conf[512];

	if (system("command -v saslpasswd2 >/dev/null 2>&1") != 0)
		return -1;
	snprintf(conf, sizeof conf, "pwcheck_method: auxprop\n"
	    "auxprop_plugin: sasldb\nsasldb_path: %s/sasldb2\n"
	    "mech_list: PLAIN LOGIN\n", auth_dir);
	auth_write("tgtest.conf", conf);
	snprintf(cmd, sizeof cmd, "echo pw | saslpasswd2 -p -c -f %s/sasldb2 "
	    "-u example.org alice", auth_dir);
	ck_assert_int_eq(system(cmd), 0);
	return 0;
}

static const char *
auth_mail(struct tg_policy *p, const char *login, char *got, size_t gotsz)
{
	struct tg_session s;
	struct tg_verdict v;

	tg_session_init(&s, "t");
	ck_assert_int_eq(tg_session_set(&s, TG_A_SASL_LOGIN, login), TG_OK);
	ck_assert_int_eq(tg_session_set(&s, TG_A_SENDER, "<a@example.org>"),
	    TG_OK);
	tg_engine_eval(p, &s, TG_STAGE_MAIL, &v);
	auth_reply(&v, got, gotsz);
	tg_session_free(&s);
	return got;
}

START_TEST(test_sasl_account)
{
	struct tg_policy *p, *q;
	char got[512], path[300];

	if (auth_sasldb() < 0)
		return;		/* sasl2-bin not installed */
	p = auth_policy(ACCOUNT);
	ck_assert_ptr_nonnull(p->auth->sasldb);
	ck_assert_str_eq(auth_mail(p, "alice", got, sizeof got), "(continue)");
	ck_assert_str_eq(auth_mail(p, "alice@example.org", got, sizeof got),
	    "(continue)");
	ck_assert_str_eq(auth_mail(p, "carol", got, sizeof got),
	    "535 5.7.8 Account carol no longer valid");
	/* A deleted account is refused at once. */
	snprintf(path, sizeof path, "saslpasswd2 -d -f %s/sasldb2 -u "
	    "example.org alice", auth_dir);
	ck_assert_int_eq(system(path), 0);
	ck_assert_str_eq(auth_mail(p, "alice", got, sizeof got),
	    "535 5.7.8 Account alice no longer valid");
	/* No database: a tempfail, never "no such user". */
	snprintf(path, sizeof path, "%s/sasldb2", auth_dir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_str_eq(auth_mail(p, "alice", got, sizeof got),
	    "451 4.3.0 Temporary lookup failure, try again later");
	/* In the same process (Cyrus is set up once per process): a reload naming another service cannot re-read Cyrus's config. */
	auth_write("other.conf", "pwcheck_method: auxprop\n");
	q = auth_policy("sasl { service \"other\" config-path \".\" }\n"
	    "stage mail { rule gone: authenticated and not sasl.account\n"
	    " => reject 535 5.7.8 \"gone\" }\n");
	ck_assert_str_eq(auth_mail(q, "alice", got, sizeof got),
	    "451 4.3.0 Temporary lookup failure, try again later");
	tg_policy_unref(q);
	tg_policy_unref(p);
}
END_TEST

static Suite *
auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("auth");

	tcase_add_checked_fixture(tc, auth_setup, auth_teardown);
	tcase_add_loop_test(tc, test_addrlist_case, 0,
	    sizeof al_cases / sizeof al_cases[0]);
	tcase_add_test(tc, test_addrlist_limits);
	tcase_add_test(tc, test_login_set);
	tcase_add_test(tc, test_login_canon);
	tcase_add_loop_test(tc, test_owned_case, 0,
	    sizeof own_cases / sizeof own_cases[0]);
	tcase_add_test(tc, test_owned_attrs_and_reset);
	tcase_add_test(tc, test_quoted_literals);
	tcase_add_test(tc, test_bad_login_tempfails);
	tcase_add_test(tc, test_dropped_headers_not_owned);
	tcase_add_loop_test(tc, test_conf_case, 0,
	    sizeof conf_cases / sizeof conf_cases[0]);
	tcase_add_test(tc, test_owner_map_errors);
	tcase_add_test(tc, test_sasl_account);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(auth_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
