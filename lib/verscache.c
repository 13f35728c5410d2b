#include "lib/verscache.h"

#include <stdbool.h>
#include <stdlib.h>

#include "lib/alloc.h"
#include "lib/strmap.h"

struct entry {
	char *id; /* a copy, for rebuilding the map */
	uint64_t version;
	void *value; /* NULL: none kept */
	bool seen;   /* asked for since the last sweep */
};

struct verscache {
	void (*free_value)(void *value);
	struct strmap *index; /* ID -> entry + 1 */
	struct entry *e;
	size_t n;
	size_t cap;
};

struct verscache *verscache_new(void (*free_value)(void *value))
{
	struct verscache *c = xcalloc(1, sizeof(*c));

	c->free_value = free_value;
	c->index = strmap_new();
	return c;
}

static void release(struct verscache *c, struct entry *e)
{
	if (e->value != NULL)
		c->free_value(e->value);
	e->value = NULL;
}

void verscache_free(struct verscache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++) {
		release(c, &c->e[i]);
		free(c->e[i].id);
	}
	free(c->e);
	strmap_free(c->index);
	free(c);
}

static struct entry *entry_of(struct verscache *c, const char *id)
{
	int64_t *slot = strmap_slot(c->index, id);

	if (*slot == 0) {
		if (c->n == c->cap) {
			c->cap = c->cap ? 2 * c->cap : 64;
			c->e = xrealloc(c->e, c->cap * sizeof(*c->e));
		}
		c->e[c->n] = (struct entry){.id = xstrdup(id)};
		*slot = (int64_t)++c->n;
	}
	return &c->e[*slot - 1];
}

void *verscache_get(struct verscache *c, const char *id, uint64_t version)
{
	struct entry *e = entry_of(c, id);

	e->seen = true;
	return e->value != NULL && e->version == version ? e->value : NULL;
}

void verscache_put(struct verscache *c, const char *id, uint64_t version,
		   void *value)
{
	struct entry *e = entry_of(c, id);

	release(c, e);
	e->seen = true;
	e->version = version;
	e->value = value;
}

void verscache_drop(struct verscache *c, const char *id)
{
	const int64_t *slot = strmap_find(c->index, id);

	if (slot != NULL)
		release(c, &c->e[*slot - 1]);
}

size_t verscache_count(const struct verscache *c)
{
	return c->n;
}

/* Keeps only the entries asked for, renumbered in a new map. */
static void rebuild(struct verscache *c)
{
	size_t k = 0;

	strmap_free(c->index);
	c->index = strmap_new();
	for (size_t i = 0; i < c->n; i++) {
		if (!c->e[i].seen) {
			free(c->e[i].id);
			continue;
		}
		c->e[k] = c->e[i];
		*strmap_slot(c->index, c->e[k].id) = (int64_t)(k + 1);
		k++;
	}
	c->n = k;
}

/* Unasked values go at once; their IDs stay mapped (an ID that comes back
 * reuses its entry) until they are half of all, then the map is rebuilt. */
void verscache_sweep(struct verscache *c)
{
	size_t dead = 0;

	for (size_t i = 0; i < c->n; i++)
		if (!c->e[i].seen) {
			release(c, &c->e[i]);
			dead++;
		}
	if (dead > c->n / 2)
		rebuild(c);
	for (size_t i = 0; i < c->n; i++)
		c->e[i].seen = false;
}

void verscache_trim(struct verscache *c, size_t live)
{
	if (c->n > 2 * live + 64)
		verscache_sweep(c);
}
