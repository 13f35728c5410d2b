#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "tests/unit/orchestrator/tmpdir.h"
#include "orchestrator/change.h"
#include "orchestrator/consensus.h"
#include "orchestrator/fsm.h"
#include "orchestrator/store.h"

#define MAX_PROPS 128

struct env;

struct prop {
	struct consensus_propose_req req;
	struct env *e;
	int calls;
	int status;
	uint64_t index;
	struct sw_err err;
};

struct env {
	char dir[64];
	char store_dir[96];
	char raft_dir[96];
	uv_loop_t loop;
	struct store *s;
	struct fsm fsm;
	struct raft_uv_transport t;
	struct consensus *c;
	unsigned threshold; /* 0: default snapshot settings */
	int ready_calls;
	bool closed;
	/* what to do once ready, and after each proposal's callback */
	void (*on_ready)(struct env *e);
	void (*on_done)(struct env *e, struct prop *p);
	struct prop props[MAX_PROPS];
	int n_props;
	int n_done;
	uint64_t min_index; /* every new index must exceed it */
	struct consensus_change_req change;
	int change_status;
	int change_step;
};

static void closed_cb(void *data)
{
	struct env *e = data;

	e->closed = true;
	e->c = NULL;
}

static void ready_cb(struct consensus *c, void *data, bool ready)
{
	struct env *e = data;
	uint64_t id;
	const char *addr;

	e->ready_calls++;
	if (!ready)
		return;
	assert_true(consensus_is_ready(c));
	assert_int_equal(consensus_role(c), CONSENSUS_LEADER);
	consensus_leader(c, &id, &addr);
	assert_int_equal(id, 1);
	assert_string_equal(addr, "local-1");
	if (e->on_ready != NULL)
		e->on_ready(e);
}

static void env_open(struct env *e, bool bootstrap)
{
	struct sw_err err;

	assert_int_equal(uv_loop_init(&e->loop), 0);
	e->s = store_open(e->store_dir, &err);
	assert_non_null(e->s);
	fsm_init(&e->fsm, e->s);
	assert_int_equal(consensus_transport_local_init(&e->t, &e->loop), 0);
	e->c = consensus_init(&e->loop, e->raft_dir, 1, "local-1", &e->t,
			      &e->fsm, &err);
	assert_non_null(e->c);
	assert_int_equal(consensus_set_timeouts(e->c, 100, 100, &err),
			 -SW_EINVALID);
	assert_int_equal(consensus_set_timeouts(e->c, 1000, 100, &err), 0);
	if (e->threshold != 0)
		consensus_set_snapshot(e->c, e->threshold, e->threshold / 2);
	consensus_on_ready(e->c, ready_cb, e);
	e->closed = false;
	e->n_props = e->n_done = 0;
	assert_int_equal(consensus_start(e->c, bootstrap, &err), 0);
}

/* Runs the loop until everything closed, then checks nothing leaked. */
static void env_run_and_close(struct env *e)
{
	assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
	assert_true(e->closed);
	consensus_transport_local_close(&e->t);
	fsm_close(&e->fsm);
	store_close(e->s);
	e->s = NULL;
	assert_int_equal(uv_loop_close(&e->loop), 0);
}

static struct env *env_new(void)
{
	struct env *e = calloc(1, sizeof(*e));

	strcpy(e->dir, "/tmp/swarmd-consensus-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->store_dir, sizeof(e->store_dir), "%s/store", e->dir);
	snprintf(e->raft_dir, sizeof(e->raft_dir), "%s/raft", e->dir);
	return e;
}

static void env_free(struct env *e)
{
	remove_dir(e->dir);
	free(e);
}

static void prop_cb(struct consensus_propose_req *req, int status,
		    uint64_t index, const struct sw_err *err)
{
	struct prop *p = req->data;

	p->calls++;
	p->status = status;
	p->index = index;
	p->err = *err;
	p->e->n_done++;
	if (p->e->on_done != NULL)
		p->e->on_done(p->e, p);
}

static int propose_put(struct env *e, enum change_mode mode, const char *id,
		       const char *name, struct sw_err *err)
{
	struct prop *p = &e->props[e->n_props];
	struct change c;
	int rc;

	memset(p, 0, sizeof(*p));
	p->e = e;
	p->req.data = p;
	change_init(&c, 1000 + e->n_props);
	change_put(&c, mode, OBJ_SERVICE, id, name, id, strlen(id), 0);
	rc = consensus_propose(e->c, &p->req, &c, prop_cb, err);
	change_free(&c);
	if (rc == 0)
		e->n_props++;
	return rc;
}

/* Closes once every proposal has been answered. */
static void close_when_all_done(struct env *e, struct prop *p)
{
	if (e->n_done == e->n_props)
		consensus_close(e->c, closed_cb, e);
}

static void propose_batch(struct env *e, int first, int n)
{
	struct sw_err err;
	char id[32];
	int i;

	for (i = first; i < first + n; i++) {
		snprintf(id, sizeof(id), "svc%04d", i);
		assert_int_equal(
		    propose_put(e, CHANGE_CREATE, id, id + 3, &err), 0);
	}
}

/* Proposal i of the 101-write script: 100 creates, then a name clash. */
static void propose_nth(struct env *e, int i)
{
	struct sw_err err;

	if (i < 100) {
		propose_batch(e, i, 1);
		return;
	}
	/* Name taken by svc0001, which commits first. */
	assert_int_equal(propose_put(e, CHANGE_CREATE, "dup", "0001", &err), 0);
}

static void ready_100(struct env *e)
{
	int i;

	for (i = 0; i < 101; i++)
		propose_nth(e, i);
}

/* One write at a time, so raft gets to take (and finish writing)
 * snapshots between applies. */
static void ready_100_chained(struct env *e)
{
	propose_nth(e, 0);
}

static void chain_next(struct env *e, struct prop *p)
{
	if (e->n_props < 101)
		propose_nth(e, e->n_props);
	else
		close_when_all_done(e, p);
}

static void ready_10(struct env *e)
{
	propose_batch(e, 100, 10);
}

static void check_results(struct env *e, int n_ok)
{
	uint64_t last = e->min_index;
	int i;

	for (i = 0; i < e->n_props; i++) {
		assert_int_equal(e->props[i].calls, 1);
		assert_true(e->props[i].index > last);
		last = e->props[i].index;
		if (i < n_ok) {
			assert_int_equal(e->props[i].status, 0);
			continue;
		}
		assert_int_equal(e->props[i].status, -SW_ECONFLICT);
		assert_string_equal(e->props[i].err.msg,
				    STORE_ERR_NAME_CONFLICT);
	}
	e->min_index = last;
}

static bool has_snapshot_file(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool found = false;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		found |= strncmp(de->d_name, "snapshot-", 9) == 0;
	closedir(d);
	return found;
}

static void run_restart_scenario(unsigned threshold)
{
	struct env *e = env_new();
	struct sw_err err;
	const struct store_record *r;
	uint64_t applied;

	e->threshold = threshold;
	e->on_ready = threshold ? ready_100_chained : ready_100;
	e->on_done = threshold ? chain_next : close_when_all_done;
	env_open(e, true);
	/* Not ready until the barrier commits, which needs the loop. */
	assert_int_equal(propose_put(e, CHANGE_CREATE, "early", NULL, &err),
			 -SW_EUNAVAILABLE);
	env_run_and_close(e);
	assert_int_equal(e->ready_calls, 1);
	check_results(e, 100);
	if (threshold != 0)
		assert_true(has_snapshot_file(e->raft_dir));

	/* Restart: everything is there, new writes get higher indexes. */
	e->on_ready = ready_10;
	e->on_done = close_when_all_done;
	e->ready_calls = 0;
	env_open(e, true);
	assert_int_equal(store_count(e->s, OBJ_SERVICE), 100);
	applied = store_applied_index(e->s);
	assert_int_equal(applied, e->min_index);
	r = store_get_by_name(e->s, OBJ_SERVICE, "0042");
	assert_non_null(r);
	assert_string_equal(r->id, "svc0042");
	assert_int_equal(r->created_ns, 1042);
	env_run_and_close(e);
	check_results(e, 10);
	assert_true(e->props[0].index > applied);

	/* And once more without bootstrap: the dir has state. */
	e->on_ready = NULL;
	e->on_done = NULL;
	env_open(e, false);
	assert_int_equal(store_count(e->s, OBJ_SERVICE), 110);
	assert_int_equal(store_applied_index(e->s), e->min_index);
	consensus_close(e->c, closed_cb, e);
	env_run_and_close(e);
	env_free(e);
}

static void test_single_node_restart(void **state)
{
	run_restart_scenario(0);
}

static void test_single_node_restart_snapshots(void **state)
{
	run_restart_scenario(16);
}

static void test_close_without_start(void **state)
{
	struct env *e = env_new();
	struct sw_err err;

	assert_int_equal(uv_loop_init(&e->loop), 0);
	e->s = store_open(e->store_dir, &err);
	fsm_init(&e->fsm, e->s);
	consensus_transport_local_init(&e->t, &e->loop);
	e->c = consensus_init(&e->loop, e->raft_dir, 1, "local-1", &e->t,
			      &e->fsm, &err);
	assert_non_null(e->c);
	assert_false(consensus_is_ready(e->c));
	consensus_close(e->c, closed_cb, e);
	env_run_and_close(e);
	env_free(e);
}

/* Closing from inside a proposal's callback: every other proposal still
 * gets exactly one answer. */
static void close_on_first(struct env *e, struct prop *p)
{
	struct sw_err err;

	if (e->n_done != 1)
		return;
	consensus_close(e->c, closed_cb, e);
	assert_int_equal(propose_put(e, CHANGE_UPSERT, "late", NULL, &err),
			 -SW_EUNAVAILABLE);
}

static void ready_20(struct env *e)
{
	propose_batch(e, 0, 20);
}

static void test_close_inside_callback(void **state)
{
	struct env *e = env_new();
	int i;

	e->on_ready = ready_20;
	e->on_done = close_on_first;
	env_open(e, true);
	env_run_and_close(e);
	assert_int_equal(e->n_props, 20);
	assert_int_equal(e->n_done, 20);
	for (i = 0; i < 20; i++) {
		assert_int_equal(e->props[i].calls, 1);
		assert_true(e->props[i].status == 0 ||
			    e->props[i].status == -SW_EUNAVAILABLE);
	}
	env_free(e);
}

static void change_cb(struct consensus_change_req *req, int status,
		      const struct sw_err *err)
{
	struct env *e = req->data;
	struct sw_err e2;

	e->change_status = status;
	e->change_step++;
	if (status == 0 && e->change_step == 1) {
		assert_int_equal(
		    consensus_remove(e->c, &e->change, 2, change_cb, &e2), 0);
		return;
	}
	consensus_close(e->c, closed_cb, e);
}

static void ready_membership(struct env *e)
{
	struct sw_err err;

	e->change.data = e;
	assert_int_equal(consensus_remove(e->c, &e->change, 9, change_cb, &err),
			 -SW_EINVALID);
	assert_int_equal(
	    consensus_add(e->c, &e->change, 2, "local-2", change_cb, &err), 0);
}

static void test_membership(void **state)
{
	struct env *e = env_new();

	e->on_ready = ready_membership;
	env_open(e, true);
	env_run_and_close(e);
	assert_int_equal(e->change_step, 2);
	assert_int_equal(e->change_status, 0);
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_single_node_restart),
	    cmocka_unit_test(test_single_node_restart_snapshots),
	    cmocka_unit_test(test_close_without_start),
	    cmocka_unit_test(test_close_inside_callback),
	    cmocka_unit_test(test_membership),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
