#include "daemon/lockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "lib/alloc.h"

static int holder_pid(int fd)
{
	char text[32] = {0};
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);

	return n > 0 ? atoi(text) : 0;
}

int lockfile_acquire(const char *data_root, struct sw_err *err)
{
	char *path = xasprintf("%s/swarmd.lock", data_root);
	char pid[32];
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	int n;

	if (fd == -1) {
		sw_err_sys(err, errno, "opening %s", path);
		free(path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		sw_err_set(err, SW_ECONFLICT,
			   "data-root %s is in use by another swarmd (pid %d, "
			   "lock %s); stop it or use another --data-root",
			   data_root, holder_pid(fd), path);
		close(fd);
		free(path);
		return -1;
	}
	free(path);
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, pid, (size_t)n, 0) != n) {
		sw_err_sys(err, errno, "writing the lock file");
		close(fd);
		return -1;
	}
	return fd;
}
