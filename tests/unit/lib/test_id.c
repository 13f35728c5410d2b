/* lib/id: 25-character base36 swarm IDs and 64-character hex IDs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "lib/id.h"

static void test_base36_zero(void **state)
{
	unsigned char bytes[16] = {0};
	char out[ID_SWARM_LEN + 1];

	(void)state;
	id_base36_128(bytes, out);
	assert_string_equal(out, "0000000000000000000000000");
	assert_int_equal(strlen(out), 25);
}

static void test_base36_max(void **state)
{
	unsigned char bytes[16];
	char out[ID_SWARM_LEN + 1];

	(void)state;
	memset(bytes, 0xff, sizeof(bytes));
	id_base36_128(bytes, out);
	/* python3: base36(int('f' * 32, 16)).rjust(25, '0') */
	assert_string_equal(out, "f5lxx1zz5pnorynqglhzmsp33");
}

static void test_base36_small_and_mixed(void **state)
{
	unsigned char bytes[16] = {0};
	char out[ID_SWARM_LEN + 1];

	(void)state;
	bytes[15] = 35;
	id_base36_128(bytes, out);
	assert_string_equal(out, "000000000000000000000000z");
	bytes[15] = 36;
	id_base36_128(bytes, out);
	assert_string_equal(out, "0000000000000000000000010");
	for (int i = 0; i < 16; i++)
		bytes[i] = (unsigned char)(i + 1);
	id_base36_128(bytes, out);
	/* python3: int('0102030405060708090a0b0c0d0e0f10', 16) in base36 */
	assert_string_equal(out, "025burfp0j7epb0hqfcuw340g");
	/* The input is not modified. */
	for (int i = 0; i < 16; i++)
		assert_int_equal(bytes[i], i + 1);
}

static void test_new_swarm_shape(void **state)
{
	char a[ID_SWARM_LEN + 1], b[ID_SWARM_LEN + 1];

	(void)state;
	id_new_swarm(a);
	id_new_swarm(b);
	assert_int_equal(strlen(a), 25);
	assert_int_equal(strspn(a, "0123456789abcdefghijklmnopqrstuvwxyz"), 25);
	assert_string_not_equal(a, b);
}

static void test_new_hex_shape(void **state)
{
	char a[ID_HEX_LEN + 1], b[ID_HEX_LEN + 1];

	(void)state;
	memset(a, 'X', sizeof(a));
	id_new_hex(a);
	id_new_hex(b);
	assert_int_equal(strlen(a), 64);
	assert_int_equal(strspn(a, "0123456789abcdef"), 64);
	assert_string_not_equal(a, b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base36_zero),
	    cmocka_unit_test(test_base36_max),
	    cmocka_unit_test(test_base36_small_and_mixed),
	    cmocka_unit_test(test_new_swarm_shape),
	    cmocka_unit_test(test_new_hex_shape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
