/* The node transport: one TCP listener per node (:2377 by default) and
 * outbound dials, all mutual TLS (tls.h), all on the caller's loop.
 *
 * Connections carry one channel each. After the TLS handshake the dialer
 * sends a first frame naming the channel ("raft", "dispatch", "join",
 * "forward", "logs") and the listener answers with a reply frame: accepted,
 * or refused with an error kind and message, after which it closes. From
 * then on the connection belongs to the channel's owner, who exchanges
 * frames with it or switches it to raw bytes (the raft bridge).
 *
 * Frames are a 4-byte big-endian length and the payload. Sizes are bounded
 * before anything is buffered: TRANSPORT_FRAME_MAX by default (settable),
 * and TRANSPORT_UNAUTH_FRAME_MAX for a peer without a certificate.
 *
 * Authorization comes only from the peer's verified certificate: its role
 * (OU swarm-manager / swarm-worker) and node ID (CN). Every server must be
 * a manager. A client must present a certificate for every channel except
 * join; raft and forward also need the manager role. The owner can refuse
 * more (removed nodes) with an authorize callback.
 *
 * Lifetimes: the transport owns its connections. A connection handed to the
 * owner (accept or dial callback, link up) reports `closed` exactly once,
 * after which the pointer is dead. transport_close closes the listener,
 * every link, dial and connection, and calls back once every handle is
 * closed. */
#ifndef SW_ORCH_TRANSPORT_H
#define SW_ORCH_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "lib/err.h"
#include "orchestrator/ca.h"
#include "orchestrator/tls.h"

enum transport_channel {
	TRANSPORT_RAFT = 1,
	TRANSPORT_DISPATCH = 2,
	TRANSPORT_JOIN = 3,
	TRANSPORT_FORWARD = 4,
	TRANSPORT_LOGS = 5,
};

enum {
	TRANSPORT_CHANNELS = 6, /* one past the last channel */
	TRANSPORT_FRAME_MAX = 16 * 1024 * 1024,
	TRANSPORT_UNAUTH_FRAME_MAX = 64 * 1024,
	TRANSPORT_HANDSHAKE_MS = 10000, /* dial or accept to channel open */
	TRANSPORT_BACKOFF_MIN_MS = 100,
	TRANSPORT_BACKOFF_MAX_MS = 10000,
};

struct transport;
struct transport_conn;
struct transport_link;

/* What a connection tells its owner. Callbacks fire from the loop; any of
 * them may send, pause, shut down or close the connection. */
struct transport_conn_ops {
	/* A whole frame; payload is borrowed for the call. */
	void (*frame)(struct transport_conn *c, const void *payload,
		      size_t len);
	/* Bytes in raw mode (transport_conn_set_raw); borrowed. */
	void (*raw)(struct transport_conn *c, const void *bytes, size_t len);
	/* The peer finished sending (TLS close_notify). NULL: close. */
	void (*eof)(struct transport_conn *c);
	/* Writable again after transport_conn_writable() turned false. */
	void (*drain)(struct transport_conn *c);
	/* Last call: the connection is gone. err is NULL after a clean close
	 * (ours or the peer's), else why; borrowed for the call. */
	void (*closed)(struct transport_conn *c, const struct sw_err *err);
};

/* A connection on channel ch was accepted. Set its ops (required) before
 * returning; err NULL. */
typedef void (*transport_accept_cb)(struct transport *t,
				    struct transport_conn *c, void *data);

/* Extra admission check for inbound channels, after the built-in ones.
 * peer is NULL for a client without a certificate (join only). Return 0,
 * or -kind with err set to refuse; the message reaches the dialer. */
typedef int (*transport_authorize_cb)(void *data,
				      const struct ca_identity *peer,
				      enum transport_channel ch,
				      struct sw_err *err);

typedef void (*transport_close_cb)(void *data);

/* "raft", "dispatch", ...; NULL for an unknown value. */
const char *transport_channel_name(enum transport_channel ch);

/* Creates a transport presenting tls (a reference is taken). Nothing
 * listens until transport_listen. Returns NULL with err set only if libuv
 * fails. transport_close is the only way out. */
struct transport *transport_init(uv_loop_t *loop, struct tls_ctx *tls,
				 struct sw_err *err);

/* Replaces the credentials for connections made from now on (certificate
 * renewal, or a joined node's first certificate); existing ones keep
 * theirs. Takes a reference on tls. */
void transport_set_tls(struct transport *t, struct tls_ctx *tls);

void transport_set_max_frame(struct transport *t, size_t max);
void transport_set_handshake_timeout(struct transport *t, unsigned ms);
void transport_set_backoff(struct transport *t, unsigned min_ms,
			   unsigned max_ms);
void transport_set_authorize(struct transport *t, transport_authorize_cb cb,
			     void *data);

/* Routes inbound connections on ch to cb; NULL cb stops serving ch (new
 * connections are refused, existing ones are untouched). */
void transport_handle(struct transport *t, enum transport_channel ch,
		      transport_accept_cb cb, void *data);

/* Binds host (an IPv4 or IPv6 literal) and port (0: any free port) and
 * starts accepting. Returns 0, or -kind with err set (SYSTEM, e.g. "listen
 * tcp 0.0.0.0:2377: bind: address already in use"). At most once. */
int transport_listen(struct transport *t, const char *host, int port,
		     struct sw_err *err);

/* The bound port, or 0 when not listening. */
int transport_port(const struct transport *t);

/* Closes everything; cb(data) fires from the loop once every handle is
 * closed, then t is freed. Owners' `closed` callbacks (err UNAVAILABLE)
 * and failing dial callbacks fire before cb. Idempotent. */
void transport_close(struct transport *t, transport_close_cb cb, void *data);

/* ---- dialing ---- */

struct transport_dial_req;

/* status 0: c is open on the requested channel and now the caller's: set
 * its ops before returning; err NULL. Otherwise status is -kind, c NULL
 * and err (borrowed) says why; everything is released already. */
typedef void (*transport_dial_cb)(struct transport_dial_req *req,
				  struct transport_conn *c, int status,
				  const struct sw_err *err);

/* Caller-allocated, alive until its callback; set data. */
struct transport_dial_req {
	void *data;
	/* private */
	struct transport_conn *conn;
	transport_dial_cb cb;
};

/* Connects to address ("host:port"; host an IP literal or a name,
 * resolved asynchronously; "[v6]:port"), runs the handshake, checks the
 * server is a manager, and opens channel ch. Returns 0 and cb fires once,
 * later; or -kind with err set (INVALID address, UNAVAILABLE while
 * closing) and cb never fires. Timeout: the handshake timeout. */
int transport_dial(struct transport *t, struct transport_dial_req *req,
		   const char *address, enum transport_channel ch,
		   transport_dial_cb cb, struct sw_err *err);

/* Abandons a pending dial: its callback fires with UNAVAILABLE
 * ("canceled"). No-op once the callback has fired. */
void transport_dial_cancel(struct transport_dial_req *req);

/* ---- links: a connection kept up with reconnects ---- */

struct transport_link_ops {
	/* A new connection is open; set its ops before returning. Its
	 * `closed` callback fires before the link's next `down`. */
	void (*up)(struct transport_link *l, struct transport_conn *c);
	/* A dial failed (err set) or the connection went away (err NULL if
	 * cleanly). The link redials after an exponential backoff (reset by
	 * every successful open). */
	void (*down)(struct transport_link *l, const struct sw_err *err);
};

/* Keeps a connection to address on channel ch. ops is borrowed until
 * transport_link_free. The first dial starts from the loop. Returns the
 * link, or NULL with err set (INVALID address, UNAVAILABLE while closing). */
struct transport_link *transport_link_new(struct transport *t,
					  const char *address,
					  enum transport_channel ch,
					  const struct transport_link_ops *ops,
					  void *data, struct sw_err *err);

void *transport_link_data(const struct transport_link *l);

/* Stops the link: no up/down after this call. A current connection is
 * closed (its `closed` still fires); memory is released from the loop. */
void transport_link_free(struct transport_link *l);

/* ---- connections ---- */

void transport_conn_set_ops(struct transport_conn *c,
			    const struct transport_conn_ops *ops, void *data);
void *transport_conn_data(const struct transport_conn *c);
enum transport_channel transport_conn_channel(const struct transport_conn *c);

/* The peer's identity from its verified certificate; NULL for a client
 * without one (join). Borrowed until `closed`. */
const struct ca_identity *transport_conn_peer(const struct transport_conn *c);

/* On a pinned (joining) dial: the manager's root CA, borrowed until
 * `closed`. NULL otherwise. */
const struct ca_root *
transport_conn_pinned_root(const struct transport_conn *c);

/* "ip:port" of the peer (for logs); borrowed. */
const char *transport_conn_remote(const struct transport_conn *c);

/* Sends one frame (payload copied). Returns 0, or -kind with err set:
 * TOO_LARGE above the frame limit, INVALID in raw mode, UNAVAILABLE when
 * closed or the write backlog is full (see transport_conn_writable). */
int transport_conn_send(struct transport_conn *c, const void *payload,
			size_t len, struct sw_err *err);

/* Switches to raw bytes both ways, for protocols with their own framing.
 * Call it from a frame, accept or dial callback: bytes already received
 * after the current frame are delivered to ops->raw once that callback
 * returns. Returns 0 or INVALID when not open. */
int transport_conn_set_raw(struct transport_conn *c, struct sw_err *err);

/* Sends raw bytes (copied); same errors as transport_conn_send. */
int transport_conn_write_raw(struct transport_conn *c, const void *bytes,
			     size_t len, struct sw_err *err);

/* Whether the write backlog is small enough to keep producing; when false,
 * wait for ops->drain. */
bool transport_conn_writable(const struct transport_conn *c);

/* Stops delivering frames (or raw bytes) until resume; the peer is held
 * back by TCP flow control. Buffered frames are delivered after resume,
 * from the loop. */
void transport_conn_pause(struct transport_conn *c);
void transport_conn_resume(struct transport_conn *c);

/* Finishes sending: queued data, then TLS close_notify and a TCP
 * half-close. Frames keep arriving until the peer's EOF. */
void transport_conn_shutdown(struct transport_conn *c);

/* Closes now, dropping queued data; `closed` fires later with err NULL. */
void transport_conn_close(struct transport_conn *c);

#endif
