/* The CRI client: typed asynchronous calls to containerd's runtime.v1
 * RuntimeService and ImageService, taking and returning the protobuf-c
 * structs generated from cri/cri.proto. Built on grpc.h, so every call runs
 * on the daemon's loop and reports through a callback, and the executor can
 * chain calls from one callback to the next.
 *
 * Invariants: a cri_req's callback fires exactly once per successful start,
 * from the loop, never from inside the start function; the reply message
 * belongs to the client and dies when the callback returns. */
#ifndef CRI_CLIENT_H
#define CRI_CLIENT_H

#include <stdbool.h>

#include <uv.h>

#include "cri/cri.pb-c.h"
#include "cri/grpc.h"
#include "lib/err.h"

/* The calls swarmd makes (the methods declared in cri/cri.proto). */
enum cri_method {
	CRI_VERSION = 0,
	CRI_RUN_POD_SANDBOX,
	CRI_STOP_POD_SANDBOX,
	CRI_REMOVE_POD_SANDBOX,
	CRI_POD_SANDBOX_STATUS,
	CRI_LIST_POD_SANDBOX,
	CRI_CREATE_CONTAINER,
	CRI_START_CONTAINER,
	CRI_STOP_CONTAINER,
	CRI_REMOVE_CONTAINER,
	CRI_LIST_CONTAINERS,
	CRI_CONTAINER_STATUS,
	CRI_EXEC_SYNC,
	CRI_STATUS,
	CRI_LIST_IMAGES,
	CRI_IMAGE_STATUS,
	CRI_PULL_IMAGE,
	CRI_REMOVE_IMAGE,
	CRI_METHOD_COUNT,
};

struct cri_client;
struct cri_req;

typedef void (*cri_cb)(struct cri_req *req, int status);
typedef void (*cri_close_cb)(struct cri_client *c, void *data);

/* The reply of a call, typed by method; `msg` is the generic view. */
union cri_reply {
	ProtobufCMessage *msg;
	Runtime__V1__VersionResponse *version;
	Runtime__V1__RunPodSandboxResponse *run_pod_sandbox;
	Runtime__V1__StopPodSandboxResponse *stop_pod_sandbox;
	Runtime__V1__RemovePodSandboxResponse *remove_pod_sandbox;
	Runtime__V1__PodSandboxStatusResponse *pod_sandbox_status;
	Runtime__V1__ListPodSandboxResponse *list_pod_sandbox;
	Runtime__V1__CreateContainerResponse *create_container;
	Runtime__V1__StartContainerResponse *start_container;
	Runtime__V1__StopContainerResponse *stop_container;
	Runtime__V1__RemoveContainerResponse *remove_container;
	Runtime__V1__ListContainersResponse *list_containers;
	Runtime__V1__ContainerStatusResponse *container_status;
	Runtime__V1__ExecSyncResponse *exec_sync;
	Runtime__V1__StatusResponse *status;
	Runtime__V1__ListImagesResponse *list_images;
	Runtime__V1__ImageStatusResponse *image_status;
	Runtime__V1__PullImageResponse *pull_image;
	Runtime__V1__RemoveImageResponse *remove_image;
};

/* One call, allocated by the caller (zero it first) and kept alive until
 * its callback runs; the callback may free it. */
struct cri_req {
	/* Set by the caller before starting; kept by the start function. */
	void *data;
	unsigned timeout_ms; /* deadline; 0 = the method's default */

	/* Results, valid inside the callback. */
	int code;              /* gRPC status code (grpc.h enum grpc_code) */
	bool canceled;         /* the client closed with the call in flight */
	struct sw_err err;     /* when status != 0 */
	union cri_reply reply; /* when status == 0; freed after the callback */

	/* Private. */
	enum cri_method method;
	cri_cb cb;
	struct grpc_call call;
};

/* Creates a client for containerd's CRI on the unix socket socket_path
 * (copied; it need not exist yet). opts may be NULL: one connection per call
 * (libcurl 7.88, see grpc.h), 16 MiB replies. The loop must outlive the
 * client. Returns NULL and fills err on failure. */
struct cri_client *cri_client_new(uv_loop_t *loop, const char *socket_path,
				  const struct grpc_opts *opts,
				  struct sw_err *err);

/* Closes the client. Calls in flight are canceled: their callbacks fire
 * from the loop with status -SW_EUNAVAILABLE, code GRPC_CANCELLED and
 * `canceled` set. Then cb (may be NULL) fires and the client is freed. New
 * calls are refused from now on. Safe from inside a cri callback; not to
 * be called twice. */
void cri_client_close(struct cri_client *c, cri_close_cb cb, void *data);

/* Starts method m with request msg, which must be the method's request type
 * (e.g. Runtime__V1__RunPodSandboxRequest for CRI_RUN_POD_SANDBOX) or NULL
 * for an empty request. msg is serialized before this returns; the caller
 * keeps owning it.
 *
 * Returns 0, and then cb fires exactly once, later, from the loop: with 0
 * and req->reply set to the decoded reply (valid until cb returns), or
 * with a negative sw_err kind, req->err and req->code telling why. gRPC
 * codes map to kinds as grpc_code_kind says; containerd unreachable
 * (stopped, socket missing, connection lost) is -SW_EUNAVAILABLE with code
 * GRPC_UNAVAILABLE, so callers can retry; a reply that does not decode is
 * -SW_ESYSTEM with GRPC_INTERNAL.
 *
 * Returns a negative kind with err filled, and cb never fires, for an
 * unknown method or a request of the wrong type (INVALID), a request over
 * the size limit (TOO_LARGE), a closing client (UNAVAILABLE), or a curl
 * failure (SYSTEM). */
int cri_call(struct cri_req *req, struct cri_client *c, enum cri_method m,
	     const ProtobufCMessage *msg, cri_cb cb, struct sw_err *err);

/* Version: req->reply.version on success. As cri_call. */
int cri_version(struct cri_req *req, struct cri_client *c, cri_cb cb,
		struct sw_err *err);

/* Status (runtime conditions), verbose adds req->reply.status->info. As
 * cri_call. */
int cri_status(struct cri_req *req, struct cri_client *c, bool verbose,
	       cri_cb cb, struct sw_err *err);

/* ImageStatus of image (a reference or ID; copied). An absent image is a
 * success with req->reply.image_status->image == NULL, not an error. As
 * cri_call. */
int cri_image_status(struct cri_req *req, struct cri_client *c,
		     const char *image, cri_cb cb, struct sw_err *err);

/* The gRPC method name ("RunPodSandbox"), or "?" for an unknown method. */
const char *cri_method_name(enum cri_method m);

#endif
