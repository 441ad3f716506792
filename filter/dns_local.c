/* dns_local.c - answer every DNS lookup from a file of records instead of
 * a server (tollgate-test -z), so that tests of DNS rules are
 * reproducible and nothing is sent anywhere. libunbound answers itself
 * from local data (local-zone and local-data, as in unbound.conf), so the
 * answers take the same path through dns.c as real ones: under a
 * "." static zone every name without a record is answered NXDOMAIN, and
 * no zone type that passes a query on is accepted, so no query leaves the
 * process. The file is read and checked once, before any lookup; then
 * every resolver context dns.c creates is set up from it.
 * Owns: the records, for the life of the process. Threads: loaded before
 * any lookup, read-only afterwards. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unbound.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_dns.h"

#define LOCAL_LINE_MAX	4096

struct local_entry {
	int	 zone;		/* 1: local-zone "name type"; 0: an RR */
	char	*text;
};

static struct local_entry *local_entries;
static size_t local_n, local_cap;
static int local_active;

/* The zone types that answer from local data alone (unbound.conf(5)):
 * the transparent kinds, nodefault and noview would resolve what the
 * data lacks on the internet. */
static const char *const local_zone_types[] = {
	"static", "refuse", "deny", "redirect", "always_nxdomain",
	"always_refuse", "always_nodata", "always_deny", "always_null",
};

static void
local_add(int zone, const char *text)
{
	if (local_n == local_cap) {
		local_cap = local_cap ? local_cap * 2 : 32;
		local_entries = tg_xrealloc(local_entries,
		    local_cap * sizeof *local_entries);
	}
	local_entries[local_n].zone = zone;
	local_entries[local_n].text = tg_xstrdup(text);
	local_n++;
}

/* local_unquote - the value of "..." or '...' (a whole value), in place;
 * NULL when a quote is not closed */
static char *
local_unquote(char *v)
{
	size_t n = strlen(v);

	if (v[0] != '"' && v[0] != '\'')
		return v;
	if (n < 2 || v[n - 1] != v[0])
		return NULL;
	v[n - 1] = '\0';
	return v + 1;
}

/* local_strip - cut a comment (a '#' outside quotes) and trailing blanks */
static void
local_strip(char *s)
{
	char q = 0;
	size_t n;

	for (char *p = s; *p != '\0'; p++) {
		if (q != 0 && *p == q)
			q = 0;
		else if (q == 0 && (*p == '"' || *p == '\''))
			q = *p;
		else if (q == 0 && *p == '#') {
			*p = '\0';
			break;
		}
	}
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	    s[n - 1] == '\r'))
		s[--n] = '\0';
}

/* local_zone - check "name type" (the name may be quoted) and write it
 * as libunbound takes it, unquoted, into out; 0 or -1 with *why and *at
 * set */
static int
local_zone(const char *v, char *out, size_t outsz, const char **why,
    size_t *at)
{
	char name[TG_DNS_NAME_MAX], *sp;
	const char *type;
	size_t n;

	if ((sp = strpbrk(v, " \t")) == NULL) {
		*why = "expected a zone name and a type";
		*at = 0;
		return -1;
	}
	n = (size_t)(sp - v);
	type = sp + strspn(sp, " \t");
	*at = 0;
	if (n >= sizeof name) {
		*why = "zone name too long";
		return -1;
	}
	memcpy(name, v, n);
	name[n] = '\0';
	if (n > 0 && name[0] == '"' && name[n - 1] == '"' && n >= 2) {
		memmove(name, name + 1, n - 2);
		name[n - 2] = '\0';
	}
	if (strcmp(name, ".") != 0 && !tg_dns_name_valid(name)) {
		*why = "not a domain name";
		return -1;
	}
	for (size_t i = 0; i < sizeof local_zone_types /
	    sizeof local_zone_types[0]; i++)
		if (strcmp(type, local_zone_types[i]) == 0) {
			/* libunbound's option setter takes no quotes: a
			 * quoted name would be another zone, and "." would
			 * not be the root. */
			snprintf(out, outsz, "%s %s", name, type);
			return 0;
		}
	*at = (size_t)(type - v);
	*why = "zone type not allowed here (static, refuse, deny, redirect, "
	    "always_nxdomain, always_refuse, always_nodata, always_deny or "
	    "always_null: the others would ask the internet)";
	return -1;
}

/* local_rr_check - is rr a record libunbound accepts? On a context of
 * its own whose log goes to a buffer, so that the reason can be shown;
 * returns 0, or -1 with the reason and the column libunbound names. */
static int
local_rr_check(const char *rr, char *why, size_t whysz, size_t *col)
{
	struct ub_ctx *ctx;
	char *log = NULL, *p, *q;
	size_t loglen = 0;
	FILE *fp;
	int rc;

	*col = 0;
	if ((ctx = ub_ctx_create()) == NULL) {
		snprintf(why, whysz, "cannot create a resolver to check it");
		return -1;
	}
	if ((fp = open_memstream(&log, &loglen)) != NULL)
		(void)ub_ctx_debugout(ctx, fp);
	rc = ub_ctx_data_add(ctx, rr);
	ub_ctx_delete(ctx);
	if (fp != NULL)
		fclose(fp);
	if (rc == 0) {
		free(log);
		return 0;
	}
	/* "... error parsing local-data at 12 'RR': Conversion error" */
	snprintf(why, whysz, "not a valid record");
	if (log != NULL && (p = strstr(log, "local-data at ")) != NULL) {
		*col = (size_t)strtoul(p + 14, NULL, 10);
		if ((q = strstr(p, "': ")) != NULL) {
			q[strcspn(q, "\r\n")] = '\0';
			snprintf(why, whysz, "not a valid record: %s", q + 3);
		}
	}
	free(log);
	return -1;
}

/* local_line - one line (comment and line end removed) */
static void
local_line(const char *path, int lineno, char *line, struct tg_diag *diag)
{
	char why[300];
	char *s = line + strspn(line, " \t"), *v;
	const char *zwhy;
	size_t at, col, off;
	int zone;

	if (*s == '\0' || strcmp(s, "server:") == 0)
		return;
	if (strncmp(s, "local-zone:", 11) == 0 ||
	    strncmp(s, "local-data:", 11) == 0) {
		zone = s[6] == 'z';
		v = s + 11 + strspn(s + 11, " \t");
		off = (size_t)(v - line);
		if (zone) {
			if (local_zone(v, why, sizeof why, &zwhy, &at) < 0) {
				tg_diag_error(diag, path, lineno,
				    (int)(off + at + 1), "local-zone: %s",
				    zwhy);
				return;
			}
			local_add(1, why);
			return;
		}
		if ((v = local_unquote(v)) == NULL) {
			tg_diag_error(diag, path, lineno, (int)(off + 1),
			    "quote not closed");
			return;
		}
		off = (size_t)(v - line);
	} else {
		v = s;
		off = (size_t)(s - line);
	}
	if (local_rr_check(v, why, sizeof why, &col) < 0) {
		tg_diag_error(diag, path, lineno, (int)(off + col + 1), "%s",
		    why);
		return;
	}
	local_add(0, v);
}

int
tg_dns_local_load(const char *path, struct tg_diag *diag)
{
	char line[LOCAL_LINE_MAX];
	int lineno = 0, errors = diag->errors;
	FILE *fp;
	size_t n;

	if ((fp = fopen(path, "r")) == NULL) {
		tg_diag_error(diag, path, 0, 0, "cannot open: %s",
		    strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, fp) != NULL) {
		lineno++;
		n = strlen(line);
		if (n > 0 && line[n - 1] != '\n' && !feof(fp)) {
			tg_diag_error(diag, path, lineno, 0, "line longer "
			    "than %d bytes", LOCAL_LINE_MAX - 2);
			while (fgets(line, sizeof line, fp) != NULL &&
			    line[strlen(line) - 1] != '\n')
				;
			continue;
		}
		line[strcspn(line, "\n")] = '\0';
		if (memchr(line, '\0', n > 0 ? n - 1 : 0) != NULL) {
			tg_diag_error(diag, path, lineno, 0, "NUL byte");
			continue;
		}
		local_strip(line);
		local_line(path, lineno, line, diag);
	}
	fclose(fp);
	if (diag->errors > errors)
		return -1;
	local_active = 1;
	return 0;
}

int
tg_dns_local_active(void)
{
	return local_active;
}

/* tg_dns_local_setup - a resolver context answering from the records: a
 * "." static zone under the file's zones and records, and no forwarder
 * (called by dns.c before the context's first lookup) */
int
tg_dns_local_setup(struct ub_ctx *ctx)
{
	int rc = 0, root = 0;

	/* The file may say what the root is itself (". refuse"). */
	for (size_t i = 0; i < local_n; i++)
		if (local_entries[i].zone &&
		    strncmp(local_entries[i].text, ". ", 2) == 0)
			root = 1;
	if (!root)
		rc = ub_ctx_set_option(ctx, "local-zone:", ". static");
	/* Should a query escape the local zones all the same, no server
	 * may be asked: it fails at once. */
	if (rc == 0)
		rc = ub_ctx_set_option(ctx, "do-not-query-address:",
		    "0.0.0.0/0");
	if (rc == 0)
		rc = ub_ctx_set_option(ctx, "do-not-query-address:", "::/0");
	for (size_t i = 0; rc == 0 && i < local_n; i++)
		rc = ub_ctx_set_option(ctx, local_entries[i].zone ?
		    "local-zone:" : "local-data:", local_entries[i].text);
	return rc;
}

void
tg_dns_local_clear(void)
{
	for (size_t i = 0; i < local_n; i++)
		free(local_entries[i].text);
	free(local_entries);
	local_entries = NULL;
	local_n = local_cap = 0;
	local_active = 0;
}
