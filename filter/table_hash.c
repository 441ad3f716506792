/* table_hash.c - list: and map: tables, exact case-insensitive keys.
 * One open-addressing hash table: every entry is a record in one arena
 * ("line" as 4 bytes, the lower-cased key, NUL, for map the value, NUL)
 * and the slots are 32-bit arena offsets, so 1,000,000 short entries cost
 * about 8 bytes of slots plus the text, with no malloc per entry.
 * Owns: arena and slots. Lookups return pointers into the arena.
 * Threads: read-only after table_hash_finish(). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_addr.h"
#include "table_impl.h"

/* The source line of each record is kept for the "first on line N" part
 * of a duplicate key error. */
#define HASH_LINE_SIZE	4

struct table_hash {
	int		 is_map;
	char		*arena;
	size_t		 used, cap;
	uint32_t	*slots;		/* record offset + 1; 0 = empty */
	size_t		 nslots;	/* a power of two */
	size_t		 count;
	int		 full;		/* "table too large" reported */
};

static char
table_hash_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* FNV-1a over the lower-cased bytes, then a final mix: FNV's low bits
 * alone cluster on keys that differ only at the end ("user1@", "user2@")
 * and the slot index uses the low bits. */
static uint32_t
table_hash_key(const char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)table_hash_lower(key[i]);
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (uint32_t)h;
}

static const char *
table_hash_rec_key(const struct table_hash *h, uint32_t slot)
{
	return h->arena + (slot - 1) + HASH_LINE_SIZE;
}

/* Slot index holding key, or of the empty slot where it would go. */
static size_t
table_hash_find(const struct table_hash *h, const char *key, size_t len)
{
	size_t mask = h->nslots - 1;
	size_t i = table_hash_key(key, len) & mask;

	for (;; i = (i + 1) & mask) {
		const char *k;
		size_t j;

		if (h->slots[i] == 0)
			return i;
		k = table_hash_rec_key(h, h->slots[i]);
		for (j = 0; j < len; j++)
			if (k[j] != table_hash_lower(key[j]))
				break;
		if (j == len && k[len] == '\0')
			return i;
	}
}

struct table_hash *
table_hash_new(int is_map)
{
	struct table_hash *h = tg_xcalloc(1, sizeof *h);

	h->is_map = is_map;
	h->nslots = 64;
	h->slots = tg_xcalloc(h->nslots, sizeof *h->slots);
	return h;
}

static void
table_hash_grow(struct table_hash *h)
{
	uint32_t *old = h->slots;
	size_t oldn = h->nslots;

	h->nslots *= 2;
	h->slots = tg_xcalloc(h->nslots, sizeof *h->slots);
	for (size_t i = 0; i < oldn; i++) {
		const char *k;

		if (old[i] == 0)
			continue;
		k = table_hash_rec_key(h, old[i]);
		h->slots[table_hash_find(h, k, strlen(k))] = old[i];
	}
	free(old);
}

/* Append a record; returns its offset + 1, or 0 when the arena would
 * pass what a 32-bit offset can address. */
static uint32_t
table_hash_append(struct table_hash *h, uint32_t line, const char *key,
    size_t klen, const char *val, size_t vlen)
{
	size_t need = HASH_LINE_SIZE + klen + 1 + (h->is_map ? vlen + 1 : 0);
	size_t off = h->used;
	char *p;

	if (need > UINT32_MAX - 1 - h->used)
		return 0;
	if (h->used + need > h->cap) {
		h->cap = h->cap ? h->cap * 2 : 4096;
		if (h->cap < h->used + need)
			h->cap = h->used + need;
		h->arena = tg_xrealloc(h->arena, h->cap);
	}
	p = h->arena + off;
	memcpy(p, &line, HASH_LINE_SIZE);
	p += HASH_LINE_SIZE;
	for (size_t i = 0; i < klen; i++)
		*p++ = table_hash_lower(key[i]);
	*p++ = '\0';
	if (h->is_map) {
		memcpy(p, val, vlen);
		p[vlen] = '\0';
	}
	h->used += need;
	return (uint32_t)(off + 1);
}

void
table_hash_add(struct table_hash *h, const char *line, size_t len,
    size_t col0, const struct table_pos *pos)
{
	const char *key = line + col0, *val = NULL;
	size_t klen = 0, vlen = 0, i, slot;
	uint32_t first, rec;
	char shown[128], canon[TABLE_LINE_MAX + 3];
	int quoted;

	while (col0 + klen < len && !table_is_blank(key[klen]))
		klen++;
	if (h->is_map) {
		for (i = col0 + klen; i < len && table_is_blank(line[i]); i++)
			;
		while (len > i && table_is_blank(line[len - 1]))
			len--;
		if (i == len) {
			tg_diag_error(pos->diag, pos->path, pos->line,
			    (int)(col0 + klen) + 1, "missing value after key");
			return;
		}
		val = line + i;
		vlen = len - i;
	}
	/* An address key is stored as addresses are looked up, its local
	 * part in its one spelling (addr.c): "alice"@x is alice@x, and
	 * a..b@x is "a..b"@x, else a blocked a..b@x would never match. A key
	 * with quotes that is no address is an error; one with '@' but no
	 * quotes that is no address stays as written. */
	quoted = memchr(key, '"', klen) != NULL;
	if (quoted || memchr(key, '@', klen) != NULL) {
		int n = tg_addr_canon_key(key, klen, canon, sizeof canon);

		if (n >= 0) {
			key = canon;
			klen = (size_t)n;
		} else if (quoted) {
			tg_diag_error(pos->diag, pos->path, pos->line,
			    (int)col0 + 1, "key with quotes that is not an "
			    "address with a quoted local part");
			return;
		}
	}
	slot = table_hash_find(h, key, klen);
	if (h->slots[slot] != 0) {
		memcpy(&first, h->arena + h->slots[slot] - 1, sizeof first);
		tg_diag_error(pos->diag, pos->path, pos->line, (int)col0 + 1,
		    "duplicate key \"%s\" (first on line %u)",
		    tg_str_printable(shown, sizeof shown,
		    table_hash_rec_key(h, h->slots[slot])), first);
		return;
	}
	if ((rec = table_hash_append(h, (uint32_t)pos->line, key, klen, val,
	    vlen)) == 0) {
		if (!h->full)
			tg_diag_error(pos->diag, pos->path, pos->line,
			    (int)col0 + 1, "table too large (4 GB of text)");
		h->full = 1;
		return;
	}
	h->slots[slot] = rec;
	/* Keep the load under 3/4: linear probing degrades fast above. */
	if (++h->count > h->nslots / 4 * 3)
		table_hash_grow(h);
}

void
table_hash_finish(struct table_hash *h)
{
	if (h->used < h->cap) {
		h->arena = tg_xrealloc(h->arena, h->used);
		h->cap = h->used;
	}
}

size_t
table_hash_count(const struct table_hash *h)
{
	return h->count;
}

int
table_hash_lookup(const struct table_hash *h, const char *key, size_t len,
    const char **value)
{
	size_t slot = table_hash_find(h, key, len);
	const char *k;

	if (h->slots[slot] == 0)
		return 0;
	if (value != NULL) {
		k = table_hash_rec_key(h, h->slots[slot]);
		*value = h->is_map ? k + len + 1 : "";
	}
	return 1;
}

/* Records lie one after the other in the arena, in file order. */
int
table_hash_each(const struct table_hash *h, table_value_fn *fn, void *arg)
{
	size_t off = 0;
	int rc;

	while (off < h->used) {
		const char *key = h->arena + off + HASH_LINE_SIZE;
		size_t klen = strlen(key);
		const char *val = h->is_map ? key + klen + 1 : "";
		uint32_t line;

		memcpy(&line, h->arena + off, sizeof line);
		if ((rc = fn(arg, val, (int)line)) != 0)
			return rc;
		off += HASH_LINE_SIZE + klen + 1 +
		    (h->is_map ? strlen(val) + 1 : 0);
	}
	return 0;
}

struct table_hash *
table_hash_free(struct table_hash *h)
{
	if (h == NULL)
		return NULL;
	free(h->arena);
	free(h->slots);
	free(h);
	return NULL;
}
