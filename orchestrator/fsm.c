/* Snapshot layout (little endian):
 *   u32 magic "SWS1" | u32 0 | u64 store applied index | u64 record count
 *   records as store_record_encode writes them */
#include "orchestrator/fsm.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/log.h"
#include "orchestrator/change.h"
#include "orchestrator/wire.h"

#define SNAPSHOT_MAGIC 0x31535753u /* "SWS1" */
/* Each record takes at least this many bytes, which bounds the count a
 * corrupt header can make us allocate for. */
#define SNAPSHOT_MIN_RECORD 42

static struct fsm_outcome *outcome_slot(struct fsm *f, uint64_t index)
{
	struct fsm_outcome *o = &f->outcomes[index % FSM_OUTCOMES];

	o->index = index;
	sw_err_clear(&o->err);
	return o;
}

static int fsm_apply(struct raft_fsm *rf, const struct raft_buffer *buf,
		     void **result)
{
	struct fsm *f = rf->data;
	uint64_t index = raft_last_applied(f->raft) + 1;
	struct fsm_outcome *o = outcome_slot(f, index);
	struct change c;
	struct sw_err err;
	int rc;

	*result = o;
	if (index <= store_applied_index(f->store))
		return 0;
	if (change_decode(buf->base, buf->len, &c, &o->err) != 0) {
		change_free(&c);
		rc = store_mark_applied(f->store, index, &err);
	} else {
		rc = store_apply(f->store, &c, index, &o->err, &err);
		change_free(&c);
	}
	if (rc != 0) {
		/* c-raft only sees a code; nobody else would see why. */
		log_error("fsm: applying entry %llu: %s",
			  (unsigned long long)index, err.msg);
		return RAFT_IOERR;
	}
	return 0;
}

static int fsm_snapshot(struct raft_fsm *rf, struct raft_buffer *bufs[],
			unsigned *n_bufs)
{
	struct fsm *f = rf->data;
	const struct store_record *r;
	struct wire_writer w;
	uint64_t n = 0;
	int k;

	for (k = OBJ_CLUSTER; k <= OBJ_KIND_MAX; k++)
		n += store_count(f->store, k);
	wire_writer_init(&w, raft_realloc, 4096);
	wire_put_u32(&w, SNAPSHOT_MAGIC);
	wire_put_u32(&w, 0);
	wire_put_u64(&w, store_applied_index(f->store));
	wire_put_u64(&w, n);
	for (k = OBJ_CLUSTER; k <= OBJ_KIND_MAX; k++) {
		for (r = store_first(f->store, k); r != NULL; r = store_next(r))
			store_record_encode(&w, r);
	}
	*bufs = raft_malloc(sizeof(**bufs));
	if (*bufs == NULL) {
		raft_free(w.data);
		return RAFT_NOMEM;
	}
	(*bufs)[0].base = w.data;
	(*bufs)[0].len = w.len;
	*n_bufs = 1;
	return 0;
}

/* Decodes the records of a snapshot body (borrowing from it) and replaces
 * the store's content with them. */
static int restore_records(struct fsm *f, struct wire_reader *rd,
			   uint64_t index, uint64_t n, struct sw_err *err)
{
	struct store_record *recs;
	uint64_t i;
	int rc;

	if (n > rd->left / SNAPSHOT_MIN_RECORD)
		return sw_err_set(err, SW_EINVALID, "bad record count");
	recs = xcalloc(n ? n : 1, sizeof(*recs));
	for (i = 0; i < n; i++) {
		if (store_record_decode(rd, &recs[i], err) != 0) {
			free(recs);
			return -SW_EINVALID;
		}
	}
	rc = rd->left == 0 ? store_replace_all(f->store, index, recs, n, err)
			   : sw_err_set(err, SW_EINVALID, "trailing bytes");
	free(recs);
	return rc;
}

static int fsm_restore(struct raft_fsm *rf, struct raft_buffer *buf)
{
	struct fsm *f = rf->data;
	struct wire_reader rd;
	struct sw_err err;
	uint64_t index, n;
	uint32_t magic;

	wire_reader_init(&rd, buf->base, buf->len);
	magic = wire_get_u32(&rd);
	(void)wire_get_u32(&rd);
	index = wire_get_u64(&rd);
	n = wire_get_u64(&rd);
	if (rd.bad || magic != SNAPSHOT_MAGIC) {
		log_error("fsm: restore: malformed snapshot header");
		return RAFT_MALFORMED;
	}
	/* The store is at least as new: the snapshot adds nothing. */
	if (index > store_applied_index(f->store) &&
	    restore_records(f, &rd, index, n, &err) != 0) {
		log_error("fsm: restore: %s", err.msg);
		return err.kind == SW_EINVALID ? RAFT_MALFORMED : RAFT_IOERR;
	}
	raft_free(buf->base);
	buf->base = NULL;
	return 0;
}

void fsm_init(struct fsm *f, struct store *s)
{
	memset(f, 0, sizeof(*f));
	f->store = s;
	f->raft_fsm.version = 1;
	f->raft_fsm.data = f;
	f->raft_fsm.apply = fsm_apply;
	f->raft_fsm.snapshot = fsm_snapshot;
	f->raft_fsm.restore = fsm_restore;
}

void fsm_attach(struct fsm *f, struct raft *r)
{
	f->raft = r;
}

void fsm_close(struct fsm *f)
{
	f->store = NULL;
	f->raft = NULL;
}

int fsm_outcome(const struct fsm *f, const void *result, uint64_t index,
		struct sw_err *out)
{
	const struct fsm_outcome *o = NULL;
	size_t i;

	/* Equality only: result must be one of our slots to be trusted. */
	for (i = 0; i < FSM_OUTCOMES; i++) {
		if (result == &f->outcomes[i])
			o = &f->outcomes[i];
	}
	if (o == NULL || o->index != index)
		return sw_err_set(out, SW_EUNAVAILABLE,
				  "outcome of raft entry %llu is unknown",
				  (unsigned long long)index);
	if (o->err.kind == SW_EOK)
		return 0;
	*out = o->err;
	return -(int)o->err.kind;
}
