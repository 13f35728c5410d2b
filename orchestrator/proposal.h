/* One-object writes through raft: the shape every API create, update and
 * remove shares (build a change of one op, propose it, free it), so the
 * object modules only say what to write. */
#ifndef SW_ORCH_PROPOSAL_H
#define SW_ORCH_PROPOSAL_H

#include <stdint.h>

#include "orchestrator/swarm.h"

/* Proposes a PUT of msg as kind/id (name: the unique name, or NULL),
 * stamped now_ns, checked by mode and expected (change.h). cb fires as for
 * swarm_propose; on a negative return it never fires. */
int proposal_put(struct swarm *s, int64_t now_ns, enum change_mode mode,
		 enum obj_kind kind, const char *id, const char *name,
		 const ProtobufCMessage *msg, uint64_t expected, swarm_cb cb,
		 void *data, struct sw_err *err);

/* As proposal_put, and re-writes guard unchanged at the version it has
 * now in the same change: the change fails with the store's "update out
 * of sequence" if anything wrote guard since. A compare-and-swap for
 * decisions taken from the store's state (subnets picked from what is
 * free) that the store itself cannot check. guard is borrowed for the
 * call. */
int proposal_put_guarded(struct swarm *s, int64_t now_ns, enum change_mode mode,
			 enum obj_kind kind, const char *id, const char *name,
			 const ProtobufCMessage *msg,
			 const struct store_record *guard, swarm_cb cb,
			 void *data, struct sw_err *err);

/* Proposes the removal of an existing kind/id (SW_ENOTFOUND through cb
 * when it is gone by then). */
int proposal_delete(struct swarm *s, enum obj_kind kind, const char *id,
		    swarm_cb cb, void *data, struct sw_err *err);

#endif
