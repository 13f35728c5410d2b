#include "engine-api/svclist.h"

#include <stdlib.h>
#include <string.h>

#include "engine-api/codec_service.h"
#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/jsonx.h"
#include "lib/strmap.h"

/* One service's rendered head: its JSON object without the closing brace. */
struct entry {
	char *id;
	uint64_t version;
	char *head;
	size_t head_len;
	uint64_t gen; /* the last render that listed it */
	size_t pick;  /* its place in that render's picks */
	struct entry *next;
};

struct svclist {
	struct entry **buckets;
	size_t n_buckets; /* a power of two */
	size_t n_entries;
	uint64_t gen;
};

/* A service picked by one render, with what it needs from the pass. */
struct pick {
	struct entry *e;
	const struct store_record *rec;
	Swarmd__Service *svc;
	struct svc_counts counts;
};

struct svclist *svclist_new(void)
{
	struct svclist *c = xcalloc(1, sizeof(*c));

	c->n_buckets = 64;
	c->buckets = xcalloc(c->n_buckets, sizeof(*c->buckets));
	return c;
}

static void entry_free(struct entry *e)
{
	free(e->id);
	free(e->head);
	free(e);
}

void svclist_free(struct svclist *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_buckets; i++)
		while (c->buckets[i] != NULL) {
			struct entry *e = c->buckets[i];

			c->buckets[i] = e->next;
			entry_free(e);
		}
	free(c->buckets);
	free(c);
}

static struct entry **slot_of(struct svclist *c, const char *id)
{
	return &c->buckets[strmap_hash(id) & (c->n_buckets - 1)];
}

static struct entry *find(struct svclist *c, const char *id)
{
	for (struct entry *e = *slot_of(c, id); e != NULL; e = e->next)
		if (strcmp(e->id, id) == 0)
			return e;
	return NULL;
}

static void grow(struct svclist *c)
{
	struct entry **old = c->buckets;
	size_t n = c->n_buckets;

	c->n_buckets *= 2;
	c->buckets = xcalloc(c->n_buckets, sizeof(*c->buckets));
	for (size_t i = 0; i < n; i++)
		while (old[i] != NULL) {
			struct entry *e = old[i];
			struct entry **to = slot_of(c, e->id);

			old[i] = e->next;
			e->next = *to;
			*to = e;
		}
	free(old);
}

static struct entry *get(struct svclist *c, const char *id)
{
	struct entry *e = find(c, id);
	struct entry **to;

	if (e != NULL)
		return e;
	if (c->n_entries >= c->n_buckets)
		grow(c);
	e = xcalloc(1, sizeof(*e));
	e->id = xstrdup(id);
	to = slot_of(c, id);
	e->next = *to;
	*to = e;
	c->n_entries++;
	return e;
}

/* Drops the entries of removed services. */
static void sweep(struct svclist *c, const struct store *st)
{
	for (size_t i = 0; i < c->n_buckets; i++)
		for (struct entry **p = &c->buckets[i]; *p != NULL;) {
			struct entry *e = *p;

			if (store_get(st, OBJ_SERVICE, e->id) != NULL) {
				p = &e->next;
				continue;
			}
			*p = e->next;
			entry_free(e);
			c->n_entries--;
		}
}

/* The serializer's text of o without its last `suffix_len` bytes. */
static char *render_trimmed(struct json_object *o, size_t suffix_len,
			    size_t *len)
{
	char *text = jsonx_to_body(o, len);

	json_object_put(o);
	*len = *len >= suffix_len ? *len - suffix_len : 0;
	text[*len] = '\0';
	return text;
}

static void refresh(struct entry *e, const struct store_record *rec,
		    const Swarmd__Service *svc)
{
	if (e->head != NULL && e->version == rec->version)
		return;
	free(e->head);
	/* Drop "}\n": members are appended after the head. */
	e->head = render_trimmed(codec_service_base(rec, svc, false), 2,
				 &e->head_len);
	e->version = rec->version;
}

/* Counts every task once for the services picked (not O(services ×
 * tasks)). */
static void count_tasks(struct svclist *c, const struct store *st,
			struct pick *picks)
{
	for (const struct store_record *r = store_first(st, OBJ_TASK);
	     r != NULL; r = store_next(r)) {
		Swarmd__Task *t = tasks_unpack(r);
		struct entry *e = t ? find(c, t->service_id) : NULL;

		if (e != NULL && e->gen == c->gen)
			codec_service_count_task(picks[e->pick].svc, t,
						 &picks[e->pick].counts);
		swarmd__task__free_unpacked(t, NULL);
	}
}

static void append_member(struct buf *b, const char *key,
			  struct json_object *value)
{
	size_t len;
	char *text = render_trimmed(value, 1, &len);

	buf_append(b, ",\"", 2);
	buf_append(b, key, strlen(key));
	buf_append(b, "\":", 2);
	buf_append(b, text, len);
	free(text);
}

static void append_service(struct buf *b, const struct pick *p, bool status)
{
	buf_append(b, p->e->head, p->e->head_len);
	if (status)
		append_member(b, "ServiceStatus",
			      codec_service_status(p->svc, &p->counts));
	if (strstr(p->svc->mode, "job") != NULL)
		append_member(b, "JobStatus",
			      codec_service_job_status(p->rec, p->svc));
	buf_append(b, "}", 1);
}

char *svclist_render(struct svclist *c, const struct store *st, bool status,
		     svclist_keep_fn keep, void *ctx, size_t *len)
{
	struct pick *picks = xcalloc(store_count(st, OBJ_SERVICE) + 1,
				     sizeof(*picks));
	size_t n = 0;
	struct buf b;

	c->gen++;
	for (const struct store_record *r = store_first(st, OBJ_SERVICE);
	     r != NULL; r = store_next(r)) {
		Swarmd__Service *svc = services_unpack(r);

		if (svc == NULL || !keep(ctx, r, svc)) {
			swarmd__service__free_unpacked(svc, NULL);
			continue;
		}
		picks[n] = (struct pick){.e = get(c, r->id), .rec = r,
					 .svc = svc};
		picks[n].e->gen = c->gen;
		picks[n].e->pick = n;
		refresh(picks[n].e, r, svc);
		n++;
	}
	if (status)
		count_tasks(c, st, picks);
	buf_init(&b);
	buf_append(&b, "[", 1);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_append(&b, ",", 1);
		append_service(&b, &picks[i], status);
		swarmd__service__free_unpacked(picks[i].svc, NULL);
	}
	buf_append(&b, "]\n", 2);
	free(picks);
	if (c->n_entries > 2 * store_count(st, OBJ_SERVICE) + 64)
		sweep(c, st);
	*len = b.len;
	return buf_steal(&b);
}
