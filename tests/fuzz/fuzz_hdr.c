/* fuzz_hdr.c - libFuzzer target (tools/fuzz.sh hdr) for header decoding:
 * RFC 2047 encoded words and RFC 2045/2231 parameters of one value, and
 * the spoofed file name check on what they give. */
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
	for (size_t i = 0; i < n; i++) {
		const char *why;
		size_t len = strlen(vals[i]);
		int inv;

		/* The file name check, on decoded names and on raw bytes;
		 * the dot anywhere, or none. */
		if (tg_mime_name_spoofed(vals[i], len, len / 2, &inv, &why) !=
		    (why != NULL))
			abort();
		free(vals[i]);
	}
	if (tg_mime_name_spoofed(v, strlen(v), strlen(v), &bad, NULL) < 0)
		abort();
	free(type);
	free(v);
	return 0;
}
