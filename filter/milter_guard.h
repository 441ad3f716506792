/* milter_guard.h - counting libmilter callbacks in and out, so that the
 * daemon can stop without pulling shared state from under a callback.
 * Daemon only. Threads: callbacks on libmilter's threads; close and wait
 * on the main thread after smfi_main(). */
#ifndef TG_MILTER_GUARD_H
#define TG_MILTER_GUARD_H

#include <libmilter/mfapi.h>

/* Wrap every callback of desc (before smfi_register). */
void	tg_milter_guard(struct smfiDesc *desc);
/* From now on a callback that starts does nothing: 4xx (abort and close:
 * continue). Then wait at most timeout_ms for the callbacks already
 * running; 0 when none is left, -1 when some still run. */
int	tg_milter_guard_close(int timeout_ms);

#endif
