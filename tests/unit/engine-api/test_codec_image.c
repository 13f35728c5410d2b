/* engine-api/codec_image: finding an image by name or ID, the list and
 * its filters, inspect, RFC 3339 times, and the plan of an image removal
 * (dockerd 20.10's untag/delete/conflict rules); engine-api/execs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-api/codec_image.h"
#include "engine-api/execs.h"
#include "lib/alloc.h"

#define HEX1 "1111111111111111111111111111111111111111111111111111111111111111"
#define HEX2 "2222222222222222222222222222222222222222222222222222222222222222"
#define CTR "cccc0000cccc0000cccc0000cccc0000cccc0000cccc0000cccc0000cccc0000"
#define CFG1                                                                   \
	"{\"created\":\"2024-01-02T03:04:05.5Z\",\"architecture\":\"amd64\","  \
	"\"os\":\"linux\",\"config\":{\"Cmd\":[\"sh\"],\"Labels\":{\"a\":"     \
	"\"b\"}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:x\"]}" \
	"}"

static char *tags1[] = {"docker.io/library/busybox:latest",
			"docker.io/me/box:v1"};
static char *digests1[] = {"docker.io/me/box@sha256:" HEX2};
static char *tags_one[] = {"docker.io/library/busybox:latest"};
static char *digests_same[] = {"docker.io/library/busybox@sha256:" HEX2};

static void image(struct rt_image *im, const char *hex, char **tags, size_t nt,
		  char **digests, size_t nd, const char *cfg)
{
	memset(im, 0, sizeof(*im));
	(void)snprintf(im->id, sizeof(im->id), "sha256:%s", hex);
	im->tags = tags;
	im->n_tags = nt;
	im->digests = digests;
	im->n_digests = nd;
	im->size = 1000;
	im->config = (char *)cfg;
}

static void test_find(void **state)
{
	struct rt_image ims[2];
	struct image_match m;
	struct sw_err err;

	(void)state;
	image(&ims[0], HEX1, tags1, 2, digests1, 1, CFG1);
	image(&ims[1], HEX2, NULL, 0, NULL, 0, NULL);
	assert_int_equal(codec_image_find(ims, 2, "busybox", &m, &err), 0);
	assert_int_equal(m.index, 0);
	assert_false(m.by_id);
	assert_string_equal(m.ref, "docker.io/library/busybox:latest");
	assert_int_equal(
	    codec_image_find(ims, 2, "me/box@sha256:" HEX2, &m, &err), 0);
	assert_string_equal(m.ref, "docker.io/me/box@sha256:" HEX2);
	assert_int_equal(codec_image_find(ims, 2, "2222", &m, &err), 0);
	assert_int_equal(m.index, 1);
	assert_true(m.by_id);
	assert_int_equal(codec_image_find(ims, 2, "sha256:1111", &m, &err), 0);
	assert_int_equal(m.index, 0);
	assert_int_equal(codec_image_find(ims, 2, HEX2, &m, &err), 0);
	assert_int_equal(m.index, 1);
	assert_int_equal(codec_image_find(ims, 2, "me/box", &m, &err),
			 -SW_ENOTFOUND);
	assert_string_equal(err.msg, "No such image: me/box:latest");
	assert_int_equal(codec_image_find(ims, 2, "Bad", &m, &err),
			 -SW_EINVALID);
}

static void test_time(void **state)
{
	int64_t ns;

	(void)state;
	assert_int_equal(codec_parse_rfc3339("1970-01-01T00:00:00Z", &ns), 0);
	assert_int_equal(ns, 0);
	assert_int_equal(codec_parse_rfc3339("2024-01-02T03:04:05Z", &ns), 0);
	assert_int_equal(ns, 1704164645LL * 1000000000LL);
	assert_int_equal(
	    codec_parse_rfc3339("2024-01-02T04:04:05.25+01:00", &ns), 0);
	assert_int_equal(ns, 1704164645LL * 1000000000LL + 250000000);
	assert_int_equal(codec_parse_rfc3339("2024-01-02", &ns), -1);
	assert_int_equal(codec_parse_rfc3339("2024-01-02T03:04:05", &ns), -1);
}

static struct json_object *list(struct rt_image *ims, size_t n,
				const char *filters)
{
	struct filters f;
	struct sw_err err;
	struct json_object *a;

	assert_int_equal(filters_parse(filters, &f, &err), 0);
	assert_int_equal(codec_image_filters_check(&f, &err), 0);
	a = codec_image_list(ims, n, &f);
	filters_free(&f);
	return a;
}

static void test_list(void **state)
{
	struct rt_image ims[2];
	struct json_object *a, *o, *v;

	(void)state;
	image(&ims[0], HEX1, tags1, 2, digests1, 1, CFG1);
	image(&ims[1], HEX2, NULL, 0, NULL, 0, NULL);
	a = list(ims, 2, NULL);
	assert_int_equal(json_object_array_length(a), 2);
	o = json_object_array_get_idx(a, 0);
	assert_string_equal(
	    json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
	    "{\"Containers\":-1,\"Created\":1704164645,\"Id\":"
	    "\"sha256:" HEX1 "\",\"Labels\":{\"a\":\"b\"},"
	    "\"ParentId\":\"\",\"RepoDigests\":[\"me/box@sha256:" HEX2
	    "\"],\"RepoTags\":[\"busybox:latest\",\"me/box:v1\"],"
	    "\"SharedSize\":-1,\"Size\":1000,\"VirtualSize\":1000}");
	o = json_object_array_get_idx(a, 1);
	assert_true(json_object_object_get_ex(o, "RepoTags", &v));
	assert_string_equal(
	    json_object_get_string(json_object_array_get_idx(v, 0)),
	    "<none>:<none>");
	json_object_put(a);

	a = list(ims, 2, "{\"reference\":[\"me/*\"]}");
	assert_int_equal(json_object_array_length(a), 1);
	o = json_object_array_get_idx(a, 0);
	assert_true(json_object_object_get_ex(o, "RepoTags", &v));
	assert_int_equal(json_object_array_length(v), 1);
	json_object_put(a);
	a = list(ims, 2, "{\"dangling\":[\"true\"]}");
	assert_int_equal(json_object_array_length(a), 1);
	json_object_put(a);
	a = list(ims, 2, "{\"dangling\":[\"false\"]}");
	assert_int_equal(json_object_array_length(a), 1);
	json_object_put(a);
	a = list(ims, 2, "{\"label\":[\"a=b\"]}");
	assert_int_equal(json_object_array_length(a), 1);
	json_object_put(a);
	a = list(ims, 2, "{\"before\":[\"busybox\"]}");
	assert_int_equal(json_object_array_length(a), 1);
	json_object_put(a);
}

static void test_filter_errors(void **state)
{
	struct filters f;
	struct sw_err err;

	(void)state;
	assert_int_equal(filters_parse("{\"dangling\":[\"maybe\"]}", &f, &err),
			 0);
	assert_int_equal(codec_image_filters_check(&f, &err), -SW_EINVALID);
	assert_string_equal(err.msg, "Invalid filter 'dangling=[maybe]'");
	filters_free(&f);
	assert_int_equal(filters_parse("{\"name\":[\"x\"]}", &f, &err), 0);
	assert_int_equal(codec_image_filters_check(&f, &err), -SW_EINVALID);
	filters_free(&f);
}

static void test_inspect(void **state)
{
	struct rt_image im;
	struct json_object *o, *v, *c;

	(void)state;
	image(&im, HEX1, tags1, 2, digests1, 1, CFG1);
	o = codec_image_inspect(&im);
	assert_true(json_object_object_get_ex(o, "Created", &v));
	assert_string_equal(json_object_get_string(v),
			    "2024-01-02T03:04:05.5Z");
	assert_true(json_object_object_get_ex(o, "Config", &c));
	assert_true(json_object_object_get_ex(c, "Cmd", &v));
	assert_string_equal(
	    json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
	    "[\"sh\"]");
	assert_true(json_object_object_get_ex(c, "Entrypoint", &v));
	assert_null(v);
	assert_true(json_object_object_get_ex(o, "RootFS", &v));
	assert_true(json_object_object_get_ex(v, "Layers", &v));
	assert_int_equal(json_object_array_length(v), 1);
	assert_true(json_object_object_get_ex(o, "Os", &v));
	assert_string_equal(json_object_get_string(v), "linux");
	json_object_put(o);
	/* Without a configuration: still every key. */
	image(&im, HEX2, NULL, 0, NULL, 0, NULL);
	o = codec_image_inspect(&im);
	assert_true(json_object_object_get_ex(o, "Created", &v));
	assert_string_equal(json_object_get_string(v), "0001-01-01T00:00:00Z");
	json_object_put(o);
}

/* ---- rmi ---- */

static struct rt_container ctr(enum rt_ctr_state st)
{
	struct rt_container c;

	memset(&c, 0, sizeof(c));
	(void)snprintf(c.id, sizeof(c.id), "%s", CTR);
	(void)snprintf(c.image_id, sizeof(c.image_id), "sha256:%s", HEX1);
	c.state = st;
	return c;
}

static int plan(const struct rt_image *im, const char *name, bool force,
		const struct rt_container *c, size_t nc, struct rmi_plan *p,
		struct sw_err *err)
{
	/* The plan borrows from the match: it must outlive the call. */
	static struct image_match m;

	assert_int_equal(codec_image_find(im, 1, name, &m, err), 0);
	return codec_image_rmi_plan(im, &m, name, force, c, nc, p, err);
}

static void test_rmi_by_ref(void **state)
{
	struct rt_image im;
	struct rt_container running = ctr(RT_RUNNING);
	struct rt_container stopped = ctr(RT_EXITED);
	struct rmi_plan p;
	struct sw_err err;

	(void)state;
	/* Another name left: untag only, containers or not. */
	image(&im, HEX1, tags1, 2, digests1, 1, NULL);
	assert_int_equal(plan(&im, "busybox", false, &running, 1, &p, &err), 0);
	assert_int_equal(p.n_untag, 1);
	assert_string_equal(p.untag[0], "docker.io/library/busybox:latest");
	assert_false(p.del);
	free(p.untag);
	/* me/box's last tag takes its digest with it. */
	assert_int_equal(plan(&im, "me/box:v1", false, NULL, 0, &p, &err), 0);
	assert_int_equal(p.n_untag, 2);
	assert_string_equal(p.untag[1], "docker.io/me/box@sha256:" HEX2);
	assert_false(p.del);
	free(p.untag);
	/* The last name: delete, with the same repository's digest. */
	image(&im, HEX1, tags_one, 1, digests_same, 1, NULL);
	assert_int_equal(plan(&im, "busybox", false, NULL, 0, &p, &err), 0);
	assert_int_equal(p.n_untag, 2);
	assert_true(p.del);
	free(p.untag);
	/* ... unless a container uses it. */
	assert_int_equal(plan(&im, "busybox", false, &stopped, 1, &p, &err),
			 -SW_ECONFLICT);
	assert_string_equal(err.msg,
			    "conflict: unable to remove repository reference "
			    "\"busybox\" (must force) - container cccc0000cccc "
			    "is using its referenced image 111111111111");
	/* Forced: untagged, kept for a running container, deleted for a
	 * stopped one. */
	assert_int_equal(plan(&im, "busybox", true, &running, 1, &p, &err), 0);
	assert_false(p.del);
	free(p.untag);
	assert_int_equal(plan(&im, "busybox", true, &stopped, 1, &p, &err), 0);
	assert_true(p.del);
	free(p.untag);
}

static void test_rmi_by_id(void **state)
{
	struct rt_image im;
	struct rt_container running = ctr(RT_RUNNING);
	struct rt_container stopped = ctr(RT_EXITED);
	struct rmi_plan p;
	struct sw_err err;

	(void)state;
	image(&im, HEX1, tags1, 2, digests1, 1, NULL);
	assert_int_equal(plan(&im, "111111", false, NULL, 0, &p, &err),
			 -SW_ECONFLICT);
	assert_string_equal(err.msg,
			    "conflict: unable to delete 111111111111 (must be "
			    "forced) - image is referenced in multiple "
			    "repositories");
	assert_int_equal(plan(&im, "111111", true, NULL, 0, &p, &err), 0);
	assert_int_equal(p.n_untag, 3);
	assert_true(p.del);
	free(p.untag);
	assert_int_equal(plan(&im, "111111", true, &running, 1, &p, &err),
			 -SW_ECONFLICT);
	assert_string_equal(
	    err.msg, "conflict: unable to delete 111111111111 (cannot be "
		     "forced) - image is being used by running container "
		     "cccc0000cccc");
	image(&im, HEX1, tags_one, 1, digests_same, 1, NULL);
	assert_int_equal(plan(&im, "111111", false, &stopped, 1, &p, &err),
			 -SW_ECONFLICT);
	assert_string_equal(
	    err.msg, "conflict: unable to delete 111111111111 (must be "
		     "forced) - image is being used by stopped container "
		     "cccc0000cccc");
	assert_int_equal(plan(&im, "111111", false, NULL, 0, &p, &err), 0);
	assert_int_equal(p.n_untag, 2);
	assert_true(p.del);
	free(p.untag);
}

/* ---- execs ---- */

static struct api_exec exec_for(const char *ctr_id)
{
	struct api_exec e;

	memset(&e, 0, sizeof(e));
	(void)snprintf(e.container_id, sizeof(e.container_id), "%s", ctr_id);
	e.argv = xcalloc(2, sizeof(*e.argv));
	e.argv[0] = xstrdup("true");
	e.argc = 1;
	e.user = xstrdup("");
	return e;
}

static void test_execs(void **state)
{
	struct api_execs *x = execs_new();
	struct api_exec e = exec_for("c1");
	struct api_exec *first, *got;
	struct sw_err err;
	char first_id[65];
	char **ids;

	(void)state;
	first = execs_add(x, &e, &err);
	assert_non_null(first);
	assert_int_equal(strlen(first->id), 64);
	strcpy(first_id, first->id);
	assert_ptr_equal(execs_get(x, first->id), first);
	assert_null(execs_get(x, "nosuch"));
	first->running = true;
	for (int i = 1; i < EXECS_MAX; i++) {
		e = exec_for(i % 2 ? "c2" : "c1");
		got = execs_add(x, &e, &err);
		assert_non_null(got);
		got->running = true;
	}
	/* Full of running instances: refused. */
	e = exec_for("c1");
	assert_null(execs_add(x, &e, &err));
	assert_int_equal(err.kind, SW_EUNAVAILABLE);
	/* One finishes: it makes room. */
	first->running = false;
	first->exited = true;
	got = execs_add(x, &e, &err);
	assert_non_null(got);
	assert_null(execs_get(x, first_id));
	assert_int_equal(execs_of(x, "c2", &ids), EXECS_MAX / 2);
	free(ids);
	assert_int_equal(execs_of(x, "c3", &ids), 0);
	free(ids);
	execs_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_find),
	    cmocka_unit_test(test_time),
	    cmocka_unit_test(test_list),
	    cmocka_unit_test(test_filter_errors),
	    cmocka_unit_test(test_inspect),
	    cmocka_unit_test(test_rmi_by_ref),
	    cmocka_unit_test(test_rmi_by_id),
	    cmocka_unit_test(test_execs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
