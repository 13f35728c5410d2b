#include "engine-api/codec_swarm.h"

#include <string.h>

#include "engine-api/codec_node.h"
#include "lib/jsonx.h"

#define NS_PER_S 1000000000LL

/* One numeric member of a spec section and how it merges. */
struct num_rule {
	const char *section;
	const char *key;
	int64_t def;
	bool keep_zero; /* a present 0 overrides (pointer fields in Go) */
};

static const struct num_rule num_rules[] = {
	{"Orchestration", "TaskHistoryRetentionLimit", 5, true},
	{"Raft", "SnapshotInterval", 10000, false},
	{"Raft", "KeepOldSnapshots", 0, true},
	{"Raft", "LogEntriesForSlowFollowers", 500, false},
	{"Raft", "ElectionTick", 10, false},
	{"Raft", "HeartbeatTick", 1, false},
	{"Dispatcher", "HeartbeatPeriod", 5 * NS_PER_S, false},
	{"CAConfig", "NodeCertExpiry", 90LL * 24 * 3600 * NS_PER_S, false},
};

static const char *const sections[] = {"Orchestration", "Raft", "Dispatcher",
				       "CAConfig",	"TaskDefaults",
				       "EncryptionConfig"};

static struct json_object *section(struct json_object *spec, const char *name)
{
	struct json_object *s = NULL;

	if (!json_object_object_get_ex(spec, name, &s) || s == NULL) {
		s = json_object_new_object();
		jsonx_add(spec, name, s);
	}
	return s;
}

struct json_object *codec_swarm_default_spec(void)
{
	struct json_object *spec = json_object_new_object();

	jsonx_add_string(spec, "Name", "default");
	jsonx_add(spec, "Labels", json_object_new_object());
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		section(spec, sections[i]);
	for (size_t i = 0; i < sizeof(num_rules) / sizeof(num_rules[0]); i++)
		jsonx_add_int64(section(spec, num_rules[i].section),
				num_rules[i].key, num_rules[i].def);
	jsonx_add_bool(section(spec, "EncryptionConfig"), "AutoLockManagers",
		       false);
	return spec;
}

static int merge_numbers(struct json_object *out, struct json_object *req,
			 struct sw_err *err)
{
	for (size_t i = 0; i < sizeof(num_rules) / sizeof(num_rules[0]); i++) {
		const struct num_rule *r = &num_rules[i];
		struct json_object *sec = NULL;
		int64_t v;
		int rc;

		if (jsonx_get_object(req, r->section, &sec, err) < 0)
			return -1;
		rc = jsonx_get_int64(sec, r->key, &v, err);
		if (rc < 0)
			return -1;
		if (rc == 1 && (v != 0 || r->keep_zero))
			jsonx_add_int64(section(out, r->section), r->key, v);
	}
	return 0;
}

/* Members replaced whenever the body carries a non-null value. */
static int merge_present(struct json_object *out, struct json_object *req,
			 const char *sec_name, const char *key,
			 enum json_type type, struct sw_err *err)
{
	struct json_object *sec = NULL;
	struct json_object *v = NULL;

	if (jsonx_get_object(req, sec_name, &sec, err) < 0)
		return -1;
	if (sec == NULL || !json_object_object_get_ex(sec, key, &v) ||
	    v == NULL)
		return 0;
	if (!json_object_is_type(v, type))
		return sw_err_set(err, SW_EINVALID,
				  "json: cannot unmarshal %s.%s", sec_name,
				  key);
	jsonx_add(section(out, sec_name), key, json_object_get(v));
	return 0;
}

static int merge_name_labels(struct json_object *out, struct json_object *req,
			     struct sw_err *err)
{
	const char *name = NULL;
	struct json_object *labels = NULL;

	if (jsonx_get_string(req, "Name", &name, err) < 0 ||
	    jsonx_get_object(req, "Labels", &labels, err) < 0)
		return -1;
	if (name != NULL && name[0] != '\0')
		jsonx_add_string(out, "Name", name);
	if (labels != NULL && json_object_object_length(labels) > 0)
		jsonx_add(out, "Labels", json_object_get(labels));
	return 0;
}

/* Members Docker always takes from the body (false/0 when absent). */
static int merge_always(struct json_object *out, struct json_object *req,
			struct sw_err *err)
{
	struct json_object *enc = NULL, *ca = NULL;
	bool autolock = false;
	int64_t rotate = 0;

	if (jsonx_get_object(req, "EncryptionConfig", &enc, err) < 0 ||
	    jsonx_get_bool(enc, "AutoLockManagers", &autolock, err) < 0 ||
	    jsonx_get_object(req, "CAConfig", &ca, err) < 0 ||
	    jsonx_get_int64(ca, "ForceRotate", &rotate, err) < 0)
		return -1;
	codec_swarm_set_autolock(out, autolock);
	json_object_object_del(section(out, "CAConfig"), "ForceRotate");
	if (rotate != 0)
		jsonx_add_int64(section(out, "CAConfig"), "ForceRotate",
				rotate);
	return 0;
}

struct json_object *codec_swarm_merge(struct json_object *base,
				      struct json_object *req,
				      struct sw_err *err)
{
	struct json_object *out = NULL;

	if (req != NULL && !json_object_is_type(req, json_type_object)) {
		sw_err_set(err, SW_EINVALID,
			   "json: cannot unmarshal into Go value of type "
			   "swarm.Spec");
		return NULL;
	}
	if (json_object_deep_copy(base, &out, NULL) != 0)
		return NULL;
	if (req == NULL)
		return out;
	if (merge_name_labels(out, req, err) != 0 ||
	    merge_numbers(out, req, err) != 0 ||
	    merge_present(out, req, "CAConfig", "ExternalCAs",
			  json_type_array, err) != 0 ||
	    merge_present(out, req, "CAConfig", "SigningCACert",
			  json_type_string, err) != 0 ||
	    merge_present(out, req, "TaskDefaults", "LogDriver",
			  json_type_object, err) != 0 ||
	    merge_always(out, req, err) != 0) {
		json_object_put(out);
		return NULL;
	}
	return out;
}

static int64_t num(struct json_object *spec, const char *sec, const char *key)
{
	struct json_object *s = NULL, *v = NULL;

	if (!json_object_object_get_ex(spec, sec, &s) || s == NULL ||
	    !json_object_object_get_ex(s, key, &v) || v == NULL)
		return 0;
	return json_object_get_int64(v);
}

void codec_swarm_values(struct json_object *spec,
			struct swarm_spec_values *out)
{
	struct json_object *enc = NULL, *v = NULL;

	out->task_history_limit =
		num(spec, "Orchestration", "TaskHistoryRetentionLimit");
	out->snapshot_interval = (uint64_t)num(spec, "Raft", "SnapshotInterval");
	out->election_tick = (uint32_t)num(spec, "Raft", "ElectionTick");
	out->heartbeat_tick = (uint32_t)num(spec, "Raft", "HeartbeatTick");
	out->heartbeat_period_ns = num(spec, "Dispatcher", "HeartbeatPeriod");
	out->node_cert_expiry_ns = num(spec, "CAConfig", "NodeCertExpiry");
	out->autolock = json_object_object_get_ex(spec, "EncryptionConfig",
						  &enc) &&
			enc != NULL &&
			json_object_object_get_ex(enc, "AutoLockManagers",
						  &v) &&
			json_object_get_boolean(v);
}

void codec_swarm_set_autolock(struct json_object *spec, bool on)
{
	jsonx_add_bool(section(spec, "EncryptionConfig"), "AutoLockManagers",
		       on);
}

static struct json_object *addr_pool(const Swarmd__Cluster *cl)
{
	struct json_object *a;

	/* Docker shows null for the CLI's empty list, and SwarmKit's default
	 * pool when the client sent none. */
	if (!cl->default_addr_pool_set) {
		a = json_object_new_array();
		json_object_array_add(a, json_object_new_string("10.0.0.0/8"));
		return a;
	}
	if (cl->n_default_addr_pool == 0)
		return NULL;
	a = json_object_new_array();
	for (size_t i = 0; i < cl->n_default_addr_pool; i++)
		json_object_array_add(
			a, json_object_new_string(cl->default_addr_pool[i]));
	return a;
}

struct json_object *codec_swarm_to_json(const struct store_record *rec,
					const Swarmd__Cluster *cl,
					bool with_tokens)
{
	struct json_object *o = json_object_new_object();
	struct sw_err err;
	struct json_object *spec = jsonx_parse(
		(const char *)cl->spec_json.data, cl->spec_json.len, &err);

	codec_add_meta(o, rec);
	jsonx_add(o, "Spec", spec ? spec : codec_swarm_default_spec());
	jsonx_add(o, "TLSInfo", codec_tls_info(cl->root_ca_cert_pem));
	jsonx_add_bool(o, "RootRotationInProgress",
		       cl->root_rotation_in_progress);
	jsonx_add(o, "DefaultAddrPool", addr_pool(cl));
	jsonx_add_int64(o, "SubnetSize", cl->subnet_size ? cl->subnet_size : 24);
	jsonx_add_int64(o, "DataPathPort",
			cl->data_path_port ? cl->data_path_port : 4789);
	if (with_tokens) {
		struct json_object *t = json_object_new_object();

		jsonx_add_string(t, "Worker", cl->worker_token);
		jsonx_add_string(t, "Manager", cl->manager_token);
		jsonx_add(o, "JoinTokens", t);
	}
	return o;
}
