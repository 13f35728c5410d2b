/* One simulated worker node of the node simulator (swarmd-sim).
 *
 * It looks real to the manager because it is made of the real parts: it
 * joins over the transport's join channel (join_start: token, CSR, a
 * certificate signed by the cluster root), then keeps a real mutual-TLS
 * dispatcher session (session.c) with heartbeats. Its tasks run in a sim
 * executor (orchestrator/executor_sim.h): prepare, then start, which turns
 * RUNNING after the configured delay. Status reports are coalesced per task
 * and sent in one batch per flush, one batch in flight at a time, as the
 * agent does (orchestrator/agent.c), so the manager sees the same write
 * pattern as from real workers.
 *
 * Many nodes share one loop; each has its own transport (its own
 * certificate) and no globals, so 5,000 of them fit in one process. */
#ifndef SW_BENCH_SIMNODE_H
#define SW_BENCH_SIMNODE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "lib/err.h"

/* Counters every node of a fleet adds to (owned by the caller). */
struct sim_stats {
	uint64_t joined;        /* nodes with a certificate */
	uint64_t join_failed;
	uint64_t up;            /* sessions open now */
	uint64_t assigned;      /* distinct tasks received to run */
	uint64_t running;       /* RUNNING reports the manager acknowledged */
	uint64_t stopped;       /* tasks stopped on the manager's order */
	uint64_t reports_sent;  /* batches */
	uint64_t reports_failed;
	int64_t first_assign_ns, last_assign_ns, last_running_ns;
};

struct simnode_config {
	const char *token;   /* worker join token */
	const char *manager; /* host:port of a manager */
	const char *hostname;
	const char *advertise_addr; /* host:port the node claims */
	unsigned start_delay_ms;    /* start → RUNNING */
	struct sim_stats *stats;    /* borrowed, outlives the node */
};

struct simnode;

/* Called once when the join ends: status 0 (the session is starting) or
 * -kind with err (borrowed) saying why. */
typedef void (*simnode_joined_cb)(struct simnode *n, int status,
				  const struct sw_err *err, void *data);

/* Creates a node and starts its join. cfg's strings are copied. Returns
 * NULL with err set when the token is malformed; otherwise cb fires once,
 * later. */
struct simnode *simnode_start(uv_loop_t *loop, const struct simnode_config *cfg,
			      simnode_joined_cb cb, void *data,
			      struct sw_err *err);

/* Whether its dispatcher session is open with the leader. */
bool simnode_is_up(const struct simnode *n);

/* Stops the node: the session closes and everything is freed from the
 * loop; no callback fires afterwards. */
void simnode_stop(struct simnode *n);

#endif
