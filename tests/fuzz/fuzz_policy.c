/* fuzz_policy.c - libFuzzer target: the policy lexer, parser and semantic
 * checks on arbitrary text. Tables and includes name files that do not
 * exist, which exercises those error paths too. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_log.h"
#include "tg_policy.h"

static void
fuzz_quiet(int prio, const char *line)
{
	(void)prio;
	(void)line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tg_policy *p;
	struct tg_diag d;
	char *text;

	tg_log_set_sink(fuzz_quiet);
	text = tg_xstrndup((const char *)data, size);
	tg_diag_init(&d);
	p = tg_policy_load_string("fuzz.conf", text, "/nonexistent", &d);
	/* Either a policy or at least one error, never both or neither. */
	if ((p == NULL) != (d.errors > 0))
		abort();
	tg_policy_unref(p);
	tg_diag_free(&d);
	free(text);
	return 0;
}
