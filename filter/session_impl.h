/* session_impl.h - what session.c (the session's life) and session_hdr.c
 * (its header fields) share; no other module includes it. Threads: as
 * tg_session.h. */
#ifndef SESSION_IMPL_H
#define SESSION_IMPL_H

#include <stddef.h>
#include "tg_session.h"

/* Free the strings of n header entries (not the array). */
void	session_headers_free(struct tg_header *h, size_t n);

#endif
