/* mime_name.c - does an attachment's decoded file name hide what it is?
 * Bidi controls (invoice<U+202E>fdp.exe shows as invoiceexe.pdf),
 * invisible format characters, control characters, and runs of white
 * space or dots that push the real extension out of sight.
 * Owns: nothing. Threads: pure functions. */
#include "config.h"

#include <stddef.h>

#include "tg.h"
#include "tg_mime.h"

/* White space hiding the extension: a run of white space and dots right
 * before the extension's dot holding NEAR_WS white space characters or
 * NEAR_ANY characters in all, or a run holding FAR_WS white space
 * characters anywhere before it. Fewer are ordinary typing ("a  b.pdf",
 * "Wait....mp4"), and header folding inside a quoted name leaves up to
 * three. */
#define NAME_NEAR_WS	3
#define NAME_NEAR_ANY	8
#define NAME_FAR_WS	8

struct name_range {
	unsigned long	lo, hi;
};

/* Bidi controls: ALM, LRM, RLM, LRE..RLO, LRI..PDI. */
static const struct name_range name_bidi[] = {
	{ 0x061c, 0x061c }, { 0x200e, 0x200f }, { 0x202a, 0x202e },
	{ 0x2066, 0x2069 },
};

/* Characters that show as nothing (or as a blank) and have no place in a
 * file name: soft hyphen, combining grapheme joiner, Hangul and Khmer
 * fillers, Mongolian selectors, zero-width space, word joiner and
 * invisible operators, deprecated format controls, line and paragraph
 * separators, BOM, interlinear annotation, shorthand format controls,
 * musical format controls, tags. ZWNJ and ZWJ are handled apart. */
static const struct name_range name_invisible[] = {
	{ 0x00ad, 0x00ad }, { 0x034f, 0x034f }, { 0x115f, 0x1160 },
	{ 0x17b4, 0x17b5 }, { 0x180b, 0x180f }, { 0x200b, 0x200b },
	{ 0x2028, 0x2029 }, { 0x2060, 0x2064 }, { 0x206a, 0x206f },
	{ 0x3164, 0x3164 }, { 0xfeff, 0xfeff }, { 0xffa0, 0xffa0 },
	{ 0xfff9, 0xfffb }, { 0x1bca0, 0x1bca3 }, { 0x1d173, 0x1d17a },
	{ 0xe0000, 0xe007f },
};

/* White space for the runs: tab (header folding leaves it in quoted
 * names, so it is not a control here), no-break and typographic spaces,
 * Braille blank. */
static const struct name_range name_space[] = {
	{ 0x0009, 0x0009 }, { 0x0020, 0x0020 }, { 0x00a0, 0x00a0 },
	{ 0x1680, 0x1680 }, { 0x2000, 0x200a }, { 0x202f, 0x202f },
	{ 0x205f, 0x205f }, { 0x2800, 0x2800 }, { 0x3000, 0x3000 },
};

static int
name_in(const struct name_range *r, size_t n, unsigned long cp)
{
	for (size_t i = 0; i < n; i++)
		if (cp >= r[i].lo && cp <= r[i].hi)
			return 1;
	return 0;
}

#define NAME_IN(table, cp) name_in(table, sizeof table / sizeof table[0], cp)

/* name_joiner_ok - ZWNJ and ZWJ shape Persian, Arabic and Indic words
 * and join emoji: fine between two non-ASCII characters, suspicious next
 * to ASCII (".exe") or at either end. */
static int
name_joiner_ok(unsigned long prev, const char *next, size_t left)
{
	unsigned long cp;

	return prev >= 0x80 && tg_utf8_decode(next, left, &cp) > 0 &&
	    cp >= 0x80 && !NAME_IN(name_bidi, cp) &&
	    !NAME_IN(name_invisible, cp) && !NAME_IN(name_space, cp);
}

/* name_char - the verdict on one character: NULL, or why it is there to
 * deceive. */
static const char *
name_char(unsigned long cp, unsigned long prev, const char *next,
    size_t left)
{
	if (cp == 0x09)
		return NULL;
	if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
		return "control character in the file name";
	if (NAME_IN(name_bidi, cp))
		return "bidi control in the file name";
	if (NAME_IN(name_invisible, cp))
		return "invisible character in the file name";
	if ((cp == 0x200c || cp == 0x200d) &&
	    !name_joiner_ok(prev, next, left))
		return "zero-width joiner or non-joiner in the file name";
	return NULL;
}

int
tg_mime_name_spoofed(const char *name, size_t len, size_t dot,
    int *invalid, const char **why)
{
	unsigned long cp, prev = 0;
	size_t i = 0, n, ws = 0, run = 0, far = 0;
	const char *w = NULL, *c;

	*invalid = 0;
	while (i < len) {
		if ((n = tg_utf8_decode(name + i, len - i, &cp)) == 0) {
			/* Not UTF-8: the caller marks the part malformed;
			 * the rest is still looked at. */
			*invalid = 1;
			n = 1;
			cp = 0xfffd;
		}
		/* ws and run: white space, and white space and dots, in the
		 * run of them just before; far: the most white space in
		 * one run so far. */
		if (i == dot && w == NULL && (ws >= NAME_NEAR_WS ||
		    run >= NAME_NEAR_ANY || far >= NAME_FAR_WS))
			w = "white space before the file name's extension";
		c = name_char(cp, prev, name + i + n, len - i - n);
		if (w == NULL)
			w = c;
		if (NAME_IN(name_space, cp)) {
			run++;
			if (++ws > far)
				far = ws;
		} else if (cp == '.')
			run++;
		else
			ws = run = 0;
		prev = cp;
		i += n;
	}
	if (why != NULL)
		*why = w;
	return w != NULL;
}
