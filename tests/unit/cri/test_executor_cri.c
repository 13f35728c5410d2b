/* The CRI executor against a real containerd. Skipped unless
 * SWARMD_TEST_CONTAINERD_SOCK (a running containerd 1.6 with CRI) and
 * SWARMD_TEST_PAUSE_IMAGE (the sandbox image it is configured with) are
 * set; busybox (docker.io/library/busybox:latest) must be imported. The
 * bridge test also needs SWARMD_TEST_CNI_CONF_DIR (the conf_dir of that
 * containerd's CNI plugin). SWARMD_TEST_NODE_ID and SWARMD_TEST_LOG_ROOT
 * are optional. run_executor_containerd.sh sets all of them up on a private
 * containerd and cleans up afterwards:
 *
 *   tests/unit/cri/run_executor_containerd.sh BUILD_DIR
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cri/client.h"
#include "cri/cni.h"
#include "cri/executor_cri.h"
#include "lib/id.h"

#define BUSYBOX "docker.io/library/busybox:latest"

enum { MAX_FOUND = 32, WAIT_MS = 60000 };

struct fx {
	uv_loop_t loop;
	uv_timer_t tick;
	struct executor *ex;
	struct exec_cri_config cfg;
	const char *sock;
	char node_id[ID_SWARM_LEN + 1];
	char log_root[256];
	/* The last call. */
	struct exec_req req;
	bool done;
	int status;
	struct exec_status st;
	struct sw_err err;
	struct exec_found found[MAX_FOUND];
	size_t n_found;
	/* Events. */
	int n_events;
	char ev_task[EXEC_ID_MAX];
	struct exec_status ev;
	/* ExecSync through a client of our own. */
	struct cri_client *cri;
	struct cri_req creq;
	char exec_out[4096];
	int exec_code;
	int pod_state; /* ListPodSandbox through that client */
	bool closed;
};

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

static void on_event(void *data, const char *task_id,
		     const struct exec_status *st)
{
	struct fx *f = data;

	f->n_events++;
	snprintf(f->ev_task, sizeof(f->ev_task), "%s", task_id);
	f->ev = *st;
}

static void on_tick(uv_timer_t *t)
{
}

/* Runs the loop until *flag or a deadline. */
static void wait_for(struct fx *f, const bool *flag, unsigned ms)
{
	uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000;

	uv_timer_start(&f->tick, on_tick, 20, 20);
	while (!*flag && uv_hrtime() < end)
		uv_run(&f->loop, UV_RUN_ONCE);
	uv_timer_stop(&f->tick);
	assert_true(*flag);
}

static struct executor *new_executor(struct fx *f)
{
	struct sw_err err;
	struct executor *ex =
	    executor_cri_new(&f->loop, f->sock, &f->cfg, &err);

	if (ex == NULL)
		print_message("executor_cri_new: %s\n", err.msg);
	assert_non_null(ex);
	return ex;
}

static int setup(void **state)
{
	struct fx *f;
	struct sw_err err;
	const char *v;

	if (env("SWARMD_TEST_CONTAINERD_SOCK") == NULL ||
	    env("SWARMD_TEST_PAUSE_IMAGE") == NULL) {
		*state = NULL;
		return 0;
	}
	f = calloc(1, sizeof(*f));
	f->sock = env("SWARMD_TEST_CONTAINERD_SOCK");
	assert_int_equal(uv_loop_init(&f->loop), 0);
	uv_timer_init(&f->loop, &f->tick);
	v = env("SWARMD_TEST_NODE_ID");
	if (v != NULL)
		snprintf(f->node_id, sizeof(f->node_id), "%s", v);
	else
		id_new_swarm(f->node_id);
	v = env("SWARMD_TEST_LOG_ROOT");
	snprintf(f->log_root, sizeof(f->log_root), "%s",
		 v != NULL ? v : "/tmp/swarmd-test-exec-logs");
	f->cfg.node_id = f->node_id;
	f->cfg.log_root = f->log_root;
	f->cfg.cni_conf_dir = env("SWARMD_TEST_CNI_CONF_DIR");
	f->cfg.poll_ms = 200;
	f->cfg.on_event = on_event;
	f->cfg.event_data = f;
	f->ex = new_executor(f);
	f->cri = cri_client_new(&f->loop, f->sock, NULL, &err);
	assert_non_null(f->cri);
	*state = f;
	return 0;
}

static void on_ex_closed(void *data)
{
	*(bool *)data = true;
}

static void on_cri_closed(struct cri_client *c, void *data)
{
	*(bool *)data = true;
}

static void close_executor(struct fx *f)
{
	bool closed = false;

	executor_close(f->ex, on_ex_closed, &closed);
	wait_for(f, &closed, 5000);
	f->ex = NULL;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	bool closed = false;

	if (f == NULL)
		return 0;
	if (f->ex != NULL)
		close_executor(f);
	cri_client_close(f->cri, on_cri_closed, &closed);
	wait_for(f, &closed, 5000);
	uv_close((uv_handle_t *)&f->tick, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
	return 0;
}

static struct fx *need_containerd(void **state)
{
	if (*state == NULL)
		skip();
	return *state;
}

/* ---- calls ---- */

static void on_done(struct exec_req *req, int status)
{
	struct fx *f = req->data;
	size_t i;

	f->done = true;
	f->status = status;
	f->st = req->status;
	if (status < 0)
		f->err = req->err;
	f->n_found = req->n_found < MAX_FOUND ? req->n_found : MAX_FOUND;
	for (i = 0; i < f->n_found; i++)
		f->found[i] = req->found[i];
}

static void begin(struct fx *f)
{
	memset(&f->req, 0, sizeof(f->req));
	f->req.data = f;
	f->done = false;
	memset(&f->err, 0, sizeof(f->err));
}

static int finish(struct fx *f, int rc, struct sw_err *err, const char *what)
{
	if (rc != 0)
		print_message("%s: %s\n", what, err->msg);
	assert_int_equal(rc, 0);
	assert_false(f->done); /* never inside the call */
	wait_for(f, &f->done, WAIT_MS);
	if (f->status != 0)
		print_message("%s: status %d: %s\n", what, f->status,
			      f->err.msg);
	return f->status;
}

static int do_prepare(struct fx *f, const struct exec_task *t)
{
	struct sw_err err;

	begin(f);
	return finish(f, executor_prepare(f->ex, &f->req, t, on_done, &err),
		      &err, "prepare");
}

static int do_start(struct fx *f, const char *id)
{
	struct sw_err err;

	begin(f);
	return finish(f, executor_start(f->ex, &f->req, id, on_done, &err),
		      &err, "start");
}

static int do_stop_for(struct fx *f, const char *id, int64_t grace_ns,
		       bool removing)
{
	struct sw_err err;

	begin(f);
	return finish(f,
		      executor_stop(f->ex, &f->req, id, grace_ns, removing,
				    on_done, &err),
		      &err, "stop");
}

static int do_stop(struct fx *f, const char *id, int64_t grace_ns)
{
	return do_stop_for(f, id, grace_ns, false);
}

static int do_remove(struct fx *f, const char *id)
{
	struct sw_err err;

	begin(f);
	return finish(f, executor_remove(f->ex, &f->req, id, on_done, &err),
		      &err, "remove");
}

static int do_status(struct fx *f, const char *id)
{
	struct sw_err err;

	begin(f);
	return finish(f, executor_status(f->ex, &f->req, id, on_done, &err),
		      &err, "status");
}

static int do_list(struct fx *f)
{
	struct sw_err err;

	begin(f);
	return finish(f, executor_list(f->ex, &f->req, on_done, &err), &err,
		      "list");
}

static void on_exec(struct cri_req *req, int status)
{
	struct fx *f = req->data;
	const Runtime__V1__ExecSyncResponse *r = req->reply.exec_sync;
	size_t n;

	f->done = true;
	f->status = status;
	if (status != 0) {
		print_message("ExecSync: %s\n", req->err.msg);
		return;
	}
	n = r->stdout.len < sizeof(f->exec_out) - 1 ? r->stdout.len
						    : sizeof(f->exec_out) - 1;
	if (n > 0)
		memcpy(f->exec_out, r->stdout.data, n);
	f->exec_out[n] = '\0';
	f->exec_code = r->exit_code;
	if (r->exit_code != 0 && r->stderr.len > 0)
		print_message("exec stderr: %.*s", (int)r->stderr.len,
			      (const char *)r->stderr.data);
}

/* Runs argv in the container; returns its exit code, stdout in exec_out. */
static int exec_in(struct fx *f, const char *ctr_id, const char *const *argv,
		   size_t argc)
{
	Runtime__V1__ExecSyncRequest msg = RUNTIME__V1__EXEC_SYNC_REQUEST__INIT;
	struct sw_err err;

	msg.container_id = (char *)ctr_id;
	msg.cmd = (char **)argv;
	msg.n_cmd = argc;
	msg.timeout = 10;
	memset(&f->creq, 0, sizeof(f->creq));
	f->creq.data = f;
	f->done = false;
	assert_int_equal(
	    cri_call(&f->creq, f->cri, CRI_EXEC_SYNC, &msg.base, on_exec, &err),
	    0);
	wait_for(f, &f->done, WAIT_MS);
	assert_int_equal(f->status, 0);
	return f->exec_code;
}

static void on_pods(struct cri_req *req, int status)
{
	struct fx *f = req->data;
	const Runtime__V1__ListPodSandboxResponse *r =
	    req->reply.list_pod_sandbox;

	f->done = true;
	f->status = status;
	f->pod_state = status != 0 || r->n_items == 0 ? -1 : (int)r->items[0]->state;
}

/* The CRI state of the task's pod: 0 READY, 1 NOTREADY; -1 when there is
 * none. */
static int pod_state(struct fx *f, const char *task_id)
{
	Runtime__V1__ListPodSandboxRequest msg =
	    RUNTIME__V1__LIST_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__PodSandboxFilter flt =
	    RUNTIME__V1__POD_SANDBOX_FILTER__INIT;
	Runtime__V1__PodSandboxFilter__LabelSelectorEntry sel =
	    RUNTIME__V1__POD_SANDBOX_FILTER__LABEL_SELECTOR_ENTRY__INIT;
	Runtime__V1__PodSandboxFilter__LabelSelectorEntry *sels[] = {&sel};
	struct sw_err err;

	sel.key = (char *)EXEC_LABEL_TASK_ID;
	sel.value = (char *)task_id;
	flt.label_selector = sels;
	flt.n_label_selector = 1;
	msg.filter = &flt;
	memset(&f->creq, 0, sizeof(f->creq));
	f->creq.data = f;
	f->done = false;
	assert_int_equal(cri_call(&f->creq, f->cri, CRI_LIST_POD_SANDBOX,
				  &msg.base, on_pods, &err),
			 0);
	wait_for(f, &f->done, WAIT_MS);
	assert_int_equal(f->status, 0);
	return f->pod_state;
}

#define EXEC(f, ctr, ...)                                                      \
	exec_in(f, ctr, (const char *const[]){__VA_ARGS__},                    \
		sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *))

/* ---- tasks ---- */

static const char *const sleep30[] = {"sleep", "30"};

static void base_task(struct exec_task *t, char *id, const struct fx *f)
{
	id_new_swarm(id);
	memset(t, 0, sizeof(*t));
	t->task_id = id;
	t->service_id = "svcidexecutortest00000001";
	t->service_name = "exectest";
	t->node_id = f->node_id;
	t->slot = 1;
	t->image = BUSYBOX;
	t->command = sleep30;
	t->n_command = 2;
	t->host_network = true;
	t->stop_grace_ns = -1;
}

static double now_s(void)
{
	return (double)uv_hrtime() / 1e9;
}

/* Runs the loop until n events arrived or secs passed. */
static void wait_events(struct fx *f, int n, double secs)
{
	double t0 = now_s();

	uv_timer_start(&f->tick, on_tick, 20, 20);
	while (f->n_events < n && now_s() - t0 < secs)
		uv_run(&f->loop, UV_RUN_ONCE);
	uv_timer_stop(&f->tick);
}

static bool dir_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A host-network `sleep 30` with limits runs; stop waits the 1 s grace
 * (sleep as PID 1 ignores SIGTERM) and kills it; remove clears its logs. */
static void test_host_task_lifecycle(void **state)
{
	struct fx *f = need_containerd(state);
	const char *const env_vars[] = {"GREETING=hi there", "EMPTY="};
	const char *const hosts[] = {"10.1.2.3 db.local db"};
	const char *const caps_add[] = {"CAP_NET_ADMIN"};
	const char *const caps_drop[] = {"CAP_CHOWN"};
	const struct exec_kv labels[] = {{"app", "exectest"}};
	char id[ID_SWARM_LEN + 1], ctr[EXEC_ID_MAX], dir[512];
	struct exec_task t;
	double t0;

	base_task(&t, id, f);
	t.env = env_vars;
	t.n_env = 2;
	t.extra_hosts = hosts;
	t.n_extra_hosts = 1;
	t.cap_add = caps_add;
	t.n_cap_add = 1;
	t.cap_drop = caps_drop;
	t.n_cap_drop = 1;
	t.labels = labels;
	t.n_labels = 1;
	t.memory_bytes = 64 << 20;
	t.nano_cpus = 500000000;
	t.pids_limit = 50;
	t.read_only = true;
	t.workdir = "/tmp";

	t0 = now_s();
	assert_int_equal(do_prepare(f, &t), 0);
	print_message("prepare: %.0f ms\n", (now_s() - t0) * 1000);
	assert_int_equal(f->st.state, EXEC_READY);
	assert_string_equal(f->st.message, "prepared");
	assert_true(strlen(f->st.container_id) == 64);
	snprintf(ctr, sizeof(ctr), "%s", f->st.container_id);

	/* Idempotent: preparing again adopts the same container. */
	assert_int_equal(do_prepare(f, &t), 0);
	assert_int_equal(f->st.state, EXEC_READY);
	assert_string_equal(f->st.container_id, ctr);

	t0 = now_s();
	assert_int_equal(do_start(f, id), 0);
	print_message("start: %.0f ms\n", (now_s() - t0) * 1000);
	assert_int_equal(f->st.state, EXEC_RUNNING);
	assert_string_equal(f->st.message, "started");
	assert_true(f->st.pid > 0);
	assert_true(f->st.started_at > 0);

	assert_int_equal(do_status(f, id), 0);
	assert_int_equal(f->st.state, EXEC_RUNNING);
	/* Starting again (an agent restarted) is not a failure. */
	assert_int_equal(do_start(f, id), 0);
	assert_int_equal(f->st.state, EXEC_RUNNING);

	/* What the spec asked for reached the container. */
	assert_int_equal(EXEC(f, ctr, "cat", "/sys/fs/cgroup/pids/pids.max"),
			 0);
	assert_string_equal(f->exec_out, "50\n");
	assert_int_equal(
	    EXEC(f, ctr, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"),
	    0);
	assert_string_equal(f->exec_out, "67108864\n");
	assert_int_equal(
	    EXEC(f, ctr, "cat", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), 0);
	assert_string_equal(f->exec_out, "50000\n");
	assert_int_equal(EXEC(f, ctr, "grep", "db.local", "/etc/hosts"), 0);
	assert_string_equal(f->exec_out, "10.1.2.3 db.local db\n");
	assert_int_equal(EXEC(f, ctr, "sh", "-c", "echo \"$GREETING\"; pwd"),
			 0);
	assert_string_equal(f->exec_out, "hi there\n/tmp\n");
	assert_true(EXEC(f, ctr, "touch", "/rootfs-is-read-only") != 0);
	/* CapEff: NET_ADMIN (bit 12) added, CHOWN (bit 0) dropped. */
	assert_int_equal(EXEC(f, ctr, "grep", "CapEff", "/proc/1/status"), 0);
	{
		unsigned long long caps =
		    strtoull(strchr(f->exec_out, ':') + 1, NULL, 16);

		assert_true(caps & (1ULL << 12));
		assert_false(caps & 1ULL);
	}

	t0 = now_s();
	assert_int_equal(do_stop(f, id, 1000000000), 0);
	print_message("stop (grace 1 s): %.0f ms, state %d exit %d (%s)\n",
		      (now_s() - t0) * 1000, f->st.state, f->st.exit_code,
		      f->st.err);
	assert_true(now_s() - t0 >= 0.9);
	assert_true(f->st.state == EXEC_FAILED || f->st.state == EXEC_COMPLETE);
	assert_int_equal(f->st.exit_code, 137);
	assert_int_equal(f->n_events, 0); /* our own stop: no event */

	snprintf(dir, sizeof(dir), "%s/%s", f->log_root, id);
	assert_true(dir_exists(dir));
	t0 = now_s();
	assert_int_equal(do_remove(f, id), 0);
	print_message("remove: %.0f ms\n", (now_s() - t0) * 1000);
	assert_false(dir_exists(dir));
	snprintf(dir, sizeof(dir), "/sys/fs/cgroup/pids/swarmd-%.12s/%s",
		 f->node_id, ctr);
	assert_false(dir_exists(dir));
	assert_int_equal(do_status(f, id), -SW_ENOTFOUND);
	/* Removing again is fine. */
	assert_int_equal(do_remove(f, id), 0);
}

/* A task that exits on its own is reported through the event callback,
 * with its exit code; its output is in the log with the right streams. */
static void test_exit_code_and_logs(void **state)
{
	struct fx *f = need_containerd(state);
	const char *const cmd[] = {"sh", "-c",
				   "echo hello; echo err >&2; exit 3"};
	struct exec_log_query q = {.tail = -1};
	struct exec_logs logs;
	struct sw_err err;
	char id[ID_SWARM_LEN + 1];
	struct exec_task t;
	double t0;

	base_task(&t, id, f);
	t.command = cmd;
	t.n_command = 3;
	assert_int_equal(do_prepare(f, &t), 0);
	assert_int_equal(f->st.state, EXEC_READY);
	t0 = now_s();
	assert_int_equal(do_start(f, id), 0);
	assert_int_equal(f->st.state, EXEC_RUNNING);
	wait_events(f, 1, 10);
	print_message("exit reported %.0f ms after start\n",
		      (now_s() - t0) * 1000);
	assert_int_equal(f->n_events, 1);
	assert_string_equal(f->ev_task, id);
	assert_int_equal(f->ev.state, EXEC_FAILED);
	assert_int_equal(f->ev.exit_code, 3);
	assert_string_equal(f->ev.err, "task: non-zero exit (3)");
	assert_true(f->ev.finished_at >= f->ev.started_at);

	assert_int_equal(executor_logs(f->ex, id, &q, &logs, &err), 0);
	assert_int_equal(logs.n_entries, 2);
	/* The two streams are copied separately: order is not fixed. */
	for (size_t i = 0; i < 2; i++) {
		const struct exec_log_entry *e = &logs.entries[i];

		if (e->stream == EXEC_STDOUT) {
			assert_int_equal(e->len, 5);
			assert_memory_equal(e->data, "hello", 5);
		} else {
			assert_int_equal(e->stream, EXEC_STDERR);
			assert_int_equal(e->len, 3);
			assert_memory_equal(e->data, "err", 3);
		}
		assert_false(e->partial);
		assert_true(e->time_ns >= f->ev.started_at - 1000000000);
	}
	assert_int_not_equal(logs.entries[0].stream, logs.entries[1].stream);
	exec_logs_free(&logs);

	assert_int_equal(do_status(f, id), 0);
	assert_int_equal(f->st.state, EXEC_FAILED);
	assert_int_equal(f->st.exit_code, 3);
	assert_int_equal(do_remove(f, id), 0);
	assert_int_equal(executor_logs(f->ex, id, &q, &logs, &err),
			 -SW_ENOTFOUND);
}

static void test_missing_image(void **state)
{
	struct fx *f = need_containerd(state);
	char id[ID_SWARM_LEN + 1];
	struct exec_task t;
	double t0;

	base_task(&t, id, f);
	t.image = "nosuch:latest";
	t0 = now_s();
	assert_int_equal(do_prepare(f, &t), 0);
	print_message("rejected in %.0f ms\n", (now_s() - t0) * 1000);
	assert_int_equal(f->st.state, EXEC_REJECTED);
	assert_string_equal(f->st.err, "No such image: nosuch:latest");
	assert_int_equal(do_status(f, id), -SW_ENOTFOUND);
	assert_int_equal(do_remove(f, id), 0);
}

static void test_bad_spec_rejected(void **state)
{
	struct fx *f = need_containerd(state);
	const char *const caps[] = {"CAP_FOO"};
	char id[ID_SWARM_LEN + 1];
	struct exec_task t;

	base_task(&t, id, f);
	t.cap_add = caps;
	t.n_cap_add = 1;
	assert_int_equal(do_prepare(f, &t), 0);
	assert_int_equal(f->st.state, EXEC_REJECTED);
	assert_string_equal(f->st.err,
			    "invalid CapAdd: unknown capability: \"CAP_FOO\"");
	assert_int_equal(do_remove(f, id), 0);
}

/* A command that does not exist fails at start, as in Docker. */
static void test_start_fails(void **state)
{
	struct fx *f = need_containerd(state);
	const char *const cmd[] = {"/no/such/binary"};
	char id[ID_SWARM_LEN + 1];
	struct exec_task t;

	base_task(&t, id, f);
	t.command = cmd;
	t.n_command = 1;
	assert_int_equal(do_prepare(f, &t), 0);
	assert_int_equal(f->st.state, EXEC_READY);
	assert_int_equal(do_start(f, id), 0);
	print_message("start: %s\n", f->st.err);
	assert_int_equal(f->st.state, EXEC_FAILED);
	assert_string_equal(f->st.message, "starting");
	assert_non_null(strstr(f->st.err, "starting container failed: "));
	assert_non_null(strstr(f->st.err, "/no/such/binary"));
	assert_int_equal(f->n_events, 0);
	assert_int_equal(do_remove(f, id), 0);
}

/* Connects to 127.0.0.1:port and reads what the server says. */
static int read_port(uint16_t port, char *out, size_t n)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(port)};
	struct timeval tv = {.tv_sec = 3};
	ssize_t got;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	got = read(fd, out, n - 1);
	close(fd);
	if (got <= 0)
		return -1;
	out[got] = '\0';
	return 0;
}

/* A bridged task gets its own eth0 with an address in the node's subnet,
 * and its host-mode published port answers on the node. */
static void test_bridge_network(void **state)
{
	struct fx *f = need_containerd(state);
	const char *const cmd[] = {
	    "sh", "-c", "while true; do echo pong | nc -l -p 8080; done"};
	struct exec_port port = {EXEC_PROTO_TCP, 8080, 0};
	char id[ID_SWARM_LEN + 1], ctr[EXEC_ID_MAX];
	char subnet[CNI_SUBNET_MAX], prefix[CNI_SUBNET_MAX], reply[64];
	struct exec_task t;
	double t0;
	int i, rc = -1;

	if (f->cfg.cni_conf_dir == NULL)
		skip();
	base_task(&t, id, f);
	t.host_network = false;
	t.command = cmd;
	t.n_command = 3;
	t.hostname = "bridged";
	port.published = (uint16_t)(20000 + (uv_hrtime() / 1000) % 20000);
	t.ports = &port;
	t.n_ports = 1;
	t0 = now_s();
	assert_int_equal(do_prepare(f, &t), 0);
	print_message("prepare (bridge, first: waits for the network): "
		      "%.0f ms\n",
		      (now_s() - t0) * 1000);
	assert_int_equal(f->st.state, EXEC_READY);
	snprintf(ctr, sizeof(ctr), "%s", f->st.container_id);
	assert_int_equal(do_start(f, id), 0);
	assert_int_equal(f->st.state, EXEC_RUNNING);

	cni_default_subnet(f->node_id, subnet);
	snprintf(prefix, sizeof(prefix), "%s", subnet);
	*strrchr(prefix, '.') = '\0'; /* "100.x.y" */
	assert_int_equal(EXEC(f, ctr, "ip", "-4", "-o", "addr", "show", "eth0"),
			 0);
	print_message("eth0: %s", f->exec_out);
	assert_non_null(strstr(f->exec_out, prefix));
	assert_int_equal(EXEC(f, ctr, "hostname"), 0);
	assert_string_equal(f->exec_out, "bridged\n");

	for (i = 0; i < 50 && rc != 0; i++) {
		rc = read_port(port.published, reply, sizeof(reply));
		if (rc != 0)
			usleep(100000);
	}
	assert_int_equal(rc, 0);
	assert_string_equal(reply, "pong\n");

	assert_int_equal(do_stop(f, id, 0), 0);
	assert_int_equal(f->st.exit_code, 137);
	assert_int_equal(do_remove(f, id), 0);
}

/* A stop releases the task's pod (its network) unless the task is removed
 * right after: then RemovePodSandbox does it, once. */
static void test_stop_keeps_the_pod_for_removal(void **state)
{
	struct fx *f = need_containerd(state);
	char id[ID_SWARM_LEN + 1];
	struct exec_task t;

	for (int removing = 0; removing <= 1; removing++) {
		base_task(&t, id, f);
		assert_int_equal(do_prepare(f, &t), 0);
		assert_int_equal(do_start(f, id), 0);
		assert_int_equal(pod_state(f, id), 0);
		assert_int_equal(do_stop_for(f, id, 0, removing), 0);
		assert_int_equal(f->st.exit_code, 137);
		assert_int_equal(pod_state(f, id), removing ? 0 : 1);
		assert_int_equal(do_remove(f, id), 0);
		assert_int_equal(pod_state(f, id), -1);
	}
}

/* A new executor on the same containerd finds a running task by its
 * labels, both for a call naming it and through list, and watches it. */
static void test_list_adopts(void **state)
{
	struct fx *f = need_containerd(state);
	const char *const cmd[] = {"sh", "-c", "sleep 3; exit 5"};
	char id[ID_SWARM_LEN + 1], ctr[EXEC_ID_MAX];
	struct exec_task t;
	size_t i;
	bool seen = false;

	base_task(&t, id, f);
	t.slot = 7;
	t.command = cmd;
	t.n_command = 3;
	assert_int_equal(do_prepare(f, &t), 0);
	assert_int_equal(do_start(f, id), 0);
	snprintf(ctr, sizeof(ctr), "%s", f->st.container_id);
	close_executor(f);

	/* A fresh executor knows nothing: status resolves by label. */
	f->ex = new_executor(f);
	assert_int_equal(do_status(f, id), 0);
	assert_int_equal(f->st.state, EXEC_RUNNING);
	assert_string_equal(f->st.container_id, ctr);
	close_executor(f);

	f->ex = new_executor(f);
	assert_int_equal(do_list(f), 0);
	for (i = 0; i < f->n_found; i++) {
		if (strcmp(f->found[i].task_id, id) != 0)
			continue;
		seen = true;
		assert_int_equal(f->found[i].status.state, EXEC_RUNNING);
		assert_string_equal(f->found[i].status.container_id, ctr);
		assert_string_equal(f->found[i].service_id, t.service_id);
		assert_string_equal(f->found[i].node_id, f->node_id);
	}
	assert_true(seen);
	/* Adopted: its exit is watched. */
	wait_events(f, 1, 10);
	assert_int_equal(f->n_events, 1);
	assert_string_equal(f->ev_task, id);
	assert_int_equal(f->ev.state, EXEC_FAILED);
	assert_int_equal(f->ev.exit_code, 5);
	assert_int_equal(do_remove(f, id), 0);
	assert_int_equal(do_list(f), 0);
	for (i = 0; i < f->n_found; i++)
		assert_string_not_equal(f->found[i].task_id, id);
}

/* Many tasks at once: each call chain runs on its own request. */
enum { MANY = 20 };

struct many {
	struct fx *f;
	struct exec_req req[MANY];
	char id[MANY][ID_SWARM_LEN + 1];
	int phase[MANY]; /* 0 preparing, 1 starting, 2 running, ... */
	int settled;
	bool all;
};

static void on_many(struct exec_req *req, int status);

static void many_next(struct many *m, int i)
{
	struct sw_err err;
	int rc = 0;

	m->req[i].data = m;
	switch (m->phase[i]) {
	case 1:
		rc = executor_start(m->f->ex, &m->req[i], m->id[i], on_many,
				    &err);
		break;
	case 3:
		rc = executor_stop(m->f->ex, &m->req[i], m->id[i], 0, false,
				   on_many, &err);
		break;
	case 4:
		rc = executor_remove(m->f->ex, &m->req[i], m->id[i], on_many,
				     &err);
		break;
	default:
		break;
	}
	assert_int_equal(rc, 0);
}

static void on_many(struct exec_req *req, int status)
{
	struct many *m = req->data;
	int i = (int)(req - m->req);

	if (status != 0)
		print_message("task %d phase %d: %s\n", i, m->phase[i],
			      req->err.msg);
	assert_int_equal(status, 0);
	m->phase[i]++;
	if (m->phase[i] == 2 || m->phase[i] == 5) {
		assert_int_equal(req->status.state, m->phase[i] == 2
							? EXEC_RUNNING
							: req->status.state);
		if (++m->settled == MANY)
			m->all = true;
		return;
	}
	many_next(m, i);
}

static void test_many_tasks(void **state)
{
	struct fx *f = need_containerd(state);
	struct many *m = calloc(1, sizeof(*m));
	struct exec_task t;
	struct sw_err err;
	double t0;
	int i;

	m->f = f;
	t0 = now_s();
	for (i = 0; i < MANY; i++) {
		base_task(&t, m->id[i], f);
		t.slot = (uint64_t)i + 1;
		m->req[i].data = m;
		assert_int_equal(
		    executor_prepare(f->ex, &m->req[i], &t, on_many, &err), 0);
	}
	wait_for(f, &m->all, WAIT_MS);
	print_message("%d tasks prepared and running in %.0f ms\n", MANY,
		      (now_s() - t0) * 1000);
	m->all = false;
	m->settled = 0;
	t0 = now_s();
	for (i = 0; i < MANY; i++) {
		m->phase[i] = 3;
		many_next(m, i);
	}
	wait_for(f, &m->all, WAIT_MS);
	print_message("%d tasks stopped and removed in %.0f ms\n", MANY,
		      (now_s() - t0) * 1000);
	assert_int_equal(f->n_events, 0);
	free(m);
}

/* Closing with calls in flight completes them with UNAVAILABLE. */
static void test_close_cancels(void **state)
{
	struct fx *f = need_containerd(state);
	char id[ID_SWARM_LEN + 1];
	struct exec_task t;
	struct sw_err err;
	bool closed = false;

	base_task(&t, id, f);
	begin(f);
	assert_int_equal(executor_prepare(f->ex, &f->req, &t, on_done, &err),
			 0);
	/* A second call on the same task is refused while one runs. */
	{
		struct exec_req r2 = {0};

		assert_int_equal(executor_start(f->ex, &r2, id, on_done, &err),
				 -SW_ECONFLICT);
	}
	executor_close(f->ex, on_ex_closed, &closed);
	f->ex = NULL;
	wait_for(f, &closed, 5000);
	assert_true(f->done);
	assert_int_equal(f->status, -SW_EUNAVAILABLE);

	/* Clean up whatever got created before the close. */
	f->ex = new_executor(f);
	assert_int_equal(do_remove(f, id), 0);
}

/* Last: the node's network goes away with the teardown. */
static void test_teardown(void **state)
{
	struct fx *f = need_containerd(state);
	char bridge[CNI_IFNAME_MAX], dir[128];
	struct sw_err err;

	if (f->cfg.cni_conf_dir == NULL)
		skip();
	close_executor(f);
	cni_default_bridge(f->node_id, bridge);
	assert_int_equal(executor_cri_teardown(&f->cfg, &err), 0);
	assert_int_equal(if_nametoindex(bridge), 0);
	snprintf(dir, sizeof(dir), "/sys/fs/cgroup/pids/swarmd-%.12s",
		 f->node_id);
	assert_false(dir_exists(dir));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_host_task_lifecycle, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_exit_code_and_logs, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_missing_image, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_bad_spec_rejected, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_start_fails, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bridge_network, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_stop_keeps_the_pod_for_removal,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list_adopts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_tasks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_close_cancels, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_teardown, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
