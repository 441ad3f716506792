/* mproto_wire.h - the milter protocol's bytes (mproto_wire.c): buffers,
 * packets out, argument lists, connect information and macro lists in.
 * Threads: pure, on the caller's data. */
#ifndef MPROTO_WIRE_H
#define MPROTO_WIRE_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#include "mproto_impl.h"

/* Big-endian 32-bit integers, as the protocol writes them. */
uint32_t mp_get32(const void *);
void	mp_set32(void *, uint32_t);
/* Append a packet: command cmd with len bytes of data. */
void	mp_put(struct mp_buf *, char cmd, const void *data, size_t len);
/* Append a packet of [index (idx >= 0)] a NUL b NUL (b NULL: a only);
 * -1 when it would be longer than a packet may be. */
int	mp_put_strs(struct mp_buf *, char cmd, int idx, const char *a,
	    const char *b);
/* Split data into its NUL-terminated strings (at most max - 1), argv[n]
 * NULL; returns n. The strings point into data. */
size_t	mp_argv(const char *data, size_t len, const char **argv, size_t max);
/* A CONNECT packet: host name, and the address in *ss (*known 0 for the
 * family 'U', unknown). 0, or -1 when malformed. */
int	mp_connect_parse(const char *data, size_t len, const char **host,
	    struct sockaddr_storage *ss, int *known);
/* A macro packet ('D'): keep its list for its stage; -1 when it names no
 * stage that has macros (the packet is then ignored, as libmilter does). */
int	mp_macros_set(struct mp_macros **, const char *data, size_t len);
/* Forget the lists of stages from on (a new connect forgets everything
 * after connect, and so on). */
void	mp_macros_clear(struct mp_macros *, int from);
void	mp_macros_free(struct mp_macros *);
/* The value of macro name ("x" and "{x}" are the same), the latest stage
 * first; NULL when not sent. */
const char *mp_macros_get(const struct mp_macros *, const char *name);

#endif
