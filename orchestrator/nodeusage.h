/* What the tasks take on each node during one reconcile pass: the
 * reconciler's running totals (taskindex) with the pass's own tasks counted
 * as the pass leaves them, kept current as it assigns more. The pass places tasks service by service (its view is sorted so):
 * the counts of the service being placed are taken from that service's
 * tasks alone, into arrays by node. */
#ifndef SW_ORCH_NODEUSAGE_H
#define SW_ORCH_NODEUSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "orchestrator/scheduler.h"
#include "orchestrator/services.h"

struct nodeusage;
struct view;
struct task_rec;
struct taskindex;

/* For the nodes of v, whose tasks (borrowed while the usage lives) give
 * the counts of the service being placed. The totals start from what ix
 * counts for the store's tasks, less the view's own: add those (as the
 * pass leaves them) with nodeusage_add. */
struct nodeusage *nodeusage_new(const struct view *v,
				const struct taskindex *ix);
void nodeusage_free(struct nodeusage *u);

/* Counts what t takes: a live task (wanted running, not ended) adds to
 * its node's totals; a failed or rejected one within the failure window
 * to the node's recent failures of its service and spec. */
void nodeusage_add(struct nodeusage *u, const struct task_rec *tr);

/* What live tasks take on node i when placing a task of t's service and
 * spec version: reserved CPU and memory, the service's tasks and the host
 * ports (borrowed until the next add) in *out, all live tasks in *tasks,
 * the service's recent failures of that spec in *failures. */
void nodeusage_get(struct nodeusage *u, size_t i, const Swarmd__Task *t,
		   struct sched_usage *out, uint64_t *tasks,
		   uint64_t *failures);

#endif
