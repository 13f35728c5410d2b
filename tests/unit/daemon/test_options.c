/* daemon/options: the command line and daemon.json. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/options.h"
#include "lib/fsutil.h"

/* Paths live in static storage: getopt keeps pointers into argv strings
 * between calls. */
static char tmpdir[64];
static char cfg_path[128];
static char cfg_arg[160];

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/swarmd-ut-options-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(cfg_path, sizeof(cfg_path), "%s/daemon.json", tmpdir);
	snprintf(cfg_arg, sizeof(cfg_arg), "--config-file=%s", cfg_path);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	unlink(cfg_path);
	return rmdir(tmpdir);
}

static void write_cfg(const char *text)
{
	struct sw_err err;

	sw_err_clear(&err);
	if (fsutil_write_file(cfg_path, text, &err) != 0)
		fail_msg("writing %s: %s", cfg_path, err.msg);
}

/* Parses argv expecting success; o must be freed by the caller. */
static void parse_ok(struct options *o, int argc, char **argv)
{
	struct sw_err err;

	sw_err_clear(&err);
	if (options_parse(o, argc, argv, &err) != 0) {
		options_free(o);
		fail_msg("options_parse failed: %s", err.msg);
	}
}

/* Parses argv expecting failure; returns the message in msg. */
static void parse_fails(int argc, char **argv, char *msg, size_t n)
{
	struct options o;
	struct sw_err err;
	int rc;

	sw_err_clear(&err);
	rc = options_parse(&o, argc, argv, &err);
	options_free(&o);
	if (rc == 0)
		fail_msg("options_parse accepted %s %s", argv[0],
			 argc > 1 ? argv[1] : "");
	assert_int_equal(rc, -1);
	assert_true(err.kind != SW_EOK);
	assert_true(err.msg[0] != '\0');
	snprintf(msg, n, "%s", err.msg);
}

static void assert_contains(const char *msg, const char *part)
{
	if (strstr(msg, part) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", msg, part);
}

/* ---- command line ---- */

static void test_defaults(void **state)
{
	char *argv[] = {"swarmd"};
	struct options o;

	(void)state;
	if (access(SWARMD_DEFAULT_CONFIG, F_OK) == 0)
		skip();
	parse_ok(&o, ARGC(argv), argv);
	assert_string_equal(o.host, "/var/run/swarmd.sock");
	assert_string_equal(o.data_root, "/var/lib/swarmd");
	assert_string_equal(o.exec_root, "/var/run/swarmd");
	assert_string_equal(o.pidfile, "/var/run/swarmd/swarmd.pid");
	assert_string_equal(o.log_level, "info");
	assert_null(o.containerd);
	assert_null(o.config_file);
	assert_null(o.labels);
	assert_false(o.debug);
	assert_false(o.show_help);
	assert_false(o.show_version);
	options_free(&o);
}

static void test_flags(void **state)
{
	char *argv[] = {"swarmd",
			"-H",
			"unix:///x/y.sock",
			"--data-root",
			"/d",
			"--exec-root=/e",
			"--containerd",
			"/run/containerd/containerd.sock",
			"-l",
			"warn",
			"--label",
			"a=b",
			"--label=c=d",
			cfg_arg};
	struct options o;

	(void)state;
	write_cfg("{}");
	parse_ok(&o, ARGC(argv), argv);
	assert_string_equal(o.host, "/x/y.sock");
	assert_string_equal(o.data_root, "/d");
	assert_string_equal(o.exec_root, "/e");
	assert_string_equal(o.containerd, "/run/containerd/containerd.sock");
	assert_string_equal(o.log_level, "warn");
	assert_string_equal(o.config_file, cfg_path);
	/* The pid file follows the exec root. */
	assert_string_equal(o.pidfile, "/e/swarmd.pid");
	assert_non_null(o.labels);
	assert_string_equal(o.labels[0], "a=b");
	assert_string_equal(o.labels[1], "c=d");
	assert_null(o.labels[2]);
	options_free(&o);
}

static void test_host_forms(void **state)
{
	char *bare[] = {"swarmd", "--host=/run/s.sock", cfg_arg};
	char *tcp[] = {"swarmd", "-H", "tcp://1.2.3.4:2375", cfg_arg};
	char *rel[] = {"swarmd", "-H", "unix://rel.sock", cfg_arg};
	char msg[512];
	struct options o;

	(void)state;
	write_cfg("{}");
	parse_ok(&o, ARGC(bare), bare);
	assert_string_equal(o.host, "/run/s.sock");
	options_free(&o);
	parse_fails(ARGC(tcp), tcp, msg, sizeof(msg));
	assert_contains(msg, "tcp://1.2.3.4:2375");
	parse_fails(ARGC(rel), rel, msg, sizeof(msg));
	assert_contains(msg, "rel.sock");
}

static void test_pidfile_flag(void **state)
{
	char *argv[] = {"swarmd",      "-p", "/run/x.pid",
			"--exec-root", "/e", cfg_arg};
	struct options o;

	(void)state;
	write_cfg("{}");
	parse_ok(&o, ARGC(argv), argv);
	assert_string_equal(o.pidfile, "/run/x.pid");
	options_free(&o);
}

static void test_relative_roots(void **state)
{
	char *data[] = {"swarmd", "--data-root", "var/lib", cfg_arg};
	char *exec[] = {"swarmd", "--exec-root", "run", cfg_arg};
	char msg[512];

	(void)state;
	write_cfg("{}");
	parse_fails(ARGC(data), data, msg, sizeof(msg));
	assert_contains(msg, "absolute");
	parse_fails(ARGC(exec), exec, msg, sizeof(msg));
	assert_contains(msg, "absolute");
}

static void test_debug(void **state)
{
	char *lng[] = {"swarmd", "--debug", cfg_arg};
	char *shrt[] = {"swarmd", "-D", cfg_arg};
	struct options o;

	(void)state;
	write_cfg("{}");
	parse_ok(&o, ARGC(lng), lng);
	assert_true(o.debug);
	assert_string_equal(o.log_level, "debug");
	options_free(&o);
	parse_ok(&o, ARGC(shrt), shrt);
	assert_true(o.debug);
	assert_string_equal(o.log_level, "debug");
	options_free(&o);
}

static void test_log_level(void **state)
{
	char *good[] = {"swarmd", "--log-level", "error", cfg_arg};
	char *bad[] = {"swarmd", "--log-level", "bogus", cfg_arg};
	char msg[512];
	struct options o;

	(void)state;
	write_cfg("{}");
	parse_ok(&o, ARGC(good), good);
	assert_string_equal(o.log_level, "error");
	options_free(&o);
	parse_fails(ARGC(bad), bad, msg, sizeof(msg));
	assert_string_equal(msg, "unable to parse logging level: bogus");
}

static void test_version_and_help(void **state)
{
	char *ver[] = {"swarmd", "--version"};
	char *v[] = {"swarmd", "-v"};
	char *help[] = {"swarmd", "--help"};
	char *h[] = {"swarmd", "-h"};
	struct options o;

	(void)state;
	parse_ok(&o, ARGC(ver), ver);
	assert_true(o.show_version);
	assert_false(o.show_help);
	options_free(&o);
	parse_ok(&o, ARGC(v), v);
	assert_true(o.show_version);
	options_free(&o);
	parse_ok(&o, ARGC(help), help);
	assert_true(o.show_help);
	assert_false(o.show_version);
	options_free(&o);
	parse_ok(&o, ARGC(h), h);
	assert_true(o.show_help);
	options_free(&o);
}

static void test_usage_lists_flags(void **state)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);

	(void)state;
	assert_non_null(f);
	options_usage(f);
	assert_int_equal(fclose(f), 0);
	assert_contains(text, "--data-root");
	assert_contains(text, "--config-file");
	assert_contains(text, SWARMD_DEFAULT_HOST);
	free(text);
}

static void test_unknown_flag(void **state)
{
	char *lng[] = {"swarmd", "--nosuch"};
	char *shrt[] = {"swarmd", "-z"};
	char *missing[] = {"swarmd", "--data-root"};
	char msg[512];

	(void)state;
	parse_fails(ARGC(lng), lng, msg, sizeof(msg));
	assert_contains(msg, "--nosuch");
	parse_fails(ARGC(shrt), shrt, msg, sizeof(msg));
	assert_contains(msg, "z");
	parse_fails(ARGC(missing), missing, msg, sizeof(msg));
	assert_contains(msg, "--data-root");
}

static void test_positional_argument(void **state)
{
	char *first[] = {"swarmd", "foo"};
	char *mid[] = {"swarmd", "foo", "--debug"};
	char msg[512];

	(void)state;
	parse_fails(ARGC(first), first, msg, sizeof(msg));
	assert_contains(msg, "foo");
	parse_fails(ARGC(mid), mid, msg, sizeof(msg));
	assert_contains(msg, "foo");
}

/* An unknown letter inside a group of short flags is named, not whatever
 * argument precedes the group. */
static void test_unknown_short_in_group(void **state)
{
	char *argv[] = {"swarmd", "-zD"};
	char msg[512];

	(void)state;
	parse_fails(ARGC(argv), argv, msg, sizeof(msg));
	assert_contains(msg, "'z'");
}

/* A failed parse leaves nothing behind for the next one: options_parse is
 * a function, not a one-shot. */
static void test_parse_state_not_carried_over(void **state)
{
	char *bad[] = {"swarmd", "-zD"};
	char *good[] = {"swarmd", cfg_arg};
	char msg[512];
	struct options o;
	bool debug;

	(void)state;
	write_cfg("{}");
	parse_fails(ARGC(bad), bad, msg, sizeof(msg));
	parse_ok(&o, ARGC(good), good);
	debug = o.debug;
	options_free(&o);
	if (debug)
		fail_msg("-D of a previous, failed argv was applied");
}

/* ---- configuration file ---- */

static void test_config_file_applied(void **state)
{
	char *argv[] = {"swarmd", cfg_arg};
	struct options o;

	(void)state;
	write_cfg("{\"data-root\":\"/tmp/x\",\"labels\":[\"a=b\"],"
		  "\"debug\":true}\n");
	parse_ok(&o, ARGC(argv), argv);
	assert_string_equal(o.data_root, "/tmp/x");
	assert_non_null(o.labels);
	assert_string_equal(o.labels[0], "a=b");
	assert_null(o.labels[1]);
	assert_true(o.debug);
	assert_string_equal(o.log_level, "debug");
	/* Untouched directives keep their defaults. */
	assert_string_equal(o.exec_root, "/var/run/swarmd");
	assert_string_equal(o.host, "/var/run/swarmd.sock");
	options_free(&o);
}

static void test_config_file_all_keys(void **state)
{
	char *argv[] = {"swarmd", "--config-file", cfg_path};
	struct options o;

	(void)state;
	write_cfg("{\"hosts\":[\"unix:///h/s.sock\"],\"exec-root\":\"/e\","
		  "\"containerd\":\"/c.sock\",\"log-level\":\"warn\","
		  "\"pidfile\":\"/p.pid\",\"debug\":false}");
	parse_ok(&o, ARGC(argv), argv);
	assert_string_equal(o.host, "/h/s.sock");
	assert_string_equal(o.exec_root, "/e");
	assert_string_equal(o.containerd, "/c.sock");
	assert_string_equal(o.log_level, "warn");
	assert_string_equal(o.pidfile, "/p.pid");
	assert_false(o.debug);
	options_free(&o);
}

static void test_config_and_flag_conflict(void **state)
{
	char *argv[] = {"swarmd", "--data-root", "/d", cfg_arg};
	char *labels[] = {"swarmd", "--label", "x=y", cfg_arg};
	char msg[512];

	(void)state;
	write_cfg("{\"data-root\":\"/tmp/x\"}");
	parse_fails(ARGC(argv), argv, msg, sizeof(msg));
	assert_contains(msg, "the following directives are specified both "
			     "as a flag and in the configuration file: "
			     "data-root");
	assert_contains(msg, cfg_path);
	write_cfg("{\"labels\":[\"a=b\"]}");
	parse_fails(ARGC(labels), labels, msg, sizeof(msg));
	assert_contains(msg, "configuration file: labels");
}

static void test_config_unknown_key(void **state)
{
	char *argv[] = {"swarmd", cfg_arg};
	char msg[512];

	(void)state;
	write_cfg("{\"nosuch\":1}");
	parse_fails(ARGC(argv), argv, msg, sizeof(msg));
	assert_contains(msg, "the following directives don't match any "
			     "configuration option: nosuch");
	write_cfg("{\"nosuch\":1,\"data-root\":\"/d\",\"other\":true}");
	parse_fails(ARGC(argv), argv, msg, sizeof(msg));
	assert_contains(msg, "configuration option: nosuch, other");
}

static void test_config_hosts(void **state)
{
	char *argv[] = {"swarmd", cfg_arg};
	char msg[512];

	(void)state;
	write_cfg("{\"hosts\":[\"unix:///a.sock\",\"unix:///b.sock\"]}");
	parse_fails(ARGC(argv), argv, msg, sizeof(msg));
	assert_contains(msg, "hosts");
	write_cfg("{\"hosts\":[\"tcp://0.0.0.0:2375\"]}");
	parse_fails(ARGC(argv), argv, msg, sizeof(msg));
	write_cfg("{\"hosts\":[5]}");
	parse_fails(ARGC(argv), argv, msg, sizeof(msg));
	write_cfg("{\"hosts\":\"unix:///a.sock\"}");
	parse_fails(ARGC(argv), argv, msg, sizeof(msg));
}

static void test_config_bad_values(void **state)
{
	char *argv[] = {"swarmd", cfg_arg};
	char msg[512];

	(void)state;
	write_cfg("{\"data-root\":5}");
	parse_fails(ARGC(argv), argv, msg, sizeof(msg));
	assert_contains(msg, "data-root");
	write_cfg("{\"labels\":[\"a\",1]}");
	parse_fails(ARGC(argv), argv, msg, sizeof(msg));
	assert_contains(msg, "labels");
	write_cfg("{\"debug\":\"yes\"}");
	parse_fails(ARGC(argv), argv, msg, sizeof(msg));
	assert_contains(msg, "debug");
	write_cfg("{\"log-level\":\"bogus\"}");
	parse_fails(ARGC(argv), argv, msg, sizeof(msg));
	assert_string_equal(msg, "unable to parse logging level: bogus");
	write_cfg("{\"data-root\":\"rel\"}");
	parse_fails(ARGC(argv), argv, msg, sizeof(msg));
	assert_contains(msg, "absolute");
}

static void test_config_malformed(void **state)
{
	char *argv[] = {"swarmd", cfg_arg};
	char msg[512];

	(void)state;
	write_cfg("{\"data-root\":");
	parse_fails(ARGC(argv), argv, msg, sizeof(msg));
	assert_contains(msg, "unable to configure the daemon with file");
	assert_contains(msg, cfg_path);
	assert_contains(msg, "unexpected EOF");
	write_cfg("");
	parse_fails(ARGC(argv), argv, msg, sizeof(msg));
	write_cfg("[\"data-root\"]");
	parse_fails(ARGC(argv), argv, msg, sizeof(msg));
	assert_contains(msg, "expected a JSON object");
	write_cfg("{'debug':true}");
	parse_fails(ARGC(argv), argv, msg, sizeof(msg));
}

static void test_config_missing(void **state)
{
	char *argv[] = {"swarmd", "--config-file",
			"/nonexistent/swarmd-ut/daemon.json"};
	char msg[512];

	(void)state;
	parse_fails(ARGC(argv), argv, msg, sizeof(msg));
	assert_contains(msg, "/nonexistent/swarmd-ut/daemon.json");
}

/* ---- options_apply_json ---- */

static void test_apply_json(void **state)
{
	const char *text = "{\"data-root\":\"/a\",\"exec-root\":\"/b\","
			   "\"labels\":[\"k=v\",\"x=y\"]}";
	struct options o;
	struct sw_err err;

	(void)state;
	memset(&o, 0, sizeof(o));
	sw_err_clear(&err);
	assert_int_equal(
	    options_apply_json(&o, text, strlen(text), "t.json", &err), 0);
	assert_string_equal(o.data_root, "/a");
	assert_string_equal(o.exec_root, "/b");
	assert_string_equal(o.labels[0], "k=v");
	assert_string_equal(o.labels[1], "x=y");
	assert_null(o.labels[2]);
	assert_null(o.host);
	/* A second file's labels add to the list; strings replace. */
	text = "{\"labels\":[\"z=1\"],\"data-root\":\"/c\",\"debug\":true}";
	assert_int_equal(
	    options_apply_json(&o, text, strlen(text), "t.json", &err), 0);
	assert_string_equal(o.data_root, "/c");
	assert_string_equal(o.labels[2], "z=1");
	assert_true(o.debug);
	options_free(&o);
	assert_null(o.data_root);
	assert_null(o.labels);
}

static void test_apply_json_nulls(void **state)
{
	const char *text = "{\"data-root\":null,\"labels\":null,"
			   "\"debug\":null}";
	struct options o;
	struct sw_err err;

	(void)state;
	memset(&o, 0, sizeof(o));
	sw_err_clear(&err);
	assert_int_equal(
	    options_apply_json(&o, text, strlen(text), "t.json", &err), 0);
	assert_null(o.data_root);
	assert_null(o.labels);
	assert_false(o.debug);
	options_free(&o);
}

static void test_apply_json_errors(void **state)
{
	struct options o;
	struct sw_err err;

	(void)state;
	memset(&o, 0, sizeof(o));
	sw_err_clear(&err);
	assert_true(options_apply_json(&o, "", 0, "/e.json", &err) < 0);
	assert_int_equal(err.kind, SW_EINVALID);
	assert_string_equal(err.msg, "unable to configure the daemon with "
				     "file /e.json: unexpected EOF");
	assert_true(options_apply_json(&o, "5", 1, "/e.json", &err) < 0);
	assert_int_equal(err.kind, SW_EINVALID);
	assert_contains(err.msg, "/e.json");
	assert_true(options_apply_json(&o, "{\"bad\":1}", 9, "/e.json", &err) <
		    0);
	assert_int_equal(err.kind, SW_EINVALID);
	assert_string_equal(err.msg,
			    "unable to configure the daemon with file /e.json: "
			    "the following directives don't match any "
			    "configuration option: bad");
	options_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_flags),
	    cmocka_unit_test(test_host_forms),
	    cmocka_unit_test(test_pidfile_flag),
	    cmocka_unit_test(test_relative_roots),
	    cmocka_unit_test(test_debug),
	    cmocka_unit_test(test_log_level),
	    cmocka_unit_test(test_version_and_help),
	    cmocka_unit_test(test_usage_lists_flags),
	    cmocka_unit_test(test_unknown_flag),
	    cmocka_unit_test(test_positional_argument),
	    cmocka_unit_test(test_config_file_applied),
	    cmocka_unit_test(test_config_file_all_keys),
	    cmocka_unit_test(test_config_and_flag_conflict),
	    cmocka_unit_test(test_config_unknown_key),
	    cmocka_unit_test(test_config_hosts),
	    cmocka_unit_test(test_config_bad_values),
	    cmocka_unit_test(test_config_malformed),
	    cmocka_unit_test(test_config_missing),
	    cmocka_unit_test(test_apply_json),
	    cmocka_unit_test(test_apply_json_nulls),
	    cmocka_unit_test(test_apply_json_errors),
	    /* Last: they probe state left behind by a failed parse. */
	    cmocka_unit_test(test_parse_state_not_carried_over),
	    cmocka_unit_test(test_unknown_short_in_group),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
