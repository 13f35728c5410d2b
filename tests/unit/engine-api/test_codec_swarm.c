/* The swarm spec merge rule of init and update, and the typed values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine-api/codec_swarm.h"
#include "lib/jsonx.h"

static struct json_object *parse(const char *text)
{
	struct sw_err err;
	struct json_object *o = jsonx_parse(text, strlen(text), &err);

	assert_non_null(o);
	return o;
}

static int64_t get(struct json_object *spec, const char *sec, const char *key)
{
	struct json_object *s = NULL, *v = NULL;

	assert_true(json_object_object_get_ex(spec, sec, &s));
	assert_true(json_object_object_get_ex(s, key, &v));
	return json_object_get_int64(v);
}

/* Merges text onto base and returns the result (caller puts). */
static struct json_object *merge(struct json_object *base, const char *text)
{
	struct sw_err err;
	struct json_object *req = parse(text);
	struct json_object *out = codec_swarm_merge(base, req, &err);

	json_object_put(req);
	assert_non_null(out);
	return out;
}

static void test_defaults(void **state)
{
	struct json_object *d = codec_swarm_default_spec();
	struct swarm_spec_values v;

	(void)state;
	assert_int_equal(get(d, "Orchestration", "TaskHistoryRetentionLimit"),
			 5);
	assert_int_equal(get(d, "Raft", "SnapshotInterval"), 10000);
	assert_int_equal(get(d, "Raft", "LogEntriesForSlowFollowers"), 500);
	assert_int_equal(get(d, "Raft", "ElectionTick"), 10);
	assert_int_equal(get(d, "Raft", "HeartbeatTick"), 1);
	assert_int_equal(get(d, "Dispatcher", "HeartbeatPeriod"), 5000000000);
	assert_int_equal(get(d, "CAConfig", "NodeCertExpiry"),
			 7776000000000000);
	codec_swarm_values(d, &v);
	assert_int_equal(v.election_tick, 10);
	assert_false(v.autolock);
	json_object_put(d);
}

/* An absent or zero member keeps the current value; a present non-zero one
 * replaces it. */
static void test_zero_keeps(void **state)
{
	struct json_object *d = codec_swarm_default_spec();
	struct json_object *m =
		merge(d, "{\"Raft\":{\"ElectionTick\":0,\"SnapshotInterval\":"
			 "50},\"Dispatcher\":{}}");

	(void)state;
	assert_int_equal(get(m, "Raft", "ElectionTick"), 10);
	assert_int_equal(get(m, "Raft", "SnapshotInterval"), 50);
	assert_int_equal(get(m, "Dispatcher", "HeartbeatPeriod"), 5000000000);
	json_object_put(m);
	m = merge(d, "{}");
	assert_int_equal(get(m, "Raft", "SnapshotInterval"), 10000);
	json_object_put(m);
	json_object_put(d);
}

/* TaskHistoryRetentionLimit is a pointer in Go: a present 0 counts. */
static void test_history_zero_counts(void **state)
{
	struct json_object *d = codec_swarm_default_spec();
	struct json_object *m = merge(
		d, "{\"Orchestration\":{\"TaskHistoryRetentionLimit\":0}}");

	(void)state;
	assert_int_equal(get(m, "Orchestration", "TaskHistoryRetentionLimit"),
			 0);
	json_object_put(m);
	json_object_put(d);
}

static void test_labels_replace_only_when_non_empty(void **state)
{
	struct json_object *d = codec_swarm_default_spec();
	struct json_object *a = merge(d, "{\"Labels\":{\"x\":\"1\"}}");
	struct json_object *b = merge(a, "{\"Labels\":{}}");
	struct json_object *labels = NULL, *x = NULL;

	(void)state;
	assert_true(json_object_object_get_ex(b, "Labels", &labels));
	assert_true(json_object_object_get_ex(labels, "x", &x));
	assert_string_equal(json_object_get_string(x), "1");
	json_object_put(a);
	json_object_put(b);
	json_object_put(d);
}

/* AutoLockManagers and ForceRotate always come from the body. */
static void test_always_from_body(void **state)
{
	struct json_object *d = codec_swarm_default_spec();
	struct json_object *on = merge(
		d, "{\"EncryptionConfig\":{\"AutoLockManagers\":true},"
		   "\"CAConfig\":{\"ForceRotate\":3}}");
	struct json_object *off = merge(on, "{}");
	struct swarm_spec_values v;
	struct json_object *ca = NULL, *fr = NULL;

	(void)state;
	codec_swarm_values(on, &v);
	assert_true(v.autolock);
	assert_int_equal(get(on, "CAConfig", "ForceRotate"), 3);
	codec_swarm_values(off, &v);
	assert_false(v.autolock);
	assert_true(json_object_object_get_ex(off, "CAConfig", &ca));
	assert_false(json_object_object_get_ex(ca, "ForceRotate", &fr));
	json_object_put(on);
	json_object_put(off);
	json_object_put(d);
}

static void test_wrong_type_rejected(void **state)
{
	struct json_object *d = codec_swarm_default_spec();
	struct json_object *req = parse("{\"Raft\":{\"ElectionTick\":\"x\"}}");
	struct sw_err err;

	(void)state;
	assert_null(codec_swarm_merge(d, req, &err));
	assert_int_equal(err.kind, SW_EINVALID);
	json_object_put(req);
	json_object_put(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_zero_keeps),
		cmocka_unit_test(test_history_zero_counts),
		cmocka_unit_test(test_labels_replace_only_when_non_empty),
		cmocka_unit_test(test_always_from_body),
		cmocka_unit_test(test_wrong_type_rejected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
