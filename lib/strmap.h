/* A map from strings to 64-bit integers (open addressing, keys copied):
 * the reconciler's per-pass indexes (node by ID, counts per node and
 * service) so a pass does not scan every task for every task. */
#ifndef SW_LIB_STRMAP_H
#define SW_LIB_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct strmap;

struct strmap *strmap_new(void);
void strmap_free(struct strmap *m);

/* The value of key, created as 0 when absent; valid until the next
 * strmap_slot call. */
int64_t *strmap_slot(struct strmap *m, const char *key);
/* The value of key, or NULL when absent. */
const int64_t *strmap_find(const struct strmap *m, const char *key);
size_t strmap_count(const struct strmap *m);
/* Removes key (if present); other values' pointers are then invalid. */
void strmap_remove(struct strmap *m, const char *key);
/* The keys in no particular order: start with *pos = 0; NULL after the
 * last. The map must not change during the walk. */
const char *strmap_next(const struct strmap *m, size_t *pos, int64_t *value);

/* The string hash the map uses (FNV-1a), for other tables keyed by IDs. */
uint64_t strmap_hash(const char *s);

#endif
