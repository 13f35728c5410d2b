/* The raft bridge: a struct raft_uv_transport for c-raft's raft_uv whose
 * streams run through the node transport's TLS `raft` channel, so c-raft
 * never sees a plaintext TCP socket (as go-dqlite bridges TLS to dqlite).
 *
 * Each raft stream is one connection on the raft channel. The dialer opens
 * it, checks that the manager it reached is the raft server it meant, and
 * sends a hello frame with its own raft id. The listener checks that id
 * against the dialer's verified certificate through the owner's callback,
 * which also supplies the address c-raft will record for that server: ids
 * and addresses never come from the peer's words alone. Then both sides
 * create a socketpair(AF_UNIX), hand one end to c-raft as a uv_pipe_t
 * (allocated with raft_malloc, as c-raft frees it with raft_free), and pump
 * bytes between the other end and the TLS connection, with backpressure
 * both ways. An EOF on either side is passed on as a half-close; once both
 * directions ended, or on any error, both ends close.
 *
 * Hello frame: version (1 byte, 1) and the dialer's raft id (8 bytes,
 * big-endian).
 *
 * Order of teardown: raft_close (which closes this transport), then
 * raft_uv_close, bridge_close, and only then transport_close: the bridge
 * uses the node transport until c-raft's close completed. SIGPIPE must be
 * ignored process-wide (libuv writes with plain write()). */
#ifndef SW_ORCH_BRIDGE_H
#define SW_ORCH_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "lib/err.h"
#include "orchestrator/ca.h"
#include "orchestrator/transport.h"

enum { BRIDGE_ADDRESS_MAX = 256 };

/* Whether the node with this verified identity (borrowed; role and node ID
 * from its certificate) is raft server raft_id. On success writes the
 * address c-raft should record for it into address (cap bytes,
 * NUL-terminated) and returns 0; otherwise returns -kind with err set and
 * the connection is refused. Called for both inbound and outbound streams
 * (on outbound ones the address is ignored). */
typedef int (*bridge_check_cb)(void *data, uint64_t raft_id,
			       const struct ca_identity *peer, char *address,
			       size_t cap, struct sw_err *err);

/* Where to dial raft server raft_id, whose address in the raft
 * configuration is raft_address: writes "host:port" into out (cap bytes)
 * and returns 0, or returns -1 when unknown (c-raft retries later). */
typedef int (*bridge_resolve_cb)(void *data, uint64_t raft_id,
				 const char *raft_address, char *out,
				 size_t cap);

struct bridge_config {
	struct transport *transport; /* borrowed; must outlive raft */
	bridge_check_cb check;       /* required */
	bridge_resolve_cb resolve;   /* NULL: dial the raft address as is */
	void *data;                  /* passed to the callbacks */
};

/* Fills rt with the bridge (rt->impl; rt->data is c-raft's). Call it
 * before raft_uv_init (it resets rt). cfg is copied. Returns 0, or INVALID
 * with err set when the transport or check is missing. Give rt to
 * raft_uv_init (or consensus_init); c-raft calls init, listen (which
 * starts serving the transport's raft channel), connect and close. */
int bridge_init(struct raft_uv_transport *rt, uv_loop_t *loop,
		const struct bridge_config *cfg, struct sw_err *err);

/* Releases the bridge after c-raft's close completed (with consensus.h:
 * from the consensus close callback), or if raft never started. */
void bridge_close(struct raft_uv_transport *rt);

#endif
