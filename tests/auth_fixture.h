/* auth_fixture.h - what the submission tests (check_auth.c,
 * check_authres.c) share: a scratch directory holding an owner map
 * (logins.map), the log silenced, and a policy loader that reads tables
 * from that directory. Threads: one test at a time (Check may fork per
 * test). */
#ifndef AUTH_FIXTURE_H
#define AUTH_FIXTURE_H

#include "tg_policy.h"

/* The scratch directory, made by auth_setup(). */
extern char	auth_dir[64];

/* The Check fixture: auth_dir with logins.map in it, the log silenced;
 * auth_teardown() removes the directory. */
void	auth_setup(void);
void	auth_teardown(void);

/* Write text to auth_dir/name. */
void	auth_write(const char *name, const char *text);
/* A policy from text (as "test.conf", tables read from auth_dir), which
 * must load. */
struct tg_policy *auth_policy(const char *text);

#endif
