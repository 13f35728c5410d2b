#include "engine-api/codec_service.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "engine-api/codec_node.h"
#include "lib/alloc.h"
#include "lib/jsonx.h"
#include "lib/timefmt.h"
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
		t->mounts[t->n_mounts++] = o;
	}
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

/* Resolves TaskTemplate.Networks targets to IDs (in place) and lists them
 * as virtual IPs; `host` makes the task share the node's network. */
static int resolve_networks(struct swarm *s, struct json_object *tt,
			    Swarmd__TaskSpec *t, struct json_object *vips,
			    struct sw_err *err)
{
	struct json_object *nets = NULL;

	if (!json_object_object_get_ex(tt, "Networks", &nets) || nets == NULL ||
	    !json_object_is_type(nets, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(nets); i++) {
		struct json_object *n = json_object_array_get_idx(nets, i);
		const char *target = str_member(n, "Target");
		const struct store_record *rec = networks_resolve(s, target);
		Swarmd__Network *net;

		if (rec == NULL)
			return sw_err_set(err, SW_ENOTFOUND,
					  "network %s not found", target);
		net = networks_unpack(rec);
		if (net != NULL && strcmp(net->driver, "host") == 0)
			t->host_network = true;
		jsonx_add_string(n, "Target", rec->id);
		json_object_array_add(vips, vip(rec->id, NULL));
		swarmd__network__free_unpacked(net, NULL);
	}
	return 0;
}

static int build_endpoint(struct swarm *s, struct json_object *spec,
			  const char *self, Swarmd__TaskSpec *t,
			  struct json_object **endpoint, struct sw_err *err)
{
	struct json_object *espec = obj_member(spec, "EndpointSpec");
	struct json_object *ep = json_object_new_object();
	struct json_object *ports = json_object_new_array();
	struct json_object *vips = json_object_new_array();
	struct json_object *tt = obj_member(spec, "TaskTemplate");
	const struct store_record *ingress;

	*endpoint = ep;
	if (espec != NULL && !has_member(espec, "Mode"))
		jsonx_add_string(espec, "Mode", "vip");
	jsonx_add(ep, "Spec", espec ? json_object_get(espec)
				    : json_object_new_object());
	if (endpoint_ports(s, espec, self, t, ports, err) != 0 ||
	    resolve_networks(s, tt, t, vips, err) != 0) {
		json_object_put(ports);
		json_object_put(vips);
		return -1;
	}
	ingress = networks_resolve(s, "ingress");
	if (json_object_array_length(ports) > 0 && ingress == NULL) {
		json_object_put(ports);
		json_object_put(vips);
		return sw_err_set(err, SW_EINVALID,
				  "service needs ingress network, but no "
				  "ingress network is present");
	}
	if (json_object_array_length(ports) > 0) {
		jsonx_add(ep, "Ports", ports);
		json_object_array_add(vips, vip(ingress->id, "10.0.0.2/24"));
	} else {
		json_object_put(ports);
	}
	if (json_object_array_length(vips) > 0)
		jsonx_add(ep, "VirtualIPs", vips);
	else
		json_object_put(vips);
	return 0;
}

/* ---- decode --------------------------------------------------------------- */

/* dockerd's normalization of a stored spec (CONTRACT.md §6.5). */
static int normalize(struct json_object *spec, struct sw_err *err)
{
	struct json_object *tt = obj_member(spec, "TaskTemplate");
	struct json_object *cs = obj_member(tt, "ContainerSpec");
	struct json_object *mode = obj_member(spec, "Mode");
	struct json_object *rep;

	if (cs == NULL || str_member(cs, "Image")[0] == '\0')
		return sw_err_set(err, SW_EINVALID,
				  "rpc error: code = InvalidArgument desc = "
				  "ContainerSpec: image reference must be "
				  "provided");
	if (!has_member(spec, "Labels"))
		jsonx_add(spec, "Labels", json_object_new_object());
	if (!has_member(cs, "Isolation"))
		jsonx_add_string(cs, "Isolation", "default");
	if (!has_member(tt, "Runtime"))
		jsonx_add_string(tt, "Runtime", "container");
	if (mode == NULL) {
		mode = obj_ensure(spec, "Mode");
		obj_ensure(mode, "Replicated");
	}
	rep = obj_member(mode, "Replicated");
	if (rep != NULL && !has_member(rep, "Replicas"))
		jsonx_add_int64(rep, "Replicas", 1);
	return 0;
}

static void set_mode(struct swarm_service *out, struct json_object *spec)
{
	struct json_object *mode = obj_member(spec, "Mode");

	if (obj_member(mode, "Global") != NULL) {
		out->mode = xstrdup("global");
	} else if (obj_member(mode, "ReplicatedJob") != NULL) {
		out->mode = xstrdup("replicated-job");
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

int codec_service_decode(struct swarm *s, struct json_object *body,
			 const char *service_id, struct swarm_service *out,
			 struct sw_err *err)
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
	if (json_object_deep_copy(body, &spec, NULL) != 0 ||
	    decode_name(spec, out, err) != 0 || normalize(spec, err) != 0)
		goto out;
	tt = obj_member(spec, "TaskTemplate");
	task_container(out->task, obj_member(tt, "ContainerSpec"));
	task_policy(out->task, tt);
	if (build_endpoint(s, spec, service_id, out->task, &endpoint, err) != 0)
		goto out;
	set_mode(out, spec);
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
	if (svc->task != NULL)
		swarmd__task_spec__free_unpacked(svc->task, NULL);
	memset(svc, 0, sizeof(*svc));
}

/* ---- rendering ---------------------------------------------------------- */

static struct json_object *parse_bytes(const ProtobufCBinaryData *b)
{
	struct sw_err err;

	if (b->len == 0)
		return NULL;
	return jsonx_parse((const char *)b->data, b->len, &err);
}

static void default_int(struct json_object *o, const char *key, int64_t v)
{
	if (!has_member(o, key))
		jsonx_add_int64(o, key, v);
}

static void default_str(struct json_object *o, const char *key,
			const char *v)
{
	if (!has_member(o, key))
		jsonx_add_string(o, key, v);
}

static void default_update_config(struct json_object *spec, const char *key)
{
	struct json_object *u = obj_ensure(spec, key);

	default_int(u, "Parallelism", 1);
	default_str(u, "FailureAction", "pause");
	default_int(u, "Monitor", 5 * NS_PER_S);
	default_int(u, "MaxFailureRatio", 0);
	default_str(u, "Order", "stop-first");
}

/* ?insertDefaults=true: Docker's defaults, in that reply only. */
static void insert_defaults(struct json_object *spec)
{
	struct json_object *tt = obj_ensure(spec, "TaskTemplate");
	struct json_object *rp;

	default_int(obj_ensure(tt, "ContainerSpec"), "StopGracePeriod",
		    10 * NS_PER_S);
	rp = obj_ensure(tt, "RestartPolicy");
	default_str(rp, "Condition", "any");
	default_int(rp, "Delay", 5 * NS_PER_S);
	default_int(rp, "MaxAttempts", 0);
	if (obj_member(spec, "Mode") != NULL &&
	    (obj_member(obj_member(spec, "Mode"), "Replicated") != NULL ||
	     obj_member(obj_member(spec, "Mode"), "Global") != NULL)) {
		default_update_config(spec, "UpdateConfig");
		default_update_config(spec, "RollbackConfig");
	}
}

/* Running and desired task counts, as ?status=true reports them. */
static struct json_object *service_status(struct swarm *s,
					  const struct store_record *rec,
					  const Swarmd__Service *svc)
{
	struct json_object *st = json_object_new_object();
	int64_t running = 0, desired = 0;

	for (const struct store_record *r = store_first(swarm_store(s),
							OBJ_TASK);
	     r != NULL; r = store_next(r)) {
		Swarmd__Task *t = tasks_unpack(r);

		if (t != NULL && strcmp(t->service_id, rec->id) == 0) {
			if (t->state == TASK_RUNNING &&
			    t->desired_state <= TASK_RUNNING)
				running++;
			if (t->desired_state == TASK_RUNNING &&
			    strcmp(svc->mode, "global") == 0)
				desired++;
		}
		swarmd__task__free_unpacked(t, NULL);
	}
	if (strcmp(svc->mode, "replicated") == 0)
		desired = (int64_t)svc->replicas;
	jsonx_add_int64(st, "RunningTasks", running);
	jsonx_add_int64(st, "DesiredTasks", desired);
	jsonx_add_int64(st, "CompletedTasks", 0);
	return st;
}

struct json_object *codec_service_to_json(struct swarm *s,
					  const struct store_record *rec,
					  const Swarmd__Service *svc,
					  bool status, bool defaults)
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
	if (status)
		jsonx_add(o, "ServiceStatus", service_status(s, rec, svc));
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
	if (t->container_id[0] != '\0') {
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
	return o;
}
