/* Exec in a container: POST /containers/{id}/exec creates an instance,
 * POST /exec/{id}/start runs it, GET /exec/{id}/json shows it (with the
 * exit code once it has run).
 *
 * The command runs to completion through the runtime's exec_sync (CRI
 * ExecSync); its output is then sent at once: a 101 answer and the raw
 * stream (Docker's multiplexed frames, stdout then stderr; plain bytes
 * with a TTY) on the hijacked connection when the client asked to upgrade,
 * else a 200 body with the same bytes. Not supported, so ignored: stdin
 * (interactive `-i`), Env, WorkingDir and User of the exec (ExecSync runs
 * as the container's process does), and resizing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine-api/api.h"
#include "engine-api/codec_container.h"
#include "engine-api/execs.h"
#include "engine-api/routes.h"
#include "engine-api/server_priv.h"
#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/jsonx.h"
#include "orchestrator/runtime.h"

/* Docker's exit code when the command could not be started. */
enum { EXEC_CANNOT_START = 126 };

#define RAW_STREAM "application/vnd.docker.raw-stream"

/* ---- POST /containers/{id}/exec ---- */

struct create_op {
	struct api_req *req;
	struct rt_req call;
	char *name;
	struct api_exec e; /* the instance to store; owns argv and user */
};

static void create_free(struct create_op *op)
{
	for (size_t i = 0; i < op->e.argc; i++)
		free(op->e.argv[i]);
	free(op->e.argv);
	free(op->e.user);
	free(op->name);
	api_req_unref(op->req);
	free(op);
}

static void on_create_listed(struct rt_req *r, int status)
{
	struct create_op *op = r->data;
	struct api_exec *e;
	struct json_object *o;
	struct sw_err err;
	int i;

	if (status != 0) {
		api_reply_error(op->req, &r->err);
		create_free(op);
		return;
	}
	i = codec_container_find(r->containers, r->n_containers, op->name,
				 &err);
	if (i >= 0 && r->containers[i].state != RT_RUNNING)
		i = sw_err_set(&err, SW_ECONFLICT,
			       "Container %s is not running",
			       r->containers[i].id);
	if (i < 0) {
		api_reply_error(op->req, &err);
		create_free(op);
		return;
	}
	(void)snprintf(op->e.container_id, sizeof(op->e.container_id), "%s",
		       r->containers[i].id);
	e = execs_add(api_server_execs(op->req->srv), &op->e, &err);
	if (e == NULL) {
		api_reply_error(op->req, &err);
		create_free(op);
		return;
	}
	/* The store owns argv and user now. */
	op->e.argv = NULL;
	op->e.argc = 0;
	op->e.user = NULL;
	o = json_object_new_object();
	jsonx_add_string(o, "Id", e->id);
	api_reply_json(op->req, 201, o);
	create_free(op);
}

/* Reads the ExecConfig body into e. -1 with Docker's 400 otherwise. */
static int decode_exec_config(struct json_object *body, struct api_exec *e,
			      struct sw_err *err)
{
	struct json_object *cmd = NULL;
	const char *user = NULL;
	size_t n;

	if (!json_object_is_type(body, json_type_object))
		return sw_err_set(err, SW_EINVALID,
				  "json: cannot unmarshal into Go value of "
				  "type types.ExecConfig");
	if (jsonx_get_array(body, "Cmd", &cmd, err) < 0 ||
	    jsonx_get_string(body, "User", &user, err) < 0 ||
	    jsonx_get_bool(body, "Tty", &e->tty, err) < 0 ||
	    jsonx_get_bool(body, "Privileged", &e->privileged, err) < 0 ||
	    jsonx_get_bool(body, "AttachStdin", &e->attach_stdin, err) < 0 ||
	    jsonx_get_bool(body, "AttachStdout", &e->attach_stdout, err) < 0 ||
	    jsonx_get_bool(body, "AttachStderr", &e->attach_stderr, err) < 0)
		return -1;
	n = cmd != NULL ? json_object_array_length(cmd) : 0;
	if (n == 0)
		return sw_err_set(err, SW_EINVALID,
				  "No exec command specified");
	e->argv = xcalloc(n + 1, sizeof(*e->argv));
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(cmd, i);

		if (!json_object_is_type(s, json_type_string))
			return sw_err_set(err, SW_EINVALID,
					  "json: cannot unmarshal into Go "
					  "struct field ExecConfig.Cmd of type "
					  "string");
		e->argv[e->argc++] = xstrdup(json_object_get_string(s));
	}
	e->user = xstrdup(user != NULL ? user : "");
	return 0;
}

void h_exec_create(struct api_req *req)
{
	struct node_runtime *rt = api_runtime(req);
	struct json_object *body;
	struct create_op *op;
	struct sw_err err;

	if (rt == NULL)
		return;
	sw_err_clear(&err);
	body = api_req_json(req, &err);
	if (body == NULL) {
		api_reply_error(req, &err);
		return;
	}
	op = xcalloc(1, sizeof(*op));
	op->req = req;
	op->call.data = op;
	op->name = xstrdup(req->params[0]);
	api_req_ref(req);
	if (decode_exec_config(body, &op->e, &err) != 0 ||
	    runtime_list_containers(rt, &op->call, false, on_create_listed,
				    &err) != 0) {
		api_reply_error(req, &err);
		create_free(op);
	}
	json_object_put(body);
}

/* ---- GET /exec/{id}/json ---- */

static struct api_exec *find_exec(struct api_req *req)
{
	struct api_exec *e =
	    execs_get(api_server_execs(req->srv), req->params[0]);

	if (e == NULL)
		api_reply_errorf(req, SW_ENOTFOUND, "No such exec instance: %s",
				 req->params[0]);
	return e;
}

void h_exec_inspect(struct api_req *req)
{
	struct api_exec *e = find_exec(req);
	struct json_object *o, *pc, *args;

	if (e == NULL)
		return;
	o = json_object_new_object();
	pc = json_object_new_object();
	args = json_object_new_array();
	for (size_t i = 1; i < e->argc; i++)
		json_object_array_add(args, json_object_new_string(e->argv[i]));
	jsonx_add_string(o, "ID", e->id);
	jsonx_add_bool(o, "Running", e->running);
	jsonx_add(o, "ExitCode",
		  e->exited ? json_object_new_int64(e->exit_code) : NULL);
	jsonx_add_bool(pc, "privileged", e->privileged);
	jsonx_add_string(pc, "user", e->user);
	jsonx_add_bool(pc, "tty", e->tty);
	jsonx_add_string(pc, "entrypoint", e->argv[0]);
	jsonx_add(pc, "arguments", args);
	jsonx_add(o, "ProcessConfig", pc);
	jsonx_add_bool(o, "OpenStdin", e->attach_stdin);
	jsonx_add_bool(o, "OpenStderr", e->attach_stderr);
	jsonx_add_bool(o, "OpenStdout", e->attach_stdout);
	jsonx_add_bool(o, "CanRemove", false);
	jsonx_add_string(o, "ContainerID", e->container_id);
	jsonx_add_string(o, "DetachKeys", "");
	jsonx_add_int64(o, "Pid", 0);
	api_reply_json(req, 200, o);
}

/* ---- POST /exec/{id}/start ---- */

struct start_op {
	struct api_req *req;
	struct rt_req call;
	char id[65];
	bool detach;
	struct api_upgrade *upgrade; /* hijacked: the output goes there */
};

/* The bytes a client attached to the exec reads. */
static char *exec_output(const struct api_exec *e, const struct rt_req *r,
			 int status, size_t *len)
{
	struct buf b;

	buf_init(&b);
	if (status < 0) {
		/* dockerd writes a failure to start on the stdout stream. */
		char *msg = xasprintf("%s\r\n", r->err.msg);

		if (e->tty)
			buf_puts(&b, msg);
		else
			codec_frame(&b, 1, msg, strlen(msg));
		free(msg);
	} else if (e->tty) {
		buf_append(&b, r->out, r->out_len);
		buf_append(&b, r->errout, r->errout_len);
	} else {
		if (e->attach_stdout)
			codec_frame(&b, 1, r->out, r->out_len);
		if (e->attach_stderr)
			codec_frame(&b, 2, r->errout, r->errout_len);
	}
	if (b.data == NULL)
		buf_puts(&b, "");
	*len = b.len;
	return buf_steal(&b);
}

static void on_exec_done(struct rt_req *r, int status)
{
	struct start_op *op = r->data;
	struct api_exec *e = execs_get(api_server_execs(op->req->srv), op->id);
	char *out;
	size_t len;

	if (e != NULL) {
		e->running = false;
		e->exited = true;
		e->exit_code = status == 0 ? r->exit_code : EXEC_CANNOT_START;
	}
	if (op->detach || e == NULL) {
		if (op->upgrade != NULL)
			api_upgrade_finish(op->upgrade, NULL, 0);
		goto out;
	}
	out = exec_output(e, r, status, &len);
	if (op->upgrade != NULL) {
		api_upgrade_finish(op->upgrade, out, len);
	} else {
		struct MHD_Response *resp = MHD_create_response_from_buffer(
		    len, out, MHD_RESPMEM_MUST_FREE);

		MHD_add_response_header(resp, "Content-Type", RAW_STREAM);
		api_reply_response(op->req, 200, resp);
	}
out:
	api_req_unref(op->req);
	free(op);
}

/* True when the client asked to hijack the connection. */
static bool wants_upgrade(struct api_req *req)
{
	const char *c = api_header(req, "Connection");

	return c != NULL && strcasestr(c, "upgrade") != NULL &&
	       api_header(req, "Upgrade") != NULL;
}

void h_exec_start(struct api_req *req)
{
	struct node_runtime *rt = api_runtime(req);
	struct api_exec *e;
	struct start_op *op;
	struct json_object *body = NULL;
	struct sw_err err;
	bool detach = false;

	if (rt == NULL || (e = find_exec(req)) == NULL)
		return;
	sw_err_clear(&err);
	if (req->body.len > 0 &&
	    ((body = api_req_json(req, &err)) == NULL ||
	     jsonx_get_bool(body, "Detach", &detach, &err) < 0)) {
		json_object_put(body);
		api_reply_error(req, &err);
		return;
	}
	json_object_put(body);
	if (e->running || e->exited) {
		api_reply_errorf(
		    req, SW_ECONFLICT, "Error: Exec command %s %s", e->id,
		    e->running ? "is already running" : "has already run");
		return;
	}
	op = xcalloc(1, sizeof(*op));
	op->req = req;
	op->call.data = op;
	op->detach = detach;
	(void)snprintf(op->id, sizeof(op->id), "%s", e->id);
	api_req_ref(req);
	if (runtime_exec_sync(rt, &op->call, e->container_id,
			      (const char *const *)e->argv, e->argc,
			      on_exec_done, &err) != 0) {
		api_req_unref(req);
		free(op);
		api_reply_error(req, &err);
		return;
	}
	e->running = true;
	/* As dockerd: detached, the answer comes at once; hijacked, the 101
	 * does, and the output follows once the command has run. */
	if (detach)
		api_reply_empty(req, 200);
	else if (wants_upgrade(req))
		op->upgrade = api_reply_upgrade(req, RAW_STREAM);
}

/* ---- POST /exec/{id}/resize ---- */

void h_exec_resize(struct api_req *req)
{
	if (find_exec(req) != NULL)
		api_reply_empty(req, 200);
}
