#include "orchestrator/bridge.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/log.h"

enum {
	HELLO_VERSION = 1,
	HELLO_LEN = 9,
	PIPE_READ_BUF = 64 * 1024,
	PIPE_HIGH_WATER = 1024 * 1024, /* toward raft: pause the TLS side */
	PIPE_LOW_WATER = 256 * 1024,
};

struct pump;
struct dial;

struct bridge {
	uv_loop_t *loop;
	struct raft_uv_transport *rt;
	struct bridge_config cfg;
	raft_id self_id;
	raft_uv_accept_cb accept_cb;
	struct pump *pumps;
	struct dial *dials;
	uv_timer_t closer; /* fires c-raft's close callback from the loop */
	bool closer_open, closer_closing;
	bool closing;
	raft_uv_transport_close_cb close_cb;
};

/* A c-raft connect request in flight. */
struct dial {
	struct bridge *b;
	struct dial *prev, *next;
	struct raft_uv_connect *req;
	raft_uv_connect_cb cb;
	raft_id id;
	struct transport_dial_req tdial;
};

/* One raft stream: a TLS connection and our end of the socketpair. */
struct pump {
	struct bridge *b;
	struct pump *prev, *next;
	struct transport_conn *conn; /* NULL once it reported closed */
	uv_pipe_t pipe;
	uv_shutdown_t shut;
	char *rbuf;
	size_t pipe_queued; /* bytes written toward raft, not yet taken */
	bool running;       /* socketpair made, raw mode */
	bool pipe_open;     /* the handle is not closed yet */
	bool pipe_eof;      /* raft closed its end */
	bool conn_eof;      /* the peer finished sending */
	bool pipe_paused, conn_paused, finishing;
};

struct pipe_write {
	uv_write_t req;
	struct pump *p;
	size_t len;
	char data[];
};

static void bridge_maybe_closed(struct bridge *b);

static void put_be64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

static uint64_t get_be64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* ---- pumps ---- */

static void pump_maybe_free(struct pump *p)
{
	struct bridge *b = p->b;

	if (p->conn != NULL || p->pipe_open)
		return;
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		b->pumps = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	free(p->rbuf);
	free(p);
	bridge_maybe_closed(b);
}

static void pipe_closed_cb(uv_handle_t *h)
{
	struct pump *p = h->data;

	p->pipe_open = false;
	pump_maybe_free(p);
}

/* Tears the stream down: both ends close, c-raft sees EOF or EPIPE on its
 * end and reconnects as it sees fit. */
static void pump_finish(struct pump *p)
{
	if (p->finishing)
		return;
	p->finishing = true;
	if (p->conn != NULL)
		transport_conn_close(p->conn);
	uv_close((uv_handle_t *)&p->pipe, pipe_closed_cb);
}

static void pipe_write_cb(uv_write_t *req, int status)
{
	struct pipe_write *w = req->data;
	struct pump *p = w->p;

	p->pipe_queued -= w->len;
	free(w);
	if (p->finishing)
		return;
	if (status != 0) {
		pump_finish(p);
		return;
	}
	if (p->conn_paused && p->pipe_queued <= PIPE_LOW_WATER &&
	    p->conn != NULL) {
		p->conn_paused = false;
		transport_conn_resume(p->conn);
	}
}

/* TLS → raft. */
static void pump_raw(struct transport_conn *c, const void *bytes, size_t len)
{
	struct pump *p = transport_conn_data(c);
	struct pipe_write *w;
	uv_buf_t buf;

	if (p->finishing || p->conn_eof)
		return;
	w = xmalloc(sizeof(*w) + len);
	w->p = p;
	w->len = len;
	w->req.data = w;
	memcpy(w->data, bytes, len);
	buf = uv_buf_init(w->data, (unsigned int)len);
	if (uv_write(&w->req, (uv_stream_t *)&p->pipe, &buf, 1,
		     pipe_write_cb) != 0) {
		free(w);
		pump_finish(p);
		return;
	}
	p->pipe_queued += len;
	if (p->pipe_queued > PIPE_HIGH_WATER && !p->conn_paused) {
		p->conn_paused = true;
		transport_conn_pause(c);
	}
}

static void pipe_shutdown_cb(uv_shutdown_t *req, int status)
{
	/* Errors surface as a failed write or read. */
}

/* The peer finished: pass the half-close on to raft once the bytes before
 * it are delivered (uv_shutdown waits for queued writes). */
static void pump_conn_eof(struct transport_conn *c)
{
	struct pump *p = transport_conn_data(c);

	p->conn_eof = true;
	if (!p->running || p->pipe_eof) {
		pump_finish(p);
		return;
	}
	if (uv_shutdown(&p->shut, (uv_stream_t *)&p->pipe, pipe_shutdown_cb) !=
	    0)
		pump_finish(p);
}

static void pump_conn_closed(struct transport_conn *c, const struct sw_err *err)
{
	struct pump *p = transport_conn_data(c);

	if (err != NULL)
		log_debug("raft bridge: stream to %s closed: %s",
			  transport_conn_remote(c), err->msg);
	p->conn = NULL;
	if (!p->finishing)
		pump_finish(p);
	else
		pump_maybe_free(p);
}

static void pipe_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct pump *p = h->data;

	*buf = uv_buf_init(p->rbuf, PIPE_READ_BUF);
}

/* raft → TLS. */
static void pipe_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct pump *p = s->data;
	struct sw_err err;

	if (p->finishing || nread == 0)
		return;
	if (nread == UV_EOF) {
		p->pipe_eof = true;
		uv_read_stop(s);
		if (p->conn_eof)
			pump_finish(p);
		else
			transport_conn_shutdown(p->conn);
		return;
	}
	if (nread < 0 || transport_conn_write_raw(p->conn, buf->base,
						  (size_t)nread, &err) != 0) {
		pump_finish(p);
		return;
	}
	if (!transport_conn_writable(p->conn)) {
		p->pipe_paused = true;
		uv_read_stop(s);
	}
}

static void pump_drain(struct transport_conn *c)
{
	struct pump *p = transport_conn_data(c);

	if (!p->pipe_paused || p->finishing || p->pipe_eof)
		return;
	p->pipe_paused = false;
	if (uv_read_start((uv_stream_t *)&p->pipe, pipe_alloc_cb,
			  pipe_read_cb) != 0)
		pump_finish(p);
}

static void raft_pipe_free_cb(uv_handle_t *h)
{
	raft_free(h);
}

/* Makes the socketpair: one end for c-raft (allocated with raft_malloc,
 * since c-raft frees it with raft_free), the other for us. */
static int pump_socketpair(struct pump *p, uv_stream_t **raft_stream,
			   struct sw_err *err)
{
	uv_pipe_t *rp;
	int fds[2];
	int rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == -1)
		return sw_err_sys(err, errno, "socketpair");
	rp = raft_malloc(sizeof(*rp));
	if (rp == NULL) {
		close(fds[0]);
		close(fds[1]);
		return sw_err_set(err, SW_ESYSTEM, "out of memory");
	}
	uv_pipe_init(p->b->loop, rp, 0);
	rc = uv_pipe_open(rp, fds[0]);
	if (rc != 0) {
		close(fds[0]);
		close(fds[1]);
		goto err_close;
	}
	rc = uv_pipe_open(&p->pipe, fds[1]);
	if (rc != 0) {
		close(fds[1]);
		goto err_close;
	}
	/* From here our end belongs to the pump, which closes it. */
	rc =
	    uv_read_start((uv_stream_t *)&p->pipe, pipe_alloc_cb, pipe_read_cb);
	if (rc != 0)
		goto err_close;
	*raft_stream = (uv_stream_t *)rp;
	return 0;

err_close:
	uv_close((uv_handle_t *)rp, raft_pipe_free_cb);
	return sw_err_set(err, SW_ESYSTEM, "socketpair: %s", uv_strerror(rc));
}

static void pump_hello(struct transport_conn *c, const void *payload,
		       size_t len);

static const struct transport_conn_ops pump_ops = {
    .frame = pump_hello,
    .raw = pump_raw,
    .eof = pump_conn_eof,
    .drain = pump_drain,
    .closed = pump_conn_closed,
};

static struct pump *pump_new(struct bridge *b, struct transport_conn *c)
{
	struct pump *p = xcalloc(1, sizeof(*p));

	p->b = b;
	p->conn = c;
	p->rbuf = xmalloc(PIPE_READ_BUF);
	uv_pipe_init(b->loop, &p->pipe, 0);
	p->pipe.data = p;
	p->pipe_open = true;
	p->next = b->pumps;
	if (b->pumps != NULL)
		b->pumps->prev = p;
	b->pumps = p;
	transport_conn_set_ops(c, &pump_ops, p);
	return p;
}

/* ---- inbound streams ---- */

static int hello_check(struct bridge *b, struct transport_conn *c,
		       const unsigned char *payload, size_t len, raft_id *id,
		       char *address, struct sw_err *err)
{
	if (len != HELLO_LEN || payload[0] != HELLO_VERSION)
		return sw_err_set(err, SW_EINVALID, "malformed raft hello");
	*id = get_be64(payload + 1);
	if (*id == 0 || *id == b->self_id)
		return sw_err_set(err, SW_EFORBIDDEN,
				  "raft id %llu is not a peer's",
				  (unsigned long long)*id);
	address[0] = '\0';
	if (b->cfg.check(b->cfg.data, *id, transport_conn_peer(c), address,
			 BRIDGE_ADDRESS_MAX, err) != 0)
		return -(int)err->kind;
	if (address[0] == '\0')
		return sw_err_set(err, SW_EFORBIDDEN,
				  "no address known for raft id %llu",
				  (unsigned long long)*id);
	return 0;
}

/* The first (and only) frame of an inbound raft stream. */
static void pump_hello(struct transport_conn *c, const void *payload,
		       size_t len)
{
	struct pump *p = transport_conn_data(c);
	struct bridge *b = p->b;
	char address[BRIDGE_ADDRESS_MAX] = "";
	uv_stream_t *rs = NULL;
	struct sw_err err;
	raft_id id = 0;

	if (p->running || b->closing || p->finishing) {
		pump_finish(p);
		return;
	}
	if (hello_check(b, c, payload, len, &id, address, &err) != 0 ||
	    pump_socketpair(p, &rs, &err) != 0) {
		log_warn("raft bridge: refusing a stream from %s: %s",
			 transport_conn_remote(c), err.msg);
		pump_finish(p);
		return;
	}
	/* Whatever followed the hello goes to raft once we return. */
	(void)transport_conn_set_raw(c, &err);
	p->running = true;
	b->accept_cb(b->rt, id, address, rs);
}

static void bridge_accept(struct transport *t, struct transport_conn *c,
			  void *data)
{
	pump_new(data, c);
}

/* ---- outbound streams ---- */

static void dial_unlink(struct dial *d)
{
	struct bridge *b = d->b;

	if (d->prev != NULL)
		d->prev->next = d->next;
	else
		b->dials = d->next;
	if (d->next != NULL)
		d->next->prev = d->prev;
}

/* Checks the manager we reached, says who we are, and makes the pair. */
static int outbound_start(struct bridge *b, struct transport_conn *c,
			  raft_id id, uv_stream_t **rs, struct sw_err *err)
{
	char address[BRIDGE_ADDRESS_MAX];
	unsigned char hello[HELLO_LEN];
	struct pump *p;

	if (b->cfg.check(b->cfg.data, id, transport_conn_peer(c), address,
			 sizeof(address), err) != 0) {
		transport_conn_close(c);
		return -(int)err->kind;
	}
	p = pump_new(b, c);
	hello[0] = HELLO_VERSION;
	put_be64(hello + 1, b->self_id);
	if (transport_conn_send(c, hello, sizeof(hello), err) != 0 ||
	    transport_conn_set_raw(c, err) != 0 ||
	    pump_socketpair(p, rs, err) != 0) {
		pump_finish(p);
		return -(int)err->kind;
	}
	p->running = true;
	return 0;
}

static void dial_cb(struct transport_dial_req *tdial, struct transport_conn *c,
		    int status, const struct sw_err *err)
{
	struct dial *d = tdial->data;
	struct bridge *b = d->b;
	struct raft_uv_connect *req = d->req;
	raft_uv_connect_cb cb = d->cb;
	uv_stream_t *rs = NULL;
	struct sw_err e;
	int rv = 0;

	dial_unlink(d);
	if (b->closing) {
		if (c != NULL)
			transport_conn_close(c);
		rv = RAFT_CANCELED;
	} else if (status != 0) {
		log_debug("raft bridge: connecting to raft server %llu: %s",
			  (unsigned long long)d->id, err->msg);
		rv = RAFT_NOCONNECTION;
	} else if (outbound_start(b, c, d->id, &rs, &e) != 0) {
		log_warn("raft bridge: raft server %llu at %s: %s",
			 (unsigned long long)d->id, transport_conn_remote(c),
			 e.msg);
		rv = RAFT_NOCONNECTION;
	}
	free(d);
	cb(req, rs, rv);
	bridge_maybe_closed(b);
}

/* ---- the raft_uv_transport interface ---- */

static int bridge_tr_init(struct raft_uv_transport *rt, raft_id id,
			  const char *address)
{
	struct bridge *b = rt->impl;

	b->self_id = id;
	return 0;
}

static int bridge_tr_listen(struct raft_uv_transport *rt, raft_uv_accept_cb cb)
{
	struct bridge *b = rt->impl;

	b->accept_cb = cb;
	transport_handle(b->cfg.transport, TRANSPORT_RAFT, bridge_accept, b);
	return 0;
}

/* A failure returned here makes c-raft retry after its connect delay;
 * the callback then never fires. */
static int bridge_tr_connect(struct raft_uv_transport *rt,
			     struct raft_uv_connect *req, raft_id id,
			     const char *address, raft_uv_connect_cb cb)
{
	struct bridge *b = rt->impl;
	char target[BRIDGE_ADDRESS_MAX];
	struct sw_err err;
	struct dial *d;

	if (b->closing)
		return RAFT_CANCELED;
	if (b->cfg.resolve == NULL)
		(void)snprintf(target, sizeof(target), "%s", address);
	else if (b->cfg.resolve(b->cfg.data, id, address, target,
				sizeof(target)) != 0)
		return RAFT_NOCONNECTION;
	d = xcalloc(1, sizeof(*d));
	d->b = b;
	d->req = req;
	d->cb = cb;
	d->id = id;
	d->tdial.data = d;
	if (transport_dial(b->cfg.transport, &d->tdial, target, TRANSPORT_RAFT,
			   dial_cb, &err) != 0) {
		(void)snprintf(rt->errmsg, sizeof(rt->errmsg), "%.200s",
			       err.msg);
		free(d);
		return RAFT_NOCONNECTION;
	}
	d->next = b->dials;
	if (b->dials != NULL)
		b->dials->prev = d;
	b->dials = d;
	return 0;
}

static void closer_closed_cb(uv_handle_t *h)
{
	struct bridge *b = h->data;

	b->closer_open = false;
	b->close_cb(b->rt);
}

static void bridge_maybe_closed(struct bridge *b)
{
	if (!b->closing || b->closer_closing || b->dials != NULL ||
	    b->pumps != NULL)
		return;
	b->closer_closing = true;
	uv_close((uv_handle_t *)&b->closer, closer_closed_cb);
}

/* Stops accepting, cancels dials (their callbacks get RAFT_CANCELED) and
 * closes every stream; c-raft's callback fires from the loop once all of
 * it is gone. */
static void bridge_tr_close(struct raft_uv_transport *rt,
			    raft_uv_transport_close_cb cb)
{
	struct bridge *b = rt->impl;
	struct dial *d;
	struct pump *p;

	b->closing = true;
	b->close_cb = cb;
	transport_handle(b->cfg.transport, TRANSPORT_RAFT, NULL, NULL);
	uv_timer_init(b->loop, &b->closer);
	b->closer.data = b;
	b->closer_open = true;
	for (d = b->dials; d != NULL; d = d->next)
		transport_dial_cancel(&d->tdial);
	for (p = b->pumps; p != NULL; p = p->next)
		pump_finish(p);
	bridge_maybe_closed(b);
}

int bridge_init(struct raft_uv_transport *rt, uv_loop_t *loop,
		const struct bridge_config *cfg, struct sw_err *err)
{
	struct bridge *b;

	if (cfg->transport == NULL || cfg->check == NULL)
		return sw_err_set(err, SW_EINVALID,
				  "the raft bridge needs a transport and a "
				  "peer check");
	b = xcalloc(1, sizeof(*b));
	b->loop = loop;
	b->rt = rt;
	b->cfg = *cfg;
	memset(rt, 0, sizeof(*rt));
	rt->impl = b;
	rt->init = bridge_tr_init;
	rt->listen = bridge_tr_listen;
	rt->connect = bridge_tr_connect;
	rt->close = bridge_tr_close;
	return 0;
}

void bridge_close(struct raft_uv_transport *rt)
{
	struct bridge *b = rt->impl;

	if (b == NULL)
		return;
	/* c-raft closed the transport first, so nothing is left open. */
	assert(!b->closer_open && b->pumps == NULL && b->dials == NULL);
	free(b);
	rt->impl = NULL;
}
