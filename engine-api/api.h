/* The Engine API server: libmicrohttpd on a unix socket, driven by the
 * daemon's libuv loop (MHD's epoll fd watched by a uv_poll_t, its timeouts
 * by a uv_timer_t; no thread of its own). */
#ifndef SW_API_H
#define SW_API_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "lib/err.h"

/* What the daemon tells the API about itself. Strings are borrowed and must
 * outlive the server; the daemon may update the mutable members (e.g. the
 * containerd version once it is known) at any time on the loop thread. */
struct api_env {
	const char *data_root;
	const char *engine_id;
	const char *const *labels; /* NULL-terminated, may be NULL */
	bool debug;
	char containerd_version[64];  /* "" until known */
	char containerd_commit[128];
	char runc_version[64];
	char runc_commit[128];
	struct swarm *swarm;          /* this node's swarm membership */
	struct node_runtime *runtime; /* images, containers, exec, or NULL */
	uv_loop_t *loop;
};

struct api_server;
struct swarm;

/* Creates a server on loop; env is borrowed. */
struct api_server *api_server_new(uv_loop_t *loop, struct api_env *env);

/* Binds the unix socket at path (replacing a stale one, refusing one that a
 * live process still answers on) and starts serving. -1 with err set. */
int api_server_listen_unix(struct api_server *s, const char *path,
			   struct sw_err *err);

/* Stops serving: answers suspended requests, stops MHD, removes the socket
 * file, and closes the libuv handles. cb fires once the handles are closed;
 * then api_server_free may be called. */
void api_server_stop(struct api_server *s, void (*cb)(void *data),
		     void *data);
void api_server_free(struct api_server *s);

/* The environment a handler runs in. */
struct api_env *api_server_env(struct api_server *s);

/* Largest request body accepted (bytes); larger ones get 413. */
enum { API_BODY_LIMIT = 16 * 1024 * 1024 };

#endif
