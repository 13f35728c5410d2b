/* daemon/lockfile: one swarmd per data-root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/lockfile.h"
#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/fsutil.h"

struct fixture {
	char *dir;
	char *lock;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	f->dir = xstrdup("/tmp/swarmd-ut-lock-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f->dir);
		free(f);
		return -1;
	}
	f->lock = xasprintf("%s/swarmd.lock", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int rc = 0;

	if (unlink(f->lock) == -1)
		rc = -1;
	if (rmdir(f->dir) == -1)
		rc = -1;
	free(f->lock);
	free(f->dir);
	free(f);
	return rc;
}

static void test_first_acquire(void **state)
{
	struct fixture *f = *state;
	struct sw_err err;
	struct buf b;
	char want[32];
	int fd;

	sw_err_clear(&err);
	fd = lockfile_acquire(f->dir, &err);
	if (fd < 0)
		fail_msg("acquire: %s", err.msg);
	/* The lock file holds our pid. */
	buf_init(&b);
	assert_int_equal(fsutil_read_file(f->lock, 64, &b, &err), 0);
	snprintf(want, sizeof(want), "%d\n", (int)getpid());
	assert_string_equal(b.data, want);
	buf_free(&b);
	assert_int_equal(close(fd), 0);
	/* Once closed, the lock can be taken again. */
	fd = lockfile_acquire(f->dir, &err);
	assert_true(fd >= 0);
	assert_int_equal(close(fd), 0);
}

/* The child exits 0 when its acquire failed as expected, else a code that
 * says what went wrong. */
static int child_try(const char *dir)
{
	struct sw_err err;
	char holder[64];
	int fd;

	sw_err_clear(&err);
	fd = lockfile_acquire(dir, &err);
	if (fd >= 0)
		return 10;
	if (err.kind != SW_ECONFLICT)
		return 11;
	if (strstr(err.msg, "in use by another swarmd") == NULL)
		return 12;
	snprintf(holder, sizeof(holder), "pid %d", (int)getppid());
	if (strstr(err.msg, holder) == NULL)
		return 13;
	if (strstr(err.msg, dir) == NULL)
		return 14;
	return 0;
}

static void test_second_acquire_from_child(void **state)
{
	struct fixture *f = *state;
	struct sw_err err;
	int fd, status = 0;
	pid_t pid;

	sw_err_clear(&err);
	fd = lockfile_acquire(f->dir, &err);
	assert_true(fd >= 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0)
		_exit(child_try(f->dir));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("child check failed with code %d",
			 WEXITSTATUS(status));
	/* The failed attempt did not clobber the holder's pid. */
	{
		struct buf b;
		char want[32];

		buf_init(&b);
		assert_int_equal(fsutil_read_file(f->lock, 64, &b, &err), 0);
		snprintf(want, sizeof(want), "%d\n", (int)getpid());
		assert_string_equal(b.data, want);
		buf_free(&b);
	}
	assert_int_equal(close(fd), 0);
}

/* flock locks belong to the open file description, so a second open in the
 * same process conflicts too. */
static void test_second_acquire_same_process(void **state)
{
	struct fixture *f = *state;
	struct sw_err err;
	int fd, fd2;

	sw_err_clear(&err);
	fd = lockfile_acquire(f->dir, &err);
	assert_true(fd >= 0);
	fd2 = lockfile_acquire(f->dir, &err);
	if (fd2 >= 0) {
		close(fd2);
		close(fd);
		fail_msg("second acquire in the same process succeeded");
	}
	assert_int_equal(fd2, -1);
	assert_int_equal(err.kind, SW_ECONFLICT);
	assert_non_null(strstr(err.msg, "in use by another swarmd"));
	assert_int_equal(close(fd), 0);
}

/* The lock descriptor is close-on-exec, so helpers we spawn do not keep the
 * data-root locked after we die. */
static void test_cloexec(void **state)
{
	struct fixture *f = *state;
	struct sw_err err;
	int fd, flags;

	sw_err_clear(&err);
	fd = lockfile_acquire(f->dir, &err);
	assert_true(fd >= 0);
	flags = fcntl(fd, F_GETFD);
	assert_true(flags != -1);
	assert_true(flags & FD_CLOEXEC);
	assert_int_equal(close(fd), 0);
}

static void test_missing_dir(void **state)
{
	struct fixture *f = *state;
	struct sw_err err;
	char *dir = xasprintf("%s/nosuch", f->dir);
	int fd;

	sw_err_clear(&err);
	fd = lockfile_acquire(dir, &err);
	assert_int_equal(fd, -1);
	assert_int_equal(err.kind, SW_ESYSTEM);
	assert_non_null(strstr(err.msg, dir));
	free(dir);
	/* Teardown expects the lock file; make one. */
	fd = lockfile_acquire(f->dir, &err);
	assert_true(fd >= 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_first_acquire, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_second_acquire_from_child,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_second_acquire_same_process,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cloexec, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_dir, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
