/* 101 answers: Docker clients hijack the connection for attach and exec
 * (Connection: Upgrade, Upgrade: tcp). The 101 goes out at once, as
 * dockerd sends it before the command runs: clients read the answer's
 * headers through a buffer and then the socket itself, so bytes sent right
 * behind the headers could be swallowed by that buffer. MHD hands over the
 * socket once the 101 is sent; the output comes later through
 * api_upgrade_finish, is written on a dup of the socket through libuv
 * (never blocking the loop), and then MHD is told to close it.
 *
 * Ownership: until MHD hands the socket over, the request owns the
 * upgrade (and frees it with itself; the caller keeps a reference on the
 * request until it has finished the upgrade). From then on the upgrade
 * owns itself and goes once it is both finished and closed; the server
 * tracks it so shutdown can close it early. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>
#include <uv.h>

#include "engine-api/server_priv.h"
#include "lib/alloc.h"
#include "lib/log.h"

struct api_upgrade {
	struct api_server *srv;
	struct api_req *req; /* until started */
	char *data;
	size_t len;
	struct MHD_UpgradeResponseHandle *urh;
	uv_pipe_t pipe;
	uv_write_t write;
	bool started;  /* MHD handed the socket over */
	bool finished; /* the output is in data */
	bool writing;
	bool closed; /* the pipe is closed */
};

static void destroy(struct api_upgrade *u)
{
	free(u->data);
	free(u);
}

void api_upgrade_free(struct api_upgrade *u)
{
	if (u != NULL && !u->started)
		destroy(u);
}

/* Lets MHD close the socket (ours is a dup) and forget the connection. */
static void release_socket(struct api_upgrade *u)
{
	if (u->urh == NULL)
		return;
	MHD_upgrade_action(u->urh, MHD_UPGRADE_ACTION_CLOSE);
	u->urh = NULL;
	api_server_kick(u->srv);
}

static void on_pipe_closed(uv_handle_t *h)
{
	struct api_upgrade *u = h->data;

	u->closed = true;
	release_socket(u);
	api_server_track_upgrade(u->srv, u, false);
	if (u->finished)
		destroy(u);
}

static void close_pipe(struct api_upgrade *u)
{
	if (!uv_is_closing((uv_handle_t *)&u->pipe))
		uv_close((uv_handle_t *)&u->pipe, on_pipe_closed);
}

static void on_written(uv_write_t *w, int status)
{
	struct api_upgrade *u = w->data;

	if (status < 0 && status != UV_ECANCELED)
		log_debug("api: hijacked stream: %s", uv_strerror(status));
	close_pipe(u);
}

/* Sends the output, then closes. */
static void send_output(struct api_upgrade *u)
{
	uv_buf_t b = uv_buf_init(u->data, (unsigned)u->len);

	u->writing = true;
	if (u->len == 0 || uv_write(&u->write, (uv_stream_t *)&u->pipe, &b, 1,
				    on_written) != 0)
		close_pipe(u);
}

void api_upgrade_abort(struct api_upgrade *u)
{
	release_socket(u);
	close_pipe(u);
}

void api_upgrade_finish(struct api_upgrade *u, char *data, size_t len)
{
	u->data = data;
	u->len = len;
	u->finished = true;
	if (!u->started)
		return; /* sent when MHD hands the socket over */
	if (u->closed)
		destroy(u);
	else if (!uv_is_closing((uv_handle_t *)&u->pipe))
		send_output(u);
}

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls,
		       const char *extra_in, size_t extra_in_size,
		       MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	struct api_upgrade *u = cls;
	int fd;

	/* From here on the upgrade owns itself. */
	u->started = true;
	u->urh = urh;
	if (u->req != NULL && u->req->upgrade == u)
		u->req->upgrade = NULL;
	u->req = NULL;
	api_server_track_upgrade(u->srv, u, true);
	uv_pipe_init(api_server_loop(u->srv), &u->pipe, 0);
	u->pipe.data = u;
	u->write.data = u;
	fd = dup(sock);
	if (fd == -1 || uv_pipe_open(&u->pipe, fd) != 0) {
		if (fd != -1)
			close(fd);
		close_pipe(u);
		return;
	}
	if (u->finished)
		send_output(u);
}

struct api_upgrade *api_reply_upgrade(struct api_req *req,
				      const char *content_type)
{
	struct api_upgrade *u;
	struct MHD_Response *r;

	if (req->response != NULL || req->closed || req->upgrade != NULL)
		return NULL;
	u = xcalloc(1, sizeof(*u));
	u->srv = req->srv;
	u->req = req;
	r = MHD_create_response_for_upgrade(on_upgrade, u);
	if (r == NULL) {
		destroy(u);
		api_reply_errorf(req, SW_ESYSTEM, "cannot hijack connection");
		return NULL;
	}
	req->upgrade = u;
	MHD_add_response_header(r, "Content-Type", content_type);
	MHD_add_response_header(r, "Connection", "Upgrade");
	MHD_add_response_header(r, "Upgrade", "tcp");
	api_reply_response(req, 101, r);
	return u;
}
