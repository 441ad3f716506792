/* mime_impl.h - what mime.c (the streaming parser) and mime_entity.c (one
 * entity's header block) share; no other module includes it. */
#ifndef MIME_IMPL_H
#define MIME_IMPL_H

#include "tg_mime.h"

#define MIME_BOUNDARY_MAX 200		/* RFC 2046 says 70 */

enum mime_cte { MIME_RAW, MIME_B64, MIME_QP };

/* One entity (the message, a part, a message/rfc822 inside) as its header
 * block describes it. */
struct mime_entity {
	struct tg_mime_part	 part;	/* type, names; malformed and why;
					 * opaque: the fields contradict
					 * themselves, so nothing in them can
					 * be trusted */
	char	 boundary[MIME_BOUNDARY_MAX + 1];	/* multipart, else "" */
	int	 cte;		/* enum mime_cte, or -1 when unknown */
};

/* Parse the header block hdr (hlen bytes, fields separated by "\n",
 * folding as received; rewritten in place) into e, whose part.type holds
 * the default type on entry. */
void	tg_mime_entity_parse(char *hdr, size_t hlen, struct mime_entity *e);

#endif
