/* check_snap.c - snapshots of the memory store under a fake clock: save,
 * time passing (while down and after), load, counts and expiry; files
 * that are missing, empty, truncated at every length, corrupt, foreign
 * or of another version; a path that cannot be written and a disk that
 * fills up; the grammar of store memory { snapshot ... }. */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_log.h"
#include "tg_policy.h"
#include "tg_store.h"

#define MIN	(60LL * 1000)
#define HOUR	(60 * MIN)

static int64_t fake_now;
static char logged[8192];
static char dir[64], path[128];

static int64_t
fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

static void
sink(int prio, const char *line)
{
	size_t n = strlen(logged);

	(void)prio;
	snprintf(logged + n, sizeof logged - n, "%s\n", line);
}

static struct tg_store *
mem(void)
{
	return tg_store_memory();
}

static void
setup(void)
{
	fake_now = 1000000000;
	tg_store_mem_set_clock(mem(), fake_clock, NULL);
	tg_store_mem_set_max_keys(mem(), 0);
	tg_store_mem_clear(mem());
	logged[0] = '\0';
	tg_log_set_sink(sink);
	tg_strlcpy(dir, "/tmp/tg-snap.XXXXXX", sizeof dir);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/counters", dir);
}

static void
teardown(void)
{
	char cmd[128];

	tg_log_set_sink(NULL);
	chmod(dir, 0700);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* files - the names in dir, sorted, joined by spaces */
static const char *
files(void)
{
	static char out[1024];
	struct dirent **list;
	int n = scandir(dir, &list, NULL, alphasort);
	size_t o = 0;

	out[0] = '\0';
	ck_assert_int_ge(n, 0);
	for (int i = 0; i < n; i++) {
		if (list[i]->d_name[0] != '.' && o < sizeof out)
			o += (size_t)snprintf(out + o, sizeof out - o, "%s%s",
			    o > 0 ? " " : "", list[i]->d_name);
		free(list[i]);
	}
	free(list);
	return out;
}

/* add - count delta on key in a window of w ms, no maximum */
static void
add(const char *key, int64_t w, int64_t delta)
{
	int64_t v, slot;

	ck_assert_int_eq(mem()->ops->add(mem(), key, w, delta, -1, &v,
	    &slot), 1);
}

static int64_t
get(const char *key, int64_t w)
{
	int64_t v;

	ck_assert_int_eq(mem()->ops->get(mem(), key, w, &v), TG_OK);
	return v;
}

static void
write_file(const void *p, size_t n)
{
	FILE *fp = fopen(path, "wb");

	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(p, 1, n, fp), n);
	fclose(fp);
}

/* read_file - the snapshot's bytes (caller frees) */
static unsigned char *
read_file(size_t *n)
{
	unsigned char *buf = tg_xmalloc(1 << 16);
	FILE *fp = fopen(path, "rb");

	ck_assert_ptr_nonnull(fp);
	*n = fread(buf, 1, 1 << 16, fp);
	fclose(fp);
	return buf;
}

/* A restart: the store's (monotonic) clock starts somewhere else. */
static void
reboot(void)
{
	tg_store_mem_clear(mem());
	fake_now = 7000000000;
}

START_TEST(save_load_counts_and_expiry)
{
	int64_t wall = 1700000000000LL;

	add("login|alice", HOUR, 5);
	fake_now += 30 * MIN;
	add("login|bob", HOUR, 2);
	ck_assert_int_eq(tg_store_snap_save(mem(), path, wall), TG_OK);
	ck_assert_ptr_nonnull(strstr(logged, "2 counters saved"));
	/* Down for 10 minutes; alice's 5 are 40 minutes old at start. */
	reboot();
	ck_assert_int_eq(tg_store_snap_load(mem(), path, wall + 10 * MIN), 2);
	ck_assert_int_eq(get("login|alice", HOUR), 5);
	ck_assert_int_eq(get("login|bob", HOUR), 2);
	/* The limit still holds after the restart. */
	{
		int64_t v, slot;

		ck_assert_int_eq(mem()->ops->add(mem(), "login|alice", HOUR,
		    1, 5, &v, &slot), 0);
		ck_assert_int_eq(v, 5);
	}
	/* 59 minutes after alice's events: still counted (at least W). */
	fake_now += 19 * MIN;
	ck_assert_int_eq(get("login|alice", HOUR), 5);
	/* 73 minutes after (W plus two slots at most): gone; bob's
	 * (43 minutes old) still there. */
	fake_now += 14 * MIN;
	ck_assert_int_eq(get("login|alice", HOUR), 0);
	ck_assert_int_eq(get("login|bob", HOUR), 2);
}
END_TEST

START_TEST(slots_keep_their_age)
{
	int64_t wall = 1700000000000LL;

	add("k", HOUR, 1);
	fake_now += 20 * MIN;
	add("k", HOUR, 2);
	fake_now += 20 * MIN;
	add("k", HOUR, 3);
	ck_assert_int_eq(tg_store_snap_save(mem(), path, wall), TG_OK);
	reboot();
	ck_assert_int_eq(tg_store_snap_load(mem(), path, wall), 1);
	ck_assert_int_eq(get("k", HOUR), 6);
	/* Ages 75, 55 and 35 minutes: only the oldest has gone. */
	fake_now += 35 * MIN;
	ck_assert_int_eq(get("k", HOUR), 5);
	fake_now += 40 * MIN;
	ck_assert_int_eq(get("k", HOUR), 0);
}
END_TEST

START_TEST(expired_while_down)
{
	int64_t wall = 1700000000000LL;

	add("old", 10 * MIN, 4);
	add("young", HOUR, 1);
	ck_assert_int_eq(tg_store_snap_save(mem(), path, wall), TG_OK);
	reboot();
	/* Down 20 minutes: the 10-minute counter is not restored. */
	ck_assert_int_eq(tg_store_snap_load(mem(), path, wall + 20 * MIN), 1);
	ck_assert_int_eq(get("old", 10 * MIN), 0);
	ck_assert_int_eq(get("young", HOUR), 1);
	ck_assert_uint_eq(tg_store_mem_keys(mem()), 1);
	/* Down two hours: nothing. */
	reboot();
	ck_assert_int_eq(tg_store_snap_load(mem(), path, wall + 2 * HOUR), 0);
	ck_assert_uint_eq(tg_store_mem_keys(mem()), 0);
}
END_TEST

START_TEST(clock_set_back)
{
	int64_t wall = 1700000000000LL;

	add("k", HOUR, 3);
	ck_assert_int_eq(tg_store_snap_save(mem(), path, wall), TG_OK);
	reboot();
	/* The wall clock went back a day: as if no time had passed. */
	ck_assert_int_eq(tg_store_snap_load(mem(), path, wall - 24 * HOUR),
	    1);
	ck_assert_int_eq(get("k", HOUR), 3);
}
END_TEST

START_TEST(sessions_not_saved)
{
	add("gauge", 0, 2);
	add("win", HOUR, 1);
	ck_assert_int_eq(tg_store_snap_save(mem(), path, 1), TG_OK);
	reboot();
	ck_assert_int_eq(tg_store_snap_load(mem(), path, 1), 1);
	ck_assert_int_eq(get("gauge", 0), 0);
	ck_assert_int_eq(get("win", HOUR), 1);
}
END_TEST

START_TEST(store_full_on_load)
{
	char key[32];

	for (int i = 0; i < 3000; i++) {
		snprintf(key, sizeof key, "k%d", i);
		add(key, HOUR, 1);
	}
	ck_assert_int_eq(tg_store_snap_save(mem(), path, 1), TG_OK);
	reboot();
	tg_store_mem_set_max_keys(mem(), 1000);
	ck_assert_int_lt(tg_store_snap_load(mem(), path, 1), 3000);
	ck_assert_ptr_nonnull(strstr(logged, "store full"));
	ck_assert_uint_le(tg_store_mem_keys(mem()), 1000);
}
END_TEST

/* bad - loading this file gives an empty store and one line saying why */
static void
bad(const void *p, size_t n, const char *why)
{
	add("present", HOUR, 1);
	write_file(p, n);
	logged[0] = '\0';
	ck_assert_int_eq(tg_store_snap_load(mem(), path, 1), TG_ERR_IO);
	ck_assert_uint_eq(tg_store_mem_keys(mem()), 0);
	ck_assert_msg(strstr(logged, why) != NULL &&
	    strstr(logged, "starting with empty counters") != NULL,
	    "size %zu: got \"%s\", want \"%s\"", n, logged, why);
	ck_assert_ptr_null(strchr(strchr(logged, '\n') + 1, '\n'));
}

START_TEST(missing_empty_foreign)
{
	static const char text[] = "alice 5\nbob 2\n and more text here\n";

	ck_assert_int_eq(tg_store_snap_load(mem(), path, 1), TG_ERR_IO);
	ck_assert_ptr_nonnull(strstr(logged, "No such file"));
	bad("", 0, "empty file");
	bad(text, sizeof text - 1, "not a tollgate counter snapshot");
}
END_TEST

START_TEST(truncated_at_every_length)
{
	unsigned char *buf;
	size_t n;

	add("login|alice", HOUR, 5);
	add("login|bob", 10 * MIN, 2);
	ck_assert_int_eq(tg_store_snap_save(mem(), path, 1), TG_OK);
	buf = read_file(&n);
	ck_assert_uint_gt(n, 40);
	for (size_t len = 1; len < n; len++)
		bad(buf, len, "truncated");
	/* And the whole file still loads. */
	write_file(buf, n);
	ck_assert_int_eq(tg_store_snap_load(mem(), path, 1), 2);
	free(buf);
}
END_TEST

START_TEST(corrupt_and_version)
{
	unsigned char *buf;
	size_t n;

	add("login|alice", HOUR, 5);
	ck_assert_int_eq(tg_store_snap_save(mem(), path, 1), TG_OK);
	buf = read_file(&n);
	/* A counter byte flipped: only the checksum can tell. */
	buf[n - 40] ^= 0x01;
	bad(buf, n, "corrupt");
	buf[n - 40] ^= 0x01;
	/* A key length that runs past the end of anything sane. */
	buf[27] = 0x7f;
	bad(buf, n, "corrupt");
	buf[27] = 0;
	/* Another format version, and another number of slots. */
	buf[8] = 3;
	bad(buf, n, "another version");
	buf[8] = 2;
	buf[12] = 5;
	bad(buf, n, "another version");
	buf[12] = TG_STORE_SLOTS + 1;
	/* Bytes after the end mark. */
	buf = tg_xrealloc(buf, n + 1);
	buf[n] = 'x';
	bad(buf, n + 1, "corrupt");
	write_file(buf, n);
	ck_assert_int_eq(tg_store_snap_load(mem(), path, 1), 1);
	free(buf);
}
END_TEST

START_TEST(unwritable_path)
{
	char p[200];

	add("k", HOUR, 1);
	snprintf(p, sizeof p, "%s/no/such/dir/counters", dir);
	ck_assert_int_eq(tg_store_snap_save(mem(), p, 1), TG_ERR_IO);
	ck_assert_ptr_nonnull(strstr(logged, "counters not saved"));
	/* The store itself is untouched. */
	ck_assert_int_eq(get("k", HOUR), 1);
}
END_TEST

START_TEST(disk_full_keeps_old_snapshot)
{
	struct rlimit old, small = { 4096, 4096 };
	unsigned char *before, *after;
	char key[64];
	size_t n1, n2;
	int rc;

	add("first", HOUR, 1);
	ck_assert_int_eq(tg_store_snap_save(mem(), path, 1), TG_OK);
	before = read_file(&n1);
	for (int i = 0; i < 500; i++) {
		snprintf(key, sizeof key, "a-rather-long-key-number-%d", i);
		add(key, HOUR, 1);
	}
	/* A file size limit stands in for a full disk: write() fails. */
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
	rc = tg_store_snap_save(mem(), path, 1);
	setrlimit(RLIMIT_FSIZE, &old);
	ck_assert_int_eq(rc, TG_ERR_IO);
	ck_assert_ptr_nonnull(strstr(logged, "previous snapshot"));
	after = read_file(&n2);
	ck_assert_uint_eq(n1, n2);
	ck_assert_mem_eq(before, after, n1);
	/* No temporary file left behind. */
	ck_assert_str_eq(files(), "counters");
	free(before);
	free(after);
}
END_TEST

/* Issue 14 (F11): the temporary file is a new name made with O_EXCL. A
 * PATH.tmp made ready by someone else (the old code opened that name,
 * truncated it, filled it and renamed it into place: theirs, with our
 * counters, and open to their later edits) is left alone. */
START_TEST(tmp_name_not_taken_over)
{
	static const char junk[] = "not ours";
	char tmp[160];
	FILE *fp;
	char buf[32];

	add("k", HOUR, 3);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	ck_assert_ptr_nonnull(fp = fopen(tmp, "w"));
	fputs(junk, fp);
	fclose(fp);
	ck_assert_int_eq(tg_store_snap_save(mem(), path, 1), TG_OK);
	ck_assert_ptr_nonnull(fp = fopen(tmp, "r"));
	ck_assert_ptr_nonnull(fgets(buf, sizeof buf, fp));
	fclose(fp);
	ck_assert_str_eq(buf, junk);
	ck_assert_str_eq(files(), "counters counters.tmp");
	reboot();
	ck_assert_int_eq(tg_store_snap_load(mem(), path, 1), 1);
	ck_assert_int_eq(get("k", HOUR), 3);
}
END_TEST

/* save_refused - saving into the directory as it is now fails, says why
 * and writes nothing */
static void
save_refused(const char *why)
{
	logged[0] = '\0';
	ck_assert_int_eq(tg_store_snap_save(mem(), path, 1), TG_ERR_IO);
	ck_assert_msg(strstr(logged, why) != NULL &&
	    strstr(logged, "counters not saved") != NULL, "got \"%s\", want "
	    "\"%s\"", logged, why);
}

/* load_refused - loading fails, says why, and the store is empty */
static void
load_refused(const char *why)
{
	add("present", HOUR, 1);
	logged[0] = '\0';
	ck_assert_int_eq(tg_store_snap_load(mem(), path, 1), TG_ERR_IO);
	ck_assert_uint_eq(tg_store_mem_keys(mem()), 0);
	ck_assert_msg(strstr(logged, why) != NULL &&
	    strstr(logged, "starting with empty counters") != NULL,
	    "got \"%s\", want \"%s\"", logged, why);
}

/* Issue 14 (F11): a directory that group or others may write (and that
 * is not sticky) is refused for saving and for loading: whoever can
 * write there could swap the file and choose our counters. A sticky one
 * (as /tmp) of ours is fine. */
START_TEST(unsafe_dir_refused)
{
	add("k", HOUR, 2);
	ck_assert_int_eq(tg_store_snap_save(mem(), path, 1), TG_OK);
	ck_assert_int_eq(chmod(dir, 0777), 0);
	save_refused("is writable by group or others (mode 0777) and not "
	    "sticky");
	load_refused("is writable by group or others (mode 0777) and not "
	    "sticky");
	ck_assert_int_eq(chmod(dir, 0730), 0);
	save_refused("(mode 0730)");
	ck_assert_int_eq(chmod(dir, 01777), 0);
	add("k", HOUR, 2);
	ck_assert_int_eq(tg_store_snap_save(mem(), path, 1), TG_OK);
	reboot();
	ck_assert_int_eq(tg_store_snap_load(mem(), path, 1), 1);
	ck_assert_int_eq(get("k", HOUR), 2);
	/* The file itself, writable by others: not read. */
	ck_assert_int_eq(chmod(dir, 0700), 0);
	ck_assert_int_eq(chmod(path, 0622), 0);
	load_refused("not a regular file of root or the daemon's user");
}
END_TEST

/* Issue 14 (F11): a symbolic link is not followed, and (when the test
 * runs as root, which can give files away) a file or directory of
 * another user is refused. */
START_TEST(foreign_file_refused)
{
	char real[160];

	add("k", HOUR, 2);
	snprintf(real, sizeof real, "%s/real", dir);
	ck_assert_int_eq(tg_store_snap_save(mem(), real, 1), TG_OK);
	ck_assert_int_eq(symlink("real", path), 0);
	load_refused("Too many levels of symbolic links");
	if (geteuid() != 0)
		return;
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rename(real, path), 0);
	ck_assert_int_eq(chown(path, 65534, 65534), 0);
	load_refused("not a regular file of root or the daemon's user");
	ck_assert_int_eq(chown(path, 0, 0), 0);
	ck_assert_int_eq(chown(dir, 65534, 65534), 0);
	save_refused("belongs to uid 65534");
	load_refused("belongs to uid 65534");
	ck_assert_int_eq(chown(dir, 0, 0), 0);
}
END_TEST

static const char *
policy_error(const char *text)
{
	static char msg[512];
	struct tg_policy *p;
	struct tg_diag d;

	tg_diag_init(&d);
	p = tg_policy_load_string("snap.conf", text, NULL, &d);
	msg[0] = '\0';
	if (p == NULL && d.n > 0)
		tg_strlcpy(msg, d.msgs[0], sizeof msg);
	if (p != NULL)
		tg_policy_unref(p);
	tg_diag_free(&d);
	return msg;
}

START_TEST(grammar)
{
	struct tg_policy *p;
	struct tg_diag d;

	tg_diag_init(&d);
	p = tg_policy_load_string("snap.conf", "store memory { max-keys 5000 "
	    "snapshot \"/var/lib/tollgate/counters\" snapshot-interval 5m }",
	    NULL, &d);
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->mem_snapshot, "/var/lib/tollgate/counters");
	ck_assert_int_eq(p->mem_snapshot_ms, 5 * MIN);
	tg_policy_unref(p);
	tg_diag_free(&d);
	ck_assert_ptr_nonnull(strstr(policy_error("store memory { snapshot "
	    "\"counters\" }"), "must be absolute"));
	ck_assert_ptr_nonnull(strstr(policy_error("store memory { "
	    "snapshot-interval 5m }"), "without a snapshot path"));
	ck_assert_ptr_nonnull(strstr(policy_error("store memory { snapshot "
	    "\"/x\" snapshot-interval 1s }"), "invalid snapshot-interval"));
	ck_assert_ptr_nonnull(strstr(policy_error("store memory { snapshot "
	    "/x }"), "expected a quoted file path"));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("snap");
	TCase *tc = tcase_create("snap");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, save_load_counts_and_expiry);
	tcase_add_test(tc, slots_keep_their_age);
	tcase_add_test(tc, expired_while_down);
	tcase_add_test(tc, clock_set_back);
	tcase_add_test(tc, sessions_not_saved);
	tcase_add_test(tc, store_full_on_load);
	tcase_add_test(tc, missing_empty_foreign);
	tcase_add_test(tc, truncated_at_every_length);
	tcase_add_test(tc, corrupt_and_version);
	tcase_add_test(tc, unwritable_path);
	tcase_add_test(tc, disk_full_keeps_old_snapshot);
	tcase_add_test(tc, tmp_name_not_taken_over);
	tcase_add_test(tc, unsafe_dir_refused);
	tcase_add_test(tc, foreign_file_refused);
	tcase_add_test(tc, grammar);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
