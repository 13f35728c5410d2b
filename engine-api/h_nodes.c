/* /nodes: list with filters, inspect, update, remove. */
#include <stdlib.h>
#include <string.h>

#include "engine-api/api.h"
#include "engine-api/codec_node.h"
#include "engine-api/filters.h"
#include "engine-api/routes.h"
#include "lib/jsonx.h"

struct node_view {
	const struct store_record *rec;
	Swarmd__Node *n;
};

static const char *node_name(const Swarmd__Node *n)
{
	return n->spec_name[0] != '\0' ? n->spec_name : n->hostname;
}

/* Finds a node by full ID, then by name or hostname, then by unique ID
 * prefix, as dockerd does. NULL (and 404 answered) when none matches. */
static const struct store_record *resolve(struct api_req *req,
					  const char *ref)
{
	const struct store *st = swarm_store(api_swarm(req));
	const struct store_record *rec = store_get(st, OBJ_NODE, ref);
	const struct store_record *byname = NULL;
	size_t named = 0;

	if (rec != NULL)
		return rec;
	for (const struct store_record *r = store_first(st, OBJ_NODE);
	     r != NULL; r = store_next(r)) {
		Swarmd__Node *n = swarm_node_unpack(r);

		if (n != NULL && (strcmp(n->hostname, ref) == 0 ||
				  strcmp(n->spec_name, ref) == 0)) {
			byname = r;
			named++;
		}
		swarmd__node__free_unpacked(n, NULL);
	}
	if (named == 1)
		return byname;
	if (named > 1) {
		api_reply_errorf(req, SW_ENOTFOUND,
				 "node %s is ambiguous (%zu matches found)",
				 ref, named);
		return NULL;
	}
	if (ref[0] != '\0' && store_find_prefix(st, OBJ_NODE, ref, &rec) == 1)
		return rec;
	api_reply_errorf(req, SW_ENOTFOUND, "node %s not found", ref);
	return NULL;
}

static struct json_object *cluster_tls(struct api_req *req)
{
	Swarmd__Cluster *cl = swarm_cluster(api_swarm(req), NULL);
	struct json_object *tls = cl ? codec_tls_info(cl->root_ca_cert_pem)
				     : NULL;

	swarmd__cluster__free_unpacked(cl, NULL);
	return tls;
}

/* "key" or "key=value" against a list of key/value pairs. */
static bool labels_match(const char *want, Swarmd__KeyValue **kv, size_t n)
{
	const char *eq = strchr(want, '=');
	size_t klen = eq ? (size_t)(eq - want) : strlen(want);

	for (size_t i = 0; i < n; i++)
		if (strlen(kv[i]->key) == klen &&
		    strncmp(kv[i]->key, want, klen) == 0 &&
		    (eq == NULL || strcmp(kv[i]->value, eq + 1) == 0))
			return true;
	return false;
}

static bool match_id(const char *v, const void *arg)
{
	const struct node_view *nv = arg;

	return strncmp(nv->rec->id, v, strlen(v)) == 0;
}

static bool match_name(const char *v, const void *arg)
{
	const struct node_view *nv = arg;

	return strncmp(node_name(nv->n), v, strlen(v)) == 0;
}

static bool match_role(const char *v, const void *arg)
{
	const struct node_view *nv = arg;

	return strcasecmp(nv->n->role, v) == 0;
}

static bool match_membership(const char *v, const void *arg)
{
	return strcasecmp(v, "accepted") == 0;
}

static bool match_engine_label(const char *v, const void *arg)
{
	const struct node_view *nv = arg;

	return labels_match(v, nv->n->engine_labels, nv->n->n_engine_labels);
}

static bool match_node_label(const char *v, const void *arg)
{
	const struct node_view *nv = arg;

	return labels_match(v, nv->n->labels, nv->n->n_labels);
}

static bool node_matches(const struct filters *f, const struct node_view *nv)
{
	return filters_match_any(f, "id", match_id, nv) &&
	       filters_match_any(f, "name", match_name, nv) &&
	       filters_match_any(f, "role", match_role, nv) &&
	       filters_match_any(f, "membership", match_membership, nv) &&
	       filters_match_any(f, "label", match_engine_label, nv) &&
	       filters_match_any(f, "node.label", match_node_label, nv);
}

/* Checks values Docker validates: roles and memberships. */
static int check_values(const struct filters *f, struct sw_err *err)
{
	const struct filter_entry *e = filters_get(f, "role");

	for (size_t i = 0; e != NULL && i < e->nvalues; i++)
		if (strcasecmp(e->values[i], "manager") != 0 &&
		    strcasecmp(e->values[i], "worker") != 0)
			return sw_err_set(err, SW_EINVALID,
					  "Invalid role filter: '%s'",
					  e->values[i]);
	e = filters_get(f, "membership");
	for (size_t i = 0; e != NULL && i < e->nvalues; i++)
		if (strcasecmp(e->values[i], "accepted") != 0 &&
		    strcasecmp(e->values[i], "pending") != 0)
			return sw_err_set(err, SW_EINVALID,
					  "Invalid membership filter: '%s'",
					  e->values[i]);
	return 0;
}

void h_nodes_list(struct api_req *req)
{
	static const char *const keys[] = {"id",   "label",	     "membership",
					   "name", "node.label", "role",
					   NULL};
	struct filters f;
	struct sw_err err;
	struct json_object *list, *tls;

	if (!api_require_manager(req))
		return;
	sw_err_clear(&err);
	/* dockerd's node list passes the decoder's and the role check's plain
	 * errors through (500); only an unknown key is a 400 there. */
	if (filters_parse(api_query(req, "filters"), &f, &err) != 0 ||
	    (filters_validate(&f, keys, &err) == 0 &&
	     check_values(&f, &err) != 0)) {
		err.kind = SW_ESYSTEM;
		err.status = 0;
	}
	if (err.kind != SW_EOK) {
		filters_free(&f);
		api_reply_error(req, &err);
		return;
	}
	list = json_object_new_array();
	tls = cluster_tls(req);
	for (const struct store_record *r =
		     store_first(swarm_store(api_swarm(req)), OBJ_NODE);
	     r != NULL; r = store_next(r)) {
		struct node_view nv = {r, swarm_node_unpack(r)};

		if (nv.n != NULL && node_matches(&f, &nv))
			json_object_array_add(
				list, codec_node_to_json(api_swarm(req), r,
							 nv.n, tls));
		swarmd__node__free_unpacked(nv.n, NULL);
	}
	json_object_put(tls);
	filters_free(&f);
	api_reply_json(req, 200, list);
}

void h_nodes_inspect(struct api_req *req)
{
	const struct store_record *rec;
	Swarmd__Node *n;
	struct json_object *tls;

	if (!api_require_manager(req) ||
	    (rec = resolve(req, req->params[0])) == NULL)
		return;
	n = swarm_node_unpack(rec);
	tls = cluster_tls(req);
	api_reply_json(req, 200,
		       codec_node_to_json(api_swarm(req), rec, n, tls));
	json_object_put(tls);
	swarmd__node__free_unpacked(n, NULL);
}


/* dockerd's order: decode the body, parse the version, ask SwarmKit (not a
 * manager: 503), validate the spec, then look the node up. */
void h_nodes_update(struct api_req *req)
{
	const struct store_record *rec;
	struct swarm_node_spec spec;
	struct json_object *body;
	struct sw_err err;
	uint64_t version;

	body = api_req_body_object(req, "swarm.NodeSpec");
	if (body == NULL)
		return;
	sw_err_clear(&err);
	if (api_query_version(req, "node", &version, &err) != 0) {
		json_object_put(body);
		api_reply_error(req, &err);
		return;
	}
	if (!api_require_manager(req)) {
		json_object_put(body);
		return;
	}
	if (codec_node_spec(body, &spec, &err) != 0) {
		json_object_put(body);
		api_reply_error(req, &err);
		return;
	}
	rec = resolve(req, req->params[0]);
	if (rec != NULL) {
		api_req_ref(req);
		if (swarm_update_node(api_swarm(req), rec->id, version, &spec,
				      api_reply_done, req, &err) != 0) {
			api_req_unref(req);
			api_reply_error(req, &err);
		}
	}
	codec_node_spec_free(&spec);
	json_object_put(body);
}

void h_nodes_remove(struct api_req *req)
{
	const struct store_record *rec;
	struct sw_err err;

	if (!api_require_manager(req) ||
	    (rec = resolve(req, req->params[0])) == NULL)
		return;
	api_req_ref(req);
	if (swarm_remove_node(api_swarm(req), rec->id,
			      api_query_bool(req, "force"), api_reply_done, req,
			      &err) != 0) {
		api_req_unref(req);
		api_reply_error(req, &err);
	}
}
