#include "cri/curl_uv.h"

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/log.h"

/* One watched socket. It stays on cu->socks from creation until its
 * uv_poll_t starts closing, so a socket curl closes without telling us first
 * can still be found and unwatched before the fd goes away. */
struct curl_uv_sock {
	uv_poll_t poll;
	struct curl_uv *cu;
	curl_socket_t fd;
	struct curl_uv_sock *prev;
	struct curl_uv_sock *next;
};

struct curl_uv {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	uv_idle_t idle; /* runs 0 ms timeouts on the next loop iteration */
	struct curl_uv_sock *socks;
	unsigned handles; /* libuv handles whose close_cb has not run */
	unsigned xfers;   /* transfers added and not yet reported */
	bool closing;
	curl_uv_close_cb close_cb;
	void *close_data;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc; /* written once, under global_once */

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void drain(struct curl_uv *cu)
{
	CURLMsg *m;
	int left;

	while (!cu->closing &&
	       (m = curl_multi_info_read(cu->multi, &left)) != NULL) {
		CURL *easy = m->easy_handle;
		CURLcode res = m->data.result;
		char *priv = NULL;
		struct curl_uv_xfer *xfer;

		if (m->msg != CURLMSG_DONE)
			continue;
		/* m dies with the removal below, so read it first. */
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
		xfer = (struct curl_uv_xfer *)priv;
		curl_multi_remove_handle(cu->multi, easy);
		cu->xfers--;
		xfer->easy = NULL;
		xfer->cb(xfer, res);
	}
}

static void socket_action(struct curl_uv *cu, curl_socket_t fd, int flags)
{
	int running;
	CURLMcode rc;

	rc = curl_multi_socket_action(cu->multi, fd, flags, &running);
	if (rc != CURLM_OK)
		log_warn("curl_multi_socket_action: %s",
			 curl_multi_strerror(rc));
	drain(cu);
}

static void on_poll(uv_poll_t *poll, int status, int events)
{
	struct curl_uv_sock *sk = poll->data;
	int flags = 0;

	if (sk->cu->closing)
		return;
	/* libuv reports POLLERR as a negative status; curl must hear of it or
	 * the transfer would wait for its timeout. */
	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	socket_action(sk->cu, sk->fd, flags);
}

static void on_timeout(uv_timer_t *timer)
{
	struct curl_uv *cu = timer->data;

	socket_action(cu, CURL_SOCKET_TIMEOUT, 0);
}

static void on_idle(uv_idle_t *idle)
{
	struct curl_uv *cu = idle->data;

	uv_idle_stop(idle);
	socket_action(cu, CURL_SOCKET_TIMEOUT, 0);
}

static void maybe_finish(struct curl_uv *cu)
{
	if (!cu->closing || cu->handles > 0 || cu->multi != NULL)
		return;
	cu->close_cb(cu, cu->close_data);
	free(cu);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct curl_uv *cu = h->data;

	cu->handles--;
	maybe_finish(cu);
}

static void on_sock_closed(uv_handle_t *h)
{
	struct curl_uv_sock *sk = h->data;
	struct curl_uv *cu = sk->cu;

	free(sk);
	cu->handles--;
	maybe_finish(cu);
}

static struct curl_uv_sock *sock_find(struct curl_uv *cu, curl_socket_t fd)
{
	struct curl_uv_sock *sk;

	for (sk = cu->socks; sk != NULL; sk = sk->next)
		if (sk->fd == fd)
			return sk;
	return NULL;
}

static struct curl_uv_sock *sock_new(struct curl_uv *cu, curl_socket_t fd)
{
	struct curl_uv_sock *sk = xcalloc(1, sizeof(*sk));
	int rc;

	rc = uv_poll_init_socket(cu->loop, &sk->poll, fd);
	if (rc != 0) {
		log_error("uv_poll_init_socket(%d): %s", (int)fd,
			  uv_strerror(rc));
		free(sk);
		return NULL;
	}
	sk->poll.data = sk;
	sk->cu = cu;
	sk->fd = fd;
	sk->next = cu->socks;
	if (cu->socks != NULL)
		cu->socks->prev = sk;
	cu->socks = sk;
	cu->handles++;
	return sk;
}

/* Unlinks sk and closes its poll handle; sk is freed in the close callback.
 * Idempotent, because both curl's REMOVE and the close-socket hook get
 * here. */
static void sock_close(struct curl_uv_sock *sk)
{
	struct curl_uv *cu = sk->cu;

	if (uv_is_closing((uv_handle_t *)&sk->poll))
		return;
	if (sk->prev != NULL)
		sk->prev->next = sk->next;
	else
		cu->socks = sk->next;
	if (sk->next != NULL)
		sk->next->prev = sk->prev;
	sk->prev = sk->next = NULL;
	uv_poll_stop(&sk->poll);
	uv_close((uv_handle_t *)&sk->poll, on_sock_closed);
}

/* CURLMOPT_SOCKETFUNCTION: only (un)watches fds; never calls into curl
 * beyond curl_multi_assign, which curl allows here. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp,
			  void *socketp)
{
	struct curl_uv *cu = userp;
	struct curl_uv_sock *sk = socketp;
	int events = 0;

	if (what == CURL_POLL_REMOVE) {
		if (sk != NULL) {
			sock_close(sk);
			curl_multi_assign(cu->multi, fd, NULL);
		}
		return 0;
	}
	if (cu->closing)
		return 0;
	if (sk == NULL) {
		sk = sock_new(cu, fd);
		if (sk == NULL)
			return -1;
		curl_multi_assign(cu->multi, fd, sk);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	uv_poll_start(&sk->poll, events, on_poll);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: arms the timer; a 0 ms timeout goes to the idle
 * handle so curl is called back on the next loop iteration, not from inside
 * this callback (and not in a tight loop inside libuv's timer phase). */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct curl_uv *cu = userp;

	if (cu->closing)
		return 0;
	if (timeout_ms < 0) {
		uv_timer_stop(&cu->timer);
		uv_idle_stop(&cu->idle);
	} else if (timeout_ms == 0) {
		uv_timer_stop(&cu->timer);
		uv_idle_start(&cu->idle, on_idle);
	} else {
		uv_idle_stop(&cu->idle);
		uv_timer_start(&cu->timer, on_timeout, (uint64_t)timeout_ms, 0);
	}
	return 0;
}

/* CURLOPT_CLOSESOCKETFUNCTION: a fd must leave epoll before it is closed,
 * or a new socket reusing the number makes libuv abort (curl #14976, libuv
 * #1495). curl 7.88 sends REMOVE first, so usually nothing is watched. */
static int on_curl_closesocket(void *clientp, curl_socket_t fd)
{
	struct curl_uv *cu = clientp;
	struct curl_uv_sock *sk = sock_find(cu, fd);

	if (sk != NULL)
		uv_poll_stop(&sk->poll);
	return close(fd);
}

struct curl_uv *curl_uv_new(uv_loop_t *loop, struct sw_err *err)
{
	struct curl_uv *cu;

	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK) {
		sw_err_set(err, SW_ESYSTEM, "curl_global_init: %s",
			   curl_easy_strerror(global_rc));
		return NULL;
	}
	cu = xcalloc(1, sizeof(*cu));
	cu->loop = loop;
	cu->multi = curl_multi_init();
	if (cu->multi == NULL) {
		free(cu);
		sw_err_set(err, SW_ESYSTEM, "curl_multi_init failed");
		return NULL;
	}
	curl_multi_setopt(cu->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(cu->multi, CURLMOPT_SOCKETDATA, cu);
	curl_multi_setopt(cu->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(cu->multi, CURLMOPT_TIMERDATA, cu);
	uv_timer_init(loop, &cu->timer);
	cu->timer.data = cu;
	uv_idle_init(loop, &cu->idle);
	cu->idle.data = cu;
	cu->handles = 2;
	return cu;
}

CURLM *curl_uv_multi(struct curl_uv *cu)
{
	return cu->multi;
}

int curl_uv_start(struct curl_uv_xfer *xfer, struct curl_uv *cu, CURL *easy,
		  curl_uv_xfer_cb cb, struct sw_err *err)
{
	CURLMcode rc;

	if (cu->closing)
		return sw_err_set(err, SW_EUNAVAILABLE, "http client closing");
	xfer->easy = easy;
	xfer->cb = cb;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)xfer);
	curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION,
			 on_curl_closesocket);
	curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, cu);
	/* Adding only arms the timer (0 ms, deferred to the idle handle), so
	 * no completion can be reported from in here. */
	rc = curl_multi_add_handle(cu->multi, easy);
	if (rc != CURLM_OK) {
		xfer->easy = NULL;
		return sw_err_set(err, SW_ESYSTEM, "curl_multi_add_handle: %s",
				  curl_multi_strerror(rc));
	}
	cu->xfers++;
	return 0;
}

void curl_uv_stop(struct curl_uv *cu, struct curl_uv_xfer *xfer)
{
	if (xfer->easy == NULL)
		return;
	curl_multi_remove_handle(cu->multi, xfer->easy);
	xfer->easy = NULL;
	cu->xfers--;
}

/* Runs from libuv's close phase, outside every curl callback, so cleaning
 * up the multi handle here cannot recurse into curl. */
static void on_idle_closed(uv_handle_t *h)
{
	struct curl_uv *cu = h->data;

	/* curl_multi_cleanup still calls the socket callback (REMOVE) for
	 * cached connections; the loop and our handles are valid here. */
	curl_multi_cleanup(cu->multi);
	cu->multi = NULL;
	while (cu->socks != NULL)
		sock_close(cu->socks);
	uv_close((uv_handle_t *)&cu->timer, on_handle_closed);
	on_handle_closed(h);
}

void curl_uv_close(struct curl_uv *cu, curl_uv_close_cb cb, void *data)
{
	struct curl_uv_sock *sk;

	assert(!cu->closing);
	assert(cu->xfers == 0);
	cu->closing = true;
	cu->close_cb = cb;
	cu->close_data = data;
	uv_timer_stop(&cu->timer);
	uv_idle_stop(&cu->idle);
	/* Events are ignored from now on; stop them until cleanup closes the
	 * sockets, so a readable fd does not wake the loop for nothing. */
	for (sk = cu->socks; sk != NULL; sk = sk->next)
		uv_poll_stop(&sk->poll);
	uv_close((uv_handle_t *)&cu->idle, on_idle_closed);
}
