/* engine-api/filters: both filter forms, validation, lookups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "engine-api/filters.h"

/* True when e holds exactly the given values, in any order. */
static bool has_values(const struct filter_entry *e, size_t n,
		       const char *const *want)
{
	if (e == NULL || e->nvalues != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool found = false;

		for (size_t j = 0; j < e->nvalues && !found; j++)
			found = strcmp(e->values[j], want[i]) == 0;
		if (!found)
			return false;
	}
	return true;
}

static void test_cli_form(void **state)
{
	struct filters f;
	struct sw_err err;
	const char *const names[] = {"x"};
	const char *const services[] = {"a", "b"};

	(void)state;
	sw_err_clear(&err);
	assert_int_equal(filters_parse("{\"name\":{\"x\":true},"
				       "\"service\":{\"a\":true,\"b\":true}}",
				       &f, &err),
			 0);
	assert_int_equal(f.n, 2);
	assert_true(has_values(filters_get(&f, "name"), 1, names));
	assert_true(has_values(filters_get(&f, "service"), 2, services));
	assert_string_equal(filters_get(&f, "name")->key, "name");
	filters_free(&f);
	assert_null(f.entries);
	assert_int_equal(f.n, 0);
}

static void test_legacy_form(void **state)
{
	struct filters f;
	struct sw_err err;
	const char *const names[] = {"lg", "web"};

	(void)state;
	sw_err_clear(&err);
	assert_int_equal(filters_parse("{\"name\":[\"lg\",\"web\"]}", &f, &err),
			 0);
	assert_int_equal(f.n, 1);
	assert_true(has_values(filters_get(&f, "name"), 2, names));
	filters_free(&f);
}

static void test_mixed_forms(void **state)
{
	struct filters f;
	struct sw_err err;
	const char *const a[] = {"1"};
	const char *const b[] = {"2"};

	(void)state;
	sw_err_clear(&err);
	assert_int_equal(
	    filters_parse("{\"a\":[\"1\"],\"b\":{\"2\":true}}", &f, &err), 0);
	assert_true(has_values(filters_get(&f, "a"), 1, a));
	assert_true(has_values(filters_get(&f, "b"), 1, b));
	filters_free(&f);
}

static void test_false_values_kept(void **state)
{
	struct filters f;
	struct sw_err err;
	const char *const names[] = {"x", "y"};

	(void)state;
	sw_err_clear(&err);
	assert_int_equal(
	    filters_parse("{\"name\":{\"x\":false,\"y\":true}}", &f, &err), 0);
	assert_true(has_values(filters_get(&f, "name"), 2, names));
	filters_free(&f);
}

static void test_empty(void **state)
{
	struct filters f;
	struct sw_err err;

	(void)state;
	sw_err_clear(&err);
	f.n = 99;
	assert_int_equal(filters_parse(NULL, &f, &err), 0);
	assert_int_equal(f.n, 0);
	assert_null(filters_get(&f, "name"));
	filters_free(&f);
	f.n = 99;
	assert_int_equal(filters_parse("", &f, &err), 0);
	assert_int_equal(f.n, 0);
	filters_free(&f);
	assert_int_equal(filters_parse("{}", &f, &err), 0);
	assert_int_equal(f.n, 0);
	filters_free(&f);
	/* A null key is no filter on that key. */
	assert_int_equal(filters_parse("{\"name\":null}", &f, &err), 0);
	assert_null(filters_get(&f, "name"));
	filters_free(&f);
	assert_int_equal(err.kind, SW_EOK);
}

static void assert_parse_fails(const char *text)
{
	struct filters f;
	struct sw_err err;

	sw_err_clear(&err);
	if (filters_parse(text, &f, &err) == 0) {
		filters_free(&f);
		fail_msg("accepted: %s", text);
	}
	assert_int_equal(err.kind, SW_EINVALID);
	assert_true(err.msg[0] != '\0');
	/* Nothing is left to free after a failure. */
	assert_null(f.entries);
	assert_int_equal(f.n, 0);
}

static void test_bad_json(void **state)
{
	(void)state;
	assert_parse_fails("{bad");
	assert_parse_fails("{\"name\":");
	assert_parse_fails("{\"name\":{\"x\":true}}x");
	assert_parse_fails("{'name':{'x':true}}");
}

static void test_wrong_shapes(void **state)
{
	(void)state;
	assert_parse_fails("[\"name\"]");
	assert_parse_fails("\"name\"");
	assert_parse_fails("5");
	assert_parse_fails("{\"name\":\"x\"}");
	assert_parse_fails("{\"name\":5}");
	assert_parse_fails("{\"name\":{\"x\":\"yes\"}}");
	assert_parse_fails("{\"name\":{\"x\":1}}");
	assert_parse_fails("{\"name\":[1]}");
	assert_parse_fails("{\"name\":[null]}");
	/* A bad entry after good ones frees the good ones (ASan checks). */
	assert_parse_fails("{\"a\":[\"1\"],\"b\":{\"2\":true},\"c\":[2]}");
}

static void test_validate(void **state)
{
	static const char *const allowed[] = {"id", "name", "label", "mode",
					      NULL};
	struct filters f;
	struct sw_err err;

	(void)state;
	sw_err_clear(&err);
	assert_int_equal(filters_parse("{\"name\":{\"x\":true},"
				       "\"label\":[\"a=b\"]}",
				       &f, &err),
			 0);
	assert_int_equal(filters_validate(&f, allowed, &err), 0);
	filters_free(&f);

	assert_int_equal(filters_parse("{\"name\":{\"x\":true},"
				       "\"nosuchkey\":{\"y\":true}}",
				       &f, &err),
			 0);
	assert_int_equal(filters_validate(&f, allowed, &err), -1);
	assert_int_equal(err.kind, SW_EINVALID);
	assert_string_equal(err.msg, "Invalid filter 'nosuchkey'");
	filters_free(&f);

	/* Keys are case sensitive. */
	assert_int_equal(filters_parse("{\"Name\":[\"x\"]}", &f, &err), 0);
	assert_int_equal(filters_validate(&f, allowed, &err), -1);
	assert_string_equal(err.msg, "Invalid filter 'Name'");
	filters_free(&f);

	/* No filters validate against anything. */
	assert_int_equal(filters_parse(NULL, &f, &err), 0);
	assert_int_equal(filters_validate(&f, allowed, &err), 0);
}

static bool is_prefix_of(const char *value, const void *arg)
{
	return strncmp(arg, value, strlen(value)) == 0;
}

static void test_match_any(void **state)
{
	struct filters f;
	struct sw_err err;

	(void)state;
	sw_err_clear(&err);
	assert_int_equal(filters_parse("{\"name\":[\"lg\",\"web\"],"
				       "\"id\":{}}",
				       &f, &err),
			 0);
	assert_true(filters_match_any(&f, "name", is_prefix_of, "lgtty"));
	assert_true(filters_match_any(&f, "name", is_prefix_of, "web1"));
	assert_false(filters_match_any(&f, "name", is_prefix_of, "db"));
	/* A key the filter does not mention matches everything. */
	assert_true(filters_match_any(&f, "mode", is_prefix_of, "db"));
	/* So does a key with no values. */
	assert_true(filters_match_any(&f, "id", is_prefix_of, "db"));
	filters_free(&f);

	assert_int_equal(filters_parse(NULL, &f, &err), 0);
	assert_true(filters_match_any(&f, "name", is_prefix_of, "db"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cli_form),
	    cmocka_unit_test(test_legacy_form),
	    cmocka_unit_test(test_mixed_forms),
	    cmocka_unit_test(test_false_values_kept),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_bad_json),
	    cmocka_unit_test(test_wrong_shapes),
	    cmocka_unit_test(test_validate),
	    cmocka_unit_test(test_match_any),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
