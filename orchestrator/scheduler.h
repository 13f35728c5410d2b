/* Where a task may run: SwarmKit's node filters, in its order (ready and
 * active, resources, constraints, host-mode ports, max replicas per node),
 * and Docker's "no suitable node (...)" explanation. Pure: no store, no
 * loop. */
#ifndef SW_ORCH_SCHEDULER_H
#define SW_ORCH_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orchestrator/objects.pb-c.h"

enum sched_filter {
	SCHED_READY = 0,
	SCHED_RESOURCES,
	SCHED_CONSTRAINTS,
	SCHED_PORTS,
	SCHED_MAX_REPLICAS,
	SCHED_FILTERS,
};

/* What already runs on a node (tasks that are not over). */
struct sched_usage {
	int64_t nano_cpus;     /* reserved */
	int64_t memory_bytes;  /* reserved */
	uint64_t service_tasks; /* of the service being placed */
	const uint32_t *ports;  /* host ports published on the node */
	size_t n_ports;
};

/* The first filter node fails for a task of spec, or -1 when it fits. */
int sched_check(const char *node_id, const Swarmd__Node *node,
		const Swarmd__TaskSpec *spec, const struct sched_usage *used);

/* One constraint ("node.labels.zone==a", "node.role!=manager", ...)
 * against a node; values compare case-insensitively, as SwarmKit's do. An
 * unparsable expression matches nothing. */
bool sched_constraint_match(const char *expr, const char *node_id,
			    const Swarmd__Node *node);

/* Docker's text for tasks that fit nowhere, from how many nodes each filter
 * turned away: "no suitable node (insufficient resources on 1 node)". */
void sched_explain(const size_t counts[SCHED_FILTERS], char *out, size_t n);

#endif
