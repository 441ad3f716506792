/* diag.c - collect configuration errors with their positions.
 * Owns: the formatted lines. Threads: one owner at a time. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_diag.h"

void
tg_diag_init(struct tg_diag *d)
{
	memset(d, 0, sizeof *d);
}

void
tg_diag_free(struct tg_diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->msgs[i]);
	free(d->msgs);
	memset(d, 0, sizeof *d);
}

void
tg_diag_error(struct tg_diag *d, const char *file, int line, int col,
    const char *fmt, ...)
{
	char text[1024], where[1100];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (line <= 0)
		snprintf(where, sizeof where, "%s", file);
	else if (col <= 0)
		snprintf(where, sizeof where, "%s:%d", file, line);
	else
		snprintf(where, sizeof where, "%s:%d:%d", file, line, col);
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 8;
		d->msgs = tg_xrealloc(d->msgs, d->cap * sizeof *d->msgs);
	}
	d->msgs[d->n++] = tg_xasprintf("%s: error: %s", where, text);
	d->errors++;
}
