/* tg_diag.h - configuration diagnostics, "file:line:col: error: text".
 * Owns: its message strings. Threads: one owner at a time. */
#ifndef TG_DIAG_H
#define TG_DIAG_H

#include <stddef.h>
#include "tg.h"

struct tg_diag {
	char	**msgs;		/* formatted lines, in the order found */
	size_t	  n, cap;
	int	  errors;	/* number of error lines */
};

void	tg_diag_init(struct tg_diag *);
void	tg_diag_free(struct tg_diag *);
/* line 0: "file: error: text"; col 0: "file:line: error: text". */
void	tg_diag_error(struct tg_diag *, const char *file, int line, int col,
	    const char *fmt, ...) TG_PRINTFLIKE(5, 6);

#endif
