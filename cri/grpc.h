/* Unary gRPC over HTTP/2 cleartext (prior knowledge) on a unix socket, on
 * the daemon's libuv loop through curl_uv. Enough gRPC for CRI: one request
 * message, one reply message, status from grpc-status/grpc-message.
 *
 * The wire pieces (5-byte length-prefixed frames, the status headers, the
 * grpc-timeout value, the code → sw_err kind map) are pure functions below,
 * tested without sockets. The client owns a curl_uv and the list of calls in
 * flight, so closing it can cancel every call.
 *
 * Connections: libcurl 7.88 cannot reuse an HTTP/2 prior-knowledge
 * connection (curl #10634, fixed in 8.0), so by default every call opens and
 * closes its own connection; grpc_opts.reuse_conns turns multiplexing back on
 * for a fixed libcurl. */
#ifndef CRI_GRPC_H
#define CRI_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <uv.h>

#include "cri/curl_uv.h"
#include "lib/buf.h"
#include "lib/err.h"

/* gRPC status codes (grpc/doc/statuscodes.md). */
enum grpc_code {
	GRPC_OK = 0,
	GRPC_CANCELLED = 1,
	GRPC_UNKNOWN = 2,
	GRPC_INVALID_ARGUMENT = 3,
	GRPC_DEADLINE_EXCEEDED = 4,
	GRPC_NOT_FOUND = 5,
	GRPC_ALREADY_EXISTS = 6,
	GRPC_PERMISSION_DENIED = 7,
	GRPC_RESOURCE_EXHAUSTED = 8,
	GRPC_FAILED_PRECONDITION = 9,
	GRPC_ABORTED = 10,
	GRPC_OUT_OF_RANGE = 11,
	GRPC_UNIMPLEMENTED = 12,
	GRPC_INTERNAL = 13,
	GRPC_UNAVAILABLE = 14,
	GRPC_DATA_LOSS = 15,
	GRPC_UNAUTHENTICATED = 16,
};

enum {
	GRPC_FRAME_HDR = 5,            /* flag byte + 4-byte length */
	GRPC_MSG_MAX = 16 << 20,       /* containerd's default send limit */
	GRPC_TIMEOUT_DEFAULT = 120000, /* ms, kubelet's runtime timeout */
	GRPC_STATUS_MSG_MAX = 384,     /* leaves room in sw_err.msg */
};

/* ---- Framing (pure) ---- */

/* One decoded frame; msg points into the caller's bytes. */
struct grpc_frame {
	const uint8_t *msg;
	size_t len;  /* message bytes */
	size_t size; /* bytes the frame took, header included */
};

/* Appends a frame (flag 0 = uncompressed, big-endian length, msg) to out.
 * len must be below 4 GiB; callers bound it to GRPC_MSG_MAX first. */
void grpc_frame_encode(struct buf *out, const void *msg, size_t len);

/* Decodes the frame at the start of p[0..n). Returns 1 and fills f when a
 * whole frame is there, 0 when more bytes are needed, or a negative sw_err
 * kind (SW_ESYSTEM) with err filled when the frame is compressed (we never
 * ask for compression) or declares more than max bytes. */
int grpc_frame_decode(const void *p, size_t n, size_t max, struct grpc_frame *f,
		      struct sw_err *err);

/* Decodes a complete unary reply body: exactly one frame, nothing after it.
 * Returns 0 and fills f, or a negative kind with err filled (empty or
 * truncated body, trailing bytes, or a frame decode error). */
int grpc_unary_reply(const void *p, size_t n, size_t max, struct grpc_frame *f,
		     struct sw_err *err);

/* ---- Status (pure) ---- */

/* What the header callback learned; fed one header line at a time, across
 * the response headers and the trailers. */
struct grpc_status {
	int http_status;                   /* 0 until the status line */
	int code;                          /* grpc-status, or -1 until seen */
	char message[GRPC_STATUS_MSG_MAX]; /* grpc-message, percent-decoded */
};

/* Resets st to "nothing seen". */
void grpc_status_init(struct grpc_status *st);

/* Feeds one header line as curl's header callback delivers it: a status
 * line ("HTTP/2 200 \r\n"), a "name: value\r\n" line (in the headers or the
 * trailers, name case-insensitive, value possibly with leading space) or the
 * blank line ending a block. Lines that are not gRPC's are ignored. An
 * unparsable grpc-status counts as UNKNOWN, as grpc does. */
void grpc_status_header(struct grpc_status *st, const char *line, size_t len);

/* Turns what was seen once the transfer completed into the call's code:
 * grpc-status when present (trailers or trailers-only), else a code derived
 * from the HTTP status as the gRPC spec maps it, else INTERNAL. Returns the
 * code; when it is not OK, err is filled with the mapped kind and
 * grpc-message (or the code's name). */
int grpc_status_result(const struct grpc_status *st, struct sw_err *err);

/* Percent-decodes in[0..len) into out (at most cap-1 bytes, NUL-terminated;
 * cap >= 1), leaving malformed escapes as they are. Returns bytes written. */
size_t grpc_percent_decode(char *out, size_t cap, const char *in, size_t len);

/* The sw_err kind for a gRPC code, as moby maps them (STYLE.md §4):
 * InvalidArgument → INVALID, NotFound → NOT_FOUND, AlreadyExists →
 * CONFLICT, Unavailable → UNAVAILABLE, anything else → SYSTEM. */
enum sw_errkind grpc_code_kind(int code);

/* The code's canonical name ("NotFound"); "Unknown" for values outside
 * 0..16. Returns a static string. */
const char *grpc_code_name(int code);

/* Writes a grpc-timeout value for ms (at most 8 digits and a unit:
 * "250m", "100000S") into out. Returns the length, or -1 if cap is too
 * small (16 always suffices). */
int grpc_timeout_format(char *out, size_t cap, uint64_t ms);

/* ---- Client ---- */

struct grpc_opts {
	/* Reuse and multiplex connections. Off by default: libcurl 7.88
	 * breaks the second request on an h2c connection. */
	bool reuse_conns;
	size_t max_msg;      /* reply limit in bytes; 0 = GRPC_MSG_MAX */
	unsigned timeout_ms; /* default deadline; 0 = GRPC_TIMEOUT_DEFAULT */
};

struct grpc_client;
struct grpc_call;

typedef void (*grpc_call_cb)(struct grpc_call *call, int status);
typedef void (*grpc_close_cb)(struct grpc_client *c, void *data);

/* A unary call, allocated by the caller (zeroing it is enough) and kept
 * alive until its callback runs; the caller may free it from inside the
 * callback. */
struct grpc_call {
	void *data; /* for the caller */

	/* Results, valid inside the callback. */
	int code;             /* gRPC status code; transport failures map to
			       * UNAVAILABLE (cannot connect, connection lost) or
			       * DEADLINE_EXCEEDED */
	bool canceled;        /* the client closed with the call in flight */
	struct sw_err err;    /* when status != 0 */
	const uint8_t *reply; /* the reply message (frame payload), when */
	size_t reply_len;     /* status == 0; freed after the callback */

	/* Private. */
	struct grpc_client *client;
	grpc_call_cb cb;
	CURL *easy;
	struct curl_slist *headers;
	struct buf req_body;
	struct buf resp_body;
	struct grpc_status status;
	struct curl_uv_xfer xfer;
	struct grpc_call *prev;
	struct grpc_call *next;
	bool too_large;
	char errbuf[CURL_ERROR_SIZE];
};

/* Creates a client for the gRPC server listening on the unix socket at
 * socket_path (copied; it need not exist yet: calls made while it is
 * missing fail with UNAVAILABLE). opts may be NULL for the defaults. The
 * loop must outlive the client. Returns NULL and fills err on failure. */
struct grpc_client *grpc_client_new(uv_loop_t *loop, const char *socket_path,
				    const struct grpc_opts *opts,
				    struct sw_err *err);

/* Closes the client: every call in flight is canceled and its callback
 * fires from the loop with status -SW_EUNAVAILABLE, code GRPC_CANCELLED
 * and canceled set; then cb fires and the client is freed. New calls are
 * refused from now on. Must not be called from inside a curl callback (any
 * grpc or cri callback is fine), nor twice. */
void grpc_client_close(struct grpc_client *c, grpc_close_cb cb, void *data);

/* Starts a unary call of method path ("/runtime.v1.RuntimeService/Version")
 * with the serialized request msg[0..len) (copied). timeout_ms is the
 * deadline, 0 for the client's default; it bounds the whole call and is
 * sent as grpc-timeout.
 *
 * Returns 0 and then cb fires exactly once, later, from the loop (never
 * inside this function) with status 0 (call->reply holds the reply) or a
 * negative sw_err kind (call->err and call->code say why). Returns a
 * negative kind with err filled, and cb never fires, when the request is
 * too large (TOO_LARGE), the client is closing (UNAVAILABLE) or curl
 * refuses the transfer (SYSTEM). */
int grpc_call_start(struct grpc_call *call, struct grpc_client *c,
		    const char *path, const void *msg, size_t len,
		    unsigned timeout_ms, grpc_call_cb cb, struct sw_err *err);

#endif
