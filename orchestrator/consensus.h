/* Raft for the orchestrator: c-raft with raft_uv I/O in a data directory,
 * driving an fsm (fsm.h) on the caller's loop.
 *
 * Lifecycle: consensus_init → setters → consensus_start → ... →
 * consensus_close(cb). After init succeeds, close is the only way out (also
 * when start fails). The transport and the fsm are borrowed: keep them until
 * the close callback has run, then close the transport.
 *
 * Writes: a leader accepts proposals only once it is "ready": c-raft 0.15
 * appends no no-op at election, so after each election we commit a barrier
 * first (LIBRARY-NOTES §1) and only its callback makes the node ready.
 * Readiness changes are reported through consensus_on_ready.
 *
 * Errors: not the leader, not ready yet, or closing → SW_EUNAVAILABLE.
 * A proposal whose leadership was lost before it committed fails with
 * SW_EUNAVAILABLE and a message saying the outcome is unknown: it may still
 * commit, so callers re-read or retry idempotently. */
#ifndef SW_ORCH_CONSENSUS_H
#define SW_ORCH_CONSENSUS_H

#include <stdbool.h>
#include <stdint.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "lib/err.h"
#include "orchestrator/change.h"
#include "orchestrator/fsm.h"

/* Defaults, after dqlite's: a quiet network and a generous log. */
#define CONSENSUS_ELECTION_MS 3000
#define CONSENSUS_HEARTBEAT_MS 500
#define CONSENSUS_SNAPSHOT_THRESHOLD 1024
#define CONSENSUS_SNAPSHOT_TRAILING 1024

enum consensus_role {
	CONSENSUS_UNAVAILABLE = 0, /* mirrors c-raft's state codes */
	CONSENSUS_FOLLOWER = 1,
	CONSENSUS_CANDIDATE = 2,
	CONSENSUS_LEADER = 3,
};

struct consensus;

struct consensus_propose_req;
/* status 0: the change is committed and applied at index. Otherwise status
 * is -err->kind: the FSM's rejection (the entry is committed at index, and
 * nothing of it applied), or SW_EUNAVAILABLE when leadership was lost or
 * raft shut down (outcome unknown), or SW_ESYSTEM. err is borrowed for the
 * call. The callback may free req and may call consensus_close. */
typedef void (*consensus_propose_cb)(struct consensus_propose_req *req,
				     int status, uint64_t index,
				     const struct sw_err *err);

/* Caller-allocated, alive until its callback; set data. Rest is private. */
struct consensus_propose_req {
	void *data;
	struct raft_apply apply;
	struct consensus *c;
	consensus_propose_cb cb;
	int64_t proposed_ns; /* for commit latency statistics */
};

struct consensus_change_req;
/* status 0 or -kind with err set (borrowed for the call). */
typedef void (*consensus_change_cb)(struct consensus_change_req *req,
				    int status, const struct sw_err *err);

struct consensus_change_req {
	void *data;
	struct raft_change change;
	struct consensus *c;
	consensus_change_cb cb;
};

/* ready: this node leads and has committed its barrier (writes accepted);
 * false: it stopped being a ready leader. Fires on changes only. */
typedef void (*consensus_ready_cb)(struct consensus *c, void *data, bool ready);
typedef void (*consensus_close_cb)(void *data);

/* Creates the raft instance for server id at address, with its log and
 * snapshots in dir (created if missing, one level). transport and fsm are
 * borrowed; fsm is attached to the new raft. Returns NULL with err set
 * (SW_ESYSTEM, c-raft's message) on failure, having released everything. */
struct consensus *consensus_init(uv_loop_t *loop, const char *dir, uint64_t id,
				 const char *address,
				 struct raft_uv_transport *transport,
				 struct fsm *fsm, struct sw_err *err);

/* Before start. heartbeat_ms must be below election_ms (SW_EINVALID). */
int consensus_set_timeouts(struct consensus *c, unsigned election_ms,
			   unsigned heartbeat_ms, struct sw_err *err);
void consensus_set_snapshot(struct consensus *c, unsigned threshold,
			    unsigned trailing);
void consensus_on_ready(struct consensus *c, consensus_ready_cb cb, void *data);

/* Starts raft. With bootstrap, a pristine dir is first bootstrapped as a
 * one-voter cluster of this node (a dir with state is left alone); without,
 * the node waits to be added by a leader. Returns 0 or negative with err. */
int consensus_start(struct consensus *c, bool bootstrap, struct sw_err *err);
/* Before consensus_start: rewrites the stored configuration to this server
 * alone, so it leads without the peers it lost (force-new-cluster). */
int consensus_recover(struct consensus *c, struct sw_err *err);

/* Proposes change c (encoded here; the caller keeps c). Returns 0 and calls
 * cb exactly once later from the loop, never from inside this call; or
 * returns negative with err set (SW_EUNAVAILABLE: not a ready leader,
 * closing; SW_EINVALID: bad change) and cb never fires. */
int consensus_propose(struct consensus *c, struct consensus_propose_req *req,
		      const struct change *change, consensus_propose_cb cb,
		      struct sw_err *err);

/* Membership, one change at a time, leader only; same contract as propose.
 * add: a new server as a spare; assign: a role (RAFT_VOTER, RAFT_STANDBY,
 * RAFT_SPARE), promotion to voter first catches the server up; remove. */
int consensus_add(struct consensus *c, struct consensus_change_req *req,
		  uint64_t id, const char *address, consensus_change_cb cb,
		  struct sw_err *err);
int consensus_assign(struct consensus *c, struct consensus_change_req *req,
		     uint64_t id, int role, consensus_change_cb cb,
		     struct sw_err *err);
int consensus_remove(struct consensus *c, struct consensus_change_req *req,
		     uint64_t id, consensus_change_cb cb, struct sw_err *err);

enum consensus_role consensus_role(struct consensus *c);
bool consensus_is_ready(const struct consensus *c);
/* The known leader, or id 0 and address NULL. address is borrowed until the
 * loop runs again. */
void consensus_leader(struct consensus *c, uint64_t *id, const char **address);
uint64_t consensus_applied_index(struct consensus *c);
/* The current raft configuration (servers and roles), borrowed until the
 * loop runs again. */
const struct raft_configuration *consensus_configuration(struct consensus *c);
uint64_t consensus_id(const struct consensus *c);

/* Stops raft and frees c; cb(data) fires from the loop once every handle is
 * closed. Safe from inside any consensus or raft callback (the raft close is
 * deferred). Pending proposals fail with SW_EUNAVAILABLE first. */
void consensus_close(struct consensus *c, consensus_close_cb cb, void *data);

/* A transport for a single-node cluster: listens on nothing, and every
 * connect fails with RAFT_NOCONNECTION, so a lone manager opens no port.
 * close after the consensus close callback. */
int consensus_transport_local_init(struct raft_uv_transport *t,
				   uv_loop_t *loop);
void consensus_transport_local_close(struct raft_uv_transport *t);

#endif
