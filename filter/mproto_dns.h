/* mproto_dns.h - DNS on the native engine's event loops (mproto_dns.c):
 * a command whose stage waits on the DNS checks alone is parked on its
 * loop while the lookups its rules may make are sent on the loop's own
 * c-ares channel; then it runs there. Threads: one instance per loop,
 * used by that loop's thread only. */
#ifndef MPROTO_DNS_H
#define MPROTO_DNS_H

#include <stdint.h>

struct mp_dns;
struct mp_sess;

struct mp_dns *mp_dns_new(int epfd);
/* After the loop's sessions are freed. */
void	mp_dns_free(struct mp_dns *);
/* An epoll tag of its sockets? Then hand the events over. */
int	mp_dns_owns(const struct mp_dns *, const void *tag);
void	mp_dns_event(struct mp_dns *, void *tag, unsigned events);
/* Park s (busy, its command at the start of s->in): its lookups are
 * sent now. 0, or -1 when they cannot be planned (a worker runs it). */
int	mp_dns_park(struct mp_dns *, struct mp_sess *s, int64_t now);
/* Retries, timeouts, next rounds; the ms until it must be called again
 * (-1: nothing waits). */
int	mp_dns_tick(struct mp_dns *, int64_t now);
/* A parked session whose answers are all in, or NULL; then
 * mp_dns_run() runs its command here, with its answers. */
struct mp_sess *mp_dns_ready(struct mp_dns *);
void	mp_dns_run(struct mp_sess *);
/* s goes while parked: its lookups are forgotten. */
void	mp_dns_drop(struct mp_sess *);
/* The daemon stops: every parked session is ready now (its command gets
 * the stopping tempfail without asking anything). */
void	mp_dns_stop(struct mp_dns *);

#endif
