/* table.c - the common part of lookup tables: open by type, read the file
 * line by line, the access(5) address fallbacks. The entries themselves
 * live in table_hash.c (list, map) and table_cidr.c (cidr).
 * Owns: the table, its name and path. Threads: read-only after open. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_addr.h"
#include "tg_table.h"
#include "table_impl.h"

static void
table_add_line(struct tg_table *t, const char *line, size_t len,
    const struct table_pos *pos)
{
	size_t i = 0;

	while (i < len && table_is_blank(line[i]))
		i++;
	/* Postfix comments: '#' as the first non-blank byte only, so that a
	 * value may contain '#' (for example an enhanced status code). */
	if (i == len || line[i] == '#')
		return;
	if (t->type == TG_TABLE_CIDR)
		table_cidr_add(t->cidr, line, len, i, pos);
	else
		table_hash_add(t->hash, line, len, i, pos);
}

/* Check one raw line (without '\n') for what no table type accepts. */
static int
table_check_line(const char *line, size_t len, const struct table_pos *pos)
{
	const char *nul;

	if (len > TABLE_LINE_MAX) {
		tg_diag_error(pos->diag, pos->path, pos->line,
		    TABLE_LINE_MAX + 1, "line longer than %d bytes",
		    TABLE_LINE_MAX);
		return -1;
	}
	if ((nul = memchr(line, '\0', len)) != NULL) {
		tg_diag_error(pos->diag, pos->path, pos->line,
		    (int)(nul - line) + 1, "NUL byte in line");
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			tg_diag_error(pos->diag, pos->path, pos->line,
			    (int)i + 1, "control character 0x%02x in line", c);
			return -1;
		}
	}
	return 0;
}

static void
table_read(struct tg_table *t, FILE *fp, struct table_pos *pos)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while ((n = getline(&line, &cap, fp)) >= 0) {
		size_t len = (size_t)n;

		pos->line++;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		/* CRLF files come from Windows editors; a lone CR elsewhere
		 * is still an error. */
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (table_check_line(line, len, pos) == 0)
			table_add_line(t, line, len, pos);
	}
	if (ferror(fp))
		tg_diag_error(pos->diag, pos->path, 0, 0,
		    "cannot read: %s", strerror(errno));
	free(line);
}

struct tg_table *
tg_table_open(const char *name, enum tg_table_type type, const char *path,
    struct tg_diag *diag)
{
	struct table_pos pos = { path, 0, diag };
	int errors = diag->errors;
	struct tg_table *t;
	FILE *fp;

	if (type != TG_TABLE_CIDR && type != TG_TABLE_LIST &&
	    type != TG_TABLE_MAP) {
		tg_diag_error(diag, path, 0, 0, "unknown table type %d",
		    (int)type);
		return NULL;
	}
	if ((fp = fopen(path, "r")) == NULL) {
		tg_diag_error(diag, path, 0, 0, "cannot open: %s",
		    strerror(errno));
		return NULL;
	}
	t = tg_xcalloc(1, sizeof *t);
	t->name = tg_xstrdup(name);
	t->path = tg_xstrdup(path);
	t->type = type;
	if (type == TG_TABLE_CIDR)
		t->cidr = table_cidr_new();
	else
		t->hash = table_hash_new(type == TG_TABLE_MAP);
	table_read(t, fp, &pos);
	fclose(fp);
	if (t->cidr != NULL)
		table_cidr_finish(t->cidr, &pos);
	else
		table_hash_finish(t->hash);
	if (diag->errors != errors)
		return tg_table_free(t);
	return t;
}

struct tg_table *
tg_table_free(struct tg_table *t)
{
	if (t == NULL)
		return NULL;
	table_hash_free(t->hash);
	table_cidr_free(t->cidr);
	free(t->name);
	free(t->path);
	free(t);
	return NULL;
}

const char *
tg_table_name(const struct tg_table *t)
{
	return t->name;
}

enum tg_table_type
tg_table_type(const struct tg_table *t)
{
	return t->type;
}

size_t
tg_table_count(const struct tg_table *t)
{
	return t->cidr != NULL ? table_cidr_count(t->cidr) :
	    table_hash_count(t->hash);
}

int
tg_table_type_parse(const char *s, enum tg_table_type *type)
{
	if (strcmp(s, "cidr") == 0)
		*type = TG_TABLE_CIDR;
	else if (strcmp(s, "list") == 0)
		*type = TG_TABLE_LIST;
	else if (strcmp(s, "map") == 0)
		*type = TG_TABLE_MAP;
	else
		return -1;
	return 0;
}

int
tg_table_lookup(const struct tg_table *t, const char *key,
    const char **value)
{
	if (t == NULL || t->hash == NULL || key == NULL)
		return -1;
	return table_hash_lookup(t->hash, key, strlen(key), value);
}

/* access(5) order; every candidate key is a substring of addr, so no
 * copy is made: "user@" is the prefix up to and including the '@', the
 * domain keys are suffixes. */
int
tg_table_lookup_addr(const struct tg_table *t, const char *addr,
    const char **value)
{
	const char *dom, *p;
	size_t len;

	if (t == NULL || t->hash == NULL || addr == NULL)
		return -1;
	len = strlen(addr);
	if (table_hash_lookup(t->hash, addr, len, value))
		return 1;
	if ((dom = tg_addr_domain(addr)) == NULL) {
		/* A local address ("postmaster") still matches "postmaster@";
		 * keys never exceed the line limit, so a longer one cannot. */
		char key[TABLE_LINE_MAX + 2];

		if (len == 0 || len >= TABLE_LINE_MAX)
			return 0;
		memcpy(key, addr, len);
		key[len] = '@';
		return table_hash_lookup(t->hash, key, len + 1, value);
	}
	if (dom - addr > 1 &&
	    table_hash_lookup(t->hash, addr, (size_t)(dom - addr), value))
		return 1;
	if (*dom == '\0')
		return 0;
	if (table_hash_lookup(t->hash, dom - 1, strlen(dom - 1), value))
		return 1;
	/* An address literal has no parent domains. */
	if (*dom == '[')
		return table_hash_lookup(t->hash, dom, strlen(dom), value);
	for (p = dom; p != NULL; p = strchr(p, '.')) {
		/* ".example.com" is the suffix of "a.example.com" from its
		 * dot: a parent in the dotted, subdomains-only form. */
		if (*p == '.' && p[1] != '\0' &&
		    table_hash_lookup(t->hash, p, strlen(p), value))
			return 1;
		if (*p == '.')
			p++;
		if (*p != '\0' &&
		    table_hash_lookup(t->hash, p, strlen(p), value))
			return 1;
	}
	return 0;
}

int
tg_table_lookup_domain(const struct tg_table *t, const char *domain,
    const char **value)
{
	const char *p;

	if (t == NULL || t->hash == NULL || domain == NULL)
		return -1;
	if (table_hash_lookup(t->hash, domain, strlen(domain), value))
		return 1;
	if (*domain == '[')
		return 0;
	for (p = strchr(domain, '.'); p != NULL; p = strchr(p + 1, '.'))
		if (p[1] != '\0' &&
		    table_hash_lookup(t->hash, p, strlen(p), value))
			return 1;
	return 0;
}

int
tg_table_each_value(const struct tg_table *t,
    int (*fn)(void *, const char *, int), void *arg)
{
	return t->cidr != NULL ? table_cidr_each(t->cidr, fn, arg) :
	    table_hash_each(t->hash, fn, arg);
}

const char *
tg_table_path(const struct tg_table *t)
{
	return t->path;
}

int
tg_table_lookup_ip(const struct tg_table *t, const struct tg_ip *ip,
    const char **value)
{
	if (t == NULL || t->cidr == NULL || ip == NULL)
		return -1;
	return table_cidr_lookup(t->cidr, ip, value);
}
