/* table_bench.c - how fast 1,000,000-entry tables load and answer, and
 * how much memory they take: a cidr table (IPv4 and IPv6, several prefix
 * lengths, a value per entry) and an address list/map. Not a test: it
 * prints figures (tests/bench/README.md). Usage: table_bench [entries]
 * Threads: one. */
#include "config.h"

#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_ip.h"
#include "tg_table.h"

#define BENCH_LOOKUPS	2000000

static double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Heap in use: small blocks plus mmapped big ones (the arrays of a big
 * table are mmapped by glibc). */
static size_t
bench_heap(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static uint32_t bench_seed = 2463534242u;

static uint32_t
bench_rand(void)
{
	bench_seed ^= bench_seed << 13;
	bench_seed ^= bench_seed >> 17;
	bench_seed ^= bench_seed << 5;
	return bench_seed;
}

/* Per ten entries: three /24, four /32 and one /20 (IPv4, each class in
 * its own range, 11.0.0.0 to 47.255.255.255, so lookups there hit often)
 * and two IPv6 (/32 and /64). Entry numbers make every network distinct. */
static void
bench_write_cidr(const char *path, size_t n)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL) {
		perror(path);
		exit(1);
	}
	for (size_t i = 0; i < n; i++) {
		size_t j = i / 10, c = i % 10, x;

		if (c == 9)
			fprintf(fp, "2001:db8:%zx:%zx::/64 v%zu\n",
			    (i >> 16) & 0xffff, i & 0xffff, i);
		else if (c == 8)
			fprintf(fp, "2%03zx:%zx::/32 v%zu\n", (j >> 16) & 0xfff,
			    j & 0xffff, i);
		else if (c < 3) {
			x = j * 3 + c;
			fprintf(fp, "%zu.%zu.%zu.0/24 REJECT\n", 11 + (x >> 16),
			    (x >> 8) & 0xff, x & 0xff);
		} else if (c < 7) {
			x = j * 4 + c - 3;
			fprintf(fp, "%zu.%zu.7.%zu/32 OK\n", 16 + (x >> 16),
			    (x >> 8) & 0xff, x & 0xff);
		} else
			fprintf(fp, "%zu.%zu.%zu.0/20 %zu\n", 23 + (j >> 12),
			    (j >> 4) & 0xff, (j & 15) << 4, i);
	}
	fclose(fp);
}

/* user<i>@d<i % 50000>.example, plus an @domain entry every 100. */
static void
bench_write_addr(const char *path, size_t n, int map)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL) {
		perror(path);
		exit(1);
	}
	for (size_t i = 0; i < n; i++) {
		if (i % 100 == 99)
			fprintf(fp, "@x%zu.example", i);
		else
			fprintf(fp, "user%zu@d%zu.example", i, i % 50000);
		fprintf(fp, map ? " %zum\n" : "\n", i % 100);
	}
	fclose(fp);
}

static struct tg_table *
bench_load(const char *what, enum tg_table_type type, const char *path,
    size_t n)
{
	struct tg_diag d;
	struct tg_table *t;
	size_t before = bench_heap();
	double t0 = bench_now(), dt;

	tg_diag_init(&d);
	t = tg_table_open("bench", type, path, &d);
	dt = bench_now() - t0;
	if (t == NULL) {
		fprintf(stderr, "%s: %s\n", what, d.n ? d.msgs[0] : "failed");
		exit(1);
	}
	printf("%-12s %zu entries: load %.3f s, %.1f bytes/entry\n", what,
	    tg_table_count(t), dt,
	    (double)(bench_heap() - before) / (double)n);
	tg_diag_free(&d);
	return t;
}

static void
bench_cidr(const char *dir, size_t n)
{
	char path[300];
	struct tg_table *t;
	struct tg_ip *ips;
	double t0, dt;
	size_t hits = 0;

	snprintf(path, sizeof path, "%s/bench.cidr", dir);
	bench_write_cidr(path, n);
	t = bench_load("cidr", TG_TABLE_CIDR, path, n);
	/* Random addresses: IPv4 over 11/8 to 47/8 (hits and misses mixed)
	 * and one IPv6 in ten. */
	ips = tg_xcalloc(BENCH_LOOKUPS, sizeof *ips);
	for (size_t i = 0; i < BENCH_LOOKUPS; i++) {
		uint32_t r = bench_rand();

		if (i % 10 == 9) {
			ips[i].family = 6;
			ips[i].b[0] = 0x20;
			ips[i].b[1] = 0x01;
			ips[i].b[2] = 0x0d;
			ips[i].b[3] = 0xb8;
			memcpy(ips[i].b + 4, &r, 4);
		} else {
			ips[i].family = 4;
			ips[i].b[0] = (uint8_t)(11 + r % 37);
			ips[i].b[1] = (uint8_t)(r >> 8);
			ips[i].b[2] = (uint8_t)(r >> 16);
			ips[i].b[3] = (uint8_t)(r >> 24);
		}
	}
	t0 = bench_now();
	for (size_t i = 0; i < BENCH_LOOKUPS; i++)
		hits += (size_t)tg_table_lookup_ip(t, &ips[i], NULL);
	dt = bench_now() - t0;
	printf("%-12s %d random lookups: %.0f ns each (%zu hits)\n", "cidr",
	    BENCH_LOOKUPS, dt / BENCH_LOOKUPS * 1e9, hits);
	free(ips);
	tg_table_free(t);
	unlink(path);
}

static void
bench_addr(const char *dir, size_t n, int map)
{
	const char *what = map ? "address map" : "address list";
	char path[300], (*keys)[48];
	struct tg_table *t;
	double t0, dt;
	size_t hits = 0;

	snprintf(path, sizeof path, "%s/bench.%s", dir, map ? "map" : "list");
	bench_write_addr(path, n, map);
	t = bench_load(what, map ? TG_TABLE_MAP : TG_TABLE_LIST, path, n);
	/* Half present users; half absent ones, which walk every fallback
	 * (user@domain, user@, @domain, domain, .example, example). */
	keys = tg_xcalloc(BENCH_LOOKUPS, sizeof *keys);
	for (size_t i = 0; i < BENCH_LOOKUPS; i++) {
		size_t u = bench_rand() % n;

		snprintf(keys[i], sizeof keys[i], "%s%zu@d%zu.example",
		    i % 2 ? "User" : "nobody", u, u % 50000);
	}
	t0 = bench_now();
	for (size_t i = 0; i < BENCH_LOOKUPS; i++)
		hits += (size_t)tg_table_lookup_addr(t, keys[i], NULL);
	dt = bench_now() - t0;
	printf("%-12s %d random lookups: %.0f ns each (%zu hits; misses try "
	    "6 keys)\n", what, BENCH_LOOKUPS, dt / BENCH_LOOKUPS * 1e9, hits);
	free(keys);
	tg_table_free(t);
	unlink(path);
}

int
main(int argc, char **argv)
{
	char dir[] = "/tmp/tg-bench-XXXXXX";
	size_t n = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 1000000;

	if (n == 0 || mkdtemp(dir) == NULL) {
		fprintf(stderr, "usage: table_bench [entries]\n");
		return 1;
	}
	bench_cidr(dir, n);
	bench_addr(dir, n, 0);
	bench_addr(dir, n, 1);
	rmdir(dir);
	return 0;
}
