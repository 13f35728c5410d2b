/* The CRI node runtime: orchestrator/runtime.h on containerd.
 *
 * - Images, containers and exec go through CRI (ListImages, ImageStatus
 *   verbose for an image's configuration, PullImage, RemoveImage,
 *   ListContainers, ContainerStatus verbose, ExecSync).
 * - What CRI cannot do runs `ctr --namespace k8s.io` (CRI's namespace), as
 *   the daemon already does for the pause image: `images import -` for a
 *   load, with the tar streamed into its stdin through a pipe as it arrives
 *   (never buffered whole, never written to a file), `images tag --force`
 *   and `images rm`. CRI learns about those changes from containerd's
 *   events, a moment after ctr exits, so each of them waits (briefly) until
 *   ImageStatus shows the change before it reports success.
 * - Registries on loopback addresses (127.0.0.0/8, localhost) are pulled
 *   from over plain HTTP: containerd 1.6's CRI does that by itself, with
 *   and without registry configuration, so swarmd configures nothing.
 * - There is no streaming exec: a command runs to completion with
 *   ExecSync, and its output is handed over once it exited.
 *
 * The pure helpers below are exposed for tests. */
#ifndef CRI_RUNTIME_CRI_H
#define CRI_RUNTIME_CRI_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "cri/grpc.h"
#include "lib/err.h"
#include "orchestrator/runtime.h"

#define RT_CRI_NAMESPACE "k8s.io" /* containerd namespace CRI uses */

struct rt_cri_config {
	const char *ctr; /* NULL: "ctr", looked up in PATH */
	/* The full reference of the sandbox (pause) image, left out of the
	 * image list; NULL: none is hidden. */
	const char *sandbox_image;
	const struct grpc_opts *grpc; /* NULL: defaults */
};

/* Creates a runtime for the containerd listening on socket (need not be up
 * yet). cfg may be NULL; its strings are copied. Free it with
 * runtime_close. NULL with err filled when the CRI client cannot be made. */
struct node_runtime *runtime_cri_new(uv_loop_t *loop, const char *socket,
				     const struct rt_cri_config *cfg,
				     struct sw_err *err);

/* ---- Pure helpers ---- */

/* The image names in the standard output of `ctr images import`
 * ("unpacking docker.io/library/busybox:latest (sha256:...)...done"), in
 * order, into a malloc'd array of malloc'd strings. Returns the count. */
size_t rt_cri_import_names(const char *out, char ***names);

/* The message of a failed ctr from its standard error: the last line
 * starting with "ctr: ", without that prefix, into out[n]; else the last
 * non-empty line; else fallback. */
void rt_cri_ctr_error(const char *errout, const char *fallback, char *out,
		      size_t n);

/* Fills the detailed members of c from the verbose `info` JSON of a
 * ContainerStatus reply (the runtime spec's process and hostname, the
 * CRI config's tty and stdin, the pid). -1 when it is not valid JSON. */
int rt_cri_parse_container_info(const char *json, struct rt_container *c);

/* The `imageSpec` member of an ImageStatus verbose `info` JSON, as JSON
 * text (malloc'd), or NULL. */
char *rt_cri_image_config(const char *json);

/* Releases what a container or image holds (not the struct itself). */
void rt_container_clear(struct rt_container *c);
void rt_image_clear(struct rt_image *im);

#endif
