/* lib/strmap.h */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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

/* Removing keeps every other key findable (no cut probe chains), and the
 * walk visits each key once. */
static void test_remove_and_walk(void **state)
{
	struct strmap *m = strmap_new();
	char key[32];
	size_t pos = 0, seen = 0;
	const char *k;
	int64_t v;

	(void)state;
	for (int i = 0; i < 500; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		*strmap_slot(m, key) = i;
	}
	for (int i = 0; i < 500; i += 3) {
		snprintf(key, sizeof(key), "k%d", i);
		strmap_remove(m, key);
	}
	strmap_remove(m, "absent");
	assert_int_equal(strmap_count(m), 500 - 167);
	for (int i = 0; i < 500; i++) {
		const int64_t *f;

		snprintf(key, sizeof(key), "k%d", i);
		f = strmap_find(m, key);
		if (i % 3 == 0) {
			assert_null(f);
		} else {
			assert_non_null(f);
			assert_int_equal(*f, i);
		}
	}
	while ((k = strmap_next(m, &pos, &v)) != NULL) {
		assert_int_equal(atoi(k + 1), v);
		assert_int_not_equal(v % 3, 0);
		seen++;
	}
	assert_int_equal(seen, 500 - 167);
	strmap_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots_and_growth),
		cmocka_unit_test(test_remove_and_walk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
