/* str.c - bounded string helpers. Threads: pure functions. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tg.h"

size_t
tg_strlcpy(char *dst, const char *src, size_t dstsz)
{
	size_t len = strlen(src);

	if (dstsz > 0) {
		size_t n = len < dstsz - 1 ? len : dstsz - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

void
tg_str_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

int
tg_str_iequal(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

char *
tg_str_printable(char *dst, size_t dstsz, const char *src)
{
	size_t o = 0;

	if (dstsz == 0)
		return dst;
	for (; *src != '\0'; src++) {
		unsigned char c = (unsigned char)*src;
		char esc[5];
		size_t n;

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			esc[0] = (char)c;
			n = 1;
		} else {
			snprintf(esc, sizeof esc, "\\x%02x", c);
			n = 4;
		}
		/* Keep room for "..." and the terminator. */
		if (o + n + 4 > dstsz) {
			if (dstsz >= 4) {
				memcpy(dst + (o < dstsz - 4 ? o : dstsz - 4),
				    "...", 4);
				return dst;
			}
			break;
		}
		memcpy(dst + o, esc, n);
		o += n;
	}
	dst[o < dstsz ? o : dstsz - 1] = '\0';
	return dst;
}
