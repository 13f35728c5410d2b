/* lib/err: error values that never allocate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/err.h"

static void test_set_returns_minus_kind(void **state)
{
	struct sw_err err;

	(void)state;
	sw_err_clear(&err);
	err.sys = 5;
	err.status = 500;
	assert_int_equal(
	    sw_err_set(&err, SW_ENOTFOUND, "service %s not found", "nosuch"),
	    -SW_ENOTFOUND);
	assert_int_equal(err.kind, SW_ENOTFOUND);
	assert_string_equal(err.msg, "service nosuch not found");
	/* A new error does not inherit an old one's errno or status. */
	assert_int_equal(err.sys, 0);
	assert_int_equal(err.status, 0);
	assert_int_equal(sw_err_set(&err, SW_EINVALID, "x"), -1);
	assert_int_equal(sw_err_set(&err, SW_ESYSTEM, "x"), -10);
	assert_int_equal(sw_err_set(&err, SW_EUNAVAILABLE, "x"), -7);
}

static void test_sys(void **state)
{
	struct sw_err err;
	char want[600];

	(void)state;
	sw_err_clear(&err);
	assert_int_equal(sw_err_sys(&err, ENOENT, "opening %s", "/x"),
			 -SW_ESYSTEM);
	assert_int_equal(err.kind, SW_ESYSTEM);
	assert_int_equal(err.sys, ENOENT);
	snprintf(want, sizeof(want), "opening /x: %s", strerror(ENOENT));
	assert_string_equal(err.msg, want);
}

static void test_wrap(void **state)
{
	struct sw_err err;

	(void)state;
	sw_err_set(&err, SW_ECONFLICT, "name taken");
	err.status = 500;
	assert_int_equal(sw_err_wrap(&err, "creating %s", "web"),
			 -SW_ECONFLICT);
	assert_string_equal(err.msg, "creating web: name taken");
	assert_int_equal(err.kind, SW_ECONFLICT);
	assert_int_equal(err.status, 500);
	sw_err_wrap(&err, "outer");
	assert_string_equal(err.msg, "outer: creating web: name taken");
}

static void test_long_set_truncated(void **state)
{
	struct sw_err err;
	char big[2000];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	sw_err_set(&err, SW_EINVALID, "%s", big);
	assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
	assert_int_equal(strspn(err.msg, "a"), sizeof(err.msg) - 1);
	sw_err_sys(&err, EIO, "%s", big);
	assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
}

static void test_long_wrap_truncated(void **state)
{
	struct sw_err err;
	char big[2000];

	(void)state;
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	/* A full message with a prefix: the prefix wins, the tail is cut. */
	sw_err_set(&err, SW_EINVALID, "%s", big);
	sw_err_wrap(&err, "ctx");
	assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
	assert_memory_equal(err.msg, "ctx: bbb", 8);
	/* A prefix longer than the whole buffer. */
	sw_err_set(&err, SW_EINVALID, "cause");
	sw_err_wrap(&err, "%s", big);
	assert_true(strlen(err.msg) < sizeof(err.msg));
	assert_int_equal(err.msg[0], 'b');
}

static void test_clear(void **state)
{
	struct sw_err err;

	(void)state;
	sw_err_set(&err, SW_ENOTFOUND, "x");
	err.status = 404;
	sw_err_clear(&err);
	assert_int_equal(err.kind, SW_EOK);
	assert_int_equal(err.sys, 0);
	assert_int_equal(err.status, 0);
	assert_string_equal(err.msg, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_set_returns_minus_kind),
	    cmocka_unit_test(test_sys),
	    cmocka_unit_test(test_wrap),
	    cmocka_unit_test(test_long_set_truncated),
	    cmocka_unit_test(test_long_wrap_truncated),
	    cmocka_unit_test(test_clear),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
