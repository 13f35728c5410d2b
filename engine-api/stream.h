/* Long responses (logs, later events): a chunked body written as data
 * arrives. The connection is suspended while there is nothing to send and
 * resumed by the next write; a client that leaves while suspended is
 * noticed through a uv_poll on its socket (MHD cannot see it then). */
#ifndef SW_API_STREAM_H
#define SW_API_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "engine-api/request.h"

struct api_stream;

/* Called once when the stream ends for any reason (client gone, server
 * stopping, or after api_stream_end was drained); the stream must not be
 * used afterwards. */
typedef void (*api_stream_close_cb)(struct api_stream *st, void *data);

/* Answers req with a streamed body (no Content-Type when content_type is
 * NULL, as dockerd sends logs). */
struct api_stream *api_stream_start(struct api_req *req, unsigned status,
				    const char *content_type,
				    api_stream_close_cb cb, void *data);

/* Queues bytes for the client. */
void api_stream_write(struct api_stream *st, const void *p, size_t n);

/* Ends the body once everything queued has been sent. */
void api_stream_end(struct api_stream *st);

/* True once the client has gone (writes are then dropped). */
bool api_stream_gone(const struct api_stream *st);

#endif
