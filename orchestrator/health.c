#include "orchestrator/health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/timefmt.h"

#define NS_PER_S 1000000000LL

/* dockerd's defaults (daemon/health.go). */
#define DEFAULT_INTERVAL_NS (30 * NS_PER_S)
#define DEFAULT_TIMEOUT_NS (30 * NS_PER_S)
#define DEFAULT_RETRIES 3

/* ---- pure -------------------------------------------------------------- */

const char *health_status_name(enum health_status s)
{
	switch (s) {
	case HEALTH_STARTING:
		return "starting";
	case HEALTH_HEALTHY:
		return "healthy";
	case HEALTH_UNHEALTHY:
		return "unhealthy";
	case HEALTH_NONE:
		break;
	}
	return "none";
}

bool health_config_of(const Swarmd__TaskSpec *spec, struct health_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	if (spec == NULL || spec->n_health_test == 0 ||
	    strcmp(spec->health_test[0], "NONE") == 0)
		return false;
	cfg->test = spec->health_test;
	cfg->n_test = spec->n_health_test;
	cfg->interval_ns = spec->health_interval_ns > 0
				   ? spec->health_interval_ns
				   : DEFAULT_INTERVAL_NS;
	cfg->timeout_ns = spec->health_timeout_ns > 0 ? spec->health_timeout_ns
						      : DEFAULT_TIMEOUT_NS;
	cfg->retries = spec->health_retries > 0 ? spec->health_retries
						: DEFAULT_RETRIES;
	cfg->start_period_ns = spec->health_start_period_ns > 0
				       ? spec->health_start_period_ns
				       : 0;
	return true;
}

size_t health_argv(const struct health_config *cfg, const char **argv)
{
	size_t n = 0;

	if (cfg->n_test < 2)
		return 0;
	if (strcmp(cfg->test[0], "CMD-SHELL") == 0) {
		argv[0] = "/bin/sh";
		argv[1] = "-c";
		argv[2] = cfg->test[1];
		return 3;
	}
	if (strcmp(cfg->test[0], "CMD") != 0)
		return 0;
	for (size_t i = 1; i < cfg->n_test && n < HEALTH_ARGV_MAX; i++)
		argv[n++] = cfg->test[i];
	return n;
}

static void log_push(struct health_state *h, const struct health_result *r)
{
	if (h->n_log == HEALTH_LOG_MAX) {
		memmove(h->log, h->log + 1, sizeof(h->log[0]) * (HEALTH_LOG_MAX - 1));
		h->n_log--;
	}
	h->log[h->n_log++] = *r;
}

enum health_status health_record(struct health_state *h,
				 const struct health_config *cfg,
				 int64_t started_ns,
				 const struct health_result *res)
{
	log_push(h, res);
	if (res->exit_code == 0) {
		h->failing_streak = 0;
		h->status = HEALTH_HEALTHY;
		return h->status;
	}
	/* A container that never passed does not count failures during its
	 * start period; one that passed once counts them all. */
	if (h->status == HEALTH_STARTING &&
	    res->start_ns - started_ns < cfg->start_period_ns)
		return h->status;
	h->failing_streak++;
	if (h->failing_streak >= cfg->retries)
		h->status = HEALTH_UNHEALTHY;
	return h->status;
}

/* Go's time.Duration String for the whole seconds and milliseconds a
 * timeout is given in: "30s", "1.5s", "500ms". */
static void go_duration(int64_t ns, char *out, size_t n)
{
	if (ns >= NS_PER_S && ns % NS_PER_S == 0) {
		snprintf(out, n, "%llds", (long long)(ns / NS_PER_S));
	} else if (ns >= NS_PER_S) {
		char frac[16];
		size_t len;

		snprintf(frac, sizeof(frac), "%09lld",
			 (long long)(ns % NS_PER_S));
		len = strlen(frac);
		while (len > 0 && frac[len - 1] == '0')
			frac[--len] = '\0';
		snprintf(out, n, "%lld.%ss", (long long)(ns / NS_PER_S), frac);
	} else {
		snprintf(out, n, "%lldms", (long long)(ns / 1000000));
	}
}

void health_timeout_result(const struct health_config *cfg,
			   struct health_result *res)
{
	char d[32];

	go_duration(cfg->timeout_ns, d, sizeof(d));
	res->exit_code = -1;
	snprintf(res->output, sizeof(res->output),
		 "Health check exceeded timeout (%s)", d);
}

/* ---- the monitor -------------------------------------------------------- */

struct health_monitor {
	uv_timer_t timer;
	struct executor *ex;
	char task_id[EXEC_ID_MAX];
	Swarmd__TaskSpec *spec; /* own copy: cfg borrows from it */
	struct health_config cfg;
	int64_t started_ns;
	struct health_state state;
	struct exec_req req;
	struct health_result pending; /* the probe in flight */
	health_change_cb cb;
	void *data;
	bool probing;
	bool stopped;
	bool freeing;
	bool timer_closed;
};

static Swarmd__TaskSpec *spec_copy(const Swarmd__TaskSpec *spec)
{
	size_t len = swarmd__task_spec__get_packed_size(spec);
	uint8_t *buf = xmalloc(len + 1);
	Swarmd__TaskSpec *copy;

	swarmd__task_spec__pack(spec, buf);
	copy = swarmd__task_spec__unpack(NULL, len, buf);
	free(buf);
	return copy;
}

static void maybe_release(struct health_monitor *m)
{
	if (!m->freeing || !m->timer_closed || m->probing)
		return;
	swarmd__task_spec__free_unpacked(m->spec, NULL);
	free(m);
}

static void arm(struct health_monitor *m);

static void finish_probe(struct health_monitor *m)
{
	enum health_status before = m->state.status, now;

	m->pending.end_ns = timefmt_now_ns();
	now = health_record(&m->state, &m->cfg, m->started_ns, &m->pending);
	if (now != before && m->cb != NULL)
		m->cb(m->data, m->task_id, now);
	/* The callback may have stopped us. */
	if (!m->stopped)
		arm(m);
}

static void on_probed(struct exec_req *req, int status)
{
	struct health_monitor *m = req->data;
	struct health_result *r = &m->pending;

	m->probing = false;
	if (m->stopped) {
		maybe_release(m);
		return;
	}
	if (status == 0) {
		size_t n = req->output_len < HEALTH_OUTPUT_MAX
				   ? req->output_len
				   : HEALTH_OUTPUT_MAX;

		r->exit_code = req->status.exit_code;
		memcpy(r->output, req->output, n);
		r->output[n] = '\0';
	} else if (timefmt_now_ns() - r->start_ns >= m->cfg.timeout_ns) {
		health_timeout_result(&m->cfg, r);
	} else {
		r->exit_code = -1;
		snprintf(r->output, sizeof(r->output), "%s", req->err.msg);
	}
	finish_probe(m);
}

static void on_tick(uv_timer_t *t)
{
	struct health_monitor *m = t->data;
	const char *argv[HEALTH_ARGV_MAX];
	size_t argc = health_argv(&m->cfg, argv);
	struct sw_err err;

	memset(&m->pending, 0, sizeof(m->pending));
	m->pending.start_ns = timefmt_now_ns();
	memset(&m->req, 0, sizeof(m->req));
	m->req.data = m;
	m->probing = true;
	if (executor_probe(m->ex, &m->req, m->task_id, argv, argc,
			   m->cfg.timeout_ns, on_probed, &err) == 0)
		return;
	/* As dockerd does when its exec fails: a failed result. */
	m->probing = false;
	m->pending.exit_code = -1;
	snprintf(m->pending.output, sizeof(m->pending.output), "%s", err.msg);
	finish_probe(m);
}

static void arm(struct health_monitor *m)
{
	uv_timer_start(&m->timer, on_tick,
		       (uint64_t)((m->cfg.interval_ns + 999999) / 1000000), 0);
}

struct health_monitor *health_monitor_start(uv_loop_t *loop,
					    struct executor *ex,
					    const char *task_id,
					    const Swarmd__TaskSpec *spec,
					    int64_t started_ns,
					    health_change_cb cb, void *data)
{
	struct health_monitor *m;
	const char *argv[HEALTH_ARGV_MAX];

	/* An executor that cannot probe (sim) runs the task as one without a
	 * healthcheck rather than failing every probe and killing it. */
	if (!executor_can_probe(ex))
		return NULL;
	m = xcalloc(1, sizeof(*m));
	m->spec = spec_copy(spec);
	if (m->spec == NULL || !health_config_of(m->spec, &m->cfg) ||
	    health_argv(&m->cfg, argv) == 0) {
		swarmd__task_spec__free_unpacked(m->spec, NULL);
		free(m);
		return NULL;
	}
	m->ex = ex;
	snprintf(m->task_id, sizeof(m->task_id), "%s", task_id);
	m->started_ns = started_ns;
	m->state.status = HEALTH_STARTING;
	m->cb = cb;
	m->data = data;
	uv_timer_init(loop, &m->timer);
	m->timer.data = m;
	arm(m);
	return m;
}

const struct health_state *health_monitor_state(const struct health_monitor *m)
{
	return &m->state;
}

void health_monitor_stop(struct health_monitor *m)
{
	m->stopped = true;
	uv_timer_stop(&m->timer);
}

static void on_closed(uv_handle_t *h)
{
	struct health_monitor *m = h->data;

	m->timer_closed = true;
	maybe_release(m);
}

void health_monitor_free(struct health_monitor *m)
{
	if (m == NULL)
		return;
	health_monitor_stop(m);
	m->freeing = true;
	uv_close((uv_handle_t *)&m->timer, on_closed);
}
