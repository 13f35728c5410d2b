/* The worker side of a node: runs the tasks assigned to this node through
 * an executor and reports their status. It owns task states from ACCEPTED
 * on (ACCEPTED, PREPARING, READY, STARTING, RUNNING, and the end states),
 * as SwarmKit's agent does; managers own everything before. On a single
 * node it reads assignments straight from the store; the multi-node issue
 * only replaces that feed with the dispatcher.
 *
 * Status reports are coalesced per task and written in one change per
 * flush, guarded by each task's version; a report that lost a race is
 * rebuilt from the new state and sent again. */
#ifndef SW_ORCH_AGENT_H
#define SW_ORCH_AGENT_H

#include <uv.h>

#include "orchestrator/executor.h"
#include "orchestrator/swarm.h"

struct agent;

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

/* Stops the agent and closes its executor; tasks keep running. It frees
 * itself once every call and change in flight is answered. */
void agent_stop(struct agent *a);

/* As agent_stop, after removing every task container, sandbox and log the
 * runtime holds for this node (swarm leave). */
void agent_stop_and_remove(struct agent *a, void (*removed)(void *data,
							   const char *node_id),
			   void *data);

/* The executor, for the API's log reads (NULL when none). */
struct executor *agent_executor(struct agent *a);

#endif
