#include "orchestrator/transport.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/log.h"

#define CONTAINER_OF(ptr, type, member)                                        \
	((type *)((char *)(ptr)-offsetof(type, member)))

enum {
	HDR_LEN = 4,
	CHANNEL_FRAME_MAX = 32, /* the first frame: a channel name */
	REPLY_FRAME_MAX = 1024, /* the listener's reply */
	LINGER_MS = 2000,       /* a refused peer gets this long to read why */
	KEEPALIVE_IDLE_S = 5,
	KEEPALIVE_INTVL_S = 2,
	KEEPALIVE_CNT = 3,
	/* Unacknowledged data older than this kills the connection, so a
	 * write-only raft stream notices a vanished peer. */
	USER_TIMEOUT_MS = 15000,
	BUF_SHRINK = 1024 * 1024,
	ADDR_MAX = 320,
};

static const char *const channel_names[TRANSPORT_CHANNELS] = {
    [TRANSPORT_RAFT] = "raft", [TRANSPORT_DISPATCH] = "dispatch",
    [TRANSPORT_JOIN] = "join", [TRANSPORT_FORWARD] = "forward",
    [TRANSPORT_LOGS] = "logs",
};

enum conn_state {
	CONN_DIALING = 1, /* resolving, connecting, TLS handshake */
	CONN_AWAIT_REPLY, /* dialer: channel named, waiting for the reply */
	CONN_AWAIT_NAME,  /* listener: TLS handshake, then the channel name */
	CONN_OPEN,
	CONN_LINGER, /* listener: refused, waiting for the peer to go */
	CONN_CLOSING,
};

struct handler {
	transport_accept_cb cb;
	void *data;
};

struct transport {
	uv_loop_t *loop;
	struct tls_ctx *tls;
	uv_tcp_t listener;
	uv_timer_t sentinel; /* closed last, so close always completes async */
	bool listening, listen_used;
	int port;
	struct handler handlers[TRANSPORT_CHANNELS];
	transport_authorize_cb authorize;
	void *authorize_data;
	struct transport_conn *conns;
	struct transport_link *links;
	size_t max_frame;
	unsigned handshake_ms, backoff_min_ms, backoff_max_ms;
	int open; /* handles and objects that must close first */
	bool closing;
	transport_close_cb close_cb;
	void *close_data;
};

struct transport_conn {
	struct tls_conn tls;
	uv_timer_t timer; /* handshake deadline, then linger */
	uv_connect_t connect;
	uv_getaddrinfo_t gai;
	struct transport *t;
	struct transport_conn *prev, *next;
	enum conn_state state;
	enum transport_channel channel;
	bool outbound, raw, paused, gai_pending, tls_open, timer_open;
	bool shut_sent, shut_done, close_when_shut;
	struct buf in;
	const struct transport_conn_ops *ops;
	void *data;
	struct transport_dial_req *dial;
	struct transport_link *link;
	int port;
	char remote[ADDR_MAX];
	bool has_err;
	struct sw_err err;
};

struct transport_link {
	struct transport *t;
	struct transport_link *prev, *next;
	struct transport_dial_req dial;
	uv_timer_t retry;
	char *address;
	enum transport_channel ch;
	const struct transport_link_ops *ops;
	void *data;
	struct transport_conn *conn;
	unsigned attempts;
	bool dialing, stopped, timer_open;
};

static void conn_close(struct transport_conn *c, const struct sw_err *why);
static void link_conn_gone(struct transport_link *l, const struct sw_err *err);
static void link_dial_cb(struct transport_dial_req *req,
			 struct transport_conn *c, int status,
			 const struct sw_err *err);

const char *transport_channel_name(enum transport_channel ch)
{
	if ((int)ch <= 0 || (int)ch >= TRANSPORT_CHANNELS)
		return NULL;
	return channel_names[ch];
}

static enum transport_channel channel_parse(const char *p, size_t len)
{
	int ch;

	for (ch = TRANSPORT_RAFT; ch < TRANSPORT_CHANNELS; ch++)
		if (strlen(channel_names[ch]) == len &&
		    memcmp(channel_names[ch], p, len) == 0)
			return (enum transport_channel)ch;
	return 0;
}

/* ---- transport lifetime ---- */

static void transport_maybe_done(struct transport *t)
{
	if (!t->closing || t->open > 0)
		return;
	tls_ctx_unref(t->tls);
	t->tls = NULL;
	if (t->close_cb != NULL)
		t->close_cb(t->close_data);
	free(t);
}

static void transport_handle_closed_cb(uv_handle_t *h)
{
	struct transport *t = h->data;

	t->open--;
	transport_maybe_done(t);
}

struct transport *transport_init(uv_loop_t *loop, struct tls_ctx *tls,
				 struct sw_err *err)
{
	struct transport *t = xcalloc(1, sizeof(*t));
	int rc = uv_timer_init(loop, &t->sentinel);

	if (rc != 0) {
		free(t);
		sw_err_set(err, SW_ESYSTEM, "transport: %s", uv_strerror(rc));
		return NULL;
	}
	t->sentinel.data = t;
	t->open = 1;
	t->loop = loop;
	tls_ctx_ref(tls);
	t->tls = tls;
	t->max_frame = TRANSPORT_FRAME_MAX;
	t->handshake_ms = TRANSPORT_HANDSHAKE_MS;
	t->backoff_min_ms = TRANSPORT_BACKOFF_MIN_MS;
	t->backoff_max_ms = TRANSPORT_BACKOFF_MAX_MS;
	return t;
}

void transport_set_tls(struct transport *t, struct tls_ctx *tls)
{
	tls_ctx_ref(tls);
	tls_ctx_unref(t->tls);
	t->tls = tls;
}

void transport_set_max_frame(struct transport *t, size_t max)
{
	/* The length prefix has 32 bits. */
	t->max_frame = max < UINT32_MAX ? max : UINT32_MAX;
}

void transport_set_handshake_timeout(struct transport *t, unsigned ms)
{
	t->handshake_ms = ms;
}

void transport_set_backoff(struct transport *t, unsigned min_ms,
			   unsigned max_ms)
{
	t->backoff_min_ms = min_ms > 0 ? min_ms : 1;
	t->backoff_max_ms = max_ms > min_ms ? max_ms : min_ms;
}

void transport_set_authorize(struct transport *t, transport_authorize_cb cb,
			     void *data)
{
	t->authorize = cb;
	t->authorize_data = data;
}

void transport_handle(struct transport *t, enum transport_channel ch,
		      transport_accept_cb cb, void *data)
{
	if (transport_channel_name(ch) == NULL)
		return;
	t->handlers[ch].cb = cb;
	t->handlers[ch].data = data;
}

int transport_port(const struct transport *t)
{
	return t->listening ? t->port : 0;
}

static void link_stop(struct transport_link *l);

void transport_close(struct transport *t, transport_close_cb cb, void *data)
{
	struct sw_err why;

	if (t->closing)
		return;
	t->closing = true;
	t->close_cb = cb;
	t->close_data = data;
	if (t->listening)
		uv_close((uv_handle_t *)&t->listener,
			 transport_handle_closed_cb);
	while (t->links != NULL)
		link_stop(t->links);
	sw_err_set(&why, SW_EUNAVAILABLE, "the node transport is closing");
	for (struct transport_conn *c = t->conns; c != NULL; c = c->next)
		conn_close(c, &why);
	uv_close((uv_handle_t *)&t->sentinel, transport_handle_closed_cb);
}

/* ---- addresses and sockets ---- */

/* Splits "host:port" or "[v6]:port". */
static int split_hostport(const char *addr, char *host, size_t cap, int *port,
			  struct sw_err *err)
{
	const char *colon = strrchr(addr, ':');
	const char *h = addr;
	size_t hlen;
	char *end;
	long p;

	if (colon == NULL)
		goto bad;
	hlen = (size_t)(colon - addr);
	if (hlen >= 2 && addr[0] == '[' && addr[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	p = strtol(colon + 1, &end, 10);
	if (hlen == 0 || hlen >= cap || *end != '\0' || end == colon + 1 ||
	    p <= 0 || p > 65535)
		goto bad;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (int)p;
	return 0;
bad:
	return sw_err_set(err, SW_EINVALID, "invalid address %s", addr);
}

static bool sockaddr_parse(const char *host, int port,
			   struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	return uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0 ||
	       uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0;
}

static void sockaddr_format(const struct sockaddr *sa, char *out, size_t cap)
{
	char ip[64] = "?";
	int port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		uv_ip4_name(in, ip, sizeof(ip));
		port = ntohs(in->sin_port);
		(void)snprintf(out, cap, "%s:%d", ip, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)sa;

		uv_ip6_name(in6, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
		(void)snprintf(out, cap, "[%s]:%d", ip, port);
	} else {
		(void)snprintf(out, cap, "?");
	}
}

/* Keepalive and a user timeout, so dead peers are noticed in seconds even
 * on connections we only write to (go-dqlite does the same). Best effort. */
static void socket_tune(uv_tcp_t *tcp)
{
	int intvl = KEEPALIVE_INTVL_S, cnt = KEEPALIVE_CNT;
	unsigned int user_timeout = USER_TIMEOUT_MS;
	uv_os_fd_t fd;

	(void)uv_tcp_nodelay(tcp, 1);
	(void)uv_tcp_keepalive(tcp, 1, KEEPALIVE_IDLE_S);
	if (uv_fileno((uv_handle_t *)tcp, &fd) != 0)
		return;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout,
			 sizeof(user_timeout));
}

/* ---- connection lifetime ---- */

static void conn_finish(struct transport_conn *c)
{
	struct transport *t = c->t;
	const struct sw_err *err = c->has_err ? &c->err : NULL;
	struct transport_dial_req *req = c->dial;
	struct transport_link *l = c->link;
	struct sw_err canceled;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		t->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (req != NULL) {
		req->conn = NULL;
		if (err == NULL) {
			sw_err_set(&canceled, SW_EUNAVAILABLE, "canceled");
			err = &canceled;
		}
		req->cb(req, NULL, -(int)err->kind, err);
	} else if (c->ops != NULL && c->ops->closed != NULL) {
		c->ops->closed(c, err);
	}
	if (l != NULL)
		link_conn_gone(l, err);
	buf_free(&c->in);
	free(c);
	t->open--;
	transport_maybe_done(t);
}

static void conn_maybe_finish(struct transport_conn *c)
{
	if (!c->tls_open && !c->timer_open && !c->gai_pending)
		conn_finish(c);
}

static void conn_tls_closed_cb(struct tls_conn *tc)
{
	struct transport_conn *c = CONTAINER_OF(tc, struct transport_conn, tls);

	c->tls_open = false;
	conn_maybe_finish(c);
}

static void conn_timer_closed_cb(uv_handle_t *h)
{
	struct transport_conn *c = h->data;

	c->timer_open = false;
	conn_maybe_finish(c);
}

/* Closes the connection; why (copied, may be NULL) is the first reason
 * given and reaches the owner's `closed` or the dial callback. */
static void conn_close(struct transport_conn *c, const struct sw_err *why)
{
	if (c->state == CONN_CLOSING)
		return;
	if (why != NULL && !c->has_err) {
		c->err = *why;
		c->has_err = true;
	}
	c->state = CONN_CLOSING;
	if (c->gai_pending)
		(void)uv_cancel((uv_req_t *)&c->gai);
	uv_close((uv_handle_t *)&c->timer, conn_timer_closed_cb);
	tls_conn_close(&c->tls, conn_tls_closed_cb);
}

static void conn_close_err(struct transport_conn *c, enum sw_errkind kind,
			   const char *msg)
{
	struct sw_err e;

	sw_err_set(&e, kind, "%s", msg);
	conn_close(c, &e);
}

static void conn_shutdown_cb(struct tls_conn *tc, int status)
{
	struct transport_conn *c = CONTAINER_OF(tc, struct transport_conn, tls);

	c->shut_done = true;
	if (c->close_when_shut)
		conn_close(c, NULL);
}

/* Sends close_notify once; shut_done tells when it is out. */
static void conn_shutdown(struct transport_conn *c)
{
	if (c->shut_sent)
		return;
	c->shut_sent = true;
	if (tls_conn_shutdown(&c->tls, conn_shutdown_cb) != 0)
		c->shut_done = true; /* nothing to wait for */
}

/* Both sides are done: close once our close_notify is out, so the peer
 * sees a clean end rather than a reset. */
static void conn_close_graceful(struct transport_conn *c)
{
	conn_shutdown(c);
	if (c->shut_done)
		conn_close(c, NULL);
	else
		c->close_when_shut = true;
}

static void conn_timeout_cb(uv_timer_t *h)
{
	struct transport_conn *c = h->data;

	if (c->state == CONN_LINGER) {
		conn_close(c, NULL);
		return;
	}
	conn_close_err(c, SW_EUNAVAILABLE,
		       c->outbound ? "timed out opening a connection"
				   : "timed out waiting for the peer to "
				     "name a channel");
}

static void conn_read_cb(struct tls_conn *tc, ssize_t nread, const char *buf);

static void conn_drain_cb(struct tls_conn *tc)
{
	struct transport_conn *c = CONTAINER_OF(tc, struct transport_conn, tls);

	if (c->state == CONN_OPEN && c->ops != NULL && c->ops->drain != NULL)
		c->ops->drain(c);
}

/* A new connection using the transport's current credentials. */
static struct transport_conn *conn_new(struct transport *t, enum tls_role role,
				       struct sw_err *err)
{
	struct transport_conn *c = xcalloc(1, sizeof(*c));

	if (tls_conn_init(&c->tls, t->loop, t->tls, role, err) != 0) {
		free(c);
		return NULL;
	}
	tls_conn_set_drain_cb(&c->tls, conn_drain_cb);
	uv_timer_init(t->loop, &c->timer);
	c->timer.data = c;
	c->connect.data = c;
	c->gai.data = c;
	c->tls_open = c->timer_open = true;
	c->t = t;
	c->outbound = role == TLS_CLIENT;
	buf_init(&c->in);
	c->next = t->conns;
	if (t->conns != NULL)
		t->conns->prev = c;
	t->conns = c;
	t->open++;
	uv_timer_start(&c->timer, conn_timeout_cb, t->handshake_ms, 0);
	return c;
}

/* ---- frames ---- */

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int frame_write(struct transport_conn *c, const void *p, size_t len,
		       struct sw_err *err)
{
	unsigned char hdr[HDR_LEN];
	uv_buf_t bufs[2];

	put_be32(hdr, (uint32_t)len);
	bufs[0] = uv_buf_init((char *)hdr, HDR_LEN);
	bufs[1] = uv_buf_init((char *)p, (unsigned int)len);
	return tls_conn_writev(&c->tls, bufs, len > 0 ? 2 : 1, err);
}

/* The listener's reply to a channel name: a zero byte, or an error kind
 * and the message. */
static int reply_write(struct transport_conn *c, const struct sw_err *why,
		       struct sw_err *err)
{
	char out[1 + sizeof(why->msg)];
	size_t n = 1;

	out[0] = 0;
	if (why != NULL) {
		out[0] = (char)why->kind;
		n += strlen(why->msg);
		memcpy(out + 1, why->msg, n - 1);
	}
	return frame_write(c, out, n, err);
}

static size_t frame_limit(const struct transport_conn *c)
{
	switch (c->state) {
	case CONN_AWAIT_NAME:
		return CHANNEL_FRAME_MAX;
	case CONN_AWAIT_REPLY:
		return REPLY_FRAME_MAX;
	default:
		break;
	}
	if (tls_conn_peer(&c->tls) == NULL &&
	    c->t->max_frame > TRANSPORT_UNAUTH_FRAME_MAX)
		return TRANSPORT_UNAUTH_FRAME_MAX;
	return c->t->max_frame;
}

/* Which channels a peer may open, from its certificate alone. */
static int channel_check(enum transport_channel ch,
			 const struct ca_identity *peer, struct sw_err *err)
{
	const char *name = transport_channel_name(ch);

	if (ch == TRANSPORT_JOIN)
		return 0;
	if (peer == NULL)
		return sw_err_set(err, SW_EUNAUTHORIZED,
				  "channel %s requires a node certificate",
				  name);
	if ((ch == TRANSPORT_RAFT || ch == TRANSPORT_FORWARD) &&
	    peer->role != CA_ROLE_MANAGER)
		return sw_err_set(err, SW_EFORBIDDEN,
				  "channel %s is for managers only", name);
	return 0;
}

/* Refuses the channel: the reply says why, then we wait for the peer to
 * hang up (bounded by the linger timer). */
static void conn_refuse(struct transport_conn *c, const struct sw_err *why)
{
	struct sw_err e;

	log_debug("node transport: refusing %s: %s", c->remote, why->msg);
	if (reply_write(c, why, &e) != 0) {
		conn_close(c, why);
		return;
	}
	conn_shutdown(c);
	c->state = CONN_LINGER;
	uv_timer_start(&c->timer, conn_timeout_cb, LINGER_MS, 0);
}

static int conn_admit(struct transport_conn *c, enum transport_channel ch,
		      struct sw_err *err)
{
	struct transport *t = c->t;
	const struct ca_identity *peer = tls_conn_peer(&c->tls);

	if (ch == 0)
		return sw_err_set(err, SW_EINVALID, "unknown channel");
	if (t->handlers[ch].cb == NULL)
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "channel %s is not served by this node",
				  transport_channel_name(ch));
	if (channel_check(ch, peer, err) != 0)
		return -(int)err->kind;
	if (t->authorize != NULL &&
	    t->authorize(t->authorize_data, peer, ch, err) != 0)
		return -(int)err->kind;
	return 0;
}

static void conn_on_name(struct transport_conn *c, const char *p, size_t len)
{
	enum transport_channel ch = channel_parse(p, len);
	struct handler *h;
	struct sw_err err;

	if (conn_admit(c, ch, &err) != 0) {
		conn_refuse(c, &err);
		return;
	}
	if (reply_write(c, NULL, &err) != 0) {
		conn_close(c, &err);
		return;
	}
	c->channel = ch;
	c->state = CONN_OPEN;
	uv_timer_stop(&c->timer);
	h = &c->t->handlers[ch];
	h->cb(c->t, c, h->data);
	if (c->state == CONN_OPEN && c->ops == NULL)
		conn_close(c, NULL);
}

static void conn_on_reply(struct transport_conn *c, const unsigned char *p,
			  size_t len)
{
	struct transport_dial_req *req = c->dial;
	struct sw_err err;

	if (len < 1) {
		conn_close_err(c, SW_EINVALID, "malformed channel reply");
		return;
	}
	if (p[0] != 0) {
		enum sw_errkind kind = p[0] <= SW_ESYSTEM ? p[0] : SW_ESYSTEM;

		sw_err_set(&err, kind, "%.*s", (int)(len - 1),
			   (const char *)p + 1);
		conn_close(c, &err);
		return;
	}
	c->state = CONN_OPEN;
	uv_timer_stop(&c->timer);
	c->dial = NULL;
	req->conn = NULL;
	req->cb(req, c, 0, NULL);
	if (c->state == CONN_OPEN && c->ops == NULL)
		conn_close(c, NULL);
}

static void conn_on_frame(struct transport_conn *c, const unsigned char *p,
			  size_t len)
{
	switch (c->state) {
	case CONN_AWAIT_NAME:
		conn_on_name(c, (const char *)p, len);
		break;
	case CONN_AWAIT_REPLY:
		conn_on_reply(c, p, len);
		break;
	case CONN_OPEN:
		if (c->ops->frame != NULL)
			c->ops->frame(c, p, len);
		break;
	default:
		break; /* lingering or closing: ignore */
	}
}

static void conn_consume(struct transport_conn *c, size_t off)
{
	if (off == 0)
		return;
	if (off < c->in.len) {
		memmove(c->in.data, c->in.data + off, c->in.len - off);
		c->in.len -= off;
		c->in.data[c->in.len] = '\0';
	} else if (c->in.cap > BUF_SHRINK) {
		buf_free(&c->in);
	} else {
		c->in.len = 0;
	}
}

/* Delivers whole frames (or raw bytes) from the input buffer until it runs
 * dry, the owner pauses, or the connection closes. */
static void conn_process(struct transport_conn *c)
{
	const unsigned char *d = (const unsigned char *)c->in.data;
	size_t off = 0;

	while (c->state != CONN_CLOSING && !c->paused && off < c->in.len) {
		size_t avail = c->in.len - off;
		uint32_t len;

		if (c->raw) {
			c->ops->raw(c, d + off, avail);
			off = c->in.len;
			break;
		}
		if (avail < HDR_LEN)
			break;
		len = get_be32(d + off);
		if (len > frame_limit(c)) {
			struct sw_err e;

			sw_err_set(&e, SW_ETOOLARGE,
				   "frame of %u bytes exceeds the limit of %zu",
				   len, frame_limit(c));
			conn_close(c, &e);
			break;
		}
		if (avail - HDR_LEN < len)
			break;
		off += HDR_LEN + len;
		conn_on_frame(c, d + off - len, len);
	}
	conn_consume(c, off);
}

static void conn_on_eof(struct transport_conn *c)
{
	if (c->state == CONN_LINGER) {
		conn_close(c, NULL);
		return;
	}
	if (c->state != CONN_OPEN) {
		conn_close_err(c, SW_EUNAVAILABLE,
			       "connection closed by the peer");
		return;
	}
	if (!c->raw && c->in.len > 0) {
		conn_close_err(c, SW_EINVALID,
			       "connection closed in the middle of a frame");
		return;
	}
	if (c->ops->eof != NULL)
		c->ops->eof(c);
	else
		conn_close_graceful(c);
}

static void conn_read_cb(struct tls_conn *tc, ssize_t nread, const char *buf)
{
	struct transport_conn *c = CONTAINER_OF(tc, struct transport_conn, tls);

	if (c->state == CONN_CLOSING)
		return;
	if (nread == TLS_EOF) {
		conn_on_eof(c);
		return;
	}
	if (nread < 0) {
		conn_close(c, tls_conn_err(tc));
		return;
	}
	if (nread == 0) {
		conn_process(c);
		return;
	}
	/* Raw bytes with nothing queued before them skip the copy. */
	if (c->raw && !c->paused && c->in.len == 0) {
		c->ops->raw(c, buf, (size_t)nread);
		return;
	}
	buf_append(&c->in, buf, (size_t)nread);
	conn_process(c);
}

/* ---- accepting ---- */

static void server_handshake_cb(struct tls_conn *tc, int status)
{
	struct transport_conn *c = CONTAINER_OF(tc, struct transport_conn, tls);

	if (status != 0) {
		log_debug("node transport: handshake with %s failed: %s",
			  c->remote, tls_conn_err(tc)->msg);
		conn_close(c, tls_conn_err(tc));
	}
	/* Otherwise wait for the channel name, under the same deadline. */
}

static void peer_name(struct transport_conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	if (uv_tcp_getpeername(tls_conn_tcp(&c->tls), (struct sockaddr *)&ss,
			       &len) == 0)
		sockaddr_format((struct sockaddr *)&ss, c->remote,
				sizeof(c->remote));
	else
		(void)snprintf(c->remote, sizeof(c->remote), "?");
}

static void accept_cb(uv_stream_t *server, int status)
{
	struct transport *t = server->data;
	struct transport_conn *c;
	struct sw_err err;

	if (t->closing)
		return;
	if (status != 0) {
		log_warn("node transport: accept: %s", uv_strerror(status));
		return;
	}
	c = conn_new(t, TLS_SERVER, &err);
	if (c == NULL) {
		log_warn("node transport: %s", err.msg);
		return;
	}
	c->state = CONN_AWAIT_NAME;
	if (uv_accept(server, (uv_stream_t *)tls_conn_tcp(&c->tls)) != 0) {
		conn_close(c, NULL);
		return;
	}
	socket_tune(tls_conn_tcp(&c->tls));
	peer_name(c);
	if (tls_conn_start(&c->tls, server_handshake_cb, conn_read_cb, &err) !=
	    0)
		conn_close(c, &err);
}

int transport_listen(struct transport *t, const char *host, int port,
		     struct sw_err *err)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	int rc;

	if (t->listen_used || t->closing)
		return sw_err_set(err, SW_EINVALID,
				  "the node transport listens only once");
	if (!sockaddr_parse(host, port, &ss))
		return sw_err_set(err, SW_EINVALID, "invalid listen address %s",
				  host);
	uv_tcp_init(t->loop, &t->listener);
	t->listener.data = t;
	t->listen_used = t->listening = true;
	t->open++;
	rc = uv_tcp_bind(&t->listener, (struct sockaddr *)&ss, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&t->listener, 128, accept_cb);
	if (rc != 0) {
		uv_close((uv_handle_t *)&t->listener,
			 transport_handle_closed_cb);
		t->listening = false;
		return sw_err_set(err, SW_ESYSTEM, "listen tcp %s:%d: bind: %s",
				  host, port, uv_strerror(rc));
	}
	if (uv_tcp_getsockname(&t->listener, (struct sockaddr *)&ss, &len) == 0)
		t->port = ntohs(ss.ss_family == AF_INET6
				    ? ((struct sockaddr_in6 *)&ss)->sin6_port
				    : ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

/* ---- dialing ---- */

static void client_handshake_cb(struct tls_conn *tc, int status)
{
	struct transport_conn *c = CONTAINER_OF(tc, struct transport_conn, tls);
	const struct ca_identity *peer = tls_conn_peer(tc);
	const char *name = transport_channel_name(c->channel);
	struct sw_err err;

	if (status != 0) {
		conn_close(c, tls_conn_err(tc));
		return;
	}
	if (peer == NULL || peer->role != CA_ROLE_MANAGER) {
		sw_err_set(&err, SW_EFORBIDDEN, "%s is not a swarm manager",
			   c->remote);
		conn_close(c, &err);
		return;
	}
	if (frame_write(c, name, strlen(name), &err) != 0) {
		conn_close(c, &err);
		return;
	}
	c->state = CONN_AWAIT_REPLY;
}

static void connect_cb(uv_connect_t *req, int status)
{
	struct transport_conn *c = req->data;
	struct sw_err err;

	if (c->state == CONN_CLOSING)
		return;
	if (status != 0) {
		sw_err_set(&err, SW_EUNAVAILABLE, "dial tcp %s: connect: %s",
			   c->remote, uv_strerror(status));
		conn_close(c, &err);
		return;
	}
	socket_tune(tls_conn_tcp(&c->tls));
	if (tls_conn_start(&c->tls, client_handshake_cb, conn_read_cb, &err) !=
	    0)
		conn_close(c, &err);
}

static int conn_connect(struct transport_conn *c, const struct sockaddr *sa,
			struct sw_err *err)
{
	int rc =
	    uv_tcp_connect(&c->connect, tls_conn_tcp(&c->tls), sa, connect_cb);

	if (rc != 0)
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "dial tcp %s: connect: %s", c->remote,
				  uv_strerror(rc));
	return 0;
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct transport_conn *c = req->data;
	struct addrinfo *ai;
	struct sw_err err;

	c->gai_pending = false;
	if (c->state == CONN_CLOSING) {
		uv_freeaddrinfo(res);
		conn_maybe_finish(c);
		return;
	}
	if (status != 0 || res == NULL) {
		sw_err_set(&err, SW_EUNAVAILABLE, "dial tcp %s: lookup: %s",
			   c->remote, uv_strerror(status));
		uv_freeaddrinfo(res);
		conn_close(c, &err);
		return;
	}
	ai = res;
	/* Swarm addresses are IPv4 first, as Docker's are. */
	for (struct addrinfo *a = res; a != NULL; a = a->ai_next)
		if (a->ai_family == AF_INET) {
			ai = a;
			break;
		}
	if (ai->ai_family == AF_INET)
		((struct sockaddr_in *)ai->ai_addr)->sin_port =
		    htons((uint16_t)c->port);
	else if (ai->ai_family == AF_INET6)
		((struct sockaddr_in6 *)ai->ai_addr)->sin6_port =
		    htons((uint16_t)c->port);
	if (conn_connect(c, ai->ai_addr, &err) != 0)
		conn_close(c, &err);
	uv_freeaddrinfo(res);
}

/* Starts resolving or connecting; a failure here is the caller's. */
static int conn_dial(struct transport_conn *c, const char *host,
		     struct sw_err *err)
{
	struct sockaddr_storage ss;
	struct addrinfo hints;
	int rc;

	if (sockaddr_parse(host, c->port, &ss))
		return conn_connect(c, (struct sockaddr *)&ss, err);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = uv_getaddrinfo(c->t->loop, &c->gai, gai_cb, host, NULL, &hints);
	if (rc != 0)
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "dial tcp %s: lookup: %s", c->remote,
				  uv_strerror(rc));
	c->gai_pending = true;
	return 0;
}

int transport_dial(struct transport *t, struct transport_dial_req *req,
		   const char *address, enum transport_channel ch,
		   transport_dial_cb cb, struct sw_err *err)
{
	char host[ADDR_MAX];
	struct transport_conn *c;
	int port = 0;

	if (t->closing)
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "the node transport is closing");
	if (transport_channel_name(ch) == NULL)
		return sw_err_set(err, SW_EINVALID, "unknown channel");
	if (split_hostport(address, host, sizeof(host), &port, err) != 0)
		return -(int)err->kind;
	c = conn_new(t, TLS_CLIENT, err);
	if (c == NULL)
		return -(int)err->kind;
	c->state = CONN_DIALING;
	c->channel = ch;
	c->port = port;
	(void)snprintf(c->remote, sizeof(c->remote), "%s", address);
	if (conn_dial(c, host, err) != 0) {
		/* The caller hears of it now, so the callback must not fire. */
		conn_close(c, NULL);
		return -(int)err->kind;
	}
	req->conn = c;
	req->cb = cb;
	c->dial = req;
	return 0;
}

void transport_dial_cancel(struct transport_dial_req *req)
{
	struct sw_err err;

	if (req->conn == NULL)
		return;
	sw_err_set(&err, SW_EUNAVAILABLE, "canceled");
	conn_close(req->conn, &err);
}

/* ---- links ---- */

static void link_maybe_free(struct transport_link *l)
{
	struct transport *t = l->t;

	if (!l->stopped || l->dialing || l->timer_open)
		return;
	free(l->address);
	free(l);
	t->open--;
	transport_maybe_done(t);
}

static void link_timer_closed_cb(uv_handle_t *h)
{
	struct transport_link *l = h->data;

	l->timer_open = false;
	link_maybe_free(l);
}

static unsigned link_backoff(struct transport_link *l)
{
	const struct transport *t = l->t;
	unsigned delay = t->backoff_min_ms;
	unsigned i;

	for (i = 0; i < l->attempts && delay < t->backoff_max_ms; i++)
		delay *= 2;
	if (delay > t->backoff_max_ms)
		delay = t->backoff_max_ms;
	l->attempts++;
	/* Up to a quarter of jitter, so restarted peers are not stormed in
	 * lockstep. */
	return delay + (unsigned)(uv_hrtime() % (delay / 4 + 1));
}

static void link_retry_cb(uv_timer_t *h)
{
	struct transport_link *l = h->data;
	struct sw_err err;

	if (transport_dial(l->t, &l->dial, l->address, l->ch, link_dial_cb,
			   &err) == 0) {
		l->dialing = true;
		return;
	}
	l->ops->down(l, &err);
	if (!l->stopped)
		uv_timer_start(&l->retry, link_retry_cb, link_backoff(l), 0);
}

static void link_dial_cb(struct transport_dial_req *req,
			 struct transport_conn *c, int status,
			 const struct sw_err *err)
{
	struct transport_link *l = req->data;

	l->dialing = false;
	if (l->stopped) {
		if (c != NULL)
			transport_conn_close(c);
		link_maybe_free(l);
		return;
	}
	if (status != 0) {
		l->ops->down(l, err);
		if (!l->stopped)
			uv_timer_start(&l->retry, link_retry_cb,
				       link_backoff(l), 0);
		return;
	}
	l->attempts = 0;
	l->conn = c;
	c->link = l;
	l->ops->up(l, c);
}

static void link_conn_gone(struct transport_link *l, const struct sw_err *err)
{
	l->conn = NULL;
	if (l->stopped)
		return;
	l->ops->down(l, err);
	if (!l->stopped)
		uv_timer_start(&l->retry, link_retry_cb, link_backoff(l), 0);
}

struct transport_link *transport_link_new(struct transport *t,
					  const char *address,
					  enum transport_channel ch,
					  const struct transport_link_ops *ops,
					  void *data, struct sw_err *err)
{
	char host[ADDR_MAX];
	struct transport_link *l;
	int port;

	if (t->closing) {
		sw_err_set(err, SW_EUNAVAILABLE,
			   "the node transport is closing");
		return NULL;
	}
	if (split_hostport(address, host, sizeof(host), &port, err) != 0)
		return NULL;
	l = xcalloc(1, sizeof(*l));
	l->t = t;
	l->address = xstrdup(address);
	l->ch = ch;
	l->ops = ops;
	l->data = data;
	l->dial.data = l;
	uv_timer_init(t->loop, &l->retry);
	l->retry.data = l;
	l->timer_open = true;
	l->next = t->links;
	if (t->links != NULL)
		t->links->prev = l;
	t->links = l;
	t->open++;
	uv_timer_start(&l->retry, link_retry_cb, 0, 0);
	return l;
}

void *transport_link_data(const struct transport_link *l)
{
	return l->data;
}

static void link_stop(struct transport_link *l)
{
	struct transport *t = l->t;

	if (l->stopped)
		return;
	l->stopped = true;
	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		t->links = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	if (l->dialing)
		transport_dial_cancel(&l->dial);
	if (l->conn != NULL) {
		l->conn->link = NULL;
		transport_conn_close(l->conn);
		l->conn = NULL;
	}
	uv_close((uv_handle_t *)&l->retry, link_timer_closed_cb);
}

void transport_link_free(struct transport_link *l)
{
	link_stop(l);
}

/* ---- connections ---- */

void transport_conn_set_ops(struct transport_conn *c,
			    const struct transport_conn_ops *ops, void *data)
{
	c->ops = ops;
	c->data = data;
}

void *transport_conn_data(const struct transport_conn *c)
{
	return c->data;
}

enum transport_channel transport_conn_channel(const struct transport_conn *c)
{
	return c->channel;
}

const struct ca_identity *transport_conn_peer(const struct transport_conn *c)
{
	return tls_conn_peer(&c->tls);
}

const struct ca_root *transport_conn_pinned_root(const struct transport_conn *c)
{
	return tls_conn_pinned_root(&c->tls);
}

const char *transport_conn_remote(const struct transport_conn *c)
{
	return c->remote;
}

static int conn_writable_check(const struct transport_conn *c, bool raw,
			       size_t len, struct sw_err *err)
{
	if (c->state != CONN_OPEN)
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "the connection is closed");
	if (c->raw != raw)
		return sw_err_set(err, SW_EINVALID,
				  raw ? "the connection is not in raw mode"
				      : "the connection is in raw mode");
	if (!raw && len > c->t->max_frame)
		return sw_err_set(err, SW_ETOOLARGE,
				  "frame of %zu bytes exceeds the limit of %zu",
				  len, c->t->max_frame);
	return 0;
}

int transport_conn_send(struct transport_conn *c, const void *payload,
			size_t len, struct sw_err *err)
{
	if (conn_writable_check(c, false, len, err) != 0)
		return -(int)err->kind;
	return frame_write(c, payload, len, err);
}

int transport_conn_set_raw(struct transport_conn *c, struct sw_err *err)
{
	if (c->state != CONN_OPEN)
		return sw_err_set(err, SW_EINVALID,
				  "the connection is not open");
	if (c->ops == NULL || c->ops->raw == NULL)
		return sw_err_set(err, SW_EINVALID,
				  "raw mode needs a raw callback");
	c->raw = true;
	return 0;
}

int transport_conn_write_raw(struct transport_conn *c, const void *bytes,
			     size_t len, struct sw_err *err)
{
	if (conn_writable_check(c, true, len, err) != 0)
		return -(int)err->kind;
	return tls_conn_write(&c->tls, bytes, len, err);
}

bool transport_conn_writable(const struct transport_conn *c)
{
	return tls_conn_writable(&c->tls);
}

void transport_conn_pause(struct transport_conn *c)
{
	c->paused = true;
	tls_conn_read_stop(&c->tls);
}

void transport_conn_resume(struct transport_conn *c)
{
	if (!c->paused)
		return;
	c->paused = false;
	/* The kick's empty read runs conn_process on what is buffered. */
	tls_conn_read_start(&c->tls);
}

void transport_conn_shutdown(struct transport_conn *c)
{
	if (c->state == CONN_OPEN)
		conn_shutdown(c);
}

void transport_conn_close(struct transport_conn *c)
{
	conn_close(c, NULL);
}
