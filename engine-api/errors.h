/* The only place that maps error kinds to HTTP statuses (moby's errdefs
 * mapping). An error's own status, when set, wins: Docker answers some
 * situations with a status its kind would not give (e.g. a stale version is
 * 500). */
#ifndef SW_API_ERRORS_H
#define SW_API_ERRORS_H

#include <stddef.h>

#include "lib/err.h"

unsigned api_error_status(const struct sw_err *err);

/* Builds Docker's error body {"message":"..."}\n; caller frees. */
char *api_error_body(const char *message, size_t *len);

#endif
