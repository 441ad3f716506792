/* tg.h - result codes, allocation and string helpers shared by every module.
 * Threads: all functions here are thread-safe. */
#ifndef TG_H
#define TG_H

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <unistd.h>

#define TG_PRINTFLIKE(f, a)	__attribute__((format(printf, f, a)))

/* Result codes: 0 is success, errors are negative. Predicates return
 * -1 (temporary failure), 0 (no) or 1 (yes) instead. */
#define TG_OK		0
#define TG_ERR_RETRY	(-1)	/* temporary: answer 4xx, the client retries */
#define TG_ERR_CONFIG	(-2)	/* the configuration is wrong */
#define TG_ERR_TOOLONG	(-3)	/* input longer than its bound */
#define TG_ERR_SYNTAX	(-4)	/* malformed input */
#define TG_ERR_IO	(-5)	/* a file could not be read */

/* Allocation: the x-variants abort on exhaustion (the MTA then applies its
 * milter default action, which the README tells operators to set to
 * tempfail), so callers never see NULL. */
void	*tg_xmalloc(size_t);
void	*tg_xcalloc(size_t, size_t);
void	*tg_xrealloc(void *, size_t);
char	*tg_xstrdup(const char *);
char	*tg_xstrndup(const char *, size_t);
char	*tg_xasprintf(const char *, ...) TG_PRINTFLIKE(1, 2);
void	*tg_free(void *);	/* frees, returns NULL */

/* Strings. */
size_t	 tg_strlcpy(char *, const char *, size_t);
void	 tg_str_lower(char *);
/* Copy src into dst (size dstsz) for a log line or a reply: bytes outside
 * printable ASCII become \xHH, the result is always terminated and
 * truncated with "..." when too long. Returns dst. */
char	*tg_str_printable(char *dst, size_t dstsz, const char *src);
int	 tg_str_iequal(const char *, const char *);
/* An RFC 2045 token character: ASCII, no space, control or tspecial. c is
 * an unsigned char's value (or EOF). */
int	 tg_str_token_char(int c);
/* The well-formed UTF-8 sequence at s (len bytes available): returns its
 * length and sets *cp, or returns 0 when s does not start one (a stray
 * byte, truncated, overlong, a surrogate or past U+10FFFF). */
size_t	 tg_utf8_decode(const char *s, size_t len, unsigned long *cp);

/* tg_pipe_wake - write one byte to a self-pipe (non-blocking) to wake the
 * thread reading it. Async-signal-safe; the caller of a signal handler
 * keeps errno. A full pipe (EAGAIN) already holds a wake-up: nothing is
 * lost, so that is not an error. */
static inline void
tg_pipe_wake(int fd, unsigned char b)
{
	while (write(fd, &b, 1) < 0 && errno == EINTR)
		;
}

#endif
