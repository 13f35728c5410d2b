#include "lib/fsutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>

#include "lib/alloc.h"

int fsutil_mkdir_p(const char *path, unsigned mode, struct sw_err *err)
{
	char *copy = xstrdup(path);
	int rc = 0;

	for (char *p = copy + 1; *p != '\0' && rc == 0; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, mode) == -1 && errno != EEXIST)
			rc = sw_err_sys(err, errno, "mkdir %s", copy);
		*p = '/';
	}
	if (rc == 0 && mkdir(copy, mode) == -1) {
		struct stat st;

		if (errno != EEXIST || stat(copy, &st) == -1)
			rc = sw_err_sys(err, errno, "mkdir %s", copy);
		else if (!S_ISDIR(st.st_mode))
			rc = sw_err_sys(err, ENOTDIR, "mkdir %s", copy);
	}
	free(copy);
	return rc;
}

int fsutil_write_file(const char *path, const char *text, struct sw_err *err)
{
	char *tmp = xasprintf("%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	int rc = 0;

	if (f == NULL) {
		rc = sw_err_sys(err, errno, "writing %s", tmp);
	} else {
		fputs(text, f);
		if (fclose(f) != 0)
			rc = sw_err_sys(err, errno, "writing %s", tmp);
		else if (rename(tmp, path) == -1)
			rc = sw_err_sys(err, errno, "renaming %s", tmp);
	}
	free(tmp);
	return rc;
}

int fsutil_read_file(const char *path, size_t max, struct buf *b,
		     struct sw_err *err)
{
	char chunk[4096];
	size_t n, total = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return sw_err_sys(err, errno, "opening %s", path);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		total += n;
		if (total > max) {
			fclose(f);
			return sw_err_set(err, SW_EINVALID,
					  "%s is too large", path);
		}
		buf_append(b, chunk, n);
	}
	if (ferror(f)) {
		int e = errno;

		fclose(f);
		return sw_err_sys(err, e, "reading %s", path);
	}
	fclose(f);
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	return remove(path);
}

int fsutil_remove_all(const char *path, struct sw_err *err)
{
	struct stat st;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : sw_err_sys(err, errno, "%s", path);
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		return sw_err_sys(err, errno, "removing %s", path);
	return 0;
}
