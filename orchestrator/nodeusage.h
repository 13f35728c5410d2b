/* What the tasks seen by one reconcile pass take on each node: counted in
 * one walk over the tasks and kept current as the pass assigns more, so
 * placing a task costs O(nodes) array reads instead of O(nodes × tasks).
 * The pass places tasks service by service (its view is sorted so), so the
 * counts of the service being placed are kept in arrays by node. */
#ifndef SW_ORCH_NODEUSAGE_H
#define SW_ORCH_NODEUSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "orchestrator/scheduler.h"
#include "orchestrator/services.h"

struct nodeusage;

struct strmap;

/* For the nodes node_ids[0..n), found by node_index (node ID -> index);
 * both borrowed while the usage lives. */
struct nodeusage *nodeusage_new(const struct strmap *node_index,
				const char *const *node_ids, size_t n);
void nodeusage_free(struct nodeusage *u);

/* A task that is not over (wanted running, not ended) on its node. */
void nodeusage_add_live(struct nodeusage *u, const Swarmd__Task *t);
/* A failed or rejected task, for the node's recent failures. */
void nodeusage_add_failure(struct nodeusage *u, const Swarmd__Task *t);

/* What live tasks take on node i when placing a task of t's service and
 * spec version: reserved CPU and memory, the service's tasks and the host
 * ports (borrowed until the next add) in *out, all live tasks in *tasks,
 * the service's recent failures of that spec in *failures. */
void nodeusage_get(struct nodeusage *u, size_t i, const Swarmd__Task *t,
		   struct sched_usage *out, uint64_t *tasks,
		   uint64_t *failures);

#endif
