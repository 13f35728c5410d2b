/* Listen and advertise address resolution, as Docker does it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/netaddr.h"

static const struct netaddr_iface one[] = {
	{"lo", "127.0.0.1", true},
	{"eth0", "192.0.2.2", false},
};

static const struct netaddr_iface two[] = {
	{"lo", "127.0.0.1", true},
	{"eth0", "192.0.2.2", false},
	{"eth1", "198.51.100.7", false},
};

static void test_resolve_forms(void **state)
{
	struct netaddr a;
	struct sw_err err;

	(void)state;
	assert_int_equal(netaddr_resolve("127.0.0.11:4567", 2377, one, 2, &a,
					 &err),
			 0);
	assert_string_equal(a.host, "127.0.0.11");
	assert_int_equal(a.port, 4567);
	assert_int_equal(netaddr_resolve("127.0.0.11", 2377, one, 2, &a, &err),
			 0);
	assert_int_equal(a.port, 2377);
	assert_int_equal(netaddr_resolve("eth0:4000", 2377, one, 2, &a, &err),
			 0);
	assert_string_equal(a.host, "192.0.2.2");
	assert_int_equal(a.port, 4000);
	assert_int_equal(netaddr_resolve("nosuch0", 2377, one, 2, &a, &err),
			 -SW_EINVALID);
	assert_int_equal(netaddr_resolve("1.2.3.4:99999", 2377, one, 2, &a,
					 &err),
			 -SW_EINVALID);
}

static void test_auto_advertise(void **state)
{
	struct netaddr listen = {"0.0.0.0", 2377}, a;
	struct netaddr specific = {"127.0.0.12", 2377};
	struct sw_err err;

	(void)state;
	assert_int_equal(netaddr_auto_advertise(&listen, one, 2, &a, &err), 0);
	assert_string_equal(a.host, "192.0.2.2");
	assert_int_equal(netaddr_auto_advertise(&specific, two, 3, &a, &err),
			 0);
	assert_string_equal(a.host, "127.0.0.12");
	assert_int_equal(netaddr_auto_advertise(&listen, one, 1, &a, &err),
			 -SW_EINVALID);
	assert_string_equal(err.msg, "could not find the system's IP address");
	assert_int_equal(netaddr_auto_advertise(&listen, two, 3, &a, &err),
			 -SW_EINVALID);
	assert_string_equal(err.msg,
			    "could not choose an IP address to advertise "
			    "since this system has multiple addresses on "
			    "different interfaces (192.0.2.2 on eth0 and "
			    "198.51.100.7 on eth1)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve_forms),
		cmocka_unit_test(test_auto_advertise),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
