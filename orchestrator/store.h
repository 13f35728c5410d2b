/* The orchestrator's object store: every cluster object as an opaque record,
 * durable in RocksDB and indexed in memory.
 *
 * Invariants:
 * - (kind, id) is unique; (kind, name) is unique among named records.
 * - A record's version is the raft index of the change that last wrote it;
 *   the store's applied index is the index of the last change consumed
 *   (applied or rejected), written in the same RocksDB WriteBatch as the
 *   change, so the disk state and the applied index never disagree.
 * - Only store_apply and store_replace_all modify the store, on the loop
 *   thread (they are driven by the FSM).
 *
 * Records handed to callers are BORROWED: valid until the next store_apply,
 * store_replace_all or store_close. Copy with store_record_dup to keep one.
 *
 * RocksDB layout: key = one byte of kind + id bytes; value = the encoded
 * record. The applied index lives under the key "\0applied". RocksDB writes
 * are not synced: raft's log is durable and c-raft re-applies (or restores a
 * snapshot over) anything the store lost, see fsm.h. */
#ifndef SW_ORCH_STORE_H
#define SW_ORCH_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "orchestrator/change.h"
#include "orchestrator/wire.h"

/* The text Docker clients retry on (with the rpc prefix the upper layer
 * adds); the error kind is SW_ESYSTEM, which maps to 500 as Docker's does. */
#define STORE_ERR_OUT_OF_SEQUENCE "update out of sequence"
#define STORE_ERR_NAME_CONFLICT "name conflicts with an existing object"

struct store;

struct store_record {
	enum obj_kind kind;
	const char *id;
	const char *name; /* NULL when the object has no name */
	uint64_t version; /* raft index of the last change to the record */
	int64_t created_ns;
	int64_t updated_ns;
	const void *payload;
	size_t payload_len;
};

enum store_event_type {
	STORE_EVENT_CREATE = 1,
	STORE_EVENT_UPDATE = 2,
	STORE_EVENT_DELETE = 3,
};

/* One record changed by an applied change. old is NULL for CREATE, cur is
 * NULL for DELETE. Everything is borrowed for the callback's duration. */
struct store_event {
	enum store_event_type type;
	enum obj_kind kind;
	const char *id;
	const struct store_record *old;
	const struct store_record *cur;
	bool patched; /* by a PATCH op: only what its patcher merges changed */
};

struct store_watcher;
/* Called after each change is applied and durable, with one event per op
 * that changed something, in op order. reset = true (evs NULL, n 0) means
 * the whole content was replaced from a raft snapshot: rescan. The store
 * already shows the new state. The callback may read the store, propose,
 * and unwatch any watcher, but must not apply to the store. */
typedef void (*store_watch_cb)(struct store_watcher *w, uint64_t index,
			       bool reset, const struct store_event *evs,
			       size_t n);

/* Caller-allocated; set data, then store_watch. Keep it alive until
 * store_unwatch or store_close. */
struct store_watcher {
	void *data;
	/* private */
	store_watch_cb cb;
	struct store_watcher *prev, *next;
};

/* Opens (creating if missing) the RocksDB database in dir and loads every
 * record into memory. Returns the store or NULL with err set (SW_ESYSTEM
 * for RocksDB failures, with its message; corrupt records too). */
struct store *store_open(const char *dir, struct sw_err *err);
/* Closes the database and frees every record. Watchers are forgotten. */
void store_close(struct store *s);

uint64_t store_applied_index(const struct store *s);

/* Lookups; NULL when absent or kind is invalid. Borrowed results. */
const struct store_record *store_get(const struct store *s, enum obj_kind kind,
				     const char *id);
const struct store_record *
store_get_by_name(const struct store *s, enum obj_kind kind, const char *name);
/* Counts the records of kind whose id starts with prefix (an exact id match
 * counts as the only match). Sets *out when the result is exactly 1, else
 * *out = NULL: 0 = not found, > 1 = ambiguous. O(records of the kind). */
size_t store_find_prefix(const struct store *s, enum obj_kind kind,
			 const char *prefix, const struct store_record **out);

/* Listing one kind costs O(records of that kind). Order is unspecified.
 * Do not apply to the store while iterating. */
size_t store_count(const struct store *s, enum obj_kind kind);
const struct store_record *store_first(const struct store *s,
				       enum obj_kind kind);
const struct store_record *store_next(const struct store_record *rec);

/* Applies change c at raft index (> store_applied_index), atomically.
 * - Returns 0 when the change was consumed: outcome->kind is SW_EOK if it was
 *   applied (watchers have run), else the deterministic rejection (kind and
 *   message; nothing applied). Either way the applied index is now index.
 * - Returns negative with err set when RocksDB failed: nothing changed, not
 *   even the applied index; the caller may retry.
 * c is borrowed; the store copies what it keeps. */
int store_apply(struct store *s, const struct change *c, uint64_t index,
		struct sw_err *outcome, struct sw_err *err);

/* Records index as consumed without changing any record (an entry that
 * could not be decoded). Returns 0 or negative with err set. */
int store_mark_applied(struct store *s, uint64_t index, struct sw_err *err);

/* Replaces the whole content with recs (copied) and sets the applied index,
 * in one WriteBatch; watchers get a reset. Fails with SW_EINVALID, changing
 * nothing, when recs break the uniqueness invariants. */
int store_replace_all(struct store *s, uint64_t index,
		      const struct store_record *recs, size_t n,
		      struct sw_err *err);

/* Merges a PATCH op into the current payload of an object of its kind:
 * returns true with a malloc'd *out (the new payload) or false when the
 * patch does not apply (stale, malformed, not this object's): the op is
 * then skipped. Must be deterministic: every replica runs it at apply. */
typedef bool (*store_patch_fn)(const void *payload, size_t len,
			       const void *patch, size_t patch_len,
			       int64_t now_ns, void **out, size_t *out_len);

/* The patcher of kind; without one, PATCH ops of the kind are skipped. Set
 * it before anything is applied. */
void store_set_patcher(struct store *s, enum obj_kind kind, store_patch_fn fn);

/* Registers w (data set by the caller) to be called after every apply. */
void store_watch(struct store *s, struct store_watcher *w, store_watch_cb cb);
void store_unwatch(struct store *s, struct store_watcher *w);

/* Record encoding shared by RocksDB values and FSM snapshots. */
void store_record_encode(struct wire_writer *w, const struct store_record *r);
/* Decodes one record, borrowing its strings and payload from the reader's
 * input. Returns 0 or -SW_EINVALID. */
int store_record_decode(struct wire_reader *rd, struct store_record *out,
			struct sw_err *err);

/* A heap copy of r in one allocation; free it with store_record_free. */
struct store_record *store_record_dup(const struct store_record *r);
void store_record_free(struct store_record *r);

#endif
