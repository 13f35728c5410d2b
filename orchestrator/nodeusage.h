/* What the tasks seen by one reconcile pass take on each node: counted in
 * one walk over the tasks and kept current as the pass assigns more, so
 * placing a task costs O(nodes) instead of O(nodes × tasks). */
#ifndef SW_ORCH_NODEUSAGE_H
#define SW_ORCH_NODEUSAGE_H

#include <stdint.h>

#include "orchestrator/scheduler.h"
#include "orchestrator/services.h"

struct nodeusage;

struct nodeusage *nodeusage_new(void);
void nodeusage_free(struct nodeusage *u);

/* A task that is not over (wanted running, not ended) on its node. */
void nodeusage_add_live(struct nodeusage *u, const Swarmd__Task *t);
/* A failed or rejected task, for the node's recent failures. */
void nodeusage_add_failure(struct nodeusage *u, const Swarmd__Task *t);

/* What live tasks take on node when placing a task of svc_id (reserved
 * CPU and memory, the service's tasks, host ports: borrowed until the next
 * add). */
void nodeusage_get(const struct nodeusage *u, const char *node,
		   const char *svc_id, struct sched_usage *out);
/* Live tasks of every service on node. */
uint64_t nodeusage_tasks(const struct nodeusage *u, const char *node);
/* Failures added for node, service and spec version. */
uint64_t nodeusage_failures(const struct nodeusage *u, const char *node,
			    const char *svc_id, uint64_t spec_version);

#endif
