/* One swarmd per data-root: an exclusive flock on data-root/swarmd.lock,
 * held for the life of the process (the kernel drops it if we die). */
#ifndef SW_LOCKFILE_H
#define SW_LOCKFILE_H

#include "lib/err.h"

/* Takes the lock and records our pid in it. Returns the fd to keep open, or
 * -1 with err naming the holder's pid when another swarmd has it. */
int lockfile_acquire(const char *data_root, struct sw_err *err);

#endif
