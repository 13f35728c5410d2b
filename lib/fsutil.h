/* Small file-system helpers for start-up and configuration code (blocking;
 * not for use on the loop's hot paths). */
#ifndef SW_FSUTIL_H
#define SW_FSUTIL_H

#include <stddef.h>

#include "lib/buf.h"
#include "lib/err.h"

/* mkdir -p with the given mode for each created directory. */
int fsutil_mkdir_p(const char *path, unsigned mode, struct sw_err *err);

/* Replaces path's content with text (written to a temporary file, then
 * renamed, so readers never see half a file). */
int fsutil_write_file(const char *path, const char *text, struct sw_err *err);

/* Appends at most max bytes of path to b; more is an error. */
int fsutil_read_file(const char *path, size_t max, struct buf *b,
		     struct sw_err *err);

/* rm -rf path (no error when it does not exist). */
int fsutil_remove_all(const char *path, struct sw_err *err);

#endif
