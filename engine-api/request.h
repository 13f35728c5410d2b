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

/* Answers. Each takes what it is given (json references, strings are
 * copied). The first answer wins; later ones are ignored. */
void api_reply_json(struct api_req *req, unsigned status,
		    struct json_object *body);
void api_reply_empty(struct api_req *req, unsigned status);
void api_reply_text(struct api_req *req, unsigned status,
		    const char *content_type, const char *text);
void api_reply_error(struct api_req *req, const struct sw_err *err);
/* Shorthand for a one-off error answer. */
void api_reply_errorf(struct api_req *req, enum sw_errkind kind,
		      const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
