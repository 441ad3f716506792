/* check_table.c - unit tests for table.c, table_cidr.c, table_hash.c:
 * loading, diagnostics with exact positions, lookups, big tables.
 * Data files live in SRCDIR/data/tables; odd bytes are written to temp
 * files here. Threads: none (Check may fork per test). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg.h"
#include "tg_ip.h"
#include "tg_table.h"

static char *
data_path(const char *name)
{
	return tg_xasprintf("%s/data/tables/%s", SRCDIR, name);
}

/* Write len bytes to a new temp file; caller unlinks and frees. */
static char *
tmp_file(const char *bytes, size_t len)
{
	const char *dir = getenv("TMPDIR");
	char *path = tg_xasprintf("%s/check_table.XXXXXX",
	    dir != NULL ? dir : "/tmp");
	FILE *fp;
	int fd;

	ck_assert_msg((fd = mkstemp(path)) >= 0, "mkstemp %s failed", path);
	ck_assert_msg((fp = fdopen(fd, "w")) != NULL, "fdopen failed");
	ck_assert_msg(fwrite(bytes, 1, len, fp) == len, "write failed");
	ck_assert_msg(fclose(fp) == 0, "close failed");
	return path;
}

/* The diagnostics must be exactly want[], each prefixed by path. */
static void
check_diags(const struct tg_diag *d, const char *path,
    const char *const *want, size_t n)
{
	for (size_t i = 0; i < n && i < d->n; i++) {
		char *w = tg_xasprintf("%s%s", path, want[i]);

		ck_assert_msg(strcmp(d->msgs[i], w) == 0,
		    "diag %zu: got \"%s\", want \"%s\"", i, d->msgs[i], w);
		free(w);
	}
	ck_assert_msg(d->n == n, "got %zu diagnostics, want %zu%s%s", d->n, n,
	    d->n > n ? "; extra: " : "", d->n > n ? d->msgs[n] : "");
	ck_assert_msg(d->errors == (int)n, "got %d errors, want %zu",
	    d->errors, n);
}

static struct tg_table *
open_ok(const char *file, enum tg_table_type type)
{
	char *path = data_path(file);
	struct tg_diag d;
	struct tg_table *t;

	tg_diag_init(&d);
	t = tg_table_open(file, type, path, &d);
	ck_assert_msg(t != NULL && d.n == 0, "%s: got %s, want a table",
	    path, d.n ? d.msgs[0] : "NULL without a diagnostic");
	tg_diag_free(&d);
	free(path);
	return t;
}

/* Load a data file that must fail with exactly want[]. */
static void
open_bad(const char *file, enum tg_table_type type,
    const char *const *want, size_t n)
{
	char *path = data_path(file);
	struct tg_diag d;
	struct tg_table *t;

	tg_diag_init(&d);
	t = tg_table_open(file, type, path, &d);
	ck_assert_msg(t == NULL, "%s: got a table, want NULL", path);
	check_diags(&d, path, want, n);
	tg_diag_free(&d);
	free(path);
}

/* Same for bytes written to a temp file. */
static void
open_bytes_bad(const char *bytes, size_t len, enum tg_table_type type,
    const char *const *want, size_t n)
{
	char *path = tmp_file(bytes, len);
	struct tg_diag d;
	struct tg_table *t;

	tg_diag_init(&d);
	t = tg_table_open("tmp", type, path, &d);
	unlink(path);
	ck_assert_msg(t == NULL, "got a table, want NULL");
	check_diags(&d, path, want, n);
	tg_diag_free(&d);
	free(path);
}

/* Expect lookup of ip to give want (NULL: not found). */
static void
check_ip(const struct tg_table *t, const char *ip, const char *want)
{
	const char *v = NULL;
	struct tg_ip a;
	int rc;

	ck_assert_msg(tg_ip_parse(ip, &a) == 0, "bad test address %s", ip);
	rc = tg_table_lookup_ip(t, &a, &v);
	if (want == NULL)
		ck_assert_msg(rc == 0, "%s: got %d \"%s\", want not found", ip,
		    rc, rc == 1 ? v : "");
	else
		ck_assert_msg(rc == 1 && strcmp(v, want) == 0,
		    "%s: got %d \"%s\", want \"%s\"", ip, rc,
		    rc == 1 ? v : "", want);
}

static void
check_addr(const struct tg_table *t, const char *addr, const char *want)
{
	const char *v = NULL;
	int rc = tg_table_lookup_addr(t, addr, &v);

	if (want == NULL)
		ck_assert_msg(rc == 0, "%s: got %d \"%s\", want not found",
		    addr, rc, rc == 1 ? v : "");
	else
		ck_assert_msg(rc == 1 && strcmp(v, want) == 0,
		    "%s: got %d \"%s\", want \"%s\"", addr, rc,
		    rc == 1 ? v : "", want);
}

static void
check_key(const struct tg_table *t, const char *key, const char *want)
{
	const char *v = NULL;
	int rc = tg_table_lookup(t, key, &v);

	if (want == NULL)
		ck_assert_msg(rc == 0, "%s: got %d \"%s\", want not found",
		    key, rc, rc == 1 ? v : "");
	else
		ck_assert_msg(rc == 1 && strcmp(v, want) == 0,
		    "%s: got %d \"%s\", want \"%s\"", key, rc,
		    rc == 1 ? v : "", want);
}

struct type_case {
	const char		*in;
	int			 rc;
	enum tg_table_type	 type;
};

static const struct type_case type_cases[] = {
	{ "cidr", 0, TG_TABLE_CIDR },
	{ "list", 0, TG_TABLE_LIST },
	{ "map", 0, TG_TABLE_MAP },
	{ "hash", -1, 0 },
	{ "CIDR", -1, 0 },
	{ "", -1, 0 },
	{ "cidr:", -1, 0 },
};

START_TEST(test_type_parse)
{
	const struct type_case *c = &type_cases[_i];
	enum tg_table_type type = (enum tg_table_type)99;
	int rc = tg_table_type_parse(c->in, &type);

	ck_assert_msg(rc == c->rc, "case %d \"%s\": got %d, want %d", _i,
	    c->in, rc, c->rc);
	if (rc == 0)
		ck_assert_msg(type == c->type, "case %d: got type %d, want %d",
		    _i, (int)type, (int)c->type);
}
END_TEST

START_TEST(test_cidr_good)
{
	struct tg_table *t = open_ok("good.cidr", TG_TABLE_CIDR);

	ck_assert_msg(tg_table_count(t) == 11, "got %zu entries, want 11",
	    tg_table_count(t));
	ck_assert_msg(tg_table_type(t) == TG_TABLE_CIDR, "got wrong type");
	ck_assert_msg(strcmp(tg_table_name(t), "good.cidr") == 0,
	    "got name \"%s\"", tg_table_name(t));
	/* Longest prefix wins, whether it comes first or last. */
	check_ip(t, "192.0.2.1", "host-before-net");
	check_ip(t, "192.0.2.5", "net-after-wide");
	check_ip(t, "192.1.0.1", "wide");
	check_ip(t, "10.9.9.9", "");
	check_ip(t, "172.20.1.1", "private  with  spaces");
	check_ip(t, "8.8.8.8", "default-v4");
	/* A v4-mapped client matches the IPv4 entries. */
	check_ip(t, "::ffff:192.0.2.1", "host-before-net");
	check_ip(t, "::ffff:8.8.8.8", "default-v4");
	/* A mapped network in the file is an IPv4 network. */
	check_ip(t, "198.51.100.7", "mapped-net");
	check_ip(t, "2001:db8:1:2::9", "bracketed");
	check_ip(t, "2001:db8:1:3::1", "doc-v6-48");
	check_ip(t, "2001:db8:ffff::1", "doc-v6");
	check_ip(t, "2001:db9::1", NULL);
	check_ip(t, "::1", "loopback-v6");
	check_ip(t, "::2", NULL);
	/* Wrong kind of lookup for a cidr table. */
	ck_assert_msg(tg_table_lookup(t, "10.0.0.1", NULL) == -1,
	    "key lookup on cidr: got success, want -1");
	ck_assert_msg(tg_table_lookup_addr(t, "a@b", NULL) == -1,
	    "addr lookup on cidr: got success, want -1");
	tg_table_free(t);
}
END_TEST

START_TEST(test_cidr_crlf)
{
	struct tg_table *t = open_ok("crlf.cidr", TG_TABLE_CIDR);

	ck_assert_msg(tg_table_count(t) == 2, "got %zu entries, want 2",
	    tg_table_count(t));
	check_ip(t, "10.1.1.1", "crlf-ten");
	check_ip(t, "::1", "");
	tg_table_free(t);
}
END_TEST

START_TEST(test_cidr_bad)
{
	static const char *const want[] = {
		":2:1: error: invalid network \"10.1.2.3/8\": "
		    "host bits set beyond the prefix length",
		":3:3: error: invalid network \"192.168.0.0/33\": "
		    "invalid prefix length (want 0 to 32)",
		":4:1: error: invalid network \"2001:db8::/129\": "
		    "invalid prefix length (want 0 to 128)",
		":5:1: error: invalid network \"10.0.0.0/\": "
		    "invalid prefix length (want 0 to 32)",
		":6:1: error: invalid network \"10.0.0.0/x8\": "
		    "invalid prefix length (want 0 to 32)",
		":7:1: error: invalid network \"garbage\": invalid address",
		/* Duplicates are found after sorting, in line order. */
		":8:1: error: duplicate network 10.0.0.0/8 (first on line 1)",
		":10:1: error: duplicate network ::1/128 (first on line 9)",
		":11:1: error: duplicate network 10.0.0.0/8 "
		    "(first on line 1)",
	};

	open_bad("bad.cidr", TG_TABLE_CIDR, want, sizeof want / sizeof *want);
}
END_TEST

START_TEST(test_cidr_long_token)
{
	static const char *const want[] = {
		":2:1: error: invalid network \"1111111111111111111111111111"
		    "111111111111111111111111111111111111\": too long",
	};
	char buf[300];

	memset(buf, '1', sizeof buf);
	memcpy(buf, "::1\n", 4);
	buf[sizeof buf - 1] = '\n';
	open_bytes_bad(buf, sizeof buf, TG_TABLE_CIDR, want, 1);
}
END_TEST

START_TEST(test_empty)
{
	struct tg_table *t = open_ok("empty.list", TG_TABLE_LIST);

	ck_assert_msg(tg_table_count(t) == 0, "got %zu entries, want 0",
	    tg_table_count(t));
	check_key(t, "anything", NULL);
	check_addr(t, "a@b.c", NULL);
	tg_table_free(t);
	t = open_ok("comments.map", TG_TABLE_MAP);
	ck_assert_msg(tg_table_count(t) == 0, "got %zu entries, want 0",
	    tg_table_count(t));
	tg_table_free(t);
	t = open_ok("empty.list", TG_TABLE_CIDR);
	check_ip(t, "1.2.3.4", NULL);
	check_ip(t, "::1", NULL);
	tg_table_free(t);
}
END_TEST

START_TEST(test_missing)
{
	struct tg_diag d;
	const char *want[] = {
		"/no/such/table: error: cannot open: "
		    "No such file or directory",
	};
	char *dir;

	tg_diag_init(&d);
	ck_assert_msg(tg_table_open("x", TG_TABLE_LIST, "/no/such/table",
	    &d) == NULL, "missing file: got a table");
	dir = tg_xasprintf("%s/data/tables", SRCDIR);
	ck_assert_msg(tg_table_open("x", TG_TABLE_MAP, dir, &d) == NULL,
	    "directory: got a table");
	ck_assert_msg(d.n == 2, "got %zu diagnostics, want 2", d.n);
	ck_assert_msg(strcmp(d.msgs[0], want[0]) == 0, "got \"%s\", want "
	    "\"%s\"", d.msgs[0], want[0]);
	ck_assert_msg(strncmp(d.msgs[1], dir, strlen(dir)) == 0 &&
	    strcmp(d.msgs[1] + strlen(dir), ": error: cannot read: "
	    "Is a directory") == 0, "got \"%s\", want \"%s: error: cannot "
	    "read: Is a directory\"", d.msgs[1], dir);
	free(dir);
	tg_diag_free(&d);
}
END_TEST

START_TEST(test_list)
{
	struct tg_table *t = open_ok("good.list", TG_TABLE_LIST);

	ck_assert_msg(tg_table_count(t) == 5, "got %zu entries, want 5",
	    tg_table_count(t));
	/* Case-insensitive keys, "" as the value of a list. */
	check_key(t, "spammer@example.com", "");
	check_key(t, "SPAMMER@EXAMPLE.COM", "");
	check_key(t, "@bad.example", "");
	check_key(t, "evil.test", "");
	check_key(t, "comment", NULL);
	check_key(t, "spammer@example.co", NULL);
	check_key(t, "spammer@example.comx", NULL);
	check_key(t, "", NULL);
	check_addr(t, "Spammer@example.com", "");
	check_addr(t, "other@example.com", NULL);
	check_addr(t, "x@bad.example", "");
	check_addr(t, "x@sub.bad.example", NULL);
	check_addr(t, "x@evil.test", "");
	check_addr(t, "x@deep.sub.evil.test", "");
	check_addr(t, "x@notevil.test", NULL);
	check_addr(t, "postmaster@anywhere.example", "");
	check_addr(t, "postmaster", "");
	check_addr(t, "x@[192.0.2.7]", "");
	check_addr(t, "", NULL);
	ck_assert_msg(tg_table_lookup_ip(t, &(struct tg_ip){ .family = 4 },
	    NULL) == -1, "ip lookup on list: got success, want -1");
	tg_table_free(t);
}
END_TEST

START_TEST(test_map_fallback)
{
	struct tg_table *t = open_ok("good.map", TG_TABLE_MAP);

	ck_assert_msg(tg_table_count(t) == 8, "got %zu entries, want 8",
	    tg_table_count(t));
	/* access(5) order: user@domain, user@, @domain, domain, parents. */
	check_addr(t, "joe@sub.example.com", "joe-exact");
	check_addr(t, "JOE@SUB.EXAMPLE.COM", "joe-exact");
	check_addr(t, "joe@other.test", "any-joe");
	check_addr(t, "ann@sub.example.com", "at-sub");
	check_addr(t, "ann@deep.sub.example.com", "parent");
	check_addr(t, "ann@example.com", "parent");
	check_addr(t, "ann@x.example.com", "parent");
	check_addr(t, "ann@other.com", "tld");
	check_addr(t, "ann@other.org", NULL);
	check_addr(t, "ann@[192.0.2.7]", "literal");
	check_addr(t, "\"x@sub.example.com\"@other.org", NULL);
	check_addr(t, "\"a b\"@example.com", "parent");
	check_key(t, "mixed.case.KEY", "value  with  inner  spaces");
	check_key(t, "hash#in#key", "value # not a comment");
	check_key(t, "example.com", "parent");
	check_key(t, "sub.example.com", NULL);
	tg_table_free(t);
}
END_TEST

START_TEST(test_map_crlf)
{
	struct tg_table *t = open_ok("crlf.map", TG_TABLE_MAP);

	ck_assert_msg(tg_table_count(t) == 3, "got %zu entries, want 3",
	    tg_table_count(t));
	check_key(t, "alice@example.com", "ok-alice");
	check_addr(t, "bob@example.org", "reject");
	check_key(t, "last-line-no-newline", "v");
	tg_table_free(t);
}
END_TEST

START_TEST(test_map_bad)
{
	static const char *const want[] = {
		":3:5: error: missing value after key",
		":4:1: error: duplicate key \"key1\" (first on line 2)",
		":5:8: error: missing value after key",
	};

	open_bad("bad.map", TG_TABLE_MAP, want, sizeof want / sizeof *want);
}
END_TEST

/* An address key is stored in the canonical spelling of the addresses
 * looked up (addr.c): "alice" is alice, "a..b" (or a..b) stays quoted and
 * matches only itself, two spellings of one key are a duplicate, quotes
 * that make no address are an error, '@' without quotes that make no
 * address stays as written. */
START_TEST(test_quoted_keys)
{
	static const char good[] = "\"alice\"@Example.org\n\"a..b\"@x.org\n"
	    "\"bob\"@\nc..d@x.org\nuser@other@local\n";
	static const char bad[] = "alice@x.org\n\"alice\"@x.org\n"
	    "\"unbalanced@x.org\n";
	static const char *const want[] = {
		":2:1: error: duplicate key \"alice@x.org\" (first on line 1)",
		":3:1: error: key with quotes that is not an address with a "
		"quoted local part",
	};
	char *path = tmp_file(good, sizeof good - 1);
	struct tg_diag d;
	struct tg_table *t;

	tg_diag_init(&d);
	t = tg_table_open("tmp", TG_TABLE_LIST, path, &d);
	unlink(path);
	free(path);
	ck_assert_msg(t != NULL && d.n == 0, "quoted keys refused: %s",
	    d.n > 0 ? d.msgs[0] : "");
	check_addr(t, "alice@example.org", "");
	check_addr(t, "\"a..b\"@x.org", "");
	check_addr(t, "a.b@x.org", NULL);
	check_addr(t, "ab@x.org", NULL);
	check_addr(t, "bob@anywhere.example", "");
	/* Unquoted but no dot-atom: the address is "c..d"@x.org. */
	check_addr(t, "\"c..d\"@x.org", "");
	check_addr(t, "c.d@x.org", NULL);
	check_key(t, "user@other@local", "");
	tg_table_free(t);
	tg_diag_free(&d);
	open_bytes_bad(bad, sizeof bad - 1, TG_TABLE_LIST, want, 2);
}
END_TEST

START_TEST(test_list_dup)
{
	static const char bytes[] = "a@b\n@B\nA@B trailing\n  @b\n";
	static const char *const want[] = {
		":3:1: error: duplicate key \"a@b\" (first on line 1)",
		":4:3: error: duplicate key \"@b\" (first on line 2)",
	};

	open_bytes_bad(bytes, sizeof bytes - 1, TG_TABLE_LIST, want, 2);
}
END_TEST

/* Bytes no table accepts; every bad line is reported, good lines after
 * them still load (the duplicate on line 6 proves line 5 was read). */
START_TEST(test_bad_bytes)
{
	static const char *const want[] = {
		":1:3: error: NUL byte in line",
		":2:2: error: control character 0x01 in line",
		":3:2: error: control character 0x0d in line",
		":4:4097: error: line longer than 4096 bytes",
		":6:1: error: duplicate key \"ok\" (first on line 5)",
	};
	size_t len = 0, cap = 6000;
	char *b = tg_xmalloc(cap);

	memcpy(b + len, "ab\0c\n", 5), len += 5;
	memcpy(b + len, "a\001b\n", 4), len += 4;
	memcpy(b + len, "a\rb\n", 4), len += 4;
	memset(b + len, 'x', 5000), len += 5000;
	b[len++] = '\n';
	memcpy(b + len, "ok\nOK", 5), len += 5;
	open_bytes_bad(b, len, TG_TABLE_LIST, want, 5);
	free(b);
}
END_TEST

/* A line of exactly 4096 bytes is still fine. */
START_TEST(test_line_max)
{
	char *b = tg_xmalloc(4098), *path;
	struct tg_table *t;
	struct tg_diag d;

	memset(b, 'k', 4096);
	b[4096] = '\r';
	b[4097] = '\n';
	path = tmp_file(b, 4098);
	tg_diag_init(&d);
	t = tg_table_open("tmp", TG_TABLE_LIST, path, &d);
	unlink(path);
	ck_assert_msg(t != NULL, "got %s, want a table",
	    d.n ? d.msgs[0] : "NULL");
	b[4096] = '\0';
	check_key(t, b, "");
	tg_table_free(t);
	tg_diag_free(&d);
	free(path);
	free(b);
}
END_TEST

/* Deterministic shuffle so the file order is not the sorted order. */
static void
shuffle(uint32_t *v, size_t n)
{
	uint32_t seed = 42;

	for (size_t i = n - 1; i > 0; i--) {
		size_t j;
		uint32_t tmp;

		seed = seed * 1664525u + 1013904223u;
		j = seed % (i + 1);
		tmp = v[i];
		v[i] = v[j];
		v[j] = tmp;
	}
}

#define BIG_N24	100000	/* IPv4 /24 networks, value "n<i>" */
#define BIG_N32	50000	/* a /32 inside every even /24, value "h<i>" */
#define BIG_N6	50000	/* IPv6 /48 networks, value "v6-<k>" */
#define BIG_MAP	200000

static uint32_t
big_net(uint32_t i)
{
	return 0x0a000000u + (i << 8);	/* 10.0.0.0/24 upwards */
}

static void
ip4_text(uint32_t a, char *buf, size_t sz)
{
	snprintf(buf, sz, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff,
	    (a >> 8) & 0xff, a & 0xff);
}

static char *
write_big_cidr(void)
{
	size_t n = BIG_N24 + BIG_N32 + BIG_N6;
	uint32_t *order = tg_xmalloc(n * sizeof *order);
	const char *dir = getenv("TMPDIR");
	char *path = tg_xasprintf("%s/check_table.XXXXXX",
	    dir != NULL ? dir : "/tmp");
	char ip[32];
	FILE *fp;
	int fd;

	for (size_t i = 0; i < n; i++)
		order[i] = (uint32_t)i;
	shuffle(order, n);
	ck_assert_msg((fd = mkstemp(path)) >= 0, "mkstemp failed");
	ck_assert_msg((fp = fdopen(fd, "w")) != NULL, "fdopen failed");
	for (size_t i = 0; i < n; i++) {
		uint32_t k = order[i];

		if (k < BIG_N24) {
			ip4_text(big_net(k), ip, sizeof ip);
			fprintf(fp, "%s/24 n%u\n", ip, k);
		} else if ((k -= BIG_N24) < BIG_N32) {
			ip4_text(big_net(2 * k) | 7, ip, sizeof ip);
			fprintf(fp, "%s h%u\n", ip, 2 * k);
		} else {
			k -= BIG_N32;
			fprintf(fp, "2a00:%x:%x::/48 v6-%u\n", k >> 16,
			    k & 0xffff, k);
		}
	}
	ck_assert_msg(fclose(fp) == 0, "close failed");
	free(order);
	return path;
}

static char *
write_big_map(void)
{
	uint32_t *order = tg_xmalloc(BIG_MAP * sizeof *order);
	char *path;
	FILE *fp;
	int fd;

	path = tg_xasprintf("%s/check_table.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	for (uint32_t i = 0; i < BIG_MAP; i++)
		order[i] = i;
	shuffle(order, BIG_MAP);
	ck_assert_msg((fd = mkstemp(path)) >= 0, "mkstemp failed");
	ck_assert_msg((fp = fdopen(fd, "w")) != NULL, "fdopen failed");
	for (uint32_t i = 0; i < BIG_MAP; i++) {
		uint32_t k = order[i];

		/* Every tenth key is a whole domain, the rest addresses. */
		if (k % 10 == 0)
			fprintf(fp, "Dom%u.Example\tdomain %u\n", k, k);
		else
			fprintf(fp, "User%u@Dom%u.Example\tvalue %u\n", k,
			    k / 10 * 10, k);
	}
	ck_assert_msg(fclose(fp) == 0, "close failed");
	free(order);
	return path;
}

START_TEST(test_big)
{
	char *cpath = write_big_cidr(), *mpath = write_big_map();
	struct tg_table *c, *m;
	char q[64], want[64];
	struct tg_diag d;

	tg_diag_init(&d);
	c = tg_table_open("big-cidr", TG_TABLE_CIDR, cpath, &d);
	m = tg_table_open("big-map", TG_TABLE_MAP, mpath, &d);
	unlink(cpath);
	unlink(mpath);
	ck_assert_msg(c != NULL && m != NULL && d.n == 0, "got %s",
	    d.n ? d.msgs[0] : "no table");
	ck_assert_msg(tg_table_count(c) == BIG_N24 + BIG_N32 + BIG_N6,
	    "cidr: got %zu entries", tg_table_count(c));
	ck_assert_msg(tg_table_count(m) == BIG_MAP, "map: got %zu entries",
	    tg_table_count(m));

	for (uint32_t i = 0; i < BIG_N24; i += 97) {
		/* .7 is the /32 in even networks, else the /24 answers. */
		ip4_text(big_net(i) | 7, q, sizeof q);
		snprintf(want, sizeof want, "%c%u", i % 2 ? 'n' : 'h', i);
		check_ip(c, q, want);
		ip4_text(big_net(i) | 9, q, sizeof q);
		snprintf(want, sizeof want, "n%u", i);
		check_ip(c, q, want);
		snprintf(q, sizeof q, "::ffff:%u.%u.%u.7", big_net(i) >> 24,
		    (big_net(i) >> 16) & 0xff, (big_net(i) >> 8) & 0xff);
		snprintf(want, sizeof want, "%c%u", i % 2 ? 'n' : 'h', i);
		check_ip(c, q, want);
	}
	ip4_text(big_net(BIG_N24), q, sizeof q);
	check_ip(c, q, NULL);
	check_ip(c, "9.255.255.255", NULL);
	for (uint32_t k = 0; k < BIG_N6; k += 89) {
		snprintf(q, sizeof q, "2a00:%x:%x:1::5", k >> 16, k & 0xffff);
		snprintf(want, sizeof want, "v6-%u", k);
		check_ip(c, q, want);
	}
	check_ip(c, "2a00:0:ffff::1", NULL);

	for (uint32_t k = 1; k < BIG_MAP; k += 101) {
		uint32_t dom = k / 10 * 10;

		snprintf(q, sizeof q, "user%u@dom%u.example", k, dom);
		if (k % 10 == 0)
			snprintf(want, sizeof want, "domain %u", k);
		else
			snprintf(want, sizeof want, "value %u", k);
		check_addr(m, q, want);
		/* Another user of that domain falls back to the domain. */
		snprintf(q, sizeof q, "nobody@sub.DOM%u.example", dom);
		snprintf(want, sizeof want, "domain %u", dom);
		check_addr(m, q, want);
	}
	check_addr(m, "user1@dom0.exampl", NULL);
	check_key(m, "user200001@dom200000.example", NULL);
	tg_table_free(c);
	tg_table_free(m);
	tg_diag_free(&d);
	free(cpath);
	free(mpath);
}
END_TEST

static Suite *
table_suite(void)
{
	Suite *s = suite_create("table");
	TCase *tc = tcase_create("core");
	TCase *big = tcase_create("big");

	tcase_add_loop_test(tc, test_type_parse, 0,
	    sizeof type_cases / sizeof type_cases[0]);
	tcase_add_test(tc, test_cidr_good);
	tcase_add_test(tc, test_cidr_crlf);
	tcase_add_test(tc, test_cidr_bad);
	tcase_add_test(tc, test_cidr_long_token);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_missing);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_map_fallback);
	tcase_add_test(tc, test_map_crlf);
	tcase_add_test(tc, test_map_bad);
	tcase_add_test(tc, test_list_dup);
	tcase_add_test(tc, test_quoted_keys);
	tcase_add_test(tc, test_bad_bytes);
	tcase_add_test(tc, test_line_max);
	suite_add_tcase(s, tc);
	/* Generous: valgrind runs this 20-50 times slower. */
	tcase_set_timeout(big, 300);
	tcase_add_test(big, test_big);
	suite_add_tcase(s, big);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(table_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
