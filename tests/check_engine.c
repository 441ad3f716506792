/* check_engine.c - the rule engine driven without a socket: a policy from
 * a string, a session filled as the milter glue would, one stage at a
 * time. Every condition and action has a case that fails if it breaks. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_engine.h"
#include "tg_log.h"
#include "tg_policy.h"
#include "tg_session.h"


static char engine_dir[64];
static char engine_logged[8192];

static void
engine_sink(int prio, const char *line)
{
	size_t n = strlen(engine_logged);

	snprintf(engine_logged + n, sizeof engine_logged - n, "%s\n", line);
}

static void
engine_write(const char *name, const char *text)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof path, "%s/%s", engine_dir, name);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	fputs(text, fp);
	fclose(fp);
}

static void
engine_setup(void)
{
	/* Fresh each time: with CK_FORK=no the fixture runs in one process. */
	tg_strlcpy(engine_dir, "/tmp/tg-engine-XXXXXX", sizeof engine_dir);
	ck_assert_ptr_nonnull(mkdtemp(engine_dir));
	engine_write("trusted.cidr", "192.0.2.0/24 ok\n2001:db8::/32\n");
	engine_write("local.list", "example.org\n@example.net\n");
	engine_write("logins.map", "alice@example.org alice\n");
	engine_logged[0] = '\0';
	tg_log_set_sink(engine_sink);
}

static void
engine_teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof cmd, "rm -rf %s", engine_dir);
	ck_assert_int_eq(system(cmd), 0);
	tg_log_set_sink(NULL);
}

static struct tg_policy *
engine_policy(const char *text)
{
	struct tg_policy *p;
	struct tg_diag d;

	tg_diag_init(&d);
	p = tg_policy_load_string("test.conf", text, engine_dir, &d);
	ck_assert_msg(p != NULL, "policy did not load: %s",
	    d.n ? d.msgs[0] : "(no message)");
	tg_diag_free(&d);
	return p;
}

/* engine_fill - "attr=value" strings into the session. */
static void
engine_fill(struct tg_session *s, const char *const *kv)
{
	for (; kv != NULL && *kv != NULL; kv++) {
		const char *eq = strchr(*kv, '=');
		char name[64];
		enum tg_attr a;

		ck_assert_ptr_nonnull(eq);
		snprintf(name, sizeof name, "%.*s", (int)(eq - *kv), *kv);
		if (strcmp(name, "header") == 0) {
			const char *colon = strchr(eq + 1, ':');
			char hname[64];

			snprintf(hname, sizeof hname, "%.*s",
			    (int)(colon - eq - 1), eq + 1);
			tg_session_add_header(s, NULL, hname, colon + 2);
			continue;
		}
		if (strcmp(name, "body") == 0) {
			tg_session_add_body(s, (size_t)atol(eq + 1));
			continue;
		}
		ck_assert_msg(tg_attr_lookup(name, &a) == 0, "attr %s", name);
		ck_assert_int_eq(tg_session_set(s, a, eq + 1), TG_OK);
	}
}

struct engine_case {
	const char	*policy;
	const char	*kv[8];
	enum tg_stage	 stage;
	enum tg_action	 want;
	const char	*reply;		/* "554 5.7.1 text" or NULL */
	const char	*rule;		/* NULL: don't care */
};

#define RELAY \
	"table trusted cidr \"trusted.cidr\"\n" \
	"table local list \"local.list\"\n" \
	"stage rcpt {\n" \
	" rule no-relay: not authenticated and not client.address in trusted\n" \
	"   and not rcpt in local => reject 554 5.7.1 \"Relay access denied\"\n" \
	"}\n"

static const struct engine_case engine_cases[] = {
	/* 0-5: anti-relay with a cidr and a list table. */
	{ RELAY, { "client.address=198.51.100.7", "rcpt=<bob@elsewhere.com>" },
	  TG_STAGE_RCPT, TG_ACT_REJECT, "554 5.7.1 Relay access denied",
	  "no-relay" },
	{ RELAY, { "client.address=192.0.2.9", "rcpt=<bob@elsewhere.com>" },
	  TG_STAGE_RCPT, TG_ACT_CONTINUE, NULL, "" },
	{ RELAY, { "client.address=::ffff:192.0.2.9",
	  "rcpt=<bob@elsewhere.com>" }, TG_STAGE_RCPT, TG_ACT_CONTINUE },
	{ RELAY, { "client.address=198.51.100.7", "rcpt=<bob@Example.ORG>" },
	  TG_STAGE_RCPT, TG_ACT_CONTINUE },
	{ RELAY, { "client.address=198.51.100.7", "rcpt=<bob@mx.example.net>" },
	  TG_STAGE_RCPT, TG_ACT_REJECT },	/* @domain: no subdomains */
	{ RELAY, { "client.address=198.51.100.7", "sasl.login=alice",
	  "rcpt=<bob@elsewhere.com>" }, TG_STAGE_RCPT, TG_ACT_CONTINUE },
	/* 6-9: numbers and size suffixes. */
	{ "stage mail { rule big: size.declared > 10m => "
	  "reject 552 5.3.4 \"Message size exceeds fixed maximum message size\" }",
	  { "sender=<a@b.example>", "size.declared=10485761" },
	  TG_STAGE_MAIL, TG_ACT_REJECT,
	  "552 5.3.4 Message size exceeds fixed maximum message size", "big" },
	{ "stage mail { rule big: size.declared > 10m => "
	  "reject 552 5.3.4 \"too big\" }",
	  { "sender=<a@b.example>", "size.declared=10485760" },
	  TG_STAGE_MAIL, TG_ACT_CONTINUE },
	{ "stage eom { rule big: size >= 100 => reject 552 5.3.4 \"real\" }",
	  { "header=Subject: hi", "body=100" }, TG_STAGE_EOM, TG_ACT_REJECT,
	  "552 5.3.4 real" },
	{ "stage connect { rule p: listener.port == 587 => "
	  "reject 554 5.7.0 \"port ${listener}\" }",
	  { "listener.port=587" }, TG_STAGE_CONNECT, TG_ACT_REJECT,
	  "554 5.7.0 port 587" },
	/* 10-13: strings, sets, regex, unknown values. */
	{ "stage helo { rule h: helo in { \"localhost\", \"LOCALHOST.localdomain\" }"
	  " => reject 550 5.7.1 \"bad helo ${helo}\" }",
	  { "helo=localhost.LOCALDOMAIN" }, TG_STAGE_HELO, TG_ACT_REJECT,
	  "550 5.7.1 bad helo localhost.LOCALDOMAIN" },
	{ "stage helo { rule h: helo matches \"^[0-9.]+$\" => "
	  "reject 550 5.7.1 \"bare IP\" }",
	  { "helo=192.0.2.1" }, TG_STAGE_HELO, TG_ACT_REJECT },
	{ "stage helo { rule h: helo matches \"^[0-9.]+$\" => "
	  "reject 550 5.7.1 \"bare IP\" }",
	  { "helo=mail.example.com" }, TG_STAGE_HELO, TG_ACT_CONTINUE },
	{ "stage mail { rule m: tls.version != \"TLSv1.3\" => "
	  "tempfail 450 4.7.1 \"old tls\" }",
	  { "sender=<a@b.example>" }, TG_STAGE_MAIL, TG_ACT_TEMPFAIL },
	/* 14-17: client address sets, booleans, not. */
	{ "stage connect { rule c: client.address in { 10.0.0.0/8, ::1 } => "
	  "tempfail 421 4.7.0 \"go away ${client_address}\" }",
	  { "client.address=10.1.2.3" }, TG_STAGE_CONNECT, TG_ACT_TEMPFAIL,
	  "421 4.7.0 go away 10.1.2.3" },
	{ "stage connect { rule c: client.address in { 10.0.0.0/8, ::1 } => "
	  "tempfail 421 4.7.0 \"x\" }",
	  { "client.address=::1" }, TG_STAGE_CONNECT, TG_ACT_TEMPFAIL },
	{ "stage mail { rule auth: not authenticated and listener.port == 587"
	  " => reject 530 5.7.0 \"Authentication required\" }",
	  { "listener.port=587", "sender=<a@b.example>" }, TG_STAGE_MAIL,
	  TG_ACT_REJECT, "530 5.7.0 Authentication required" },
	{ "stage mail { rule auth: not authenticated and listener.port == 587"
	  " => reject 530 5.7.0 \"Authentication required\" }",
	  { "listener.port=587", "sasl.login=alice", "sender=<a@b.example>" },
	  TG_STAGE_MAIL, TG_ACT_CONTINUE },
	/* 18-21: address lookups in a map, header conditions. */
	{ "table logins map \"logins.map\"\n"
	  "stage mail { rule own: authenticated and not sender in logins => "
	  "reject 553 5.7.1 \"${sender} not owned by ${login}\" }",
	  { "sasl.login=bob", "sender=<alice@example.org>" }, TG_STAGE_MAIL,
	  TG_ACT_CONTINUE },
	{ "table logins map \"logins.map\"\n"
	  "stage mail { rule own: authenticated and not sender in logins => "
	  "reject 553 5.7.1 \"${sender} not owned by ${login}\" }",
	  { "sasl.login=bob", "sender=<carol@example.org>" }, TG_STAGE_MAIL,
	  TG_ACT_REJECT, "553 5.7.1 carol@example.org not owned by bob" },
	{ "stage eom { rule subj: header \"Subject\" matches \"viagra\" => "
	  "reject 554 5.7.1 \"spam\" }",
	  { "header=subject: Cheap VIAGRA now" }, TG_STAGE_EOM, TG_ACT_REJECT },
	{ "stage eom { rule nodate: not header \"Date\" => "
	  "reject 554 5.6.0 \"no Date header\" }",
	  { "header=Subject: x" }, TG_STAGE_EOM, TG_ACT_REJECT },
	/* 22-25: null sender, discard, quarantine, first match wins. */
	{ "stage mail { rule null: sender == \"\" => tempfail 451 4.7.1 "
	  "\"bounce from ${sender}\" }",
	  { "sender=<>" }, TG_STAGE_MAIL, TG_ACT_TEMPFAIL,
	  "451 4.7.1 bounce from <>" },
	{ "stage mail { rule d: sender.domain == \"spam.example\" => discard }",
	  { "sender=<x@SPAM.example>" }, TG_STAGE_MAIL, TG_ACT_DISCARD },
	{ "stage mail { rule q: sender.local == \"x\" => quarantine \"look\" }",
	  { "sender=<x@a.example>" }, TG_STAGE_MAIL, TG_ACT_QUARANTINE },
	{ "stage mail { rule a: true => reject 550 5.7.1 \"first\"\n"
	  " rule b: true => reject 550 5.7.1 \"second\" }",
	  { "sender=<x@a.example>" }, TG_STAGE_MAIL, TG_ACT_REJECT,
	  "550 5.7.1 first", "a" },
	/* 26-28: accept stops, continue and warn go on, dry-run. */
	{ "stage mail { rule ok: sender.domain == \"a.example\" => accept\n"
	  " rule no: true => reject 550 5.7.1 \"no\" }",
	  { "sender=<x@a.example>" }, TG_STAGE_MAIL, TG_ACT_ACCEPT, NULL, "ok" },
	{ "stage mail { rule w: true => warn \"saw ${sender}\", continue\n"
	  " rule no: true => reject 550 5.7.1 \"no\" }",
	  { "sender=<x@a.example>" }, TG_STAGE_MAIL, TG_ACT_REJECT, NULL, "no" },
	{ "stage mail { rule dry dry-run: true => reject 550 5.7.1 \"no\" }",
	  { "sender=<x@a.example>" }, TG_STAGE_MAIL, TG_ACT_CONTINUE, NULL,
	  "dry" },
	/* 29-30: or, parentheses, rcpt.count. */
	{ "stage rcpt { rule many: rcpt.count > 2 or (rcpt.domain == \"x.example\""
	  " and not rcpt.local == \"postmaster\") => "
	  "tempfail 452 4.5.3 \"Too many recipients\" }",
	  { "rcpt=<postmaster@x.example>" }, TG_STAGE_RCPT, TG_ACT_CONTINUE },
	{ "stage rcpt { rule many: rcpt.count > 2 or (rcpt.domain == \"x.example\""
	  " and not rcpt.local == \"postmaster\") => "
	  "tempfail 452 4.5.3 \"Too many recipients\" }",
	  { "rcpt=<joe@x.example>" }, TG_STAGE_RCPT, TG_ACT_TEMPFAIL,
	  "452 4.5.3 Too many recipients" },
	/* 31: reply text from the client cannot inject lines. */
	{ "stage helo { rule h: true => reject 550 5.7.1 \"bad ${helo}\" }",
	  { "helo=x\r\n250 ok" }, TG_STAGE_HELO, TG_ACT_REJECT,
	  "550 5.7.1 bad x??250 ok" },
};

START_TEST(test_engine_case)
{
	const struct engine_case *c = &engine_cases[_i];
	struct tg_policy *p = engine_policy(c->policy);
	struct tg_session s;
	struct tg_verdict v;
	char reply[600];

	tg_session_init(&s, "T1");
	engine_fill(&s, c->kv);
	if (c->stage == TG_STAGE_RCPT && s.val[TG_A_RCPT] == NULL)
		ck_abort_msg("case %d: no rcpt", _i);
	tg_engine_eval(p, &s, c->stage, &v);
	ck_assert_msg(v.action == c->want, "case %d: got %s, want %s", _i,
	    tg_action_name(v.action), tg_action_name(c->want));
	if (c->reply != NULL) {
		snprintf(reply, sizeof reply, "%s %s %s", v.code, v.xcode,
		    v.text);
		ck_assert_msg(strcmp(reply, c->reply) == 0,
		    "case %d: got \"%s\", want \"%s\"", _i, reply, c->reply);
	}
	if (c->rule != NULL)
		ck_assert_msg(strcmp(v.rule, c->rule) == 0,
		    "case %d: rule got \"%s\", want \"%s\"", _i, v.rule,
		    c->rule);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_engine_connect_verdict_sticks)
{
	struct tg_policy *p = engine_policy(
	    "stage connect { rule c: client.address in { 10.0.0.0/8 } => "
	    "reject 554 5.7.1 \"No thanks\" }");
	struct tg_session s;
	struct tg_verdict v;

	tg_session_init(&s, "T2");
	engine_fill(&s, (const char *const[]){ "client.address=10.0.0.1", NULL });
	ck_assert_int_eq(tg_engine_eval(p, &s, TG_STAGE_CONNECT, &v),
	    TG_ACT_REJECT);
	/* Delivered again at HELO, MAIL and RCPT. */
	for (int st = TG_STAGE_HELO; st <= TG_STAGE_RCPT; st++) {
		ck_assert_int_eq(tg_engine_eval(p, &s, st, &v), TG_ACT_REJECT);
		ck_assert_str_eq(v.code, "554");
		ck_assert_str_eq(v.rule, "c");
	}
	tg_session_reset_message(&s);
	ck_assert_int_eq(tg_engine_eval(p, &s, TG_STAGE_MAIL, &v),
	    TG_ACT_REJECT);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

/* The helo rules of the isp-antispam policy, and a trusted name. */
#define HELO_RULES \
	"stage helo {\n" \
	" rule trusted: helo == \"relay.example.net\" => accept\n" \
	" rule bare: helo.bare_ip => reject 504 5.5.2 \"bare\"\n" \
	" rule invalid: not helo.valid => reject 501 5.5.2 \"Invalid name\"\n" \
	" rule fqdn: not helo.fqdn => reject 504 5.5.2 \"need fqdn: ${helo}\"\n" \
	"}\n" \
	"stage mail { rule spam: sender.domain == \"spam.example\" => " \
	"reject 550 5.7.1 \"no\" }\n"

/* engine_step - set attribute a (NULL: none) and evaluate stage */
static enum tg_action
engine_step(const struct tg_policy *p, struct tg_session *s,
    enum tg_stage st, enum tg_attr a, const char *value,
    struct tg_verdict *v)
{
	if (value != NULL)
		ck_assert_int_eq(tg_session_set(s, a, value), TG_OK);
	return tg_engine_eval(p, s, st, v);
}

/* F3 (2026-12 review): a client that sends no HELO/EHLO is judged by the
 * helo rules at MAIL, with helo unknown; the refusal holds until a
 * HELO/EHLO. */
START_TEST(test_engine_no_helo_runs_helo_rules)
{
	struct tg_policy *p = engine_policy(HELO_RULES);
	struct tg_session s;
	struct tg_verdict v;

	tg_session_init(&s, "T10");
	ck_assert_int_eq(engine_step(p, &s, TG_STAGE_MAIL, TG_A_SENDER,
	    "<a@example.org>", &v), TG_ACT_REJECT);
	ck_assert_str_eq(v.code, "501");
	ck_assert_str_eq(v.rule, "invalid");
	ck_assert_int_eq(engine_step(p, &s, TG_STAGE_RCPT, TG_A_RCPT,
	    "<b@example.com>", &v), TG_ACT_REJECT);
	tg_session_reset_message(&s);
	ck_assert_int_eq(engine_step(p, &s, TG_STAGE_MAIL, TG_A_SENDER,
	    "<a@example.org>", &v), TG_ACT_REJECT);
	/* The client says EHLO after all: judged on that name. */
	ck_assert_int_eq(engine_step(p, &s, TG_STAGE_HELO, TG_A_HELO,
	    "mail.example.org", &v), TG_ACT_CONTINUE);
	tg_session_reset_message(&s);
	ck_assert_int_eq(engine_step(p, &s, TG_STAGE_MAIL, TG_A_SENDER,
	    "<a@example.org>", &v), TG_ACT_CONTINUE);
	tg_session_free(&s);

	/* With a HELO the rules ran at HELO: not again at MAIL. */
	tg_session_init(&s, "T11");
	ck_assert_int_eq(engine_step(p, &s, TG_STAGE_HELO, TG_A_HELO,
	    "mail.example.org", &v), TG_ACT_CONTINUE);
	ck_assert_int_eq(engine_step(p, &s, TG_STAGE_MAIL, TG_A_SENDER,
	    "<a@example.org>", &v), TG_ACT_CONTINUE);
	ck_assert_int_eq(engine_step(p, &s, TG_STAGE_MAIL, TG_A_SENDER,
	    "<a@spam.example>", &v), TG_ACT_REJECT);
	ck_assert_str_eq(v.rule, "spam");
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

/* RFC 5321 4.1.4 (issue 14): a new HELO/EHLO is judged on its own name;
 * what the previous one got, refusal or accept, is gone. */
START_TEST(test_engine_new_helo_judged_afresh)
{
	struct tg_policy *p = engine_policy(HELO_RULES);
	struct tg_session s;
	struct tg_verdict v;

	/* Refused, then a good EHLO: MAIL goes through. */
	tg_session_init(&s, "T12");
	ck_assert_int_eq(engine_step(p, &s, TG_STAGE_HELO, TG_A_HELO,
	    "localhost", &v), TG_ACT_REJECT);
	ck_assert_int_eq(engine_step(p, &s, TG_STAGE_MAIL, TG_A_SENDER,
	    "<a@example.org>", &v), TG_ACT_REJECT);
	ck_assert_str_eq(v.text, "need fqdn: localhost");
	tg_session_reset_message(&s);
	ck_assert_int_eq(engine_step(p, &s, TG_STAGE_HELO, TG_A_HELO,
	    "client.example.org", &v), TG_ACT_CONTINUE);
	ck_assert_int_eq(engine_step(p, &s, TG_STAGE_MAIL, TG_A_SENDER,
	    "<a@example.org>", &v), TG_ACT_CONTINUE);
	tg_session_free(&s);

	/* Good, then bad: refused, with the new name. */
	tg_session_init(&s, "T13");
	ck_assert_int_eq(engine_step(p, &s, TG_STAGE_HELO, TG_A_HELO,
	    "client.example.org", &v), TG_ACT_CONTINUE);
	ck_assert_int_eq(engine_step(p, &s, TG_STAGE_HELO, TG_A_HELO,
	    "badhost", &v), TG_ACT_REJECT);
	ck_assert_int_eq(engine_step(p, &s, TG_STAGE_MAIL, TG_A_SENDER,
	    "<a@example.org>", &v), TG_ACT_REJECT);
	ck_assert_str_eq(v.text, "need fqdn: badhost");
	tg_session_free(&s);

	/* An accept at helo lasts until the next HELO only. */
	tg_session_init(&s, "T14");
	ck_assert_int_eq(engine_step(p, &s, TG_STAGE_HELO, TG_A_HELO,
	    "relay.example.net", &v), TG_ACT_ACCEPT);
	ck_assert_int_eq(engine_step(p, &s, TG_STAGE_MAIL, TG_A_SENDER,
	    "<a@spam.example>", &v), TG_ACT_CONTINUE);
	tg_session_reset_message(&s);
	ck_assert_int_eq(engine_step(p, &s, TG_STAGE_HELO, TG_A_HELO,
	    "mail.example.org", &v), TG_ACT_CONTINUE);
	ck_assert_int_eq(engine_step(p, &s, TG_STAGE_MAIL, TG_A_SENDER,
	    "<a@spam.example>", &v), TG_ACT_REJECT);
	ck_assert_int_eq(engine_step(p, &s, TG_STAGE_HELO, TG_A_HELO,
	    "badhost", &v), TG_ACT_REJECT);
	ck_assert_int_eq(engine_step(p, &s, TG_STAGE_MAIL, TG_A_SENDER,
	    "<a@example.org>", &v), TG_ACT_REJECT);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

/* A connect-stage refusal stays, whatever HELO follows. */
START_TEST(test_engine_connect_verdict_survives_helo)
{
	struct tg_policy *p = engine_policy(
	    "stage connect { rule c: client.address in { 10.0.0.0/8 } => "
	    "reject 554 5.7.1 \"No thanks\" }\n" HELO_RULES);
	struct tg_session s;
	struct tg_verdict v;

	tg_session_init(&s, "T15");
	ck_assert_int_eq(engine_step(p, &s, TG_STAGE_CONNECT,
	    TG_A_CLIENT_ADDRESS, "10.0.0.1", &v), TG_ACT_REJECT);
	ck_assert_int_eq(engine_step(p, &s, TG_STAGE_HELO, TG_A_HELO,
	    "relay.example.net", &v), TG_ACT_REJECT);
	ck_assert_int_eq(engine_step(p, &s, TG_STAGE_HELO, TG_A_HELO,
	    "mail.example.org", &v), TG_ACT_REJECT);
	ck_assert_int_eq(engine_step(p, &s, TG_STAGE_MAIL, TG_A_SENDER,
	    "<a@example.org>", &v), TG_ACT_REJECT);
	ck_assert_str_eq(v.rule, "c");
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_engine_rcpt_count_skips_refused)
{
	struct tg_policy *p = engine_policy(
	    "stage rcpt {\n"
	    " rule bad: rcpt.local == \"nobody\" => reject 550 5.1.1 \"no\"\n"
	    " rule max: rcpt.count > 2 => tempfail 452 4.5.3 \"Too many\"\n"
	    "}\n");
	const char *rcpts[] = { "<a@x.example>", "<nobody@x.example>",
	    "<b@x.example>", "<c@x.example>" };
	const enum tg_action want[] = { TG_ACT_CONTINUE, TG_ACT_REJECT,
	    TG_ACT_CONTINUE, TG_ACT_TEMPFAIL };
	struct tg_session s;
	struct tg_verdict v;

	tg_session_init(&s, "T3");
	tg_session_set(&s, TG_A_SENDER, "<s@x.example>");
	tg_engine_eval(p, &s, TG_STAGE_MAIL, &v);
	for (int i = 0; i < 4; i++) {
		tg_session_set(&s, TG_A_RCPT, rcpts[i]);
		ck_assert_msg(tg_engine_eval(p, &s, TG_STAGE_RCPT, &v) ==
		    want[i], "rcpt %d: got %s", i, tg_action_name(v.action));
	}
	ck_assert_uint_eq(s.rcpt_count, 2);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_engine_accept_lasts_for_message)
{
	struct tg_policy *p = engine_policy(
	    "stage mail { rule ok: sender.domain == \"good.example\" => accept }\n"
	    "stage rcpt { rule no: true => reject 550 5.7.1 \"no\" }\n");
	struct tg_session s;
	struct tg_verdict v;

	tg_session_init(&s, "T4");
	tg_session_set(&s, TG_A_SENDER, "<a@good.example>");
	ck_assert_int_eq(tg_engine_eval(p, &s, TG_STAGE_MAIL, &v),
	    TG_ACT_ACCEPT);
	tg_session_set(&s, TG_A_RCPT, "<r@x.example>");
	ck_assert_int_eq(tg_engine_eval(p, &s, TG_STAGE_RCPT, &v),
	    TG_ACT_CONTINUE);
	/* The next message is judged afresh. */
	tg_session_reset_message(&s);
	tg_session_set(&s, TG_A_SENDER, "<a@other.example>");
	ck_assert_int_eq(tg_engine_eval(p, &s, TG_STAGE_MAIL, &v),
	    TG_ACT_CONTINUE);
	tg_session_set(&s, TG_A_RCPT, "<r@x.example>");
	ck_assert_int_eq(tg_engine_eval(p, &s, TG_STAGE_RCPT, &v),
	    TG_ACT_REJECT);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_engine_add_header_and_reset)
{
	struct tg_policy *p = engine_policy(
	    "stage mail { rule tag: authenticated => "
	    "add-header X-Auth-User \"${login} ${helo}\" }\n");
	struct tg_session s;
	struct tg_verdict v;

	tg_session_init(&s, "T5");
	tg_session_set(&s, TG_A_SASL_LOGIN, "alice");
	tg_session_set(&s, TG_A_HELO, "x\r\nInjected: yes");
	tg_session_set(&s, TG_A_SENDER, "<alice@x.example>");
	ck_assert_int_eq(tg_engine_eval(p, &s, TG_STAGE_MAIL, &v),
	    TG_ACT_CONTINUE);
	ck_assert_uint_eq(s.nadd, 1);
	ck_assert_str_eq(s.add_hdrs[0].name, "X-Auth-User");
	ck_assert_str_eq(s.add_hdrs[0].value, "alice xInjected: yes");
	ck_assert_str_eq(v.rule, "");
	/* RSET: the message state goes, the login stays. */
	tg_session_reset_message(&s);
	ck_assert_uint_eq(s.nadd, 0);
	ck_assert_ptr_null(s.val[TG_A_SENDER]);
	ck_assert_str_eq(s.val[TG_A_SASL_LOGIN], "alice");
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

/* A header value longer than the expansion buffer once its variables
 * are in is not added, rather than added cut short (a quoted string left
 * open in Authentication-Results would change what it says). */
START_TEST(test_engine_long_header_not_cut)
{
	struct tg_policy *p = engine_policy(
	    "stage mail { rule tag: true => "
	    "add-header X-Helo \"${helo} ${helo} ${helo}\", "
	    "add-header X-Short \"${sender}\" }\n");
	struct tg_session s;
	struct tg_verdict v;
	char helo[1000];

	memset(helo, 'h', sizeof helo - 1);
	helo[sizeof helo - 1] = '\0';
	tg_session_init(&s, "T16");
	tg_session_set(&s, TG_A_HELO, helo);
	tg_session_set(&s, TG_A_SENDER, "<a@example.org>");
	ck_assert_int_eq(tg_engine_eval(p, &s, TG_STAGE_MAIL, &v),
	    TG_ACT_CONTINUE);
	ck_assert_uint_eq(s.nadd, 1);
	ck_assert_str_eq(s.add_hdrs[0].name, "X-Short");
	ck_assert_msg(strstr(engine_logged, "rule=tag header not added, "
	    "longer than the limit: X-Helo") != NULL, "log was: %s",
	    engine_logged);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_engine_dry_run_logs)
{
	struct tg_policy *p = engine_policy(
	    "stage mail { rule dry dry-run: true => reject 550 5.7.1 "
	    "\"would refuse ${sender}\" }\n");
	struct tg_session s;
	struct tg_verdict v;

	tg_session_init(&s, "T6");
	tg_session_set(&s, TG_A_SENDER, "<x@a.example>");
	ck_assert_int_eq(tg_engine_eval(p, &s, TG_STAGE_MAIL, &v),
	    TG_ACT_CONTINUE);
	ck_assert_int_eq(v.dry_run, 1);
	ck_assert_msg(strstr(engine_logged, "T6: NOQUEUE: stage=mail "
	    "rule=dry dry-run: would reject 550 5.7.1 would refuse "
	    "x@a.example") != NULL, "log was: %s", engine_logged);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_engine_missing_macros_are_unauthenticated)
{
	struct tg_policy *p = engine_policy(
	    "stage mail { rule auth: not authenticated => "
	    "reject 530 5.7.0 \"Authentication required\" }\n");
	struct tg_session s;
	struct tg_verdict v;

	tg_session_init(&s, "T7");
	tg_session_set(&s, TG_A_SENDER, "<x@a.example>");
	ck_assert_int_eq(tg_engine_eval(p, &s, TG_STAGE_MAIL, &v),
	    TG_ACT_REJECT);
	tg_session_set(&s, TG_A_SASL_LOGIN, "");
	ck_assert_int_eq(tg_engine_eval(p, &s, TG_STAGE_MAIL, &v),
	    TG_ACT_REJECT);
	tg_session_free(&s);
	tg_policy_unref(p);
}
END_TEST

START_TEST(test_engine_bad_values_leave_attr_unset)
{
	struct tg_session s;

	tg_session_init(&s, "T8");
	ck_assert_int_eq(tg_session_set(&s, TG_A_SENDER, "<a@b@c>"),
	    TG_ERR_SYNTAX);
	ck_assert_ptr_null(s.val[TG_A_SENDER]);
	ck_assert_int_eq(tg_session_set(&s, TG_A_LISTENER_PORT, "25x"),
	    TG_ERR_SYNTAX);
	ck_assert_int_eq(s.listener_port, -1);
	ck_assert_int_eq(tg_session_set(&s, TG_A_SIZE_DECLARED,
	    "99999999999999999999999"), TG_ERR_SYNTAX);
	ck_assert_int_eq(tg_session_set(&s, TG_A_CLIENT_ADDRESS, "not-ip"),
	    TG_ERR_SYNTAX);
	ck_assert_int_eq(s.client_ip_ok, 0);
	tg_session_free(&s);
}
END_TEST

START_TEST(test_engine_null_policy_passes)
{
	struct tg_session s;
	struct tg_verdict v;

	tg_session_init(&s, "T9");
	ck_assert_int_eq(tg_engine_eval(NULL, &s, TG_STAGE_MAIL, &v),
	    TG_ACT_CONTINUE);
	tg_session_free(&s);
}
END_TEST

static Suite *
engine_suite(void)
{
	Suite *s = suite_create("engine");
	TCase *tc = tcase_create("rules");

	tcase_add_checked_fixture(tc, engine_setup, engine_teardown);
	tcase_add_loop_test(tc, test_engine_case, 0,
	    sizeof engine_cases / sizeof engine_cases[0]);
	tcase_add_test(tc, test_engine_connect_verdict_sticks);
	tcase_add_test(tc, test_engine_no_helo_runs_helo_rules);
	tcase_add_test(tc, test_engine_new_helo_judged_afresh);
	tcase_add_test(tc, test_engine_connect_verdict_survives_helo);
	tcase_add_test(tc, test_engine_rcpt_count_skips_refused);
	tcase_add_test(tc, test_engine_accept_lasts_for_message);
	tcase_add_test(tc, test_engine_add_header_and_reset);
	tcase_add_test(tc, test_engine_long_header_not_cut);
	tcase_add_test(tc, test_engine_dry_run_logs);
	tcase_add_test(tc, test_engine_missing_macros_are_unauthenticated);
	tcase_add_test(tc, test_engine_bad_values_leave_attr_unset);
	tcase_add_test(tc, test_engine_null_policy_passes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(engine_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
