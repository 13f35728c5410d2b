#include "engine-api/errors.h"

#include <json-c/json.h>

#include "lib/jsonx.h"

unsigned api_error_status(const struct sw_err *err)
{
	if (err->status != 0)
		return (unsigned)err->status;
	switch (err->kind) {
	case SW_EINVALID:
		return 400;
	case SW_ENOTFOUND:
		return 404;
	case SW_ECONFLICT:
		return 409;
	case SW_EUNAUTHORIZED:
		return 401;
	case SW_EFORBIDDEN:
		return 403;
	case SW_ENOTMODIFIED:
		return 304;
	case SW_EUNAVAILABLE:
		return 503;
	case SW_ENOTIMPL:
		return 501;
	case SW_ETOOLARGE:
		return 413;
	case SW_EOK:
	case SW_ESYSTEM:
		break;
	}
	return 500;
}

char *api_error_body(const char *message, size_t *len)
{
	struct json_object *obj = json_object_new_object();
	char *body;

	jsonx_add_string(obj, "message", message);
	body = jsonx_to_body(obj, len);
	json_object_put(obj);
	return body;
}
