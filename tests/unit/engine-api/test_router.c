/* engine-api/router: the /v1.NN prefix, version checks, route matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "engine-api/router.h"

/* ---- router_strip_version ---- */

static void test_strip_version(void **state)
{
	int major = -1, minor = -1;
	const char *rest = NULL;

	(void)state;
	assert_true(router_strip_version("/v1.41/info", &major, &minor, &rest));
	assert_int_equal(major, 1);
	assert_int_equal(minor, 41);
	assert_string_equal(rest, "/info");

	assert_true(router_strip_version("/v1.24/services/abc/update", &major,
					 &minor, &rest));
	assert_int_equal(minor, 24);
	assert_string_equal(rest, "/services/abc/update");

	assert_true(
	    router_strip_version("/v1.99/version", &major, &minor, &rest));
	assert_int_equal(minor, 99);
	assert_string_equal(rest, "/version");

	assert_true(router_strip_version("/v2.0/x", &major, &minor, &rest));
	assert_int_equal(major, 2);
	assert_int_equal(minor, 0);
}

static void test_strip_version_alone(void **state)
{
	int major = -1, minor = -1;
	const char *rest = NULL;

	(void)state;
	assert_true(router_strip_version("/v1.41", &major, &minor, &rest));
	assert_int_equal(major, 1);
	assert_int_equal(minor, 41);
	assert_string_equal(rest, "/");
	assert_true(router_strip_version("/v1.41/", &major, &minor, &rest));
	assert_string_equal(rest, "/");
}

static void assert_unprefixed(const char *path)
{
	int major = -1, minor = -1;
	const char *rest = NULL;

	if (router_strip_version(path, &major, &minor, &rest))
		fail_msg("%s taken as versioned", path);
	assert_ptr_equal(rest, path);
	assert_int_equal(major, -1);
	assert_int_equal(minor, -1);
}

static void test_strip_version_absent(void **state)
{
	(void)state;
	assert_unprefixed("/version");
	assert_unprefixed("/_ping");
	assert_unprefixed("/vx/info");
	assert_unprefixed("/v/info");
	assert_unprefixed("/v1/info");
	assert_unprefixed("/v1./info");
	assert_unprefixed("/v1.x/info");
	assert_unprefixed("/v1.41abc/info");
	assert_unprefixed("/volumes");
	assert_unprefixed("/");
	assert_unprefixed("");
}

/* ---- router_check_version ---- */

static void assert_version_ok(int major, int minor)
{
	struct sw_err err;
	bool plain = true;

	sw_err_clear(&err);
	if (router_check_version(major, minor, &plain, &err) != 0)
		fail_msg("%d.%d refused: %s", major, minor, err.msg);
	assert_false(plain);
}

static void test_check_version_ok(void **state)
{
	(void)state;
	assert_version_ok(1, 41);
	assert_version_ok(1, 40);
	assert_version_ok(1, 24);
	assert_version_ok(1, 12);
}

static void test_check_version_too_new(void **state)
{
	struct sw_err err;
	bool plain = true;

	(void)state;
	sw_err_clear(&err);
	assert_int_equal(router_check_version(1, 42, &plain, &err), -1);
	assert_false(plain);
	assert_int_equal(err.kind, SW_EINVALID);
	assert_string_equal(err.msg, "client version 1.42 is too new. Maximum "
				     "supported API version is 1.41");
	plain = true;
	assert_int_equal(router_check_version(1, 99, &plain, &err), -1);
	assert_false(plain);
	assert_string_equal(err.msg, "client version 1.99 is too new. Maximum "
				     "supported API version is 1.41");
	assert_int_equal(router_check_version(2, 0, &plain, &err), -1);
	assert_string_equal(err.msg, "client version 2.0 is too new. Maximum "
				     "supported API version is 1.41");
}

static void test_check_version_too_old(void **state)
{
	struct sw_err err;
	bool plain = false;

	(void)state;
	sw_err_clear(&err);
	assert_int_equal(router_check_version(1, 11, &plain, &err), -1);
	assert_true(plain);
	assert_int_equal(err.kind, SW_EINVALID);
	assert_string_equal(err.msg,
			    "client version 1.11 is too old. Minimum supported "
			    "API version is 1.12, please upgrade your client "
			    "to a newer version");
	plain = false;
	assert_int_equal(router_check_version(0, 99, &plain, &err), -1);
	assert_true(plain);
	assert_non_null(strstr(err.msg, "client version 0.99 is too old"));
}

/* ---- router_method ---- */

static void test_method(void **state)
{
	(void)state;
	assert_int_equal(router_method("GET"), API_GET);
	assert_int_equal(router_method("HEAD"), API_HEAD);
	assert_int_equal(router_method("POST"), API_POST);
	assert_int_equal(router_method("PUT"), API_PUT);
	assert_int_equal(router_method("DELETE"), API_DELETE);
	assert_int_equal(router_method("get"), API_OTHER);
	assert_int_equal(router_method("PATCH"), API_OTHER);
	assert_int_equal(router_method("OPTIONS"), API_OTHER);
	assert_int_equal(router_method(""), API_OTHER);
}

/* ---- router_match ---- */

static void h_ping(struct api_req *req)
{
	(void)req;
}
static void h_service(struct api_req *req)
{
	(void)req;
}
static void h_service_update(struct api_req *req)
{
	(void)req;
}
static void h_service_delete(struct api_req *req)
{
	(void)req;
}
static void h_image_json(struct api_req *req)
{
	(void)req;
}
static void h_image_delete(struct api_req *req)
{
	(void)req;
}
static void h_image_tag(struct api_req *req)
{
	(void)req;
}
static void h_two(struct api_req *req)
{
	(void)req;
}

static const struct api_route table[] = {
    {API_GET, "/_ping", h_ping, false},
    {API_GET, "/services/{id}", h_service, false},
    {API_POST, "/services/{id}/update", h_service_update, false},
    {API_DELETE, "/services/{id}", h_service_delete, false},
    {API_GET, "/images/{name*}/json", h_image_json, false},
    {API_POST, "/images/{name*}/tag", h_image_tag, false},
    {API_DELETE, "/images/{name*}", h_image_delete, false},
    {API_GET, "/a/{x}/b/{y}", h_two, false},
    {API_GET, "/p/{a}/{b}/{c}/{d}/{e}", h_two, false},
};
static const size_t ntable = sizeof(table) / sizeof(table[0]);

struct match {
	const struct api_route *r;
	char *params[API_MAX_PARAMS];
	int n;
};

static void match(struct match *m, enum api_method method, const char *path)
{
	memset(m, 0, sizeof(*m));
	m->n = -1;
	m->r = router_match(table, ntable, method, path, m->params, &m->n);
}

static void match_free(struct match *m)
{
	for (int i = 0; i < m->n; i++)
		free(m->params[i]);
	m->n = 0;
}

static void test_match_fixed(void **state)
{
	struct match m;

	(void)state;
	match(&m, API_GET, "/_ping");
	assert_non_null(m.r);
	assert_ptr_equal(m.r->handler, h_ping);
	assert_int_equal(m.n, 0);
	match_free(&m);
}

static void test_match_capture(void **state)
{
	struct match m;

	(void)state;
	match(&m, API_GET, "/services/abc123");
	assert_non_null(m.r);
	assert_ptr_equal(m.r->handler, h_service);
	assert_int_equal(m.n, 1);
	assert_string_equal(m.params[0], "abc123");
	match_free(&m);

	match(&m, API_POST, "/services/web/update");
	assert_non_null(m.r);
	assert_ptr_equal(m.r->handler, h_service_update);
	assert_int_equal(m.n, 1);
	assert_string_equal(m.params[0], "web");
	match_free(&m);

	match(&m, API_DELETE, "/services/web");
	assert_non_null(m.r);
	assert_ptr_equal(m.r->handler, h_service_delete);
	assert_string_equal(m.params[0], "web");
	match_free(&m);

	match(&m, API_GET, "/a/1/b/2");
	assert_non_null(m.r);
	assert_ptr_equal(m.r->handler, h_two);
	assert_int_equal(m.n, 2);
	assert_string_equal(m.params[0], "1");
	assert_string_equal(m.params[1], "2");
	match_free(&m);
}

static void test_match_head_is_get(void **state)
{
	struct match m;

	(void)state;
	match(&m, API_HEAD, "/_ping");
	assert_non_null(m.r);
	assert_ptr_equal(m.r->handler, h_ping);
	match_free(&m);
	match(&m, API_HEAD, "/services/x");
	assert_non_null(m.r);
	assert_ptr_equal(m.r->handler, h_service);
	assert_int_equal(m.n, 1);
	assert_string_equal(m.params[0], "x");
	match_free(&m);
	/* HEAD does not reach non-GET routes. */
	match(&m, API_HEAD, "/services/x/update");
	assert_null(m.r);
	assert_int_equal(m.n, 0);
}

static void test_match_wrong_method(void **state)
{
	struct match m;

	(void)state;
	match(&m, API_POST, "/_ping");
	assert_null(m.r);
	assert_int_equal(m.n, 0);
	match(&m, API_GET, "/services/web/update");
	assert_null(m.r);
	assert_int_equal(m.n, 0);
	match(&m, API_PUT, "/services/web");
	assert_null(m.r);
	assert_int_equal(m.n, 0);
	match(&m, API_OTHER, "/_ping");
	assert_null(m.r);
}

static void test_match_unknown_path(void **state)
{
	struct match m;

	(void)state;
	match(&m, API_GET, "/nosuch");
	assert_null(m.r);
	assert_int_equal(m.n, 0);
	match(&m, API_GET, "/services");
	assert_null(m.r);
	match(&m, API_GET, "/services/a/b");
	assert_null(m.r);
	assert_int_equal(m.n, 0);
	match(&m, API_GET, "/_ping/x");
	assert_null(m.r);
	match(&m, API_GET, "/");
	assert_null(m.r);
	match(&m, API_GET, "");
	assert_null(m.r);
	match(&m, API_GET, "/a/1/c/2");
	assert_null(m.r);
	assert_int_equal(m.n, 0);
	/* A fixed segment is not a prefix match. */
	match(&m, API_GET, "/_pingx");
	assert_null(m.r);
}

static void test_match_greedy(void **state)
{
	struct match m;

	(void)state;
	match(&m, API_GET, "/images/docker.io/library/busybox:latest/json");
	assert_non_null(m.r);
	assert_ptr_equal(m.r->handler, h_image_json);
	assert_int_equal(m.n, 1);
	assert_string_equal(m.params[0], "docker.io/library/busybox:latest");
	match_free(&m);

	match(&m, API_GET, "/images/busybox/json");
	assert_non_null(m.r);
	assert_string_equal(m.params[0], "busybox");
	match_free(&m);

	match(&m, API_POST, "/images/localhost:5000/a/b:1/tag");
	assert_non_null(m.r);
	assert_ptr_equal(m.r->handler, h_image_tag);
	assert_string_equal(m.params[0], "localhost:5000/a/b:1");
	match_free(&m);

	match(&m, API_DELETE, "/images/docker.io/library/busybox:latest");
	assert_non_null(m.r);
	assert_ptr_equal(m.r->handler, h_image_delete);
	assert_int_equal(m.n, 1);
	assert_string_equal(m.params[0], "docker.io/library/busybox:latest");
	match_free(&m);

	/* The greedy capture needs at least one segment. */
	match(&m, API_GET, "/images/json");
	assert_null(m.r);
	assert_int_equal(m.n, 0);
	match(&m, API_DELETE, "/images");
	assert_null(m.r);
	assert_int_equal(m.n, 0);
}

static void test_match_trailing_slash(void **state)
{
	struct match m;

	(void)state;
	match(&m, API_GET, "/services/abc/");
	assert_non_null(m.r);
	assert_ptr_equal(m.r->handler, h_service);
	assert_int_equal(m.n, 1);
	assert_string_equal(m.params[0], "abc");
	match_free(&m);
	match(&m, API_GET, "/_ping/");
	assert_non_null(m.r);
	assert_ptr_equal(m.r->handler, h_ping);
	match_free(&m);
	match(&m, API_GET, "/images/busybox:latest/json/");
	assert_non_null(m.r);
	assert_string_equal(m.params[0], "busybox:latest");
	match_free(&m);
}

/* A pattern with more captures than API_MAX_PARAMS never matches, and never
 * writes past the caller's array. */
static void test_match_too_many_captures(void **state)
{
	struct match m;

	(void)state;
	match(&m, API_GET, "/p/1/2/3/4/5");
	assert_null(m.r);
	assert_int_equal(m.n, 0);
}

/* A path with more segments than the router handles is no match (and no
 * overflow). */
static void test_match_many_segments(void **state)
{
	struct match m;
	char path[512] = "/images";

	(void)state;
	for (int i = 0; i < 40; i++)
		strcat(path, "/s");
	strcat(path, "/json");
	match(&m, API_GET, path);
	assert_null(m.r);
	assert_int_equal(m.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_strip_version),
	    cmocka_unit_test(test_strip_version_alone),
	    cmocka_unit_test(test_strip_version_absent),
	    cmocka_unit_test(test_check_version_ok),
	    cmocka_unit_test(test_check_version_too_new),
	    cmocka_unit_test(test_check_version_too_old),
	    cmocka_unit_test(test_method),
	    cmocka_unit_test(test_match_fixed),
	    cmocka_unit_test(test_match_capture),
	    cmocka_unit_test(test_match_head_is_get),
	    cmocka_unit_test(test_match_wrong_method),
	    cmocka_unit_test(test_match_unknown_path),
	    cmocka_unit_test(test_match_greedy),
	    cmocka_unit_test(test_match_trailing_slash),
	    cmocka_unit_test(test_match_too_many_captures),
	    cmocka_unit_test(test_match_many_segments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
