#include "engine-api/stream.h"

#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>
#include <uv.h>

#include "engine-api/server_priv.h"
#include "lib/alloc.h"
#include "lib/buf.h"

struct api_stream {
	struct api_req *req;
	struct MHD_Connection *conn;
	uv_loop_t *loop;
	struct buf pending;
	size_t sent;
	bool ended;
	bool suspended;
	bool gone;
	bool closed;
	uv_poll_t hangup; /* watches the client while suspended */
	bool polling;
	api_stream_close_cb cb;
	void *data;
};

static void stop_hangup_poll(struct api_stream *st);

static void resume(struct api_stream *st)
{
	if (!st->suspended)
		return;
	stop_hangup_poll(st);
	st->suspended = false;
	MHD_resume_connection(st->conn);
	api_server_kick(st->req->srv);
}

static void on_hangup(uv_poll_t *p, int status, int events)
{
	struct api_stream *st = p->data;

	st->gone = true;
	resume(st);
}

static void on_poll_closed(uv_handle_t *h)
{
	struct api_stream *st = h->data;

	st->polling = false;
	if (st->closed)
		free(st);
}

static void stop_hangup_poll(struct api_stream *st)
{
	if (st->polling && !uv_is_closing((uv_handle_t *)&st->hangup))
		uv_close((uv_handle_t *)&st->hangup, on_poll_closed);
}

/* Suspends until the next write, watching for the client hanging up. */
static void suspend(struct api_stream *st)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		st->conn, MHD_CONNECTION_INFO_CONNECTION_FD);

	st->suspended = true;
	MHD_suspend_connection(st->conn);
	if (ci == NULL || st->polling)
		return;
	if (uv_poll_init(st->loop, &st->hangup, ci->connect_fd) == 0) {
		st->hangup.data = st;
		st->polling = true;
		uv_poll_start(&st->hangup, UV_DISCONNECT, on_hangup);
	}
}

static ssize_t reader(void *cls, uint64_t pos, char *out, size_t max)
{
	struct api_stream *st = cls;
	size_t left = st->pending.len - st->sent;

	if (st->gone)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (left > 0) {
		size_t n = left < max ? left : max;

		memcpy(out, st->pending.data + st->sent, n);
		st->sent += n;
		if (st->sent == st->pending.len) {
			buf_free(&st->pending);
			st->sent = 0;
		}
		return (ssize_t)n;
	}
	if (st->ended)
		return MHD_CONTENT_READER_END_OF_STREAM;
	suspend(st);
	return 0;
}

static void on_free(void *cls)
{
	struct api_stream *st = cls;
	api_stream_close_cb cb = st->cb;

	st->gone = true;
	if (cb != NULL)
		cb(st, st->data);
	api_server_track_stream(st->req->srv, st, false);
	api_req_unref(st->req);
	buf_free(&st->pending);
	st->closed = true;
	stop_hangup_poll(st);
	if (!st->polling)
		free(st);
}

struct api_stream *api_stream_start(struct api_req *req, unsigned status,
				    const char *content_type,
				    api_stream_close_cb cb, void *data)
{
	struct api_stream *st = xcalloc(1, sizeof(*st));
	struct MHD_Response *r;

	st->req = req;
	st->conn = req->conn;
	st->loop = api_server_loop(req->srv);
	st->cb = cb;
	st->data = data;
	buf_init(&st->pending);
	api_req_ref(req);
	api_server_track_stream(req->srv, st, true);
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024,
					      reader, st, on_free);
	if (content_type != NULL)
		MHD_add_response_header(r, "Content-Type", content_type);
	api_reply_response(req, status, r);
	return st;
}

void api_stream_write(struct api_stream *st, const void *p, size_t n)
{
	if (st->gone || st->ended)
		return;
	buf_append(&st->pending, p, n);
	resume(st);
}

void api_stream_end(struct api_stream *st)
{
	st->ended = true;
	resume(st);
}

bool api_stream_gone(const struct api_stream *st)
{
	return st->gone;
}

void api_stream_abort(struct api_stream *st)
{
	st->gone = true;
	resume(st);
}
