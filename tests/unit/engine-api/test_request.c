/* engine-api/request: Go-style boolean query values (CONTRACT §14). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine-api/request.h"

static void test_false_values(void **state)
{
	static const char *const falsy[] = {
	    "",   "0",    "no",        "false", "none", "False", " FALSE ",
	    "NO", "None", "\tfalse\n", "  ",    "nOnE", "FALSE",
	};

	(void)state;
	assert_false(api_parse_bool(NULL));
	for (size_t i = 0; i < sizeof(falsy) / sizeof(falsy[0]); i++)
		if (api_parse_bool(falsy[i]))
			fail_msg("\"%s\" read as true", falsy[i]);
}

static void test_true_values(void **state)
{
	static const char *const truthy[] = {
	    "1",
	    "true",
	    "True",
	    "TRUE",
	    "yes",
	    "anything",
	    "2",
	    "-1",
	    "on",
	    "off",
	    "f",
	    "n",
	    "00",
	    "nope",
	    "false1",
	    "no no",
	    "falsefalsefalsefalse",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(truthy) / sizeof(truthy[0]); i++)
		if (!api_parse_bool(truthy[i]))
			fail_msg("\"%s\" read as false", truthy[i]);
}

/* A long value whose first characters spell a false word is still true. */
static void test_long_value_not_truncated(void **state)
{
	(void)state;
	assert_true(api_parse_bool("false               x"));
	assert_true(api_parse_bool("none                            y"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_false_values),
	    cmocka_unit_test(test_true_values),
	    cmocka_unit_test(test_long_value_not_truncated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
