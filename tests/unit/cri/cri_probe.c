/* cri_probe SOCK [N [INTERVAL_MS]]: calls CRI Version N times (default 1),
 * INTERVAL_MS apart (default 0), printing each outcome and its latency.
 * Exits 0 when the last call succeeded. A manual check for containerd
 * stopping and restarting under a live client. CRI_PROBE_REUSE=1 turns on
 * connection reuse (grpc_opts.reuse_conns) to test a libcurl for #10634. */
#include <stdio.h>
#include <stdlib.h>

#include "cri/client.h"

struct probe {
	uv_loop_t loop;
	struct cri_client *cri;
	struct cri_req req;
	uv_timer_t timer;
	int left;
	unsigned interval_ms;
	uint64_t t0;
	int last;
};

static void start(struct probe *p);

static void on_timer(uv_timer_t *t)
{
	start(t->data);
}

static void on_closed(uv_handle_t *h)
{
}

static void on_version(struct cri_req *req, int status)
{
	struct probe *p = req->data;
	uint64_t ms;

	uv_update_time(&p->loop);
	ms = uv_now(&p->loop) - p->t0;
	p->last = status;
	if (status == 0)
		(void)printf("ok %llu ms: %s %s %s\n", (unsigned long long)ms,
			     req->reply.version->runtime_name,
			     req->reply.version->runtime_version,
			     req->reply.version->runtime_api_version);
	else
		(void)printf("error %llu ms: kind %d code %d: %s\n",
			     (unsigned long long)ms, -status, req->code,
			     req->err.msg);
	(void)fflush(stdout);
	if (--p->left > 0) {
		uv_timer_start(&p->timer, on_timer, p->interval_ms, 0);
		return;
	}
	uv_close((uv_handle_t *)&p->timer, on_closed);
	cri_client_close(p->cri, NULL, NULL);
}

static void start(struct probe *p)
{
	struct sw_err err;

	uv_update_time(&p->loop);
	p->t0 = uv_now(&p->loop);
	p->req.data = p;
	if (cri_version(&p->req, p->cri, on_version, &err) < 0) {
		(void)fprintf(stderr, "cri_version: %s\n", err.msg);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	struct probe p = {0};
	struct grpc_opts opts = {0};
	struct sw_err err;

	if (argc < 2) {
		(void)fprintf(stderr, "usage: %s SOCK [N [INTERVAL_MS]]\n",
			      argv[0]);
		return 2;
	}
	p.left = argc > 2 ? atoi(argv[2]) : 1;
	p.interval_ms = argc > 3 ? (unsigned)atoi(argv[3]) : 0;
	if (p.left < 1)
		p.left = 1;
	uv_loop_init(&p.loop);
	uv_timer_init(&p.loop, &p.timer);
	p.timer.data = &p;
	opts.reuse_conns = getenv("CRI_PROBE_REUSE") != NULL;
	p.cri = cri_client_new(&p.loop, argv[1], &opts, &err);
	if (p.cri == NULL) {
		(void)fprintf(stderr, "cri_client_new: %s\n", err.msg);
		return 2;
	}
	start(&p);
	uv_run(&p.loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&p.loop) != 0) {
		(void)fprintf(stderr, "loop still has handles\n");
		return 3;
	}
	return p.last == 0 ? 0 : 1;
}
