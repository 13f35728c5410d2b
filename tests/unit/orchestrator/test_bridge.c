/* Tests for orchestrator/bridge.c: c-raft's transport interface carried
 * through the TLS raft channel. First the interface driven by hand (the
 * test plays c-raft), then real c-raft instances with raft_uv I/O in temp
 * dirs on 127.0.0.1-3 that elect, grow by add/assign and replicate. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "tests/unit/orchestrator/tmpdir.h"
#include "orchestrator/bridge.h"
#include "orchestrator/ca.h"
#include "orchestrator/tls.h"
#include "orchestrator/transport.h"
#include "transport_fixture.h"

enum { NODES = 3 };

#define MIB ((size_t)1024 * 1024)
#define CHUNK ((size_t)128 * 1024)

struct env;

struct node {
	struct env *e;
	raft_id id;
	char node_id[16];
	char address[64];
	struct transport *t;
	struct raft_uv_transport rt;
	struct raft_io io;
	struct raft raft;
	struct raft_fsm fsm;
	char dir[96];
	unsigned applied;
	uint64_t last_value;
	bool raft_closed, rt_closed, t_closed;
	/* the hand-driven interface */
	struct raft_uv_connect connect;
	int connect_status;
	bool connect_done;
	uv_stream_t *out;
	uv_stream_t *in;
	raft_id in_id;
	char in_address[64];
	int accepts;
};

struct env {
	uv_loop_t loop;
	struct ca_root *root;
	struct node nodes[NODES];
	char dir[64];
	/* stream test */
	size_t total, sent, received;
	bool in_eof;
	bool in_paused;
	/* raft test */
	struct raft_change change;
	struct raft_apply apply;
	bool change_done, apply_done;
	int change_status, apply_status;
};

static unsigned char pattern(size_t i)
{
	return (unsigned char)((i * 13 + 5) % 251);
}

/* The owner's table: raft id n is node "node<n>" at its address. */
static int check_cb(void *data, uint64_t raft_id,
		    const struct ca_identity *peer, char *address, size_t cap,
		    struct sw_err *err)
{
	struct env *e = data;
	struct node *n;

	if (raft_id < 1 || raft_id > NODES)
		return sw_err_set(err, SW_EFORBIDDEN, "unknown raft id");
	n = &e->nodes[raft_id - 1];
	if (peer == NULL || peer->role != CA_ROLE_MANAGER ||
	    strcmp(peer->node_id, n->node_id) != 0)
		return sw_err_set(
		    err, SW_EFORBIDDEN, "raft id %llu is not node %s",
		    (unsigned long long)raft_id, peer ? peer->node_id : "?");
	(void)snprintf(address, cap, "%s", n->address);
	return 0;
}

static void node_setup(struct env *e, int i, bool with_bridge)
{
	struct node *n = &e->nodes[i];
	struct bridge_config cfg = {.check = check_cb, .data = e};
	struct sw_err err;
	struct tls_ctx *ctx;
	char host[32];

	n->e = e;
	n->id = (raft_id)i + 1;
	(void)snprintf(n->node_id, sizeof(n->node_id), "node%d", i + 1);
	ctx = fx_node_ctx(e->root, n->node_id, CA_ROLE_MANAGER);
	n->t = transport_init(&e->loop, ctx, &err);
	tls_ctx_unref(ctx);
	assert_non_null(n->t);
	(void)snprintf(host, sizeof(host), "127.0.0.%d", i + 1);
	assert_int_equal(transport_listen(n->t, host, 0, &err), 0);
	(void)snprintf(n->address, sizeof(n->address), "%s:%d", host,
		       transport_port(n->t));
	if (!with_bridge)
		return;
	cfg.transport = n->t;
	assert_int_equal(bridge_init(&n->rt, &e->loop, &cfg, &err), 0);
}

static void env_init(struct env *e, bool with_bridge)
{
	memset(e, 0, sizeof(*e));
	assert_int_equal(uv_loop_init(&e->loop), 0);
	e->root = fx_root();
	for (int i = 0; i < NODES; i++)
		node_setup(e, i, with_bridge);
}

static void t_closed_cb(void *data)
{
	struct node *n = data;

	n->t_closed = true;
}

static void env_close_transports(struct env *e)
{
	for (int i = 0; i < NODES; i++)
		if (e->nodes[i].t != NULL)
			transport_close(e->nodes[i].t, t_closed_cb,
					&e->nodes[i]);
	fx_finish_loop(&e->loop);
	for (int i = 0; i < NODES; i++)
		assert_true(e->nodes[i].t_closed);
	ca_root_free(e->root);
}

typedef bool (*pred_fn)(struct env *e);

static void run_until(struct env *e, pred_fn pred, unsigned ms)
{
	uv_timer_t tick;
	uint64_t deadline;

	uv_update_time(&e->loop);
	deadline = uv_now(&e->loop) + ms;
	uv_timer_init(&e->loop, &tick);
	uv_timer_start(&tick, fx_tick_cb, 10, 10);
	while (!pred(e) && uv_now(&e->loop) < deadline)
		uv_run(&e->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(&e->loop, UV_RUN_NOWAIT);
	assert_true(pred(e));
}

/* ---- the interface by hand ---- */

static void raft_stream_free_cb(uv_handle_t *h)
{
	raft_free(h);
}

static void in_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char mem[64 * 1024];

	*buf = uv_buf_init(mem, sizeof(mem));
}

static void resume_in_cb(uv_timer_t *h);

static void in_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct env *e = s->data;

	if (nread == UV_EOF) {
		e->in_eof = true;
		return;
	}
	assert_true(nread >= 0);
	for (ssize_t i = 0; i < nread; i++)
		assert_int_equal((unsigned char)buf->base[i],
				 pattern(e->received + (size_t)i));
	e->received += (size_t)nread;
	/* Stop once for a while, so the bytes back up through the pipe, the
	 * TLS connection and the sender's pipe. */
	if (!e->in_paused && e->received > MIB && e->received < 2 * MIB) {
		uv_timer_t *t = malloc(sizeof(*t));

		e->in_paused = true;
		uv_read_stop(s);
		uv_timer_init(s->loop, t);
		t->data = s;
		uv_timer_start(t, resume_in_cb, 300, 0);
	}
}

static void resume_in_cb(uv_timer_t *h)
{
	uv_read_start(h->data, in_alloc_cb, in_read_cb);
	uv_close((uv_handle_t *)h, (uv_close_cb)free);
}

static void accept_cb(struct raft_uv_transport *rt, raft_id id,
		      const char *address, uv_stream_t *stream)
{
	struct node *n = rt->data; /* set by rt_start, playing c-raft */

	n->accepts++;
	n->in = stream;
	n->in_id = id;
	(void)snprintf(n->in_address, sizeof(n->in_address), "%s", address);
	stream->data = n->e;
	assert_int_equal(uv_read_start(stream, in_alloc_cb, in_read_cb), 0);
}

static void connect_cb(struct raft_uv_connect *req, uv_stream_t *stream,
		       int status)
{
	struct node *n = req->data;

	n->connect_done = true;
	n->connect_status = status;
	n->out = stream;
	if (status == 0)
		assert_non_null(stream);
	else
		assert_null(stream);
}

static int writes_pending;

static void write_cb(uv_write_t *req, int status)
{
	assert_int_equal(status, 0);
	writes_pending--;
	free(req);
}

static bool writes_done(struct env *e)
{
	return writes_pending == 0;
}

static void write_pattern(struct env *e, uv_stream_t *s)
{
	while (e->sent < e->total) {
		size_t n = e->total - e->sent;
		uv_write_t *req = malloc(sizeof(*req) + CHUNK);
		char *p = (char *)(req + 1);
		uv_buf_t b;

		n = n < CHUNK ? n : CHUNK;
		for (size_t i = 0; i < n; i++)
			p[i] = (char)pattern(e->sent + i);
		b = uv_buf_init(p, (unsigned int)n);
		assert_int_equal(uv_write(req, s, &b, 1, write_cb), 0);
		writes_pending++;
		e->sent += n;
	}
}

static void rt_closed_cb(struct raft_uv_transport *rt)
{
	struct node *n = rt->data;

	n->rt_closed = true;
}

static bool connect_done1(struct env *e)
{
	return e->nodes[1].connect_done;
}

static bool accepted0(struct env *e)
{
	return e->nodes[0].accepts > 0;
}

static bool in_complete(struct env *e)
{
	return e->in_eof;
}

static bool rts_closed(struct env *e)
{
	return e->nodes[0].rt_closed && e->nodes[1].rt_closed;
}

static void rt_start(struct node *n)
{
	n->rt.data = n; /* c-raft's field; the test plays c-raft */
	assert_int_equal(n->rt.init(&n->rt, n->id, n->address), 0);
	assert_int_equal(n->rt.listen(&n->rt, accept_cb), 0);
}

static void rts_close(struct env *e)
{
	e->nodes[0].rt.close(&e->nodes[0].rt, rt_closed_cb);
	e->nodes[1].rt.close(&e->nodes[1].rt, rt_closed_cb);
	run_until(e, rts_closed, 5000);
	for (int i = 0; i < NODES; i++)
		bridge_close(&e->nodes[i].rt);
}

/* Node 2 connects to node 1 and streams 16 MiB; node 1's accepted stream
 * carries node 2's id and the address from the owner's table, gets every
 * byte in order through a reader that stalls for a while, then EOF once
 * the sender closes its end. */
static void test_stream_roundtrip(void **state)
{
	struct env e;
	struct node *a, *b;

	env_init(&e, true);
	a = &e.nodes[0];
	b = &e.nodes[1];
	e.nodes[2].rt.data = &e.nodes[2];
	rt_start(a);
	rt_start(b);
	b->connect.data = b;
	assert_int_equal(
	    b->rt.connect(&b->rt, &b->connect, a->id, a->address, connect_cb),
	    0);
	run_until(&e, connect_done1, 5000);
	assert_int_equal(b->connect_status, 0);
	e.total = 16 * MIB;
	write_pattern(&e, b->out);
	run_until(&e, accepted0, 5000);
	assert_int_equal(a->in_id, b->id);
	assert_string_equal(a->in_address, b->address);
	/* c-raft closes an outbound stream when done (closing drops what
	 * is still queued, so wait for the writes): the peer's inbound
	 * stream reads every byte, then EOF. */
	run_until(&e, writes_done, 30000);
	uv_close((uv_handle_t *)b->out, raft_stream_free_cb);
	run_until(&e, in_complete, 30000);
	assert_int_equal(e.received, e.total);
	assert_true(e.in_paused);
	uv_close((uv_handle_t *)a->in, raft_stream_free_cb);
	rts_close(&e);
	env_close_transports(&e);
}

static bool connect_done1_any(struct env *e)
{
	return e->nodes[1].connect_done;
}

/* The dialer checks who answered: asking node 1's address for raft id 3
 * fails, since node 1's certificate says node1. */
static void test_connect_wrong_identity(void **state)
{
	struct env e;
	struct node *a, *b;

	env_init(&e, true);
	a = &e.nodes[0];
	b = &e.nodes[1];
	e.nodes[2].rt.data = &e.nodes[2];
	rt_start(a);
	rt_start(b);
	b->connect.data = b;
	assert_int_equal(
	    b->rt.connect(&b->rt, &b->connect, 3, a->address, connect_cb), 0);
	run_until(&e, connect_done1_any, 5000);
	assert_int_equal(b->connect_status, RAFT_NOCONNECTION);
	assert_int_equal(a->accepts, 0);
	rts_close(&e);
	env_close_transports(&e);
}

struct forge {
	struct transport_dial_req dial;
	struct transport_conn *c;
	bool closed, done;
};

static void forge_closed(struct transport_conn *c, const struct sw_err *err)
{
	struct forge *f = transport_conn_data(c);

	f->closed = true;
}

static const struct transport_conn_ops forge_ops = {
    .closed = forge_closed,
};

static void forge_dial_cb(struct transport_dial_req *req,
			  struct transport_conn *c, int status,
			  const struct sw_err *err)
{
	struct forge *f = req->data;
	unsigned char hello[9] = {1, 0, 0, 0, 0, 0, 0, 0, 3};
	struct sw_err e2;

	f->done = true;
	assert_int_equal(status, 0);
	f->c = c;
	transport_conn_set_ops(c, &forge_ops, f);
	/* Node 2 claims to be raft server 3. */
	assert_int_equal(transport_conn_send(c, hello, sizeof(hello), &e2), 0);
}

static struct forge *the_forge;

static bool forge_closed_p(struct env *e)
{
	return the_forge->closed;
}

/* A manager claiming another manager's raft id in its hello is refused:
 * ids come from certificates via the owner's table. */
static void test_forged_hello_refused(void **state)
{
	struct env e;
	struct node *a, *b;
	struct forge f = {0};
	struct sw_err err;

	env_init(&e, true);
	a = &e.nodes[0];
	b = &e.nodes[1];
	e.nodes[2].rt.data = &e.nodes[2];
	rt_start(a);
	b->rt.data = b;
	f.dial.data = &f;
	the_forge = &f;
	assert_int_equal(transport_dial(b->t, &f.dial, a->address,
					TRANSPORT_RAFT, forge_dial_cb, &err),
			 0);
	run_until(&e, forge_closed_p, 5000);
	assert_true(f.done);
	assert_int_equal(a->accepts, 0);
	a->rt.close(&a->rt, rt_closed_cb);
	b->rt_closed = true;
	run_until(&e, rts_closed, 5000);
	for (int i = 0; i < NODES; i++)
		bridge_close(&e.nodes[i].rt);
	env_close_transports(&e);
}

static void silent_accept(uv_stream_t *l, int status)
{
	uv_tcp_t *c = malloc(sizeof(*c));

	uv_tcp_init(l->loop, c);
	assert_int_equal(uv_accept(l, (uv_stream_t *)c), 0);
	l->data = c;
}

static bool connect_or_closed(struct env *e)
{
	return e->nodes[1].connect_done && e->nodes[1].rt_closed;
}

/* Closing the transport cancels a connect in flight: c-raft hears
 * RAFT_CANCELED, then the close callback. */
static void test_close_cancels_connect(void **state)
{
	struct env e;
	struct node *b;
	uv_tcp_t silent;
	struct sockaddr_in sa;
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	char addr[64];

	env_init(&e, true);
	b = &e.nodes[1];
	e.nodes[0].rt.data = &e.nodes[0];
	e.nodes[2].rt.data = &e.nodes[2];
	rt_start(b);
	uv_tcp_init(&e.loop, &silent);
	silent.data = NULL;
	uv_ip4_addr("127.0.0.1", 0, &sa);
	assert_int_equal(uv_tcp_bind(&silent, (struct sockaddr *)&sa, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&silent, 8, silent_accept),
			 0);
	uv_tcp_getsockname(&silent, (struct sockaddr *)&ss, &len);
	(void)snprintf(addr, sizeof(addr), "127.0.0.1:%d",
		       ntohs(((struct sockaddr_in *)&ss)->sin_port));
	b->connect.data = b;
	assert_int_equal(
	    b->rt.connect(&b->rt, &b->connect, 1, addr, connect_cb), 0);
	uv_run(&e.loop, UV_RUN_NOWAIT);
	b->rt.close(&b->rt, rt_closed_cb);
	assert_int_equal(
	    b->rt.connect(&b->rt, &b->connect, 1, addr, connect_cb),
	    RAFT_CANCELED);
	run_until(&e, connect_or_closed, 5000);
	assert_int_equal(b->connect_status, RAFT_CANCELED);
	for (int i = 0; i < NODES; i++)
		bridge_close(&e.nodes[i].rt);
	if (silent.data != NULL)
		uv_close((uv_handle_t *)silent.data, (uv_close_cb)free);
	uv_close((uv_handle_t *)&silent, NULL);
	env_close_transports(&e);
}

/* ---- real c-raft ---- */

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf,
		     void **result)
{
	struct node *n = fsm->data;

	if (buf->len >= 8)
		memcpy(&n->last_value, buf->base, 8);
	n->applied++;
	*result = NULL;
	return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[],
			unsigned *n_bufs)
{
	return RAFT_NOTFOUND; /* thresholds keep it from being asked */
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	raft_free(buf->base);
	return 0;
}

static void raft_node_start(struct env *e, int i, bool bootstrap)
{
	struct node *n = &e->nodes[i];
	struct raft_configuration conf;

	(void)snprintf(n->dir, sizeof(n->dir), "%s/raft%d", e->dir, i + 1);
	assert_int_equal(mkdir(n->dir, 0700), 0);
	n->fsm.version = 1;
	n->fsm.data = n;
	n->fsm.apply = fsm_apply;
	n->fsm.snapshot = fsm_snapshot;
	n->fsm.restore = fsm_restore;
	assert_int_equal(raft_uv_init(&n->io, &e->loop, n->dir, &n->rt), 0);
	raft_uv_set_connect_retry_delay(&n->io, 50);
	assert_int_equal(
	    raft_init(&n->raft, &n->io, &n->fsm, n->id, n->address), 0);
	n->raft.data = n;
	raft_set_election_timeout(&n->raft, 400);
	raft_set_heartbeat_timeout(&n->raft, 40);
	raft_set_snapshot_threshold(&n->raft, 100000);
	if (bootstrap) {
		raft_configuration_init(&conf);
		assert_int_equal(raft_configuration_add(&conf, n->id,
							n->address, RAFT_VOTER),
				 0);
		assert_int_equal(raft_bootstrap(&n->raft, &conf), 0);
		raft_configuration_close(&conf);
	}
	assert_int_equal(raft_start(&n->raft), 0);
}

static bool node1_leads(struct env *e)
{
	return raft_state(&e->nodes[0].raft) == RAFT_LEADER;
}

static void change_cb(struct raft_change *req, int status)
{
	struct env *e = req->data;

	e->change_done = true;
	e->change_status = status;
}

static bool change_done(struct env *e)
{
	return e->change_done;
}

static void membership(struct env *e, raft_id id, bool add)
{
	struct node *n = &e->nodes[id - 1];
	struct raft *leader = &e->nodes[0].raft;

	e->change_done = false;
	e->change.data = e;
	if (add)
		assert_int_equal(
		    raft_add(leader, &e->change, id, n->address, change_cb), 0);
	else
		assert_int_equal(
		    raft_assign(leader, &e->change, id, RAFT_VOTER, change_cb),
		    0);
	run_until(e, change_done, 20000);
	assert_int_equal(e->change_status, 0);
}

static void apply_cb(struct raft_apply *req, int status, void *result)
{
	struct env *e = req->data;

	e->apply_done = true;
	e->apply_status = status;
}

static bool all_applied(struct env *e)
{
	for (int i = 0; i < NODES; i++)
		if (e->nodes[i].last_value != 0x5357415244ULL)
			return false;
	return e->apply_done;
}

static void raft_closed_cb(struct raft *r)
{
	struct node *n = r->data;

	n->raft_closed = true;
}

static bool all_rafts_closed(struct env *e)
{
	for (int i = 0; i < NODES; i++)
		if (!e->nodes[i].raft_closed)
			return false;
	return true;
}

/* Three managers: node 1 bootstraps alone and leads, adds nodes 2 and 3
 * and promotes them to voters (each catch-up runs over the TLS bridge),
 * then an entry commits and every node applies it. */
static void test_raft_cluster(void **state)
{
	struct env e;
	struct raft_buffer buf;
	uint64_t value = 0x5357415244ULL;
	raft_id leader_id;
	const char *leader_addr;

	env_init(&e, true);
	(void)snprintf(e.dir, sizeof(e.dir), "/tmp/swarmd-bridge-XXXXXX");
	assert_non_null(mkdtemp(e.dir));
	for (int i = 0; i < NODES; i++)
		raft_node_start(&e, i, i == 0);
	run_until(&e, node1_leads, 10000);
	for (raft_id id = 2; id <= NODES; id++) {
		membership(&e, id, true);
		membership(&e, id, false);
	}
	buf.len = 8;
	buf.base = raft_malloc(buf.len);
	memcpy(buf.base, &value, 8);
	e.apply.data = &e;
	assert_int_equal(
	    raft_apply(&e.nodes[0].raft, &e.apply, &buf, 1, apply_cb), 0);
	run_until(&e, all_applied, 20000);
	assert_int_equal(e.apply_status, 0);
	for (int i = 1; i < NODES; i++) {
		raft_leader(&e.nodes[i].raft, &leader_id, &leader_addr);
		assert_int_equal(leader_id, 1);
		/* The address c-raft recorded came from the owner's table. */
		assert_string_equal(leader_addr, e.nodes[0].address);
	}
	for (int i = 0; i < NODES; i++)
		raft_close(&e.nodes[i].raft, raft_closed_cb);
	run_until(&e, all_rafts_closed, 10000);
	for (int i = 0; i < NODES; i++) {
		raft_uv_close(&e.nodes[i].io);
		bridge_close(&e.nodes[i].rt);
	}
	env_close_transports(&e);
	remove_dir(e.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stream_roundtrip),
	    cmocka_unit_test(test_connect_wrong_identity),
	    cmocka_unit_test(test_forged_hello_refused),
	    cmocka_unit_test(test_close_cancels_connect),
	    cmocka_unit_test(test_raft_cluster),
	};

	/* libuv writes with write(): a peer closing its end must not kill
	 * the process. */
	(void)signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
