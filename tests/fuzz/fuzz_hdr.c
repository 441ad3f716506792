/* fuzz_hdr.c - libFuzzer target (tools/fuzz.sh hdr) for header decoding:
 * RFC 2047 encoded words and RFC 2045/2231 parameters of one value. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_mime.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *v = tg_xstrndup((const char *)data, size), *d, *type = NULL;
	char *vals[TG_MIME_NAMES_MAX];
	size_t n;
	int bad = 0;

	d = tg_mime_decode_words(v);
	free(d);
	n = tg_mime_params(v, "filename", &type, vals, TG_MIME_NAMES_MAX,
	    &bad);
	if (n > TG_MIME_NAMES_MAX)
		abort();
	for (size_t i = 0; i < n; i++)
		free(vals[i]);
	free(type);
	free(v);
	return 0;
}
