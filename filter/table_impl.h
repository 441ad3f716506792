/* table_impl.h - what table.c shares with the per-type table files
 * (table_hash.c, table_cidr.c). Not an exported interface.
 * Threads: loading is single-threaded; lookups are read-only. */
#ifndef TABLE_IMPL_H
#define TABLE_IMPL_H

#include <stddef.h>
#include "tg_diag.h"
#include "tg_ip.h"
#include "tg_table.h"

/* Longest line a table file may have, without the line end. */
#define TABLE_LINE_MAX	4096

/* Where the loader is, for diagnostics. */
struct table_pos {
	const char	*path;
	int		 line;
	struct tg_diag	*diag;
};

struct table_hash;
struct table_cidr;

struct tg_table {
	char			*name;
	char			*path;
	enum tg_table_type	 type;
	struct table_hash	*hash;	/* list and map */
	struct table_cidr	*cidr;	/* cidr */
};

/* Entry lines have no line end, no NUL, and are not blank or comments.
 * col0 is the 0-based offset of the first non-blank byte. Errors go to
 * pos->diag; the add functions keep going so every bad line is seen. */
struct table_hash *table_hash_new(int is_map);
void	 table_hash_add(struct table_hash *, const char *line, size_t len,
	    size_t col0, const struct table_pos *);
/* Duplicate keys are reported while adding, so nothing is left to do
 * here but release load-time slack. */
void	 table_hash_finish(struct table_hash *);
size_t	 table_hash_count(const struct table_hash *);
/* key is len bytes, compared case-insensitively. Returns 1 or 0. */
int	 table_hash_lookup(const struct table_hash *, const char *key,
	    size_t len, const char **value);
struct table_hash *table_hash_free(struct table_hash *);

/* Calls fn for each entry's value ("" when it has none) with its line, in
 * no promised order; stops at, and returns, the first non-zero result. */
typedef int table_value_fn(void *arg, const char *value, int line);
int	 table_hash_each(const struct table_hash *, table_value_fn *, void *);
int	 table_cidr_each(const struct table_cidr *, table_value_fn *, void *);

struct table_cidr *table_cidr_new(void);
void	 table_cidr_add(struct table_cidr *, const char *line, size_t len,
	    size_t col0, const struct table_pos *);
/* Sorts and reports duplicate networks (pos->line is not used). */
void	 table_cidr_finish(struct table_cidr *, const struct table_pos *);
size_t	 table_cidr_count(const struct table_cidr *);
int	 table_cidr_lookup(const struct table_cidr *, const struct tg_ip *,
	    const char **value);
struct table_cidr *table_cidr_free(struct table_cidr *);

/* Blank bytes between tokens. */
static inline int
table_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

#endif
