/* cri/client.c against a real containerd. Skipped unless
 * SWARMD_TEST_CONTAINERD_SOCK names the socket of a running containerd
 * (1.6.x with the CRI plugin). The read-only calls run against any
 * containerd. The pod lifecycle test also needs SWARMD_TEST_PAUSE_IMAGE, the
 * swarmd pause image (images/pause.c) already imported into the k8s.io
 * namespace and configured as sandbox_image; it creates one host-network
 * pod and container and removes them again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cri/client.h"

enum { SEQUENTIAL = 50, CONCURRENT = 20 };

struct fixture {
	uv_loop_t loop;
	struct cri_client *cri;
	bool closed;
	int done;
	int failed;
	int remaining; /* sequential calls still to start */
	struct cri_req reqs[CONCURRENT];
	struct sw_err last_err;
	int last_status;
	/* The lifecycle test's state. */
	int step;
	const char *image;
	char pod_id[80];
	char ctr_id[80];
};

static int setup(void **state)
{
	const char *sock = getenv("SWARMD_TEST_CONTAINERD_SOCK");
	struct fixture *f;
	struct sw_err err;

	if (sock == NULL || sock[0] == '\0') {
		*state = NULL;
		return 0;
	}
	f = calloc(1, sizeof(*f));
	assert_int_equal(uv_loop_init(&f->loop), 0);
	f->cri = cri_client_new(&f->loop, sock, NULL, &err);
	assert_non_null(f->cri);
	*state = f;
	return 0;
}

static void on_closed(struct cri_client *c, void *data)
{
	struct fixture *f = data;

	f->closed = true;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f == NULL)
		return 0;
	cri_client_close(f->cri, on_closed, f);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
	return 0;
}

static struct fixture *need_containerd(void **state)
{
	if (*state == NULL)
		skip();
	return *state;
}

static void record(struct fixture *f, struct cri_req *req, int status)
{
	f->done++;
	f->last_status = status;
	if (status != 0) {
		f->failed++;
		f->last_err = req->err;
		print_message("call failed: code %d: %s\n", req->code,
			      req->err.msg);
	}
}

static void on_version(struct cri_req *req, int status)
{
	struct fixture *f = req->data;

	record(f, req, status);
	if (status != 0)
		return;
	print_message("containerd: %s %s, CRI %s\n",
		      req->reply.version->runtime_name,
		      req->reply.version->runtime_version,
		      req->reply.version->runtime_api_version);
	assert_string_equal(req->reply.version->runtime_name, "containerd");
	assert_string_equal(req->reply.version->runtime_api_version, "v1");
	assert_true(strlen(req->reply.version->runtime_version) > 0);
}

static void test_version(void **state)
{
	struct fixture *f = need_containerd(state);
	struct sw_err err;

	f->reqs[0].data = f;
	assert_int_equal(cri_version(&f->reqs[0], f->cri, on_version, &err), 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(f->done, 1);
	assert_int_equal(f->failed, 0);
}

static void on_status(struct cri_req *req, int status)
{
	struct fixture *f = req->data;
	Runtime__V1__RuntimeStatus *rs;
	bool runtime_ready = false;
	size_t i;

	record(f, req, status);
	if (status != 0)
		return;
	rs = req->reply.status->status;
	assert_non_null(rs);
	for (i = 0; i < rs->n_conditions; i++)
		if (strcmp(rs->conditions[i]->type, "RuntimeReady") == 0)
			runtime_ready = rs->conditions[i]->status;
	assert_true(runtime_ready);
}

static void test_status(void **state)
{
	struct fixture *f = need_containerd(state);
	struct sw_err err;

	f->reqs[0].data = f;
	assert_int_equal(
	    cri_status(&f->reqs[0], f->cri, false, on_status, &err), 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(f->done, 1);
	assert_int_equal(f->failed, 0);
}

static void on_image_status(struct cri_req *req, int status)
{
	struct fixture *f = req->data;

	record(f, req, status);
	if (status == 0)
		assert_null(req->reply.image_status->image);
}

/* An absent image is an OK answer with no image, not NotFound. */
static void test_image_status_absent(void **state)
{
	struct fixture *f = need_containerd(state);
	struct sw_err err;

	f->reqs[0].data = f;
	assert_int_equal(cri_image_status(&f->reqs[0], f->cri,
					  "swarmd.local/absent:never",
					  on_image_status, &err),
			 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(f->done, 1);
	assert_int_equal(f->failed, 0);
}

static void on_expect_error(struct cri_req *req, int status)
{
	struct fixture *f = req->data;

	f->done++;
	f->last_status = status;
	f->last_err = req->err;
	f->reqs[1].code = req->code;
}

/* Errors come back through grpc-status (trailers-only) and map to kinds. */
static void test_container_status_not_found(void **state)
{
	struct fixture *f = need_containerd(state);
	Runtime__V1__ContainerStatusRequest msg =
	    RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;
	struct sw_err err;

	msg.container_id = "swarmd-no-such-container";
	f->reqs[0].data = f;
	assert_int_equal(cri_call(&f->reqs[0], f->cri, CRI_CONTAINER_STATUS,
				  &msg.base, on_expect_error, &err),
			 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(f->done, 1);
	assert_int_equal(f->last_status, -SW_ENOTFOUND);
	assert_int_equal(f->reqs[1].code, GRPC_NOT_FOUND);
	assert_non_null(strstr(f->last_err.msg, "not found"));
}

static void on_list_seq(struct cri_req *req, int status);

static void start_list(struct fixture *f, struct cri_req *req, cri_cb cb)
{
	struct sw_err err;

	req->data = f;
	assert_int_equal(
	    cri_call(req, f->cri, CRI_LIST_POD_SANDBOX, NULL, cb, &err), 0);
}

/* Chains the next call from the callback, as the executor will. */
static void on_list_seq(struct cri_req *req, int status)
{
	struct fixture *f = req->data;

	record(f, req, status);
	if (status == 0)
		assert_non_null(req->reply.list_pod_sandbox);
	if (--f->remaining > 0)
		start_list(f, req, on_list_seq);
}

static void test_list_sequential(void **state)
{
	struct fixture *f = need_containerd(state);

	f->remaining = SEQUENTIAL;
	start_list(f, &f->reqs[0], on_list_seq);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(f->done, SEQUENTIAL);
	assert_int_equal(f->failed, 0);
}

static void on_list(struct cri_req *req, int status)
{
	record(req->data, req, status);
}

static void test_list_concurrent(void **state)
{
	struct fixture *f = need_containerd(state);
	int i;

	for (i = 0; i < CONCURRENT; i++)
		start_list(f, &f->reqs[i], on_list);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(f->done, CONCURRENT);
	assert_int_equal(f->failed, 0);
}

/* ---- pod lifecycle ---- */

static Runtime__V1__PodSandboxConfig *
pod_config(Runtime__V1__PodSandboxConfig *cfg,
	   Runtime__V1__PodSandboxMetadata *md,
	   Runtime__V1__LinuxPodSandboxConfig *linux,
	   Runtime__V1__LinuxSandboxSecurityContext *sc,
	   Runtime__V1__NamespaceOption *ns,
	   Runtime__V1__PodSandboxConfig__LabelsEntry *label,
	   Runtime__V1__PodSandboxConfig__LabelsEntry **labels)
{
	md->name = "critest";
	md->uid = "swarmd-critest-uid";
	md->namespace_ = "swarmd";
	ns->network = RUNTIME__V1__NAMESPACE_MODE__NODE;
	sc->namespace_options = ns;
	linux->security_context = sc;
	linux->cgroup_parent = "/swarmd-critest";
	label->key = "swarmd.test";
	label->value = "lifecycle";
	labels[0] = label;
	cfg->metadata = md;
	/* No hostname: a host-network pod shares the host's UTS namespace,
	 * and runc refuses to set one there. */
	cfg->log_directory = "/tmp/swarmd-critest-logs";
	cfg->linux = linux;
	cfg->n_labels = 1;
	cfg->labels = labels;
	return cfg;
}

/* Builds the pod config on the caller's stack: the structs only need to
 * live until cri_call has serialized them. */
#define POD_CONFIG(cfg)                                                        \
	Runtime__V1__PodSandboxConfig cfg =                                    \
	    RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;                             \
	Runtime__V1__PodSandboxMetadata md_ =                                  \
	    RUNTIME__V1__POD_SANDBOX_METADATA__INIT;                           \
	Runtime__V1__LinuxPodSandboxConfig lx_ =                               \
	    RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__INIT;                       \
	Runtime__V1__LinuxSandboxSecurityContext sc_ =                         \
	    RUNTIME__V1__LINUX_SANDBOX_SECURITY_CONTEXT__INIT;                 \
	Runtime__V1__NamespaceOption ns_ =                                     \
	    RUNTIME__V1__NAMESPACE_OPTION__INIT;                               \
	Runtime__V1__PodSandboxConfig__LabelsEntry lb_ =                       \
	    RUNTIME__V1__POD_SANDBOX_CONFIG__LABELS_ENTRY__INIT;               \
	Runtime__V1__PodSandboxConfig__LabelsEntry *lbs_[1];                   \
	pod_config(&cfg, &md_, &lx_, &sc_, &ns_, &lb_, lbs_)

static void on_step(struct cri_req *req, int status);

static void call(struct fixture *f, enum cri_method m,
		 const ProtobufCMessage *msg)
{
	struct sw_err err;

	f->reqs[0].data = f;
	f->reqs[0].timeout_ms = 30000;
	assert_int_equal(cri_call(&f->reqs[0], f->cri, m, msg, on_step, &err),
			 0);
}

static void run_pod(struct fixture *f)
{
	Runtime__V1__RunPodSandboxRequest msg =
	    RUNTIME__V1__RUN_POD_SANDBOX_REQUEST__INIT;
	POD_CONFIG(cfg);

	msg.config = &cfg;
	call(f, CRI_RUN_POD_SANDBOX, &msg.base);
}

static void create_container(struct fixture *f)
{
	Runtime__V1__CreateContainerRequest msg =
	    RUNTIME__V1__CREATE_CONTAINER_REQUEST__INIT;
	Runtime__V1__ContainerConfig cc = RUNTIME__V1__CONTAINER_CONFIG__INIT;
	Runtime__V1__ContainerMetadata md =
	    RUNTIME__V1__CONTAINER_METADATA__INIT;
	Runtime__V1__ImageSpec image = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__KeyValue env = RUNTIME__V1__KEY_VALUE__INIT;
	Runtime__V1__KeyValue *envs[1] = {&env};
	Runtime__V1__LinuxContainerConfig lx =
	    RUNTIME__V1__LINUX_CONTAINER_CONFIG__INIT;
	Runtime__V1__LinuxContainerResources res =
	    RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
	Runtime__V1__LinuxContainerSecurityContext sc =
	    RUNTIME__V1__LINUX_CONTAINER_SECURITY_CONTEXT__INIT;
	Runtime__V1__NamespaceOption ns = RUNTIME__V1__NAMESPACE_OPTION__INIT;
	Runtime__V1__Int64Value uid = RUNTIME__V1__INT64_VALUE__INIT;
	char *command[1] = {"/pause"};
	POD_CONFIG(pod);

	md.name = "c1";
	image.image = (char *)f->image;
	env.key = "SWARMD_TEST";
	env.value = "1";
	res.memory_limit_in_bytes = 64 << 20;
	ns.network = RUNTIME__V1__NAMESPACE_MODE__NODE;
	ns.pid = RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
	sc.namespace_options = &ns;
	sc.run_as_user = &uid;
	sc.readonly_rootfs = true;
	lx.resources = &res;
	lx.security_context = &sc;
	cc.metadata = &md;
	cc.image = &image;
	cc.n_command = 1;
	cc.command = command;
	cc.n_envs = 1;
	cc.envs = envs;
	cc.log_path = "c1.log";
	cc.linux = &lx;
	msg.pod_sandbox_id = f->pod_id;
	msg.config = &cc;
	msg.sandbox_config = &pod;
	call(f, CRI_CREATE_CONTAINER, &msg.base);
}

static void container_call(struct fixture *f, enum cri_method m)
{
	Runtime__V1__StartContainerRequest start =
	    RUNTIME__V1__START_CONTAINER_REQUEST__INIT;
	Runtime__V1__ContainerStatusRequest st =
	    RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;
	Runtime__V1__StopContainerRequest stop =
	    RUNTIME__V1__STOP_CONTAINER_REQUEST__INIT;
	Runtime__V1__RemoveContainerRequest rm =
	    RUNTIME__V1__REMOVE_CONTAINER_REQUEST__INIT;

	start.container_id = st.container_id = f->ctr_id;
	st.verbose = true;
	stop.container_id = rm.container_id = f->ctr_id;
	stop.timeout = 5;
	if (m == CRI_START_CONTAINER)
		call(f, m, &start.base);
	else if (m == CRI_CONTAINER_STATUS)
		call(f, m, &st.base);
	else if (m == CRI_STOP_CONTAINER)
		call(f, m, &stop.base);
	else
		call(f, m, &rm.base);
}

static void exec_version(struct fixture *f)
{
	Runtime__V1__ExecSyncRequest msg = RUNTIME__V1__EXEC_SYNC_REQUEST__INIT;
	char *cmd[2] = {"/pause", "-v"};

	msg.container_id = f->ctr_id;
	msg.n_cmd = 2;
	msg.cmd = cmd;
	msg.timeout = 10;
	call(f, CRI_EXEC_SYNC, &msg.base);
}

static void pod_call(struct fixture *f, enum cri_method m)
{
	Runtime__V1__PodSandboxStatusRequest st =
	    RUNTIME__V1__POD_SANDBOX_STATUS_REQUEST__INIT;
	Runtime__V1__StopPodSandboxRequest stop =
	    RUNTIME__V1__STOP_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__RemovePodSandboxRequest rm =
	    RUNTIME__V1__REMOVE_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__ListContainersRequest lc =
	    RUNTIME__V1__LIST_CONTAINERS_REQUEST__INIT;
	Runtime__V1__ContainerFilter cf = RUNTIME__V1__CONTAINER_FILTER__INIT;
	Runtime__V1__ListPodSandboxRequest lp =
	    RUNTIME__V1__LIST_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__PodSandboxFilter pf =
	    RUNTIME__V1__POD_SANDBOX_FILTER__INIT;

	st.pod_sandbox_id = stop.pod_sandbox_id = f->pod_id;
	rm.pod_sandbox_id = cf.pod_sandbox_id = pf.id = f->pod_id;
	lc.filter = &cf;
	lp.filter = &pf;
	if (m == CRI_POD_SANDBOX_STATUS)
		call(f, m, &st.base);
	else if (m == CRI_STOP_POD_SANDBOX)
		call(f, m, &stop.base);
	else if (m == CRI_REMOVE_POD_SANDBOX)
		call(f, m, &rm.base);
	else if (m == CRI_LIST_CONTAINERS)
		call(f, m, &lc.base);
	else
		call(f, m, &lp.base);
}

/* The verbose "info" holds the OCI spec containerd generated: proof that
 * the nested config fields went out under the right numbers. */
static void check_spec(const Runtime__V1__ContainerStatusResponse *resp)
{
	const char *info = NULL;
	size_t i;

	for (i = 0; i < resp->n_info; i++)
		if (strcmp(resp->info[i]->key, "info") == 0)
			info = resp->info[i]->value;
	assert_non_null(info);
	assert_non_null(strstr(info, "\"SWARMD_TEST=1\""));
	assert_non_null(strstr(info, "\"limit\":67108864"));
	assert_non_null(strstr(info, "\"readonly\":true"));
	assert_non_null(strstr(info, "\"cgroupsPath\":\"/swarmd-critest/"));
}

static void check_status(struct fixture *f, union cri_reply r)
{
	Runtime__V1__ContainerStatus *st = r.container_status->status;

	if (f->step == 4) {
		assert_int_equal(
		    st->state, RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING);
		assert_string_equal(st->metadata->name, "c1");
		assert_true(st->started_at > 0);
		check_spec(r.container_status);
		return;
	}
	assert_int_equal(st->state,
			 RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED);
	assert_int_equal(st->exit_code, 0);
}

/* Checks the reply of step f->step and starts the next one. */
static void on_step(struct cri_req *req, int status)
{
	struct fixture *f = req->data;
	union cri_reply r = req->reply;

	if (status != 0)
		print_message("step %d (%s) failed: %s\n", f->step,
			      cri_method_name(req->method), req->err.msg);
	assert_int_equal(status, 0);
	f->step++;
	switch (f->step) {
	case 1:
		(void)snprintf(f->pod_id, sizeof(f->pod_id), "%s",
			       r.run_pod_sandbox->pod_sandbox_id);
		create_container(f);
		break;
	case 2:
		(void)snprintf(f->ctr_id, sizeof(f->ctr_id), "%s",
			       r.create_container->container_id);
		container_call(f, CRI_START_CONTAINER);
		break;
	case 3:
		container_call(f, CRI_CONTAINER_STATUS);
		break;
	case 4:
		check_status(f, r);
		exec_version(f);
		break;
	case 5:
		assert_int_equal(r.exec_sync->exit_code, 0);
		assert_int_equal(r.exec_sync->stdout.len, 15);
		assert_memory_equal(r.exec_sync->stdout.data,
				    "swarmd-pause 1\n", 15);
		pod_call(f, CRI_LIST_CONTAINERS);
		break;
	case 6:
		assert_int_equal(r.list_containers->n_containers, 1);
		pod_call(f, CRI_POD_SANDBOX_STATUS);
		break;
	case 7:
		assert_int_equal(r.pod_sandbox_status->status->state,
				 RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY);
		assert_string_equal(
		    r.pod_sandbox_status->status->metadata->namespace_,
		    "swarmd");
		container_call(f, CRI_STOP_CONTAINER);
		break;
	case 8:
		container_call(f, CRI_CONTAINER_STATUS);
		break;
	case 9:
		check_status(f, r);
		container_call(f, CRI_REMOVE_CONTAINER);
		break;
	case 10:
		pod_call(f, CRI_STOP_POD_SANDBOX);
		break;
	case 11:
		pod_call(f, CRI_REMOVE_POD_SANDBOX);
		break;
	case 12:
		pod_call(f, CRI_LIST_POD_SANDBOX);
		break;
	default:
		assert_int_equal(r.list_pod_sandbox->n_items, 0);
		break;
	}
}

static void test_pod_lifecycle(void **state)
{
	struct fixture *f = need_containerd(state);

	f->image = getenv("SWARMD_TEST_PAUSE_IMAGE");
	if (f->image == NULL || f->image[0] == '\0')
		skip();
	run_pod(f);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(f->step, 13);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_status, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_image_status_absent, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_container_status_not_found,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list_sequential, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_list_concurrent, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_pod_lifecycle, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
