/* Facts about the host that /info and /version report. Each call reads the
 * kernel's view afresh; none of them blocks on anything but procfs/sysfs. */
#ifndef SW_SYSINFO_H
#define SW_SYSINFO_H

#include <stddef.h>
#include <stdint.h>

struct sysinfo_host {
	char hostname[256];
	char kernel[256];       /* uname -r */
	char arch[128];         /* uname -m, e.g. x86_64 */
	char goarch[128];       /* Go's name for it, e.g. amd64 */
	char os_name[256];      /* PRETTY_NAME from os-release */
	char os_version[64];    /* VERSION_ID from os-release */
	int ncpu;
	int64_t mem_total;      /* bytes */
	int cgroup_version;     /* 1 or 2 */
};

/* Fills h; fields that cannot be read stay empty or 0. */
void sysinfo_read(struct sysinfo_host *h);

/* Number of open file descriptors of this process, -1 if unknown. */
int sysinfo_open_fds(void);

/* Number of threads of this process, -1 if unknown. */
int sysinfo_threads(void);

/* Reads KEY from an os-release style file into out (quotes removed).
 * Returns 0 when found, -1 otherwise. */
int sysinfo_os_release_value(const char *path, const char *key, char *out,
			     size_t n);

#endif
