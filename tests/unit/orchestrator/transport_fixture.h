/* Shared helpers for the node transport tests: certificates from a test
 * root, and running a loop until a condition holds. Header-only (static
 * functions), included by test_tls.c, test_transport.c and
 * test_bridge.c. */
#ifndef SW_TEST_TRANSPORT_FIXTURE_H
#define SW_TEST_TRANSPORT_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>
#include <uv.h>

#include "orchestrator/ca.h"
#include "orchestrator/tls.h"

#define FX_CLUSTER "testcluster0"

static struct ca_root *fx_root(void)
{
	struct sw_err err;
	struct ca_root *root = ca_root_new(time(NULL), &err);

	assert_non_null(root);
	return root;
}

/* A keypair with a certificate issued by root for node_id in role. */
static struct ca_keypair *fx_keypair(const struct ca_root *root,
				     const char *node_id, enum ca_role role)
{
	struct sw_err err;
	struct ca_keypair *kp = ca_keypair_new(&err);
	struct ca_sign_req req = {
	    .node_id = node_id,
	    .cluster_id = FX_CLUSTER,
	    .role = role,
	    .expiry_ns = CA_NODE_CERT_EXPIRY_DEFAULT_NS,
	    .now = time(NULL),
	};
	char *pem;

	assert_non_null(kp);
	req.csr_pem = ca_keypair_csr_pem(kp);
	pem = ca_root_sign_csr(root, &req, &err);
	assert_non_null(pem);
	assert_int_equal(ca_keypair_set_cert(kp, pem, &err), 0);
	free(pem);
	return kp;
}

/* A TLS context for a node of root; the keypair is freed (the context
 * keeps its own references). */
static struct tls_ctx *fx_node_ctx(const struct ca_root *root,
				   const char *node_id, enum ca_role role)
{
	struct ca_keypair *kp = fx_keypair(root, node_id, role);
	struct sw_err err;
	struct tls_ctx *ctx = tls_ctx_new(root, kp, &err);

	assert_non_null(ctx);
	ca_keypair_free(kp);
	return ctx;
}

static void fx_tick_cb(uv_timer_t *h)
{
}

/* Runs the loop until *done or ms elapse (then fails). A ticking timer
 * keeps the loop from blocking forever. */
__attribute__((unused)) static void fx_run_until(uv_loop_t *loop,
						 const bool *done, unsigned ms)
{
	uv_timer_t tick;
	uint64_t deadline;

	uv_update_time(loop);
	deadline = uv_now(loop) + ms;
	uv_timer_init(loop, &tick);
	uv_timer_start(&tick, fx_tick_cb, 10, 10);
	while (!*done && uv_now(loop) < deadline)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	assert_true(*done);
}

/* Runs the loop dry and checks every handle was closed. */
static void fx_finish_loop(uv_loop_t *loop)
{
	assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(loop), 0);
}

#endif
