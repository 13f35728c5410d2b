#include "engine-api/api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <microhttpd.h>

#include "engine-api/errors.h"
#include "engine-api/execs.h"
#include "engine-api/svclist.h"
#include "engine-api/localnets.h"
#include "engine-api/router.h"
#include "engine-api/routes.h"
#include "engine-api/server_priv.h"
#include "engine-api/stream.h"
#include "lib/alloc.h"
#include "lib/verscache.h"
#include "lib/log.h"
#include "orchestrator/swarm.h"

/* A request waiting for an asynchronous answer, linked on the server so
 * shutdown can resume it (MHD forbids stopping with suspended ones). */
struct suspended {
	struct api_req *req;
	struct suspended *next;
};

struct api_server {
	uv_loop_t *loop;
	struct api_env *env;
	struct MHD_Daemon *mhd;
	uv_poll_t poll;
	uv_timer_t timer;
	char *socket_path;
	struct suspended *suspended;
	struct api_stream **streams; /* open streamed answers */
	size_t n_streams;
	struct api_upgrade **upgrades; /* hijacked connections in progress */
	size_t n_upgrades;
	struct api_execs *execs;
	struct svclist *svclist;
	struct verscache *task_texts; /* GET /tasks: each task's JSON */
	struct localnets *localnets; /* opened on first use */
	int open_handles;
	bool stopping;
	void (*stop_cb)(void *data);
	void *stop_data;
};

enum { IDLE_TIMEOUT_S = 600, CONN_MEMORY = 256 * 1024 };

struct api_env *api_server_env(struct api_server *s)
{
	return s->env;
}

void api_add_common_headers(struct MHD_Response *r)
{
	MHD_add_response_header(r, "Api-Version", API_VERSION);
	MHD_add_response_header(r, "Docker-Experimental", "false");
	MHD_add_response_header(r, "Ostype", "linux");
	MHD_add_response_header(r, "Server",
				"swarmd/" SWARMD_VERSION " (linux)");
}

static void run_mhd(struct api_server *s);

static void on_timer(uv_timer_t *t)
{
	run_mhd(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	run_mhd(p->data);
}

/* Runs MHD once and re-arms the timer from MHD's own timeout, never waiting
 * longer than it asks. */
static void run_mhd(struct api_server *s)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (s->mhd == NULL)
		return;
	MHD_run(s->mhd);
	if (MHD_get_timeout(s->mhd, &ms) == MHD_YES)
		uv_timer_start(&s->timer, on_timer, ms, 0);
	else
		uv_timer_stop(&s->timer);
}

static void kick(struct api_server *s)
{
	if (s->mhd != NULL)
		uv_timer_start(&s->timer, on_timer, 0, 0);
}

void api_server_track_stream(struct api_server *s, struct api_stream *st,
			     bool on)
{
	if (on) {
		s->streams = xrealloc(s->streams,
				      (s->n_streams + 1) * sizeof(*s->streams));
		s->streams[s->n_streams++] = st;
		return;
	}
	for (size_t i = 0; i < s->n_streams; i++)
		if (s->streams[i] == st) {
			s->streams[i] = s->streams[--s->n_streams];
			return;
		}
}

void api_server_track_upgrade(struct api_server *s, struct api_upgrade *u,
			      bool on)
{
	if (on) {
		s->upgrades =
		    xrealloc(s->upgrades, (s->n_upgrades + 1) *
					      sizeof(struct api_upgrade *));
		s->upgrades[s->n_upgrades++] = u;
		return;
	}
	for (size_t i = 0; i < s->n_upgrades; i++)
		if (s->upgrades[i] == u) {
			s->upgrades[i] = s->upgrades[--s->n_upgrades];
			return;
		}
}

struct svclist *api_server_svclist(struct api_server *s)
{
	return s->svclist;
}

struct verscache *api_server_task_texts(struct api_server *s)
{
	return s->task_texts;
}

struct api_execs *api_server_execs(struct api_server *s)
{
	return s->execs;
}

struct localnets *api_server_localnets(struct api_server *s)
{
	/* Opened lazily: a daemon nobody asks about networks never writes
	 * the file, and the data root exists by the first request. */
	if (s->localnets == NULL)
		s->localnets = localnets_open(s->env->data_root);
	return s->localnets;
}

void api_server_kick(struct api_server *s)
{
	kick(s);
}

uv_loop_t *api_server_loop(struct api_server *s)
{
	return s->loop;
}

static void unlink_suspended(struct api_server *s, struct api_req *req)
{
	for (struct suspended **p = &s->suspended; *p != NULL;
	     p = &(*p)->next) {
		if ((*p)->req == req) {
			struct suspended *dead = *p;

			*p = dead->next;
			free(dead);
			return;
		}
	}
}

void api_server_answered(struct api_server *s, struct api_req *req)
{
	if (!req->suspended)
		return;
	req->suspended = false;
	unlink_suspended(s, req);
	MHD_resume_connection(req->conn);
	kick(s);
}

void api_req_destroy(struct api_req *req)
{
	for (int i = 0; i < req->nparams; i++)
		free(req->params[i]);
	if (req->response != NULL)
		MHD_destroy_response(req->response);
	api_upgrade_free(req->upgrade);
	buf_free(&req->body);
	free(req->path);
	free(req);
}

static struct api_req *req_new(struct api_server *s,
			       struct MHD_Connection *conn, const char *url,
			       const char *method)
{
	struct api_req *req = xcalloc(1, sizeof(*req));
	const char *rest;

	req->srv = s;
	req->conn = conn;
	req->refs = 1;
	req->method = router_method(method);
	req->api_major = API_VERSION_MAJOR;
	req->api_minor = API_VERSION_MINOR;
	router_strip_version(url, &req->api_major, &req->api_minor, &rest);
	req->path = xstrdup(rest);
	buf_init(&req->body);
	return req;
}

static enum MHD_Result queue_answer(struct api_req *req)
{
	enum MHD_Result rc = MHD_queue_response(req->conn, req->status,
						req->response);

	MHD_destroy_response(req->response);
	req->response = NULL;
	return rc;
}

/* The handler of a cluster read runs once this manager caught up with the
 * leader; if the leader was lost meanwhile, it answers from what this
 * store has, as it would with no leader known. */
static void after_read_barrier(void *data, int status, const struct sw_err *err)
{
	struct api_req *req = data;

	if (status != 0)
		log_debug("read barrier: %s", err->msg);
	if (!req->closed && req->response == NULL)
		req->route->handler(req);
	api_req_unref(req);
}

/* Routes the request and calls its handler, after the version checks. */
static void dispatch(struct api_req *req)
{
	const struct api_route *route;
	struct sw_err err;
	bool plain;

	if (req->body_too_large) {
		api_reply_errorf(req, SW_ETOOLARGE,
				 "request body too large");
		return;
	}
	if (router_check_version(req->api_major, req->api_minor, &plain,
				 &err) != 0) {
		if (plain)
			api_reply_text(req, 400, "text/plain; charset=utf-8",
				       err.msg);
		else
			api_reply_error(req, &err);
		return;
	}
	route = router_match(api_routes, api_nroutes, req->method, req->path,
			     req->params, &req->nparams);
	if (route == NULL) {
		api_reply_errorf(req, SW_ENOTFOUND, "page not found");
		return;
	}
	if (route->cluster_read && req->srv->env->swarm != NULL) {
		req->route = route;
		api_req_ref(req);
		if (swarm_read_barrier(req->srv->env->swarm, after_read_barrier,
				       req))
			return;
		api_req_unref(req);
	}
	route->handler(req);
}

static bool content_length_too_large(struct MHD_Connection *conn)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						     "Content-Length");

	return cl != NULL && strtoull(cl, NULL, 10) > API_BODY_LIMIT;
}

static void take_upload(struct api_req *req, const char *data, size_t n)
{
	if (req->body_too_large)
		return;
	if (req->body.len + n > API_BODY_LIMIT) {
		req->body_too_large = true;
		buf_free(&req->body);
		return;
	}
	buf_append(&req->body, data, n);
}

/* Suspends req until its answer (or, for a paused body, more appetite).
 * MHD may go on handing over body chunks it already read in the same run,
 * so a paused request can ask again: that is a no-op. */
static void suspend(struct api_server *s, struct api_req *req)
{
	struct suspended *node;

	if (req->suspended)
		return;
	node = xmalloc(sizeof(*node));
	req->suspended = true;
	node->req = req;
	node->next = s->suspended;
	s->suspended = node;
	MHD_suspend_connection(req->conn);
}

void api_req_stream_body(struct api_req *req, const struct api_body_sink *sink,
			 void *data)
{
	req->sink = sink;
	req->sink_data = data;
}

void api_req_pause_body(struct api_req *req)
{
	req->body_paused = true;
}

void api_req_resume_body(struct api_req *req)
{
	req->body_paused = false;
	if (req->suspended && req->response == NULL && !req->body_ended) {
		req->suspended = false;
		unlink_suspended(req->srv, req);
		MHD_resume_connection(req->conn);
		kick(req->srv);
	}
}

/* Routes whose body is streamed run their handler when the headers
 * arrive. Returns false when req is not for one of them. */
static bool dispatch_body_route(struct api_req *req)
{
	const struct api_route *route;
	struct sw_err err;
	bool plain;

	route = router_match(api_body_routes, api_body_nroutes, req->method,
			     req->path, req->params, &req->nparams);
	if (route == NULL)
		return false;
	req->dispatched = true;
	if (router_check_version(req->api_major, req->api_minor, &plain,
				 &err) != 0) {
		if (plain)
			api_reply_text(req, 400, "text/plain; charset=utf-8",
				       err.msg);
		else
			api_reply_error(req, &err);
		return true;
	}
	route->handler(req);
	if (req->sink == NULL && req->response == NULL)
		api_reply_errorf(req, SW_ESYSTEM, "no body consumer");
	return true;
}

/* Hands a chunk to the request's sink, pausing the connection when the
 * sink asks; once answered, the rest of the body is dropped. */
static void feed_sink(struct api_server *s, struct api_req *req,
		      const char *data, size_t n)
{
	if (req->response != NULL || req->body_ended)
		return;
	req->sink->write(req, data, n);
	if (req->body_paused && req->response == NULL && !s->stopping)
		suspend(s, req);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct api_server *s = cls;
	struct api_req *req = *con_cls;

	if (req == NULL) {
		req = req_new(s, conn, url, method);
		*con_cls = req;
		if (dispatch_body_route(req))
			return req->response != NULL ? queue_answer(req)
						     : MHD_YES;
		if (!content_length_too_large(conn))
			return MHD_YES;
		req->body_too_large = true;
		dispatch(req);
		return queue_answer(req);
	}
	if (*upload_data_size > 0) {
		if (req->sink != NULL)
			feed_sink(s, req, upload_data, *upload_data_size);
		else
			take_upload(req, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->sink != NULL && !req->body_ended) {
		req->body_ended = true;
		req->sink->end(req, true);
	}
	if (req->response != NULL)
		return queue_answer(req);
	if (req->dispatched && req->sink == NULL) {
		api_reply_errorf(req, SW_EUNAVAILABLE,
				 "swarmd is shutting down");
		return queue_answer(req);
	}
	if (!req->dispatched) {
		req->dispatched = true;
		dispatch(req);
		if (req->response != NULL)
			return queue_answer(req);
	}
	if (s->stopping) {
		api_reply_errorf(req, SW_EUNAVAILABLE,
				 "swarmd is shutting down");
		return queue_answer(req);
	}
	suspend(s, req);
	return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn,
			 void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct api_req *req = *con_cls;

	if (req == NULL)
		return;
	*con_cls = NULL;
	req->closed = true;
	if (req->sink != NULL && !req->body_ended) {
		req->body_ended = true;
		req->sink->end(req, false);
	}
	api_req_unref(req);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char text[512];

	vsnprintf(text, sizeof(text), fmt, ap);
	text[strcspn(text, "\n")] = '\0';
	log_debug("api server: %s", text);
}

struct api_server *api_server_new(uv_loop_t *loop, struct api_env *env)
{
	struct api_server *s = xcalloc(1, sizeof(*s));

	s->loop = loop;
	s->env = env;
	s->execs = execs_new();
	s->svclist = svclist_new();
	s->task_texts = verscache_new(free);
	env->loop = loop;
	return s;
}

/* Binds and listens on a unix socket, replacing a stale socket file. */
static int bind_unix(const char *path, struct sw_err *err)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return sw_err_set(err, SW_EINVALID,
				  "socket path too long: %s", path);
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return sw_err_sys(err, errno, "socket");
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
		close(fd);
		return sw_err_set(err, SW_ECONFLICT,
				  "%s is in use by a running daemon", path);
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		close(fd);
		return sw_err_sys(err, errno, "removing stale %s", path);
	}
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == -1 ||
	    chmod(path, 0660) == -1 || listen(fd, 128) == -1) {
		sw_err_sys(err, errno, "listening on %s", path);
		close(fd);
		return -1;
	}
	return fd;
}

static int start_mhd(struct api_server *s, int fd, struct sw_err *err)
{
	const union MHD_DaemonInfo *info;

	s->mhd = MHD_start_daemon(
		MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE |
			MHD_USE_ERROR_LOG,
		0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, MHD_OPTION_END);
	if (s->mhd == NULL) {
		close(fd);
		return sw_err_set(err, SW_ESYSTEM,
				  "cannot start the API server");
	}
	info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	uv_poll_init(s->loop, &s->poll, info->epoll_fd);
	uv_timer_init(s->loop, &s->timer);
	s->poll.data = s;
	s->timer.data = s;
	s->open_handles = 2;
	uv_poll_start(&s->poll, UV_READABLE, on_poll);
	kick(s);
	return 0;
}

int api_server_listen_unix(struct api_server *s, const char *path,
			   struct sw_err *err)
{
	int fd = bind_unix(path, err);

	if (fd < 0)
		return -1;
	s->socket_path = xstrdup(path);
	if (start_mhd(s, fd, err) != 0) {
		unlink(path);
		return -1;
	}
	log_info("API listen on %s", path);
	return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct api_server *s = h->data;

	if (--s->open_handles == 0 && s->stop_cb != NULL)
		s->stop_cb(s->stop_data);
}

/* Answers every suspended request so MHD can be stopped legally. */
static void resume_all(struct api_server *s)
{
	while (s->suspended != NULL) {
		struct api_req *req = s->suspended->req;

		api_reply_errorf(req, SW_EUNAVAILABLE,
				 "swarmd is shutting down");
		if (req->suspended)
			api_server_answered(s, req);
	}
}

void api_server_stop(struct api_server *s, void (*cb)(void *data),
		     void *data)
{
	s->stopping = true;
	s->stop_cb = cb;
	s->stop_data = data;
	if (s->mhd == NULL) {
		if (cb != NULL)
			cb(data);
		return;
	}
	resume_all(s);
	while (s->n_streams > 0)
		api_stream_abort(s->streams[--s->n_streams]);
	/* Each abort untracks itself once its socket is closed. */
	for (size_t i = 0; i < s->n_upgrades; i++)
		api_upgrade_abort(s->upgrades[i]);
	MHD_run(s->mhd);
	uv_poll_stop(&s->poll);
	uv_timer_stop(&s->timer);
	uv_close((uv_handle_t *)&s->poll, on_handle_closed);
	uv_close((uv_handle_t *)&s->timer, on_handle_closed);
	MHD_stop_daemon(s->mhd);
	s->mhd = NULL;
	if (s->socket_path != NULL)
		unlink(s->socket_path);
}

void api_server_free(struct api_server *s)
{
	if (s == NULL)
		return;
	free(s->socket_path);
	free(s->streams);
	free(s->upgrades);
	execs_free(s->execs);
	svclist_free(s->svclist);
	verscache_free(s->task_texts);
	localnets_free(s->localnets);
	free(s);
}
