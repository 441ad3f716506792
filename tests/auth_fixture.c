/* auth_fixture.c - the scratch directory with an owner map, the log
 * silenced, and the policy loader of the submission tests
 * (auth_fixture.h). Owns: the scratch directory, from auth_setup() to
 * auth_teardown(). Threads: one test at a time (Check may fork per
 * test). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_log.h"
#include "auth_fixture.h"

char auth_dir[64];

static void
auth_sink(int prio, const char *line)
{
}

void
auth_write(const char *name, const char *text)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof path, "%s/%s", auth_dir, name);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	fputs(text, fp);
	fclose(fp);
}

void
auth_setup(void)
{
	tg_strlcpy(auth_dir, "/tmp/tg-auth-XXXXXX", sizeof auth_dir);
	ck_assert_ptr_nonnull(mkdtemp(auth_dir));
	auth_write("logins.map",
	    "# sender address      logins allowed to use it\n"
	    "alice@example.org     alice\n"
	    "sales@example.org     alice, bob@example.org\n"
	    "bob@example.org       bob\n"
	    "@shared.example       @example.org\n"
	    "postmaster@           carol\n"
	    "a.b@example.org       dot\n"
	    "\"a..b\"@example.org    dots\n"
	    "*                     admin\n");
	tg_log_set_sink(auth_sink);
}

void
auth_teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof cmd, "rm -rf %s", auth_dir);
	ck_assert_int_eq(system(cmd), 0);
	tg_log_set_sink(NULL);
}

struct tg_policy *
auth_policy(const char *text)
{
	struct tg_policy *p;
	struct tg_diag d;

	tg_diag_init(&d);
	p = tg_policy_load_string("test.conf", text, auth_dir, &d);
	ck_assert_msg(p != NULL, "policy did not load: %s",
	    d.n ? d.msgs[0] : "(no message)");
	tg_diag_free(&d);
	return p;
}
