#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <raft.h>
#include <raft/fixture.h>

#include "tests/unit/orchestrator/tmpdir.h"
#include "orchestrator/change.h"
#include "orchestrator/fsm.h"
#include "orchestrator/store.h"

struct node {
	char dir[64];
	struct store *s;
	struct fsm fsm;
	struct raft fake; /* stands in for raft when no raft runs */
};

static void node_open(struct node *n)
{
	struct sw_err err;

	strcpy(n->dir, "/tmp/swarmd-fsm-XXXXXX");
	assert_non_null(mkdtemp(n->dir));
	n->s = store_open(n->dir, &err);
	assert_non_null(n->s);
	fsm_init(&n->fsm, n->s);
	memset(&n->fake, 0, sizeof(n->fake));
	fsm_attach(&n->fsm, &n->fake);
}

static void node_close(struct node *n)
{
	fsm_close(&n->fsm);
	store_close(n->s);
	remove_dir(n->dir);
}

static struct raft_buffer encode_put(enum change_mode mode, const char *id,
				     const char *name, const char *payload)
{
	struct raft_buffer buf;
	struct change c;
	struct sw_err err;

	change_init(&c, 42);
	change_put(&c, mode, OBJ_SERVICE, id, name, payload, strlen(payload),
		   0);
	assert_int_equal(change_encode(&c, &buf, &err), 0);
	change_free(&c);
	return buf;
}

/* Applies buf as the entry at index through the raft_fsm interface and
 * returns the outcome status. */
static int fsm_apply_at(struct node *n, struct raft_buffer buf, uint64_t index,
			struct sw_err *out)
{
	void *result = NULL;

	n->fake.last_applied = index - 1;
	assert_int_equal(n->fsm.raft_fsm.apply(&n->fsm.raft_fsm, &buf, &result),
			 0);
	return fsm_outcome(&n->fsm, result, index, out);
}

static void test_apply_idempotent(void **state)
{
	struct raft_buffer a = encode_put(CHANGE_CREATE, "s1", "web", "v1");
	struct raft_buffer b = encode_put(CHANGE_UPSERT, "s1", "web", "v2");
	struct sw_err out;
	struct node n;

	node_open(&n);
	assert_int_equal(fsm_apply_at(&n, a, 1, &out), 0);
	/* c-raft replays index 1 after a restart: skipped, still "ok". */
	assert_int_equal(fsm_apply_at(&n, a, 1, &out), 0);
	assert_int_equal(store_applied_index(n.s), 1);
	assert_int_equal(store_get(n.s, OBJ_SERVICE, "s1")->version, 1);
	/* The same CREATE at a new index is a deterministic conflict. */
	assert_int_equal(fsm_apply_at(&n, a, 2, &out), -SW_ECONFLICT);
	assert_int_equal(store_applied_index(n.s), 2);
	assert_int_equal(fsm_apply_at(&n, b, 3, &out), 0);
	/* Replaying an older index does not roll anything back. */
	assert_int_equal(fsm_apply_at(&n, a, 1, &out), 0);
	assert_int_equal(store_get(n.s, OBJ_SERVICE, "s1")->version, 3);
	assert_memory_equal(store_get(n.s, OBJ_SERVICE, "s1")->payload, "v2",
			    2);
	raft_free(a.base);
	raft_free(b.base);
	node_close(&n);
}

static void test_outcome_channel(void **state)
{
	struct raft_buffer a = encode_put(CHANGE_CREATE, "s1", "web", "v1");
	struct raft_buffer junk = {.base = raft_calloc(1, 16), .len = 16};
	struct sw_err out;
	void *result = NULL;
	struct node n;

	node_open(&n);
	assert_int_equal(fsm_apply_at(&n, a, 1, &out), 0);
	raft_free(a.base);
	a = encode_put(CHANGE_CREATE, "s2", "web", "v");
	assert_int_equal(fsm_apply_at(&n, a, 2, &out), -SW_ECONFLICT);
	assert_string_equal(out.msg, "name conflicts with an existing object");
	/* A malformed entry is rejected, and consumed. */
	assert_int_equal(fsm_apply_at(&n, junk, 3, &out), -SW_EINVALID);
	assert_int_equal(store_applied_index(n.s), 3);
	/* A slot reused by a later index no longer answers for index 4. */
	n.fake.last_applied = 3;
	assert_int_equal(n.fsm.raft_fsm.apply(&n.fsm.raft_fsm, &junk, &result),
			 0);
	n.fake.last_applied = 3 + FSM_OUTCOMES;
	assert_int_equal(n.fsm.raft_fsm.apply(&n.fsm.raft_fsm, &junk, &result),
			 0);
	assert_int_equal(fsm_outcome(&n.fsm, &n.fsm.outcomes[4], 4, &out),
			 -SW_EUNAVAILABLE);
	assert_int_equal(fsm_outcome(&n.fsm, NULL, 4, &out), -SW_EUNAVAILABLE);
	raft_free(a.base);
	raft_free(junk.base);
	node_close(&n);
}

static struct raft_buffer take_snapshot(struct node *n)
{
	struct raft_buffer *bufs = NULL, out;
	unsigned n_bufs = 0;

	assert_int_equal(
	    n->fsm.raft_fsm.snapshot(&n->fsm.raft_fsm, &bufs, &n_bufs), 0);
	assert_int_equal(n_bufs, 1);
	out = bufs[0];
	raft_free(bufs);
	return out;
}

static void test_snapshot_restore(void **state)
{
	struct node a, b;
	struct raft_buffer buf, snap;
	struct sw_err out;
	char id[16];
	int i;

	node_open(&a);
	node_open(&b);
	for (i = 1; i <= 50; i++) {
		snprintf(id, sizeof(id), "svc%d", i);
		buf = encode_put(CHANGE_CREATE, id, id + 3, id);
		assert_int_equal(fsm_apply_at(&a, buf, (uint64_t)i, &out), 0);
		raft_free(buf.base);
	}
	snap = take_snapshot(&a);
	assert_int_equal(b.fsm.raft_fsm.restore(&b.fsm.raft_fsm, &snap), 0);
	assert_null(snap.base); /* restore took it */
	assert_int_equal(store_applied_index(b.s), 50);
	assert_int_equal(store_count(b.s, OBJ_SERVICE), 50);
	assert_int_equal(store_get_by_name(b.s, OBJ_SERVICE, "17")->version,
			 17);
	assert_memory_equal(store_get(b.s, OBJ_SERVICE, "svc17")->payload,
			    "svc17", 5);

	/* b moves on; an older snapshot must leave it alone. */
	buf = encode_put(CHANGE_UPSERT, "svc1", "1", "newer");
	assert_int_equal(fsm_apply_at(&b, buf, 51, &out), 0);
	raft_free(buf.base);
	snap = take_snapshot(&a);
	assert_int_equal(b.fsm.raft_fsm.restore(&b.fsm.raft_fsm, &snap), 0);
	assert_int_equal(store_applied_index(b.s), 51);
	assert_memory_equal(store_get(b.s, OBJ_SERVICE, "svc1")->payload,
			    "newer", 5);

	/* A corrupt snapshot fails and stays owned by the caller. */
	snap = take_snapshot(&b);
	((unsigned char *)snap.base)[0] ^= 1;
	assert_int_not_equal(a.fsm.raft_fsm.restore(&a.fsm.raft_fsm, &snap), 0);
	raft_free(snap.base);
	node_close(&a);
	node_close(&b);
}

/* ---- three voters on c-raft's fixture ---- */

struct cluster {
	struct raft_fixture rf;
	struct node n[3];
	int resets[3];
	struct store_watcher w[3];
};

struct proposal {
	struct raft_apply req;
	struct cluster *cl;
	bool done;
	int status;
	struct sw_err err;
};

static void reset_cb(struct store_watcher *w, uint64_t index, bool reset,
		     const struct store_event *evs, size_t n)
{
	*(int *)w->data += reset;
}

static void cluster_start(struct cluster *cl)
{
	struct raft_configuration conf;
	unsigned i;

	/* 0.15 does not zero the fixture (LIBRARY-NOTES §1). */
	memset(&cl->rf, 0, sizeof(cl->rf));
	assert_int_equal(raft_fixture_initialize(&cl->rf), 0);
	for (i = 0; i < 3; i++) {
		node_open(&cl->n[i]);
		assert_int_equal(
		    raft_fixture_grow(&cl->rf, &cl->n[i].fsm.raft_fsm), 0);
		fsm_attach(&cl->n[i].fsm, raft_fixture_get(&cl->rf, i));
		raft_set_snapshot_threshold(raft_fixture_get(&cl->rf, i), 16);
		raft_set_snapshot_trailing(raft_fixture_get(&cl->rf, i), 4);
		cl->w[i].data = &cl->resets[i];
		store_watch(cl->n[i].s, &cl->w[i], reset_cb);
	}
	assert_int_equal(raft_fixture_configuration(&cl->rf, 3, &conf), 0);
	assert_int_equal(raft_fixture_bootstrap(&cl->rf, &conf), 0);
	raft_configuration_close(&conf);
	assert_int_equal(raft_fixture_start(&cl->rf), 0);
	raft_fixture_elect(&cl->rf, 0);
}

static void cluster_stop(struct cluster *cl)
{
	unsigned i;

	raft_fixture_close(&cl->rf);
	for (i = 0; i < 3; i++)
		node_close(&cl->n[i]);
}

static void proposal_cb(struct raft_apply *req, int status, void *result)
{
	struct proposal *p = req->data;

	p->done = true;
	sw_err_clear(&p->err);
	p->status =
	    status ? -SW_ESYSTEM
		   : fsm_outcome(&p->cl->n[0].fsm, result, req->index, &p->err);
}

static uint64_t propose(struct cluster *cl, struct proposal *p,
			enum change_mode mode, const char *id, const char *name)
{
	struct raft_buffer buf = encode_put(mode, id, name, id);

	memset(p, 0, sizeof(*p));
	p->cl = cl;
	p->req.data = p;
	assert_int_equal(raft_apply(raft_fixture_get(&cl->rf, 0), &p->req, &buf,
				    1, proposal_cb),
			 0);
	return p->req.index;
}

static void test_fixture_replication(void **state)
{
	struct cluster *cl = calloc(1, sizeof(*cl));
	struct proposal p[40];
	uint64_t idx = 0;
	char id[16];
	unsigned i;

	cluster_start(cl);
	for (i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "svc%u", i);
		idx = propose(cl, &p[i], CHANGE_CREATE, id, id);
	}
	/* A follower cannot propose. */
	{
		struct raft_apply req;
		struct raft_buffer buf =
		    encode_put(CHANGE_UPSERT, "x", "x", "x");

		assert_int_equal(raft_apply(raft_fixture_get(&cl->rf, 1), &req,
					    &buf, 1, proposal_cb),
				 RAFT_NOTLEADER);
		raft_free(buf.base);
	}
	assert_true(raft_fixture_step_until_applied(&cl->rf, 3, idx, 5000));
	for (i = 0; i < 5; i++) {
		assert_true(p[i].done);
		assert_int_equal(p[i].status, 0);
	}
	for (i = 0; i < 3; i++) {
		assert_int_equal(store_count(cl->n[i].s, OBJ_SERVICE), 5);
		assert_int_equal(store_applied_index(cl->n[i].s), idx);
		assert_int_equal(
		    store_get(cl->n[i].s, OBJ_SERVICE, "svc4")->version, idx);
	}
	/* A rejection reaches the proposer; followers consume it too. */
	idx = propose(cl, &p[0], CHANGE_CREATE, "other", "svc1");
	assert_true(raft_fixture_step_until_applied(&cl->rf, 3, idx, 5000));
	assert_int_equal(p[0].status, -SW_ECONFLICT);
	assert_string_equal(p[0].err.msg,
			    "name conflicts with an existing object");
	for (i = 0; i < 3; i++)
		assert_int_equal(store_applied_index(cl->n[i].s), idx);

	/* Server 2 misses enough entries to need the leader's snapshot. */
	raft_fixture_kill(&cl->rf, 2);
	for (i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "late%u", i);
		idx = propose(cl, &p[i], CHANGE_UPSERT, id, id);
	}
	assert_true(raft_fixture_step_until_applied(&cl->rf, 0, idx, 10000));
	assert_true(raft_fixture_step_until_applied(&cl->rf, 1, idx, 10000));
	raft_fixture_revive(&cl->rf, 2);
	assert_true(raft_fixture_step_until_applied(&cl->rf, 2, idx, 20000));
	assert_true(cl->resets[2] >= 1);
	assert_int_equal(cl->resets[0], 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(store_count(cl->n[i].s, OBJ_SERVICE), 45);
		assert_int_equal(store_applied_index(cl->n[i].s), idx);
		assert_int_equal(
		    store_get(cl->n[i].s, OBJ_SERVICE, "late39")->version, idx);
	}
	cluster_stop(cl);
	free(cl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_apply_idempotent),
	    cmocka_unit_test(test_outcome_channel),
	    cmocka_unit_test(test_snapshot_restore),
	    cmocka_unit_test(test_fixture_replication),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
