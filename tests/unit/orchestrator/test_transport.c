/* Tests for orchestrator/transport.c: channels, framing, admission by
 * certificate, limits, backpressure, reconnecting links and shutdown, over
 * 127.0.0.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "lib/buf.h"
#include "orchestrator/ca.h"
#include "orchestrator/tls.h"
#include "orchestrator/transport.h"
#include "transport_fixture.h"

enum { MAX_FRAMES = 16 };

struct env {
	uv_loop_t loop;
	struct ca_root *root;
	struct transport *server;
	char addr[64];
	int server_closes;
	/* the server's view */
	int accepted;
	struct transport_conn *sconn;
	enum transport_channel schannel;
	bool speer_null;
	struct ca_identity speer;
	struct buf sframes[MAX_FRAMES];
	int nsframes;
	bool echo;
	bool pause_first;
	bool paused; /* no frame may arrive while set */
	bool sclosed;
	struct sw_err sclose_err;
	bool sclose_has_err;
	/* the client's view */
	struct transport_dial_req dial;
	bool dial_done;
	int dial_status;
	struct sw_err dial_err;
	struct transport_conn *cconn;
	int echoes;
	bool cclosed;
	bool cclose_has_err;
	struct sw_err cclose_err;
	/* links */
	int ups, downs;
	bool up_now;
	bool done;
};

static void srv_frame(struct transport_conn *c, const void *p, size_t len);
static void srv_closed(struct transport_conn *c, const struct sw_err *err);

static const struct transport_conn_ops srv_ops = {
    .frame = srv_frame,
    .closed = srv_closed,
};

static void resume_cb(uv_timer_t *h)
{
	struct env *e = h->data;

	e->paused = false;
	if (e->sconn != NULL)
		transport_conn_resume(e->sconn);
	uv_close((uv_handle_t *)h, (uv_close_cb)free);
}

static void srv_frame(struct transport_conn *c, const void *p, size_t len)
{
	struct env *e = transport_conn_data(c);
	struct sw_err err;

	assert_true(e->nsframes < MAX_FRAMES);
	assert_false(e->paused);
	buf_init(&e->sframes[e->nsframes]);
	buf_append(&e->sframes[e->nsframes], p, len);
	e->nsframes++;
	if (e->echo)
		assert_int_equal(transport_conn_send(c, p, len, &err), 0);
	if (e->pause_first && e->nsframes == 1) {
		uv_timer_t *t = malloc(sizeof(*t));

		transport_conn_pause(c);
		e->paused = true;
		uv_timer_init(&e->loop, t);
		t->data = e;
		uv_timer_start(t, resume_cb, 50, 0);
	}
}

static void srv_closed(struct transport_conn *c, const struct sw_err *err)
{
	struct env *e = transport_conn_data(c);

	e->sclosed = true;
	e->sclose_has_err = err != NULL;
	if (err != NULL)
		e->sclose_err = *err;
	if (e->sconn == c)
		e->sconn = NULL;
}

static void srv_accept(struct transport *t, struct transport_conn *c,
		       void *data)
{
	struct env *e = data;
	const struct ca_identity *peer = transport_conn_peer(c);

	e->accepted++;
	e->sconn = c;
	e->sclosed = false;
	e->schannel = transport_conn_channel(c);
	e->speer_null = peer == NULL;
	if (peer != NULL)
		e->speer = *peer;
	transport_conn_set_ops(c, &srv_ops, e);
}

static void transport_closed_cb(void *data)
{
	struct env *e = data;

	e->server_closes++;
}

/* A manager listening on 127.0.0.1 serving every channel but logs. */
static struct transport *server_start(struct env *e, int port)
{
	struct sw_err err;
	struct tls_ctx *ctx =
	    fx_node_ctx(e->root, "managerone", CA_ROLE_MANAGER);
	struct transport *t = transport_init(&e->loop, ctx, &err);

	tls_ctx_unref(ctx);
	assert_non_null(t);
	assert_int_equal(transport_listen(t, "127.0.0.1", port, &err), 0);
	assert_int_equal(transport_listen(t, "127.0.0.1", port, &err),
			 -SW_EINVALID);
	assert_true(transport_port(t) > 0);
	(void)snprintf(e->addr, sizeof(e->addr), "127.0.0.1:%d",
		       transport_port(t));
	transport_handle(t, TRANSPORT_RAFT, srv_accept, e);
	transport_handle(t, TRANSPORT_DISPATCH, srv_accept, e);
	transport_handle(t, TRANSPORT_JOIN, srv_accept, e);
	transport_handle(t, TRANSPORT_FORWARD, srv_accept, e);
	return t;
}

static void env_init(struct env *e)
{
	memset(e, 0, sizeof(*e));
	assert_int_equal(uv_loop_init(&e->loop), 0);
	e->root = fx_root();
	e->server = server_start(e, 0);
}

static struct transport *client_new(struct env *e, struct tls_ctx *ctx)
{
	struct sw_err err;
	struct transport *t = transport_init(&e->loop, ctx, &err);

	tls_ctx_unref(ctx);
	assert_non_null(t);
	return t;
}

static struct transport *client_node(struct env *e, const char *node_id,
				     enum ca_role role)
{
	return client_new(e, fx_node_ctx(e->root, node_id, role));
}

static void env_free(struct env *e)
{
	if (e->server != NULL)
		transport_close(e->server, transport_closed_cb, e);
	fx_finish_loop(&e->loop);
	for (int i = 0; i < e->nsframes; i++)
		buf_free(&e->sframes[i]);
	ca_root_free(e->root);
}

/* ---- the client side ---- */

static void cli_frame(struct transport_conn *c, const void *p, size_t len)
{
	struct env *e = transport_conn_data(c);

	e->echoes++;
}

static void cli_closed(struct transport_conn *c, const struct sw_err *err)
{
	struct env *e = transport_conn_data(c);

	e->cclosed = true;
	e->cclose_has_err = err != NULL;
	if (err != NULL)
		e->cclose_err = *err;
	e->cconn = NULL;
}

static const struct transport_conn_ops cli_ops = {
    .frame = cli_frame,
    .closed = cli_closed,
};

static void dial_cb(struct transport_dial_req *req, struct transport_conn *c,
		    int status, const struct sw_err *err)
{
	struct env *e = req->data;

	e->dial_done = true;
	e->dial_status = status;
	if (status != 0) {
		assert_null(c);
		e->dial_err = *err;
		return;
	}
	assert_null(err);
	e->cconn = c;
	e->cclosed = false;
	transport_conn_set_ops(c, &cli_ops, e);
}

/* Dials and runs the loop until the dial callback. */
static int dial(struct env *e, struct transport *t, const char *addr,
		enum transport_channel ch)
{
	struct sw_err err;

	e->dial_done = false;
	e->dial.data = e;
	assert_int_equal(transport_dial(t, &e->dial, addr, ch, dial_cb, &err),
			 0);
	fx_run_until(&e->loop, &e->dial_done, 10000);
	return e->dial_status;
}

static void close_client(struct env *e, struct transport *t)
{
	int before = e->server_closes;

	transport_close(t, transport_closed_cb, e);
	transport_close(t, transport_closed_cb, e); /* idempotent */
	while (e->server_closes == before)
		uv_run(&e->loop, UV_RUN_ONCE);
}

static void run_until_int(struct env *e, const int *v, int want)
{
	for (int i = 0; i < 100000 && *v < want; i++)
		uv_run(&e->loop, UV_RUN_ONCE);
	assert_int_equal(*v, want);
}

/* ---- tests ---- */

/* Frames arrive per channel, in order, with the peer's identity from its
 * certificate; a shutdown ends both sides cleanly. */
static void test_frames_per_channel(void **state)
{
	struct env e;
	struct transport *w;
	struct sw_err err;
	static const char *const msgs[] = {"one", "two", "", "three"};

	env_init(&e);
	e.echo = true;
	w = client_node(&e, "workerone", CA_ROLE_WORKER);
	assert_int_equal(dial(&e, w, e.addr, TRANSPORT_DISPATCH), 0);
	assert_non_null(e.cconn);
	assert_int_equal(transport_conn_channel(e.cconn), TRANSPORT_DISPATCH);
	assert_string_equal(transport_conn_peer(e.cconn)->node_id,
			    "managerone");
	assert_string_equal(transport_conn_remote(e.cconn), e.addr);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(transport_conn_send(e.cconn, msgs[i],
						     strlen(msgs[i]), &err),
				 0);
	run_until_int(&e, &e.echoes, 4);
	assert_int_equal(e.accepted, 1);
	assert_int_equal(e.schannel, TRANSPORT_DISPATCH);
	assert_false(e.speer_null);
	assert_string_equal(e.speer.node_id, "workerone");
	assert_int_equal(e.speer.role, CA_ROLE_WORKER);
	assert_int_equal(e.nsframes, 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(e.sframes[i].len, strlen(msgs[i]));
		assert_memory_equal(e.sframes[i].data, msgs[i],
				    strlen(msgs[i]));
	}
	/* Raw writes need raw mode. */
	assert_int_equal(transport_conn_write_raw(e.cconn, "x", 1, &err),
			 -SW_EINVALID);
	transport_conn_shutdown(e.cconn);
	fx_run_until(&e.loop, &e.cclosed, 5000);
	fx_run_until(&e.loop, &e.sclosed, 5000);
	assert_false(e.cclose_has_err);
	assert_false(e.sclose_has_err);
	close_client(&e, w);
	env_free(&e);
}

/* Roles come from certificates: forward is for managers, and a channel
 * nobody serves is refused with a reason the dialer sees. */
static void test_channel_admission(void **state)
{
	struct env e;
	struct transport *w, *m;

	env_init(&e);
	w = client_node(&e, "workerone", CA_ROLE_WORKER);
	m = client_node(&e, "managertwo", CA_ROLE_MANAGER);
	assert_int_equal(dial(&e, w, e.addr, TRANSPORT_FORWARD),
			 -SW_EFORBIDDEN);
	assert_string_equal(e.dial_err.msg,
			    "channel forward is for managers only");
	assert_int_equal(dial(&e, w, e.addr, TRANSPORT_RAFT), -SW_EFORBIDDEN);
	assert_int_equal(dial(&e, w, e.addr, TRANSPORT_LOGS), -SW_EUNAVAILABLE);
	assert_string_equal(e.dial_err.msg,
			    "channel logs is not served by this node");
	assert_int_equal(e.accepted, 0);
	assert_int_equal(dial(&e, m, e.addr, TRANSPORT_FORWARD), 0);
	assert_int_equal(e.schannel, TRANSPORT_FORWARD);
	assert_string_equal(e.speer.node_id, "managertwo");
	transport_conn_close(e.cconn);
	fx_run_until(&e.loop, &e.cclosed, 5000);
	assert_false(e.cclose_has_err);
	close_client(&e, w);
	close_client(&e, m);
	env_free(&e);
}

static int refuse_banned(void *data, const struct ca_identity *peer,
			 enum transport_channel ch, struct sw_err *err)
{
	if (peer != NULL && strcmp(peer->node_id, "banned") == 0)
		return sw_err_set(err, SW_EFORBIDDEN, "node %s was removed",
				  peer->node_id);
	return 0;
}

/* A joiner without a certificate reaches only the join channel, pins the
 * root from the handshake, and is held to the small frame limit. */
static void test_join_without_cert(void **state)
{
	struct env e;
	struct sw_err err;
	struct transport *j, *b;
	static char big[TRANSPORT_UNAUTH_FRAME_MAX + 1];

	env_init(&e);
	transport_set_authorize(e.server, refuse_banned, &e);
	j = client_new(&e, tls_ctx_new_pinned(ca_root_digest(e.root), &err));
	assert_int_equal(dial(&e, j, e.addr, TRANSPORT_RAFT),
			 -SW_EUNAUTHORIZED);
	assert_string_equal(e.dial_err.msg,
			    "channel raft requires a node certificate");
	assert_int_equal(dial(&e, j, e.addr, TRANSPORT_DISPATCH),
			 -SW_EUNAUTHORIZED);
	assert_int_equal(e.accepted, 0);
	assert_int_equal(dial(&e, j, e.addr, TRANSPORT_JOIN), 0);
	assert_int_equal(e.schannel, TRANSPORT_JOIN);
	assert_true(e.speer_null);
	assert_non_null(transport_conn_pinned_root(e.cconn));
	assert_string_equal(
	    ca_root_cert_pem(transport_conn_pinned_root(e.cconn)),
	    ca_root_cert_pem(e.root));
	assert_int_equal(transport_conn_send(e.cconn, "csr", 3, &err), 0);
	assert_int_equal(transport_conn_send(e.cconn, big, sizeof(big), &err),
			 0);
	fx_run_until(&e.loop, &e.sclosed, 5000);
	assert_int_equal(e.nsframes, 1);
	assert_true(e.sclose_has_err);
	assert_int_equal(e.sclose_err.kind, SW_ETOOLARGE);
	fx_run_until(&e.loop, &e.cclosed, 5000);

	/* The owner's own check runs after the built-in ones. */
	b = client_node(&e, "banned", CA_ROLE_MANAGER);
	assert_int_equal(dial(&e, b, e.addr, TRANSPORT_DISPATCH),
			 -SW_EFORBIDDEN);
	assert_string_equal(e.dial_err.msg, "node banned was removed");
	close_client(&e, j);
	close_client(&e, b);
	env_free(&e);
}

/* Certificates from another root are refused both ways. */
static void test_foreign_root(void **state)
{
	struct env e;
	struct ca_root *other;
	struct ca_keypair *kp;
	struct transport *f, *g;
	struct tls_ctx *ctx;
	struct sw_err err;

	env_init(&e);
	other = fx_root();
	kp = fx_keypair(other, "intruder", CA_ROLE_MANAGER);
	/* It trusts our root but presents its own certificate. */
	ctx = tls_ctx_new(e.root, kp, &err);
	assert_non_null(ctx);
	f = client_new(&e, ctx);
	assert_int_not_equal(dial(&e, f, e.addr, TRANSPORT_DISPATCH), 0);
	/* It trusts only its own root. */
	g = client_node(&e, "workerone", CA_ROLE_WORKER);
	transport_set_tls(g, (ctx = tls_ctx_new(other, kp, &err)));
	tls_ctx_unref(ctx);
	assert_int_equal(dial(&e, g, e.addr, TRANSPORT_DISPATCH),
			 -SW_EUNAUTHORIZED);
	assert_int_equal(e.accepted, 0);
	close_client(&e, f);
	close_client(&e, g);
	ca_keypair_free(kp);
	ca_root_free(other);
	env_free(&e);
}

/* Frame limits hold on both ends: locally before sending, remotely before
 * buffering. */
static void test_frame_limits(void **state)
{
	struct env e;
	struct transport *w;
	struct sw_err err;
	static char payload[5000];

	env_init(&e);
	transport_set_max_frame(e.server, 1024);
	w = client_node(&e, "workerone", CA_ROLE_WORKER);
	transport_set_max_frame(w, 4096);
	assert_int_equal(dial(&e, w, e.addr, TRANSPORT_DISPATCH), 0);
	assert_int_equal(transport_conn_send(e.cconn, payload, 5000, &err),
			 -SW_ETOOLARGE);
	assert_int_equal(transport_conn_send(e.cconn, payload, 1024, &err), 0);
	assert_int_equal(transport_conn_send(e.cconn, payload, 2000, &err), 0);
	fx_run_until(&e.loop, &e.sclosed, 5000);
	assert_int_equal(e.nsframes, 1);
	assert_int_equal(e.sclose_err.kind, SW_ETOOLARGE);
	fx_run_until(&e.loop, &e.cclosed, 5000);
	assert_true(e.cclose_has_err);
	close_client(&e, w);
	env_free(&e);
}

/* Big frames cross intact, and a paused receiver gets the rest in order
 * once it resumes. */
static void test_large_frames_pause(void **state)
{
	struct env e;
	struct transport *w;
	struct sw_err err;
	size_t sizes[] = {(size_t)4 << 20, 10, (size_t)1 << 20};
	char *big = malloc((size_t)4 << 20);

	for (size_t i = 0; i < ((size_t)4 << 20); i++)
		big[i] = (char)(i % 253);
	env_init(&e);
	e.pause_first = true;
	w = client_node(&e, "workerone", CA_ROLE_WORKER);
	assert_int_equal(dial(&e, w, e.addr, TRANSPORT_DISPATCH), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(
		    transport_conn_send(e.cconn, big, sizes[i], &err), 0);
	run_until_int(&e, &e.nsframes, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(e.sframes[i].len, sizes[i]);
		assert_memory_equal(e.sframes[i].data, big, sizes[i]);
	}
	free(big);
	close_client(&e, w);
	fx_run_until(&e.loop, &e.sclosed, 5000);
	env_free(&e);
}

static void link_up(struct transport_link *l, struct transport_conn *c)
{
	struct env *e = transport_link_data(l);
	struct sw_err err;

	e->ups++;
	e->up_now = true;
	e->cconn = c;
	transport_conn_set_ops(c, &cli_ops, e);
	assert_int_equal(transport_conn_send(c, "hi", 2, &err), 0);
}

static void link_down(struct transport_link *l, const struct sw_err *err)
{
	struct env *e = transport_link_data(l);

	e->downs++;
	e->up_now = false;
}

static const struct transport_link_ops link_ops = {
    .up = link_up,
    .down = link_down,
};

/* A link comes back after the manager restarts on the same port. */
static void test_link_reconnects(void **state)
{
	struct env e;
	struct transport *w;
	struct transport_link *l;
	struct sw_err err;
	int port, downs;

	env_init(&e);
	port = transport_port(e.server);
	w = client_node(&e, "workerone", CA_ROLE_WORKER);
	transport_set_backoff(w, 20, 200);
	assert_null(transport_link_new(w, "nonsense", TRANSPORT_DISPATCH,
				       &link_ops, &e, &err));
	assert_int_equal(err.kind, SW_EINVALID);
	l = transport_link_new(w, e.addr, TRANSPORT_DISPATCH, &link_ops, &e,
			       &err);
	assert_non_null(l);
	fx_run_until(&e.loop, &e.up_now, 5000);
	run_until_int(&e, &e.nsframes, 1);
	/* The manager goes away: the link goes down and keeps retrying. */
	transport_close(e.server, transport_closed_cb, &e);
	e.server = NULL;
	run_until_int(&e, &e.server_closes, 1);
	downs = e.downs;
	run_until_int(&e, &e.downs, downs + 3);
	assert_false(e.up_now);
	/* It comes back on the same port. */
	e.server = server_start(&e, port);
	fx_run_until(&e.loop, &e.up_now, 5000);
	assert_int_equal(e.ups, 2);
	run_until_int(&e, &e.nsframes, 2);
	transport_link_free(l);
	fx_run_until(&e.loop, &e.cclosed, 5000);
	close_client(&e, w);
	env_free(&e);
}

/* Closing a transport closes its connections: owners hear `closed`. */
static void test_close_with_open_conns(void **state)
{
	struct env e;
	struct transport *w;

	env_init(&e);
	w = client_node(&e, "workerone", CA_ROLE_WORKER);
	assert_int_equal(dial(&e, w, e.addr, TRANSPORT_DISPATCH), 0);
	close_client(&e, w);
	assert_true(e.cclosed);
	assert_int_equal(e.cclose_err.kind, SW_EUNAVAILABLE);
	fx_run_until(&e.loop, &e.sclosed, 5000);
	env_free(&e);
}

static void silent_accept(uv_stream_t *l, int status)
{
	uv_tcp_t *c = malloc(sizeof(*c));

	uv_tcp_init(l->loop, c);
	assert_int_equal(uv_accept(l, (uv_stream_t *)c), 0);
	l->data = c; /* closed by the test */
}

/* A peer that never answers: the dial times out, or is canceled. */
static void test_dial_timeout_cancel(void **state)
{
	struct env e;
	struct transport *w;
	struct sockaddr_in sa;
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	uv_tcp_t silent;
	char addr[64];
	struct sw_err err;

	env_init(&e);
	uv_tcp_init(&e.loop, &silent);
	silent.data = NULL;
	uv_ip4_addr("127.0.0.1", 0, &sa);
	assert_int_equal(uv_tcp_bind(&silent, (struct sockaddr *)&sa, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&silent, 8, silent_accept),
			 0);
	uv_tcp_getsockname(&silent, (struct sockaddr *)&ss, &len);
	(void)snprintf(addr, sizeof(addr), "127.0.0.1:%d",
		       ntohs(((struct sockaddr_in *)&ss)->sin_port));
	w = client_node(&e, "workerone", CA_ROLE_WORKER);
	transport_set_handshake_timeout(w, 200);
	assert_int_equal(dial(&e, w, addr, TRANSPORT_DISPATCH),
			 -SW_EUNAVAILABLE);
	assert_string_equal(e.dial_err.msg, "timed out opening a connection");
	uv_close((uv_handle_t *)silent.data, (uv_close_cb)free);
	silent.data = NULL;

	e.dial_done = false;
	e.dial.data = &e;
	assert_int_equal(
	    transport_dial(w, &e.dial, addr, TRANSPORT_DISPATCH, dial_cb, &err),
	    0);
	uv_run(&e.loop, UV_RUN_NOWAIT);
	transport_dial_cancel(&e.dial);
	fx_run_until(&e.loop, &e.dial_done, 5000);
	assert_string_equal(e.dial_err.msg, "canceled");
	transport_dial_cancel(&e.dial); /* no-op now */

	assert_int_equal(transport_dial(w, &e.dial, "127.0.0.1", TRANSPORT_JOIN,
					dial_cb, &err),
			 -SW_EINVALID);
	assert_int_equal(
	    transport_dial(w, &e.dial, "127.0.0.1:1", 99, dial_cb, &err),
	    -SW_EINVALID);
	/* Nobody listens on port 1. */
	assert_int_equal(dial(&e, w, "127.0.0.1:1", TRANSPORT_JOIN),
			 -SW_EUNAVAILABLE);
	assert_non_null(strstr(e.dial_err.msg, "connection refused"));
	if (silent.data != NULL)
		uv_close((uv_handle_t *)silent.data, (uv_close_cb)free);
	uv_close((uv_handle_t *)&silent, NULL);
	close_client(&e, w);
	env_free(&e);
}

/* Names resolve asynchronously. */
static void test_dial_hostname(void **state)
{
	struct env e;
	struct transport *w;
	char addr[64];

	env_init(&e);
	w = client_node(&e, "workerone", CA_ROLE_WORKER);
	(void)snprintf(addr, sizeof(addr), "localhost:%d",
		       transport_port(e.server));
	assert_int_equal(dial(&e, w, addr, TRANSPORT_DISPATCH), 0);
	assert_int_equal(e.accepted, 1);
	close_client(&e, w);
	env_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_frames_per_channel),
	    cmocka_unit_test(test_channel_admission),
	    cmocka_unit_test(test_join_without_cert),
	    cmocka_unit_test(test_foreign_root),
	    cmocka_unit_test(test_frame_limits),
	    cmocka_unit_test(test_large_frames_pause),
	    cmocka_unit_test(test_link_reconnects),
	    cmocka_unit_test(test_close_with_open_conns),
	    cmocka_unit_test(test_dial_timeout_cancel),
	    cmocka_unit_test(test_dial_hostname),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
