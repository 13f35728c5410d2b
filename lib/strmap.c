#include "lib/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"

/* The hash is kept so that a probe reads a key only when the hashes
 * match (each key is an allocation of its own: a cache miss), and growing
 * or deleting never hashes again. */
struct item {
	char *key; /* NULL: empty */
	uint64_t hash;
	int64_t value;
};

struct strmap {
	struct item *items;
	size_t cap; /* a power of two, at most half full */
	size_t n;
};

uint64_t strmap_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

struct strmap *strmap_new(void)
{
	struct strmap *m = xcalloc(1, sizeof(*m));

	m->cap = 16;
	m->items = xcalloc(m->cap, sizeof(*m->items));
	return m;
}

void strmap_free(struct strmap *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->cap; i++)
		free(m->items[i].key);
	free(m->items);
	free(m);
}

/* The item holding key (whose hash is h), or the empty one where it
 * would go. */
static struct item *probe(const struct strmap *m, const char *key,
			  uint64_t h)
{
	size_t i = h & (m->cap - 1);

	while (m->items[i].key != NULL &&
	       (m->items[i].hash != h || strcmp(m->items[i].key, key) != 0))
		i = (i + 1) & (m->cap - 1);
	return &m->items[i];
}

static void grow(struct strmap *m)
{
	struct item *old = m->items;
	size_t cap = m->cap;

	m->cap *= 2;
	m->items = xcalloc(m->cap, sizeof(*m->items));
	for (size_t i = 0; i < cap; i++)
		if (old[i].key != NULL)
			*probe(m, old[i].key, old[i].hash) = old[i];
	free(old);
}

int64_t *strmap_slot(struct strmap *m, const char *key)
{
	uint64_t h = strmap_hash(key);
	struct item *it;

	if (2 * (m->n + 1) > m->cap)
		grow(m);
	it = probe(m, key, h);
	if (it->key == NULL) {
		it->key = xstrdup(key);
		it->hash = h;
		it->value = 0;
		m->n++;
	}
	return &it->value;
}

const int64_t *strmap_find(const struct strmap *m, const char *key)
{
	const struct item *it = probe(m, key, strmap_hash(key));

	return it->key != NULL ? &it->value : NULL;
}

size_t strmap_count(const struct strmap *m)
{
	return m->n;
}

/* Backward-shift deletion: the items after the hole that would be found
 * through it move up, so no probe chain is ever cut. */
void strmap_remove(struct strmap *m, const char *key)
{
	struct item *hole = probe(m, key, strmap_hash(key));
	size_t i, j, home;

	if (hole->key == NULL)
		return;
	free(hole->key);
	hole->key = NULL;
	m->n--;
	i = (size_t)(hole - m->items);
	for (j = (i + 1) & (m->cap - 1); m->items[j].key != NULL;
	     j = (j + 1) & (m->cap - 1)) {
		home = m->items[j].hash & (m->cap - 1);
		/* Stays when its home lies cyclically in (i, j]. */
		if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
			continue;
		m->items[i] = m->items[j];
		m->items[j].key = NULL;
		i = j;
	}
}

const char *strmap_next(const struct strmap *m, size_t *pos, int64_t *value)
{
	for (; *pos < m->cap; (*pos)++)
		if (m->items[*pos].key != NULL) {
			if (value != NULL)
				*value = m->items[*pos].value;
			return m->items[(*pos)++].key;
		}
	return NULL;
}
