#include "lib/sysinfo.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

int sysinfo_os_release_value(const char *path, const char *key, char *out,
			     size_t n)
{
	char line[512];
	size_t klen = strlen(key);
	FILE *f = fopen(path, "r");
	int rc = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *v;
		size_t len;

		if (strncmp(line, key, klen) != 0 || line[klen] != '=')
			continue;
		v = line + klen + 1;
		len = strcspn(v, "\n");
		v[len] = '\0';
		if (len >= 2 && (v[0] == '"' || v[0] == '\'') &&
		    v[len - 1] == v[0]) {
			v[len - 1] = '\0';
			v++;
		}
		snprintf(out, n, "%s", v);
		rc = 0;
		break;
	}
	fclose(f);
	return rc;
}

static const char *go_arch(const char *machine)
{
	if (strcmp(machine, "x86_64") == 0)
		return "amd64";
	if (strcmp(machine, "aarch64") == 0)
		return "arm64";
	if (strcmp(machine, "i686") == 0 || strcmp(machine, "i386") == 0)
		return "386";
	return machine;
}

void sysinfo_read(struct sysinfo_host *h)
{
	struct utsname u;
	struct sysinfo si;
	struct statfs fs;

	memset(h, 0, sizeof(*h));
	if (gethostname(h->hostname, sizeof(h->hostname) - 1) != 0)
		h->hostname[0] = '\0';
	if (uname(&u) == 0) {
		snprintf(h->kernel, sizeof(h->kernel), "%s", u.release);
		snprintf(h->arch, sizeof(h->arch), "%s", u.machine);
		snprintf(h->goarch, sizeof(h->goarch), "%s",
			 go_arch(u.machine));
	}
	if (sysinfo_os_release_value("/etc/os-release", "PRETTY_NAME",
				     h->os_name, sizeof(h->os_name)) != 0)
		snprintf(h->os_name, sizeof(h->os_name), "Linux");
	sysinfo_os_release_value("/etc/os-release", "VERSION_ID",
				 h->os_version, sizeof(h->os_version));
	h->ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (sysinfo(&si) == 0)
		h->mem_total = (int64_t)si.totalram * si.mem_unit;
	h->cgroup_version = 1;
	if (statfs("/sys/fs/cgroup", &fs) == 0 &&
	    fs.f_type == CGROUP2_SUPER_MAGIC)
		h->cgroup_version = 2;
}

int sysinfo_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory stream's own descriptor */
}

int sysinfo_threads(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	int n = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}
