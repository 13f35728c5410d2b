#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/orchestrator/tmpdir.h"
#include "orchestrator/change.h"
#include "orchestrator/store.h"

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaa1"
#define ID_B "aaaaaaaaaaaaaaaaaaaaaaaa2"
#define ID_C "bbbbbbbbbbbbbbbbbbbbbbbb1"

struct fixture {
	char dir[64];
	struct store *s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct sw_err err;

	strcpy(f->dir, "/tmp/swarmd-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->s = store_open(f->dir, &err);
	assert_non_null(f->s);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->s);
	remove_dir(f->dir);
	free(f);
	return 0;
}

static void reopen(struct fixture *f)
{
	struct sw_err err;

	store_close(f->s);
	f->s = store_open(f->dir, &err);
	assert_non_null(f->s);
}

/* Applies c at index, expecting the store to consume it; returns the
 * outcome kind and copies its message into msg (if not NULL). */
static int apply(struct store *s, struct change *c, uint64_t index, char *msg)
{
	struct sw_err outcome, err;

	assert_int_equal(store_apply(s, c, index, &outcome, &err), 0);
	if (msg != NULL)
		strcpy(msg, outcome.msg);
	change_free(c);
	return (int)outcome.kind;
}

static int put1(struct store *s, enum change_mode mode, const char *id,
		const char *name, const char *payload, uint64_t expected,
		uint64_t index, char *msg)
{
	struct change c;

	change_init(&c, (int64_t)index * 1000);
	change_put(&c, mode, OBJ_SERVICE, id, name, payload,
		   payload ? strlen(payload) : 0, expected);
	return apply(s, &c, index, msg);
}

/* ---- change encoding ---- */

static void test_change_roundtrip(void **state)
{
	static const char bin[] = {'a', 0, 'b', 0, 0};
	struct raft_buffer buf;
	struct change c, d;
	struct sw_err err;
	size_t plen;

	for (plen = 0; plen <= 16; plen++) {
		char *payload = calloc(1, plen + 1);

		memset(payload, 'x', plen);
		change_init(&c, 1234567890123456789LL);
		change_put(&c, CHANGE_CREATE, OBJ_SERVICE, ID_A, "web", bin,
			   sizeof(bin), 0);
		change_put(&c, CHANGE_UPSERT, OBJ_TASK, ID_B, NULL, payload,
			   plen, 0);
		change_delete(&c, CHANGE_UPDATE, OBJ_NODE, ID_C, 42);
		assert_int_equal(change_encode(&c, &buf, &err), 0);
		assert_int_equal(buf.len % 8, 0);
		assert_int_equal(change_decode(buf.base, buf.len, &d, &err), 0);
		assert_int_equal(d.now_ns, 1234567890123456789LL);
		assert_int_equal(d.n_ops, 3);
		assert_int_equal(d.ops[0].type, CHANGE_PUT);
		assert_int_equal(d.ops[0].mode, CHANGE_CREATE);
		assert_int_equal(d.ops[0].kind, OBJ_SERVICE);
		assert_string_equal(d.ops[0].id, ID_A);
		assert_string_equal(d.ops[0].name, "web");
		assert_int_equal(d.ops[0].payload_len, sizeof(bin));
		assert_memory_equal(d.ops[0].payload, bin, sizeof(bin));
		assert_null(d.ops[1].name);
		assert_int_equal(d.ops[1].payload_len, plen);
		if (plen > 0)
			assert_memory_equal(d.ops[1].payload, payload, plen);
		assert_int_equal(d.ops[2].type, CHANGE_DELETE);
		assert_int_equal(d.ops[2].expected_version, 42);
		assert_string_equal(d.ops[2].id, ID_C);
		change_free(&d);
		change_free(&c);
		raft_free(buf.base);
		free(payload);
	}
}

/* Every truncation and every single-byte corruption must decode cleanly or
 * fail cleanly (ASan watches the reads). */
static void test_change_decode_rejects(void **state)
{
	struct raft_buffer buf;
	struct change c, d;
	struct sw_err err;
	unsigned char *copy;
	size_t i, real_len;

	change_init(&c, 1);
	change_put(&c, CHANGE_CREATE, OBJ_CONFIG, ID_A, "cfg", "data", 4, 0);
	assert_int_equal(change_encode(&c, &buf, &err), 0);
	change_free(&c);
	/* The real length sits at offset 8; only padding may be cut. */
	real_len = ((unsigned char *)buf.base)[8];
	assert_true(real_len < buf.len && buf.len - real_len < 8);
	for (i = 0; i < buf.len; i++) {
		copy = malloc(i ? i : 1);
		memcpy(copy, buf.base, i);
		if (i < real_len) {
			assert_int_not_equal(change_decode(copy, i, &d, &err),
					     0);
			assert_int_equal(err.kind, SW_EINVALID);
		} else {
			assert_int_equal(change_decode(copy, i, &d, &err), 0);
		}
		change_free(&d);
		free(copy);
	}
	copy = malloc(buf.len);
	for (i = 0; i < buf.len; i++) {
		memcpy(copy, buf.base, buf.len);
		copy[i] ^= 0xff;
		(void)change_decode(copy, buf.len, &d, &err);
		change_free(&d);
	}
	free(copy);
	raft_free(buf.base);

	change_init(&c, 1);
	change_delete(&c, CHANGE_CREATE, OBJ_CONFIG, ID_A, 0);
	assert_int_not_equal(change_encode(&c, &buf, &err), 0);
	change_free(&c);
	change_init(&c, 1);
	assert_int_not_equal(change_encode(&c, &buf, &err), 0);
	change_free(&c);
}

/* ---- store ---- */

static void test_put_get_list(void **state)
{
	struct fixture *f = *state;
	const struct store_record *r, *found;
	size_t n = 0;

	assert_int_equal(
	    put1(f->s, CHANGE_CREATE, ID_A, "web", "A", 0, 1, NULL), SW_EOK);
	assert_int_equal(put1(f->s, CHANGE_CREATE, ID_B, "db", "B", 0, 2, NULL),
			 SW_EOK);
	assert_int_equal(
	    put1(f->s, CHANGE_CREATE, ID_C, NULL, NULL, 0, 3, NULL), SW_EOK);
	assert_int_equal(store_applied_index(f->s), 3);

	r = store_get(f->s, OBJ_SERVICE, ID_A);
	assert_non_null(r);
	assert_string_equal(r->name, "web");
	assert_int_equal(r->version, 1);
	assert_int_equal(r->created_ns, 1000);
	assert_int_equal(r->updated_ns, 1000);
	assert_int_equal(r->payload_len, 1);
	assert_memory_equal(r->payload, "A", 1);
	assert_ptr_equal(store_get_by_name(f->s, OBJ_SERVICE, "db"),
			 store_get(f->s, OBJ_SERVICE, ID_B));
	assert_null(store_get(f->s, OBJ_TASK, ID_A));
	assert_null(store_get_by_name(f->s, OBJ_NODE, "web"));
	assert_null(store_get(f->s, (enum obj_kind)99, ID_A));
	assert_null(store_get(f->s, OBJ_SERVICE, ID_C)->name);
	assert_null(store_get(f->s, OBJ_SERVICE, ID_C)->payload);

	assert_int_equal(store_count(f->s, OBJ_SERVICE), 3);
	assert_int_equal(store_count(f->s, OBJ_TASK), 0);
	assert_null(store_first(f->s, OBJ_TASK));
	for (r = store_first(f->s, OBJ_SERVICE); r; r = store_next(r))
		n++;
	assert_int_equal(n, 3);

	assert_int_equal(store_find_prefix(f->s, OBJ_SERVICE, "aaa", &found),
			 2);
	assert_null(found);
	assert_int_equal(store_find_prefix(f->s, OBJ_SERVICE, "b", &found), 1);
	assert_string_equal(found->id, ID_C);
	assert_int_equal(store_find_prefix(f->s, OBJ_SERVICE, ID_A, &found), 1);
	assert_string_equal(found->id, ID_A);
	assert_int_equal(store_find_prefix(f->s, OBJ_SERVICE, "z", &found), 0);
	assert_null(found);
	assert_int_equal(store_find_prefix(f->s, OBJ_NODE, "a", &found), 0);
}

static void test_name_uniqueness(void **state)
{
	struct fixture *f = *state;
	struct change c;
	char msg[512];

	assert_int_equal(
	    put1(f->s, CHANGE_CREATE, ID_A, "web", "1", 0, 1, NULL), SW_EOK);
	assert_int_equal(put1(f->s, CHANGE_CREATE, ID_B, "web", "2", 0, 2, msg),
			 SW_ECONFLICT);
	assert_string_equal(msg, "name conflicts with an existing object");
	assert_null(store_get(f->s, OBJ_SERVICE, ID_B));
	/* Same name in another kind is fine. */
	change_init(&c, 1);
	change_put(&c, CHANGE_CREATE, OBJ_NETWORK, ID_B, "web", NULL, 0, 0);
	assert_int_equal(apply(f->s, &c, 3, NULL), SW_EOK);
	/* Creating an existing id conflicts too. */
	assert_int_equal(
	    put1(f->s, CHANGE_CREATE, ID_A, "other", "1", 0, 4, msg),
	    SW_ECONFLICT);
	/* Renaming frees the old name for another object, in one change. */
	change_init(&c, 5);
	change_put(&c, CHANGE_UPDATE, OBJ_SERVICE, ID_A, "web2", "1", 1, 1);
	change_put(&c, CHANGE_CREATE, OBJ_SERVICE, ID_B, "web", "2", 1, 0);
	assert_int_equal(apply(f->s, &c, 5, NULL), SW_EOK);
	assert_string_equal(store_get_by_name(f->s, OBJ_SERVICE, "web")->id,
			    ID_B);
	assert_string_equal(store_get_by_name(f->s, OBJ_SERVICE, "web2")->id,
			    ID_A);
	/* Renaming onto a taken name fails. */
	assert_int_equal(put1(f->s, CHANGE_UPSERT, ID_A, "web", "1", 0, 6, msg),
			 SW_ECONFLICT);
	/* Dropping the name unindexes it. */
	assert_int_equal(put1(f->s, CHANGE_UPSERT, ID_A, NULL, "1", 0, 7, NULL),
			 SW_EOK);
	assert_null(store_get_by_name(f->s, OBJ_SERVICE, "web2"));
}

static void test_versions(void **state)
{
	struct fixture *f = *state;
	const struct store_record *r;
	struct change c;
	char msg[512];

	assert_int_equal(
	    put1(f->s, CHANGE_CREATE, ID_A, "web", "v1", 0, 10, NULL), SW_EOK);
	assert_int_equal(
	    put1(f->s, CHANGE_UPDATE, ID_A, "web", "v2", 9, 11, msg),
	    SW_ESYSTEM);
	assert_string_equal(msg, "update out of sequence");
	assert_int_equal(store_get(f->s, OBJ_SERVICE, ID_A)->version, 10);
	assert_int_equal(
	    put1(f->s, CHANGE_UPDATE, ID_A, "web", "v2", 10, 12, NULL), SW_EOK);
	r = store_get(f->s, OBJ_SERVICE, ID_A);
	assert_int_equal(r->version, 12);
	assert_int_equal(r->created_ns, 10000);
	assert_int_equal(r->updated_ns, 12000);
	assert_memory_equal(r->payload, "v2", 2);
	/* expected 0: must exist, any version. */
	assert_int_equal(
	    put1(f->s, CHANGE_UPDATE, ID_A, "web", "v3", 0, 13, NULL), SW_EOK);
	assert_int_equal(put1(f->s, CHANGE_UPDATE, ID_B, NULL, "x", 0, 14, msg),
			 SW_ENOTFOUND);
	assert_string_equal(msg, "service " ID_B " not found");
	/* Deletes check versions too; UPSERT deletes tolerate absence. */
	change_init(&c, 15);
	change_delete(&c, CHANGE_UPDATE, OBJ_SERVICE, ID_A, 12);
	assert_int_equal(apply(f->s, &c, 15, msg), SW_ESYSTEM);
	change_init(&c, 16);
	change_delete(&c, CHANGE_UPSERT, OBJ_SERVICE, ID_B, 0);
	assert_int_equal(apply(f->s, &c, 16, NULL), SW_EOK);
	change_init(&c, 17);
	change_delete(&c, CHANGE_UPDATE, OBJ_SERVICE, ID_B, 0);
	assert_int_equal(apply(f->s, &c, 17, NULL), SW_ENOTFOUND);
	change_init(&c, 18);
	change_delete(&c, CHANGE_UPDATE, OBJ_SERVICE, ID_A, 13);
	assert_int_equal(apply(f->s, &c, 18, NULL), SW_EOK);
	assert_null(store_get(f->s, OBJ_SERVICE, ID_A));
	assert_null(store_get_by_name(f->s, OBJ_SERVICE, "web"));
	assert_int_equal(store_applied_index(f->s), 18);
}

static void test_atomicity(void **state)
{
	struct fixture *f = *state;
	struct sw_err outcome, err;
	struct change c;

	assert_int_equal(
	    put1(f->s, CHANGE_CREATE, ID_A, "web", "v1", 0, 1, NULL), SW_EOK);
	change_init(&c, 2);
	change_put(&c, CHANGE_CREATE, OBJ_SERVICE, ID_B, "db", "x", 1, 0);
	change_put(&c, CHANGE_UPDATE, OBJ_SERVICE, ID_A, "web", "v2", 2, 1);
	change_delete(&c, CHANGE_UPDATE, OBJ_SERVICE, ID_A, 0);
	change_put(&c, CHANGE_CREATE, OBJ_SERVICE, ID_A, "web", "v3", 2, 0);
	change_put(&c, CHANGE_UPDATE, OBJ_SERVICE, ID_C, NULL, "x", 1, 7);
	assert_int_equal(apply(f->s, &c, 2, NULL), SW_ENOTFOUND);
	assert_null(store_get(f->s, OBJ_SERVICE, ID_B));
	assert_null(store_get_by_name(f->s, OBJ_SERVICE, "db"));
	assert_int_equal(store_get(f->s, OBJ_SERVICE, ID_A)->version, 1);
	assert_memory_equal(store_get(f->s, OBJ_SERVICE, ID_A)->payload, "v1",
			    2);
	assert_int_equal(store_count(f->s, OBJ_SERVICE), 1);
	assert_int_equal(store_applied_index(f->s), 2);
	/* An index already consumed is refused. */
	change_init(&c, 2);
	change_put(&c, CHANGE_UPSERT, OBJ_SERVICE, ID_B, NULL, "x", 1, 0);
	assert_int_not_equal(store_apply(f->s, &c, 2, &outcome, &err), 0);
	change_free(&c);
	reopen(f);
	assert_int_equal(store_count(f->s, OBJ_SERVICE), 1);
	assert_int_equal(store_applied_index(f->s), 2);
}

static void test_reload(void **state)
{
	struct fixture *f = *state;
	const struct store_record *r;
	char id[32];
	int i;

	for (i = 0; i < 200; i++) {
		snprintf(id, sizeof(id), "task%05d", i);
		struct change c;

		change_init(&c, 7);
		change_put(&c, CHANGE_CREATE, OBJ_TASK, id, NULL, id,
			   strlen(id), 0);
		assert_int_equal(apply(f->s, &c, (uint64_t)i + 1, NULL),
				 SW_EOK);
	}
	assert_int_equal(
	    put1(f->s, CHANGE_CREATE, ID_A, "web", "", 0, 201, NULL), SW_EOK);
	assert_int_equal(
	    put1(f->s, CHANGE_UPDATE, ID_A, "web", "v2", 201, 202, NULL),
	    SW_EOK);
	reopen(f);
	assert_int_equal(store_applied_index(f->s), 202);
	assert_int_equal(store_count(f->s, OBJ_TASK), 200);
	r = store_get(f->s, OBJ_TASK, "task00123");
	assert_non_null(r);
	assert_int_equal(r->version, 124);
	assert_memory_equal(r->payload, "task00123", 9);
	r = store_get_by_name(f->s, OBJ_SERVICE, "web");
	assert_non_null(r);
	assert_string_equal(r->id, ID_A);
	assert_int_equal(r->version, 202);
	assert_int_equal(r->created_ns, 201000);
	assert_int_equal(r->updated_ns, 202000);
	/* Names stay enforced after a reload. */
	assert_int_equal(
	    put1(f->s, CHANGE_CREATE, ID_B, "web", "", 0, 203, NULL),
	    SW_ECONFLICT);
}

struct seen {
	int calls;
	int resets;
	int n;
	struct store_event ev[4];
	char ids[4][32];
	uint64_t old_version[4];
	struct store_watcher *unwatch;
	struct store *s;
};

static void watch_cb(struct store_watcher *w, uint64_t index, bool reset,
		     const struct store_event *evs, size_t n)
{
	struct seen *seen = w->data;
	size_t i;

	seen->calls++;
	seen->resets += reset;
	seen->n = (int)n;
	for (i = 0; i < n && i < 4; i++) {
		seen->ev[i] = evs[i];
		strcpy(seen->ids[i], evs[i].id);
		seen->old_version[i] = evs[i].old ? evs[i].old->version : 0;
	}
	/* The store already shows the change's final state. */
	if (n > 0 && evs[0].type == STORE_EVENT_UPDATE)
		assert_ptr_equal(store_get(seen->s, evs[0].kind, evs[0].id),
				 evs[0].cur);
	if (seen->unwatch != NULL)
		store_unwatch(seen->s, seen->unwatch);
}

static void test_watchers(void **state)
{
	struct fixture *f = *state;
	struct store_watcher w1, w2;
	struct seen s1 = {.s = f->s}, s2 = {.s = f->s};
	struct change c;

	w1.data = &s1;
	w2.data = &s2;
	store_watch(f->s, &w1, watch_cb);
	store_watch(f->s, &w2, watch_cb);
	assert_int_equal(
	    put1(f->s, CHANGE_CREATE, ID_A, "web", "1", 0, 1, NULL), SW_EOK);
	assert_int_equal(s1.calls, 1);
	assert_int_equal(s1.n, 1);
	assert_int_equal(s1.ev[0].type, STORE_EVENT_CREATE);
	assert_null(s1.ev[0].old);
	assert_string_equal(s1.ids[0], ID_A);

	change_init(&c, 2);
	change_put(&c, CHANGE_UPDATE, OBJ_SERVICE, ID_A, "web", "2", 1, 1);
	change_delete(&c, CHANGE_UPSERT, OBJ_SERVICE, ID_C, 0); /* no-op */
	change_put(&c, CHANGE_CREATE, OBJ_SERVICE, ID_B, NULL, "b", 1, 0);
	change_delete(&c, CHANGE_UPDATE, OBJ_SERVICE, ID_B, 0);
	/* w1 unwatches w2 while dispatching: w2 must not be called. */
	s1.unwatch = &w2;
	assert_int_equal(apply(f->s, &c, 2, NULL), SW_EOK);
	assert_int_equal(s1.calls, 2);
	assert_int_equal(s2.calls, 1);
	assert_int_equal(s1.n, 3);
	assert_int_equal(s1.ev[0].type, STORE_EVENT_UPDATE);
	assert_int_equal(s1.old_version[0], 1);
	assert_int_equal(s1.ev[1].type, STORE_EVENT_CREATE);
	assert_int_equal(s1.ev[2].type, STORE_EVENT_DELETE);
	assert_null(s1.ev[2].cur);
	assert_int_equal(s1.old_version[2], 2);
	s1.unwatch = NULL;

	/* A rejected change notifies nobody. */
	assert_int_equal(put1(f->s, CHANGE_CREATE, ID_A, NULL, "1", 0, 3, NULL),
			 SW_ECONFLICT);
	assert_int_equal(s1.calls, 2);
	store_unwatch(f->s, &w1);
	assert_int_equal(put1(f->s, CHANGE_UPSERT, ID_A, NULL, "1", 0, 4, NULL),
			 SW_EOK);
	assert_int_equal(s1.calls, 2);
}

static void test_replace_all(void **state)
{
	struct fixture *f = *state;
	struct store_record recs[3] = {
	    {.kind = OBJ_NODE,
	     .id = "n1",
	     .name = "host1",
	     .version = 7,
	     .created_ns = 1,
	     .updated_ns = 2,
	     .payload = "p",
	     .payload_len = 1},
	    {.kind = OBJ_SERVICE, .id = ID_B, .name = "web", .version = 9},
	    {.kind = OBJ_SERVICE, .id = ID_C, .name = "web", .version = 9},
	};
	struct store_watcher w;
	struct seen seen = {.s = f->s};
	struct sw_err err;

	assert_int_equal(
	    put1(f->s, CHANGE_CREATE, ID_A, "web", "1", 0, 1, NULL), SW_EOK);
	w.data = &seen;
	store_watch(f->s, &w, watch_cb);
	/* Duplicate names: refused, nothing changes. */
	assert_int_equal(store_replace_all(f->s, 10, recs, 3, &err),
			 -SW_EINVALID);
	assert_non_null(store_get(f->s, OBJ_SERVICE, ID_A));
	assert_int_equal(store_replace_all(f->s, 10, recs, 2, &err), 0);
	assert_int_equal(seen.resets, 1);
	assert_null(store_get(f->s, OBJ_SERVICE, ID_A));
	assert_string_equal(store_get_by_name(f->s, OBJ_SERVICE, "web")->id,
			    ID_B);
	assert_int_equal(store_applied_index(f->s), 10);
	store_unwatch(f->s, &w);
	reopen(f);
	assert_int_equal(store_applied_index(f->s), 10);
	assert_int_equal(store_count(f->s, OBJ_SERVICE), 1);
	assert_int_equal(store_get(f->s, OBJ_NODE, "n1")->version, 7);
	assert_string_equal(store_get(f->s, OBJ_NODE, "n1")->name, "host1");
}

static void test_record_dup(void **state)
{
	struct store_record r = {.kind = OBJ_SECRET,
				 .id = "s",
				 .name = "n",
				 .version = 3,
				 .payload = "xyz",
				 .payload_len = 3};
	struct store_record *d = store_record_dup(&r);

	assert_string_equal(d->id, "s");
	assert_string_equal(d->name, "n");
	assert_memory_equal(d->payload, "xyz", 3);
	assert_ptr_not_equal(d->payload, r.payload);
	store_record_free(d);
}

/* ---- patches ---- */

/* A test patcher: appends the patch to the payload, refuses "stale". */
static bool append_patch(const void *payload, size_t len, const void *patch,
			 size_t patch_len, int64_t now_ns, void **out,
			 size_t *out_len)
{
	if (patch_len == 5 && memcmp(patch, "stale", 5) == 0)
		return false;
	*out_len = len + patch_len;
	*out = malloc(*out_len);
	memcpy(*out, payload, len);
	memcpy((char *)*out + len, patch, patch_len);
	return true;
}

static void test_patches(void **state)
{
	struct fixture *f = *state;
	const struct store_record *r;
	struct raft_buffer buf;
	struct change c, d;
	struct sw_err err;

	store_set_patcher(f->s, OBJ_SERVICE, append_patch);
	assert_int_equal(put1(f->s, CHANGE_CREATE, ID_A, "web", "v", 0, 1,
			      NULL),
			 SW_EOK);
	/* Applied in order; a missing object, a refused patch and a kind
	 * without a patcher are skipped without failing the change. */
	change_init(&c, 5000);
	change_patch(&c, OBJ_SERVICE, ID_A, "+1", 2);
	change_patch(&c, OBJ_SERVICE, ID_B, "+x", 2);
	change_patch(&c, OBJ_SERVICE, ID_A, "stale", 5);
	change_patch(&c, OBJ_NODE, ID_C, "+y", 2);
	change_patch(&c, OBJ_SERVICE, ID_A, "+2", 2);
	change_put(&c, CHANGE_CREATE, OBJ_SERVICE, ID_C, "db", "w", 1, 0);
	assert_int_equal(change_encode(&c, &buf, &err), 0);
	assert_int_equal(change_decode(buf.base, buf.len, &d, &err), 0);
	assert_int_equal(d.ops[0].type, CHANGE_PATCH);
	assert_int_equal(d.ops[0].mode, CHANGE_UPSERT);
	assert_null(d.ops[0].name);
	assert_int_equal(apply(f->s, &d, 2, NULL), SW_EOK);
	change_free(&c);
	raft_free(buf.base);
	r = store_get(f->s, OBJ_SERVICE, ID_A);
	assert_non_null(r);
	assert_int_equal(r->payload_len, 5);
	assert_memory_equal(r->payload, "v+1+2", 5);
	assert_int_equal(r->version, 2);
	assert_int_equal(r->updated_ns, 5000);
	assert_string_equal(r->name, "web");
	assert_null(store_get(f->s, OBJ_SERVICE, ID_B));
	assert_non_null(store_get(f->s, OBJ_SERVICE, ID_C));
	/* Durable like any put. */
	reopen(f);
	r = store_get(f->s, OBJ_SERVICE, ID_A);
	assert_memory_equal(r->payload, "v+1+2", 5);
	/* A PATCH with another mode or a name is malformed. */
	change_init(&c, 1);
	change_patch(&c, OBJ_SERVICE, ID_A, "+3", 2);
	c.ops[0].mode = CHANGE_UPDATE;
	assert_int_equal(change_validate(&c, &err), -SW_EINVALID);
	change_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_change_roundtrip),
	    cmocka_unit_test(test_change_decode_rejects),
	    cmocka_unit_test(test_record_dup),
	    cmocka_unit_test_setup_teardown(test_put_get_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_name_uniqueness, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_versions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_atomicity, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_watchers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_patches, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replace_all, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
