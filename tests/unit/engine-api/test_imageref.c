/* engine-api/imageref: Docker's reference normalization, the familiar
 * form, image ID prefixes and the `reference` filter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "engine-api/imageref.h"

#define HEX64 "7bbbc0b16453dfc6289de6b1c5673bdbc24471490ca47952421c5e770a9fe42d"

static void check_norm(const char *in, const char *want)
{
	char out[IMAGEREF_MAX];
	struct sw_err err;

	sw_err_clear(&err);
	if (imageref_normalize(in, out, sizeof(out), &err) != 0)
		fail_msg("%s: %s", in, err.msg);
	assert_string_equal(out, want);
}

static void check_bad(const char *in, const char *msg)
{
	char out[IMAGEREF_MAX];
	struct sw_err err;

	sw_err_clear(&err);
	assert_int_not_equal(imageref_normalize(in, out, sizeof(out), &err), 0);
	assert_int_equal(err.kind, SW_EINVALID);
	assert_string_equal(err.msg, msg);
}

static void test_normalize(void **state)
{
	(void)state;
	check_norm("busybox", "docker.io/library/busybox:latest");
	check_norm("busybox:1.36", "docker.io/library/busybox:1.36");
	check_norm("library/busybox", "docker.io/library/busybox:latest");
	check_norm("me/app", "docker.io/me/app:latest");
	check_norm("me/sub/app:v1", "docker.io/me/sub/app:v1");
	check_norm("docker.io/busybox", "docker.io/library/busybox:latest");
	check_norm("index.docker.io/busybox",
		   "docker.io/library/busybox:latest");
	check_norm("localhost/app", "localhost/app:latest");
	check_norm("localhost:5000/app", "localhost:5000/app:latest");
	check_norm("127.0.0.5:5000/busybox", "127.0.0.5:5000/busybox:latest");
	check_norm("127.0.0.5:5000/busybox:v1", "127.0.0.5:5000/busybox:v1");
	check_norm("Registry.Example.com/app",
		   "Registry.Example.com/app:latest");
	check_norm("me/a_b__c-d.e---f", "docker.io/me/a_b__c-d.e---f:latest");
	check_norm("busybox@sha256:" HEX64,
		   "docker.io/library/busybox@sha256:" HEX64);
	check_norm("busybox:v1@sha256:" HEX64,
		   "docker.io/library/busybox:v1@sha256:" HEX64);
	/* "sha256:abc" reads as a repository "sha256" with tag "abc". */
	check_norm("sha256:7bbb", "docker.io/library/sha256:7bbb");
}

static void test_invalid(void **state)
{
	(void)state;
	check_bad("BusyBox", "invalid reference format: repository name must "
			     "be lowercase");
	check_bad("me/App:v1", "invalid reference format: repository name "
			       "must be lowercase");
	check_bad(HEX64, "invalid repository name (" HEX64 "), cannot specify "
			 "64-byte hexadecimal strings");
	check_bad("", "invalid reference format");
	check_bad("busybox:", "invalid reference format");
	check_bad("busybox:-x", "invalid reference format");
	check_bad("-busybox", "invalid reference format");
	check_bad("busy..box", "invalid reference format");
	check_bad("a//b", "invalid reference format");
	check_bad("busybox@sha256:abc", "invalid reference format");
	check_bad("host:port/x", "invalid reference format");
	check_bad("x/", "invalid reference format");
	/* A first component with a '.' is a domain, where '_' is not
	 * allowed. */
	check_bad("a_b.c/x", "invalid reference format");
}

static void check_fam(const char *full, bool tag, const char *want)
{
	char out[IMAGEREF_MAX];

	imageref_familiar(full, tag, out, sizeof(out));
	assert_string_equal(out, want);
}

static void test_familiar(void **state)
{
	(void)state;
	check_fam("docker.io/library/busybox:latest", true, "busybox:latest");
	check_fam("docker.io/library/busybox:latest", false, "busybox");
	check_fam("docker.io/me/app:1", true, "me/app:1");
	check_fam("docker.io/library/a/b:1", true, "library/a/b:1");
	check_fam("127.0.0.5:5000/busybox:v1", true,
		  "127.0.0.5:5000/busybox:v1");
	check_fam("127.0.0.5:5000/busybox:v1", false, "127.0.0.5:5000/busybox");
	check_fam("localhost:5000/busybox", false, "localhost:5000/busybox");
	check_fam("docker.io/library/busybox@sha256:" HEX64, true,
		  "busybox@sha256:" HEX64);
	check_fam("docker.io/library/busybox@sha256:" HEX64, false, "busybox");
}

static void test_ids(void **state)
{
	(void)state;
	assert_true(imageref_is_id_prefix("7bbb"));
	assert_true(imageref_is_id_prefix("sha256:7bbb"));
	assert_true(imageref_is_id_prefix(HEX64));
	assert_false(imageref_is_id_prefix(""));
	assert_false(imageref_is_id_prefix("busybox"));
	assert_false(imageref_is_id_prefix(HEX64 "0"));
	assert_true(imageref_id_matches("sha256:" HEX64, "7bbbc0"));
	assert_true(imageref_id_matches("sha256:" HEX64, "sha256:7bbbc0"));
	assert_false(imageref_id_matches("sha256:" HEX64, "7bbbc1"));
	assert_false(imageref_id_matches("sha256:" HEX64, "sha256:"));
	assert_true(imageref_valid_tag("v1.0_rc-2"));
	assert_false(imageref_valid_tag(".x"));
}

static void test_match(void **state)
{
	(void)state;
	assert_true(
	    imageref_match("busybox", "docker.io/library/busybox:latest"));
	assert_true(imageref_match("busybox:latest",
				   "docker.io/library/busybox:latest"));
	assert_true(
	    imageref_match("busy*", "docker.io/library/busybox:latest"));
	assert_false(
	    imageref_match("busybox:v1", "docker.io/library/busybox:latest"));
	assert_false(imageref_match("box", "docker.io/library/busybox:latest"));
	assert_true(imageref_match("me/*", "docker.io/me/app:1"));
	/* '*' does not cross a '/'. */
	assert_false(imageref_match("*", "docker.io/me/app:1"));
	assert_true(imageref_match("127.0.0.5:5000/busybox",
				   "127.0.0.5:5000/busybox:v1"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_normalize), cmocka_unit_test(test_invalid),
	    cmocka_unit_test(test_familiar),  cmocka_unit_test(test_ids),
	    cmocka_unit_test(test_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
