/* Values derived from versioned records (an unpacked task, a rendered JSON
 * text), kept by record ID and version so that work is redone only for
 * records that changed. A value is returned only for the version it was
 * made from. Entries nobody asked for since the last sweep are dropped by
 * verscache_sweep: call it after a walk that asked for every live record. */
#ifndef SW_LIB_VERSCACHE_H
#define SW_LIB_VERSCACHE_H

#include <stddef.h>
#include <stdint.h>

struct verscache;

/* free_value releases a value the cache drops. */
struct verscache *verscache_new(void (*free_value)(void *value));
void verscache_free(struct verscache *c);

/* The value kept for id at version, or NULL (none, or made from another
 * version). Marks id as asked for. Borrowed until a put or drop of id, or a
 * sweep. */
void *verscache_get(struct verscache *c, const char *id, uint64_t version);
/* Keeps value (owned from now on) for id at version. */
void verscache_put(struct verscache *c, const char *id, uint64_t version,
		   void *value);
/* Drops id's value. */
void verscache_drop(struct verscache *c, const char *id);
/* IDs known: asked for since the last sweep, or kept by it. */
size_t verscache_count(const struct verscache *c);
/* Drops the entries not asked for since the last sweep. */
void verscache_sweep(struct verscache *c);
/* For caches asked for only some records per walk (filtered lists):
 * sweeps once the IDs known outnumber twice the live records (plus 64), so
 * entries of records gone are dropped and live ones rarely. */
void verscache_trim(struct verscache *c, size_t live);

#endif
