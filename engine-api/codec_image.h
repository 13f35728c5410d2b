/* Images as Docker shows them: GET /images/json items, GET /images/{name}
 * /json, and finding the image a client names among the node's images.
 * Pure functions over orchestrator/runtime.h structs. */
#ifndef SW_API_CODEC_IMAGE_H
#define SW_API_CODEC_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "engine-api/filters.h"
#include "engine-api/imageref.h"
#include "lib/err.h"
#include "orchestrator/runtime.h"

/* What a client's image name resolved to. */
struct image_match {
	size_t index;           /* into the image array */
	bool by_id;             /* named by ID (prefix), not by reference */
	char ref[IMAGEREF_MAX]; /* by reference: the full reference */
};

/* Finds name as Docker does: a reference (normalized, ":latest" added)
 * among tags and digests, else a full ID or unique ID prefix (with or
 * without "sha256:"). 0 with *m filled; -1 with err: 404 "No such image:
 * <familiar name:tag>", or 400 for a name that is not a reference. */
int codec_image_find(const struct rt_image *images, size_t n, const char *name,
		     struct image_match *m, struct sw_err *err);

/* The filter keys GET /images/json accepts; validates values too (400
 * "Invalid filter 'dangling=x'" style texts). */
int codec_image_filters_check(const struct filters *f, struct sw_err *err);

/* GET /images/json: the array for images[0..n) (each with its config),
 * newest first, honouring the reference, dangling and label filters as
 * dockerd 20.10 does. */
struct json_object *codec_image_list(const struct rt_image *images, size_t n,
				     const struct filters *f);

/* GET /images/{name}/json for one image (with its config). */
struct json_object *codec_image_inspect(const struct rt_image *im);

/* What DELETE /images/{name} does, by dockerd 20.10's rules
 * (daemon/images/image_delete.go): untag[0..n_untag) are the names that
 * go (full references, in the order of the Untagged records), and with
 * del the image goes too (all its names with it). */
struct rmi_plan {
	char **untag; /* borrowed from the image and the match */
	size_t n_untag;
	bool del;
};

/* Plans removing the image im that the client named name (resolved to m)
 * with ?force=, given the node's containers. 0 with *p filled (free
 * p->untag); -1 with Docker's 409 conflict in err. */
int codec_image_rmi_plan(const struct rt_image *im, const struct image_match *m,
			 const char *name, bool force,
			 const struct rt_container *ctrs, size_t n_ctrs,
			 struct rmi_plan *p, struct sw_err *err);

/* The creation time in the image config as Unix seconds, 0 if unknown. */
int64_t codec_image_created(const struct rt_image *im);

/* Parses an RFC 3339 time (fraction optional, Z or +hh:mm) into
 * nanoseconds since the epoch. 0 on success, -1 otherwise. */
int codec_parse_rfc3339(const char *s, int64_t *ns);

#endif
