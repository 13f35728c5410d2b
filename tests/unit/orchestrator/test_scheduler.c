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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_constraints),
		cmocka_unit_test(test_filters_in_order),
		cmocka_unit_test(test_explain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
