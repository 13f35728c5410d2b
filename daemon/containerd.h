/* The managed containerd: when swarmd is not pointed at an external
 * containerd it runs its own as a supervised child, with a configuration it
 * writes under data-root (private root, state, sockets, runc root and CNI
 * directory; CRI enabled, offline, with swarmd's own pause image).
 *
 * After a kill -9 of swarmd the old child keeps running; the next start finds
 * it through its pid file and replaces it (containers survive: their shims
 * are independent of containerd). */
#ifndef SW_CONTAINERD_H
#define SW_CONTAINERD_H

#include <stdbool.h>

#include <uv.h>

#include "lib/err.h"

struct ctd;

struct ctd_paths {
	const char *data_root;
	const char *exec_root;
	const char *pause_tar; /* OCI tar of the sandbox image to import */
};

/* The sandbox image reference the CRI plugin is configured with. */
#define CTD_PAUSE_IMAGE "swarmd.local/pause:1"

/* Creates the manager; nothing runs until ctd_start. */
struct ctd *ctd_new(uv_loop_t *loop, const struct ctd_paths *paths);

/* Writes the configuration, replaces an orphaned child, starts containerd
 * and, once its socket answers, imports the pause image; ready_cb then
 * fires once (status 0, or negative when containerd never came up). The
 * child is restarted with backoff if it dies. -1 with err when it cannot
 * even be started. */
int ctd_start(struct ctd *c, void (*ready_cb)(void *data, int status),
	      void *data, struct sw_err *err);

/* The gRPC socket path of the managed containerd. */
const char *ctd_socket(const struct ctd *c);

/* Stops the child (SIGTERM, SIGKILL after a grace period) and closes the
 * handles; cb fires once everything is closed. */
void ctd_stop(struct ctd *c, void (*cb)(void *data), void *data);
void ctd_free(struct ctd *c);

/* Writes the containerd configuration text for the given directories into
 * a malloc'd string (exposed for tests). */
char *ctd_config_text(const char *root, const char *state, const char *sock,
		      const char *runc_root, const char *cni_conf,
		      const char *opt_dir);

#endif
