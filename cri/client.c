#include "cri/client.h"

#include <stdlib.h>

#include "lib/alloc.h"

#define RUNTIME_SVC "/runtime.v1.RuntimeService/"
#define IMAGE_SVC "/runtime.v1.ImageService/"

struct cri_client {
	struct grpc_client *grpc;
	cri_close_cb close_cb;
	void *close_data;
};

struct cri_method_info {
	const char *name;
	const char *path;
	const ProtobufCMessageDescriptor *req;
	const ProtobufCMessageDescriptor *resp;
	unsigned timeout_ms;
};

enum {
	TIMEOUT_CALL = 2 * 60 * 1000,  /* kubelet's runtime-request-timeout */
	TIMEOUT_PULL = 30 * 60 * 1000, /* a pull moves whole images */
};

#define METHOD(id, svc, name, msg, tmo)                                        \
	[id] = {name, svc name, &runtime__v1__##msg##_request__descriptor,     \
		&runtime__v1__##msg##_response__descriptor, tmo}

static const struct cri_method_info methods[CRI_METHOD_COUNT] = {
    METHOD(CRI_VERSION, RUNTIME_SVC, "Version", version, TIMEOUT_CALL),
    METHOD(CRI_RUN_POD_SANDBOX, RUNTIME_SVC, "RunPodSandbox", run_pod_sandbox,
	   TIMEOUT_CALL),
    METHOD(CRI_STOP_POD_SANDBOX, RUNTIME_SVC, "StopPodSandbox",
	   stop_pod_sandbox, TIMEOUT_CALL),
    METHOD(CRI_REMOVE_POD_SANDBOX, RUNTIME_SVC, "RemovePodSandbox",
	   remove_pod_sandbox, TIMEOUT_CALL),
    METHOD(CRI_POD_SANDBOX_STATUS, RUNTIME_SVC, "PodSandboxStatus",
	   pod_sandbox_status, TIMEOUT_CALL),
    METHOD(CRI_LIST_POD_SANDBOX, RUNTIME_SVC, "ListPodSandbox",
	   list_pod_sandbox, TIMEOUT_CALL),
    METHOD(CRI_CREATE_CONTAINER, RUNTIME_SVC, "CreateContainer",
	   create_container, TIMEOUT_CALL),
    METHOD(CRI_START_CONTAINER, RUNTIME_SVC, "StartContainer", start_container,
	   TIMEOUT_CALL),
    METHOD(CRI_STOP_CONTAINER, RUNTIME_SVC, "StopContainer", stop_container,
	   TIMEOUT_CALL),
    METHOD(CRI_REMOVE_CONTAINER, RUNTIME_SVC, "RemoveContainer",
	   remove_container, TIMEOUT_CALL),
    METHOD(CRI_LIST_CONTAINERS, RUNTIME_SVC, "ListContainers", list_containers,
	   TIMEOUT_CALL),
    METHOD(CRI_CONTAINER_STATUS, RUNTIME_SVC, "ContainerStatus",
	   container_status, TIMEOUT_CALL),
    METHOD(CRI_EXEC_SYNC, RUNTIME_SVC, "ExecSync", exec_sync, TIMEOUT_CALL),
    METHOD(CRI_STATUS, RUNTIME_SVC, "Status", status, TIMEOUT_CALL),
    METHOD(CRI_LIST_IMAGES, IMAGE_SVC, "ListImages", list_images, TIMEOUT_CALL),
    METHOD(CRI_IMAGE_STATUS, IMAGE_SVC, "ImageStatus", image_status,
	   TIMEOUT_CALL),
    METHOD(CRI_PULL_IMAGE, IMAGE_SVC, "PullImage", pull_image, TIMEOUT_PULL),
    METHOD(CRI_REMOVE_IMAGE, IMAGE_SVC, "RemoveImage", remove_image,
	   TIMEOUT_CALL),
};

struct cri_client *cri_client_new(uv_loop_t *loop, const char *socket_path,
				  const struct grpc_opts *opts,
				  struct sw_err *err)
{
	struct cri_client *c = xcalloc(1, sizeof(*c));

	c->grpc = grpc_client_new(loop, socket_path, opts, err);
	if (c->grpc == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

static void on_grpc_closed(struct grpc_client *g, void *data)
{
	struct cri_client *c = data;

	if (c->close_cb != NULL)
		c->close_cb(c, c->close_data);
	free(c);
}

void cri_client_close(struct cri_client *c, cri_close_cb cb, void *data)
{
	c->close_cb = cb;
	c->close_data = data;
	grpc_client_close(c->grpc, on_grpc_closed, c);
}

const char *cri_method_name(enum cri_method m)
{
	if ((unsigned)m >= CRI_METHOD_COUNT)
		return "?";
	return methods[m].name;
}

/* Decodes the reply into req and reports it. The message is freed after
 * the callback, which may have freed req, so nothing of req is read after
 * the call. */
static void on_call_done(struct grpc_call *call, int status)
{
	struct cri_req *req = call->data;
	const struct cri_method_info *mi = &methods[req->method];
	ProtobufCMessage *msg = NULL;

	req->code = call->code;
	req->canceled = call->canceled;
	if (status == 0) {
		msg = protobuf_c_message_unpack(mi->resp, NULL, call->reply_len,
						call->reply);
		if (msg == NULL) {
			req->code = GRPC_INTERNAL;
			status = sw_err_set(&req->err, SW_ESYSTEM,
					    "cri: %s: reply is not a valid %s",
					    mi->name, mi->resp->name);
		}
	} else {
		req->err = call->err;
	}
	req->reply.msg = msg;
	req->cb(req, status);
	if (msg != NULL)
		protobuf_c_message_free_unpacked(msg, NULL);
}

int cri_call(struct cri_req *req, struct cri_client *c, enum cri_method m,
	     const ProtobufCMessage *msg, cri_cb cb, struct sw_err *err)
{
	const struct cri_method_info *mi;
	uint8_t *bytes;
	size_t len = 0;
	int rc;

	if ((unsigned)m >= CRI_METHOD_COUNT)
		return sw_err_set(err, SW_EINVALID, "cri: unknown method %d",
				  (int)m);
	mi = &methods[m];
	if (msg != NULL && msg->descriptor != mi->req)
		return sw_err_set(err, SW_EINVALID, "cri: %s takes %s, not %s",
				  mi->name, mi->req->name,
				  msg->descriptor->name);
	if (msg != NULL)
		len = protobuf_c_message_get_packed_size(msg);
	bytes = xmalloc(len);
	if (msg != NULL)
		protobuf_c_message_pack(msg, bytes);
	req->code = 0;
	req->canceled = false;
	req->reply.msg = NULL;
	req->method = m;
	req->cb = cb;
	req->call.data = req;
	rc = grpc_call_start(&req->call, c->grpc, mi->path, bytes, len,
			     req->timeout_ms ? req->timeout_ms : mi->timeout_ms,
			     on_call_done, err);
	free(bytes);
	return rc;
}

int cri_version(struct cri_req *req, struct cri_client *c, cri_cb cb,
		struct sw_err *err)
{
	Runtime__V1__VersionRequest msg = RUNTIME__V1__VERSION_REQUEST__INIT;

	/* The version kubelet sends; containerd only echoes it. */
	msg.version = "0.1.0";
	return cri_call(req, c, CRI_VERSION, &msg.base, cb, err);
}

int cri_status(struct cri_req *req, struct cri_client *c, bool verbose,
	       cri_cb cb, struct sw_err *err)
{
	Runtime__V1__StatusRequest msg = RUNTIME__V1__STATUS_REQUEST__INIT;

	msg.verbose = verbose;
	return cri_call(req, c, CRI_STATUS, &msg.base, cb, err);
}

int cri_image_status(struct cri_req *req, struct cri_client *c,
		     const char *image, cri_cb cb, struct sw_err *err)
{
	Runtime__V1__ImageStatusRequest msg =
	    RUNTIME__V1__IMAGE_STATUS_REQUEST__INIT;
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;

	spec.image = (char *)image; /* only read while packing */
	msg.image = &spec;
	return cri_call(req, c, CRI_IMAGE_STATUS, &msg.base, cb, err);
}
