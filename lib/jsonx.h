/* Checked json-c helpers: strict parsing of request bodies, getters that tell
 * "missing" (or null) from "wrong type", and Go-compatible serialization.
 * json-c never crosses into orchestrator/; engine-api and daemon use these. */
#ifndef SW_JSONX_H
#define SW_JSONX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "lib/err.h"

/* Parses a whole request body strictly (trailing white space allowed, UTF-8
 * validated). Returns a new reference, or NULL with err set (SW_EINVALID,
 * worded like Go's decoder where we can: "unexpected EOF" for an empty or
 * truncated body). */
struct json_object *jsonx_parse(const char *text, size_t len,
				struct sw_err *err);

/* Getters. Each returns 1 when the key holds a value of the right type and
 * stores it, 0 when the key is absent or null (out untouched), and -1 with
 * err set (SW_EINVALID) when it has the wrong type. Strings are borrowed from
 * obj. */
int jsonx_get_string(struct json_object *obj, const char *key,
		     const char **out, struct sw_err *err);
int jsonx_get_bool(struct json_object *obj, const char *key, bool *out,
		   struct sw_err *err);
int jsonx_get_int64(struct json_object *obj, const char *key, int64_t *out,
		    struct sw_err *err);
int jsonx_get_uint64(struct json_object *obj, const char *key, uint64_t *out,
		     struct sw_err *err);
int jsonx_get_object(struct json_object *obj, const char *key,
		     struct json_object **out, struct sw_err *err);
int jsonx_get_array(struct json_object *obj, const char *key,
		    struct json_object **out, struct sw_err *err);

/* Serializes as Go's encoder does (no spaces, "/" unescaped) and appends the
 * newline Docker puts after every JSON body. Returns a malloc'd string and
 * its length in *len (if len is not NULL). */
char *jsonx_to_body(struct json_object *obj, size_t *len);
/* jsonx_to_body's text of obj, which it releases, without its last `drop`
 * bytes (1: the newline; 2: also an object's closing brace, to append
 * members). Returns a malloc'd string, its length in *len. */
char *jsonx_take_text(struct json_object *obj, size_t drop, size_t *len);

/* Adds key → new string (NULL stores JSON null). */
void jsonx_add_string(struct json_object *obj, const char *key,
		      const char *value);
void jsonx_add_int64(struct json_object *obj, const char *key, int64_t value);
void jsonx_add_bool(struct json_object *obj, const char *key, bool value);
/* Adds key → value, taking the reference to value. */
void jsonx_add(struct json_object *obj, const char *key,
	       struct json_object *value);

#endif
