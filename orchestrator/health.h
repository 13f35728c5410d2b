/* Container healthchecks as dockerd runs them (daemon/health.go): the
 * probe command from ContainerSpec.Healthcheck, Docker's defaults, and the
 * state machine that turns probe results into starting / healthy /
 * unhealthy with a failing streak and the last five results.
 *
 * Two layers:
 * - Pure (no loop): health_config_of, health_argv, health_record. Unit
 *   tested in tests/unit/orchestrator/test_health.c.
 * - A monitor (health_monitor_*) that runs the probe every Interval on the
 *   loop through the executor's probe call and reports status changes.
 *   The agent owns one per running task that has a healthcheck. */
#ifndef SW_ORCH_HEALTH_H
#define SW_ORCH_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "orchestrator/executor.h"
#include "orchestrator/objects.pb-c.h"

enum health_status {
	HEALTH_NONE = 0, /* no healthcheck */
	HEALTH_STARTING,
	HEALTH_HEALTHY,
	HEALTH_UNHEALTHY,
};

enum {
	HEALTH_LOG_MAX = 5,       /* results kept, as dockerd keeps */
	HEALTH_OUTPUT_MAX = 4096, /* bytes of output kept per result */
	HEALTH_ARGV_MAX = 64,
};

/* A healthcheck with Docker's defaults filled in. */
struct health_config {
	char *const *test; /* the spec's Test: "CMD"/"CMD-SHELL", then args */
	size_t n_test;
	int64_t interval_ns;     /* default 30 s */
	int64_t timeout_ns;      /* default 30 s */
	int64_t retries;         /* default 3 */
	int64_t start_period_ns; /* default 0 */
};

struct health_result {
	int64_t start_ns;
	int64_t end_ns;
	int exit_code; /* -1: the probe could not run or timed out */
	char output[HEALTH_OUTPUT_MAX + 1];
};

struct health_state {
	enum health_status status;
	int64_t failing_streak;
	struct health_result log[HEALTH_LOG_MAX]; /* oldest first */
	size_t n_log;
};

/* Docker's lowercase word: "starting", "healthy", "unhealthy", "none". */
const char *health_status_name(enum health_status s);

/* The healthcheck of spec into cfg (borrowing spec's strings). False when
 * the task has none: no Test (the image's own healthcheck is not read) or
 * Test ["NONE"]. */
bool health_config_of(const Swarmd__TaskSpec *spec, struct health_config *cfg);

/* The probe's argv into argv[HEALTH_ARGV_MAX] (borrowing cfg's strings):
 * CMD runs its arguments, CMD-SHELL runs `/bin/sh -c <command>`. Returns
 * argc, 0 when the test is not runnable. */
size_t health_argv(const struct health_config *cfg, const char **argv);

/* Records one probe result (res is copied into the log) and moves the
 * state as dockerd does: exit 0 is healthy and clears the streak; any
 * other result raises the streak, except while the container is still
 * starting within its start period (started_ns = when it started), and
 * Retries consecutive failures make it unhealthy. Returns the new status. */
enum health_status health_record(struct health_state *h,
				 const struct health_config *cfg,
				 int64_t started_ns,
				 const struct health_result *res);

/* The result of a probe that ran past its timeout:
 * "Health check exceeded timeout (30s)". */
void health_timeout_result(const struct health_config *cfg,
			   struct health_result *res);

/* ---- the monitor ---- */

struct health_monitor;

/* Called on every status change (HEALTHY, UNHEALTHY, and back). */
typedef void (*health_change_cb)(void *data, const char *task_id,
				 enum health_status status);

/* Starts probing task_id every cfg->interval_ns through ex's probe call
 * (the first probe one interval after the start, as dockerd does).
 * started_ns is when the container started. spec is copied. NULL when the
 * healthcheck has no runnable test. */
struct health_monitor *health_monitor_start(uv_loop_t *loop,
					    struct executor *ex,
					    const char *task_id,
					    const Swarmd__TaskSpec *spec,
					    int64_t started_ns,
					    health_change_cb cb, void *data);

/* The current state (valid until health_monitor_free). */
const struct health_state *health_monitor_state(
	const struct health_monitor *m);

/* Stops probing; the state stays readable. No callback fires after it. */
void health_monitor_stop(struct health_monitor *m);

/* Stops and releases the monitor (later, once its timer closed and a probe
 * in flight answered). m must not be used after. */
void health_monitor_free(struct health_monitor *m);

#endif
