/* The reconciler's task index against a recount from the store: random
 * task writes (creates, moves, state changes, deletes) through a real
 * store, and after each one the index's service sets, node task sets and
 * node loads must equal what a walk over every stored task gives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/orchestrator/tmpdir.h"
#include "lib/strmap.h"
#include "orchestrator/change.h"
#include "orchestrator/services.h"
#include "orchestrator/store.h"
#include "orchestrator/task.h"
#include "orchestrator/taskindex.h"

enum { N_IDS = 40, N_OPS = 600 };

static const char *const NODES[] = {"", "node1", "node2", "node3"};
static const char *const SERVICES[] = {"svc1", "svc2", "svc3"};
static const int STATES[] = {TASK_NEW,     TASK_PENDING,  TASK_ASSIGNED,
			     TASK_RUNNING, TASK_COMPLETE, TASK_SHUTDOWN,
			     TASK_FAILED};

struct fixture {
	char dir[64];
	struct store *s;
	struct store_watcher w;
	struct taskindex *ix;
	uint64_t index;
	bool exists[N_IDS];
	int svc_of[N_IDS];
};

static void on_event(struct store_watcher *w, uint64_t index, bool reset,
		     const struct store_event *evs, size_t n)
{
	struct fixture *f = w->data;

	(void)index;
	if (reset)
		taskindex_rebuild(f->ix, f->s);
	for (size_t i = 0; i < n; i++)
		taskindex_apply(f->ix, &evs[i]);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct sw_err err;

	strcpy(f->dir, "/tmp/swarmd-taskindex-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->s = store_open(f->dir, &err);
	assert_non_null(f->s);
	f->ix = taskindex_new();
	f->w.data = f;
	store_watch(f->s, &f->w, on_event);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	store_unwatch(f->s, &f->w);
	taskindex_free(f->ix);
	store_close(f->s);
	remove_dir(f->dir);
	free(f);
	return 0;
}

static void task_id(int i, char *out)
{
	snprintf(out, 32, "task%02d", i);
}

static void apply(struct fixture *f, struct change *c)
{
	struct sw_err outcome, err;

	assert_int_equal(store_apply(f->s, c, ++f->index, &outcome, &err), 0);
	assert_int_equal(outcome.kind, 0);
	change_free(c);
}

/* Writes task i of service svc: its spec reserves by i, and every third
 * one publishes a host port (two of them the same port). */
static void put_task(struct fixture *f, int i, int svc, const char *node,
		     int desired, int state)
{
	Swarmd__Task t = SWARMD__TASK__INIT;
	Swarmd__TaskSpec spec = SWARMD__TASK_SPEC__INIT;
	Swarmd__Port port = SWARMD__PORT__INIT;
	Swarmd__Port *ports[] = {&port};
	struct change c;
	char id[32];
	size_t len;
	uint8_t *buf;

	spec.reserve_nano_cpus = 1000 * i;
	spec.reserve_memory_bytes = 1 << (i % 20);
	port.published = 8000 + i % 2;
	port.mode = (char *)"host";
	if (i % 3 == 0) {
		spec.ports = ports;
		spec.n_ports = 1;
	}
	t.service_id = (char *)SERVICES[svc];
	t.node_id = (char *)node;
	t.desired_state = desired;
	t.state = state;
	t.spec = &spec;
	len = protobuf_c_message_get_packed_size(&t.base);
	buf = malloc(len + 1);
	protobuf_c_message_pack(&t.base, buf);
	task_id(i, id);
	change_init(&c, (int64_t)f->index);
	change_put(&c, CHANGE_UPSERT, OBJ_TASK, id, NULL, buf, len, 0);
	free(buf);
	apply(f, &c);
	f->exists[i] = true;
	f->svc_of[i] = svc;
}

static void delete_task(struct fixture *f, int i)
{
	struct change c;
	char id[32];

	task_id(i, id);
	change_init(&c, (int64_t)f->index);
	change_delete(&c, CHANGE_UPSERT, OBJ_TASK, id, 0);
	apply(f, &c);
	f->exists[i] = false;
}

static int cmp_port(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* node's load as a walk over every stored task counts it. */
static void recount(const struct store *s, const char *node,
		    struct node_load *out)
{
	memset(out, 0, sizeof(*out));
	for (const struct store_record *r = store_first(s, OBJ_TASK);
	     r != NULL; r = store_next(r)) {
		Swarmd__Task *t = tasks_unpack(r);
		struct node_load share = {0};

		assert_non_null(t);
		if (t->desired_state <= TASK_RUNNING &&
		    !task_state_terminal(t->state) && t->node_id[0] != '\0' &&
		    strcmp(t->node_id, node) == 0) {
			node_load_of_task(t, &share);
			node_load_add(out, &share);
			free(share.ports);
		}
		swarmd__task__free_unpacked(t, NULL);
	}
}

static void check_loads(const struct taskindex *ix, const struct store *s)
{
	for (size_t k = 1; k < sizeof(NODES) / sizeof(*NODES); k++) {
		const struct node_load *got = taskindex_load(ix, NODES[k]);
		struct node_load want;

		recount(s, NODES[k], &want);
		if (want.tasks == 0) {
			assert_null(got);
			continue;
		}
		assert_non_null(got);
		assert_int_equal(got->tasks, want.tasks);
		assert_int_equal(got->nano_cpus, want.nano_cpus);
		assert_int_equal(got->memory_bytes, want.memory_bytes);
		assert_int_equal(got->n_ports, want.n_ports);
		if (want.n_ports > 0) {
			uint32_t *ports = malloc(got->n_ports * sizeof(*ports));

			memcpy(ports, got->ports, got->n_ports * sizeof(*ports));
			qsort(ports, got->n_ports, sizeof(*ports), cmp_port);
			qsort(want.ports, want.n_ports, sizeof(*want.ports),
			      cmp_port);
			assert_memory_equal(ports, want.ports,
					    want.n_ports * sizeof(*ports));
			free(ports);
		}
		free(want.ports);
	}
	assert_null(taskindex_load(ix, ""));
}

static void check_services(const struct fixture *f,
			   const struct taskindex *ix)
{
	for (int svc = 0; svc < 3; svc++) {
		const struct strmap *ids = taskindex_tasks_of(ix, SERVICES[svc]);
		size_t n = 0;

		for (int i = 0; i < N_IDS; i++) {
			char id[32];

			if (!f->exists[i] || f->svc_of[i] != svc)
				continue;
			task_id(i, id);
			assert_non_null(ids);
			assert_non_null(strmap_find(ids, id));
			n++;
		}
		if (n == 0)
			assert_null(ids);
		else
			assert_int_equal(strmap_count(ids), n);
	}
}

/* Each node holds the tasks given to it, whatever their state, and each
 * task knows its service. */
static void check_placed(const struct fixture *f, const struct taskindex *ix)
{
	for (size_t k = 1; k < sizeof(NODES) / sizeof(*NODES); k++) {
		const struct strmap *on = taskindex_tasks_on(ix, NODES[k]);
		size_t n = 0;

		for (const struct store_record *r = store_first(f->s, OBJ_TASK);
		     r != NULL; r = store_next(r)) {
			struct task_peek pk;

			assert_true(tasks_peek(r, &pk));
			if (pk.node_len != strlen(NODES[k]) ||
			    memcmp(pk.node, NODES[k], pk.node_len) != 0)
				continue;
			assert_non_null(on);
			assert_non_null(strmap_find(on, r->id));
			n++;
		}
		if (n == 0)
			assert_null(on);
		else
			assert_int_equal(strmap_count(on), n);
	}
	assert_null(taskindex_tasks_on(ix, ""));
	for (int i = 0; i < N_IDS; i++) {
		const char *svc;
		char id[32];

		task_id(i, id);
		svc = taskindex_service_of(ix, id);
		if (!f->exists[i])
			assert_null(svc);
		else
			assert_string_equal(svc, SERVICES[f->svc_of[i]]);
	}
}

/* The shares a task reports add up to its node's load. */
static void check_shares(const struct fixture *f, const struct taskindex *ix)
{
	uint64_t tasks[4] = {0};

	for (int i = 0; i < N_IDS; i++) {
		const struct node_load *share;
		const char *node;
		char id[32];

		task_id(i, id);
		if (!taskindex_share(ix, id, &node, &share))
			continue;
		assert_true(f->exists[i]);
		for (size_t k = 1; k < 4; k++)
			if (strcmp(node, NODES[k]) == 0)
				tasks[k] += share->tasks;
	}
	for (size_t k = 1; k < 4; k++) {
		const struct node_load *l = taskindex_load(ix, NODES[k]);

		assert_int_equal(tasks[k], l != NULL ? l->tasks : 0);
	}
}

static void test_index_follows_random_writes(void **state)
{
	struct fixture *f = *state;
	unsigned seed = 7;
	/* A pass holds this address for node1 across writes. */
	const struct node_load *slot = taskindex_load_slot(f->ix, "node1");

	for (int op = 0; op < N_OPS; op++) {
		const struct node_load *l;

		int i = rand_r(&seed) % N_IDS;
		int what = rand_r(&seed) % 10;

		if (f->exists[i] && what < 2)
			delete_task(f, i);
		else
			/* A task keeps its service (and spec) for life. */
			put_task(f, i,
				 f->exists[i] ? f->svc_of[i]
					      : rand_r(&seed) % 3,
				 NODES[rand_r(&seed) % 4],
				 STATES[rand_r(&seed) % 7],
				 STATES[rand_r(&seed) % 7]);
		check_loads(f->ix, f->s);
		check_services(f, f->ix);
		check_shares(f, f->ix);
		check_placed(f, f->ix);
		l = taskindex_load(f->ix, "node1");
		if (l != NULL)
			assert_ptr_equal(l, slot);
		else
			assert_int_equal(slot->tasks, 0);
	}
}

static void test_rebuild_equals_following(void **state)
{
	struct fixture *f = *state;
	struct taskindex *fresh = taskindex_new();
	unsigned seed = 11;

	for (int op = 0; op < 200; op++) {
		int i = rand_r(&seed) % N_IDS;

		put_task(f, i, f->exists[i] ? f->svc_of[i] : i % 3,
			 NODES[1 + i % 3], TASK_RUNNING,
			 STATES[rand_r(&seed) % 7]);
	}
	for (int i = 0; i < N_IDS; i += 4)
		if (f->exists[i])
			delete_task(f, i);
	taskindex_rebuild(fresh, f->s);
	check_loads(fresh, f->s);
	check_services(f, fresh);
	check_shares(f, fresh);
	check_placed(f, fresh);
	/* Rebuilding twice starts over. */
	taskindex_rebuild(fresh, f->s);
	check_loads(fresh, f->s);
	taskindex_free(fresh);
}

static void test_peek_reads_the_service(void **state)
{
	struct fixture *f = *state;
	struct task_peek pk;

	put_task(f, 5, 2, "node2", TASK_RUNNING, TASK_ASSIGNED);
	assert_true(tasks_peek(store_get(f->s, OBJ_TASK, "task05"), &pk));
	assert_int_equal(pk.service_len, strlen("svc3"));
	assert_memory_equal(pk.service, "svc3", pk.service_len);
	assert_int_equal(pk.node_len, strlen("node2"));
	assert_int_equal(pk.state, TASK_ASSIGNED);
	assert_int_equal(pk.desired_state, TASK_RUNNING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_index_follows_random_writes,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rebuild_equals_following,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_peek_reads_the_service, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
