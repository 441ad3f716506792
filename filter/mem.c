/* mem.c - allocation that never returns NULL.
 * Exhaustion aborts: a threaded milter cannot recover a half-built session,
 * and the MTA's milter_default_action (tempfail) then answers 4xx, so no
 * mail is lost. Threads: thread-safe. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "tg.h"

static void
mem_exhausted(size_t n)
{
	syslog(LOG_CRIT, "out of memory allocating %zu bytes; aborting", n);
	fprintf(stderr, "tollgate: out of memory allocating %zu bytes\n", n);
	abort();
}

void *
tg_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		mem_exhausted(n);
	return p;
}

void *
tg_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		mem_exhausted(n * size);
	return p;
}

void *
tg_xrealloc(void *old, size_t n)
{
	void *p = realloc(old, n ? n : 1);

	if (p == NULL)
		mem_exhausted(n);
	return p;
}

char *
tg_xstrdup(const char *s)
{
	return tg_xstrndup(s, strlen(s));
}

char *
tg_xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = tg_xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *
tg_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		mem_exhausted(0);
	return p;
}

void *
tg_free(void *p)
{
	free(p);
	return NULL;
}
