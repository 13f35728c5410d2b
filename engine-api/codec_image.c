#include "engine-api/codec_image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/jsonx.h"
#include "lib/timefmt.h"

/* ---- Finding an image ---- */

static bool has_ref(const struct rt_image *im, const char *ref)
{
	for (size_t i = 0; i < im->n_tags; i++)
		if (strcmp(im->tags[i], ref) == 0)
			return true;
	for (size_t i = 0; i < im->n_digests; i++)
		if (strcmp(im->digests[i], ref) == 0)
			return true;
	return false;
}

static int find_by_id(const struct rt_image *images, size_t n,
		      const char *prefix)
{
	int found = -1;

	for (size_t i = 0; i < n; i++) {
		if (!imageref_id_matches(images[i].id, prefix))
			continue;
		if (found >= 0)
			return -1; /* ambiguous: Docker reports "no such" */
		found = (int)i;
	}
	return found;
}

int codec_image_find(const struct rt_image *images, size_t n, const char *name,
		     struct image_match *m, struct sw_err *err)
{
	struct imageref r;
	char fam[IMAGEREF_MAX];
	int idx;

	memset(m, 0, sizeof(*m));
	if (strlen(name) == 64 && imageref_is_id_prefix(name)) {
		idx = find_by_id(images, n, name);
		if (idx < 0)
			return sw_err_set(err, SW_ENOTFOUND,
					  "No such image: sha256:%s", name);
		m->index = (size_t)idx;
		m->by_id = true;
		return 0;
	}
	if (imageref_parse(name, &r, err) != 0) {
		/* "sha256:<prefix>" is no reference but may be an ID. */
		if (imageref_is_id_prefix(name) &&
		    (idx = find_by_id(images, n, name)) >= 0) {
			m->index = (size_t)idx;
			m->by_id = true;
			return 0;
		}
		return -1;
	}
	imageref_default_tag(&r);
	imageref_format(&r, m->ref, sizeof(m->ref));
	for (size_t i = 0; i < n; i++)
		if (has_ref(&images[i], m->ref)) {
			m->index = i;
			return 0;
		}
	if (imageref_is_id_prefix(name) &&
	    (idx = find_by_id(images, n, name)) >= 0) {
		m->index = (size_t)idx;
		m->by_id = true;
		m->ref[0] = '\0';
		return 0;
	}
	imageref_familiar(m->ref, true, fam, sizeof(fam));
	return sw_err_set(err, SW_ENOTFOUND, "No such image: %s", fam);
}

/* ---- Times ---- */

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int codec_parse_rfc3339(const char *s, int64_t *ns)
{
	int y, mo, d, h, mi, sec, used = 0;
	int64_t frac = 0, off = 0;
	const char *p;

	if (s == NULL ||
	    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
		   &used) != 6 ||
	    used != 19)
		return -1;
	p = s + used;
	if (*p == '.') {
		int digits = 0;

		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 9)
				frac = frac * 10 + (*p - '0');
		if (digits == 0)
			return -1;
		for (; digits < 9; digits++)
			frac *= 10;
	}
	if (*p == '+' || *p == '-') {
		int oh, om;

		if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2 || strlen(p) != 6)
			return -1;
		off = ((int64_t)oh * 3600 + (int64_t)om * 60) *
		      (*p == '+' ? 1 : -1);
	} else if (strcmp(p, "Z") != 0) {
		return -1;
	}
	*ns = ((days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 +
		(int64_t)mi * 60 + sec - off) *
	       1000000000LL) +
	      frac;
	return 0;
}

/* ---- The image configuration ---- */

static struct json_object *parse_config(const struct rt_image *im)
{
	struct json_object *o;

	if (im->config == NULL)
		return NULL;
	o = json_tokener_parse(im->config);
	if (o != NULL && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static const char *member_str(struct json_object *o, const char *key)
{
	struct json_object *v = member(o, key);

	return json_object_is_type(v, json_type_string)
		   ? json_object_get_string(v)
		   : "";
}

int64_t codec_image_created(const struct rt_image *im)
{
	struct json_object *cfg = parse_config(im);
	int64_t ns = 0;

	if (codec_parse_rfc3339(member_str(cfg, "created"), &ns) != 0)
		ns = 0;
	json_object_put(cfg);
	return ns / 1000000000LL;
}

/* A copy of cfg[key] when it has type t, else JSON null. */
static struct json_object *copy_member(struct json_object *cfg, const char *key,
				       json_type t)
{
	struct json_object *v = member(cfg, key);

	if (v == NULL || !json_object_is_type(v, t))
		return NULL;
	return json_object_get(v);
}

/* Docker's container Config for an image's OCI config member. */
static struct json_object *docker_config(struct json_object *c)
{
	struct json_object *o = json_object_new_object();
	struct json_object *v;

	jsonx_add_string(o, "Hostname", "");
	jsonx_add_string(o, "Domainname", "");
	jsonx_add_string(o, "User", member_str(c, "User"));
	jsonx_add_bool(o, "AttachStdin", false);
	jsonx_add_bool(o, "AttachStdout", false);
	jsonx_add_bool(o, "AttachStderr", false);
	if ((v = copy_member(c, "ExposedPorts", json_type_object)) != NULL)
		jsonx_add(o, "ExposedPorts", v);
	jsonx_add_bool(o, "Tty", false);
	jsonx_add_bool(o, "OpenStdin", false);
	jsonx_add_bool(o, "StdinOnce", false);
	jsonx_add(o, "Env", copy_member(c, "Env", json_type_array));
	jsonx_add(o, "Cmd", copy_member(c, "Cmd", json_type_array));
	jsonx_add_string(o, "Image", "");
	jsonx_add(o, "Volumes", copy_member(c, "Volumes", json_type_object));
	jsonx_add_string(o, "WorkingDir", member_str(c, "WorkingDir"));
	jsonx_add(o, "Entrypoint",
		  copy_member(c, "Entrypoint", json_type_array));
	jsonx_add(o, "OnBuild", NULL);
	jsonx_add(o, "Labels", copy_member(c, "Labels", json_type_object));
	if (member_str(c, "StopSignal")[0] != '\0')
		jsonx_add_string(o, "StopSignal", member_str(c, "StopSignal"));
	return o;
}

/* ---- Lists ---- */

static struct json_object *familiar_array(char *const *refs, size_t n,
					  const struct filters *f)
{
	struct json_object *a = json_object_new_array();
	char fam[IMAGEREF_MAX];

	for (size_t i = 0; i < n; i++) {
		const struct filter_entry *e =
		    f != NULL ? filters_get(f, "reference") : NULL;
		bool keep = e == NULL;

		for (size_t j = 0; e != NULL && j < e->nvalues && !keep; j++)
			keep = imageref_match(e->values[j], refs[i]);
		if (!keep)
			continue;
		imageref_familiar(refs[i], true, fam, sizeof(fam));
		json_object_array_add(a, json_object_new_string(fam));
	}
	return a;
}

static struct json_object *labels_of(struct json_object *cfg)
{
	return copy_member(member(cfg, "config"), "Labels", json_type_object);
}

/* "key" or "key=value" against the image's labels. */
static bool label_matches(const char *v, const void *arg)
{
	struct json_object *labels = (struct json_object *)arg;
	const char *eq = strchr(v, '=');
	char key[256];
	struct json_object *val;

	if (labels == NULL)
		return false;
	(void)snprintf(key, sizeof(key), "%.*s",
		       (int)(eq != NULL ? (size_t)(eq - v) : strlen(v)), v);
	if (!json_object_object_get_ex(labels, key, &val))
		return false;
	return eq == NULL || (json_object_is_type(val, json_type_string) &&
			      strcmp(json_object_get_string(val), eq + 1) == 0);
}

int codec_image_filters_check(const struct filters *f, struct sw_err *err)
{
	static const char *const keys[] = {"before",    "dangling", "label",
					   "reference", "since",    NULL};
	const struct filter_entry *e;

	if (filters_validate(f, keys, err) != 0)
		return -1;
	e = filters_get(f, "dangling");
	for (size_t i = 0; e != NULL && i < e->nvalues; i++)
		if (strcmp(e->values[i], "true") != 0 &&
		    strcmp(e->values[i], "false") != 0)
			return sw_err_set(err, SW_EINVALID,
					  "Invalid filter 'dangling=[%s]'",
					  e->values[i]);
	return 0;
}

/* The creation time of the image a before/since filter names, or -1. */
static int64_t bound_of(const struct rt_image *images, size_t n,
			const struct filters *f, const char *key)
{
	const struct filter_entry *e = filters_get(f, key);
	struct image_match m;
	struct sw_err err;

	if (e == NULL || e->nvalues == 0 ||
	    codec_image_find(images, n, e->values[0], &m, &err) != 0)
		return -1;
	return codec_image_created(&images[m.index]);
}

struct listed {
	int64_t created;
	const char *id;
	struct json_object *obj;
};

/* Newest first; the same time in ID order, so the list is stable. */
static int newest_first(const void *pa, const void *pb)
{
	const struct listed *a = pa, *b = pb;

	if (a->created != b->created)
		return a->created > b->created ? -1 : 1;
	return strcmp(a->id, b->id);
}

static struct json_object *summary(const struct rt_image *im,
				   struct json_object *tags,
				   struct json_object *digests,
				   struct json_object *cfg, int64_t created)
{
	struct json_object *o = json_object_new_object();

	jsonx_add_int64(o, "Containers", -1);
	jsonx_add_int64(o, "Created", created);
	jsonx_add_string(o, "Id", im->id);
	jsonx_add(o, "Labels", labels_of(cfg));
	jsonx_add_string(o, "ParentId", "");
	jsonx_add(o, "RepoDigests", digests);
	jsonx_add(o, "RepoTags", tags);
	jsonx_add_int64(o, "SharedSize", -1);
	jsonx_add_int64(o, "Size", (int64_t)im->size);
	jsonx_add_int64(o, "VirtualSize", (int64_t)im->size);
	return o;
}

/* The summary of one image under the filters, or NULL when filtered out
 * (dockerd 20.10's rules for references and dangling images). */
static struct json_object *list_one(const struct rt_image *im,
				    const struct filters *f, bool dangling,
				    bool dangling_only, int64_t before,
				    int64_t since)
{
	struct json_object *cfg = parse_config(im);
	struct json_object *labels = labels_of(cfg);
	int64_t created = codec_image_created(im);
	struct json_object *tags, *digests, *o = NULL;
	bool named;

	if (!filters_match_any(f, "label", label_matches, labels) ||
	    (before >= 0 && created >= before) ||
	    (since >= 0 && created <= since))
		goto out;
	tags = familiar_array(im->tags, im->n_tags, f);
	digests = familiar_array(im->digests, im->n_digests, f);
	named = json_object_array_length(tags) > 0 ||
		json_object_array_length(digests) > 0;
	if (!named && (filters_get(f, "reference") != NULL ||
		       (dangling && !dangling_only))) {
		json_object_put(tags);
		json_object_put(digests);
		goto out;
	}
	if (named && dangling_only && json_object_array_length(tags) > 0) {
		json_object_put(tags);
		json_object_put(digests);
		goto out;
	}
	if (!named) {
		json_object_array_add(tags,
				      json_object_new_string("<none>:<none>"));
		json_object_array_add(digests,
				      json_object_new_string("<none>@<none>"));
	}
	o = summary(im, tags, digests, cfg, created);
out:
	json_object_put(labels);
	json_object_put(cfg);
	return o;
}

struct json_object *codec_image_list(const struct rt_image *images, size_t n,
				     const struct filters *f)
{
	const struct filter_entry *d = filters_get(f, "dangling");
	bool dangling = d != NULL;
	bool dangling_only = false;
	int64_t before = bound_of(images, n, f, "before");
	int64_t since = bound_of(images, n, f, "since");
	struct listed *l = xcalloc(n + 1, sizeof(*l));
	struct json_object *out = json_object_new_array();
	size_t k = 0;

	for (size_t i = 0; d != NULL && i < d->nvalues; i++)
		if (strcmp(d->values[i], "true") == 0)
			dangling_only = true;
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = list_one(&images[i], f, dangling,
						 dangling_only, before, since);

		if (o == NULL)
			continue;
		l[k].created = codec_image_created(&images[i]);
		l[k].id = images[i].id;
		l[k++].obj = o;
	}
	qsort(l, k, sizeof(*l), newest_first);
	for (size_t i = 0; i < k; i++)
		json_object_array_add(out, l[i].obj);
	free(l);
	return out;
}

/* ---- Inspect ---- */

static struct json_object *rootfs(struct json_object *cfg)
{
	struct json_object *o = json_object_new_object();
	struct json_object *r = member(cfg, "rootfs");

	jsonx_add_string(o, "Type", "layers");
	jsonx_add(o, "Layers", copy_member(r, "diff_ids", json_type_array));
	return o;
}

struct json_object *codec_image_inspect(const struct rt_image *im)
{
	struct json_object *cfg = parse_config(im);
	struct json_object *o = json_object_new_object();
	struct json_object *gd = json_object_new_object();
	struct json_object *meta = json_object_new_object();
	char zero[40];
	const char *created = member_str(cfg, "created");

	jsonx_add_string(o, "Id", im->id);
	jsonx_add(o, "RepoTags", familiar_array(im->tags, im->n_tags, NULL));
	jsonx_add(o, "RepoDigests",
		  familiar_array(im->digests, im->n_digests, NULL));
	jsonx_add_string(o, "Parent", "");
	jsonx_add_string(o, "Comment", "");
	jsonx_add_string(
	    o, "Created",
	    created[0] != '\0' ? created : timefmt_utc(0, zero, sizeof(zero)));
	jsonx_add_string(o, "Container", "");
	jsonx_add(o, "ContainerConfig", docker_config(NULL));
	jsonx_add_string(o, "DockerVersion", "");
	jsonx_add_string(o, "Author", member_str(cfg, "author"));
	jsonx_add(o, "Config", docker_config(member(cfg, "config")));
	jsonx_add_string(o, "Architecture", member_str(cfg, "architecture"));
	if (member_str(cfg, "variant")[0] != '\0')
		jsonx_add_string(o, "Variant", member_str(cfg, "variant"));
	jsonx_add_string(o, "Os", member_str(cfg, "os"));
	jsonx_add_int64(o, "Size", (int64_t)im->size);
	jsonx_add_int64(o, "VirtualSize", (int64_t)im->size);
	jsonx_add(gd, "Data", json_object_new_object());
	jsonx_add_string(gd, "Name", "overlayfs");
	jsonx_add(o, "GraphDriver", gd);
	jsonx_add(o, "RootFS", rootfs(cfg));
	jsonx_add_string(meta, "LastTagTime",
			 timefmt_utc(0, zero, sizeof(zero)));
	jsonx_add(o, "Metadata", meta);
	json_object_put(cfg);
	return o;
}

/* ---- Remove ---- */

/* The repository of a full reference: up to the tag's ':' or the '@'. */
static size_t repo_len(const char *ref)
{
	size_t n = strcspn(ref, "@");
	const char *slash = NULL;

	for (size_t i = 0; i < n; i++)
		if (ref[i] == '/')
			slash = ref + i;
	for (size_t i = slash != NULL ? (size_t)(slash - ref) : 0; i < n; i++)
		if (ref[i] == ':')
			return i;
	return n;
}

static bool same_repo(const char *a, const char *b)
{
	size_t n = repo_len(a);

	return n == repo_len(b) && strncmp(a, b, n) == 0;
}

static bool is_digest_ref(const char *ref)
{
	return strchr(ref, '@') != NULL;
}

/* isSingleReference: every name in one repository, at most one tag. */
static bool single_reference(const struct rt_image *im)
{
	const char *repo = NULL;

	if (im->n_tags + im->n_digests == 0 || im->n_tags > 1)
		return false;
	repo = im->n_tags == 1 ? im->tags[0] : im->digests[0];
	for (size_t i = 0; i < im->n_digests; i++)
		if (!same_repo(im->digests[i], repo))
			return false;
	return true;
}

static const struct rt_container *user_of(const struct rt_image *im,
					  const struct rt_container *c,
					  size_t n, bool running)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(c[i].image_id, im->id) == 0 &&
		    (c[i].state == RT_RUNNING) == running)
			return &c[i];
	return NULL;
}

static const char *hex_of(const char *id)
{
	const char *colon = strchr(id, ':');

	return colon != NULL ? colon + 1 : id;
}

static void plan_add(struct rmi_plan *p, char *ref)
{
	p->untag = xrealloc(p->untag, (p->n_untag + 1) * sizeof(*p->untag));
	p->untag[p->n_untag++] = ref;
}

/* Named by reference: untag it (and, for a repository's last tag, its
 * digests); delete the image when no name is left and no container
 * stands in the way. */
static int plan_by_ref(const struct rt_image *im, const struct image_match *m,
		       const char *name, bool force,
		       const struct rt_container *ctrs, size_t n_ctrs,
		       struct rmi_plan *p, struct sw_err *err)
{
	const struct rt_container *running = user_of(im, ctrs, n_ctrs, true);
	const struct rt_container *stopped = user_of(im, ctrs, n_ctrs, false);
	const struct rt_container *c = running != NULL ? running : stopped;
	size_t names = im->n_tags + im->n_digests;
	bool other_tag = false;

	if (!force && c != NULL && single_reference(im))
		return sw_err_set(err, SW_ECONFLICT,
				  "conflict: unable to remove repository "
				  "reference \"%s\" (must force) - container "
				  "%.12s is using its referenced image %.12s",
				  name, c->id, hex_of(im->id));
	plan_add(p, (char *)m->ref);
	for (size_t i = 0; i < im->n_tags; i++)
		if (strcmp(im->tags[i], m->ref) != 0 &&
		    same_repo(im->tags[i], m->ref))
			other_tag = true;
	if (!is_digest_ref(m->ref) && !other_tag)
		for (size_t i = 0; i < im->n_digests; i++)
			if (same_repo(im->digests[i], m->ref))
				plan_add(p, im->digests[i]);
	p->del = p->n_untag == names &&
		 (running == NULL && (stopped == NULL || force));
	return 0;
}

static int plan_by_id(const struct rt_image *im, bool force,
		      const struct rt_container *ctrs, size_t n_ctrs,
		      struct rmi_plan *p, struct sw_err *err)
{
	const struct rt_container *running = user_of(im, ctrs, n_ctrs, true);
	const struct rt_container *stopped = user_of(im, ctrs, n_ctrs, false);

	if (running != NULL)
		return sw_err_set(err, SW_ECONFLICT,
				  "conflict: unable to delete %.12s (cannot be "
				  "forced) - image is being used by running "
				  "container %.12s",
				  hex_of(im->id), running->id);
	if (!force && !single_reference(im) && im->n_tags + im->n_digests > 0)
		return sw_err_set(err, SW_ECONFLICT,
				  "conflict: unable to delete %.12s (must be "
				  "forced) - image is referenced in multiple "
				  "repositories",
				  hex_of(im->id));
	if (!force && stopped != NULL)
		return sw_err_set(err, SW_ECONFLICT,
				  "conflict: unable to delete %.12s (must be "
				  "forced) - image is being used by stopped "
				  "container %.12s",
				  hex_of(im->id), stopped->id);
	for (size_t i = 0; i < im->n_tags; i++)
		plan_add(p, im->tags[i]);
	for (size_t i = 0; i < im->n_digests; i++)
		plan_add(p, im->digests[i]);
	p->del = true;
	return 0;
}

int codec_image_rmi_plan(const struct rt_image *im, const struct image_match *m,
			 const char *name, bool force,
			 const struct rt_container *ctrs, size_t n_ctrs,
			 struct rmi_plan *p, struct sw_err *err)
{
	int rc;

	memset(p, 0, sizeof(*p));
	if (m->by_id)
		rc = plan_by_id(im, force, ctrs, n_ctrs, p, err);
	else
		rc = plan_by_ref(im, m, name, force, ctrs, n_ctrs, p, err);
	if (rc != 0) {
		free(p->untag);
		memset(p, 0, sizeof(*p));
	}
	return rc;
}
