/* The executor seam: how a worker's agent turns an assigned task into a
 * running container without knowing what runs it. cri/executor_cri.c
 * implements it on containerd's CRI; an in-memory `sim` executor can
 * implement it for control-plane tests. The agent drives one task through
 *
 *   prepare (→ READY or REJECTED) → start (→ RUNNING or FAILED)
 *   → [exit reported through the event callback: COMPLETE / FAILED]
 *   → stop (→ COMPLETE / FAILED / SHUTDOWN) → remove
 *
 * and reconciles after a restart with `list`, which finds the tasks the
 * runtime still holds for this node.
 *
 * Everything here is plain C: no json-c, no CRI or protobuf types.
 *
 * Invariants:
 * - Asynchronous calls take a caller-allocated struct exec_req and a
 *   callback. When a call returns 0 its callback fires exactly once, later,
 *   from the loop (never inside the call); when it returns a negative
 *   sw_err kind the callback never fires.
 * - At most one call per task is in flight; a second one is refused with
 *   -SW_ECONFLICT. Calls return an error only for bad arguments, a busy
 *   task or a closing executor; everything else (an unknown task, the
 *   runtime unreachable) comes through the callback.
 * - A task's outcome is a task status, not a call failure: a missing image
 *   completes `prepare` with status 0 and state REJECTED. A negative
 *   callback status means the executor could not do the work at all (the
 *   runtime is unreachable, the task is unknown, the executor is closing)
 *   and the agent may retry.
 * - The event callback reports only changes the executor did not cause
 *   itself (a running task exited); results of calls come back through the
 *   call's own callback. */
#ifndef SW_EXECUTOR_H
#define SW_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "lib/err.h"

/* Task states an executor reports, in Docker's order (later = further), so
 * `state >= EXEC_COMPLETE` means the task is over. */
enum exec_state {
	EXEC_PREPARING = 1, /* preparation started or interrupted */
	EXEC_READY,         /* container created, not started */
	EXEC_STARTING,
	EXEC_RUNNING,
	EXEC_COMPLETE, /* exited with code 0 */
	EXEC_SHUTDOWN, /* stopped before it ever ran */
	EXEC_FAILED,   /* exited with a non-zero code, or could not start */
	EXEC_REJECTED, /* could not be prepared (missing image, bad spec) */
};

enum {
	EXEC_ID_MAX = 72,   /* task / container IDs with their NUL */
	EXEC_ERR_MAX = 512, /* Status.Err */
	EXEC_MSG_MAX = 64,  /* Status.Message */
};

/* Docker's default stop grace period, 10 s. */
#define EXEC_STOP_GRACE_DEFAULT_NS ((int64_t)10 * 1000 * 1000 * 1000)

struct exec_kv {
	const char *key;
	const char *value;
};

enum exec_proto {
	EXEC_PROTO_TCP = 0,
	EXEC_PROTO_UDP,
	EXEC_PROTO_SCTP,
};

/* A host-mode published port (`--publish mode=host`). */
struct exec_port {
	enum exec_proto proto;
	uint16_t target;    /* port inside the container */
	uint16_t published; /* port on the node */
};

/* A bind mount (`--mount type=bind,...`) or a tmpfs (`type=tmpfs`: the
 * executor mounts a tmpfs of size_bytes, 0 = the kernel default, on the
 * node and binds it in; it goes away with the task). */
struct exec_mount {
	const char *source; /* absolute path on the node (bind only) */
	const char *target; /* absolute path in the container */
	bool read_only;
	bool tmpfs;
	int64_t size_bytes;
};

/* Everything needed to run one task. The caller owns every pointer; the
 * executor copies what it keeps before `prepare` returns. Unset strings are
 * NULL or "", unset arrays have n_x == 0. */
struct exec_task {
	const char *task_id;
	const char *service_id;
	const char *service_name;
	const char *node_id;
	uint64_t slot; /* 0 for a global service's task */

	const char *image;          /* reference as the spec holds it */
	const char *const *command; /* overrides the image's entrypoint */
	size_t n_command;
	const char *const *args; /* overrides the image's cmd */
	size_t n_args;
	const char *const *env; /* "KEY=value" */
	size_t n_env;
	const char *workdir;
	const char *user; /* "uid", "uid:gid", "name" or "name:gid" */
	const char *hostname;
	bool tty;
	bool open_stdin;
	bool read_only; /* read-only root file system */

	/* The user's ContainerSpec labels; the executor adds Docker's
	 * com.docker.swarm.* labels itself (exec_cri_labels). */
	const struct exec_kv *labels;
	size_t n_labels;

	int64_t stop_grace_ns;   /* < 0: EXEC_STOP_GRACE_DEFAULT_NS; 0: kill */
	const char *stop_signal; /* e.g. "SIGINT"; see the executor's notes */

	int64_t nano_cpus;    /* 0: unlimited */
	int64_t memory_bytes; /* 0: unlimited */
	int64_t pids_limit;   /* 0: unlimited */

	const char *const *cap_add; /* Docker's "CAP_NET_ADMIN" or "ALL" */
	size_t n_cap_add;
	const char *const *cap_drop;
	size_t n_cap_drop;
	bool privileged;
	const struct exec_kv *sysctls;
	size_t n_sysctls;

	/* /etc/hosts lines as Docker's spec holds them: "IP name [alias...]".
	 */
	const char *const *extra_hosts;
	size_t n_extra_hosts;
	const char *const *dns_servers;
	size_t n_dns_servers;
	const char *const *dns_search;
	size_t n_dns_search;
	const char *const *dns_options;
	size_t n_dns_options;

	const struct exec_mount *mounts; /* bind mounts */
	size_t n_mounts;

	bool host_network; /* `--network host`: share the node's stack */
	const struct exec_port *ports; /* host-mode published ports */
	size_t n_ports;
};

/* What the executor knows about a task's container. Times are nanoseconds
 * since the epoch, 0 when unknown. */
struct exec_status {
	enum exec_state state;
	int exit_code;
	int pid; /* of the task's process while running, else 0 */
	bool oom_killed;
	int64_t created_at;
	int64_t started_at;
	int64_t finished_at;
	char container_id[EXEC_ID_MAX];
	char message[EXEC_MSG_MAX]; /* Docker's Status.Message: "started" */
	char err[EXEC_ERR_MAX];     /* Docker's Status.Err, or "" */
};

/* One task found by `list`. */
struct exec_found {
	char task_id[EXEC_ID_MAX];
	char service_id[EXEC_ID_MAX];
	char node_id[EXEC_ID_MAX];
	struct exec_status status;
};

struct exec_req;
struct executor;

typedef void (*exec_cb)(struct exec_req *req, int status);

/* Reports a change the executor observed on its own, e.g. a running task
 * exited. st is valid during the call. Registered at creation. */
typedef void (*exec_event_cb)(void *data, const char *task_id,
			      const struct exec_status *st);

typedef void (*exec_close_cb)(void *data);

/* One asynchronous call, allocated by the caller (zero it) and kept alive
 * until its callback runs; the callback may free it. */
struct exec_req {
	void *data; /* for the caller */

	/* Results, valid inside the callback. */
	struct sw_err err;         /* when status < 0 */
	struct exec_status status; /* prepare, start, stop, status */
	struct exec_found *found;  /* list: freed after the callback */
	size_t n_found;
	/* probe: stdout then stderr, freed after the callback; the exit code
	 * is status.exit_code. */
	char *output;
	size_t output_len;

	/* Private to the executor. */
	void *priv;
};

/* ---- Logs ---- */

enum exec_stream {
	EXEC_STDOUT = 1,
	EXEC_STDERR = 2,
};

/* A query over a task's log. The reader returns the last `tail` entries
 * (all when tail < 0), then keeps those with since_ns <= time <= until_ns
 * (0: no bound), as Docker's log readers do. */
struct exec_log_query {
	int64_t since_ns;
	int64_t until_ns;
	long tail;
	/* Start reading at this byte offset (a previous next_offset), for
	 * `--follow`: the caller re-reads when the log grows. */
	uint64_t offset;
	/* Following: a line whose end has not been written yet is left for
	 * the next read instead of being returned as a partial entry. */
	bool follow;
};

/* One log message: data[0..len) without its newline. */
struct exec_log_entry {
	enum exec_stream stream;
	int64_t time_ns;
	bool partial; /* the line had no newline (yet) */
	const char *data;
	size_t len;
};

struct exec_logs {
	struct exec_log_entry *entries;
	size_t n_entries;
	uint64_t next_offset; /* where the next read continues */
	char *blob;           /* private: holds the entries' bytes */
};

/* Frees what a logs call filled in. */
static inline void exec_logs_free(struct exec_logs *l)
{
	free(l->entries);
	l->entries = NULL;
	free(l->blob);
	l->blob = NULL;
	l->n_entries = 0;
}

/* ---- The operations ---- */

struct executor_ops {
	int (*prepare)(struct executor *ex, struct exec_req *req,
		       const struct exec_task *task, exec_cb cb,
		       struct sw_err *err);
	int (*start)(struct executor *ex, struct exec_req *req,
		     const char *task_id, exec_cb cb, struct sw_err *err);
	int (*stop)(struct executor *ex, struct exec_req *req,
		    const char *task_id, int64_t grace_ns, bool removing,
		    exec_cb cb, struct sw_err *err);
	int (*remove)(struct executor *ex, struct exec_req *req,
		      const char *task_id, exec_cb cb, struct sw_err *err);
	int (*status)(struct executor *ex, struct exec_req *req,
		      const char *task_id, exec_cb cb, struct sw_err *err);
	int (*list)(struct executor *ex, struct exec_req *req, exec_cb cb,
		    struct sw_err *err);
	int (*probe)(struct executor *ex, struct exec_req *req,
		     const char *task_id, const char *const *argv, size_t argc,
		     int64_t timeout_ns, exec_cb cb, struct sw_err *err);
	int (*logs)(struct executor *ex, const char *task_id,
		    const struct exec_log_query *q, struct exec_logs *out,
		    struct sw_err *err);
	void (*close)(struct executor *ex, exec_close_cb cb, void *data);
};

/* An executor. Implementations embed it and set ops; everything else about
 * them is private. */
struct executor {
	const struct executor_ops *ops;
};

/* Prepares the task: makes sure the image is there (pulling only when it is
 * absent), creates what the task runs in and its container, unstarted.
 * Idempotent: preparing a task the runtime already holds (after an agent
 * restart) adopts it and reports its current state.
 * Callback status 0: req->status is READY, or REJECTED with status.err
 * ("No such image: nosuch:latest"); or, for an adopted task, its state.
 * Returns -SW_ECONFLICT while another call on the task is in flight,
 * -SW_EINVALID without a task ID, image, service name, or slot/node ID,
 * -SW_EUNAVAILABLE when closing. */
static inline int executor_prepare(struct executor *ex, struct exec_req *req,
				   const struct exec_task *task, exec_cb cb,
				   struct sw_err *err)
{
	return ex->ops->prepare(ex, req, task, cb, err);
}

/* Starts a prepared task. Callback status 0: req->status is RUNNING (an
 * exit, even one right away, is reported later through the event
 * callback) or FAILED with status.err ("starting container failed: ...").
 * Starting a running task reports RUNNING. Callback -SW_ENOTFOUND when the
 * task is not in the runtime. */
static inline int executor_start(struct executor *ex, struct exec_req *req,
				 const char *task_id, exec_cb cb,
				 struct sw_err *err)
{
	return ex->ops->start(ex, req, task_id, cb, err);
}

/* Stops the task: its stop signal, then SIGKILL after grace_ns (< 0: the
 * task's own grace period), then the rest of what it ran in, unless
 * removing: the caller removes the task next, and the removal releases
 * that anyway (with CRI: the pod and its network, torn down once instead
 * of twice). No event is reported for this exit. Callback status 0:
 * req->status is the final state: COMPLETE / FAILED with the exit code the
 * runtime reports, or SHUTDOWN when it never started. */
static inline int executor_stop(struct executor *ex, struct exec_req *req,
				const char *task_id, int64_t grace_ns,
				bool removing, exec_cb cb, struct sw_err *err)
{
	return ex->ops->stop(ex, req, task_id, grace_ns, removing, cb, err);
}

/* Removes everything the task left behind (killing it if it still runs),
 * including its logs. Removing an unknown task succeeds. */
static inline int executor_remove(struct executor *ex, struct exec_req *req,
				  const char *task_id, exec_cb cb,
				  struct sw_err *err)
{
	return ex->ops->remove(ex, req, task_id, cb, err);
}

/* Reads the task's current status into req->status. Callback
 * -SW_ENOTFOUND when the runtime does not hold it (a task REJECTED before
 * anything was created is not held either). */
static inline int executor_status(struct executor *ex, struct exec_req *req,
				  const char *task_id, exec_cb cb,
				  struct sw_err *err)
{
	return ex->ops->status(ex, req, task_id, cb, err);
}

/* Finds the tasks the runtime holds for this node, with their status, into
 * req->found[0..n_found) (freed after the callback). Found tasks are
 * adopted: later calls and exit events work on them as on tasks this
 * executor prepared. */
static inline int executor_list(struct executor *ex, struct exec_req *req,
				exec_cb cb, struct sw_err *err)
{
	return ex->ops->list(ex, req, cb, err);
}

/* Runs argv inside the running task's container and waits for it to exit
 * (a healthcheck probe), within timeout_ns (rounded up to seconds; 0:
 * none). It is not a call on the task in the sense of the one-call rule:
 * a probe may run while a stop is in flight. Callback 0:
 * req->status.exit_code and req->output; negative when it could not run
 * (req->err says why, e.g. the runtime's timeout). -SW_ENOTIMPL when the
 * executor cannot run commands, -SW_ENOTFOUND when it does not know the
 * task's container. */
/* Whether the executor can run probes (healthchecks) at all. */
static inline bool executor_can_probe(const struct executor *ex)
{
	return ex->ops->probe != NULL;
}

static inline int executor_probe(struct executor *ex, struct exec_req *req,
				 const char *task_id, const char *const *argv,
				 size_t argc, int64_t timeout_ns, exec_cb cb,
				 struct sw_err *err)
{
	if (ex->ops->probe == NULL)
		return sw_err_set(err, SW_ENOTIMPL, "no probes on this executor");
	return ex->ops->probe(ex, req, task_id, argv, argc, timeout_ns, cb,
			      err);
}

/* Reads the task's log (blocking file I/O). Touches no loop state, so it
 * may run on a uv_queue_work thread. On 0 the caller frees out with
 * exec_logs_free; -SW_ENOTFOUND when the task has no log. */
static inline int executor_logs(struct executor *ex, const char *task_id,
				const struct exec_log_query *q,
				struct exec_logs *out, struct sw_err *err)
{
	return ex->ops->logs(ex, task_id, q, out, err);
}

/* Closes the executor: calls in flight complete with -SW_EUNAVAILABLE,
 * then cb (may be NULL) fires from the loop and the executor is freed.
 * Tasks keep running. Not to be called twice. */
static inline void executor_close(struct executor *ex, exec_close_cb cb,
				  void *data)
{
	ex->ops->close(ex, cb, data);
}

#endif
