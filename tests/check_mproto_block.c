/* check_mproto_block.c - which commands the native engine hands to a
 * worker (filter/mproto_block.c, mp_block_mask()): for policies loaded
 * from text, the stages whose rules may wait on the network (DNS checks,
 * SPF and its templates, DKIM and DMARC, sasl.account, limits and
 * greylists kept in Redis, with what a Redis limit implies at MAIL, end of
 * message and the end of a transaction) and the ones that must stay on the
 * event loop (tables, regular expressions, the memory store). A stage
 * wrongly left on the loop would stall every session of that loop on a
 * slow resolver or Redis (tests/proto/t_handoff*.py and t_redis_stall.py
 * show it from outside); one wrongly sent to a worker costs a thread
 * switch per command. Policies with a Redis store are skipped where
 * tollgate is built without hiredis.
 * Threads: none (Check may fork per test). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tg.h"
#include "tg_policy.h"
#include "mproto_impl.h"
#include "parser_fixture.h"

#define B_C	(1u << TG_STAGE_CONNECT)
#define B_H	(1u << TG_STAGE_HELO)
#define B_M	(1u << TG_STAGE_MAIL)
#define B_R	(1u << TG_STAGE_RCPT)
#define B_D	(1u << TG_STAGE_DATA)
#define B_E	(1u << TG_STAGE_EOM)
#define B_T	MP_BLOCK_TXN

#define REDIS	"store redis { address \"127.0.0.1:1\" }\n"

static const struct {
	const char	*what;
	const char	*policy;
	unsigned	 mask;
} cases[] = {
	{ "memory and CPU only: on the loop",
	  "table nets cidr \"nets.cidr\"\n"
	  "limit per-sender { key sender count recipients max 5 per 1h }\n"
	  "greylist g { delay 1m }\n"
	  "stage connect { rule a : client.address in nets => accept }\n"
	  "stage helo { rule b : helo matches \"^[0-9.]+$\" "
	  "=> reject 550 5.7.1 \"No\" }\n"
	  "stage rcpt { rule c : limit per-sender exceeded "
	  "=> tempfail 451 4.7.1 \"Slow down\"\n"
	  "  rule d : not authenticated => greylist g }\n"
	  "stage eom { rule e : header \"Subject\" matches \"^SPAM\" "
	  "=> add-header X-Spam \"yes ${sender}\" }\n", 0 },
	{ "a DNS list at rcpt",
	  "dnslist bl \"bl.test\"\n"
	  "stage rcpt { rule a : dnslist \"bl\" => reject 550 5.7.1 \"L\" }\n",
	  B_R },
	{ "a DNS list under not and or",
	  "dnslist bl \"bl.test\"\n"
	  "stage data { rule a : sender == \"\" or not dnslist \"bl\" "
	  "=> accept }\n", B_D },
	{ "dnslist.score at connect",
	  "dnslist bl \"bl.test\"\n"
	  "stage connect { rule a : dnslist.score > 1 => reject 550 5.7.1 "
	  "\"L\" }\n", B_C },
	{ "client.ptr at connect",
	  "stage connect { rule a : client.ptr == \"\" => tempfail 450 4.7.1 "
	  "\"No PTR\" }\n", B_C },
	{ "client.fcrdns at mail",
	  "stage mail { rule a : not client.fcrdns => tempfail 450 4.7.1 "
	  "\"No\" }\n", B_M },
	{ "helo.resolves at helo: MAIL too (it runs the helo rules when "
	  "HELO was skipped)",
	  "stage helo { rule a : not helo.resolves => reject 550 5.7.1 "
	  "\"No\" }\n", B_H | B_M },
	{ "spf at mail",
	  "stage mail { rule a : spf == \"fail\" => reject 550 5.7.1 "
	  "\"SPF\" }\n", B_M },
	{ "${spf_auth} in a template only",
	  "stage eom { rule a : true => add-header X-SPF \"${spf_auth}\" }\n",
	  B_E },
	{ "dkim read at eom",
	  "stage eom { rule a : dkim == \"fail\" => reject 550 5.7.1 "
	  "\"DKIM\" }\n", B_E },
	{ "${dkim_auth} in a template only: verification at eom",
	  "stage eom { rule a : true => add-header Authentication-Results "
	  "\"mx; ${dkim_auth}\" }\n", B_E },
	{ "a Redis limit at rcpt: its stage, MAIL, eom, transaction ends",
	  REDIS "limit per-login { key sasl.login count recipients "
	  "max 5 per 1h store redis }\n", B_R | B_M | B_E | B_T },
	{ "a Redis limit read at mail, counted at connect",
	  REDIS "limit conns { key client.address count connections "
	  "max 5 per 1m store redis }\n"
	  "stage mail { rule a : limit conns exceeded => tempfail 451 4.7.1 "
	  "\"Busy\" }\n", B_C | B_M | B_E | B_T },
	{ "a Redis greylist at rcpt",
	  REDIS "greylist g { store redis }\n"
	  "stage rcpt { rule a : true => greylist g }\n", B_R },
	{ "a memory limit beside a Redis one",
	  REDIS "limit a { key sender count messages max 5 per 1h }\n"
	  "limit b { key sender count recipients max 5 per 1h "
	  "store redis }\n", B_R | B_M | B_E | B_T },
};

START_TEST(test_mask)
{
	struct tg_policy *p = load(cases[_i].policy);

	if (p == NULL && has("built without hiredis")) {
		fprintf(stderr, "skipped (no hiredis): %s\n", cases[_i].what);
		return;
	}
	if (p == NULL)
		dump();
	ck_assert_msg(p != NULL, "%s: does not load", cases[_i].what);
	ck_assert_msg(mp_block_mask(p) == cases[_i].mask,
	    "%s: mask %#x, want %#x", cases[_i].what, mp_block_mask(p),
	    cases[_i].mask);
	tg_policy_unref(p);
}
END_TEST

/* sasl.account asks the SASL database (sasldb here; LDAP or SQL where
 * the operator's SERVICE.conf says so): a worker's job. */
START_TEST(test_sasl_account)
{
	char dir[] = "/tmp/tg-mpblock.XXXXXX", path[64], text[512];
	struct tg_policy *p;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/tgtest.conf", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fprintf(f, "pwcheck_method: auxprop\nauxprop_plugin: sasldb\n"
	    "sasldb_path: %s/sasldb2\nmech_list: PLAIN\n", dir);
	fclose(f);
	snprintf(text, sizeof text, "sasl { service \"tgtest\" "
	    "config-path \"%s\" }\n"
	    "stage mail { rule gone : authenticated and not sasl.account "
	    "=> reject 535 5.7.8 \"Gone\" }\n", dir);
	p = load(text);
	if (p == NULL)
		dump();
	ck_assert_msg(p != NULL, "sasl.account: does not load");
	ck_assert_uint_eq(mp_block_mask(p), B_M);
	tg_policy_unref(p);
	unlink(path);
	rmdir(dir);
}
END_TEST

START_TEST(test_null)
{
	ck_assert_uint_eq(mp_block_mask(NULL), 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("mproto_block");
	TCase *tc = tcase_create("mask");
	SRunner *sr;
	int nf;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_mask, 0, sizeof cases / sizeof cases[0]);
	tcase_add_test(tc, test_sasl_account);
	tcase_add_test(tc, test_null);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
