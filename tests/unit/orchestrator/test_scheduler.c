/* The scheduler's filters and its explanation text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "orchestrator/scheduler.h"

static Swarmd__KeyValue zone = {PROTOBUF_C_MESSAGE_INIT(
					&swarmd__key_value__descriptor),
				"zone", "a"};
static Swarmd__KeyValue *labels[] = {&zone};

static void node_init(Swarmd__Node *n)
{
	swarmd__node__init(n);
	n->hostname = "vm";
	n->role = "manager";
	n->os = "linux";
	n->architecture = "x86_64";
	n->addr = "127.0.0.11";
	n->state = "ready";
	n->availability = "active";
	n->nano_cpus = 2000000000;
	n->memory_bytes = 1LL << 30;
	n->labels = labels;
	n->n_labels = 1;
}

static void test_constraints(void **state)
{
	Swarmd__Node n;

	(void)state;
	node_init(&n);
	assert_true(sched_constraint_match("node.labels.zone==a", "id1", &n));
	assert_true(sched_constraint_match(" node.labels.zone == A ", "id1",
					   &n));
	assert_false(sched_constraint_match("node.labels.zone!=a", "id1", &n));
	assert_false(sched_constraint_match("node.labels.zone==b", "id1", &n));
	/* A missing label fails == and passes !=. */
	assert_false(sched_constraint_match("node.labels.rack==1", "id1", &n));
	assert_true(sched_constraint_match("node.labels.rack!=1", "id1", &n));
	assert_true(sched_constraint_match("node.role==manager", "id1", &n));
	assert_true(sched_constraint_match("node.role!=worker", "id1", &n));
	assert_true(sched_constraint_match("node.id==id1", "id1", &n));
	assert_true(sched_constraint_match("node.hostname==vm", "id1", &n));
	assert_true(sched_constraint_match("node.platform.os==linux", "id1",
					   &n));
	assert_true(sched_constraint_match("node.platform.arch==amd64", "id1",
					   &n));
	assert_true(sched_constraint_match("node.ip==127.0.0.11", "id1", &n));
	assert_false(sched_constraint_match("garbage", "id1", &n));
}

static void test_filters_in_order(void **state)
{
	Swarmd__Node n;
	Swarmd__TaskSpec t = SWARMD__TASK_SPEC__INIT;
	struct sched_usage u = {0};
	char *cons[] = {"node.labels.zone==b"};

	(void)state;
	node_init(&n);
	assert_int_equal(sched_check("id1", &n, &t, &u), -1);
	t.reserve_memory_bytes = 2LL << 30;
	assert_int_equal(sched_check("id1", &n, &t, &u), SCHED_RESOURCES);
	t.reserve_memory_bytes = 0;
	t.constraints = cons;
	t.n_constraints = 1;
	assert_int_equal(sched_check("id1", &n, &t, &u), SCHED_CONSTRAINTS);
	t.n_constraints = 0;
	t.max_replicas = 1;
	u.service_tasks = 1;
	assert_int_equal(sched_check("id1", &n, &t, &u), SCHED_MAX_REPLICAS);
	n.availability = "drain";
	assert_int_equal(sched_check("id1", &n, &t, &u), SCHED_READY);
}

static void test_explain(void **state)
{
	size_t counts[SCHED_FILTERS] = {0};
	char out[256];

	(void)state;
	counts[SCHED_RESOURCES] = 1;
	sched_explain(counts, out, sizeof(out));
	assert_string_equal(out,
			    "no suitable node (insufficient resources on 1 "
			    "node)");
	counts[SCHED_CONSTRAINTS] = 2;
	sched_explain(counts, out, sizeof(out));
	assert_string_equal(out,
			    "no suitable node (insufficient resources on 1 "
			    "node; scheduling constraints not satisfied on 2 "
			    "nodes)");
	memset(counts, 0, sizeof(counts));
	counts[SCHED_READY] = 1;
	sched_explain(counts, out, sizeof(out));
	assert_string_equal(out, "no suitable node (1 node not available for "
				 "new tasks)");
}

static void test_platforms(void **state)
{
	Swarmd__Node n;
	Swarmd__TaskSpec t = SWARMD__TASK_SPEC__INIT;
	struct sched_usage u = {0};
	Swarmd__Platform arm = SWARMD__PLATFORM__INIT;
	Swarmd__Platform amd = SWARMD__PLATFORM__INIT;
	Swarmd__Platform *one[] = {&arm}, *two[] = {&arm, &amd};
	size_t counts[SCHED_FILTERS] = {0};
	char out[256];

	(void)state;
	node_init(&n);
	arm.os = "linux";
	arm.architecture = "arm64";
	t.platforms = one;
	t.n_platforms = 1;
	assert_int_equal(sched_check("id1", &n, &t, &u), SCHED_PLATFORM);
	/* Any listed platform will do; x86_64 is amd64; "" matches all. */
	amd.os = "";
	amd.architecture = "amd64";
	t.platforms = two;
	t.n_platforms = 2;
	assert_int_equal(sched_check("id1", &n, &t, &u), -1);
	arm.architecture = "";
	arm.os = "windows";
	t.n_platforms = 1;
	assert_int_equal(sched_check("id1", &n, &t, &u), SCHED_PLATFORM);
	counts[SCHED_PLATFORM] = 1;
	sched_explain(counts, out, sizeof(out));
	assert_string_equal(out,
			    "no suitable node (unsupported platform on 1 node)");
}

static Swarmd__KeyValue zb = {PROTOBUF_C_MESSAGE_INIT(
				      &swarmd__key_value__descriptor),
			      "zone", "b"};
static Swarmd__KeyValue *labels_b[] = {&zb};

/* Six candidate nodes: zone a (2 nodes), zone b (1), no zone (3). */
static void spread_nodes(Swarmd__Node n[6], struct sched_candidate c[6])
{
	static const char *ids[] = {"a1", "a2", "b1", "x1", "x2", "x3"};

	for (int i = 0; i < 6; i++) {
		node_init(&n[i]);
		n[i].labels = i < 2 ? labels : labels_b;
		n[i].n_labels = i < 3 ? 1 : 0;
		c[i] = (struct sched_candidate){ids[i], &n[i], 0, 0, 0,
						(size_t)i};
	}
}

/* Places k tasks one at a time, as the reconciler does; returns how many
 * went to each candidate in placed[]. */
static void place(struct sched_candidate *c, size_t n, char **spread,
		  size_t n_spread, int k, int *placed)
{
	memset(placed, 0, sizeof(int) * n);
	for (int i = 0; i < k; i++) {
		int at = sched_pick(c, n, spread, n_spread);

		assert_true(at >= 0);
		placed[at]++;
		c[at].service_tasks++;
		c[at].all_tasks++;
	}
}

static void test_spread_over_label_values(void **state)
{
	Swarmd__Node n[6];
	struct sched_candidate c[6];
	char *by_zone[] = {"node.labels.zone"};
	int placed[6];

	(void)state;
	spread_nodes(n, c);
	/* 9 tasks over three groups (a, b, and the nodes without a zone):
	 * 3 each, whatever the group's size. */
	place(c, 6, by_zone, 1, 9, placed);
	assert_int_equal(placed[0] + placed[1], 3);
	assert_int_equal(placed[2], 3);
	assert_int_equal(placed[3] + placed[4] + placed[5], 3);
	/* Within a group the least loaded node wins. */
	assert_int_equal(placed[3], 1);
	assert_int_equal(placed[4], 1);
	/* Without preferences: fewest tasks of the service per node. */
	spread_nodes(n, c);
	place(c, 6, NULL, 0, 6, placed);
	for (int i = 0; i < 6; i++)
		assert_int_equal(placed[i], 1);
	/* Tasks already running count: zone b already has 3. */
	spread_nodes(n, c);
	c[2].service_tasks = 3;
	place(c, 6, by_zone, 1, 4, placed);
	assert_int_equal(placed[2], 0);
	assert_int_equal(placed[0] + placed[1], 2);
	assert_int_equal(sched_pick(c, 0, by_zone, 1), -1);
}

static void test_failing_nodes_last(void **state)
{
	Swarmd__Node n[6];
	struct sched_candidate c[6];

	(void)state;
	spread_nodes(n, c);
	/* a1 is idle but failed 5 times lately: a busier node wins. */
	for (int i = 1; i < 6; i++)
		c[i].service_tasks = 4;
	c[0].recent_failures = SCHED_MAX_FAILURES;
	assert_int_not_equal(sched_pick(c, 6, NULL, 0), 0);
	/* Below the threshold failures do not matter. */
	c[0].recent_failures = SCHED_MAX_FAILURES - 1;
	assert_int_equal(sched_pick(c, 6, NULL, 0), 0);
	/* Among failing nodes, the fewer failures first. */
	for (int i = 0; i < 6; i++)
		c[i].recent_failures = 9 - (uint64_t)i;
	assert_int_equal(sched_pick(c, 6, NULL, 0), 5);
}

/* The heap hands out nodes in the order sched_pick chooses them, one task
 * after another, ties included. */
static void test_heap_places_as_pick(void **state)
{
	Swarmd__Node n[6];
	struct sched_candidate c[6], top;
	struct sched_heap h;

	(void)state;
	spread_nodes(n, c);
	c[0].service_tasks = 2;
	c[1].all_tasks = 5;
	c[3].recent_failures = SCHED_MAX_FAILURES;
	c[4].service_tasks = 1;
	sched_heap_init(&h, 2); /* grows past its first size */
	for (int i = 5; i >= 0; i--)
		sched_heap_push(&h, &c[i]);
	for (int k = 0; k < 40; k++) {
		int want = sched_pick(c, 6, NULL, 0);

		assert_true(sched_heap_pop(&h, &top));
		assert_int_equal(top.index, want);
		c[want].service_tasks++;
		c[want].all_tasks++;
		sched_heap_push(&h, &c[want]);
	}
	/* Each node ends within one task of the others (bar the failing). */
	for (int i = 0; i < 6; i++)
		if (i != 3)
			assert_true(c[i].service_tasks >= 8 &&
				    c[i].service_tasks <= 10);
	assert_int_equal(c[3].service_tasks, 0);
	for (int i = 0; i < 6; i++)
		assert_true(sched_heap_pop(&h, &top));
	assert_false(sched_heap_pop(&h, &top));
	sched_heap_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heap_places_as_pick),
		cmocka_unit_test(test_constraints),
		cmocka_unit_test(test_filters_in_order),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_platforms),
		cmocka_unit_test(test_spread_over_label_values),
		cmocka_unit_test(test_failing_nodes_last),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
