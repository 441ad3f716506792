/* dns_book.c - a session's answer book: copies of the DNS answers an
 * event loop looked up ahead for one evaluation (tg_dns.h), found by
 * name and type. A few entries (the questions of one stage's checks:
 * a dozen at most for the shipped policies), so a short array scanned in
 * order. Owns: its copies. Threads: one at a time (the loop's). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tg.h"
#include "tg_dns.h"

struct tg_dns_book {
	struct tg_dns_query	*q;
	size_t			 n, cap;
};

struct tg_dns_book *
tg_dns_book_new(void)
{
	return tg_xcalloc(1, sizeof(struct tg_dns_book));
}

/* book_copy - q's answer into to (strings duplicated) */
static void
book_copy(struct tg_dns_query *to, const struct tg_dns_query *q)
{
	memcpy(to->name, q->name, sizeof to->name);
	to->type = q->type;
	to->status = q->status;
	to->n = q->n;
	to->ttl = q->ttl;
	for (size_t i = 0; i < q->n; i++) {
		if (q->type == TG_DNS_A || q->type == TG_DNS_AAAA)
			to->ip[i] = q->ip[i];
		else
			to->str[i] = tg_xstrdup(q->str[i]);
	}
}

/* book_clear - an entry's strings (as tg_dns_query_clear(), which is
 * dns.c's: this file calls nothing above it) */
static void
book_clear(struct tg_dns_query *q)
{
	for (size_t i = 0; q->type != TG_DNS_A && q->type != TG_DNS_AAAA &&
	    i < q->n; i++)
		q->str[i] = tg_free(q->str[i]);
	q->n = 0;
}

struct tg_dns_book *
tg_dns_book_free(struct tg_dns_book *bk)
{
	if (bk == NULL)
		return NULL;
	for (size_t i = 0; i < bk->n; i++)
		book_clear(&bk->q[i]);
	free(bk->q);
	free(bk);
	return NULL;
}

const struct tg_dns_query *
tg_dns_book_find(const struct tg_dns_book *bk, const char *name,
    enum tg_dns_type type)
{
	for (size_t i = 0; bk != NULL && i < bk->n; i++)
		if (bk->q[i].type == type &&
		    strcasecmp(bk->q[i].name, name) == 0)
			return &bk->q[i];
	return NULL;
}

void
tg_dns_book_put(struct tg_dns_book *bk, const struct tg_dns_query *q)
{
	struct tg_dns_query *e;

	if ((e = (struct tg_dns_query *)tg_dns_book_find(bk, q->name,
	    q->type)) != NULL)
		book_clear(e);
	else {
		if (bk->n == bk->cap) {
			bk->cap = bk->cap ? bk->cap * 2 : 8;
			bk->q = tg_xrealloc(bk->q, bk->cap * sizeof *bk->q);
		}
		e = &bk->q[bk->n++];
	}
	book_copy(e, q);
}

int
tg_dns_book_get(const struct tg_dns_book *bk, struct tg_dns_query *q)
{
	const struct tg_dns_query *e = tg_dns_book_find(bk, q->name, q->type);

	if (e == NULL)
		return 0;
	book_copy(q, e);
	return 1;
}
