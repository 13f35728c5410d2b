#include "engine-api/imageref.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#define INVALID "invalid reference format"

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_hex(s[i]))
			return false;
	return true;
}

/* One path component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)*. */
static bool valid_component(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	while (i < n) {
		if (is_lower_alnum(s[i])) {
			i++;
			continue;
		}
		if (s[i] == '.' ||
		    (s[i] == '_' && (i + 1 >= n || s[i + 1] != '_')))
			i++;
		else if (s[i] == '_')
			i += 2;
		else if (s[i] == '-')
			while (i < n && s[i] == '-')
				i++;
		else
			return false;
		if (i >= n || !is_lower_alnum(s[i]))
			return false;
	}
	return true;
}

/* One domain component: [a-zA-Z0-9] or [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]. */
static bool valid_domain_component(const char *s, size_t n)
{
	if (n == 0 || !isalnum((unsigned char)s[0]) ||
	    !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

/* host(.host)*(:port)? */
static bool valid_domain(const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	size_t host = colon != NULL ? (size_t)(colon - s) : n;
	size_t start = 0;

	if (colon != NULL) {
		size_t plen = n - host - 1;

		if (plen == 0)
			return false;
		for (size_t i = host + 1; i < n; i++)
			if (!isdigit((unsigned char)s[i]))
				return false;
	}
	for (size_t i = 0; i <= host; i++) {
		if (i == host || s[i] == '.') {
			if (!valid_domain_component(s + start, i - start))
				return false;
			start = i + 1;
		}
	}
	return true;
}

bool imageref_valid_tag(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128 || !(isalnum((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' &&
		    s[i] != '.' && s[i] != '-')
			return false;
	return true;
}

/* algorithm:hex, the hex at least 32 digits (64 for sha256). */
static bool valid_digest(const char *s)
{
	const char *colon = strchr(s, ':');
	size_t hex;

	if (colon == NULL || colon == s || !isalpha((unsigned char)s[0]))
		return false;
	for (const char *p = s; p < colon; p++)
		if (!isalnum((unsigned char)*p) && strchr("-_+.", *p) == NULL)
			return false;
	hex = strlen(colon + 1);
	if (hex < 32 || !all_hex(colon + 1, hex))
		return false;
	return strncmp(s, "sha256:", 7) != 0 || hex == 64;
}

/* Checks "domain/path" (the domain already split off and present). */
static bool valid_name(const char *name)
{
	const char *slash = strchr(name, '/');
	const char *p;

	if (slash == NULL || !valid_domain(name, (size_t)(slash - name)))
		return false;
	p = slash + 1;
	for (;;) {
		const char *end = strchr(p, '/');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

		if (!valid_component(p, n))
			return false;
		if (end == NULL)
			return true;
		p = end + 1;
	}
}

/* Docker's splitDockerDomain: the first component is a domain when it has
 * a '.' or ':', is "localhost", or has an upper-case letter. */
static void split_domain(const char *s, char *domain, size_t dn,
			 const char **rest)
{
	const char *slash = strchr(s, '/');
	size_t n = slash != NULL ? (size_t)(slash - s) : 0;
	bool upper = false;

	for (size_t i = 0; i < n; i++)
		if (isupper((unsigned char)s[i]))
			upper = true;
	if (slash == NULL ||
	    (memchr(s, '.', n) == NULL && memchr(s, ':', n) == NULL &&
	     !(n == 9 && strncmp(s, "localhost", 9) == 0) && !upper)) {
		(void)snprintf(domain, dn, "%s", IMAGEREF_DEFAULT_DOMAIN);
		*rest = s;
	} else {
		(void)snprintf(domain, dn, "%.*s", (int)n, s);
		*rest = slash + 1;
	}
	if (strcmp(domain, "index.docker.io") == 0)
		(void)snprintf(domain, dn, "%s", IMAGEREF_DEFAULT_DOMAIN);
}

/* Copies s into dst[n]; false when it does not fit. */
static bool copy_part(char *dst, size_t n, const char *s)
{
	size_t len = strlen(s);

	if (len >= n)
		return false;
	memcpy(dst, s, len + 1);
	return true;
}

int imageref_parse(const char *s, struct imageref *r, struct sw_err *err)
{
	char domain[IMAGEREF_NAME_MAX];
	char path[IMAGEREF_MAX];
	const char *rest, *at, *colon, *slash;
	size_t remote;
	int len;

	memset(r, 0, sizeof(*r));
	if (strlen(s) == 64 && all_hex(s, 64))
		return sw_err_set(
		    err, SW_EINVALID,
		    "invalid repository name (%s), cannot specify "
		    "64-byte hexadecimal strings",
		    s);
	split_domain(s, domain, sizeof(domain), &rest);
	colon = strchr(rest, ':');
	remote = colon != NULL ? (size_t)(colon - rest) : strlen(rest);
	for (size_t i = 0; i < remote; i++)
		if (isupper((unsigned char)rest[i]))
			return sw_err_set(
			    err, SW_EINVALID,
			    INVALID ": repository name must be lowercase");
	if (strcmp(domain, IMAGEREF_DEFAULT_DOMAIN) == 0 &&
	    memchr(rest, '/', strcspn(rest, "@")) == NULL)
		len =
		    snprintf(path, sizeof(path), "%s/library/%s", domain, rest);
	else
		len = snprintf(path, sizeof(path), "%s/%s", domain, rest);
	if (len < 0 || (size_t)len >= sizeof(path))
		return sw_err_set(err, SW_EINVALID, INVALID);
	at = strchr(path, '@');
	if (at != NULL) {
		if (!valid_digest(at + 1) ||
		    !copy_part(r->digest, sizeof(r->digest), at + 1))
			return sw_err_set(err, SW_EINVALID, INVALID);
		path[at - path] = '\0';
	}
	slash = strrchr(path, '/');
	colon = strrchr(path, ':');
	if (colon != NULL && slash != NULL && colon > slash) {
		if (!imageref_valid_tag(colon + 1) ||
		    !copy_part(r->tag, sizeof(r->tag), colon + 1))
			return sw_err_set(err, SW_EINVALID, INVALID);
		path[colon - path] = '\0';
	}
	if (!valid_name(path))
		return sw_err_set(err, SW_EINVALID, INVALID);
	if (!copy_part(r->name, sizeof(r->name), path))
		return sw_err_set(err, SW_EINVALID,
				  "repository name must not be more than 255 "
				  "characters");
	return 0;
}

void imageref_default_tag(struct imageref *r)
{
	if (r->tag[0] == '\0' && r->digest[0] == '\0')
		(void)snprintf(r->tag, sizeof(r->tag), "latest");
}

void imageref_format(const struct imageref *r, char *out, size_t n)
{
	(void)snprintf(out, n, "%s%s%s%s%s", r->name, r->tag[0] ? ":" : "",
		       r->tag, r->digest[0] ? "@" : "", r->digest);
}

int imageref_normalize(const char *s, char *out, size_t n, struct sw_err *err)
{
	struct imageref r;

	if (imageref_parse(s, &r, err) != 0)
		return -1;
	imageref_default_tag(&r);
	imageref_format(&r, out, n);
	return 0;
}

void imageref_familiar(const char *full, bool with_tag, char *out, size_t n)
{
	static const char dflt[] = IMAGEREF_DEFAULT_DOMAIN "/";
	static const char lib[] = "library/";
	size_t name_end = strcspn(full, "@");
	const char *last_slash = NULL, *colon;
	const char *name = full;

	/* The tag's ':' is the one after the last '/'; a domain's port
	 * comes before it. */
	for (size_t i = 0; i < name_end; i++)
		if (full[i] == '/')
			last_slash = full + i;
	colon = last_slash != NULL
		    ? memchr(last_slash, ':',
			     (size_t)(full + name_end - last_slash))
		    : NULL;
	if (colon != NULL)
		name_end = (size_t)(colon - full);
	if (strncmp(name, dflt, sizeof(dflt) - 1) == 0) {
		name += sizeof(dflt) - 1;
		if (strncmp(name, lib, sizeof(lib) - 1) == 0 &&
		    memchr(name + sizeof(lib) - 1, '/',
			   (size_t)(full + name_end - name) -
			       (sizeof(lib) - 1)) == NULL)
			name += sizeof(lib) - 1;
	}
	if (with_tag)
		(void)snprintf(out, n, "%s", name);
	else
		(void)snprintf(out, n, "%.*s", (int)(full + name_end - name),
			       name);
}

bool imageref_is_id_prefix(const char *s)
{
	size_t n;

	if (strncmp(s, "sha256:", 7) == 0)
		s += 7;
	n = strlen(s);
	return n >= 1 && n <= 64 && all_hex(s, n);
}

bool imageref_id_matches(const char *id, const char *prefix)
{
	if (strncmp(prefix, "sha256:", 7) == 0)
		prefix += 7;
	if (strncmp(id, "sha256:", 7) == 0)
		id += 7;
	return prefix[0] != '\0' && strncmp(id, prefix, strlen(prefix)) == 0;
}

bool imageref_match(const char *pattern, const char *full)
{
	char fam[IMAGEREF_MAX];

	imageref_familiar(full, true, fam, sizeof(fam));
	if (fnmatch(pattern, fam, FNM_PATHNAME) == 0)
		return true;
	imageref_familiar(full, false, fam, sizeof(fam));
	return fnmatch(pattern, fam, FNM_PATHNAME) == 0;
}
