/* dns_impl.h - what dns.c gives the other files of the DNS layer that
 * drive c-ares themselves (dns_async.c): a channel set up as the
 * synchronous one is (servers, EDNS0, tries, timeouts), optionally
 * reporting its sockets to an event loop. Owns: nothing. Threads: a
 * channel is used by the thread that opened it only. */
#ifndef DNS_IMPL_H
#define DNS_IMPL_H

#include <ares.h>

#include "tg_dns.h"

/* 0, or -1 (logged once per struct tg_dns). cb NULL: no socket
 * callback (the caller polls, as tg_dns_resolve() does). */
int	tg_dns_channel_open(struct tg_dns *, ares_channel *,
	    ares_sock_state_cb cb, void *arg);

/* The RR type number of a query type. */
int	tg_dns_rrtype(enum tg_dns_type);

#endif
