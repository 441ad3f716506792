/* tg_mime.h - streaming MIME parser (mime.c) and header decoding
 * (mime_hdr.c): the facts attachment rules test, per leaf part.
 * Owns: a struct tg_mime owns its parts and names; the hash-type set is
 * borrowed from the policy. Threads: one parser per message, no sharing. */
#ifndef TG_MIME_H
#define TG_MIME_H

#include <stddef.h>
#include "tg_policy.h"

#define TG_MIME_NAMES_MAX	4	/* distinct file names kept per part */
#define TG_MIME_NAME_MAX	1024	/* bytes kept of a name (its end) */
#define TG_MIME_EXT_MAX		32	/* bytes kept of an extension */
#define TG_MIME_PARTS_MAX	500	/* leaf parts recorded per message */

/* One file name a part declares (Content-Disposition filename, Content-Type
 * name), decoded to UTF-8 where the charset is known. */
struct tg_mime_name {
	char	*name;
	char	 ext[TG_MIME_EXT_MAX];		/* last extension, lower case */
	char	 inner[TG_MIME_EXT_MAX];	/* the one before it, or "" */
	const char *spoofed;		/* how it hides what it is (static
					 * text), or NULL */
};

struct tg_mime_part {
	char		 type[128];	/* "type/subtype", lower case */
	struct tg_mime_name names[TG_MIME_NAMES_MAX];
	size_t		 nnames;
	long long	 size;		/* decoded bytes */
	char		 sha256[65];	/* hex, "" when not hashed */
	int		 malformed;	/* something about it was broken */
	int		 opaque;	/* its headers are unknown: every
					 * attachment test on it is true */
	const char	*why;		/* first malformation (static text) */
};

/* What the parser is asked to do; hash_types is borrowed (the policy's
 * `mime hash-types` set, NULL: every part). */
struct tg_mime_conf {
	int			 hash;		/* compute SHA-256 at all */
	const struct tg_set	*hash_types;	/* "type/sub", "type/ *", "*" */
};

struct tg_mime;

/* The message's own Content- fields, in this order in the array handed to
 * tg_mime_new_top(). */
enum tg_mime_top_field {
	TG_MIME_TOP_TYPE,	/* Content-Type */
	TG_MIME_TOP_CTE,	/* Content-Transfer-Encoding */
	TG_MIME_TOP_DISP,	/* Content-Disposition */
	TG_MIME_TOP_COUNT
};
extern const char *const tg_mime_top_names[TG_MIME_TOP_COUNT];

/* One top-level Content- field as the header step saw it: what the MIME
 * parser needs to treat a repeat as it treats one inside a part. */
struct tg_mime_top {
	const char	*value;		/* the first field's, NULL: absent */
	const char	*other;		/* a later field's value that differs
					 * from the first, or NULL */
	unsigned long	 count;		/* fields of that name */
	int		 obs;		/* one had white space before its
					 * colon (RFC 5322 4.5.3): read, and
					 * malformed */
};

/* Start a message whose top-level header fields are given (NULL: absent).
 * Caller frees with tg_mime_free(). */
struct tg_mime *tg_mime_new(const struct tg_mime_conf *, const char *ctype,
	    const char *cte, const char *cdisp);
/* The same from top[TG_MIME_TOP_COUNT]: a field given twice makes the
 * message malformed, and with two different values the whole body one
 * opaque part (its structure depends on which one a reader takes). */
struct tg_mime *tg_mime_new_top(const struct tg_mime_conf *,
	    const struct tg_mime_top *top);
/* Feed body bytes as they arrive, in chunks of any size. Memory stays
 * bounded whatever the input. */
void	tg_mime_feed(struct tg_mime *, const char *buf, size_t len);
/* End of body: close open parts and structures. Idempotent. */
void	tg_mime_finish(struct tg_mime *);
size_t	tg_mime_nparts(const struct tg_mime *);
const struct tg_mime_part *tg_mime_part(const struct tg_mime *, size_t);
/* 1 when anything in the structure was malformed, else 0; why gets the
 * first reason (static text) when not NULL. */
int	tg_mime_malformed(const struct tg_mime *, const char **why);
struct tg_mime *tg_mime_free(struct tg_mime *);	/* returns NULL */

/* mime_hdr.c. RFC 2047 encoded words in a header value, decoded to UTF-8;
 * line folding removed, NUL bytes become '?'. Caller frees. */
char	*tg_mime_decode_words(const char *value);
/* Past RFC 5322 CFWS: white space and (nested, escaped) comments. An
 * unclosed comment runs to the end of the string. */
const char *tg_mime_skip_cfws(const char *);
/* What tg_mime_params() found wrong, or'ed into *bad. */
#define TG_MIME_BAD		1	/* malformed (bytes invalid in a
					 * declared charset included) */
#define TG_MIME_AMBIGUOUS	2	/* readers may disagree on a value: a
					 * parameter repeated with another
					 * value, more parameters or values
					 * than are looked at */
/* Parse a Content-Type or Content-Disposition value: *type gets the
 * lowercased "type/subtype" or disposition (caller frees), and up to max
 * distinct values of parameter pname (RFC 2231 continuations and charsets,
 * RFC 2047 words in quoted values) go to vals[] (caller frees each).
 * Returns the number of values; TG_MIME_BAD and TG_MIME_AMBIGUOUS are
 * or'ed into *bad (parsing goes on as far as it can). A plain value and
 * an RFC 2231 one (filename= and filename*=) are both returned: mail
 * clients show the RFC 2231 one, older readers the other. */
size_t	tg_mime_params(const char *value, const char *pname, char **type,
	    char **vals, size_t max, int *bad);
/* Bytes in charset (NULL or "": as they are) to UTF-8; invalid sequences
 * become '?', NUL too. Caller frees. */
char	*tg_mime_to_utf8(const char *charset, const char *in, size_t len);

/* mime_name.c. Does the file name (len bytes, meant to be UTF-8) hide
 * what it is: bidi or invisible format characters, C0/C1 controls, or
 * white space or dots pushing the extension (whose dot is at offset dot;
 * len when there is none) out of sight? Returns 1 (*why, when not NULL,
 * gets the reason, static text) or 0. *invalid is set to 1 when the name
 * is not well-formed UTF-8 (the rest of it is still checked). */
int	tg_mime_name_spoofed(const char *name, size_t len, size_t dot,
	    int *invalid, const char **why);

#endif
