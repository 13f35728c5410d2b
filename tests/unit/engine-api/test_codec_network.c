/* engine-api/codec_network: Docker's Network JSON for stored swarm
 * networks and the create body's checks, against shapes recorded from
 * dockerd 20.10. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "engine-api/codec_network.h"
#include "lib/jsonx.h"

static struct json_object *parse(const char *text)
{
	struct sw_err err;
	struct json_object *o = jsonx_parse(text, strlen(text), &err);

	assert_non_null(o);
	return o;
}

/* The JSON text of member key of o. */
static const char *text_of(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

static const struct store_record REC = {
	.kind = OBJ_NETWORK,
	.id = "vxubwk82amkklh23mdao8yu82",
	.created_ns = 1795625497035433915,
};

static void test_two_subnets(void **state)
{
	Swarmd__IpamConfig a = SWARMD__IPAM_CONFIG__INIT;
	Swarmd__IpamConfig b = SWARMD__IPAM_CONFIG__INIT;
	Swarmd__IpamConfig *cfg[] = {&a, &b};
	Swarmd__KeyValue o1 = SWARMD__KEY_VALUE__INIT;
	Swarmd__KeyValue *opts[] = {&o1};
	uint32_t vx[] = {4103, 4104};
	Swarmd__Network n = SWARMD__NETWORK__INIT;
	struct json_object *j;

	(void)state;
	a.subnet = "10.6.0.0/24";
	a.gateway = "10.6.0.1";
	a.ip_range = "";
	b.subnet = "10.7.0.0/24";
	b.gateway = "10.7.0.1";
	b.ip_range = "10.7.0.128/25";
	o1.key = "encrypted";
	o1.value = "";
	n.name = "ov6";
	n.driver = "overlay";
	n.scope = "swarm";
	n.ipam_driver = "default";
	n.ipam = cfg;
	n.n_ipam = 2;
	n.vxlan_ids = vx;
	n.n_vxlan_ids = 2;
	n.options = opts;
	n.n_options = 1;
	j = codec_network_to_json(&REC, &n);
	assert_string_equal(text_of(j, "Created"),
			    "\"2026-11-25T16:51:37.035433915Z\"");
	assert_string_equal(
		text_of(j, "IPAM"),
		"{\"Driver\":\"default\",\"Options\":null,\"Config\":["
		"{\"Subnet\":\"10.6.0.0\\/24\",\"Gateway\":\"10.6.0.1\"},"
		"{\"Subnet\":\"10.7.0.0\\/24\",\"IPRange\":\"10.7.0.128\\/25\","
		"\"Gateway\":\"10.7.0.1\"}]}");
	assert_string_equal(
		text_of(j, "Options"),
		"{\"com.docker.network.driver.overlay.vxlanid_list\":"
		"\"4103,4104\",\"encrypted\":\"\"}");
	assert_string_equal(text_of(j, "Labels"), "null");
	assert_string_equal(text_of(j, "Containers"), "null");
	json_object_put(j);
}

/* A network SwarmKit could not allocate. */
static void test_failed(void **state)
{
	Swarmd__Network n = SWARMD__NETWORK__INIT;
	struct json_object *j;

	(void)state;
	n.name = "ov2";
	n.driver = "";
	n.scope = "swarm";
	n.ipam_driver = "";
	n.failed = true;
	j = codec_network_to_json(&REC, &n);
	assert_string_equal(text_of(j, "IPAM"),
			    "{\"Driver\":\"\",\"Options\":null,\"Config\":null}");
	assert_string_equal(text_of(j, "Options"), "null");
	json_object_put(j);
}

static void decode_fails(const char *body, int kind, const char *msg)
{
	struct json_object *o = parse(body);
	struct codec_network_create c;
	struct sw_err err;

	assert_true(codec_network_decode(o, &c, &err) < 0);
	assert_int_equal(err.kind, kind);
	assert_string_equal(err.msg, msg);
	codec_network_free(&c);
	json_object_put(o);
}

static void test_decode_errors(void **state)
{
	(void)state;
	decode_fails("{\"Driver\":\"overlay\"}", SW_ESYSTEM, "invalid name: ");
	decode_fails("{\"Name\":\"x\",\"IPAM\":{\"Config\":[{\"Subnet\":"
		     "\"10.9.0.0/33\"}]}}",
		     SW_ESYSTEM,
		     "Invalid subnet 10.9.0.0/33 : invalid CIDR address: "
		     "10.9.0.0/33");
	decode_fails("{\"Name\":\"x\",\"IPAM\":{\"Config\":[{\"Gateway\":"
		     "\"10.8.0.1\"}]}}",
		     SW_ESYSTEM, "Invalid subnet  : invalid CIDR address: ");
}

/* The stack deploy body: IPAM and Options null, labels kept. */
static void test_decode_stack_body(void **state)
{
	struct json_object *o = parse(
		"{\"Driver\":\"overlay\",\"Scope\":\"\",\"IPAM\":null,"
		"\"Internal\":false,\"Attachable\":false,\"Ingress\":false,"
		"\"ConfigOnly\":false,\"ConfigFrom\":null,\"Options\":null,"
		"\"Labels\":{\"com.docker.stack.namespace\":\"st\"},"
		"\"Name\":\"st_default\",\"CheckDuplicate\":true}\n");
	struct codec_network_create c;
	struct sw_err err;

	(void)state;
	assert_int_equal(codec_network_decode(o, &c, &err), 0);
	assert_string_equal(c.net.name, "st_default");
	assert_string_equal(c.net.driver, "overlay");
	assert_int_equal(c.net.n_ipam, 0);
	assert_int_equal(c.net.n_options, 0);
	assert_int_equal(c.net.n_labels, 1);
	assert_string_equal(c.net.labels[0]->key, "com.docker.stack.namespace");
	assert_false(c.ipam_options_set);
	codec_network_free(&c);
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_subnets),
		cmocka_unit_test(test_failed),
		cmocka_unit_test(test_decode_errors),
		cmocka_unit_test(test_decode_stack_body),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
