/* GET /services/{id}/logs and /tasks/{id}/logs: each task's CRI log as
 * Docker's multiplexed stream (one frame per line, with the details the
 * CLI needs to name the task), raw bytes for TTY services; --follow polls
 * the log files for new lines and picks up new tasks of the service. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-api/api.h"
#include "engine-api/routes.h"
#include "engine-api/stream.h"
#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/timefmt.h"
#include "orchestrator/services.h"

enum { FOLLOW_POLL_MS = 250 };

struct cursor {
	char task_id[32];
	uint64_t offset;
};

struct logs {
	struct api_stream *st;
	struct swarm *swarm;
	char service_id[32]; /* "" for one task's logs */
	char task_id[32];
	bool follow, timestamps, details, want_out, want_err, tty;
	long tail;
	int64_t since_ns;
	struct cursor *cursors;
	size_t n_cursors;
	uv_timer_t timer;
	bool closing;
};

static struct cursor *cursor_for(struct logs *l, const char *task_id,
				 bool *fresh)
{
	for (size_t i = 0; i < l->n_cursors; i++)
		if (strcmp(l->cursors[i].task_id, task_id) == 0) {
			*fresh = false;
			return &l->cursors[i];
		}
	l->cursors = xrealloc(l->cursors,
			      (l->n_cursors + 1) * sizeof(*l->cursors));
	memset(&l->cursors[l->n_cursors], 0, sizeof(struct cursor));
	snprintf(l->cursors[l->n_cursors].task_id, sizeof(l->cursors[0].task_id),
		 "%s", task_id);
	*fresh = true;
	return &l->cursors[l->n_cursors++];
}

static void write_entry(struct logs *l, const struct store_record *rec,
			const Swarmd__Task *t, const struct exec_log_entry *e)
{
	struct buf line;
	char when[64];
	unsigned char hdr[8] = {0};

	if ((e->stream == EXEC_STDOUT && !l->want_out) ||
	    (e->stream == EXEC_STDERR && !l->want_err))
		return;
	buf_init(&line);
	if (l->timestamps)
		buf_printf(&line, "%s ",
			   timefmt_utc(e->time_ns, when, sizeof(when)));
	if (l->details && !l->tty)
		buf_printf(&line,
			   "com.docker.swarm.node.id=%s,com.docker.swarm."
			   "service.id=%s,com.docker.swarm.task.id=%s ",
			   t->node_id, t->service_id, rec->id);
	buf_append(&line, e->data, e->len);
	if (!e->partial)
		buf_puts(&line, l->tty ? "\r\n" : "\n");
	if (!l->tty) {
		hdr[0] = (unsigned char)e->stream;
		hdr[4] = (unsigned char)(line.len >> 24);
		hdr[5] = (unsigned char)(line.len >> 16);
		hdr[6] = (unsigned char)(line.len >> 8);
		hdr[7] = (unsigned char)line.len;
		api_stream_write(l->st, hdr, sizeof(hdr));
	}
	api_stream_write(l->st, line.data, line.len);
	buf_free(&line);
}

/* Sends what is new in one task's log. */
static void read_task(struct logs *l, struct executor *ex,
		      const struct store_record *rec, const Swarmd__Task *t)
{
	bool fresh;
	struct cursor *c = cursor_for(l, rec->id, &fresh);
	struct exec_log_query q = {.since_ns = l->since_ns,
				   .tail = fresh ? l->tail : -1,
				   .offset = c->offset,
				   .follow = l->follow};
	struct exec_logs out = {0};
	struct sw_err err;

	if (executor_logs(ex, rec->id, &q, &out, &err) != 0)
		return;
	for (size_t i = 0; i < out.n_entries; i++)
		write_entry(l, rec, t, &out.entries[i]);
	c->offset = out.next_offset;
	exec_logs_free(&out);
}

static void read_all(struct logs *l)
{
	struct executor *ex = swarm_executor(l->swarm);
	const struct store *st = swarm_store(l->swarm);

	if (ex == NULL || st == NULL)
		return;
	for (const struct store_record *r = store_first(st, OBJ_TASK);
	     r != NULL; r = store_next(r)) {
		Swarmd__Task *t;

		if (l->task_id[0] != '\0' && strcmp(r->id, l->task_id) != 0)
			continue;
		t = tasks_unpack(r);
		if (t != NULL && (l->service_id[0] == '\0' ||
				  strcmp(t->service_id, l->service_id) == 0))
			read_task(l, ex, r, t);
		swarmd__task__free_unpacked(t, NULL);
	}
}

static void on_timer_closed(uv_handle_t *h)
{
	struct logs *l = h->data;

	free(l->cursors);
	free(l);
}

static void on_poll(uv_timer_t *t)
{
	struct logs *l = t->data;

	if (!l->closing)
		read_all(l);
}

static void on_stream_closed(struct api_stream *st, void *data)
{
	struct logs *l = data;

	l->closing = true;
	uv_timer_stop(&l->timer);
	uv_close((uv_handle_t *)&l->timer, on_timer_closed);
}

static int64_t parse_since(const char *v)
{
	char *end;
	long long secs;
	long long nanos = 0;

	if (v == NULL || v[0] == '\0')
		return 0;
	secs = strtoll(v, &end, 10);
	if (*end == '.') {
		char frac[10] = "000000000";
		size_t n = strspn(end + 1, "0123456789");

		memcpy(frac, end + 1, n < 9 ? n : 9);
		nanos = strtoll(frac, NULL, 10);
	}
	return secs * 1000000000LL + nanos;
}

static void start_logs(struct api_req *req, const char *service_id,
		       const char *task_id, bool tty)
{
	struct logs *l = xcalloc(1, sizeof(*l));
	const char *tail = api_query(req, "tail");

	l->swarm = api_swarm(req);
	snprintf(l->service_id, sizeof(l->service_id), "%s", service_id);
	snprintf(l->task_id, sizeof(l->task_id), "%s", task_id);
	l->follow = api_query_bool(req, "follow");
	l->timestamps = api_query_bool(req, "timestamps");
	l->details = api_query_bool(req, "details");
	l->want_out = api_query_bool(req, "stdout");
	l->want_err = api_query_bool(req, "stderr");
	l->tty = tty;
	l->tail = tail == NULL || strcmp(tail, "all") == 0 || tail[0] == '\0'
			  ? -1
			  : strtol(tail, NULL, 10);
	l->since_ns = parse_since(api_query(req, "since"));
	uv_timer_init(api_server_env(req->srv)->loop, &l->timer);
	l->timer.data = l;
	l->st = api_stream_start(req, 200, NULL, on_stream_closed, l);
	read_all(l);
	if (l->follow)
		uv_timer_start(&l->timer, on_poll, FOLLOW_POLL_MS,
			       FOLLOW_POLL_MS);
	else
		api_stream_end(l->st);
}

static bool check_streams(struct api_req *req)
{
	if (api_query_bool(req, "stdout") || api_query_bool(req, "stderr"))
		return true;
	api_reply_errorf(req, SW_EINVALID,
			 "Bad parameters: you must choose at least one "
			 "stream");
	return false;
}

void h_services_logs(struct api_req *req)
{
	const struct store_record *rec;
	Swarmd__Service *svc;
	bool tty;

	if (!api_require_manager(req))
		return;
	rec = services_resolve(api_swarm(req), req->params[0]);
	if (rec == NULL) {
		api_reply_errorf(req, SW_ENOTFOUND, "service %s not found",
				 req->params[0]);
		return;
	}
	if (!check_streams(req))
		return;
	svc = services_unpack(rec);
	tty = svc != NULL && svc->task != NULL && svc->task->tty;
	swarmd__service__free_unpacked(svc, NULL);
	start_logs(req, rec->id, "", tty);
}

void h_tasks_logs(struct api_req *req)
{
	const struct store_record *rec;
	Swarmd__Task *t;
	bool tty;

	if (!api_require_manager(req))
		return;
	rec = swarm_resolve(api_swarm(req), OBJ_TASK, req->params[0], false);
	if (rec == NULL) {
		api_reply_errorf(req, SW_ENOTFOUND, "task %s not found",
				 req->params[0]);
		return;
	}
	if (!check_streams(req))
		return;
	t = tasks_unpack(rec);
	tty = t != NULL && t->spec != NULL && t->spec->tty;
	swarmd__task__free_unpacked(t, NULL);
	start_logs(req, "", rec->id, tty);
}
