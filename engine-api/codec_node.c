#include "engine-api/codec_node.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/jsonx.h"
#include "lib/timefmt.h"
#include "orchestrator/ca.h"

void codec_add_meta(struct json_object *obj, const struct store_record *rec)
{
	struct json_object *v = json_object_new_object();
	char when[64];

	jsonx_add_string(obj, "ID", rec->id);
	jsonx_add_int64(v, "Index", (int64_t)rec->version);
	jsonx_add(obj, "Version", v);
	jsonx_add_string(obj, "CreatedAt",
			 timefmt_utc(rec->created_ns, when, sizeof(when)));
	jsonx_add_string(obj, "UpdatedAt",
			 timefmt_utc(rec->updated_ns, when, sizeof(when)));
}

struct json_object *codec_tls_info(const char *root_pem)
{
	struct sw_err err;
	struct ca_root *root = ca_root_load(root_pem, NULL, &err);
	struct ca_tls_info info;
	struct json_object *t;

	if (root == NULL)
		return NULL;
	if (ca_root_tls_info(root, &info, &err) != 0) {
		ca_root_free(root);
		return NULL;
	}
	t = json_object_new_object();
	jsonx_add_string(t, "TrustRoot", info.trust_root);
	jsonx_add_string(t, "CertIssuerSubject", info.cert_issuer_subject);
	jsonx_add_string(t, "CertIssuerPublicKey",
			 info.cert_issuer_public_key);
	ca_tls_info_free(&info);
	ca_root_free(root);
	return t;
}

static struct json_object *parse_stored(const ProtobufCBinaryData *b)
{
	struct sw_err err;
	struct json_object *o = jsonx_parse((const char *)b->data, b->len, &err);

	return o != NULL ? o : json_object_new_object();
}

static struct json_object *plugin(const char *type, const char *name)
{
	struct json_object *p = json_object_new_object();

	jsonx_add_string(p, "Type", type);
	jsonx_add_string(p, "Name", name);
	return p;
}

static struct json_object *engine_desc(const Swarmd__Node *n)
{
	static const char *const plugins[][2] = {
		{"Log", "json-file"},	 {"Network", "bridge"},
		{"Network", "host"},	 {"Network", "null"},
		{"Network", "overlay"}, {"Volume", "local"}};
	struct json_object *e = json_object_new_object();
	struct json_object *list = json_object_new_array();

	jsonx_add_string(e, "EngineVersion", n->engine_version);
	if (n->n_engine_labels > 0) {
		struct json_object *l = json_object_new_object();

		for (size_t i = 0; i < n->n_engine_labels; i++)
			jsonx_add_string(l, n->engine_labels[i]->key,
					 n->engine_labels[i]->value);
		jsonx_add(e, "Labels", l);
	}
	for (size_t i = 0; i < sizeof(plugins) / sizeof(plugins[0]); i++)
		json_object_array_add(list, plugin(plugins[i][0], plugins[i][1]));
	jsonx_add(e, "Plugins", list);
	return e;
}

static struct json_object *description(const Swarmd__Node *n,
				       struct json_object *tls_info)
{
	struct json_object *d = json_object_new_object();
	struct json_object *plat = json_object_new_object();
	struct json_object *res = json_object_new_object();

	jsonx_add_string(d, "Hostname", n->hostname);
	jsonx_add_string(plat, "Architecture", n->architecture);
	jsonx_add_string(plat, "OS", n->os);
	jsonx_add(d, "Platform", plat);
	jsonx_add_int64(res, "NanoCPUs", n->nano_cpus);
	jsonx_add_int64(res, "MemoryBytes", n->memory_bytes);
	jsonx_add(d, "Resources", res);
	jsonx_add(d, "Engine", engine_desc(n));
	if (tls_info != NULL)
		jsonx_add(d, "TLSInfo", json_object_get(tls_info));
	return d;
}

static struct json_object *manager_status(struct swarm *s,
					  const Swarmd__Node *n)
{
	struct json_object *m = json_object_new_object();
	bool leader = n->raft_id != 0 && n->raft_id == swarm_leader_raft_id(s);

	if (leader)
		jsonx_add_bool(m, "Leader", true);
	jsonx_add_string(m, "Reachability",
			 leader || strcmp(n->state, "ready") == 0
				 ? "reachable"
				 : "unreachable");
	jsonx_add_string(m, "Addr", n->manager_addr);
	return m;
}

struct json_object *codec_node_to_json(struct swarm *s,
				       const struct store_record *rec,
				       const Swarmd__Node *n,
				       struct json_object *tls_info)
{
	struct json_object *o = json_object_new_object();
	struct json_object *st = json_object_new_object();

	codec_add_meta(o, rec);
	jsonx_add(o, "Spec", parse_stored(&n->spec_json));
	jsonx_add(o, "Description", description(n, tls_info));
	jsonx_add_string(st, "State", n->state);
	if (n->message[0] != '\0')
		jsonx_add_string(st, "Message", n->message);
	jsonx_add_string(st, "Addr", n->addr);
	jsonx_add(o, "Status", st);
	if (n->manager)
		jsonx_add(o, "ManagerStatus", manager_status(s, n));
	return o;
}

static bool one_of(const char *v, const char *const *allowed)
{
	for (size_t i = 0; allowed[i] != NULL; i++)
		if (strcmp(v, allowed[i]) == 0)
			return true;
	return false;
}

/* Go's decoder text for a label value that is not a string. */
static int label_type_error(struct json_object *v, struct sw_err *err)
{
	const char *kind = json_object_is_type(v, json_type_array)   ? "array"
			   : json_object_is_type(v, json_type_object)  ? "object"
			   : json_object_is_type(v, json_type_boolean) ? "bool"
								       : "number";

	return sw_err_set(err, SW_EINVALID,
			  "json: cannot unmarshal %s into Go struct field "
			  "NodeSpec.Labels of type string",
			  kind);
}

static int spec_labels(struct json_object *body, struct swarm_node_spec *spec,
		       struct json_object *out, struct sw_err *err)
{
	struct json_object *labels = NULL;
	struct json_object *copy = json_object_new_object();

	if (jsonx_get_object(body, "Labels", &labels, err) < 0) {
		json_object_put(copy);
		return -1;
	}
	json_object_object_foreach(labels ? labels : copy, k, v)
	{
		Swarmd__KeyValue *kv;

		/* Go decodes a null map value as "". */
		if (v != NULL && !json_object_is_type(v, json_type_string)) {
			json_object_put(copy);
			return label_type_error(v, err);
		}
		kv = xmalloc(sizeof(*kv));
		swarmd__key_value__init(kv);
		kv->key = (char *)k;
		kv->value = (char *)(v != NULL ? json_object_get_string(v) : "");
		spec->labels = xrealloc(spec->labels,
					(spec->n_labels + 1) * sizeof(kv));
		spec->labels[spec->n_labels++] = kv;
		jsonx_add_string(copy, k, kv->value);
	}
	jsonx_add(out, "Labels", copy);
	return 0;
}

int codec_node_spec(struct json_object *body, struct swarm_node_spec *spec,
		    struct sw_err *err)
{
	static const char *const roles[] = {"worker", "manager", NULL};
	static const char *const avail[] = {"active", "pause", "drain", NULL};
	struct json_object *out = json_object_new_object();
	const char *name = NULL, *role = "", *av = "";

	memset(spec, 0, sizeof(*spec));
	if (!json_object_is_type(body, json_type_object)) {
		sw_err_set(err, SW_EINVALID, "json: cannot unmarshal into Go "
			   "value of type swarm.NodeSpec");
		goto bad;
	}
	if (jsonx_get_string(body, "Name", &name, err) < 0 ||
	    jsonx_get_string(body, "Role", &role, err) < 0 ||
	    jsonx_get_string(body, "Availability", &av, err) < 0)
		goto bad;
	if (!one_of(role, roles)) {
		sw_err_set(err, SW_EINVALID, "invalid Role: \"%s\"", role);
		goto bad;
	}
	if (!one_of(av, avail)) {
		sw_err_set(err, SW_EINVALID, "invalid Availability: \"%s\"", av);
		goto bad;
	}
	if (name != NULL && name[0] != '\0')
		jsonx_add_string(out, "Name", name);
	if (spec_labels(body, spec, out, err) != 0)
		goto bad;
	jsonx_add_string(out, "Role", role);
	jsonx_add_string(out, "Availability", av);
	spec->name = name;
	spec->role = role;
	spec->availability = av;
	spec->spec_json = jsonx_to_body(out, NULL);
	/* The stored spec has no trailing newline. */
	((char *)spec->spec_json)[strlen(spec->spec_json) - 1] = '\0';
	json_object_put(out);
	return 0;
bad:
	json_object_put(out);
	codec_node_spec_free(spec);
	return -1;
}

void codec_node_spec_free(struct swarm_node_spec *spec)
{
	for (size_t i = 0; i < spec->n_labels; i++)
		free(spec->labels[i]);
	free(spec->labels);
	free((char *)spec->spec_json);
	spec->labels = NULL;
	spec->n_labels = 0;
	spec->spec_json = NULL;
}
