#include "engine-api/filters.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "lib/alloc.h"
#include "lib/jsonx.h"

static void add_value(struct filter_entry *e, const char *v)
{
	e->values = xrealloc(e->values, (e->nvalues + 1) * sizeof(char *));
	e->values[e->nvalues++] = xstrdup(v);
}

/* Reads one key's values from a map of value → bool or a list of strings. */
static int read_values(struct filter_entry *e, struct json_object *v,
		       struct sw_err *err)
{
	if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, val, flag)
		{
			if (flag == NULL ||
			    !json_object_is_type(flag, json_type_boolean))
				return sw_err_set(
					err, SW_EINVALID,
					"json: cannot unmarshal into Go value "
					"of type bool");
			/* moby's filters.Args keeps a value whatever its
			 * flag says; so do we. */
			add_value(e, val);
		}
		return 0;
	}
	if (json_object_is_type(v, json_type_array)) {
		size_t n = json_object_array_length(v);

		for (size_t i = 0; i < n; i++) {
			struct json_object *s = json_object_array_get_idx(v, i);

			if (s == NULL ||
			    !json_object_is_type(s, json_type_string))
				return sw_err_set(
					err, SW_EINVALID,
					"json: cannot unmarshal into Go value "
					"of type string");
			add_value(e, json_object_get_string(s));
		}
		return 0;
	}
	return sw_err_set(err, SW_EINVALID,
			  "json: cannot unmarshal into Go value of type "
			  "map[string]bool");
}

int filters_parse(const char *text, struct filters *f, struct sw_err *err)
{
	struct json_object *root;
	int rc = 0;

	f->entries = NULL;
	f->n = 0;
	if (text == NULL || text[0] == '\0')
		return 0;
	root = jsonx_parse(text, strlen(text), err);
	if (root == NULL)
		return -1;
	if (!json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return sw_err_set(err, SW_EINVALID,
				  "json: cannot unmarshal into Go value of "
				  "type map[string]map[string]bool");
	}
	json_object_object_foreach(root, key, val)
	{
		struct filter_entry *e;

		if (val == NULL)
			continue;
		f->entries = xrealloc(f->entries, (f->n + 1) * sizeof(*e));
		e = &f->entries[f->n++];
		e->key = xstrdup(key);
		e->values = NULL;
		e->nvalues = 0;
		rc = read_values(e, val, err);
		if (rc != 0)
			break;
	}
	json_object_put(root);
	if (rc != 0)
		filters_free(f);
	return rc;
}

void filters_free(struct filters *f)
{
	for (size_t i = 0; i < f->n; i++) {
		for (size_t j = 0; j < f->entries[i].nvalues; j++)
			free(f->entries[i].values[j]);
		free(f->entries[i].values);
		free(f->entries[i].key);
	}
	free(f->entries);
	f->entries = NULL;
	f->n = 0;
}

int filters_validate(const struct filters *f, const char *const *allowed,
		     struct sw_err *err)
{
	for (size_t i = 0; i < f->n; i++) {
		bool ok = false;

		for (size_t j = 0; allowed[j] != NULL && !ok; j++)
			ok = strcmp(allowed[j], f->entries[i].key) == 0;
		if (!ok)
			return sw_err_set(err, SW_EINVALID,
					  "Invalid filter '%s'",
					  f->entries[i].key);
	}
	return 0;
}

const struct filter_entry *filters_get(const struct filters *f,
				       const char *key)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->entries[i].key, key) == 0)
			return &f->entries[i];
	return NULL;
}

bool filters_match_any(const struct filters *f, const char *key,
		       bool (*pred)(const char *value, const void *arg),
		       const void *arg)
{
	const struct filter_entry *e = filters_get(f, key);

	if (e == NULL || e->nvalues == 0)
		return true;
	for (size_t i = 0; i < e->nvalues; i++)
		if (pred(e->values[i], arg))
			return true;
	return false;
}
