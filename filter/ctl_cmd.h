/* ctl_cmd.h - what the operator commands on stores share (rate_ctl.c,
 * grey_ctl.c): splitting a command line into words, writing the reply.
 * Owns: nothing. Threads: reentrant. */
#ifndef CTL_CMD_H
#define CTL_CMD_H

#include <stddef.h>

#include "tg.h"

/* tg_ctl_say - format the reply into out (cut to outsz); returns rc */
int	tg_ctl_say(char *out, size_t outsz, int rc, const char *fmt, ...)
	    TG_PRINTFLIKE(4, 5);
/* tg_ctl_split - the words of line (split in place on blanks) into w;
 * their number, or -1 when there are more than max */
int	tg_ctl_split(char *line, char **w, int max);

#endif
