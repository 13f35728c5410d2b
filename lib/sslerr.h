/* OpenSSL errors into struct sw_err: the caller's words plus the drained
 * OpenSSL error queue (per thread, so stale entries never mislead the next
 * caller). */
#ifndef SW_SSLERR_H
#define SW_SSLERR_H

#include "lib/err.h"

/* Fills err with `what: <queue>` (or just `what` when the queue is empty),
 * empties the queue, and returns -kind. */
int sslerr_set(struct sw_err *err, enum sw_errkind kind, const char *what);

#endif
