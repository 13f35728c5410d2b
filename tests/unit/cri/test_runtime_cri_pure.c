/* cri/runtime_cri: the pure pieces (ctr's import output and errors, the
 * verbose ContainerStatus and ImageStatus info). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cri/runtime_cri.h"

static void test_import_names(void **state)
{
	char **names;
	size_t n;

	(void)state;
	n = rt_cri_import_names(
	    "unpacking docker.io/library/busybox:latest (sha256:ef21)...done\n"
	    "something else\n"
	    "unpacking docker.io/me/app:v1 (sha256:00aa)...done",
	    &names);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "docker.io/library/busybox:latest");
	assert_string_equal(names[1], "docker.io/me/app:v1");
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	assert_int_equal(rt_cri_import_names("", &names), 0);
	assert_null(names);
	assert_int_equal(rt_cri_import_names(NULL, &names), 0);
}

static void test_ctr_error(void **state)
{
	char out[128];

	(void)state;
	rt_cri_ctr_error("ctr: unexpected EOF\n", "x", out, sizeof(out));
	assert_string_equal(out, "unexpected EOF");
	rt_cri_ctr_error("time=\"...\" level=warning msg=\"w\"\n"
			 "ctr: image \"a\": already exists\n",
			 "x", out, sizeof(out));
	assert_string_equal(out, "image \"a\": already exists");
	rt_cri_ctr_error("panic: boom\n\n", "x", out, sizeof(out));
	assert_string_equal(out, "panic: boom");
	rt_cri_ctr_error("", "fallback", out, sizeof(out));
	assert_string_equal(out, "fallback");
	rt_cri_ctr_error(NULL, "fallback", out, sizeof(out));
	assert_string_equal(out, "fallback");
}

static void test_container_info(void **state)
{
	struct rt_container c;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.image = strdup("docker.io/library/busybox:latest");
	assert_int_equal(
	    rt_cri_parse_container_info(
		"{\"sandboxID\":\"s\",\"pid\":8502,\"config\":{"
		"\"image\":{\"image\":\"busybox:latest\"},\"tty\":true,"
		"\"stdin\":true},\"runtimeSpec\":{\"hostname\":\"h1\","
		"\"process\":{\"user\":{\"uid\":1000,\"gid\":100},"
		"\"args\":[\"sleep\",\"1000\"],\"env\":[\"PATH=/bin\","
		"\"A=b\"],\"cwd\":\"/w\"}}}",
		&c),
	    0);
	assert_int_equal(c.pid, 8502);
	assert_string_equal(c.image, "busybox:latest");
	assert_int_equal(c.n_args, 2);
	assert_string_equal(c.args[1], "1000");
	assert_int_equal(c.n_env, 2);
	assert_string_equal(c.workdir, "/w");
	assert_string_equal(c.hostname, "h1");
	assert_string_equal(c.user, "1000:100");
	assert_true(c.tty);
	assert_true(c.open_stdin);
	rt_container_clear(&c);
	assert_null(c.args);
	/* Missing members leave empty values; bad JSON fails. */
	assert_int_equal(rt_cri_parse_container_info("{}", &c), 0);
	assert_int_equal(c.n_args, 0);
	assert_string_equal(c.workdir, "");
	assert_string_equal(c.user, "");
	rt_container_clear(&c);
	assert_int_equal(rt_cri_parse_container_info("{", &c), -1);
}

static void test_image_config(void **state)
{
	char *cfg;

	(void)state;
	cfg = rt_cri_image_config(
	    "{\"chainID\":\"sha256:a\",\"imageSpec\":{\"created\":"
	    "\"1970-01-01T00:00:00Z\",\"os\":\"linux\",\"config\":{\"Cmd\":"
	    "[\"sh\"],\"Env\":[\"PATH=/usr/bin\"]}}}");
	assert_string_equal(cfg,
			    "{\"created\":\"1970-01-01T00:00:00Z\","
			    "\"os\":\"linux\",\"config\":{\"Cmd\":[\"sh\"],"
			    "\"Env\":[\"PATH=/usr/bin\"]}}");
	free(cfg);
	assert_null(rt_cri_image_config("{}"));
	assert_null(rt_cri_image_config("nope"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_import_names),
	    cmocka_unit_test(test_ctr_error),
	    cmocka_unit_test(test_container_info),
	    cmocka_unit_test(test_image_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
