/* lib/timefmt: Go's RFC 3339 with nanoseconds, trailing zeros trimmed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "lib/timefmt.h"

/* 2026-11-25T16:51:42Z, computed with python3's datetime. */
#define T_2026 INT64_C(1795625502)
#define NS INT64_C(1000000000)

static void test_zero_time(void **state)
{
	char out[64];

	(void)state;
	assert_ptr_equal(timefmt_utc(0, out, sizeof(out)), out);
	assert_string_equal(out, "0001-01-01T00:00:00Z");
}

static void test_trailing_zeros_trimmed(void **state)
{
	char out[64];

	(void)state;
	timefmt_utc(T_2026 * NS + 945782450, out, sizeof(out));
	assert_string_equal(out, "2026-11-25T16:51:42.94578245Z");
	timefmt_utc(T_2026 * NS + 500000000, out, sizeof(out));
	assert_string_equal(out, "2026-11-25T16:51:42.5Z");
}

static void test_all_nine_digits(void **state)
{
	char out[64];

	(void)state;
	timefmt_utc(T_2026 * NS + 123456789, out, sizeof(out));
	assert_string_equal(out, "2026-11-25T16:51:42.123456789Z");
	/* Leading zeros of the fraction stay. */
	timefmt_utc(T_2026 * NS + 1, out, sizeof(out));
	assert_string_equal(out, "2026-11-25T16:51:42.000000001Z");
}

static void test_whole_seconds_have_no_fraction(void **state)
{
	char out[64];

	(void)state;
	timefmt_utc(T_2026 * NS, out, sizeof(out));
	assert_string_equal(out, "2026-11-25T16:51:42Z");
	timefmt_utc(NS, out, sizeof(out));
	assert_string_equal(out, "1970-01-01T00:00:01Z");
}

static void test_small_buffer_truncates(void **state)
{
	char out[11];

	(void)state;
	memset(out, 'x', sizeof(out));
	timefmt_utc(T_2026 * NS + 945782450, out, sizeof(out));
	assert_string_equal(out, "2026-11-25");
}

static void test_now_is_recent(void **state)
{
	int64_t now = timefmt_now_ns();

	(void)state;
	/* After 2024-01-01 and before 2100-01-01. */
	assert_true(now > INT64_C(1704067200) * NS);
	assert_true(now < INT64_C(4102444800) * NS);
}

static void test_now_local_shape(void **state)
{
	char out[64];
	size_t n;

	(void)state;
	timefmt_now_local(out, sizeof(out));
	n = strlen(out);
	assert_true(n >= 20);
	assert_int_equal(out[4], '-');
	assert_int_equal(out[7], '-');
	assert_int_equal(out[10], 'T');
	assert_int_equal(out[13], ':');
	assert_int_equal(out[16], ':');
	assert_true(out[n - 1] == 'Z' ||
		    (n > 6 && (out[n - 6] == '+' || out[n - 6] == '-') &&
		     out[n - 3] == ':'));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_zero_time),
	    cmocka_unit_test(test_trailing_zeros_trimmed),
	    cmocka_unit_test(test_all_nine_digits),
	    cmocka_unit_test(test_whole_seconds_have_no_fraction),
	    cmocka_unit_test(test_small_buffer_truncates),
	    cmocka_unit_test(test_now_is_recent),
	    cmocka_unit_test(test_now_local_shape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
