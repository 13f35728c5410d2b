/* TLS sessions over libuv TCP streams, for the node transport (:2377).
 *
 * OpenSSL never touches the socket: it reads ciphertext from one memory BIO
 * that we fill from uv_read, and writes ciphertext into another that we
 * drain into uv_write. Everything runs on the caller's loop.
 *
 * Two kinds of credentials (struct tls_ctx):
 * - node credentials: the cluster root as trust anchor plus, usually, this
 *   node's certificate and key. Both ends verify the peer's chain against
 *   the root during the handshake (mutual TLS). A server asks for a client
 *   certificate but does not require one, so a joining node can still reach
 *   the join channel; the transport decides which channels need one.
 * - a pinned context for a joining node, which has no certificate and no
 *   root yet: it accepts the server's chain during the handshake, then
 *   finds the self-signed root in it, checks that the SHA-256 of that root's
 *   PEM is the digest from the join token, and verifies the server's leaf
 *   against it before any application byte is sent. The pinned root is then
 *   available to the joiner (tls_conn_pinned_root). Servers send the root in
 *   their chain for this reason.
 *
 * Protocol: TLS 1.2 or 1.3 (1.3 preferred), ECDHE only, no compression, no
 * renegotiation, no session tickets or resumption.
 *
 * Invariants: a peer identity is only ever read from a certificate whose
 * chain verified; every fatal error is reported exactly once, from the loop,
 * never from inside a tls_conn_* call. OpenSSL's per-thread error queue is
 * cleared before each SSL call and drained into struct sw_err. */
#ifndef SW_ORCH_TLS_H
#define SW_ORCH_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/types.h>
#include <uv.h>

#include "lib/err.h"
#include "orchestrator/ca.h"

enum {
	TLS_EOF = -4095,             /* read_cb: the peer sent close_notify */
	TLS_HIGH_WATER = 256 * 1024, /* queued ciphertext above: not writable */
	TLS_LOW_WATER = 64 * 1024,   /* drained below: drain_cb fires */
	TLS_MAX_QUEUE = 8 * 1024 * 1024, /* writes refused above this backlog */
};

enum tls_role {
	TLS_SERVER = 1,
	TLS_CLIENT = 2,
};

/* Credentials and settings shared by many sessions. Reference counted:
 * each session holds a reference, so a context can be replaced (certificate
 * renewal) while old sessions live on. Opaque. */
struct tls_ctx;

/* Node credentials: trust `root` (borrowed; its certificate is copied) and
 * present kp's certificate and key (borrowed; NULL: present none, client
 * side only). kp must hold an issued certificate. Returns a context with one
 * reference, or NULL with err set (INVALID for unusable credentials, SYSTEM
 * when OpenSSL fails). */
struct tls_ctx *tls_ctx_new(const struct ca_root *root,
			    const struct ca_keypair *kp, struct sw_err *err);

/* A client-only context for joining: no certificate, trust pinned to the
 * root whose PEM hashes to digest (CA_DIGEST_LEN bytes, copied), as a join
 * token carries it. Returns a context with one reference, or NULL with err
 * set (SYSTEM). */
struct tls_ctx *tls_ctx_new_pinned(const unsigned char *digest,
				   struct sw_err *err);

/* Whether the context is a pinned (joining) one. */
bool tls_ctx_is_pinned(const struct tls_ctx *ctx);

void tls_ctx_ref(struct tls_ctx *ctx);
/* Drops a reference; the last one frees the context. NULL is a no-op. */
void tls_ctx_unref(struct tls_ctx *ctx);

struct tls_conn;

/* status 0: the handshake completed and the peer checked out (see
 * tls_conn_peer); otherwise -kind with tls_conn_err() set. Fires at most
 * once. On failure the session is dead: close it. */
typedef void (*tls_handshake_cb)(struct tls_conn *c, int status);

/* nread > 0: plaintext in buf (borrowed for the call). nread == 0: nothing
 * new (e.g. after tls_conn_read_start); ignore it, as with libuv. TLS_EOF:
 * the peer finished sending (close_notify), after all its data; writing may
 * go on. Other negative values are -kind with tls_conn_err() set: the
 * session is dead, close it. Errors are reported even while reading is
 * paused; EOF only once the buffered data was delivered. */
typedef void (*tls_read_cb)(struct tls_conn *c, ssize_t nread, const char *buf);

/* The write backlog fell below TLS_LOW_WATER after having been above
 * TLS_HIGH_WATER. */
typedef void (*tls_drain_cb)(struct tls_conn *c);

/* status 0: close_notify and everything queued before it were written and
 * the TCP stream is half-closed; -kind otherwise. */
typedef void (*tls_shutdown_cb)(struct tls_conn *c, int status);

/* Every handle is closed and OpenSSL state is freed; the embedding owner
 * may free the memory now. */
typedef void (*tls_close_cb)(struct tls_conn *c);

/* A TLS session on a TCP stream. Embed it; set data. Everything else is
 * private. */
struct tls_conn {
	void *data;
	/* private */
	uv_tcp_t tcp;
	uv_idle_t kick; /* runs deferred work: buffered reads, error reports */
	uv_shutdown_t shutdown;
	struct tls_ctx *ctx;
	SSL *ssl;
	BIO *net_in;  /* ciphertext from the peer, for OpenSSL to read */
	BIO *net_out; /* ciphertext from OpenSSL, for us to send */
	enum tls_role role;
	struct ca_identity peer;
	bool has_peer;
	struct ca_root *pinned;
	struct sw_err err;
	tls_handshake_cb handshake_cb;
	tls_read_cb read_cb;
	tls_drain_cb drain_cb;
	tls_shutdown_cb shutdown_cb;
	tls_close_cb close_cb;
	size_t queued; /* ciphertext handed to uv_write, not yet written */
	char *rbuf;
	int open_handles;
	bool started, established, reading, above_high, tcp_eof, eof;
	bool sent_shutdown, tcp_shut, failed, reported, closing;
	bool unflushed; /* records written, sent when the loop comes round */
	bool kicked;    /* deferred reads or an error report are due */
};

/* Initializes the session's handles on loop and takes a reference on ctx.
 * A pinned ctx allows only TLS_CLIENT. Returns 0, after which
 * tls_conn_close is the only way out; or -kind with err set and nothing to
 * release. */
int tls_conn_init(struct tls_conn *c, uv_loop_t *loop, struct tls_ctx *ctx,
		  enum tls_role role, struct sw_err *err);

/* The TCP handle, for uv_accept() or uv_tcp_connect() before
 * tls_conn_start, and for socket options. Owned by the session: do not
 * close it or touch its data field. */
uv_tcp_t *tls_conn_tcp(struct tls_conn *c);

/* Starts the handshake on the connected TCP stream and starts reading.
 * handshake_cb and read_cb are required; they fire later, from the loop.
 * Returns 0, or -kind with err set (the callbacks then never fire). */
int tls_conn_start(struct tls_conn *c, tls_handshake_cb handshake_cb,
		   tls_read_cb read_cb, struct sw_err *err);

void tls_conn_set_drain_cb(struct tls_conn *c, tls_drain_cb cb);

/* Encrypts and queues plaintext (copied; the caller keeps bufs). Only after
 * the handshake and before tls_conn_shutdown. Returns 0 (any size is
 * accepted while the backlog is under TLS_MAX_QUEUE), or -kind with err
 * set: UNAVAILABLE when the session is failed, closing or shut down, or the
 * backlog is full; INVALID before the handshake. Transport failures found
 * later are reported through read_cb. */
int tls_conn_writev(struct tls_conn *c, const uv_buf_t *bufs, size_t n,
		    struct sw_err *err);
int tls_conn_write(struct tls_conn *c, const void *p, size_t len,
		   struct sw_err *err);

/* Whether the backlog is at most TLS_HIGH_WATER; callers that produce
 * data should wait for drain_cb once this turns false. */
bool tls_conn_writable(const struct tls_conn *c);
size_t tls_conn_queued(const struct tls_conn *c);

/* Stops delivering plaintext (read_cb with nread > 0) and stops reading the
 * socket, so the peer's TCP window fills up. Bytes already received stay
 * buffered. */
void tls_conn_read_stop(struct tls_conn *c);
/* Resumes delivery; buffered bytes are delivered from the loop, after this
 * call returns. */
void tls_conn_read_start(struct tls_conn *c);

/* Sends close_notify after the queued data and half-closes the TCP stream.
 * Reading goes on until the peer's EOF. Returns 0 and cb (may be NULL)
 * fires once it is done, unless the session is closed first; or returns -1
 * and nothing happens (before the handshake, after a failure, when already
 * shut down, or closing). */
int tls_conn_shutdown(struct tls_conn *c, tls_shutdown_cb cb);

/* Closes now: queued data is dropped. cb (may be NULL) fires from the loop
 * once everything is released; no other callback fires after this call.
 * Idempotent: later calls do nothing. */
void tls_conn_close(struct tls_conn *c, tls_close_cb cb);

/* The negotiated protocol ("TLSv1.3"), for logs; static text. */
const char *tls_conn_protocol(const struct tls_conn *c);

/* The first fatal error (kind SW_EOK if none). Borrowed. */
const struct sw_err *tls_conn_err(const struct tls_conn *c);

/* After a successful handshake: the peer's identity from its verified
 * certificate, or NULL if it presented none (a joining client). Borrowed. */
const struct ca_identity *tls_conn_peer(const struct tls_conn *c);

/* After a successful pinned handshake: the server's root (no key),
 * borrowed, valid until the close callback. NULL otherwise. */
const struct ca_root *tls_conn_pinned_root(const struct tls_conn *c);

#endif
