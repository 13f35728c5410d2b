/* The sim executor through executor.h: the lifecycle, the one-call rule,
 * callbacks only from the loop, rejection, list, and close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "orchestrator/executor_sim.h"

struct call {
	struct exec_req req;
	int fired;
	int status;
	struct exec_status st;
	size_t n_found;
	char found_id[EXEC_ID_MAX];
};

static void on_done(struct exec_req *req, int status)
{
	struct call *c = req->data;

	c->fired++;
	c->status = status;
	c->st = req->status;
	c->n_found = req->n_found;
	if (req->n_found > 0)
		strcpy(c->found_id, req->found[0].task_id);
}

static void on_closed(void *data)
{
	(*(int *)data)++;
}

struct fix {
	uv_loop_t loop;
	struct executor *ex;
};

static struct exec_task task_of(const char *id, const char *image)
{
	struct exec_task t = {
	    .task_id = id,
	    .service_id = "svc1",
	    .service_name = "web",
	    .node_id = "node1",
	    .slot = 1,
	    .image = image,
	};

	return t;
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct exec_sim_config cfg = {.start_ms = 5};
	struct sw_err err;

	uv_loop_init(&f->loop);
	f->ex = executor_sim_new(&f->loop, &cfg, &err);
	assert_non_null(f->ex);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	int closed = 0;

	if (f->ex != NULL) {
		executor_close(f->ex, on_closed, &closed);
		uv_run(&f->loop, UV_RUN_DEFAULT);
		assert_int_equal(closed, 1);
	}
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
	return 0;
}

static void run_prepare(struct fix *f, struct call *c, const char *id,
			const char *image)
{
	struct exec_task t = task_of(id, image);
	struct sw_err err;

	memset(c, 0, sizeof(*c));
	c->req.data = c;
	assert_int_equal(executor_prepare(f->ex, &c->req, &t, on_done, &err),
			 0);
	assert_int_equal(c->fired, 0); /* never inside the call */
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(c->fired, 1);
}

static void test_lifecycle(void **state)
{
	struct fix *f = *state;
	struct call c;
	struct sw_err err;

	run_prepare(f, &c, "t1", "busybox");
	assert_int_equal(c.status, 0);
	assert_int_equal(c.st.state, EXEC_READY);
	assert_string_equal(c.st.container_id, "sim-t1");

	memset(&c, 0, sizeof(c));
	c.req.data = &c;
	assert_int_equal(executor_start(f->ex, &c.req, "t1", on_done, &err), 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(c.st.state, EXEC_RUNNING);
	assert_true(c.st.pid > 0);

	memset(&c, 0, sizeof(c));
	c.req.data = &c;
	assert_int_equal(executor_stop(f->ex, &c.req, "t1", -1, false, on_done, &err),
			 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(c.st.state, EXEC_COMPLETE);
	assert_int_equal(c.st.exit_code, 0);

	memset(&c, 0, sizeof(c));
	c.req.data = &c;
	assert_int_equal(executor_remove(f->ex, &c.req, "t1", on_done, &err),
			 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(c.status, 0);
	assert_int_equal(executor_sim_count(f->ex), 0);

	memset(&c, 0, sizeof(c));
	c.req.data = &c;
	assert_int_equal(executor_status(f->ex, &c.req, "t1", on_done, &err),
			 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(c.status, -SW_ENOTFOUND);
}

static void test_one_call_per_task(void **state)
{
	struct fix *f = *state;
	struct call c, c2;
	struct sw_err err;

	run_prepare(f, &c, "t1", "busybox");
	memset(&c, 0, sizeof(c));
	memset(&c2, 0, sizeof(c2));
	c.req.data = &c;
	c2.req.data = &c2;
	assert_int_equal(executor_start(f->ex, &c.req, "t1", on_done, &err), 0);
	assert_int_equal(executor_stop(f->ex, &c2.req, "t1", -1, false, on_done, &err),
			 -SW_ECONFLICT);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(c.fired, 1);
	assert_int_equal(c2.fired, 0);
}

static void test_reject_and_invalid(void **state)
{
	struct fix *f = *state;
	struct exec_task t = task_of("t2", "");
	struct call c;
	struct sw_err err;

	memset(&c, 0, sizeof(c));
	assert_int_equal(executor_prepare(f->ex, &c.req, &t, on_done, &err),
			 -SW_EINVALID);
	run_prepare(f, &c, "t2", "nosuch:latest");
	assert_int_equal(c.status, 0);
	assert_int_equal(c.st.state, EXEC_REJECTED);
	assert_string_equal(c.st.err, "No such image: nosuch:latest");
	assert_int_equal(executor_sim_count(f->ex), 0);
}

static void test_list_and_adopt(void **state)
{
	struct fix *f = *state;
	struct call c;
	struct sw_err err;

	run_prepare(f, &c, "t3", "busybox");
	run_prepare(f, &c, "t3", "busybox"); /* adopts, no duplicate */
	assert_int_equal(c.st.state, EXEC_READY);
	memset(&c, 0, sizeof(c));
	c.req.data = &c;
	assert_int_equal(executor_list(f->ex, &c.req, on_done, &err), 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(c.n_found, 1);
	assert_string_equal(c.found_id, "t3");
	assert_null(c.req.found); /* freed after the callback */
}

static void test_many_tasks(void **state)
{
	struct fix *f = *state;
	struct call c;
	char id[32];

	for (int i = 0; i < 300; i++) { /* past a few table doublings */
		snprintf(id, sizeof(id), "task%d", i);
		run_prepare(f, &c, id, "busybox");
	}
	assert_int_equal(executor_sim_count(f->ex), 300);
}

static void test_close_cancels_calls(void **state)
{
	struct fix *f = *state;
	struct call c;
	struct sw_err err;
	int closed = 0;

	run_prepare(f, &c, "t4", "busybox");
	memset(&c, 0, sizeof(c));
	c.req.data = &c;
	assert_int_equal(executor_start(f->ex, &c.req, "t4", on_done, &err), 0);
	executor_close(f->ex, on_closed, &closed);
	f->ex = NULL;
	assert_int_equal(closed, 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(c.fired, 1);
	assert_int_equal(c.status, -SW_EUNAVAILABLE);
	assert_int_equal(closed, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_one_call_per_task, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_reject_and_invalid, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_list_and_adopt, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_many_tasks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_close_cancels_calls, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
