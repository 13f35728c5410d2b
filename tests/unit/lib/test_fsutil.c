/* lib/fsutil: mkdir -p, atomic write, bounded read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/fsutil.h"

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	char *dir = xstrdup("/tmp/swarmd-ut-fsutil-XXXXXX");

	if (mkdtemp(dir) == NULL) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static int teardown(void **state)
{
	char *dir = *state;
	int rc = nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);

	free(dir);
	return rc;
}

static bool is_dir(const char *path, unsigned *mode)
{
	struct stat st;

	if (stat(path, &st) == -1 || !S_ISDIR(st.st_mode))
		return false;
	if (mode != NULL)
		*mode = st.st_mode & 07777;
	return true;
}

static void test_mkdir_p_nested(void **state)
{
	const char *dir = *state;
	char *deep = xasprintf("%s/a/b/c", dir);
	char *mid = xasprintf("%s/a/b", dir);
	struct sw_err err;
	unsigned mode = 0;
	mode_t old = umask(022);

	sw_err_clear(&err);
	assert_int_equal(fsutil_mkdir_p(deep, 0711, &err), 0);
	assert_true(is_dir(deep, &mode));
	assert_int_equal(mode, 0711);
	assert_true(is_dir(mid, &mode));
	assert_int_equal(mode, 0711);
	/* Existing directories are fine, and a trailing slash too. */
	assert_int_equal(fsutil_mkdir_p(deep, 0711, &err), 0);
	free(deep);
	deep = xasprintf("%s/a/b/c/d/", dir);
	assert_int_equal(fsutil_mkdir_p(deep, 0755, &err), 0);
	assert_true(is_dir(deep, NULL));
	assert_int_equal(err.kind, SW_EOK);
	umask(old);
	free(deep);
	free(mid);
}

static void test_mkdir_p_through_file_fails(void **state)
{
	const char *dir = *state;
	char *file = xasprintf("%s/file", dir);
	char *below = xasprintf("%s/file/sub", dir);
	struct sw_err err;

	sw_err_clear(&err);
	assert_int_equal(fsutil_write_file(file, "x", &err), 0);
	assert_true(fsutil_mkdir_p(below, 0755, &err) < 0);
	assert_int_equal(err.kind, SW_ESYSTEM);
	assert_int_equal(err.sys, ENOTDIR);
	assert_non_null(strstr(err.msg, below));
	free(file);
	free(below);
}

/* Like mkdir -p: a path that exists as a file is an error (EEXIST), not a
 * directory that is already there. */
static void test_mkdir_p_on_file_fails(void **state)
{
	const char *dir = *state;
	char *file = xasprintf("%s/file", dir);
	struct sw_err err;
	int rc;

	sw_err_clear(&err);
	assert_int_equal(fsutil_write_file(file, "x", &err), 0);
	rc = fsutil_mkdir_p(file, 0755, &err);
	assert_false(is_dir(file, NULL));
	free(file);
	if (rc == 0)
		fail_msg("fsutil_mkdir_p over a regular file succeeded");
	assert_int_equal(err.kind, SW_ESYSTEM);
}

static void test_write_read_round_trip(void **state)
{
	const char *dir = *state;
	char *path = xasprintf("%s/f.json", dir);
	char *tmp = xasprintf("%s/f.json.tmp", dir);
	struct sw_err err;
	struct buf b;

	sw_err_clear(&err);
	buf_init(&b);
	assert_int_equal(fsutil_write_file(path, "{\"a\":1}\n", &err), 0);
	assert_int_equal(fsutil_read_file(path, 1024, &b, &err), 0);
	assert_int_equal(b.len, 8);
	assert_string_equal(b.data, "{\"a\":1}\n");
	/* The temporary file is gone after the rename. */
	assert_int_equal(access(tmp, F_OK), -1);
	/* Replacing shrinks the file. */
	assert_int_equal(fsutil_write_file(path, "z", &err), 0);
	buf_free(&b);
	assert_int_equal(fsutil_read_file(path, 1024, &b, &err), 0);
	assert_string_equal(b.data, "z");
	buf_free(&b);
	/* read_file appends. */
	buf_puts(&b, "pre:");
	assert_int_equal(fsutil_read_file(path, 1024, &b, &err), 0);
	assert_string_equal(b.data, "pre:z");
	buf_free(&b);
	free(path);
	free(tmp);
}

static void test_read_large_file(void **state)
{
	const char *dir = *state;
	char *path = xasprintf("%s/big", dir);
	size_t n = 3 * 4096 + 17;
	char *text = xmalloc(n + 1);
	struct sw_err err;
	struct buf b;

	memset(text, 'k', n);
	text[n] = '\0';
	sw_err_clear(&err);
	buf_init(&b);
	assert_int_equal(fsutil_write_file(path, text, &err), 0);
	/* Exactly max bytes is allowed. */
	assert_int_equal(fsutil_read_file(path, n, &b, &err), 0);
	assert_int_equal(b.len, n);
	assert_memory_equal(b.data, text, n);
	buf_free(&b);
	/* One more than max is an error. */
	assert_true(fsutil_read_file(path, n - 1, &b, &err) < 0);
	assert_int_equal(err.kind, SW_EINVALID);
	assert_non_null(strstr(err.msg, "too large"));
	assert_non_null(strstr(err.msg, path));
	buf_free(&b);
	free(text);
	free(path);
}

static void test_read_max_exceeded_small(void **state)
{
	const char *dir = *state;
	char *path = xasprintf("%s/small", dir);
	struct sw_err err;
	struct buf b;

	sw_err_clear(&err);
	buf_init(&b);
	assert_int_equal(fsutil_write_file(path, "12345", &err), 0);
	assert_true(fsutil_read_file(path, 4, &b, &err) < 0);
	assert_int_equal(err.kind, SW_EINVALID);
	buf_free(&b);
	free(path);
}

static void test_read_missing(void **state)
{
	const char *dir = *state;
	char *path = xasprintf("%s/nosuch", dir);
	struct sw_err err;
	struct buf b;

	sw_err_clear(&err);
	buf_init(&b);
	assert_true(fsutil_read_file(path, 100, &b, &err) < 0);
	assert_int_equal(err.kind, SW_ESYSTEM);
	assert_int_equal(err.sys, ENOENT);
	assert_non_null(strstr(err.msg, path));
	buf_free(&b);
	free(path);
}

/* Reading a directory is an I/O error (EISDIR), not an empty file. */
static void test_read_directory_fails(void **state)
{
	const char *dir = *state;
	struct sw_err err;
	struct buf b;
	int rc;

	sw_err_clear(&err);
	buf_init(&b);
	rc = fsutil_read_file(dir, 100, &b, &err);
	buf_free(&b);
	if (rc == 0)
		fail_msg("fsutil_read_file(%s) of a directory succeeded", dir);
	assert_int_equal(err.kind, SW_ESYSTEM);
}

static void test_write_into_missing_dir_fails(void **state)
{
	const char *dir = *state;
	char *path = xasprintf("%s/nosuchdir/f", dir);
	struct sw_err err;

	sw_err_clear(&err);
	assert_true(fsutil_write_file(path, "x", &err) < 0);
	assert_int_equal(err.kind, SW_ESYSTEM);
	assert_int_equal(err.sys, ENOENT);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_mkdir_p_nested, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_mkdir_p_through_file_fails,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mkdir_p_on_file_fails, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_write_read_round_trip, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_read_large_file, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_read_max_exceeded_small, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_read_missing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_directory_fails, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_write_into_missing_dir_fails,
					    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
