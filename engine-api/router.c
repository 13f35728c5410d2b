#include "engine-api/router.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"

enum { MAX_SEGMENTS = 32 };

bool router_strip_version(const char *path, int *major, int *minor,
			  const char **rest)
{
	const char *p = path;
	char *end;
	long maj, min;

	*rest = path;
	if (strncmp(p, "/v", 2) != 0 || !isdigit((unsigned char)p[2]))
		return false;
	maj = strtol(p + 2, &end, 10);
	if (*end != '.' || !isdigit((unsigned char)end[1]))
		return false;
	min = strtol(end + 1, &end, 10);
	if (*end != '/' && *end != '\0')
		return false;
	if (maj > 1000 || min > 1000)
		return false;
	*major = (int)maj;
	*minor = (int)min;
	*rest = *end == '\0' ? "/" : end;
	return true;
}

static int version_cmp(int amaj, int amin, int bmaj, int bmin)
{
	if (amaj != bmaj)
		return amaj < bmaj ? -1 : 1;
	if (amin != bmin)
		return amin < bmin ? -1 : 1;
	return 0;
}

int router_check_version(int major, int minor, bool *plain,
			 struct sw_err *err)
{
	*plain = false;
	if (version_cmp(major, minor, API_VERSION_MAJOR, API_VERSION_MINOR) >
	    0) {
		sw_err_set(err, SW_EINVALID,
			   "client version %d.%d is too new. Maximum supported "
			   "API version is " API_VERSION,
			   major, minor);
		return -1;
	}
	if (version_cmp(major, minor, API_MIN_VERSION_MAJOR,
			API_MIN_VERSION_MINOR) < 0) {
		*plain = true;
		sw_err_set(err, SW_EINVALID,
			   "client version %d.%d is too old. Minimum supported "
			   "API version is " API_MIN_VERSION
			   ", please upgrade your client to a newer version",
			   major, minor);
		return -1;
	}
	return 0;
}

enum api_method router_method(const char *name)
{
	static const struct {
		const char *name;
		enum api_method m;
	} methods[] = {{"GET", API_GET},	 {"HEAD", API_HEAD},
		       {"POST", API_POST},	 {"PUT", API_PUT},
		       {"DELETE", API_DELETE}};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(name, methods[i].name) == 0)
			return methods[i].m;
	return API_OTHER;
}

/* Splits a path into segments in place; empty segments from repeated or
 * trailing slashes are dropped. Returns the count, or -1 if too many. */
static int split(char *path, char **seg)
{
	int n = 0;

	for (char *tok = strtok(path, "/"); tok != NULL;
	     tok = strtok(NULL, "/")) {
		if (n == MAX_SEGMENTS)
			return -1;
		seg[n++] = tok;
	}
	return n;
}

static bool is_capture(const char *s)
{
	return s[0] == '{';
}

static bool is_greedy(const char *s)
{
	size_t n = strlen(s);

	return n >= 3 && s[0] == '{' && s[n - 2] == '*' && s[n - 1] == '}';
}

/* Joins path segments [from, to) with '/' into a new string. */
static char *join(char **seg, int from, int to)
{
	struct buf b;

	buf_init(&b);
	for (int i = from; i < to; i++) {
		if (i > from)
			buf_puts(&b, "/");
		buf_puts(&b, seg[i]);
	}
	return buf_steal(&b);
}

static void free_params(char **params, int *nparams)
{
	for (int i = 0; i < *nparams; i++) {
		free(params[i]);
		params[i] = NULL;
	}
	*nparams = 0;
}

/* Matches one fixed or single-capture pattern segment. */
static bool match_segment(const char *pat, const char *seg, char **params,
			  int *nparams)
{
	if (!is_capture(pat))
		return strcmp(pat, seg) == 0;
	if (*nparams == API_MAX_PARAMS)
		return false;
	params[(*nparams)++] = xstrdup(seg);
	return true;
}

static bool match_segments(char **pat, int np, char **seg, int ns,
			   char **params, int *nparams)
{
	int greedy = -1;

	for (int i = 0; i < np; i++)
		if (is_greedy(pat[i]))
			greedy = i;
	if (greedy < 0 ? np != ns : ns < np)
		return false;
	for (int i = 0; i < np; i++) {
		int si = i;

		if (greedy >= 0 && i > greedy)
			si = ns - (np - i);
		if (i == greedy) {
			if (*nparams == API_MAX_PARAMS)
				return false;
			params[(*nparams)++] = join(seg, i, ns - (np - i - 1));
			continue;
		}
		if (!match_segment(pat[i], seg[si], params, nparams))
			return false;
	}
	return true;
}

static bool match_route(const char *pattern, char **seg, int ns,
			char **params, int *nparams)
{
	char *copy = xstrdup(pattern);
	char *pat[MAX_SEGMENTS];
	int np = split(copy, pat);
	bool ok = np >= 0 && match_segments(pat, np, seg, ns, params, nparams);

	free(copy);
	if (!ok)
		free_params(params, nparams);
	return ok;
}

const struct api_route *router_match(const struct api_route *table, size_t n,
				     enum api_method method, const char *path,
				     char **params, int *nparams)
{
	char *copy = xstrdup(path);
	char *seg[MAX_SEGMENTS];
	int ns = split(copy, seg);
	const struct api_route *found = NULL;

	*nparams = 0;
	if (method == API_HEAD)
		method = API_GET;
	for (size_t i = 0; ns >= 0 && i < n && found == NULL; i++) {
		if (table[i].method != method)
			continue;
		if (match_route(table[i].pattern, seg, ns, params, nparams))
			found = &table[i];
	}
	free(copy);
	return found;
}
