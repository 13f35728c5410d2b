#include "cri/grpc.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/alloc.h"

struct grpc_client {
	uv_loop_t *loop;
	struct curl_uv *cu;
	char *socket_path;
	struct grpc_opts opts;
	struct grpc_call *calls; /* in flight, or canceled and not reported */
	bool closing;
	grpc_close_cb close_cb;
	void *close_data;
};

/* ---- Framing ---- */

void grpc_frame_encode(struct buf *out, const void *msg, size_t len)
{
	uint8_t hdr[GRPC_FRAME_HDR];

	hdr[0] = 0;
	hdr[1] = (uint8_t)(len >> 24);
	hdr[2] = (uint8_t)(len >> 16);
	hdr[3] = (uint8_t)(len >> 8);
	hdr[4] = (uint8_t)len;
	buf_append(out, hdr, sizeof(hdr));
	buf_append(out, msg, len);
}

int grpc_frame_decode(const void *p, size_t n, size_t max, struct grpc_frame *f,
		      struct sw_err *err)
{
	const uint8_t *b = p;
	size_t len;

	f->msg = NULL;
	f->len = 0;
	f->size = 0;
	if (n < GRPC_FRAME_HDR)
		return 0;
	/* Only bit 0 (compressed) is defined. We send no
	 * grpc-accept-encoding, so a server must not compress. */
	if (b[0] != 0)
		return sw_err_set(err, SW_ESYSTEM,
				  "grpc: unsupported frame flags 0x%02x", b[0]);
	len = (size_t)b[1] << 24 | (size_t)b[2] << 16 | (size_t)b[3] << 8 |
	      (size_t)b[4];
	if (len > max)
		return sw_err_set(err, SW_ESYSTEM,
				  "grpc: message of %zu bytes exceeds the "
				  "%zu-byte limit",
				  len, max);
	if (n - GRPC_FRAME_HDR < len)
		return 0;
	f->msg = b + GRPC_FRAME_HDR;
	f->len = len;
	f->size = GRPC_FRAME_HDR + len;
	return 1;
}

int grpc_unary_reply(const void *p, size_t n, size_t max, struct grpc_frame *f,
		     struct sw_err *err)
{
	int rc = grpc_frame_decode(p, n, max, f, err);

	if (rc < 0)
		return rc;
	if (rc != 1 && n == 0)
		return sw_err_set(err, SW_ESYSTEM,
				  "grpc: reply has no message");
	if (rc != 1)
		return sw_err_set(err, SW_ESYSTEM,
				  "grpc: reply truncated after %zu bytes", n);
	if (f->size != n)
		return sw_err_set(err, SW_ESYSTEM,
				  "grpc: %zu bytes after the reply message",
				  n - f->size);
	return 0;
}

/* ---- Status ---- */

void grpc_status_init(struct grpc_status *st)
{
	st->http_status = 0;
	st->code = -1;
	st->message[0] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t grpc_percent_decode(char *out, size_t cap, const char *in, size_t len)
{
	size_t i = 0;
	size_t o = 0;

	while (i < len && o + 1 < cap) {
		int hi = i + 2 < len ? hexval(in[i + 1]) : -1;
		int lo = i + 2 < len ? hexval(in[i + 2]) : -1;

		if (in[i] == '%' && hi >= 0 && lo >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 3;
		} else {
			out[o++] = in[i++];
		}
	}
	out[o] = '\0';
	return o;
}

/* Parses a grpc-status value: decimal digits only. */
static int parse_code(const char *v, size_t n)
{
	int code = 0;
	size_t i;

	if (n == 0 || n > 4)
		return GRPC_UNKNOWN;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return GRPC_UNKNOWN;
		code = code * 10 + (v[i] - '0');
	}
	return code;
}

/* "HTTP/2 200 \r\n": the code follows the first space. */
static void parse_status_line(struct grpc_status *st, const char *line,
			      size_t len)
{
	const char *sp = memchr(line, ' ', len);
	int code = 0;
	size_t i;

	if (sp == NULL)
		return;
	i = (size_t)(sp - line) + 1;
	for (; i < len && line[i] >= '0' && line[i] <= '9'; i++)
		code = code * 10 + (line[i] - '0');
	if (code >= 100 && code <= 999)
		st->http_status = code;
}

static bool name_is(const char *line, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(line, name, n) == 0;
}

void grpc_status_header(struct grpc_status *st, const char *line, size_t len)
{
	const char *colon;
	const char *v;
	const char *end = line + len;
	size_t n;

	if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		parse_status_line(st, line, len);
		return;
	}
	colon = memchr(line, ':', len);
	if (colon == NULL)
		return;
	n = (size_t)(colon - line);
	v = colon + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' ||
			   end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (name_is(line, n, "grpc-status"))
		st->code = parse_code(v, (size_t)(end - v));
	else if (name_is(line, n, "grpc-message"))
		grpc_percent_decode(st->message, sizeof(st->message), v,
				    (size_t)(end - v));
}

/* The gRPC spec's table for replies that carry no grpc-status
 * (doc/http-grpc-status-mapping.md). */
static int code_from_http(int http_status)
{
	switch (http_status) {
	case 400:
		return GRPC_INTERNAL;
	case 401:
		return GRPC_UNAUTHENTICATED;
	case 403:
		return GRPC_PERMISSION_DENIED;
	case 404:
		return GRPC_UNIMPLEMENTED;
	case 429:
	case 502:
	case 503:
	case 504:
		return GRPC_UNAVAILABLE;
	default:
		return GRPC_UNKNOWN;
	}
}

int grpc_status_result(const struct grpc_status *st, struct sw_err *err)
{
	int code = st->code;

	if (code == GRPC_OK)
		return GRPC_OK;
	if (code > 0) {
		sw_err_set(err, grpc_code_kind(code), "%s",
			   st->message[0] ? st->message : grpc_code_name(code));
		return code;
	}
	if (st->http_status == 200 || st->http_status == 0) {
		sw_err_set(err, grpc_code_kind(GRPC_INTERNAL),
			   "grpc: reply without grpc-status");
		return GRPC_INTERNAL;
	}
	code = code_from_http(st->http_status);
	sw_err_set(err, grpc_code_kind(code), "grpc: unexpected HTTP status %d",
		   st->http_status);
	return code;
}

enum sw_errkind grpc_code_kind(int code)
{
	switch (code) {
	case GRPC_OK:
		return SW_EOK;
	case GRPC_INVALID_ARGUMENT:
		return SW_EINVALID;
	case GRPC_NOT_FOUND:
		return SW_ENOTFOUND;
	case GRPC_ALREADY_EXISTS:
		return SW_ECONFLICT;
	case GRPC_UNAVAILABLE:
		return SW_EUNAVAILABLE;
	default:
		return SW_ESYSTEM;
	}
}

const char *grpc_code_name(int code)
{
	static const char *const names[] = {
	    "OK",
	    "Canceled",
	    "Unknown",
	    "InvalidArgument",
	    "DeadlineExceeded",
	    "NotFound",
	    "AlreadyExists",
	    "PermissionDenied",
	    "ResourceExhausted",
	    "FailedPrecondition",
	    "Aborted",
	    "OutOfRange",
	    "Unimplemented",
	    "Internal",
	    "Unavailable",
	    "DataLoss",
	    "Unauthenticated",
	};

	if (code < 0 || code >= (int)(sizeof(names) / sizeof(names[0])))
		return "Unknown";
	return names[code];
}

int grpc_timeout_format(char *out, size_t cap, uint64_t ms)
{
	/* The value has at most 8 digits; coarser units round up so the
	 * server never sees a shorter deadline than ours. */
	static const struct {
		uint64_t per;
		char unit;
	} units[] = {{1, 'm'}, {1000, 'S'}, {60000, 'M'}, {3600000, 'H'}};
	const uint64_t limit = 99999999;
	uint64_t v = ms;
	size_t i;
	int n;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		v = ms / units[i].per + (ms % units[i].per != 0);
		if (v <= limit)
			break;
	}
	if (v > limit)
		v = limit;
	if (i == sizeof(units) / sizeof(units[0]))
		i--;
	n = snprintf(out, cap, "%llu%c", (unsigned long long)v, units[i].unit);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	return n;
}

/* ---- Client ---- */

struct grpc_client *grpc_client_new(uv_loop_t *loop, const char *socket_path,
				    const struct grpc_opts *opts,
				    struct sw_err *err)
{
	struct grpc_client *c = xcalloc(1, sizeof(*c));

	c->cu = curl_uv_new(loop, err);
	if (c->cu == NULL) {
		free(c);
		return NULL;
	}
	c->loop = loop;
	c->socket_path = xstrdup(socket_path);
	if (opts != NULL)
		c->opts = *opts;
	if (c->opts.max_msg == 0)
		c->opts.max_msg = GRPC_MSG_MAX;
	if (c->opts.timeout_ms == 0)
		c->opts.timeout_ms = GRPC_TIMEOUT_DEFAULT;
	/* Without reuse, never let two requests share a connection. With
	 * it, multiplex them over one. */
	curl_multi_setopt(curl_uv_multi(c->cu), CURLMOPT_PIPELINING,
			  c->opts.reuse_conns ? CURLPIPE_MULTIPLEX
					      : CURLPIPE_NOTHING);
	return c;
}

static void call_link(struct grpc_client *c, struct grpc_call *call)
{
	call->prev = NULL;
	call->next = c->calls;
	if (c->calls != NULL)
		c->calls->prev = call;
	c->calls = call;
}

static void call_unlink(struct grpc_client *c, struct grpc_call *call)
{
	if (call->prev != NULL)
		call->prev->next = call->next;
	else
		c->calls = call->next;
	if (call->next != NULL)
		call->next->prev = call->prev;
	call->prev = call->next = NULL;
}

/* Frees what the call holds besides the reply body, which the completion
 * keeps until the callback has returned. */
static void call_release(struct grpc_call *call)
{
	curl_easy_cleanup(call->easy);
	call->easy = NULL;
	curl_slist_free_all(call->headers);
	call->headers = NULL;
	buf_free(&call->req_body);
	buf_free(&call->resp_body);
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *userp)
{
	struct grpc_call *call = userp;
	size_t n = size * nmemb;

	/* Bound the reply before buffering it: a frame header plus the
	 * largest message we accept. */
	if (call->resp_body.len + n >
	    call->client->opts.max_msg + GRPC_FRAME_HDR) {
		call->too_large = true;
		return 0;
	}
	buf_append(&call->resp_body, p, n);
	return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *userp)
{
	struct grpc_call *call = userp;

	grpc_status_header(&call->status, p, size * nmemb);
	return size * nmemb;
}

static struct curl_slist *call_headers(unsigned timeout_ms)
{
	struct curl_slist *h = NULL;
	char line[64];
	char tmo[16];

	h = curl_slist_append(h, "content-type: application/grpc");
	h = curl_slist_append(h, "te: trailers");
	h = curl_slist_append(h, "user-agent: swarmd/" SWARMD_VERSION);
	grpc_timeout_format(tmo, sizeof(tmo), timeout_ms);
	(void)snprintf(line, sizeof(line), "grpc-timeout: %s", tmo);
	h = curl_slist_append(h, line);
	/* Drop curl's defaults that mean nothing to a gRPC server. */
	h = curl_slist_append(h, "Accept:");
	h = curl_slist_append(h, "Expect:");
	return h;
}

static void call_setup(struct grpc_call *call, struct grpc_client *c,
		       const char *path, unsigned timeout_ms)
{
	CURL *e = call->easy;
	char *url = xasprintf("http://localhost%s", path);

	curl_easy_setopt(e, CURLOPT_URL, url); /* curl copies it */
	free(url);
	curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, c->socket_path);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
			 (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->req_body.data);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)call->req_body.len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, call);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->errbuf);
	if (c->opts.reuse_conns) {
		curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	} else {
		/* curl #10634: a reused h2c connection fails in 7.88. */
		curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	}
}

/* Maps a failed transfer to a gRPC code, the way grpc clients report
 * transport trouble: UNAVAILABLE when the server could not be reached or
 * the connection broke, so callers retry while containerd restarts. */
static int transport_code(CURLcode res)
{
	switch (res) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return GRPC_UNAVAILABLE;
	case CURLE_OPERATION_TIMEDOUT:
		return GRPC_DEADLINE_EXCEEDED;
	default:
		return GRPC_UNKNOWN;
	}
}

static int call_transport_error(struct grpc_call *call, CURLcode res)
{
	const char *path = call->client->socket_path;
	enum sw_errkind kind;
	long oserr = 0;

	call->code = transport_code(res);
	kind = grpc_code_kind(call->code);
	curl_easy_getinfo(call->easy, CURLINFO_OS_ERRNO, &oserr);
	/* curl words a unix-socket failure as "port 80"; say what failed. */
	if (res == CURLE_COULDNT_CONNECT && oserr != 0)
		sw_err_set(&call->err, kind, "cannot connect to %s: %s", path,
			   strerror((int)oserr));
	else
		sw_err_set(&call->err, kind, "%s: %s", path,
			   call->errbuf[0] ? call->errbuf
					   : curl_easy_strerror(res));
	call->err.sys = (int)res;
	return -(int)kind;
}

/* Decides the call's outcome once curl is done with it. */
static int call_outcome(struct grpc_call *call, CURLcode res)
{
	struct grpc_frame f;
	int rc;

	if (call->too_large) {
		call->code = GRPC_RESOURCE_EXHAUSTED;
		return sw_err_set(&call->err, SW_ESYSTEM,
				  "grpc: reply larger than %zu bytes",
				  call->client->opts.max_msg);
	}
	/* A grpc-status means the server finished the call, whatever curl
	 * thinks of the stream afterwards. */
	if (res != CURLE_OK && call->status.code < 0)
		return call_transport_error(call, res);
	call->code = grpc_status_result(&call->status, &call->err);
	if (call->code != GRPC_OK)
		return -(int)call->err.kind;
	rc = grpc_unary_reply(call->resp_body.data, call->resp_body.len,
			      call->client->opts.max_msg, &f, &call->err);
	if (rc < 0) {
		call->code = GRPC_INTERNAL;
		return rc;
	}
	call->reply = f.msg;
	call->reply_len = f.len;
	return 0;
}

/* Reports the call and forgets it. The reply bytes move to the stack so the
 * callback may free the call itself. */
static void call_finish(struct grpc_call *call, int status)
{
	struct buf body = call->resp_body;
	grpc_call_cb cb = call->cb;

	buf_init(&call->resp_body);
	call_unlink(call->client, call);
	call_release(call);
	cb(call, status);
	buf_free(&body);
}

static void on_xfer_done(struct curl_uv_xfer *xfer, CURLcode res)
{
	struct grpc_call *call = xfer->data;

	call_finish(call, call_outcome(call, res));
}

int grpc_call_start(struct grpc_call *call, struct grpc_client *c,
		    const char *path, const void *msg, size_t len,
		    unsigned timeout_ms, grpc_call_cb cb, struct sw_err *err)
{
	void *data = call->data;

	if (c->closing)
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "grpc: client is closing");
	if (len > c->opts.max_msg)
		return sw_err_set(err, SW_ETOOLARGE,
				  "grpc: request of %zu bytes exceeds the "
				  "%zu-byte limit",
				  len, c->opts.max_msg);
	memset(call, 0, sizeof(*call));
	call->data = data;
	call->client = c;
	call->cb = cb;
	call->xfer.data = call;
	grpc_status_init(&call->status);
	call->easy = curl_easy_init();
	if (call->easy == NULL)
		return sw_err_set(err, SW_ESYSTEM,
				  "grpc: curl_easy_init failed");
	grpc_frame_encode(&call->req_body, msg, len);
	if (timeout_ms == 0)
		timeout_ms = c->opts.timeout_ms;
	call->headers = call_headers(timeout_ms);
	call_setup(call, c, path, timeout_ms);
	if (curl_uv_start(&call->xfer, c->cu, call->easy, on_xfer_done, err) <
	    0) {
		call_release(call);
		return -(int)err->kind;
	}
	call_link(c, call);
	return 0;
}

/* Runs from the loop's close phase once curl_uv is gone: report every call
 * the close withdrew, then the close itself. */
static void on_curl_uv_closed(struct curl_uv *cu, void *data)
{
	struct grpc_client *c = data;

	while (c->calls != NULL) {
		struct grpc_call *call = c->calls;

		call->canceled = true;
		call->code = GRPC_CANCELLED;
		sw_err_set(&call->err, SW_EUNAVAILABLE,
			   "grpc: call canceled: client closing");
		call_finish(call, -SW_EUNAVAILABLE);
	}
	if (c->close_cb != NULL)
		c->close_cb(c, c->close_data);
	free(c->socket_path);
	c->socket_path = NULL;
	free(c);
}

void grpc_client_close(struct grpc_client *c, grpc_close_cb cb, void *data)
{
	struct grpc_call *call;

	c->closing = true;
	c->close_cb = cb;
	c->close_data = data;
	for (call = c->calls; call != NULL; call = call->next)
		curl_uv_stop(c->cu, &call->xfer);
	curl_uv_close(c->cu, on_curl_uv_closed, c);
}
