/* engine-api/errors: kind → HTTP status, and Docker's error body. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "engine-api/errors.h"

static unsigned status_of(enum sw_errkind kind)
{
	struct sw_err err;

	sw_err_clear(&err);
	sw_err_set(&err, kind, "x");
	return api_error_status(&err);
}

static void test_status_by_kind(void **state)
{
	(void)state;
	assert_int_equal(status_of(SW_EINVALID), 400);
	assert_int_equal(status_of(SW_ENOTFOUND), 404);
	assert_int_equal(status_of(SW_ECONFLICT), 409);
	assert_int_equal(status_of(SW_EUNAUTHORIZED), 401);
	assert_int_equal(status_of(SW_EFORBIDDEN), 403);
	assert_int_equal(status_of(SW_ENOTMODIFIED), 304);
	assert_int_equal(status_of(SW_EUNAVAILABLE), 503);
	assert_int_equal(status_of(SW_ENOTIMPL), 501);
	assert_int_equal(status_of(SW_ETOOLARGE), 413);
	assert_int_equal(status_of(SW_ESYSTEM), 500);
	assert_int_equal(status_of(SW_EOK), 500);
}

static void test_sys_error_is_500(void **state)
{
	struct sw_err err;

	(void)state;
	sw_err_sys(&err, 2, "opening x");
	assert_int_equal(api_error_status(&err), 500);
}

static void test_status_override_wins(void **state)
{
	struct sw_err err;

	(void)state;
	/* A stale ?version= is a conflict Docker answers with 500. */
	sw_err_set(&err, SW_ECONFLICT,
		   "rpc error: code = Unknown desc = update out of sequence");
	err.status = 500;
	assert_int_equal(api_error_status(&err), 500);
	/* Network create outside a swarm: 503's text, but 500. */
	sw_err_set(&err, SW_EUNAVAILABLE, "This node is not a swarm manager.");
	err.status = 500;
	assert_int_equal(api_error_status(&err), 500);
	sw_err_set(&err, SW_ESYSTEM, "invalid join token");
	err.status = 400;
	assert_int_equal(api_error_status(&err), 400);
	/* The override survives wrapping. */
	sw_err_wrap(&err, "joining");
	assert_int_equal(api_error_status(&err), 400);
}

static void test_body(void **state)
{
	size_t len = 0;
	char *body = api_error_body("x", &len);

	(void)state;
	assert_string_equal(body, "{\"message\":\"x\"}\n");
	assert_int_equal(len, strlen("{\"message\":\"x\"}\n"));
	free(body);
	body = api_error_body("service nosuch not found", NULL);
	assert_string_equal(body,
			    "{\"message\":\"service nosuch not found\"}\n");
	free(body);
}

static void test_body_escapes(void **state)
{
	size_t len = 0;
	char *body;

	(void)state;
	body = api_error_body("Use \"docker swarm leave\" to leave", &len);
	assert_string_equal(body, "{\"message\":\"Use \\\"docker swarm "
				  "leave\\\" to leave\"}\n");
	assert_int_equal(len, strlen(body));
	free(body);
	body = api_error_body("a\\b\nc/d", NULL);
	assert_string_equal(body, "{\"message\":\"a\\\\b\\nc/d\"}\n");
	free(body);
	body = api_error_body("", NULL);
	assert_string_equal(body, "{\"message\":\"\"}\n");
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_status_by_kind),
	    cmocka_unit_test(test_sys_error_is_500),
	    cmocka_unit_test(test_status_override_wins),
	    cmocka_unit_test(test_body),
	    cmocka_unit_test(test_body_escapes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
