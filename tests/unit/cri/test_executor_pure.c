/* The CRI executor's pure pieces: names, labels, capabilities, users, the
 * CRI log format and reader, container status mapping, and the node's CNI
 * network configuration. No daemon, no loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "cri/cni.h"
#include "cri/executor_cri.h"

/* ---- names and labels ---- */

static void test_container_name(void **state)
{
	struct exec_task t = {.task_id = "tsk1",
			      .service_name = "web",
			      .node_id = "node9",
			      .slot = 3};
	char out[64];

	assert_int_equal(exec_cri_container_name(&t, out, sizeof(out)), 10);
	assert_string_equal(out, "web.3.tsk1");
	t.slot = 0; /* global service: the node ID stands for the slot */
	assert_int_equal(exec_cri_container_name(&t, out, sizeof(out)), 14);
	assert_string_equal(out, "web.node9.tsk1");
	assert_int_equal(exec_cri_container_name(&t, out, 14), -1);
}

static const char *find(const struct exec_kv *kv, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(kv[i].key, key) == 0)
			return kv[i].value;
	return NULL;
}

static void test_labels(void **state)
{
	const struct exec_kv user[] = {
	    {"app", "shop"},
	    {"com.docker.swarm.task.id", "spoofed"},
	};
	struct exec_task t = {.task_id = "tsk1",
			      .service_id = "svc1",
			      .service_name = "web",
			      .node_id = "node9",
			      .slot = 1,
			      .labels = user,
			      .n_labels = 2};
	struct exec_kv out[8];
	size_t n = exec_cri_labels(&t, "web.1.tsk1", out, 8);

	assert_int_equal(n, 7);
	assert_string_equal(find(out, n, "app"), "shop");
	assert_string_equal(find(out, n, EXEC_LABEL_TASK_ID), "tsk1");
	assert_string_equal(find(out, n, EXEC_LABEL_TASK_NAME), "web.1.tsk1");
	assert_string_equal(find(out, n, EXEC_LABEL_SERVICE_ID), "svc1");
	assert_string_equal(find(out, n, EXEC_LABEL_SERVICE_NAME), "web");
	assert_string_equal(find(out, n, EXEC_LABEL_NODE_ID), "node9");
	assert_string_equal(find(out, n, EXEC_LABEL_TASK), "");
	/* Bounded by cap. */
	assert_int_equal(exec_cri_labels(&t, "x", out, 3), 3);
}

static void test_capability(void **state)
{
	char out[64];
	struct sw_err err;

	assert_int_equal(exec_cri_capability("CAP_NET_ADMIN", out, 64, &err),
			 0);
	assert_string_equal(out, "NET_ADMIN");
	assert_int_equal(exec_cri_capability("net_raw", out, 64, &err), 0);
	assert_string_equal(out, "NET_RAW");
	assert_int_equal(exec_cri_capability("ALL", out, 64, &err), 0);
	assert_string_equal(out, "ALL");
	assert_int_equal(exec_cri_capability("CAP_ALL", out, 64, &err), 0);
	assert_string_equal(out, "ALL");
	assert_int_equal(exec_cri_capability("CAP_FOO", out, 64, &err),
			 -SW_EINVALID);
	assert_string_equal(err.msg, "unknown capability: \"CAP_FOO\"");
	assert_int_equal(exec_cri_capability("", out, 64, &err), -SW_EINVALID);
	assert_int_equal(exec_cri_capability("CAP_SYS_ADMIN", out, 4, &err),
			 -SW_EINVALID);
}

static void test_user(void **state)
{
	struct exec_cri_user u;
	struct sw_err err;

	assert_int_equal(exec_cri_parse_user("1000", &u, &err), 0);
	assert_true(u.has_uid);
	assert_int_equal(u.uid, 1000);
	assert_false(u.has_gid);
	assert_int_equal(exec_cri_parse_user("0:42", &u, &err), 0);
	assert_true(u.has_uid && u.has_gid);
	assert_int_equal(u.uid, 0);
	assert_int_equal(u.gid, 42);
	assert_int_equal(exec_cri_parse_user("nobody", &u, &err), 0);
	assert_false(u.has_uid);
	assert_string_equal(u.name, "nobody");
	assert_int_equal(exec_cri_parse_user("www:33", &u, &err), 0);
	assert_string_equal(u.name, "www");
	assert_int_equal(u.gid, 33);
	assert_int_equal(exec_cri_parse_user("www:staff", &u, &err),
			 -SW_EINVALID);
	assert_int_equal(exec_cri_parse_user("", &u, &err), -SW_EINVALID);
	assert_int_equal(exec_cri_parse_user(":1", &u, &err), -SW_EINVALID);
	assert_int_equal(exec_cri_parse_user("99999999999", &u, &err), 0);
	assert_false(u.has_uid); /* too big for an ID: taken as a name */
}

/* ---- times and log lines ---- */

static void test_parse_time(void **state)
{
	const char *s;
	int64_t ns;

	s = "1970-01-01T00:00:00Z";
	assert_int_equal(exec_cri_parse_time(s, strlen(s), &ns), 0);
	assert_int_equal(ns, 0);
	s = "2024-02-29T12:34:56.123456789Z";
	assert_int_equal(exec_cri_parse_time(s, strlen(s), &ns), 0);
	assert_int_equal(ns, INT64_C(1709210096123456789));
	/* RFC3339Nano trims trailing zeros; containerd writes local time. */
	s = "2024-02-29T13:34:56.5+01:00";
	assert_int_equal(exec_cri_parse_time(s, strlen(s), &ns), 0);
	assert_int_equal(ns, INT64_C(1709210096500000000));
	s = "2024-02-29T07:04:56.5-05:30";
	assert_int_equal(exec_cri_parse_time(s, strlen(s), &ns), 0);
	assert_int_equal(ns, INT64_C(1709210096500000000));
	s = "2024-02-29 12:34:56Z";
	assert_int_equal(exec_cri_parse_time(s, strlen(s), &ns), -1);
	s = "2024-02-29T12:34:56.Z";
	assert_int_equal(exec_cri_parse_time(s, strlen(s), &ns), -1);
	s = "2024-02-29T12:34:56";
	assert_int_equal(exec_cri_parse_time(s, strlen(s), &ns), -1);
}

static void test_log_line(void **state)
{
	struct exec_cri_log_line l;
	const char *s;

	s = "2024-02-29T12:34:56.1Z stdout F hello world";
	assert_int_equal(exec_cri_log_line(s, strlen(s), &l), 0);
	assert_int_equal(l.stream, EXEC_STDOUT);
	assert_false(l.partial);
	assert_int_equal(l.msg_len, 11);
	assert_memory_equal(l.msg, "hello world", 11);
	assert_int_equal(l.time_ns, INT64_C(1709210096100000000));
	s = "2024-02-29T12:34:56.1Z stderr P  two spaces";
	assert_int_equal(exec_cri_log_line(s, strlen(s), &l), 0);
	assert_int_equal(l.stream, EXEC_STDERR);
	assert_true(l.partial);
	assert_int_equal(l.msg_len, 11);
	assert_memory_equal(l.msg, " two spaces", 11);
	s = "2024-02-29T12:34:56.1Z stdout F ";
	assert_int_equal(exec_cri_log_line(s, strlen(s), &l), 0);
	assert_int_equal(l.msg_len, 0);
	s = "2024-02-29T12:34:56.1Z stdout F";
	assert_int_equal(exec_cri_log_line(s, strlen(s), &l), 0);
	assert_int_equal(l.msg_len, 0);
	s = "2024-02-29T12:34:56.1Z stdin F x";
	assert_int_equal(exec_cri_log_line(s, strlen(s), &l), -1);
	s = "garbage stdout F x";
	assert_int_equal(exec_cri_log_line(s, strlen(s), &l), -1);
}

/* ---- the log reader ---- */

struct logfile {
	char path[64];
};

static int log_setup(void **state)
{
	struct logfile *f = calloc(1, sizeof(*f));
	int fd;

	strcpy(f->path, "/tmp/swarmd-test-log.XXXXXX");
	fd = mkstemp(f->path);
	assert_true(fd >= 0);
	close(fd);
	*state = f;
	return 0;
}

static int log_teardown(void **state)
{
	struct logfile *f = *state;

	unlink(f->path);
	free(f);
	return 0;
}

static void log_write(struct logfile *f, const char *text)
{
	FILE *fp = fopen(f->path, "a");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void check_entry(const struct exec_log_entry *e, enum exec_stream stream,
			const char *text, bool partial)
{
	assert_int_equal(e->stream, stream);
	assert_int_equal(e->len, strlen(text));
	assert_memory_equal(e->data, text, e->len);
	assert_int_equal(e->partial, partial);
}

#define T(s) "2024-02-29T12:00:0" #s "Z "

static void test_read_log_join(void **state)
{
	struct logfile *f = *state;
	struct exec_log_query q = {.tail = -1};
	struct exec_logs l;
	struct sw_err err;

	log_write(
	    f,
	    T(1) "stdout F hello\n" T(2) "stdout P long \n" T(
		3) "stderr F err\n" T(4) "stdout P line \n" T(5) "stdout F "
								 "end\n"
								 "not a cri "
								 "line\n" T(
								     6) "stdout"
									" F "
									"\n");
	assert_int_equal(exec_cri_read_log(f->path, &q, &l, &err), 0);
	assert_int_equal(l.n_entries, 4);
	check_entry(&l.entries[0], EXEC_STDOUT, "hello", false);
	check_entry(&l.entries[1], EXEC_STDERR, "err", false);
	/* P chunks of one stream join, whatever the other stream wrote in
	 * between; the entry keeps the first chunk's time. */
	check_entry(&l.entries[2], EXEC_STDOUT, "long line end", false);
	assert_int_equal(l.entries[2].time_ns, INT64_C(1709208002000000000));
	check_entry(&l.entries[3], EXEC_STDOUT, "", false);
	exec_logs_free(&l);
}

static void test_read_log_tail_since(void **state)
{
	struct logfile *f = *state;
	struct exec_log_query q = {.tail = 2};
	struct exec_logs l;
	struct sw_err err;

	log_write(f, T(1) "stdout F a\n" T(2) "stdout F b\n" T(
			 3) "stdout F c\n" T(4) "stderr F d\n");
	assert_int_equal(exec_cri_read_log(f->path, &q, &l, &err), 0);
	assert_int_equal(l.n_entries, 2);
	check_entry(&l.entries[0], EXEC_STDOUT, "c", false);
	check_entry(&l.entries[1], EXEC_STDERR, "d", false);
	exec_logs_free(&l);

	/* since is inclusive; tail applies first, as in Docker. */
	q.tail = -1;
	q.since_ns = INT64_C(1709208002000000000);
	assert_int_equal(exec_cri_read_log(f->path, &q, &l, &err), 0);
	assert_int_equal(l.n_entries, 3);
	check_entry(&l.entries[0], EXEC_STDOUT, "b", false);
	exec_logs_free(&l);
	q.tail = 1;
	q.since_ns = INT64_C(1709208004000000001);
	assert_int_equal(exec_cri_read_log(f->path, &q, &l, &err), 0);
	assert_int_equal(l.n_entries, 0);
	exec_logs_free(&l);
	q.tail = -1;
	q.since_ns = 0;
	q.until_ns = INT64_C(1709208002000000000);
	assert_int_equal(exec_cri_read_log(f->path, &q, &l, &err), 0);
	assert_int_equal(l.n_entries, 2);
	exec_logs_free(&l);
	q.until_ns = 0;
	q.tail = 0;
	assert_int_equal(exec_cri_read_log(f->path, &q, &l, &err), 0);
	assert_int_equal(l.n_entries, 0);
	exec_logs_free(&l);
}

/* A tail over a long log keeps only a bounded window in memory and still
 * returns the newest entries. */
static void test_read_log_long_tail(void **state)
{
	struct logfile *f = *state;
	struct exec_log_query q = {.tail = 3};
	struct exec_logs l;
	struct sw_err err;
	FILE *fp = fopen(f->path, "w");
	int i;

	for (i = 0; i < 5000; i++)
		fprintf(fp, T(1) "stdout F line %d\n", i);
	fclose(fp);
	assert_int_equal(exec_cri_read_log(f->path, &q, &l, &err), 0);
	assert_int_equal(l.n_entries, 3);
	check_entry(&l.entries[0], EXEC_STDOUT, "line 4997", false);
	check_entry(&l.entries[2], EXEC_STDOUT, "line 4999", false);
	exec_logs_free(&l);
}

static void test_read_log_follow(void **state)
{
	struct logfile *f = *state;
	struct exec_log_query q = {.tail = -1, .follow = true};
	struct exec_logs l;
	struct sw_err err;
	uint64_t off;

	log_write(f, T(1) "stdout F one\n" T(2) "stdout P two-a \n" T(
			 3) "stderr F three\n" T(4) "stderr F hal");
	assert_int_equal(exec_cri_read_log(f->path, &q, &l, &err), 0);
	/* "two" is unfinished: it and everything after it wait, and so
	 * does the line still being written. */
	assert_int_equal(l.n_entries, 1);
	check_entry(&l.entries[0], EXEC_STDOUT, "one", false);
	off = l.next_offset;
	assert_int_equal(off, strlen(T(1) "stdout F one\n"));
	exec_logs_free(&l);

	log_write(f, "f\n");
	q.offset = off;
	assert_int_equal(exec_cri_read_log(f->path, &q, &l, &err), 0);
	assert_int_equal(l.n_entries, 0);
	assert_int_equal(l.next_offset, off);
	exec_logs_free(&l);

	log_write(f, T(5) "stdout F two-b\n");
	assert_int_equal(exec_cri_read_log(f->path, &q, &l, &err), 0);
	assert_int_equal(l.n_entries, 3);
	check_entry(&l.entries[0], EXEC_STDERR, "three", false);
	check_entry(&l.entries[1], EXEC_STDERR, "half", false);
	check_entry(&l.entries[2], EXEC_STDOUT, "two-a two-b", false);
	assert_int_equal(
	    l.next_offset,
	    off + strlen(T(2) "stdout P two-a \n" T(3) "stderr F three\n" T(
		      4) "stderr F half\n" T(5) "stdout F two-b\n"));
	exec_logs_free(&l);

	/* Not following, an unfinished message comes back as partial. */
	log_write(f, T(6) "stdout P tail-without-newline\n");
	q.follow = false;
	q.offset = 0;
	assert_int_equal(exec_cri_read_log(f->path, &q, &l, &err), 0);
	assert_int_equal(l.n_entries, 5);
	check_entry(&l.entries[4], EXEC_STDOUT, "tail-without-newline", true);
	assert_int_equal(
	    l.next_offset,
	    off +
		strlen(T(2) "stdout P two-a \n" T(3) "stderr F three\n" T(
		    4) "stderr F half\n" T(5) "stdout F two-b\n" T(6) "stdout "
								      "P "
								      "tail-"
								      "without-"
								      "newline"
								      "\n"));
	exec_logs_free(&l);
}

static void test_read_log_missing(void **state)
{
	struct exec_log_query q = {.tail = -1};
	struct exec_logs l;
	struct sw_err err;

	assert_int_equal(exec_cri_read_log("/nonexistent/x.log", &q, &l, &err),
			 -SW_ENOTFOUND);
}

/* ---- container status ---- */

static void test_status_from(void **state)
{
	Runtime__V1__ContainerStatusResponse r =
	    RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INIT;
	Runtime__V1__ContainerStatus cs = RUNTIME__V1__CONTAINER_STATUS__INIT;
	Runtime__V1__ContainerStatusResponse__InfoEntry info =
	    RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INFO_ENTRY__INIT;
	Runtime__V1__ContainerStatusResponse__InfoEntry *infos[1] = {&info};
	struct exec_status st;

	r.status = &cs;
	cs.id = "abc";
	cs.state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
	cs.started_at = 42;
	info.key = "info";
	info.value = "{\"sandboxID\":\"x\",\"pid\":4321}";
	r.n_info = 1;
	r.info = infos;
	exec_cri_status_from(&r, &st);
	assert_int_equal(st.state, EXEC_RUNNING);
	assert_int_equal(st.pid, 4321);
	assert_int_equal(st.started_at, 42);
	assert_string_equal(st.container_id, "abc");
	assert_string_equal(st.message, "started");

	cs.state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
	cs.exit_code = 0;
	exec_cri_status_from(&r, &st);
	assert_int_equal(st.state, EXEC_COMPLETE);
	assert_int_equal(st.pid, 0);
	assert_string_equal(st.err, "");

	cs.exit_code = 137;
	cs.reason = "OOMKilled";
	exec_cri_status_from(&r, &st);
	assert_int_equal(st.state, EXEC_FAILED);
	assert_int_equal(st.exit_code, 137);
	assert_true(st.oom_killed);
	assert_string_equal(st.err, "task: non-zero exit (137)");

	/* containerd's start/exit race: the finish never precedes the start. */
	cs.started_at = 5000;
	cs.finished_at = 4990;
	exec_cri_status_from(&r, &st);
	assert_true(st.finished_at == 5000);

	cs.state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED;
	exec_cri_status_from(&r, &st);
	assert_int_equal(st.state, EXEC_READY);

	r.status = NULL;
	exec_cri_status_from(&r, &st);
	assert_int_equal(st.state, EXEC_FAILED);
}

/* ---- CNI ---- */

static void test_cni_names(void **state)
{
	char bridge[CNI_IFNAME_MAX], subnet[CNI_SUBNET_MAX], again[32];
	unsigned a, b, c;

	cni_default_bridge("abcdefghijklmnopqrstuvwxy", bridge);
	assert_string_equal(bridge, "swdabcdefgh");
	cni_default_subnet("abcdefghijklmnopqrstuvwxy", subnet);
	assert_int_equal(sscanf(subnet, "100.%u.%u.%u/24", &a, &b, &c), 3);
	assert_true(a >= 64 && a <= 127 && b <= 255 && c == 0);
	cni_default_subnet("abcdefghijklmnopqrstuvwxy", again);
	assert_string_equal(subnet, again);
	cni_default_subnet("zbcdefghijklmnopqrstuvwxy", again);
	assert_string_not_equal(subnet, again);
}

static void test_cni_conflist(void **state)
{
	struct cni_net n = {"swarmd-n1", "swdn1", "100.64.7.0/24",
			    "/var/lib/x \"q\"/ipam"};
	char *text = cni_conflist_text(&n);
	json_object *root = json_tokener_parse(text), *plugins, *p, *v;

	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "name", &v));
	assert_string_equal(json_object_get_string(v), "swarmd-n1");
	assert_true(json_object_object_get_ex(root, "plugins", &plugins));
	assert_int_equal(json_object_array_length(plugins), 2);
	p = json_object_array_get_idx(plugins, 0);
	assert_true(json_object_object_get_ex(p, "bridge", &v));
	assert_string_equal(json_object_get_string(v), "swdn1");
	assert_true(json_object_object_get_ex(p, "ipam", &p));
	assert_true(json_object_object_get_ex(p, "dataDir", &v));
	assert_string_equal(json_object_get_string(v), "/var/lib/x \"q\"/ipam");
	p = json_object_array_get_idx(plugins, 1);
	assert_true(json_object_object_get_ex(p, "type", &v));
	assert_string_equal(json_object_get_string(v), "portmap");
	json_object_put(root);
	free(text);
}

static void test_cni_write(void **state)
{
	char dir[] = "/tmp/swarmd-test-cni.XXXXXX";
	char path[128], ipam[128];
	struct cni_net n = {"swarmd-n1", "swdtestnone", "100.64.7.0/24", ipam};
	struct sw_err err;
	struct stat st1, st2;

	assert_non_null(mkdtemp(dir));
	snprintf(ipam, sizeof(ipam), "%s/ipam", dir);
	assert_int_equal(cni_write_conflist(dir, &n, &err), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, CNI_CONFLIST_NAME);
	assert_int_equal(stat(path, &st1), 0);
	/* Unchanged content is not rewritten (no reload in containerd). */
	assert_int_equal(cni_write_conflist(dir, &n, &err), 0);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	/* Teardown: the missing bridge is not an error. */
	assert_int_equal(cni_teardown(dir, &n, &err), 0);
	assert_int_equal(stat(path, &st1), -1);
	assert_int_equal(rmdir(ipam), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_container_name),
	    cmocka_unit_test(test_labels),
	    cmocka_unit_test(test_capability),
	    cmocka_unit_test(test_user),
	    cmocka_unit_test(test_parse_time),
	    cmocka_unit_test(test_log_line),
	    cmocka_unit_test_setup_teardown(test_read_log_join, log_setup,
					    log_teardown),
	    cmocka_unit_test_setup_teardown(test_read_log_tail_since, log_setup,
					    log_teardown),
	    cmocka_unit_test_setup_teardown(test_read_log_long_tail, log_setup,
					    log_teardown),
	    cmocka_unit_test_setup_teardown(test_read_log_follow, log_setup,
					    log_teardown),
	    cmocka_unit_test(test_read_log_missing),
	    cmocka_unit_test(test_status_from),
	    cmocka_unit_test(test_cni_names),
	    cmocka_unit_test(test_cni_conflist),
	    cmocka_unit_test(test_cni_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
