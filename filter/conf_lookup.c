/* conf_lookup.c - the parser's part of looked-up comparison values,
 * "size > size_limits[sasl.login] default 10m": splitting the word and
 * checking, at load time, that a table compared with a number holds only
 * numbers. Owns: nothing. Threads: one load at a time. */
#include "config.h"

#include <string.h>

#include "tg.h"
#include "tg_policy.h"
#include "tg_table.h"
#include "conf.h"

int
conf_lookup_split(const char *word, char *tname, size_t tsz,
    enum tg_attr *key)
{
	const char *lb = strchr(word, '['), *why;
	size_t n = strlen(word), alen;
	char attr[64];

	/* "[192.0.2.1]" and other words with no name before '[' are values. */
	if (lb == NULL || lb == word || n < 3 || word[n - 1] != ']')
		return 0;
	if ((size_t)(lb - word) >= tsz)
		return 0;
	memcpy(tname, word, (size_t)(lb - word));
	tname[lb - word] = '\0';
	if (conf_name_check(tname, &why) < 0)
		return 0;
	alen = n - (size_t)(lb - word) - 2;
	if (alen == 0 || alen >= sizeof attr)
		return -1;
	memcpy(attr, lb + 1, alen);
	attr[alen] = '\0';
	return tg_attr_lookup(attr, key) == 0 ? 1 : -1;
}

struct conf_lookup_check {
	const struct tg_table	*t;
	struct tg_diag		*diag;
	const char		*use;
	int			 bad;
};

static int
conf_lookup_value_ok(void *arg, const char *value, int line)
{
	struct conf_lookup_check *c = arg;
	char pr[64];
	long long n;

	if (conf_number_parse(value, &n) == 0)
		return 0;
	/* Report a few, not a million lines of a wrong table. */
	if (c->bad++ < 5)
		tg_diag_error(c->diag, tg_table_path(c->t), line, 0,
		    "%s \"%s\" is not a number (table %s is compared with "
		    "a number at %s)", *value ? "value" : "missing value",
		    tg_str_printable(pr, sizeof pr, value),
		    tg_table_name(c->t), c->use);
	return 0;
}

int
conf_lookup_check_numbers(const struct tg_table *t, struct tg_diag *diag,
    const char *use)
{
	struct conf_lookup_check c = { t, diag, use, 0 };

	(void)tg_table_each_value(t, conf_lookup_value_ok, &c);
	return c.bad ? -1 : 0;
}
