#include "orchestrator/executor_sim.h"

#include <stdio.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/strmap.h"
#include "lib/timefmt.h"

/* One simulated container. */
struct sim_task {
	struct sim_task *next; /* hash chain */
	char id[EXEC_ID_MAX];
	char service_id[EXEC_ID_MAX];
	char node_id[EXEC_ID_MAX];
	struct exec_status st;
	bool busy; /* a call is in flight (the one-call rule) */
};

enum sim_kind {
	SIM_PREPARE = 1,
	SIM_START,
	SIM_STOP,
	SIM_REMOVE,
	SIM_STATUS,
	SIM_LIST,
};

/* One call in flight: a timer that finishes it. Owned by the executor from
 * the call until the timer's close callback. */
struct sim_op {
	struct sim_op *next, *prev;
	struct exec_sim *ex;
	struct exec_req *req;
	exec_cb cb;
	enum sim_kind kind;
	char task_id[EXEC_ID_MAX];
	struct exec_task_copy {
		char service_id[EXEC_ID_MAX];
		char node_id[EXEC_ID_MAX];
		bool reject;
		char image[128];
	} spec; /* prepare only */
	uv_timer_t timer;
};

struct exec_sim {
	struct executor base;
	uv_loop_t *loop;
	struct exec_sim_config cfg;
	struct sim_task **buckets;
	size_t n_buckets, n_tasks;
	struct sim_op *ops; /* in flight, for close */
	size_t n_handles;   /* op timers not yet closed */
	bool closing;
	exec_close_cb close_cb;
	void *close_data;
	uv_timer_t close_timer;
	int next_pid;
};

static struct exec_sim *sim_of(struct executor *ex)
{
	return (struct exec_sim *)ex;
}

/* ---- the table --------------------------------------------------------- */

static struct sim_task **slot_of(struct exec_sim *s, const char *id)
{
	struct sim_task **p = &s->buckets[strmap_hash(id) & (s->n_buckets - 1)];

	while (*p != NULL && strcmp((*p)->id, id) != 0)
		p = &(*p)->next;
	return p;
}

static struct sim_task *find(struct exec_sim *s, const char *id)
{
	return *slot_of(s, id);
}

/* Doubles the table when it is full, so lookups stay O(1) with 100k
 * tasks on one simulated node. */
static void grow(struct exec_sim *s)
{
	size_t n = s->n_buckets * 2;
	struct sim_task **b = xcalloc(n, sizeof(*b));

	for (size_t i = 0; i < s->n_buckets; i++) {
		for (struct sim_task *t = s->buckets[i], *next; t; t = next) {
			size_t h = strmap_hash(t->id) & (n - 1);

			next = t->next;
			t->next = b[h];
			b[h] = t;
		}
	}
	free(s->buckets);
	s->buckets = b;
	s->n_buckets = n;
}

static struct sim_task *insert(struct exec_sim *s, const char *id)
{
	struct sim_task *t = xcalloc(1, sizeof(*t));
	struct sim_task **p;

	if (s->n_tasks >= s->n_buckets)
		grow(s);
	p = &s->buckets[strmap_hash(id) & (s->n_buckets - 1)];
	snprintf(t->id, sizeof(t->id), "%s", id);
	t->next = *p;
	*p = t;
	s->n_tasks++;
	return t;
}

static void drop(struct exec_sim *s, const char *id)
{
	struct sim_task **p = slot_of(s, id);
	struct sim_task *t = *p;

	if (t == NULL)
		return;
	*p = t->next;
	free(t);
	s->n_tasks--;
}

/* ---- finishing calls --------------------------------------------------- */

static void maybe_closed(struct exec_sim *s);

static void on_op_closed(uv_handle_t *h)
{
	struct sim_op *op = h->data;
	struct exec_sim *s = op->ex;

	free(op);
	s->n_handles--;
	maybe_closed(s);
}

static void apply_prepare(struct exec_sim *s, struct sim_op *op,
			  struct sim_task *t)
{
	if (t == NULL && op->spec.reject) {
		op->req->status.state = EXEC_REJECTED;
		snprintf(op->req->status.err, sizeof(op->req->status.err),
			 "No such image: %s", op->spec.image);
		return;
	}
	if (t == NULL) {
		t = insert(s, op->task_id);
		snprintf(t->service_id, sizeof(t->service_id), "%s",
			 op->spec.service_id);
		snprintf(t->node_id, sizeof(t->node_id), "%s",
			 op->spec.node_id);
		t->st.state = EXEC_READY;
		t->st.created_at = timefmt_now_ns();
		snprintf(t->st.container_id, sizeof(t->st.container_id),
			 "sim-%.64s", op->task_id);
		snprintf(t->st.message, sizeof(t->st.message), "created");
	}
	op->req->status = t->st;
}

static void apply_start(struct exec_sim *s, struct sim_task *t)
{
	if (t->st.state == EXEC_READY) {
		t->st.state = EXEC_RUNNING;
		t->st.started_at = timefmt_now_ns();
		t->st.pid = ++s->next_pid;
		snprintf(t->st.message, sizeof(t->st.message), "started");
	}
}

static void apply_stop(struct sim_task *t)
{
	if (t->st.state >= EXEC_COMPLETE)
		return;
	t->st.state = t->st.started_at != 0 ? EXEC_COMPLETE : EXEC_SHUTDOWN;
	t->st.finished_at = timefmt_now_ns();
	t->st.pid = 0;
	t->st.exit_code = 0;
	snprintf(t->st.message, sizeof(t->st.message), "%s",
		 t->st.state == EXEC_COMPLETE ? "finished" : "shutdown");
}

static void apply_list(struct exec_sim *s, struct exec_req *req)
{
	size_t n = 0;

	req->found = xcalloc(s->n_tasks + 1, sizeof(*req->found));
	for (size_t i = 0; i < s->n_buckets; i++) {
		for (struct sim_task *t = s->buckets[i]; t; t = t->next) {
			struct exec_found *f = &req->found[n++];

			snprintf(f->task_id, sizeof(f->task_id), "%s", t->id);
			snprintf(f->service_id, sizeof(f->service_id), "%s",
				 t->service_id);
			snprintf(f->node_id, sizeof(f->node_id), "%s",
				 t->node_id);
			f->status = t->st;
		}
	}
	req->n_found = n;
}

/* Does the call's work on the table; returns the callback status. */
static int apply(struct exec_sim *s, struct sim_op *op)
{
	struct sim_task *t = find(s, op->task_id);

	if (t != NULL)
		t->busy = false;
	switch (op->kind) {
	case SIM_PREPARE:
		apply_prepare(s, op, t);
		return 0;
	case SIM_LIST:
		apply_list(s, op->req);
		return 0;
	case SIM_REMOVE:
		drop(s, op->task_id);
		return 0;
	case SIM_START:
	case SIM_STOP:
	case SIM_STATUS:
		break;
	}
	if (t == NULL)
		return sw_err_set(&op->req->err, SW_ENOTFOUND,
				  "No such container: %s", op->task_id);
	if (op->kind == SIM_START)
		apply_start(s, t);
	else if (op->kind == SIM_STOP)
		apply_stop(t);
	op->req->status = t->st;
	return 0;
}

static void unlink_op(struct exec_sim *s, struct sim_op *op)
{
	if (op->prev != NULL)
		op->prev->next = op->next;
	else
		s->ops = op->next;
	if (op->next != NULL)
		op->next->prev = op->prev;
}

static void on_op_timer(uv_timer_t *h)
{
	struct sim_op *op = h->data;
	struct exec_sim *s = op->ex;
	struct exec_req *req = op->req;
	int status;

	unlink_op(s, op);
	if (s->closing) {
		struct sim_task *t = find(s, op->task_id);

		if (t != NULL)
			t->busy = false;
		status = sw_err_set(&req->err, SW_EUNAVAILABLE,
				    "executor is closing");
	} else {
		status = apply(s, op);
	}
	uv_close((uv_handle_t *)&op->timer, on_op_closed);
	op->cb(req, status);
	if (op->kind == SIM_LIST) {
		free(req->found);
		req->found = NULL;
		req->n_found = 0;
	}
}

/* Queues a call to finish after ms. Refuses a second call on a busy task
 * and any call while closing. */
static int submit(struct exec_sim *s, struct exec_req *req, enum sim_kind kind,
		  const char *task_id, unsigned ms, exec_cb cb,
		  struct sim_op **out, struct sw_err *err)
{
	struct sim_task *t = task_id ? find(s, task_id) : NULL;
	struct sim_op *op;

	if (s->closing)
		return sw_err_set(err, SW_EUNAVAILABLE, "executor is closing");
	if (task_id != NULL && (task_id[0] == '\0' ||
				strlen(task_id) >= EXEC_ID_MAX))
		return sw_err_set(err, SW_EINVALID, "bad task ID");
	if (t != NULL && t->busy)
		return sw_err_set(err, SW_ECONFLICT,
				  "a call on task %s is in flight", task_id);
	op = xcalloc(1, sizeof(*op));
	op->ex = s;
	op->req = req;
	op->cb = cb;
	op->kind = kind;
	snprintf(op->task_id, sizeof(op->task_id), "%s", task_id ? task_id : "");
	if (t != NULL)
		t->busy = true;
	memset(&req->status, 0, sizeof(req->status));
	req->priv = op;
	uv_timer_init(s->loop, &op->timer);
	op->timer.data = op;
	s->n_handles++;
	op->next = s->ops;
	if (s->ops != NULL)
		s->ops->prev = op;
	s->ops = op;
	uv_timer_start(&op->timer, on_op_timer, ms, 0);
	if (out != NULL)
		*out = op;
	return 0;
}

/* ---- the operations ---------------------------------------------------- */

static int sim_prepare(struct executor *ex, struct exec_req *req,
		       const struct exec_task *task, exec_cb cb,
		       struct sw_err *err)
{
	struct exec_sim *s = sim_of(ex);
	struct sim_op *op;

	if (task->task_id == NULL || task->image == NULL ||
	    task->image[0] == '\0' || task->service_name == NULL ||
	    task->service_name[0] == '\0' ||
	    (task->slot == 0 && (task->node_id == NULL ||
				 task->node_id[0] == '\0')))
		return sw_err_set(err, SW_EINVALID,
				  "a task needs an ID, an image, a service "
				  "name and a slot or node ID");
	if (submit(s, req, SIM_PREPARE, task->task_id, s->cfg.prepare_ms, cb,
		   &op, err) != 0)
		return -(int)err->kind;
	snprintf(op->spec.service_id, sizeof(op->spec.service_id), "%s",
		 task->service_id ? task->service_id : "");
	snprintf(op->spec.node_id, sizeof(op->spec.node_id), "%s",
		 task->node_id ? task->node_id : "");
	snprintf(op->spec.image, sizeof(op->spec.image), "%s", task->image);
	op->spec.reject = strncmp(task->image, "nosuch", 6) == 0;
	return 0;
}

static int sim_start(struct executor *ex, struct exec_req *req,
		     const char *task_id, exec_cb cb, struct sw_err *err)
{
	struct exec_sim *s = sim_of(ex);

	return submit(s, req, SIM_START, task_id, s->cfg.start_ms, cb, NULL,
		      err);
}

static int sim_stop(struct executor *ex, struct exec_req *req,
		    const char *task_id, int64_t grace_ns, bool removing,
		    exec_cb cb, struct sw_err *err)
{
	struct exec_sim *s = sim_of(ex);

	return submit(s, req, SIM_STOP, task_id, s->cfg.stop_ms, cb, NULL,
		      err);
}

static int sim_remove(struct executor *ex, struct exec_req *req,
		      const char *task_id, exec_cb cb, struct sw_err *err)
{
	struct exec_sim *s = sim_of(ex);

	return submit(s, req, SIM_REMOVE, task_id, s->cfg.stop_ms, cb, NULL,
		      err);
}

static int sim_status(struct executor *ex, struct exec_req *req,
		      const char *task_id, exec_cb cb, struct sw_err *err)
{
	return submit(sim_of(ex), req, SIM_STATUS, task_id, 0, cb, NULL, err);
}

static int sim_list(struct executor *ex, struct exec_req *req, exec_cb cb,
		    struct sw_err *err)
{
	return submit(sim_of(ex), req, SIM_LIST, NULL, 0, cb, NULL, err);
}

static int sim_logs(struct executor *ex, const char *task_id,
		    const struct exec_log_query *q, struct exec_logs *out,
		    struct sw_err *err)
{
	/* Runs on a work thread: it must not read the table, which the loop
	 * changes. A simulated task writes nothing, so every log is empty. */
	memset(out, 0, sizeof(*out));
	out->next_offset = q->offset;
	return 0;
}

/* ---- closing ----------------------------------------------------------- */

static void free_tasks(struct exec_sim *s)
{
	for (size_t i = 0; i < s->n_buckets; i++) {
		for (struct sim_task *t = s->buckets[i], *next; t; t = next) {
			next = t->next;
			free(t);
		}
	}
	free(s->buckets);
	s->buckets = NULL;
}

static void on_close_timer_closed(uv_handle_t *h)
{
	struct exec_sim *s = h->data;
	exec_close_cb cb = s->close_cb;
	void *data = s->close_data;

	free_tasks(s);
	free(s);
	if (cb != NULL)
		cb(data);
}

/* Once every op's timer is closed the executor itself goes, from the
 * loop, so the close callback never runs inside executor_close. */
static void maybe_closed(struct exec_sim *s)
{
	if (!s->closing || s->n_handles > 0 ||
	    uv_is_closing((uv_handle_t *)&s->close_timer))
		return;
	uv_close((uv_handle_t *)&s->close_timer, on_close_timer_closed);
}

static void sim_close(struct executor *ex, exec_close_cb cb, void *data)
{
	struct exec_sim *s = sim_of(ex);

	s->closing = true;
	s->close_cb = cb;
	s->close_data = data;
	/* Calls in flight finish now, with UNAVAILABLE. */
	for (struct sim_op *op = s->ops; op != NULL; op = op->next)
		uv_timer_start(&op->timer, on_op_timer, 0, 0);
	maybe_closed(s);
}

static const struct executor_ops sim_ops = {
    .prepare = sim_prepare,
    .start = sim_start,
    .stop = sim_stop,
    .remove = sim_remove,
    .status = sim_status,
    .list = sim_list,
    .probe = NULL,
    .logs = sim_logs,
    .close = sim_close,
};

struct executor *executor_sim_new(uv_loop_t *loop,
				  const struct exec_sim_config *cfg,
				  struct sw_err *err)
{
	struct exec_sim *s = xcalloc(1, sizeof(*s));

	s->base.ops = &sim_ops;
	s->loop = loop;
	s->cfg = *cfg;
	s->n_buckets = 64;
	s->buckets = xcalloc(s->n_buckets, sizeof(*s->buckets));
	s->next_pid = 1000;
	uv_timer_init(loop, &s->close_timer);
	s->close_timer.data = s;
	return &s->base;
}

size_t executor_sim_count(const struct executor *ex)
{
	return ((const struct exec_sim *)ex)->n_tasks;
}
