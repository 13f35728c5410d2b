#include "daemon/containerd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/spawn.h"
#include "lib/alloc.h"
#include "lib/fsutil.h"
#include "lib/log.h"

enum {
	READY_POLL_MS = 50,
	READY_TIMEOUT_MS = 30000,
	STOP_GRACE_MS = 10000,
	RESTART_MIN_MS = 500,
	RESTART_MAX_MS = 10000,
	ORPHAN_WAIT_MS = 10000,
	IMPORT_TIMEOUT_MS = 120000,
};

enum ctd_state {
	CTD_IDLE = 1,
	CTD_STARTING,
	CTD_IMPORTING,
	CTD_READY,
	CTD_STOPPING,
	CTD_STOPPED,
};

struct ctd {
	uv_loop_t *loop;
	uv_process_t proc;
	uv_timer_t timer;
	bool proc_alive;
	bool proc_handle_open;
	enum ctd_state state;
	int waited_ms;
	int restart_ms;
	int log_fd;
	int import_pid; /* the running `ctr images import`, or 0 */
	char *dir;         /* data-root/containerd */
	char *run_dir;     /* exec-root/containerd */
	char *config;
	char *sock;
	char *pid_path;
	char *pause_tar;
	void (*ready_cb)(void *data, int status);
	void *ready_data;
	void (*stop_cb)(void *data);
	void *stop_data;
};

char *ctd_config_text(const char *root, const char *state, const char *sock,
		      const char *runc_root, const char *cni_conf,
		      const char *opt_dir)
{
	return xasprintf(
		"# Written by swarmd at every start; edits are lost.\n"
		"version = 2\n"
		"root = \"%s\"\n"
		"state = \"%s\"\n"
		"disabled_plugins = [\"io.containerd.snapshotter.v1.aufs\", "
		"\"io.containerd.snapshotter.v1.btrfs\", "
		"\"io.containerd.snapshotter.v1.zfs\", "
		"\"io.containerd.snapshotter.v1.devmapper\"]\n\n"
		"[grpc]\n  address = \"%s\"\n\n"
		"[ttrpc]\n  address = \"%s.ttrpc\"\n\n"
		"[debug]\n  address = \"\"\n\n"
		"[metrics]\n  address = \"\"\n\n"
		"[plugins.\"io.containerd.internal.v1.opt\"]\n"
		"  path = \"%s\"\n\n"
		"[plugins.\"io.containerd.grpc.v1.cri\"]\n"
		"  sandbox_image = \"" CTD_PAUSE_IMAGE "\"\n"
		"  restrict_oom_score_adj = true\n"
		"  stream_server_address = \"127.0.0.1\"\n"
		"  stream_server_port = \"0\"\n"
		"  netns_mounts_under_state_dir = true\n"
		"  max_container_log_line_size = 16384\n"
		"  [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n"
		"    snapshotter = \"overlayfs\"\n"
		"    default_runtime_name = \"runc\"\n"
		"    [plugins.\"io.containerd.grpc.v1.cri\".containerd."
		"runtimes.runc]\n"
		"      runtime_type = \"io.containerd.runc.v2\"\n"
		"      [plugins.\"io.containerd.grpc.v1.cri\".containerd."
		"runtimes.runc.options]\n"
		"        BinaryName = \"/usr/sbin/runc\"\n"
		"        Root = \"%s\"\n"
		"        SystemdCgroup = false\n"
		"  [plugins.\"io.containerd.grpc.v1.cri\".cni]\n"
		"    bin_dir = \"/usr/lib/cni\"\n"
		"    conf_dir = \"%s\"\n",
		root, state, sock, sock, opt_dir, runc_root, cni_conf);
}

struct ctd *ctd_new(uv_loop_t *loop, const struct ctd_paths *paths)
{
	struct ctd *c = xcalloc(1, sizeof(*c));

	c->loop = loop;
	c->state = CTD_IDLE;
	c->log_fd = -1;
	c->restart_ms = RESTART_MIN_MS;
	c->dir = xasprintf("%s/containerd", paths->data_root);
	c->run_dir = xasprintf("%s/containerd", paths->exec_root);
	c->config = xasprintf("%s/config.toml", c->dir);
	c->sock = xasprintf("%s/containerd.sock", c->run_dir);
	c->pid_path = xasprintf("%s/containerd.pid", c->run_dir);
	c->pause_tar = xstrdup(paths->pause_tar);
	uv_timer_init(loop, &c->timer);
	c->timer.data = c;
	return c;
}

const char *ctd_socket(const struct ctd *c)
{
	return c->sock;
}

/* Creates the private directories and writes config.toml. */
static int write_config(struct ctd *c, struct sw_err *err)
{
	char *root = xasprintf("%s/root", c->dir);
	char *state = xasprintf("%s/state", c->run_dir);
	char *runc = xasprintf("%s/runc", c->run_dir);
	char *cni = xasprintf("%s/cni/net.d", c->dir);
	char *opt = xasprintf("%s/opt", c->dir);
	char *text = ctd_config_text(root, state, c->sock, runc, cni, opt);
	int rc = 0;

	if (fsutil_mkdir_p(c->dir, 0711, err) != 0 || fsutil_mkdir_p(c->run_dir, 0711, err) != 0 ||
	    fsutil_mkdir_p(root, 0711, err) != 0 || fsutil_mkdir_p(cni, 0755, err) != 0 ||
	    fsutil_mkdir_p(opt, 0711, err) != 0 || fsutil_write_file(c->config, text, err) != 0)
		rc = -1;
	free(text);
	free(root);
	free(state);
	free(runc);
	free(cni);
	free(opt);
	return rc;
}

/* True when pid runs containerd with our configuration file. */
static bool is_our_containerd(pid_t pid, const char *config)
{
	char path[64];
	char cmd[4096];
	size_t n;
	FILE *f;
	bool ours = false;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	n = fread(cmd, 1, sizeof(cmd) - 1, f);
	fclose(f);
	cmd[n] = '\0';
	/* Arguments are NUL-separated: look at each one. */
	for (size_t i = 0; i < n; i += strlen(cmd + i) + 1)
		if (strcmp(cmd + i, config) == 0)
			ours = true;
	return ours && strstr(cmd, "containerd") != NULL;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* Stops a containerd left behind by a swarmd that was killed. This runs
 * once at start-up, before the loop serves anything, so a short blocking
 * wait is acceptable here. */
static void replace_orphan(struct ctd *c)
{
	FILE *f = fopen(c->pid_path, "r");
	int pid = 0;

	if (f == NULL)
		return;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid <= 1 || !is_our_containerd(pid, c->config))
		return;
	log_warn("stopping containerd (pid %d) left by a previous swarmd",
		 pid);
	kill(pid, SIGTERM);
	for (int ms = 0; ms < ORPHAN_WAIT_MS && kill(pid, 0) == 0; ms += 50)
		sleep_ms(50);
	if (kill(pid, 0) == 0) {
		kill(pid, SIGKILL);
		for (int ms = 0; ms < 2000 && kill(pid, 0) == 0; ms += 50)
			sleep_ms(50);
	}
}

static bool socket_answers(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd == -1)
		return false;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	ok = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
	close(fd);
	return ok;
}

static void report_ready(struct ctd *c, int status)
{
	void (*cb)(void *, int) = c->ready_cb;

	c->ready_cb = NULL;
	if (cb != NULL)
		cb(c->ready_data, status);
}

static void on_imported(void *data, int status, const char *out)
{
	struct ctd *c = data;

	c->import_pid = 0;
	if (c->state != CTD_IMPORTING)
		return;
	if (status != 0) {
		log_error("importing the pause image %s failed (exit %d)",
			  c->pause_tar, status);
		c->state = CTD_READY;
		report_ready(c, -1);
		return;
	}
	log_info("containerd ready on %s", c->sock);
	c->state = CTD_READY;
	c->restart_ms = RESTART_MIN_MS;
	report_ready(c, 0);
}

static void import_pause(struct ctd *c)
{
	char *argv[] = {"ctr", "--address", c->sock, "--namespace", "k8s.io",
			"images", "import", c->pause_tar, NULL};

	c->state = CTD_IMPORTING;
	if (spawn_run(c->loop, argv, c->log_fd, IMPORT_TIMEOUT_MS,
		      &c->import_pid, on_imported, c) != 0) {
		c->state = CTD_READY;
		report_ready(c, -1);
	}
}

static void on_ready_poll(uv_timer_t *t)
{
	struct ctd *c = t->data;

	if (c->state != CTD_STARTING)
		return;
	if (socket_answers(c->sock)) {
		uv_timer_stop(t);
		import_pause(c);
		return;
	}
	c->waited_ms += READY_POLL_MS;
	if (c->waited_ms >= READY_TIMEOUT_MS) {
		uv_timer_stop(t);
		log_error("timeout waiting for containerd to start (see %s/"
			  "containerd.log)",
			  c->dir);
		report_ready(c, -1);
	}
}

static void spawn_child(struct ctd *c);

static void on_restart_timer(uv_timer_t *t)
{
	spawn_child(t->data);
}

static void on_proc_closed(uv_handle_t *h)
{
	struct ctd *c = h->data;

	c->proc_handle_open = false;
	if (c->state == CTD_STOPPING) {
		c->state = CTD_STOPPED;
		uv_close((uv_handle_t *)&c->timer, NULL);
		if (c->stop_cb != NULL)
			c->stop_cb(c->stop_data);
		return;
	}
	/* Supervision: an unexpected exit restarts the child with backoff. */
	log_warn("containerd exited; restarting in %d ms", c->restart_ms);
	c->state = CTD_STARTING;
	uv_timer_start(&c->timer, on_restart_timer, (uint64_t)c->restart_ms,
		       0);
	c->restart_ms = c->restart_ms * 2 > RESTART_MAX_MS
				? RESTART_MAX_MS
				: c->restart_ms * 2;
}

static void on_child_exit(uv_process_t *p, int64_t status, int sig)
{
	struct ctd *c = p->data;

	log_info("containerd (pid %d) exited: status %lld, signal %d", p->pid,
		 (long long)status, sig);
	c->proc_alive = false;
	unlink(c->pid_path);
	uv_close((uv_handle_t *)p, on_proc_closed);
}

static void write_pid(struct ctd *c, int pid)
{
	FILE *f = fopen(c->pid_path, "w");

	if (f == NULL)
		return;
	fprintf(f, "%d\n", pid);
	fclose(f);
}

static void spawn_child(struct ctd *c)
{
	char *argv[] = {"containerd", "--config", c->config, NULL};
	uv_stdio_container_t stdio[3];
	uv_process_options_t opts;
	int rc;

	memset(&opts, 0, sizeof(opts));
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_INHERIT_FD;
	stdio[1].data.fd = c->log_fd;
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = c->log_fd;
	opts.file = argv[0];
	opts.args = argv;
	opts.stdio = stdio;
	opts.stdio_count = 3;
	opts.exit_cb = on_child_exit;
	/* Its own session: a Ctrl-C meant for swarmd must not reach it; swarmd
	 * stops it in order. */
	opts.flags = UV_PROCESS_DETACHED;
	c->proc.data = c;
	c->state = CTD_STARTING;
	c->waited_ms = 0;
	rc = uv_spawn(c->loop, &c->proc, &opts);
	c->proc_handle_open = true;
	if (rc != 0) {
		log_error("cannot start containerd: %s", uv_strerror(rc));
		uv_close((uv_handle_t *)&c->proc, on_proc_closed);
		return;
	}
	c->proc_alive = true;
	write_pid(c, c->proc.pid);
	log_info("started containerd (pid %d), config %s", c->proc.pid,
		 c->config);
	uv_timer_start(&c->timer, on_ready_poll, READY_POLL_MS, READY_POLL_MS);
}

static int open_log(struct ctd *c, struct sw_err *err)
{
	char *path = xasprintf("%s/containerd.log", c->dir);

	c->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			 0640);
	free(path);
	if (c->log_fd == -1)
		return sw_err_sys(err, errno, "opening containerd log");
	return 0;
}

int ctd_start(struct ctd *c, void (*ready_cb)(void *data, int status),
	      void *data, struct sw_err *err)
{
	if (write_config(c, err) != 0 || open_log(c, err) != 0)
		return -1;
	replace_orphan(c);
	unlink(c->sock);
	c->ready_cb = ready_cb;
	c->ready_data = data;
	spawn_child(c);
	return 0;
}

static void on_stop_timeout(uv_timer_t *t)
{
	struct ctd *c = t->data;

	if (c->proc_alive) {
		log_warn("containerd did not stop in time; killing it");
		uv_process_kill(&c->proc, SIGKILL);
	}
}

void ctd_stop(struct ctd *c, void (*cb)(void *data), void *data)
{
	bool was_running = c->proc_handle_open;

	c->stop_cb = cb;
	c->stop_data = data;
	/* ctr waits forever for a containerd that is going away. */
	if (c->state == CTD_IMPORTING && c->import_pid > 0)
		kill(c->import_pid, SIGKILL);
	c->state = CTD_STOPPING;
	report_ready(c, -1);
	uv_timer_stop(&c->timer);
	if (!was_running) {
		c->state = CTD_STOPPED;
		uv_close((uv_handle_t *)&c->timer, NULL);
		if (cb != NULL)
			cb(data);
		return;
	}
	if (c->proc_alive) {
		uv_process_kill(&c->proc, SIGTERM);
		uv_timer_start(&c->timer, on_stop_timeout, STOP_GRACE_MS, 0);
	}
}

void ctd_free(struct ctd *c)
{
	if (c == NULL)
		return;
	if (c->log_fd >= 0)
		close(c->log_fd);
	free(c->dir);
	free(c->run_dir);
	free(c->config);
	free(c->sock);
	free(c->pid_path);
	free(c->pause_tar);
	free(c);
}
