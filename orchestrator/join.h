/* Joining a swarm over the node transport's join channel, both sides.
 *
 * The joiner dials a manager with a TLS context pinned to the root digest
 * its token carries (tls_ctx_new_pinned), so it trusts nothing else, and
 * sends one JoinRequest: the token, a CSR and its addresses. The manager
 * decides the role only from the token (compared whole, in constant time,
 * with the cluster's current tokens), signs the CSR with the root key kept
 * in the cluster object, records the node (with a raft id for managers:
 * the leader's membership loop then adds it to raft), and answers one
 * JoinResponse: the certificate, the root, the cluster and node IDs and
 * the current managers. Any manager can serve a join: its writes are
 * forwarded to the leader like any other.
 *
 * Error texts are dockerd's: a malformed token is 500 "invalid join
 * token", a wrong secret 400 "rpc error: code = InvalidArgument desc = A
 * valid join token is necessary to join this cluster", a root that does
 * not match the token SwarmKit's "remote CA does not match fingerprint". */
#ifndef SW_ORCH_JOIN_H
#define SW_ORCH_JOIN_H

#include <stddef.h>

#include "lib/err.h"
#include "orchestrator/ca.h"
#include "orchestrator/channels.pb-c.h"
#include "orchestrator/objects.pb-c.h"
#include "orchestrator/transport.h"

enum {
	JOIN_PEM_MAX = 16 * 1024, /* longest CSR or certificate accepted */
	JOIN_ADDR_MAX = 79,       /* host:port */
	JOIN_TEXT_MAX = 255,      /* hostname, versions, availability */
	JOIN_MANAGERS_MAX = 64,
};

struct swarm;

/* Which role the presented token grants in cluster cl: 0 and *role, or
 * 500 "invalid join token" when it is malformed, or 400 "... A valid join
 * token is necessary to join this cluster" when it is not current. */
int join_token_role(const char *presented, const Swarmd__Cluster *cl,
		    enum ca_role *role, struct sw_err *err);

/* Decodes and checks a JoinRequest frame: required token and CSR, bounded
 * lengths, a host:port advertise address. Returns a message the caller
 * frees with swarmd__join_request__free_unpacked, or NULL with err set
 * (INVALID). */
Swarmd__JoinRequest *join_request_decode(const void *buf, size_t len,
					 struct sw_err *err);

/* Decodes and checks a JoinResponse frame: an error, or a certificate,
 * root, IDs of [a-z0-9], a known role and bounded manager addresses.
 * Returns a message (free with swarmd__join_response__free_unpacked) or
 * NULL with err set (SYSTEM: the manager answered nonsense). */
Swarmd__JoinResponse *join_response_decode(const void *buf, size_t len,
					   struct sw_err *err);

/* Packs a message into a malloc'd buffer; *len gets its size. */
void *join_pack(const ProtobufCMessage *m, size_t *len);

/* ---- manager side ---- */

/* Signs csr for node_id in role with the root key of s's cluster object
 * (any manager can). Returns the certificate PEM (caller frees) or NULL
 * with err set. */
char *join_issue_cert(struct swarm *s, const char *node_id, enum ca_role role,
		      const char *csr, struct sw_err *err);

/* Serves one accepted join connection for swarm s: reads the request,
 * answers, closes. The connection is owned from here on. */
void join_serve(struct swarm *s, struct transport_conn *c);

/* ---- joiner side ---- */

/* status 0: resp is the manager's answer (borrowed for the call) and root
 * the manager's root CA as the pinned handshake verified it (borrowed).
 * Otherwise status is -kind with err set (borrowed) and resp/root NULL. */
typedef void (*join_cb)(void *data, int status,
			const Swarmd__JoinResponse *resp,
			const struct ca_root *root, const struct sw_err *err);

struct join_client;

/* Dials each of remotes (host:port, copied) in turn over t, which must
 * present a pinned context, until one answers. The request is copied.
 * Returns 0 and cb fires once, later; or -kind with err set. */
int join_start(struct transport *t, char **remotes, size_t n_remotes,
	       const Swarmd__JoinRequest *req, join_cb cb, void *data,
	       struct sw_err *err);

#endif
