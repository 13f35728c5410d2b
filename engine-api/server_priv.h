/* What request.c and server.c share privately. */
#ifndef SW_API_SERVER_PRIV_H
#define SW_API_SERVER_PRIV_H

#include <microhttpd.h>
#include <uv.h>

#include "engine-api/request.h"

/* Adds the headers Docker puts on every response. */
void api_add_common_headers(struct MHD_Response *r);

/* Called by the reply functions once req->response is set: resumes the
 * connection if the answer came asynchronously. */
void api_server_answered(struct api_server *s, struct api_req *req);

struct api_stream;
/* Keeps track of open streams so shutdown can end them (on = add). */
void api_server_track_stream(struct api_server *s, struct api_stream *st,
			     bool on);
/* Ends a stream at once (client treated as gone). */
void api_stream_abort(struct api_stream *st);

/* Runs MHD soon (after a resume). */
void api_server_kick(struct api_server *s);

/* The loop the server runs on. */
uv_loop_t *api_server_loop(struct api_server *s);

/* Installs a ready-made response as req's answer (takes r). */
void api_reply_response(struct api_req *req, unsigned status,
			struct MHD_Response *r);

/* Frees a request whose last reference is gone. */
void api_req_destroy(struct api_req *req);

/* upgrade.c: hijacked connections. The server tracks the ones in progress
 * (on = add) so shutdown can close them; a request frees its own unless it
 * has been handed over. */
struct api_upgrade;
void api_server_track_upgrade(struct api_server *s, struct api_upgrade *u,
			      bool on);
void api_upgrade_abort(struct api_upgrade *u);
void api_upgrade_free(struct api_upgrade *u);

/* The rendered services behind GET /services (engine-api/svclist.h). */
struct svclist *api_server_svclist(struct api_server *s);
struct verscache;
/* Each task's JSON text by record version, for GET /tasks. */
struct verscache *api_server_task_texts(struct api_server *s);

/* The server's exec instances (engine-api/execs.h). */
struct api_execs *api_server_execs(struct api_server *s);

/* This node's local networks (engine-api/localnets.h). */
struct localnets *api_server_localnets(struct api_server *s);

#endif
