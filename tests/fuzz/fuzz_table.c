/* fuzz_table.c - libFuzzer target: the table loaders (cidr, list, map) on
 * arbitrary file contents, then a few lookups in whatever loaded. The
 * first byte picks the table type. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_ip.h"
#include "tg_table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum tg_table_type types[] = { TG_TABLE_CIDR,
	    TG_TABLE_LIST, TG_TABLE_MAP };
	char path[] = "/tmp/tg-fuzz-table-XXXXXX";
	struct tg_table *t;
	struct tg_diag d;
	struct tg_ip ip;
	const char *v;
	int fd;

	if (size < 1)
		return 0;
	if ((fd = mkstemp(path)) < 0)
		abort();
	if (write(fd, data + 1, size - 1) != (ssize_t)(size - 1))
		abort();
	close(fd);
	tg_diag_init(&d);
	t = tg_table_open("fuzz", types[data[0] % 3], path, &d);
	unlink(path);
	if ((t == NULL) != (d.errors > 0))
		abort();
	if (t != NULL) {
		tg_ip_parse("192.0.2.1", &ip);
		(void)tg_table_lookup_ip(t, &ip, &v);
		tg_ip_parse("2001:db8::1", &ip);
		(void)tg_table_lookup_ip(t, &ip, &v);
		(void)tg_table_lookup(t, "example.org", &v);
		(void)tg_table_lookup_addr(t, "user@mail.example.org", &v);
		t = tg_table_free(t);
	}
	tg_diag_free(&d);
	return 0;
}
