#include "daemon/spawn.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/log.h"

enum { SPAWN_MAX_OUTPUT = 64 * 1024 };

struct spawn {
	uv_process_t proc;
	uv_pipe_t out;
	uv_timer_t deadline;
	struct buf output;
	int64_t exit_status;
	int open_handles;
	spawn_cb cb;
	void *data;
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	static char scratch[4096];

	/* The loop is single threaded and the bytes are copied out at once
	 * in on_read, so one static scratch buffer serves every pipe. */
	*b = uv_buf_init(scratch, sizeof(scratch));
}

static void on_closed(uv_handle_t *h)
{
	struct spawn *s = h->data;

	if (--s->open_handles > 0)
		return;
	if (s->cb != NULL)
		s->cb(s->data, (int)s->exit_status,
		      s->output.data ? s->output.data : "");
	buf_free(&s->output);
	free(s);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	struct spawn *s = st->data;

	if (n > 0 && s->output.len + (size_t)n <= SPAWN_MAX_OUTPUT)
		buf_append(&s->output, b->base, (size_t)n);
	if (n < 0)
		uv_close((uv_handle_t *)st, on_closed);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
	struct spawn *s = p->data;

	s->exit_status = sig != 0 ? -sig : status;
	uv_timer_stop(&s->deadline);
	uv_close((uv_handle_t *)&s->deadline, on_closed);
	uv_close((uv_handle_t *)p, on_closed);
}

static void on_deadline(uv_timer_t *t)
{
	struct spawn *s = t->data;

	log_warn("helper program (pid %d) did not finish in time; killing it",
		 s->proc.pid);
	uv_process_kill(&s->proc, SIGKILL);
}

int spawn_run(uv_loop_t *loop, char *const argv[], int log_fd,
	      unsigned timeout_ms, int *pid, spawn_cb cb, void *data)
{
	struct spawn *s = xcalloc(1, sizeof(*s));
	uv_stdio_container_t stdio[3];
	uv_process_options_t opts;
	int rc;

	s->cb = cb;
	s->data = data;
	buf_init(&s->output);
	uv_pipe_init(loop, &s->out, 0);
	s->out.data = s;
	s->proc.data = s;
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)&s->out;
	stdio[2].flags = log_fd >= 0 ? UV_INHERIT_FD : UV_IGNORE;
	stdio[2].data.fd = log_fd;
	memset(&opts, 0, sizeof(opts));
	opts.file = argv[0];
	opts.args = (char **)argv;
	opts.stdio = stdio;
	opts.stdio_count = 3;
	opts.exit_cb = on_exit_cb;
	rc = uv_spawn(loop, &s->proc, &opts);
	if (rc != 0) {
		log_error("cannot run %s: %s", argv[0], uv_strerror(rc));
		s->open_handles = 2;
		s->cb = NULL;
		/* libuv initializes the process handle even when the spawn
		 * fails; both handles must close before s can go. */
		uv_close((uv_handle_t *)&s->out, on_closed);
		uv_close((uv_handle_t *)&s->proc, on_closed);
		return -1;
	}
	s->open_handles = 3;
	uv_timer_init(loop, &s->deadline);
	s->deadline.data = s;
	if (timeout_ms > 0)
		uv_timer_start(&s->deadline, on_deadline, timeout_ms, 0);
	if (pid != NULL)
		*pid = s->proc.pid;
	uv_read_start((uv_stream_t *)&s->out, on_alloc, on_read);
	return 0;
}
