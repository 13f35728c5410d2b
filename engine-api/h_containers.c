/* /containers on the node runtime: the containers of this node's tasks
 * (list, inspect) and their logs. A container is named by ID, ID prefix
 * or name (`<service>.<slot>.<taskID>`), as Docker names task
 * containers. Logs are read from the runtime's log file and sent as
 * Docker's multiplexed stream (raw for TTY containers); --follow polls the
 * file and ends once the container has exited. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "engine-api/api.h"
#include "engine-api/codec_container.h"
#include "engine-api/execs.h"
#include "engine-api/filters.h"
#include "engine-api/routes.h"
#include "engine-api/server_priv.h"
#include "engine-api/stream.h"
#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/timefmt.h"
#include "orchestrator/runtime.h"
#include "orchestrator/swarm.h"

enum {
	FOLLOW_POLL_MS = 250,
	FOLLOW_STATUS_EVERY = 4, /* polls between checks that it still runs */
};

struct ctr_op {
	struct api_req *req;
	struct node_runtime *rt;
	struct rt_req call;
	struct filters f;
	char *name;
	bool all;
	long limit;
};

static struct ctr_op *op_new(struct api_req *req, struct node_runtime *rt)
{
	struct ctr_op *op = xcalloc(1, sizeof(*op));

	op->req = req;
	op->rt = rt;
	op->call.data = op;
	api_req_ref(req);
	return op;
}

static void op_free(struct ctr_op *op)
{
	filters_free(&op->f);
	free(op->name);
	api_req_unref(op->req);
	free(op);
}

static void check_started(struct ctr_op *op, int rc, const struct sw_err *err)
{
	if (rc == 0)
		return;
	api_reply_error(op->req, err);
	op_free(op);
}

static bool failed(struct ctr_op *op, struct rt_req *r, int status)
{
	if (status == 0)
		return false;
	api_reply_error(op->req, &r->err);
	op_free(op);
	return true;
}

/* The healthcheck state the node's agent keeps for a task container. */
static const struct health_state *health_of(struct api_req *req,
					    const char *id)
{
	struct swarm *s = api_server_env(req->srv)->swarm;

	return s != NULL ? swarm_health(s, id) : NULL;
}

/* ---- GET /containers/json ---- */

static void on_listed(struct rt_req *r, int status)
{
	struct ctr_op *op = r->data;
	struct json_object *list;
	int64_t now = timefmt_now_ns();
	long shown = 0;

	if (failed(op, r, status))
		return;
	list = json_object_new_array();
	for (size_t i = 0; i < r->n_containers; i++) {
		const struct rt_container *c = &r->containers[i];

		if (op->limit > 0 && shown == op->limit)
			break;
		if (!op->all && op->limit <= 0 && c->state != RT_RUNNING)
			continue;
		if (!codec_container_matches(c, &op->f))
			continue;
		r->containers[i].health = health_of(op->req, c->id);
		json_object_array_add(list, codec_container_summary(c, now));
		shown++;
	}
	api_reply_json(op->req, 200, list);
	op_free(op);
}

void h_containers_list(struct api_req *req)
{
	struct node_runtime *rt = api_runtime(req);
	const char *limit = api_query(req, "limit");
	struct ctr_op *op;
	struct sw_err err;

	if (rt == NULL)
		return;
	op = op_new(req, rt);
	op->all = api_query_bool(req, "all");
	op->limit = limit != NULL ? strtol(limit, NULL, 10) : 0;
	if (filters_parse(api_query(req, "filters"), &op->f, &err) != 0 ||
	    codec_container_filters_check(&op->f, &err) != 0) {
		api_reply_error(req, &err);
		op_free(op);
		return;
	}
	/* A status filter looks at every container, as in dockerd. */
	if (filters_get(&op->f, "status") != NULL)
		op->all = true;
	check_started(
	    op, runtime_list_containers(rt, &op->call, true, on_listed, &err),
	    &err);
}

/* ---- GET /containers/{id}/json ---- */

static void on_inspected(struct rt_req *r, int status)
{
	struct ctr_op *op = r->data;
	struct api_execs *x = api_server_execs(op->req->srv);
	char **ids;
	size_t n;

	if (status == -SW_ENOTFOUND) {
		api_reply_errorf(op->req, SW_ENOTFOUND, "No such container: %s",
				 op->name);
		op_free(op);
		return;
	}
	if (failed(op, r, status))
		return;
	n = execs_of(x, r->containers[0].id, &ids);
	r->containers[0].health = health_of(op->req, r->containers[0].id);
	api_reply_json(op->req, 200,
		       codec_container_inspect(&r->containers[0], ids, n));
	free(ids);
	op_free(op);
}

static void on_inspect_listed(struct rt_req *r, int status)
{
	struct ctr_op *op = r->data;
	struct sw_err err;
	char id[RT_ID_MAX];
	int i;

	if (failed(op, r, status))
		return;
	i = codec_container_find(r->containers, r->n_containers, op->name,
				 &err);
	if (i < 0) {
		api_reply_error(op->req, &err);
		op_free(op);
		return;
	}
	(void)snprintf(id, sizeof(id), "%s", r->containers[i].id);
	check_started(op,
		      runtime_inspect_container(op->rt, &op->call, id,
						on_inspected, &err),
		      &err);
}

void h_containers_inspect(struct api_req *req)
{
	struct node_runtime *rt = api_runtime(req);
	struct ctr_op *op;
	struct sw_err err;

	if (rt == NULL)
		return;
	op = op_new(req, rt);
	op->name = xstrdup(req->params[0]);
	check_started(op,
		      runtime_list_containers(rt, &op->call, false,
					      on_inspect_listed, &err),
		      &err);
}

/* ---- GET /containers/{id}/logs ---- */

struct ctr_logs {
	struct api_req *req;
	struct node_runtime *rt;
	struct rt_req call;
	struct api_stream *st;
	char *name;
	char id[RT_ID_MAX];
	char *log_path;
	bool tty, follow, timestamps, want_out, want_err;
	bool started;   /* the stream is open */
	bool checking;  /* a status call is in flight */
	bool finishing; /* the container exited: last read, then end */
	bool closing;
	bool timer_closed;
	long tail;
	int64_t since_ns, until_ns;
	uint64_t offset;
	bool first_read;
	unsigned polls;
	uv_timer_t timer;
};

static void logs_free(struct ctr_logs *l)
{
	free(l->name);
	free(l->log_path);
	api_req_unref(l->req);
	free(l);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct ctr_logs *l = h->data;

	/* A status call in flight still points at l: it frees it. */
	l->timer_closed = true;
	if (!l->checking)
		logs_free(l);
}

static void logs_close(struct ctr_logs *l)
{
	if (l->closing)
		return;
	l->closing = true;
	uv_timer_stop(&l->timer);
	uv_close((uv_handle_t *)&l->timer, on_timer_closed);
}

static void write_entry(struct ctr_logs *l, const struct exec_log_entry *e)
{
	struct buf line, out;
	char when[64];

	if ((e->stream == EXEC_STDOUT && !l->want_out) ||
	    (e->stream == EXEC_STDERR && !l->want_err))
		return;
	buf_init(&line);
	if (l->timestamps)
		buf_printf(&line, "%s ",
			   timefmt_utc(e->time_ns, when, sizeof(when)));
	buf_append(&line, e->data, e->len);
	if (!e->partial)
		buf_puts(&line, "\n");
	if (l->tty) {
		api_stream_write(l->st, line.data, line.len);
	} else {
		buf_init(&out);
		codec_frame(&out, e->stream, line.data, line.len);
		api_stream_write(l->st, out.data, out.len);
		buf_free(&out);
	}
	buf_free(&line);
}

/* Sends what is new in the log. */
static void read_new(struct ctr_logs *l)
{
	struct exec_log_query q = {
	    .since_ns = l->since_ns,
	    .until_ns = l->until_ns,
	    .tail = l->first_read ? l->tail : -1,
	    .offset = l->offset,
	    .follow = l->follow && !l->finishing,
	};
	struct exec_logs out = {0};
	struct sw_err err;

	l->first_read = false;
	if (runtime_read_log(l->rt, l->log_path, &q, &out, &err) != 0)
		return;
	for (size_t i = 0; i < out.n_entries; i++)
		write_entry(l, &out.entries[i]);
	l->offset = out.next_offset;
	exec_logs_free(&out);
}

static void on_follow_status(struct rt_req *r, int status)
{
	struct ctr_logs *l = r->data;

	l->checking = false;
	if (l->closing) {
		if (l->timer_closed)
			logs_free(l);
		return;
	}
	if (status != 0 || r->containers[0].state != RT_RUNNING) {
		l->finishing = true;
		read_new(l);
		api_stream_end(l->st);
	}
}

static void on_follow_timer(uv_timer_t *t)
{
	struct ctr_logs *l = t->data;
	struct sw_err err;

	if (l->closing || l->finishing)
		return;
	read_new(l);
	if (l->checking || ++l->polls % FOLLOW_STATUS_EVERY != 0)
		return;
	l->checking = runtime_inspect_container(l->rt, &l->call, l->id,
						on_follow_status, &err) == 0;
}

static void on_stream_closed(struct api_stream *st, void *data)
{
	logs_close(data);
}

static void start_stream(struct ctr_logs *l, const struct rt_container *c)
{
	l->log_path = xstrdup(c->log_path != NULL ? c->log_path : "");
	l->tty = c->tty;
	l->started = true;
	l->st = api_stream_start(l->req, 200, NULL, on_stream_closed, l);
	read_new(l);
	if (l->follow && c->state == RT_RUNNING) {
		uv_timer_start(&l->timer, on_follow_timer, FOLLOW_POLL_MS,
			       FOLLOW_POLL_MS);
		return;
	}
	l->finishing = true;
	api_stream_end(l->st);
}

/* Before the stream starts: answers an error and ends. */
static void logs_fail(struct ctr_logs *l, const struct sw_err *err)
{
	api_reply_error(l->req, err);
	logs_close(l);
}

static void on_logs_inspected(struct rt_req *r, int status)
{
	struct ctr_logs *l = r->data;

	l->checking = false;
	if (status != 0) {
		logs_fail(l, &r->err);
		return;
	}
	start_stream(l, &r->containers[0]);
}

static void on_logs_listed(struct rt_req *r, int status)
{
	struct ctr_logs *l = r->data;
	struct sw_err err;
	int i;

	l->checking = false;
	if (status != 0) {
		logs_fail(l, &r->err);
		return;
	}
	i = codec_container_find(r->containers, r->n_containers, l->name, &err);
	if (i < 0) {
		logs_fail(l, &err);
		return;
	}
	(void)snprintf(l->id, sizeof(l->id), "%s", r->containers[i].id);
	l->checking = runtime_inspect_container(l->rt, &l->call, l->id,
						on_logs_inspected, &err) == 0;
	if (!l->checking)
		logs_fail(l, &err);
}

/* "secs[.nanos]" as the CLI sends since/until; 0 when absent. */
static int64_t parse_time(const char *v)
{
	char frac[10] = "000000000";
	char *end;
	long long secs;

	if (v == NULL || v[0] == '\0')
		return 0;
	secs = strtoll(v, &end, 10);
	if (*end == '.') {
		size_t n = strspn(end + 1, "0123456789");

		memcpy(frac, end + 1, n < 9 ? n : 9);
	}
	return secs * 1000000000LL + strtoll(frac, NULL, 10);
}

void h_containers_logs(struct api_req *req)
{
	struct node_runtime *rt = api_runtime(req);
	const char *tail = api_query(req, "tail");
	struct ctr_logs *l;
	struct sw_err err;

	if (rt == NULL)
		return;
	if (!api_query_bool(req, "stdout") && !api_query_bool(req, "stderr")) {
		api_reply_errorf(req, SW_EINVALID,
				 "Bad parameters: you must choose at least one "
				 "stream");
		return;
	}
	l = xcalloc(1, sizeof(*l));
	l->req = req;
	l->rt = rt;
	l->call.data = l;
	l->name = xstrdup(req->params[0]);
	l->follow = api_query_bool(req, "follow");
	l->timestamps = api_query_bool(req, "timestamps");
	l->want_out = api_query_bool(req, "stdout");
	l->want_err = api_query_bool(req, "stderr");
	l->tail = tail == NULL || tail[0] == '\0' || strcmp(tail, "all") == 0
		      ? -1
		      : strtol(tail, NULL, 10);
	l->since_ns = parse_time(api_query(req, "since"));
	l->until_ns = parse_time(api_query(req, "until"));
	l->first_read = true;
	api_req_ref(req);
	uv_timer_init(api_server_env(req->srv)->loop, &l->timer);
	l->timer.data = l;
	l->checking = runtime_list_containers(rt, &l->call, false,
					      on_logs_listed, &err) == 0;
	if (!l->checking)
		logs_fail(l, &err);
}
