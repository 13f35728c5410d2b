/* Docker's Network JSON (API 1.41 NetworkResource) for swarm and local
 * networks alike, and the POST /networks/create body. */
#ifndef SW_API_CODEC_NETWORK_H
#define SW_API_CODEC_NETWORK_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "lib/err.h"
#include "orchestrator/networks.h"

/* One network as inspect shows it. The json members are taken (NULL is
 * JSON null); strings are borrowed. */
struct codec_network_view {
	const char *name;
	const char *id;
	int64_t created_ns;
	const char *scope;
	const char *driver;
	bool enable_ipv6;
	bool internal;
	bool attachable;
	bool ingress;
	const char *ipam_driver;
	struct json_object *ipam_options;
	struct json_object *ipam_config;
	struct json_object *containers;
	struct json_object *options;
	struct json_object *labels;
};

/* Builds the object, members in Docker's order. */
struct json_object *codec_network_json(struct codec_network_view *v);

/* A stored swarm network in Docker's shape: Labels and Options null when
 * empty, the VXLAN IDs in Options, an unallocated one as SwarmKit shows
 * it. */
struct json_object *codec_network_to_json(const struct store_record *rec,
					  const Swarmd__Network *n);

/* A create body decoded. net borrows from the body, which must outlive
 * it; free with codec_network_free. */
struct codec_network_create {
	struct swarm_network net;
	const char *scope;       /* "" unless the client sent one */
	const char *ipam_driver; /* "" → "default" */
	bool ipam_options_set;   /* IPAM.Options present, even empty */
	bool config_only;
	bool has_config_from;
};

/* Decodes and checks what Docker checks before the swarm sees it: a name
 * (500 "invalid name: "), parseable subnets (500 "Invalid subnet ..."),
 * member types (400). */
int codec_network_decode(struct json_object *body,
			 struct codec_network_create *out, struct sw_err *err);
void codec_network_free(struct codec_network_create *c);

/* A string member of a Network JSON object, "" when absent or not a
 * string (borrowed from net). */
const char *codec_network_str(struct json_object *net, const char *key);

/* {"k":"v",...} of a key/value list, sorted by key as Go marshals maps;
 * NULL (JSON null) when empty. */
struct json_object *codec_kv_json(Swarmd__KeyValue *const *kv, size_t n);

#endif
