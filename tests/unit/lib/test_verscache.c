/* lib/verscache.h */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/verscache.h"

static int freed;

static void count_free(void *v)
{
	freed++;
	free(v);
}

static char *val(const char *s)
{
	char *v = malloc(strlen(s) + 1);

	strcpy(v, s);
	return v;
}

static void test_versions_and_sweeps(void **state)
{
	struct verscache *c = verscache_new(count_free);
	char id[16];

	(void)state;
	freed = 0;
	assert_null(verscache_get(c, "a", 1));
	verscache_put(c, "a", 1, val("a1"));
	assert_string_equal(verscache_get(c, "a", 1), "a1");
	/* Another version: nothing, and a put replaces (frees) the old. */
	assert_null(verscache_get(c, "a", 2));
	verscache_put(c, "a", 2, val("a2"));
	assert_int_equal(freed, 1);
	assert_string_equal(verscache_get(c, "a", 2), "a2");
	verscache_drop(c, "a");
	assert_int_equal(freed, 2);
	assert_null(verscache_get(c, "a", 2));
	/* A sweep drops what nobody asked for since the last one. */
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "t%d", i);
		verscache_put(c, id, 7, val(id));
	}
	verscache_sweep(c);
	assert_int_equal(freed, 2);
	for (int i = 0; i < 10; i += 2) {
		snprintf(id, sizeof(id), "t%d", i);
		assert_non_null(verscache_get(c, id, 7));
	}
	verscache_sweep(c);
	assert_int_equal(freed, 2 + 5);
	assert_null(verscache_get(c, "t1", 7));
	assert_string_equal(verscache_get(c, "t2", 7), "t2");
	/* Once the unasked IDs are the majority the map is rebuilt. */
	verscache_sweep(c);
	verscache_sweep(c);
	assert_true(verscache_count(c) <= 6);
	assert_null(verscache_get(c, "t2", 7));
	verscache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_versions_and_sweeps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
