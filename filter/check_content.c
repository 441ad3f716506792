/* check_content.c - values of the message content attributes: header
 * occurrences and decoded headers, and the MIME facts of each leaf part, read
 * by engine.c at end of message.
 * Owns: nothing. Threads: as the session it reads. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tg.h"
#include "tg_content.h"
#include "tg_log.h"
#include "tg_lookup.h"

/* The last of the content attributes in enum tg_attr. */
#define CONTENT_LAST	TG_A_ATT_NAME_SPOOFED

/* Archives by name and by declared type: their content is not looked at,
 * which is why operators block or hold them. */
static const char *const content_archive_ext[] = {
	"7z", "ace", "arj", "bz2", "cab", "gz", "img", "iso", "jar", "lha",
	"lz", "lzh", "r00", "rar", "tar", "tbz", "tbz2", "tgz", "txz", "uue",
	"vhd", "xz", "z", "zip", "zipx", "zst",
};
static const char *const content_archive_types[] = {
	"application/gzip", "application/java-archive",
	"application/vnd.ms-cab-compressed", "application/vnd.rar",
	"application/x-7z-compressed", "application/x-ace-compressed",
	"application/x-bzip2", "application/x-gzip",
	"application/x-iso9660-image", "application/x-rar",
	"application/x-rar-compressed", "application/x-tar",
	"application/x-xz", "application/x-zip-compressed",
	"application/zip", "application/zstd",
};

int
tg_content_attr(enum tg_attr a)
{
	return a >= TG_A_HEADER_OCCURS && a <= CONTENT_LAST;
}

int
tg_content_part_attr(enum tg_attr a)
{
	return a >= TG_A_ATT_NAME && a <= CONTENT_LAST;
}

int
tg_mime_wanted(const struct tg_policy *p)
{
	for (int a = TG_A_MIME_MALFORMED; a <= CONTENT_LAST; a++)
		if (tg_policy_uses(p, (enum tg_attr)a))
			return 1;
	return 0;
}

int
tg_content_per_part(const struct tg_expr *e)
{
	if (e == NULL)
		return 0;
	if (e->op >= TG_E_BOOL && (tg_content_part_attr(e->attr) ||
	    (e->vtable != NULL && tg_content_part_attr(e->vattr))))
		return 1;
	return tg_content_per_part(e->left) || tg_content_per_part(e->right);
}

static const struct tg_mime_name *
content_name(const struct tg_content_cur *c)
{
	if (c == NULL || c->part == NULL || c->name >= c->part->nnames)
		return NULL;
	return &c->part->names[c->name];
}

/* header.decoded: the first field of that name, decoded. */
static const char *
content_header_decoded(const struct tg_session *s, const char *name)
{
	for (size_t i = 0; i < s->nhdrs; i++)
		if (strcasecmp(s->hdrs[i].name, name) == 0)
			return s->hdrs[i].decoded != NULL ?
			    s->hdrs[i].decoded : s->hdrs[i].value;
	return NULL;
}

const char *
tg_content_str(const struct tg_session *s, const struct tg_content_cur *c,
    const struct tg_expr *e)
{
	const struct tg_mime_name *n = content_name(c);
	const struct tg_mime_part *p = c != NULL ? c->part : NULL;

	switch (e->attr) {
	case TG_A_HEADER_DECODED:
		return content_header_decoded(s, e->param);
	case TG_A_ATT_NAME:
		return n != NULL ? n->name : NULL;
	case TG_A_ATT_EXT:
		return n != NULL ? n->ext : NULL;
	case TG_A_ATT_INNER_EXT:
		return n != NULL ? n->inner : NULL;
	case TG_A_ATT_TYPE:
		return p != NULL && p->type[0] != '\0' ? p->type : NULL;
	case TG_A_ATT_SHA256:
		return p != NULL && p->sha256[0] != '\0' ? p->sha256 : NULL;
	default:
		return NULL;
	}
}

int
tg_content_num(const struct tg_session *s, const struct tg_content_cur *c,
    const struct tg_expr *e, long long *n)
{
	switch (e->attr) {
	case TG_A_HEADER_OCCURS:
		/* Fields past the caps were counted by name (session.c). */
		if ((*n = tg_session_header_lost(s, e->hname)) < 0)
			return -1;
		for (size_t i = 0; i < s->nhdrs; i++)
			if (strcasecmp(s->hdrs[i].name, e->param) == 0)
				(*n)++;
		return 0;
	case TG_A_MIME_PARTS:
		if (s->mime == NULL)
			return -1;
		*n = (long long)tg_mime_nparts(s->mime);
		return 0;
	case TG_A_ATT_SIZE:
		if (c == NULL || c->part == NULL)
			return -1;
		*n = c->part->size;
		return 0;
	default:
		return -1;
	}
}

static int
content_archive(const struct tg_content_cur *c)
{
	const struct tg_mime_name *n = content_name(c);

	for (size_t i = 0; n != NULL && i < sizeof content_archive_ext /
	    sizeof content_archive_ext[0]; i++)
		if (strcmp(n->ext, content_archive_ext[i]) == 0)
			return 1;
	for (size_t i = 0; i < sizeof content_archive_types /
	    sizeof content_archive_types[0]; i++)
		if (strcmp(c->part->type, content_archive_types[i]) == 0)
			return 1;
	return 0;
}

int
tg_content_bool(const struct tg_session *s, const struct tg_content_cur *c,
    const struct tg_expr *e)
{
	const char *v;
	long long n;

	switch (e->attr) {
	case TG_A_MIME_MALFORMED:
		return s->mime != NULL && tg_mime_malformed(s->mime, NULL);
	case TG_A_ATT_MALFORMED:
		return c != NULL && c->part != NULL && c->part->malformed;
	case TG_A_ATT_ARCHIVE:
		return c != NULL && c->part != NULL && content_archive(c);
	case TG_A_ATT_NAME_SPOOFED:
		return content_name(c) != NULL &&
		    content_name(c)->spoofed != NULL;
	default:
		if (tg_attrs[e->attr].type == TG_T_NUM)
			return tg_content_num(s, c, e, &n) == 0 && n != 0;
		v = tg_content_str(s, c, e);
		return v != NULL && *v != '\0';
	}
}

/* content_header_name - the header a condition reads, or NULL */
static const char *
content_header_name(const struct tg_expr *e)
{
	switch (e->attr) {
	case TG_A_HEADER:
	case TG_A_HEADER_DECODED:
	case TG_A_HEADER_OCCURS:
		return e->param;
	case TG_A_HEADER_FROM:
		return "From";
	case TG_A_HEADER_SENDER:
		return "Sender";
	default:
		return NULL;
	}
}

int
tg_content_header_lost(struct tg_session *s, const struct tg_expr *e)
{
	const char *name;
	long long lost;

	/* owned-by reads every From or Sender field: auth.c decides. */
	if (s->hdrs_dropped == 0 || e->op < TG_E_BOOL ||
	    e->op == TG_E_OWNED_BY || (name = content_header_name(e)) == NULL)
		return 0;
	/* A kept field is the first of its name (session.c), and the
	 * first is what header "X" reads. */
	if (e->attr != TG_A_HEADER_OCCURS &&
	    tg_session_header(s, name) != NULL)
		return 0;
	/* header.occurrences counts the fields not kept too (exact, or
	 * -1 when they were not counted by name). */
	if ((lost = tg_session_header_lost(s, e->hname)) == 0 ||
	    (lost > 0 && e->attr == TG_A_HEADER_OCCURS))
		return 0;
	if (!s->hdr_lost_logged) {
		s->hdr_lost_logged = 1;
		tg_log_warnx("%s: %s \"%s\" at line %d: %s %zu header "
		    "field(s) not kept (past %d fields or %d KiB); cannot "
		    "decide",
		    s->id, tg_attrs[e->attr].name, name, e->line, lost < 0 ?
		    "may be among the" : "is among the",
		    s->hdrs_dropped, TG_HEADER_MAX_COUNT,
		    TG_HEADER_MAX_BYTES / 1024);
	}
	return 1;
}

int
tg_content_suspicious(const struct tg_content_cur *c,
    const struct tg_expr *e)
{
	return c != NULL && c->part != NULL && c->part->opaque &&
	    tg_content_part_attr(e->attr);
}

int
tg_content_lookup_value(const struct tg_session *s,
    const struct tg_content_cur *c, const struct tg_expr *e,
    long long *num, const char **str)
{
	struct tg_expr key = { .op = TG_E_BOOL, .attr = e->vattr };
	const char *v = NULL;
	char buf[32];
	long long n;

	/* Keys take no parameter (checked by the parser). */
	if (tg_attrs[e->vattr].type == TG_T_NUM) {
		if (tg_content_num(s, c, &key, &n) == 0) {
			snprintf(buf, sizeof buf, "%lld", n);
			v = buf;
		}
	} else
		v = tg_content_str(s, c, &key);
	return tg_lookup_value_key(s, e, v, num, str);
}
