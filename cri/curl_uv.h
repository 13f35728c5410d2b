/* curl_uv drives libcurl's multi_socket interface from a libuv loop, so HTTP
 * transfers share the daemon's one loop and never block it (STYLE.md §6).
 *
 * Invariants:
 * - One uv_poll_t per socket curl asks us to watch, created and stopped from
 *   CURLMOPT_SOCKETFUNCTION and remembered with curl_multi_assign; one
 *   uv_timer_t (and a uv_idle_t for 0 ms) for CURLMOPT_TIMERFUNCTION.
 * - curl is never called from inside one of its own callbacks: those only
 *   arm or disarm handles, and the loop calls curl back later.
 * - After every curl_multi_socket_action, finished transfers are drained with
 *   curl_multi_info_read and reported, one callback per transfer.
 * - Not thread-safe: everything runs on the loop's thread. */
#ifndef CRI_CURL_UV_H
#define CRI_CURL_UV_H

#include <curl/curl.h>
#include <uv.h>

#include "lib/err.h"

struct curl_uv;
struct curl_uv_xfer;

/* Called once per transfer started with curl_uv_start, from the loop, after
 * the easy handle has left the multi handle: the callee may clean it up,
 * free xfer, or start another transfer. `result` is curl's outcome. */
typedef void (*curl_uv_xfer_cb)(struct curl_uv_xfer *xfer, CURLcode result);

/* Called once when curl_uv_close has finished; the curl_uv is freed after it
 * returns. */
typedef void (*curl_uv_close_cb)(struct curl_uv *cu, void *data);

/* A transfer in flight, allocated by the caller and kept alive until its
 * callback runs or curl_uv_stop returns. */
struct curl_uv_xfer {
	void *data; /* for the caller */
	/* private */
	CURL *easy;
	curl_uv_xfer_cb cb;
};

/* Creates a multi handle driven by `loop` (which must outlive it). Calls
 * curl_global_init once per process. Returns NULL and fills err if libcurl
 * cannot be initialised. The caller frees it with curl_uv_close. */
struct curl_uv *curl_uv_new(uv_loop_t *loop, struct sw_err *err);

/* Returns the multi handle so the owner can set CURLMOPT_* options (never
 * the socket/timer functions or their data). */
CURLM *curl_uv_multi(struct curl_uv *cu);

/* Adds `easy` (configured by the caller) to the loop. The caller keeps
 * owning `easy` and must not set CURLOPT_PRIVATE or
 * CURLOPT_CLOSESOCKETFUNCTION/DATA on it. On 0, `cb` fires exactly once,
 * later, from the loop (never inside this function), unless the transfer is
 * withdrawn with curl_uv_stop first. On error cb never fires: -SW_ESYSTEM if
 * curl refuses the handle, -SW_EUNAVAILABLE once closing has begun. Must not
 * be called from inside a curl callback. */
int curl_uv_start(struct curl_uv_xfer *xfer, struct curl_uv *cu, CURL *easy,
		  curl_uv_xfer_cb cb, struct sw_err *err);

/* Withdraws a transfer started with curl_uv_start whose callback has not
 * run; its callback will not run. The caller owns the easy handle again.
 * Must not be called from inside a curl callback. */
void curl_uv_stop(struct curl_uv *cu, struct curl_uv_xfer *xfer);

/* Starts closing: every transfer must have finished or been withdrawn first.
 * Cleans up the multi handle (closing cached connections) and closes the
 * libuv handles; `cb` fires from the loop once the last handle is closed,
 * then the curl_uv is freed. Must not be called from inside a curl
 * callback, nor twice. */
void curl_uv_close(struct curl_uv *cu, curl_uv_close_cb cb, void *data);

#endif
