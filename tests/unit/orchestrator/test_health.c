/* The healthcheck state machine, Docker's defaults and the probe argv. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "orchestrator/health.h"

#define S 1000000000LL

static char *cmd_shell[] = {"CMD-SHELL", "test -e /tmp/ok"};
static char *unknown_kind[] = {"SHELL", "test -e /tmp/ok"};
static char *cmd[] = {"CMD", "curl", "-f", "http://localhost/"};
static char *none[] = {"NONE"};

static void spec_init(Swarmd__TaskSpec *t, char **test, size_t n)
{
	swarmd__task_spec__init(t);
	t->health_test = test;
	t->n_health_test = n;
}

static struct health_result result(int64_t at, int code)
{
	struct health_result r;

	memset(&r, 0, sizeof(r));
	r.start_ns = at;
	r.end_ns = at + 1;
	r.exit_code = code;
	return r;
}

static void test_defaults_and_none(void **state)
{
	Swarmd__TaskSpec t;
	struct health_config c;

	(void)state;
	spec_init(&t, cmd_shell, 2);
	assert_true(health_config_of(&t, &c));
	assert_int_equal(c.interval_ns, 30 * S);
	assert_int_equal(c.timeout_ns, 30 * S);
	assert_int_equal(c.retries, 3);
	assert_int_equal(c.start_period_ns, 0);
	t.health_interval_ns = 2 * S;
	t.health_retries = 1;
	assert_true(health_config_of(&t, &c));
	assert_int_equal(c.interval_ns, 2 * S);
	assert_int_equal(c.retries, 1);
	spec_init(&t, none, 1);
	assert_false(health_config_of(&t, &c));
	spec_init(&t, NULL, 0);
	assert_false(health_config_of(&t, &c));
	assert_false(health_config_of(NULL, &c));
}

static void test_argv(void **state)
{
	Swarmd__TaskSpec t;
	struct health_config c;
	const char *argv[HEALTH_ARGV_MAX];

	(void)state;
	spec_init(&t, cmd_shell, 2);
	health_config_of(&t, &c);
	assert_int_equal(health_argv(&c, argv), 3);
	assert_string_equal(argv[0], "/bin/sh");
	assert_string_equal(argv[1], "-c");
	assert_string_equal(argv[2], "test -e /tmp/ok");
	spec_init(&t, cmd, 4);
	health_config_of(&t, &c);
	assert_int_equal(health_argv(&c, argv), 3);
	assert_string_equal(argv[0], "curl");
	assert_string_equal(argv[2], "http://localhost/");
	/* A test with no command, or of an unknown kind, cannot run. */
	spec_init(&t, cmd, 1);
	health_config_of(&t, &c);
	assert_int_equal(health_argv(&c, argv), 0);
	spec_init(&t, unknown_kind, 2);
	health_config_of(&t, &c);
	assert_int_equal(health_argv(&c, argv), 0);
}

static void test_streak_and_unhealthy(void **state)
{
	Swarmd__TaskSpec t;
	struct health_config c;
	struct health_state h = {.status = HEALTH_STARTING};
	struct health_result r;

	(void)state;
	spec_init(&t, cmd_shell, 2);
	t.health_retries = 2;
	health_config_of(&t, &c);
	r = result(1 * S, 0);
	assert_int_equal(health_record(&h, &c, 0, &r), HEALTH_HEALTHY);
	r = result(2 * S, 1);
	assert_int_equal(health_record(&h, &c, 0, &r), HEALTH_HEALTHY);
	assert_int_equal(h.failing_streak, 1);
	/* A pass in between clears the streak. */
	r = result(3 * S, 0);
	assert_int_equal(health_record(&h, &c, 0, &r), HEALTH_HEALTHY);
	assert_int_equal(h.failing_streak, 0);
	r = result(4 * S, 1);
	health_record(&h, &c, 0, &r);
	r = result(5 * S, -1);
	assert_int_equal(health_record(&h, &c, 0, &r), HEALTH_UNHEALTHY);
	assert_int_equal(h.failing_streak, 2);
	/* A later pass makes it healthy again, as dockerd's does. */
	r = result(6 * S, 0);
	assert_int_equal(health_record(&h, &c, 0, &r), HEALTH_HEALTHY);
}

static void test_start_period(void **state)
{
	Swarmd__TaskSpec t;
	struct health_config c;
	struct health_state h = {.status = HEALTH_STARTING};
	struct health_result r;

	(void)state;
	spec_init(&t, cmd_shell, 2);
	t.health_retries = 1;
	t.health_start_period_ns = 10 * S;
	health_config_of(&t, &c);
	/* Failures inside the start period of a container that never passed
	 * do not count. */
	r = result(100 * S + 5 * S, 1);
	assert_int_equal(health_record(&h, &c, 100 * S, &r), HEALTH_STARTING);
	assert_int_equal(h.failing_streak, 0);
	r = result(100 * S + 10 * S, 1);
	assert_int_equal(health_record(&h, &c, 100 * S, &r),
			 HEALTH_UNHEALTHY);
	/* Once it passed, failures count even inside the period. */
	memset(&h, 0, sizeof(h));
	h.status = HEALTH_STARTING;
	r = result(100 * S + 1 * S, 0);
	health_record(&h, &c, 100 * S, &r);
	r = result(100 * S + 2 * S, 1);
	assert_int_equal(health_record(&h, &c, 100 * S, &r),
			 HEALTH_UNHEALTHY);
}

static void test_log_keeps_the_last_five(void **state)
{
	Swarmd__TaskSpec t;
	struct health_config c;
	struct health_state h = {.status = HEALTH_STARTING};

	(void)state;
	spec_init(&t, cmd_shell, 2);
	health_config_of(&t, &c);
	for (int i = 1; i <= 7; i++) {
		struct health_result r = result(i * S, 0);

		health_record(&h, &c, 0, &r);
	}
	assert_int_equal(h.n_log, HEALTH_LOG_MAX);
	assert_int_equal(h.log[0].start_ns, 3 * S);
	assert_int_equal(h.log[4].start_ns, 7 * S);
}

static void test_timeout_text(void **state)
{
	Swarmd__TaskSpec t;
	struct health_config c;
	struct health_result r;

	(void)state;
	spec_init(&t, cmd_shell, 2);
	health_config_of(&t, &c);
	health_timeout_result(&c, &r);
	assert_int_equal(r.exit_code, -1);
	assert_string_equal(r.output, "Health check exceeded timeout (30s)");
	t.health_timeout_ns = 1500000000;
	health_config_of(&t, &c);
	health_timeout_result(&c, &r);
	assert_string_equal(r.output, "Health check exceeded timeout (1.5s)");
	t.health_timeout_ns = 500000000;
	health_config_of(&t, &c);
	health_timeout_result(&c, &r);
	assert_string_equal(r.output, "Health check exceeded timeout (500ms)");
	assert_string_equal(health_status_name(HEALTH_STARTING), "starting");
	assert_string_equal(health_status_name(HEALTH_UNHEALTHY), "unhealthy");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_none),
		cmocka_unit_test(test_argv),
		cmocka_unit_test(test_streak_and_unhealthy),
		cmocka_unit_test(test_start_period),
		cmocka_unit_test(test_log_keeps_the_last_five),
		cmocka_unit_test(test_timeout_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
