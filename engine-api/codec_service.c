#include "engine-api/codec_service.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "engine-api/codec_node.h"
#include "engine-api/localnets.h"
#include "lib/alloc.h"
#include "lib/jsonx.h"
#include "lib/timefmt.h"
#include "orchestrator/ipam.h"
#include "orchestrator/networks.h"

#define NS_PER_S 1000000000LL

enum { NAME_MAX_LEN = 63, PORT_MIN = 30000, PORT_MAX = 32767 };

/* ---- names ------------------------------------------------------------ */

/* Docker's rule: [a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*, at most 63 bytes. */
static bool valid_name(const char *n)
{
	size_t len = strlen(n);

	if (len == 0 || len > NAME_MAX_LEN || !isalnum((unsigned char)n[0]) ||
	    !isalnum((unsigned char)n[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)n[i]) && n[i] != '-' && n[i] != '_')
			return false;
	return true;
}

/* A name for a service created without one, in Docker's adjective_noun
 * shape. */
static char *random_name(void)
{
	static const char *const adj[] = {"brave", "calm",  "eager", "fond",
					  "keen",  "lucid", "quiet", "swift"};
	static const char *const noun[] = {"lovelace", "hopper", "turing",
					   "ritchie",  "thompson", "liskov",
					   "knuth",    "dijkstra"};
	unsigned char r[2];

	if (RAND_bytes(r, sizeof(r)) != 1)
		r[0] = r[1] = 0;
	return xasprintf("%s_%s", adj[r[0] % 8], noun[r[1] % 8]);
}

/* ---- small json helpers ------------------------------------------------ */

static struct json_object *obj_member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v) || v == NULL ||
	    !json_object_is_type(v, json_type_object))
		return NULL;
	return v;
}

/* Gets or creates an object member. */
static struct json_object *obj_ensure(struct json_object *o, const char *key)
{
	struct json_object *v = obj_member(o, key);

	if (v == NULL) {
		v = json_object_new_object();
		jsonx_add(o, key, v);
	}
	return v;
}

static const char *str_member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) || v == NULL ||
	    !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

static int64_t int_member(struct json_object *o, const char *key, int64_t def)
{
	struct json_object *v = NULL;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) || v == NULL ||
	    !json_object_is_type(v, json_type_int))
		return def;
	return json_object_get_int64(v);
}

static bool bool_member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return o != NULL && json_object_object_get_ex(o, key, &v) &&
	       v != NULL && json_object_is_type(v, json_type_boolean) &&
	       json_object_get_boolean(v);
}

static bool has_member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return o != NULL && json_object_object_get_ex(o, key, &v) && v != NULL;
}

static char *to_text(struct json_object *o)
{
	char *t = jsonx_to_body(o, NULL);

	t[strlen(t) - 1] = '\0';
	return t;
}

/* JSON null is Go's nil: once dockerd decoded the body the member is gone
 * (a null Labels or Networks reads back absent, not null). */
static void strip_nulls(struct json_object *o)
{
	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			strip_nulls(json_object_array_get_idx(o, i));
		return;
	}
	if (!json_object_is_type(o, json_type_object))
		return;
again:
	json_object_object_foreach(o, k, v)
	{
		if (v == NULL) {
			json_object_object_del(o, k);
			goto again;
		}
		strip_nulls(v);
	}
}

static bool is_zero(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_boolean:
		return !json_object_get_boolean(v);
	case json_type_int:
		return json_object_get_int64(v) == 0;
	case json_type_double:
		return json_object_get_double(v) == 0.0;
	case json_type_string:
		return json_object_get_string_len(v) == 0;
	case json_type_array:
		return json_object_array_length(v) == 0;
	case json_type_object:
		return json_object_object_length(v) == 0;
	default:
		return false;
	}
}

static bool in_list(const char *key, const char *const *list)
{
	for (; list != NULL && *list != NULL; list++)
		if (strcmp(key, *list) == 0)
			return true;
	return false;
}

/* Go's `omitempty` as dockerd's types apply it: zero members vanish from
 * what is read back, except the pointer (and non-omitempty) members named
 * in keep, which survive even when empty. */
static void omit_empty(struct json_object *o, const char *const *keep)
{
	if (o == NULL || !json_object_is_type(o, json_type_object))
		return;
again:
	json_object_object_foreach(o, k, v)
	{
		if (!in_list(k, keep) && is_zero(v)) {
			json_object_object_del(o, k);
			goto again;
		}
	}
}

/* omit_empty on every object of an array member. */
static void omit_empty_each(struct json_object *o, const char *key,
			    const char *const *keep)
{
	struct json_object *a = NULL;

	if (o == NULL || !json_object_object_get_ex(o, key, &a) ||
	    !json_object_is_type(a, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(a); i++)
		omit_empty(json_object_array_get_idx(a, i), keep);
}

static void default_int(struct json_object *o, const char *key, int64_t v)
{
	if (!has_member(o, key))
		jsonx_add_int64(o, key, v);
}

/* Also replaces "": SwarmKit stores these as enums whose zero value
 * prints as the default. */
static void default_str(struct json_object *o, const char *key,
			const char *v)
{
	if (str_member(o, key)[0] == '\0')
		jsonx_add_string(o, key, v);
}

static struct json_object *parse_bytes(const ProtobufCBinaryData *b)
{
	struct sw_err err;

	if (b->len == 0)
		return NULL;
	return jsonx_parse((const char *)b->data, b->len, &err);
}

/* Copies a JSON string array into a protobuf repeated string. */
static void str_array(struct json_object *o, const char *key, char ***out,
		      size_t *n)
{
	struct json_object *a = NULL;

	*out = NULL;
	*n = 0;
	if (o == NULL || !json_object_object_get_ex(o, key, &a) || a == NULL ||
	    !json_object_is_type(a, json_type_array))
		return;
	*out = xcalloc(json_object_array_length(a) + 1, sizeof(char *));
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *e = json_object_array_get_idx(a, i);

		if (e != NULL && json_object_is_type(e, json_type_string))
			(*out)[(*n)++] = xstrdup(json_object_get_string(e));
	}
}

static void kv_map(struct json_object *o, const char *key,
		   Swarmd__KeyValue ***out, size_t *n)
{
	struct json_object *m = obj_member(o, key);

	*out = NULL;
	*n = 0;
	if (m == NULL)
		return;
	*out = xcalloc(json_object_object_length(m) + 1, sizeof(**out));
	json_object_object_foreach(m, k, v)
	{
		Swarmd__KeyValue *kv;

		if (v == NULL || !json_object_is_type(v, json_type_string))
			continue;
		kv = xmalloc(sizeof(*kv));
		swarmd__key_value__init(kv);
		kv->key = xstrdup(k);
		kv->value = xstrdup(json_object_get_string(v));
		(*out)[(*n)++] = kv;
	}
}

/* ---- the typed TaskSpec -------------------------------------------------- */

static void task_mounts(Swarmd__TaskSpec *t, struct json_object *cs)
{
	struct json_object *a = NULL;

	if (!json_object_object_get_ex(cs, "Mounts", &a) || a == NULL ||
	    !json_object_is_type(a, json_type_array))
		return;
	t->mounts = xcalloc(json_object_array_length(a) + 1,
			    sizeof(*t->mounts));
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *m = json_object_array_get_idx(a, i);
		Swarmd__Mount *o;

		if (m == NULL || !json_object_is_type(m, json_type_object))
			continue;
		o = xmalloc(sizeof(*o));
		swarmd__mount__init(o);
		o->type = xstrdup(str_member(m, "Type"));
		o->source = xstrdup(str_member(m, "Source"));
		o->target = xstrdup(str_member(m, "Target"));
		o->read_only = bool_member(m, "ReadOnly");
		o->size_bytes = int_member(obj_member(m, "TmpfsOptions"),
					   "SizeBytes", 0);
		t->mounts[t->n_mounts++] = o;
	}
}

/* Healthcheck as sent; the agent applies Docker's defaults. */
static void task_health(Swarmd__TaskSpec *t, struct json_object *hc)
{
	str_array(hc, "Test", &t->health_test, &t->n_health_test);
	t->health_interval_ns = int_member(hc, "Interval", 0);
	t->health_timeout_ns = int_member(hc, "Timeout", 0);
	t->health_retries = int_member(hc, "Retries", 0);
	t->health_start_period_ns = int_member(hc, "StartPeriod", 0);
}

static void task_container(Swarmd__TaskSpec *t, struct json_object *cs)
{
	struct json_object *dns = obj_member(cs, "DNSConfig");

	t->image = xstrdup(str_member(cs, "Image"));
	str_array(cs, "Command", &t->command, &t->n_command);
	str_array(cs, "Args", &t->args, &t->n_args);
	str_array(cs, "Env", &t->env, &t->n_env);
	str_array(cs, "Groups", &t->groups, &t->n_groups);
	t->dir = xstrdup(str_member(cs, "Dir"));
	t->user = xstrdup(str_member(cs, "User"));
	t->hostname = xstrdup(str_member(cs, "Hostname"));
	kv_map(cs, "Labels", &t->labels, &t->n_labels);
	t->tty = bool_member(cs, "TTY");
	t->open_stdin = bool_member(cs, "OpenStdin");
	t->read_only = bool_member(cs, "ReadOnly");
	t->stop_grace_ns = int_member(cs, "StopGracePeriod", -1);
	t->stop_signal = xstrdup(str_member(cs, "StopSignal"));
	str_array(cs, "CapabilityAdd", &t->cap_add, &t->n_cap_add);
	str_array(cs, "CapabilityDrop", &t->cap_drop, &t->n_cap_drop);
	kv_map(cs, "Sysctls", &t->sysctls, &t->n_sysctls);
	str_array(cs, "Hosts", &t->hosts, &t->n_hosts);
	str_array(dns, "Nameservers", &t->dns_servers, &t->n_dns_servers);
	str_array(dns, "Search", &t->dns_search, &t->n_dns_search);
	str_array(dns, "Options", &t->dns_options, &t->n_dns_options);
	task_mounts(t, cs);
	task_health(t, obj_member(cs, "Healthcheck"));
}

/* Placement.Preferences: only Spread exists; its SpreadDescriptor names
 * the label ("node.labels.zone"). */
static void task_preferences(Swarmd__TaskSpec *t, struct json_object *pl)
{
	struct json_object *a = NULL;
	size_t n;

	if (pl == NULL || !json_object_object_get_ex(pl, "Preferences", &a) ||
	    a == NULL || !json_object_is_type(a, json_type_array))
		return;
	n = json_object_array_length(a);
	t->spread = xcalloc(n + 1, sizeof(*t->spread));
	for (size_t i = 0; i < n; i++) {
		struct json_object *sp = obj_member(
			json_object_array_get_idx(a, i), "Spread");
		const char *label = str_member(sp, "SpreadDescriptor");

		if (label[0] != '\0')
			t->spread[t->n_spread++] = xstrdup(label);
	}
}

static void task_platforms(Swarmd__TaskSpec *t, struct json_object *pl)
{
	struct json_object *a = NULL;
	size_t n;

	if (pl == NULL || !json_object_object_get_ex(pl, "Platforms", &a) ||
	    a == NULL || !json_object_is_type(a, json_type_array))
		return;
	n = json_object_array_length(a);
	t->platforms = xcalloc(n + 1, sizeof(*t->platforms));
	for (size_t i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(a, i);
		Swarmd__Platform *o = xmalloc(sizeof(*o));

		swarmd__platform__init(o);
		o->os = xstrdup(str_member(p, "OS"));
		o->architecture = xstrdup(str_member(p, "Architecture"));
		t->platforms[t->n_platforms++] = o;
	}
}

/* Placement constraints, MaxReplicas and reservations. */
static void task_placement(Swarmd__TaskSpec *t, struct json_object *tt)
{
	struct json_object *pl = obj_member(tt, "Placement");
	struct json_object *res = obj_member(obj_member(tt, "Resources"),
					     "Reservations");

	str_array(pl, "Constraints", &t->constraints, &t->n_constraints);
	t->max_replicas = (uint64_t)int_member(pl, "MaxReplicas", 0);
	t->reserve_nano_cpus = int_member(res, "NanoCPUs", 0);
	t->reserve_memory_bytes = int_member(res, "MemoryBytes", 0);
	task_preferences(t, pl);
	task_platforms(t, pl);
}

/* UpdateConfig or RollbackConfig with Docker's defaults. */
static Swarmd__UpdateParams *update_params(struct json_object *spec,
					   const char *key)
{
	struct json_object *u = obj_member(spec, key);
	Swarmd__UpdateParams *p = xmalloc(sizeof(*p));
	const char *fa = str_member(u, "FailureAction");
	const char *order = str_member(u, "Order");
	struct json_object *ratio = NULL;

	swarmd__update_params__init(p);
	p->parallelism = (uint64_t)int_member(u, "Parallelism", 1);
	p->delay_ns = int_member(u, "Delay", 0);
	p->failure_action = xstrdup(fa[0] ? fa : "pause");
	p->monitor_ns = int_member(u, "Monitor", 5 * NS_PER_S);
	if (u != NULL && json_object_object_get_ex(u, "MaxFailureRatio", &ratio))
		p->max_failure_ratio = json_object_get_double(ratio);
	p->order = xstrdup(order[0] ? order : "stop-first");
	return p;
}

static void task_policy(Swarmd__TaskSpec *t, struct json_object *tt)
{
	struct json_object *limits = obj_member(obj_member(tt, "Resources"),
						"Limits");
	struct json_object *rp = obj_member(tt, "RestartPolicy");
	const char *cond = str_member(rp, "Condition");

	t->nano_cpus = int_member(limits, "NanoCPUs", 0);
	t->memory_bytes = int_member(limits, "MemoryBytes", 0);
	t->pids_limit = int_member(limits, "Pids", 0);
	t->restart_condition = xstrdup(cond[0] ? cond : "any");
	t->restart_delay_ns = int_member(rp, "Delay", 5 * NS_PER_S);
	t->restart_max_attempts = (uint64_t)int_member(rp, "MaxAttempts", 0);
	t->restart_window_ns = int_member(rp, "Window", 0);
}

static Swarmd__Port *new_port(const char *proto, uint32_t target,
			      uint32_t published, const char *mode)
{
	Swarmd__Port *p = xmalloc(sizeof(*p));

	swarmd__port__init(p);
	p->protocol = xstrdup(proto);
	p->target = target;
	p->published = published;
	p->mode = xstrdup(mode);
	return p;
}

/* ---- endpoint ------------------------------------------------------------ */

/* Fills Docker's port defaults and assigns ingress ports from
 * 30000-32767; the typed ports go to t. */
static int endpoint_ports(struct swarm *s, struct json_object *espec,
			  const char *self, Swarmd__TaskSpec *t,
			  struct json_object *out, struct sw_err *err)
{
	struct json_object *ports = NULL;
	uint32_t next = PORT_MIN;

	if (espec == NULL || !json_object_object_get_ex(espec, "Ports", &ports) ||
	    ports == NULL || !json_object_is_type(ports, json_type_array))
		return 0;
	t->ports = xcalloc(json_object_array_length(ports) + 1,
			   sizeof(*t->ports));
	for (size_t i = 0; i < json_object_array_length(ports); i++) {
		struct json_object *p = json_object_array_get_idx(ports, i);
		struct json_object *o = json_object_new_object();
		const char *proto = str_member(p, "Protocol");
		const char *mode = str_member(p, "PublishMode");
		uint32_t target = (uint32_t)int_member(p, "TargetPort", 0);
		uint32_t pub = (uint32_t)int_member(p, "PublishedPort", 0);

		proto = proto[0] ? proto : "tcp";
		mode = mode[0] ? mode : "ingress";
		while (pub == 0 && next <= PORT_MAX)
			if (!services_port_taken(s, next, self))
				pub = next;
			else
				next++;
		if (pub != 0 && strcmp(mode, "ingress") == 0 &&
		    int_member(p, "PublishedPort", 0) != 0 &&
		    services_port_taken(s, pub, self)) {
			json_object_put(o);
			return sw_err_set(err, SW_EINVALID,
					  "rpc error: code = InvalidArgument "
					  "desc = port '%u' is already in use "
					  "by service",
					  pub);
		}
		if (str_member(p, "Name")[0] != '\0')
			jsonx_add_string(o, "Name", str_member(p, "Name"));
		jsonx_add_string(o, "Protocol", proto);
		jsonx_add_int64(o, "TargetPort", target);
		jsonx_add_int64(o, "PublishedPort", pub);
		jsonx_add_string(o, "PublishMode", mode);
		json_object_array_add(out, o);
		t->ports[t->n_ports++] = new_port(proto, target, pub, mode);
	}
	return 0;
}

static struct json_object *vip(const char *network_id, const char *addr)
{
	struct json_object *v = json_object_new_object();

	jsonx_add_string(v, "NetworkID", network_id);
	if (addr != NULL)
		jsonx_add_string(v, "Addr", addr);
	return v;
}

/* The host number of a VirtualIPs entry on net_id, -1 if it is not one. */
static int64_t vip_host(struct json_object *v, const char *net_id,
			const struct ipam_subnet *sn)
{
	char ip[IPAM_ADDR_MAX] = "";
	uint32_t addr;

	if (strcmp(str_member(v, "NetworkID"), net_id) != 0 ||
	    sscanf(str_member(v, "Addr"), "%15[0-9.]", ip) != 1 ||
	    ipam_parse_addr(ip, &addr) != 0 || !ipam_contains(sn, addr))
		return -1;
	return (int64_t)(addr - sn->base);
}

/* Marks the VIPs other services hold on net_id; *keep gets self's own. */
static void vips_in_use(struct swarm *s, const char *net_id, const char *self,
			const struct ipam_subnet *sn, uint8_t *used,
			uint32_t *keep)
{
	const struct store_record *r;

	for (r = store_first(swarm_store(s), OBJ_SERVICE); r != NULL;
	     r = store_next(r)) {
		Swarmd__Service *svc = services_unpack(r);
		struct json_object *ep = NULL, *vips = NULL;
		bool mine = self != NULL && strcmp(r->id, self) == 0;

		if (svc != NULL)
			ep = parse_bytes(&svc->endpoint_json);
		if (ep == NULL || !json_object_object_get_ex(ep, "VirtualIPs",
							     &vips) ||
		    !json_object_is_type(vips, json_type_array))
			vips = NULL;
		for (size_t i = 0; vips && i < json_object_array_length(vips);
		     i++) {
			int64_t h = vip_host(json_object_array_get_idx(vips, i),
					     net_id, sn);

			if (h > 0 && mine)
				*keep = (uint32_t)h;
			else if (h > 0)
				used[h] = 1;
		}
		json_object_put(ep);
		swarmd__service__free_unpacked(svc, NULL);
	}
}

/* The service's address on a network, in its first subnet. SwarmKit hands
 * out .1 to the gateway and, on ingress, .2 to the node's own ingress
 * attachment on a one-node swarm, then one VIP per service; an update
 * keeps the VIP. Subnets larger than /16 are not scanned (no Addr). */
static char *network_vip(struct swarm *s, const struct store_record *rec,
			 const Swarmd__Network *net, const char *self)
{
	struct ipam_subnet sn;
	uint32_t keep = 0, host, gw;
	uint8_t *used;
	char ip[IPAM_ADDR_MAX];

	if (net->n_ipam == 0 || ipam_parse(net->ipam[0]->subnet, &sn) != 0 ||
	    sn.prefix < 16 || sn.prefix > 30)
		return NULL;
	used = xcalloc(ipam_size(&sn), 1);
	if (ipam_parse_addr(net->ipam[0]->gateway, &gw) == 0 &&
	    ipam_contains(&sn, gw))
		used[gw - sn.base] = 1;
	vips_in_use(s, rec->id, self, &sn, used, &keep);
	host = keep ? keep
		    : ipam_alloc_host(used, ipam_size(&sn), net->ingress ? 3 : 2);
	free(used);
	if (host == 0)
		return NULL;
	ipam_format_addr(sn.base + host, ip);
	return xasprintf("%s/%u", ip, sn.prefix);
}

static void add_vip(struct swarm *s, const struct store_record *rec,
		    const Swarmd__Network *net, const char *self,
		    struct json_object *vips)
{
	char *addr;

	/* SwarmKit gives nothing on a network it could not allocate. */
	if (net->failed)
		return;
	addr = strcmp(net->driver, "overlay") == 0
		       ? network_vip(s, rec, net, self)
		       : NULL;
	json_object_array_add(vips, vip(rec->id, addr));
	free(addr);
}

/* Where a service's networks are resolved and who needs the answer. */
struct attach {
	struct swarm *s;
	const struct localnets *local;
	const char *self;
	bool vip_mode;
	struct swarm_service *svc;
	struct json_object *vips;
};

static void add_network_id(struct swarm_service *svc, const char *id)
{
	for (size_t i = 0; i < svc->n_network_ids; i++)
		if (strcmp(svc->network_ids[i], id) == 0)
			return;
	svc->network_ids = xrealloc(svc->network_ids,
				    (svc->n_network_ids + 1) *
					    sizeof(*svc->network_ids));
	svc->network_ids[svc->n_network_ids++] = xstrdup(id);
}

/* A target the swarm does not know, as dockerd resolves it: a local
 * built-in network stands for the swarm's network of that name (host);
 * another local network is refused (403); anything else is dockerd's
 * untyped lookup error (500). NULL with err set when there is no swarm
 * network to use. */
static const struct store_record *
local_target(const struct attach *a, const char *target, struct sw_err *err)
{
	const char *local =
		a->local ? localnets_name_of(a->local, target) : NULL;
	const struct store_record *rec;

	if (local == NULL) {
		sw_err_set(err, SW_ESYSTEM, "network %s not found", target);
		return NULL;
	}
	if (!localnets_is_builtin_name(local)) {
		sw_err_set(err, SW_EFORBIDDEN,
			   "The network %s cannot be used with services. Only "
			   "networks scoped to the swarm can be used, such as "
			   "those created with the overlay driver.",
			   local);
		return NULL;
	}
	rec = networks_resolve(a->s, local);
	if (rec == NULL)
		sw_err_set(err, SW_ENOTFOUND,
			   "could not find the corresponding predefined swarm "
			   "network: network %s not found",
			   local);
	return rec;
}

/* One Networks[] entry: Target (name, ID or prefix) becomes the ID. */
static int attach_one(struct attach *a, struct json_object *n,
		      struct sw_err *err)
{
	const char *target = str_member(n, "Target");
	const struct store_record *rec = networks_resolve(a->s, target);
	Swarmd__Network *net;
	int rc = 0;

	if (rec == NULL && (rec = local_target(a, target, err)) == NULL)
		return -1;
	net = networks_unpack(rec);
	if (net != NULL && net->ingress)
		rc = sw_err_set(err, SW_EINVALID,
				"rpc error: code = InvalidArgument desc = "
				"Service cannot be explicitly attached to the "
				"ingress network \"%s\"",
				net->name);
	if (rc == 0 && net != NULL) {
		if (strcmp(net->driver, "host") == 0)
			a->svc->task->host_network = true;
		add_network_id(a->svc, rec->id);
		jsonx_add_string(n, "Target", rec->id);
		if (a->vip_mode)
			add_vip(a->s, rec, net, a->self, a->vips);
	}
	swarmd__network__free_unpacked(net, NULL);
	return rc;
}

/* Resolves the targets of a Networks list (TaskTemplate's, or the
 * deprecated top-level one) to IDs in place and, in vip mode, gives the
 * service a virtual IP on each; `host` makes the task share the node's
 * network. SwarmKit attaches the ingress network itself, never on
 * request. */
static int resolve_networks(struct attach *a, struct json_object *holder,
			    struct sw_err *err)
{
	struct json_object *nets = NULL;

	if (!json_object_object_get_ex(holder, "Networks", &nets) ||
	    nets == NULL || !json_object_is_type(nets, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(nets); i++)
		if (attach_one(a, json_object_array_get_idx(nets, i), err) != 0)
			return -1;
	return 0;
}

static bool needs_ingress(struct json_object *espec)
{
	struct json_object *ports = NULL;

	if (espec == NULL ||
	    !json_object_object_get_ex(espec, "Ports", &ports) ||
	    !json_object_is_type(ports, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(ports); i++)
		if (strcmp(str_member(json_object_array_get_idx(ports, i),
				      "PublishMode"),
			   "ingress") == 0)
			return true;
	return false;
}

/* The ingress VIP comes first, as SwarmKit's allocator adds it before the
 * service's own networks. */
static int add_ingress_vip(struct swarm *s, struct json_object *espec,
			   const char *self, struct json_object *vips,
			   struct sw_err *err)
{
	const struct store_record *ingress;
	Swarmd__Network *net;

	if (!needs_ingress(espec))
		return 0;
	ingress = networks_ingress(s);
	net = ingress ? networks_unpack(ingress) : NULL;
	if (net == NULL)
		return sw_err_set(err, SW_EINVALID,
				  "rpc error: code = FailedPrecondition desc = "
				  "service needs ingress network, but no "
				  "ingress network is present");
	add_vip(s, ingress, net, self, vips);
	swarmd__network__free_unpacked(net, NULL);
	return 0;
}

/* Endpoint as SwarmKit's allocator leaves it: a service with neither
 * ports nor VIPs (no networks, or dnsrr) is never allocated and reads back
 * as {"Spec":{}}; otherwise Spec is a copy of EndpointSpec. */
static int build_endpoint(struct swarm *s, const struct localnets *local,
			  struct json_object *spec, const char *self,
			  struct swarm_service *svc,
			  struct json_object **endpoint, struct sw_err *err)
{
	struct json_object *espec = obj_member(spec, "EndpointSpec");
	struct json_object *ep = json_object_new_object();
	struct json_object *ports = json_object_new_array();
	struct json_object *vips = json_object_new_array();
	struct attach a = {
		.s = s,
		.local = local,
		.self = self,
		.vip_mode = strcmp(str_member(espec, "Mode"), "dnsrr") != 0,
		.svc = svc,
		.vips = vips,
	};
	bool used;

	*endpoint = ep;
	if (endpoint_ports(s, espec, self, svc->task, ports, err) != 0 ||
	    add_ingress_vip(s, espec, self, vips, err) != 0 ||
	    resolve_networks(&a, obj_member(spec, "TaskTemplate"), err) != 0 ||
	    resolve_networks(&a, spec, err) != 0) {
		json_object_put(ports);
		json_object_put(vips);
		return -1;
	}
	used = json_object_array_length(ports) > 0 ||
	       json_object_array_length(vips) > 0;
	jsonx_add(ep, "Spec", espec && used ? json_object_get(espec)
					    : json_object_new_object());
	if (json_object_array_length(ports) > 0)
		jsonx_add(ep, "Ports", ports);
	else
		json_object_put(ports);
	if (json_object_array_length(vips) > 0)
		jsonx_add(ep, "VirtualIPs", vips);
	else
		json_object_put(vips);
	return 0;
}

/* ---- decode --------------------------------------------------------------- */

/* Pointer members of ContainerSpec (present even when empty); the rest
 * is omitempty. */
static const char *const cs_keep[] = {"Init", "StopGracePeriod",
				      "Healthcheck", "DNSConfig",
				      "Privileges", NULL};
static const char *const tt_keep[] = {
	"ContainerSpec", "PluginSpec",	"NetworkAttachmentSpec",
	"Resources",	 "RestartPolicy", "Placement",
	"LogDriver",	 "ForceUpdate",	  NULL};
static const char *const mount_keep[] = {"BindOptions", "VolumeOptions",
					 "TmpfsOptions", NULL};
static const char *const volume_keep[] = {"DriverConfig", NULL};
static const char *const resources_keep[] = {"Limits", "Reservations", NULL};
static const char *const restart_keep[] = {"Delay", "MaxAttempts", "Window",
					   NULL};
static const char *const update_keep[] = {"Parallelism", "MaxFailureRatio",
					  NULL};

static struct json_object *str_or_empty(struct json_object *o,
					const char *key)
{
	return json_object_new_string(str_member(o, key));
}

/* Privileges has no omitempty in API 1.41: both members always (null when
 * absent), each with all its fields; newer members (NoNewPrivileges,
 * Seccomp, AppArmor) are unknown to dockerd 20.10 and dropped. */
static void normalize_privileges(struct json_object *cs)
{
	struct json_object *p = obj_member(cs, "Privileges");
	struct json_object *cred, *sel, *out;

	if (p == NULL)
		return;
	cred = obj_member(p, "CredentialSpec");
	sel = obj_member(p, "SELinuxContext");
	out = json_object_new_object();
	if (cred != NULL) {
		struct json_object *c = json_object_new_object();

		jsonx_add(c, "Config", str_or_empty(cred, "Config"));
		jsonx_add(c, "File", str_or_empty(cred, "File"));
		jsonx_add(c, "Registry", str_or_empty(cred, "Registry"));
		cred = c;
	}
	jsonx_add(out, "CredentialSpec", cred);
	if (sel != NULL) {
		struct json_object *c = json_object_new_object();

		jsonx_add_bool(c, "Disable", bool_member(sel, "Disable"));
		jsonx_add(c, "User", str_or_empty(sel, "User"));
		jsonx_add(c, "Role", str_or_empty(sel, "Role"));
		jsonx_add(c, "Type", str_or_empty(sel, "Type"));
		jsonx_add(c, "Level", str_or_empty(sel, "Level"));
		sel = c;
	}
	jsonx_add(out, "SELinuxContext", sel);
	jsonx_add(cs, "Privileges", out);
}

static void normalize_container(struct json_object *cs)
{
	struct json_object *mounts = NULL;

	omit_empty(cs, cs_keep);
	omit_empty(obj_member(cs, "DNSConfig"), NULL);
	omit_empty(obj_member(cs, "Healthcheck"), NULL);
	omit_empty_each(cs, "Mounts", mount_keep);
	if (json_object_object_get_ex(cs, "Mounts", &mounts) &&
	    json_object_is_type(mounts, json_type_array))
		for (size_t i = 0; i < json_object_array_length(mounts); i++) {
			struct json_object *m =
				json_object_array_get_idx(mounts, i);

			omit_empty(obj_member(m, "BindOptions"), NULL);
			omit_empty(obj_member(m, "VolumeOptions"), volume_keep);
			omit_empty(obj_member(m, "TmpfsOptions"), NULL);
		}
	normalize_privileges(cs);
	if (!has_member(cs, "Isolation"))
		jsonx_add_string(cs, "Isolation", "default");
}

static void normalize_template(struct json_object *tt)
{
	struct json_object *res = obj_member(tt, "Resources");
	struct json_object *rp = obj_member(tt, "RestartPolicy");

	omit_empty(tt, tt_keep);
	omit_empty(res, resources_keep);
	omit_empty(obj_member(res, "Limits"), NULL);
	omit_empty(obj_member(res, "Reservations"), NULL);
	omit_empty(obj_member(tt, "Placement"), NULL);
	omit_empty(obj_member(tt, "LogDriver"), NULL);
	omit_empty_each(tt, "Networks", NULL);
	if (rp != NULL) {
		omit_empty(rp, restart_keep);
		default_str(rp, "Condition", "any");
		default_int(rp, "MaxAttempts", 0);
	}
	default_int(tt, "ForceUpdate", 0);
	if (!has_member(tt, "Runtime"))
		jsonx_add_string(tt, "Runtime", "container");
}

/* UpdateConfig/RollbackConfig: FailureAction and Order are enums in
 * SwarmKit, so "" reads back as their zero value. */
static void normalize_update(struct json_object *u)
{
	if (u == NULL)
		return;
	omit_empty(u, update_keep);
	default_int(u, "Parallelism", 0);
	default_str(u, "FailureAction", "pause");
	default_int(u, "MaxFailureRatio", 0);
	default_str(u, "Order", "stop-first");
}

/* Go's decoder matches member names case-insensitively; docker-py's
 * ServiceMode relies on it ({"replicated": {"Replicas": 2}}). */
static void canon_keys(struct json_object *o, const char *const *names)
{
	if (o == NULL || !json_object_is_type(o, json_type_object))
		return;
again:
	json_object_object_foreach(o, k, v)
	{
		for (const char *const *n = names; *n != NULL; n++)
			if (strcmp(k, *n) != 0 && strcasecmp(k, *n) == 0 &&
			    !has_member(o, *n)) {
				jsonx_add(o, *n, json_object_get(v));
				json_object_object_del(o, k);
				goto again;
			}
	}
}

static int normalize_mode(struct json_object *spec, struct sw_err *err)
{
	static const char *const modes[] = {"Replicated", "Global",
					    "ReplicatedJob", "GlobalJob", NULL};
	struct json_object *mode;
	struct json_object *rep, *job;
	int n = 0;

	canon_keys(spec, (const char *const[]){"Mode", NULL});
	mode = obj_ensure(spec, "Mode");
	canon_keys(mode, modes);
	for (size_t i = 0; modes[i] != NULL; i++)
		n += obj_member(mode, modes[i]) != NULL;
	if (n > 1)
		return sw_err_set(err, SW_EINVALID,
				  "must specify only one service mode");
	if (n == 0)
		obj_ensure(mode, "Replicated");
	rep = obj_member(mode, "Replicated");
	canon_keys(rep, (const char *const[]){"Replicas", NULL});
	if (rep != NULL && !has_member(rep, "Replicas"))
		jsonx_add_int64(rep, "Replicas", 1);
	job = obj_member(mode, "ReplicatedJob");
	if (job != NULL) {
		default_int(job, "MaxConcurrent", 1);
		default_int(job, "TotalCompletions",
			    int_member(job, "MaxConcurrent", 1));
	}
	return 0;
}

/* EndpointSpec: Mode is an enum ("" is vip); ports get Docker's protocol
 * and publish mode, and ingress ports need the vip mode. */
static int normalize_endpoint_spec(struct json_object *spec,
				   struct sw_err *err)
{
	struct json_object *espec = obj_member(spec, "EndpointSpec");
	const char *mode = str_member(espec, "Mode");
	struct json_object *ports = NULL;

	if (espec == NULL)
		return 0;
	if (mode[0] != '\0' && strcmp(mode, "vip") != 0 &&
	    strcmp(mode, "dnsrr") != 0)
		return sw_err_set(err, SW_EINVALID,
				  "invalid resolution mode: \"%s\"", mode);
	default_str(espec, "Mode", "vip");
	omit_empty(espec, NULL);
	omit_empty_each(espec, "Ports", NULL);
	if (!json_object_object_get_ex(espec, "Ports", &ports) ||
	    !json_object_is_type(ports, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(ports); i++) {
		struct json_object *p = json_object_array_get_idx(ports, i);

		default_str(p, "Protocol", "tcp");
		default_str(p, "PublishMode", "ingress");
		if (strcmp(str_member(espec, "Mode"), "dnsrr") == 0 &&
		    strcmp(str_member(p, "PublishMode"), "ingress") == 0)
			return sw_err_set(err, SW_EINVALID,
					  "rpc error: code = InvalidArgument "
					  "desc = EndpointSpec: port published "
					  "with ingress mode can't be used "
					  "with dnsrr mode");
	}
	return 0;
}

/* dockerd's normalization of a stored spec (CONTRACT.md §6.5): what its
 * Go types and SwarmKit's protobufs make of the body on the way in. */
static int normalize(struct json_object *spec, struct sw_err *err)
{
	struct json_object *tt = obj_member(spec, "TaskTemplate");
	struct json_object *cs = obj_member(tt, "ContainerSpec");

	if (cs == NULL || str_member(cs, "Image")[0] == '\0')
		return sw_err_set(err, SW_EINVALID,
				  "rpc error: code = InvalidArgument desc = "
				  "ContainerSpec: image reference must be "
				  "provided");
	if (normalize_mode(spec, err) != 0 ||
	    normalize_endpoint_spec(spec, err) != 0)
		return -1;
	if (!has_member(spec, "Labels"))
		jsonx_add(spec, "Labels", json_object_new_object());
	normalize_container(cs);
	normalize_template(tt);
	normalize_update(obj_member(spec, "UpdateConfig"));
	normalize_update(obj_member(spec, "RollbackConfig"));
	return 0;
}

static void set_mode(struct swarm_service *out, struct json_object *spec)
{
	struct json_object *mode = obj_member(spec, "Mode");

	if (obj_member(mode, "Global") != NULL) {
		out->mode = xstrdup("global");
	} else if (obj_member(mode, "ReplicatedJob") != NULL) {
		struct json_object *job = obj_member(mode, "ReplicatedJob");

		out->mode = xstrdup("replicated-job");
		out->max_concurrent = (uint64_t)int_member(job, "MaxConcurrent",
							   1);
		out->total_completions = (uint64_t)int_member(
			job, "TotalCompletions", (int64_t)out->max_concurrent);
	} else if (obj_member(mode, "GlobalJob") != NULL) {
		out->mode = xstrdup("global-job");
	} else {
		out->mode = xstrdup("replicated");
		out->replicas = (uint64_t)int_member(
			obj_member(mode, "Replicated"), "Replicas", 1);
	}
}

static int decode_name(struct json_object *spec, struct swarm_service *out,
		       struct sw_err *err)
{
	const char *name = NULL;

	if (jsonx_get_string(spec, "Name", &name, err) < 0)
		return -1;
	if (name == NULL || name[0] == '\0') {
		out->name = random_name();
		jsonx_add_string(spec, "Name", out->name);
		return 0;
	}
	if (!valid_name(name))
		return sw_err_set(err, SW_EINVALID,
				  "rpc error: code = InvalidArgument desc = "
				  "name must be valid as a DNS name "
				  "component");
	out->name = xstrdup(name);
	return 0;
}

int codec_service_decode(struct swarm *s, const struct localnets *local,
			 struct json_object *body, const char *service_id,
			 struct swarm_service *out, struct sw_err *err)
{
	struct json_object *spec = NULL, *endpoint = NULL, *tt;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	out->task = xmalloc(sizeof(*out->task));
	swarmd__task_spec__init(out->task);
	if (!json_object_is_type(body, json_type_object)) {
		sw_err_set(err, SW_EINVALID, "json: cannot unmarshal into Go "
			   "value of type swarm.ServiceSpec");
		return -1;
	}
	if (json_object_deep_copy(body, &spec, NULL) != 0)
		goto out;
	strip_nulls(spec);
	if (decode_name(spec, out, err) != 0 || normalize(spec, err) != 0)
		goto out;
	tt = obj_member(spec, "TaskTemplate");
	task_container(out->task, obj_member(tt, "ContainerSpec"));
	task_policy(out->task, tt);
	task_placement(out->task, tt);
	if (build_endpoint(s, local, spec, service_id, out, &endpoint, err) !=
	    0)
		goto out;
	set_mode(out, spec);
	out->update_monitor_ns = int_member(obj_member(spec, "UpdateConfig"),
					    "Monitor", 0);
	if (out->update_monitor_ns <= 0)
		out->update_monitor_ns = 5 * NS_PER_S;
	out->update = update_params(spec, "UpdateConfig");
	out->rollback = update_params(spec, "RollbackConfig");
	out->spec_json = to_text(spec);
	out->task_template_json = to_text(tt);
	out->endpoint_json = to_text(endpoint);
	rc = 0;
out:
	json_object_put(spec);
	json_object_put(endpoint);
	if (rc != 0)
		codec_service_free(out);
	return rc;
}

void codec_service_free(struct swarm_service *svc)
{
	free(svc->name);
	free(svc->spec_json);
	free(svc->mode);
	free(svc->task_template_json);
	free(svc->endpoint_json);
	for (size_t i = 0; i < svc->n_network_ids; i++)
		free(svc->network_ids[i]);
	free(svc->network_ids);
	if (svc->task != NULL)
		swarmd__task_spec__free_unpacked(svc->task, NULL);
	if (svc->update != NULL)
		swarmd__update_params__free_unpacked(svc->update, NULL);
	if (svc->rollback != NULL)
		swarmd__update_params__free_unpacked(svc->rollback, NULL);
	memset(svc, 0, sizeof(*svc));
}

/* ---- rendering ---------------------------------------------------------- */

static void default_update_config(struct json_object *spec, const char *key)
{
	struct json_object *u = obj_member(spec, key);

	if (u != NULL) {
		default_int(u, "Monitor", 5 * NS_PER_S);
		return;
	}
	u = obj_ensure(spec, key);
	default_int(u, "Parallelism", 1);
	default_str(u, "FailureAction", "pause");
	default_int(u, "Monitor", 5 * NS_PER_S);
	default_int(u, "MaxFailureRatio", 0);
	default_str(u, "Order", "stop-first");
}

/* ?insertDefaults=true: SwarmKit's InterpolateService, in that reply
 * only. Absent sub-objects get the defaults; present ones only their
 * missing durations (RestartPolicy.Delay, Monitor), whatever the mode. */
static void insert_defaults(struct json_object *spec)
{
	struct json_object *tt = obj_ensure(spec, "TaskTemplate");
	struct json_object *cs = obj_member(tt, "ContainerSpec");
	struct json_object *rp = obj_member(tt, "RestartPolicy");

	if (cs != NULL) {
		default_int(cs, "StopGracePeriod", 10 * NS_PER_S);
		obj_ensure(cs, "DNSConfig");
	}
	obj_ensure(tt, "Resources");
	if (rp == NULL) {
		rp = obj_ensure(tt, "RestartPolicy");
		default_str(rp, "Condition", "any");
		default_int(rp, "Delay", 5 * NS_PER_S);
		default_int(rp, "MaxAttempts", 0);
	} else {
		default_int(rp, "Delay", 5 * NS_PER_S);
	}
	obj_ensure(tt, "Placement");
	default_update_config(spec, "UpdateConfig");
	default_update_config(spec, "RollbackConfig");
}

void codec_service_count_task(const Swarmd__Service *svc,
			      const Swarmd__Task *t, struct svc_counts *c)
{
	bool job = strstr(svc->mode, "job") != NULL;
	bool current = !job || t->job_iteration == svc->job_iteration;

	if (t->state == TASK_RUNNING && current &&
	    (t->desired_state <= TASK_RUNNING ||
	     t->desired_state == TASK_COMPLETE))
		c->running++;
	if (job && current && t->state == TASK_COMPLETE)
		c->completed++;
	if (t->desired_state == TASK_RUNNING &&
	    strcmp(svc->mode, "global") == 0)
		c->desired_global++;
}

struct json_object *codec_service_status(const Swarmd__Service *svc,
					 const struct svc_counts *c)
{
	struct json_object *st = json_object_new_object();
	int64_t desired = c->desired_global;

	if (strcmp(svc->mode, "replicated") == 0)
		desired = (int64_t)svc->replicas;
	else if (strcmp(svc->mode, "replicated-job") == 0)
		desired = (int64_t)svc->max_concurrent;
	jsonx_add_int64(st, "RunningTasks", c->running);
	jsonx_add_int64(st, "DesiredTasks", desired);
	jsonx_add_int64(st, "CompletedTasks", c->completed);
	return st;
}

/* Running and desired task counts, as ?status=true reports them. */
static struct json_object *service_status(struct swarm *s,
					  const struct store_record *rec,
					  const Swarmd__Service *svc)
{
	struct svc_counts c = {0};

	for (const struct store_record *r = store_first(swarm_store(s),
							OBJ_TASK);
	     r != NULL; r = store_next(r)) {
		Swarmd__Task *t = tasks_unpack(r);

		if (t != NULL && strcmp(t->service_id, rec->id) == 0)
			codec_service_count_task(svc, t, &c);
		swarmd__task__free_unpacked(t, NULL);
	}
	return codec_service_status(svc, &c);
}

/* A swarm.Version: Index is omitempty, so the first iteration is {}. */
static struct json_object *iteration(uint64_t index)
{
	struct json_object *it = json_object_new_object();

	if (index != 0)
		jsonx_add_int64(it, "Index", (int64_t)index);
	return it;
}

/* JobStatus: the iteration the job runs and when it last started. */
struct json_object *codec_service_job_status(const struct store_record *rec,
					     const Swarmd__Service *svc)
{
	struct json_object *js = json_object_new_object();
	char when[64];

	jsonx_add(js, "JobIteration", iteration(svc->job_iteration));
	jsonx_add_string(js, "LastExecution",
			 timefmt_utc(rec->updated_ns, when, sizeof(when)));
	return js;
}

struct json_object *codec_service_base(const struct store_record *rec,
				       const Swarmd__Service *svc,
				       bool defaults)
{
	struct json_object *o = json_object_new_object();
	struct json_object *spec = parse_bytes(&svc->spec_json);
	struct json_object *prev = parse_bytes(&svc->previous_spec_json);
	struct json_object *ep = parse_bytes(&svc->endpoint_json);
	struct json_object *us = parse_bytes(&svc->update_status_json);

	codec_add_meta(o, rec);
	if (spec == NULL)
		spec = json_object_new_object();
	if (defaults) {
		insert_defaults(spec);
		if (prev != NULL)
			insert_defaults(prev);
	}
	jsonx_add(o, "Spec", spec);
	if (prev != NULL)
		jsonx_add(o, "PreviousSpec", prev);
	jsonx_add(o, "Endpoint", ep ? ep : json_object_new_object());
	if (us != NULL)
		jsonx_add(o, "UpdateStatus", us);
	return o;
}

struct json_object *codec_service_to_json(struct swarm *s,
					  const struct store_record *rec,
					  const Swarmd__Service *svc,
					  bool status, bool defaults)
{
	struct json_object *o = codec_service_base(rec, svc, defaults);

	if (status)
		jsonx_add(o, "ServiceStatus", service_status(s, rec, svc));
	if (strstr(svc->mode, "job") != NULL)
		jsonx_add(o, "JobStatus", codec_service_job_status(rec, svc));
	return o;
}

static struct json_object *task_status(const Swarmd__Task *t)
{
	struct json_object *st = json_object_new_object();
	char when[64];

	jsonx_add_string(st, "Timestamp",
			 timefmt_utc(t->timestamp_ns, when, sizeof(when)));
	jsonx_add_string(st, "State", task_state_name(t->state));
	jsonx_add_string(st, "Message", t->message);
	if (t->err[0] != '\0')
		jsonx_add_string(st, "Err", t->err);
	/* SwarmKit's agent attaches the container status to each report from
	 * starting on, empty when there never was a container (rejected). */
	if (t->container_id[0] != '\0' || t->state >= TASK_STARTING) {
		struct json_object *cs = json_object_new_object();

		jsonx_add_string(cs, "ContainerID", t->container_id);
		jsonx_add_int64(cs, "PID", t->pid);
		jsonx_add_int64(cs, "ExitCode", t->exit_code);
		jsonx_add(st, "ContainerStatus", cs);
	}
	jsonx_add(st, "PortStatus", json_object_new_object());
	return st;
}

struct json_object *codec_task_to_json(const struct store_record *rec,
				       const Swarmd__Task *t)
{
	struct json_object *o = json_object_new_object();
	struct json_object *spec = parse_bytes(&t->spec_json);

	/* dockerd renders a task's spec without the service's Runtime. */
	if (spec != NULL)
		json_object_object_del(spec, "Runtime");
	codec_add_meta(o, rec);
	jsonx_add(o, "Labels", json_object_new_object());
	jsonx_add(o, "Spec", spec ? spec : json_object_new_object());
	jsonx_add_string(o, "ServiceID", t->service_id);
	if (t->slot != 0)
		jsonx_add_int64(o, "Slot", (int64_t)t->slot);
	if (t->node_id[0] != '\0')
		jsonx_add_string(o, "NodeID", t->node_id);
	jsonx_add(o, "Status", task_status(t));
	jsonx_add_string(o, "DesiredState", task_state_name(t->desired_state));
	if (t->desired_state == TASK_COMPLETE)
		jsonx_add(o, "JobIteration", iteration(t->job_iteration));
	return o;
}
