/* Object kinds and the change: the unit of write of the replicated store.
 *
 * A change is an ordered list of PUT/DELETE operations that the FSM applies
 * atomically at one raft index: every op succeeds or none is applied. The
 * proposer picks the timestamp (the FSM must be deterministic, so it never
 * reads a clock). Payloads are opaque bytes the upper layer encodes.
 *
 * A change travels in a raft entry in a compact little-endian format whose
 * length is padded to a multiple of 8 bytes with the real length inside,
 * because c-raft 0.15 silently corrupts its log on other lengths
 * (LIBRARY-NOTES §1). */
#ifndef SW_ORCH_CHANGE_H
#define SW_ORCH_CHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <raft.h>

#include "lib/err.h"

enum obj_kind {
	OBJ_CLUSTER = 1,
	OBJ_NODE,
	OBJ_SERVICE,
	OBJ_TASK,
	OBJ_NETWORK,
	OBJ_SECRET,
	OBJ_CONFIG,
};
#define OBJ_KIND_MAX OBJ_CONFIG

/* PATCH (mode UPSERT, no name) hands its payload to the patcher the store
 * has for the kind (store_set_patcher), which merges it into the current
 * object at apply time. A missing object, or a patch the patcher finds
 * stale, is skipped without failing the change: status reports from many
 * nodes then share one entry without version conflicts. */
enum change_op_type {
	CHANGE_PUT = 1,
	CHANGE_DELETE = 2,
	CHANGE_PATCH = 3,
};

/* How an op checks the current state before it writes.
 * - CREATE (PUT only): fails with SW_ECONFLICT if the id exists.
 * - UPDATE: the object must exist (SW_ENOTFOUND otherwise); when
 *   expected_version is not 0 it must equal the object's version, else the
 *   change fails with SW_ESYSTEM "update out of sequence".
 * - UPSERT: no check (internal writes such as task status); a DELETE of a
 *   missing object is then a no-op.
 * Every PUT with a name fails with SW_ECONFLICT "name conflicts with an
 * existing object" if another object of the kind holds that name. */
enum change_mode {
	CHANGE_CREATE = 1,
	CHANGE_UPDATE = 2,
	CHANGE_UPSERT = 3,
};

/* Limits enforced by change_decode, so a corrupt entry cannot make the
 * store allocate without bound or build absurd keys. */
enum {
	CHANGE_MAX_KEY = 4096,          /* id or name bytes */
	CHANGE_MAX_PAYLOAD = 64u << 20, /* payload bytes */
};

struct change_op {
	enum change_op_type type;
	enum change_mode mode;
	enum obj_kind kind;
	uint64_t expected_version;
	const char *id;
	const char *name; /* NULL: the object has no name (DELETE: always) */
	const void *payload;
	size_t payload_len;
};

/* A change as built by a proposer (owned = true: strings and payloads are
 * copies the change frees) or as decoded from an entry (owned = false: they
 * borrow the entry buffer, which must outlive the change). */
struct change {
	int64_t now_ns; /* created/updated time of every record written */
	struct change_op *ops;
	size_t n_ops;
	size_t cap;
	bool owned;
};

/* Returns "cluster", "node", ... or "object" for an unknown kind. */
const char *obj_kind_name(enum obj_kind kind);
bool obj_kind_valid(int kind);

/* Starts an empty change stamped with now_ns. */
void change_init(struct change *c, int64_t now_ns);
/* Frees the ops (and, for a built change, the copies). c can be re-inited. */
void change_free(struct change *c);

/* Appends a PUT. id, name (may be NULL) and payload are copied. */
void change_put(struct change *c, enum change_mode mode, enum obj_kind kind,
		const char *id, const char *name, const void *payload,
		size_t payload_len, uint64_t expected_version);
/* Appends a DELETE (mode UPDATE or UPSERT). id is copied. */
void change_delete(struct change *c, enum change_mode mode, enum obj_kind kind,
		   const char *id, uint64_t expected_version);

/* Appends a PATCH of the object (mode UPSERT). id and patch are copied. */
void change_patch(struct change *c, enum obj_kind kind, const char *id,
		  const void *patch, size_t patch_len);

/* Checks kinds, modes and sizes of every op. Returns 0 or -SW_EINVALID. */
int change_validate(const struct change *c, struct sw_err *err);

/* Encodes c into out->base, allocated with raft_malloc (ready for
 * raft_apply, which then owns it); out->len is a multiple of 8. Returns 0,
 * or -SW_EINVALID (change_validate) with nothing allocated. */
int change_encode(const struct change *c, struct raft_buffer *out,
		  struct sw_err *err);

/* Decodes len bytes at data into out (initialised here; change_free it even
 * on failure). The ops borrow from data. Returns 0 or -SW_EINVALID when the
 * bytes are not a well-formed change. */
int change_decode(const void *data, size_t len, struct change *out,
		  struct sw_err *err);

#endif
