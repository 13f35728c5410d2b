/* The manager side of node sessions (the node transport's dispatch
 * channel), as SwarmKit's dispatcher: only the leader keeps sessions.
 *
 * Every node but the leader keeps one session with the leader (followers
 * for their heartbeats only, workers also for their tasks). A manager that
 * does not lead answers a new session with the leader's address and closes
 * it. On the leader a session:
 * - registers the node named by the peer certificate (never by the
 *   message) and marks it ready;
 * - takes heartbeats; a node silent for 3 x Dispatcher.HeartbeatPeriod
 *   (SwarmKit's grace) is marked down with "heartbeat failure", and the
 *   reconciler then replaces its tasks. A new leader gives every node
 *   twice the grace to come back first, so a failover moves nothing;
 * - sends a worker its tasks: the whole set at start, then changes as the
 *   store applies them;
 * - gathers the workers' task status reports into one proposal of store
 *   patches (taskstatus.h) while the previous one commits, and
 *   acknowledges each report once its entry is applied.
 * The leader's own node is marked ready when it takes over. */
#ifndef SW_ORCH_DISPATCHER_H
#define SW_ORCH_DISPATCHER_H

#include <stdbool.h>

#include <uv.h>

#include "orchestrator/swarm.h"
#include "orchestrator/transport.h"

/* SwarmKit's DefaultHeartBeatPeriod and grace multiplier. */
#define DISPATCHER_PERIOD_DEFAULT_MS 5000
#define DISPATCHER_GRACE_MULTIPLIER 3

struct dispatcher;

/* Watches s's store; serves nothing until connections are handed over. */
struct dispatcher *dispatcher_new(uv_loop_t *loop, struct swarm *s);

/* An accepted dispatch connection; owned by the dispatcher from here on. */
void dispatcher_serve(struct dispatcher *d, struct transport_conn *c);

/* This manager became (true) or stopped being (false) the ready leader.
 * Losing leadership closes every session: nodes go to the new leader. */
void dispatcher_set_leader(struct dispatcher *d, bool leader);

/* Closes every session and stops watching; memory goes once the timer
 * and every pending write are done. Call before the store closes. */
void dispatcher_free(struct dispatcher *d);

#endif
