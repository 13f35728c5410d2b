/* daemon/containerd: the configuration text of the managed containerd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "daemon/containerd.h"

static char *text;

static int setup(void **state)
{
	(void)state;
	text = ctd_config_text("/d/containerd/root", "/e/containerd/state",
			       "/e/containerd/containerd.sock",
			       "/e/containerd/runc", "/d/containerd/cni/net.d",
			       "/d/containerd/opt");
	return text != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(text);
	text = NULL;
	return 0;
}

static void assert_line(const char *line)
{
	const char *p = text;
	size_t n = strlen(line);

	/* line must appear as a whole line (leading indentation allowed). */
	while ((p = strstr(p, line)) != NULL) {
		bool start = p == text || p[-1] == '\n' || p[-1] == ' ';
		bool end = p[n] == '\n' || p[n] == '\0';

		if (start && end)
			return;
		p += n;
	}
	fail_msg("line not found: %s\n--- config ---\n%s", line, text);
}

static void test_cri_settings(void **state)
{
	(void)state;
	assert_line("restrict_oom_score_adj = true");
	assert_line("sandbox_image = \"swarmd.local/pause:1\"");
	assert_line("sandbox_image = \"" CTD_PAUSE_IMAGE "\"");
	assert_line("stream_server_port = \"0\"");
	assert_line("stream_server_address = \"127.0.0.1\"");
	assert_line("version = 2");
}

static void test_paths(void **state)
{
	(void)state;
	assert_line("root = \"/d/containerd/root\"");
	assert_line("state = \"/e/containerd/state\"");
	assert_line("address = \"/e/containerd/containerd.sock\"");
	assert_line("address = \"/e/containerd/containerd.sock.ttrpc\"");
	assert_line("Root = \"/e/containerd/runc\"");
	assert_line("conf_dir = \"/d/containerd/cni/net.d\"");
	assert_line("path = \"/d/containerd/opt\"");
}

static void test_runc(void **state)
{
	(void)state;
	assert_line("BinaryName = \"/usr/sbin/runc\"");
	assert_line("SystemdCgroup = false");
	assert_line("runtime_type = \"io.containerd.runc.v2\"");
	assert_line("default_runtime_name = \"runc\"");
}

/* The CRI plugin's tables are all there, under the v2 names. */
static void test_sections(void **state)
{
	(void)state;
	assert_line("[plugins.\"io.containerd.grpc.v1.cri\"]");
	assert_line("[plugins.\"io.containerd.grpc.v1.cri\".containerd]");
	assert_line("[plugins.\"io.containerd.grpc.v1.cri\".containerd."
		    "runtimes.runc]");
	assert_line("[plugins.\"io.containerd.grpc.v1.cri\".containerd."
		    "runtimes.runc.options]");
	assert_line("[plugins.\"io.containerd.grpc.v1.cri\".cni]");
	assert_line("[grpc]");
	/* CRI is not disabled. */
	assert_null(strstr(text, "disabled_plugins = [\"io.containerd.grpc"));
	assert_null(strstr(text, "\"cri\"]"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cri_settings),
	    cmocka_unit_test(test_paths),
	    cmocka_unit_test(test_runc),
	    cmocka_unit_test(test_sections),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
