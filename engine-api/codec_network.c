#include "engine-api/codec_network.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/jsonx.h"
#include "lib/timefmt.h"
#include "orchestrator/ipam.h"

#define VXLAN_OPTION "com.docker.network.driver.overlay.vxlanid_list"

struct json_object *codec_network_json(struct codec_network_view *v)
{
	struct json_object *o = json_object_new_object();
	struct json_object *ipam = json_object_new_object();
	struct json_object *from = json_object_new_object();
	char when[64];

	jsonx_add_string(o, "Name", v->name);
	jsonx_add_string(o, "Id", v->id);
	jsonx_add_string(o, "Created",
			 timefmt_utc(v->created_ns, when, sizeof(when)));
	jsonx_add_string(o, "Scope", v->scope);
	jsonx_add_string(o, "Driver", v->driver);
	jsonx_add_bool(o, "EnableIPv6", v->enable_ipv6);
	jsonx_add_string(ipam, "Driver", v->ipam_driver);
	jsonx_add(ipam, "Options", v->ipam_options);
	jsonx_add(ipam, "Config", v->ipam_config);
	jsonx_add(o, "IPAM", ipam);
	jsonx_add_bool(o, "Internal", v->internal);
	jsonx_add_bool(o, "Attachable", v->attachable);
	jsonx_add_bool(o, "Ingress", v->ingress);
	jsonx_add_string(from, "Network", "");
	jsonx_add(o, "ConfigFrom", from);
	jsonx_add_bool(o, "ConfigOnly", false);
	jsonx_add(o, "Containers", v->containers);
	jsonx_add(o, "Options", v->options);
	jsonx_add(o, "Labels", v->labels);
	return o;
}

const char *codec_network_str(struct json_object *net, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(net, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

static int kv_cmp(const void *a, const void *b)
{
	const Swarmd__KeyValue *x = *(Swarmd__KeyValue *const *)a;
	const Swarmd__KeyValue *y = *(Swarmd__KeyValue *const *)b;

	return strcmp(x->key, y->key);
}

struct json_object *codec_kv_json(Swarmd__KeyValue *const *kv, size_t n)
{
	Swarmd__KeyValue **sorted;
	struct json_object *o;

	if (n == 0)
		return NULL;
	sorted = xcalloc(n, sizeof(*sorted));
	memcpy(sorted, kv, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), kv_cmp);
	o = json_object_new_object();
	for (size_t i = 0; i < n; i++)
		jsonx_add_string(o, sorted[i]->key, sorted[i]->value);
	free(sorted);
	return o;
}

static struct json_object *ipam_config(const Swarmd__Network *n)
{
	struct json_object *a;

	if (n->failed)
		return NULL;
	a = json_object_new_array();
	for (size_t i = 0; i < n->n_ipam; i++) {
		struct json_object *c = json_object_new_object();

		jsonx_add_string(c, "Subnet", n->ipam[i]->subnet);
		if (n->ipam[i]->ip_range[0] != '\0')
			jsonx_add_string(c, "IPRange", n->ipam[i]->ip_range);
		jsonx_add_string(c, "Gateway", n->ipam[i]->gateway);
		json_object_array_add(a, c);
	}
	return a;
}

/* The driver options the client gave and the VXLAN IDs SwarmKit's
 * allocator adds ("4103,4104" for two subnets), in one sorted map. */
static struct json_object *driver_options(const Swarmd__Network *n)
{
	Swarmd__KeyValue vx = SWARMD__KEY_VALUE__INIT;
	Swarmd__KeyValue **all = xcalloc(n->n_options + 1, sizeof(*all));
	char list[256] = "";
	size_t count = 0, used = 0;
	struct json_object *o;

	for (size_t i = 0; i < n->n_vxlan_ids && used < sizeof(list); i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used,
					 "%s%u", i ? "," : "", n->vxlan_ids[i]);
	if (n->n_vxlan_ids > 0) {
		vx.key = VXLAN_OPTION;
		vx.value = list;
		all[count++] = &vx;
	}
	for (size_t i = 0; i < n->n_options; i++)
		if (strcmp(n->options[i]->key, VXLAN_OPTION) != 0)
			all[count++] = n->options[i];
	o = n->failed ? NULL : codec_kv_json(all, count);
	free(all);
	return o;
}

struct json_object *codec_network_to_json(const struct store_record *rec,
					  const Swarmd__Network *n)
{
	struct codec_network_view v = {
	    .name = n->name,
	    .id = rec->id,
	    .created_ns = rec->created_ns,
	    .scope = n->scope,
	    .driver = n->driver,
	    .enable_ipv6 = n->enable_ipv6,
	    .internal = n->internal,
	    .attachable = n->attachable,
	    .ingress = n->ingress,
	    .ipam_driver = n->ipam_driver,
	    .ipam_options = codec_kv_json(n->ipam_options, n->n_ipam_options),
	    .ipam_config = ipam_config(n),
	    .options = driver_options(n),
	    .labels = codec_kv_json(n->labels, n->n_labels),
	};

	return codec_network_json(&v);
}

/* ---- the create body ------------------------------------------------------
 */

/* A JSON map of strings as key/value pairs borrowing from it. */
static int kv_list(struct json_object *o, const char *key,
		   Swarmd__KeyValue ***out, size_t *n, struct sw_err *err)
{
	struct json_object *m = NULL;

	*out = NULL;
	*n = 0;
	if (jsonx_get_object(o, key, &m, err) < 0)
		return -1;
	if (m == NULL)
		return 0;
	*out = xcalloc(json_object_object_length(m) + 1, sizeof(**out));
	json_object_object_foreach(m, k, val)
	{
		Swarmd__KeyValue *kv;

		if (val != NULL && !json_object_is_type(val, json_type_string))
			return sw_err_set(err, SW_EINVALID,
					  "json: cannot unmarshal into Go "
					  "value of type string");
		kv = xmalloc(sizeof(*kv));
		swarmd__key_value__init(kv);
		kv->key = (char *)k;
		kv->value = (char *)(val ? json_object_get_string(val) : "");
		(*out)[(*n)++] = kv;
	}
	return 0;
}

static void kv_free(Swarmd__KeyValue **kv, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(kv[i]);
	free(kv);
}

static int string_member(struct json_object *o, const char *key,
			 const char **out, struct sw_err *err)
{
	*out = "";
	return jsonx_get_string(o, key, out, err) < 0 ? -1 : 0;
}

/* One IPAM.Config entry; dockerd parses the subnet before anything else
 * and answers a bad one with a 500. */
static Swarmd__IpamConfig *config_entry(struct json_object *e,
					struct sw_err *err)
{
	Swarmd__IpamConfig *c = xmalloc(sizeof(*c));
	const char *subnet = "", *gw = "", *range = "";
	struct ipam_subnet sn;

	swarmd__ipam_config__init(c);
	if (string_member(e, "Subnet", &subnet, err) != 0 ||
	    string_member(e, "Gateway", &gw, err) != 0 ||
	    string_member(e, "IPRange", &range, err) != 0) {
		free(c);
		return NULL;
	}
	if (ipam_parse(subnet, &sn) != 0) {
		free(c);
		sw_err_set(err, SW_ESYSTEM,
			   "Invalid subnet %s : invalid CIDR address: %s",
			   subnet, subnet);
		return NULL;
	}
	c->subnet = (char *)subnet;
	c->gateway = (char *)gw;
	c->ip_range = (char *)range;
	return c;
}

static int decode_ipam(struct json_object *body,
		       struct codec_network_create *out, struct sw_err *err)
{
	struct swarm_network *n = &out->net;
	struct json_object *ipam = NULL, *cfg = NULL;

	out->ipam_driver = "";
	if (jsonx_get_object(body, "IPAM", &ipam, err) < 0)
		return -1;
	if (ipam == NULL)
		return 0;
	out->ipam_options_set =
	    json_object_object_get_ex(ipam, "Options", &cfg) && cfg;
	cfg = NULL;
	if (string_member(ipam, "Driver", &out->ipam_driver, err) != 0 ||
	    kv_list(ipam, "Options", &n->ipam_options, &n->n_ipam_options,
		    err) != 0 ||
	    jsonx_get_array(ipam, "Config", &cfg, err) < 0)
		return -1;
	n->ipam = xcalloc((cfg ? json_object_array_length(cfg) : 0) + 1,
			  sizeof(*n->ipam));
	for (size_t i = 0; cfg && i < json_object_array_length(cfg); i++) {
		n->ipam[n->n_ipam] =
		    config_entry(json_object_array_get_idx(cfg, i), err);
		if (n->ipam[n->n_ipam] == NULL)
			return -1;
		n->n_ipam++;
	}
	return 0;
}

static int decode_flags(struct json_object *body,
			struct codec_network_create *out, struct sw_err *err)
{
	struct swarm_network *n = &out->net;
	struct json_object *from = NULL;
	const char *from_net = "";

	if (jsonx_get_bool(body, "Internal", &n->internal, err) < 0 ||
	    jsonx_get_bool(body, "Attachable", &n->attachable, err) < 0 ||
	    jsonx_get_bool(body, "Ingress", &n->ingress, err) < 0 ||
	    jsonx_get_bool(body, "EnableIPv6", &n->enable_ipv6, err) < 0 ||
	    jsonx_get_bool(body, "ConfigOnly", &out->config_only, err) < 0 ||
	    jsonx_get_object(body, "ConfigFrom", &from, err) < 0 ||
	    (from && string_member(from, "Network", &from_net, err) != 0))
		return -1;
	out->has_config_from = from_net[0] != '\0';
	return 0;
}

int codec_network_decode(struct json_object *body,
			 struct codec_network_create *out, struct sw_err *err)
{
	struct swarm_network *n = &out->net;

	memset(out, 0, sizeof(*out));
	out->scope = "";
	n->driver = "";
	n->name = "";
	if (!json_object_is_type(body, json_type_object))
		return sw_err_set(err, SW_EINVALID,
				  "json: cannot unmarshal into Go value of "
				  "type types.NetworkCreateRequest");
	if (string_member(body, "Name", &n->name, err) != 0 ||
	    string_member(body, "Driver", &n->driver, err) != 0 ||
	    string_member(body, "Scope", &out->scope, err) != 0 ||
	    decode_flags(body, out, err) != 0 ||
	    kv_list(body, "Options", &n->options, &n->n_options, err) != 0 ||
	    kv_list(body, "Labels", &n->labels, &n->n_labels, err) != 0)
		return -1;
	if (n->name[0] == '\0')
		return sw_err_set(err, SW_ESYSTEM, "invalid name: %s", n->name);
	if (decode_ipam(body, out, err) != 0)
		return -1;
	n->spec_json = json_object_to_json_string_ext(
	    body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	return 0;
}

void codec_network_free(struct codec_network_create *c)
{
	struct swarm_network *n = &c->net;

	kv_free(n->labels, n->n_labels);
	kv_free(n->options, n->n_options);
	kv_free(n->ipam_options, n->n_ipam_options);
	for (size_t i = 0; i < n->n_ipam; i++)
		free(n->ipam[i]);
	free(n->ipam);
	memset(c, 0, sizeof(*c));
}
