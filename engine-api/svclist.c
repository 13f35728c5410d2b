#include "engine-api/svclist.h"

#include <stdlib.h>
#include <string.h>

#include "engine-api/codec_service.h"
#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/jsonx.h"
#include "lib/strmap.h"
#include "lib/verscache.h"

/* Each service's rendered head, kept per record version: its JSON object
 * without the closing brace (a malloc'd string). */
struct svclist {
	struct verscache *heads;
};

/* A service picked by one render, with what it needs from the pass. */
struct pick {
	const char *head;
	const struct store_record *rec;
	Swarmd__Service *svc;
	struct svc_counts counts;
};

struct svclist *svclist_new(void)
{
	struct svclist *c = xcalloc(1, sizeof(*c));

	c->heads = verscache_new(free);
	return c;
}

void svclist_free(struct svclist *c)
{
	if (c == NULL)
		return;
	verscache_free(c->heads);
	free(c);
}

static const char *head_of(struct svclist *c, const struct store_record *rec,
			   const Swarmd__Service *svc)
{
	char *head = verscache_get(c->heads, rec->id, rec->version);
	size_t len;

	if (head != NULL)
		return head;
	/* Drop "}\n": members are appended after the head. */
	head = jsonx_take_text(codec_service_base(rec, svc, false), 2, &len);
	verscache_put(c->heads, rec->id, rec->version, head);
	return head;
}

/* Counts every task once for the services picked (not O(services ×
 * tasks)); picked maps a service ID to its pick + 1. */
static void count_tasks(const struct store *st, const struct strmap *picked,
			struct pick *picks)
{
	for (const struct store_record *r = store_first(st, OBJ_TASK);
	     r != NULL; r = store_next(r)) {
		Swarmd__Task *t = tasks_unpack(r);
		const int64_t *k = t ? strmap_find(picked, t->service_id) : NULL;

		if (k != NULL)
			codec_service_count_task(picks[*k - 1].svc, t,
						 &picks[*k - 1].counts);
		swarmd__task__free_unpacked(t, NULL);
	}
}

static void append_member(struct buf *b, const char *key,
			  struct json_object *value)
{
	size_t len;
	char *text = jsonx_take_text(value, 1, &len);

	buf_append(b, ",\"", 2);
	buf_append(b, key, strlen(key));
	buf_append(b, "\":", 2);
	buf_append(b, text, len);
	free(text);
}

static void append_service(struct buf *b, const struct pick *p, bool status)
{
	buf_append(b, p->head, strlen(p->head));
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
	struct strmap *picked = strmap_new();
	size_t n = 0;
	struct buf b;

	for (const struct store_record *r = store_first(st, OBJ_SERVICE);
	     r != NULL; r = store_next(r)) {
		Swarmd__Service *svc = services_unpack(r);

		if (svc == NULL || !keep(ctx, r, svc)) {
			swarmd__service__free_unpacked(svc, NULL);
			continue;
		}
		picks[n] = (struct pick){.head = head_of(c, r, svc), .rec = r,
					 .svc = svc};
		*strmap_slot(picked, r->id) = (int64_t)++n;
	}
	if (status)
		count_tasks(st, picked, picks);
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
	strmap_free(picked);
	/* Heads of removed services (and, rarely, of live ones a filter
	 * left out: they are rendered again) go once they outnumber the
	 * services. */
	verscache_trim(c->heads, store_count(st, OBJ_SERVICE));
	*len = b.len;
	return buf_steal(&b);
}
