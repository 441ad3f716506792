/* fuzz_session.c - libFuzzer target: tollgate-test's session file reader
 * (filter/replay_parse.c) on arbitrary bytes: words, quotes, inline
 * messages, repeats, expectations. Message files it names do not exist,
 * which exercises those error paths too. Invariant: a file or at least
 * one error, never both or neither. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "tg.h"
#include "tg_diag.h"
#include "replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct replay_file *f;
	struct tg_diag d;

	tg_diag_init(&d);
	f = replay_parse_buffer("/nonexistent/fuzz.session",
	    (const char *)data, size, &d);
	if ((f == NULL) != (d.errors > 0))
		abort();
	replay_file_free(f);
	tg_diag_free(&d);
	return 0;
}
