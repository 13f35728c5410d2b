/* lib/buf: growable NUL-terminated byte buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"

static void test_append_and_puts(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	buf_append(&b, "abc", 3);
	buf_puts(&b, "def");
	assert_int_equal(b.len, 6);
	assert_string_equal(b.data, "abcdef");
	/* Binary bytes, including NUL, are kept; the text stays terminated. */
	buf_append(&b, "\0x", 2);
	assert_int_equal(b.len, 8);
	assert_memory_equal(b.data, "abcdef\0x", 8);
	assert_int_equal(b.data[8], '\0');
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
}

static void test_append_zero_terminates(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	buf_append(&b, "", 0);
	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	buf_free(&b);
}

static void test_growth(void **state)
{
	struct buf b;
	char chunk[100];

	(void)state;
	memset(chunk, 'q', sizeof(chunk));
	buf_init(&b);
	for (int i = 0; i < 1000; i++)
		buf_append(&b, chunk, sizeof(chunk));
	assert_int_equal(b.len, 100000);
	assert_true(b.cap > b.len);
	assert_int_equal(b.data[b.len], '\0');
	assert_int_equal(strspn(b.data, "q"), 100000);
	buf_free(&b);
}

static void test_printf(void **state)
{
	struct buf b;
	char big[300];

	(void)state;
	buf_init(&b);
	buf_printf(&b, "%s=%d", "n", 42);
	buf_printf(&b, ",%03d.%c", 2, '2');
	assert_string_equal(b.data, "n=42,002.2");
	assert_int_equal(b.len, strlen("n=42,002.2"));
	/* Longer than the first allocation. */
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_printf(&b, "[%s]", big);
	assert_int_equal(b.len, 10 + 2 + 299);
	assert_int_equal(b.data[10], '[');
	assert_int_equal(b.data[b.len - 1], ']');
	assert_int_equal(b.data[b.len], '\0');
	buf_free(&b);
}

static void test_printf_empty(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	buf_printf(&b, "%s", "");
	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void test_steal(void **state)
{
	struct buf b;
	char *s;

	(void)state;
	buf_init(&b);
	buf_puts(&b, "owned");
	s = buf_steal(&b);
	assert_string_equal(s, "owned");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	free(s);
	/* The buffer is reusable after a steal. */
	buf_puts(&b, "again");
	assert_string_equal(b.data, "again");
	buf_free(&b);
	/* An empty buffer yields an empty, freeable string. */
	s = buf_steal(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_append_and_puts),
	    cmocka_unit_test(test_append_zero_terminates),
	    cmocka_unit_test(test_growth),
	    cmocka_unit_test(test_printf),
	    cmocka_unit_test(test_printf_empty),
	    cmocka_unit_test(test_steal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
