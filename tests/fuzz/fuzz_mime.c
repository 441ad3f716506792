/* fuzz_mime.c - libFuzzer target (tools/fuzz.sh mime) for the streaming
 * MIME parser: the first input line is the top-level Content-Type, the
 * rest the body, fed in chunks whose size comes from the input too. Checks
 * the invariants rules rely on: bounded part count and names, no crash. */
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
	struct tg_mime_conf conf = { 1, NULL };
	const uint8_t *nl = memchr(data, '\n', size);
	struct tg_mime *m;
	char *ctype;
	size_t off, chunk;

	if (nl == NULL)
		return 0;
	ctype = tg_xstrndup((const char *)data, (size_t)(nl - data));
	m = tg_mime_new(&conf, ctype, size > 0 && data[0] == 'B' ?
	    "base64" : NULL, NULL);
	off = (size_t)(nl - data) + 1;
	/* Chunk size from the last byte: 1..64 bytes. */
	chunk = size > 0 ? (size_t)(data[size - 1] % 64) + 1 : 1;
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;

		tg_mime_feed(m, (const char *)data + off, n);
		off += n;
	}
	tg_mime_finish(m);
	if (tg_mime_nparts(m) > TG_MIME_PARTS_MAX + 1)
		abort();
	for (size_t i = 0; i < tg_mime_nparts(m); i++) {
		const struct tg_mime_part *p = tg_mime_part(m, i);

		if (p->nnames > TG_MIME_NAMES_MAX ||
		    strlen(p->type) >= sizeof p->type)
			abort();
		for (size_t j = 0; j < p->nnames; j++)
			if (strlen(p->names[j].name) > TG_MIME_NAME_MAX ||
			    strlen(p->names[j].ext) >= TG_MIME_EXT_MAX)
				abort();
	}
	tg_mime_free(m);
	free(ctype);
	return 0;
}
