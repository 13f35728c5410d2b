/* engine-api/netfilter: GET /networks filters as dockerd 20.10 applies
 * them to swarm and local networks (answers recorded from the reference
 * dockerd: swarm names match exactly, local ones as substrings). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "engine-api/netfilter.h"
#include "lib/jsonx.h"

static const char *const NETS[] = {
	"{\"Name\":\"ingress\",\"Id\":\"wtaig73wz93rqgjheva0byxuo\","
	"\"Scope\":\"swarm\",\"Driver\":\"overlay\",\"Containers\":null,"
	"\"Labels\":null}",
	"{\"Name\":\"mynet\",\"Id\":\"eoplw6dk2ynxh0ril8j1c78e5\","
	"\"Scope\":\"swarm\",\"Driver\":\"overlay\",\"Containers\":null,"
	"\"Labels\":{\"a\":\"b\",\"c\":\"\"}}",
	"{\"Name\":\"none\",\"Id\":\"709b165b40cc340aae51f1ab127f27ea611761576"
	"fcae78a2b503fbc1eb9efb0\",\"Scope\":\"local\",\"Driver\":\"null\","
	"\"Containers\":{},\"Labels\":{}}",
	"{\"Name\":\"host\",\"Id\":\"7ea6f15437586b59f939a466b17b285923f48e377"
	"13e6bc12e0f7ee09cd53d17\",\"Scope\":\"local\",\"Driver\":\"host\","
	"\"Containers\":{},\"Labels\":{}}",
	"{\"Name\":\"br1\",\"Id\":\"2e4abefe9b0d622bb16e7ed19dd1bdb826ba27bda8"
	"f45ac8f6d3436e82117a8e\",\"Scope\":\"local\",\"Driver\":\"bridge\","
	"\"Containers\":{},\"Labels\":{\"a\":\"x\"}}",
};
enum { N_NETS = sizeof(NETS) / sizeof(NETS[0]) };

/* The names that pass filter (JSON text), space-separated in NETS order. */
static void names_matching(const char *filter, char *out, size_t n)
{
	struct filters f;
	struct sw_err err;

	out[0] = '\0';
	assert_int_equal(filters_parse(filter, &f, &err), 0);
	assert_int_equal(netfilter_check(&f, &err), 0);
	for (size_t i = 0; i < N_NETS; i++) {
		struct json_object *net =
			jsonx_parse(NETS[i], strlen(NETS[i]), &err);
		struct json_object *name = NULL;

		assert_non_null(net);
		json_object_object_get_ex(net, "Name", &name);
		if (netfilter_match(&f, net)) {
			if (out[0] != '\0')
				strncat(out, " ", n - strlen(out) - 1);
			strncat(out, json_object_get_string(name),
				n - strlen(out) - 1);
		}
		json_object_put(net);
	}
	filters_free(&f);
}

static void expect(const char *filter, const char *want)
{
	char got[256];

	names_matching(filter, got, sizeof(got));
	assert_string_equal(got, want);
}

static void test_name(void **state)
{
	(void)state;
	/* SwarmKit filters swarm networks by exact name first. */
	expect("{\"name\":{\"ngr\":true}}", "");
	expect("{\"name\":{\"mynet\":true}}", "mynet");
	/* Local networks: a substring. */
	expect("{\"name\":[\"o\"]}", "none host");
	expect("{\"name\":{\"ingress\":true,\"br\":true}}", "ingress br1");
}

static void test_id(void **state)
{
	(void)state;
	expect("{\"id\":{\"eop\":true}}", "mynet");
	expect("{\"id\":{\"plw6\":true}}", "");   /* swarm: a prefix only */
	expect("{\"id\":{\"b165b\":true}}", "none"); /* local: a substring */
}

static void test_driver_scope_label(void **state)
{
	(void)state;
	expect("{\"driver\":{\"overlay\":true}}", "ingress mynet");
	expect("{\"driver\":{\"over\":true}}", "");
	expect("{\"scope\":{\"local\":true}}", "none host br1");
	expect("{\"scope\":{\"bogus\":true}}", "");
	expect("{\"label\":{\"a\":true}}", "mynet br1");
	expect("{\"label\":{\"a=b\":true}}", "mynet");
	expect("{\"label\":{\"c=\":true}}", "mynet");
	expect("{\"label\":{\"a=c\":true}}", "");
	expect("{\"driver\":{\"overlay\":true},\"label\":{\"a\":true}}",
	       "mynet");
}

static void test_type_dangling(void **state)
{
	(void)state;
	expect("{\"type\":{\"builtin\":true}}", "none host");
	expect("{\"type\":{\"custom\":true}}", "ingress mynet br1");
	expect("{\"type\":{\"custom\":true,\"builtin\":true}}",
	       "ingress mynet none host br1");
	expect("{\"dangling\":{\"true\":true}}", "ingress mynet br1");
	expect("{\"dangling\":{\"1\":true}}", "ingress mynet br1");
	expect("{\"dangling\":{\"false\":true}}", "none host");
}

static void check_fails(const char *filter, int kind, const char *msg)
{
	struct filters f;
	struct sw_err err;

	assert_int_equal(filters_parse(filter, &f, &err), 0);
	assert_int_equal(netfilter_check(&f, &err), -kind);
	assert_string_equal(err.msg, msg);
	filters_free(&f);
}

static void test_bad_filters(void **state)
{
	(void)state;
	check_fails("{\"nosuch\":{\"x\":true}}", SW_EINVALID,
		    "Invalid filter 'nosuch'");
	check_fails("{\"type\":{\"bogus\":true}}", SW_ESYSTEM,
		    "invalid filter: 'type'='bogus'");
	check_fails("{\"dangling\":{\"maybe\":true}}", SW_EINVALID,
		    "invalid value for filter 'dangling', must be \"true\" "
		    "(or \"1\"), or \"false\" (or \"0\")");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_id),
		cmocka_unit_test(test_driver_scope_label),
		cmocka_unit_test(test_type_dangling),
		cmocka_unit_test(test_bad_filters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
