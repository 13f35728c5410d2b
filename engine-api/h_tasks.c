/* /tasks: list with filters, inspect. */
#include <stdlib.h>
#include <string.h>

#include "engine-api/api.h"
#include "engine-api/codec_service.h"
#include "engine-api/filters.h"
#include "engine-api/routes.h"
#include "engine-api/server_priv.h"
#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/jsonx.h"
#include "lib/verscache.h"

struct task_view {
	const struct store_record *rec;
	const Swarmd__Task *t;
	struct swarm *s;
	int64_t spec_version; /* of the task's service, -1 if gone */
};

static bool match_id(const char *v, const void *arg)
{
	const struct task_view *tv = arg;

	return strncmp(tv->rec->id, v, strlen(v)) == 0;
}

static bool match_service(const char *v, const void *arg)
{
	const struct task_view *tv = arg;
	const struct store_record *svc = services_resolve(tv->s, v);

	return svc != NULL && strcmp(svc->id, tv->t->service_id) == 0;
}

static bool match_node(const char *v, const void *arg)
{
	const struct task_view *tv = arg;

	return strcmp(tv->t->node_id, v) == 0 ||
	       (v[0] != '\0' && strncmp(tv->t->node_id, v, strlen(v)) == 0);
}

/* `<service>.<slot>` (or `<service>.<node>`), as the CLI names tasks. */
static bool match_name(const char *v, const void *arg)
{
	const struct task_view *tv = arg;
	char name[160];

	if (tv->t->slot != 0)
		snprintf(name, sizeof(name), "%s.%llu", tv->t->service_name,
			 (unsigned long long)tv->t->slot);
	else
		snprintf(name, sizeof(name), "%s.%s", tv->t->service_name,
			 tv->t->node_id);
	return strncmp(name, v, strlen(v)) == 0;
}

static bool match_desired(const char *v, const void *arg)
{
	const struct task_view *tv = arg;

	return task_state_parse(v) == tv->t->desired_state;
}

static bool match_up_to_date(const char *v, const void *arg)
{
	const struct task_view *tv = arg;

	return (uint64_t)tv->spec_version == tv->t->spec_version;
}

/* `key` or `key=value` against the owning service's Spec.Labels: SwarmKit
 * filters tasks on their ServiceAnnotations, not on container labels. */
static bool match_label(const char *v, const void *arg)
{
	const struct task_view *tv = arg;
	const struct store_record *rec = store_get(
		swarm_store(tv->s), OBJ_SERVICE, tv->t->service_id);
	Swarmd__Service *svc = rec ? services_unpack(rec) : NULL;
	const char *eq = strchr(v, '=');
	char *key = xstrndup(v, eq ? (size_t)(eq - v) : strlen(v));
	struct json_object *spec = NULL, *labels = NULL, *val = NULL;
	struct sw_err err;
	bool ok = false;

	if (svc != NULL && svc->spec_json.len > 0)
		spec = jsonx_parse((const char *)svc->spec_json.data,
				   svc->spec_json.len, &err);
	if (spec != NULL && json_object_object_get_ex(spec, "Labels", &labels) &&
	    json_object_object_get_ex(labels, key, &val))
		ok = eq == NULL ||
		     (val != NULL &&
		      strcmp(json_object_get_string(val), eq + 1) == 0);
	json_object_put(spec);
	free(key);
	swarmd__service__free_unpacked(svc, NULL);
	return ok;
}

static int check_desired(const struct filters *f, struct sw_err *err)
{
	const struct filter_entry *e = filters_get(f, "desired-state");

	for (size_t i = 0; e != NULL && i < e->nvalues; i++)
		if (strcmp(e->values[i], "running") != 0 &&
		    strcmp(e->values[i], "shutdown") != 0 &&
		    strcmp(e->values[i], "accepted") != 0) {
			sw_err_set(err, SW_ESYSTEM,
				   "Invalid desired-state filter: '%s'",
				   e->values[i]);
			return -1;
		}
	return 0;
}

/* A service named in the filter must exist (404 otherwise). */
static int check_services(struct swarm *s, const struct filters *f,
			  struct sw_err *err)
{
	const struct filter_entry *e = filters_get(f, "service");

	for (size_t i = 0; e != NULL && i < e->nvalues; i++)
		if (services_resolve(s, e->values[i]) == NULL)
			return sw_err_set(err, SW_ENOTFOUND,
					  "service %s not found",
					  e->values[i]);
	return 0;
}

static int64_t service_version(struct swarm *s, const char *id)
{
	const struct store_record *r = store_get(swarm_store(s), OBJ_SERVICE,
						 id);
	Swarmd__Service *svc = r ? services_unpack(r) : NULL;
	int64_t v = svc ? (int64_t)svc->spec_version : -1;

	swarmd__service__free_unpacked(svc, NULL);
	return v;
}

static bool task_matches(const struct filters *f, const struct task_view *tv)
{
	return filters_match_any(f, "id", match_id, tv) &&
	       filters_match_any(f, "service", match_service, tv) &&
	       filters_match_any(f, "node", match_node, tv) &&
	       filters_match_any(f, "name", match_name, tv) &&
	       filters_match_any(f, "desired-state", match_desired, tv) &&
	       filters_match_any(f, "_up-to-date", match_up_to_date, tv) &&
	       filters_match_any(f, "label", match_label, tv);
}

/* Renders t's JSON text and keeps it for r's version. */
static const char *render_task(struct verscache *c,
			       const struct store_record *r,
			       const Swarmd__Task *t)
{
	size_t len;
	char *text = jsonx_take_text(codec_task_to_json(r, t), 1, &len);

	verscache_put(c, r->id, r->version, text);
	return text;
}

/* Whether the task goes into the list; up_to_date: the filter asks for
 * the service's spec version. */
static bool listed(struct swarm *s, const struct filters *f, bool up_to_date,
		   const struct store_record *r, const Swarmd__Task *t)
{
	struct task_view tv = {r, t, s, -1};

	if (up_to_date)
		tv.spec_version = service_version(s, t->service_id);
	return task_matches(f, &tv);
}

/* The JSON array of the tasks that pass f, joined from texts rendered once
 * per task version; a task is unpacked only to filter it or to render it
 * the first time. */
static char *render_list(struct api_req *req, const struct filters *f,
			 size_t *len)
{
	struct swarm *s = api_swarm(req);
	const struct store *st = swarm_store(s);
	struct verscache *texts = api_server_task_texts(req->srv);
	bool up_to_date = filters_get(f, "_up-to-date") != NULL;
	size_t n = 0;
	struct buf b;

	buf_init(&b);
	buf_append(&b, "[", 1);
	for (const struct store_record *r = store_first(st, OBJ_TASK);
	     r != NULL; r = store_next(r)) {
		const char *text = verscache_get(texts, r->id, r->version);
		Swarmd__Task *t = f->n > 0 || text == NULL ? tasks_unpack(r)
							     : NULL;

		if ((t != NULL || text != NULL) &&
		    (f->n == 0 ||
		     (t != NULL && listed(s, f, up_to_date, r, t)))) {
			if (text == NULL)
				text = render_task(texts, r, t);
			if (n++ > 0)
				buf_append(&b, ",", 1);
			buf_append(&b, text, strlen(text));
		}
		swarmd__task__free_unpacked(t, NULL);
	}
	buf_append(&b, "]\n", 2);
	verscache_trim(texts, store_count(st, OBJ_TASK));
	*len = b.len;
	return buf_steal(&b);
}

void h_tasks_list(struct api_req *req)
{
	static const char *const keys[] = {"id",    "name",	     "service",
					   "node",  "label",	     "desired-state",
					   "_up-to-date", NULL};
	struct swarm *s = api_swarm(req);
	struct filters f;
	struct sw_err err;
	size_t len;
	char *body;

	if (!api_require_manager(req))
		return;
	if (filters_parse(api_query(req, "filters"), &f, &err) != 0 ||
	    filters_validate(&f, keys, &err) != 0 ||
	    check_desired(&f, &err) != 0 || check_services(s, &f, &err) != 0) {
		filters_free(&f);
		api_reply_error(req, &err);
		return;
	}
	body = render_list(req, &f, &len);
	filters_free(&f);
	api_reply_json_text(req, 200, body, len);
}

void h_tasks_inspect(struct api_req *req)
{
	const struct store_record *rec;
	Swarmd__Task *t;

	if (!api_require_manager(req))
		return;
	rec = swarm_resolve(api_swarm(req), OBJ_TASK, req->params[0], false);
	if (rec == NULL || (t = tasks_unpack(rec)) == NULL) {
		api_reply_errorf(req, SW_ENOTFOUND, "task %s not found",
				 req->params[0]);
		return;
	}
	api_reply_json(req, 200, codec_task_to_json(rec, t));
	swarmd__task__free_unpacked(t, NULL);
}
