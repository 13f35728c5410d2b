#include "engine-api/netfilter.h"

#include <string.h>

#include "engine-api/codec_network.h"
#include "engine-api/localnets.h"

static bool is_swarm(struct json_object *net)
{
	return strcmp(codec_network_str(net, "Scope"), "swarm") == 0;
}

static bool is_builtin(struct json_object *net)
{
	return !is_swarm(net) &&
	       localnets_is_builtin_name(codec_network_str(net, "Name"));
}

static bool has_containers(struct json_object *net)
{
	struct json_object *c = NULL;

	return json_object_object_get_ex(net, "Containers", &c) &&
	       json_object_is_type(c, json_type_object) &&
	       json_object_object_length(c) > 0;
}

static bool match_name(const char *v, const void *arg)
{
	struct json_object *net = (struct json_object *)arg;
	const char *name = codec_network_str(net, "Name");

	return is_swarm(net) ? strcmp(name, v) == 0 : strstr(name, v) != NULL;
}

static bool match_id(const char *v, const void *arg)
{
	struct json_object *net = (struct json_object *)arg;
	const char *id = codec_network_str(net, "Id");

	return is_swarm(net) ? strncmp(id, v, strlen(v)) == 0
			     : strstr(id, v) != NULL;
}

static bool match_driver(const char *v, const void *arg)
{
	return strcmp(codec_network_str((struct json_object *)arg, "Driver"),
		      v) == 0;
}

static bool match_scope(const char *v, const void *arg)
{
	return strcmp(codec_network_str((struct json_object *)arg, "Scope"),
		      v) == 0;
}

bool netfilter_label_match(const char *v, struct json_object *net)
{
	struct json_object *labels = NULL;
	const char *eq = strchr(v, '=');
	size_t klen = eq ? (size_t)(eq - v) : strlen(v);

	if (!json_object_object_get_ex(net, "Labels", &labels) ||
	    !json_object_is_type(labels, json_type_object))
		return false;
	json_object_object_foreach(labels, k, value)
	{
		if (strlen(k) == klen && strncmp(k, v, klen) == 0)
			return eq == NULL ||
			       strcmp(json_object_get_string(value), eq + 1) ==
				   0;
	}
	return false;
}

static bool match_label(const char *v, const void *arg)
{
	return netfilter_label_match(v, (struct json_object *)arg);
}

static bool match_type(const char *v, const void *arg)
{
	bool builtin = is_builtin((struct json_object *)arg);

	return strcmp(v, "builtin") == 0 ? builtin : !builtin;
}

static bool dangling_value(const char *v)
{
	return strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
}

static bool match_dangling(const char *v, const void *arg)
{
	struct json_object *net = (struct json_object *)arg;
	bool dangling = !is_builtin(net) && !has_containers(net);

	return dangling_value(v) ? dangling : !dangling;
}

int netfilter_check(const struct filters *f, struct sw_err *err)
{
	static const char *const keys[] = {"driver", "id",   "label",    "name",
					   "scope",  "type", "dangling", NULL};
	const struct filter_entry *type = filters_get(f, "type");
	const struct filter_entry *dangling = filters_get(f, "dangling");

	if (filters_validate(f, keys, err) != 0)
		return -1;
	for (size_t i = 0; type && i < type->nvalues; i++)
		if (strcmp(type->values[i], "custom") != 0 &&
		    strcmp(type->values[i], "builtin") != 0)
			return sw_err_set(err, SW_ESYSTEM,
					  "invalid filter: 'type'='%s'",
					  type->values[i]);
	for (size_t i = 0; dangling && i < dangling->nvalues; i++) {
		const char *v = dangling->values[i];

		if (!dangling_value(v) && strcmp(v, "false") != 0 &&
		    strcmp(v, "0") != 0)
			return sw_err_set(err, SW_EINVALID,
					  "invalid value for filter "
					  "'dangling', must be \"true\" (or "
					  "\"1\"), or \"false\" (or \"0\")");
	}
	return 0;
}

bool netfilter_match(const struct filters *f, struct json_object *net)
{
	return filters_match_any(f, "name", match_name, net) &&
	       filters_match_any(f, "id", match_id, net) &&
	       filters_match_any(f, "driver", match_driver, net) &&
	       filters_match_any(f, "scope", match_scope, net) &&
	       filters_match_any(f, "label", match_label, net) &&
	       filters_match_any(f, "type", match_type, net) &&
	       filters_match_any(f, "dangling", match_dangling, net);
}
