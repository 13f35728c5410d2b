/* The worker side of a node: runs the tasks assigned to this node through
 * an executor and reports their status. It owns task states from ACCEPTED
 * on (ACCEPTED, PREPARING, READY, STARTING, RUNNING, and the end states),
 * as SwarmKit's agent does; managers own everything before.
 *
 * Assignments come from swarm_store(): on a manager that is the replicated
 * store, on a worker a local store the dispatcher session fills with this
 * node's tasks (swarm.c). Reports go, by default, straight into a proposal
 * (agent_apply_reports, forwarded to the leader by a follower); a worker
 * sets a report sink that sends them over its dispatcher session, and the
 * leader applies them with the same agent_apply_reports.
 *
 * Status reports are coalesced per task and written in one change per
 * flush, as patches merged into the tasks at apply (taskstatus.h); a flush
 * that failed is sent again from the newer state. */
#ifndef SW_ORCH_AGENT_H
#define SW_ORCH_AGENT_H

#include <uv.h>

#include "orchestrator/executor.h"
#include "orchestrator/swarm.h"
#include "orchestrator/taskstatus.h"

struct agent;

/* Where reports go instead of a local proposal. Returns 0 and calls
 * cb(cb_data, status, err) exactly once later (status != 0: not written,
 * the agent sends them again from the newer state), or -kind with err set
 * and cb never fires. r is borrowed for the call. */
typedef int (*agent_report_fn)(void *data, const struct agent_report *r,
			       size_t n, swarm_cb cb, void *cb_data,
			       struct sw_err *err);

/* Makes the executor of node_id, reporting exits to cb(cb_data). NULL when
 * it cannot (the agent then does not run). */
typedef struct executor *(*agent_executor_factory)(void *ctx,
						   const char *node_id,
						   exec_event_cb cb,
						   void *cb_data);

/* Starts the agent of node_id over the executor factory makes (owned by the
 * agent, which closes it). It first lists what the executor holds: running
 * containers of known tasks are adopted, unknown ones removed. NULL when
 * the factory fails. */
struct agent *agent_start(uv_loop_t *loop, struct swarm *s,
			  agent_executor_factory factory, void *ctx,
			  const char *node_id);

/* Sends reports through fn(data, ...) from now on. */
void agent_set_report_sink(struct agent *a, agent_report_fn fn, void *data);

/* The manager side of a report: proposes the statuses of tasks assigned to
 * node_id as patches (others are ignored at apply) in one change. Returns
 * 0 and cb fires as for swarm_propose; 1 when n is 0 (cb never fires); or
 * -kind with err set. */
int agent_apply_reports(struct swarm *s, const char *node_id,
			const struct agent_report *r, size_t n, swarm_cb cb,
			void *data, struct sw_err *err);

/* Stops the agent and closes its executor; tasks keep running. It frees
 * itself once every call and change in flight is answered. */
void agent_stop(struct agent *a);

/* As agent_stop, after removing every task container, sandbox and log the
 * runtime holds for this node (swarm leave). */
void agent_stop_and_remove(struct agent *a, void (*removed)(void *data,
							   const char *node_id),
			   void *data);

/* The health of the task running in container_id (State.Health), or NULL
 * when it has no healthcheck or is not this agent's. Valid until the next
 * loop iteration. */
struct health_state;
const struct health_state *agent_health(struct agent *a,
					const char *container_id);

/* The executor, for the API's log reads (NULL when none). */
struct executor *agent_executor(struct agent *a);

#endif
