/* check_limits.c - size, header and recipient limits, per-key limits
 * looked up in tables ("size > limits[sasl.login] default 10m"), and the
 * addresses open relays were fooled by, each through the engine with the
 * reply it must get. Threads: none (Check may fork per test). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg.h"
#include "tg_addr.h"
#include "tg_diag.h"
#include "tg_engine.h"
#include "tg_log.h"
#include "tg_policy.h"
#include "tg_session.h"
#include "tg_table.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static char lim_dir[64];

static void
lim_write(const char *name, const char *text)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof path, "%s/%s", lim_dir, name);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	fputs(text, fp);
	fclose(fp);
}

static void
lim_quiet(int prio, const char *line)
{
}

static void
lim_setup(void)
{
	tg_strlcpy(lim_dir, "/tmp/tg-limits-XXXXXX", sizeof lim_dir);
	ck_assert_ptr_nonnull(mkdtemp(lim_dir));
	lim_write("local.list", "example.org\n.example.net\n[192.0.2.1]\n"
	    "[IPv6:2001:DB8::1]\n");
	lim_write("user_size.map", "alice 50m\nbob 1k\n@bulk.example 100m\n");
	lim_write("listener_rcpts.map", "submission 500\n");
	lim_write("client_rcpts.cidr", "10.0.0.0/8 3\n");
	lim_write("login_domain.map", "alice example.org\n");
	lim_write("bad_size.map", "alice 50m\nbob lots\ncarol 1x\n");
	tg_log_set_sink(lim_quiet);
}

static void
lim_teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof cmd, "rm -rf %s", lim_dir);
	ck_assert_int_eq(system(cmd), 0);
	tg_log_set_sink(NULL);
}

static struct tg_policy *
lim_policy(const char *text, struct tg_diag *d)
{
	tg_diag_init(d);
	return tg_policy_load_string("test.conf", text, lim_dir, d);
}

/* "attr=value" into the session; "header=Name: value" adds a header. */
static int
lim_fill(struct tg_session *s, const char *const *kv)
{
	for (; *kv != NULL; kv++) {
		const char *eq = strchr(*kv, '=');
		char name[64];
		enum tg_attr a;
		int rc;

		snprintf(name, sizeof name, "%.*s", (int)(eq - *kv), *kv);
		if (strcmp(name, "header") == 0) {
			const char *colon = strchr(eq + 1, ':');

			snprintf(name, sizeof name, "%.*s",
			    (int)(colon - eq - 1), eq + 1);
			tg_session_add_header(s, NULL, name, colon + 2);
			continue;
		}
		ck_assert_msg(tg_attr_lookup(name, &a) == 0, "attr %s", name);
		if ((rc = tg_session_set(s, a, eq + 1)) != TG_OK)
			return rc;
	}
	return TG_OK;
}

struct lim_case {
	const char	*policy;
	const char	*kv[8];
	enum tg_stage	 stage;
	enum tg_action	 want;	/* CONTINUE + bad: the address is refused */
	int		 bad;	/* tg_session_set fails (milter: 501) */
	const char	*rule;	/* the rule that must match, or NULL */
};

#define RELAY \
	"table local list \"local.list\"\n" \
	"stage rcpt { rule no-relay: not authenticated\n" \
	"  and rcpt.domain not in local and rcpt.domain != \"\"\n" \
	"  => reject 554 5.7.1 \"Relay access denied\" }\n"
/* The same with the address form, whose fallbacks must not be fooled
 * either. */
#define RELAY_ADDR \
	"table local list \"local.list\"\n" \
	"stage rcpt { rule no-relay: not authenticated and rcpt not in local\n" \
	"  => reject 554 5.7.1 \"Relay access denied\" }\n"
#define R(addr)	{ "rcpt=" addr }
#define OK	TG_STAGE_RCPT, TG_ACT_CONTINUE
#define DENY	TG_STAGE_RCPT, TG_ACT_REJECT
#define SYNTAX	TG_STAGE_RCPT, TG_ACT_CONTINUE, 1

static const struct lim_case relay_cases[] = {
	/* 0-4: plain, case, trailing dot, no domain, quoted local part */
	{ RELAY, R("<bob@example.org>"), OK },
	{ RELAY, R("<Bob@EXAMPLE.Org>"), OK },
	{ RELAY, R("<bob@example.org.>"), OK },
	{ RELAY, R("<postmaster>"), OK },
	{ RELAY, R("<\"john smith\"@example.org>"), OK },
	/* 5-8: routing in the local part: the domain is unknown */
	{ RELAY, R("<bob%evil.example@example.org>"), DENY },
	{ RELAY, R("<evil.example!bob@example.org>"), DENY },
	{ RELAY, R("<\"bob@evil.example\"@example.org>"), DENY },
	{ RELAY, R("<\"bob%evil.example\"@example.org>"), DENY },
	/* 9-10: the reverse: a local name routed through a foreign domain */
	{ RELAY, R("<bob%example.org@evil.example>"), DENY },
	{ RELAY, R("<bob@evil.example>"), DENY },
	/* 11-12: source routes, either way round */
	{ RELAY, R("<@example.org:bob@evil.example>"), DENY },
	{ RELAY, R("<@evil.example,@a.example:bob@example.org>"), DENY },
	/* 13-17: address literals, canonicalised before the lookup */
	{ RELAY, R("<bob@[192.0.2.1]>"), OK },
	{ RELAY, R("<bob@[IPv6:::ffff:192.0.2.1]>"), OK },
	{ RELAY, R("<bob@[IPv6:2001:db8:0::1]>"), OK },
	{ RELAY, R("<bob@[192.0.2.2]>"), DENY },
	{ RELAY, R("<bob@[192.0.2.1].>"), SYNTAX },
	/* 18-22: not addresses at all */
	{ RELAY, R("<bob@evil.example@example.org>"), SYNTAX },
	{ RELAY, R("<bob@[evil.example]>"), SYNTAX },
	{ RELAY, R("<bob@[::1]>"), SYNTAX },
	{ RELAY, R("<bob@example.org..>"), SYNTAX },
	{ RELAY, R("<bob@[300.1.1.1]>"), SYNTAX },
	/* 23-25: subdomains: only through a ".example.net" key */
	{ RELAY, R("<bob@sub.example.org>"), DENY },
	{ RELAY, R("<bob@mx.Example.NET>"), OK },
	{ RELAY, R("<bob@example.net>"), DENY },
	/* 26: a client that logged in may relay, routed or not */
	{ RELAY, { "sasl.login=alice", "rcpt=<bob%evil.example@example.org>" },
	  OK },
	/* 27-31: the address form of the rule */
	{ RELAY_ADDR, R("<bob@example.org>"), OK },
	{ RELAY_ADDR, R("<bob%evil.example@example.org>"), DENY },
	{ RELAY_ADDR, R("<\"bob@evil.example\"@example.org>"), DENY },
	{ RELAY_ADDR, R("<@evil.example:bob@example.org>"), DENY },
	{ RELAY_ADDR, R("<bob@x.example.net>"), OK },
};

START_TEST(test_relay)
{
	const struct lim_case *c = &relay_cases[_i];
	struct tg_diag d;
	struct tg_policy *p = lim_policy(c->policy, &d);
	struct tg_session s;
	struct tg_verdict v;
	int rc;

	ck_assert_msg(p != NULL, "policy: %s", d.n ? d.msgs[0] : "?");
	tg_session_init(&s, "L");
	rc = lim_fill(&s, c->kv);
	if (c->bad) {
		ck_assert_msg(rc == TG_ERR_SYNTAX, "case %d: got %d, want "
		    "a syntax error", _i, rc);
	} else {
		ck_assert_msg(rc == TG_OK, "case %d: set: %d", _i, rc);
		tg_engine_eval(p, &s, c->stage, &v);
		ck_assert_msg(v.action == c->want, "case %d: got %s, want %s",
		    _i, tg_action_name(v.action), tg_action_name(c->want));
		if (v.action == TG_ACT_REJECT)
			ck_assert_str_eq(v.code, "554");
	}
	tg_session_free(&s);
	tg_policy_unref(p);
	tg_diag_free(&d);
}
END_TEST

/* What rcpt.domain and rcpt.routed are for each form. */
START_TEST(test_rcpt_parts)
{
	static const struct {
		const char *in, *domain;	/* NULL: unknown */
		int routed;
	} c[] = {
		{ "<Bob@Example.ORG.>", "example.org", 0 },
		{ "<bob%evil.example@example.org>", NULL, 1 },
		{ "<a!b@example.org>", NULL, 1 },
		{ "<\"a@b\"@example.org>", NULL, 1 },
		{ "<@x.example:bob@example.org>", NULL, 1 },
		{ "<\"a b\"@example.org>", "example.org", 0 },
		{ "<bob@[IPv6:2001:DB8::0:1]>", "[ipv6:2001:db8::1]", 0 },
		{ "<postmaster>", "", 0 },
	};
	struct tg_session s;

	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		tg_session_init(&s, "P");
		ck_assert_int_eq(tg_session_set(&s, TG_A_RCPT, c[i].in), TG_OK);
		ck_assert_msg(s.rcpt_routed == c[i].routed, "%s: routed %d",
		    c[i].in, s.rcpt_routed);
		if (c[i].domain == NULL)
			ck_assert_msg(s.val[TG_A_RCPT_DOMAIN] == NULL,
			    "%s: domain \"%s\", want unknown", c[i].in,
			    s.val[TG_A_RCPT_DOMAIN]);
		else
			ck_assert_msg(s.val[TG_A_RCPT_DOMAIN] != NULL &&
			    strcmp(s.val[TG_A_RCPT_DOMAIN], c[i].domain) == 0,
			    "%s: domain \"%s\", want \"%s\"", c[i].in,
			    s.val[TG_A_RCPT_DOMAIN], c[i].domain);
		/* A new recipient forgets the last one's routing. */
		ck_assert_int_eq(tg_session_set(&s, TG_A_RCPT, "<a@b.c>"),
		    TG_OK);
		ck_assert_int_eq(s.rcpt_routed, 0);
		tg_session_free(&s);
	}
}
END_TEST

#define USIZE \
	"table user_size map \"user_size.map\"\n" \
	"stage mail { rule size: size.declared > user_size[sasl.login] " \
	"default 10m\n  => reject 552 5.3.4 \"Message size exceeds fixed " \
	"maximum message size\" }\n"
#define SSIZE \
	"table user_size map \"user_size.map\"\n" \
	"stage eom { rule size: size > user_size[sender] default 10\n" \
	"  => reject 552 5.3.4 \"Message too big\" }\n"
#define LRCPT \
	"table lr map \"listener_rcpts.map\"\n" \
	"table cr cidr \"client_rcpts.cidr\"\n" \
	"stage rcpt { rule c: rcpt.count > cr[client.address] default 2\n" \
	"  => tempfail 452 4.5.3 \"Too many recipients\"\n" \
	" rule l: rcpt.count > lr[listener.name] default 100\n" \
	"  => tempfail 452 4.5.3 \"Too many recipients\" }\n"
#define LOGIN \
	"table ld map \"login_domain.map\"\n" \
	"stage mail { rule own: authenticated and " \
	"sender.domain != ld[sasl.login]\n" \
	"  => reject 553 5.7.1 \"Not your domain\" }\n"
#define HDRS \
	"stage eom { rule n: header.count > 5 => reject 552 5.3.4 \"n\"\n" \
	" rule b: header.bytes > 100 => reject 552 5.3.4 \"b\"\n" \
	" rule l: header.longest > 30 => reject 552 5.3.4 \"l\" }\n"

static const struct lim_case limit_cases[] = {
	/* 0-6: size per login, with a default for the rest */
	{ USIZE, { "sasl.login=alice", "size.declared=20971520" },
	  TG_STAGE_MAIL, TG_ACT_CONTINUE },
	{ USIZE, { "sasl.login=alice", "size.declared=52428801" },
	  TG_STAGE_MAIL, TG_ACT_REJECT },
	{ USIZE, { "sasl.login=Bob", "size.declared=1025" },
	  TG_STAGE_MAIL, TG_ACT_REJECT },
	{ USIZE, { "sasl.login=bob", "size.declared=1024" },
	  TG_STAGE_MAIL, TG_ACT_CONTINUE },
	{ USIZE, { "size.declared=10485761" }, TG_STAGE_MAIL, TG_ACT_REJECT },
	{ USIZE, { "size.declared=10485760" }, TG_STAGE_MAIL,
	  TG_ACT_CONTINUE },
	{ USIZE, { "sasl.login=carol", "size.declared=10485761" },
	  TG_STAGE_MAIL, TG_ACT_REJECT },
	/* 7-9: keyed by an address, with @domain fallback; real size */
	{ SSIZE, { "sender=<x@bulk.example>", "header=Subject: "
	  "0123456789" }, TG_STAGE_EOM, TG_ACT_CONTINUE },
	{ SSIZE, { "sender=<x@other.example>", "header=Subject: "
	  "0123456789" }, TG_STAGE_EOM, TG_ACT_REJECT },
	{ SSIZE, { "sender=<x@other.example>", "header=S: 1" },
	  TG_STAGE_EOM, TG_ACT_CONTINUE },
	/* 10-13: recipients per client network (cidr) and listener; the
	 * count includes this recipient, so count 2 means the third */
	{ LRCPT, { "client.address=10.1.1.1", "listener.name=smtpd",
	  "rcpt=<a@b.example>" }, TG_STAGE_RCPT, TG_ACT_CONTINUE },
	{ LRCPT, { "client.address=192.0.2.7", "listener.name=submission",
	  "rcpt=<a@b.example>" }, TG_STAGE_RCPT, TG_ACT_CONTINUE },
	/* 12-13: string values: the sender must match the login's domain */
	{ LOGIN, { "sasl.login=alice", "sender=<alice@Example.org>" },
	  TG_STAGE_MAIL, TG_ACT_CONTINUE },
	{ LOGIN, { "sasl.login=alice", "sender=<alice@evil.example>" },
	  TG_STAGE_MAIL, TG_ACT_REJECT },
	/* 14: no entry, no default: the value is unknown, so != holds */
	{ LOGIN, { "sasl.login=mallory", "sender=<m@example.org>" },
	  TG_STAGE_MAIL, TG_ACT_REJECT },
	/* 15-20: header limits: count, total bytes, longest line */
	{ HDRS, { "header=A: 1", "header=B: 2", "header=C: 3", "header=D: 4",
	  "header=E: 5" }, TG_STAGE_EOM, TG_ACT_CONTINUE },
	{ HDRS, { "header=A: 1", "header=B: 2", "header=C: 3", "header=D: 4",
	  "header=E: 5", "header=A: 6" }, TG_STAGE_EOM, TG_ACT_REJECT, 0,
	  "n" },
	{ HDRS, { "header=A: 0123456789012345678901234",
	  "header=B: 0123456789012345678901234",
	  "header=C: 0123456789012345678901234",
	  "header=D: 0123456789012345678901234" }, TG_STAGE_EOM,
	  TG_ACT_REJECT, 0, "b" },
	{ HDRS, { "header=A: 0123456789012345678901234",
	  "header=B: 0123456789012345678901234",
	  "header=C: 0123456789012345678901234" }, TG_STAGE_EOM,
	  TG_ACT_CONTINUE },
	{ HDRS, { "header=Long: 012345678901234567890123" },
	  TG_STAGE_EOM, TG_ACT_CONTINUE },
	{ HDRS, { "header=Long: 0123456789012345678901234" },
	  TG_STAGE_EOM, TG_ACT_REJECT, 0, "l" },
	/* 21: a folded header: each line counts on its own */
	{ HDRS, { "header=Long: 0123456789\n\t01234567890123456789012345678\r\n"
	  "\t01234" }, TG_STAGE_EOM, TG_ACT_CONTINUE },
	{ HDRS, { "header=Long: 0123456789\n\t012345678901234567890123456789\r\n"
	  "\t01234" }, TG_STAGE_EOM, TG_ACT_REJECT, 0, "l" },
};

START_TEST(test_limit)
{
	const struct lim_case *c = &limit_cases[_i];
	struct tg_diag d;
	struct tg_policy *p = lim_policy(c->policy, &d);
	struct tg_session s;
	struct tg_verdict v;

	ck_assert_msg(p != NULL, "case %d: policy: %s", _i,
	    d.n ? d.msgs[0] : "?");
	tg_session_init(&s, "L");
	ck_assert_int_eq(lim_fill(&s, c->kv), TG_OK);
	tg_engine_eval(p, &s, c->stage, &v);
	ck_assert_msg(v.action == c->want, "case %d: got %s, want %s", _i,
	    tg_action_name(v.action), tg_action_name(c->want));
	if (c->rule != NULL)
		ck_assert_msg(strcmp(v.rule, c->rule) == 0, "case %d: rule "
		    "\"%s\", want \"%s\"", _i, v.rule, c->rule);
	tg_session_free(&s);
	tg_policy_unref(p);
	tg_diag_free(&d);
}
END_TEST

/* Recipients past the limit get 452 4.5.3; the ones before stay
 * accepted; refused ones do not count. 10/8 may have 3, others 2. */
START_TEST(test_rcpt_limit_sequence)
{
	struct tg_diag d;
	struct tg_policy *p = lim_policy(LRCPT, &d);
	struct tg_session s;
	struct tg_verdict v;
	const char *client[] = { "10.9.9.9", "198.51.100.1" };
	const int allowed[] = { 3, 2 };

	ck_assert_ptr_nonnull(p);
	for (int k = 0; k < 2; k++) {
		tg_session_init(&s, "Q");
		tg_session_set(&s, TG_A_CLIENT_ADDRESS, client[k]);
		tg_session_set(&s, TG_A_SENDER, "<s@x.example>");
		tg_engine_eval(p, &s, TG_STAGE_MAIL, &v);
		for (int i = 0; i < 6; i++) {
			tg_session_set(&s, TG_A_RCPT, "<r@y.example>");
			tg_engine_eval(p, &s, TG_STAGE_RCPT, &v);
			ck_assert_msg(v.action == (i < allowed[k] ?
			    TG_ACT_CONTINUE : TG_ACT_TEMPFAIL),
			    "client %d rcpt %d: got %s", k, i,
			    tg_action_name(v.action));
			if (v.action == TG_ACT_TEMPFAIL) {
				ck_assert_str_eq(v.code, "452");
				ck_assert_str_eq(v.xcode, "4.5.3");
			}
		}
		ck_assert_uint_eq(s.rcpt_count, (unsigned)allowed[k]);
		tg_session_free(&s);
	}
	tg_policy_unref(p);
	tg_diag_free(&d);
}
END_TEST

/* Header counters reset with the message and count past what is kept. */
START_TEST(test_header_counters)
{
	struct tg_session s;
	char name[16];

	tg_session_init(&s, "H");
	for (int i = 0; i < TG_HEADER_MAX_COUNT + 10; i++) {
		snprintf(name, sizeof name, "X-%d", i);
		tg_session_add_header(&s, NULL, name, "v");
	}
	ck_assert_int_eq(s.hdr_count, TG_HEADER_MAX_COUNT + 10);
	ck_assert_uint_eq(s.nhdrs, TG_HEADER_MAX_COUNT);
	ck_assert_int_eq(s.hdr_total, s.size);
	tg_session_reset_message(&s);
	ck_assert_int_eq(s.hdr_count, 0);
	ck_assert_int_eq(s.hdr_total, 0);
	ck_assert_int_eq(s.hdr_longest, 0);
	tg_session_free(&s);
}
END_TEST

struct lim_err {
	const char	*policy;
	const char	*msg;	/* a substring of the first error */
};

static const struct lim_err lim_errs[] = {
	{ "table l list \"local.list\"\nstage mail { rule r: size.declared "
	  "> l[sasl.login] => continue }", "list table \"l\" has no values" },
	{ "table c cidr \"client_rcpts.cidr\"\nstage mail { rule r: "
	  "size.declared > c[sasl.login] => continue }",
	  "not an ip attribute" },
	{ "table m map \"user_size.map\"\nstage mail { rule r: "
	  "size.declared > m[client.address] => continue }",
	  "use a cidr table" },
	{ "table m map \"user_size.map\"\nstage mail { rule r: "
	  "size.declared > m[nosuch] => continue }", "unknown attribute in" },
	{ "stage mail { rule r: size.declared > nosuch[sasl.login] "
	  "=> continue }", "undefined table \"nosuch\"" },
	{ "table m map \"user_size.map\"\nstage mail { rule r: "
	  "size.declared > m[sasl.login] default big => continue }",
	  "is not a number: \"big\"" },
	{ "table m map \"user_size.map\"\nstage mail { rule r: "
	  "size.declared > m[rcpt] => continue }",
	  "rcpt is not known at stage mail" },
	{ "table m map \"bad_size.map\"\nstage mail { rule r: "
	  "size.declared > m[sasl.login] => continue }",
	  "bad_size.map:2: error: value \"lots\" is not a number (table m "
	  "is compared with a number at test.conf:2)" },
	{ "table m map \"user_size.map\"\nstage mail { rule r: "
	  "client.address == m[sasl.login] => continue }",
	  "is an ip attribute" },
	{ "table m map \"user_size.map\"\nstage mail { rule r: "
	  "size.declared > m[sasl.login] default => continue }",
	  "expected a default value" },
	{ "stage rcpt { rule r: rcpt.routed == 1 => continue }",
	  "boolean" },
	{ "stage mail { rule r: header.count > 1 => continue }",
	  "header.count is not known at stage mail" },
};

START_TEST(test_parse_errors)
{
	const struct lim_err *c = &lim_errs[_i];
	struct tg_diag d;
	struct tg_policy *p = lim_policy(c->policy, &d);

	ck_assert_msg(p == NULL, "case %d: loaded", _i);
	ck_assert_msg(d.n > 0 && strstr(d.msgs[0], c->msg) != NULL,
	    "case %d: got \"%s\", want \"%s\"", _i, d.n ? d.msgs[0] : "",
	    c->msg);
	tg_diag_free(&d);
}
END_TEST

/* "[tag]" words that are no lookups stay values; a quoted one too. */
START_TEST(test_plain_values)
{
	struct tg_diag d;
	struct tg_policy *p = lim_policy(
	    "stage rcpt { rule r: rcpt.domain == [192.0.2.1] or "
	    "rcpt.local == \"a[b]\" => reject 550 5.7.1 \"x\" }", &d);
	struct tg_session s;
	struct tg_verdict v;

	ck_assert_msg(p != NULL, "policy: %s", d.n ? d.msgs[0] : "?");
	tg_session_init(&s, "V");
	tg_session_set(&s, TG_A_RCPT, "<x@[192.0.2.1]>");
	ck_assert_int_eq(tg_engine_eval(p, &s, TG_STAGE_RCPT, &v),
	    TG_ACT_REJECT);
	tg_session_free(&s);
	tg_policy_unref(p);
	tg_diag_free(&d);
}
END_TEST

START_TEST(test_domain_lookup)
{
	static const struct {
		const char *key;
		int want;
	} c[] = {
		{ "example.org", 1 }, { "EXAMPLE.ORG", 1 },
		{ "sub.example.org", 0 }, { "example.net", 0 },
		{ "a.example.net", 1 }, { "a.b.example.net", 1 },
		{ "[192.0.2.1]", 1 }, { "x.[192.0.2.1]", 0 },
		{ "net", 0 }, { ".example.net", 1 }, { "", 0 },
	};
	struct tg_diag d;
	struct tg_table *t;
	char path[128];

	tg_diag_init(&d);
	snprintf(path, sizeof path, "%s/local.list", lim_dir);
	ck_assert_ptr_nonnull(t = tg_table_open("l", TG_TABLE_LIST, path, &d));
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
		ck_assert_msg(tg_table_lookup_domain(t, c[i].key, NULL) ==
		    c[i].want, "%s: want %d", c[i].key, c[i].want);
	/* Addresses walk the dotted parents too. */
	ck_assert_int_eq(tg_table_lookup_addr(t, "u@a.example.net", NULL), 1);
	ck_assert_int_eq(tg_table_lookup_addr(t, "u@example.net", NULL), 0);
	tg_table_free(t);
	tg_diag_free(&d);
}
END_TEST

/* The shipped policies/mx-inbound.conf does what its comments say. */
START_TEST(test_mx_inbound)
{
	struct tg_diag d;
	struct tg_policy *p;
	struct tg_session s;
	struct tg_verdict v;

	tg_diag_init(&d);
	p = tg_policy_load(SRCDIR "/../policies/mx-inbound.conf", &d);
	ck_assert_msg(p != NULL, "mx-inbound.conf: %s", d.n ? d.msgs[0] : "?");
	tg_session_init(&s, "M");
	tg_session_set(&s, TG_A_CLIENT_ADDRESS, "198.51.100.7");
	tg_session_set(&s, TG_A_SENDER, "<a@example.net>");
	tg_session_set(&s, TG_A_SIZE_DECLARED, "26214401");
	ck_assert_int_eq(tg_engine_eval(p, &s, TG_STAGE_MAIL, &v),
	    TG_ACT_REJECT);
	ck_assert_str_eq(v.code, "552");
	ck_assert_str_eq(v.xcode, "5.3.4");
	tg_session_set(&s, TG_A_SIZE_DECLARED, "26214400");
	ck_assert_int_eq(tg_engine_eval(p, &s, TG_STAGE_MAIL, &v),
	    TG_ACT_CONTINUE);
	tg_session_set(&s, TG_A_RCPT, "<bob%evil.example@example.org>");
	ck_assert_int_eq(tg_engine_eval(p, &s, TG_STAGE_RCPT, &v),
	    TG_ACT_REJECT);
	ck_assert_str_eq(v.code, "554");
	tg_session_set(&s, TG_A_RCPT, "<postmaster>");
	ck_assert_int_eq(tg_engine_eval(p, &s, TG_STAGE_RCPT, &v),
	    TG_ACT_CONTINUE);
	for (int i = 1; i < 100; i++) {
		tg_session_set(&s, TG_A_RCPT, "<bob@Example.ORG>");
		ck_assert_int_eq(tg_engine_eval(p, &s, TG_STAGE_RCPT, &v),
		    TG_ACT_CONTINUE);
	}
	ck_assert_int_eq(tg_engine_eval(p, &s, TG_STAGE_RCPT, &v),
	    TG_ACT_TEMPFAIL);
	ck_assert_str_eq(v.code, "452");
	ck_assert_str_eq(v.xcode, "4.5.3");
	tg_session_add_header(&s, p, "X-Long", "");
	s.hdr_longest = 999;
	ck_assert_int_eq(tg_engine_eval(p, &s, TG_STAGE_EOM, &v),
	    TG_ACT_REJECT);
	ck_assert_str_eq(v.text, "Header line too long");
	tg_session_free(&s);
	tg_policy_unref(p);
	tg_diag_free(&d);
}
END_TEST

static Suite *
limits_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, lim_setup, lim_teardown);
	tcase_add_loop_test(tc, test_relay, 0,
	    sizeof relay_cases / sizeof relay_cases[0]);
	tcase_add_test(tc, test_rcpt_parts);
	tcase_add_loop_test(tc, test_limit, 0,
	    sizeof limit_cases / sizeof limit_cases[0]);
	tcase_add_test(tc, test_rcpt_limit_sequence);
	tcase_add_test(tc, test_header_counters);
	tcase_add_loop_test(tc, test_parse_errors, 0,
	    sizeof lim_errs / sizeof lim_errs[0]);
	tcase_add_test(tc, test_plain_values);
	tcase_add_test(tc, test_domain_lookup);
	tcase_add_test(tc, test_mx_inbound);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(limits_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
