/* Writes made on a follower, proposed by the leader (the node transport's
 * forward channel).
 *
 * A follower sends the encoded change with a sequence number; the leader
 * proposes it and answers the index it committed at, or the error. The
 * follower completes the write only once its own store has applied that
 * index, so whoever wrote through this manager reads the write from it
 * right after (read-your-writes). A connection lost while a write is in
 * flight fails it with UNAVAILABLE: its outcome is unknown, as with a
 * leadership change on the leader. The same channel carries read barriers
 * (no change; the leader answers its applied index). */
#ifndef SW_ORCH_FORWARD_H
#define SW_ORCH_FORWARD_H

#include <stdint.h>

#include <uv.h>

#include "lib/err.h"
#include "orchestrator/change.h"
#include "orchestrator/transport.h"

/* status 0: committed at index and applied here; else -kind, err borrowed
 * for the call (the leader's own error text, unwrapped). */
typedef void (*forward_cb)(void *data, int status, const struct sw_err *err);

struct forwarder;

struct store;

/* A forwarder dialing over t, waiting on st's applied index (both
 * borrowed; free the forwarder first). */
struct forwarder *forwarder_new(struct transport *t, const struct store *st);

/* Sends c (encoded here; the caller keeps it) to the leader at leader_addr
 * (host:port). Returns 0 and cb fires once, later, from the loop; or -kind
 * with err set. */
int forwarder_propose(struct forwarder *f, const char *leader_addr,
		      const struct change *c, forward_cb cb, void *data,
		      struct sw_err *err);

/* A read barrier: asks the leader at leader_addr for the index its reads
 * see and completes once the local store has applied it, so a read made
 * here afterwards sees every write the leader had applied when it answered.
 * 0 and cb fires once, later; or -kind with err set. */
int forwarder_barrier(struct forwarder *f, const char *leader_addr,
		      forward_cb cb, void *data, struct sw_err *err);

/* The local store applied everything up to index: completes the writes
 * that were waiting for it. */
void forwarder_applied(struct forwarder *f, uint64_t index);

/* Fails every pending write with UNAVAILABLE (callbacks fire from here)
 * and releases the forwarder; its connection closes in the background. */
void forwarder_free(struct forwarder *f);

/* ---- leader side ---- */

typedef void (*forward_done_cb)(void *arg, int status, uint64_t index,
				const struct sw_err *err);
/* Proposes c on the leader: 0 and done fires once later, or -kind. A NULL
 * c is a read barrier: done gets the index the leader's reads see. */
typedef int (*forward_propose_fn)(void *data, const struct change *c,
				  forward_done_cb done, void *arg,
				  struct sw_err *err);

/* Serves an accepted forward connection: each request is proposed through
 * propose(data, ...) and answered. The connection is owned from here on;
 * data must stay valid while it is open. */
void forward_serve(struct transport_conn *c, forward_propose_fn propose,
		   void *data);

#endif
