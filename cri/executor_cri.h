/* The CRI executor: orchestrator/executor.h on containerd's CRI. One task
 * is one pod sandbox holding one container:
 *
 * - The sandbox and the container are both named after the task
 *   (`<service>.<slot>.<taskID>`, global: `<service>.<nodeID>.<taskID>`),
 *   with the task ID as the sandbox UID, in CRI namespace "swarmd", and
 *   carry Docker's com.docker.swarm.* labels. Those labels are the
 *   executor's only memory: after a restart `list` (or any call naming an
 *   unknown task) finds tasks by them, so nothing is kept on disk.
 * - Sandboxes run under a per-node cgroup parent; each task's logs go to
 *   log_root/<taskID>/container.log (CRI format), removed with the task.
 * - `--network host` tasks share the node's namespaces; others get their own
 *   network namespace on the node's bridge (cri/cni.h), written into the CNI
 *   conf dir at creation; host-mode published ports are portmap mappings.
 * - Exits are found by polling: one ListContainers for all running tasks
 *   every poll_ms, then ContainerStatus only for the ones that exited. The
 *   sandbox of an exited task is stopped at once, releasing its IP and
 *   pause process; its logs stay until `remove`.
 *
 * Not supported by CRI v0.26, so ignored: exec_task.stop_signal (containerd
 * sends the image's StopSignal, SIGTERM by default). pids_limit is applied
 * by pre-creating the container's cgroup (v1) or through `unified` (v2).
 *
 * The pure helpers below are exposed for tests. */
#ifndef CRI_EXECUTOR_CRI_H
#define CRI_EXECUTOR_CRI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "cri/cri.pb-c.h"
#include "cri/grpc.h"
#include "lib/err.h"
#include "orchestrator/executor.h"
#include "orchestrator/runtime.h"

enum {
	EXEC_CRI_POLL_MS = 500,
	EXEC_CRI_NETWORK_WAIT_MS = 30000,
	EXEC_CRI_LABELS = 6, /* Docker's com.docker.swarm.* labels */
};

#define EXEC_CRI_NAMESPACE "swarmd"
#define EXEC_CRI_LOG_FILE "container.log"

#define EXEC_LABEL_TASK "com.docker.swarm.task"
#define EXEC_LABEL_TASK_ID "com.docker.swarm.task.id"
#define EXEC_LABEL_TASK_NAME "com.docker.swarm.task.name"
#define EXEC_LABEL_SERVICE_ID "com.docker.swarm.service.id"
#define EXEC_LABEL_SERVICE_NAME "com.docker.swarm.service.name"
#define EXEC_LABEL_NODE_ID "com.docker.swarm.node.id"

struct exec_cri_config {
	const char *node_id;  /* required */
	const char *log_root; /* required: data-root/.../logs */
	/* cgroup parent of every sandbox; NULL: "swarmd-<node ID[:12]>". */
	const char *cgroup_parent;
	/* CNI conf dir of the containerd (data-root/containerd/cni/net.d);
	 * NULL: no bridge network, only host-network tasks run. */
	const char *cni_conf_dir;
	const char *ipam_dir;         /* NULL: <cni_conf_dir>/../ipam */
	const char *bridge;           /* NULL: cni_default_bridge */
	const char *subnet;           /* NULL: cni_default_subnet */
	unsigned poll_ms;             /* 0: EXEC_CRI_POLL_MS */
	unsigned network_wait_ms;     /* 0: EXEC_CRI_NETWORK_WAIT_MS */
	const struct grpc_opts *grpc; /* NULL: defaults */
	exec_event_cb on_event;       /* may be NULL */
	void *event_data;
	/* Runs healthcheck probes (its ExecSync, as docker exec does); NULL:
	 * executor_probe is refused. Borrowed: it must outlive the
	 * executor's probes. */
	struct node_runtime *runtime;
};

/* Creates a CRI executor for the containerd listening on socket (need not
 * be up yet) and, when cfg has a CNI conf dir, writes the node's bridge
 * network there. cfg's strings are copied. Free it with executor_close.
 * Returns NULL with err filled when a required setting is missing or the
 * network configuration cannot be written. */
struct executor *executor_cri_new(uv_loop_t *loop, const char *socket,
				  const struct exec_cri_config *cfg,
				  struct sw_err *err);

/* Removes the node-level things an executor for cfg created: the bridge
 * network (cni_teardown) and the cgroup parent directories. For `swarm
 * leave`, once every task is removed. Blocking. */
int executor_cri_teardown(const struct exec_cri_config *cfg,
			  struct sw_err *err);

/* ---- Pure helpers ---- */

/* Docker's container (and task) name into out[n]:
 * `<service>.<slot>.<taskID>`, or `<service>.<nodeID>.<taskID>` when slot
 * is 0. Returns the length, or -1 if it does not fit. */
int exec_cri_container_name(const struct exec_task *t, char *out, size_t n);

/* The container's labels into out[cap]: the user's labels, then Docker's
 * six com.docker.swarm.* labels (which win over user labels of the same
 * key). name is the container name; the pointers borrow from t and name.
 * Returns how many were written (at most n_labels + EXEC_CRI_LABELS). */
size_t exec_cri_labels(const struct exec_task *t, const char *name,
		       struct exec_kv *out, size_t cap);

/* Maps a Docker capability ("CAP_NET_ADMIN", "net_admin", "ALL") to CRI's
 * spelling ("NET_ADMIN", "ALL") into out[n]. -SW_EINVALID when it is empty,
 * too long or not a capability name. */
int exec_cri_capability(const char *docker, char *out, size_t n,
			struct sw_err *err);

/* A Docker `--user` split for CRI. */
struct exec_cri_user {
	bool has_uid;
	int64_t uid;
	char name[64]; /* when not numeric */
	bool has_gid;
	int64_t gid;
};

/* Parses "uid", "uid:gid", "name" or "name:gid". A group name is
 * -SW_EINVALID: CRI only takes a numeric group. */
int exec_cri_parse_user(const char *user, struct exec_cri_user *u,
			struct sw_err *err);

/* Parses an RFC 3339 time with optional fraction (up to 9 digits) and a Z
 * or ±hh:mm offset into nanoseconds since the epoch. Returns 0 or -1. */
int exec_cri_parse_time(const char *s, size_t len, int64_t *ns);

/* One CRI log line `TIME STREAM TAG MESSAGE` (no newline). */
struct exec_cri_log_line {
	int64_t time_ns;
	enum exec_stream stream;
	bool partial; /* tag P: the message continues in the next line */
	const char *msg;
	size_t msg_len;
};

/* Parses line[0..len). Returns 0, or -1 for a malformed line. */
int exec_cri_log_line(const char *line, size_t len,
		      struct exec_cri_log_line *out);

/* Reads a CRI log file as executor_logs does (P chunks joined per stream,
 * then tail, then since/until). -SW_ENOTFOUND when the file is missing. */
int exec_cri_read_log(const char *path, const struct exec_log_query *q,
		      struct exec_logs *out, struct sw_err *err);

/* Fills st from a ContainerStatus reply: state, exit code, reason, times,
 * and the pid from the verbose info. */
void exec_cri_status_from(const Runtime__V1__ContainerStatusResponse *r,
			  struct exec_status *st);

#endif
