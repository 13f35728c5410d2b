/* The pure half of cri/grpc.c: frames, status headers, percent-decoding,
 * grpc-timeout values and the code → error-kind map. No sockets, no loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cri/grpc.h"

/* ---- frames ---- */

static void test_encode(void **state)
{
	struct buf b;
	const uint8_t want[] = {0, 0, 0, 0, 3, 'a', 'b', 'c'};

	buf_init(&b);
	grpc_frame_encode(&b, "abc", 3);
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	buf_free(&b);
}

static void test_encode_empty(void **state)
{
	struct buf b;
	const uint8_t want[] = {0, 0, 0, 0, 0};

	buf_init(&b);
	grpc_frame_encode(&b, NULL, 0);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.data, want, 5);
	buf_free(&b);
}

static void test_encode_big_endian(void **state)
{
	struct buf b;
	static uint8_t msg[0x10203];

	buf_init(&b);
	grpc_frame_encode(&b, msg, sizeof(msg));
	assert_int_equal((uint8_t)b.data[1], 0x00);
	assert_int_equal((uint8_t)b.data[2], 0x01);
	assert_int_equal((uint8_t)b.data[3], 0x02);
	assert_int_equal((uint8_t)b.data[4], 0x03);
	assert_int_equal(b.len, 5 + sizeof(msg));
	buf_free(&b);
}

static void test_decode_round_trip(void **state)
{
	struct buf b;
	struct grpc_frame f;
	struct sw_err err;

	buf_init(&b);
	grpc_frame_encode(&b, "hello", 5);
	assert_int_equal(grpc_frame_decode(b.data, b.len, 100, &f, &err), 1);
	assert_int_equal(f.len, 5);
	assert_int_equal(f.size, 10);
	assert_memory_equal(f.msg, "hello", 5);
	buf_free(&b);
}

/* Every strict prefix of a frame asks for more bytes. */
static void test_decode_partial(void **state)
{
	struct buf b;
	struct grpc_frame f;
	struct sw_err err;
	size_t n;

	buf_init(&b);
	grpc_frame_encode(&b, "hello", 5);
	for (n = 0; n < b.len; n++)
		assert_int_equal(grpc_frame_decode(b.data, n, 100, &f, &err),
				 0);
	buf_free(&b);
}

static void test_decode_zero_length(void **state)
{
	const uint8_t frame[] = {0, 0, 0, 0, 0};
	struct grpc_frame f;
	struct sw_err err;

	assert_int_equal(grpc_frame_decode(frame, 5, 100, &f, &err), 1);
	assert_int_equal(f.len, 0);
	assert_int_equal(f.size, 5);
}

static void test_decode_two_frames(void **state)
{
	struct buf b;
	struct grpc_frame f;
	struct sw_err err;

	buf_init(&b);
	grpc_frame_encode(&b, "ab", 2);
	grpc_frame_encode(&b, "cde", 3);
	assert_int_equal(grpc_frame_decode(b.data, b.len, 100, &f, &err), 1);
	assert_int_equal(f.len, 2);
	assert_int_equal(
	    grpc_frame_decode(b.data + f.size, b.len - f.size, 100, &f, &err),
	    1);
	assert_int_equal(f.len, 3);
	assert_memory_equal(f.msg, "cde", 3);
	buf_free(&b);
}

/* A declared length over the limit fails at once, before the body. */
static void test_decode_oversized(void **state)
{
	const uint8_t huge[] = {0, 0xff, 0xff, 0xff, 0xff};
	const uint8_t just[] = {0, 0, 0, 0, 101};
	const uint8_t at[] = {0, 0, 0, 0, 100};
	struct grpc_frame f;
	struct sw_err err;

	assert_int_equal(grpc_frame_decode(huge, 5, 100, &f, &err),
			 -SW_ESYSTEM);
	assert_int_equal(err.kind, SW_ESYSTEM);
	assert_non_null(strstr(err.msg, "exceeds"));
	assert_int_equal(grpc_frame_decode(just, 5, 100, &f, &err),
			 -SW_ESYSTEM);
	assert_int_equal(grpc_frame_decode(at, 5, 100, &f, &err), 0);
}

static void test_decode_compressed(void **state)
{
	const uint8_t frame[] = {1, 0, 0, 0, 1, 'x'};
	struct grpc_frame f;
	struct sw_err err;

	assert_int_equal(grpc_frame_decode(frame, sizeof(frame), 100, &f, &err),
			 -SW_ESYSTEM);
	assert_non_null(strstr(err.msg, "flags"));
}

static void test_unary_reply(void **state)
{
	struct buf b;
	struct grpc_frame f;
	struct sw_err err;

	buf_init(&b);
	assert_int_equal(grpc_unary_reply("", 0, 100, &f, &err), -SW_ESYSTEM);
	assert_non_null(strstr(err.msg, "no message"));
	grpc_frame_encode(&b, "abc", 3);
	assert_int_equal(grpc_unary_reply(b.data, b.len - 1, 100, &f, &err),
			 -SW_ESYSTEM);
	assert_non_null(strstr(err.msg, "truncated"));
	assert_int_equal(grpc_unary_reply(b.data, b.len, 100, &f, &err), 0);
	assert_int_equal(f.len, 3);
	grpc_frame_encode(&b, "x", 1);
	assert_int_equal(grpc_unary_reply(b.data, b.len, 100, &f, &err),
			 -SW_ESYSTEM);
	assert_non_null(strstr(err.msg, "after the reply"));
	buf_free(&b);
}

/* ---- status headers ---- */

static void feed(struct grpc_status *st, const char *line)
{
	grpc_status_header(st, line, strlen(line));
}

static void test_status_trailers(void **state)
{
	struct grpc_status st;
	struct sw_err err;

	grpc_status_init(&st);
	feed(&st, "HTTP/2 200 \r\n");
	feed(&st, "content-type: application/grpc\r\n");
	feed(&st, "\r\n");
	assert_int_equal(st.http_status, 200);
	assert_int_equal(st.code, -1);
	/* The trailers arrive after the body. */
	feed(&st, "grpc-status: 0\r\n");
	feed(&st, "grpc-message: \r\n");
	feed(&st, "\r\n");
	assert_int_equal(grpc_status_result(&st, &err), GRPC_OK);
}

static void test_status_trailers_only(void **state)
{
	struct grpc_status st;
	struct sw_err err;

	grpc_status_init(&st);
	feed(&st, "HTTP/2 200 \r\n");
	feed(&st, "content-type: application/grpc\r\n");
	feed(&st, "grpc-status: 5\r\n");
	feed(&st, "grpc-message: an error occurred when try to find container "
		  "%22nosuch%22: not found\r\n");
	feed(&st, "\r\n");
	assert_int_equal(grpc_status_result(&st, &err), GRPC_NOT_FOUND);
	assert_int_equal(err.kind, SW_ENOTFOUND);
	assert_string_equal(err.msg, "an error occurred when try to find "
				     "container \"nosuch\": not found");
}

static void test_status_spacing_and_case(void **state)
{
	struct grpc_status st;

	grpc_status_init(&st);
	feed(&st, "Grpc-Status:14\r\n");
	assert_int_equal(st.code, 14);
	feed(&st, "grpc-status: \t 3 \r\n");
	assert_int_equal(st.code, 3);
	feed(&st, "GRPC-MESSAGE:   spaced out\n");
	assert_string_equal(st.message, "spaced out");
	/* Look-alike names are not ours. */
	feed(&st, "grpc-status-details-bin: AAAA\r\n");
	feed(&st, "x-grpc-status: 9\r\n");
	assert_int_equal(st.code, 3);
}

static void test_status_bad_value(void **state)
{
	struct grpc_status st;

	grpc_status_init(&st);
	feed(&st, "grpc-status: abc\r\n");
	assert_int_equal(st.code, GRPC_UNKNOWN);
	feed(&st, "grpc-status: \r\n");
	assert_int_equal(st.code, GRPC_UNKNOWN);
	feed(&st, "grpc-status: -1\r\n");
	assert_int_equal(st.code, GRPC_UNKNOWN);
	feed(&st, "no colon here\r\n");
	feed(&st, "\r\n");
	assert_int_equal(st.code, GRPC_UNKNOWN);
}

static void test_status_no_grpc_status(void **state)
{
	struct grpc_status st;
	struct sw_err err;

	grpc_status_init(&st);
	feed(&st, "HTTP/2 200 \r\n");
	assert_int_equal(grpc_status_result(&st, &err), GRPC_INTERNAL);
	assert_int_equal(err.kind, SW_ESYSTEM);

	grpc_status_init(&st);
	feed(&st, "HTTP/2 503 \r\n");
	assert_int_equal(grpc_status_result(&st, &err), GRPC_UNAVAILABLE);
	assert_int_equal(err.kind, SW_EUNAVAILABLE);
	assert_non_null(strstr(err.msg, "503"));

	grpc_status_init(&st);
	feed(&st, "HTTP/1.1 404 Not Found\r\n");
	assert_int_equal(grpc_status_result(&st, &err), GRPC_UNIMPLEMENTED);

	/* grpc-status wins over the HTTP status. */
	grpc_status_init(&st);
	feed(&st, "HTTP/2 503 \r\n");
	feed(&st, "grpc-status: 6\r\n");
	assert_int_equal(grpc_status_result(&st, &err), GRPC_ALREADY_EXISTS);
	assert_int_equal(err.kind, SW_ECONFLICT);
	assert_string_equal(err.msg, "AlreadyExists");
}

static void test_status_message_truncated(void **state)
{
	struct grpc_status st;
	char line[2048];

	memset(line, 'x', sizeof(line));
	memcpy(line, "grpc-message: ", 14);
	line[sizeof(line) - 1] = '\0';
	grpc_status_init(&st);
	feed(&st, line);
	assert_int_equal(strlen(st.message), GRPC_STATUS_MSG_MAX - 1);
}

static void test_percent_decode(void **state)
{
	char out[64];

	assert_int_equal(grpc_percent_decode(out, sizeof(out), "a%20b", 5), 3);
	assert_string_equal(out, "a b");
	grpc_percent_decode(out, sizeof(out), "%E2%82%ac", 9);
	assert_string_equal(out, "\xe2\x82\xac");
	/* Malformed escapes stay as they are. */
	grpc_percent_decode(out, sizeof(out), "100%", 4);
	assert_string_equal(out, "100%");
	grpc_percent_decode(out, sizeof(out), "%zz%4", 5);
	assert_string_equal(out, "%zz%4");
	grpc_percent_decode(out, sizeof(out), "%2", 2);
	assert_string_equal(out, "%2");
	/* Output is bounded and terminated. */
	assert_int_equal(grpc_percent_decode(out, 4, "abcdef", 6), 3);
	assert_string_equal(out, "abc");
	assert_int_equal(grpc_percent_decode(out, 1, "abc", 3), 0);
	assert_string_equal(out, "");
}

/* ---- codes and timeouts ---- */

static void test_code_kind(void **state)
{
	int code;

	assert_int_equal(grpc_code_kind(GRPC_OK), SW_EOK);
	assert_int_equal(grpc_code_kind(GRPC_INVALID_ARGUMENT), SW_EINVALID);
	assert_int_equal(grpc_code_kind(GRPC_NOT_FOUND), SW_ENOTFOUND);
	assert_int_equal(grpc_code_kind(GRPC_ALREADY_EXISTS), SW_ECONFLICT);
	assert_int_equal(grpc_code_kind(GRPC_UNAVAILABLE), SW_EUNAVAILABLE);
	for (code = 1; code <= 20; code++) {
		if (code == GRPC_INVALID_ARGUMENT || code == GRPC_NOT_FOUND ||
		    code == GRPC_ALREADY_EXISTS || code == GRPC_UNAVAILABLE)
			continue;
		assert_int_equal(grpc_code_kind(code), SW_ESYSTEM);
	}
	assert_int_equal(grpc_code_kind(-1), SW_ESYSTEM);
}

static void test_code_name(void **state)
{
	assert_string_equal(grpc_code_name(GRPC_OK), "OK");
	assert_string_equal(grpc_code_name(GRPC_NOT_FOUND), "NotFound");
	assert_string_equal(grpc_code_name(GRPC_UNAUTHENTICATED),
			    "Unauthenticated");
	assert_string_equal(grpc_code_name(17), "Unknown");
	assert_string_equal(grpc_code_name(-3), "Unknown");
}

static void test_timeout_format(void **state)
{
	char out[16];

	assert_int_equal(grpc_timeout_format(out, sizeof(out), 0), 2);
	assert_string_equal(out, "0m");
	grpc_timeout_format(out, sizeof(out), 250);
	assert_string_equal(out, "250m");
	grpc_timeout_format(out, sizeof(out), 99999999);
	assert_string_equal(out, "99999999m");
	/* Past 8 digits a coarser unit, rounded up. */
	grpc_timeout_format(out, sizeof(out), 100000001);
	assert_string_equal(out, "100001S");
	grpc_timeout_format(out, sizeof(out), UINT64_MAX);
	assert_int_equal(out[strlen(out) - 1], 'H');
	assert_true(strlen(out) <= 9);
	assert_int_equal(grpc_timeout_format(out, 3, 250), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encode),
	    cmocka_unit_test(test_encode_empty),
	    cmocka_unit_test(test_encode_big_endian),
	    cmocka_unit_test(test_decode_round_trip),
	    cmocka_unit_test(test_decode_partial),
	    cmocka_unit_test(test_decode_zero_length),
	    cmocka_unit_test(test_decode_two_frames),
	    cmocka_unit_test(test_decode_oversized),
	    cmocka_unit_test(test_decode_compressed),
	    cmocka_unit_test(test_unary_reply),
	    cmocka_unit_test(test_status_trailers),
	    cmocka_unit_test(test_status_trailers_only),
	    cmocka_unit_test(test_status_spacing_and_case),
	    cmocka_unit_test(test_status_bad_value),
	    cmocka_unit_test(test_status_no_grpc_status),
	    cmocka_unit_test(test_status_message_truncated),
	    cmocka_unit_test(test_percent_decode),
	    cmocka_unit_test(test_code_kind),
	    cmocka_unit_test(test_code_name),
	    cmocka_unit_test(test_timeout_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
