/* Docker's image references (distribution/reference): parsing and
 * normalizing what clients send ("busybox" → docker.io/library/busybox:
 * latest), the familiar form clients are shown (docker.io/library/busybox:
 * latest → busybox:latest), image ID prefixes, and the `reference` filter.
 * Pure functions over strings. */
#ifndef SW_API_IMAGEREF_H
#define SW_API_IMAGEREF_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

enum {
	IMAGEREF_NAME_MAX = 256, /* domain/path, at most 255 characters */
	IMAGEREF_TAG_MAX = 129,
	IMAGEREF_DIGEST_MAX = 160,
	IMAGEREF_MAX =
	    IMAGEREF_NAME_MAX + IMAGEREF_TAG_MAX + IMAGEREF_DIGEST_MAX + 2,
};

#define IMAGEREF_DEFAULT_DOMAIN "docker.io"

/* A parsed, normalized reference. tag and digest are "" when absent. */
struct imageref {
	char name[IMAGEREF_NAME_MAX];     /* "docker.io/library/busybox" */
	char tag[IMAGEREF_TAG_MAX];       /* "latest" */
	char digest[IMAGEREF_DIGEST_MAX]; /* "sha256:..." */
};

/* Parses s as Docker does (ParseNormalizedNamed): adds the default domain
 * and the library/ path of official images, but no tag. -1 with Docker's
 * 400 text ("invalid reference format", "... repository name must be
 * lowercase", "invalid repository name (...), cannot specify 64-byte
 * hexadecimal strings") otherwise. */
int imageref_parse(const char *s, struct imageref *r, struct sw_err *err);

/* True for a valid tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. */
bool imageref_valid_tag(const char *tag);

/* Adds ":latest" when r has neither tag nor digest. */
void imageref_default_tag(struct imageref *r);

/* name[:tag][@digest] into out[n]. */
void imageref_format(const struct imageref *r, char *out, size_t n);

/* Parses, defaults the tag and formats: "busybox" →
 * "docker.io/library/busybox:latest". */
int imageref_normalize(const char *s, char *out, size_t n, struct sw_err *err);

/* The familiar form of a full reference: "docker.io/library/busybox:latest"
 * → "busybox:latest", "docker.io/me/app:1" → "me/app:1"; other domains
 * stay. with_tag false drops the tag and digest (FamiliarName). */
void imageref_familiar(const char *full, bool with_tag, char *out, size_t n);

/* True when s could be (a prefix of) an image ID: 1 to 64 lowercase hex
 * digits, optionally after "sha256:". */
bool imageref_is_id_prefix(const char *s);

/* True when the image ID id ("sha256:<hex>") starts with the (possibly
 * "sha256:"-less) prefix. */
bool imageref_id_matches(const char *id, const char *prefix);

/* The `reference` filter of GET /images/json: the shell pattern against
 * the familiar string of full, then against its familiar name. */
bool imageref_match(const char *pattern, const char *full);

#endif
