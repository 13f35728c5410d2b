/* Tests for orchestrator/tls.c: TLS sessions over libuv TCP on 127.0.0.1
 * with certificates from a test root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "lib/buf.h"
#include "orchestrator/ca.h"
#include "orchestrator/tls.h"
#include "transport_fixture.h"

struct env;

struct side {
	struct tls_conn tls;
	struct env *e;
	bool hs_done, eof, failed, closed;
	int hs_status;
	int fail_status;
	char fail_msg[512];
	struct buf got;
	size_t got_bytes;
	int drains;
};

struct env {
	uv_loop_t loop;
	uv_tcp_t listener;
	uv_connect_t connect;
	int port;
	struct tls_ctx *server_ctx, *client_ctx;
	struct side server, client;
	bool echo;          /* server echoes plaintext */
	bool verify_stream; /* server checks the byte pattern, keeps no copy */
	bool server_paused;
	bool shutdown_on_eof; /* server answers EOF with its own shutdown */
	bool saw_unwritable, client_shut;
	size_t total, sent;
	bool both_done;
};

static unsigned char pattern(size_t i)
{
	return (unsigned char)((i * 31 + 7) % 251);
}

static void side_init(struct side *s, struct env *e)
{
	memset(s, 0, sizeof(*s));
	s->e = e;
	s->tls.data = s;
	buf_init(&s->got);
}

static void check_done(struct env *e)
{
	struct side *a = &e->server, *b = &e->client;

	e->both_done = (a->eof || a->failed || (a->hs_done && a->hs_status)) &&
		       (b->eof || b->failed || (b->hs_done && b->hs_status));
}

static void on_read(struct tls_conn *c, ssize_t nread, const char *buf)
{
	struct side *s = c->data;
	struct env *e = s->e;
	struct sw_err err;

	if (nread == TLS_EOF) {
		s->eof = true;
		if (s == &e->server && e->shutdown_on_eof)
			assert_int_equal(tls_conn_shutdown(c, NULL), 0);
	} else if (nread < 0) {
		s->failed = true;
		s->fail_status = (int)nread;
		(void)snprintf(s->fail_msg, sizeof(s->fail_msg), "%s",
			       tls_conn_err(c)->msg);
	} else if (nread > 0 && s == &e->server && e->verify_stream) {
		for (ssize_t i = 0; i < nread; i++)
			assert_int_equal((unsigned char)buf[i],
					 pattern(s->got_bytes + (size_t)i));
		s->got_bytes += (size_t)nread;
	} else if (nread > 0) {
		buf_append(&s->got, buf, (size_t)nread);
		s->got_bytes += (size_t)nread;
		if (s == &e->server && e->echo)
			assert_int_equal(
			    tls_conn_write(c, buf, (size_t)nread, &err), 0);
	}
	check_done(e);
}

static void on_handshake(struct tls_conn *c, int status)
{
	struct side *s = c->data;

	s->hs_done = true;
	s->hs_status = status;
	if (status != 0)
		(void)snprintf(s->fail_msg, sizeof(s->fail_msg), "%s",
			       tls_conn_err(c)->msg);
	if (status == 0 && s == &s->e->server && s->e->server_paused)
		tls_conn_read_stop(c);
	check_done(s->e);
}

static void on_closed(struct tls_conn *c)
{
	struct side *s = c->data;

	s->closed = true;
}

static void on_connection(uv_stream_t *l, int status)
{
	struct env *e = l->data;
	struct sw_err err;

	assert_int_equal(status, 0);
	assert_int_equal(tls_conn_init(&e->server.tls, &e->loop, e->server_ctx,
				       TLS_SERVER, &err),
			 0);
	assert_int_equal(
	    uv_accept(l, (uv_stream_t *)tls_conn_tcp(&e->server.tls)), 0);
	assert_int_equal(
	    tls_conn_start(&e->server.tls, on_handshake, on_read, &err), 0);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct env *e = req->data;
	struct sw_err err;

	assert_int_equal(status, 0);
	assert_int_equal(
	    tls_conn_start(&e->client.tls, on_handshake, on_read, &err), 0);
}

/* Listens on 127.0.0.1, connects a client session, and starts both. */
static void env_start(struct env *e, struct tls_ctx *server_ctx,
		      struct tls_ctx *client_ctx)
{
	struct sockaddr_in sa;
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	struct sw_err err;

	assert_int_equal(uv_loop_init(&e->loop), 0);
	e->server_ctx = server_ctx;
	e->client_ctx = client_ctx;
	side_init(&e->server, e);
	side_init(&e->client, e);
	uv_tcp_init(&e->loop, &e->listener);
	e->listener.data = e;
	uv_ip4_addr("127.0.0.1", 0, &sa);
	assert_int_equal(uv_tcp_bind(&e->listener, (struct sockaddr *)&sa, 0),
			 0);
	assert_int_equal(
	    uv_listen((uv_stream_t *)&e->listener, 8, on_connection), 0);
	uv_tcp_getsockname(&e->listener, (struct sockaddr *)&ss, &len);
	e->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	assert_int_equal(tls_conn_init(&e->client.tls, &e->loop, client_ctx,
				       TLS_CLIENT, &err),
			 0);
	uv_ip4_addr("127.0.0.1", e->port, &sa);
	e->connect.data = e;
	assert_int_equal(uv_tcp_connect(&e->connect,
					tls_conn_tcp(&e->client.tls),
					(struct sockaddr *)&sa, on_connect),
			 0);
}

static void env_finish(struct env *e)
{
	tls_conn_close(&e->client.tls, on_closed);
	tls_conn_close(&e->server.tls, on_closed);
	uv_close((uv_handle_t *)&e->listener, NULL);
	fx_finish_loop(&e->loop);
	assert_true(e->client.closed);
	assert_true(e->server.closed);
	buf_free(&e->client.got);
	buf_free(&e->server.got);
	tls_ctx_unref(e->server_ctx);
	tls_ctx_unref(e->client_ctx);
}

static void wait_handshakes(struct env *e)
{
	bool both;

	for (int i = 0; i < 500; i++) {
		both = e->server.hs_done && e->client.hs_done;
		if (both)
			break;
		uv_run(&e->loop, UV_RUN_ONCE);
	}
	assert_true(e->server.hs_done && e->client.hs_done);
}

/* Mutual TLS: both ends see each other's identity, plaintext echoes, and
 * close_notify ends the stream cleanly both ways. */
static void test_handshake_echo(void **state)
{
	struct ca_root *root = fx_root();
	struct env e = {0};
	static const char msg[] = "hello, swarm";
	const struct ca_identity *id;
	struct sw_err err;
	bool got_all = false;

	e.echo = true;
	e.shutdown_on_eof = true;
	env_start(&e, fx_node_ctx(root, "managerone", CA_ROLE_MANAGER),
		  fx_node_ctx(root, "workerone", CA_ROLE_WORKER));
	/* Writing before the handshake is the caller's mistake. */
	assert_int_equal(tls_conn_write(&e.client.tls, "x", 1, &err),
			 -SW_EINVALID);
	wait_handshakes(&e);
	assert_int_equal(e.server.hs_status, 0);
	assert_int_equal(e.client.hs_status, 0);
	id = tls_conn_peer(&e.server.tls);
	assert_non_null(id);
	assert_string_equal(id->node_id, "workerone");
	assert_string_equal(id->cluster_id, FX_CLUSTER);
	assert_int_equal(id->role, CA_ROLE_WORKER);
	id = tls_conn_peer(&e.client.tls);
	assert_non_null(id);
	assert_string_equal(id->node_id, "managerone");
	assert_int_equal(id->role, CA_ROLE_MANAGER);
	assert_null(tls_conn_pinned_root(&e.client.tls));
	assert_string_equal(tls_conn_protocol(&e.client.tls), "TLSv1.3");

	assert_int_equal(tls_conn_write(&e.client.tls, msg, strlen(msg), &err),
			 0);
	while (!got_all) {
		uv_run(&e.loop, UV_RUN_ONCE);
		got_all = e.client.got.len == strlen(msg);
	}
	assert_memory_equal(e.client.got.data, msg, strlen(msg));
	assert_int_equal(tls_conn_shutdown(&e.client.tls, NULL), 0);
	assert_int_equal(tls_conn_shutdown(&e.client.tls, NULL), -1);
	assert_int_equal(tls_conn_write(&e.client.tls, "x", 1, &err),
			 -SW_EUNAVAILABLE);
	fx_run_until(&e.loop, &e.both_done, 5000);
	assert_true(e.server.eof);
	assert_true(e.client.eof);
	assert_false(e.server.failed || e.client.failed);
	env_finish(&e);
	ca_root_free(root);
}

/* A client whose certificate comes from another root is refused by the
 * server; the client learns it from the alert. */
static void test_foreign_client_refused(void **state)
{
	struct ca_root *root = fx_root(), *other = fx_root();
	struct ca_keypair *kp = fx_keypair(other, "intruder", CA_ROLE_MANAGER);
	struct sw_err err;
	/* It trusts our root, but presents a certificate of its own. */
	struct tls_ctx *cctx = tls_ctx_new(root, kp, &err);
	struct env e = {0};

	assert_non_null(cctx);
	env_start(&e, fx_node_ctx(root, "managerone", CA_ROLE_MANAGER), cctx);
	fx_run_until(&e.loop, &e.both_done, 5000);
	assert_true(e.server.hs_done);
	assert_int_equal(e.server.hs_status, -SW_EUNAUTHORIZED);
	assert_non_null(strstr(e.server.fail_msg, "certificate"));
	/* With TLS 1.3 the client finishes first and hears the alert after. */
	assert_true((e.client.hs_done && e.client.hs_status != 0) ||
		    e.client.failed);
	env_finish(&e);
	ca_keypair_free(kp);
	ca_root_free(other);
	ca_root_free(root);
}

/* A server whose certificate comes from another root is refused by the
 * client. */
static void test_foreign_server_refused(void **state)
{
	struct ca_root *root = fx_root(), *other = fx_root();
	struct env e = {0};

	env_start(&e, fx_node_ctx(other, "managerone", CA_ROLE_MANAGER),
		  fx_node_ctx(root, "workerone", CA_ROLE_WORKER));
	fx_run_until(&e.loop, &e.both_done, 5000);
	assert_int_equal(e.client.hs_status, -SW_EUNAUTHORIZED);
	assert_non_null(strstr(e.client.fail_msg, "not trusted"));
	assert_true(e.server.hs_status != 0 || e.server.failed);
	env_finish(&e);
	ca_root_free(other);
	ca_root_free(root);
}

/* A client without a certificate gets through the handshake; the server
 * sees no identity (the transport allows it only on the join channel). */
static void test_client_without_cert(void **state)
{
	struct ca_root *root = fx_root();
	struct sw_err err;
	struct tls_ctx *cctx = tls_ctx_new(root, NULL, &err);
	struct env e = {0};

	assert_non_null(cctx);
	env_start(&e, fx_node_ctx(root, "managerone", CA_ROLE_MANAGER), cctx);
	wait_handshakes(&e);
	assert_int_equal(e.server.hs_status, 0);
	assert_int_equal(e.client.hs_status, 0);
	assert_null(tls_conn_peer(&e.server.tls));
	assert_non_null(tls_conn_peer(&e.client.tls));
	env_finish(&e);
	ca_root_free(root);
}

/* A joiner pins the root by the token digest: it gets the manager's root
 * from the handshake, and a wrong digest is refused with SwarmKit's text. */
static void test_pinned(void **state)
{
	struct ca_root *root = fx_root(), *other = fx_root();
	struct sw_err err;
	struct env e = {0}, f = {0};
	const struct ca_root *pinned;

	env_start(&e, fx_node_ctx(root, "managerone", CA_ROLE_MANAGER),
		  tls_ctx_new_pinned(ca_root_digest(root), &err));
	assert_true(tls_ctx_is_pinned(e.client_ctx));
	wait_handshakes(&e);
	assert_int_equal(e.client.hs_status, 0);
	pinned = tls_conn_pinned_root(&e.client.tls);
	assert_non_null(pinned);
	assert_string_equal(ca_root_cert_pem(pinned), ca_root_cert_pem(root));
	assert_false(ca_root_can_sign(pinned));
	assert_string_equal(tls_conn_peer(&e.client.tls)->node_id,
			    "managerone");
	assert_null(tls_conn_peer(&e.server.tls));
	env_finish(&e);

	env_start(&f, fx_node_ctx(root, "managerone", CA_ROLE_MANAGER),
		  tls_ctx_new_pinned(ca_root_digest(other), &err));
	/* The server is done with its part; only the client objects. */
	fx_run_until(&f.loop, &f.client.hs_done, 5000);
	assert_int_not_equal(f.client.hs_status, 0);
	assert_non_null(
	    strstr(f.client.fail_msg, "remote CA does not match fingerprint"));
	assert_null(tls_conn_pinned_root(&f.client.tls));
	env_finish(&f);
	ca_root_free(other);
	ca_root_free(root);
}

static void on_drain(struct tls_conn *c);

/* Writes up to 256 KiB more of the pattern. */
static void write_pattern(struct env *e)
{
	static char chunk[256 * 1024];
	size_t n = e->total - e->sent;
	struct sw_err err;

	n = n < sizeof(chunk) ? n : sizeof(chunk);
	for (size_t i = 0; i < n; i++)
		chunk[i] = (char)pattern(e->sent + i);
	assert_int_equal(tls_conn_write(&e->client.tls, chunk, n, &err), 0);
	e->sent += n;
}

/* Writes the pattern while the session is writable. */
static void pump_out(struct env *e)
{
	while (e->sent < e->total && tls_conn_writable(&e->client.tls))
		write_pattern(e);
	if (e->sent < e->total) {
		e->saw_unwritable = true;
	} else if (!e->client_shut) {
		e->client_shut = true;
		assert_int_equal(tls_conn_shutdown(&e->client.tls, NULL), 0);
	}
}

static void on_drain(struct tls_conn *c)
{
	struct side *s = c->data;

	s->drains++;
	pump_out(s->e);
}

static void resume_cb(uv_timer_t *h)
{
	struct env *e = h->data;

	tls_conn_read_start(&e->server.tls);
}

/* 32 MiB through a server that reads nothing at first: the client's
 * backlog crosses the high-water mark, writes stop, and resume on drain
 * once the server reads again. Every byte arrives in order. */
static void test_large_backpressure(void **state)
{
	struct ca_root *root = fx_root();
	struct env e = {0};
	uv_timer_t resume;
	struct sw_err err;

	e.verify_stream = true;
	e.server_paused = true;
	e.shutdown_on_eof = true;
	e.total = (size_t)32 * 1024 * 1024;
	env_start(&e, fx_node_ctx(root, "managerone", CA_ROLE_MANAGER),
		  fx_node_ctx(root, "workerone", CA_ROLE_WORKER));
	tls_conn_set_drain_cb(&e.client.tls, on_drain);
	wait_handshakes(&e);
	pump_out(&e);
	assert_true(e.saw_unwritable);
	assert_false(tls_conn_writable(&e.client.tls));
	assert_true(tls_conn_queued(&e.client.tls) > TLS_HIGH_WATER);
	/* The backlog is bounded: over the limit, writes are refused. */
	while (tls_conn_queued(&e.client.tls) <= TLS_MAX_QUEUE)
		write_pattern(&e);
	assert_int_equal(tls_conn_write(&e.client.tls, "x", 1, &err),
			 -SW_EUNAVAILABLE);
	assert_non_null(strstr(err.msg, "write queue full"));
	uv_timer_init(&e.loop, &resume);
	resume.data = &e;
	uv_timer_start(&resume, resume_cb, 100, 0);
	fx_run_until(&e.loop, &e.both_done, 60000);
	assert_true(e.client.drains >= 1);
	assert_int_equal(e.server.got_bytes, e.total);
	assert_true(e.server.eof);
	uv_close((uv_handle_t *)&resume, NULL);
	env_finish(&e);
	ca_root_free(root);
}

static void test_ctx_errors(void **state)
{
	struct ca_root *root = fx_root();
	struct sw_err err;
	struct ca_keypair *kp = ca_keypair_new(&err);
	struct tls_ctx *pinned;
	struct tls_conn c = {0};
	uv_loop_t loop;

	assert_null(tls_ctx_new(NULL, NULL, &err));
	assert_int_equal(err.kind, SW_EINVALID);
	/* A keypair whose certificate is not issued yet. */
	assert_null(tls_ctx_new(root, kp, &err));
	assert_int_equal(err.kind, SW_EINVALID);
	pinned = tls_ctx_new_pinned(ca_root_digest(root), &err);
	assert_non_null(pinned);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(tls_conn_init(&c, &loop, pinned, TLS_SERVER, &err),
			 -SW_EINVALID);
	tls_ctx_unref(pinned);
	fx_finish_loop(&loop);
	ca_keypair_free(kp);
	ca_root_free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_handshake_echo),
	    cmocka_unit_test(test_foreign_client_refused),
	    cmocka_unit_test(test_foreign_server_refused),
	    cmocka_unit_test(test_client_without_cert),
	    cmocka_unit_test(test_pinned),
	    cmocka_unit_test(test_large_backpressure),
	    cmocka_unit_test(test_ctx_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
