/* The filters of GET /networks, applied as dockerd 20.10 applies them to
 * Network JSON. Swarm networks go through SwarmKit's own filters first, so
 * for them `name` is an exact match and `id` a prefix; for local networks
 * both are substring matches (dockerd matches a regular expression; swarmd
 * takes the value literally). `driver` and `scope` are exact, `label` is
 * `key` or `key=value`, `type` is custom or builtin, `dangling` says
 * whether the network is unused and not built in. */
#ifndef SW_API_NETFILTER_H
#define SW_API_NETFILTER_H

#include <stdbool.h>

#include <json-c/json.h>

#include "engine-api/filters.h"

/* Checks keys and values: 400 "Invalid filter 'k'", 500 for a bad type,
 * 400 for a bad dangling value, in dockerd's words. */
int netfilter_check(const struct filters *f, struct sw_err *err);

/* True when net's Labels hold "key" (any value) or "key=value". */
bool netfilter_label_match(const char *v, struct json_object *net);

/* True when net (Docker's Network JSON) passes every filter. */
bool netfilter_match(const struct filters *f, struct json_object *net);

#endif
