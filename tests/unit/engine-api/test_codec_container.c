/* engine-api/codec_container: finding a container, status words, the
 * Command column, list filters, the JSON shapes and stream frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-api/codec_container.h"
#include "lib/jsonx.h"

#define S 1000000000LL
#define ID1 "aaaa1111bbbb2222cccc3333dddd4444eeee5555ffff6666aaaa7777bbbb8888"
#define ID2 "aaaa2222bbbb2222cccc3333dddd4444eeee5555ffff6666aaaa7777bbbb8888"

static char *args_sh[] = {"sh", "-c", "echo a b"};
static struct rt_kv labels[] = {
    {"com.docker.swarm.task.id", "t1"},
    {"com.docker.swarm.service.name", "web"},
};

static void make(struct rt_container *c, const char *id, const char *name,
		 enum rt_ctr_state st)
{
	memset(c, 0, sizeof(*c));
	(void)snprintf(c->id, sizeof(c->id), "%s", id);
	c->name = (char *)name;
	c->image = (char *)"docker.io/library/busybox:latest";
	(void)snprintf(c->image_id, sizeof(c->image_id), "sha256:%s", ID1);
	c->state = st;
	c->created_ns = 100 * S;
	c->started_ns = 110 * S;
	c->labels = labels;
	c->n_labels = 2;
	c->detailed = true;
	c->args = args_sh;
	c->n_args = 3;
}

static void test_find(void **state)
{
	struct rt_container c[2];
	struct sw_err err;

	(void)state;
	make(&c[0], ID1, "web.1.t1", RT_RUNNING);
	make(&c[1], ID2, "web.2.t2", RT_EXITED);
	assert_int_equal(codec_container_find(c, 2, ID2, &err), 1);
	assert_int_equal(codec_container_find(c, 2, "web.2.t2", &err), 1);
	assert_int_equal(codec_container_find(c, 2, "/web.1.t1", &err), 0);
	assert_int_equal(codec_container_find(c, 2, "aaaa1", &err), 0);
	assert_int_equal(codec_container_find(c, 2, "aaaa", &err), -1);
	assert_int_equal(err.kind, SW_EINVALID);
	assert_string_equal(err.msg,
			    "multiple IDs found with provided prefix: aaaa");
	assert_int_equal(codec_container_find(c, 2, "web", &err), -1);
	assert_int_equal(err.kind, SW_ENOTFOUND);
	assert_string_equal(err.msg, "No such container: web");
	assert_int_equal(codec_container_find(c, 2, "", &err), -1);
}

static void check_dur(int64_t ns, const char *want)
{
	char out[64];

	codec_human_duration(ns, out, sizeof(out));
	assert_string_equal(out, want);
}

static void test_human_duration(void **state)
{
	(void)state;
	check_dur(S / 2, "Less than a second");
	check_dur(S, "1 second");
	check_dur(59 * S, "59 seconds");
	check_dur(60 * S, "About a minute");
	check_dur(119 * S, "About a minute");
	check_dur(120 * S, "2 minutes");
	check_dur(59 * 60 * S, "59 minutes");
	check_dur(3600 * S, "About an hour");
	check_dur(5 * 3600 * S, "5 hours");
	check_dur(47 * 3600 * S, "47 hours");
	check_dur(48 * 3600 * S, "2 days");
	check_dur(14 * 24 * 3600 * S, "2 weeks");
	check_dur(60 * 24 * 3600 * S, "2 months");
	check_dur(3LL * 365 * 24 * 3600 * S, "3 years");
}

static void test_status(void **state)
{
	struct rt_container c;
	char out[128];

	(void)state;
	make(&c, ID1, "web.1.t1", RT_RUNNING);
	codec_container_status(&c, 115 * S, out, sizeof(out));
	assert_string_equal(out, "Up 5 seconds");
	c.state = RT_EXITED;
	c.exit_code = 3;
	c.finished_ns = 200 * S;
	codec_container_status(&c, 320 * S, out, sizeof(out));
	assert_string_equal(out, "Exited (3) 2 minutes ago");
	c.state = RT_CREATED;
	codec_container_status(&c, 320 * S, out, sizeof(out));
	assert_string_equal(out, "Created");
	assert_string_equal(codec_container_state(&c), "created");
}

static void test_command(void **state)
{
	struct rt_container c;
	char *cmd;

	(void)state;
	make(&c, ID1, "web.1.t1", RT_RUNNING);
	cmd = codec_container_command(&c);
	assert_string_equal(cmd, "sh -c 'echo a b'");
	free(cmd);
	c.n_args = 0;
	cmd = codec_container_command(&c);
	assert_string_equal(cmd, "");
	free(cmd);
}

static bool passes(const struct rt_container *c, const char *filters)
{
	struct filters f;
	struct sw_err err;
	bool ok;

	assert_int_equal(filters_parse(filters, &f, &err), 0);
	assert_int_equal(codec_container_filters_check(&f, &err), 0);
	ok = codec_container_matches(c, &f);
	filters_free(&f);
	return ok;
}

static void test_filters(void **state)
{
	struct rt_container c;
	struct filters f;
	struct sw_err err;

	(void)state;
	make(&c, ID1, "web.1.t1", RT_RUNNING);
	assert_true(passes(&c, NULL));
	assert_true(passes(&c, "{\"name\":[\"web.1\"]}"));
	assert_true(passes(&c, "{\"name\":{\"^/web\":true}}"));
	assert_true(passes(&c, "{\"name\":[\"t1\"]}"));
	assert_false(passes(&c, "{\"name\":[\"db\"]}"));
	assert_true(passes(&c, "{\"id\":[\"aaaa1\"]}"));
	assert_true(passes(&c, "{\"label\":[\"com.docker.swarm.service.name="
			       "web\"]}"));
	assert_true(passes(&c, "{\"label\":[\"com.docker.swarm.task.id\"]}"));
	assert_false(passes(&c, "{\"label\":[\"com.docker.swarm.service.name="
				"db\"]}"));
	assert_true(passes(&c, "{\"status\":[\"running\"]}"));
	assert_false(passes(&c, "{\"status\":[\"exited\"]}"));
	assert_true(passes(&c, "{\"is-task\":[\"true\"]}"));
	assert_true(passes(&c, "{\"ancestor\":[\"busybox\"]}"));
	assert_true(passes(&c, "{\"ancestor\":[\"aaaa1111\"]}"));
	assert_false(passes(&c, "{\"ancestor\":[\"alpine\"]}"));
	assert_true(passes(&c, "{\"name\":[\"web\",\"db\"]}"));
	c.state = RT_EXITED;
	c.exit_code = 2;
	assert_true(passes(&c, "{\"exited\":[\"2\"]}"));
	assert_false(passes(&c, "{\"exited\":[\"0\"]}"));

	assert_int_equal(filters_parse("{\"status\":[\"zombie\"]}", &f, &err),
			 0);
	assert_int_equal(codec_container_filters_check(&f, &err), -SW_EINVALID);
	assert_string_equal(err.msg,
			    "Unrecognised filter value for status: zombie");
	filters_free(&f);
	assert_int_equal(filters_parse("{\"bogus\":[\"1\"]}", &f, &err), 0);
	assert_int_equal(codec_container_filters_check(&f, &err), -SW_EINVALID);
	assert_string_equal(err.msg, "Invalid filter 'bogus'");
	filters_free(&f);
	assert_int_equal(filters_parse("{\"exited\":[\"x\"]}", &f, &err), 0);
	assert_int_equal(codec_container_filters_check(&f, &err), -SW_EINVALID);
	filters_free(&f);
}

static const char *str_of(struct json_object *o, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_string(v);
}

static void test_json(void **state)
{
	struct rt_container c;
	struct json_object *o, *v;
	char *ids[] = {"e1"};

	(void)state;
	make(&c, ID1, "web.1.t1", RT_RUNNING);
	o = codec_container_summary(&c, 115 * S);
	assert_string_equal(str_of(o, "Id"), ID1);
	assert_string_equal(str_of(o, "Image"), "busybox:latest");
	assert_string_equal(str_of(o, "Command"), "sh -c 'echo a b'");
	assert_string_equal(str_of(o, "State"), "running");
	assert_string_equal(str_of(o, "Status"), "Up 5 seconds");
	assert_true(json_object_object_get_ex(o, "Names", &v));
	assert_string_equal(json_object_to_json_string(v),
			    "[ \"\\/web.1.t1\" ]");
	assert_true(json_object_object_get_ex(o, "Created", &v));
	assert_int_equal(json_object_get_int64(v), 100);
	json_object_put(o);

	o = codec_container_inspect(&c, ids, 1);
	assert_string_equal(str_of(o, "Name"), "/web.1.t1");
	assert_string_equal(str_of(o, "Path"), "sh");
	assert_string_equal(str_of(o, "Created"), "1970-01-01T00:01:40Z");
	assert_true(json_object_object_get_ex(o, "State", &v));
	assert_string_equal(str_of(v, "Status"), "running");
	assert_string_equal(str_of(v, "FinishedAt"), "0001-01-01T00:00:00Z");
	assert_true(json_object_object_get_ex(o, "ExecIDs", &v));
	assert_int_equal(json_object_array_length(v), 1);
	json_object_put(o);
}

static void test_frames(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	codec_frame(&b, 1, "hi\n", 3);
	codec_frame(&b, 2, "", 0);
	codec_frame(&b, 2, "E", 1);
	assert_int_equal(b.len, 8 + 3 + 8 + 1);
	assert_memory_equal(b.data,
			    "\x01\0\0\0\0\0\0\x03hi\n\x02\0\0\0\0\0\0\x01"
			    "E",
			    b.len);
	buf_free(&b);
	{
		static char big[70000];

		buf_init(&b);
		codec_frame(&b, 1, big, sizeof(big));
		assert_memory_equal(b.data, "\x01\0\0\0\0\x01\x11\x70", 8);
		buf_free(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_find),
	    cmocka_unit_test(test_human_duration),
	    cmocka_unit_test(test_status),
	    cmocka_unit_test(test_command),
	    cmocka_unit_test(test_filters),
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_frames),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
