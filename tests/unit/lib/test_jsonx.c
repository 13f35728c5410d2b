/* lib/jsonx: strict body parsing, typed getters, Go-style serialization. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lib/jsonx.h"

/* Parses a NUL-terminated text. */
static struct json_object *parse(const char *text, struct sw_err *err)
{
	sw_err_clear(err);
	return jsonx_parse(text, strlen(text), err);
}

/* Asserts text is rejected with SW_EINVALID. */
static void assert_rejected(const char *text)
{
	struct sw_err err;
	struct json_object *o = parse(text, &err);

	if (o != NULL) {
		json_object_put(o);
		fail_msg("accepted: %s", text);
	}
	assert_int_equal(err.kind, SW_EINVALID);
	assert_true(err.msg[0] != '\0');
}

static void assert_eof(const char *text, size_t len)
{
	struct sw_err err;
	struct json_object *o;

	sw_err_clear(&err);
	o = jsonx_parse(text, len, &err);
	if (o != NULL) {
		json_object_put(o);
		fail_msg("accepted: %.*s", (int)len, text);
	}
	assert_int_equal(err.kind, SW_EINVALID);
	assert_string_equal(err.msg, "unexpected EOF");
}

static void test_parse_object_with_newline(void **state)
{
	struct sw_err err;
	struct json_object *o = parse("{\"a\":1,\"b\":\"x\"}\n", &err);
	int64_t a = 0;
	const char *b = NULL;

	(void)state;
	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_object));
	assert_int_equal(jsonx_get_int64(o, "a", &a, &err), 1);
	assert_int_equal(a, 1);
	assert_int_equal(jsonx_get_string(o, "b", &b, &err), 1);
	assert_string_equal(b, "x");
	json_object_put(o);
	/* Surrounding white space of every kind. */
	o = parse(" \t\r\n{}\r\n\t ", &err);
	assert_non_null(o);
	json_object_put(o);
}

static void test_parse_only_len_bytes(void **state)
{
	struct sw_err err;
	const char text[] = "{\"a\":1}GARBAGE";
	struct json_object *o;

	(void)state;
	sw_err_clear(&err);
	o = jsonx_parse(text, 7, &err);
	assert_non_null(o);
	json_object_put(o);
}

static void test_empty_is_eof(void **state)
{
	(void)state;
	assert_eof("", 0);
	assert_eof("   \n", 4);
}

static void test_truncated_is_eof(void **state)
{
	(void)state;
	assert_eof("{\"a\":", 5);
	assert_eof("{", 1);
	assert_eof("[1,2", 4);
	assert_eof("{\"a\":\"unterminated", 18);
}

static void test_trailing_garbage_rejected(void **state)
{
	(void)state;
	assert_rejected("{\"a\":1}x");
	assert_rejected("{\"a\":1} {}");
	assert_rejected("{}\n}");
	assert_rejected("[1]]");
}

static void test_strict(void **state)
{
	(void)state;
	assert_rejected("{'a':1}");
	assert_rejected("{\"a\":'x'}");
	assert_rejected("{/* c */\"a\":1}");
	assert_rejected("{\"a\":1 // c\n}");
	assert_rejected("{\"a\":1,}");
	assert_rejected("[1,]");
	assert_rejected("{a:1}");
	assert_rejected("{\"a\":tru}");
	/* Go refuses raw control characters inside strings. */
	assert_rejected("{\"a\":\"x\x01y\"}");
	assert_rejected("{\"a\":\"x\ny\"}");
}

static void test_invalid_utf8_rejected(void **state)
{
	(void)state;
	assert_rejected("{\"a\":\"\xff\"}");
	assert_rejected("{\"a\":\"\xc3\"}");
	/* Valid multi-byte text passes. */
	{
		struct sw_err err;
		struct json_object *o = parse("{\"a\":\"caf\xc3\xa9\"}", &err);
		const char *s = NULL;

		assert_non_null(o);
		assert_int_equal(jsonx_get_string(o, "a", &s, &err), 1);
		assert_string_equal(s, "caf\xc3\xa9");
		json_object_put(o);
	}
}

static void test_bare_values(void **state)
{
	struct sw_err err;
	struct json_object *o;

	(void)state;
	o = parse("5", &err);
	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_int));
	assert_int_equal(json_object_get_int64(o), 5);
	json_object_put(o);

	o = parse("5\n", &err);
	assert_non_null(o);
	assert_int_equal(json_object_get_int64(o), 5);
	json_object_put(o);

	o = parse("true", &err);
	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_boolean));
	json_object_put(o);

	o = parse("\"s\"", &err);
	assert_non_null(o);
	assert_string_equal(json_object_get_string(o), "s");
	json_object_put(o);
}

/* A bare number of more than one digit, with no white space after it, is
 * finished by the tokener only on the second (NUL) chunk. */
static void test_bare_multidigit_number(void **state)
{
	struct sw_err err;
	struct json_object *o;

	(void)state;
	o = parse("12345", &err);
	if (o == NULL)
		fail_msg("\"12345\" rejected: %s", err.msg);
	assert_int_equal(json_object_get_int64(o), 12345);
	json_object_put(o);

	o = parse("-1.5", &err);
	if (o == NULL)
		fail_msg("\"-1.5\" rejected: %s", err.msg);
	assert_true(json_object_is_type(o, json_type_double));
	json_object_put(o);
}

static void test_getters(void **state)
{
	struct sw_err err;
	struct json_object *o =
	    parse("{\"s\":\"x\",\"b\":true,\"i\":-7,\"u\":18446744073709551615,"
		  "\"o\":{},\"a\":[1],\"n\":null,\"d\":1.5}",
		  &err);
	const char *s = "untouched";
	bool b = false;
	int64_t i = 0;
	uint64_t u = 0;
	struct json_object *sub = NULL;

	(void)state;
	assert_non_null(o);

	/* Present with the right type: 1 and the value. */
	assert_int_equal(jsonx_get_string(o, "s", &s, &err), 1);
	assert_string_equal(s, "x");
	assert_int_equal(jsonx_get_bool(o, "b", &b, &err), 1);
	assert_true(b);
	assert_int_equal(jsonx_get_int64(o, "i", &i, &err), 1);
	assert_int_equal(i, -7);
	assert_int_equal(jsonx_get_uint64(o, "u", &u, &err), 1);
	assert_true(u == UINT64_MAX);
	assert_int_equal(jsonx_get_object(o, "o", &sub, &err), 1);
	assert_true(json_object_is_type(sub, json_type_object));
	assert_int_equal(jsonx_get_array(o, "a", &sub, &err), 1);
	assert_true(json_object_is_type(sub, json_type_array));

	/* Absent or null: 0 and out untouched. */
	s = "untouched";
	assert_int_equal(jsonx_get_string(o, "missing", &s, &err), 0);
	assert_int_equal(jsonx_get_string(o, "n", &s, &err), 0);
	assert_string_equal(s, "untouched");
	b = false;
	assert_int_equal(jsonx_get_bool(o, "n", &b, &err), 0);
	assert_false(b);
	i = 42;
	assert_int_equal(jsonx_get_int64(o, "missing", &i, &err), 0);
	assert_int_equal(i, 42);
	sub = NULL;
	assert_int_equal(jsonx_get_object(o, "n", &sub, &err), 0);
	assert_int_equal(jsonx_get_array(o, "missing", &sub, &err), 0);
	assert_null(sub);

	/* Wrong type: -1 with SW_EINVALID naming the key. */
	sw_err_clear(&err);
	assert_int_equal(jsonx_get_string(o, "i", &s, &err), -1);
	assert_int_equal(err.kind, SW_EINVALID);
	assert_non_null(strstr(err.msg, "i"));
	sw_err_clear(&err);
	assert_int_equal(jsonx_get_bool(o, "s", &b, &err), -1);
	assert_int_equal(err.kind, SW_EINVALID);
	assert_int_equal(jsonx_get_int64(o, "d", &i, &err), -1);
	assert_int_equal(jsonx_get_int64(o, "s", &i, &err), -1);
	assert_int_equal(jsonx_get_uint64(o, "i", &u, &err), -1);
	assert_int_equal(jsonx_get_object(o, "a", &sub, &err), -1);
	assert_int_equal(jsonx_get_array(o, "o", &sub, &err), -1);
	assert_int_equal(jsonx_get_string(o, "b", &s, &err), -1);

	/* A non-object receiver has no keys. */
	assert_int_equal(jsonx_get_array(o, "a", &sub, &err), 1);
	assert_int_equal(jsonx_get_string(sub, "s", &s, &err), 0);
	assert_int_equal(jsonx_get_string(NULL, "s", &s, &err), 0);

	json_object_put(o);
}

/* Go refuses a number that does not fit int64 rather than clamping it. */
static void test_int64_out_of_range(void **state)
{
	struct sw_err err;
	struct json_object *o = parse("{\"u\":18446744073709551615}", &err);
	int64_t i = 0;
	int rc;

	(void)state;
	assert_non_null(o);
	sw_err_clear(&err);
	rc = jsonx_get_int64(o, "u", &i, &err);
	json_object_put(o);
	if (rc == 1)
		fail_msg("18446744073709551615 read as int64 %lld",
			 (long long)i);
	assert_int_equal(rc, -1);
	assert_int_equal(err.kind, SW_EINVALID);
}

static void test_to_body(void **state)
{
	struct json_object *o = json_object_new_object();
	struct json_object *arr = json_object_new_array();
	size_t len = 0;
	char *body;

	(void)state;
	jsonx_add_string(o, "path", "/a/b");
	jsonx_add_int64(o, "n", 10);
	jsonx_add_bool(o, "t", true);
	jsonx_add_string(o, "null", NULL);
	json_object_array_add(arr, json_object_new_string("x y"));
	json_object_array_add(arr, json_object_new_int(2));
	jsonx_add(o, "arr", arr);
	jsonx_add(o, "empty", json_object_new_object());

	body = jsonx_to_body(o, &len);
	assert_string_equal(body, "{\"path\":\"/a/b\",\"n\":10,\"t\":true,"
				  "\"null\":null,\"arr\":[\"x y\",2],"
				  "\"empty\":{}}\n");
	assert_int_equal(len, strlen(body));
	assert_int_equal(body[len - 1], '\n');
	free(body);

	/* len may be NULL. */
	body = jsonx_to_body(arr, NULL);
	assert_string_equal(body, "[\"x y\",2]\n");
	free(body);
	json_object_put(o);
}

static void test_to_body_escapes(void **state)
{
	struct json_object *o = json_object_new_object();
	char *body;

	(void)state;
	jsonx_add_string(o, "m", "say \"hi\"\\\n\t");
	body = jsonx_to_body(o, NULL);
	assert_string_equal(body, "{\"m\":\"say \\\"hi\\\"\\\\\\n\\t\"}\n");
	free(body);
	json_object_put(o);
}

static void test_add_replaces(void **state)
{
	struct json_object *o = json_object_new_object();
	char *body;

	(void)state;
	jsonx_add_string(o, "k", "one");
	jsonx_add_string(o, "k", "two");
	body = jsonx_to_body(o, NULL);
	assert_string_equal(body, "{\"k\":\"two\"}\n");
	free(body);
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_object_with_newline),
	    cmocka_unit_test(test_parse_only_len_bytes),
	    cmocka_unit_test(test_empty_is_eof),
	    cmocka_unit_test(test_truncated_is_eof),
	    cmocka_unit_test(test_trailing_garbage_rejected),
	    cmocka_unit_test(test_strict),
	    cmocka_unit_test(test_invalid_utf8_rejected),
	    cmocka_unit_test(test_bare_values),
	    cmocka_unit_test(test_bare_multidigit_number),
	    cmocka_unit_test(test_getters),
	    cmocka_unit_test(test_int64_out_of_range),
	    cmocka_unit_test(test_to_body),
	    cmocka_unit_test(test_to_body_escapes),
	    cmocka_unit_test(test_add_replaces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
