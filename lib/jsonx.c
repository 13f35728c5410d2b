#include "lib/jsonx.h"

#include <string.h>

#include "lib/alloc.h"

enum { JSONX_MAX_DEPTH = 64 };

static bool only_space(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' &&
		    p[i] != '\n')
			return false;
	return true;
}

/* json-c's strict mode still takes single-quoted object keys and raw
 * control characters in strings; Go's decoder refuses both. */
static int check_lexical(const char *p, size_t n, struct sw_err *err)
{
	bool in_str = false;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
			else if (c < 0x20)
				return sw_err_set(err, SW_EINVALID,
						  "invalid character in string "
						  "literal");
		} else if (c == '"') {
			in_str = true;
		} else if (c == '\'') {
			return sw_err_set(err, SW_EINVALID,
					  "invalid character '\\'' looking "
					  "for beginning of value");
		}
	}
	return 0;
}

/* What Go's decoder was looking for at offset pos: a key right after '{'
 * or after ',' inside an object, a value otherwise. */
static const char *go_expectation(const char *p, size_t pos)
{
	char stack[64];
	size_t depth = 0;
	bool in_str = false;
	char last = 0;

	for (size_t i = 0; i < pos; i++) {
		char c = p[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"')
			in_str = true;
		else if ((c == '{' || c == '[') && depth < sizeof(stack))
			stack[depth++] = c;
		else if ((c == '}' || c == ']') && depth > 0)
			depth--;
		if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
			last = c;
	}
	if (depth > 0 && stack[depth - 1] == '{' && (last == '{' || last == ','))
		return "looking for beginning of object key string";
	return "looking for beginning of value";
}

/* Words a syntax error as Go's encoding/json does, so clients see the text
 * dockerd gives: "invalid character 'b' looking for beginning of object key
 * string". */
static void go_syntax_error(const char *p, size_t len, size_t pos,
			    struct sw_err *err)
{
	while (pos < len && (p[pos] == ' ' || p[pos] == '\t' ||
			     p[pos] == '\r' || p[pos] == '\n'))
		pos++;
	if (pos >= len) {
		sw_err_set(err, SW_EINVALID, "unexpected EOF");
		return;
	}
	if ((unsigned char)p[pos] < 0x20 || (unsigned char)p[pos] >= 0x7f)
		sw_err_set(err, SW_EINVALID, "invalid character '\\x%02x' %s",
			   (unsigned char)p[pos], go_expectation(p, pos));
	else
		sw_err_set(err, SW_EINVALID, "invalid character '%c' %s", p[pos],
			   go_expectation(p, pos));
}

struct json_object *jsonx_parse(const char *text, size_t len,
				struct sw_err *err)
{
	struct json_tokener *tok;
	struct json_object *obj;
	enum json_tokener_error jerr;
	size_t used;

	if (len == 0 || only_space(text, len)) {
		sw_err_set(err, SW_EINVALID, "unexpected EOF");
		return NULL;
	}
	if (check_lexical(text, len, err) != 0)
		return NULL;
	tok = json_tokener_new_ex(JSONX_MAX_DEPTH);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
					    JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	used = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue) {
		/* All len bytes were consumed; a bare number or literal needs
		 * the terminating NUL to finish. */
		obj = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		used = len;
		if (jerr == json_tokener_continue ||
		    jerr == json_tokener_error_parse_eof) {
			json_object_put(obj);
			json_tokener_free(tok);
			sw_err_set(err, SW_EINVALID, "unexpected EOF");
			return NULL;
		}
	}
	json_tokener_free(tok);
	if (jerr != json_tokener_success) {
		json_object_put(obj);
		go_syntax_error(text, len, used, err);
		return NULL;
	}
	if (used < len && !only_space(text + used, len - used)) {
		json_object_put(obj);
		sw_err_set(err, SW_EINVALID,
			   "invalid character after top-level value");
		return NULL;
	}
	return obj;
}

/* Looks key up; returns the value or NULL for absent/null. */
static struct json_object *lookup(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;

	if (obj == NULL || !json_object_is_type(obj, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

static int wrong_type(struct sw_err *err, const char *key, const char *want)
{
	sw_err_set(err, SW_EINVALID,
		   "json: cannot unmarshal value into field %s of type %s",
		   key, want);
	return -1;
}

int jsonx_get_string(struct json_object *obj, const char *key,
		     const char **out, struct sw_err *err)
{
	struct json_object *v = lookup(obj, key);

	if (v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return wrong_type(err, key, "string");
	*out = json_object_get_string(v);
	return 1;
}

int jsonx_get_bool(struct json_object *obj, const char *key, bool *out,
		   struct sw_err *err)
{
	struct json_object *v = lookup(obj, key);

	if (v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return wrong_type(err, key, "bool");
	*out = json_object_get_boolean(v);
	return 1;
}

int jsonx_get_int64(struct json_object *obj, const char *key, int64_t *out,
		    struct sw_err *err)
{
	struct json_object *v = lookup(obj, key);

	if (v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_int) ||
	    (json_object_get_int64(v) == INT64_MAX &&
	     json_object_get_uint64(v) > (uint64_t)INT64_MAX))
		return wrong_type(err, key, "int64");
	*out = json_object_get_int64(v);
	return 1;
}

int jsonx_get_uint64(struct json_object *obj, const char *key, uint64_t *out,
		     struct sw_err *err)
{
	struct json_object *v = lookup(obj, key);

	if (v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_int) ||
	    (json_object_get_int64(v) < 0 &&
	     json_object_get_uint64(v) == 0))
		return wrong_type(err, key, "uint64");
	*out = json_object_get_uint64(v);
	return 1;
}

int jsonx_get_object(struct json_object *obj, const char *key,
		     struct json_object **out, struct sw_err *err)
{
	struct json_object *v = lookup(obj, key);

	if (v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_object))
		return wrong_type(err, key, "object");
	*out = v;
	return 1;
}

int jsonx_get_array(struct json_object *obj, const char *key,
		    struct json_object **out, struct sw_err *err)
{
	struct json_object *v = lookup(obj, key);

	if (v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_array))
		return wrong_type(err, key, "array");
	*out = v;
	return 1;
}

char *jsonx_to_body(struct json_object *obj, size_t *len)
{
	const char *s = json_object_to_json_string_ext(
		obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t n = strlen(s);
	char *out = xmalloc(n + 2);

	memcpy(out, s, n);
	out[n] = '\n';
	out[n + 1] = '\0';
	if (len != NULL)
		*len = n + 1;
	return out;
}

char *jsonx_take_text(struct json_object *obj, size_t drop, size_t *len)
{
	char *text = jsonx_to_body(obj, len);

	json_object_put(obj);
	*len = *len >= drop ? *len - drop : 0;
	text[*len] = '\0';
	return text;
}

void jsonx_add(struct json_object *obj, const char *key,
	       struct json_object *value)
{
	if (json_object_object_add(obj, key, value) != 0) {
		json_object_put(value);
		return;
	}
}

void jsonx_add_string(struct json_object *obj, const char *key,
		      const char *value)
{
	jsonx_add(obj, key,
		  value != NULL ? json_object_new_string(value) : NULL);
}

void jsonx_add_int64(struct json_object *obj, const char *key, int64_t value)
{
	jsonx_add(obj, key, json_object_new_int64(value));
}

void jsonx_add_bool(struct json_object *obj, const char *key, bool value)
{
	jsonx_add(obj, key, json_object_new_boolean(value));
}
