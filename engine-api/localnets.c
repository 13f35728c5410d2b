#include "engine-api/localnets.h"

#include <stdlib.h>
#include <string.h>

#include "engine-api/codec_network.h"
#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/fsutil.h"
#include "lib/id.h"
#include "lib/jsonx.h"
#include "lib/log.h"
#include "lib/timefmt.h"
#include "orchestrator/ipam.h"

#define FILE_NAME "local-networks.json"
#define FILE_MAX (4u << 20)

struct localnets {
	char *path;
	struct json_object *nets; /* array of Network JSON */
};

bool localnets_is_builtin_name(const char *name)
{
	static const char *const builtin[] = {"bridge", "host", "none",
					      "default", NULL};

	for (size_t i = 0; builtin[i] != NULL; i++)
		if (strcmp(name, builtin[i]) == 0)
			return true;
	return false;
}

static void save(const struct localnets *l)
{
	struct sw_err err;
	char *text = jsonx_to_body(l->nets, NULL);

	if (fsutil_write_file(l->path, text, &err) != 0)
		log_error("local networks: %s", err.msg);
	free(text);
}

/* none and host exist on every dockerd from its first start. */
static void add_predefined(struct localnets *l, const char *name,
			   const char *driver)
{
	char id[ID_HEX_LEN + 1];
	struct codec_network_view v = {
	    .name = name,
	    .id = id,
	    .created_ns = timefmt_now_ns(),
	    .scope = "local",
	    .driver = driver,
	    .ipam_driver = "default",
	    .ipam_config = json_object_new_array(),
	    .containers = json_object_new_object(),
	    .options = json_object_new_object(),
	    .labels = json_object_new_object(),
	};

	id_new_hex(id);
	json_object_array_add(l->nets, codec_network_json(&v));
}

static struct json_object *load(const char *path)
{
	struct buf b;
	struct sw_err err;
	struct json_object *nets = NULL;

	buf_init(&b);
	if (fsutil_read_file(path, FILE_MAX, &b, &err) == 0)
		nets = jsonx_parse(b.data, b.len, &err);
	if (nets != NULL && !json_object_is_type(nets, json_type_array)) {
		json_object_put(nets);
		nets = NULL;
	}
	if (nets == NULL && b.len > 0)
		log_warn("local networks: %s unreadable, starting over", path);
	buf_free(&b);
	return nets;
}

struct localnets *localnets_open(const char *data_root)
{
	struct localnets *l = xcalloc(1, sizeof(*l));

	l->path = xasprintf("%s/%s", data_root, FILE_NAME);
	l->nets = load(l->path);
	if (l->nets == NULL) {
		l->nets = json_object_new_array();
		add_predefined(l, "none", "null");
		add_predefined(l, "host", "host");
		save(l);
	}
	return l;
}

void localnets_free(struct localnets *l)
{
	if (l == NULL)
		return;
	json_object_put(l->nets);
	free(l->path);
	free(l);
}

struct json_object *localnets_all(const struct localnets *l)
{
	return l->nets;
}

const char *localnets_name_of(const struct localnets *l, const char *ref)
{
	struct json_object *by_prefix = NULL;
	size_t n_prefix = 0;

	for (size_t i = 0; i < json_object_array_length(l->nets); i++) {
		struct json_object *net = json_object_array_get_idx(l->nets, i);
		const char *id = codec_network_str(net, "Id");

		if (strcmp(id, ref) == 0 ||
		    strcmp(codec_network_str(net, "Name"), ref) == 0)
			return codec_network_str(net, "Name");
		if (ref[0] != '\0' && strncmp(id, ref, strlen(ref)) == 0) {
			by_prefix = net;
			n_prefix++;
		}
	}
	return n_prefix == 1 ? codec_network_str(by_prefix, "Name") : NULL;
}

/* The subnets the local bridges hold. */
static size_t held_subnets(const struct localnets *l, struct ipam_subnet **out)
{
	size_t n = 0;

	*out = NULL;
	for (size_t i = 0; i < json_object_array_length(l->nets); i++) {
		struct json_object *ipam = NULL, *cfg = NULL;
		struct json_object *net = json_object_array_get_idx(l->nets, i);

		if (!json_object_object_get_ex(net, "IPAM", &ipam) ||
		    !json_object_object_get_ex(ipam, "Config", &cfg) ||
		    !json_object_is_type(cfg, json_type_array))
			continue;
		for (size_t j = 0; j < json_object_array_length(cfg); j++) {
			struct ipam_subnet sn;

			if (ipam_parse(codec_network_str(
					   json_object_array_get_idx(cfg, j),
					   "Subnet"),
				       &sn) != 0)
				continue;
			*out = xrealloc(*out, (n + 1) * sizeof(**out));
			(*out)[n++] = sn;
		}
	}
	return n;
}

/* dockerd's local default pools: 172.17/16 … 172.31/16, then /20s of
 * 192.168/16. */
static int pool_subnet(const struct ipam_subnet *used, size_t n_used,
		       struct ipam_subnet *out, struct sw_err *err)
{
	struct ipam_subnet b16[15], b20 = {.base = 0xC0A80000u, .prefix = 16};

	for (unsigned i = 0; i < 15; i++) {
		b16[i].base = (172u << 24) | ((17u + i) << 16);
		b16[i].prefix = 16;
	}
	if (ipam_alloc_subnet(b16, 15, 16, used, n_used, out, err) == 0)
		return 0;
	return ipam_alloc_subnet(&b20, 1, 20, used, n_used, out, err);
}

/* An IPAM.Config entry as dockerd keeps a local one: what the user gave
 * (no Gateway unless given), or a pool block with its first address. */
static struct json_object *config_json(const struct ipam_subnet *sn,
				       const Swarmd__IpamConfig *given)
{
	struct json_object *c = json_object_new_object();
	char text[IPAM_CIDR_MAX], gw[IPAM_ADDR_MAX];

	ipam_format(sn, text);
	ipam_format_addr(sn->base + 1, gw);
	jsonx_add_string(c, "Subnet", given ? given->subnet : text);
	if (given != NULL && given->ip_range[0] != '\0')
		jsonx_add_string(c, "IPRange", given->ip_range);
	if (given == NULL || given->gateway[0] != '\0')
		jsonx_add_string(c, "Gateway", given ? given->gateway : gw);
	return c;
}

/* IPAM.Config: the user's entries, none overlapping another bridge or
 * each other (libnetwork's 403), or one block of the pools. */
static struct json_object *bridge_config(const struct localnets *l,
					 const struct swarm_network *n,
					 struct sw_err *err)
{
	struct ipam_subnet *used, sn;
	size_t n_used = held_subnets(l, &used);
	struct json_object *cfg = json_object_new_array();
	int rc = 0;

	for (size_t i = 0; i < n->n_ipam && rc == 0; i++) {
		ipam_parse(n->ipam[i]->subnet, &sn);
		for (size_t j = 0; j < n_used && rc == 0; j++)
			if (ipam_overlap(&sn, &used[j]))
				rc = sw_err_set(err, SW_EFORBIDDEN,
						"Pool overlaps with other one "
						"on this address space");
		used = xrealloc(used, (n_used + 1) * sizeof(*used));
		used[n_used++] = sn;
		json_object_array_add(cfg, config_json(&sn, n->ipam[i]));
	}
	if (rc == 0 && n->n_ipam == 0 &&
	    (rc = pool_subnet(used, n_used, &sn, err)) == 0)
		json_object_array_add(cfg, config_json(&sn, NULL));
	free(used);
	if (rc != 0) {
		json_object_put(cfg);
		return NULL;
	}
	return cfg;
}

static struct json_object *kv_or_empty(Swarmd__KeyValue *const *kv, size_t n)
{
	struct json_object *o = codec_kv_json(kv, n);

	return o ? o : json_object_new_object();
}

int localnets_create_bridge(struct localnets *l, struct json_object *body,
			    char id[65], struct sw_err *err)
{
	struct codec_network_create req;
	struct json_object *cfg;
	struct codec_network_view v;

	if (codec_network_decode(body, &req, err) != 0) {
		codec_network_free(&req);
		return -1;
	}
	cfg = bridge_config(l, &req.net, err);
	if (cfg == NULL) {
		codec_network_free(&req);
		return -1;
	}
	id_new_hex(id);
	v = (struct codec_network_view){
	    .name = req.net.name,
	    .id = id,
	    .created_ns = timefmt_now_ns(),
	    .scope = "local",
	    .driver = "bridge",
	    .enable_ipv6 = req.net.enable_ipv6,
	    .internal = req.net.internal,
	    .attachable = req.net.attachable,
	    .ipam_driver = "default",
	    /* dockerd keeps a local network's IPAM options as sent. */
	    .ipam_options =
		req.ipam_options_set
		    ? kv_or_empty(req.net.ipam_options, req.net.n_ipam_options)
		    : NULL,
	    .ipam_config = cfg,
	    .containers = json_object_new_object(),
	    .options = kv_or_empty(req.net.options, req.net.n_options),
	    .labels = kv_or_empty(req.net.labels, req.net.n_labels),
	};
	json_object_array_add(l->nets, codec_network_json(&v));
	codec_network_free(&req);
	save(l);
	return 0;
}

int localnets_remove(struct localnets *l, const char *id, struct sw_err *err)
{
	for (size_t i = 0; i < json_object_array_length(l->nets); i++) {
		struct json_object *net = json_object_array_get_idx(l->nets, i);
		const char *name = codec_network_str(net, "Name");

		if (strcmp(codec_network_str(net, "Id"), id) != 0)
			continue;
		if (localnets_is_builtin_name(name))
			return sw_err_set(err, SW_EFORBIDDEN,
					  "%s is a pre-defined network and "
					  "cannot be removed",
					  name);
		json_object_array_del_idx(l->nets, i, 1);
		save(l);
		return 0;
	}
	return sw_err_set(err, SW_ENOTFOUND, "network %s not found", id);
}
