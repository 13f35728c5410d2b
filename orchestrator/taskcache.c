#include "orchestrator/taskcache.h"

#include <stdlib.h>

#include "lib/alloc.h"
#include "lib/strmap.h"

struct entry {
	char *id;
	uint64_t version; /* 0: no task held */
	Swarmd__Task *t;
	bool seen; /* asked for since the last sweep */
};

/* IDs map to entries for good (strmap has no removal): an entry whose
 * task is dropped is reused by the same ID, and the map is rebuilt when
 * IDs that left the store outnumber the others. */
struct taskcache {
	struct strmap *index; /* ID -> entry */
	struct entry *e;
	size_t n;
	size_t cap;
};

struct taskcache *taskcache_new(void)
{
	struct taskcache *c = xcalloc(1, sizeof(*c));

	c->index = strmap_new();
	return c;
}

static void release(struct entry *e)
{
	swarmd__task__free_unpacked(e->t, NULL);
	e->t = NULL;
	e->version = 0;
}

void taskcache_free(struct taskcache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++) {
		release(&c->e[i]);
		free(c->e[i].id);
	}
	free(c->e);
	strmap_free(c->index);
	free(c);
}

static struct entry *entry_of(struct taskcache *c, const char *id)
{
	int64_t *slot = strmap_slot(c->index, id);

	if (*slot == 0) {
		if (c->n == c->cap) {
			c->cap = c->cap ? 2 * c->cap : 256;
			c->e = xrealloc(c->e, c->cap * sizeof(*c->e));
		}
		c->e[c->n] = (struct entry){.id = xstrdup(id)};
		*slot = (int64_t)++c->n;
	}
	return &c->e[*slot - 1];
}

Swarmd__Task *taskcache_get(struct taskcache *c, const struct store_record *r)
{
	struct entry *e = entry_of(c, r->id);

	e->seen = true;
	if (e->t != NULL && e->version == r->version)
		return e->t;
	release(e);
	e->t = swarmd__task__unpack(NULL, r->payload_len, r->payload);
	e->version = e->t != NULL ? r->version : 0;
	return e->t;
}

void taskcache_drop(struct taskcache *c, const char *id)
{
	const int64_t *slot = strmap_find(c->index, id);

	if (slot != NULL)
		release(&c->e[*slot - 1]);
}

/* Keeps only the entries of IDs still in the store. */
static void rebuild(struct taskcache *c)
{
	size_t k = 0;

	strmap_free(c->index);
	c->index = strmap_new();
	for (size_t i = 0; i < c->n; i++) {
		if (!c->e[i].seen) {
			release(&c->e[i]);
			free(c->e[i].id);
			continue;
		}
		c->e[k] = c->e[i];
		*strmap_slot(c->index, c->e[k].id) = (int64_t)(k + 1);
		k++;
	}
	c->n = k;
}

void taskcache_sweep(struct taskcache *c)
{
	size_t dead = 0;

	for (size_t i = 0; i < c->n; i++)
		if (!c->e[i].seen) {
			release(&c->e[i]);
			dead++;
		}
	if (dead > c->n / 2)
		rebuild(c);
	for (size_t i = 0; i < c->n; i++)
		c->e[i].seen = false;
}
