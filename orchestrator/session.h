/* A node's session with the leader's dispatcher (dispatcher.h), the node
 * side: one dispatch connection at a time, kept up with retries.
 *
 * Where to go: the owner's hint first (a manager knows the raft leader),
 * else the address a manager redirected us to, else the known managers in
 * turn (a worker). Once open, the session sends a heartbeat every period
 * the leader asked for, hands the leader's messages (managers, tasks,
 * acknowledgements) to the owner, and carries the owner's status reports.
 * Losing the connection tells the owner (reports in flight are then
 * unacknowledged) and it redials with a growing delay. */
#ifndef SW_ORCH_SESSION_H
#define SW_ORCH_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "lib/err.h"
#include "orchestrator/agent.h"
#include "orchestrator/channels.pb-c.h"
#include "orchestrator/transport.h"

struct session;

struct session_ops {
	/* Where the leader is, if the owner knows: an address, "" to mean
	 * "no session needed now" (this node leads), or NULL (unknown). */
	const char *(*leader_hint)(void *data);
	/* The leader's SessionInfo (managers, period, role). */
	void (*info)(void *data, const Swarmd__SessionInfo *info);
	/* Tasks for this node (workers). */
	void (*assignments)(void *data, const Swarmd__Assignments *a);
	/* The report with this seq was applied (status 0) or not. */
	void (*ack)(void *data, uint64_t seq, int status,
		    const struct sw_err *err);
	/* The session ended: reports without an ack are lost. */
	void (*down)(void *data);
	/* The answer to session_renew: a certificate, or NULL and why. */
	void (*renewed)(void *data, const char *cert, const char *error);
};

/* Starts a session over t (borrowed). wants_tasks: a worker, which gets
 * its tasks through the session. ops is borrowed. */
struct session *session_new(uv_loop_t *loop, struct transport *t,
			    bool wants_tasks, const struct session_ops *ops,
			    void *data);

/* The managers to try when there is no hint (copied). */
void session_set_managers(struct session *s, char *const *addrs, size_t n);

/* Whether the session is open with the leader. */
bool session_is_up(const struct session *s);

/* Sends a batch of reports as seq. Returns 0 (the ack or `down` follows),
 * or UNAVAILABLE when the session is not up. */
int session_report(struct session *s, uint64_t seq,
		   const struct agent_report *r, size_t n, struct sw_err *err);

/* Asks the leader for a certificate for csr (PEM, copied), for the role
 * the node's record holds. Returns 0 (ops->renewed follows, unless the
 * session ends first) or UNAVAILABLE when the session is not up. */
int session_renew(struct session *s, const char *csr, struct sw_err *err);

/* Re-checks the hint now (e.g. the raft leader changed). */
void session_poke(struct session *s);

/* Closes the connection; memory goes from the loop. No callback fires
 * after this call. */
void session_free(struct session *s);

#endif
