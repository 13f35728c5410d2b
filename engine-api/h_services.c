/* /services: create, list, inspect, update, remove; /distribution. */
#include <stdlib.h>
#include <string.h>

#include "engine-api/api.h"
#include "engine-api/codec_service.h"
#include "engine-api/filters.h"
#include "engine-api/routes.h"
#include "engine-api/server_priv.h"
#include "engine-api/svclist.h"
#include "lib/jsonx.h"

/* The one lookup every {id} route shares: 404 with Docker's text. */
static const struct store_record *resolve(struct api_req *req,
					  const char *ref)
{
	const struct store_record *rec = services_resolve(api_swarm(req), ref);

	if (rec == NULL)
		api_reply_errorf(req, SW_ENOTFOUND, "service %s not found", ref);
	return rec;
}

struct create_ctx {
	struct api_req *req;
	char id[27];
};

static void on_created(void *data, int status, const struct sw_err *err)
{
	struct create_ctx *ctx = data;
	struct api_req *req = ctx->req;

	if (status == 0) {
		struct json_object *o = json_object_new_object();

		jsonx_add_string(o, "ID", ctx->id);
		api_reply_json(req, 201, o);
	} else {
		api_reply_error(req, err);
	}
	api_req_unref(req);
	free(ctx);
}

void h_services_create(struct api_req *req)
{
	struct swarm_service svc;
	struct json_object *body;
	struct create_ctx *ctx;
	struct sw_err err;

	if (!api_require_manager(req))
		return;
	sw_err_clear(&err);
	body = api_req_json(req, &err);
	if (body == NULL ||
	    codec_service_decode(api_swarm(req), api_server_localnets(req->srv),
				 body, NULL, &svc, &err) != 0) {
		json_object_put(body);
		api_reply_error(req, &err);
		return;
	}
	json_object_put(body);
	ctx = calloc(1, sizeof(*ctx));
	ctx->req = req;
	api_req_ref(req);
	if (services_create(api_swarm(req), &svc, ctx->id, on_created, ctx,
			    &err) != 0) {
		api_req_unref(req);
		free(ctx);
		api_reply_error(req, &err);
	}
	codec_service_free(&svc);
}

static bool match_id(const char *v, const void *arg)
{
	const struct store_record *r = arg;

	return strncmp(r->id, v, strlen(v)) == 0;
}

static bool match_name(const char *v, const void *arg)
{
	const struct store_record *r = arg;

	return r->name != NULL && strncmp(r->name, v, strlen(v)) == 0;
}

static bool match_mode(const char *v, const void *arg)
{
	const Swarmd__Service *svc = arg;

	return strcmp(svc->mode, v) == 0;
}

/* "key" or "key=value" against the spec's Labels. */
static bool match_label(const char *v, const void *arg)
{
	const Swarmd__Service *svc = arg;
	const char *eq = strchr(v, '=');
	size_t klen = eq ? (size_t)(eq - v) : strlen(v);
	struct sw_err err;
	struct json_object *spec = jsonx_parse(
		(const char *)svc->spec_json.data, svc->spec_json.len, &err);
	struct json_object *labels = NULL, *val = NULL;
	char key[256];
	bool ok = false;

	if (klen >= sizeof(key) || spec == NULL) {
		json_object_put(spec);
		return false;
	}
	memcpy(key, v, klen);
	key[klen] = '\0';
	if (json_object_object_get_ex(spec, "Labels", &labels) &&
	    labels != NULL && json_object_object_get_ex(labels, key, &val))
		ok = eq == NULL || (val != NULL &&
				    strcmp(json_object_get_string(val),
					   eq + 1) == 0);
	json_object_put(spec);
	return ok;
}

static bool list_keeps(void *ctx, const struct store_record *r,
		       const Swarmd__Service *svc)
{
	const struct filters *f = ctx;

	return filters_match_any(f, "id", match_id, r) &&
	       filters_match_any(f, "name", match_name, r) &&
	       filters_match_any(f, "mode", match_mode, svc) &&
	       filters_match_any(f, "label", match_label, svc);
}

void h_services_list(struct api_req *req)
{
	static const char *const keys[] = {"id", "name", "label", "mode",
					   NULL};
	struct swarm *s = api_swarm(req);
	struct filters f;
	struct sw_err err;
	bool status = api_query_bool(req, "status");
	size_t len;
	char *body;

	if (!api_require_manager(req))
		return;
	if (filters_parse(api_query(req, "filters"), &f, &err) != 0 ||
	    filters_validate(&f, keys, &err) != 0) {
		filters_free(&f);
		api_reply_error(req, &err);
		return;
	}
	body = svclist_render(api_server_svclist(req->srv), swarm_store(s), status,
			      list_keeps, &f, &len);
	filters_free(&f);
	api_reply_json_text(req, 200, body, len);
}

void h_services_inspect(struct api_req *req)
{
	const struct store_record *rec;
	Swarmd__Service *svc;

	if (!api_require_manager(req) ||
	    (rec = resolve(req, req->params[0])) == NULL)
		return;
	svc = services_unpack(rec);
	api_reply_json(req, 200,
		       codec_service_to_json(
			       api_swarm(req), rec, svc, false,
			       api_query_bool(req, "insertDefaults")));
	swarmd__service__free_unpacked(svc, NULL);
}

static void on_updated(void *data, int status, const struct sw_err *err)
{
	struct api_req *req = data;

	if (status == 0) {
		struct json_object *o = json_object_new_object();

		jsonx_add(o, "Warnings", NULL);
		api_reply_json(req, 200, o);
	} else {
		api_reply_error(req, err);
	}
	api_req_unref(req);
}

static bool is_rollback(struct api_req *req)
{
	const char *rb = api_query(req, "rollback");

	return rb != NULL && strcmp(rb, "previous") == 0;
}

/* The body to apply: the request's, or PreviousSpec for ?rollback=previous. */
static struct json_object *update_body(struct api_req *req,
				       const struct store_record *rec,
				       struct sw_err *err)
{
	const char *rb = api_query(req, "rollback");
	Swarmd__Service *svc;
	struct json_object *prev;

	if (rb == NULL || strcmp(rb, "previous") != 0)
		return api_req_json(req, err);
	svc = services_unpack(rec);
	if (svc == NULL || svc->previous_spec_json.len == 0) {
		swarmd__service__free_unpacked(svc, NULL);
		sw_err_set(err, SW_EINVALID,
			   "rpc error: code = FailedPrecondition desc = service "
			   "%s does not have a previous spec",
			   rec->id);
		return NULL;
	}
	prev = jsonx_parse((const char *)svc->previous_spec_json.data,
			   svc->previous_spec_json.len, err);
	swarmd__service__free_unpacked(svc, NULL);
	return prev;
}

void h_services_update(struct api_req *req)
{
	const struct store_record *rec;
	struct swarm_service svc;
	struct json_object *body;
	struct sw_err err;
	uint64_t version;

	if (!api_require_manager(req))
		return;
	sw_err_clear(&err);
	if ((rec = resolve(req, req->params[0])) == NULL)
		return;
	if (api_query_version(req, "service", &version, &err) != 0) {
		api_reply_error(req, &err);
		return;
	}
	body = update_body(req, rec, &err);
	if (body == NULL ||
	    codec_service_decode(api_swarm(req), api_server_localnets(req->srv),
				 body, rec->id, &svc, &err) != 0) {
		json_object_put(body);
		api_reply_error(req, &err);
		return;
	}
	json_object_put(body);
	api_req_ref(req);
	if (services_update(api_swarm(req), rec->id, version, &svc,
			    is_rollback(req), on_updated, req, &err) != 0) {
		api_req_unref(req);
		api_reply_error(req, &err);
	}
	codec_service_free(&svc);
}

void h_services_remove(struct api_req *req)
{
	const struct store_record *rec;
	struct sw_err err;

	if (!api_require_manager(req) ||
	    (rec = resolve(req, req->params[0])) == NULL)
		return;
	api_req_ref(req);
	if (services_remove(api_swarm(req), rec->id, api_reply_done, req,
			    &err) != 0) {
		api_req_unref(req);
		api_reply_error(req, &err);
	}
}

/* No registry is consulted: the CLI then warns and keeps the tag, as it
 * does when dockerd cannot reach one (CONTRACT.md §8.1), without waiting. */
void h_distribution(struct api_req *req)
{
	api_reply_errorf(req, SW_ESYSTEM,
			 "image %s could not be resolved: swarmd does not "
			 "query registries for digests",
			 req->params[0]);
}
