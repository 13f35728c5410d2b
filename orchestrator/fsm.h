/* The raft state machine over the store (c-raft struct raft_fsm, version 1).
 *
 * - apply decodes a change and applies it at the entry's index. c-raft 0.15
 *   does not pass the index: it is raft_last_applied()+1 while apply runs,
 *   hence fsm_attach. Entries at or below the store's applied index are
 *   skipped, because c-raft re-applies every entry after its newest snapshot
 *   on each start while the store already holds them.
 * - A rejected change (conflict, stale version, malformed entry) is a
 *   deterministic outcome, not an apply failure: apply returns 0 and records
 *   the error in a small ring owned by the fsm, and *result points at that
 *   slot. Nothing is ever allocated for *result, since followers drop it.
 *   The proposer's apply callback reads it with fsm_outcome. Only a RocksDB
 *   failure makes apply return non-zero (c-raft then retries the entry).
 * - snapshot serializes every record plus the store's applied index;
 *   restore replaces the store's content, unless the snapshot is not newer
 *   than the store (c-raft restores the newest snapshot on every start).
 *   restore takes ownership of buf->base on success only. */
#ifndef SW_ORCH_FSM_H
#define SW_ORCH_FSM_H

#include <stdint.h>

#include <raft.h>

#include "lib/err.h"
#include "orchestrator/store.h"

/* c-raft calls the apply callback of a proposal right after fsm->apply of
 * its entry, so a few slots are plenty; the index check in fsm_outcome
 * catches an overwritten slot anyway. */
#define FSM_OUTCOMES 16

struct fsm_outcome {
	uint64_t index;
	struct sw_err err; /* kind SW_EOK: applied */
};

/* Embedded by its owner; fields other than raft_fsm are private. */
struct fsm {
	struct raft_fsm raft_fsm; /* give &fsm->raft_fsm to raft_init */
	struct store *store;
	struct raft *raft;
	struct fsm_outcome outcomes[FSM_OUTCOMES];
};

/* Prepares f over s (borrowed; must outlive f). */
void fsm_init(struct fsm *f, struct store *s);
/* Tells f which raft instance drives it (to learn entry indexes). Call
 * after raft_init and before raft_start. */
void fsm_attach(struct fsm *f, struct raft *r);
void fsm_close(struct fsm *f);

/* Reads the outcome of the entry at index from the result pointer that
 * c-raft passed to the apply callback. Returns 0 when the change was
 * applied, else -kind with out set: the rejection, or SW_EUNAVAILABLE when
 * the outcome is no longer known. */
int fsm_outcome(const struct fsm *f, const void *result, uint64_t index,
		struct sw_err *out);

#endif
