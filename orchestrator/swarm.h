/* This node's membership in a swarm: init, restart, leave, and the writes
 * the API makes to the cluster and node objects. It owns the store, the
 * consensus instance, and the node's certificate under data-root/swarm.
 *
 * States follow Docker's LocalNodeState: inactive (no swarm), pending
 * (init in progress), active, error. Writes are raft proposals; their
 * callbacks fire once the change is committed and applied here, so a read
 * after the callback sees it. */
#ifndef SW_ORCH_SWARM_H
#define SW_ORCH_SWARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "lib/err.h"
#include "orchestrator/executor.h"
#include "orchestrator/objects.pb-c.h"
#include "orchestrator/store.h"

enum swarm_state {
	SWARM_INACTIVE = 1,
	SWARM_PENDING,
	SWARM_ACTIVE,
	SWARM_ERROR,
};

/* The raft tick: Spec.Raft ElectionTick and HeartbeatTick count these. */
#define SWARM_TICK_MS 200

/* Docker's answer (500) to a write while the managers have lost quorum. */
#define SWARM_NO_LEADER                                                       \
	"rpc error: code = Unknown desc = The swarm does not have a leader. " \
	"It's possible that too few managers are online. Make sure more "     \
	"than half of the managers are online."


/* Facts about this node that go into its Description. */
struct swarm_host {
	char hostname[256];
	char os[32];
	char arch[128];
	int64_t nano_cpus;
	int64_t memory_bytes;
	char engine_version[64];
};

/* The typed values of a cluster spec (engine-api's codec fills them). */
struct swarm_spec_values {
	int64_t task_history_limit;
	uint64_t snapshot_interval;
	uint32_t election_tick;
	uint32_t heartbeat_tick;
	int64_t heartbeat_period_ns;
	int64_t node_cert_expiry_ns;
	bool autolock;
};

struct swarm_init_params {
	char listen_addr[80];    /* host:port the node transport binds */
	char advertise_addr[80]; /* host:port other nodes reach us on */
	char data_path_addr[80];
	uint32_t data_path_port;
	const char *availability; /* "active" | "pause" | "drain" */
	char **default_addr_pool;  /* borrowed */
	size_t n_default_addr_pool;
	bool default_addr_pool_set;
	uint32_t subnet_size;
	const char *spec_json; /* normalized cluster spec */
	struct swarm_spec_values values;
};

/* A join request as engine-api decoded it. */
struct swarm_join_params {
	char listen_addr[80];    /* host:port the node transport binds */
	char advertise_addr[80]; /* host:port other nodes reach us on */
	char data_path_addr[80];
	const char *availability; /* "" | "active" | "pause" | "drain" */
	char **remote_addrs;      /* host:port of managers; borrowed */
	size_t n_remote_addrs;
	const char *token;
};

/* A node spec as engine-api decoded it. */
struct swarm_node_spec {
	const char *spec_json; /* canonical JSON to store */
	const char *role;
	const char *availability;
	const char *name;
	Swarmd__KeyValue **labels;
	size_t n_labels;
};

/* A cluster update as engine-api decoded it. */
struct swarm_update {
	const char *spec_json;
	struct swarm_spec_values values;
	bool rotate_worker_token;
	bool rotate_manager_token;
	bool rotate_unlock_key;
};

struct swarm;

/* status 0 or -kind with err (borrowed for the call). Fires exactly once,
 * from the loop, never inside the starting call. */
typedef void (*swarm_cb)(void *data, int status, const struct sw_err *err);

struct swarm *swarm_new(uv_loop_t *loop, const char *data_root,
			const struct swarm_host *host);
void swarm_free(struct swarm *s);

/* How this node runs tasks: called when the node becomes a swarm member
 * (init or restart). Without one, tasks assigned here stay assigned. */
struct executor;
typedef struct executor *(*swarm_executor_factory)(
	void *ctx, const char *node_id,
	void (*cb)(void *data, const char *task_id,
		   const struct exec_status *st),
	void *cb_data);
/* cleanup(ctx, node_id), when set, runs after leave removed the node's
 * tasks, to drop what the runtime keeps per node (e.g. its bridge). */
void swarm_set_executor_factory(struct swarm *s, swarm_executor_factory f,
				void (*cleanup)(void *ctx, const char *node_id),
				void *ctx);
/* The executor of this node's agent, or NULL. */
struct executor *swarm_executor(const struct swarm *s);
/* The health of a task container of this node (orchestrator/health.h),
 * or NULL when it has no healthcheck. */
struct health_state;
const struct health_state *swarm_health(const struct swarm *s,
					const char *container_id);

/* At start-up: rejoins the swarm recorded under data-root, if any. */
int swarm_load(struct swarm *s, struct sw_err *err);

/* Creates a one-manager swarm: root CA, tokens, node certificate, raft
 * bootstrapped with this node as the only voter, then the cluster and node
 * objects. 0 with cb later, or -1 (cb never fires). */
int swarm_init(struct swarm *s, const struct swarm_init_params *p,
	       swarm_cb cb, void *data, struct sw_err *err);

/* Joins the swarm of a manager among p->remote_addrs with p->token: the
 * manager's answer gives this node its certificate and role; a manager
 * then starts raft (the leader adds it as a voter) and cb fires once its
 * store has caught up; a worker opens its dispatcher session and cb fires
 * at once. Errors: 500 "invalid join token" for a malformed token; the
 * manager's refusal (400 "... A valid join token is necessary ..."); a
 * root CA that does not match the token. Nothing is stored on failure.
 * 0 with cb later, or -1 (cb never fires). */
int swarm_join(struct swarm *s, const struct swarm_join_params *p,
	       swarm_cb cb, void *data, struct sw_err *err);

/* Leaves the swarm: stops raft, wipes data-root/swarm. The API layer has
 * already applied Docker's refusal rules (force). */
int swarm_leave(struct swarm *s, swarm_cb cb, void *data,
		struct sw_err *err);

/* `swarm init --force-new-cluster` on a manager: restarts raft on the kept
 * state with this manager as the only voter (raft_recover), so a swarm
 * that lost quorum accepts writes again; the other managers are then
 * dropped from raft (they stay listed until demoted and removed). cb fires
 * once raft runs again. 0 with cb later, or -1. */
int swarm_force_new_cluster(struct swarm *s, swarm_cb cb, void *data,
			    struct sw_err *err);

/* Stops raft and closes the store at daemon shutdown (state is kept). */
void swarm_stop(struct swarm *s, void (*cb)(void *data), void *data);

/* Proposes a change on behalf of the API or a reconciler; cb fires once it
 * is committed and applied here (SwarmKit-layer errors get their "rpc
 * error: code = X desc = " prefix). 503 when this node cannot write. */
struct change;
int swarm_propose(struct swarm *s, struct change *c, swarm_cb cb, void *data,
		  struct sw_err *err);

/* Packs msg as a PUT of kind/id into c (name: the unique name, or NULL). */
void swarm_put(struct change *c, enum change_mode mode, enum obj_kind kind,
	       const char *id, const char *name, const ProtobufCMessage *msg,
	       uint64_t expected);

/* Writes. version is the Version.Index the client read (0: no check). */
int swarm_update_cluster(struct swarm *s, uint64_t version,
			 const struct swarm_update *u, swarm_cb cb, void *data,
			 struct sw_err *err);
int swarm_update_node(struct swarm *s, const char *id, uint64_t version,
		      const struct swarm_node_spec *spec, swarm_cb cb,
		      void *data, struct sw_err *err);
int swarm_remove_node(struct swarm *s, const char *id, bool force,
		      swarm_cb cb, void *data, struct sw_err *err);

/* Makes a read on this manager see what the leader has applied (dockerd
 * sends every control read to the leader; a follower's own store may lag
 * it, and a read-modify-write would then carry a stale version). Returns
 * false when the read can go ahead now: this node leads, is no manager,
 * knows no leader or cannot send to it. Otherwise true, and cb fires once
 * from the loop: status 0 once this store caught up, else the error (the
 * leader was lost; the caller may still read what it has). The leader
 * answers its applied index without first confirming with a quorum that
 * it still leads (raft's ReadIndex does): a deposed leader that has not
 * noticed yet can let a follower read as stale as itself. */
bool swarm_read_barrier(struct swarm *s, swarm_cb cb, void *data);

/* State and identity. Strings are borrowed from s. */
enum swarm_state swarm_get_state(const struct swarm *s);
const char *swarm_node_id(const struct swarm *s);
const char *swarm_cluster_id(const struct swarm *s);
const char *swarm_advertise_addr(const struct swarm *s); /* host:port */
const char *swarm_node_addr(const struct swarm *s);      /* host */
bool swarm_is_manager(const struct swarm *s);
/* An active member without the manager role. */
bool swarm_is_worker(const struct swarm *s);
/* The managers a worker knows (RemoteManagers): count, then each. */
size_t swarm_remote_managers(const struct swarm *s);
void swarm_remote_manager(const struct swarm *s, size_t i,
			  const char **node_id, const char **addr);
/* Managers whose node is ready (or lead) and the others, as dockerd
 * counts them for its leave warnings. */
void swarm_manager_counts(const struct swarm *s, size_t *reachable,
			  size_t *unreachable);
/* The leader's node transport address (host:port), NULL if unknown;
 * borrowed until the loop runs again. */
const char *swarm_leader_addr(const struct swarm *s);
/* A fresh random raft server id. */
uint64_t swarm_new_raft_id(void);
/* True when this manager leads and accepts writes. */
bool swarm_is_leader(const struct swarm *s);
/* The raft id of the current leader, 0 if unknown. */
uint64_t swarm_leader_raft_id(const struct swarm *s);
const struct store *swarm_store(const struct swarm *s);

/* Finds an object of kind by full ID, then (with by_name) exact name, then
 * unique ID prefix, as dockerd resolves {id} path parameters. NULL when
 * none or ambiguous. */
const struct store_record *swarm_resolve(const struct swarm *s,
					 enum obj_kind kind, const char *ref,
					 bool by_name);

/* Decoded copies of stored objects; free with the protobuf-c free. NULL
 * when absent or undecodable. */
Swarmd__Cluster *swarm_cluster(const struct swarm *s,
			       const struct store_record **rec);
Swarmd__Node *swarm_node_unpack(const struct store_record *rec);

#endif
