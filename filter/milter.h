/* milter.h - the libmilter glue: callbacks that turn milter events into
 * session updates and engine verdicts into SMFIS_* answers. Daemon only.
 * Threads: callbacks run on libmilter's connection threads. */
#ifndef TG_MILTER_H
#define TG_MILTER_H

/* Register the callbacks with libmilter (smfi_register). Returns 0 or -1. */
int	tg_milter_register(void);

#endif
