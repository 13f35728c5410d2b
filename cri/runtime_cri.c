#include "cri/runtime_cri.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cri/client.h"
#include "cri/executor_cri.h"
#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/log.h"

#define CONTAINER_OF(ptr, type, member)                                        \
	((type *)((char *)(ptr)-offsetof(type, member)))

enum {
	CALL_MS = 60 * 1000,                /* ordinary CRI calls */
	PULL_MS = 30 * 60 * 1000,           /* pulls move whole images */
	EXEC_FOREVER_MS = 24 * 3600 * 1000, /* ExecSync without a timeout */
	CTR_MS = 60 * 1000,                 /* ctr tag / rm */
	SETTLE_MS = 5000, /* how long a ctr change may take to reach CRI */
	SETTLE_POLL_MS = 10,
	LOAD_PAUSE_BYTES = 1 << 20, /* stdin bytes queued before pausing */
	OUTPUT_MAX = 256 * 1024,    /* ctr output kept */
	JSON_DEPTH = 64,
};

/* ======================================================================
 * Pure helpers
 * ====================================================================== */

size_t rt_cri_import_names(const char *out, char ***names)
{
	static const char prefix[] = "unpacking ";
	size_t n = 0;

	*names = NULL;
	for (const char *line = out; line != NULL && *line != '\0';) {
		const char *eol = strchr(line, '\n');
		size_t len = eol != NULL ? (size_t)(eol - line) : strlen(line);
		const char *end;

		if (len > sizeof(prefix) - 1 &&
		    strncmp(line, prefix, sizeof(prefix) - 1) == 0) {
			const char *name = line + sizeof(prefix) - 1;

			end = memchr(name, ' ', len - (sizeof(prefix) - 1));
			if (end == NULL)
				end = line + len;
			if (end > name) {
				*names =
				    xrealloc(*names, (n + 1) * sizeof(**names));
				(*names)[n++] =
				    xstrndup(name, (size_t)(end - name));
			}
		}
		line = eol != NULL ? eol + 1 : NULL;
	}
	return n;
}

void rt_cri_ctr_error(const char *errout, const char *fallback, char *out,
		      size_t n)
{
	const char *best = NULL, *last = NULL;
	size_t best_len = 0, last_len = 0;

	for (const char *line = errout; line != NULL && *line != '\0';) {
		const char *eol = strchr(line, '\n');
		size_t len = eol != NULL ? (size_t)(eol - line) : strlen(line);

		while (len > 0 &&
		       (line[len - 1] == '\r' || line[len - 1] == ' '))
			len--;
		if (len > 5 && strncmp(line, "ctr: ", 5) == 0) {
			best = line + 5;
			best_len = len - 5;
		} else if (len > 0) {
			last = line;
			last_len = len;
		}
		line = eol != NULL ? eol + 1 : NULL;
	}
	if (best == NULL) {
		best = last;
		best_len = last_len;
	}
	if (best == NULL)
		(void)snprintf(out, n, "%s", fallback);
	else
		(void)snprintf(out, n, "%.*s", (int)best_len, best);
}

static char *jget_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return xstrdup("");
	return xstrdup(json_object_get_string(v));
}

static struct json_object *jget_obj(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_object))
		return NULL;
	return v;
}

static bool jget_bool(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o != NULL && json_object_object_get_ex(o, key, &v) &&
	       json_object_is_type(v, json_type_boolean) &&
	       json_object_get_boolean(v);
}

static int64_t jget_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return 0;
	return json_object_get_int64(v);
}

/* A JSON array of strings as a malloc'd vector (non-strings skipped). */
static char **jget_strv(struct json_object *o, const char *key, size_t *n)
{
	struct json_object *a;
	char **v;
	size_t len;

	*n = 0;
	if (o == NULL || !json_object_object_get_ex(o, key, &a) ||
	    !json_object_is_type(a, json_type_array))
		return NULL;
	len = json_object_array_length(a);
	v = xcalloc(len + 1, sizeof(*v));
	for (size_t i = 0; i < len; i++) {
		struct json_object *s = json_object_array_get_idx(a, i);

		if (json_object_is_type(s, json_type_string))
			v[(*n)++] = xstrdup(json_object_get_string(s));
	}
	return v;
}

static struct json_object *parse_json(const char *text)
{
	struct json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
	struct json_object *o;

	if (tok == NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, text, (int)strlen(text));
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int rt_cri_parse_container_info(const char *json, struct rt_container *c)
{
	struct json_object *root = parse_json(json);
	struct json_object *spec, *proc, *user, *cfg;
	char *image;

	if (root == NULL)
		return -1;
	spec = jget_obj(root, "runtimeSpec");
	proc = jget_obj(spec, "process");
	user = jget_obj(proc, "user");
	cfg = jget_obj(root, "config");
	c->pid = (int)jget_int(root, "pid");
	free_strv(c->args, c->n_args);
	c->args = jget_strv(proc, "args", &c->n_args);
	free_strv(c->env, c->n_env);
	c->env = jget_strv(proc, "env", &c->n_env);
	free(c->workdir);
	c->workdir = jget_str(proc, "cwd");
	free(c->hostname);
	c->hostname = jget_str(spec, "hostname");
	free(c->user);
	c->user = user != NULL
		      ? xasprintf("%lld:%lld", (long long)jget_int(user, "uid"),
				  (long long)jget_int(user, "gid"))
		      : xstrdup("");
	/* The image as the container was created from, before CRI
	 * normalized it. */
	image = jget_str(jget_obj(cfg, "image"), "image");
	if (image[0] != '\0') {
		free(c->image);
		c->image = image;
	} else {
		free(image);
	}
	c->tty = jget_bool(cfg, "tty") || jget_bool(proc, "terminal");
	c->open_stdin = jget_bool(cfg, "stdin");
	json_object_put(root);
	return 0;
}

char *rt_cri_image_config(const char *json)
{
	struct json_object *root = parse_json(json);
	struct json_object *spec = jget_obj(root, "imageSpec");
	char *text = NULL;

	if (spec != NULL)
		text = xstrdup(json_object_to_json_string_ext(
		    spec,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return text;
}

void rt_container_clear(struct rt_container *c)
{
	free(c->name);
	free(c->image);
	for (size_t i = 0; i < c->n_labels; i++) {
		free(c->labels[i].key);
		free(c->labels[i].value);
	}
	free(c->labels);
	free(c->reason);
	free(c->message);
	free_strv(c->args, c->n_args);
	free_strv(c->env, c->n_env);
	free(c->workdir);
	free(c->hostname);
	free(c->user);
	for (size_t i = 0; i < c->n_mounts; i++) {
		free(c->mounts[i].source);
		free(c->mounts[i].target);
	}
	free(c->mounts);
	free(c->log_path);
	memset(c, 0, sizeof(*c));
}

void rt_image_clear(struct rt_image *im)
{
	free_strv(im->tags, im->n_tags);
	free_strv(im->digests, im->n_digests);
	free(im->config);
	memset(im, 0, sizeof(*im));
}

/* ======================================================================
 * The runtime
 * ====================================================================== */

enum rop_kind {
	R_LIST_IMAGES = 1,
	R_INSPECT_IMAGE,
	R_PULL,
	R_TAG,
	R_UNTAG,
	R_REMOVE_IMAGE,
	R_LOAD,
	R_LIST_CTRS,
	R_INSPECT_CTR,
	R_EXEC,
};

/* A helper program (ctr) and its pipes. */
struct proc {
	uv_process_t handle;
	uv_pipe_t in, out, err;
	int open; /* handles not closed yet */
	int64_t status;
	struct buf out_buf, err_buf;
	size_t queued;   /* stdin bytes given to libuv, not yet written */
	bool want_drain; /* the writer was told to wait */
	bool in_open;    /* stdin still open */
	bool in_failed;  /* the program stopped reading */
	bool spawn_failed;
	bool exited; /* reaped: its pid may belong to another process now */
	uv_shutdown_t shut;
};

/* One call in flight. */
struct rop {
	struct rt_cri *rt;
	enum rop_kind kind;
	struct rt_req *req;
	rt_cb cb;
	struct rt_load *ld;
	rt_load_cb load_cb;
	struct cri_req call;
	struct proc proc;
	bool has_proc;
	uv_timer_t timer; /* ctr deadline, then settle retries */
	bool settling;
	bool ended;    /* load: the input ended */
	bool complete; /* load: ... with the whole tar */
	char *a, *b;   /* arguments: IDs, references */
	char **names;  /* load: what ctr imported */
	size_t n_names;
	size_t i;          /* next name to settle / container to detail */
	uint64_t deadline; /* settle: give up at this uv_now */
	bool detailed;
	struct rop *next;
};

struct rt_cri {
	struct node_runtime base;
	uv_loop_t *loop;
	struct cri_client *cri;
	char *socket;
	char *ctr;
	char *sandbox_image;
	bool closing;
	bool cri_closed;
	struct rop *rops;
	rt_close_cb close_cb;
	void *close_data;
};

static struct rt_cri *to_rt(struct node_runtime *base)
{
	return CONTAINER_OF(base, struct rt_cri, base);
}

static void maybe_closed(struct rt_cri *rt)
{
	rt_close_cb cb;
	void *data;

	if (!rt->closing || !rt->cri_closed || rt->rops != NULL)
		return;
	cb = rt->close_cb;
	data = rt->close_data;
	free(rt->socket);
	free(rt->ctr);
	free(rt->sandbox_image);
	free(rt);
	if (cb != NULL)
		cb(data);
}

static struct rop *rop_new(struct rt_cri *rt, enum rop_kind kind,
			   struct rt_req *req, rt_cb cb)
{
	struct rop *op = xcalloc(1, sizeof(*op));

	op->rt = rt;
	op->kind = kind;
	op->req = req;
	op->cb = cb;
	op->call.data = op;
	uv_timer_init(rt->loop, &op->timer);
	op->timer.data = op;
	op->next = rt->rops;
	rt->rops = op;
	if (req != NULL) {
		sw_err_clear(&req->err);
		req->images = NULL;
		req->n_images = 0;
		req->containers = NULL;
		req->n_containers = 0;
		req->out = req->errout = NULL;
		req->out_len = req->errout_len = 0;
		req->exit_code = 0;
		req->image_id[0] = '\0';
		req->priv = op;
	}
	return op;
}

static void rop_unlink(struct rop *op)
{
	for (struct rop **p = &op->rt->rops; *p != NULL; p = &(*p)->next)
		if (*p == op) {
			*p = op->next;
			return;
		}
}

static void on_rop_timer_closed(uv_handle_t *h)
{
	struct rop *op = h->data;
	struct rt_cri *rt = op->rt;

	free(op->a);
	free(op->b);
	free_strv(op->names, op->n_names);
	rop_unlink(op);
	free(op);
	maybe_closed(rt);
}

/* Frees the op once its timer has closed (the proc, if any, is closed). */
static void rop_release(struct rop *op)
{
	uv_close((uv_handle_t *)&op->timer, on_rop_timer_closed);
}

static void free_results(struct rt_req *req)
{
	for (size_t i = 0; i < req->n_images; i++)
		rt_image_clear(&req->images[i]);
	free(req->images);
	req->images = NULL;
	req->n_images = 0;
	for (size_t i = 0; i < req->n_containers; i++)
		rt_container_clear(&req->containers[i]);
	free(req->containers);
	req->containers = NULL;
	req->n_containers = 0;
	free(req->out);
	req->out = NULL;
	free(req->errout);
	req->errout = NULL;
}

/* Reports the outcome, frees the results, releases the op. The callback
 * may free the request, so nothing touches it afterwards. */
static void rop_done(struct rop *op, int status)
{
	uv_timer_stop(&op->timer);
	if (op->kind == R_LOAD) {
		struct rt_load *ld = op->ld;

		ld->priv = NULL;
		if (status == 0) {
			ld->names = op->names;
			ld->n_names = op->n_names;
		}
		op->load_cb(ld, status);
	} else {
		struct rt_req results = *op->req;

		op->req->priv = NULL;
		op->cb(op->req, status);
		free_results(&results);
	}
	rop_release(op);
}

static int rop_fail(struct rop *op, const struct sw_err *err)
{
	struct sw_err *dst = op->kind == R_LOAD ? &op->ld->err : &op->req->err;

	*dst = *err;
	rop_done(op, -(int)(err->kind != SW_EOK ? err->kind : SW_ESYSTEM));
	return 0;
}

static void on_call(struct cri_req *r, int status);

static int call(struct rop *op, enum cri_method m, const ProtobufCMessage *msg,
		unsigned timeout_ms, struct sw_err *err)
{
	op->call.timeout_ms = timeout_ms != 0 ? timeout_ms : CALL_MS;
	return cri_call(&op->call, op->rt->cri, m, msg, on_call, err);
}

static int call_image_status(struct rop *op, const char *image, bool verbose,
			     struct sw_err *err)
{
	Runtime__V1__ImageStatusRequest msg =
	    RUNTIME__V1__IMAGE_STATUS_REQUEST__INIT;
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;

	spec.image = (char *)image;
	msg.image = &spec;
	msg.verbose = verbose;
	return call(op, CRI_IMAGE_STATUS, &msg.base, 0, err);
}

static int call_container_status(struct rop *op, const char *id,
				 struct sw_err *err)
{
	Runtime__V1__ContainerStatusRequest msg =
	    RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;

	msg.container_id = (char *)id;
	msg.verbose = true;
	return call(op, CRI_CONTAINER_STATUS, &msg.base, 0, err);
}

/* ---- Copying CRI replies into plain structs ---- */

static char **copy_strv(char *const *v, size_t n)
{
	char **out = xcalloc(n + 1, sizeof(*out));

	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(v[i] != NULL ? v[i] : "");
	return out;
}

static void copy_id(char *dst, const char *src)
{
	(void)snprintf(dst, RT_ID_MAX, "%s", src != NULL ? src : "");
}

static void image_from(struct rt_image *im, const Runtime__V1__Image *c)
{
	copy_id(im->id, c->id);
	im->tags = copy_strv(c->repo_tags, c->n_repo_tags);
	im->n_tags = c->n_repo_tags;
	im->digests = copy_strv(c->repo_digests, c->n_repo_digests);
	im->n_digests = c->n_repo_digests;
	im->size = c->size;
}

static const char *info_value(Runtime__V1__ImageStatusResponse__InfoEntry **e,
			      size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(e[i]->key, key) == 0)
			return e[i]->value;
	return NULL;
}

static enum rt_ctr_state state_of(Runtime__V1__ContainerState s)
{
	switch (s) {
	case RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED:
		return RT_CREATED;
	case RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING:
		return RT_RUNNING;
	case RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED:
		return RT_EXITED;
	default:
		return RT_UNKNOWN;
	}
}

#define COPY_LABELS(c, entries, n)                                             \
	do {                                                                   \
		(c)->labels = xcalloc((n) + 1, sizeof(*(c)->labels));          \
		(c)->n_labels = (n);                                           \
		for (size_t li = 0; li < (n); li++) {                          \
			(c)->labels[li].key = xstrdup((entries)[li]->key);     \
			(c)->labels[li].value = xstrdup((entries)[li]->value); \
		}                                                              \
	} while (0)

static void container_from_list(struct rt_container *c,
				const Runtime__V1__Container *k)
{
	copy_id(c->id, k->id);
	c->name = xstrdup(k->metadata != NULL && k->metadata->name != NULL
			      ? k->metadata->name
			      : "");
	c->image = xstrdup(
	    k->image != NULL && k->image->image != NULL ? k->image->image : "");
	copy_id(c->image_id, k->image_ref);
	c->state = state_of(k->state);
	c->created_ns = k->created_at;
	COPY_LABELS(c, k->labels, k->n_labels);
}

static void container_from_status(struct rt_container *c,
				  const Runtime__V1__ContainerStatusResponse *r)
{
	const Runtime__V1__ContainerStatus *s = r->status;

	rt_container_clear(c);
	if (s == NULL)
		return;
	copy_id(c->id, s->id);
	c->name = xstrdup(s->metadata != NULL && s->metadata->name != NULL
			      ? s->metadata->name
			      : "");
	c->image = xstrdup(
	    s->image != NULL && s->image->image != NULL ? s->image->image : "");
	copy_id(c->image_id, s->image_ref);
	c->state = state_of(s->state);
	c->created_ns = s->created_at;
	COPY_LABELS(c, s->labels, s->n_labels);
	c->detailed = true;
	c->started_ns = s->started_at;
	c->finished_ns = s->finished_at;
	c->exit_code = s->exit_code;
	c->reason = xstrdup(s->reason != NULL ? s->reason : "");
	c->message = xstrdup(s->message != NULL ? s->message : "");
	c->log_path = xstrdup(s->log_path != NULL ? s->log_path : "");
	c->mounts = xcalloc(s->n_mounts + 1, sizeof(*c->mounts));
	c->n_mounts = s->n_mounts;
	for (size_t i = 0; i < s->n_mounts; i++) {
		c->mounts[i].source = xstrdup(s->mounts[i]->host_path);
		c->mounts[i].target = xstrdup(s->mounts[i]->container_path);
		c->mounts[i].read_only = s->mounts[i]->readonly;
	}
	for (size_t i = 0; i < r->n_info; i++)
		if (strcmp(r->info[i]->key, "info") == 0)
			(void)rt_cri_parse_container_info(r->info[i]->value, c);
	if (c->workdir == NULL)
		c->workdir = xstrdup("");
	if (c->hostname == NULL)
		c->hostname = xstrdup("");
	if (c->user == NULL)
		c->user = xstrdup("");
}

static int newest_first(const void *pa, const void *pb)
{
	const struct rt_container *a = pa, *b = pb;

	if (a->created_ns != b->created_ns)
		return a->created_ns > b->created_ns ? -1 : 1;
	return strcmp(a->id, b->id);
}

/* ---- Replies ---- */

/* The sandbox (pause) image is the runtime's own: clients do not see it. */
static bool is_sandbox_image(const struct rt_cri *rt,
			     const Runtime__V1__Image *im)
{
	if (rt->sandbox_image == NULL)
		return false;
	for (size_t i = 0; i < im->n_repo_tags; i++)
		if (strcmp(im->repo_tags[i], rt->sandbox_image) == 0)
			return true;
	return false;
}

/* Lists the images, then asks for each one's configuration. */
static void image_detail_next(struct rop *op)
{
	struct rt_req *req = op->req;
	struct sw_err err;

	if (op->i >= req->n_images) {
		rop_done(op, 0);
		return;
	}
	if (call_image_status(op, req->images[op->i].id, true, &err) != 0)
		rop_fail(op, &err);
}

static void list_images_reply(struct rop *op, int status, struct cri_req *r)
{
	struct rt_req *req = op->req;

	if (req->images == NULL) {
		const Runtime__V1__ListImagesResponse *l = r->reply.list_images;

		req->images = xcalloc(l->n_images + 1, sizeof(*req->images));
		for (size_t i = 0; i < l->n_images; i++)
			if (!is_sandbox_image(op->rt, l->images[i]))
				image_from(&req->images[req->n_images++],
					   l->images[i]);
		op->i = 0;
		image_detail_next(op);
		return;
	}
	/* An image removed since the list keeps no configuration. */
	if (status == 0 && r->reply.image_status->image != NULL) {
		const Runtime__V1__ImageStatusResponse *s =
		    r->reply.image_status;
		const char *info = info_value(s->info, s->n_info, "info");

		if (info != NULL)
			req->images[op->i].config = rt_cri_image_config(info);
	}
	op->i++;
	image_detail_next(op);
}

static void inspect_image_reply(struct rop *op, struct cri_req *r)
{
	const Runtime__V1__ImageStatusResponse *s = r->reply.image_status;
	struct rt_req *req = op->req;
	const char *info;

	if (s->image == NULL) {
		sw_err_set(&req->err, SW_ENOTFOUND, "No such image: %s", op->a);
		rop_done(op, -SW_ENOTFOUND);
		return;
	}
	req->images = xcalloc(1, sizeof(*req->images));
	req->n_images = 1;
	image_from(&req->images[0], s->image);
	info = info_value(s->info, s->n_info, "info");
	if (info != NULL)
		req->images[0].config = rt_cri_image_config(info);
	rop_done(op, 0);
}

/* Lists containers, then (detailed) asks for each one's status. */
static void detail_next(struct rop *op)
{
	struct rt_req *req = op->req;
	struct sw_err err;

	while (op->i < req->n_containers) {
		if (call_container_status(op, req->containers[op->i].id,
					  &err) == 0)
			return;
		rop_fail(op, &err);
		return;
	}
	qsort(req->containers, req->n_containers, sizeof(*req->containers),
	      newest_first);
	rop_done(op, 0);
}

static void list_ctrs_reply(struct rop *op, int status, struct cri_req *r)
{
	struct rt_req *req = op->req;

	if (req->containers == NULL) {
		const Runtime__V1__ListContainersResponse *l =
		    r->reply.list_containers;

		req->containers =
		    xcalloc(l->n_containers + 1, sizeof(*req->containers));
		for (size_t i = 0; i < l->n_containers; i++)
			container_from_list(
			    &req->containers[req->n_containers++],
			    l->containers[i]);
		if (!op->detailed)
			op->i = req->n_containers;
		detail_next(op);
		return;
	}
	/* A container removed between the list and its status is kept
	 * with what the list said. */
	if (status == 0)
		container_from_status(&req->containers[op->i],
				      r->reply.container_status);
	op->i++;
	detail_next(op);
}

static void inspect_ctr_reply(struct rop *op, struct cri_req *r)
{
	struct rt_req *req = op->req;

	req->containers = xcalloc(1, sizeof(*req->containers));
	req->n_containers = 1;
	container_from_status(&req->containers[0], r->reply.container_status);
	rop_done(op, 0);
}

/* A NUL-terminated copy of a protobuf bytes field. */
static char *copy_bytes(const ProtobufCBinaryData *b, size_t *len)
{
	char *p = xmalloc(b->len + 1);

	if (b->len > 0)
		memcpy(p, b->data, b->len);
	p[b->len] = '\0';
	*len = b->len;
	return p;
}

static void exec_reply(struct rop *op, struct cri_req *r)
{
	const Runtime__V1__ExecSyncResponse *x = r->reply.exec_sync;
	struct rt_req *req = op->req;

	req->out = copy_bytes(&x->stdout, &req->out_len);
	req->errout = copy_bytes(&x->stderr, &req->errout_len);
	req->exit_code = x->exit_code;
	rop_done(op, 0);
}

static void settle_next(struct rop *op);
static const char *settle_subject(const struct rop *op);
static void on_settle_timer(uv_timer_t *t);

/* Whether CRI's view already shows what ctr did. */
static bool settled(const struct rop *op,
		    const Runtime__V1__ImageStatusResponse *s)
{
	switch (op->kind) {
	case R_TAG:
		return s->image != NULL && strcmp(s->image->id, op->a) == 0;
	case R_UNTAG:
		return s->image == NULL;
	default:
		return s->image != NULL;
	}
}

static void settle_reply(struct rop *op, int status, struct cri_req *r)
{
	if (status == 0 && !settled(op, r->reply.image_status) &&
	    uv_now(op->rt->loop) < op->deadline) {
		uv_timer_start(&op->timer, on_settle_timer, SETTLE_POLL_MS, 0);
		return;
	}
	if (status == 0 && !settled(op, r->reply.image_status))
		log_warn("runtime: containerd's CRI did not see a change to "
			 "%s within %d ms",
			 settle_subject(op), SETTLE_MS);
	op->i++;
	settle_next(op);
}

static void on_call(struct cri_req *r, int status)
{
	struct rop *op = r->data;

	if (op->settling) {
		settle_reply(op, status, r);
		return;
	}
	/* In the second phase of a list, a vanished item is no failure. */
	if (status < 0 &&
	    !(op->kind == R_LIST_CTRS && op->req->containers && !r->canceled) &&
	    !(op->kind == R_LIST_IMAGES && op->req->images && !r->canceled)) {
		rop_fail(op, &r->err);
		return;
	}
	switch (op->kind) {
	case R_LIST_IMAGES:
		list_images_reply(op, status, r);
		break;
	case R_INSPECT_IMAGE:
		inspect_image_reply(op, r);
		break;
	case R_PULL:
		copy_id(op->req->image_id, r->reply.pull_image->image_ref);
		rop_done(op, 0);
		break;
	case R_LIST_CTRS:
		list_ctrs_reply(op, status, r);
		break;
	case R_INSPECT_CTR:
		inspect_ctr_reply(op, r);
		break;
	case R_EXEC:
		exec_reply(op, r);
		break;
	default:
		rop_done(op, 0);
		break;
	}
}

/* ---- Waiting for CRI to see what ctr did ---- */

static const char *settle_subject(const struct rop *op)
{
	if (op->kind == R_LOAD || op->kind == R_UNTAG)
		return op->i < op->n_names ? op->names[op->i] : NULL;
	return op->i == 0 ? op->b : NULL;
}

static void settle_next(struct rop *op)
{
	const char *name = settle_subject(op);
	struct sw_err err;

	if (op->rt->closing) {
		sw_err_set(&err, SW_EUNAVAILABLE, "runtime closing");
		rop_fail(op, &err);
		return;
	}
	if (name == NULL) {
		rop_done(op, 0);
		return;
	}
	if (call_image_status(op, name, false, &err) != 0)
		rop_fail(op, &err);
}

static void on_settle_timer(uv_timer_t *t)
{
	settle_next(t->data);
}

static void settle_start(struct rop *op)
{
	op->settling = true;
	op->i = 0;
	op->deadline = uv_now(op->rt->loop) + SETTLE_MS;
	settle_next(op);
}

/* ---- ctr ---- */

static void proc_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	static char scratch[16384];

	/* Single-threaded loop; bytes are copied out at once in on_read. */
	*b = uv_buf_init(scratch, sizeof(scratch));
}

static void proc_finished(struct rop *op);

static void on_proc_handle_closed(uv_handle_t *h)
{
	struct rop *op = h->data;

	if (--op->proc.open == 0)
		proc_finished(op);
}

static void proc_close(struct rop *op, uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, on_proc_handle_closed);
}

static void on_proc_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct rop *op = s->data;
	struct buf *out = s == (uv_stream_t *)&op->proc.out ? &op->proc.out_buf
							    : &op->proc.err_buf;

	if (n > 0 && out->len + (size_t)n <= OUTPUT_MAX)
		buf_append(out, b->base, (size_t)n);
	if (n < 0)
		proc_close(op, (uv_handle_t *)s);
}

static void on_proc_exit(uv_process_t *p, int64_t status, int sig)
{
	struct rop *op = p->data;

	op->proc.status = sig != 0 ? -sig : status;
	op->proc.exited = true;
	uv_timer_stop(&op->timer);
	proc_close(op, (uv_handle_t *)p);
}

static void close_stdin(struct rop *op)
{
	if (!op->proc.in_open)
		return;
	op->proc.in_open = false;
	proc_close(op, (uv_handle_t *)&op->proc.in);
}

static void proc_kill(struct rop *op)
{
	if (op->has_proc && !op->proc.spawn_failed && !op->proc.exited)
		(void)uv_process_kill(&op->proc.handle, SIGKILL);
}

static void on_ctr_deadline(uv_timer_t *t)
{
	struct rop *op = t->data;

	log_warn("runtime: ctr (pid %d) did not finish in time; killing it",
		 op->proc.handle.pid);
	proc_kill(op);
}

/* Starts ctr with args after the address and namespace. Returns 0, or -1
 * with err set (the op is then released silently once its handles
 * closed). */
static int ctr_spawn(struct rop *op, const char *const *args, size_t nargs,
		     bool with_stdin, struct sw_err *err)
{
	struct rt_cri *rt = op->rt;
	struct proc *p = &op->proc;
	const char **argv = xcalloc(nargs + 6, sizeof(*argv));
	uv_stdio_container_t stdio[3];
	uv_process_options_t o;
	size_t n = 0;
	int rc;

	argv[n++] = rt->ctr;
	argv[n++] = "--address";
	argv[n++] = rt->socket;
	argv[n++] = "--namespace";
	argv[n++] = RT_CRI_NAMESPACE;
	for (size_t i = 0; i < nargs; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	op->has_proc = true;
	buf_init(&p->out_buf);
	buf_init(&p->err_buf);
	uv_pipe_init(rt->loop, &p->out, 0);
	uv_pipe_init(rt->loop, &p->err, 0);
	p->out.data = p->err.data = p->handle.data = op;
	p->open = 3;
	memset(stdio, 0, sizeof(stdio));
	stdio[0].flags = UV_IGNORE;
	if (with_stdin) {
		uv_pipe_init(rt->loop, &p->in, 0);
		p->in.data = op;
		p->open++;
		p->in_open = true;
		stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
		stdio[0].data.stream = (uv_stream_t *)&p->in;
	}
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)&p->out;
	stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[2].data.stream = (uv_stream_t *)&p->err;
	memset(&o, 0, sizeof(o));
	o.file = rt->ctr;
	o.args = (char **)argv;
	o.stdio = stdio;
	o.stdio_count = 3;
	o.exit_cb = on_proc_exit;
	rc = uv_spawn(rt->loop, &p->handle, &o);
	free(argv);
	if (rc != 0) {
		sw_err_set(err, SW_ESYSTEM, "cannot run %s: %s", rt->ctr,
			   uv_strerror(rc));
		p->spawn_failed = true;
		/* libuv initializes the process handle even when spawning
		 * fails; every handle closes before the op goes. */
		p->in_open = false;
		if (with_stdin)
			proc_close(op, (uv_handle_t *)&p->in);
		proc_close(op, (uv_handle_t *)&p->out);
		proc_close(op, (uv_handle_t *)&p->err);
		proc_close(op, (uv_handle_t *)&p->handle);
		return -1;
	}
	uv_read_start((uv_stream_t *)&p->out, proc_alloc, on_proc_read);
	uv_read_start((uv_stream_t *)&p->err, proc_alloc, on_proc_read);
	if (!with_stdin)
		uv_timer_start(&op->timer, on_ctr_deadline, CTR_MS, 0);
	return 0;
}

/* Every handle of the program is closed: on to the next step. */
static void proc_finished(struct rop *op)
{
	struct proc *p = &op->proc;
	struct sw_err err;

	if (p->spawn_failed) {
		buf_free(&p->out_buf);
		buf_free(&p->err_buf);
		rop_release(op);
		return;
	}
	if (op->kind == R_LOAD && !op->ended)
		return; /* load_end finishes it */
	if (p->status != 0 || (op->kind == R_LOAD && !op->complete)) {
		char msg[sizeof(err.msg)];

		rt_cri_ctr_error(p->err_buf.data, "", msg, sizeof(msg));
		if (op->kind == R_LOAD && !op->complete)
			sw_err_set(&err, SW_EUNAVAILABLE,
				   "image load canceled");
		else if (msg[0] != '\0')
			sw_err_set(&err, SW_ESYSTEM, "%s", msg);
		else
			sw_err_set(&err, SW_ESYSTEM, "ctr failed (status %lld)",
				   (long long)p->status);
		buf_free(&p->out_buf);
		buf_free(&p->err_buf);
		rop_fail(op, &err);
		return;
	}
	if (op->kind == R_LOAD)
		op->n_names = rt_cri_import_names(p->out_buf.data, &op->names);
	buf_free(&p->out_buf);
	buf_free(&p->err_buf);
	if (op->rt->closing) {
		sw_err_set(&err, SW_EUNAVAILABLE, "runtime closing");
		rop_fail(op, &err);
		return;
	}
	settle_start(op);
}

/* ---- Loading ---- */

struct stdin_write {
	uv_write_t w;
	struct rop *op;
	size_t n;
	char data[];
};

static void drain_if_waiting(struct rop *op)
{
	struct proc *p = &op->proc;

	if (p->want_drain &&
	    (p->queued < LOAD_PAUSE_BYTES / 2 || p->in_failed) &&
	    op->ld->on_drain != NULL) {
		p->want_drain = false;
		op->ld->on_drain(op->ld);
	}
}

static void on_stdin_written(uv_write_t *w, int status)
{
	struct stdin_write *sw = CONTAINER_OF(w, struct stdin_write, w);
	struct rop *op = sw->op;

	op->proc.queued -= sw->n;
	free(sw);
	if (status < 0 && !op->proc.in_failed) {
		/* ctr stopped reading (it failed): drop the rest. */
		op->proc.in_failed = true;
		close_stdin(op);
	}
	drain_if_waiting(op);
}

static bool cri_load_write(struct rt_load *ld, const void *data, size_t n)
{
	struct rop *op = ld->priv;
	struct proc *p;
	struct stdin_write *sw;
	uv_buf_t b;

	if (op == NULL)
		return false;
	p = &op->proc;
	if (op->ended || p->in_failed || !p->in_open || n == 0)
		return false;
	sw = xmalloc(sizeof(*sw) + n);
	sw->op = op;
	sw->n = n;
	memcpy(sw->data, data, n);
	b = uv_buf_init(sw->data, (unsigned)n);
	if (uv_write(&sw->w, (uv_stream_t *)&p->in, &b, 1, on_stdin_written) !=
	    0) {
		free(sw);
		p->in_failed = true;
		close_stdin(op);
		return false;
	}
	p->queued += n;
	if (p->queued >= LOAD_PAUSE_BYTES) {
		p->want_drain = true;
		return true;
	}
	return false;
}

static void on_stdin_shut(uv_shutdown_t *s, int status)
{
	struct rop *op = s->data;

	close_stdin(op);
}

static void cri_load_end(struct rt_load *ld, bool complete)
{
	struct rop *op = ld->priv;
	struct proc *p;

	if (op == NULL || op->ended)
		return;
	p = &op->proc;
	op->ended = true;
	op->complete = complete;
	p->want_drain = false;
	if (!complete) {
		proc_kill(op);
		close_stdin(op);
	} else if (p->in_open) {
		p->shut.data = op;
		if (uv_shutdown(&p->shut, (uv_stream_t *)&p->in,
				on_stdin_shut) != 0)
			close_stdin(op);
	}
	if (p->open == 0)
		proc_finished(op);
}

/* ======================================================================
 * The operations
 * ====================================================================== */

static int refuse_if_closing(struct rt_cri *rt, struct sw_err *err)
{
	if (rt->closing)
		return sw_err_set(err, SW_EUNAVAILABLE, "runtime closing");
	return 0;
}

/* Starts op's first CRI call; on failure the op goes without a callback. */
static int first_call(struct rop *op, enum cri_method m,
		      const ProtobufCMessage *msg, unsigned timeout_ms,
		      struct sw_err *err)
{
	int rc = call(op, m, msg, timeout_ms, err);

	if (rc != 0)
		rop_release(op);
	return rc;
}

static int cri_list_images(struct node_runtime *base, struct rt_req *req,
			   rt_cb cb, struct sw_err *err)
{
	struct rt_cri *rt = to_rt(base);
	int rc = refuse_if_closing(rt, err);

	if (rc != 0)
		return rc;
	return first_call(rop_new(rt, R_LIST_IMAGES, req, cb), CRI_LIST_IMAGES,
			  NULL, 0, err);
}

static int cri_inspect_image(struct node_runtime *base, struct rt_req *req,
			     const char *id, rt_cb cb, struct sw_err *err)
{
	struct rt_cri *rt = to_rt(base);
	struct rop *op;
	int rc = refuse_if_closing(rt, err);

	if (rc != 0)
		return rc;
	op = rop_new(rt, R_INSPECT_IMAGE, req, cb);
	op->a = xstrdup(id);
	rc = call_image_status(op, id, true, err);
	if (rc != 0)
		rop_release(op);
	return rc;
}

static int cri_pull_image(struct node_runtime *base, struct rt_req *req,
			  const char *ref, rt_cb cb, struct sw_err *err)
{
	struct rt_cri *rt = to_rt(base);
	Runtime__V1__PullImageRequest msg =
	    RUNTIME__V1__PULL_IMAGE_REQUEST__INIT;
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	int rc = refuse_if_closing(rt, err);

	if (rc != 0)
		return rc;
	spec.image = (char *)ref;
	msg.image = &spec;
	return first_call(rop_new(rt, R_PULL, req, cb), CRI_PULL_IMAGE,
			  &msg.base, PULL_MS, err);
}

static int ctr_op(struct rt_cri *rt, enum rop_kind kind, struct rt_req *req,
		  rt_cb cb, const char *a, const char *b,
		  const char *const *args, size_t nargs, struct sw_err *err)
{
	struct rop *op;
	int rc = refuse_if_closing(rt, err);

	if (rc != 0)
		return rc;
	op = rop_new(rt, kind, req, cb);
	op->a = a != NULL ? xstrdup(a) : NULL;
	op->b = b != NULL ? xstrdup(b) : NULL;
	if (ctr_spawn(op, args, nargs, false, err) != 0)
		return -(int)err->kind;
	return 0;
}

static int cri_tag_image(struct node_runtime *base, struct rt_req *req,
			 const char *id, const char *ref, rt_cb cb,
			 struct sw_err *err)
{
	const char *args[] = {"images", "tag", "--force", id, ref};

	return ctr_op(to_rt(base), R_TAG, req, cb, id, ref, args, 5, err);
}

static int cri_untag_image(struct node_runtime *base, struct rt_req *req,
			   const char *const *refs, size_t n, rt_cb cb,
			   struct sw_err *err)
{
	const char **args;
	int rc;

	if (n == 0)
		return sw_err_set(err, SW_EINVALID, "no image name to remove");
	args = xcalloc(n + 2, sizeof(*args));
	args[0] = "images";
	args[1] = "rm";
	memcpy(args + 2, refs, n * sizeof(*refs));
	rc =
	    ctr_op(to_rt(base), R_UNTAG, req, cb, NULL, NULL, args, n + 2, err);
	if (rc == 0) {
		struct rop *op = req->priv;

		op->names = copy_strv((char *const *)refs, n);
		op->n_names = n;
	}
	free(args);
	return rc;
}

static int cri_remove_image(struct node_runtime *base, struct rt_req *req,
			    const char *id, rt_cb cb, struct sw_err *err)
{
	struct rt_cri *rt = to_rt(base);
	Runtime__V1__RemoveImageRequest msg =
	    RUNTIME__V1__REMOVE_IMAGE_REQUEST__INIT;
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	int rc = refuse_if_closing(rt, err);

	if (rc != 0)
		return rc;
	spec.image = (char *)id;
	msg.image = &spec;
	return first_call(rop_new(rt, R_REMOVE_IMAGE, req, cb),
			  CRI_REMOVE_IMAGE, &msg.base, 0, err);
}

static int cri_load_start(struct node_runtime *base, struct rt_load *ld,
			  rt_load_cb cb, struct sw_err *err)
{
	static const char *const args[] = {"images", "import", "-"};
	struct rt_cri *rt = to_rt(base);
	struct rop *op;
	int rc = refuse_if_closing(rt, err);

	if (rc != 0)
		return rc;
	op = rop_new(rt, R_LOAD, NULL, NULL);
	op->ld = ld;
	op->load_cb = cb;
	sw_err_clear(&ld->err);
	ld->names = NULL;
	ld->n_names = 0;
	ld->priv = op;
	if (ctr_spawn(op, args, 3, true, err) != 0) {
		ld->priv = NULL;
		return -(int)err->kind;
	}
	return 0;
}

static int cri_list_containers(struct node_runtime *base, struct rt_req *req,
			       bool detailed, rt_cb cb, struct sw_err *err)
{
	struct rt_cri *rt = to_rt(base);
	struct rop *op;
	int rc = refuse_if_closing(rt, err);

	if (rc != 0)
		return rc;
	op = rop_new(rt, R_LIST_CTRS, req, cb);
	op->detailed = detailed;
	return first_call(op, CRI_LIST_CONTAINERS, NULL, 0, err);
}

static int cri_inspect_container(struct node_runtime *base, struct rt_req *req,
				 const char *id, rt_cb cb, struct sw_err *err)
{
	struct rt_cri *rt = to_rt(base);
	struct rop *op;
	int rc = refuse_if_closing(rt, err);

	if (rc != 0)
		return rc;
	op = rop_new(rt, R_INSPECT_CTR, req, cb);
	rc = call_container_status(op, id, err);
	if (rc != 0)
		rop_release(op);
	return rc;
}

static int cri_exec_sync(struct node_runtime *base, struct rt_req *req,
			 const char *id, const char *const *argv, size_t argc,
			 rt_cb cb, struct sw_err *err)
{
	struct rt_cri *rt = to_rt(base);
	Runtime__V1__ExecSyncRequest msg = RUNTIME__V1__EXEC_SYNC_REQUEST__INIT;
	unsigned deadline = EXEC_FOREVER_MS;
	int rc = refuse_if_closing(rt, err);

	if (rc != 0)
		return rc;
	if (argc == 0)
		return sw_err_set(err, SW_EINVALID, "no command to run");
	msg.container_id = (char *)id;
	msg.cmd = (char **)argv;
	msg.n_cmd = argc;
	msg.timeout = req->timeout_s > 0 ? req->timeout_s : 0;
	if (req->timeout_s > 0 && req->timeout_s < EXEC_FOREVER_MS / 1000 - 60)
		deadline = (unsigned)(req->timeout_s + 60) * 1000;
	return first_call(rop_new(rt, R_EXEC, req, cb), CRI_EXEC_SYNC,
			  &msg.base, deadline, err);
}

static int cri_read_log(struct node_runtime *base, const char *log_path,
			const struct exec_log_query *q, struct exec_logs *out,
			struct sw_err *err)
{
	if (log_path == NULL || log_path[0] == '\0')
		return sw_err_set(err, SW_ENOTFOUND, "container has no log");
	return exec_cri_read_log(log_path, q, out, err);
}

static void on_cri_closed(struct cri_client *c, void *data)
{
	struct rt_cri *rt = data;

	rt->cri = NULL;
	rt->cri_closed = true;
	maybe_closed(rt);
}

static void cri_close(struct node_runtime *base, rt_close_cb cb, void *data)
{
	struct rt_cri *rt = to_rt(base);
	struct sw_err err;

	rt->closing = true;
	rt->close_cb = cb;
	rt->close_data = data;
	sw_err_set(&err, SW_EUNAVAILABLE, "runtime closing");
	for (struct rop *op = rt->rops; op != NULL; op = op->next) {
		proc_kill(op);
		if (op->kind == R_LOAD && !op->ended) {
			op->ended = true;
			op->complete = false;
			close_stdin(op);
		}
	}
	/* Ops waiting on a settle timer end now; those in a CRI call end
	 * when the client cancels it; those running ctr when it dies. */
	for (;;) {
		struct rop *op = rt->rops;

		while (op != NULL && !(op->settling &&
				       uv_is_active((uv_handle_t *)&op->timer)))
			op = op->next;
		if (op == NULL)
			break;
		uv_timer_stop(&op->timer);
		rop_fail(op, &err);
	}
	cri_client_close(rt->cri, on_cri_closed, rt);
}

static const struct runtime_ops cri_runtime_ops = {
    .list_images = cri_list_images,
    .inspect_image = cri_inspect_image,
    .pull_image = cri_pull_image,
    .tag_image = cri_tag_image,
    .untag_image = cri_untag_image,
    .remove_image = cri_remove_image,
    .load_start = cri_load_start,
    .load_write = cri_load_write,
    .load_end = cri_load_end,
    .list_containers = cri_list_containers,
    .inspect_container = cri_inspect_container,
    .exec_sync = cri_exec_sync,
    .read_log = cri_read_log,
    .close = cri_close,
};

struct node_runtime *runtime_cri_new(uv_loop_t *loop, const char *socket,
				     const struct rt_cri_config *cfg,
				     struct sw_err *err)
{
	struct rt_cri *rt = xcalloc(1, sizeof(*rt));

	rt->base.ops = &cri_runtime_ops;
	rt->loop = loop;
	rt->cri =
	    cri_client_new(loop, socket, cfg != NULL ? cfg->grpc : NULL, err);
	if (rt->cri == NULL) {
		free(rt);
		return NULL;
	}
	rt->socket = xstrdup(socket);
	rt->ctr = xstrdup(cfg != NULL && cfg->ctr != NULL ? cfg->ctr : "ctr");
	if (cfg != NULL && cfg->sandbox_image != NULL)
		rt->sandbox_image = xstrdup(cfg->sandbox_image);
	return &rt->base;
}
