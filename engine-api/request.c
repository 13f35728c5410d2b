#include "engine-api/request.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "engine-api/errors.h"
#include "engine-api/server_priv.h"
#include "lib/alloc.h"
#include "lib/jsonx.h"
#include "lib/log.h"

void api_req_ref(struct api_req *req)
{
	req->refs++;
}

void api_req_unref(struct api_req *req)
{
	if (--req->refs == 0)
		api_req_destroy(req);
}

const char *api_query(struct api_req *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
					   key);
}

bool api_parse_bool(const char *value)
{
	static const char *const falsy[] = {"", "0", "no", "false", "none"};
	size_t n;

	if (value == NULL)
		return false;
	while (isspace((unsigned char)*value))
		value++;
	n = strlen(value);
	while (n > 0 && isspace((unsigned char)value[n - 1]))
		n--;
	for (size_t i = 0; i < sizeof(falsy) / sizeof(falsy[0]); i++)
		if (strlen(falsy[i]) == n &&
		    strncasecmp(value, falsy[i], n) == 0)
			return false;
	return true;
}

bool api_query_bool(struct api_req *req, const char *key)
{
	return api_parse_bool(api_query(req, key));
}

const char *api_header(struct api_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

struct json_object *api_req_json(struct api_req *req, struct sw_err *err)
{
	return jsonx_parse(req->body.data ? req->body.data : "",
			   req->body.len, err);
}

/* Installs a ready response as the request's answer. */
static void set_response(struct api_req *req, unsigned status,
			 struct MHD_Response *r)
{
	if (req->response != NULL || req->closed) {
		MHD_destroy_response(r);
		return;
	}
	api_add_common_headers(r);
	req->response = r;
	req->status = status;
	log_debug("api: %s -> %u", req->path, status);
	api_server_answered(req->srv, req);
}

void api_reply_response(struct api_req *req, unsigned status,
			struct MHD_Response *r)
{
	set_response(req, status, r);
}

static void reply_bytes(struct api_req *req, unsigned status,
			const char *content_type, char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, body, MHD_RESPMEM_MUST_FREE);

	if (content_type != NULL)
		MHD_add_response_header(r, "Content-Type", content_type);
	set_response(req, status, r);
}

void api_reply_json(struct api_req *req, unsigned status,
		    struct json_object *body)
{
	size_t len;
	char *text = jsonx_to_body(body, &len);

	json_object_put(body);
	reply_bytes(req, status, "application/json", text, len);
}

void api_reply_json_text(struct api_req *req, unsigned status, char *body,
			 size_t len)
{
	reply_bytes(req, status, "application/json", body, len);
}

void api_reply_empty(struct api_req *req, unsigned status)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);

	set_response(req, status, r);
}

void api_reply_text(struct api_req *req, unsigned status,
		    const char *content_type, const char *text)
{
	reply_bytes(req, status, content_type, xstrdup(text), strlen(text));
}

void api_reply_error(struct api_req *req, const struct sw_err *err)
{
	size_t len;
	char *body = api_error_body(err->msg, &len);

	reply_bytes(req, api_error_status(err), "application/json", body,
		    len);
}

void api_reply_errorf(struct api_req *req, enum sw_errkind kind,
		      const char *fmt, ...)
{
	struct sw_err err;
	va_list ap;

	sw_err_clear(&err);
	err.kind = kind;
	va_start(ap, fmt);
	vsnprintf(err.msg, sizeof(err.msg), fmt, ap);
	va_end(ap);
	api_reply_error(req, &err);
}

int api_query_version(struct api_req *req, const char *what, uint64_t *out,
		      struct sw_err *err)
{
	const char *v = api_query(req, "version");
	char *end;

	if (v == NULL)
		v = "";
	errno = 0;
	*out = strtoull(v, &end, 10);
	if (*v == '\0' || *end != '\0' || !isdigit((unsigned char)*v))
		return sw_err_set(err, SW_EINVALID,
				  "invalid %s version '%s': strconv.ParseUint: "
				  "parsing \"%s\": invalid syntax",
				  what, v, v);
	if (errno == ERANGE)
		return sw_err_set(err, SW_EINVALID,
				  "invalid %s version '%s': strconv.ParseUint: "
				  "parsing \"%s\": value out of range",
				  what, v, v);
	return 0;
}

void api_reply_done(void *data, int status, const struct sw_err *err)
{
	struct api_req *req = data;

	if (status == 0)
		api_reply_empty(req, 200);
	else
		api_reply_error(req, err);
	api_req_unref(req);
}

static const char *go_kind(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_array:
		return "array";
	case json_type_string:
		return "string";
	case json_type_boolean:
		return "bool";
	default:
		return "number";
	}
}

/* Decodes the body the way dockerd's swarm router does, before it looks at
 * the query or the swarm state: an empty body is Go's io.EOF (worded as
 * below), a value that is not an object fails to unmarshal into go_type,
 * and null leaves the struct zero (an empty object here). Answers 400
 * itself and returns NULL when the body is bad. */
struct json_object *api_req_body_object(struct api_req *req,
					const char *go_type)
{
	struct sw_err err;
	struct json_object *body;

	sw_err_clear(&err);
	if (req->body.len == 0 ||
	    strspn(req->body.data, " \t\r\n") == req->body.len) {
		api_reply_errorf(req, SW_EINVALID,
				 "got EOF while reading request body");
		return NULL;
	}
	body = api_req_json(req, &err);
	if (body == NULL && err.kind == SW_EOK)
		return json_object_new_object();
	if (body == NULL) {
		api_reply_error(req, &err);
	} else if (!json_object_is_type(body, json_type_object)) {
		api_reply_errorf(req, SW_EINVALID,
				 "json: cannot unmarshal %s into Go value of "
				 "type %s",
				 go_kind(body), go_type);
		json_object_put(body);
		body = NULL;
	}
	return body;
}
