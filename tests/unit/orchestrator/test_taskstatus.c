#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "orchestrator/objects.pb-c.h"
#include "orchestrator/task.h"
#include "orchestrator/taskstatus.h"

struct packed {
	void *p;
	size_t len;
};

static struct packed pack_task(const char *node, int state, int64_t ts)
{
	Swarmd__Task t = SWARMD__TASK__INIT;
	struct packed out;

	t.node_id = (char *)node;
	t.state = state;
	t.timestamp_ns = ts;
	t.message = "assigned";
	out.len = swarmd__task__get_packed_size(&t);
	out.p = malloc(out.len + 1);
	swarmd__task__pack(&t, out.p);
	return out;
}

/* Merges the report of state by node into task (replaced on success). */
static bool merge(struct packed *task, const char *node, int state,
		  int64_t now)
{
	struct agent_report r = {.id = "t1", .state = state, .pid = 7};
	struct change c;
	void *out = NULL;
	size_t len = 0;
	bool ok;

	strcpy(r.message, "msg");
	change_init(&c, now);
	taskstatus_patch(&c, node, &r, 1);
	assert_int_equal(c.n_ops, 1);
	assert_int_equal(c.ops[0].type, CHANGE_PATCH);
	assert_string_equal(c.ops[0].id, "t1");
	ok = taskstatus_merge(task->p, task->len, c.ops[0].payload,
			      c.ops[0].payload_len, now, &out, &len);
	change_free(&c);
	if (ok) {
		free(task->p);
		task->p = out;
		task->len = len;
	}
	return ok;
}

static Swarmd__Task *unpack(const struct packed *p)
{
	return swarmd__task__unpack(NULL, p->len, p->p);
}

static void test_merge_rules(void **state)
{
	struct packed p = pack_task("n1", TASK_ASSIGNED, 100);
	Swarmd__Task *t;

	(void)state;
	/* Another node's report does not touch the task. */
	assert_false(merge(&p, "n2", TASK_PREPARING, 200));
	assert_true(merge(&p, "n1", TASK_PREPARING, 300));
	t = unpack(&p);
	assert_int_equal(t->state, TASK_PREPARING);
	assert_int_equal(t->timestamp_ns, 300);
	assert_string_equal(t->message, "msg");
	assert_int_equal(t->pid, 7);
	swarmd__task__free_unpacked(t, NULL);
	/* Older states are stale; the same state again keeps its time. */
	assert_false(merge(&p, "n1", TASK_ACCEPTED, 400));
	assert_true(merge(&p, "n1", TASK_PREPARING, 500));
	t = unpack(&p);
	assert_int_equal(t->timestamp_ns, 300);
	swarmd__task__free_unpacked(t, NULL);
	/* An end state wins over a live one, but nothing revives it. */
	assert_true(merge(&p, "n1", TASK_RUNNING, 600));
	assert_true(merge(&p, "n1", TASK_FAILED, 700));
	assert_false(merge(&p, "n1", TASK_RUNNING, 800));
	t = unpack(&p);
	assert_int_equal(t->state, TASK_FAILED);
	assert_int_equal(t->timestamp_ns, 700);
	swarmd__task__free_unpacked(t, NULL);
	/* A malformed patch or task is refused, not applied. */
	{
		void *out = NULL;
		size_t len = 0;

		assert_false(taskstatus_merge(p.p, p.len, "\xff\xff", 2, 1,
					      &out, &len));
		assert_null(out);
	}
	free(p.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
