/* orchestrator/ipam: CIDR parsing, overlap, subnet allocation from the
 * swarm's DefaultAddrPool and host allocation inside a subnet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "orchestrator/ipam.h"

static struct ipam_subnet net(const char *text)
{
	struct ipam_subnet n;

	assert_int_equal(ipam_parse(text, &n), 0);
	return n;
}

static void assert_subnet(const struct ipam_subnet *n, const char *want)
{
	char text[IPAM_CIDR_MAX];

	ipam_format(n, text);
	assert_string_equal(text, want);
}

static void test_parse(void **state)
{
	struct ipam_subnet n;
	uint32_t a;

	(void)state;
	n = net("10.9.0.5/24");
	assert_subnet(&n, "10.9.0.0/24"); /* host bits cleared, as Go's */
	n = net("0.0.0.0/0");
	assert_int_equal(ipam_size(&n), (uint64_t)1 << 32);
	assert_int_equal(ipam_parse("10.9.0.0/33", &n), -1);
	assert_int_equal(ipam_parse("nonsense", &n), -1);
	assert_int_equal(ipam_parse("", &n), -1);
	assert_int_equal(ipam_parse("10.0.0.0/", &n), -1);
	assert_int_equal(ipam_parse("10.0.0.0/24x", &n), -1);
	assert_int_equal(ipam_parse("10.0.0/24", &n), -1);
	assert_int_equal(ipam_parse("::1/64", &n), -1);
	assert_int_equal(ipam_parse_addr("10.0.1.254", &a), 0);
	assert_int_equal(a, 0x0A0001FEu);
	assert_int_equal(ipam_parse_addr("10.0.1", &a), -1);
}

static void test_overlap_and_contains(void **state)
{
	struct ipam_subnet a = net("10.0.0.0/8"), b = net("10.0.1.0/24");
	struct ipam_subnet c = net("10.0.2.0/24"), d = net("192.168.0.0/16");
	uint32_t gw;

	(void)state;
	assert_true(ipam_overlap(&a, &b));
	assert_true(ipam_overlap(&b, &a));
	assert_false(ipam_overlap(&b, &c));
	assert_false(ipam_overlap(&a, &d));
	assert_true(ipam_overlap(&b, &b));
	assert_int_equal(ipam_parse_addr("10.0.1.7", &gw), 0);
	assert_true(ipam_contains(&b, gw));
	assert_false(ipam_contains(&c, gw));
}

/* The default pool hands out 10.0.0.0/24 (ingress), then the next free
 * /24s in order, skipping what is in use, whatever its size. */
static void test_alloc_default_pool(void **state)
{
	struct ipam_subnet pool = net(IPAM_DEFAULT_POOL), out;
	struct ipam_subnet used[3];
	struct sw_err err;

	(void)state;
	assert_int_equal(ipam_alloc_subnet(&pool, 1, 24, NULL, 0, &out, &err),
			 0);
	assert_subnet(&out, "10.0.0.0/24");
	used[0] = out;
	used[1] = net("10.0.1.0/24");
	assert_int_equal(ipam_alloc_subnet(&pool, 1, 24, used, 2, &out, &err),
			 0);
	assert_subnet(&out, "10.0.2.0/24");
	/* A user /16 in the pool pushes the next block past it. */
	used[2] = net("10.0.0.0/16");
	assert_int_equal(ipam_alloc_subnet(&pool, 1, 24, used, 3, &out, &err),
			 0);
	assert_subnet(&out, "10.1.0.0/24");
	/* A freed block is reused. */
	assert_int_equal(ipam_alloc_subnet(&pool, 1, 24, &used[1], 1, &out,
					   &err),
			 0);
	assert_subnet(&out, "10.0.0.0/24");
}

/* swarm init --default-addr-pool 10.20.0.0/16 --default-addr-pool
 * 10.30.0.0/16 --default-addr-pool-mask-length 26. */
static void test_alloc_custom_pools(void **state)
{
	struct ipam_subnet pools[2] = {net("10.20.0.0/25"),
				       net("10.30.0.0/16")};
	struct ipam_subnet used[2], out;
	struct sw_err err;

	(void)state;
	assert_int_equal(
		ipam_alloc_subnet(pools, 2, 26, NULL, 0, &out, &err), 0);
	assert_subnet(&out, "10.20.0.0/26");
	used[0] = out;
	assert_int_equal(
		ipam_alloc_subnet(pools, 2, 26, used, 1, &out, &err), 0);
	assert_subnet(&out, "10.20.0.64/26");
	used[1] = out;
	/* The first pool is full: the second one serves. */
	assert_int_equal(
		ipam_alloc_subnet(pools, 2, 26, used, 2, &out, &err), 0);
	assert_subnet(&out, "10.30.0.0/26");
}

static void test_alloc_exhausted(void **state)
{
	struct ipam_subnet pool = net("10.40.0.0/24"), used = pool, out;
	struct sw_err err;

	(void)state;
	sw_err_clear(&err);
	assert_int_equal(ipam_alloc_subnet(&pool, 1, 24, &used, 1, &out, &err),
			 -SW_ESYSTEM);
	assert_non_null(strstr(err.msg, "could not find an available"));
	/* A block larger than the pool never fits. */
	assert_int_equal(ipam_alloc_subnet(&pool, 1, 16, NULL, 0, &out, &err),
			 -SW_ESYSTEM);
}

static void test_alloc_host(void **state)
{
	uint8_t used[8] = {0};

	(void)state;
	assert_int_equal(ipam_alloc_host(used, 8, 2), 2);
	used[2] = used[3] = 1;
	assert_int_equal(ipam_alloc_host(used, 8, 2), 4);
	used[4] = used[5] = used[6] = 1;
	/* .7 of a /29 is the broadcast address. */
	assert_int_equal(ipam_alloc_host(used, 8, 2), 0);
	assert_int_equal(ipam_alloc_host(used, 8, 0), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_overlap_and_contains),
		cmocka_unit_test(test_alloc_default_pool),
		cmocka_unit_test(test_alloc_custom_pools),
		cmocka_unit_test(test_alloc_exhausted),
		cmocka_unit_test(test_alloc_host),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
