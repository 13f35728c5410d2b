/* Entry layout (little endian):
 *   header  u32 magic "SWC1" | u32 n_ops | u64 real length | u64 now_ns
 *   op      u8 type | u8 mode | u8 kind | u8 has_name
 *           u32 id_len | u32 name_len | u32 payload_len | u64 expected_version
 *           id NUL [name NUL] payload
 *   zero padding up to a multiple of 8 bytes (not counted in real length)
 * Strings carry their NUL so a decoded change can borrow them in place. */
#include "orchestrator/change.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "orchestrator/wire.h"

#define CHANGE_MAGIC 0x31435753u /* "SWC1" */
#define CHANGE_HEADER_LEN 24
#define CHANGE_OP_FIXED_LEN 24

static const char *const kind_names[] = {
    [OBJ_CLUSTER] = "cluster", [OBJ_NODE] = "node",
    [OBJ_SERVICE] = "service", [OBJ_TASK] = "task",
    [OBJ_NETWORK] = "network", [OBJ_SECRET] = "secret",
    [OBJ_CONFIG] = "config",
};

bool obj_kind_valid(int kind)
{
	return kind >= OBJ_CLUSTER && kind <= OBJ_KIND_MAX;
}

const char *obj_kind_name(enum obj_kind kind)
{
	return obj_kind_valid((int)kind) ? kind_names[kind] : "object";
}

void change_init(struct change *c, int64_t now_ns)
{
	memset(c, 0, sizeof(*c));
	c->now_ns = now_ns;
	c->owned = true;
}

void change_free(struct change *c)
{
	size_t i;

	if (c->owned) {
		for (i = 0; i < c->n_ops; i++) {
			free((void *)c->ops[i].id);
			free((void *)c->ops[i].name);
			free((void *)c->ops[i].payload);
		}
	}
	free(c->ops);
	c->ops = NULL;
	c->n_ops = 0;
	c->cap = 0;
}

static struct change_op *change_push(struct change *c)
{
	struct change_op *op;

	if (c->n_ops == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 4;
		c->ops = xrealloc(c->ops, c->cap * sizeof(*c->ops));
	}
	op = &c->ops[c->n_ops++];
	memset(op, 0, sizeof(*op));
	return op;
}

static void *copy_bytes(const void *p, size_t len)
{
	void *copy = NULL;

	if (len > 0) {
		copy = xmalloc(len);
		memcpy(copy, p, len);
	}
	return copy;
}

void change_put(struct change *c, enum change_mode mode, enum obj_kind kind,
		const char *id, const char *name, const void *payload,
		size_t payload_len, uint64_t expected_version)
{
	struct change_op *op = change_push(c);

	op->type = CHANGE_PUT;
	op->mode = mode;
	op->kind = kind;
	op->expected_version = expected_version;
	op->id = xstrdup(id);
	op->name = name ? xstrdup(name) : NULL;
	op->payload = copy_bytes(payload, payload_len);
	op->payload_len = payload_len;
}

void change_patch(struct change *c, enum obj_kind kind, const char *id,
		  const void *patch, size_t patch_len)
{
	struct change_op *op = change_push(c);

	op->type = CHANGE_PATCH;
	op->mode = CHANGE_UPSERT;
	op->kind = kind;
	op->id = xstrdup(id);
	op->payload = copy_bytes(patch, patch_len);
	op->payload_len = patch_len;
}

void change_delete(struct change *c, enum change_mode mode, enum obj_kind kind,
		   const char *id, uint64_t expected_version)
{
	struct change_op *op = change_push(c);

	op->type = CHANGE_DELETE;
	op->mode = mode;
	op->kind = kind;
	op->expected_version = expected_version;
	op->id = xstrdup(id);
}

static int op_validate(const struct change_op *op, size_t i, struct sw_err *err)
{
	bool put = op->type == CHANGE_PUT;
	bool patch = op->type == CHANGE_PATCH;

	if (!put && !patch && op->type != CHANGE_DELETE)
		return sw_err_set(err, SW_EINVALID, "change op %zu: bad type",
				  i);
	if (op->mode < CHANGE_CREATE || op->mode > CHANGE_UPSERT ||
	    (!put && op->mode == CHANGE_CREATE) ||
	    (patch && op->mode != CHANGE_UPSERT))
		return sw_err_set(err, SW_EINVALID, "change op %zu: bad mode",
				  i);
	if (!obj_kind_valid((int)op->kind))
		return sw_err_set(err, SW_EINVALID, "change op %zu: bad kind",
				  i);
	if (op->id == NULL || op->id[0] == '\0' ||
	    strlen(op->id) > CHANGE_MAX_KEY)
		return sw_err_set(err, SW_EINVALID, "change op %zu: bad id", i);
	if (op->name != NULL &&
	    (!put || op->name[0] == '\0' || strlen(op->name) > CHANGE_MAX_KEY))
		return sw_err_set(err, SW_EINVALID, "change op %zu: bad name",
				  i);
	if (op->payload_len > CHANGE_MAX_PAYLOAD ||
	    (op->type == CHANGE_DELETE && op->payload_len > 0))
		return sw_err_set(err, SW_EINVALID,
				  "change op %zu: bad payload", i);
	return 0;
}

int change_validate(const struct change *c, struct sw_err *err)
{
	size_t i;
	int rc;

	if (c->n_ops == 0)
		return sw_err_set(err, SW_EINVALID, "change has no ops");
	for (i = 0; i < c->n_ops; i++) {
		rc = op_validate(&c->ops[i], i, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static void op_encode(struct wire_writer *w, const struct change_op *op)
{
	size_t id_len = strlen(op->id);
	size_t name_len = op->name ? strlen(op->name) : 0;

	wire_put_u8(w, (uint8_t)op->type);
	wire_put_u8(w, (uint8_t)op->mode);
	wire_put_u8(w, (uint8_t)op->kind);
	wire_put_u8(w, op->name != NULL);
	wire_put_u32(w, (uint32_t)id_len);
	wire_put_u32(w, (uint32_t)name_len);
	wire_put_u32(w, (uint32_t)op->payload_len);
	wire_put_u64(w, op->expected_version);
	wire_put_str(w, op->id, id_len);
	if (op->name != NULL)
		wire_put_str(w, op->name, name_len);
	wire_put_bytes(w, op->payload, op->payload_len);
}

/* Patches the real length into the header once it is known. */
static void header_set_len(struct wire_writer *w, uint64_t len)
{
	int i;

	for (i = 0; i < 8; i++)
		w->data[8 + i] = (unsigned char)(len >> (8 * i));
}

int change_encode(const struct change *c, struct raft_buffer *out,
		  struct sw_err *err)
{
	struct wire_writer w;
	size_t i, real;
	int rc;

	rc = change_validate(c, err);
	if (rc != 0)
		return rc;
	wire_writer_init(&w, raft_realloc, 256);
	wire_put_u32(&w, CHANGE_MAGIC);
	wire_put_u32(&w, (uint32_t)c->n_ops);
	wire_put_u64(&w, 0);
	wire_put_u64(&w, (uint64_t)c->now_ns);
	for (i = 0; i < c->n_ops; i++)
		op_encode(&w, &c->ops[i]);
	real = w.len;
	header_set_len(&w, real);
	wire_put_zeros(&w, (8 - real % 8) % 8);
	out->base = w.data;
	out->len = w.len;
	return 0;
}

static int op_decode(struct wire_reader *r, struct change_op *op)
{
	uint8_t has_name;
	uint32_t id_len, name_len;

	op->type = wire_get_u8(r);
	op->mode = wire_get_u8(r);
	op->kind = wire_get_u8(r);
	has_name = wire_get_u8(r);
	id_len = wire_get_u32(r);
	name_len = wire_get_u32(r);
	op->payload_len = wire_get_u32(r);
	op->expected_version = wire_get_u64(r);
	if (r->bad || has_name > 1 || id_len > CHANGE_MAX_KEY ||
	    name_len > CHANGE_MAX_KEY || (!has_name && name_len != 0))
		return -1;
	op->id = wire_get_str(r, id_len);
	op->name = has_name ? wire_get_str(r, name_len) : NULL;
	op->payload = wire_get_bytes(r, op->payload_len);
	return r->bad ? -1 : 0;
}

int change_decode(const void *data, size_t len, struct change *out,
		  struct sw_err *err)
{
	struct wire_reader r;
	uint32_t magic, n_ops, i;
	uint64_t real;

	change_init(out, 0);
	out->owned = false;
	wire_reader_init(&r, data, len);
	magic = wire_get_u32(&r);
	n_ops = wire_get_u32(&r);
	real = wire_get_u64(&r);
	out->now_ns = (int64_t)wire_get_u64(&r);
	if (r.bad || magic != CHANGE_MAGIC || real > len || len - real >= 8 ||
	    real < CHANGE_HEADER_LEN ||
	    n_ops > (real - CHANGE_HEADER_LEN) / CHANGE_OP_FIXED_LEN)
		return sw_err_set(err, SW_EINVALID, "malformed change header");
	/* Padding is not part of the change: read only up to real. */
	r.left = (size_t)real - CHANGE_HEADER_LEN;
	for (i = 0; i < n_ops; i++) {
		if (op_decode(&r, change_push(out)) != 0)
			return sw_err_set(err, SW_EINVALID,
					  "malformed change op %u", i);
	}
	if (r.left != 0)
		return sw_err_set(err, SW_EINVALID,
				  "malformed change: %zu trailing bytes",
				  r.left);
	return change_validate(out, err);
}
