/* /images on the node runtime: list, inspect, tag, remove, pull
 * (POST /images/create) and load (POST /images/load, whose tar body is
 * streamed into the runtime as it arrives). Answers are Docker's: JSON
 * streams for pull and load, `{"Untagged"}`/`{"Deleted"}` records for
 * remove, "No such image: <name:tag>" for what is absent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-api/api.h"
#include "engine-api/codec_image.h"
#include "engine-api/filters.h"
#include "engine-api/imageref.h"
#include "engine-api/routes.h"
#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/jsonx.h"
#include "orchestrator/runtime.h"

/* One image request and the runtime calls answering it. */
struct img_op {
	struct api_req *req;
	struct node_runtime *rt;
	struct rt_req call;
	struct filters f;
	struct image_match m;   /* the image the client named */
	char id[RT_ID_MAX];     /* its ID */
	char ref[IMAGEREF_MAX]; /* tag: the new name; pull: what is pulled */
	char *name;             /* the client's words for the image */
	struct rt_image img;    /* rmi: its names (a copy) */
	struct rmi_plan plan;   /* rmi: what goes */
	bool force;
	bool existed; /* pull: the image was there before */
};

static struct img_op *op_new(struct api_req *req, struct node_runtime *rt)
{
	struct img_op *op = xcalloc(1, sizeof(*op));

	op->req = req;
	op->rt = rt;
	op->call.data = op;
	api_req_ref(req);
	return op;
}

static void op_free(struct img_op *op)
{
	filters_free(&op->f);
	for (size_t i = 0; i < op->img.n_tags; i++)
		free(op->img.tags[i]);
	free(op->img.tags);
	for (size_t i = 0; i < op->img.n_digests; i++)
		free(op->img.digests[i]);
	free(op->img.digests);
	free(op->plan.untag);
	free(op->name);
	api_req_unref(op->req);
	free(op);
}

/* After starting a runtime call: on failure answers and ends the op. */
static void check_started(struct img_op *op, int rc, const struct sw_err *err)
{
	if (rc == 0)
		return;
	api_reply_error(op->req, err);
	op_free(op);
}

/* Answers a failed runtime call and ends the op; true when it failed. */
static bool failed(struct img_op *op, struct rt_req *r, int status)
{
	if (status == 0)
		return false;
	api_reply_error(op->req, &r->err);
	op_free(op);
	return true;
}

/* Starts listing the images for an op that then continues in cb. */
static void list_then(struct img_op *op, rt_cb cb)
{
	struct sw_err err;

	check_started(op, runtime_list_images(op->rt, &op->call, cb, &err),
		      &err);
}

/* Finds the client's image in a list reply; answers and ends the op when
 * it is not there. */
static bool found(struct img_op *op, struct rt_req *r)
{
	struct sw_err err;

	if (codec_image_find(r->images, r->n_images, op->name, &op->m, &err) !=
	    0) {
		api_reply_error(op->req, &err);
		op_free(op);
		return false;
	}
	(void)snprintf(op->id, sizeof(op->id), "%s", r->images[op->m.index].id);
	return true;
}

/* ---- GET /images/json ---- */

static void on_listed(struct rt_req *r, int status)
{
	struct img_op *op = r->data;

	if (failed(op, r, status))
		return;
	api_reply_json(op->req, 200,
		       codec_image_list(r->images, r->n_images, &op->f));
	op_free(op);
}

void h_images_list(struct api_req *req)
{
	struct node_runtime *rt = api_runtime(req);
	struct img_op *op;
	struct sw_err err;

	if (rt == NULL)
		return;
	op = op_new(req, rt);
	if (filters_parse(api_query(req, "filters"), &op->f, &err) != 0 ||
	    codec_image_filters_check(&op->f, &err) != 0) {
		api_reply_error(req, &err);
		op_free(op);
		return;
	}
	list_then(op, on_listed);
}

/* ---- GET /images/{name}/json ---- */

static void on_inspect_listed(struct rt_req *r, int status)
{
	struct img_op *op = r->data;

	if (failed(op, r, status) || !found(op, r))
		return;
	api_reply_json(op->req, 200,
		       codec_image_inspect(&r->images[op->m.index]));
	op_free(op);
}

void h_images_inspect(struct api_req *req)
{
	struct node_runtime *rt = api_runtime(req);
	struct img_op *op;

	if (rt == NULL)
		return;
	op = op_new(req, rt);
	op->name = xstrdup(req->params[0]);
	list_then(op, on_inspect_listed);
}

/* ---- POST /images/{name}/tag ---- */

/* The new name from ?repo= and ?tag=, as Docker's TagImage reads them. */
static int tag_target(const char *repo, const char *tag, char *out, size_t n,
		      struct sw_err *err)
{
	struct imageref r;

	if (repo == NULL || repo[0] == '\0')
		return sw_err_set(err, SW_EINVALID,
				  "repository name must have at least one "
				  "component");
	if (imageref_parse(repo, &r, err) != 0)
		return -1;
	if (r.digest[0] != '\0')
		return sw_err_set(err, SW_EINVALID,
				  "refusing to create a tag with a digest "
				  "reference");
	if (tag != NULL && tag[0] != '\0') {
		if (!imageref_valid_tag(tag))
			return sw_err_set(err, SW_EINVALID,
					  "invalid tag format");
		(void)snprintf(r.tag, sizeof(r.tag), "%s", tag);
	}
	imageref_default_tag(&r);
	imageref_format(&r, out, n);
	return 0;
}

static void on_tagged(struct rt_req *r, int status)
{
	struct img_op *op = r->data;

	if (failed(op, r, status))
		return;
	api_reply_empty(op->req, 201);
	op_free(op);
}

static void on_tag_listed(struct rt_req *r, int status)
{
	struct img_op *op = r->data;
	struct sw_err err;

	if (failed(op, r, status) || !found(op, r))
		return;
	if (tag_target(api_query(op->req, "repo"), api_query(op->req, "tag"),
		       op->ref, sizeof(op->ref), &err) != 0) {
		api_reply_error(op->req, &err);
		op_free(op);
		return;
	}
	check_started(op,
		      runtime_tag_image(op->rt, &op->call, op->id, op->ref,
					on_tagged, &err),
		      &err);
}

void h_images_tag(struct api_req *req)
{
	struct node_runtime *rt = api_runtime(req);
	struct img_op *op;

	if (rt == NULL)
		return;
	op = op_new(req, rt);
	op->name = xstrdup(req->params[0]);
	list_then(op, on_tag_listed);
}

/* ---- DELETE /images/{name} ---- */

static void add_record(struct json_object *a, const char *key,
		       const char *value)
{
	struct json_object *o = json_object_new_object();

	jsonx_add_string(o, key, value);
	json_object_array_add(a, o);
}

static void on_rmi_done(struct rt_req *r, int status)
{
	struct img_op *op = r->data;
	struct json_object *records;
	char fam[IMAGEREF_MAX];

	if (failed(op, r, status))
		return;
	records = json_object_new_array();
	for (size_t i = 0; i < op->plan.n_untag; i++) {
		imageref_familiar(op->plan.untag[i], true, fam, sizeof(fam));
		add_record(records, "Untagged", fam);
	}
	if (op->plan.del)
		add_record(records, "Deleted", op->id);
	api_reply_json(op->req, 200, records);
	op_free(op);
}

static void on_rmi_containers(struct rt_req *r, int status)
{
	struct img_op *op = r->data;
	struct sw_err err;
	int rc;

	if (failed(op, r, status))
		return;
	if (codec_image_rmi_plan(&op->img, &op->m, op->name, op->force,
				 r->containers, r->n_containers, &op->plan,
				 &err) != 0) {
		api_reply_error(op->req, &err);
		op_free(op);
		return;
	}
	if (op->plan.del)
		rc = runtime_remove_image(op->rt, &op->call, op->id,
					  on_rmi_done, &err);
	else
		rc = runtime_untag_image(op->rt, &op->call,
					 (const char *const *)op->plan.untag,
					 op->plan.n_untag, on_rmi_done, &err);
	check_started(op, rc, &err);
}

static char **copy_strv(char *const *v, size_t n)
{
	char **out = xcalloc(n + 1, sizeof(*out));

	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

static void on_rmi_listed(struct rt_req *r, int status)
{
	struct img_op *op = r->data;
	const struct rt_image *im;
	struct sw_err err;

	if (failed(op, r, status) || !found(op, r))
		return;
	/* The plan needs the image once the containers are known. */
	im = &r->images[op->m.index];
	(void)snprintf(op->img.id, sizeof(op->img.id), "%s", im->id);
	op->img.tags = copy_strv(im->tags, im->n_tags);
	op->img.n_tags = im->n_tags;
	op->img.digests = copy_strv(im->digests, im->n_digests);
	op->img.n_digests = im->n_digests;
	check_started(op,
		      runtime_list_containers(op->rt, &op->call, false,
					      on_rmi_containers, &err),
		      &err);
}

void h_images_remove(struct api_req *req)
{
	struct node_runtime *rt = api_runtime(req);
	struct img_op *op;

	if (rt == NULL)
		return;
	op = op_new(req, rt);
	op->name = xstrdup(req->params[0]);
	op->force = api_query_bool(req, "force");
	list_then(op, on_rmi_listed);
}

/* ---- POST /images/create (pull) ---- */

static void add_status(struct buf *b, const char *status, const char *id)
{
	struct json_object *o = json_object_new_object();
	size_t len;
	char *line;

	jsonx_add_string(o, "status", status);
	if (id != NULL)
		jsonx_add_string(o, "id", id);
	line = jsonx_to_body(o, &len);
	buf_append(b, line, len);
	free(line);
	json_object_put(o);
}

/* The repository's digest among the image's, e.g. "sha256:...", or NULL. */
static const char *repo_digest(const struct rt_image *im, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < im->n_digests; i++)
		if (strncmp(im->digests[i], name, n) == 0 &&
		    im->digests[i][n] == '@')
			return im->digests[i] + n + 1;
	return NULL;
}

/* Docker's progress stream of a finished pull (no per-layer progress:
 * CRI reports none). */
static void on_pulled_image(struct rt_req *r, int status)
{
	struct img_op *op = r->data;
	struct imageref ref;
	struct sw_err err;
	struct buf b;
	char fam[IMAGEREF_MAX];
	const char *path, *digest = NULL;
	char *line;

	if (failed(op, r, status))
		return;
	(void)imageref_parse(op->ref, &ref, &err);
	path = strchr(ref.name, '/') + 1;
	imageref_familiar(op->ref, true, fam, sizeof(fam));
	buf_init(&b);
	line = xasprintf("Pulling from %s", path);
	add_status(&b, line, ref.digest[0] != '\0' ? ref.digest : ref.tag);
	free(line);
	if (r->n_images > 0)
		digest = repo_digest(&r->images[0], ref.name);
	if (digest != NULL) {
		line = xasprintf("Digest: %s", digest);
		add_status(&b, line, NULL);
		free(line);
	}
	line = xasprintf(op->existed && strcmp(op->id, r->images[0].id) == 0
			     ? "Status: Image is up to date for %s"
			     : "Status: Downloaded newer image for %s",
			 fam);
	add_status(&b, line, NULL);
	free(line);
	api_reply_text(op->req, 200, "application/json",
		       b.data != NULL ? b.data : "");
	buf_free(&b);
	op_free(op);
}

static void on_pulled(struct rt_req *r, int status)
{
	struct img_op *op = r->data;
	struct sw_err err;
	char fam[IMAGEREF_MAX];

	if (status == -SW_ENOTFOUND) {
		imageref_familiar(op->ref, true, fam, sizeof(fam));
		api_reply_errorf(op->req, SW_ENOTFOUND,
				 "manifest for %s not found: manifest "
				 "unknown: manifest unknown",
				 fam);
		op_free(op);
		return;
	}
	if (failed(op, r, status))
		return;
	check_started(op,
		      runtime_inspect_image(op->rt, &op->call, op->ref,
					    on_pulled_image, &err),
		      &err);
}

static void on_pull_checked(struct rt_req *r, int status)
{
	struct img_op *op = r->data;
	struct sw_err err;

	if (status != -SW_ENOTFOUND && failed(op, r, status))
		return;
	op->existed = status == 0;
	if (status == 0)
		(void)snprintf(op->id, sizeof(op->id), "%s", r->images[0].id);
	check_started(
	    op, runtime_pull_image(op->rt, &op->call, op->ref, on_pulled, &err),
	    &err);
}

/* The reference ?fromImage= and ?tag= name (the tag may be a digest). */
static int pull_target(const char *image, const char *tag, char *out, size_t n,
		       struct sw_err *err)
{
	struct imageref r;

	if (imageref_parse(image, &r, err) != 0)
		return -1;
	if (tag != NULL && tag[0] != '\0') {
		if (strchr(tag, ':') != NULL) {
			(void)snprintf(r.digest, sizeof(r.digest), "%s", tag);
			r.tag[0] = '\0';
		} else if (!imageref_valid_tag(tag)) {
			return sw_err_set(err, SW_EINVALID,
					  "invalid tag format");
		} else {
			(void)snprintf(r.tag, sizeof(r.tag), "%s", tag);
		}
	}
	imageref_default_tag(&r);
	imageref_format(&r, out, n);
	return 0;
}

void h_images_create(struct api_req *req)
{
	struct node_runtime *rt = api_runtime(req);
	const char *image = api_query(req, "fromImage");
	struct img_op *op;
	struct sw_err err;

	if (rt == NULL)
		return;
	if (image == NULL || image[0] == '\0') {
		api_reply_errorf(req, SW_ENOTIMPL,
				 "importing a root file system (fromSrc) is "
				 "not supported");
		return;
	}
	op = op_new(req, rt);
	if (pull_target(image, api_query(req, "tag"), op->ref, sizeof(op->ref),
			&err) != 0) {
		api_reply_error(req, &err);
		op_free(op);
		return;
	}
	check_started(op,
		      runtime_inspect_image(rt, &op->call, op->ref,
					    on_pull_checked, &err),
		      &err);
}

/* ---- POST /images/load ---- */

struct load_op {
	struct api_req *req;
	struct node_runtime *rt;
	struct rt_load ld;
	bool done;  /* the runtime has answered */
	bool ended; /* the body has ended */
};

static void load_release(struct load_op *op)
{
	if (!op->done || !op->ended)
		return;
	api_req_unref(op->req);
	free(op);
}

static char *stream_line(const char *key, const char *text, size_t *len)
{
	struct json_object *o = json_object_new_object();
	char *line;

	if (strcmp(key, "error") == 0) {
		struct json_object *d = json_object_new_object();

		jsonx_add_string(d, "message", text);
		jsonx_add(o, "errorDetail", d);
	}
	jsonx_add_string(o, key, text);
	line = jsonx_to_body(o, len);
	json_object_put(o);
	return line;
}

static void on_loaded(struct rt_load *ld, int status)
{
	struct load_op *op = ld->data;
	struct buf b;
	size_t len;
	char *line;

	op->done = true;
	buf_init(&b);
	if (status < 0) {
		line = stream_line("error", ld->err.msg, &len);
		buf_append(&b, line, len);
		free(line);
	}
	for (size_t i = 0; status == 0 && i < ld->n_names; i++) {
		char fam[IMAGEREF_MAX], *text;

		imageref_familiar(ld->names[i], true, fam, sizeof(fam));
		text = xasprintf("Loaded image: %s\n", fam);
		line = stream_line("stream", text, &len);
		buf_append(&b, line, len);
		free(line);
		free(text);
	}
	api_reply_text(op->req, 200, "application/json",
		       b.data != NULL ? b.data : "");
	buf_free(&b);
	load_release(op);
}

static void load_write(struct api_req *req, const char *data, size_t n)
{
	struct load_op *op = req->sink_data;

	if (!op->done && runtime_load_write(op->rt, &op->ld, data, n))
		api_req_pause_body(req);
}

static void load_end(struct api_req *req, bool complete)
{
	struct load_op *op = req->sink_data;

	op->ended = true;
	if (!op->done)
		runtime_load_end(op->rt, &op->ld, complete);
	load_release(op);
}

static void on_drain(struct rt_load *ld)
{
	struct load_op *op = ld->data;

	api_req_resume_body(op->req);
}

static const struct api_body_sink load_sink = {
    .write = load_write,
    .end = load_end,
};

/* Docker's quiet and verbose answers differ only by per-layer progress
 * lines, which the runtime cannot report: both get the "Loaded image"
 * lines. */
void h_images_load(struct api_req *req)
{
	struct node_runtime *rt = api_runtime(req);
	struct load_op *op;
	struct sw_err err;

	if (rt == NULL)
		return;
	op = xcalloc(1, sizeof(*op));
	op->req = req;
	op->rt = rt;
	op->ld.data = op;
	op->ld.on_drain = on_drain;
	if (runtime_load_start(rt, &op->ld, on_loaded, &err) != 0) {
		free(op);
		api_reply_error(req, &err);
		return;
	}
	api_req_ref(req);
	api_req_stream_body(req, &load_sink, op);
}
