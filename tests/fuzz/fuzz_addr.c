/* fuzz_addr.c - libFuzzer target: envelope address normalisation, table
 * key canonicalisation, and IP and CIDR parsing on arbitrary strings.
 * Checks that normalising an accepted address (or key) again gives the
 * same result. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_addr.h"
#include "tg_ip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[TG_ADDR_MAX], again[TG_ADDR_MAX], buf[64];
	struct tg_ip ip, net;
	const char *why;
	char *s = tg_xstrndup((const char *)data, size);
	int len;

	if (tg_addr_normalize(s, out, sizeof out) == TG_OK) {
		(void)tg_addr_domain(out);
		if (*out != '\0') {
			if (tg_addr_normalize(out, again, sizeof again) != TG_OK ||
			    strcmp(out, again) != 0)
				abort();
		}
	}
	if ((len = tg_addr_canon_key(s, strlen(s), out, sizeof out)) >= 0 &&
	    (tg_addr_canon_key(out, (size_t)len, again, sizeof again) != len ||
	    strcmp(out, again) != 0))
		abort();
	if (tg_ip_parse(s, &ip) == 0)
		tg_ip_format(&ip, buf, sizeof buf);
	if (tg_cidr_parse(s, &net, &len, &why) == 0 &&
	    tg_ip_parse("10.0.0.1", &ip) == 0)
		(void)tg_ip_in_prefix(&ip, &net, len);
	free(s);
	return 0;
}
