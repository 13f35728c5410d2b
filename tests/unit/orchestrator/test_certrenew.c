/* When nodes renew their certificates (orchestrator/certrenew.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "orchestrator/ca.h"
#include "orchestrator/certrenew.h"

enum { HOUR = 3600 };

static void test_point_between_half_and_four_fifths(void **state)
{
	(void)state;
	/* A 10 h certificate issued at t=1000, looked at on issue. */
	assert_int_equal(certrenew_delay_ms(1000, 1000 + 10 * HOUR, 1000, 0.0),
			 5 * HOUR * 1000ULL);
	assert_int_equal(certrenew_delay_ms(1000, 1000 + 10 * HOUR, 1000, 0.5),
			 6.5 * HOUR * 1000ULL);
	/* r just below 1: just below 80 %. */
	assert_true(certrenew_delay_ms(1000, 1000 + 10 * HOUR, 1000, 0.999) <
		    8 * HOUR * 1000ULL);
	/* Later looks count down. */
	assert_int_equal(
	    certrenew_delay_ms(1000, 1000 + 10 * HOUR, 1000 + HOUR, 0.0),
	    4 * HOUR * 1000ULL);
}

static void test_past_point_renews_now(void **state)
{
	(void)state;
	assert_int_equal(
	    certrenew_delay_ms(1000, 1000 + 10 * HOUR, 1000 + 9 * HOUR, 0.5),
	    0);
	/* Expired, or a window that makes no sense. */
	assert_int_equal(certrenew_delay_ms(1000, 2000, 5000, 0.1), 0);
	assert_int_equal(certrenew_delay_ms(2000, 1000, 0, 0.1), 0);
}

static void test_from_pem(void **state)
{
	struct sw_err err;
	struct ca_root *root = ca_root_new(time(NULL), &err);
	uint64_t ms = 1;
	time_t now = time(NULL);

	(void)state;
	assert_non_null(root);
	/* The root is valid for years: its renewal point is far ahead. */
	assert_int_equal(certrenew_delay_for_pem(ca_root_cert_pem(root), now,
						 0.0, &ms, &err),
			 0);
	assert_true(ms > 365ULL * 24 * HOUR * 1000);
	ca_root_free(root);
	assert_int_equal(certrenew_delay_for_pem("not a certificate", now, 0.0,
						 &ms, &err),
			 -1);
	assert_int_equal(err.kind, SW_EINVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_point_between_half_and_four_fifths),
		cmocka_unit_test(test_past_point_renews_now),
		cmocka_unit_test(test_from_pem),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
