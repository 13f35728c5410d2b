/* Removing a test's scratch directory (made with mkdtemp), whatever it
 * holds. */
#ifndef SW_TEST_TMPDIR_H
#define SW_TEST_TMPDIR_H

#include "lib/fsutil.h"

static inline void remove_dir(const char *dir)
{
	struct sw_err err;

	(void)fsutil_remove_all(dir, &err);
}

#endif
