#include "lib/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"

struct item {
	char *key; /* NULL: empty */
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

/* The item holding key, or the empty one where it would go. */
static struct item *probe(const struct strmap *m, const char *key)
{
	size_t i = strmap_hash(key) & (m->cap - 1);

	while (m->items[i].key != NULL && strcmp(m->items[i].key, key) != 0)
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
			*probe(m, old[i].key) = old[i];
	free(old);
}

int64_t *strmap_slot(struct strmap *m, const char *key)
{
	struct item *it;

	if (2 * (m->n + 1) > m->cap)
		grow(m);
	it = probe(m, key);
	if (it->key == NULL) {
		it->key = xstrdup(key);
		it->value = 0;
		m->n++;
	}
	return &it->value;
}

const int64_t *strmap_find(const struct strmap *m, const char *key)
{
	const struct item *it = probe(m, key);

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
	struct item *hole = probe(m, key);
	size_t i, j, home;

	if (hole->key == NULL)
		return;
	free(hole->key);
	hole->key = NULL;
	m->n--;
	i = (size_t)(hole - m->items);
	for (j = (i + 1) & (m->cap - 1); m->items[j].key != NULL;
	     j = (j + 1) & (m->cap - 1)) {
		home = strmap_hash(m->items[j].key) & (m->cap - 1);
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
