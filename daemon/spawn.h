/* Runs a short helper program (ctr, containerd --version) on the loop and
 * reports its exit status and standard output once it has exited. */
#ifndef SW_SPAWN_H
#define SW_SPAWN_H

#include <stdint.h>

#include <uv.h>

/* cb gets the exit status (or -1 when it could not start, or a negative
 * signal number), the captured stdout (NUL-terminated, at most 64 KiB,
 * borrowed for the call) and data. Fires exactly once, from the loop. */
typedef void (*spawn_cb)(void *data, int status, const char *out);

/* Starts argv[0] (looked up in PATH) with stderr appended to log_fd (or
 * discarded when -1), killed with SIGKILL if it runs longer than
 * timeout_ms (0: no limit). Its pid goes to *pid (may be NULL) so an owner
 * can stop it early. 0 on success; -1 when it cannot start (cb will not
 * fire). */
int spawn_run(uv_loop_t *loop, char *const argv[], int log_fd,
	      unsigned timeout_ms, int *pid, spawn_cb cb, void *data);

#endif
