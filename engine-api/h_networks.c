/* /networks: the swarm's networks as objects (the predefined `host` and
 * `ingress` for now; user networks are a later issue). */
#include <string.h>

#include "engine-api/api.h"
#include "engine-api/codec_node.h"
#include "engine-api/routes.h"
#include "lib/jsonx.h"
#include "lib/timefmt.h"
#include "orchestrator/networks.h"

static struct json_object *ipam(const Swarmd__Network *n)
{
	struct json_object *i = json_object_new_object();
	struct json_object *cfg = json_object_new_array();

	jsonx_add_string(i, "Driver", "default");
	jsonx_add(i, "Options", NULL);
	if (n->subnet[0] != '\0') {
		struct json_object *c = json_object_new_object();

		jsonx_add_string(c, "Subnet", n->subnet);
		jsonx_add_string(c, "Gateway", n->gateway);
		json_object_array_add(cfg, c);
	}
	jsonx_add(i, "Config", cfg);
	return i;
}

static struct json_object *network_json(const struct store_record *rec,
					const Swarmd__Network *n)
{
	struct json_object *o = json_object_new_object();
	struct json_object *labels = json_object_new_object();
	struct json_object *from = json_object_new_object();
	char when[64];

	jsonx_add_string(o, "Name", n->name);
	jsonx_add_string(o, "Id", rec->id);
	jsonx_add_string(o, "Created",
			 timefmt_utc(rec->created_ns, when, sizeof(when)));
	jsonx_add_string(o, "Scope", n->scope);
	jsonx_add_string(o, "Driver", n->driver);
	jsonx_add_bool(o, "EnableIPv6", false);
	jsonx_add(o, "IPAM", ipam(n));
	jsonx_add_bool(o, "Internal", n->internal);
	jsonx_add_bool(o, "Attachable", n->attachable);
	jsonx_add_bool(o, "Ingress", n->ingress);
	jsonx_add_string(from, "Network", "");
	jsonx_add(o, "ConfigFrom", from);
	jsonx_add_bool(o, "ConfigOnly", false);
	jsonx_add(o, "Containers", NULL);
	jsonx_add(o, "Options", json_object_new_object());
	for (size_t i = 0; i < n->n_labels; i++)
		jsonx_add_string(labels, n->labels[i]->key,
				 n->labels[i]->value);
	jsonx_add(o, "Labels", labels);
	return o;
}

void h_networks_list(struct api_req *req)
{
	struct swarm *s = api_swarm(req);
	struct json_object *list = json_object_new_array();

	for (const struct store_record *r =
		     s && swarm_is_manager(s)
			     ? store_first(swarm_store(s), OBJ_NETWORK)
			     : NULL;
	     r != NULL; r = store_next(r)) {
		Swarmd__Network *n = networks_unpack(r);

		if (n != NULL)
			json_object_array_add(list, network_json(r, n));
		swarmd__network__free_unpacked(n, NULL);
	}
	api_reply_json(req, 200, list);
}

void h_networks_inspect(struct api_req *req)
{
	struct swarm *s = api_swarm(req);
	const struct store_record *rec =
		s && swarm_is_manager(s) ? networks_resolve(s, req->params[0])
					 : NULL;
	const char *scope = api_query(req, "scope");
	Swarmd__Network *n = rec ? networks_unpack(rec) : NULL;

	if (n == NULL || (scope != NULL && scope[0] != '\0' &&
			  strcmp(scope, n->scope) != 0)) {
		swarmd__network__free_unpacked(n, NULL);
		api_reply_errorf(req, SW_ENOTFOUND, "network %s not found",
				 req->params[0]);
		return;
	}
	api_reply_json(req, 200, network_json(rec, n));
	swarmd__network__free_unpacked(n, NULL);
}
