/* The node runtime seam: what the Engine API needs of this node's container
 * runtime besides running swarm tasks (executor.h): its images (list,
 * inspect, load, tag, pull, remove), the containers it holds (list,
 * inspect, logs) and running a command in one of them. cri/runtime_cri.c
 * implements it on containerd (CRI plus the `ctr` tool for what CRI lacks);
 * daemon/main.c hands it to engine-api through struct api_env, so engine-api
 * never sees CRI.
 *
 * Everything here is plain C: no json-c, no CRI or protobuf types. Image
 * references are always full ("docker.io/library/busybox:latest"): the
 * Engine API normalizes Docker's short forms before calling.
 *
 * Invariants (as in executor.h):
 * - Asynchronous calls take a caller-allocated request (zeroed) and a
 *   callback. When a call returns 0 its callback fires exactly once, later,
 *   from the loop (never inside the call); when it returns a negative
 *   sw_err kind the callback never fires.
 * - Calls fail at once only for bad arguments or a closing runtime;
 *   everything else (an unknown image, containerd unreachable) comes
 *   through the callback, as a negative kind with req->err.
 * - Results live in the request and are freed by the runtime after the
 *   callback returns: copy what you keep. */
#ifndef SW_RUNTIME_H
#define SW_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "orchestrator/executor.h"

enum {
	RT_ID_MAX = 80, /* "sha256:" + 64 hex digits, container IDs; NUL */
};

struct rt_kv {
	char *key;
	char *value;
};

/* An image. tags and digests are full references
 * ("docker.io/library/busybox:latest", "host:5000/busybox@sha256:..."). */
struct rt_image {
	char id[RT_ID_MAX]; /* "sha256:<config digest>" */
	char **tags;
	size_t n_tags;
	char **digests;
	size_t n_digests;
	uint64_t size; /* bytes */
	/* The OCI image configuration as the image holds it (JSON text:
	 * created, architecture, os, config, rootfs, history), or NULL when
	 * the runtime does not know it. */
	char *config;
};

enum rt_ctr_state {
	RT_CREATED = 1,
	RT_RUNNING,
	RT_EXITED,
	RT_UNKNOWN,
};

struct rt_mount {
	char *source; /* on the node */
	char *target; /* in the container */
	bool read_only;
};

/* A container. Times are nanoseconds since the epoch, 0 when unknown.
 * Members below `detailed` are filled only when it is true. */
struct rt_container {
	char id[RT_ID_MAX];
	char *name;  /* e.g. "web.1.<taskID>" */
	char *image; /* the reference it was created from, as given */
	char image_id[RT_ID_MAX];
	enum rt_ctr_state state;
	int64_t created_ns;
	struct rt_kv *labels;
	size_t n_labels;

	bool detailed;
	int64_t started_ns;
	int64_t finished_ns;
	int exit_code;
	char *reason;  /* "Completed", "Error", "OOMKilled" or "" */
	char *message; /* the runtime's words about the exit, or "" */
	int pid;       /* while running, else 0 */
	char **args;   /* the process as it runs; args[0] is its path */
	size_t n_args;
	char **env;
	size_t n_env;
	char *workdir;
	char *hostname;
	char *user; /* "uid:gid" or "" */
	bool tty;
	bool open_stdin;
	struct rt_mount *mounts; /* bind mounts asked for */
	size_t n_mounts;
	char *log_path; /* for read_log; "" when it has none */
	/* Set by the Engine API for a swarm task with a healthcheck
	 * (orchestrator/health.h); the runtime leaves it NULL. */
	const struct health_state *health;
};

struct rt_req;
struct node_runtime;

typedef void (*rt_cb)(struct rt_req *req, int status);
typedef void (*rt_close_cb)(void *data);

/* One asynchronous call, allocated by the caller (zero it) and kept alive
 * until its callback runs; the callback may free it. */
struct rt_req {
	void *data; /* for the caller */
	/* exec_sync: deadline in seconds, 0 for none. */
	int64_t timeout_s;

	/* Results, valid inside the callback. */
	struct sw_err err; /* when status < 0 */
	struct rt_image *images;
	size_t n_images;
	struct rt_container *containers;
	size_t n_containers;
	char image_id[RT_ID_MAX]; /* pull_image */
	/* exec_sync */
	char *out;
	size_t out_len;
	char *errout;
	size_t errout_len;
	int exit_code;

	/* Private to the runtime. */
	void *priv;
};

/* ---- Loading images from a `docker save` tar ---- */

struct rt_load;
typedef void (*rt_load_cb)(struct rt_load *ld, int status);

/* A streamed image load. The caller zeroes it, may set on_drain, starts
 * it, writes the tar as it arrives and ends it. */
struct rt_load {
	void *data; /* for the caller */
	/* Called (from the loop) once the input queued after load_write
	 * returned true has been taken up, so the caller may send more. */
	void (*on_drain)(struct rt_load *ld);

	/* Results, valid inside the callback. */
	struct sw_err err; /* when status < 0: the importer's words */
	char **names;      /* full references of the images loaded */
	size_t n_names;

	/* Private to the runtime. */
	void *priv;
};

/* ---- The operations ---- */

struct runtime_ops {
	int (*list_images)(struct node_runtime *rt, struct rt_req *req,
			   rt_cb cb, struct sw_err *err);
	int (*inspect_image)(struct node_runtime *rt, struct rt_req *req,
			     const char *id, rt_cb cb, struct sw_err *err);
	int (*pull_image)(struct node_runtime *rt, struct rt_req *req,
			  const char *ref, rt_cb cb, struct sw_err *err);
	int (*tag_image)(struct node_runtime *rt, struct rt_req *req,
			 const char *id, const char *ref, rt_cb cb,
			 struct sw_err *err);
	int (*untag_image)(struct node_runtime *rt, struct rt_req *req,
			   const char *const *refs, size_t n, rt_cb cb,
			   struct sw_err *err);
	int (*remove_image)(struct node_runtime *rt, struct rt_req *req,
			    const char *id, rt_cb cb, struct sw_err *err);
	int (*load_start)(struct node_runtime *rt, struct rt_load *ld,
			  rt_load_cb cb, struct sw_err *err);
	bool (*load_write)(struct rt_load *ld, const void *p, size_t n);
	void (*load_end)(struct rt_load *ld, bool complete);
	int (*list_containers)(struct node_runtime *rt, struct rt_req *req,
			       bool detailed, rt_cb cb, struct sw_err *err);
	int (*inspect_container)(struct node_runtime *rt, struct rt_req *req,
				 const char *id, rt_cb cb, struct sw_err *err);
	int (*exec_sync)(struct node_runtime *rt, struct rt_req *req,
			 const char *id, const char *const *argv, size_t argc,
			 rt_cb cb, struct sw_err *err);
	int (*read_log)(struct node_runtime *rt, const char *log_path,
			const struct exec_log_query *q, struct exec_logs *out,
			struct sw_err *err);
	void (*close)(struct node_runtime *rt, rt_close_cb cb, void *data);
};

/* A node runtime. Implementations embed it and set ops. */
struct node_runtime {
	const struct runtime_ops *ops;
};

/* Lists every image, each with its configuration, into
 * req->images[0..n_images) (one call per image). */
static inline int runtime_list_images(struct node_runtime *rt,
				      struct rt_req *req, rt_cb cb,
				      struct sw_err *err)
{
	return rt->ops->list_images(rt, req, cb, err);
}

/* One image by ID (or full reference) into req->images[0], config
 * included. Callback -SW_ENOTFOUND when the runtime does not hold it. */
static inline int runtime_inspect_image(struct node_runtime *rt,
					struct rt_req *req, const char *id,
					rt_cb cb, struct sw_err *err)
{
	return rt->ops->inspect_image(rt, req, id, cb, err);
}

/* Pulls ref from its registry (registries on loopback addresses are
 * spoken to over plain HTTP); req->image_id is the image's ID. Callback
 * -SW_ENOTFOUND when the registry does not have it, with the runtime's
 * words in req->err. */
static inline int runtime_pull_image(struct node_runtime *rt,
				     struct rt_req *req, const char *ref,
				     rt_cb cb, struct sw_err *err)
{
	return rt->ops->pull_image(rt, req, ref, cb, err);
}

/* Names the image id (or a full reference to it) ref as well, moving ref
 * if another image had it. */
static inline int runtime_tag_image(struct node_runtime *rt, struct rt_req *req,
				    const char *id, const char *ref, rt_cb cb,
				    struct sw_err *err)
{
	return rt->ops->tag_image(rt, req, id, ref, cb, err);
}

/* Removes the names refs[0..n) (n > 0) of an image, not the image: one
 * without names stays, by ID, until remove_image. */
static inline int runtime_untag_image(struct node_runtime *rt,
				      struct rt_req *req,
				      const char *const *refs, size_t n,
				      rt_cb cb, struct sw_err *err)
{
	return rt->ops->untag_image(rt, req, refs, n, cb, err);
}

/* Removes the image id with all its names. */
static inline int runtime_remove_image(struct node_runtime *rt,
				       struct rt_req *req, const char *id,
				       rt_cb cb, struct sw_err *err)
{
	return rt->ops->remove_image(rt, req, id, cb, err);
}

/* Starts importing a `docker save` (or OCI layout) tar. On 0, feed it with
 * runtime_load_write and finish with runtime_load_end; cb then fires once,
 * with 0 and ld->names, or a negative kind and ld->err. */
static inline int runtime_load_start(struct node_runtime *rt,
				     struct rt_load *ld, rt_load_cb cb,
				     struct sw_err *err)
{
	return rt->ops->load_start(rt, ld, cb, err);
}

/* Queues n bytes of the tar (copied). Returns true when the caller should
 * stop sending until ld->on_drain fires. Bytes written after the import
 * failed are dropped. */
static inline bool runtime_load_write(struct node_runtime *rt,
				      struct rt_load *ld, const void *p,
				      size_t n)
{
	return rt->ops->load_write(ld, p, n);
}

/* Ends the input: complete says whether the whole tar was written (false
 * when the client left: the import is abandoned). The callback follows. */
static inline void runtime_load_end(struct node_runtime *rt, struct rt_load *ld,
				    bool complete)
{
	rt->ops->load_end(ld, complete);
}

/* Lists every container into req->containers, newest first; with detailed
 * each one's status details are filled in too (one more call each). */
static inline int runtime_list_containers(struct node_runtime *rt,
					  struct rt_req *req, bool detailed,
					  rt_cb cb, struct sw_err *err)
{
	return rt->ops->list_containers(rt, req, detailed, cb, err);
}

/* One container by full ID into req->containers[0], detailed. Callback
 * -SW_ENOTFOUND when there is none. */
static inline int runtime_inspect_container(struct node_runtime *rt,
					    struct rt_req *req, const char *id,
					    rt_cb cb, struct sw_err *err)
{
	return rt->ops->inspect_container(rt, req, id, cb, err);
}

/* Runs argv in the running container id and waits for it to exit (within
 * req->timeout_s when set): req->out, req->errout and req->exit_code. */
static inline int runtime_exec_sync(struct node_runtime *rt, struct rt_req *req,
				    const char *id, const char *const *argv,
				    size_t argc, rt_cb cb, struct sw_err *err)
{
	return rt->ops->exec_sync(rt, req, id, argv, argc, cb, err);
}

/* Reads a container's log (a detailed container's log_path) as
 * executor_logs does; blocking file I/O, no loop state. */
static inline int runtime_read_log(struct node_runtime *rt,
				   const char *log_path,
				   const struct exec_log_query *q,
				   struct exec_logs *out, struct sw_err *err)
{
	return rt->ops->read_log(rt, log_path, q, out, err);
}

/* Closes the runtime: calls in flight complete with -SW_EUNAVAILABLE,
 * running helper programs are killed, then cb (may be NULL) fires from the
 * loop and the runtime is freed. Not to be called twice. */
static inline void runtime_close(struct node_runtime *rt, rt_close_cb cb,
				 void *data)
{
	rt->ops->close(rt, cb, data);
}

#endif
