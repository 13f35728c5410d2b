/* cri/grpc.c and cri/client.c on a real loop, against sockets that fail in
 * the ways containerd can: missing, refusing (stale socket file after a
 * crash), and accepting but never answering (hung). No daemon needed. Each
 * test ends with uv_loop_close() == 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "cri/client.h"
#include "cri/grpc.h"

enum { MAX_CALLS = 8, MAX_PEERS = 16 };

struct fixture {
	uv_loop_t loop;
	char dir[64];
	char sock[100]; /* fits sockaddr_un.sun_path */
	struct grpc_client *grpc;
	bool in_start;    /* a start function is running */
	bool cb_in_start; /* a callback fired while one was */
	int done;
	int statuses[MAX_CALLS];
	struct grpc_call calls[MAX_CALLS];
	bool closed;
	int done_at_close; /* callbacks seen when the close cb ran */
	/* The hung server. */
	uv_pipe_t server;
	bool serving;
	uv_pipe_t peers[MAX_PEERS];
	int npeers;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_int_equal(uv_loop_init(&f->loop), 0);
	(void)snprintf(f->dir, sizeof(f->dir), "/tmp/swarmd-grpc-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	(void)snprintf(f->sock, sizeof(f->sock), "%s/c.sock", f->dir);
	*state = f;
	return 0;
}

static void on_any_closed(uv_handle_t *h)
{
}

static void close_walk(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, on_any_closed);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	uv_walk(&f->loop, close_walk, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	unlink(f->sock);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void on_call(struct grpc_call *call, int status)
{
	struct fixture *f = call->data;

	if (f->in_start)
		f->cb_in_start = true;
	f->statuses[call - f->calls] = status;
	f->done++;
}

static void on_client_closed(struct grpc_client *c, void *data)
{
	struct fixture *f = data;

	f->closed = true;
	f->done_at_close = f->done;
}

static void new_client(struct fixture *f, const struct grpc_opts *opts)
{
	struct sw_err err;

	f->grpc = grpc_client_new(&f->loop, f->sock, opts, &err);
	assert_non_null(f->grpc);
}

static void start_call(struct fixture *f, int i, unsigned timeout_ms)
{
	struct sw_err err;
	int rc;

	f->calls[i].data = f;
	f->in_start = true;
	rc = grpc_call_start(&f->calls[i], f->grpc,
			     "/runtime.v1.RuntimeService/Version", NULL, 0,
			     timeout_ms, on_call, &err);
	f->in_start = false;
	assert_int_equal(rc, 0);
}

static void close_client(struct fixture *f)
{
	grpc_client_close(f->grpc, on_client_closed, f);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
}

static void test_missing_socket(void **state)
{
	struct fixture *f = *state;

	new_client(f, NULL);
	start_call(f, 0, 0);
	assert_int_equal(f->done, 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(f->done, 1);
	assert_false(f->cb_in_start);
	assert_int_equal(f->statuses[0], -SW_EUNAVAILABLE);
	assert_int_equal(f->calls[0].code, GRPC_UNAVAILABLE);
	assert_false(f->calls[0].canceled);
	assert_non_null(strstr(f->calls[0].err.msg, "No such file"));
	close_client(f);
}

/* A socket file nobody listens on, as a killed containerd leaves. */
static void test_refused(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	(void)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->sock);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	new_client(f, NULL);
	start_call(f, 0, 0);
	start_call(f, 1, 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(f->done, 2);
	assert_int_equal(f->statuses[0], -SW_EUNAVAILABLE);
	assert_int_equal(f->statuses[1], -SW_EUNAVAILABLE);
	assert_non_null(strstr(f->calls[1].err.msg, "Connection refused"));
	close_client(f);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	static char scratch[4096];

	*buf = uv_buf_init(scratch, sizeof(scratch));
}

static void on_peer_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	if (n < 0 && !uv_is_closing((uv_handle_t *)s))
		uv_close((uv_handle_t *)s, on_any_closed);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct fixture *f = server->data;
	uv_pipe_t *peer;

	assert_int_equal(status, 0);
	assert_true(f->npeers < MAX_PEERS);
	peer = &f->peers[f->npeers++];
	uv_pipe_init(&f->loop, peer, 0);
	assert_int_equal(uv_accept(server, (uv_stream_t *)peer), 0);
	uv_read_start((uv_stream_t *)peer, on_alloc, on_peer_read);
}

/* Accepts connections and reads requests, never answering. */
static void serve_hung(struct fixture *f)
{
	uv_pipe_init(&f->loop, &f->server, 0);
	f->server.data = f;
	assert_int_equal(uv_pipe_bind(&f->server, f->sock), 0);
	assert_int_equal(
	    uv_listen((uv_stream_t *)&f->server, 16, on_connection), 0);
	f->serving = true;
}

static void stop_serving(struct fixture *f)
{
	int i;

	uv_close((uv_handle_t *)&f->server, on_any_closed);
	for (i = 0; i < f->npeers; i++)
		if (!uv_is_closing((uv_handle_t *)&f->peers[i]))
			uv_close((uv_handle_t *)&f->peers[i], on_any_closed);
}

static void on_done_stop(uv_timer_t *t)
{
	struct fixture *f = t->data;

	if (f->done == 0)
		return;
	uv_timer_stop(t);
	uv_close((uv_handle_t *)t, on_any_closed);
	stop_serving(f);
}

static void test_deadline(void **state)
{
	struct fixture *f = *state;
	uv_timer_t poll;
	uint64_t t0;

	serve_hung(f);
	new_client(f, NULL);
	uv_timer_init(&f->loop, &poll);
	poll.data = f;
	uv_timer_start(&poll, on_done_stop, 10, 10);
	uv_update_time(&f->loop);
	t0 = uv_now(&f->loop);
	start_call(f, 0, 200);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(f->done, 1);
	assert_true(uv_now(&f->loop) - t0 >= 190);
	assert_true(uv_now(&f->loop) - t0 < 2000);
	assert_int_equal(f->calls[0].code, GRPC_DEADLINE_EXCEEDED);
	assert_int_equal(f->statuses[0], -SW_ESYSTEM);
	close_client(f);
}

static void on_close_timer(uv_timer_t *t)
{
	struct fixture *f = t->data;
	struct grpc_call late = {0};
	struct sw_err err;

	uv_close((uv_handle_t *)t, on_any_closed);
	grpc_client_close(f->grpc, on_client_closed, f);
	/* No callback may run inside close, and new calls are refused. */
	assert_int_equal(f->done, 0);
	assert_int_equal(grpc_call_start(&late, f->grpc, "/a.B/C", NULL, 0, 0,
					 on_call, &err),
			 -SW_EUNAVAILABLE);
	stop_serving(f);
}

static void test_cancel_on_close(void **state)
{
	struct fixture *f = *state;
	uv_timer_t timer;
	int i;

	serve_hung(f);
	new_client(f, NULL);
	for (i = 0; i < 3; i++)
		start_call(f, i, 10000);
	uv_timer_init(&f->loop, &timer);
	timer.data = f;
	uv_timer_start(&timer, on_close_timer, 100, 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
	assert_int_equal(f->done, 3);
	assert_int_equal(f->done_at_close, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(f->statuses[i], -SW_EUNAVAILABLE);
		assert_true(f->calls[i].canceled);
		assert_int_equal(f->calls[i].code, GRPC_CANCELLED);
	}
}

static void test_request_too_large(void **state)
{
	struct fixture *f = *state;
	struct grpc_opts opts = {.max_msg = 16};
	struct sw_err err;
	char msg[17] = {0};

	new_client(f, &opts);
	f->calls[0].data = f;
	assert_int_equal(grpc_call_start(&f->calls[0], f->grpc, "/a.B/C", msg,
					 sizeof(msg), 0, on_call, &err),
			 -SW_ETOOLARGE);
	close_client(f);
	assert_int_equal(f->done, 0);
}

/* ---- cri_client ---- */

static void on_cri(struct cri_req *req, int status)
{
	struct fixture *f = req->data;

	if (f->in_start)
		f->cb_in_start = true;
	f->statuses[0] = status;
	f->calls[0].code = req->code;
	f->done++;
	/* The callback owns req and may free it. */
	free(req);
}

static void on_cri_closed(struct cri_client *c, void *data)
{
	struct fixture *f = data;

	f->closed = true;
}

static void test_cri_checks(void **state)
{
	struct fixture *f = *state;
	Runtime__V1__StatusRequest status = RUNTIME__V1__STATUS_REQUEST__INIT;
	struct cri_req req = {0};
	struct cri_req *heap = calloc(1, sizeof(*heap));
	struct cri_client *c;
	struct sw_err err;

	c = cri_client_new(&f->loop, f->sock, NULL, &err);
	assert_non_null(c);
	assert_int_equal(
	    cri_call(&req, c, CRI_VERSION, &status.base, on_cri, &err),
	    -SW_EINVALID);
	assert_non_null(strstr(err.msg, "runtime.v1.VersionRequest"));
	assert_int_equal(
	    cri_call(&req, c, CRI_METHOD_COUNT, NULL, on_cri, &err),
	    -SW_EINVALID);
	assert_string_equal(cri_method_name(CRI_RUN_POD_SANDBOX),
			    "RunPodSandbox");
	assert_string_equal(cri_method_name(CRI_METHOD_COUNT), "?");

	/* A missing socket is UNAVAILABLE through the callback. */
	heap->data = f;
	f->in_start = true;
	assert_int_equal(cri_version(heap, c, on_cri, &err), 0);
	f->in_start = false;
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(f->done, 1);
	assert_false(f->cb_in_start);
	assert_int_equal(f->statuses[0], -SW_EUNAVAILABLE);
	assert_int_equal(f->calls[0].code, GRPC_UNAVAILABLE);
	cri_client_close(c, on_cri_closed, f);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_missing_socket, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cancel_on_close, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_request_too_large, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_cri_checks, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
