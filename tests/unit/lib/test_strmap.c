/* lib/strmap.h */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "lib/strmap.h"

static void test_slots_and_growth(void **state)
{
	struct strmap *m = strmap_new();
	char key[32];

	(void)state;
	assert_null(strmap_find(m, "a"));
	*strmap_slot(m, "a") += 2;
	*strmap_slot(m, "a") += 3;
	assert_int_equal(*strmap_find(m, "a"), 5);
	/* Enough keys to grow several times; every value survives. */
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "node-%d", i);
		*strmap_slot(m, key) = i * 7;
	}
	assert_int_equal(strmap_count(m), 1001);
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "node-%d", i);
		assert_int_equal(*strmap_find(m, key), i * 7);
	}
	assert_null(strmap_find(m, "node-1000"));
	assert_int_equal(*strmap_find(m, "a"), 5);
	strmap_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots_and_growth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
