/* One Engine API request from arrival to answer. The server creates it when
 * the headers arrive, accumulates the body, routes it, and frees it in MHD's
 * completion callback. A handler answers exactly once with one of the
 * api_reply_* functions, either before it returns or later (after
 * api_req_ref'ing the request for its asynchronous work). */
#ifndef SW_API_REQUEST_H
#define SW_API_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "lib/buf.h"
#include "lib/err.h"

struct MHD_Connection;
struct MHD_Response;
struct api_server;
struct api_body_sink;
struct api_upgrade;
struct api_route;

enum api_method {
	API_GET = 1,
	API_HEAD,
	API_POST,
	API_PUT,
	API_DELETE,
	API_OTHER,
};

enum { API_MAX_PARAMS = 4 };

struct api_req {
	struct api_server *srv;
	struct MHD_Connection *conn;
	enum api_method method;
	char *path;                     /* without the /v1.NN prefix */
	int api_major, api_minor;       /* the version the client asked for */
	char *params[API_MAX_PARAMS];   /* route captures, owned */
	int nparams;
	struct buf body;
	bool body_too_large;
	bool dispatched;                /* handler has been called */
	bool suspended;                 /* waiting for an async answer */
	bool closed;                    /* MHD is done with the connection */
	struct MHD_Response *response;  /* answer not yet queued */
	unsigned status;
	int refs;
	/* A streamed body (routes in api_body_routes), see
	 * api_req_stream_body. */
	const struct api_body_sink *sink;
	void *sink_data;
	bool body_paused;               /* the sink asked for a pause */
	bool body_ended;                /* the sink's end has been called */
	struct api_upgrade *upgrade;    /* a 101 answer's hand-over, owned */
	const struct api_route *route;  /* set while a read barrier runs */
};

typedef void (*api_handler)(struct api_req *req);

/* Takes and drops a reference: asynchronous work holds one so the request
 * outlives a client that has gone away. The last unref frees it. */
void api_req_ref(struct api_req *req);
void api_req_unref(struct api_req *req);

/* Query parameters (URL-decoded by MHD); NULL when absent. */
const char *api_query(struct api_req *req, const char *key);

/* Go-style boolean query value, as Docker reads them: absent, "", "0",
 * "no", "false" and "none" (any case, trimmed) are false, all else true. */
bool api_query_bool(struct api_req *req, const char *key);
bool api_parse_bool(const char *value);

/* A request header value, NULL when absent. */
const char *api_header(struct api_req *req, const char *name);

/* Reads ?version=N of an update of `what` ("swarm", "node", "service").
 * -1 with Docker's 400 text when it is missing or not a number. */
int api_query_version(struct api_req *req, const char *what, uint64_t *out,
		      struct sw_err *err);

/* Answers an asynchronous write: 200 with an empty body on success, the
 * error otherwise; then drops the reference the handler took. Shaped as a
 * swarm_cb so it can be passed straight to orchestrator calls. */
void api_reply_done(void *req, int status, const struct sw_err *err);

/* Decodes the body the way dockerd's routers do: an empty body is Go's
 * io.EOF ("got EOF while reading request body"), a value that is not an
 * object fails to unmarshal into go_type (e.g. "swarm.Spec"), null is an
 * empty object. Answers 400 itself and returns NULL when the body is bad;
 * otherwise a new reference. */
struct json_object *api_req_body_object(struct api_req *req,
					const char *go_type);

/* Parses the body as JSON. NULL with err set when it is not valid JSON. */
struct json_object *api_req_json(struct api_req *req, struct sw_err *err);

/* A consumer of a request body that is not buffered. The handlers of
 * routes in api_body_routes run as soon as the headers arrive and either
 * answer at once or call api_req_stream_body; the body then goes to write
 * chunk by chunk, and end is called exactly once: complete when the whole
 * body arrived, not complete when the client left first. The answer may
 * be given at any time; once it is, the rest of the body is discarded. */
struct api_body_sink {
	void (*write)(struct api_req *req, const char *data, size_t n);
	void (*end)(struct api_req *req, bool complete);
};

void api_req_stream_body(struct api_req *req, const struct api_body_sink *sink,
			 void *data);
/* Stops reading the body until api_req_resume_body (back-pressure). */
void api_req_pause_body(struct api_req *req);
void api_req_resume_body(struct api_req *req);

/* Answers 101 Switching Protocols at once (Docker's hijacked stream, for
 * clients that sent Connection: Upgrade). The caller then must call
 * api_upgrade_finish exactly once, holding a reference on req until it
 * has: the bytes given there are sent raw on the connection, which is
 * then closed. NULL when req was answered already. */
struct api_upgrade *api_reply_upgrade(struct api_req *req,
				      const char *content_type);
/* Takes data (malloc'd, len bytes; dropped if the client has gone). */
void api_upgrade_finish(struct api_upgrade *u, char *data, size_t len);

/* Answers. Each takes what it is given (json references, strings are
 * copied). The first answer wins; later ones are ignored. */
void api_reply_json(struct api_req *req, unsigned status,
		    struct json_object *body);
void api_reply_empty(struct api_req *req, unsigned status);
/* Answers a ready JSON body (malloc'd; the response takes it). */
void api_reply_json_text(struct api_req *req, unsigned status, char *body,
			 size_t len);
void api_reply_text(struct api_req *req, unsigned status,
		    const char *content_type, const char *text);
void api_reply_error(struct api_req *req, const struct sw_err *err);
/* Shorthand for a one-off error answer. */
void api_reply_errorf(struct api_req *req, enum sw_errkind kind,
		      const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
