/* swarmd: wires the Engine API, the orchestrator and containerd together on
 * one libuv loop, and owns start-up and orderly shutdown. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "daemon/containerd.h"
#include "daemon/lockfile.h"
#include "daemon/options.h"
#include "daemon/spawn.h"
#include "cri/executor_cri.h"
#include "cri/runtime_cri.h"
#include "engine-api/api.h"
#include "lib/alloc.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/sysinfo.h"
#include "orchestrator/executor_sim.h"
#include "orchestrator/swarm.h"

#ifndef SWARMD_PAUSE_TAR
#define SWARMD_PAUSE_TAR "/usr/local/share/swarmd/swarmd-pause.tar"
#endif

struct daemon {
	uv_loop_t loop;
	bool sim; /* --executor sim: no containerd at all */
	char *no_ctd_socket; /* where the runtime looks when there is none */
	struct options opts;
	struct api_env env;
	struct api_server *api;
	struct ctd *ctd;
	struct swarm *swarm;
	struct node_runtime *runtime;
	uv_signal_t sigterm;
	uv_signal_t sigint;
	char engine_id[80];
	char *pause_tar;
	int lock_fd;
	bool stopping;
	int exit_code;
};

/* The engine ID /info reports: made once, kept in data-root, in the shape
 * of dockerd's (12 groups of 4 base32 characters). */
static void load_engine_id(struct daemon *d)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	char *path = xasprintf("%s/engine-id", d->opts.data_root);
	struct sw_err err;
	struct buf b;
	unsigned char rnd[48];

	buf_init(&b);
	if (fsutil_read_file(path, sizeof(d->engine_id) - 1, &b, &err) == 0 &&
	    b.len >= 59) {
		snprintf(d->engine_id, sizeof(d->engine_id), "%.59s", b.data);
	} else {
		FILE *f = fopen("/dev/urandom", "r");

		if (f == NULL || fread(rnd, 1, sizeof(rnd), f) != sizeof(rnd))
			memset(rnd, 7, sizeof(rnd));
		if (f != NULL)
			fclose(f);
		for (int i = 0, o = 0; i < 48; i++) {
			d->engine_id[o++] = alphabet[rnd[i] % 32];
			if (i % 4 == 3 && i != 47)
				d->engine_id[o++] = ':';
			d->engine_id[o] = '\0';
		}
		fsutil_write_file(path, d->engine_id, &err);
	}
	buf_free(&b);
	free(path);
}

/* The pause image ships next to the binary in a build tree
 * (build/images/swarmd-pause.tar) or in the installed location. */
static char *find_pause_tar(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *candidate;

	if (n > 0) {
		exe[n] = '\0';
		*strrchr(exe, '/') = '\0';
		candidate = xasprintf("%s/images/swarmd-pause.tar", exe);
		if (access(candidate, R_OK) == 0)
			return candidate;
		free(candidate);
	}
	return xstrdup(SWARMD_PAUSE_TAR);
}

/* Reads "name version ..." style output into the env's version fields. */
static void on_containerd_version(void *data, int status, const char *out)
{
	struct daemon *d = data;
	char version[64] = "";
	char commit[128] = "";

	/* "containerd github.com/containerd/containerd 1.6.20~ds1 <commit>" */
	if (status == 0 &&
	    sscanf(out, "%*s %*s %63s %127s", version, commit) >= 1) {
		snprintf(d->env.containerd_version,
			 sizeof(d->env.containerd_version), "%s", version);
		snprintf(d->env.containerd_commit,
			 sizeof(d->env.containerd_commit), "%s", commit);
	}
}

static void on_runc_version(void *data, int status, const char *out)
{
	struct daemon *d = data;
	const char *commit = strstr(out, "commit: ");

	/* "runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\n..." */
	if (status != 0 ||
	    sscanf(out, "runc version %63s", d->env.runc_version) != 1)
		return;
	if (commit != NULL)
		sscanf(commit, "commit: %127s", d->env.runc_commit);
}

static void probe_versions(struct daemon *d)
{
	char *ctd_argv[] = {"containerd", "--version", NULL};
	char *runc_argv[] = {"runc", "--version", NULL};

	spawn_run(&d->loop, ctd_argv, -1, 10000, NULL, on_containerd_version,
		  d);
	spawn_run(&d->loop, runc_argv, -1, 10000, NULL, on_runc_version, d);
}

static void on_containerd_ready(void *data, int status)
{
	if (status != 0)
		log_error("containerd is not usable; containers cannot run "
			  "until it is");
}

static void close_signals(struct daemon *d)
{
	uv_close((uv_handle_t *)&d->sigterm, NULL);
	uv_close((uv_handle_t *)&d->sigint, NULL);
}

static void on_containerd_stopped(void *data)
{
	struct daemon *d = data;

	close_signals(d);
}

static void on_swarm_stopped(void *data)
{
	struct daemon *d = data;

	if (d->ctd != NULL)
		ctd_stop(d->ctd, on_containerd_stopped, d);
	else
		close_signals(d);
}

static void on_runtime_closed(void *data)
{
	struct daemon *d = data;

	d->runtime = NULL;
	d->env.runtime = NULL;
	if (d->swarm != NULL)
		swarm_stop(d->swarm, on_swarm_stopped, d);
	else
		on_swarm_stopped(d);
}

static void on_api_stopped(void *data)
{
	struct daemon *d = data;

	if (d->runtime != NULL)
		runtime_close(d->runtime, on_runtime_closed, d);
	else
		on_runtime_closed(d);
}

static void shutdown_daemon(struct daemon *d)
{
	if (d->stopping)
		return;
	d->stopping = true;
	log_info("stopping swarmd");
	if (d->api != NULL)
		api_server_stop(d->api, on_api_stopped, d);
	else
		on_api_stopped(d);
}

static void on_signal(uv_signal_t *s, int signum)
{
	log_info("received signal %d", signum);
	shutdown_daemon(s->data);
}

static void write_pidfile(struct daemon *d)
{
	char text[32];
	struct sw_err err;

	snprintf(text, sizeof(text), "%d\n", (int)getpid());
	if (fsutil_write_file(d->opts.pidfile, text, &err) != 0)
		log_warn("%s", err.msg);
}

/* Everything before the loop runs: directories, the lock, the pid file. */
static int prepare(struct daemon *d, struct sw_err *err)
{
	if (fsutil_mkdir_p(d->opts.data_root, 0711, err) != 0 ||
	    fsutil_mkdir_p(d->opts.exec_root, 0711, err) != 0)
		return -1;
	d->lock_fd = lockfile_acquire(d->opts.data_root, err);
	if (d->lock_fd < 0)
		return -1;
	write_pidfile(d);
	load_engine_id(d);
	d->env.data_root = d->opts.data_root;
	d->env.engine_id = d->engine_id;
	d->env.labels = (const char *const *)d->opts.labels;
	d->env.debug = d->opts.debug;
	return 0;
}

/* The containerd socket the runtime and the CRI executor use. With the sim
 * executor nothing listens there: container endpoints answer that the
 * runtime is unreachable, while tasks run in memory. */
static const char *containerd_socket(struct daemon *d)
{
	if (d->ctd != NULL)
		return ctd_socket(d->ctd);
	if (d->opts.containerd != NULL)
		return d->opts.containerd;
	if (d->no_ctd_socket == NULL)
		d->no_ctd_socket =
			xasprintf("%s/no-containerd.sock", d->opts.exec_root);
	return d->no_ctd_socket;
}

static int start_containerd(struct daemon *d, struct sw_err *err)
{
	struct ctd_paths paths;

	if (d->sim) {
		log_info("executor sim: tasks run in memory, no containerd");
		return 0;
	}
	if (d->opts.containerd != NULL) {
		log_info("using external containerd at %s",
			 d->opts.containerd);
		return 0;
	}
	d->pause_tar = find_pause_tar();
	paths.data_root = d->opts.data_root;
	paths.exec_root = d->opts.exec_root;
	paths.pause_tar = d->pause_tar;
	d->ctd = ctd_new(&d->loop, &paths);
	return ctd_start(d->ctd, on_containerd_ready, d, err);
}

/* This node's Description in the swarm. */
static void describe_host(struct swarm_host *h)
{
	struct sysinfo_host si;

	sysinfo_read(&si);
	memset(h, 0, sizeof(*h));
	snprintf(h->hostname, sizeof(h->hostname), "%s", si.hostname);
	snprintf(h->os, sizeof(h->os), "linux");
	snprintf(h->arch, sizeof(h->arch), "%s", si.arch);
	h->nano_cpus = (int64_t)si.ncpu * 1000000000;
	h->memory_bytes = si.mem_total;
	snprintf(h->engine_version, sizeof(h->engine_version), "%s",
		 SWARMD_VERSION);
}

/* The CRI executor of this node: on the managed containerd with the
 * node-local bridge network, or on an external one (host network only, as
 * its CNI directory is not ours to write). */
/* The executor settings of this node; free the two paths afterwards. */
static void executor_config(struct daemon *d, const char *node_id,
			    struct exec_cri_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->node_id = node_id;
	cfg->log_root = xasprintf("%s/tasks", d->opts.data_root);
	cfg->cni_conf_dir = d->ctd ? xasprintf("%s/containerd/cni/net.d",
					       d->opts.data_root)
				   : NULL;
}

static void free_executor_config(struct exec_cri_config *cfg)
{
	free((char *)cfg->log_root);
	free((char *)cfg->cni_conf_dir);
}

static struct executor *make_sim_executor(struct daemon *d, exec_event_cb cb,
					  void *cb_data)
{
	struct exec_sim_config cfg = {
	    .start_ms = d->opts.sim_delay_ms,
	    .on_event = cb,
	    .event_data = cb_data,
	};
	struct sw_err err;
	struct executor *ex = executor_sim_new(&d->loop, &cfg, &err);

	if (ex == NULL)
		log_error("cannot run tasks: %s", err.msg);
	return ex;
}

static struct executor *make_executor(void *ctx, const char *node_id,
				      exec_event_cb cb, void *cb_data)
{
	struct daemon *d = ctx;
	struct exec_cri_config cfg;
	struct executor *ex;
	struct sw_err err;

	if (d->sim)
		return make_sim_executor(d, cb, cb_data);
	executor_config(d, node_id, &cfg);
	cfg.on_event = cb;
	cfg.event_data = cb_data;
	cfg.runtime = d->runtime;
	ex = executor_cri_new(&d->loop, containerd_socket(d), &cfg, &err);
	if (ex == NULL)
		log_error("cannot run tasks: %s", err.msg);
	free_executor_config(&cfg);
	return ex;
}

/* After swarm leave: the node's bridge, CNI state and cgroup parents. */
static void cleanup_executor(void *ctx, const char *node_id)
{
	struct exec_cri_config cfg;
	struct sw_err err;

	if (((struct daemon *)ctx)->sim)
		return; /* the sim leaves nothing on the node */
	executor_config(ctx, node_id, &cfg);
	if (executor_cri_teardown(&cfg, &err) != 0)
		log_warn("leaving the swarm: %s", err.msg);
	free_executor_config(&cfg);
}

static int start_swarm(struct daemon *d, struct sw_err *err)
{
	struct swarm_host host;

	describe_host(&host);
	d->swarm = swarm_new(&d->loop, d->opts.data_root, &host);
	swarm_set_executor_factory(d->swarm, make_executor, cleanup_executor,
				   d);
	d->env.swarm = d->swarm;
	if (swarm_load(d->swarm, err) != 0) {
		/* Keep serving: /info shows the error state and leave --force
		 * starts over, as with dockerd. */
		log_error("swarm: %s", err->msg);
	}
	return 0;
}

/* The images, containers and exec the Engine API shows, on the same
 * containerd as the tasks. */
static int start_runtime(struct daemon *d, struct sw_err *err)
{
	struct rt_cri_config cfg = {.sandbox_image = CTD_PAUSE_IMAGE};

	d->runtime = runtime_cri_new(&d->loop, containerd_socket(d), &cfg, err);
	d->env.runtime = d->runtime;
	return d->runtime != NULL ? 0 : -1;
}

static int start(struct daemon *d, struct sw_err *err)
{
	uv_signal_init(&d->loop, &d->sigterm);
	uv_signal_init(&d->loop, &d->sigint);
	d->sigterm.data = d;
	d->sigint.data = d;
	uv_signal_start(&d->sigterm, on_signal, SIGTERM);
	uv_signal_start(&d->sigint, on_signal, SIGINT);
	if (start_containerd(d, err) != 0)
		return -1;
	probe_versions(d);
	if (start_runtime(d, err) != 0 || start_swarm(d, err) != 0)
		return -1;
	d->api = api_server_new(&d->loop, &d->env);
	return api_server_listen_unix(d->api, d->opts.host, err);
}

static void on_walk_close(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static int run(struct daemon *d)
{
	struct sw_err err;

	if (prepare(d, &err) != 0) {
		fprintf(stderr, "swarmd: %s\n", err.msg);
		return 1;
	}
	uv_loop_init(&d->loop);
	if (start(d, &err) != 0) {
		log_error("%s", err.msg);
		d->exit_code = 1;
		shutdown_daemon(d);
	}
	log_info("swarmd %s started (data-root %s)", SWARMD_VERSION,
		 d->opts.data_root);
	uv_run(&d->loop, UV_RUN_DEFAULT);
	uv_walk(&d->loop, on_walk_close, NULL);
	uv_run(&d->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&d->loop) != 0)
		log_warn("event loop closed with handles still open");
	api_server_free(d->api);
	swarm_free(d->swarm);
	ctd_free(d->ctd);
	unlink(d->opts.pidfile);
	log_info("swarmd stopped");
	return d->exit_code;
}

int main(int argc, char **argv)
{
	struct daemon d;
	struct sw_err err;
	int rc;

	memset(&d, 0, sizeof(d));
	d.lock_fd = -1;
	signal(SIGPIPE, SIG_IGN);
	if (options_parse(&d.opts, argc, argv, &err) != 0) {
		fprintf(stderr, "swarmd: %s\n", err.msg);
		options_free(&d.opts);
		return 1;
	}
	if (d.opts.show_help || d.opts.show_version) {
		if (d.opts.show_help)
			options_usage(stdout);
		else
			printf("swarmd version %s, API %s\n", SWARMD_VERSION,
			       "1.41");
		options_free(&d.opts);
		return 0;
	}
	log_set_level((enum sw_loglevel)log_parse_level(d.opts.log_level));
	d.sim = strcmp(d.opts.executor, "sim") == 0;
	rc = run(&d);
	if (d.lock_fd >= 0)
		close(d.lock_fd);
	free(d.pause_tar);
	free(d.no_ctd_socket);
	options_free(&d.opts);
	return rc;
}
