/* store_sentinel.h - which Redis master the Redis store talks to when
 * Sentinels name it (store_sentinel.c): the addresses, the order in which
 * the Sentinels are asked, their answers checked, the master forgotten
 * after a failure, and a switch told apart from a reconnection. No I/O,
 * no hiredis: the Check tests drive it without a socket. Internal to
 * filter/. Threads: none of its own; store_redis.c calls it under the
 * store's mutex. */
#ifndef STORE_SENTINEL_H
#define STORE_SENTINEL_H

#include <stddef.h>
#include <stdint.h>

#define TG_REDIS_HOST_MAX	256

struct tg_sentinel_state {
	int	 nsentinels;
	int	 first;		/* the one asked first next time: the last
				 * one that answered */
	int	 known;		/* host:port is the one to connect to */
	char	 host[TG_REDIS_HOST_MAX];
	int	 port;
	char	 last_host[TG_REDIS_HOST_MAX];	/* the last master found */
	int	 last_port;			/* by ROLE, even after a failure */
	char	 prev_host[TG_REDIS_HOST_MAX];	/* before the last switch */
	int	 prev_port;
	uint64_t switches;
};

/* "host:port" or "[v6]:port" into host and port: -1 unless the host is
 * 1 to hostsz-1 characters of letters, digits, '.', '-', '_' or ':' (in
 * brackets only) and the port is 1 to 65535 in decimal digits. */
int	tg_redis_addr_parse(const char *a, char *host, size_t hostsz,
	    int *port);

void	tg_sentinel_init(struct tg_sentinel_state *, int nsentinels);
/* The index of the i-th Sentinel to ask this round (0 <= i < n). */
int	tg_sentinel_order(const struct tg_sentinel_state *, int i);
/* A round ended without an answer after asking the first ntried: the
 * next round starts with the ones not asked (a Sentinel that hangs
 * must not use every round's time). */
void	tg_sentinel_skip(struct tg_sentinel_state *, int ntried);
/* Sentinel idx answered host and port (strings, as in the reply): -1
 * when they are not an address (the caller asks the next one), else 0
 * and host:port is the one to connect to (known). */
int	tg_sentinel_answer(struct tg_sentinel_state *, int idx,
	    const char *host, const char *port);
/* A connection to host:port found a master (ROLE): 1 when it is not the
 * master used before, a switch (counted, the old one in prev_*), 0 when
 * it is the same or the first. A switch counts only here, so that a
 * Sentinel naming a replica moves nothing. */
int	tg_sentinel_confirm(struct tg_sentinel_state *, const char *host,
	    int port);
/* The master failed (connection lost, not a master, READONLY): ask the
 * Sentinels again before the next connection, starting with the one
 * after the Sentinel that named it (it may be the one that is wrong). */
void	tg_sentinel_lost(struct tg_sentinel_state *);
/* A +switch-master message: "<name> <old ip> <old port> <new ip> <new
 * port>". When it names master name with a valid new address, that is
 * the one to connect to: 2 when it is not the master used last, 1 when
 * it is; else 0 (ignored). */
int	tg_sentinel_switch_msg(struct tg_sentinel_state *, const char *name,
	    const char *msg);
/* An error reply that means the server is no longer the master: READONLY
 * (a replica now), MASTERDOWN (a replica that lost its master). */
int	tg_sentinel_error_moves(const char *err);

#endif
