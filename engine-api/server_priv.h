/* What request.c and server.c share privately. */
#ifndef SW_API_SERVER_PRIV_H
#define SW_API_SERVER_PRIV_H

#include <microhttpd.h>

#include "engine-api/request.h"

/* Adds the headers Docker puts on every response. */
void api_add_common_headers(struct MHD_Response *r);

/* Called by the reply functions once req->response is set: resumes the
 * connection if the answer came asynchronously. */
void api_server_answered(struct api_server *s, struct api_req *req);

/* Frees a request whose last reference is gone. */
void api_req_destroy(struct api_req *req);

#endif
