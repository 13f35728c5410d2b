/* Routing: the /v1.NN prefix, version checks, and matching a method and path
 * against a route table. Pure functions over strings; no I/O. */
#ifndef SW_API_ROUTER_H
#define SW_API_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "engine-api/request.h"
#include "lib/err.h"

/* The API version swarmd speaks: exactly what dockerd 20.10 announces, so
 * clients send the request shapes recorded from it. */
#define API_VERSION "1.41"
#define API_MIN_VERSION "1.12"
enum {
	API_VERSION_MAJOR = 1,
	API_VERSION_MINOR = 41,
	API_MIN_VERSION_MAJOR = 1,
	API_MIN_VERSION_MINOR = 12,
};

/* A route pattern is a path whose segments may be "{name}" (one segment) or
 * "{name*}" (one or more segments, for image references with slashes); at
 * most one greedy capture per pattern. */
struct api_route {
	enum api_method method;
	const char *pattern;
	api_handler handler;
	/* Reads the cluster's objects: on a follower manager the handler runs
	 * after a read barrier with the leader (swarm_read_barrier). */
	bool cluster_read;
};

/* Strips a leading "/vMAJOR.MINOR" segment. Returns true and sets *major,
 * *minor and *rest when present; false (rest = path) otherwise. */
bool router_strip_version(const char *path, int *major, int *minor,
			  const char **rest);

/* Checks a requested version against what we support. 0 when fine; -1 with
 * err set (400) otherwise; *plain is set when Docker answers in plain text
 * rather than JSON (versions below the minimum). */
int router_check_version(int major, int minor, bool *plain,
			 struct sw_err *err);

/* Finds the route for method+path. On a match returns it and stores the
 * captures (malloc'd, caller frees) in params/nparams. HEAD matches GET
 * routes. NULL when nothing matches. */
const struct api_route *router_match(const struct api_route *table, size_t n,
				     enum api_method method, const char *path,
				     char **params, int *nparams);

/* Maps an HTTP method name to the enum. */
enum api_method router_method(const char *name);

#endif
