/* Unpacked tasks kept between reconcile passes, by record version: a pass
 * unpacks only the tasks that changed since the one before, instead of
 * every task of the store. A pass may edit the tasks it borrows; it hands
 * back those it changed (taskcache_drop) and they are unpacked afresh from
 * the store the next time. */
#ifndef SW_ORCH_TASKCACHE_H
#define SW_ORCH_TASKCACHE_H

#include "orchestrator/objects.pb-c.h"
#include "orchestrator/store.h"

struct taskcache;

struct taskcache *taskcache_new(void);
void taskcache_free(struct taskcache *c);

/* r's task, borrowed until taskcache_drop or taskcache_sweep; NULL when
 * its payload does not decode. */
Swarmd__Task *taskcache_get(struct taskcache *c, const struct store_record *r);
/* Forgets the task of id (it was edited). */
void taskcache_drop(struct taskcache *c, const char *id);
/* Ends a pass: forgets the tasks no taskcache_get asked for since the last
 * sweep (they left the store). */
void taskcache_sweep(struct taskcache *c);

#endif
