#include "orchestrator/store.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <rocksdb/c.h>

#include "lib/alloc.h"

/* Small-memory RocksDB profile (LIBRARY-NOTES §4): the store's working set
 * is in memory anyway, RocksDB only has to be durable. */
#define STORE_CACHE_BYTES (2u << 20)
#define STORE_WRITE_BUFFER_BYTES (2u << 20)
#define STORE_DB_WRITE_BUFFER_BYTES (4u << 20)
#define STORE_MAX_WAL_BYTES (8u << 20)
#define STORE_INFO_LOG_BYTES (1u << 20)

#define RECORD_FORMAT 1
#define TABLE_INITIAL_BUCKETS 64

static const char applied_key[] = "\0applied";
#define APPLIED_KEY_LEN (sizeof(applied_key) - 1)

/* A record and its index links, in one allocation followed by the id, the
 * name and the payload. rec comes first so a borrowed record pointer is
 * also the node pointer. */
struct store_node {
	struct store_record rec;
	struct store_node *id_next, *name_next; /* hash chains */
	struct store_node *kprev, *knext;       /* per-kind list */
	uint64_t id_hash, name_hash;
};

enum table_which { BY_ID = 0, BY_NAME = 1 };

struct store_table {
	struct store_node **buckets;
	size_t mask;
	size_t n;
};

struct store_kind_list {
	struct store_node *head, *tail;
	size_t n;
};

struct store_index {
	struct store_table tables[2];
	struct store_kind_list kinds[OBJ_KIND_MAX + 1];
};

struct store {
	rocksdb_t *db;
	rocksdb_options_t *opts;
	rocksdb_block_based_table_options_t *table_opts;
	rocksdb_cache_t *cache;
	rocksdb_writeoptions_t *wopts;
	rocksdb_readoptions_t *ropts;
	struct store_index idx;
	uint64_t applied;
	struct store_watcher *watch_head, *watch_tail;
	struct store_watcher *dispatch_next; /* survives unwatch in a cb */
	bool dispatching;
	store_patch_fn patchers[OBJ_KIND_MAX + 1];
};

/* What one op did, so a failed change can be undone and a committed one
 * reported: old left the index (freed after the watchers ran), cur entered
 * it. Both NULL when the op was a no-op. */
struct store_undo {
	struct store_node *old;
	struct store_node *cur;
	bool patched;
};

/* ---- records ---- */

static struct store_node *node_new(const struct store_record *r)
{
	size_t id_len = strlen(r->id);
	size_t name_len = r->name ? strlen(r->name) + 1 : 0;
	struct store_node *n;
	char *p;

	n = xcalloc(1, sizeof(*n) + id_len + 1 + name_len + r->payload_len);
	n->rec = *r;
	p = (char *)(n + 1);
	memcpy(p, r->id, id_len + 1);
	n->rec.id = p;
	p += id_len + 1;
	if (r->name != NULL) {
		memcpy(p, r->name, name_len);
		n->rec.name = p;
		p += name_len;
	}
	if (r->payload_len > 0)
		memcpy(p, r->payload, r->payload_len);
	n->rec.payload = r->payload_len > 0 ? p : NULL;
	return n;
}

struct store_record *store_record_dup(const struct store_record *r)
{
	return &node_new(r)->rec;
}

void store_record_free(struct store_record *r)
{
	free(r); /* rec is the first member of its node allocation */
}

void store_record_encode(struct wire_writer *w, const struct store_record *r)
{
	size_t id_len = strlen(r->id);
	size_t name_len = r->name ? strlen(r->name) : 0;

	wire_put_u8(w, RECORD_FORMAT);
	wire_put_u8(w, (uint8_t)r->kind);
	wire_put_u8(w, r->name != NULL);
	wire_put_u8(w, 0);
	wire_put_u32(w, (uint32_t)id_len);
	wire_put_u32(w, (uint32_t)name_len);
	wire_put_u64(w, r->payload_len);
	wire_put_u64(w, r->version);
	wire_put_u64(w, (uint64_t)r->created_ns);
	wire_put_u64(w, (uint64_t)r->updated_ns);
	wire_put_str(w, r->id, id_len);
	if (r->name != NULL)
		wire_put_str(w, r->name, name_len);
	wire_put_bytes(w, r->payload, r->payload_len);
}

int store_record_decode(struct wire_reader *rd, struct store_record *out,
			struct sw_err *err)
{
	uint8_t format, kind, has_name;
	uint32_t id_len, name_len;
	uint64_t payload_len;

	format = wire_get_u8(rd);
	kind = wire_get_u8(rd);
	has_name = wire_get_u8(rd);
	(void)wire_get_u8(rd);
	id_len = wire_get_u32(rd);
	name_len = wire_get_u32(rd);
	payload_len = wire_get_u64(rd);
	out->kind = kind;
	out->version = wire_get_u64(rd);
	out->created_ns = (int64_t)wire_get_u64(rd);
	out->updated_ns = (int64_t)wire_get_u64(rd);
	if (rd->bad || format != RECORD_FORMAT || !obj_kind_valid(kind) ||
	    has_name > 1 || id_len == 0 || id_len > CHANGE_MAX_KEY ||
	    name_len > CHANGE_MAX_KEY || payload_len > CHANGE_MAX_PAYLOAD)
		return sw_err_set(err, SW_EINVALID, "malformed record");
	out->id = wire_get_str(rd, id_len);
	out->name = has_name ? wire_get_str(rd, name_len) : NULL;
	out->payload_len = (size_t)payload_len;
	out->payload = wire_get_bytes(rd, out->payload_len);
	if (rd->bad || (has_name && name_len == 0))
		return sw_err_set(err, SW_EINVALID, "malformed record");
	return 0;
}

/* ---- in-memory index ---- */

static uint64_t key_hash(enum obj_kind kind, const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	h = (h ^ (uint64_t)kind) * 1099511628211ull;
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static struct store_node **node_link(struct store_node *n, int which)
{
	return which == BY_ID ? &n->id_next : &n->name_next;
}

static uint64_t node_hash(const struct store_node *n, int which)
{
	return which == BY_ID ? n->id_hash : n->name_hash;
}

static const char *node_key(const struct store_node *n, int which)
{
	return which == BY_ID ? n->rec.id : n->rec.name;
}

static void table_init(struct store_table *t)
{
	t->buckets = xcalloc(TABLE_INITIAL_BUCKETS, sizeof(*t->buckets));
	t->mask = TABLE_INITIAL_BUCKETS - 1;
	t->n = 0;
}

static void table_grow(struct store_table *t, int which)
{
	size_t nb = 2 * (t->mask + 1), i;
	struct store_node **b = xcalloc(nb, sizeof(*b));
	struct store_node *n, *next;

	for (i = 0; i <= t->mask; i++) {
		for (n = t->buckets[i]; n != NULL; n = next) {
			next = *node_link(n, which);
			*node_link(n, which) =
			    b[node_hash(n, which) & (nb - 1)];
			b[node_hash(n, which) & (nb - 1)] = n;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->mask = nb - 1;
}

static void table_insert(struct store_table *t, int which, struct store_node *n)
{
	struct store_node **head;

	if (t->n >= t->mask + 1)
		table_grow(t, which);
	head = &t->buckets[node_hash(n, which) & t->mask];
	*node_link(n, which) = *head;
	*head = n;
	t->n++;
}

static void table_remove(struct store_table *t, int which, struct store_node *n)
{
	struct store_node **pp = &t->buckets[node_hash(n, which) & t->mask];

	while (*pp != n)
		pp = node_link(*pp, which);
	*pp = *node_link(n, which);
	*node_link(n, which) = NULL;
	t->n--;
}

static struct store_node *table_find(const struct store_table *t, int which,
				     enum obj_kind kind, const char *key)
{
	uint64_t h = key_hash(kind, key);
	struct store_node *n = t->buckets[h & t->mask];

	for (; n != NULL; n = *node_link(n, which)) {
		if (node_hash(n, which) == h && n->rec.kind == kind &&
		    strcmp(node_key(n, which), key) == 0)
			return n;
	}
	return NULL;
}

static void index_init(struct store_index *x)
{
	memset(x, 0, sizeof(*x));
	table_init(&x->tables[BY_ID]);
	table_init(&x->tables[BY_NAME]);
}

static void index_insert(struct store_index *x, struct store_node *n)
{
	struct store_kind_list *l = &x->kinds[n->rec.kind];

	n->id_hash = key_hash(n->rec.kind, n->rec.id);
	table_insert(&x->tables[BY_ID], BY_ID, n);
	if (n->rec.name != NULL) {
		n->name_hash = key_hash(n->rec.kind, n->rec.name);
		table_insert(&x->tables[BY_NAME], BY_NAME, n);
	}
	n->kprev = l->tail;
	n->knext = NULL;
	if (l->tail != NULL)
		l->tail->knext = n;
	else
		l->head = n;
	l->tail = n;
	l->n++;
}

static void index_remove(struct store_index *x, struct store_node *n)
{
	struct store_kind_list *l = &x->kinds[n->rec.kind];

	table_remove(&x->tables[BY_ID], BY_ID, n);
	if (n->rec.name != NULL)
		table_remove(&x->tables[BY_NAME], BY_NAME, n);
	if (n->kprev != NULL)
		n->kprev->knext = n->knext;
	else
		l->head = n->knext;
	if (n->knext != NULL)
		n->knext->kprev = n->kprev;
	else
		l->tail = n->kprev;
	n->kprev = n->knext = NULL;
	l->n--;
}

/* Frees every node and the tables. */
static void index_free(struct store_index *x)
{
	struct store_node *n, *next;
	int k;

	for (k = OBJ_CLUSTER; k <= OBJ_KIND_MAX; k++) {
		for (n = x->kinds[k].head; n != NULL; n = next) {
			next = n->knext;
			free(n);
		}
	}
	free(x->tables[BY_ID].buckets);
	free(x->tables[BY_NAME].buckets);
	memset(x, 0, sizeof(*x));
}

static struct store_node *index_get(const struct store_index *x,
				    enum obj_kind kind, const char *id)
{
	return table_find(&x->tables[BY_ID], BY_ID, kind, id);
}

static struct store_node *index_get_name(const struct store_index *x,
					 enum obj_kind kind, const char *name)
{
	return table_find(&x->tables[BY_NAME], BY_NAME, kind, name);
}

/* Inserts a copy of r unless it breaks a uniqueness invariant. */
static int index_load(struct store_index *x, const struct store_record *r,
		      struct sw_err *err)
{
	if (index_get(x, r->kind, r->id) != NULL)
		return sw_err_set(err, SW_EINVALID, "duplicate %s id %s",
				  obj_kind_name(r->kind), r->id);
	if (r->name != NULL && index_get_name(x, r->kind, r->name) != NULL)
		return sw_err_set(err, SW_EINVALID, "duplicate %s name %s",
				  obj_kind_name(r->kind), r->name);
	index_insert(x, node_new(r));
	return 0;
}

/* ---- RocksDB ---- */

/* Copies RocksDB's malloc'd message into err and frees it. */
static int rocks_err(struct sw_err *err, char *msg, const char *what)
{
	sw_err_set(err, SW_ESYSTEM, "store: %s: %s", what, msg);
	rocksdb_free(msg);
	return -SW_ESYSTEM;
}

static void store_set_options(struct store *s)
{
	s->opts = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(s->opts, 1);
	s->cache = rocksdb_cache_create_lru(STORE_CACHE_BYTES);
	s->table_opts = rocksdb_block_based_options_create();
	rocksdb_block_based_options_set_block_cache(s->table_opts, s->cache);
	rocksdb_block_based_options_set_cache_index_and_filter_blocks(
	    s->table_opts, 1);
	rocksdb_options_set_block_based_table_factory(s->opts, s->table_opts);
	rocksdb_options_set_write_buffer_size(s->opts,
					      STORE_WRITE_BUFFER_BYTES);
	rocksdb_options_set_max_write_buffer_number(s->opts, 2);
	rocksdb_options_set_db_write_buffer_size(s->opts,
						 STORE_DB_WRITE_BUFFER_BYTES);
	rocksdb_options_set_max_total_wal_size(s->opts, STORE_MAX_WAL_BYTES);
	rocksdb_options_set_max_open_files(s->opts, 64);
	rocksdb_options_set_keep_log_file_num(s->opts, 2);
	rocksdb_options_set_max_log_file_size(s->opts, STORE_INFO_LOG_BYTES);
	rocksdb_options_set_stats_dump_period_sec(s->opts, 0);
	s->wopts = rocksdb_writeoptions_create();
	s->ropts = rocksdb_readoptions_create();
}

static void put_le64(unsigned char out[8], uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		out[i] = (unsigned char)(v >> (8 * i));
}

static int store_load_applied(struct store *s, struct sw_err *err)
{
	struct wire_reader rd;
	char *msg = NULL, *val;
	size_t len = 0;

	val = rocksdb_get(s->db, s->ropts, applied_key, APPLIED_KEY_LEN, &len,
			  &msg);
	if (msg != NULL)
		return rocks_err(err, msg, "reading the applied index");
	s->applied = 0;
	if (val == NULL)
		return 0;
	wire_reader_init(&rd, val, len);
	s->applied = wire_get_u64(&rd);
	rocksdb_free(val);
	if (rd.bad || len != 8)
		return sw_err_set(err, SW_ESYSTEM,
				  "store: corrupt applied index");
	return 0;
}

/* Checks that a stored value matches its key (kind byte + id). */
static bool record_matches_key(const struct store_record *r, const char *key,
			       size_t klen)
{
	return klen >= 2 && (unsigned char)key[0] == r->kind &&
	       strlen(r->id) == klen - 1 &&
	       memcmp(r->id, key + 1, klen - 1) == 0;
}

static int load_one(struct store *s, rocksdb_iterator_t *it, struct sw_err *err)
{
	struct store_record r = {0};
	struct wire_reader rd;
	size_t klen, vlen;
	const char *key = rocksdb_iter_key(it, &klen);
	const char *val = rocksdb_iter_value(it, &vlen);

	wire_reader_init(&rd, val, vlen);
	if (store_record_decode(&rd, &r, err) != 0 || rd.left != 0 ||
	    !record_matches_key(&r, key, klen))
		return sw_err_set(err, SW_ESYSTEM, "store: corrupt record");
	if (index_load(&s->idx, &r, err) != 0)
		return sw_err_wrap(err, "store: corrupt");
	return 0;
}

static int store_load_records(struct store *s, struct sw_err *err)
{
	static const char first[] = {OBJ_CLUSTER};
	rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, s->ropts);
	char *msg = NULL;
	int rc = 0;

	for (rocksdb_iter_seek(it, first, 1); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		rc = load_one(s, it, err);
		if (rc != 0)
			break;
	}
	if (rc == 0) {
		rocksdb_iter_get_error(it, &msg);
		if (msg != NULL)
			rc = rocks_err(err, msg, "loading records");
	}
	rocksdb_iter_destroy(it);
	return rc;
}

static void store_free(struct store *s)
{
	if (s->db != NULL)
		rocksdb_close(s->db);
	rocksdb_writeoptions_destroy(s->wopts);
	rocksdb_readoptions_destroy(s->ropts);
	rocksdb_options_destroy(s->opts);
	rocksdb_block_based_options_destroy(s->table_opts);
	rocksdb_cache_destroy(s->cache);
	index_free(&s->idx);
	free(s);
}

struct store *store_open(const char *dir, struct sw_err *err)
{
	struct store *s = xcalloc(1, sizeof(*s));
	char *msg = NULL;

	index_init(&s->idx);
	store_set_options(s);
	s->db = rocksdb_open(s->opts, dir, &msg);
	if (msg != NULL) {
		rocks_err(err, msg, "opening the database");
		goto err_free;
	}
	if (store_load_applied(s, err) != 0 || store_load_records(s, err) != 0)
		goto err_free;
	return s;

err_free:
	store_free(s);
	return NULL;
}

void store_close(struct store *s)
{
	if (s == NULL)
		return;
	assert(!s->dispatching);
	store_free(s);
}

/* ---- reads ---- */

uint64_t store_applied_index(const struct store *s)
{
	return s->applied;
}

const struct store_record *store_get(const struct store *s, enum obj_kind kind,
				     const char *id)
{
	struct store_node *n;

	if (!obj_kind_valid((int)kind) || id == NULL)
		return NULL;
	n = index_get(&s->idx, kind, id);
	return n ? &n->rec : NULL;
}

const struct store_record *
store_get_by_name(const struct store *s, enum obj_kind kind, const char *name)
{
	struct store_node *n;

	if (!obj_kind_valid((int)kind) || name == NULL)
		return NULL;
	n = index_get_name(&s->idx, kind, name);
	return n ? &n->rec : NULL;
}

size_t store_find_prefix(const struct store *s, enum obj_kind kind,
			 const char *prefix, const struct store_record **out)
{
	const struct store_record *r, *found = NULL;
	size_t plen, n = 0;

	*out = NULL;
	if (!obj_kind_valid((int)kind) || prefix == NULL)
		return 0;
	r = store_get(s, kind, prefix);
	if (r != NULL) {
		*out = r;
		return 1;
	}
	plen = strlen(prefix);
	for (r = store_first(s, kind); r != NULL; r = store_next(r)) {
		if (strncmp(r->id, prefix, plen) == 0) {
			found = r;
			n++;
		}
	}
	if (n == 1)
		*out = found;
	return n;
}

size_t store_count(const struct store *s, enum obj_kind kind)
{
	return obj_kind_valid((int)kind) ? s->idx.kinds[kind].n : 0;
}

const struct store_record *store_first(const struct store *s,
				       enum obj_kind kind)
{
	struct store_node *n;

	if (!obj_kind_valid((int)kind))
		return NULL;
	n = s->idx.kinds[kind].head;
	return n ? &n->rec : NULL;
}

const struct store_record *store_next(const struct store_record *rec)
{
	const struct store_node *n = (const struct store_node *)rec;

	return n->knext ? &n->knext->rec : NULL;
}

/* ---- watchers ---- */

void store_watch(struct store *s, struct store_watcher *w, store_watch_cb cb)
{
	w->cb = cb;
	w->next = NULL;
	w->prev = s->watch_tail;
	if (s->watch_tail != NULL)
		s->watch_tail->next = w;
	else
		s->watch_head = w;
	s->watch_tail = w;
}

void store_unwatch(struct store *s, struct store_watcher *w)
{
	if (s->dispatch_next == w)
		s->dispatch_next = w->next;
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		s->watch_head = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	else
		s->watch_tail = w->prev;
	w->prev = w->next = NULL;
}

static void store_notify(struct store *s, uint64_t index, bool reset,
			 const struct store_event *evs, size_t n)
{
	struct store_watcher *w = s->watch_head;

	s->dispatching = true;
	while (w != NULL) {
		s->dispatch_next = w->next;
		w->cb(w, index, reset, evs, n);
		w = s->dispatch_next;
	}
	s->dispatch_next = NULL;
	s->dispatching = false;
}

/* ---- writes ---- */

static void batch_put_record(rocksdb_writebatch_t *b,
			     const struct store_record *r)
{
	struct wire_writer w;
	char kind = (char)r->kind;
	const char *key[2] = {&kind, r->id};
	size_t key_len[2] = {1, strlen(r->id)};
	const char *val[1];
	size_t val_len[1];

	wire_writer_init(&w, xrealloc, 64 + r->payload_len);
	store_record_encode(&w, r);
	val[0] = (const char *)w.data;
	val_len[0] = w.len;
	rocksdb_writebatch_putv(b, 2, key, key_len, 1, val, val_len);
	free(w.data);
}

static void batch_delete_record(rocksdb_writebatch_t *b,
				const struct store_record *r)
{
	char kind = (char)r->kind;
	const char *key[2] = {&kind, r->id};
	size_t key_len[2] = {1, strlen(r->id)};

	rocksdb_writebatch_deletev(b, 2, key, key_len);
}

/* Adds the applied index, writes the batch and destroys it. */
static int batch_commit(struct store *s, rocksdb_writebatch_t *b,
			uint64_t index, struct sw_err *err)
{
	unsigned char v[8];
	char *msg = NULL;

	put_le64(v, index);
	rocksdb_writebatch_put(b, applied_key, APPLIED_KEY_LEN, (char *)v, 8);
	rocksdb_write(s->db, s->wopts, b, &msg);
	rocksdb_writebatch_destroy(b);
	if (msg != NULL)
		return rocks_err(err, msg, "writing");
	s->applied = index;
	return 0;
}

int store_mark_applied(struct store *s, uint64_t index, struct sw_err *err)
{
	return batch_commit(s, rocksdb_writebatch_create(), index, err);
}

void store_set_patcher(struct store *s, enum obj_kind kind, store_patch_fn fn)
{
	if (obj_kind_valid((int)kind))
		s->patchers[kind] = fn;
}

/* Puts r in the index in place of old (NULL: a new object), for undo and
 * the watchers. */
static void index_replace(struct store *s, struct store_node *old,
			  const struct store_record *r, struct store_undo *u)
{
	if (old != NULL)
		index_remove(&s->idx, old);
	u->old = old;
	u->cur = node_new(r);
	index_insert(&s->idx, u->cur);
}

/* A PATCH never fails the change: what does not apply is skipped. */
static void op_patch(struct store *s, const struct change *c,
		     const struct change_op *op, uint64_t index,
		     struct store_undo *u)
{
	struct store_node *old = index_get(&s->idx, op->kind, op->id);
	store_patch_fn fn = s->patchers[op->kind];
	void *payload = NULL;
	size_t len = 0;
	struct store_record r;

	if (old == NULL || fn == NULL ||
	    !fn(old->rec.payload, old->rec.payload_len, op->payload,
		op->payload_len, c->now_ns, &payload, &len))
		return;
	r = old->rec;
	r.version = index;
	r.updated_ns = c->now_ns;
	r.payload = payload;
	r.payload_len = len;
	index_replace(s, old, &r, u);
	u->patched = true;
	free(payload);
}

static int op_put(struct store *s, const struct change *c,
		  const struct change_op *op, uint64_t index,
		  struct store_undo *u, struct sw_err *out)
{
	struct store_node *old = index_get(&s->idx, op->kind, op->id);
	struct store_node *other;
	struct store_record r;

	if (op->mode == CHANGE_CREATE && old != NULL)
		return sw_err_set(out, SW_ECONFLICT, "%s %s already exists",
				  obj_kind_name(op->kind), op->id);
	if (op->mode == CHANGE_UPDATE && old == NULL)
		return sw_err_set(out, SW_ENOTFOUND, "%s %s not found",
				  obj_kind_name(op->kind), op->id);
	if (op->mode == CHANGE_UPDATE && op->expected_version != 0 &&
	    op->expected_version != old->rec.version)
		return sw_err_set(out, SW_ESYSTEM, STORE_ERR_OUT_OF_SEQUENCE);
	other = op->name ? index_get_name(&s->idx, op->kind, op->name) : NULL;
	if (other != NULL && other != old)
		return sw_err_set(out, SW_ECONFLICT, STORE_ERR_NAME_CONFLICT);
	r = (struct store_record){
	    .kind = op->kind,
	    .id = op->id,
	    .name = op->name,
	    .version = index,
	    .created_ns = old ? old->rec.created_ns : c->now_ns,
	    .updated_ns = c->now_ns,
	    .payload = op->payload,
	    .payload_len = op->payload_len,
	};
	index_replace(s, old, &r, u);
	return 0;
}

static int op_delete(struct store *s, const struct change_op *op,
		     struct store_undo *u, struct sw_err *out)
{
	struct store_node *old = index_get(&s->idx, op->kind, op->id);

	if (old == NULL && op->mode == CHANGE_UPSERT)
		return 0;
	if (old == NULL)
		return sw_err_set(out, SW_ENOTFOUND, "%s %s not found",
				  obj_kind_name(op->kind), op->id);
	if (op->expected_version != 0 && op->mode == CHANGE_UPDATE &&
	    op->expected_version != old->rec.version)
		return sw_err_set(out, SW_ESYSTEM, STORE_ERR_OUT_OF_SEQUENCE);
	index_remove(&s->idx, old);
	u->old = old;
	return 0;
}

/* Undoes ops [0, n) in reverse order, restoring the index exactly. */
static void undo_ops(struct store *s, struct store_undo *u, size_t n)
{
	while (n-- > 0) {
		if (u[n].cur != NULL) {
			index_remove(&s->idx, u[n].cur);
			free(u[n].cur);
		}
		if (u[n].old != NULL)
			index_insert(&s->idx, u[n].old);
	}
}

static int apply_ops(struct store *s, const struct change *c, uint64_t index,
		     struct store_undo *u, struct sw_err *out)
{
	const struct change_op *op;
	size_t i;
	int rc;

	if (change_validate(c, out) != 0)
		return -1;
	for (i = 0; i < c->n_ops; i++) {
		op = &c->ops[i];
		rc = 0;
		if (op->type == CHANGE_PUT)
			rc = op_put(s, c, op, index, &u[i], out);
		else if (op->type == CHANGE_DELETE)
			rc = op_delete(s, op, &u[i], out);
		else
			op_patch(s, c, op, index, &u[i]);
		if (rc != 0) {
			undo_ops(s, u, i);
			return rc;
		}
	}
	return 0;
}

static rocksdb_writebatch_t *batch_from_undo(const struct store_undo *u,
					     size_t n)
{
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();
	size_t i;

	/* Ops apply in order inside a batch, so several ops on one key
	 * leave the last one's result. */
	for (i = 0; i < n; i++) {
		if (u[i].cur != NULL)
			batch_put_record(b, &u[i].cur->rec);
		else if (u[i].old != NULL)
			batch_delete_record(b, &u[i].old->rec);
	}
	return b;
}

static void notify_and_release(struct store *s, uint64_t index,
			       struct store_undo *u, size_t n)
{
	struct store_event *evs = xcalloc(n, sizeof(*evs));
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (u[i].old == NULL && u[i].cur == NULL)
			continue;
		evs[k].old = u[i].old ? &u[i].old->rec : NULL;
		evs[k].cur = u[i].cur ? &u[i].cur->rec : NULL;
		evs[k].type = !u[i].old  ? STORE_EVENT_CREATE
			      : u[i].cur ? STORE_EVENT_UPDATE
					 : STORE_EVENT_DELETE;
		evs[k].kind = (u[i].cur ? u[i].cur : u[i].old)->rec.kind;
		evs[k].id = (u[i].cur ? u[i].cur : u[i].old)->rec.id;
		evs[k].patched = u[i].patched;
		k++;
	}
	if (k > 0)
		store_notify(s, index, false, evs, k);
	free(evs);
	/* Each node leaves the index at most once, so this frees each
	 * replaced or deleted node exactly once. */
	for (i = 0; i < n; i++)
		free(u[i].old);
}

int store_apply(struct store *s, const struct change *c, uint64_t index,
		struct sw_err *outcome, struct sw_err *err)
{
	struct store_undo *u;
	int rc;

	assert(!s->dispatching);
	sw_err_clear(outcome);
	if (index <= s->applied)
		return sw_err_set(err, SW_EINVALID,
				  "store: index %llu already applied",
				  (unsigned long long)index);
	u = xcalloc(c->n_ops ? c->n_ops : 1, sizeof(*u));
	if (apply_ops(s, c, index, u, outcome) != 0) {
		free(u);
		return store_mark_applied(s, index, err);
	}
	rc = batch_commit(s, batch_from_undo(u, c->n_ops), index, err);
	if (rc != 0) {
		undo_ops(s, u, c->n_ops);
		free(u);
		return rc;
	}
	notify_and_release(s, index, u, c->n_ops);
	free(u);
	return 0;
}

static int build_index(struct store_index *x, const struct store_record *recs,
		       size_t n, struct sw_err *err)
{
	size_t i;

	index_init(x);
	for (i = 0; i < n; i++) {
		if (!obj_kind_valid((int)recs[i].kind) || recs[i].id == NULL ||
		    recs[i].id[0] == '\0') {
			sw_err_set(err, SW_EINVALID, "invalid record %zu", i);
			goto err_free;
		}
		if (index_load(x, &recs[i], err) != 0)
			goto err_free;
	}
	return 0;

err_free:
	index_free(x);
	return -SW_EINVALID;
}

int store_replace_all(struct store *s, uint64_t index,
		      const struct store_record *recs, size_t n,
		      struct sw_err *err)
{
	static const char lo[] = {OBJ_CLUSTER}, hi[] = {OBJ_KIND_MAX + 1};
	struct store_index x;
	rocksdb_writebatch_t *b;
	const struct store_record *r;
	int k;

	assert(!s->dispatching);
	if (build_index(&x, recs, n, err) != 0)
		return -SW_EINVALID;
	b = rocksdb_writebatch_create();
	rocksdb_writebatch_delete_range(b, lo, 1, hi, 1);
	for (k = OBJ_CLUSTER; k <= OBJ_KIND_MAX; k++) {
		for (r = x.kinds[k].head ? &x.kinds[k].head->rec : NULL;
		     r != NULL; r = store_next(r))
			batch_put_record(b, r);
	}
	if (batch_commit(s, b, index, err) != 0) {
		index_free(&x);
		return -SW_ESYSTEM;
	}
	index_free(&s->idx);
	s->idx = x;
	store_notify(s, index, true, NULL, 0);
	return 0;
}
