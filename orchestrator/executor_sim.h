/* The `sim` executor: orchestrator/executor.h in memory, for measuring the
 * control plane without containerd (`swarmd --executor sim`, the node
 * simulator in bench/sim/).
 *
 * A task is a record in a hash table keyed by task ID. Every call finishes
 * after its configured delay on a libuv timer (0 ms still completes from
 * the loop, never inside the call): prepare → READY, start → RUNNING,
 * stop → COMPLETE (exit 0; SHUTDOWN if it never started), remove drops the
 * record. Nothing is kept on disk, so after a restart `list` finds nothing
 * and the agent recreates its tasks.
 *
 * Failure injection for tests: an image whose name starts with "nosuch" is
 * REJECTED at prepare with Docker's "No such image" text. Probes are not
 * supported; logs are empty. */
#ifndef SW_ORCH_EXECUTOR_SIM_H
#define SW_ORCH_EXECUTOR_SIM_H

#include <uv.h>

#include "lib/err.h"
#include "orchestrator/executor.h"

struct exec_sim_config {
	unsigned prepare_ms; /* prepare → READY after this long */
	unsigned start_ms;   /* start → RUNNING after this long */
	unsigned stop_ms;    /* stop and remove finish after this long */
	exec_event_cb on_event; /* may be NULL: the sim never exits tasks */
	void *event_data;
};

/* Creates a sim executor on loop; cfg is copied. Free it with
 * executor_close. Never fails today; NULL with err set is kept for the
 * contract every factory shares. */
struct executor *executor_sim_new(uv_loop_t *loop,
				  const struct exec_sim_config *cfg,
				  struct sw_err *err);

/* How many tasks the executor holds (for tests and the simulator). */
size_t executor_sim_count(const struct executor *ex);

#endif
