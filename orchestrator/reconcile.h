/* The manager's control loop: turns services into tasks and tasks into
 * assignments, on the leader only. It reacts to store events (no timer
 * scans), batches everything one pass decides into a single raft change,
 * and keeps at most one such change in flight. A pass works on the
 * services the events since the last one concern (a service's change, its
 * tasks', a node's for the services with tasks there and the global ones)
 * and on those with tasks waiting for a node; a new leader, a snapshot
 * and the rare kinds of objects bring a pass over every service.
 *
 * A pass: tasks of removed services are deleted; each replicated service
 * gets one runnable task per slot 1..Replicas (extra slots shut down, the
 * non-running first), each global service one per eligible node; tasks that
 * ended while wanted are restarted per their RestartPolicy (same slot,
 * after Delay, within MaxAttempts per Window); tasks of an older spec are
 * replaced; history beyond TaskHistoryRetentionLimit per slot is deleted;
 * NEW tasks whose delay has passed become PENDING, and PENDING tasks are
 * ASSIGNED to the eligible node running the fewest tasks of their service. */
#ifndef SW_ORCH_RECONCILE_H
#define SW_ORCH_RECONCILE_H

#include <uv.h>

#include "orchestrator/swarm.h"

struct reconciler;

/* Starts watching s's store. The reconciler only writes while
 * swarm_is_leader(s). */
struct reconciler *reconciler_start(uv_loop_t *loop, struct swarm *s);

/* Stops it. It frees itself once its timer is closed and its change in
 * flight (if any) has been answered, which closing raft guarantees. */
void reconciler_stop(struct reconciler *r);

/* Asks for a pass over every service soon (e.g. after leadership was
 * gained). */
void reconciler_poke(struct reconciler *r);

#endif
